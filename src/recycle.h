/*
 * Recycling: replacing single workers that asked for it (a worker whose
 * cgroup crossed memory_high) through the readiness-gated path, a few at
 * a time, never during a rolling restart.
 */
#ifndef CLUSTERD_RECYCLE_H
#define CLUSTERD_RECYCLE_H

struct slots;

struct recycler {
	struct slots	*slots;
	int		 wanted;	/* a worker may be waiting for its turn */
};

void	recycle_init(struct recycler *, struct slots *);
/* A worker asked, or the cluster changed: start what may start now, at
 * most batch at once, none while paused (a rollout runs). */
void	recycle_kick(struct recycler *, int batch, int paused);
/* A rollout begins: it replaces every worker, the ones being recycled
 * too, and takes their replaces over. */
void	recycle_yield(struct recycler *);
/* What its replaces report to (an upgrade finds it again by name). */
#include "slot.h"
replace_cb *recycle_replace_cb(void);

#endif

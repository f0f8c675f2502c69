/*
 * The cluster's load, read from its accept queues while some queue holds
 * connections: hung workers (hang_timeout, reuseport mode), a stalled
 * shared socket, and the samples the autoscaler decides on. With every
 * queue empty it only waits for a listening socket to become readable,
 * so an idle cluster costs no wake-up; with neither feature on it does
 * nothing at all.
 */
#ifndef CLUSTERD_LOAD_H
#define CLUSTERD_LOAD_H

#include <ev.h>
#include <stddef.h>

#include "autoscale.h"

struct gen;
struct slots;

struct load_hooks {
	/* The autoscaler wants n workers, for why. */
	void	(*scale)(void *owner, size_t n, const char *why);
};

/* A shared socket's watch for a stall (by index in the current
 * generation's sockets). */
struct stall {
	double		 since;		/* its queue last shrank (0: empty) */
	int		 depth;
	int		 taken;		/* sig holds the workers' sockets as of at */
	double		 at;
	unsigned long long sig;
	int		 stalled;	/* said so in the log */
};

struct load {
	struct ev_loop	*loop;
	struct slots	*slots;
	struct gen *const *cur;		/* the supervisor's current generation */
	const struct load_hooks *hooks;
	void		*owner;
	ev_timer	 tick;		/* sampling, while a queue holds something */
	ev_timer	 down;		/* idle above the range's low end: a scale-down */
	ev_timer	 settle;	/* changes come in bursts (a pool starting):
					 * looked at once, a moment after the first */
	ev_io		*io;		/* idle: each socket, until it is readable */
	size_t		 nio;
	int		 quiet;		/* ticks in a row with every queue empty */
	struct stall	*stall;
	size_t		 nstall;
	struct autoscale as;
	double		 limits_at;	/* the last limits_check() while sampling */
};

void	load_init(struct load *, struct ev_loop *, struct slots *, struct gen *const *cur,
	    const struct load_hooks *, void *owner);
/* The settings, the sockets or the slots changed: watch what there is now. */
void	load_update(struct load *);
/* Whether a worker's own listen() changed a socket's queue limit (warned
 * once): done when workers start and stop, while sampling, and when the
 * figures are shown. */
void	load_check_limits(struct load *);
/* The worker count changed by request (scale, TTIN/TTOU, reload). */
void	load_count_changed(struct load *, size_t from, size_t to);
void	load_free(struct load *);
/* Whether the current generation's socket i (shared) is stalled. */
int	load_stalled(const struct load *, size_t i);
/* Whether hang detection or the autoscaler is on. */
int	load_active(const struct load *);

#endif

/*
 * Inside the slot module: what slot.c (a slot's states and its events),
 * slotreplace.c (the replaces of rolling restarts) and slots.c (the table)
 * share. Only these three include it; a state changes in slot_set_state()
 * alone, and every event goes through slot_event().
 */
#ifndef CLUSTERD_SLOTPRIV_H
#define CLUSTERD_SLOTPRIV_H

#include "slot.h"

enum slot_ev {
	SE_START,	/* a queued start of w is due */
	SE_START_NEXT,	/* a queued start of the successor is due */
	SE_READY,	/* w or next is ready */
	SE_EXITED,	/* one of its workers exited */
	SE_TIMEOUT,	/* ready_timeout or the watchdog */
	SE_BACKOFF,	/* the backoff timer ran out */
	SE_REPLACE,	/* a rolling restart asks for a successor */
	SE_CANCEL,	/* ... and takes that back (rollback) */
	SE_REMOVE,	/* scaled away */
	SE_DRAINED,	/* DRAINING: its queue is empty (or stop_timeout passed) */
	SE_STOP,	/* clusterd stops */
};

/* What an event brings along. */
struct slot_evdata {
	struct worker	*w;
	int		 status;
	const char	*why;
	struct gen	*gen;
	replace_cb	*done;
	void		*arg;
};

/* slot.c */
void	slot_event(struct slot *, enum slot_ev, struct slot_evdata *);
void	slot_set_state(struct slot *, enum slot_state);
void	slot_set_gen(struct slot *, struct gen *);
/* How long s waits before its next start, by §4's backoff rule. */
double	slot_backoff_delay(const struct slot *);
/* A worker of the slot's generation (NULL: logged, nothing made). */
struct worker *slot_spawn(struct slot *);
struct worker *slot_start_now(struct slot *);
void	slot_queue_start(struct slot *);
/* Which workers are ready may have changed: the table's owner hears it. */
void	slot_changed(struct slot *);
struct slot *slot_new(struct slots *, unsigned id);
/* The hooks a slot gives its workers (an upgrade's adopted ones too). */
const struct worker_hooks *slot_worker_hooks(void);
void	slot_free(struct slot *);

/* slotreplace.c */
void	slot_replace_over(struct slot *, enum replace_outcome, const char *why);
void	slot_replace_failed(struct slot *, const char *why);
int	slot_ev_replace(struct slot *, struct slot_evdata *);
void	slot_ev_cancel(struct slot *, struct gen *back);
void	slot_ev_start_next(struct slot *);
void	slot_replace_again(struct slot *);

#endif

/*
 * Slots: a slot is a stable worker id (CLUSTERD_WORKER_ID) whose processes
 * come and go. Each slot's life is one state machine (slot.c); the table
 * of slots is its owner's view of them all.
 *
 *                 start                 ready
 *   (new) ------> STARTING ---------------------------> READY
 *                  ^   |  exit (restart by policy)       |  |
 *        backoff   |   v                                 |  | replace (surge)
 *        over      BACKOFF <---------------------- exit -+  v
 *                  |   \                                 |  REPLACING --(successor ready)--> READY
 *        policy:   v    `-> give up: the cluster stops   |  ^    |
 *        no restart DONE                                 |  |    `--(successor failed)--> READY or STARTING
 *                                                        |  | old one gone
 *                                                        |  |
 *                                          replace mode  `> HANDOVER (old one stopping)
 *
 *   scaled away: DRAINING (reuseport: its queue is served first) -> STOPPING -> GONE
 *   clusterd stops: every slot -> STOPPING -> GONE once its workers are gone
 *
 * A slot has at most two workers that count: the serving one (w) and, in
 * REPLACING, its successor (next). Others it started may still be
 * stopping ("retired"); their exits are logged and change nothing.
 */
#ifndef CLUSTERD_SLOT_H
#define CLUSTERD_SLOT_H

#include <ev.h>
#include <stddef.h>

#include "starter.h"

struct gen;
struct sockpool;
struct slot;
struct slots;
struct worker;
struct worker_ctx;

enum slot_state {
	SLOT_STARTING,	/* a start queued, or its worker not yet ready */
	SLOT_READY,	/* its worker serves */
	SLOT_REPLACING,	/* a successor starts (beside w in surge mode) */
	SLOT_HANDOVER,	/* replace mode: w stops first, then the successor */
	SLOT_BACKOFF,	/* its worker died: waiting to start another */
	SLOT_DONE,	/* not restarted, by the restart policy */
	SLOT_DRAINING,	/* scaled away: its worker serves what its queue holds */
	SLOT_STOPPING,	/* asked to go: waiting for its workers to exit */
	SLOT_GONE,	/* nothing left; a scaled-away slot is freed */
};

/* How a replace asked for ended (slot_replace's done callback). */
enum replace_outcome {
	REPLACED,	/* the successor is ready and serves */
	REPLACE_FAILED,	/* the successor died or missed ready_timeout */
	REPLACE_DROPPED,	/* the slot was scaled away or clusterd stops */
};

typedef void	 replace_cb(struct slot *, enum replace_outcome, const char *why,
		    void *arg);

struct slot {
	struct slots	*table;
	unsigned	 id;
	enum slot_state	 state;
	struct gen	*gen;		/* what its next worker runs */
	struct worker	*w;		/* serving (or starting), or NULL */
	struct worker	*next;		/* REPLACING: the successor, once started */
	int		 nworkers;	/* its workers still alive, retired ones too */
	int		 removed;	/* scaled away: freed once GONE */
	replace_cb	*done;		/* REPLACING, HANDOVER: who waits for the outcome */
	void		*done_arg;
	ev_timer	 backoff;	/* BACKOFF: its next start; with a worker of another
				 * generation than its own: replacing it again */
	ev_timer	 drain;		/* DRAINING: polls its queue */
	double		 drain_since;	/* mono_now() when scaled away */
	unsigned	 streak;	/* consecutive quick deaths */
	unsigned	 restarts;
	char		*last_exit;
	int		 failed;	/* its last worker did not exit 0 */
	struct start	 start_w;	/* queued: a start of w */
	struct start	 start_next;	/* queued: a start of next */
};

/* What the table's owner hears. */
struct slot_hooks {
	/* Which workers are ready may have changed. */
	void	(*changed)(struct slots *);
	/* A slot is DONE or GONE: the cluster may be over. */
	void	(*ended)(struct slots *);
	/* A slot died give_up_after times in a row. */
	void	(*give_up)(struct slots *);
	/* A worker asks to be replaced (its w->recycle says why). */
	void	(*recycle)(struct slots *);
};

/* Every slot, and what they share. The table is slots.c's; its owner sets
 * it up with slots_init() and changes it through the functions below. */
struct slots {
	struct slot	**v;
	size_t		 n;
	struct ev_loop	*loop;
	struct worker_ctx *wctx;
	struct starter	 starter;
	struct gen	*cur;		/* what new slots run */
	struct sockpool	*pool;		/* the cluster's sockets, for reuseport queues */
	int		 stopping;
	const struct slot_hooks *hooks;
	void		*owner;
};

void	slots_init(struct slots *, struct ev_loop *, struct worker_ctx *,
	    struct sockpool *, const struct slot_hooks *, void *owner);
/* The generation new slots take (every_slot: every slot's next start too,
 * for a reload of settings only). */
void	slots_set_gen(struct slots *, struct gen *, int every_slot);
/* Grow (new slots start) or shrink (the highest ids go, drained first in
 * reuseport mode) to n. */
void	slots_resize(struct slots *, size_t n);
/* Start slot 0's worker now and wait for its exec: 0, or the exit status
 * clusterd gives for a command that cannot run. */
int	slots_start_first(struct slots *);
/* clusterd stops: every worker gets the stop signal (kill: SIGKILL). */
void	slots_stop(struct slots *);
void	slots_kill(struct slots *);
void	slots_free(struct slots *);
int	slots_ready(const struct slots *);
/* Every slot DONE (a batch pool over); *failed: one's last worker failed. */
int	slots_all_done(const struct slots *, int *failed);
/* Reuseport: steer new connections to the slots with a ready worker. */
void	slots_steer(struct slots *);

/*
 * Replace the slot's worker with one of g (a rolling restart), in
 * restart_mode's way. 1: under way, and done is called once with the
 * outcome; 0: nothing to replace (no worker: its next start runs g).
 */
int	slot_replace(struct slot *, struct gen *g, replace_cb *done, void *arg);
/* Whoever asked for the replace under way no longer waits for its
 * outcome: the replace goes on, and a replace asked for later (a rollout's)
 * takes it over. */
void	slot_forget_replace(struct slot *);
/* Forget a replace under way without an outcome; the slot goes on with
 * generation back (rollback): a successor is stopped, and a slot left
 * without a worker starts one. */
void	slot_cancel_replace(struct slot *, struct gen *back);
const char *slot_state_name(enum slot_state);
extern const char *const slot_state_names[];	/* by enum slot_state */
struct state_out;
struct state_in;
/* Who may wait for a replace (rollout.c, recycle.c), by name. */
struct replace_owner {
	const char	*name;
	replace_cb	*cb;
	void		*arg;
};
/* An upgrade: why the slots cannot be carried now (NULL: they can); the
 * table with its workers as records; and the table rebuilt from them,
 * each worker taken over, generations found by number through gen_of and
 * the replaces' owners by name in owners (ending with a NULL name).
 * -1: the records do not make a table (the caller falls back). */
const char *slots_can_save(const struct slots *);
void	slots_save(const struct slots *, struct state_out *,
	    const struct replace_owner *owners);
int	slots_adopt(struct slots *, const struct state_in *,
	    struct gen *(*gen_of)(void *, unsigned), void *arg,
	    const struct replace_owner *owners);
/* What status shows for a slot without a live worker. */
const char *slot_empty_state(const struct slot *);

#endif

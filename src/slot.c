/*
 * A slot's life: its states (slot.h has the diagram) and the events that
 * move it, each through slot_event(); slot_set_state() is the one place
 * that changes a slot's state. Starts, readiness, exits and the restart
 * policy with its backoff (§4), timeouts, reuseport drains and stops are
 * here; the replaces of rolling restarts are in slotreplace.c, the table
 * of slots in slots.c. The cluster (supervisor.c) and rolling restarts
 * (rollout.c) ask for transitions and hear outcomes through hooks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "gen.h"
#include "log.h"
#include "metrics.h"
#include "slot.h"
#include "slotpriv.h"
#include "sockpool.h"
#include "util.h"
#include "worker.h"

const char *const slot_state_names[] = {
	[SLOT_STARTING] = "starting", [SLOT_READY] = "ready",
	[SLOT_REPLACING] = "replacing", [SLOT_HANDOVER] = "handover",
	[SLOT_BACKOFF] = "backoff", [SLOT_DONE] = "done",
	[SLOT_DRAINING] = "draining", [SLOT_STOPPING] = "stopping",
	[SLOT_GONE] = "gone",
};

#define B(s)	(1u << (s))
/* The transitions there are: from each state, the states it may go to. */
static const unsigned legal[] = {
	[SLOT_STARTING] = B(SLOT_STARTING) | B(SLOT_READY) | B(SLOT_BACKOFF) |
	    B(SLOT_DONE) | B(SLOT_REPLACING) | B(SLOT_HANDOVER) | B(SLOT_DRAINING) |
	    B(SLOT_STOPPING) | B(SLOT_GONE),
	[SLOT_READY] = B(SLOT_STARTING) | B(SLOT_BACKOFF) | B(SLOT_DONE) |
	    B(SLOT_REPLACING) | B(SLOT_HANDOVER) | B(SLOT_DRAINING) | B(SLOT_STOPPING),
	[SLOT_REPLACING] = B(SLOT_READY) | B(SLOT_STARTING) | B(SLOT_DRAINING) |
	    B(SLOT_STOPPING) | B(SLOT_GONE),
	[SLOT_HANDOVER] = B(SLOT_REPLACING) | B(SLOT_STARTING) | B(SLOT_DRAINING) |
	    B(SLOT_STOPPING) | B(SLOT_GONE),
	[SLOT_BACKOFF] = B(SLOT_STARTING) | B(SLOT_BACKOFF) | B(SLOT_DRAINING) |
	    B(SLOT_STOPPING) | B(SLOT_GONE),
	[SLOT_DONE] = B(SLOT_STOPPING) | B(SLOT_GONE) | B(SLOT_DRAINING),
	[SLOT_DRAINING] = B(SLOT_DRAINING) | B(SLOT_STOPPING) | B(SLOT_GONE),
	[SLOT_STOPPING] = B(SLOT_STOPPING) | B(SLOT_GONE),
	[SLOT_GONE] = 0,
};
#undef B

const char *
slot_state_name(enum slot_state st)
{
	return slot_state_names[st];
}

const char *
slot_empty_state(const struct slot *s)
{
	return s->state == SLOT_DONE ? "done" : s->state == SLOT_BACKOFF ? "backoff" :
	    "starting";
}

/* Every change of state goes through here: one not in the table is a bug. */
void
slot_set_state(struct slot *s, enum slot_state to)
{
	if (!(legal[s->state] & (1u << to))) {
		log_warnx("worker %u: internal error: slot state %s -> %s", s->id,
		    slot_state_names[s->state], slot_state_names[to]);
#ifdef CLUSTERD_DEBUG
		abort();
#endif
	}
	/* A queued start of a new slot is STARTING already: no change to say. */
	if (to != s->state)
		log_debug("worker %u: %s -> %s", s->id, slot_state_names[s->state],
		    slot_state_names[to]);
	s->state = to;
}

void
slot_set_gen(struct slot *s, struct gen *g)
{
	if (s->gen == g)
		return;
	gen_ref(g);
	if (s->gen)
		gen_unref(s->table->pool, s->gen);
	s->gen = g;
}

/* How long s waits before its next start, by §4's backoff rule. */
double
slot_backoff_delay(const struct slot *s)
{
	const struct program_cfg *pc = &s->gen->cfg->prog;
	double d = pc->backoff_initial;

	if (s->streak <= 1)
		return 0;
	for (unsigned i = 2; i < s->streak && d < pc->backoff_max; i++)
		d *= 2;
	return d < pc->backoff_max ? d : pc->backoff_max;
}

/* Connections waiting in the slot's own reuseport queues. */
static int
slot_queued(const struct slot *s)
{
	return sockpool_queued(s->table->pool, s->id);
}

static void	on_ready(struct worker *);
static void	on_exited(struct worker *, int);
static void	on_timeout(struct worker *, const char *);
static void	on_recycle(struct worker *);

static const struct worker_hooks hooks = { on_ready, on_exited, on_timeout, on_recycle };

const struct worker_hooks *
slot_worker_hooks(void)
{
	return &hooks;
}

struct worker *
slot_spawn(struct slot *s)
{
	struct worker_spec ws = {
		.id = s->id, .nworkers = s->table->n, .gen = s->gen, .owner = s,
		.hooks = &hooks,
	};
	struct worker *w = worker_spawn(s->table->wctx, &ws);

	if (w)
		s->nworkers++;
	return w;
}

/* Start w now; out of descriptors, memory or pids: back off and try again. */
struct worker *
slot_start_now(struct slot *s)
{
	if ((s->w = slot_spawn(s)) != NULL)
		return s->w;
	s->streak++;
	if (s->state != SLOT_DRAINING)
		slot_set_state(s, SLOT_BACKOFF);
	ev_timer_set(&s->backoff, slot_backoff_delay(s) + 0.1, 0);
	ev_timer_start(s->table->loop, &s->backoff);
	return NULL;
}

void
slot_queue_start(struct slot *s)
{
	slot_set_state(s, SLOT_STARTING);
	starter_queue(&s->table->starter, &s->start_w);
}

void
slot_changed(struct slot *s)
{
	s->table->hooks->changed(s->table);
}

/* The serving worker died: restart it by the policy (§4). */
static void
died(struct slot *s, struct worker *w, int status, const char *what)
{
	struct slots *t = s->table;
	const struct program_cfg *pc = &s->gen->cfg->prog;
	int clean = !w->failed && !w->why && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	double lived = mono_now() - w->started, delay;
	char dur[32];
	pid_t pid = w->pid;
	unsigned gen = w->gen->number;

	ev_timer_stop(t->loop, &s->backoff);	/* a pending replace-again */
	s->w = NULL;
	s->failed = !clean;
	worker_free(w);
	if (pc->restart == RESTART_NEVER || (pc->restart == RESTART_ON_FAILURE && clean)) {
		log_worker(LOG_LVL_INFO, LOG_EV_WORKER_EXITED, s->id, pid, gen,
		    "worker %u (pid %d) %s; not restarting (restart = %s)", s->id,
		    (int)pid, what, pc->restart == RESTART_NEVER ? "never" : "on-failure");
		slot_set_state(s, SLOT_DONE);
		slot_changed(s);
		t->hooks->ended(t);
		return;
	}
	s->streak = lived < pc->stable_after ? s->streak + 1 : 0;
	if (t->cur->cfg->give_up_after > 0 &&
	    s->streak >= (unsigned)t->cur->cfg->give_up_after) {
		log_worker(LOG_LVL_ERR, LOG_EV_WORKER_EXITED, s->id, pid, gen,
		    "worker %u (pid %d) %s", s->id, (int)pid, what);
		log_worker(LOG_LVL_ERR, LOG_EV_GIVE_UP, s->id, pid, gen,
		    "worker %u died %u times in a row; giving up", s->id, s->streak);
		slot_set_state(s, SLOT_BACKOFF);
		t->hooks->give_up(t);
		return;
	}
	s->restarts++;
	metrics_worker_restart(s->id);
	delay = slot_backoff_delay(s);
	if (delay == 0) {
		log_worker(LOG_LVL_WARN, LOG_EV_WORKER_EXITED, s->id, pid, gen,
		    "worker %u (pid %d) %s; restarting now", s->id, (int)pid, what);
		slot_queue_start(s);
	} else {
		format_duration(dur, sizeof(dur), delay);
		log_worker(LOG_LVL_WARN, LOG_EV_WORKER_EXITED, s->id, pid, gen,
		    "worker %u (pid %d) %s; restarting in %s", s->id, (int)pid,
		    what, dur);
		slot_set_state(s, SLOT_BACKOFF);
		ev_timer_set(&s->backoff, delay, 0);
		ev_timer_start(t->loop, &s->backoff);
	}
	slot_changed(s);
}

/* Stop w and next; the slot waits for them in STOPPING. */
static void
stop_workers(struct slot *s)
{
	slot_set_state(s, SLOT_STOPPING);
	if (s->next)
		worker_stop(s->next, NULL);
	if (s->w)
		worker_stop(s->w, NULL);
}

/* A scaled-away or stopped slot with no worker left. */
static void
slot_gone(struct slot *s)
{
	slot_set_state(s, SLOT_GONE);
	if (s->removed)
		slot_free(s);
}

static void
ev_exited(struct slot *s, struct worker *w, int status)
{
	struct slots *t = s->table;
	char what[512], full[640];

	worker_describe_exit(w, status, what, sizeof(what));
	if (w->why) {
		snprintf(full, sizeof(full), "%s (%s)", what, w->why);
		memcpy(what, full, sizeof(what) - 1);
		what[sizeof(what) - 1] = '\0';
	}
	free(s->last_exit);
	s->last_exit = xstrdup(what);
	s->nworkers--;

	if (s->state == SLOT_DRAINING && w == s->w && slot_queued(s) > 0 &&
	    mono_now() - s->drain_since < t->cur->cfg->stop_timeout) {
		/* Scaled away, but connections still wait in its own queue: one
		 * more worker for them (closing the socket would reset them). */
		log_worker(LOG_LVL_WARN, LOG_EV_WORKER_EXITED, s->id, w->pid, w->gen->number,
		    "worker %u (pid %d) %s; %d connection%s still queued for it: "
		    "restarting in 100ms", s->id, (int)w->pid, what, slot_queued(s),
		    slot_queued(s) == 1 ? "" : "s");
		s->w = NULL;
		worker_free(w);
		ev_timer_set(&s->backoff, 0.1, 0);
		ev_timer_start(t->loop, &s->backoff);
		t->hooks->changed(t);
		return;
	}
	if (s->state == SLOT_HANDOVER && w == s->w) {
		/* restart_mode = replace: the old one is gone, now the new one. */
		log_worker(LOG_LVL_INFO, LOG_EV_WORKER_EXITED, s->id, w->pid, w->gen->number,
		    "worker %u (pid %d) %s", s->id, (int)w->pid, what);
		s->w = NULL;
		worker_free(w);
		if (s->done == NULL) {
			/* The replace was taken back: a worker of the slot's own. */
			slot_set_state(s, SLOT_STARTING);
			slot_start_now(s);
		} else {
			slot_set_state(s, SLOT_REPLACING);
			if ((s->next = slot_spawn(s)) == NULL)
				slot_replace_failed(s, "fork failed");
		}
		slot_changed(s);
		return;
	}
	if (w == s->next && s->state == SLOT_REPLACING) {
		char reason[700];

		snprintf(reason, sizeof(reason), "worker %u (pid %d) %s before it was ready",
		    s->id, (int)w->pid, what);
		s->next = NULL;
		worker_free(w);
		slot_replace_failed(s, reason);
		return;
	}
	if (w == s->w && (s->state == SLOT_STARTING || s->state == SLOT_READY)) {
		died(s, w, status, what);
		return;
	}
	if (w == s->w && s->state == SLOT_REPLACING) {
		/* Its successor is on its way: that one takes the slot. */
		log_worker(LOG_LVL_WARN, LOG_EV_WORKER_EXITED, s->id, w->pid, w->gen->number,
		    "worker %u (pid %d) %s; its successor is starting", s->id,
		    (int)w->pid, what);
		s->w = NULL;
		s->restarts++;
		metrics_worker_restart(s->id);
		worker_free(w);
		slot_changed(s);
		return;
	}
	/* Asked to go: stopping, scaled away, or replaced. */
	log_worker(LOG_LVL_INFO, LOG_EV_WORKER_EXITED, s->id, w->pid, w->gen->number,
	    "worker %u (pid %d) %s", s->id, (int)w->pid, what);
	if (w == s->w)
		s->w = NULL;
	if (w == s->next)
		s->next = NULL;
	worker_free(w);
	if (s->nworkers == 0 && (s->state == SLOT_STOPPING ||
	    (s->state == SLOT_DRAINING && !ev_is_active(&s->backoff))))
		slot_gone(s);
	t->hooks->changed(t);
	t->hooks->ended(t);
}

static void
ev_ready(struct slot *s, struct worker *w)
{
	log_worker(LOG_LVL_DEBUG, LOG_EV_WORKER_READY, s->id, w->pid, w->gen->number,
	    "worker %u (pid %d) ready", s->id, (int)w->pid);
	if (w == s->next && s->state == SLOT_REPLACING) {
		struct worker *old = s->w;

		s->w = w;
		s->next = NULL;
		s->streak = 0;
		slot_set_state(s, SLOT_READY);
		if (w->gen != s->gen) {
			/* The slot moved on to another generation while this one
			 * started: it serves for now and is replaced again, as any
			 * worker of another generation than its slot's. */
			ev_timer_stop(s->table->loop, &s->backoff);
			ev_timer_set(&s->backoff, slot_backoff_delay(s), 0);
			ev_timer_start(s->table->loop, &s->backoff);
		}
		if (old)
			worker_stop(old, NULL);	/* retired: serving no more */
		slot_changed(s);
		slot_replace_over(s, REPLACED, NULL);
		return;
	}
	if (w == s->w && s->state == SLOT_STARTING)
		slot_set_state(s, SLOT_READY);
	slot_changed(s);
}

static void
ev_timeout(struct slot *s, struct worker *w, const char *why)
{
	char reason[300];

	if (w == s->next && s->state == SLOT_REPLACING) {
		snprintf(reason, sizeof(reason), "worker %u (pid %d) %s", s->id, (int)w->pid,
		    why);
		s->next = NULL;
		worker_stop(w, why);	/* retired; its exit is only logged */
		slot_replace_failed(s, reason);
		return;
	}
	log_worker(LOG_LVL_WARN, LOG_EV_WORKER_TIMEOUT, s->id, w->pid, w->gen->number,
	    "worker %u (pid %d) %s; stopping it", s->id, (int)w->pid, why);
	worker_stop(w, why);
}

static void
ev_remove(struct slot *s)
{
	struct slots *t = s->table;
	int replacing = s->done != NULL;

	s->removed = 1;
	s->drain_since = mono_now();
	ev_timer_stop(t->loop, &s->backoff);
	starter_unqueue(&t->starter, &s->start_w);
	starter_unqueue(&t->starter, &s->start_next);
	/* A slot in backoff with connections in its own queue: a worker
	 * serves them before the socket goes (closing it would reset them). */
	if (s->nworkers == 0 && slot_queued(s) > 0)
		s->w = slot_spawn(s);
	if (s->nworkers == 0)
		slot_set_state(s, SLOT_GONE);
	else if (sockpool_reuseport(t->pool)) {
		slot_set_state(s, SLOT_DRAINING);
		ev_timer_again(t->loop, &s->drain);
	} else
		stop_workers(s);
	if (replacing)
		slot_replace_over(s, REPLACE_DROPPED, "scaled away");
	if (s->state == SLOT_GONE)
		slot_free(s);
}

static void
ev_drained(struct slot *s)
{
	ev_timer_stop(s->table->loop, &s->drain);
	ev_timer_stop(s->table->loop, &s->backoff);
	if (s->nworkers == 0)
		slot_gone(s);
	else
		stop_workers(s);
}

/* kill: the caller sends SIGKILL to every worker instead of the stop signal. */
static void
ev_stop(struct slot *s, int kill)
{
	struct slots *t = s->table;
	int replacing = s->done != NULL;

	starter_unqueue(&t->starter, &s->start_w);
	starter_unqueue(&t->starter, &s->start_next);
	ev_timer_stop(t->loop, &s->backoff);
	ev_timer_stop(t->loop, &s->drain);
	if (s->nworkers == 0)
		slot_set_state(s, SLOT_GONE);
	else if (kill)
		slot_set_state(s, SLOT_STOPPING);
	else
		stop_workers(s);
	if (replacing)
		slot_replace_over(s, REPLACE_DROPPED, "clusterd is stopping");
}

static void
ev_start(struct slot *s)
{
	struct slots *t = s->table;

	if (s->removed && s->w == NULL && s->nworkers == 0 && slot_queued(s) == 0) {
		/* Scaled away, and its queue emptied meanwhile: nothing to serve. */
		ev_timer_stop(t->loop, &s->drain);
		slot_gone(s);
		return;
	}
	if (t->stopping || s->w != NULL || (s->removed && slot_queued(s) == 0))
		return;
	if (s->state == SLOT_BACKOFF)
		slot_set_state(s, SLOT_STARTING);
	slot_start_now(s);
}

static void
ev_backoff(struct slot *s)
{
	struct slots *t = s->table;

	if (!t->stopping && s->w && s->w->gen != s->gen && s->done == NULL &&
	    (s->state == SLOT_READY || s->state == SLOT_STARTING)) {
		slot_replace_again(s);
		return;
	}
	if (!t->stopping && s->w == NULL && (!s->removed || slot_queued(s) > 0)) {
		if (s->state == SLOT_BACKOFF)
			slot_queue_start(s);
		else
			starter_queue(&t->starter, &s->start_w);	/* DRAINING */
	} else if (s->removed && s->nworkers == 0)
		slot_gone(s);
}

/* Every event a slot hears goes through here. */
void
slot_event(struct slot *s, enum slot_ev ev, struct slot_evdata *d)
{
	switch (ev) {
	case SE_START:
		ev_start(s);
		break;
	case SE_START_NEXT:
		slot_ev_start_next(s);
		break;
	case SE_READY:
		ev_ready(s, d->w);
		break;
	case SE_EXITED:
		ev_exited(s, d->w, d->status);
		break;
	case SE_TIMEOUT:
		ev_timeout(s, d->w, d->why);
		break;
	case SE_BACKOFF:
		ev_backoff(s);
		break;
	case SE_REPLACE:
		d->status = slot_ev_replace(s, d);
		break;
	case SE_CANCEL:
		slot_ev_cancel(s, d->gen);
		break;
	case SE_REMOVE:
		ev_remove(s);
		break;
	case SE_DRAINED:
		ev_drained(s);
		break;
	case SE_STOP:
		ev_stop(s, d != NULL && d->status);
		break;
	}
}

static void
on_ready(struct worker *w)
{
	struct slot_evdata d = { .w = w };

	slot_event(w->slot, SE_READY, &d);
}

static void
on_exited(struct worker *w, int status)
{
	struct slot_evdata d = { .w = w, .status = status };

	slot_event(w->slot, SE_EXITED, &d);
}

/* The worker asks to be replaced; whoever keeps the table decides when. */
static void
on_recycle(struct worker *w)
{
	struct slots *t = w->slot->table;

	if (t->hooks->recycle)
		t->hooks->recycle(t);
}

static void
on_timeout(struct worker *w, const char *why)
{
	struct slot_evdata d = { .w = w, .why = why };

	slot_event(w->slot, SE_TIMEOUT, &d);
}

static void
start_w_run(struct start *st)
{
	slot_event(container_of(st, struct slot, start_w), SE_START, NULL);
}

static void
start_next_run(struct start *st)
{
	slot_event(container_of(st, struct slot, start_next), SE_START_NEXT, NULL);
}

static void
backoff_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	slot_event(container_of(t, struct slot, backoff), SE_BACKOFF, NULL);
}

/*
 * Scale-down in reuseport mode: the slot is already steered away; its
 * worker serves what waits in its queue, and is stopped once that is
 * empty (or after stop_timeout), so no queued connection is reset.
 */
static void
drain_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct slot *s = container_of(t, struct slot, drain);

	(void)loop;
	(void)revents;
	/* A worker that only just started gets to accept before it is asked
	 * to go: its queue is read once it is ready. */
	if ((s->w && s->w->state == W_STARTING) ||
	    (slot_queued(s) > 0 && mono_now() - s->drain_since < s->table->cur->cfg->stop_timeout))
		return;
	slot_event(s, SE_DRAINED, NULL);
}

struct slot *
slot_new(struct slots *t, unsigned id)
{
	struct slot *s = xcalloc(1, sizeof(*s));

	s->table = t;
	s->id = id;
	s->state = SLOT_STARTING;
	slot_set_gen(s, t->cur);
	ev_timer_init(&s->backoff, backoff_cb, 0, 0);
	ev_timer_init(&s->drain, drain_cb, 0, 0.01);
	start_init(&s->start_w, start_w_run);
	start_init(&s->start_next, start_next_run);
	return s;
}

void
slot_free(struct slot *s)
{
	struct slots *t = s->table;

	/* Its reuseport sockets go with it, unless a new slot took its id. */
	if (s->removed && s->id >= t->n)
		sockpool_slot_close(t->pool, s->id);
	starter_unqueue(&t->starter, &s->start_w);
	starter_unqueue(&t->starter, &s->start_next);
	ev_timer_stop(t->loop, &s->drain);
	ev_timer_stop(t->loop, &s->backoff);
	if (s->gen)
		gen_unref(t->pool, s->gen);
	free(s->last_exit);
	free(s);
}

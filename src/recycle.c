/*
 * Recycling (recycle.h). A recycle is a replace of the slot's worker by
 * one of the same generation, asked of slot.c like a rollout's: in
 * restart_mode's way, so by default (surge) the successor is ready before
 * the old worker gets the stop signal and capacity never drops. A rolling
 * restart replaces every worker anyway, so recycles wait for it to end;
 * a worker it replaced no longer asks.
 */
#include <stddef.h>

#include "gen.h"
#include "log.h"
#include "recycle.h"
#include "slot.h"
#include "worker.h"

void
recycle_init(struct recycler *r, struct slots *t)
{
	r->slots = t;
	r->wanted = 0;
}

static void
outcome(struct slot *s, enum replace_outcome o, const char *why, void *arg)
{
	struct recycler *r = arg;

	r->wanted = 1;
	if (o == REPLACE_FAILED && s->w && s->w->recycle) {
		/* It keeps serving; asking again would loop on the same failure. */
		log_worker(LOG_LVL_WARN, LOG_EV_RECYCLE, s->id, s->w->pid,
		    s->w->gen->number,
		    "worker %u (pid %d): recycling failed: %s; it keeps serving",
		    s->id, (int)s->w->pid, why ? why : "");
		s->w->recycle_failed = 1;
	}
}

/* The recycles under way, counted from the slots that owe this recycler
 * an outcome: a replace taken over by a rollout, or cancelled by its
 * rollback, owes none, and a count of our own would drift. */
static int
running(const struct recycler *r)
{
	int n = 0;

	for (size_t i = 0; i < r->slots->n; i++)
		if (r->slots->v[i]->done == outcome && r->slots->v[i]->done_arg == r)
			n++;
	return n;
}

void
recycle_yield(struct recycler *r)
{
	for (size_t i = 0; i < r->slots->n; i++) {
		struct slot *s = r->slots->v[i];

		if (s->done == outcome && s->done_arg == r) {
			slot_forget_replace(s);
			r->wanted = 1;	/* its worker may still want one after */
		}
	}
}

void
recycle_kick(struct recycler *r, int batch, int paused)
{
	struct slots *t = r->slots;
	int waiting = 0, now;

	if (!r->wanted || t->stopping)
		return;
	now = running(r);
	for (size_t i = 0; i < t->n; i++) {
		struct slot *s = t->v[i];

		if (s->w == NULL || s->w->recycle == NULL || s->w->recycle_failed ||
		    s->w->state == W_STOPPING)
			continue;
		/* Not ready, or already being replaced: its turn comes later. */
		if (paused || now >= batch || s->state != SLOT_READY) {
			waiting = 1;
			continue;
		}
		log_worker(LOG_LVL_INFO, LOG_EV_RECYCLE, s->id, s->w->pid,
		    s->w->gen->number,
		    "worker %u (pid %d): starting its replacement (%s)", s->id,
		    (int)s->w->pid, s->w->recycle);
		/* What its exit line says, now that it is replaced for it. */
		worker_note_why(s->w, s->w->recycle);
		if (slot_replace(s, s->gen, outcome, r) == 1)
			now++;
	}
	r->wanted = waiting;
}

replace_cb *
recycle_replace_cb(void)
{
	return outcome;
}

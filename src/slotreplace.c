/*
 * Replacing a slot's worker for a rolling restart (slot_replace), taking
 * that back for a rollback (slot_cancel_replace), and the outcome told to
 * whoever asked. A slot left with a worker of another generation than its
 * own is replaced again by the backoff rule. The states change through
 * slot.c, like every other event's.
 */
#include <stddef.h>

#include "gen.h"
#include "log.h"
#include "slotpriv.h"
#include "worker.h"

/* The outcome of a replace, to whoever asked; the slot has moved on. */
void
slot_replace_over(struct slot *s, enum replace_outcome o, const char *why)
{
	replace_cb *done = s->done;
	void *arg = s->done_arg;

	s->done = NULL;
	s->done_arg = NULL;
	starter_unqueue(&s->table->starter, &s->start_next);
	if (done)
		done(s, o, why, arg);
}

/*
 * The successor failed: the slot goes on with what it has. A worker of
 * another generation than the slot's keeps serving, and is replaced again
 * later by the backoff rule (a rollback whose old program failed too: the
 * slot gets the old program once it works). A rollout that rolls back
 * takes the slot's generation back at once (slot_cancel_replace).
 */
void
slot_replace_failed(struct slot *s, const char *why)
{
	if (s->w) {
		slot_set_state(s, s->w->state == W_READY ? SLOT_READY : SLOT_STARTING);
		if (s->w->gen != s->gen) {
			s->streak++;
			ev_timer_stop(s->table->loop, &s->backoff);
			ev_timer_set(&s->backoff, slot_backoff_delay(s), 0);
			ev_timer_start(s->table->loop, &s->backoff);
		}
	} else
		slot_queue_start(s);
	slot_replace_over(s, REPLACE_FAILED, why);
	slot_changed(s);
}

int
slot_ev_replace(struct slot *s, struct slot_evdata *d)
{
	if (s->done == NULL && s->state == SLOT_HANDOVER) {
		/* Its own replace-again: whoever asks now hears the outcome. */
		slot_set_gen(s, d->gen);
		s->done = d->done;
		s->done_arg = d->arg;
		return 1;
	}
	if (s->done == NULL && s->state == SLOT_REPLACING) {
		/* Its own replace-again, with the wrong generation now. */
		starter_unqueue(&s->table->starter, &s->start_next);
		if (s->next)
			worker_stop(s->next, NULL);	/* retired */
		s->next = NULL;
		slot_set_state(s, s->w == NULL ? SLOT_STARTING :
		    s->w->state == W_READY ? SLOT_READY : SLOT_STARTING);
		if (s->w == NULL) {
			slot_set_gen(s, d->gen);
			starter_queue(&s->table->starter, &s->start_w);
			return 0;
		}
	}
	if (s->w == NULL || (s->state != SLOT_READY && s->state != SLOT_STARTING)) {
		/* Empty, in backoff or done: its next start runs the new program. */
		slot_set_gen(s, d->gen);
		return 0;
	}
	ev_timer_stop(s->table->loop, &s->backoff);	/* a pending replace-again */
	slot_set_gen(s, d->gen);
	s->done = d->done;
	s->done_arg = d->arg;
	if (d->gen->cfg->prog.restart_mode == RESTART_REPLACE) {
		slot_set_state(s, SLOT_HANDOVER);
		worker_stop(s->w, NULL);
	} else {
		slot_set_state(s, SLOT_REPLACING);
		starter_queue(&s->table->starter, &s->start_next);	/* a slice at a time */
	}
	return 1;
}

void
slot_ev_cancel(struct slot *s, struct gen *back)
{
	s->done = NULL;
	s->done_arg = NULL;
	if (s->state == SLOT_REPLACING) {
		starter_unqueue(&s->table->starter, &s->start_next);
		if (s->next)
			worker_stop(s->next, NULL);	/* retired */
		s->next = NULL;
		slot_set_gen(s, back);
		if (s->w)
			slot_set_state(s, s->w->state == W_READY ? SLOT_READY : SLOT_STARTING);
		else
			slot_queue_start(s);
		return;
	}
	/* HANDOVER: the old one still stops; a worker of back follows it. */
	if (s->state == SLOT_HANDOVER || s->w == NULL)
		slot_set_gen(s, back);
	else if (s->w->gen != s->gen) {
		/* Its replace failed just now: it keeps the worker it has. */
		slot_set_gen(s, back);
		if (s->w->gen == back)
			ev_timer_stop(s->table->loop, &s->backoff);
	}
}

void
slot_ev_start_next(struct slot *s)
{
	if (s->state != SLOT_REPLACING || s->next != NULL)
		return;
	if ((s->next = slot_spawn(s)) == NULL)
		slot_replace_failed(s, "fork failed");
}

/* A worker of another generation than its slot's: replace it again. */
void
slot_replace_again(struct slot *s)
{
	struct slot_evdata d = { .gen = s->gen };

	if (s->state == SLOT_STARTING) {
		/* Not ready yet: its turn comes once it is. */
		ev_timer_set(&s->backoff, 1, 0);
		ev_timer_start(s->table->loop, &s->backoff);
		return;
	}
	log_worker(LOG_LVL_INFO, LOG_EV_NONE, s->id, s->w->pid, s->w->gen->number,
	    "worker %u (pid %d) runs generation %u, its slot %u: replacing it",
	    s->id, (int)s->w->pid, s->w->gen->number, s->gen->number);
	slot_ev_replace(s, &d);
}

int
slot_replace(struct slot *s, struct gen *g, replace_cb *done, void *arg)
{
	struct slot_evdata d = { .gen = g, .done = done, .arg = arg };

	slot_event(s, SE_REPLACE, &d);
	return d.status;
}

void
slot_forget_replace(struct slot *s)
{
	s->done = NULL;
	s->done_arg = NULL;
}

void
slot_cancel_replace(struct slot *s, struct gen *back)
{
	struct slot_evdata d = { .gen = back };

	slot_event(s, SE_CANCEL, &d);
}

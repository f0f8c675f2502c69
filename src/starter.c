/*
 * The start queue: every worker start goes through it, so that the loop
 * gets its turn between slices of starting. What one start does is
 * supervisor.c's (sup_start_one).
 */
#include <sys/queue.h>

#include "starter.h"
#include "supervisor.h"
#include "util.h"

/*
 * Starts go through a queue, run a slice at a time: each start waits for
 * its child's exec (CLONE_VFORK), so a thousand in one callback would
 * leave signals and control requests unanswered for a second or more.
 * The starter runs from a zero timer, so that between two slices the loop
 * polls and serves whatever came in; order is kept.
 */
#define START_SLICE	0.005	/* seconds of starting before the loop's turn */

static void
slot_queue(struct supervisor *sup, struct start *st)
{
	if (st->queued)
		return;
	st->queued = 1;
	TAILQ_INSERT_TAIL(&sup->startq, st, entry);
	if (!ev_is_active(&sup->starter)) {
		ev_timer_set(&sup->starter, 0, 0);
		ev_timer_start(sup->loop, &sup->starter);
	}
}

void
slot_start(struct slot *s)
{
	slot_queue(s->sup, &s->start_w);
}

void
slot_start_next(struct slot *s)
{
	slot_queue(s->sup, &s->start_next);
}

void
slot_unqueue(struct start *st)
{
	if (!st->queued)
		return;
	st->queued = 0;
	TAILQ_REMOVE(&st->slot->sup->startq, st, entry);
}

void
sup_unqueue_all(struct supervisor *sup)
{
	struct start *st;

	while ((st = TAILQ_FIRST(&sup->startq)) != NULL)
		slot_unqueue(st);
	ev_timer_stop(sup->loop, &sup->starter);
}

static void
starter_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct supervisor *sup = container_of(t, struct supervisor, starter);
	double t0 = mono_now();
	struct start *st;

	(void)revents;
	while ((st = TAILQ_FIRST(&sup->startq)) != NULL) {
		slot_unqueue(st);
		sup_start_one(st);
		if (mono_now() - t0 >= START_SLICE)
			break;
	}
	if (!TAILQ_EMPTY(&sup->startq) && !ev_is_active(t)) {
		ev_timer_set(t, 0, 0);
		ev_timer_start(loop, t);
	}
}

void
starter_init(struct supervisor *sup)
{
	TAILQ_INIT(&sup->startq);
	ev_timer_init(&sup->starter, starter_cb, 0, 0);
}

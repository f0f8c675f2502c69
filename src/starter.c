/*
 * The start queue: every worker start goes through it, so that the loop
 * gets its turn between slices of starting. What one start does is its
 * owner's (the run function of struct start).
 */
#include <sys/queue.h>

#include "starter.h"
#include "util.h"

/*
 * The starter runs from a zero timer, so that between two slices the loop
 * polls and serves whatever came in; order is kept.
 */
#define START_SLICE	0.005	/* seconds of starting before the loop's turn */

void
start_init(struct start *st, void (*run)(struct start *))
{
	st->run = run;
	st->queued = 0;
}

void
starter_queue(struct starter *sr, struct start *st)
{
	if (st->queued)
		return;
	st->queued = 1;
	TAILQ_INSERT_TAIL(&sr->queue, st, entry);
	if (!ev_is_active(&sr->timer)) {
		ev_timer_set(&sr->timer, 0, 0);
		ev_timer_start(sr->loop, &sr->timer);
	}
}

void
starter_unqueue(struct starter *sr, struct start *st)
{
	if (!st->queued)
		return;
	st->queued = 0;
	TAILQ_REMOVE(&sr->queue, st, entry);
}

void
starter_clear(struct starter *sr)
{
	struct start *st;

	while ((st = TAILQ_FIRST(&sr->queue)) != NULL)
		starter_unqueue(sr, st);
	ev_timer_stop(sr->loop, &sr->timer);
}

static void
starter_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct starter *sr = container_of(t, struct starter, timer);
	double t0 = mono_now();
	struct start *st;

	(void)revents;
	while ((st = TAILQ_FIRST(&sr->queue)) != NULL) {
		starter_unqueue(sr, st);
		st->run(st);
		if (mono_now() - t0 >= START_SLICE)
			break;
	}
	if (!TAILQ_EMPTY(&sr->queue) && !ev_is_active(t)) {
		ev_timer_set(t, 0, 0);
		ev_timer_start(loop, t);
	}
}

void
starter_init(struct starter *sr, struct ev_loop *loop)
{
	sr->loop = loop;
	TAILQ_INIT(&sr->queue);
	ev_timer_init(&sr->timer, starter_cb, 0, 0);
}

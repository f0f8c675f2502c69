/*
 * Recycling by age (aging.h). Workers started together (all of them, at
 * clusterd's start) would come due together: the jitter spreads them,
 * and the spacing holds back whoever comes due too soon after another,
 * so capacity never dips by more than the one being replaced.
 */
#include <stdlib.h>

#include "aging.h"
#include "config.h"
#include "gen.h"
#include "log.h"
#include "slot.h"
#include "strv.h"
#include "util.h"
#include "values.h"
#include "worker.h"

static void	timer_cb(struct ev_loop *, ev_timer *, int);

void
aging_init(struct aging *a, struct ev_loop *loop, struct slots *t, struct gen *const *cur)
{
	a->loop = loop;
	a->slots = t;
	a->last = 0;
	a->cur = cur;
	a->max_age = 0;
	a->paused = 0;
	ev_init(&a->timer, timer_cb);
}

double
aging_spacing(const struct config *cfg, size_t n)
{
	double s = cfg->max_age / (2.0 * (double)(n ? n : 1));

	return s < 1 ? 1 : s;
}

/* Its age limit, drawn once: max_age give or take the jitter. */
static double
due(const struct config *cfg, struct worker *w)
{
	if (w->recycle_at == 0) {
		double u = (double)arc4random() / 4294967295.0 * 2 - 1;

		w->recycle_at = w->started + cfg->max_age * (1 + u * cfg->max_age_jitter / 100.0);
	}
	return w->recycle_at;
}

static void
check(struct aging *a)
{
	const struct config *cfg = *a->cur ? (*a->cur)->cfg : NULL;
	struct slots *t = a->slots;
	struct worker *next = NULL;
	double now = mono_now(), at, gap;
	int busy = a->paused;

	ev_timer_stop(a->loop, &a->timer);
	if (cfg == NULL || cfg->max_age <= 0 || t->stopping) {
		for (size_t i = 0; i < t->n; i++)
			if (t->v[i]->w)
				t->v[i]->w->recycle_at = 0;
		return;
	}
	for (size_t i = 0; i < t->n; i++) {
		struct slot *s = t->v[i];

		if (s->state == SLOT_REPLACING || s->state == SLOT_HANDOVER)
			busy = 1;
		if (s->w == NULL || s->w->state != W_READY || s->removed)
			continue;
		if (s->w->recycle) {
			busy = 1;	/* asked already, by whatever reason */
			continue;
		}
		if (due(cfg, s->w) > 0 && (next == NULL || s->w->recycle_at < next->recycle_at))
			next = s->w;
	}
	/* Anything under way says so when it ends (the slots change). */
	if (next == NULL || busy)
		return;
	gap = aging_spacing(cfg, t->n);
	at = next->recycle_at;
	if (a->last > 0 && a->last + gap > at)
		at = a->last + gap;
	if (at > now) {
		ev_timer_set(&a->timer, at - now, 0);
		ev_timer_start(a->loop, &a->timer);
		return;
	}
	char age[32];

	format_duration(age, sizeof(age), cfg->max_age);
	log_worker(LOG_LVL_INFO, LOG_EV_RECYCLE, next->id, next->pid, next->gen->number,
	    "worker %u (pid %d): max_age %s reached (age %.1fs): recycling it",
	    next->id, (int)next->pid, age, now - next->started);
	a->last = now;
	worker_recycle(next, xasprintf("max_age %s reached", age));
}

static void
timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct aging *a = container_of(t, struct aging, timer);

	(void)loop;
	(void)revents;
	check(a);
}

void
aging_update(struct aging *a, int rolling)
{
	struct slots *t = a->slots;

	if (*a->cur && (*a->cur)->cfg->max_age != a->max_age) {
		a->max_age = (*a->cur)->cfg->max_age;
		for (size_t i = 0; i < t->n; i++)
			if (t->v[i]->w)
				t->v[i]->w->recycle_at = 0;
	}
	a->paused = rolling;
	check(a);
}

void
aging_stop(struct aging *a)
{
	ev_timer_stop(a->loop, &a->timer);
}

/*
 * The autoscaler's decisions (autoscale.h).
 *
 * Why these rules. A prefork worker serves one connection at a time, so
 * with C clients and N workers about C - N connections wait: the queue's
 * p95 above the target says how many workers are missing, and adding
 * that many (at most doubling, as a queue of clients that just gave up
 * overstates it) settles a step of load in a window or two. Going down,
 * an empty queue alone cannot tell N busy workers from N idle ones, and
 * a wrong guess comes straight back up: so only with two workers that
 * have nothing in hand (one stays spare after the one removed), one at
 * a time, and after a cool-down. The gap between "above scale_queue" and
 * "empty for scale_down_after" is the hysteresis: a constant load sits
 * inside it and the count does not move.
 */
#include <ev.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscale.h"
#include "metrics.h"
#include "config.h"
#include "strv.h"
#include "util.h"

void
autoscale_init(struct autoscale *a)
{
	memset(a, 0, sizeof(*a));
	a->lo = a->hi = -1;
}

void
autoscale_free(struct autoscale *a)
{
	free(a->samples);
	a->samples = NULL;
	a->n = a->cap = 0;
}

int
autoscale_range(const struct autoscale *a, const struct config *cfg, int *lo, int *hi)
{
	if (a->hi > 0) {
		*lo = a->lo;
		*hi = a->hi;
		return 1;
	}
	if (cfg->workers_max <= 0)
		return 0;
	*lo = cfg->workers;
	*hi = cfg->workers_max;
	return 1;
}

void
autoscale_sample(struct autoscale *a, double now, int depth)
{
	if (a->n == 0)
		a->window_start = now;
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->samples = xreallocarray(a->samples, a->cap, sizeof(*a->samples));
	}
	a->samples[a->n++] = depth;
	if (depth > 0)
		a->last_queue = now;
}

static int
by_depth(const void *x, const void *y)
{
	int a = *(const int *)x, b = *(const int *)y;

	return (a > b) - (a < b);
}

size_t
autoscale_up(struct autoscale *a, const struct autoscale_in *in, double now,
    char *why, size_t len)
{
	const struct config *cfg = in->cfg;
	int lo, hi, p95;
	size_t step, to;

	if (!autoscale_range(a, cfg, &lo, &hi) || a->n == 0 ||
	    now - a->window_start < cfg->scale_window)
		return 0;
	qsort(a->samples, a->n, sizeof(*a->samples), by_depth);
	p95 = a->samples[(size_t)ceil(0.95 * (double)a->n) - 1];
	a->n = 0;
	if (p95 <= cfg->scale_queue || in->n >= (size_t)hi)
		return 0;
	/* The workers added last are not serving yet: what the queue says
	 * now is what they are about to take. */
	if (in->ready < (int)in->n && now - a->last_change < cfg->prog.ready_timeout)
		return 0;
	step = (size_t)(p95 - cfg->scale_queue);
	if (step > in->n)
		step = in->n;
	if (step < 1)
		step = 1;
	to = in->n + step;
	if (to > (size_t)hi)
		to = (size_t)hi;
	snprintf(why, len, "queue p95 %d over %gs, above %d", p95, cfg->scale_window,
	    cfg->scale_queue);
	return to;
}

double
autoscale_down_at(const struct autoscale *a, const struct autoscale_in *in)
{
	const struct config *cfg = in->cfg;
	double at;
	int lo, hi;

	if (!autoscale_range(a, cfg, &lo, &hi) || in->n <= (size_t)lo)
		return 0;
	at = a->last_queue + cfg->scale_down_after;
	if (a->last_change + cfg->scale_cooldown > at)
		at = a->last_change + cfg->scale_cooldown;
	return at;
}

size_t
autoscale_down(struct autoscale *a, const struct autoscale_in *in, double now,
    char *why, size_t len)
{
	const struct config *cfg = in->cfg;
	double at = autoscale_down_at(a, in);
	int idle;

	if (at == 0 || now < at)
		return 0;
	/* Unread, it may be busy: never down on a guess. Without a TCP
	 * socket (UNIX ones only) the queue is all there is to go by. */
	if (in->inflight == AUTOSCALE_UNREAD)
		return 0;
	idle = in->inflight == AUTOSCALE_NO_TCP ? -1 : (int)in->n - in->inflight;
	if (idle >= 0 && idle < 2)
		return 0;
	if (idle >= 0)
		snprintf(why, len, "no queue for %gs, %d of %zu workers idle",
		    cfg->scale_down_after, idle, in->n);
	else
		snprintf(why, len, "no queue for %gs", cfg->scale_down_after);
	return in->n - 1;
}

void
autoscale_changed(struct autoscale *a, double now, size_t from, size_t to,
    const char *why)
{
	a->last_change = now;
	a->n = 0;	/* a new window for the new count */
	if (why) {
		metrics_autoscale(to > from);
		a->last.wall = ev_time();
		a->last.from = from;
		a->last.to = to;
		snprintf(a->last.why, sizeof(a->last.why), "%s", why);
	}
}

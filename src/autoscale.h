/*
 * The autoscaler's decisions (workers = MIN..MAX): from the cluster's
 * accept-queue depth, sampled by load.c, how many workers to run. It
 * keeps the fewest workers that hold the queue's p95 over a window at or
 * under scale_queue: up at once by what the queue says is missing, down
 * one at a time once the queue has been empty for scale_down_after and
 * two workers have nothing in hand, never down within scale_cooldown of
 * any change. Nothing here acts or reads the kernel: load.c does both.
 */
#ifndef CLUSTERD_AUTOSCALE_H
#define CLUSTERD_AUTOSCALE_H

#include <stddef.h>

struct config;

struct autoscale {
	int		*samples;	/* the current window's depths */
	size_t		 n, cap;
	double		 window_start;	/* mono_now() */
	double		 last_queue;	/* last depth > 0 seen */
	double		 last_change;	/* of the worker count, by anyone */
	int		 lo, hi;	/* `scale MIN..MAX`'s range, or -1: the config's */
	struct {			/* the last decision, for status */
		double	 wall;		/* 0: none yet */
		size_t	 from, to;
		char	 why[160];
	}		 last;
};

/* What the decision depends on besides the samples. */
struct autoscale_in {
	const struct config *cfg;
	size_t		 n;		/* workers wanted now */
	int		 ready;		/* of them ready */
	int		 inflight;	/* accepted connections open; AUTOSCALE_UNREAD
					 * when the kernel did not say, AUTOSCALE_NO_TCP
					 * without a TCP socket to ask about */
};

#define AUTOSCALE_UNREAD	(-1)
#define AUTOSCALE_NO_TCP	(-2)

void	autoscale_init(struct autoscale *);
void	autoscale_free(struct autoscale *);
/* The range in force (a `scale MIN..MAX` or the config's); 0 when off. */
int	autoscale_range(const struct autoscale *, const struct config *, int *lo, int *hi);
/* A sample of the cluster's queue depth at now. */
void	autoscale_sample(struct autoscale *, double now, int depth);
/* Whether a window is over and a scale-up is due: the count to run
 * (> in->n) with why, or 0. */
size_t	autoscale_up(struct autoscale *, const struct autoscale_in *, double now,
	    char *why, size_t len);
/* When a scale-down may next be considered (mono time; 0: never, at the
 * range's low end or off), and whether one is due now (in->inflight read
 * just before): the count to run, or 0. */
double	autoscale_down_at(const struct autoscale *, const struct autoscale_in *);
size_t	autoscale_down(struct autoscale *, const struct autoscale_in *, double now,
	    char *why, size_t len);
/* The count changed (autoscaler, scale, TTIN/TTOU, reload): cool down. */
void	autoscale_changed(struct autoscale *, double now, size_t from, size_t to,
	    const char *why);

#endif

/*
 * Recycling by age (max_age, max_age_jitter): each worker is replaced once
 * it has served max_age, give or take its jitter, drawn when it is first
 * seen. One at a time, never two begun closer than the spacing (the
 * larger of 1s and max_age / (2 x workers): a whole pool turns over in
 * half its age at most), and never while another replace or a rolling
 * restart runs. The replace is the recycler's, in restart_mode's way.
 */
#ifndef CLUSTERD_AGING_H
#define CLUSTERD_AGING_H

#include <ev.h>

struct config;
struct gen;
struct slots;

struct aging {
	struct ev_loop	*loop;
	struct slots	*slots;
	ev_timer	 timer;		/* the next recycle due, or the spacing's end */
	double		 last;		/* mono_now() when the last one began */
	struct gen *const *cur;		/* the supervisor's current generation */
	double		 max_age;	/* the setting the limits were drawn for */
	int		 paused;	/* a rolling restart runs */
};

void	aging_init(struct aging *, struct ev_loop *, struct slots *, struct gen *const *cur);
/* The settings, the workers or the rolling state changed: look again (a
 * new max_age draws every limit again). */
void	aging_update(struct aging *, int rolling);
void	aging_stop(struct aging *);
/* The spacing between two recycles, for cfg and n workers. */
double	aging_spacing(const struct config *, size_t n);

#endif

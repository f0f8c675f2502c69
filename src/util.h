/* Small things every module may need. */
#ifndef CLUSTERD_UTIL_H
#define CLUSTERD_UTIL_H

#include <stddef.h>
#include <time.h>

/* From a watcher embedded in its owner back to the owner. */
#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

/*
 * Seconds on the monotonic clock, for every duration clusterd measures
 * (uptimes, stable_after, drain and rate-limit windows): a step of the
 * wall clock (ntpd, date -s) must not turn a stable worker into a quick
 * death. libev's ev_now() and ev_time() are wall-clock time; its timers
 * already run on the monotonic clock. Wall-clock time is for display only.
 */
static inline double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif

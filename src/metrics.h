/*
 * clusterd's figures in the Prometheus text exposition format: what
 * operators graph and alert on, rendered on request (a scrape of the
 * metrics endpoint, or clusterctl metrics) from the counters kept here
 * and the state the supervisor already holds.
 */
#ifndef CLUSTERD_METRICS_H
#define CLUSTERD_METRICS_H

struct supervisor;
struct sbuf;

/* Append the exposition to out: the Prometheus text format 0.0.4, or
 * OpenMetrics 1.0.0 (with its "# EOF") when openmetrics is set. */
void	metrics_render(struct supervisor *, struct sbuf *out, int openmetrics);

#endif

/* clusterd's metrics as text: see exposition.c. */
#ifndef CLUSTERD_EXPOSITION_H
#define CLUSTERD_EXPOSITION_H

struct supervisor;
struct sbuf;

/* Append the exposition to out: the Prometheus text format 0.0.4, or
 * OpenMetrics 1.0.0 (with its "# EOF") when openmetrics is set. */
void	exposition_render(struct supervisor *, struct sbuf *out, int openmetrics);

#endif

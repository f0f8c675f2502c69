/*
 * The metrics endpoint ([clusterd] metrics = ADDR): GET /metrics over
 * HTTP/1.x, answered from clusterd's own loop with what metrics.c
 * renders, in the Prometheus text format or OpenMetrics.
 */
#ifndef CLUSTERD_METRICSRV_H
#define CLUSTERD_METRICSRV_H

#include <stddef.h>

struct metricsrv;
struct supervisor;
struct state_out;
struct state_rec;

/* An endpoint that listens nowhere yet. */
struct metricsrv *metricsrv_new(struct supervisor *);
/* Listen on addr (NULL: nowhere), as [clusterd] metrics says. The same
 * address as now keeps the socket; another one is bound before the old
 * one is closed, so a failure (-1, err says why) leaves things as they
 * were. */
int	metricsrv_set(struct metricsrv *, const char *addr, char *err, size_t len);
/* The same in two steps, for a reload that may still be refused after
 * the bind: prepare binds (-1, err says why), then commit switches to it
 * or abort puts things back. */
int	metricsrv_prepare(struct metricsrv *, const char *addr, char *err, size_t len);
void	metricsrv_commit(struct metricsrv *, const char *addr);
void	metricsrv_abort(struct metricsrv *);
/* Close the socket and every connection (NULL: nothing). */
void	metricsrv_free(struct metricsrv *);
/* An upgrade: the listening socket as a record; and taken over by the new
 * image (r NULL: the old one had none). Connections in progress are not
 * carried: their scrapers try again, on the same socket. */
void	metricsrv_save(const struct metricsrv *, struct state_out *);
void	metricsrv_adopt(struct metricsrv *, const struct state_rec *r);

#endif

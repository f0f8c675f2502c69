/*
 * Restart and reload requests (signals, clusterctl): queued, run one at a
 * time, two waiting ones of a kind merged. Whoever asks gets the result
 * through its callback; it can take its interest back before then.
 */
#ifndef CLUSTERD_OPS_H
#define CLUSTERD_OPS_H

#include "rollout.h"

struct supervisor;
struct op;
struct request;

enum op_kind { OP_RESTART, OP_RELOAD };

typedef void	request_cb(int code, const char *msg, const char *body, void *cookie);

struct metricsrv;

struct ops {
	struct supervisor *sup;
	struct rollout	 ro;
	struct op	*head;		/* the running one first, when ro.active */
	struct metricsrv *metrics;	/* a reload moves it (clusterd.c sets it) */
};

void	ops_init(struct ops *, struct supervisor *);
void	ops_free(struct ops *);
/* Ask for a restart or reload; done (may be NULL) hears the result, maybe
 * before this returns (then the caller must not touch what cookie names:
 * done may have freed it). *handle (if handle is not NULL) is set before
 * done can be called, and is for ops_cancel until done is called. */
void	ops_request(struct ops *, enum op_kind, request_cb *done, void *cookie,
	    struct request **handle);
void	ops_cancel(struct ops *, struct request *);
struct state_out;
struct state_in;
void	ops_save(const struct ops *, struct state_out *, int (*fd_of)(void *cookie));
int	ops_adopt(struct ops *, const struct state_in *,
	    void *(*attach)(int fd, request_cb **done, struct request ***handle,
	    void *arg), void *arg);
/* A rolling restart runs. */
int	ops_rolling(const struct ops *);

#endif

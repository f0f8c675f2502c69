/* The control socket that clusterctl talks to (§5; protocol in clusterctl(8)). */
#ifndef CLUSTERD_CONTROL_H
#define CLUSTERD_CONTROL_H

struct ctl;
struct ops;
struct supervisor;

/* Bind the control socket (-s, [clusterd] control, or the default path).
 * -1 on error (logged); *out is NULL when a second unnamed cluster runs
 * without one. */
int	ctl_start(struct supervisor *, struct ops *, struct ctl **out);
void	ctl_close(struct ctl *);
struct state_out;
struct state_rec;
struct upgrade;
void	ctl_set_upgrade(struct ctl *, struct upgrade *);
/* An upgrade: the socket (and the connection waiting, the request of the
 * upgrade, whose cookie is waiting) as a record; taken over by the new
 * image (r NULL: there was none; -1 logged); and its answer. */
void	ctl_save(const struct ctl *, struct state_out *, const void *waiting);
int	ctl_adopt(struct supervisor *, struct ops *, const struct state_rec *,
	    struct ctl **out);
void	ctl_adopt_reply(struct ctl *, const struct state_rec *, int code,
	    const char *msg);
/* ops_save()'s and ops_adopt()'s view of a client waiting for a restart
 * or reload: its descriptor, and its connection made again (arg: the
 * struct ctl, NULL: none, the client hears nothing). */
#include "ops.h"
int	ctl_conn_fd(void *cookie);
void	*ctl_adopt_waiter(int fd, request_cb **done, struct request ***handle,
	    void *arg);

#endif

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

#endif

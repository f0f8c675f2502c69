/*
 * clusterd's figures in the Prometheus text exposition format: what
 * operators graph and alert on, rendered on request (a scrape of the
 * metrics endpoint, or clusterctl metrics) from the counters kept here
 * and the state the supervisor already holds.
 *
 * The counters are this module's own, one set per clusterd process: the
 * modules where things happen count them through the one-line calls
 * below, and an upgrade carries them to the new image (metrics_save,
 * metrics_adopt). Gauges (workers by state, queues, cgroups) are read at
 * render time, never kept. The names and labels: clusterd.conf(5),
 * METRICS.
 */
#ifndef CLUSTERD_METRICS_H
#define CLUSTERD_METRICS_H

struct supervisor;
struct sbuf;
struct worker;
struct state_out;
struct state_in;

/* Append the exposition to out: the Prometheus text format 0.0.4, or
 * OpenMetrics 1.0.0 (with its "# EOF") when openmetrics is set. */
void	metrics_render(struct supervisor *, struct sbuf *out, int openmetrics);

/* Why a worker ended: the reason label of clusterd_worker_exits_total. */
enum mx_exit {
	MX_CLEAN,		/* exited 0 on its own */
	MX_EXITED,		/* exited non-zero on its own */
	MX_SIGNAL,		/* killed by a signal clusterd did not send */
	MX_OOM,			/* the OOM killer, in its cgroup */
	MX_WATCHDOG,		/* stopped: no WATCHDOG=1 in time */
	MX_READY_TIMEOUT,	/* stopped: not ready within ready_timeout */
	MX_HANG,		/* replaced: its queue was not served */
	MX_RECYCLE,		/* replaced: max_age, memory_high */
	MX_STOPPED,		/* stopped by clusterd: stop, scale, rolling restart */
	MX_EXEC_FAILED,		/* could not be started (exec, directory, user) */
	MX_NEXIT
};

enum mx_rollout { MX_RO_STARTED, MX_RO_SUCCEEDED, MX_RO_ROLLED_BACK, MX_RO_ABORTED,
	MX_NROLLOUT };
enum mx_reload { MX_RELOAD_APPLIED, MX_RELOAD_REFUSED, MX_RELOAD_FAILED, MX_NRELOAD };

/* The hooks: each is one call where the event is known. */
void	metrics_worker_start(unsigned slot);
/* A worker's process (and cgroup) is gone: status as waitpid gave it. */
void	metrics_worker_exit(const struct worker *, int status);
void	metrics_worker_restart(unsigned slot);
void	metrics_worker_hang(unsigned slot);
void	metrics_rollout(enum mx_rollout);
void	metrics_reload(enum mx_reload);
/* The autoscaler changed the worker count (up: grew). */
void	metrics_autoscale(int up);
/* Lines for clusterd's stdout (0), stderr (1) or the journal (2) dropped:
 * the queue was full, or the write failed. */
void	metrics_log_dropped(int sink, int write_error, unsigned long lines);
/* A control request answered: its command (enum ctl_cmd; -1 not
 * understood) and the reply's code. */
void	metrics_control(int cmd, int code);

/* Which of the reasons above a worker's exit counts as. */
enum mx_exit metrics_exit_reason(const struct worker *, int status);

/* An upgrade: the counters as records, and taken over from them (a state
 * without them, from an older clusterd, leaves them at zero). */
void	metrics_save(struct state_out *);
void	metrics_adopt(const struct state_in *);

#endif

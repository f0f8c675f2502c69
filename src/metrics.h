/*
 * The counters behind clusterd's metrics: what operators graph and alert
 * on. exposition.c renders them, with the gauges it reads from the
 * supervisor, for the metrics endpoint and clusterctl metrics.
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

#include "ctlproto.h"

struct state_out;
struct state_in;

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

/* The label values, by the enums above and the arrays below. */
extern const char *const metrics_exit_names[MX_NEXIT];
extern const char *const metrics_rollout_names[MX_NROLLOUT];
extern const char *const metrics_reload_names[MX_NRELOAD];
extern const char *const metrics_result_names[4];	/* by reply code */
extern const char *const metrics_sink_names[3];		/* stdout, stderr, journal */
extern const char *const metrics_drop_names[2];		/* full, write_error */

#define MX_NSIGS	65	/* Linux signals are 1..64 */

struct mx_slot {
	unsigned long long starts, restarts, hangs, exits[MX_NEXIT];
	double		 last_exit;	/* wall clock; 0: none yet */
};

/* One set per process, as clusterd runs one cluster. */
struct metrics_counters {
	struct mx_slot	*slot;		/* by slot id, every id seen so far */
	size_t		 nslot, cap;
	unsigned long long rollouts[MX_NROLLOUT];
	unsigned long long reloads[MX_NRELOAD];
	unsigned long long autoscale[2];	/* down, up */
	unsigned long long dropped[3][2];	/* by metrics_sink_names, _drop_names */
	unsigned long long control[CTL_NCMD + 1][4];	/* last: not understood */
	unsigned long long codes[256];		/* exits counted as "exited" */
	unsigned long long signals[MX_NSIGS];	/* exits counted as "signal" */
};

/* The counters, for the exposition (exposition.c) to read. */
const struct metrics_counters *metrics_counters(void);

/* The hooks: each is one call where the event is known. */
void	metrics_worker_start(unsigned slot);
/* A worker's process (and cgroup) is gone, for why (worker.c knows);
 * status as waitpid gave it. */
void	metrics_worker_exit(unsigned slot, enum mx_exit why, int status);
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

/* An upgrade: the counters as records, and taken over from them (a state
 * without them, from an older clusterd, leaves them at zero). */
void	metrics_save(struct state_out *);
void	metrics_adopt(const struct state_in *);

#endif

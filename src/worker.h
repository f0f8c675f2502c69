/*
 * One worker process: started, watched through exec, readiness, notify
 * messages, watchdog and exit, and stopped. What that means for the slot
 * it fills is the owner's (slot.c), told through hooks.
 */
#ifndef CLUSTERD_WORKER_H
#define CLUSTERD_WORKER_H

#include <ev.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "cgroup.h"
#include "output.h"
#include "rundir.h"
#include "spawn.h"
#include "strv.h"

struct gen;
struct slot;
struct sockpool;
struct worker;

enum worker_state { W_STARTING, W_READY, W_STOPPING };
/* A timeout it was stopped for, which its exit is counted as (metrics.c). */
enum worker_timeout { WT_NONE, WT_READY, WT_WATCHDOG };

/* What a worker tells its owner (the slot it fills). */
struct worker_hooks {
	void	(*ready)(struct worker *);
	void	(*exited)(struct worker *, int status);
	/* Not ready within ready_timeout, or the watchdog fired. */
	void	(*timeout)(struct worker *, const char *why);
	/* It should be replaced when convenient (memory_high crossed): w->recycle. */
	void	(*recycle)(struct worker *);
};

/*
 * What every start shares, kept by the cluster, which embeds it and sets
 * it up with worker_ctx_init(); the list of workers is this module's.
 */
struct worker_ctx {
	struct ev_loop	*loop;
	TAILQ_HEAD(, worker) all;	/* every worker, oldest first */
	struct sockpool	*pool;		/* where generations put their sockets back */
	struct notifydir *notify;	/* their NOTIFY_SOCKETs' directory, or NULL: none */
	const struct strv *base_env;	/* clusterd's environment, LISTEN_* removed */
	int		 devnull;
	struct rlimit	 nofile;	/* what workers get */
	int		*cpus;		/* the CPUs we may use, for cpu_affinity */
	int		 ncpus;
	int		 stop_signal;	/* the current settings, for worker_stop */
	double		 stop_timeout;
	struct cgroups	*cg;		/* per-worker cgroups, or NULL */
};

/* One start: who the worker is, what it runs, and who hears of it. */
struct worker_spec {
	unsigned	 id;		/* CLUSTERD_WORKER_ID */
	size_t		 nworkers;	/* CLUSTERD_WORKERS */
	struct gen	*gen;
	struct slot	*owner;		/* opaque here; the hooks get it back as w->slot */
	const struct worker_hooks *hooks;
};

struct worker {
	TAILQ_ENTRY(worker) entry;	/* ctx->all */
	struct worker_ctx *ctx;
	struct slot	*slot;		/* the owner */
	const struct worker_hooks *hooks;
	unsigned	 id;
	struct gen	*gen;
	pid_t		 pid;
	enum worker_state state;
	double		 started;	/* mono_now() at fork */
	ev_child	 child;
	ev_io		 report;	/* the exec pipe: EOF = exec'd */
	struct notify_sock notify;	/* its own NOTIFY_SOCKET */
	ev_timer	 timer;		/* ready delay or timeout, then stop deadline */
	ev_timer	 watchdog;
	double		 stop_timeout;	/* the deadline it was given */
	int		 failed;	/* the child reported why it could not exec */
	struct spawn_report fail;
	int		 killed;	/* SIGKILL was sent */
	enum worker_timeout timed_out;
	char		*why;		/* why clusterd stopped it, for the exit line */
	char		*recycle;	/* why it should be replaced, or NULL */
	int		 hung;		/* load.c found it hung: steered around */
	double		 recycle_at;	/* aging.c: its max_age recycle (mono_now), or 0 */
	struct {			/* load.c's watch of its queue */
		double	 since;		/* when its queue last shrank (0: empty) */
		int	 depth;
		int	 taken;		/* sig holds its sockets as of at */
		double	 at;
		unsigned long long sig;
	}		 hangw;
	int		 recycle_failed;	/* its successor failed: not again */
	struct wcgroup	 cg;		/* its cgroup (cg.cg NULL: none) */
	int		 reaped;	/* the process exited; with cgroups, the */
	int		 wstatus;	/* rest of its cgroup may still be going */
	char		*status;	/* last STATUS= */
	struct output	*out;		/* log_prefix: stdout and stderr, or NULL */
	double		 drop_window;	/* rate limit of "dropped notify message" (mono_now) */
	int		 drop_lines;
	unsigned long	 drops_unlogged;
};

void		 worker_ctx_init(struct worker_ctx *, struct ev_loop *,
		    struct sockpool *, const struct strv *base_env);
void		 worker_ctx_free(struct worker_ctx *);
/* stop_signal and stop_timeout for what is stopped from now on; cpu
 * affinity wanted (the CPU list is read once, when first wanted). */
void		 worker_ctx_settings(struct worker_ctx *, int stop_signal,
		    double stop_timeout, int cpu_affinity);
struct worker	*worker_spawn(struct worker_ctx *, const struct worker_spec *);
/* Block until the exec pipe says how the exec went: 0 ran, -1 failed. */
int		 worker_wait_exec(struct worker *);
/* The stop signal now, SIGKILL after stop_timeout (the context's current
 * settings); why (may be NULL) is logged with the exit. */
void		 worker_stop(struct worker *, const char *why);
void		 worker_kill(struct worker *);
/* Why clusterd will stop it, for its exit line (the first reason given
 * stays). */
void		 worker_note_why(struct worker *, const char *why);
/* Ask for w to be replaced when convenient, for why (taken: freed when
 * w is, or now if w is already stopping or asked). */
void		 worker_recycle(struct worker *, char *why);
void		 worker_free(struct worker *);
struct state_out;
struct state_rec;
/* An upgrade: the worker as a record (its output pipes are the caller's to
 * save, as records of their own after it: output_save()), and
 * the same worker taken over by the new image, watched as before (NULL:
 * what the record names is not there; logged by the caller). */
void		 worker_save(const struct worker *, struct state_out *);
struct worker	*worker_adopt(struct worker_ctx *, const struct worker_spec *,
		    const struct state_rec *, const struct state_rec *out1,
		    const struct state_rec *out2);
const char	*worker_state_name(enum worker_state);
extern const char *const worker_state_names[];	/* by enum worker_state */
/* "exited with status 1", "killed by signal 9", "cannot run x: reason" */
void		 worker_describe_exit(const struct worker *, int status, char *buf,
		    size_t len);

#endif

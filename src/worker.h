/*
 * One worker process and the slot it fills. A slot is a stable worker id
 * (CLUSTERD_WORKER_ID); the processes in it come and go. During a rolling
 * restart a slot has two: the serving one (w) and its successor (next).
 */
#ifndef CLUSTERD_WORKER_H
#define CLUSTERD_WORKER_H

#include <ev.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "output.h"
#include "spawn.h"

struct supervisor;
struct slot;
struct gen;

/* A start waiting for its turn in the start queue (starter.c). */
struct start {
	TAILQ_ENTRY(start) entry;
	struct slot	*slot;
	int		 queued;
};

enum worker_state { W_STARTING, W_READY, W_STOPPING };

struct worker {
	TAILQ_ENTRY(worker) entry;	/* supervisor's list of every worker */
	struct slot	*slot;
	struct gen	*gen;
	pid_t		 pid;
	enum worker_state state;
	double		 started;	/* mono_now() at fork */
	ev_child	 child;
	ev_io		 report;	/* the exec pipe: EOF = exec'd */
	ev_io		 notify;	/* its own NOTIFY_SOCKET */
	char		*notify_path;
	ev_timer	 timer;		/* ready delay or timeout, then stop deadline */
	ev_timer	 watchdog;
	int		 failed;	/* the child reported why it could not exec */
	struct spawn_report fail;
	int		 killed;	/* SIGKILL was sent */
	char		*why;		/* why clusterd stopped it, for the exit line */
	char		*status;	/* last STATUS= */
	struct output	*out;		/* log_prefix: stdout and stderr, or NULL */
	double		 drop_window;	/* rate limit of "dropped notify message" (mono_now) */
	int		 drop_lines;
	unsigned long	 drops_unlogged;
};

struct slot {
	struct supervisor *sup;
	unsigned	 id;
	struct gen	*gen;		/* what this slot's workers run */
	struct worker	*w;		/* serving, or NULL */
	struct worker	*next;		/* rolling restart: its successor */
	int		 nworkers;	/* workers that still point here */
	ev_timer	 backoff;
	ev_timer	 drain;		/* reuseport scale-down: wait for an empty queue */
	double		 drain_since;	/* mono_now() when scaled away */
	unsigned	 streak;	/* consecutive quick deaths */
	unsigned	 restarts;
	char		*last_exit;
	int		 done;		/* not to be restarted (policy) */
	int		 failed;	/* its last worker did not exit 0 */
	int		 removed;	/* scaled away: freed with its last worker */
	int		 replace_wait;	/* restart_mode = replace: start next once w is gone */
	struct start	 start_w;	/* queued: a start of w */
	struct start	 start_next;	/* queued: a start of next (rolling restart) */
};

struct worker	*worker_spawn(struct slot *, struct gen *);
/* Block until the exec pipe says how the exec went: 0 ran, -1 failed. */
int		 worker_wait_exec(struct worker *);
/* stop_signal now, SIGKILL after stop_timeout; why (may be NULL) is logged
 * with the exit. */
void		 worker_stop(struct worker *, const char *why);
void		 worker_kill(struct worker *);
void		 worker_free(struct worker *);
const char	*worker_state_name(enum worker_state);
/* "exited with status 1", "killed by signal 9", "cannot run x: reason" */
void		 worker_describe_exit(const struct worker *, int status, char *buf,
		    size_t len);

#endif

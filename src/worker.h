/*
 * One worker process and the slot it fills. A slot is a stable worker id
 * (CLUSTERD_WORKER_ID); the processes in it come and go.
 */
#ifndef CLUSTERD_WORKER_H
#define CLUSTERD_WORKER_H

#include <ev.h>
#include <sys/types.h>

#include "spawn.h"

struct supervisor;
struct slot;

enum worker_state { W_STARTING, W_READY, W_STOPPING };

struct worker {
	struct slot	*slot;
	pid_t		 pid;
	enum worker_state state;
	unsigned	 generation;
	ev_tstamp	 started;
	ev_child	 child;
	ev_io		 report;	/* the exec pipe: EOF = exec'd */
	ev_timer	 timer;		/* ready delay, then the stop deadline */
	int		 failed;	/* the child reported why it could not exec */
	struct spawn_report fail;
	int		 killed;	/* SIGKILL was sent */
};

struct slot {
	struct supervisor *sup;
	unsigned	 id;
	struct worker	*w;		/* NULL while empty or in backoff */
	ev_timer	 backoff;
	unsigned	 streak;	/* consecutive quick deaths */
	unsigned	 restarts;
	int		 last_status;	/* wait status of the last exit, -1: none */
	int		 done;		/* not to be restarted (policy, scale-down) */
	int		 failed;	/* its last worker did not exit 0 */
};

struct worker	*worker_spawn(struct slot *);
/* Block until the exec pipe says how the exec went: 0 ran, -1 failed. */
int		 worker_wait_exec(struct worker *);
void		 worker_stop(struct worker *);
void		 worker_kill(struct worker *);
void		 worker_free(struct worker *);
const char	*worker_state_name(enum worker_state);
/* "exited with status 1", "killed by signal 9", "cannot run x: reason" */
void		 worker_describe_exit(const struct worker *, int status, char *buf,
		    size_t len);

#endif

/*
 * The cluster as a whole: its generations and sockets, its slots, the
 * signals and requests it answers, and how it ends.
 */
#ifndef CLUSTERD_SUPERVISOR_H
#define CLUSTERD_SUPERVISOR_H

#include <ev.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "config.h"
#include "gen.h"
#include "listen.h"
#include "sockpool.h"
#include "strv.h"
#include "worker.h"

struct ctl;
struct ctl_conn;

enum op_kind { OP_RESTART, OP_RELOAD };

/* A restart or reload asked for, with the clients waiting for its result. */
struct op {
	enum op_kind	 kind;
	struct ctl_conn	**waiters;
	size_t		 nwaiters;
	struct op	*next;
};

struct rollout {
	int		 active;
	int		 rollback;	/* this one undoes a failed rollout */
	struct gen	*to;
	struct gen	*from;
	size_t		 next;		/* next slot index to move */
	int		 inflight;
	char		*failure;	/* why the forward rollout failed */
	unsigned	 failed_number;
};

struct supervisor {
	struct ev_loop	*loop;
	const struct cli *cli;
	double		 started;	/* mono_now() at start */
	struct gen	*cur;		/* what new workers run */
	unsigned	 last_number;	/* highest generation number used */
	struct sockpool	 pool;		/* every bound socket */
	struct slot	**slots;
	size_t		 nslots;
	TAILQ_HEAD(, worker) workers;
	TAILQ_HEAD(, start) startq;	/* starts waiting for the starter */
	ev_timer	 starter;	/* runs them a slice at a time */
	struct rollout	 ro;
	struct op	*ops;		/* head is the running one when ro.active */
	int		 stopping;
	int		 exit_status;
	int		 announced;	/* "N workers ready" was logged */
	int		 told_ready;	/* what the service manager last heard */
	unsigned	 told_gen;
	size_t		 told_n;
	struct strv	 base_env;	/* clusterd's environment, LISTEN_* removed */
	int		 devnull;
	struct rlimit	 nofile;	/* what workers get */
	int		*cpus;		/* the CPUs we may use, for cpu_affinity */
	int		 ncpus;
	char		*notify_dir;
	int		 notify_dir_shared;	/* 0711: workers run as others */
	unsigned long	 notify_serial;
	char		*pidfile;
	struct ctl	*ctl;
	ev_signal	 sigs[9];
};

int	sup_init(struct supervisor *, const struct cli *, struct config *);
int	sup_run(struct supervisor *);

/* From worker.c. */
void	sup_worker_ready(struct worker *);
void	sup_worker_exited(struct worker *, int status);
void	sup_worker_timeout(struct worker *, const char *why);
/* From leftover.c: nothing is left of any dead worker any more. */
void	sup_leftovers_gone(struct supervisor *);

/* Requests (signals, control socket). */
void	sup_stop(struct supervisor *, int status);
int	sup_scale(struct supervisor *, size_t n, char *msg, size_t len);
int	sup_signal_workers(struct supervisor *, int sig, long id, char *msg, size_t len);
void	sup_request(struct supervisor *, enum op_kind, struct ctl_conn *);
void	sup_forget_conn(struct supervisor *, struct ctl_conn *);
int	sup_ready_count(const struct supervisor *);
void	sup_check_ready(struct supervisor *);
const char *sup_state(const struct supervisor *);

/* rollout.c */
void	rollout_start(struct supervisor *, struct gen *to);
void	rollout_worker_ready(struct supervisor *, struct worker *);
void	rollout_worker_failed(struct supervisor *, struct worker *, const char *what);
void	rollout_slot_removed(struct supervisor *, struct slot *);
void	rollout_abort(struct supervisor *);
void	ops_run_next(struct supervisor *);
void	ops_finish(struct supervisor *, int code, const char *msg, const char *body);

/* Shared by supervisor.c and rollout.c. */
/* starter.c runs one queued start through this. */
void	sup_start_one(struct start *);
void	slot_set_gen(struct slot *, struct gen *);
void	sup_steer(struct supervisor *);

#endif

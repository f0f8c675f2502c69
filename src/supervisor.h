/*
 * The cluster as a whole: its generations and sockets, its slots, how
 * many are ready, scaling, and how it stops and with which exit status.
 * Requests reach it from signals.c, ops.c and control.c; it calls none
 * of them.
 */
#ifndef CLUSTERD_SUPERVISOR_H
#define CLUSTERD_SUPERVISOR_H

#include <ev.h>
#include <sys/types.h>

#include "aging.h"
#include "cli.h"
#include "config.h"
#include "gen.h"
#include "cgroup.h"
#include "listen.h"
#include "load.h"
#include "recycle.h"
#include "slot.h"
#include "sockpool.h"
#include "strv.h"
#include "worker.h"

struct supervisor {
	struct ev_loop	*loop;
	const struct cli *cli;
	double		 started;	/* mono_now() at start */
	struct gen	*cur;		/* what new workers run */
	unsigned	 last_number;	/* highest generation number used */
	struct sockpool	 pool;		/* every bound socket */
	struct slots	 slots;
	struct worker_ctx wctx;
	struct cgroups	 cg;		/* per-worker cgroups (cg.on) */
	struct recycler	 recycle;
	struct load	 load;		/* accept queues: hangs, the autoscaler */
	struct aging	 aging;		/* max_age recycles */
	int		 rolling;	/* a rolling restart runs */
	int		 stopping;
	int		 exit_status;
	int		 announced;	/* "N workers ready" was logged */
	int		 told_ready;	/* what the service manager last heard */
	unsigned	 told_gen;
	size_t		 told_n;
	struct strv	 base_env;	/* clusterd's environment, LISTEN_* removed */
	struct notifydir *notify;	/* the workers' NOTIFY_SOCKETs, or NULL */
	char		*pidfile;
	struct gen	**adopted;	/* an upgrade's generations, until taken */
	size_t		 nadopted;
};

/* Bind the sockets and get ready to run; -1 on error (logged). */
int	sup_init(struct supervisor *, struct ev_loop *, const struct cli *,
	    struct config *);
int	sup_write_pidfile(struct supervisor *);
/* Start the workers and run until the cluster ends: its exit status. */
int	sup_run(struct supervisor *);
void	sup_free(struct supervisor *);

/* Requests. */
void	sup_stop(struct supervisor *, int status);
void	sup_kill_all(struct supervisor *);
/* Run n workers; with an autoscaler's range, n within it. */
int	sup_scale(struct supervisor *, size_t n, char *msg, size_t len);
/* The autoscaler's range from now until the next reload. */
int	sup_scale_range(struct supervisor *, int lo, int hi, char *msg, size_t len);
/* A reload changed workers =: the count (or range) it says. */
void	sup_workers_setting(struct supervisor *, char *msg, size_t len);
int	sup_signal_workers(struct supervisor *, int sig, long id, char *msg, size_t len);
int	sup_ready_count(const struct supervisor *);
const char *sup_state(const struct supervisor *);

/* For rollout.c and ops.c: the generation new workers run (every_slot:
 * every slot's next start too, for a reload of settings only), the next
 * generation number, and whether a rolling restart runs. */
void	sup_set_gen(struct supervisor *, struct gen *, int every_slot);
unsigned sup_take_number(struct supervisor *);
void	sup_rolling(struct supervisor *, int);
void	sup_check_ready(struct supervisor *);
/* An upgrade: why the cluster cannot be carried over now (NULL: it can);
 * the cluster as records; and the cluster taken over from them by the new
 * image (-1: logged; nothing was closed or removed, for the fallback),
 * then run as sup_run() does. */
struct state_out;
struct state_in;
const char *sup_can_save(const struct supervisor *);
/* extra: more generations to carry (a rollout's), NULL-terminated;
 * owners NULL: without the slots and workers (the new binary's check). */
void	sup_save(const struct supervisor *, struct state_out *,
	    const struct replace_owner *owners, struct gen *const *extra);
int	sup_adopt(struct supervisor *, struct ev_loop *, const struct cli *,
	    const struct state_in *, const struct replace_owner *owners);
/* A generation carried over, by number (NULL: none), for rollout.c's. */
struct gen *sup_adopted_gen(struct supervisor *, unsigned number);
void	sup_adopt_release(struct supervisor *);
int	sup_run_adopted(struct supervisor *);

#endif

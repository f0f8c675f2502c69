/*
 * The cluster as a whole: its sockets, its slots, the signals it answers,
 * and how it ends.
 */
#ifndef CLUSTERD_SUPERVISOR_H
#define CLUSTERD_SUPERVISOR_H

#include <ev.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "config.h"
#include "listen.h"
#include "strv.h"
#include "worker.h"

struct supervisor {
	struct ev_loop	*loop;
	struct config	*cfg;
	struct listener	*lst;
	size_t		 nlst;
	struct slot	**slots;
	size_t		 nslots;
	unsigned	 generation;
	int		 stopping;
	int		 exit_status;
	int		 announced;	/* "N workers ready" was logged */
	struct strv	 base_env;	/* clusterd's environment, LISTEN_* removed */
	int		 devnull;
	struct rlimit	 nofile;	/* what workers get */
	int		 drop;		/* workers run as uid/gid/groups */
	uid_t		 uid;
	gid_t		 gid;
	gid_t		*groups;
	int		 ngroups;
	int		*cpus;		/* the CPUs we may use, for cpu_affinity */
	int		 ncpus;
	int		 pidfile_written;
	ev_signal	 sigs[7];
	ev_timer	 kill_all;	/* second stage of a stop */
};

int	sup_init(struct supervisor *, struct config *);
int	sup_run(struct supervisor *);
/* Called by worker.c. */
void	sup_worker_ready(struct worker *);
void	sup_worker_exited(struct worker *, int status);

#endif

/*
 * Per-worker cgroups: where clusterd may manage a cgroup v2 subtree, each
 * worker starts in a cgroup of its own, which contains its whole process
 * tree (stopped and killed as one, gone when the kernel says it is empty),
 * carries its limits (memory, pids, cpu) and its accounting, and tells of
 * its memory events. On hosts whose memory controller is bound to cgroup
 * v1 (hybrid), memory limits and events go through a v1 memory cgroup per
 * worker beside the v2 one.
 */
#ifndef CLUSTERD_CGROUP_H
#define CLUSTERD_CGROUP_H

#include <ev.h>

struct config;
struct program_cfg;

/* Controllers clusterd uses, as bits. */
#define CG_MEMORY	0x1
#define CG_PIDS		0x2
#define CG_CPU		0x4
#define CG_ALL		(CG_MEMORY | CG_PIDS | CG_CPU)
#define CG_N		3	/* controllers, for the arrays indexed by bit */

/* The host's side: one per clusterd, set up by cgroups_init(). */
struct cgroups {
	int		 on;		/* workers get cgroups */
	char		*reason;	/* off: why (for status and messages) */
	char		*base;		/* the v2 directory the workers' cgroups are in */
	int		 basefd;
	int		 own_base;	/* clusterd made base: it removes it at exit */
	char		*home;		/* clusterd's cgroup at start, to go back to */
	unsigned	 have;		/* CG_* controllers enabled for the workers */
	unsigned	 enabled_home;	/* CG_* clusterd enabled in home's subtree_control */
	char		*missing[CG_N];	/* per controller: why it is not there */
	char		*v1mem;		/* hybrid: v1 memory directory for the workers */
	int		 v1memfd;
	int		 has_kill;	/* cgroup.kill (Linux 5.14) */
	int		 inotify;
	ev_io		 io;		/* the inotify fd: cgroup.events, memory.events */
	void		*wds;		/* tsearch tree: watch descriptor -> wcgroup */
	struct ev_loop	*loop;
};

enum wcg_event {
	WCG_EMPTY,	/* no process left in it */
	WCG_HIGH,	/* memory_high crossed */
	WCG_OOM,	/* the OOM killer killed in it */
};

/* One worker's cgroup, embedded in the worker. */
struct wcgroup {
	struct cgroups	*cg;		/* NULL: none */
	char		*name;		/* "worker-3.g7", in cg->base */
	int		 fd;		/* its v2 directory */
	int		 events_wd;	/* inotify: cgroup.events, once waited on */
	int		 memory_wd;	/* inotify: memory.events, or -1 */
	int		 empty;		/* populated 0 was seen */
	long long	 memory_high;	/* what it was started with, -1: none */
	long long	 memory_max;
	unsigned long long high_seen;	/* memory.events' counters last read */
	unsigned long long oom_kills;
	int		 high_told;	/* WCG_HIGH was sent */
	int		 oom;		/* the OOM killer killed in it */
	/* hybrid: the v1 memory cgroup */
	int		 v1fd;		/* its directory, or -1 */
	int		 v1procs;	/* its cgroup.procs, open until the start */
	ev_io		 v1high;	/* eventfd: usage crossed memory_high */
	ev_io		 v1oom;		/* eventfd: OOM */
	void		(*hook)(struct wcgroup *, enum wcg_event);
};

/* The figures status shows, read when asked. -1: not known. */
struct wcg_stats {
	long long	 memory;	/* memory.current (v1: usage_in_bytes) */
	long long	 cpu_usec;	/* cpu.stat usage_usec */
	long long	 tasks;		/* pids.current, else processes in cgroup.procs */
	long long	 oom_kills;
};

/* Decide and set up (cfg's cgroups = auto|yes|no): kill what an earlier
 * clusterd of this name left, move clusterd into base/supervisor. -1 when
 * clusterd must not start (logged). */
int	 cgroups_init(struct cgroups *, struct ev_loop *, const struct config *);
/* Can workers get what pc asks for? 0, or -1 with the reason in buf. */
int	 cgroups_check(const struct cgroups *, const struct program_cfg *,
	    char *buf, size_t len);
/* "v2 /sys/fs/cgroup/clusterd.web, memory: v1" or "off: reason". */
void	 cgroups_describe(const struct cgroups *, char *buf, size_t len);
const char *cgroups_mode(const struct cgroups *);	/* "v2", "v2+v1-memory", "off" */
/* clusterd exits: back to where it started, and its directories removed. */
void	 cgroups_free(struct cgroups *);

/* A worker's cgroup, made before its start; -1 (logged by the caller
 * through errno and *what) when it cannot be. */
int	 wcg_create(struct cgroups *, struct wcgroup *, unsigned id, unsigned gen,
	    const struct program_cfg *, const char **what);
/* After the start: the v1 procs fd is no longer needed. */
void	 wcg_started(struct wcgroup *);
/* Every process in it gets sig; the number signalled. */
int	 wcg_signal(struct wcgroup *, int sig);
void	 wcg_kill(struct wcgroup *);
/* Is any process left in it? Then WCG_EMPTY tells when none is. */
int	 wcg_wait_empty(struct wcgroup *);
void	 wcg_stats(const struct wcgroup *, struct wcg_stats *);
/* Did the OOM killer kill in it? (v2: reads memory.events) */
int	 wcg_oom(struct wcgroup *);
/* Stop watching it and remove it (it must be empty). */
void	 wcg_release(struct wcgroup *);
struct state_out;
struct state_rec;
/* An upgrade: the host's side as the old image leaves it, and taken over
 * (nothing is killed or moved: the workers in it are ours); each worker's
 * cgroup, in its worker's record. -1: cannot (logged). */
void	 cgroups_save(const struct cgroups *, struct state_out *);
int	 cgroups_adopt(struct cgroups *, struct ev_loop *, const struct state_rec *);
/* hook set by the caller after. */
void	 wcg_save(const struct wcgroup *, struct state_out *);
int	 wcg_adopt(struct cgroups *, struct wcgroup *, const struct state_rec *);
/* Stop watching it, and leave it in place (its processes still run). */
void	 wcg_forget(struct wcgroup *);
/* The watcher of clusterd's inotify descriptor (cgroup.c sets it up):
 * its events go to each worker's cgroup. */
void	 wcg_inotify_cb(struct ev_loop *, ev_io *, int);

#endif

/* Starting one worker process: clone, set it up, exec. */
#ifndef CLUSTERD_SPAWN_H
#define CLUSTERD_SPAWN_H

#include <sys/resource.h>
#include <sys/types.h>

struct spawn {
	char	*const *argv;
	const char *path;	/* argv[0] resolved by spawn_resolve(), or NULL */
	int	  path_err;	/* then why: ENOENT or EACCES */
	char	**sh_argv;	/* "/bin/sh" path argv[1]...: a script without #! */
	char	**envp;
	char	 *listen_pid;	/* envp entry the child fills: "LISTEN_PID=" + room */
	char	 *watchdog_pid;	/* likewise "WATCHDOG_PID=", or NULL */
	char	**pidfd_id;	/* envp's last entry, "LISTEN_PIDFDID=" + room, or
				   NULL; the child drops it without pidfs */
	const int *fds;		/* become 3, 4, ... */
	int	  nfds;
	int	  devnull;
	int	  stdout_fd;	/* log_prefix pipes, or -1 to share clusterd's */
	int	  stderr_fd;
	const char *directory;
	int	  drop;		/* change credentials to uid/gid/groups */
	uid_t	  uid;
	gid_t	  gid;
	const gid_t *groups;
	int	  ngroups;
	int	  umask;	/* -1: keep */
	struct rlimit nofile;	/* the worker's RLIMIT_NOFILE, set last */
	int	  pdeathsig;
	int	  cpu;		/* -1: no affinity */
	/*
	 * Cgroups: 0 in a flag (as "= { 0 }" leaves it) means none, since 0
	 * is a valid descriptor. in_cgroup: the child starts inside the v2
	 * cgroup whose directory cgroup_fd is (O_PATH will do); it never runs
	 * anywhere else. join: before exec the child writes "0" to join_fd,
	 * an O_WRONLY cgroup.procs (of a v1 memory cgroup); if that fails the
	 * start fails at STAGE_SETUP.
	 */
	int	  in_cgroup;
	int	  cgroup_fd;
	int	  join;
	int	  join_fd;
};

/* Why a child could not exec, sent up the CLOEXEC pipe. */
struct spawn_report {
	int	stage;
	int	err;
};
enum spawn_stage { STAGE_EXEC, STAGE_DIRECTORY, STAGE_CREDENTIALS, STAGE_SETUP };

#define LISTEN_PID_ROOM 24

/*
 * Descriptors clusterd keeps for one worker (its notify socket, output
 * pipes, report pipe) go at SPAWN_FD_PARK or above, so that the few a new
 * worker needs are below and its descriptor table can stop there.
 * spawn_park_fd() moves fd there (closing the original) and returns the
 * new number, or fd itself where it cannot.
 */
#define SPAWN_FD_PARK	64
int	 spawn_park_fd(int fd);

/*
 * Find file as execvp(3) would, but through the worker's PATH (pathvar,
 * NULL: unset) and from the worker's directory (dir, NULL: clusterd's),
 * for the worker's credentials (sp->drop, uid, gid, groups). Returns the
 * path to exec (malloc'd) or NULL with ENOENT or EACCES in *err.
 */
char	*spawn_resolve(const char *file, const char *pathvar, const char *dir,
	    const struct spawn *sp, int *err);

/* Clone and exec; returns the pid and the read end of the report pipe,
 * which sees EOF once exec succeeded; or -1 with errno, and in *what the
 * step that failed ("cgroup": the kernel would not start the child in
 * sp->cgroup_fd's cgroup). */
pid_t	 spawn_start(const struct spawn *, int *report_fd, const char **what);
const char *spawn_stage_what(int stage);

#endif

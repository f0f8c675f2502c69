/* clusterd's files at run time, and keeping them in place. */
#ifndef CLUSTERD_RUNDIR_H
#define CLUSTERD_RUNDIR_H

#include <ev.h>
#include <sys/queue.h>

struct supervisor;
struct gen;

/* Written beside and renamed into place, never through a symlink. */
int	 write_pidfile(const char *path);
/* Removed only if it still holds our pid. */
void	 remove_pidfile(const char *path);
/*
 * A new private directory for the workers' notify sockets, beside the
 * control directory of the cluster called name (NULL: unnamed). When that
 * cannot be had: NULL if required, else "" (workers go without).
 */
char	*rundir_notify(const char *name, int required);
void	 rundir_notify_remove(const char *dir);
/*
 * A new worker's notify socket in sup->notify_dir: returns its fd (parked
 * above SPAWN_FD_PARK) and its path in *path, or -1 (logged). A directory
 * removed since is made again first, and from the first call on it is
 * watched, so the live workers' sockets come back at their paths too.
 */
int	 rundir_notify_socket(struct supervisor *, const struct gen *, unsigned id,
	    char **path);

/*
 * A directory of runtime files that something may remove (tmp cleaners,
 * a cleaned /dev/shm): inotify tells when the directory itself or a file
 * in it is removed or renamed away, and a moment later (the remover may
 * not be done yet) check() is called to put things back.  Nothing runs
 * while nothing happens: no polling timer.
 */
struct rundir_watch {
	LIST_ENTRY(rundir_watch) entry;
	void	(*check)(struct rundir_watch *);
	const char *prefix;	/* only files named so count; NULL: all */
	int	 wd;		/* inotify's, or -1 while dir is gone */
	int	 listed;
	int	 dirty;
};

/* Watch dir, again after it was made anew; -1 when inotify cannot (said
 * once in the log), and check() is then not called. */
int	 rundir_watch(struct ev_loop *, struct rundir_watch *, const char *dir,
	    void (*check)(struct rundir_watch *));
void	 rundir_unwatch(struct rundir_watch *);

#endif

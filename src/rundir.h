/* clusterd's files at run time, and keeping them in place. */
#ifndef CLUSTERD_RUNDIR_H
#define CLUSTERD_RUNDIR_H

#include <ev.h>
#include <sys/queue.h>
#include <sys/types.h>

/* Written beside and renamed into place, never through a symlink. */
int	 write_pidfile(const char *path);
/* Removed only if it still holds our pid. */
void	 remove_pidfile(const char *path);

/*
 * The private directory of the workers' notify sockets: its path, its lock,
 * the serial that names each socket, and the sockets it holds, so that
 * they come back at their paths when the directory is removed and made
 * again. Opaque: it is this module's.
 */
struct notifydir;

/* A worker's notify socket, embedded in its owner and known to its
 * notifydir while open. */
struct notify_sock {
	LIST_ENTRY(notify_sock) entry;
	struct notifydir *dir;	/* NULL: not open */
	ev_io		 io;	/* the socket; its callback is the owner's */
	char		*path;	/* what NOTIFY_SOCKET says */
	uid_t		 uid;	/* a worker of another user owns the file */
	gid_t		 gid;
	unsigned	 id;	/* the worker, for the log */
	pid_t		 pid;	/* set by the owner once known */
};

/*
 * A new notify directory, beside the control directory of the cluster
 * called name (NULL: unnamed). When it cannot be had: -1 if required,
 * else 0 with *ndp NULL (workers go without).
 */
int	 notifydir_new(struct ev_loop *, const char *name, int required,
	    struct notifydir **ndp);
struct state_out;
struct state_rec;
/* An upgrade: the directory (and each socket, in its worker's record) as
 * the old image leaves them, and taken over by the new one (r NULL: there
 * was none). -1: what the record names is not there. */
void	 notifydir_save(const struct notifydir *, struct state_out *);
int	 notifydir_adopt(struct ev_loop *, const struct state_rec *,
	    struct notifydir **ndp);
void	 notify_sock_save(const struct notify_sock *, struct state_out *);
int	 notify_sock_adopt(struct notifydir *, struct notify_sock *,
	    const struct state_rec *, unsigned id, pid_t pid);
/* Remove the directory and whatever socket is still open in it. */
void	 notifydir_free(struct notifydir *);
/*
 * Open ns in nd for worker id, its watcher started (ns->io must be
 * initialised with the owner's callback), and give the file to uid:gid
 * ((uid_t)-1: ours): 0, or -1 with errno (the caller says why the start
 * failed). A directory removed since is made again first, and from the
 * first call on it is watched, so the open sockets come back too.
 */
int	 notify_sock_open(struct notifydir *nd, struct notify_sock *ns, unsigned id,
	    uid_t uid, gid_t gid);
/* Stop, close and unlink it; nothing if it is not open. */
void	 notify_sock_close(struct notify_sock *);

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

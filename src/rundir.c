/*
 * clusterd's files at run time: the pidfile, and the private directory of
 * the workers' notify sockets; and putting them back when something
 * removes them while clusterd runs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "ctlpath.h"
#include "log.h"
#include "notify.h"
#include "rundir.h"
#include "spawn.h"
#include "state.h"
#include "strv.h"
#include "util.h"

int
write_pidfile(const char *path)
{
	char tmp[PATH_MAX], buf[32];
	int fd, len;

	/* Written beside, then renamed: readers never see a half-written file,
	 * and O_EXCL|O_NOFOLLOW never write through someone's symlink. */
	if (snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof(tmp)) {
		log_errx("pidfile %s: name too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd == -1) {
		log_err("pidfile %s", tmp);
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, len) != len || close(fd) == -1 || rename(tmp, path) == -1) {
		log_err("pidfile %s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

void
remove_pidfile(const char *path)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd == -1)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	/* Only our own: a successor may have written its pid since. */
	if (n > 0 && (buf[n] = '\0', atoi(buf) == (int)getpid()))
		unlink(path);
}

/* Each notify directory holds a lock its clusterd keeps for life. */
#define NOTIFY_LOCK ".lock"

struct notifydir {
	struct ev_loop	*loop;
	char		*path;
	int		 shared;	/* 0711: workers run as others */
	unsigned long	 serial;	/* names the next socket */
	int		 lock;		/* held for life: free, the directory is stale */
	dev_t		 dev;		/* as made, to tell it from one made in its place */
	ino_t		 ino;
	int		 watched;	/* tried once: rundir_watch says when it cannot */
	struct rundir_watch watch;
	LIST_HEAD(, notify_sock) socks;	/* open, to be put back */
};

/*
 * A clusterd that was SIGKILLed left its notify directory: remove those of
 * ours whose lock is free. (A pid cannot tell: from inside a pid namespace
 * the clusterds outside look gone.)
 */
static void
remove_stale_notify_dirs(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char dir[PATH_MAX + 256], file[PATH_MAX + 512];
		struct stat st;
		DIR *inner;
		struct dirent *f;
		int fd, free_lock;

		if (strncmp(e->d_name, "clusterd-notify.", 16) != 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", base, e->d_name);
		if (lstat(dir, &st) == -1 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
			continue;
		snprintf(file, sizeof(file), "%s/" NOTIFY_LOCK, dir);
		if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
			continue;
		free_lock = flock(fd, LOCK_EX | LOCK_NB) == 0;
		close(fd);
		if (!free_lock || (inner = opendir(dir)) == NULL)
			continue;
		while ((f = readdir(inner)) != NULL)
			if (strcmp(f->d_name, ".") != 0 && strcmp(f->d_name, "..") != 0) {
				snprintf(file, sizeof(file), "%s/%s", dir, f->d_name);
				unlink(file);
			}
		closedir(inner);
		rmdir(dir);
	}
	closedir(d);
}

/* tmpfs or ramfs: a file there is only an inode in memory. */
static int
in_memory(const char *dir)
{
	struct statfs sfs;

	return statfs(dir, &sfs) == 0 && ((unsigned long)sfs.f_type == TMPFS_MAGIC ||
	    (unsigned long)sfs.f_type == RAMFS_MAGIC);
}

/* Take the directory's lock (again): free, it marks the directory stale. */
static void
notify_dir_lock(struct notifydir *nd)
{
	char lock[PATH_MAX + 16];
	struct stat st;

	if (lstat(nd->path, &st) == 0) {
		nd->dev = st.st_dev;
		nd->ino = st.st_ino;
	}
	if (nd->lock != -1)
		close(nd->lock);
	snprintf(lock, sizeof(lock), "%s/" NOTIFY_LOCK, nd->path);
	nd->lock = open(lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (nd->lock == -1 || flock(nd->lock, LOCK_EX | LOCK_NB) == -1)
		log_warn("%s", lock);
}

/*
 * The private directory for the workers' notify sockets, beside the
 * control directory (mkdtemp: never one somebody made for us). It is 0700,
 * or 0711 once workers run as another user, who can then reach the socket
 * file that is theirs (0600) and nothing else there.
 *
 * Every worker start creates a socket file there and every exit removes
 * one. On a disk file system (/run in many containers is overlayfs or
 * ext4) that is a journalled inode each time, and ext4 grows slower to
 * allocate one the more were deleted lately: 1000 workers took twice as
 * long to start as on tmpfs. So when the control directory's parent is
 * not in memory, /dev/shm (tmpfs wherever it exists) is used instead.
 */
int
notifydir_new(struct ev_loop *loop, const char *name, int required,
    struct notifydir **ndp)
{
	char path[PATH_MAX], err[256], *slash;
	struct notifydir *nd;
	size_t n;

	*ndp = NULL;
	if (ctl_default_path(name, path, sizeof(path), 1, err, sizeof(err)) == -1) {
		log_warnx("%s; workers get no NOTIFY_SOCKET", err);
		return required ? -1 : 0;
	}
	for (int i = 0; i < 2 && (slash = strrchr(path, '/')) != NULL; i++)
		*slash = '\0';		/* DIR/clusterd.sock -> DIR's parent */
	if (!in_memory(path) && in_memory("/dev/shm") && access("/dev/shm", W_OK | X_OK) == 0)
		strcpy(path, "/dev/shm");
	remove_stale_notify_dirs(path);
	n = strlen(path);
	if (snprintf(path + n, sizeof(path) - n, "/clusterd-notify.%d.XXXXXX",
	    (int)getpid()) >= (int)(sizeof(path) - n))
		return -1;
	if (mkdtemp(path) == NULL) {
		log_err("%s", path);
		return -1;
	}
	nd = xcalloc(1, sizeof(*nd));
	nd->loop = loop;
	nd->path = xstrdup(path);
	nd->lock = -1;
	LIST_INIT(&nd->socks);
	notify_dir_lock(nd);
	*ndp = nd;
	return 0;
}

void
notifydir_free(struct notifydir *nd)
{
	char file[PATH_MAX + 16];

	if (nd == NULL)
		return;
	/* Its owners free them later: they find them closed. */
	while (!LIST_EMPTY(&nd->socks))
		notify_sock_close(LIST_FIRST(&nd->socks));
	rundir_unwatch(&nd->watch);
	snprintf(file, sizeof(file), "%s/" NOTIFY_LOCK, nd->path);
	unlink(file);
	rmdir(nd->path);
	if (nd->lock != -1)
		close(nd->lock);
	free(nd->path);
	free(nd);
}

/* A worker of another user reaches its own socket (0600, its owner) and no
 * other: the directory lets everyone through (0711), lists nothing. */
static void
notify_give(struct notifydir *nd, const struct notify_sock *ns)
{
	if (ns->uid == (uid_t)-1 || ns->uid == geteuid())
		return;
	if (!nd->shared && chmod(nd->path, 0711) == 0)
		nd->shared = 1;
	if (chmod(ns->path, 0600) == -1 || chown(ns->path, ns->uid, ns->gid) == -1)
		log_warn("worker %u: %s", ns->id, ns->path);
}

/*
 * The notify directory at its own path again, with the same checks as
 * mkdtemp gave it: made by us now, a directory, ours, 0700 (0711 shared).
 * What sits at the path instead (something made it there meanwhile) is
 * not used: -1, with errno.
 */
static int
notify_dir_remake(struct notifydir *nd)
{
	char err[PATH_MAX + 128];

	if (mkdir(nd->path, 0700) == -1)
		return -1;
	if (ctl_check_dir(nd->path, err, sizeof(err)) == -1) {
		errno = EPERM;
		return -1;
	}
	if (nd->shared && chmod(nd->path, 0711) == -1)
		return -1;
	notify_dir_lock(nd);
	return 0;
}

/* Bind ns at its old path: NOTIFY_SOCKET in its worker's environment names it. */
static void
notify_rebind(struct notifydir *nd, struct notify_sock *ns)
{
	int fd = notify_bind(ns->path);

	if (fd == -1) {
		log_warn("worker %u (pid %d): notify socket %s", ns->id, (int)ns->pid,
		    ns->path);
		return;
	}
	fd = spawn_park_fd(fd);
	notify_give(nd, ns);
	/* What the old socket holds was sent before the removal: read it first. */
	ev_invoke(nd->loop, &ns->io, EV_READ);
	ev_io_stop(nd->loop, &ns->io);
	close(ns->io.fd);
	ev_io_set(&ns->io, fd, EV_READ);
	ev_io_start(nd->loop, &ns->io);
}

/* Is path in dir (one level down)? */
static int
in_dir(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/*
 * Put the notify directory back: itself, its lock, and each open socket
 * at its path. When the path cannot be had again, workers to come get a
 * new directory; the live ones have lost theirs then.
 */
static void
notify_dir_check(struct notifydir *nd)
{
	char lock[PATH_MAX + 16];
	struct notify_sock *ns;
	struct stat st;
	int rebound = 0;

	if (lstat(nd->path, &st) == -1 || st.st_dev != nd->dev || st.st_ino != nd->ino) {
		if (notify_dir_remake(nd) == -1) {
			char *parent = xstrdup(nd->path), *slash = strrchr(parent, '/'), *nw;

			log_warn("notify directory %s was removed; cannot make it again",
			    nd->path);
			*slash = '\0';
			nw = xasprintf("%s/clusterd-notify.%d.XXXXXX", parent, (int)getpid());
			free(parent);
			if (mkdtemp(nw) == NULL) {
				log_err("%s", nw);
				free(nw);
				return;
			}
			log_warnx("new workers get their notify sockets in %s", nw);
			free(nd->path);
			nd->path = nw;
			nd->shared = 0;
			notify_dir_lock(nd);
			rundir_watch(nd->loop, &nd->watch, nw, nd->watch.check);
			return;
		}
		log_warnx("notify directory %s was removed; made it again", nd->path);
		rundir_watch(nd->loop, &nd->watch, nd->path, nd->watch.check);
	}
	snprintf(lock, sizeof(lock), "%s/" NOTIFY_LOCK, nd->path);
	if (lstat(lock, &st) == -1)
		notify_dir_lock(nd);
	LIST_FOREACH(ns, &nd->socks, entry) {
		if (!in_dir(ns->path, nd->path) || lstat(ns->path, &st) == 0)
			continue;
		notify_rebind(nd, ns);
		rebound++;
	}
	if (rebound)
		log_warnx("notify sockets of %d worker%s made again in %s", rebound,
		    rebound == 1 ? "" : "s", nd->path);
}

static void
notify_watch_cb(struct rundir_watch *wt)
{
	notify_dir_check(container_of(wt, struct notifydir, watch));
}

int
notify_sock_open(struct notifydir *nd, struct notify_sock *ns, unsigned id, uid_t uid,
    gid_t gid)
{
	int fd;

	if (!nd->watched) {
		nd->watched = 1;
		rundir_watch(nd->loop, &nd->watch, nd->path, notify_watch_cb);
	}
	fd = notify_open(nd->path, ++nd->serial, &ns->path);
	if (fd == -1 && errno == ENOENT) {
		/* Gone, and inotify has not said so yet (or cannot). */
		notify_dir_check(nd);
		fd = notify_open(nd->path, nd->serial, &ns->path);
	}
	if (fd == -1)
		return -1;
	ns->dir = nd;
	ns->uid = uid;
	ns->gid = gid;
	ns->id = id;
	ev_io_set(&ns->io, spawn_park_fd(fd), EV_READ);
	ev_io_start(nd->loop, &ns->io);
	LIST_INSERT_HEAD(&nd->socks, ns, entry);
	notify_give(nd, ns);
	return 0;
}

void
notify_sock_close(struct notify_sock *ns)
{
	struct notifydir *nd = ns->dir;

	if (nd == NULL)
		return;
	LIST_REMOVE(ns, entry);
	ev_io_stop(nd->loop, &ns->io);
	close(ns->io.fd);
	ev_io_set(&ns->io, -1, EV_READ);
	unlink(ns->path);
	free(ns->path);
	ns->path = NULL;
	ns->dir = NULL;
}

/*
 * One inotify instance for every watched directory (instances are few:
 * 128 per user by default). Events only mark a watch dirty; the checks
 * run once the settle timer fires, so a remover still at work (rm -rf)
 * is not raced file by file.
 */
#define WATCH_MASK	(IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | \
			 IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
#define WATCH_SETTLE	0.2

static struct {
	struct ev_loop	*loop;
	int		 fd;
	ev_io		 io;
	ev_timer	 settle;
	int		 failed;	/* said once that inotify cannot */
	LIST_HEAD(, rundir_watch) list;
} ino = { .fd = -1 };

static void
settle_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct rundir_watch *w;

	(void)loop;
	(void)t;
	(void)revents;
	/* A check may watch or unwatch: start over after each one. */
again:
	LIST_FOREACH(w, &ino.list, entry)
		if (w->dirty) {
			w->dirty = 0;
			w->check(w);
			goto again;
		}
}

static void
inotify_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct rundir_watch *w;
	int any = 0;
	ssize_t n;

	(void)revents;
	while ((n = read(io->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n; ) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;

			LIST_FOREACH(w, &ino.list, entry)
				if ((ev->mask & IN_Q_OVERFLOW) || (ev->wd == w->wd &&
				    (ev->len == 0 || w->prefix == NULL || strncmp(ev->name,
				    w->prefix, strlen(w->prefix)) == 0))) {
					w->dirty = any = 1;
					if (ev->mask & IN_IGNORED)
						w->wd = -1;	/* the kernel dropped it */
				}
			p += sizeof(*ev) + ev->len;
		}
	}
	if (any && !ev_is_active(&ino.settle)) {
		ev_timer_set(&ino.settle, WATCH_SETTLE, 0);
		ev_timer_start(loop, &ino.settle);
	}
}

/* Drop w's kernel watch unless another watch shares it (the same inode). */
static void
unwatch_wd(struct rundir_watch *w)
{
	struct rundir_watch *o;

	if (w->wd < 0)
		return;
	LIST_FOREACH(o, &ino.list, entry)
		if (o != w && o->wd == w->wd)
			break;
	if (o == NULL)
		inotify_rm_watch(ino.fd, w->wd);
	w->wd = -1;
}

int
rundir_watch(struct ev_loop *loop, struct rundir_watch *w, const char *dir,
    void (*check)(struct rundir_watch *))
{
	if (ino.fd == -1) {
		if ((ino.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
			if (!ino.failed++)
				log_warn("inotify: removed runtime files are only "
				    "noticed when a worker starts");
			return -1;
		}
		ino.loop = loop;
		LIST_INIT(&ino.list);
		ev_io_init(&ino.io, inotify_cb, ino.fd, EV_READ);
		ev_io_start(loop, &ino.io);
		ev_timer_init(&ino.settle, settle_cb, WATCH_SETTLE, 0);
	}
	w->check = check;
	if (!w->listed) {
		w->wd = -1;
		LIST_INSERT_HEAD(&ino.list, w, entry);
		w->listed = 1;
	}
	unwatch_wd(w);	/* a directory moved away keeps its old watch */
	if ((w->wd = inotify_add_watch(ino.fd, dir, WATCH_MASK)) == -1) {
		log_warn("inotify: %s", dir);
		return -1;
	}
	return 0;
}

void
rundir_unwatch(struct rundir_watch *w)
{
	if (!w->listed)
		return;
	unwatch_wd(w);
	LIST_REMOVE(w, entry);
	w->listed = 0;
	if (!LIST_EMPTY(&ino.list))
		return;
	ev_io_stop(ino.loop, &ino.io);
	ev_timer_stop(ino.loop, &ino.settle);
	close(ino.fd);
	ino.fd = -1;
}

void
notifydir_save(const struct notifydir *nd, struct state_out *so)
{
	if (nd == NULL)
		return;
	state_rec(so, "notifydir");
	state_str(so, "path", nd->path);
	state_int(so, "shared", nd->shared);
	state_int(so, "serial", (long long)nd->serial);
	state_fd(so, "lock", nd->lock);
}

int
notifydir_adopt(struct ev_loop *loop, const struct state_rec *r, struct notifydir **ndp)
{
	struct notifydir *nd;
	const char *path = rec_str(r, "path");

	*ndp = NULL;
	if (r == NULL)
		return 0;	/* the old image had none */
	if (path == NULL || *path != '/')
		return -1;
	nd = xcalloc(1, sizeof(*nd));
	nd->loop = loop;
	nd->path = xstrdup(path);
	nd->shared = rec_int(r, "shared", 0) != 0;
	nd->serial = (unsigned long)rec_int(r, "serial", 0);
	/* A lock lost on the way would only make the directory look stale
	 * to the next clusterd: take it again. */
	if ((nd->lock = rec_fd(r, "lock")) == -1)
		notify_dir_lock(nd);
	else {
		struct stat st;

		if (lstat(nd->path, &st) == 0) {
			nd->dev = st.st_dev;
			nd->ino = st.st_ino;
		}
	}
	LIST_INIT(&nd->socks);
	*ndp = nd;
	return 0;
}

void
notify_sock_save(const struct notify_sock *ns, struct state_out *so)
{
	if (ns->dir == NULL)
		return;
	state_fd(so, "notify_fd", ns->io.fd);
	state_str(so, "notify_path", ns->path);
	state_int(so, "notify_uid", (long long)ns->uid);
	state_int(so, "notify_gid", (long long)ns->gid);
}

int
notify_sock_adopt(struct notifydir *nd, struct notify_sock *ns, const struct state_rec *r,
    unsigned id, pid_t pid)
{
	const char *path = rec_str(r, "notify_path");
	int fd = rec_fd(r, "notify_fd");

	if (nd == NULL || path == NULL || fd == -1)
		return -1;
	if (!nd->watched) {
		nd->watched = 1;
		rundir_watch(nd->loop, &nd->watch, nd->path, notify_watch_cb);
	}
	ns->dir = nd;
	ns->path = xstrdup(path);
	ns->uid = (uid_t)rec_int(r, "notify_uid", -1);
	ns->gid = (gid_t)rec_int(r, "notify_gid", -1);
	ns->id = id;
	ns->pid = pid;
	ev_io_set(&ns->io, fd, EV_READ);
	ev_io_start(nd->loop, &ns->io);
	LIST_INSERT_HEAD(&nd->socks, ns, entry);
	return 0;
}

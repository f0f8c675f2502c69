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
#include "strv.h"
#include "supervisor.h"

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

static int notify_lock = -1;

static void notify_dir_lock(const char *);

/* The notify directory as made, to tell it from one made in its place. */
static struct {
	struct supervisor *sup;
	struct rundir_watch watch;
	dev_t	 dev;
	ino_t	 ino;
} nd;

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

void
rundir_notify_remove(const char *dir)
{
	char file[PATH_MAX + 16];

	rundir_unwatch(&nd.watch);
	snprintf(file, sizeof(file), "%s/" NOTIFY_LOCK, dir);
	unlink(file);
	rmdir(dir);
	if (notify_lock != -1)
		close(notify_lock);
	notify_lock = -1;
}

/* tmpfs or ramfs: a file there is only an inode in memory. */
static int
in_memory(const char *dir)
{
	struct statfs sfs;

	return statfs(dir, &sfs) == 0 && ((unsigned long)sfs.f_type == TMPFS_MAGIC ||
	    (unsigned long)sfs.f_type == RAMFS_MAGIC);
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
char *
rundir_notify(const char *name, int required)
{
	char path[PATH_MAX], err[256], *slash;
	size_t n;

	if (ctl_default_path(name, path, sizeof(path), 1, err, sizeof(err)) == -1) {
		log_warnx("%s; workers get no NOTIFY_SOCKET", err);
		return required ? NULL : xstrdup("");
	}
	for (int i = 0; i < 2 && (slash = strrchr(path, '/')) != NULL; i++)
		*slash = '\0';		/* DIR/clusterd.sock -> DIR's parent */
	if (!in_memory(path) && in_memory("/dev/shm") && access("/dev/shm", W_OK | X_OK) == 0)
		strcpy(path, "/dev/shm");
	remove_stale_notify_dirs(path);
	n = strlen(path);
	if (snprintf(path + n, sizeof(path) - n, "/clusterd-notify.%d.XXXXXX",
	    (int)getpid()) >= (int)(sizeof(path) - n))
		return NULL;
	if (mkdtemp(path) == NULL) {
		log_err("%s", path);
		return NULL;
	}
	notify_dir_lock(path);
	return xstrdup(path);
}

/* Take the directory's lock (again): free, it marks the directory stale. */
static void
notify_dir_lock(const char *dir)
{
	char lock[PATH_MAX + 16];
	struct stat st;

	if (lstat(dir, &st) == 0) {
		nd.dev = st.st_dev;
		nd.ino = st.st_ino;
	}
	if (notify_lock != -1)
		close(notify_lock);
	snprintf(lock, sizeof(lock), "%s/" NOTIFY_LOCK, dir);
	notify_lock = open(lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (notify_lock == -1 || flock(notify_lock, LOCK_EX | LOCK_NB) == -1)
		log_warn("%s", lock);
}

/* A worker of another user reaches its own socket (0600, its owner) and no
 * other: the directory lets everyone through (0711), lists nothing. */
static void
notify_give(struct supervisor *sup, const struct gen *g, const char *path, unsigned id)
{
	if (!g->drop || g->uid == geteuid())
		return;
	if (!sup->notify_dir_shared && chmod(sup->notify_dir, 0711) == 0)
		sup->notify_dir_shared = 1;
	if (chmod(path, 0600) == -1 || chown(path, g->uid, g->gid) == -1)
		log_warn("worker %u: %s", id, path);
}

/*
 * The notify directory at its own path again, with the same checks as
 * mkdtemp gave it: made by us now, a directory, ours, 0700 (0711 shared).
 * What sits at the path instead (something made it there meanwhile) is
 * not used: -1, with errno.
 */
static int
notify_dir_remake(struct supervisor *sup)
{
	const char *dir = sup->notify_dir;
	char err[PATH_MAX + 128];

	if (mkdir(dir, 0700) == -1)
		return -1;
	if (ctl_check_dir(dir, err, sizeof(err)) == -1) {
		errno = EPERM;
		return -1;
	}
	if (sup->notify_dir_shared && chmod(dir, 0711) == -1)
		return -1;
	notify_dir_lock(dir);
	return 0;
}

/* Bind w's socket at its old path: NOTIFY_SOCKET in its environment names it. */
static void
notify_rebind(struct supervisor *sup, struct worker *w)
{
	int fd = notify_bind(w->notify_path);

	if (fd == -1) {
		log_warn("worker %u (pid %d): notify socket %s", w->id, (int)w->pid,
		    w->notify_path);
		return;
	}
	fd = spawn_park_fd(fd);
	notify_give(sup, w->gen, w->notify_path, w->id);
	/* What the old socket holds was sent before the removal: read it first. */
	ev_invoke(sup->loop, &w->notify, EV_READ);
	ev_io_stop(sup->loop, &w->notify);
	close(w->notify.fd);
	ev_io_set(&w->notify, fd, EV_READ);
	ev_io_start(sup->loop, &w->notify);
}

/* Is path in dir (one level down)? */
static int
in_dir(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/*
 * Put the notify directory back: itself, its lock, and each live worker's
 * socket at its path. When the path cannot be had again, workers to come
 * get a new directory; the live ones have lost theirs then.
 */
static void
notify_dir_check(struct supervisor *sup)
{
	const char *dir = sup->notify_dir;
	char lock[PATH_MAX + 16];
	struct worker *w;
	struct stat st;
	int rebound = 0;

	if (lstat(dir, &st) == -1 || st.st_dev != nd.dev || st.st_ino != nd.ino) {
		if (notify_dir_remake(sup) == -1) {
			char *parent = xstrdup(dir), *slash = strrchr(parent, '/'), *nw;

			log_warn("notify directory %s was removed; cannot make it again",
			    dir);
			*slash = '\0';
			nw = xasprintf("%s/clusterd-notify.%d.XXXXXX", parent, (int)getpid());
			free(parent);
			if (mkdtemp(nw) == NULL) {
				log_err("%s", nw);
				free(nw);
				return;
			}
			log_warnx("new workers get their notify sockets in %s", nw);
			free(sup->notify_dir);
			sup->notify_dir = nw;
			sup->notify_dir_shared = 0;
			notify_dir_lock(nw);
			rundir_watch(sup->loop, &nd.watch, nw, nd.watch.check);
			return;
		}
		log_warnx("notify directory %s was removed; made it again", dir);
		rundir_watch(sup->loop, &nd.watch, dir, nd.watch.check);
	}
	snprintf(lock, sizeof(lock), "%s/" NOTIFY_LOCK, dir);
	if (lstat(lock, &st) == -1)
		notify_dir_lock(dir);
	TAILQ_FOREACH(w, &sup->wctx.all, entry) {
		if (w->notify.fd < 0 || w->notify_path == NULL ||
		    !in_dir(w->notify_path, dir) || lstat(w->notify_path, &st) == 0)
			continue;
		notify_rebind(sup, w);
		rebound++;
	}
	if (rebound)
		log_warnx("notify sockets of %d worker%s made again in %s", rebound,
		    rebound == 1 ? "" : "s", dir);
}

static void
notify_watch_cb(struct rundir_watch *wt)
{
	(void)wt;
	notify_dir_check(nd.sup);
}

int
rundir_notify_socket(struct supervisor *sup, const struct gen *g, unsigned id,
    char **path)
{
	int fd;

	if (nd.sup == NULL) {
		nd.sup = sup;
		rundir_watch(sup->loop, &nd.watch, sup->notify_dir, notify_watch_cb);
	}
	fd = notify_open(sup->notify_dir, ++sup->notify_serial, path);
	if (fd == -1 && errno == ENOENT) {
		/* Gone, and inotify has not said so yet (or cannot). */
		notify_dir_check(sup);
		fd = notify_open(sup->notify_dir, sup->notify_serial, path);
	}
	if (fd == -1)
		return -1;	/* the caller says why the start failed */
	fd = spawn_park_fd(fd);
	notify_give(sup, g, *path, id);
	return fd;
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

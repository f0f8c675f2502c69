/*
 * clusterd's files at run time: the pidfile, and the private directory of
 * the workers' notify sockets.
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
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "ctlpath.h"
#include "log.h"
#include "rundir.h"
#include "strv.h"

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
	char lock[PATH_MAX + 16];

	snprintf(lock, sizeof(lock), "%s/" NOTIFY_LOCK, path);
	notify_lock = open(lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (notify_lock == -1 || flock(notify_lock, LOCK_EX | LOCK_NB) == -1)
		log_warn("%s", lock);
	return xstrdup(path);
}


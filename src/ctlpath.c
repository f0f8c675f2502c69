/*
 * The default control socket path.  clusterd creates and checks the
 * directory; clusterctl only needs the name, so both always agree.
 *
 * And who owns a UNIX socket path: the control socket and unix: listening
 * sockets alike are claimed through a lock file beside them (as s6 does),
 * so that checking for a stale socket and removing it is no race with
 * another clusterd doing the same.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctlpath.h"

/* Longest path a struct sockaddr_un holds, without its NUL. */
#define SUN_PATH_MAX	(sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

int
ctl_valid_name(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

int
ctl_check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(dir, &st) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(err, errlen, "%s: is a symbolic link; refusing it as "
		    "the control socket directory", dir);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: owned by uid %lu, not %lu; "
		    "refusing it as the control socket directory", dir,
		    (unsigned long)st.st_uid, (unsigned long)geteuid());
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: mode %04o lets other users in; "
		    "refusing it as the control socket directory (want 0700)",
		    dir, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

static int
make_dir(const char *dir, char *err, size_t errlen)
{
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	return ctl_check_dir(dir, err, errlen);
}

int
ctl_default_path(const char *name, char *buf, size_t len, int create,
    char *err, size_t errlen)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	uid_t euid = geteuid();
	size_t dirlen;
	int n;

	if (name != NULL && !ctl_valid_name(name)) {
		snprintf(err, errlen, "bad name \"%s\" (letters, digits, "
		    "_ . -)", name);
		return -1;
	}
	if (euid == 0)
		n = snprintf(buf, len, "/run/clusterd");
	else if (xdg != NULL && xdg[0] == '/') {
		size_t x = strlen(xdg);

		while (x > 0 && xdg[x - 1] == '/')
			x--;
		n = snprintf(buf, len, "%.*s/clusterd", (int)x, xdg);
	} else
		n = snprintf(buf, len, "/tmp/clusterd-%lu",
		    (unsigned long)euid);
	if (n < 0 || (size_t)n >= len)
		goto toolong;
	dirlen = (size_t)n;
	n = snprintf(buf + dirlen, len - dirlen, "/clusterd%s%s.sock",
	    name ? "-" : "", name ? name : "");
	if (n < 0 || (size_t)n >= len - dirlen ||
	    dirlen + (size_t)n > SUN_PATH_MAX)
		goto toolong;
	if (create) {
		buf[dirlen] = '\0';
		if (make_dir(buf, err, errlen) == -1)
			return -1;
		buf[dirlen] = '/';
	}
	return 0;
toolong:
	snprintf(err, errlen, "default control socket path too long "
	    "(max %zu bytes); give one with -s", SUN_PATH_MAX);
	return -1;
}

int
sockpath_lock(const char *path, int *busy, char *err, size_t errlen)
{
	char lock[PATH_MAX];
	struct stat a, b;
	int fd;

	*busy = 0;
	if (snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock)) {
		snprintf(err, errlen, "%s.lock: %s", path, strerror(ENAMETOOLONG));
		return -1;
	}
	for (int tries = 0; tries < 16; tries++) {
		/* O_NONBLOCK: a FIFO put there must not hang the start. */
		fd = open(lock, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC, 0600);
		if (fd == -1) {
			snprintf(err, errlen, "%s: %s", lock, strerror(errno));
			return -1;
		}
		if (fstat(fd, &a) == -1 || !S_ISREG(a.st_mode)) {
			snprintf(err, errlen, "%s: not a regular file", lock);
			close(fd);
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			int e = errno;

			close(fd);
			if (e == EWOULDBLOCK) {
				*busy = 1;
				snprintf(err, errlen, "%s", strerror(EADDRINUSE));
			} else
				snprintf(err, errlen, "%s: %s", lock, strerror(e));
			return -1;
		}
		/* The owner that just exited unlinks its lock before it lets go:
		 * a lock on that inode guards nothing, so take the new file. */
		if (lstat(lock, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return fd;
		close(fd);
	}
	snprintf(err, errlen, "%s: keeps being replaced", lock);
	return -1;
}

int
sockpath_clear(const char *path, int type, int *busy, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	*busy = 0;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s", strerror(ENAMETOOLONG));
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "file exists and is not a socket");
		return -1;
	}
	if ((fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Non-blocking: a stuck owner with a full backlog is still an owner. */
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	if (r == -1 && (errno == EAGAIN || errno == EINPROGRESS || errno == EPROTOTYPE))
		r = 0;
	close(fd);
	if (r == 0) {
		/* Not a clusterd (it would hold the lock): some other server. */
		*busy = 1;
		snprintf(err, errlen, "%s", strerror(EADDRINUSE));
		return -1;
	}
	if (errno != ECONNREFUSED && errno != ENOENT) {
		snprintf(err, errlen, "cannot tell whether the socket file is in "
		    "use: %s", strerror(errno));
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove the stale socket file: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
sockpath_claim(const char *path, int type, int *busy, char *err, size_t errlen)
{
	int lock = sockpath_lock(path, busy, err, errlen);

	if (lock >= 0 && sockpath_clear(path, type, busy, err, errlen) == -1) {
		close(lock);
		return -1;
	}
	return lock;
}

void
sockpath_release(const char *path, int lock, dev_t dev, ino_t ino)
{
	char name[PATH_MAX];
	struct stat a, b;

	/* Only what is still ours: a successor may have its own there. */
	if (ino != 0 && lstat(path, &a) == 0 && a.st_dev == dev && a.st_ino == ino)
		unlink(path);
	if (lock < 0)
		return;
	/* The socket goes first: whoever gets the lock next finds no file. */
	if (snprintf(name, sizeof(name), "%s.lock", path) < (int)sizeof(name) &&
	    fstat(lock, &a) == 0 && lstat(name, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		unlink(name);
	close(lock);
}

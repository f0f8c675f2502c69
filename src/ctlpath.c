/*
 * The default control socket path.  clusterd creates and checks the
 * directory; clusterctl only needs the name, so both always agree.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
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

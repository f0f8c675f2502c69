/*
 * Socket activation of clusterd itself. The fds stay open for clusterd's
 * whole life, so a reload can match them again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "inherit.h"
#include "log.h"
#include "strv.h"
#include "values.h"

#define PIDFS_MAGIC 0x50494446

static struct inherited *inh;
static size_t ninh;
static int scanned;

/* LISTEN_PIDFDID, where given and checkable, must name us. */
static int
pidfd_id_matches(const char *want)
{
	struct statfs sfs;
	struct stat st;
	int fd, ok;

	if (want == NULL)
		return 1;
	fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (fd == -1)
		return 1;	/* no pidfds: LISTEN_PID is all there is */
	ok = fstatfs(fd, &sfs) == -1 || (unsigned long)sfs.f_type != PIDFS_MAGIC ||
	    (fstat(fd, &st) == 0 && strtoull(want, NULL, 10) == (unsigned long long)st.st_ino);
	close(fd);
	return ok;
}

void
inherit_scan(void)
{
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	const char *names = getenv("LISTEN_FDNAMES");
	char *namecopy = NULL, *save = NULL, *tok;
	long n, p;

	if (scanned)
		return;
	scanned = 1;
	if (fds == NULL || pid == NULL)
		return;
	if (parse_long(pid, 1, 0x7fffffff, &p) == -1 || p != (long)getpid() ||
	    !pidfd_id_matches(getenv("LISTEN_PIDFDID")))
		return;		/* meant for another process */
	if (parse_long(fds, 0, 4096, &n) == -1) {
		log_warnx("LISTEN_FDS=%s: not a count; ignored", fds);
		return;
	}
	inh = xcalloc((size_t)n, sizeof(*inh));
	if (names)
		namecopy = xstrdup(names);
	tok = namecopy ? strtok_r(namecopy, ":", &save) : NULL;
	for (long i = 0; i < n; i++) {
		struct inherited *in = &inh[ninh];
		socklen_t tlen = sizeof(in->type);

		in->fd = 3 + (int)i;
		in->len = sizeof(in->ss);
		if (getsockopt(in->fd, SOL_SOCKET, SO_TYPE, &in->type, &tlen) == -1 ||
		    getsockname(in->fd, (struct sockaddr *)&in->ss, &in->len) == -1) {
			log_warn("inherited fd %d", in->fd);
			tok = tok ? strtok_r(NULL, ":", &save) : NULL;
			continue;
		}
		fcntl(in->fd, F_SETFD, FD_CLOEXEC);
		if (tok && strcmp(tok, "unknown") != 0)
			in->name = xstrdup(tok);
		tok = tok ? strtok_r(NULL, ":", &save) : NULL;
		ninh++;
	}
	free(namecopy);
}

size_t
inherit_count(void)
{
	return ninh;
}

struct inherited *
inherit_get(size_t i)
{
	return i < ninh ? &inh[i] : NULL;
}

int
inherit_add(int fd, const char *name)
{
	struct inherited *in;
	socklen_t tlen;

	scanned = 1;
	inh = xreallocarray(inh, ninh + 1, sizeof(*inh));
	in = &inh[ninh];
	memset(in, 0, sizeof(*in));
	in->fd = fd;
	in->len = sizeof(in->ss);
	tlen = sizeof(in->type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &in->type, &tlen) == -1 ||
	    getsockname(fd, (struct sockaddr *)&in->ss, &in->len) == -1)
		return -1;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	in->name = name ? xstrdup(name) : NULL;
	in->carried = 1;
	ninh++;
	return 0;
}

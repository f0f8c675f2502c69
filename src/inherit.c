/*
 * Socket activation of clusterd itself. The fds stay open for clusterd's
 * whole life, so a reload can match them again.
 *
 * The fd store: under a service manager, clusterd hands each socket it
 * binds to the manager too (FDSTORE=1), which keeps a duplicate and passes
 * it back, named FDSTORE_PREFIX NAME, when it starts clusterd again: a
 * restart binds nothing, and connections wait in the backlog meanwhile.
 * Those come back as LISTEN_FDS like a socket unit's; merge.c gives each
 * back to its [socket:NAME] or drops it, listen.c adopts it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "inherit.h"
#include "log.h"
#include "sdnotify.h"
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

/* What socket fd is (type, address); it is ours for life: close-on-exec. */
static int
probe(struct inherited *in, int fd)
{
	socklen_t tlen = sizeof(in->type);

	in->fd = fd;
	in->len = sizeof(in->ss);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &in->type, &tlen) == -1 ||
	    getsockname(fd, (struct sockaddr *)&in->ss, &in->len) == -1)
		return -1;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return 0;
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

		if (probe(in, 3 + (int)i) == -1) {
			log_warn("inherited fd %d", in->fd);
			tok = tok ? strtok_r(NULL, ":", &save) : NULL;
			continue;
		}
		if (tok && strcmp(tok, "unknown") != 0)
			in->name = xstrdup(tok);
		in->stored = in->name && strncmp(in->name, FDSTORE_PREFIX,
		    strlen(FDSTORE_PREFIX)) == 0 && in->name[strlen(FDSTORE_PREFIX)];
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

	scanned = 1;
	inh = xreallocarray(inh, ninh + 1, sizeof(*inh));
	in = &inh[ninh];
	memset(in, 0, sizeof(*in));
	if (probe(in, fd) == -1)
		return -1;
	in->name = name ? xstrdup(name) : NULL;
	in->carried = 1;
	ninh++;
	return 0;
}

const char *
inherit_stored_sock(const struct inherited *in)
{
	return in->name + strlen(FDSTORE_PREFIX);
}

void
inherit_drop_stored(struct inherited *in, const char *why)
{
	const char *name = inherit_stored_sock(in);

	log_info("fd store: socket %s (fd %d) %s: closing it and removing it "
	    "from the store", name, in->fd, why);
	/* The manager's copy stays open (and listening) until it reads the
	 * removal, which may be after this clusterd binds the address
	 * anew: shutdown stops the socket itself from listening, whoever
	 * holds it, so the bind does not race the manager. */
	shutdown(in->fd, SHUT_RDWR);
	close(in->fd);
	in->fd = -1;
	fdstore_remove(name);
	/* The removal takes every fd of the name: one kept for a socket of
	 * the name goes back in when it is adopted. */
	for (size_t i = 0; i < ninh; i++)
		if (inh[i].stored && inh[i].fd >= 0 &&
		    strcmp(inherit_stored_sock(&inh[i]), name) == 0)
			inh[i].repush = 1;
}

int
inherit_take_stored(const char *name, int *repush)
{
	for (size_t i = 0; i < ninh; i++) {
		struct inherited *in = &inh[i];
		int fd = in->fd;

		if (!in->stored || !in->used || fd < 0 ||
		    strcmp(inherit_stored_sock(in), name) != 0)
			continue;
		/* The listener owns it now, and closes it: its number may be
		 * reused, so it is never matched again. */
		in->fd = -1;
		*repush = in->repush;
		return fd;
	}
	return -1;
}

int
fdstore_put(const char *name, int fd)
{
	/* Whether FileDescriptorStoreMax= lets the manager keep it, nothing
	 * says before systemd 254 ($FDSTORE): send it, the manager closes
	 * what it has no room for. */
	if (!sdnotify_on())
		return 0;
	/* FDNAME: up to 255 printable characters, no ':' (socket names
	 * have none). */
	if (strlen(FDSTORE_PREFIX) + strlen(name) > 255) {
		log_warnx("fd store: socket name %s is too long for an FDNAME; "
		    "not stored, a restart binds it again", name);
		return 0;
	}
	if (sdnotify_fds(&fd, 1, "FDSTORE=1\nFDNAME=" FDSTORE_PREFIX "%s", name) == -1) {
		log_warn("fd store: socket %s", name);
		return 0;
	}
	log_debug("fd store: socket %s (fd %d) stored", name, fd);
	return 1;
}

void
fdstore_remove(const char *name)
{
	char msg[300];

	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=" FDSTORE_PREFIX "%s", name);
	sdnotify_soon(msg);
}

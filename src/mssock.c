/*
 * The metrics endpoint's listening socket: bound from an address as
 * `listen` takes it, with, for a UNIX socket file, the lock that owns its
 * path (ctlpath.c), as the control socket has.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "ctlpath.h"
#include "mssock.h"
#include "strv.h"
#include "util.h"

#define MS_DEFER	2	/* seconds a connection may wait for its request
				 * before accept() sees it (TCP_DEFER_ACCEPT) */

void
mssock_init(struct ms_sock *s)
{
	memset(s, 0, sizeof(*s));
	s->fd = s->lock = -1;
}

void
mssock_close(struct ms_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->path)
		sockpath_release(s->path, s->lock, s->dev, s->ino);
	else if (s->lock >= 0)
		close(s->lock);
	free(s->addr);
	free(s->path);
	mssock_init(s);
}

/*
 * Bind addr and listen, as a [socket:] would be (a stale UNIX socket file
 * is removed, a live one is someone else's). -1 with "ADDR: reason" in
 * err, *inuse when the address is taken.
 */
int
mssock_open(struct ms_sock *s, const char *addr, int *inuse, char *err, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct addr a;
	char why[PATH_MAX + 64];
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&a.ss;
	int one = 1, zero = 0, busy = 0, defer = MS_DEFER;

	mssock_init(s);
	*inuse = 0;
	if (addr_parse(addr, &a, why, sizeof(why)) == -1) {
		snprintf(err, len, "metrics %s: %s", addr, why);
		return -1;
	}
	if (a.family == AF_UNIX && sun->sun_path[0] != '\0') {
		if ((s->lock = sockpath_claim(sun->sun_path, SOCK_STREAM, &busy, why,
		    sizeof(why))) == -1) {
			*inuse = busy;
			snprintf(err, len, "metrics %s", why);
			return -1;
		}
		s->path = xstrdup(sun->sun_path);
	}
	s->fd = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd == -1 && a.dualstack && (errno == EAFNOSUPPORT ||
	    errno == EPROTONOSUPPORT)) {
		/* No IPv6 here: ":PORT" is every IPv4 interface. */
		struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;
		in_port_t port = ((struct sockaddr_in6 *)&a.ss)->sin6_port;

		memset(&a.ss, 0, sizeof(a.ss));
		sin->sin_family = a.family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = port;
		a.len = sizeof(*sin);
		a.dualstack = 0;
		s->fd = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (s->fd == -1)
		goto fail;
	/* A restart finds the port free though its old connections linger. */
	if (a.family != AF_UNIX &&
	    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		goto fail;
	if (a.dualstack &&
	    setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) == -1)
		goto fail;
	/* A connection is not handed to accept() before its request came
	 * (or MS_DEFER passed): one that says nothing costs nothing, and a
	 * scraper's request is there to be read at once, before a flood of
	 * newer connections could evict it. */
	if (a.family != AF_UNIX && setsockopt(s->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT,
	    &defer, sizeof(defer)) == -1)
		goto fail;
	if (bind(s->fd, (struct sockaddr *)&a.ss, a.len) == -1) {
		*inuse = errno == EADDRINUSE;
		goto fail;
	}
	/* A deep backlog: a flood waits there, accepted and evicted at once,
	 * rather than turning a scraper's SYN away. */
	if (listen(s->fd, SOMAXCONN) == -1 ||
	    getsockname(s->fd, (struct sockaddr *)&ss, &sslen) == -1)
		goto fail;
	addr_format((struct sockaddr *)&ss, sslen, SOCK_STREAM, s->bound, sizeof(s->bound));
	if (s->path) {
		struct stat st;

		if (stat(s->path, &st) == 0) {
			s->dev = st.st_dev;
			s->ino = st.st_ino;
		}
	}
	s->addr = xstrdup(addr);
	return 0;
fail:
	snprintf(err, len, "metrics %s: %s", addr, strerror(errno));
	mssock_close(s);
	return -1;
}

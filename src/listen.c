/*
 * Listening sockets. clusterd binds every socket before the first fork so
 * a busy port fails the start (exit 2) instead of crash-looping workers.
 */

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlpath.h"
#include "inherit.h"
#include "listen.h"
#include "queue.h"
#include "log.h"

/* Why the last listener_open() failed; the caller decides how to say it. */
static char last_error[512];

static void lfail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void lfail_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
lfail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

static void
lfail_errno(const char *fmt, ...)
{
	int e = errno;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	n = strlen(last_error);
	snprintf(last_error + n, sizeof(last_error) - n, ": %s", strerror(e));
}

const char *
listener_error(void)
{
	return last_error;
}

/*
 * A socket file path is ours once its lock file is (ctlpath.c, shared with
 * the control socket): a stale socket file is then removed without racing
 * another clusterd that starts on the same path.
 */
static int
unix_claim(struct listener *l, const struct sock_cfg *sc)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&l->addr.ss;
	char err[PATH_MAX + 64];
	int busy;

	if (sun->sun_path[0] == '\0')
		return 0;	/* abstract: no file, bind() alone decides */
	l->lock = sockpath_claim(sun->sun_path, l->addr.type, &busy, err, sizeof(err));
	if (l->lock == -1) {
		lfail("%s: %s", sc->listen, err);
		return -1;
	}
	return 0;
}

/* The socket file, only if it is still ours (not a successor's), and the lock. */
static void
unix_release(struct listener *l)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&l->addr.ss;

	if (l->addr.family == AF_UNIX && sun->sun_path[0] != '\0')
		sockpath_release(sun->sun_path, l->lock, l->dev, l->ino);
	l->lock = -1;
	l->ino = 0;
}

static int
setopt(const struct sock_cfg *sc, int fd, int level, int opt, int val,
    const char *what)
{
	if (setsockopt(fd, level, opt, &val, sizeof(val)) == -1) {
		lfail_errno("%s: %s", sc->listen, what);
		return -1;
	}
	return 0;
}

static int
apply_options(const struct sock_cfg *sc, const struct addr *a, int fd, int bound)
{
	int inet = a->family != AF_UNIX;
	int tcp = inet && a->type == SOCK_STREAM;

	if (bound)
		goto after_bind_options;	/* these only matter before bind() */
	if (tcp && setopt(sc, fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR"))
		return -1;
	if (sc->reuseport > 0 && setopt(sc, fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT"))
		return -1;
	if (a->family == AF_INET6) {
		int v6only = sc->ipv6only >= 0 ? sc->ipv6only : !a->dualstack;

		if (setopt(sc, fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only, "IPV6_V6ONLY"))
			return -1;
	}
	if (inet && sc->freebind > 0 &&
	    setopt(sc, fd, IPPROTO_IP, IP_FREEBIND, 1, "IP_FREEBIND"))
		return -1;
	if (inet && sc->transparent > 0 &&
	    setopt(sc, fd, a->family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
	    a->family == AF_INET6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, 1,
	    "IP_TRANSPARENT"))
		return -1;
after_bind_options:
	if (tcp && sc->nodelay >= 0 &&
	    setopt(sc, fd, IPPROTO_TCP, TCP_NODELAY, sc->nodelay, "TCP_NODELAY"))
		return -1;
	if (tcp && sc->defer_accept >= 0 &&
	    setopt(sc, fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, (int)(sc->defer_accept + 0.999),
	    "TCP_DEFER_ACCEPT"))
		return -1;
	if (sc->keepalive >= 0 &&
	    setopt(sc, fd, SOL_SOCKET, SO_KEEPALIVE, sc->keepalive, "SO_KEEPALIVE"))
		return -1;
	if (sc->rcvbuf > 0 && setopt(sc, fd, SOL_SOCKET, SO_RCVBUF, sc->rcvbuf, "SO_RCVBUF"))
		return -1;
	if (sc->sndbuf > 0 && setopt(sc, fd, SOL_SOCKET, SO_SNDBUF, sc->sndbuf, "SO_SNDBUF"))
		return -1;
	return 0;
}

static int
unix_set_owner(const struct sock_cfg *sc, const char *path)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	if (sc->owner) {
		struct passwd *pw = getpwnam(sc->owner);

		if (pw == NULL) {
			lfail("%s: unknown user \"%s\"", sc->listen, sc->owner);
			return -1;
		}
		uid = pw->pw_uid;
	}
	if (sc->group) {
		struct group *gr = getgrnam(sc->group);

		if (gr == NULL) {
			lfail("%s: unknown group \"%s\"", sc->listen, sc->group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if ((sc->owner || sc->group) && chown(path, uid, gid) == -1) {
		lfail_errno("%s: chown", sc->listen);
		return -1;
	}
	return 0;
}

static int
do_bind(const struct sock_cfg *sc, const struct addr *a, int fd)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->ss;
	int named = a->family == AF_UNIX && sun->sun_path[0] != '\0';
	mode_t old = 0;
	int r;

	/* The file is created with its final mode: no window where it is wider. */
	if (named && sc->mode >= 0)
		old = umask(~sc->mode & 0777);
	r = bind(fd, (const struct sockaddr *)&a->ss, a->len);
	if (named && sc->mode >= 0)
		umask(old);
	if (r == -1) {
		lfail("%s: %s", sc->listen, strerror(errno));
		return -1;
	}
	if (named && unix_set_owner(sc, sun->sun_path) == -1)
		return -1;
	return 0;
}

/* A socket the service manager bound for us: config.c checked it matches. */
static int
adopt(struct listener *l, const struct sock_cfg *sc)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(sc->adopt_fd, (struct sockaddr *)&ss, &len) == -1) {
		lfail_errno("%s: inherited fd %d", sc->listen, sc->adopt_fd);
		return -1;
	}
	l->fd = sc->adopt_fd;
	if (ss.ss_family == AF_INET)
		l->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		l->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	l->cfg = sock_cfg_dup(sc);
	addr_format((struct sockaddr *)&ss, len, sc->addr.type, l->bound, sizeof(l->bound));
	if (sc->carried)
		log_debug("kept %s (%s) over the upgrade", l->bound, sc->name);
	else
		log_ev(LOG_LVL_INFO, LOG_EV_LISTENING,
		    "adopted %s (%s) from the service manager", l->bound, sc->name);
	return 0;
}

/* The same inet address, but for a configured port 0 (any): a stored socket
 * must be exactly what was configured, not merely within a wildcard as a
 * socket unit's may be. ":PORT" is [::], or 0.0.0.0 without IPv6. */
static int
inet_same(const struct sockaddr_storage *ss, const struct addr *a)
{
	const struct sockaddr_in *x4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in *y4 = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *x6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in6 *y6 = (const struct sockaddr_in6 *)&a->ss;

	if (ss->ss_family == AF_INET && a->ss.ss_family == AF_INET6 && a->dualstack)
		return (y6->sin6_port == 0 || x4->sin_port == y6->sin6_port) &&
		    x4->sin_addr.s_addr == htonl(INADDR_ANY);
	if (ss->ss_family != a->ss.ss_family)
		return 0;
	if (ss->ss_family == AF_INET)
		return (y4->sin_port == 0 || x4->sin_port == y4->sin_port) &&
		    x4->sin_addr.s_addr == y4->sin_addr.s_addr;
	return (y6->sin6_port == 0 || x6->sin6_port == y6->sin6_port) &&
	    IN6_ARE_ADDR_EQUAL(&x6->sin6_addr, &y6->sin6_addr) &&
	    x6->sin6_scope_id == y6->sin6_scope_id;
}

static int
getopt_int(int fd, int level, int opt)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, opt, &v, &len) == -1)
		return -1;
	return v != 0;
}

int
listener_fits(int fd, const struct sock_cfg *sc, char *why, size_t whylen)
{
	const struct addr *a = &sc->addr;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char have[160];
	int type;
	socklen_t tlen = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(why, whylen, "cannot be read (%s)", strerror(errno));
		return 0;
	}
	addr_format((struct sockaddr *)&ss, len, type, have, sizeof(have));
	if (type != a->type || !(ss.ss_family == AF_UNIX || a->ss.ss_family == AF_UNIX ?
	    addr_matches(&ss, len, type, a) : inet_same(&ss, a))) {
		snprintf(why, whylen, "is %s, the configuration says %s", have, sc->listen);
		return 0;
	}
	if (a->type == SOCK_STREAM && getopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN) != 1) {
		snprintf(why, whylen, "is %s but not listening", have);
		return 0;
	}
	if (ss.ss_family != AF_UNIX &&
	    getopt_int(fd, SOL_SOCKET, SO_REUSEPORT) != (sc->reuseport > 0)) {
		snprintf(why, whylen, "is %s with reuseport %s, the configuration "
		    "says %s", have, sc->reuseport > 0 ? "off" : "on",
		    sc->reuseport > 0 ? "on" : "off");
		return 0;
	}
	if (ss.ss_family == AF_INET6) {
		int want = sc->ipv6only >= 0 ? sc->ipv6only : !a->dualstack;

		if (getopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY) != want) {
			snprintf(why, whylen, "is %s with ipv6only %s, the configuration "
			    "says %s", have, want ? "off" : "on", want ? "on" : "off");
			return 0;
		}
	}
	return 1;
}

int
listener_storable(const struct listener *l)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&l->addr.ss;

	return l->addr.family != AF_UNIX || sun->sun_path[0] == '\0';
}

/* A socket clusterd stored before it was restarted: the options that
 * can change on a bound socket are set as for one bound now. */
static int
adopt_stored(const struct sock_cfg *sc, struct addr *a, int fd)
{
	if (apply_options(sc, a, fd, 1) == -1)
		return -1;
	if (a->type == SOCK_STREAM &&
	    listen(fd, sc->backlog > 0 ? sc->backlog : SOMAXCONN) == -1) {
		lfail_errno("%s: listen", sc->listen);
		return -1;
	}
	return 0;
}

/* socket, options, bind, listen: one socket for the address in a. */
static int
open_socket(const struct sock_cfg *sc, struct addr *a)
{
	int fd;

	fd = socket(a->family, a->type | SOCK_CLOEXEC, 0);
	if (fd == -1 && a->dualstack &&
	    (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT)) {
		/* No IPv6 on this host: ":PORT" means every IPv4 interface. */
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
		in_port_t port = ((struct sockaddr_in6 *)&a->ss)->sin6_port;

		memset(&a->ss, 0, sizeof(a->ss));
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = port;
		a->len = sizeof(*sin);
		a->family = AF_INET;
		fd = socket(a->family, a->type | SOCK_CLOEXEC, 0);
	}
	if (fd == -1) {
		lfail_errno("%s: socket", sc->listen);
		return -1;
	}
	if (apply_options(sc, a, fd, 0) == -1 || do_bind(sc, a, fd) == -1)
		goto fail;
	if (a->type == SOCK_STREAM &&
	    listen(fd, sc->backlog > 0 ? sc->backlog : SOMAXCONN) == -1) {
		lfail_errno("%s: listen", sc->listen);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/*
 * SO_REUSEPORT would let this socket join another program's group on the
 * same port (same uid) and take its connections. A plain bind first tells
 * whether anyone holds the port.
 */
static int
port_in_use(const struct sock_cfg *sc, struct addr *a)
{
	struct sock_cfg plain = *sc;
	int fd, port = a->family == AF_INET ?
	    ((struct sockaddr_in *)&a->ss)->sin_port :
	    ((struct sockaddr_in6 *)&a->ss)->sin6_port;

	if (port == 0)
		return 0;	/* the kernel picks a free one */
	plain.reuseport = 0;
	plain.backlog = 1;
	if ((fd = open_socket(&plain, a)) == -1)
		return 1;
	close(fd);
	return 0;
}

int
listener_update(struct listener *l, const struct sock_cfg *want)
{
	struct sock_cfg *old = l->cfg, now = *want, *sc = &now;

	/* An option the new config no longer sets goes back to off. */
	if (sc->nodelay < 0 && old->nodelay > 0)
		sc->nodelay = 0;
	if (sc->keepalive < 0 && old->keepalive > 0)
		sc->keepalive = 0;
	if (sc->defer_accept < 0 && old->defer_accept > 0)
		sc->defer_accept = 0;

	for (size_t i = 0; i < (l->nslot_fd ? l->nslot_fd : 1); i++) {
		int fd = l->nslot_fd ? l->slot_fd[i] : l->fd;

		if (fd == -1)
			continue;
		if (apply_options(sc, &l->addr, fd, 1) == -1 ||
		    (l->addr.type == SOCK_STREAM && sc->backlog != old->backlog &&
		    listen(fd, sc->backlog > 0 ? sc->backlog : SOMAXCONN) == -1))
			return -1;
	}
	l->cfg = sock_cfg_dup(sc);
	sock_cfg_free(old);
	l->qlimit = queue_limit(l->fd);
	return 0;
}

int
listener_open(struct listener *l, const struct sock_cfg *sc)
{
	struct addr *a = &l->addr;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd;

	int repush = 0, stored;

	memset(l, 0, sizeof(*l));
	l->fd = l->lock = -1;
	*a = sc->addr;
	if (sc->adopt_fd >= 0)
		return adopt(l, sc);
	/* In reuseport mode too: the stored socket is slot 0's, alone in its
	 * group (the old clusterd's other ones closed with it), and the
	 * other slots' join it. */
	if ((fd = inherit_take_stored(sc->name, &repush)) >= 0) {
		stored = 1;
		if (adopt_stored(sc, a, fd) == -1) {
			close(fd);
			return -1;
		}
	} else {
		stored = 0;
		if (sc->reuseport > 0 && port_in_use(sc, a))
			return -1;
		if (a->family == AF_UNIX && unix_claim(l, sc) == -1)
			return -1;
		if ((fd = open_socket(sc, a)) == -1) {
			unix_release(l);
			return -1;
		}
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		lfail_errno("%s: getsockname", sc->listen);
		close(fd);
		unix_release(l);
		return -1;
	}
	if (a->family == AF_INET)
		l->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (a->family == AF_INET6)
		l->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->ss;
		struct stat st;

		if (sun->sun_path[0] && stat(sun->sun_path, &st) == 0) {
			l->dev = st.st_dev;
			l->ino = st.st_ino;
		}
	}
	/* Port 0 picks one port for the whole cluster: the others bind it too. */
	if (a->family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons(l->port);
	else if (a->family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(l->port);
	l->fd = fd;
	l->cfg = sock_cfg_dup(sc);
	l->qlimit = queue_limit(fd);
	addr_format((struct sockaddr *)&ss, len, a->type, l->bound, sizeof(l->bound));
	log_ev(LOG_LVL_INFO, LOG_EV_LISTENING, "%s %s (%s)%s",
	    stored ? "adopted the stored socket" : "listening on",
	    l->bound, sc->name, sc->reuseport > 0 ? ", a socket per worker (reuseport)" : "");
	/* The manager keeps the one it passed back; it goes in again only
	 * when a removal of its name took it out. */
	if (listener_storable(l))
		l->stored = (stored && !repush) || fdstore_put(sc->name, fd);
	return 0;
}

int
listener_open_more(const struct listener *l)
{
	struct addr a = l->addr;
	int fd = open_socket(l->cfg, &a);

	if (fd == -1)
		log_errx("%s", listener_error());
	return fd;
}

void
listener_close(struct listener *l)
{
	if (l->fd == -1)
		return;
	close(l->fd);
	l->fd = -1;
	sock_cfg_free(l->cfg);
	l->cfg = NULL;
	unix_release(l);
}

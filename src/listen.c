/*
 * Listening sockets. clusterd binds every socket before the first fork so
 * a busy port fails the start (exit 2) instead of crash-looping workers.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlpath.h"
#include "listen.h"
#include "log.h"
#include "sockaddr.h"
#include "steer.h"
#include "strv.h"

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

void
sock_cfg_init(struct sock_cfg *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->backlog = -1;
	sc->reuseport = -1;
	sc->mode = -1;
	sc->ipv6only = -1;
	sc->freebind = -1;
	sc->nodelay = -1;
	sc->defer_accept = -1;
	sc->keepalive = -1;
	sc->rcvbuf = -1;
	sc->sndbuf = -1;
	sc->transparent = -1;
	sc->adopt_fd = -1;
}

static int
parse_port(const char *s, int *port)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

static int
parse_unix(const char *path, struct addr *a, char *err, size_t errlen)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&a->ss;
	size_t n = strlen(path);

	a->family = AF_UNIX;
	sun->sun_family = AF_UNIX;
	if (n == 0 || (path[0] == '@' && n == 1)) {
		snprintf(err, errlen, "empty UNIX socket path");
		return -1;
	}
	if (n >= sizeof(sun->sun_path)) {
		snprintf(err, errlen, "UNIX socket path longer than %zu bytes",
		    sizeof(sun->sun_path) - 1);
		return -1;
	}
	memcpy(sun->sun_path, path, n);
	if (path[0] == '@') {
		/* Abstract: a leading NUL, and the length says where it ends. */
		sun->sun_path[0] = '\0';
		a->len = offsetof(struct sockaddr_un, sun_path) + n;
	} else
		a->len = sizeof(*sun);
	return 0;
}

static int
parse_inet(const char *s, struct addr *a, char *err, size_t errlen)
{
	char host[256];
	const char *colon, *portstr;
	int port;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':') {
			snprintf(err, errlen, "expected [V6ADDR]:PORT");
			return -1;
		}
		if ((size_t)(close - s - 1) >= sizeof(host)) {
			snprintf(err, errlen, "host too long");
			return -1;
		}
		memcpy(host, s + 1, close - s - 1);
		host[close - s - 1] = '\0';
		portstr = close + 2;
	} else if ((colon = strrchr(s, ':')) != NULL) {
		if (strchr(s, ':') != colon) {
			snprintf(err, errlen, "IPv6 addresses go in brackets: [V6ADDR]:PORT");
			return -1;
		}
		if ((size_t)(colon - s) >= sizeof(host)) {
			snprintf(err, errlen, "host too long");
			return -1;
		}
		memcpy(host, s, colon - s);
		host[colon - s] = '\0';
		portstr = colon + 1;
	} else {
		host[0] = '\0';
		portstr = s;
	}
	if (parse_port(portstr, &port) == -1) {
		snprintf(err, errlen, "bad port \"%s\" (0-65535)", portstr);
		return -1;
	}

	if (host[0] == '\0') {
		/* ":PORT": every interface, IPv6 and IPv4 on one socket. */
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;

		a->family = AF_INET6;
		a->dualstack = 1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons(port);
		a->len = sizeof(*sin6);
		return 0;
	}

	struct addrinfo hints = { .ai_socktype = a->type, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	char portbuf[8];
	int r;

	snprintf(portbuf, sizeof(portbuf), "%d", port);
	if (s[0] == '[')
		hints.ai_flags |= AI_NUMERICHOST, hints.ai_family = AF_INET6;
	if ((r = getaddrinfo(host, portbuf, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(r));
		return -1;
	}
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	a->family = res->ai_family;
	freeaddrinfo(res);
	/* "[::]:PORT" means every address, as it does to the kernel by default. */
	if (a->family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&a->ss)->sin6_addr))
		a->dualstack = 1;
	return 0;
}

int
addr_parse(const char *s, struct addr *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	a->type = SOCK_STREAM;
	if (strncmp(s, "udp:", 4) == 0) {
		a->type = SOCK_DGRAM;
		s += 4;
		if (s[0] == '/' || strncmp(s, "./", 2) == 0 || strncmp(s, "../", 3) == 0 ||
		    strncmp(s, "unix:", 5) == 0) {
			snprintf(err, errlen, "udp: takes an IP address");
			return -1;
		}
	}
	if (strncmp(s, "unix:", 5) == 0)
		return parse_unix(s + 5, a, err, errlen);
	if (s[0] == '/' || strncmp(s, "./", 2) == 0 || strncmp(s, "../", 3) == 0)
		return parse_unix(s, a, err, errlen);
	if (*s == '\0') {
		snprintf(err, errlen, "empty address");
		return -1;
	}
	return parse_inet(s, a, err, errlen);
}

int
addr_matches(const struct sockaddr_storage *ss, socklen_t len, int type,
    const struct addr *a)
{
	const struct sockaddr *x = (const struct sockaddr *)ss;
	const struct sockaddr *y = (const struct sockaddr *)&a->ss;

	if (type != a->type)
		return 0;
	if (x->sa_family == AF_UNIX || y->sa_family == AF_UNIX)
		return sa_same_unix(x, len, y, a->len);
	if (sa_port(x) != sa_port(y) && sa_port(y) != 0)
		return 0;
	/* A configured wildcard (":PORT", 0.0.0.0, [::]) takes the manager's
	 * socket on whatever address it bound. */
	if (a->dualstack || sa_is_any(y))
		return 1;
	return sa_same_host(x, y);
}

void
addr_format(const struct sockaddr *sa, socklen_t len, int type, char *buf,
    size_t buflen)
{
	const char *pfx = type == SOCK_DGRAM ? "udp:" : "";
	char host[INET6_ADDRSTRLEN];

	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, buflen, "%s%s:%d", pfx, host, ntohs(sin->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, buflen, "%s[%s]:%d", pfx, host, ntohs(sin6->sin6_port));
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
		size_t n = len - offsetof(struct sockaddr_un, sun_path);

		if (len <= offsetof(struct sockaddr_un, sun_path))
			snprintf(buf, buflen, "unix:(unnamed)");
		else if (sun->sun_path[0] == '\0')
			snprintf(buf, buflen, "unix:@%.*s", (int)n - 1, sun->sun_path + 1);
		else
			snprintf(buf, buflen, "unix:%.*s", (int)strnlen(sun->sun_path, n),
			    sun->sun_path);
		break;
	}
	default:
		snprintf(buf, buflen, "(family %d)", sa->sa_family);
	}
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
	log_info("adopted %s (%s) from the service manager", l->bound, sc->name);
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
	return 0;
}

int
listener_open(struct listener *l, const struct sock_cfg *sc)
{
	struct addr *a = &l->addr;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd;

	memset(l, 0, sizeof(*l));
	l->fd = l->lock = -1;
	*a = sc->addr;
	if (sc->adopt_fd >= 0)
		return adopt(l, sc);
	if (sc->reuseport > 0 && port_in_use(sc, a))
		return -1;
	if (a->family == AF_UNIX && unix_claim(l, sc) == -1)
		return -1;
	if ((fd = open_socket(sc, a)) == -1) {
		unix_release(l);
		return -1;
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
	addr_format((struct sockaddr *)&ss, len, a->type, l->bound, sizeof(l->bound));
	log_info("listening on %s (%s)%s", l->bound, sc->name,
	    sc->reuseport > 0 ? ", a socket per worker (reuseport)" : "");
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
	steer_free(l);
	close(l->fd);
	l->fd = -1;
	sock_cfg_free(l->cfg);
	l->cfg = NULL;
	unix_release(l);
}

int
sock_cfg_same_socket(const struct sock_cfg *a, const struct sock_cfg *b)
{
	return str_equal(a->name, b->name) && str_equal(a->listen, b->listen) &&
	    a->adopt_fd == b->adopt_fd && (a->reuseport > 0) == (b->reuseport > 0) &&
	    a->mode == b->mode && str_equal(a->owner, b->owner) && str_equal(a->group, b->group) &&
	    a->ipv6only == b->ipv6only && a->freebind == b->freebind &&
	    a->transparent == b->transparent;
}

int
sock_cfg_equal(const struct sock_cfg *a, const struct sock_cfg *b)
{
	return str_equal(a->name, b->name) && str_equal(a->listen, b->listen) &&
	    a->backlog == b->backlog && a->reuseport == b->reuseport &&
	    a->mode == b->mode && str_equal(a->owner, b->owner) &&
	    str_equal(a->group, b->group) && a->ipv6only == b->ipv6only &&
	    a->freebind == b->freebind && a->nodelay == b->nodelay &&
	    a->defer_accept == b->defer_accept && a->keepalive == b->keepalive &&
	    a->rcvbuf == b->rcvbuf && a->sndbuf == b->sndbuf &&
	    a->transparent == b->transparent && a->adopt_fd == b->adopt_fd;
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct sock_cfg *
sock_cfg_dup(const struct sock_cfg *sc)
{
	struct sock_cfg *c = xmalloc(sizeof(*c));

	*c = *sc;
	c->name = dup_or_null(sc->name);
	c->listen = dup_or_null(sc->listen);
	c->owner = dup_or_null(sc->owner);
	c->group = dup_or_null(sc->group);
	c->file = NULL;		/* the config file's name lives with the config */
	return c;
}

void
sock_cfg_free(struct sock_cfg *sc)
{
	if (sc == NULL)
		return;
	free(sc->name);
	free(sc->listen);
	free(sc->owner);
	free(sc->group);
	free(sc);
}

/*
 * Socket addresses and [socket:NAME] settings as data: parsing what -l
 * and "listen =" take, formatting a bound address, matching an inherited
 * socket to its [socket:NAME], and copying and comparing socket configs.
 * Nothing here opens a socket (listen.c does).
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"
#include "sockaddr.h"
#include "strv.h"

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

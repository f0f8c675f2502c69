/*
 * Comparing socket addresses, as clusterd does to match an inherited
 * socket to its [socket:NAME] (addr.c) and the bind shim does to match
 * a worker's bind() to a clustered socket (shim.c). Header-only: the shim
 * is a library of its own and links nothing of clusterd's.
 */
#ifndef CLUSTERD_SOCKADDR_H
#define CLUSTERD_SOCKADDR_H

#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

/* The port of an IPv4 or IPv6 address, in host order; -1 for others. */
static inline int
sa_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return -1;
}

/* 0.0.0.0 or [::]. */
static inline int
sa_is_any(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

/* The same family and the same IP address (ports aside). */
static inline int
sa_same_host(const struct sockaddr *x, const struct sockaddr *y)
{
	if (x->sa_family != y->sa_family)
		return 0;
	if (x->sa_family == AF_INET)
		return ((const struct sockaddr_in *)x)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)y)->sin_addr.s_addr;
	if (x->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)x)->sin6_addr,
		    &((const struct sockaddr_in6 *)y)->sin6_addr, sizeof(struct in6_addr)) == 0;
	return 0;
}

/*
 * The same UNIX socket address, however its length was counted: callers
 * pass sizeof(struct sockaddr_un) or the path's length with or without
 * its NUL, getsockname() gives the path and its NUL. An abstract name
 * (leading NUL) is its exact bytes.
 */
static inline int
sa_same_unix(const struct sockaddr *x, socklen_t xlen, const struct sockaddr *y,
    socklen_t ylen)
{
	const size_t off = offsetof(struct sockaddr_un, sun_path);
	const char *xp = ((const struct sockaddr_un *)x)->sun_path;
	const char *yp = ((const struct sockaddr_un *)y)->sun_path;
	size_t xn, yn;

	if (x->sa_family != AF_UNIX || y->sa_family != AF_UNIX || xlen <= off ||
	    ylen <= off || xlen > sizeof(struct sockaddr_un) ||
	    ylen > sizeof(struct sockaddr_un))
		return 0;
	xn = xlen - off;
	yn = ylen - off;
	if (xp[0] == '\0' || yp[0] == '\0')
		return xn == yn && memcmp(xp, yp, xn) == 0;
	xn = strnlen(xp, xn);
	yn = strnlen(yp, yn);
	return xn == yn && memcmp(xp, yp, xn) == 0;
}

#endif

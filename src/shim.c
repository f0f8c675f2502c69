/*
 * clusterd-shim.so: preloaded into workers by --bind-shim, so a server
 * that binds its own port (the seed's `listen(3000)`) takes the socket
 * clusterd passed it instead. A bind() to the address of an inherited
 * socket (LISTEN_FDS) turns the caller's fd into a duplicate of that
 * socket; every other bind() is passed through untouched.
 *
 * Limits: it works through the dynamic linker, so static binaries and
 * programs that make system calls without libc (Go) are not affected.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int	bind(int, const struct sockaddr *, socklen_t);

static int
inherited_count(void)
{
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");

	if (fds == NULL || pid == NULL || atol(pid) != (long)getpid())
		return 0;
	return atoi(fds);
}

static int
is_any(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

static int
port_of(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return -1;
}

/* Would the caller's bind to want land on the socket bound to have? */
static int
same_address(const struct sockaddr *want, socklen_t wlen, const struct sockaddr *have,
    socklen_t hlen)
{
	if (want->sa_family == AF_UNIX || have->sa_family == AF_UNIX)
		return want->sa_family == have->sa_family && wlen == hlen &&
		    memcmp(want, have, wlen) == 0;
	if (port_of(want) != port_of(have) || port_of(want) <= 0)
		return 0;
	if (is_any(want) && is_any(have))
		return 1;	/* 0.0.0.0 also lands on a dual-stack [::] */
	if (want->sa_family != have->sa_family)
		return 0;
	if (want->sa_family == AF_INET)
		return ((const struct sockaddr_in *)want)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)have)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)want)->sin6_addr,
	    &((const struct sockaddr_in6 *)have)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

int
bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	static int (*real_bind)(int, const struct sockaddr *, socklen_t);
	int n = inherited_count(), type, itype;
	socklen_t tlen = sizeof(type);

	if (real_bind == NULL)
		*(void **)&real_bind = dlsym(RTLD_NEXT, "bind");
	if (real_bind == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (n <= 0 || addr == NULL ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == -1)
		return real_bind(fd, addr, len);
	for (int i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t slen = sizeof(ss);
		int inh = 3 + i, fl, fdfl;

		tlen = sizeof(itype);
		if (inh == fd ||
		    getsockopt(inh, SOL_SOCKET, SO_TYPE, &itype, &tlen) == -1 ||
		    itype != type ||
		    getsockname(inh, (struct sockaddr *)&ss, &slen) == -1 ||
		    !same_address(addr, len, (struct sockaddr *)&ss, slen))
			continue;
		/* Keep what the caller set on its own fd: non-blocking, close-on-exec. */
		fl = fcntl(fd, F_GETFL);
		fdfl = fcntl(fd, F_GETFD);
		if (dup3(inh, fd, (fdfl != -1 && (fdfl & FD_CLOEXEC)) ? O_CLOEXEC : 0) == -1)
			return -1;
		if (fl != -1 && (fl & O_NONBLOCK))
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		return 0;
	}
	return real_bind(fd, addr, len);
}

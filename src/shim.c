/*
 * clusterd-shim.so: preloaded into workers by --bind-shim, so a server
 * that binds its own port (the seed's `listen(3000)`) takes the socket
 * clusterd passed it instead. A bind() to the address of an inherited
 * socket (LISTEN_FDS) turns the caller's fd into a duplicate of that
 * socket, and the program's listen() on it keeps clusterd's backlog;
 * every other bind() and listen() is passed through untouched.
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
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sockaddr.h"

int	bind(int, const struct sockaddr *, socklen_t);
int	listen(int, int);

static int
inherited_count(void)
{
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");

	if (fds == NULL || pid == NULL || atol(pid) != (long)getpid())
		return 0;
	return atoi(fds);
}

/* Would the caller's bind to want land on the socket bound to have? */
static int
same_address(const struct sockaddr *want, socklen_t wlen, const struct sockaddr *have,
    socklen_t hlen)
{
	if (want->sa_family == AF_UNIX || have->sa_family == AF_UNIX)
		return sa_same_unix(want, wlen, have, hlen);
	if (sa_port(want) != sa_port(have) || sa_port(want) <= 0)
		return 0;
	if (sa_is_any(want) && sa_is_any(have))
		return 1;	/* 0.0.0.0 also lands on a dual-stack [::] */
	return sa_same_host(want, have);
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

/*
 * The program then calls listen() on what it thinks is its own socket.
 * On clusterd's socket, already listening, that would set the backlog of
 * the socket every worker shares to the program's default (511 for
 * Node.js) in place of the configured one: leave it as clusterd made it.
 */
int
listen(int fd, int backlog)
{
	static int (*real_listen)(int, int);
	int n = inherited_count(), on = 0;
	socklen_t olen = sizeof(on);
	struct stat st, ist;

	if (real_listen == NULL)
		*(void **)&real_listen = dlsym(RTLD_NEXT, "listen");
	if (real_listen == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (n <= 0 || fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &olen) == -1 || !on)
		return real_listen(fd, backlog);
	for (int i = 0; i < n; i++)
		if (fstat(3 + i, &ist) == 0 && ist.st_dev == st.st_dev &&
		    ist.st_ino == st.st_ino)
			return 0;
	return real_listen(fd, backlog);
}

/*
 * sd_notify(3) without libsystemd: one datagram per state change to the
 * socket named by NOTIFY_SOCKET ("@..." is abstract), and WATCHDOG=1 at
 * half the interval WATCHDOG_USEC asks for. sd_pid_notify_with_fds(3)'s
 * file descriptors (the fd store) ride along as SCM_RIGHTS.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "sdnotify.h"
#include "strv.h"
#include "values.h"

static int fd = -1;
/* Messages for the service manager from before sdnotify_init() (the
 * configuration is read first); sent by it, or dropped with no manager. */
static struct strv early;
static int inited;
static struct sockaddr_un addr;
static socklen_t addrlen;
static ev_timer watchdog;
static struct ev_loop *wloop;

static void
watchdog_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	sdnotify("WATCHDOG=1");
}

void
sdnotify_init(struct ev_loop *loop)
{
	const char *path = getenv("NOTIFY_SOCKET");
	const char *usec = getenv("WATCHDOG_USEC"), *wpid = getenv("WATCHDOG_PID");
	size_t n;
	long v;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		goto flush;
	n = strlen(path);
	if (n >= sizeof(addr.sun_path)) {
		log_warnx("NOTIFY_SOCKET=%s: path too long; not notifying", path);
		goto flush;
	}
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, path, n);
	if (path[0] == '@')
		addr.sun_path[0] = '\0';
	addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (path[0] == '@' ? 0 : 1));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
		log_warn("NOTIFY_SOCKET");
		goto flush;
	}
	if (usec && parse_long(usec, 1, 0x7fffffffffffffffL, &v) == 0 &&
	    (wpid == NULL || atol(wpid) == (long)getpid())) {
		double every = (double)v / 1e6 / 2;

		ev_timer_init(&watchdog, watchdog_cb, every, every);
		ev_timer_start(loop, &watchdog);
		wloop = loop;
	}
flush:
	inited = 1;
	for (size_t i = 0; i < early.n; i++)
		sdnotify("%s", early.v[i]);
	strv_free(&early);
}

int
sdnotify_on(void)
{
	return fd != -1;
}

void
sdnotify_soon(const char *msg)
{
	if (inited)
		sdnotify("%s", msg);
	else
		strv_push(&early, xstrdup(msg));
}

void
sdnotify(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (fd == -1)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
	    (struct sockaddr *)&addr, addrlen) == -1)
		log_debug("NOTIFY_SOCKET: %s", strerror(errno));
}

int
sdnotify_fds(const int *fds, size_t nfds, const char *fmt, ...)
{
	union {
		struct cmsghdr	h;
		char		buf[CMSG_SPACE(sizeof(int) * SDNOTIFY_FDS_MAX)];
	} c;
	struct msghdr mh;
	struct iovec iov;
	char msg[512];
	va_list ap;
	int n;

	if (fd == -1) {
		errno = ENOTCONN;
		return -1;
	}
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg) || nfds > SDNOTIFY_FDS_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	iov.iov_base = msg;
	iov.iov_len = (size_t)n;
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &addr;
	mh.msg_namelen = addrlen;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		struct cmsghdr *cm;

		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	if (sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) == -1)
		return -1;
	return 0;
}

void
sdnotify_close(void)
{
	if (wloop)
		ev_timer_stop(wloop, &watchdog);
	if (fd != -1)
		close(fd);
	fd = -1;
}

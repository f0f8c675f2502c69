/*
 * sd_notify(3) without libsystemd: one datagram per state change to the
 * socket named by NOTIFY_SOCKET ("@..." is abstract), and WATCHDOG=1 at
 * half the interval WATCHDOG_USEC asks for.
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
#include "values.h"

static int fd = -1;
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
		return;
	n = strlen(path);
	if (n >= sizeof(addr.sun_path)) {
		log_warnx("NOTIFY_SOCKET=%s: path too long; not notifying", path);
		return;
	}
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, path, n);
	if (path[0] == '@')
		addr.sun_path[0] = '\0';
	addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (path[0] == '@' ? 0 : 1));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
		log_warn("NOTIFY_SOCKET");
		return;
	}
	if (usec && parse_long(usec, 1, 0x7fffffffffffffffL, &v) == 0 &&
	    (wpid == NULL || atol(wpid) == (long)getpid())) {
		double every = (double)v / 1e6 / 2;

		ev_timer_init(&watchdog, watchdog_cb, every, every);
		ev_timer_start(loop, &watchdog);
		wloop = loop;
	}
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

void
sdnotify_close(void)
{
	if (wloop)
		ev_timer_stop(wloop, &watchdog);
	if (fd != -1)
		close(fd);
	fd = -1;
}

/*
 * Accepting connections: see acceptor.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acceptor.h"
#include "log.h"
#include "util.h"

/* How long accepting rests when out of descriptors. */
#define ACCEPTOR_PAUSE	1.0

/*
 * Linux's accept() takes a descriptor before it looks at the backlog, so
 * EMFILE can mean the backlog was already empty: the socket is then not
 * readable and only a try now, not a readiness event, ends the pause.
 */
static void
retry(struct acceptor *a)
{
	a->full = 0;
	ev_timer_stop(a->loop, &a->pause);
	if (a->io.fd >= 0) {
		ev_io_start(a->loop, &a->io);
		ev_feed_event(a->loop, &a->io, EV_READ);
	}
}

static void
pause_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	retry(container_of(t, struct acceptor, pause));
}

/*
 * Out of descriptors (EMFILE, ENFILE): the pending connection stays in the
 * backlog and the socket stays readable, so accepting again at once would
 * spin. Stop listening until a second has passed or a connection closed,
 * as OpenBSD's relayd and httpd do.
 */
static void
pause_for(struct acceptor *a, int err)
{
	ev_io_stop(a->loop, &a->io);
	ev_timer_set(&a->pause, ACCEPTOR_PAUSE, 0);
	ev_timer_start(a->loop, &a->pause);
	if (!a->paused)
		log_warnx("%s: accept: %s; not accepting connections until a "
		    "descriptor is free", a->what, strerror(err));
	a->paused = 1;
}

static void
accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct acceptor *a = container_of(io, struct acceptor, io);
	int fd;

	(void)revents;
	if (ev_is_active(&a->pause))
		return;	/* an event fed before the pause */
	for (int i = 0; i < a->batch; i++) {
		if (a->room && !a->room(a)) {
			ev_io_stop(loop, io);
			a->full = 1;
			return;
		}
		if ((fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				pause_for(a, errno);
			else if (errno == EINTR || errno == ECONNABORTED)
				continue;
			else if (errno == EAGAIN && a->paused) {
				/* The backlog is drained: that pause is over. */
				a->paused = 0;
				log_info("%s: accepting connections again", a->what);
			}
			return;
		}
		a->take(a, fd);
	}
	/* A full batch may have emptied the backlog: only EAGAIN says so. */
	if (a->paused)
		ev_feed_event(loop, io, EV_READ);
}

void
acceptor_init(struct acceptor *a, struct ev_loop *loop, const char *what,
    int batch, acceptor_take_fn *take, acceptor_room_fn *room)
{
	memset(a, 0, sizeof(*a));
	a->loop = loop;
	a->what = what;
	a->batch = batch;
	a->take = take;
	a->room = room;
	ev_io_init(&a->io, accept_cb, -1, EV_READ);
	ev_timer_init(&a->pause, pause_cb, ACCEPTOR_PAUSE, 0);
}

void
acceptor_set_fd(struct acceptor *a, int fd)
{
	ev_io_stop(a->loop, &a->io);
	ev_io_set(&a->io, fd, EV_READ);
	a->full = 0;
	/* A pause under way goes on: descriptors are no less short. */
	if (fd >= 0 && !ev_is_active(&a->pause))
		ev_io_start(a->loop, &a->io);
}

void
acceptor_stop(struct acceptor *a)
{
	ev_timer_stop(a->loop, &a->pause);
	acceptor_set_fd(a, -1);
	a->paused = 0;
}

void
acceptor_close(struct acceptor *a)
{
	int fd = a->io.fd;

	acceptor_stop(a);
	if (fd >= 0)
		close(fd);
}

void
acceptor_resume(struct acceptor *a)
{
	if (a->full || ev_is_active(&a->pause))
		retry(a);
}

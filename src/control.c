/*
 * The control socket: one request line in, "CODE MESSAGE" and a body out
 * (protocol in clusterctl(8)). Every client has its own non-blocking
 * connection, buffers and idle timer, so a slow, silent or hostile client
 * costs one fd and a little memory, never the supervisor's attention.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "ctlproto.h"
#include "log.h"
#include "status.h"
#include "supervisor.h"
#include "util.h"

#define CTL_IDLE	10.0
#define CTL_MAX_CONNS	1024

struct ctl_conn {
	LIST_ENTRY(ctl_conn) entry;
	struct ctl	*ctl;
	ev_io		 io;
	ev_timer	 idle;
	char		 in[CTL_LINE_MAX + 1];
	size_t		 inlen;
	int		 answered;	/* the request was read; only the reply is left */
	int		 waiting;	/* a restart/reload will answer */
	struct sbuf	 out;
	size_t		 outoff;
};

struct ctl {
	struct supervisor *sup;
	ev_io		 io;
	char		*path;
	dev_t		 dev;
	ino_t		 ino;
	int		 nconns;
	LIST_HEAD(, ctl_conn) conns;
};

static void
conn_close(struct ctl_conn *c)
{
	struct ev_loop *loop = c->ctl->sup->loop;

	if (c->waiting)
		sup_forget_conn(c->ctl->sup, c);
	ev_io_stop(loop, &c->io);
	ev_timer_stop(loop, &c->idle);
	close(c->io.fd);
	LIST_REMOVE(c, entry);
	c->ctl->nconns--;
	sbuf_free(&c->out);
	free(c);
}

/* Write what we can; 1 when all is out (or the client is gone). */
static int
conn_flush(struct ctl_conn *c)
{
	while (c->outoff < c->out.len) {
		ssize_t n = send(c->io.fd, c->out.s + c->outoff, c->out.len - c->outoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return 1;
		c->outoff += (size_t)n;
	}
	return 1;
}

static void conn_cb(struct ev_loop *, ev_io *, int);

void
ctl_reply(struct ctl_conn *c, int code, const char *msg, const char *body)
{
	struct ev_loop *loop = c->ctl->sup->loop;

	c->waiting = 0;
	c->answered = 1;
	sbuf_printf(&c->out, "%d %s\n", code, msg);
	if (body)
		sbuf_add(&c->out, body, strlen(body));
	if (conn_flush(c)) {
		conn_close(c);
		return;
	}
	/* The rest goes out as the client reads; the idle timer bounds it. */
	ev_io_stop(loop, &c->io);
	ev_io_set(&c->io, c->io.fd, EV_WRITE);
	ev_io_start(loop, &c->io);
	ev_timer_again(loop, &c->idle);
}

static void
dispatch(struct ctl_conn *c, char *line)
{
	struct supervisor *sup = c->ctl->sup;
	struct ctl_req req;
	struct sbuf body = { 0 };
	char msg[256];
	int ready, code, r;

	if (ctl_parse(line, &req, msg, sizeof(msg)) == -1) {
		ctl_reply(c, 2, msg, NULL);
		return;
	}
	switch (req.cmd) {
	case CTL_STATUS:
		ready = sup_ready_count(sup);
		code = ready >= (int)sup->nslots ? 0 : 3;
		(req.json ? status_json : status_text)(sup, &body);
		snprintf(msg, sizeof(msg), "%s: %d of %zu workers ready",
		    code ? "degraded" : "ok", ready, sup->nslots);
		ctl_reply(c, code, msg, body.s);
		sbuf_free(&body);
		break;
	case CTL_RESTART:
	case CTL_RELOAD:
		c->waiting = 1;
		ev_timer_stop(sup->loop, &c->idle);	/* a rollout takes its time */
		/* Without a config file a reload is a rolling restart, as SIGHUP is. */
		sup_request(sup, req.cmd == CTL_RESTART || sup->cli->config == NULL ?
		    OP_RESTART : OP_RELOAD, c);
		break;
	case CTL_SCALE:
		r = sup_scale(sup, (size_t)req.n, msg, sizeof(msg));
		ctl_reply(c, r == 0 ? 0 : 1, msg, NULL);
		break;
	case CTL_STOP:
		ctl_reply(c, 0, "stopping", NULL);
		sup_stop(sup, 0);
		break;
	case CTL_SIGNAL:
		r = sup_signal_workers(sup, req.sig, req.id, msg, sizeof(msg));
		ctl_reply(c, r == 0 ? 0 : 1, msg, NULL);
		break;
	}
}

static void
conn_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct ctl_conn *c = container_of(io, struct ctl_conn, io);
	const char *err;
	char *line;
	ssize_t n;

	(void)loop;
	if (revents & EV_WRITE) {
		if (conn_flush(c))
			conn_close(c);
		return;
	}
	if (c->answered || c->waiting) {
		/* Nothing more is read; EOF means the client gave up waiting. */
		char junk[256];

		n = recv(io->fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
	n = recv(io->fd, c->in + c->inlen, CTL_LINE_MAX + 1 - c->inlen, MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->inlen += (size_t)n;
	switch (ctl_take_line(c->in, c->inlen, &line, &err)) {
	case 0:
		return;
	case -1:
		ctl_reply(c, 2, err, NULL);
		return;
	}
	dispatch(c, line);
}

static void
idle_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct ctl_conn *c = container_of(t, struct ctl_conn, idle);

	(void)loop;
	(void)revents;
	conn_close(c);
}

static int
peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return 0;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void
accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct ctl *ctl = container_of(io, struct ctl, io);
	struct ctl_conn *c;
	int fd;

	(void)revents;
	/* A bounded batch per wake-up: a connection flood cannot starve the rest. */
	for (int i = 0; i < 64; i++) {
		if ((fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
			return;
		if (!peer_allowed(fd)) {
			static const char denied[] = "1 permission denied\n";

			(void)!send(fd, denied, sizeof(denied) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		if (ctl->nconns >= CTL_MAX_CONNS) {
			static const char busy[] = "1 too many control connections\n";

			(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		c->ctl = ctl;
		ev_io_init(&c->io, conn_cb, fd, EV_READ);
		ev_io_start(loop, &c->io);
		ev_timer_init(&c->idle, idle_cb, 0, CTL_IDLE);
		ev_timer_again(loop, &c->idle);
		LIST_INSERT_HEAD(&ctl->conns, c, entry);
		ctl->nconns++;
	}
}

struct ctl *
ctl_open(struct supervisor *sup, const char *path, int *busy)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	struct ctl *ctl;
	mode_t old;
	int fd, r;

	*busy = 0;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_errx("control socket %s: path too long", path);
		return NULL;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
		log_err("control socket");
		return NULL;
	}
	if (lstat(path, &st) == 0) {
		/* Non-blocking: a stuck owner with a full backlog is still an owner. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		if (!S_ISSOCK(st.st_mode)) {
			log_errx("control socket %s: file exists and is not a socket", path);
			goto fail;
		}
		r = connect(probe, (struct sockaddr *)&sun, sizeof(sun));
		if (r == -1 && (errno == EAGAIN || errno == EINPROGRESS))
			r = 0;
		close(probe);
		if (r == 0) {
			*busy = 1;
			goto fail;
		}
		unlink(path);
	}
	old = umask(0177);	/* created 0600: no window where it is wider */
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r == -1 || listen(fd, 128) == -1) {
		log_err("control socket %s", path);
		goto fail;
	}
	ctl = xcalloc(1, sizeof(*ctl));
	ctl->sup = sup;
	ctl->path = xstrdup(path);
	if (stat(path, &st) == 0) {
		ctl->dev = st.st_dev;
		ctl->ino = st.st_ino;
	}
	LIST_INIT(&ctl->conns);
	ev_io_init(&ctl->io, accept_cb, fd, EV_READ);
	ev_io_start(sup->loop, &ctl->io);
	log_debug("control socket %s", path);
	return ctl;
fail:
	close(fd);
	return NULL;
}

void
ctl_close(struct ctl *ctl)
{
	struct stat st;

	while (!LIST_EMPTY(&ctl->conns)) {
		struct ctl_conn *c = LIST_FIRST(&ctl->conns);

		conn_flush(c);	/* a last "stopping" reply, if the socket takes it */
		conn_close(c);
	}
	ev_io_stop(ctl->sup->loop, &ctl->io);
	close(ctl->io.fd);
	if (stat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}

/*
 * hello.c: the node:cluster "hello world" as a clusterd worker, in C.
 *
 * Its sockets come from clusterd (or systemd) by the LISTEN_FDS protocol:
 * fds 3 .. 3+LISTEN_FDS-1, meant for us when LISTEN_PID is our pid.  Each HTTP
 * request on a stream socket (TCP or UNIX) is answered with
 *	hello world from worker ID (pid PID)
 * where ID is $CLUSTERD_WORKER_ID; HTTP/1.1 connections are kept alive,
 * HTTP/1.0 and "Connection: close" ones closed.  A datagram socket answers
 * each datagram with the same line.  SIGTERM or SIGINT: stop accepting, finish
 * the requests in flight, close idle keep-alive connections, exit 0.  A
 * connection accepted whose first request has not arrived yet is not idle:
 * its client is sending one, so it is answered too (else a rolling restart
 * would lose it).
 *
 * Test knobs, from the environment:
 *	HELLO_IGNORE_TERM=1	ignore SIGTERM (to test clusterd's stop timeout)
 *	HELLO_DELAY_MS=N	wait N ms (a timerfd, no sleep) before each answer
 *	HELLO_FAIL=1		exit 1 at once (a broken deploy)
 *	HELLO_NOTIFY=1		send READY=1 to $NOTIFY_SOCKET once serving
 *				(for ready = notify; without it, never ready)
 *	HELLO_STATUS=TEXT	send STATUS=TEXT to $NOTIFY_SOCKET once serving
 *	HELLO_SERIAL=1		one connection at a time, as a prefork worker: the
 *				next is accepted once the last is closed (with
 *				HELLO_DELAY_MS, a slow worker whose queue grows)
 *
 * Without clusterd: systemd-socket-activate -l 3000 ./hello
 */
#define _GNU_SOURCE 1
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>

enum kind { LISTENER, DATAGRAM, SIGNALS, CONN, TIMER };

struct source {			/* what an epoll event points to */
	enum kind	 kind;
	int		 fd;
	struct conn	*conn;
};

struct conn {
	struct source	 io, timer;	/* timer.fd is -1 without a delay */
	struct conn	*prev, *next;	/* all open connections */
	int		 busy;		/* answering a request */
	int		 closing;	/* close once the answer is out */
	int		 served;	/* answers sent: idle only after one */
	int		 eof;		/* the client sends no more */
	int		 dead;		/* closed, freed after this epoll round */
	size_t		 inlen, outlen, outoff;
	char		 in[8192 + 1], out[256];
};

static int		 ep, stopping, serial;
static struct conn	*conns, *graveyard;
static char		 body[128];
static long		 delay_ms;
static struct source	*listeners;
static int		 nlisteners;

static void	conn_read(struct conn *);

static void
watch(struct source *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = s };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) == -1)
		err(1, "epoll_ctl");
}

/* HELLO_SERIAL: listen to the sockets only while no connection is open. */
static void
listening(int on)
{
	for (int i = 0; i < nlisteners; i++) {
		struct epoll_event ev = { .events = on ? EPOLLIN : 0,
		    .data.ptr = &listeners[i] };

		if (!stopping)
			epoll_ctl(ep, EPOLL_CTL_MOD, listeners[i].fd, &ev);
	}
}

static void
conn_close(struct conn *c)
{
	if (c->dead)
		return;
	close(c->io.fd);	/* which also takes it out of the epoll set */
	if (c->timer.fd != -1)
		close(c->timer.fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->dead = 1;
	c->next = graveyard;	/* events of this round may still point here */
	graveyard = c;
	if (serial && conns == NULL)
		listening(1);
}

static void
conn_write(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->io.fd, c->out + c->outoff,
		    c->outlen - c->outoff, MSG_NOSIGNAL);
		if (n == -1 && errno == EAGAIN)
			return;		/* EPOLLOUT brings us back */
		if (n == -1) {
			conn_close(c);
			return;
		}
		c->outoff += n;
	}
	c->busy = 0;
	c->served++;
	if (c->closing)
		conn_close(c);
	else
		conn_read(c);		/* a pipelined request may be waiting */
}

static void
answer(struct conn *c)
{
	c->closing |= stopping;
	c->outoff = 0;
	c->outlen = snprintf(c->out, sizeof(c->out), "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
	    "Connection: %s\r\n\r\n%s", strlen(body),
	    c->closing ? "close" : "keep-alive", body);
	conn_write(c);
}

/* Take one whole request out of the input buffer, if there is one. */
static void
conn_request(struct conn *c)
{
	char *end, *line, *h, *v;
	size_t len;
	int close_it;

	c->in[c->inlen] = '\0';
	if ((end = strstr(c->in, "\r\n\r\n")) == NULL) {
		if (c->eof || c->inlen == sizeof(c->in) - 1 ||
		    (stopping && c->inlen == 0 && c->served > 0))
			conn_close(c);	/* no whole request is coming */
		return;
	}
	end[2] = '\0';
	line = strstr(c->in, "\r\n");
	/* HTTP/1.1 keeps the connection alive, HTTP/1.0 does not */
	close_it = line - c->in < 8 || memcmp(line - 8, "HTTP/1.1", 8) != 0;
	for (; line[2] != '\0'; line = strstr(line + 2, "\r\n")) {
		h = line + 2;
		if (strncasecmp(h, "Connection:", 11) == 0) {
			v = h + 11 + strspn(h + 11, " \t");
			if (strncasecmp(v, "close", 5) == 0)
				close_it = 1;
			else if (strncasecmp(v, "keep-alive", 10) == 0)
				close_it = 0;
		} else if (strncasecmp(h, "Content-Length:", 15) == 0 ||
		    strncasecmp(h, "Transfer-Encoding:", 18) == 0)
			close_it = 1;	/* we read no request bodies */
	}
	c->closing |= close_it;
	len = end + 4 - c->in;
	memmove(c->in, c->in + len, c->inlen - len);
	c->inlen -= len;
	c->busy = 1;
	if (delay_ms > 0) {
		struct itimerspec its = { .it_value = { delay_ms / 1000,
		    delay_ms % 1000 * 1000000 } };
		timerfd_settime(c->timer.fd, 0, &its, NULL);
	} else
		answer(c);
}

static void
conn_read(struct conn *c)
{
	while (!c->eof && c->inlen < sizeof(c->in) - 1) {
		ssize_t n = read(c->io.fd, c->in + c->inlen,
		    sizeof(c->in) - 1 - c->inlen);
		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0)		/* answer what we have, then close */
			c->eof = 1;
		else
			c->inlen += n;
	}
	if (!c->busy)
		conn_request(c);
}

static void
conn_new(int fd)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		err(1, "calloc");
	c->io = (struct source){ CONN, fd, c };
	c->timer = (struct source){ TIMER, -1, c };
	if (delay_ms > 0) {
		c->timer.fd = timerfd_create(CLOCK_MONOTONIC,
		    TFD_NONBLOCK | TFD_CLOEXEC);
		watch(&c->timer, EPOLLIN);
	}
	if ((c->next = conns) != NULL)
		conns->prev = c;
	conns = c;
	watch(&c->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
	conn_read(c);
}

static void
handle(struct source *s)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	char buf[512];
	int fd;

	switch (s->kind) {
	case LISTENER:
		while (!stopping && !(serial && conns != NULL) &&
		    (fd = accept4(s->fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
			if (serial)
				listening(0);
			conn_new(fd);
		}
		break;
	case DATAGRAM:
		while (!stopping && recvfrom(s->fd, buf, sizeof(buf), 0,
		    (struct sockaddr *)&peer, &plen) != -1) {
			sendto(s->fd, body, strlen(body), 0,
			    (struct sockaddr *)&peer, plen);
			plen = sizeof(peer);
		}
		break;
	case SIGNALS:
		if (read(s->fd, buf, sizeof(struct signalfd_siginfo)) <= 0 ||
		    stopping)
			break;
		stopping = 1;
		for (int i = 0; i < nlisteners; i++)
			close(listeners[i].fd);
		for (struct conn *c = conns, *next; c != NULL; c = next) {
			next = c->next;
			if (!c->busy && c->inlen == 0 && c->served > 0)
				conn_close(c);	/* idle keep-alive */
		}
		break;
	case TIMER:
		if (read(s->fd, buf, sizeof(uint64_t)) > 0)
			answer(s->conn);
		break;
	case CONN:
		if (s->conn->busy && s->conn->outoff < s->conn->outlen)
			conn_write(s->conn);
		else if (!s->conn->busy)
			conn_read(s->conn);
		break;
	}
}

/* One sd_notify(3) datagram to $NOTIFY_SOCKET ("@name": abstract). */
static void
notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (path == NULL || path[0] == '\0' ||
	    strlen(path) >= sizeof(sun.sun_path)) {
		warnx("no usable NOTIFY_SOCKET");
		return;
	}
	strcpy(sun.sun_path, path);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sun, len) == -1)
		warn("notify %s", path);
	if (fd != -1)
		close(fd);
}

static int
knob(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && strcmp(v, "1") == 0;
}

int
main(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char *id = getenv("CLUSTERD_WORKER_ID"), *v;
	struct source sig = { SIGNALS, -1, NULL };
	struct epoll_event ev[64];
	sigset_t mask;
	int n, type;
	socklen_t len = sizeof(type);

	if (knob("HELLO_FAIL"))
		errx(1, "HELLO_FAIL=1: failing at once");
	if (pid == NULL || fds == NULL || atol(pid) != (long)getpid() ||
	    (n = atoi(fds)) < 1)
		errx(1, "no sockets in LISTEN_FDS; "
		    "run me under clusterd or systemd-socket-activate");
	snprintf(body, sizeof(body), "hello world from worker %s (pid %ld)\n",
	    id != NULL ? id : "?", (long)getpid());
	if ((v = getenv("HELLO_DELAY_MS")) != NULL)
		delay_ms = atol(v);
	serial = knob("HELLO_SERIAL");
	nlisteners = n;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	if (knob("HELLO_IGNORE_TERM"))
		signal(SIGTERM, SIG_IGN);
	else
		sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
	    (listeners = calloc(n, sizeof(*listeners))) == NULL)
		err(1, "setup");
	watch(&sig, EPOLLIN);
	for (int i = 0; i < n; i++) {
		if (getsockopt(3 + i, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
			err(1, "fd %d", 3 + i);
		listeners[i].kind = type == SOCK_DGRAM ? DATAGRAM : LISTENER;
		listeners[i].fd = 3 + i;
		fcntl(3 + i, F_SETFL, fcntl(3 + i, F_GETFL) | O_NONBLOCK);
		/* every idle worker wakes; the first to accept() wins */
		watch(&listeners[i], EPOLLIN);
	}
	if ((v = getenv("HELLO_STATUS")) != NULL || knob("HELLO_NOTIFY")) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s%s%s", knob("HELLO_NOTIFY") ?
		    "READY=1\n" : "", v != NULL ? "STATUS=" : "",
		    v != NULL ? v : "");
		notify(msg);
	}

	while (!stopping || conns != NULL) {
		int nev = epoll_wait(ep, ev, 64, -1);

		for (int i = 0; i < nev; i++) {
			struct source *s = ev[i].data.ptr;

			if (s->conn == NULL || !s->conn->dead)
				handle(s);
		}
		while (graveyard != NULL) {
			struct conn *c = graveyard;

			graveyard = c->next;
			free(c);
		}
	}
	free(listeners);
	return 0;
}

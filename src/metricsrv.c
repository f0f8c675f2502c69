/*
 * The metrics endpoint: GET /metrics, one request per connection, served
 * by clusterd's own loop with what metrics.c renders.
 *
 * It is built to be harmless to the supervisor whatever connects to it:
 * a fixed number of connections (MS_CONNS), each with a fixed request
 * buffer (MS_HEAD_MAX) and one timer for the whole exchange (MS_DEADLINE);
 * every socket is non-blocking and no reply waits for the client. When
 * every slot is taken, a new connection evicts the oldest one that has
 * not sent a whole request yet (a slowloris, or a client that connected
 * and said nothing), so idle or slow clients cannot keep a real scraper
 * out; it waits in the backlog only behind connections being answered,
 * which the deadline bounds. Nothing runs while nobody is connected:
 * the timers are the connections'.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "ctlpath.h"
#include "acceptor.h"
#include "log.h"
#include "exposition.h"
#include "httpreq.h"
#include "mssock.h"
#include "metricsrv.h"
#include "state.h"
#include "strv.h"
#include "supervisor.h"
#include "util.h"

#define MS_CONNS	8	/* scrapers at once: Prometheus needs one or two */
#define MS_HEAD_MAX	8192	/* request line and headers */
#define MS_DEADLINE	5.0	/* seconds for a whole exchange, request to reply */
#define MS_LINGER	1.0	/* after the reply: for the client's close */
#define MS_LINGER_MAX	65536	/* bytes read and dropped after the reply */
#define MS_ACCEPTS	MS_CONNS	/* accepted per wake-up */
#define MS_SNDBUF_MAX	(4 << 20)	/* the socket buffer a big reply may ask for */

#define CT_TEXT	"text/plain; version=0.0.4; charset=utf-8"
#define CT_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

enum conn_state { C_FREE, C_READ, C_WRITE, C_LINGER };

struct ms_conn {
	struct metricsrv *ms;
	enum conn_state	 state;
	unsigned long	 seq;		/* order of arrival, for eviction */
	ev_io		 io;
	ev_timer	 timer;		/* the deadline, then the linger */
	char		 in[MS_HEAD_MAX];
	size_t		 inlen;
	int		 spoke;		/* the method's end was seen */
	size_t		 dropped;	/* C_LINGER: bytes read and dropped */
	struct sbuf	 out;
	size_t		 outoff;
};


struct metricsrv {
	struct supervisor *sup;
	struct ms_sock	 sock;
	struct ms_sock	 next;		/* bound by a reload, until it is applied */
	char		*displaced;	/* the address next had to close to bind */
	struct acceptor	 acc;		/* on sock.fd; full: every slot is answering */
	unsigned long	 seq;
	struct ms_conn	 conns[MS_CONNS];
};

/* --- Connections --- */

static void
conn_close(struct ms_conn *c)
{
	struct metricsrv *ms = c->ms;
	struct ev_loop *loop = ms->sup->loop;

	ev_io_stop(loop, &c->io);
	ev_timer_stop(loop, &c->timer);
	close(c->io.fd);
	sbuf_free(&c->out);
	c->state = C_FREE;
	/* A slot, and a descriptor, are free again. */
	acceptor_resume(&ms->acc);
}

static void
conn_watch(struct ms_conn *c, int events)
{
	struct ev_loop *loop = c->ms->sup->loop;

	ev_io_stop(loop, &c->io);
	ev_io_set(&c->io, c->io.fd, events);
	ev_io_start(loop, &c->io);
}

/* All is said: the client's close is waited for a moment, so that what it
 * may still send does not reset the connection before it read the reply. */
static void
conn_linger(struct ms_conn *c)
{
	struct metricsrv *ms = c->ms;

	shutdown(c->io.fd, SHUT_WR);
	sbuf_free(&c->out);
	c->state = C_LINGER;
	c->dropped = 0;
	conn_watch(c, EV_READ);
	ev_timer_stop(ms->sup->loop, &c->timer);
	ev_timer_set(&c->timer, MS_LINGER, 0);
	ev_timer_start(ms->sup->loop, &c->timer);
	/* A lingering connection may be evicted: a waiting one may come in. */
	if (ms->acc.full)
		acceptor_resume(&ms->acc);
}

/* Write what the socket takes; the rest when it is writable again. */
static void
conn_flush(struct ms_conn *c)
{
	int r = sbuf_send(c->io.fd, &c->out, &c->outoff);

	if (r < 0)
		conn_close(c);
	else if (r > 0)
		conn_linger(c);
}

static void
conn_reply(struct ms_conn *c, int code, const char *reason, const char *extra,
    const char *type, const char *body, size_t len, int head_only)
{
	sbuf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%sConnection: close\r\n\r\n", code, reason, type,
	    len, extra ? extra : "");
	if (!head_only && len)
		sbuf_add(&c->out, body, len);
	c->outoff = 0;
	c->state = C_WRITE;
	/* A reply the socket takes whole leaves the slot free for eviction
	 * however slowly the client reads (up to the kernel's wmem_max). */
	if (c->out.len > 65536) {
		int n = c->out.len > MS_SNDBUF_MAX ? MS_SNDBUF_MAX : (int)c->out.len;

		(void)setsockopt(c->io.fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof(n));
	}
	conn_watch(c, EV_WRITE);
	conn_flush(c);
}

static void
conn_error(struct ms_conn *c, int code, const char *reason, int head_only)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%d %s\n", code, reason);

	log_debug("metrics: %d %s", code, reason);
	conn_reply(c, code, reason, code == 405 ? "Allow: GET, HEAD\r\n" : NULL,
	    "text/plain; charset=utf-8", body, (size_t)n, head_only);
}

/* A whole request, the request line and headers up to the empty line. */
static void
conn_request(struct ms_conn *c, size_t end)
{
	char *s = c->in;
	size_t mlen = 0, tstart = 0, tlen = 0, i, eol, plen;
	int head, get, om = 0, code;

	for (eol = 0; s[eol] != '\n'; eol++)
		;
	code = http_bad_request_line(s, eol && s[eol - 1] == '\r' ? eol - 1 : eol, &mlen,
	    &tstart, &tlen);
	head = mlen == 4 && memcmp(s, "HEAD", 4) == 0;
	if (code == 505) {
		conn_error(c, 505, "HTTP Version Not Supported", head);
		return;
	}
	if (code) {
		conn_error(c, 400, "Bad Request", 0);
		return;
	}
	/* Header fields: NAME ":" VALUE, no folding, no control characters. */
	for (i = eol + 1; i < end; i = eol + 1) {
		size_t n, colon, vlen;
		const char *v;

		for (eol = i; s[eol] != '\n'; eol++)
			;
		n = eol > i && s[eol - 1] == '\r' ? eol - 1 - i : eol - i;
		if (n == 0)
			break;
		for (colon = 0; colon < n && http_tchar((unsigned char)s[i + colon]); colon++)
			;
		if (colon == 0 || colon == n || s[i + colon] != ':') {
			conn_error(c, 400, "Bad Request", 0);
			return;
		}
		for (size_t k = colon + 1; k < n; k++)
			if (((unsigned char)s[i + k] < ' ' && s[i + k] != '\t') || s[i + k] == 0x7f) {
				conn_error(c, 400, "Bad Request", 0);
				return;
			}
		v = s + i + colon + 1;
		vlen = n - colon - 1;
		if (colon == 6 && strncasecmp(s + i, "Accept", 6) == 0 &&
		    http_wants_openmetrics(v, vlen))
			om = 1;
	}
	/* The path, without a query string. */
	for (plen = 0; plen < tlen && s[tstart + plen] != '?' && s[tstart + plen] != '#';
	    plen++)
		;
	if (plen != 8 || memcmp(s + tstart, "/metrics", 8) != 0) {
		conn_error(c, 404, "Not Found", head);
		return;
	}
	get = mlen == 3 && memcmp(s, "GET", 3) == 0;
	if (!get && !head) {
		conn_error(c, 405, "Method Not Allowed", 0);
		return;
	}
	{
		struct sbuf body = { 0 };

		exposition_render(c->ms->sup, &body, om);
		log_debug("metrics: 200, %zu bytes%s", body.len, om ? " (OpenMetrics)" : "");
		conn_reply(c, 200, "OK", NULL, om ? CT_OPENMETRICS : CT_TEXT, body.s,
		    body.len, head);
		sbuf_free(&body);
	}
}

/* Read what came; answer once the request is whole, or plainly bad. */
static void
conn_read(struct ms_conn *c)
{
	size_t from, eol;
	ssize_t n;

	n = recv(c->io.fd, c->in + c->inlen, sizeof(c->in) - c->inlen, MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	from = c->inlen >= 3 ? c->inlen - 3 : 0;
	c->inlen += (size_t)n;
	/* Not HTTP at all (a TLS hello, a stray protocol): said at once. */
	for (size_t i = c->inlen - (size_t)n; i < c->inlen && !c->spoke; i++) {
		if (c->in[i] == ' ' || c->in[i] == '\n')
			c->spoke = 1;
		else if (!http_tchar((unsigned char)c->in[i])) {
			conn_error(c, 400, "Bad Request", 0);
			return;
		}
	}
	/* The end of the headers: an empty line, CRLF or bare LF. */
	for (eol = from; eol < c->inlen; eol++) {
		if (c->in[eol] != '\n')
			continue;
		if ((eol >= 1 && c->in[eol - 1] == '\n') ||
		    (eol >= 2 && c->in[eol - 1] == '\r' && c->in[eol - 2] == '\n')) {
			conn_request(c, eol + 1);
			return;
		}
	}
	if (c->inlen == sizeof(c->in))
		conn_error(c, 431, "Request Header Fields Too Large", 0);
}

/* After the reply: whatever comes is dropped, up to a bound, until EOF. */
static void
conn_drain(struct ms_conn *c)
{
	char junk[4096];
	ssize_t n = recv(c->io.fd, junk, sizeof(junk), MSG_DONTWAIT);

	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0 || (c->dropped += (size_t)n) > MS_LINGER_MAX)
		conn_close(c);
}

static void
conn_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct ms_conn *c = container_of(io, struct ms_conn, io);

	(void)loop;
	(void)revents;
	switch (c->state) {
	case C_READ:
		conn_read(c);
		break;
	case C_WRITE:
		conn_flush(c);
		break;
	case C_LINGER:
		conn_drain(c);
		break;
	case C_FREE:
		break;
	}
}

static void
timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct ms_conn *c = container_of(t, struct ms_conn, timer);

	(void)loop;
	(void)revents;
	if (c->state == C_READ) {
		static const char late[] = "HTTP/1.1 408 Request Timeout\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n";

		(void)!send(c->io.fd, late, sizeof(late) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	conn_close(c);
}

/* --- Accepting --- */

/* The oldest connection that may go for a new one: not answered yet, or
 * answered already (lingering). */
static struct ms_conn *
oldest_evictable(struct metricsrv *ms)
{
	struct ms_conn *best = NULL;

	for (size_t i = 0; i < MS_CONNS; i++) {
		struct ms_conn *c = &ms->conns[i];

		if ((c->state == C_READ || c->state == C_LINGER) &&
		    (best == NULL || c->seq < best->seq))
			best = c;
	}
	return best;
}

static struct ms_conn *
free_slot(struct metricsrv *ms)
{
	for (size_t i = 0; i < MS_CONNS; i++)
		if (ms->conns[i].state == C_FREE)
			return &ms->conns[i];
	return NULL;
}

/*
 * A slot for a new connection: a free one, or the oldest evictable one's.
 * Its request may have come meanwhile: read it first, so a scraper that
 * did speak is answered, not evicted. Each turn frees a slot or moves one
 * on, so this ends.
 */
static struct ms_conn *
make_room(struct metricsrv *ms)
{
	struct ms_conn *c, *v;

	while ((c = free_slot(ms)) == NULL && (v = oldest_evictable(ms)) != NULL) {
		if (v->state == C_READ) {
			unsigned long seq = v->seq;

			conn_read(v);
			if (v->state != C_READ || v->seq != seq)
				continue;
		}
		log_debug("metrics: a connection evicted for a newer one");
		conn_close(v);
	}
	return c;
}

static int
ms_room(struct acceptor *a)
{
	struct metricsrv *ms = container_of(a, struct metricsrv, acc);

	/* When not, every slot is answering, which the deadline bounds. */
	return free_slot(ms) != NULL || oldest_evictable(ms) != NULL;
}

static void
ms_take(struct acceptor *a, int fd)
{
	struct metricsrv *ms = container_of(a, struct metricsrv, acc);
	struct ms_conn *c;

	if ((c = make_room(ms)) == NULL) {
		/* The one that could go was answered instead, and its
		 * reply waits for its reader: no room after all. */
		static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n";

		(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	c->state = C_READ;
	c->seq = ++ms->seq;
	c->inlen = 0;
	c->spoke = 0;
	c->outoff = 0;
	memset(&c->out, 0, sizeof(c->out));
	ev_io_init(&c->io, conn_cb, fd, EV_READ);
	ev_io_start(a->loop, &c->io);
	ev_timer_init(&c->timer, timer_cb, MS_DEADLINE, 0);
	ev_timer_start(a->loop, &c->timer);
	/* The request often came with the connection. */
	conn_read(c);
}

/* --- The endpoint --- */

struct metricsrv *
metricsrv_new(struct supervisor *sup)
{
	struct metricsrv *ms = xcalloc(1, sizeof(*ms));

	ms->sup = sup;
	mssock_init(&ms->sock);
	mssock_init(&ms->next);
	acceptor_init(&ms->acc, sup->loop, "metrics", MS_ACCEPTS, ms_take, ms_room);
	for (size_t i = 0; i < MS_CONNS; i++)
		ms->conns[i].ms = ms;
	return ms;
}

/* Accept on s from now on, in place of the socket before it. */
static void
listen_on(struct metricsrv *ms, struct ms_sock *s)
{
	acceptor_set_fd(&ms->acc, -1);
	mssock_close(&ms->sock);
	ms->sock = *s;
	mssock_init(s);
	acceptor_set_fd(&ms->acc, ms->sock.fd);
}

/* Bind addr into ms->next, unless it is what ms->sock is bound to. When
 * the address is taken, it may be by our own socket (the same port on
 * another spelling, "[::]:P" for "127.0.0.1:P"): that one is closed and
 * the bind tried again; displaced says which to put back on abort. */
int
metricsrv_prepare(struct metricsrv *ms, const char *addr, char *err, size_t len)
{
	int inuse;
	char *old;

	mssock_close(&ms->next);
	if (addr == NULL || str_equal(addr, ms->sock.addr))
		return 0;
	if (mssock_open(&ms->next, addr, &inuse, err, len) == 0)
		return 0;
	if (!inuse || ms->sock.fd < 0)
		return -1;
	old = xstrdup(ms->sock.addr);
	acceptor_set_fd(&ms->acc, -1);
	mssock_close(&ms->sock);
	if (mssock_open(&ms->next, addr, &inuse, err, len) == 0) {
		ms->displaced = old;
		return 0;
	}
	{
		struct ms_sock back;
		char e2[PATH_MAX + 128];

		if (mssock_open(&back, old, &inuse, e2, sizeof(e2)) == 0)
			listen_on(ms, &back);
		else
			log_errx("%s; the metrics endpoint is off", e2);
	}
	free(old);
	return -1;
}

void
metricsrv_commit(struct metricsrv *ms, const char *addr)
{
	free(ms->displaced);
	ms->displaced = NULL;
	if (str_equal(addr, ms->sock.addr))
		return;
	listen_on(ms, &ms->next);
	if (ms->sock.fd >= 0)
		log_info("metrics on %s", ms->sock.bound);
	else
		log_info("metrics endpoint off");
}

void
metricsrv_abort(struct metricsrv *ms)
{
	struct ms_sock back;
	char err[PATH_MAX + 128];
	int inuse;

	mssock_close(&ms->next);
	if (ms->displaced == NULL)
		return;
	/* The old address had to close for the new one: open it again. */
	if (mssock_open(&back, ms->displaced, &inuse, err, sizeof(err)) == 0)
		listen_on(ms, &back);
	else
		log_errx("%s; the metrics endpoint is off", err);
	free(ms->displaced);
	ms->displaced = NULL;
}

int
metricsrv_set(struct metricsrv *ms, const char *addr, char *err, size_t len)
{
	if (metricsrv_prepare(ms, addr, err, len) == -1)
		return -1;
	metricsrv_commit(ms, addr);
	return 0;
}

void
metricsrv_free(struct metricsrv *ms)
{
	if (ms == NULL)
		return;
	for (size_t i = 0; i < MS_CONNS; i++)
		if (ms->conns[i].state != C_FREE)
			conn_close(&ms->conns[i]);
	acceptor_stop(&ms->acc);
	mssock_close(&ms->sock);
	mssock_close(&ms->next);
	free(ms->displaced);
	free(ms);
}

void
metricsrv_save(const struct metricsrv *ms, struct state_out *so)
{
	if (ms == NULL || ms->sock.fd < 0)
		return;
	state_rec(so, "metricsrv");
	state_str(so, "addr", ms->sock.addr);
	state_str(so, "bound", ms->sock.bound);
	state_fd(so, "fd", ms->sock.fd);
	state_str(so, "path", ms->sock.path);
	state_fd(so, "lock", ms->sock.lock);
	state_int(so, "dev", (long long)ms->sock.dev);
	state_int(so, "ino", (long long)ms->sock.ino);
}

void
metricsrv_adopt(struct metricsrv *ms, const struct state_rec *r)
{
	struct ms_sock s;
	int fd;

	if (r == NULL)
		return;
	if ((fd = rec_fd(r, "fd")) == -1 || rec_str(r, "addr") == NULL) {
		log_warnx("upgrade: the metrics socket was not carried over");
		return;
	}
	mssock_init(&s);
	s.fd = fd;
	s.addr = rec_dup(r, "addr");
	snprintf(s.bound, sizeof(s.bound), "%s", rec_str(r, "bound") ?
	    rec_str(r, "bound") : s.addr);
	s.path = rec_dup(r, "path");
	s.lock = rec_fd(r, "lock");
	s.dev = (dev_t)rec_int(r, "dev", 0);
	s.ino = (ino_t)rec_int(r, "ino", 0);
	listen_on(ms, &s);
	log_debug("metrics on %s, kept over the upgrade", ms->sock.bound);
}

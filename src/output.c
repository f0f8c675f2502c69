/*
 * Worker output with prefixes (log_prefix), relayed to clusterd's stdout
 * or stderr through its sink (sink.c).
 *
 * A relay reads what its pipe holds in one read and copies the whole
 * lines, each with its prefix, into the sink's queue at once: the one
 * copy that prefixes need. The sink writes them with the rest of the
 * turn's lines, so a flood costs about a read, a write and an epoll_wait
 * per pipeful.
 *
 * A pipe starts at the kernel's default (64 KiB). A read that empties a
 * full pipe (FULL: three quarters of its size at least) means its worker writes faster than the loop turns: that
 * pipe is enlarged once to OUTPUT_BIG (256 KiB), which cuts the reads,
 * writes and wake-ups of a flood by four. Pipe pages count against the
 * user's quota (/proc/sys/fs/pipe-user-pages-soft: past it, the user's
 * new pipes get one page or two), so at most OUTPUT_BIG_MAX pipes are
 * enlarged at once, and a pipe the kernel refused is left as it is, not
 * tried again. Quiet workers keep small pipes.
 * Only whole lines (or pieces of OUTPUT_PIECE bytes of a longer one)
 * enter the queue, so lines of different workers never interleave
 * mid-line.
 *
 * When the queue has no room the relay keeps what it read, stops reading
 * and waits its turn: the pipe fills and the worker blocks in write(), as
 * it would writing to the file itself. Nothing is dropped. The sink says
 * in which order relays are pumped (sink.c: a quiet worker's line waits
 * behind at most one read of a flooder's output written after it).
 *
 * The prefix is the text format's. With log_format = json each line
 * becomes a JSON object, and when the sink is the journal an entry with
 * the worker's fields (log.c formats both); the format is the one in force
 * when the line is queued, so a reload that changes it applies at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "output.h"
#include "sink.h"
#include "spawn.h"
#include "state.h"
#include "strv.h"
#include "util.h"

/* Read at close, beyond the buffer: a pipe holds 64 KiB unless we or its
 * writer enlarged it (F_SETPIPE_SZ, 1 MiB for unprivileged users). */
#define OUTPUT_CLOSE_MAX	(1024 * 1024 + OUTPUT_PIECE)

/* The size of an enlarged pipe, and so the most one read takes; how many
 * pipes are enlarged at once. */
#define OUTPUT_BIG	(256 * 1024)
#define OUTPUT_BIG_MAX	16

static int	nbig;		/* pipes we enlarged, still open */

struct relay {
	struct sink_feed feed;
	struct sink	*sink;
	struct output	*o;		/* NULL once closed: written, then freed */
	struct ev_loop	*loop;
	char		 head[48];	/* "worker ID (pid PID): " */
	size_t		 hlen;
	struct log_fields fields;	/* the same for JSON and the journal */
	char		 ident[64];	/* SYSLOG_IDENTIFIER: the program's name */
	int		 to;		/* 1 stdout, 2 stderr */
	char		*buf;		/* read, not yet queued: buf[off, off + len) */
	size_t		 off, len, size;
	size_t		 psize;		/* what the pipe holds: one read's most */
	int		 big;		/* we enlarged the pipe (counted in nbig) */
	int		 grown;		/* enlarged, or the kernel said no: as is */
};

/* A relay's buffer: room for a full read after a partial line (less than
 * a piece), so that reads take whole pipefuls. A relay whose pipe holds
 * more keeps a buffer of its size until it is freed. */
#define RELAY_BUF	(2 * OUTPUT_PIECE)

/* Buffers of relays that had nothing left, for the next read: a flood
 * would otherwise cost a malloc and a free per read. */
static char	*spare[4];
static size_t	 nspare;

static void
buf_get(struct relay *r)
{
	if (r->psize + OUTPUT_PIECE > RELAY_BUF) {
		r->buf = xmalloc(r->psize + OUTPUT_PIECE);
		r->size = r->psize + OUTPUT_PIECE;
	} else {
		r->buf = nspare > 0 ? spare[--nspare] : xmalloc(RELAY_BUF);
		r->size = RELAY_BUF;
	}
	r->off = r->len = 0;
}

static void
buf_put(struct relay *r)
{
	if (r->size == RELAY_BUF && nspare < sizeof(spare) / sizeof(spare[0]))
		spare[nspare++] = r->buf;
	else
		free(r->buf);
	r->buf = NULL;
	r->size = 0;
}

/* The buffer is empty: a flooder keeps its big one for the next read. */
static void
buf_idle(struct relay *r)
{
	if (r->size == RELAY_BUF)
		buf_put(r);
	else
		r->off = 0;
}

/* The read emptied a full pipe: enlarge it, once. A pipe its writer
 * enlarged is taken as it is. While OUTPUT_BIG_MAX pipes are enlarged,
 * the next full read asks again: the slot of one that closed may be free
 * by then. */
static void
grow(struct relay *r, int fd)
{
	int sz;

	if ((sz = fcntl(fd, F_GETPIPE_SZ)) > 0 && (size_t)sz > r->psize)
		r->grown = 1;
	else if (nbig >= OUTPUT_BIG_MAX)
		return;
	else {
		r->grown = 1;
		/* EPERM past the user's quota: the pipe stays as it is. */
		if ((sz = fcntl(fd, F_SETPIPE_SZ, OUTPUT_BIG)) <= 0 ||
		    (size_t)sz <= r->psize)
			return;
		r->big = 1;
		nbig++;
	}
	r->psize = (size_t)sz < OUTPUT_BIG ? (size_t)sz : OUTPUT_BIG;
	if (r->buf && r->size < r->psize + OUTPUT_PIECE) {
		r->size = r->psize + OUTPUT_PIECE;
		if ((r->buf = realloc(r->buf, r->size)) == NULL)
			fatal(1, "realloc");
	}
}

/* What a read of a full pipe gives at least. The kernel fills a pipe by
 * pages (16 of 4 KiB): a write that does not end on a page boundary
 * leaves the rest of its last page unused when the next one does not fit
 * in it, so a full pipe of writes of 16 KiB lines holds 56 KiB, not 64. */
#define FULL(psize)	((psize) - (psize) / 4)

/* Read once into the buffer, at most what the pipe holds: >0 read, 0
 * nothing now (or no room), -1 end. */
static int
fill(struct relay *r, int fd)
{
	size_t want;
	ssize_t n;

	if (r->buf == NULL)
		buf_get(r);
	if (r->off > 0 && r->size - r->off - r->len < r->psize) {
		memmove(r->buf, r->buf + r->off, r->len);	/* a partial line */
		r->off = 0;
	}
	want = r->size - r->off - r->len;
	if (want > r->psize)
		want = r->psize;
	if (want == 0)
		return 0;
	n = read(fd, r->buf + r->off + r->len, want);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	r->len += (size_t)n;
	if ((size_t)n >= FULL(r->psize) && !r->grown && r->o && r->o->open)
		grow(r, fd);
	return 1;
}

static void
relay_free(struct relay *r)
{
	sink_forget(r->sink, &r->feed);
	sink_use(r->sink, -1);
	if (r->buf)
		buf_put(r);
	free(r);
}

/* A line in JSON, or as a journal entry after its length: the bytes it
 * took at q, or 0 when it does not fit in room. */
static size_t
format(struct relay *r, enum log_out kind, char *q, size_t room, const char *p,
    size_t n)
{
	size_t frame = kind == LOG_OUT_JOURNAL ? sizeof(uint32_t) : 0, need;
	uint32_t len;

	if (room < frame + n + 1)
		return 0;
	need = log_output_line(kind, q + frame, room - frame, &r->fields,
	    r->ident[0] ? r->ident : NULL, r->to, p, n);
	if (frame + need > room)
		return 0;
	len = (uint32_t)need;
	memcpy(q, &len, frame);
	return frame + need;
}

/* Move whole lines into the sink's queue while it has room: a line, a
 * piece of OUTPUT_PIECE bytes of a longer one, or, once the pipe is
 * closed, the last line without its newline. 1 if lines are left for
 * want of room: the pipe is not read until they are moved. */
static int
pump(struct sink_feed *f)
{
	struct relay *r = container_of(f, struct relay, feed);
	size_t room, used = 0, n, adv, took;
	char *q = sink_space(r->sink, &room), *p, *nl;
	enum log_out kind = sink_journal(r->sink) ? LOG_OUT_JOURNAL :
	    log_get_format() == LOG_FMT_JSON ? LOG_OUT_JSON : LOG_OUT_TEXT;
	int more = 0;

	while (r->len > 0) {
		p = r->buf + r->off;
		n = r->len < OUTPUT_PIECE ? r->len : OUTPUT_PIECE;
		if ((nl = memchr(p, '\n', n)) != NULL)
			adv = (size_t)(nl - p) + 1, n = adv - 1;
		else if (n == OUTPUT_PIECE || r->o == NULL)
			adv = n;
		else
			break;	/* the rest of the line is still to come */
		if (kind != LOG_OUT_TEXT) {
			if ((took = format(r, kind, q + used, room - used, p, n)) == 0) {
				more = 1;
				break;
			}
			used += took;
			r->off += adv;
			r->len -= adv;
			continue;
		}
		if (used + r->hlen + n + 1 > room) {
			more = 1;
			break;
		}
		memcpy(q + used, r->head, r->hlen);
		if (nl != NULL)
			memcpy(q + used + r->hlen, p, adv);	/* its newline too */
		else {
			memcpy(q + used + r->hlen, p, n);
			q[used + r->hlen + n] = '\n';
		}
		used += r->hlen + n + 1;
		r->off += adv;
		r->len -= adv;
	}
	if (used > 0)
		sink_commit(r->sink, used);
	if (r->len == 0 && r->buf)
		buf_idle(r);
	if (more) {
		if (r->o)
			ev_io_stop(r->loop, &r->o->io);
		return 1;
	}
	if (r->o == NULL)
		relay_free(r);
	else if (!ev_is_active(&r->o->io))
		ev_io_start(r->loop, &r->o->io);	/* served: read again */
	return 0;
}

static void
output_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct output *o = container_of(io, struct output, io);
	struct relay *r = o->relay;
	int n;

	(void)revents;
	if ((n = fill(r, io->fd)) == -1) {
		output_close(loop, o);
		return;
	}
	if (n > 0)
		sink_ready(r->sink, &r->feed, r->len);
}

int
output_open(struct output *o, int to, int *child_end)
{
	int p[2], n;

	memset(o, 0, sizeof(*o));
	o->to = to;
	ev_io_init(&o->io, output_cb, -1, EV_READ);
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	p[0] = spawn_park_fd(p[0]);	/* clusterd's end, kept for the worker's life */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	o->io.fd = p[0];
	o->psize = OUTPUT_PIECE;
	/* Past the user's pipe quota a new pipe holds a page or two. */
	if ((n = fcntl(p[0], F_GETPIPE_SZ)) > 0 && n < OUTPUT_PIECE)
		o->psize = (size_t)n;
	o->open = 1;
	*child_end = p[1];
	return 0;
}

void
output_start(struct ev_loop *loop, struct output *o, unsigned id, pid_t pid,
    unsigned gen, const char *ident)
{
	struct relay *r;
	int n;

	if (!o->open)
		return;
	r = xcalloc(1, sizeof(*r));
	r->feed.pump = pump;
	r->sink = sink_of(o->to);
	sink_use(r->sink, 1);
	r->o = o;
	r->loop = loop;
	r->psize = o->psize;
	n = snprintf(r->head, sizeof(r->head), "worker %u (pid %d): ", id, (int)pid);
	r->hlen = n > 0 && (size_t)n < sizeof(r->head) ? (size_t)n : 0;
	r->fields = (struct log_fields){ .event = LOG_EV_OUTPUT, .worker = (int)id,
	    .pid = pid, .generation = gen };
	if (ident) {
		const char *base = strrchr(ident, '/');

		snprintf(r->ident, sizeof(r->ident), "%s", base ? base + 1 : ident);
	}
	r->to = o->to;
	o->relay = r;
	ev_io_set(&o->io, o->io.fd, EV_READ);
	ev_io_start(loop, &o->io);
}

void
output_close(struct ev_loop *loop, struct output *o)
{
	struct relay *r = o->relay;

	if (!o->open)
		return;
	o->open = 0;
	ev_io_stop(loop, &o->io);
	/* What the worker wrote before it died may still be in the pipe. */
	while (r && r->off + r->len < OUTPUT_CLOSE_MAX) {
		if (r->buf && r->off + r->len == r->size) {
			r->size = r->size * 2 < OUTPUT_CLOSE_MAX ?
			    r->size * 2 : OUTPUT_CLOSE_MAX;
			r->buf = realloc(r->buf, r->size);
			if (r->buf == NULL)
				fatal(1, "realloc");
		}
		if (fill(r, o->io.fd) != 1)
			break;
	}
	close(o->io.fd);
	o->io.fd = -1;
	o->relay = NULL;
	if (r == NULL)
		return;
	if (r->big) {
		r->big = 0;
		nbig--;		/* its pages are back in the user's quota */
	}
	r->o = NULL;
	if (r->len == 0) {
		relay_free(r);
		return;
	}
	/* Queued now (pumped, then freed), before clusterd's next lines. */
	sink_last(r->sink, &r->feed);
}

void
output_report(int final)
{
	if (final)
		sink_report();
}

void
output_save(const struct output *o, struct state_out *so, const char *kind)
{
	const struct relay *r = o->relay;

	if (!o->open)
		return;
	state_rec(so, kind);
	state_int(so, "to", o->to);
	state_fd(so, "fd", o->io.fd);
	state_int(so, "psize", (long long)(r ? r->psize : o->psize));
	/* A line not yet whole: the new image prefixes it when it is. */
	if (r && r->len > 0)
		state_bytes(so, "pending", r->buf + r->off, r->len);
}

int
output_adopt(struct ev_loop *loop, struct output *o, const struct state_rec *rec,
    unsigned id, pid_t pid, unsigned gen, const char *ident)
{
	const struct state_field *pend = rec_field(rec, "pending");
	struct relay *r;
	int fd;

	memset(o, 0, sizeof(*o));
	ev_io_init(&o->io, output_cb, -1, EV_READ);
	if ((fd = rec_fd(rec, "fd")) == -1)
		return -1;
	o->to = rec_int(rec, "to", 2) == 1 ? 1 : 2;
	o->io.fd = fd;
	o->psize = (size_t)rec_int(rec, "psize", OUTPUT_PIECE);
	if (o->psize < 4096 || o->psize > OUTPUT_BIG)
		o->psize = OUTPUT_PIECE;
	o->open = 1;
	output_start(loop, o, id, pid, gen, ident);
	r = o->relay;
	/* An enlarged pipe keeps its size: taken as it is. */
	r->grown = o->psize > OUTPUT_PIECE;
	if (pend && pend->len > 0) {
		buf_get(r);
		if (pend->len > r->size) {
			r->size = pend->len + OUTPUT_PIECE;
			r->buf = realloc(r->buf, r->size);
			if (r->buf == NULL)
				fatal(1, "realloc");
		}
		memcpy(r->buf, pend->val, pend->len);
		r->len = pend->len;
		sink_ready(r->sink, &r->feed, r->len);
	}
	return 0;
}

/*
 * The sinks: clusterd's stdout and stderr, written without ever blocking.
 *
 * A stalled reader (journald, a docker log driver, a pipe nobody reads)
 * must not stop the loop: everything clusterd writes to fd 1 or 2 goes
 * through one bounded queue per open file, written when the file is
 * writable. clusterd's own lines are queued while there is room and
 * counted when there is none; the count is logged as soon as the reader
 * has made room again, where the lines are missing. Relayed worker
 * output (output.c) is never dropped for lack of room: a relay waits its
 * turn and, while it waits, stops reading its worker's pipe, so the
 * worker blocks as it would writing to the file itself.
 *
 * What a flood costs is mostly system calls and wake-ups, so relayed
 * output is queued and written once per turn of the loop (an ev_prepare
 * watcher), after every pipe that was ready has been read, and not tried
 * again before the file says it has room; once a relay has had to wait,
 * the relays wait until the queue is empty, so that a pause and
 * resumption of the workers' pipes (watchers stopped and started) moves a
 * whole queue.
 *
 * Fairness: of the pipes read in one turn, those that gave less are
 * queued first, and the relays that had to wait are served in the order
 * they came, each with what it holds. A line that a quiet worker wrote
 * while another floods is read in the turn the flooder's pipe is read
 * next, at the latest, and queued before that read: it waits behind at
 * most one read of the flooder's output written after it.
 *
 * The descriptors 1 and 2 share their open file description with whoever
 * started clusterd, so O_NONBLOCK is never set on them: a socket (the
 * journal) is written with MSG_DONTWAIT; a pipe or terminal through a
 * second, non-blocking open of it (/proc/self/fd/N); a regular file as it
 * is (it never blocks, and reopening would lose O_APPEND). A pipe that
 * cannot be reopened (another user's) is written a PIPE_BUF at a time
 * after poll() says there is room: no write of that size then blocks,
 * unless another process fills the pipe between the two calls.
 *
 * The journal's native socket (log.c) is a third sink, of entries instead
 * of lines: each is queued with its length in front (a uint32_t) and sent
 * as one datagram. clusterd's own lines and the relays of the files that
 * are the journal go there while it takes them, with the same queue,
 * drops and turns; if it fails for good, lines go to stderr again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "sink.h"
#include "state.h"
#include "strv.h"
#include "util.h"

enum sink_kind { K_CLOSED, K_FILE, K_NONBLOCK, K_SOCKET, K_POLL, K_DGRAM };

#define FRAME	sizeof(uint32_t)	/* a journal entry's length, in front */

struct sink {
	ev_io		 io;		/* EV_WRITE while bytes wait for room */
	ev_prepare	 prep;		/* writes what relays queued this turn */
	const char	*name;		/* "stdout", "stderr" */
	enum sink_kind	 kind;
	int		 fd;		/* what we write to */
	int		 relays;	/* relays using it: write in big batches */
	int		 busy;		/* in sink_flush: no reentry */
	int		 failing;	/* the last write failed */
	int		 blocked;	/* the file was full: wait for EV_WRITE */
	int		 full;		/* a relay found no room: relays wait */
	char		*buf;		/* the queue: buf[off, off + len) */
	size_t		 off, len;
	TAILQ_HEAD(feedq, sink_feed) ready;	/* read this turn, least first */
	struct feedq	 feeds;		/* waiting for room, in turn */
	unsigned long	 lost;		/* lines dropped since last said */
	int		 lost_err;	/* why: 0 no room, else errno */
	double		 lost_told;	/* when the loss was last said, or began */
};

/* Kept free of clusterd's ordinary lines for the count of those dropped,
 * so that it comes out where they are missing. */
#define SAY_ROOM	256

static struct sink	 sinks[3];	/* fd 1, fd 2 (or an alias of fd 1's), journal */
#define JSINK		(&sinks[2])
#define NSINKS		3
static int		 saying;	/* say_lost() is logging */
static int		 exiting;	/* sink_drain_all(): whole lines only */
static struct sink	*by_fd[3];
static struct ev_loop	*loop;

static void
setup(struct sink *k, int fd, const char *name)
{
	struct stat st;
	char path[32];
	int nfd;

	k->name = name;
	k->fd = fd;
	TAILQ_INIT(&k->ready);
	TAILQ_INIT(&k->feeds);
	if (fstat(fd, &st) == -1) {
		/* Closed: never write to whatever gets the number later. */
		k->kind = K_CLOSED;
		k->fd = -1;
		return;
	}
	if (S_ISSOCK(st.st_mode))
		k->kind = K_SOCKET;
	else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		nfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (nfd != -1) {
			k->kind = K_NONBLOCK;
			k->fd = nfd;
		} else if (S_ISFIFO(st.st_mode))
			k->kind = K_POLL;
		else
			k->kind = K_FILE;	/* /dev/null and the like */
	} else
		k->kind = K_FILE;
}

static void	write_cb(struct ev_loop *, ev_io *, int);
static void	prepare_cb(struct ev_loop *, ev_prepare *, int);

void
sink_init(void)
{
	struct stat a, b;

	setup(&sinks[0], STDOUT_FILENO, "stdout");
	by_fd[1] = &sinks[0];
	/* 2>&1, or both the journal: one queue, so lines never interleave. */
	if (sinks[0].kind != K_CLOSED && fstat(STDOUT_FILENO, &a) == 0 &&
	    fstat(STDERR_FILENO, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		by_fd[2] = &sinks[0];
	else {
		setup(&sinks[1], STDERR_FILENO, "stderr");
		by_fd[2] = &sinks[1];
	}
	JSINK->name = "the journal";
	JSINK->fd = log_journal_fd();
	TAILQ_INIT(&JSINK->ready);
	TAILQ_INIT(&JSINK->feeds);
	if (JSINK->fd != -1)
		JSINK->kind = K_DGRAM;
	for (int i = 0; i < NSINKS; i++) {
		ev_io_init(&sinks[i].io, write_cb, sinks[i].fd, EV_WRITE);
		ev_prepare_init(&sinks[i].prep, prepare_cb);
	}
	log_set_writer(sink_log);
	atexit(sink_drain_all);
}

void
sink_start(struct ev_loop *l)
{
	loop = l;
	for (int i = 0; i < NSINKS; i++)
		sink_flush(&sinks[i]);
}

/* Where clusterd's own lines go. */
static struct sink *
log_sink(void)
{
	return JSINK->kind == K_DGRAM ? JSINK : by_fd[2];
}

/* Relays to stderr go to the journal while it takes entries, and so do
 * those to stdout when it is the same file as stderr. */
struct sink *
sink_of(int fd)
{
	struct sink *k = by_fd[fd == 1 ? 1 : 2];

	return k == by_fd[2] ? log_sink() : k;
}

int
sink_journal(const struct sink *k)
{
	return k->kind == K_DGRAM;
}

void
sink_use(struct sink *k, int delta)
{
	k->relays += delta;
}

static unsigned long
count_lines(const char *p, size_t n)
{
	unsigned long lines = 0;
	const char *nl;

	while (n > 0 && (nl = memchr(p, '\n', n)) != NULL) {
		lines++;
		n -= (size_t)(nl + 1 - p);
		p = nl + 1;
	}
	return lines + (n > 0);
}

/* What n queued bytes at p hold: lines, or journal entries. */
static unsigned long
count(const struct sink *k, const char *p, size_t n)
{
	unsigned long entries = 0;
	uint32_t len;

	if (k != JSINK)
		return count_lines(p, n);
	while (n >= FRAME) {
		memcpy(&len, p, FRAME);
		if (len > n - FRAME)
			break;
		entries++;
		p += FRAME + len;
		n -= FRAME + len;
	}
	return entries;
}

static void
lose(struct sink *k, unsigned long lines, int err)
{
	if (lines == 0)
		return;
	if (k->lost == 0)
		k->lost_told = mono_now();	/* a repeated error is said once a minute */
	k->lost += lines;
	metrics_log_dropped((int)(k - sinks), err, lines);
	if (err)
		k->lost_err = err;
}

/* Room at the end of the queue for n bytes, moving the queue down if that
 * makes it. NULL when the queue has no such room. */
static char *
tail(struct sink *k, size_t n)
{
	if (k->len + n > SINK_MAX)
		return NULL;
	if (k->buf == NULL)
		k->buf = xmalloc(SINK_MAX);
	if (k->off + k->len + n > SINK_MAX) {
		memmove(k->buf, k->buf + k->off, k->len);
		k->off = 0;
	}
	return k->buf + k->off + k->len;
}

/* Relays append after what is queued, never moving it: when the end is
 * reached they wait for the queue to empty, which puts it back at 0. */
char *
sink_space(struct sink *k, size_t *room)
{
	size_t end = k->off + k->len;

	*room = 0;
	if (k->full || end >= SINK_RELAY_MAX)
		return NULL;
	if (k->buf == NULL)
		k->buf = xmalloc(SINK_MAX);
	*room = SINK_RELAY_MAX - end;
	return k->buf + end;
}

void
sink_commit(struct sink *k, size_t n)
{
	if (k->kind == K_CLOSED) {
		/* No file to write to: never fill up and hold the workers. */
		lose(k, count(k, k->buf + k->off + k->len, n), EBADF);
		return;
	}
	k->len += n;
	if (loop == NULL)
		sink_flush(k);
	else if (!ev_is_active(&k->prep))
		ev_prepare_start(loop, &k->prep);
}

static void
sink_wait(struct sink *k, struct sink_feed *f)
{
	k->full = 1;
	f->state = FEED_WAITING;
	TAILQ_INSERT_TAIL(&k->feeds, f, entry);
}

void
sink_forget(struct sink *k, struct sink_feed *f)
{
	if (f->state == FEED_READY)
		TAILQ_REMOVE(&k->ready, f, entry);
	else if (f->state == FEED_WAITING)
		TAILQ_REMOVE(&k->feeds, f, entry);
	f->state = FEED_IDLE;
}

void
sink_ready(struct sink *k, struct sink_feed *f, size_t n)
{
	struct sink_feed *g;

	if (f->state != FEED_IDLE)
		return;		/* pumped in its turn anyway */
	if (loop == NULL) {
		if (f->pump(f))
			sink_wait(k, f);
		sink_flush(k);
		return;
	}
	/* Few feeds read in one turn: a walk from the end is short. */
	f->state = FEED_READY;
	f->holds = n;
	TAILQ_FOREACH_REVERSE(g, &k->ready, feedq, entry)
		if (g->holds <= n)
			break;
	if (g != NULL)
		TAILQ_INSERT_AFTER(&k->ready, g, f, entry);
	else
		TAILQ_INSERT_HEAD(&k->ready, f, entry);
	if (!ev_is_active(&k->prep))
		ev_prepare_start(loop, &k->prep);
}

void
sink_last(struct sink *k, struct sink_feed *f)
{
	if (f->state == FEED_WAITING)
		return;		/* behind others that waited first: its turn comes */
	sink_forget(k, f);
	if (k->full) {
		sink_wait(k, f);
		return;
	}
	if (f->pump(f))
		sink_wait(k, f);
}

/* The queue is empty: the waiting relays, in turn, while there is room.
 * Each adds what it holds, at most a read and a partial line. */
static void
serve(struct sink *k)
{
	struct sink_feed *f;

	k->full = 0;
	while (!k->full && (f = TAILQ_FIRST(&k->feeds)) != NULL) {
		sink_forget(k, f);
		if (f->pump(f)) {
			/* Still more than the room: first again next time. */
			TAILQ_INSERT_HEAD(&k->feeds, f, entry);
			f->state = FEED_WAITING;
			k->full = 1;
		}
	}
}

/* How much to write at once. Without relays only clusterd's lines and
 * perhaps workers that share the file write to it: whole lines of at most
 * PIPE_BUF, which a pipe takes whole or not at all, so no other writer's
 * line lands inside one of ours. So too at exit, where the time to write
 * may run out: what comes out then ends with a whole line. */
static size_t
chunk(const struct sink *k)
{
	const char *p = k->buf + k->off, *nl;

	if (k->len <= PIPE_BUF ||
	    (k->relays > 0 && k->kind != K_POLL && !exiting))
		return k->len;
	nl = memrchr(p, '\n', PIPE_BUF);
	return nl ? (size_t)(nl + 1 - p) : PIPE_BUF;
}

/* The journal cannot be written to (not EAGAIN): lines go to stderr from
 * now on. What was queued for the journal, and what the relays that were
 * writing to it add, is counted and said at exit. */
static void
journal_lost(struct sink *k, int err)
{
	if (loop && ev_is_active(&k->io))
		ev_io_stop(loop, &k->io);
	lose(k, count(k, k->buf + k->off, k->len), err);
	k->off = k->len = 0;
	k->kind = K_CLOSED;
	k->fd = -1;
	log_journal_lost();
	k->failing = 1;
	saying = 1;
	log_warnx("the journal's socket: %s; logging to stderr", strerror(err));
	saying = 0;
}

/* One journal entry: 2 sent, 0 no room now, -1 failed. */
static int
send_entry(struct sink *k)
{
	uint32_t len;

	memcpy(&len, k->buf + k->off, FRAME);
	if (log_journal_send(k->fd, k->buf + k->off + FRAME, len) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		journal_lost(k, errno);
		return -1;
	}
	k->off += FRAME + len;
	k->len -= FRAME + len;
	if (k->len == 0)
		k->off = 0;
	return 2;
}

/* One write: 2 wrote all it tried, 1 some (the file is full), 0 none,
 * -1 failed (what was queued is dropped). */
static int
write_some(struct sink *k)
{
	size_t n;
	ssize_t r;

	if (k->kind == K_DGRAM)
		return send_entry(k);
	n = chunk(k);

	if (k->kind == K_POLL) {
		struct pollfd pfd = { .fd = k->fd, .events = POLLOUT };

		if (poll(&pfd, 1, 0) <= 0)
			return 0;	/* POLLERR: the write below says which */
	}
	if (k->kind == K_SOCKET)
		r = send(k->fd, k->buf + k->off, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		r = write(k->fd, k->buf + k->off, n);
	if (r == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (r <= 0) {
		/* No reader, a full disk: what is queued is lost, counted. */
		lose(k, count(k, k->buf + k->off, k->len), r == 0 ? EIO : errno);
		k->off = k->len = 0;
		k->failing = 1;
		return -1;
	}
	k->failing = 0;
	k->off += (size_t)r;
	k->len -= (size_t)r;
	if (k->len == 0)
		k->off = 0;
	return (size_t)r == n ? 2 : 1;
}

static void
say_lost(struct sink *k)
{
	unsigned long n = k->lost;
	int err = k->lost_err;

	k->lost = 0;
	k->lost_err = 0;
	k->lost_told = mono_now();
	saying = 1;
	if (err)
		log_ev(LOG_LVL_WARN, LOG_EV_LOG_DROPPED,
		    "%lu line%s of output to %s dropped: %s", n,
		    n == 1 ? "" : "s", k->name, strerror(err));
	else
		log_ev(LOG_LVL_WARN, LOG_EV_LOG_DROPPED,
		    "%lu log line%s dropped: %s did not take them in time "
		    "(its reader did not keep up)", n, n == 1 ? "" : "s", k->name);
	saying = 0;
}

/* Say what was lost once there is room again: where the lines are missing. */
static int
can_say(const struct sink *k)
{
	return k->lost && !k->failing && !saying && k->len + SAY_ROOM <= SINK_MAX;
}

/* The feeds that read this turn, least first. */
static void
pump_ready(struct sink *k)
{
	struct sink_feed *f;

	while ((f = TAILQ_FIRST(&k->ready)) != NULL) {
		sink_forget(k, f);
		if (f->pump(f))
			sink_wait(k, f);
	}
}

void
sink_flush(struct sink *k)
{
	int r;

	if (k->kind == K_CLOSED || k->busy)
		return;
	k->busy = 1;
	for (;;) {
		if (k->len == 0)
			serve(k);
		if (can_say(k))
			say_lost(k);
		/* Full a moment ago: a write now would most likely fail. */
		if (k->len == 0 || (k->blocked && loop != NULL))
			break;
		if ((r = write_some(k)) == 0 || r == 1) {
			k->blocked = 1;
			break;	/* full: the watcher goes on */
		}
		if (r == 2 && k->len == 0 && loop != NULL) {
			/* All written. What the waiting relays add now is
			 * written once the file says it has room: most likely
			 * not before the reader has taken what we just wrote. */
			serve(k);
			k->blocked = k->len > 0;
			break;
		}
		if (r == -1 && TAILQ_EMPTY(&k->feeds))
			break;
	}
	if (can_say(k))
		say_lost(k);	/* the write made room */
	k->busy = 0;
	if (k->failing && k->lost && mono_now() - k->lost_told >= 60 && log_sink() != k)
		say_lost(k);	/* stdout keeps failing: say so on stderr */
	if (loop == NULL)
		return;
	if (k->len == 0)
		k->blocked = 0;
	/* Left armed while the file stays busy: no epoll_ctl per write. */
	if (k->blocked && !ev_is_active(&k->io))
		ev_io_start(loop, &k->io);
	else if (!k->blocked && ev_is_active(&k->io))
		ev_io_stop(loop, &k->io);
}

static void
write_cb(struct ev_loop *l, ev_io *io, int revents)
{
	struct sink *k = container_of(io, struct sink, io);

	(void)revents;
	/* One write a turn: with what the relays read in this one. */
	k->blocked = 0;
	if (!ev_is_active(&k->prep))
		ev_prepare_start(l, &k->prep);
}

static void
prepare_cb(struct ev_loop *l, ev_prepare *w, int revents)
{
	struct sink *k = container_of(w, struct sink, prep);

	(void)revents;
	pump_ready(k);
	sink_flush(k);
	ev_prepare_stop(l, w);
}

/* log.c's writer: a line is queued whole or dropped and counted. */
void
sink_log(const char *line, size_t n)
{
	struct sink *k = log_sink();
	size_t frame = k->kind == K_DGRAM ? FRAME : 0;
	uint32_t len = (uint32_t)n;
	char *p;

	if (k->kind == K_CLOSED)
		return;
	/* Worker lines read before this line go before it: a worker's last
	 * lines, read when it exits, before "stopped" and the exit, which
	 * may come before the turn ends and its ready feeds are pumped. */
	if (!k->busy && !saying)
		pump_ready(k);
	if (can_say(k) && k->len + SAY_ROOM + frame + n <= SINK_MAX)
		say_lost(k);
	if ((p = tail(k, frame + n + (saying ? 0 : SAY_ROOM))) == NULL) {
		lose(k, 1, 0);
		return;
	}
	memcpy(p, &len, frame);
	memcpy(p + frame, line, n);
	k->len += frame + n;
	sink_flush(k);
}

/* What is still lost and unsaid (exit, or a minute of a failing stdout). */
void
sink_report(void)
{
	for (int i = 0; i < NSINKS; i++)
		if (sinks[i].lost)
			say_lost(&sinks[i]);
}

void
sink_drain_all(void)
{
	double deadline = mono_now() + SINK_EXIT_WAIT;

	loop = NULL;	/* the loop may be gone: no watchers from here on */
	exiting = 1;
	for (int i = 0; i < NSINKS; i++) {
		struct sink *k = &sinks[i];
		struct pollfd pfd = { .fd = k->fd, .events = POLLOUT };
		double left;

		for (;;) {
			pump_ready(k);	/* the loop is gone before its turn ended */
			sink_flush(k);
			if ((k->len == 0 && TAILQ_EMPTY(&k->feeds) &&
			    TAILQ_EMPTY(&k->ready)) ||
			    (left = deadline - mono_now()) <= 0)
				break;
			if (k->kind != K_FILE &&
			    poll(&pfd, 1, (int)(left * 1000) + 1) == -1 &&
			    errno != EINTR)
				break;
		}
	}
}

/*
 * An upgrade: what is still queued (a stalled log reader) goes over in the
 * state, and comes out first in the new image: nothing is lost or
 * reordered. Writing it out here instead could stop the loop. The journal's
 * queue is a record of its own kind ("jsink"), which images that do not
 * know it pass over.
 */
void
sink_save(struct state_out *so)
{
	for (int i = 0; i < NSINKS; i++) {
		struct sink *k = &sinks[i];

		if (k->kind == K_CLOSED || (i == 1 && by_fd[2] == by_fd[1]))
			continue;
		sink_flush(k);
		if (k->len == 0 && k->lost == 0)
			continue;
		state_rec(so, k == JSINK ? "jsink" : "sink");
		state_int(so, "fd", i + 1);
		state_int(so, "lost", (long long)k->lost);
		state_int(so, "lost_err", k->lost_err);
		if (k->len > 0)
			state_bytes(so, "queued", k->buf + k->off, k->len);
	}
}

static void
adopt(const struct state_rec *r, struct sink *k)
{
	const struct state_field *q = rec_field(r, "queued");
	char *p;

	if (k->kind == K_CLOSED)
		return;
	k->lost += (unsigned long)rec_int(r, "lost", 0);
	if (k->lost && !k->lost_err)
		k->lost_err = (int)rec_int(r, "lost_err", 0);
	if (q == NULL || q->len == 0)
		return;
	if ((p = tail(k, q->len)) == NULL) {
		lose(k, count(k, q->val, q->len), 0);
		return;
	}
	memcpy(p, q->val, q->len);
	k->len += q->len;
	sink_flush(k);
}

void
sink_adopt(const struct state_in *in)
{
	const struct state_rec *r;
	size_t i = 0;

	while ((r = state_next(in, "sink", &i)) != NULL)
		adopt(r, by_fd[rec_int(r, "fd", 2) == 1 ? 1 : 2]);
	/* Entries for the journal: lost if this image does not reach it. */
	i = 0;
	while ((r = state_next(in, "jsink", &i)) != NULL) {
		const struct state_field *q = rec_field(r, "queued");

		if (JSINK->kind == K_DGRAM)
			adopt(r, JSINK);
		else if (q != NULL)
			lose(log_sink(), count(JSINK, q->val, q->len), 0);
	}
}

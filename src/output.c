/*
 * Worker output with prefixes. Lines are written whole, each with one
 * write, so lines of different workers never interleave mid-line. A line
 * longer than OUTPUT_LINE_MAX goes out in pieces of that size.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "output.h"
#include "spawn.h"
#include "util.h"

/*
 * Where lines go without ever blocking clusterd: a socket (the journal) is
 * written with MSG_DONTWAIT; a pipe or terminal through a second,
 * non-blocking open of it (/proc/self/fd/N: its own file status flags, so
 * the shared descriptor stays as it was); a regular file as it is (it
 * never blocks, and reopening would lose O_APPEND).
 */
static struct sink {
	int		 fd;
	int		 sock;
	int		 ready;
} sinks[3];

static unsigned long dropped;
static double dropped_told;

static struct sink *
sink(int to)
{
	struct sink *k = &sinks[to];
	struct stat st;
	char path[32];

	if (k->ready)
		return k;
	k->ready = 1;
	k->fd = to;
	if (fstat(to, &st) == -1)
		return k;
	k->sock = S_ISSOCK(st.st_mode);
	if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", to);
		int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

		if (fd != -1)
			k->fd = fd;
	}
	return k;
}

static void
emit(struct output *o, const char *line, size_t n)
{
	struct sink *k = sink(o->to);
	char head[64];
	struct iovec iov[3];
	int hn = snprintf(head, sizeof(head), "worker %u (pid %d): ", o->id, (int)o->pid);
	ssize_t r;

	iov[0] = (struct iovec){ head, (size_t)hn };
	iov[1] = (struct iovec){ (void *)line, n };
	iov[2] = (struct iovec){ "\n", 1 };
	if (k->sock) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };

		r = sendmsg(k->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	} else
		r = writev(k->fd, iov, 3);	/* <= PIPE_BUF: whole or not at all */
	if (r == -1 && errno != EINTR)
		dropped++;
}

void
output_report(int final)
{
	double now = mono_now();

	/* One line a minute at most, and a last one at exit. */
	if (dropped == 0)
		return;
	if (dropped_told == 0)
		dropped_told = now;	/* the minute starts at the first loss */
	if (!final && now - dropped_told < 60)
		return;
	log_warnx("worker output: %lu line%s dropped: the reader of clusterd's "
	    "output did not keep up", dropped, dropped == 1 ? "" : "s");
	dropped = 0;
	dropped_told = now;
}

/* Read what is there and write out the whole lines: 1 more may come,
 * 0 nothing now, -1 end of file. */
static int
drain(struct output *o)
{
	ssize_t n;
	char *start, *nl;

	n = read(o->io.fd, o->buf + o->len, sizeof(o->buf) - o->len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	o->len += (size_t)n;
	start = o->buf;
	while ((nl = memchr(start, '\n', o->len - (size_t)(start - o->buf))) != NULL) {
		emit(o, start, (size_t)(nl - start));
		start = nl + 1;
	}
	o->len -= (size_t)(start - o->buf);
	memmove(o->buf, start, o->len);
	if (o->len == sizeof(o->buf)) {
		emit(o, o->buf, o->len);
		o->len = 0;
	}
	return 1;
}

static void
output_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct output *o = container_of(io, struct output, io);

	(void)revents;
	if (drain(o) == -1)
		output_close(loop, o);
	if (dropped)
		output_report(0);
}

int
output_open(struct output *o, int to, int *child_end)
{
	int p[2];

	memset(o, 0, sizeof(*o));
	o->to = to;
	ev_io_init(&o->io, output_cb, -1, EV_READ);
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	p[0] = spawn_park_fd(p[0]);	/* clusterd's end, kept for the worker's life */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	o->io.fd = p[0];
	*child_end = p[1];
	return 0;
}

void
output_start(struct ev_loop *loop, struct output *o, unsigned id, pid_t pid)
{
	o->id = id;
	o->pid = pid;
	ev_io_set(&o->io, o->io.fd, EV_READ);
	ev_io_start(loop, &o->io);
}

void
output_close(struct ev_loop *loop, struct output *o)
{
	if (o->io.fd < 0)
		return;
	/* What the worker wrote before it died may still be in the pipe. */
	for (int i = 0; i < 64 && drain(o) == 1; i++)
		;
	if (o->len > 0)
		emit(o, o->buf, o->len);
	o->len = 0;
	ev_io_stop(loop, &o->io);
	close(o->io.fd);
	o->io.fd = -1;
}

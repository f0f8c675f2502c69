/*
 * loadgen.c: connection-per-request HTTP load that counts every failure.
 *
 *	loadgen -p PORT [-a 127.0.0.1] [-c CONC] [-d SECONDS] [-T TIMEOUT_MS]
 *	    [-o RECORDS]
 *
 * CONC connections at a time, each a new TCP connection carrying one
 * "GET / HTTP/1.1" with "Connection: close", read to EOF.  A request fails
 * when connect, send or read fails (refused, reset), when the answer is not
 * a whole "200" response, or after TIMEOUT_MS (default 5000).  wrk counts
 * some of these as successes or not at all; a rolling restart needs each.
 *
 * Prints one line of key=value totals (latency percentiles in microseconds)
 * and the number of answers per worker id ("worker N" in the body, as
 * examples/hello.c and hello.js say).  With -o, one line per request:
 * START_US LATENCY_US RESULT, START on CLOCK_MONOTONIC, RESULT 200 or a
 * negative failure class (-1 connect, -2 reset/IO, -3 bad answer,
 * -4 timeout).  SIGTERM or SIGINT ends the run early: no new requests,
 * the ones in flight are finished and counted.
 */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXW	4096

enum { F_CONNECT = 1, F_IO, F_ANSWER, F_TIMEOUT, NFAIL };

struct conn {
	int	 fd;
	int	 sent;
	int64_t	 start;
	size_t	 len;
	char	 buf[1024];
};

static const char req[] =
    "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
static struct sockaddr_in dst = { .sin_family = AF_INET };
static int ep;
static FILE *rec;
static volatile sig_atomic_t ending;
static int64_t *lat;
static size_t nlat, caplat;
static long fails[NFAIL], per_worker[MAXW], noid;

static void
on_signal(int sig)
{
	(void)sig;
	ending = 1;
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void
start(struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN | EPOLLRDHUP,
	    .data.ptr = c };

	c->len = 0;
	c->sent = 0;
	c->start = now_us();
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		perror("loadgen: socket");
		exit(1);
	}
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) == -1 &&
	    errno != EINPROGRESS) {
		/* refused at once: still goes through the event loop */
	}
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == -1) {
		perror("loadgen: epoll_ctl");
		exit(1);
	}
}

static void
finish(struct conn *c, int result)
{
	int64_t t = now_us();

	close(c->fd);
	c->fd = -1;
	if (result == 200) {
		const char *w = memmem(c->buf, c->len, "worker ", 7);

		if (nlat == caplat) {
			caplat = caplat ? caplat * 2 : 65536;
			if ((lat = realloc(lat, caplat * sizeof(*lat))) == NULL)
				exit(1);
		}
		lat[nlat++] = t - c->start;
		if (w != NULL && w[7] >= '0' && w[7] <= '9' &&
		    atoi(w + 7) < MAXW)
			per_worker[atoi(w + 7)]++;
		else
			noid++;
	} else
		fails[-result]++;
	if (rec != NULL)
		fprintf(rec, "%lld %lld %d\n", (long long)c->start,
		    (long long)(t - c->start), result);
}

/* The whole answer is in: a 200 status line and, if it says so, the body. */
static int
judge(struct conn *c)
{
	char *end, *cl;

	c->buf[c->len] = '\0';
	if (c->len < 12 || memcmp(c->buf, "HTTP/1.", 7) != 0 ||
	    memcmp(c->buf + 8, " 200", 4) != 0 ||
	    (end = strstr(c->buf, "\r\n\r\n")) == NULL)
		return -F_ANSWER;
	if ((cl = strcasestr(c->buf, "\r\nContent-Length:")) != NULL &&
	    cl < end && (size_t)atol(cl + 17) > c->len - (size_t)(end + 4 - c->buf))
		return -F_ANSWER;
	return 200;
}

static void
io(struct conn *c, uint32_t events)
{
	int err = 0;
	socklen_t len = sizeof(err);
	ssize_t n;

	if (!c->sent) {
		if ((events & (EPOLLERR | EPOLLHUP)) ||
		    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0) {
			finish(c, -F_CONNECT);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		n = send(c->fd, req, sizeof(req) - 1, MSG_NOSIGNAL);
		if (n != (ssize_t)sizeof(req) - 1) {
			finish(c, -F_IO);
			return;
		}
		c->sent = 1;
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
		    .data.ptr = c };
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
	for (;;) {
		if (c->len >= sizeof(c->buf) - 1) {
			finish(c, -F_ANSWER);
			return;
		}
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == 0)
			finish(c, judge(c));
		else
			finish(c, c->len > 0 && judge(c) == 200 ? 200 : -F_IO);
		return;
	}
}

int
main(int argc, char **argv)
{
	int conc = 16, opt;
	double duration = 5;
	int64_t timeout = 5000000;
	const char *addr = "127.0.0.1", *out = NULL;
	struct epoll_event evs[256];
	struct conn *conns;

	while ((opt = getopt(argc, argv, "a:p:c:d:T:o:")) != -1) {
		switch (opt) {
		case 'a': addr = optarg; break;
		case 'p': dst.sin_port = htons(atoi(optarg)); break;
		case 'c': conc = atoi(optarg); break;
		case 'd': duration = atof(optarg); break;
		case 'T': timeout = atoll(optarg) * 1000; break;
		case 'o': out = optarg; break;
		default:
			fprintf(stderr, "usage: loadgen -p PORT [-a ADDR] [-c CONC]"
			    " [-d SECONDS] [-T TIMEOUT_MS] [-o RECORDS]\n");
			return 2;
		}
	}
	if (dst.sin_port == 0 || conc < 1 || inet_pton(AF_INET, addr,
	    &dst.sin_addr) != 1) {
		fprintf(stderr, "loadgen: need -p PORT and a valid -a, -c\n");
		return 2;
	}
	if (out != NULL && (rec = fopen(out, "w")) == NULL) {
		perror(out);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (conns = calloc(conc, sizeof(*conns))) == NULL)
		return 1;

	int64_t t0 = now_us(), end = t0 + (int64_t)(duration * 1e6), t;
	int live = 0;

	for (int i = 0; i < conc; i++, live++)
		start(&conns[i]);
	while (live > 0) {
		int n = epoll_wait(ep, evs, 256, 10);

		for (int i = 0; i < n; i++)
			io(evs[i].data.ptr, evs[i].events);
		t = now_us();
		if (ending && end > t)
			end = t;
		for (int i = 0; i < conc; i++) {
			struct conn *c = &conns[i];

			if (c->fd >= 0 && t - c->start > timeout)
				finish(c, -F_TIMEOUT);
			if (c->fd == -1) {
				if (t < end)
					start(c);
				else {
					c->fd = -2;	/* done for good */
					live--;
				}
			}
		}
	}
	t = now_us();
	if (rec != NULL)
		fclose(rec);

	long failed = 0;

	for (int i = 1; i < NFAIL; i++)
		failed += fails[i];
	qsort(lat, nlat, sizeof(*lat), cmp64);
#define PCT(p)	(nlat ? (long long)lat[(size_t)((nlat - 1) * (p))] : -1LL)
	printf("ok=%zu failed=%ld connect=%ld io=%ld answer=%ld timeout=%ld "
	    "seconds=%.3f rps=%.1f p50_us=%lld p90_us=%lld p99_us=%lld "
	    "max_us=%lld noid=%ld workers=", nlat, failed, fails[F_CONNECT],
	    fails[F_IO], fails[F_ANSWER], fails[F_TIMEOUT], (t - t0) / 1e6,
	    nlat / ((t - t0) / 1e6), PCT(0.5), PCT(0.9), PCT(0.99), PCT(1.0),
	    noid);
	for (int i = 0, first = 1; i < MAXW; i++)
		if (per_worker[i] > 0) {
			printf("%s%d:%ld", first ? "" : ",", i, per_worker[i]);
			first = 0;
		}
	printf("\n");
	return 0;
}

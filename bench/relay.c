/*
 * relay.c: the log relay benchmark's writers and reader (bench.py, part
 * "relay"). One program, four roles:
 *
 *	relay flood STATE BYTES	write BYTES of 100-byte numbered lines, 16 KiB
 *				per write(), then wait to be killed
 *	relay quiet STATE	one line every 10 ms until the flood is written
 *	relay worker STATE BYTES	under clusterd: worker 0 floods, 1 is quiet
 *	relay sink STATE RESULT	read stdin (prefixed or not), check and time
 *
 * STATE is a small file the roles share through mmap(): when the flood
 * began and ended, how many of its bytes had been handed to write() and
 * returned from it, and a go flag so every contender starts the same way.
 * A quiet line carries the flood bytes whose write() had begun when it
 * was written: what the reader received of the flood beyond that before
 * the quiet line overtook it, measured exactly. The reader writes RESULT
 * (key value lines) once it has the whole flood and the quiet worker's
 * end, then reads on to end of file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define LINE	100		/* bytes per flood line, newline included */
#define BATCH	(16 * 1024)

struct state {
	volatile int	 go;
	volatile int	 flood_done;
	volatile int64_t started;	/* flood bytes whose write() began */
	volatile int64_t written;	/* flood bytes written */
	volatile int64_t t_begin, t_end;	/* CLOCK_MONOTONIC ns */
};

static int64_t
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct state *
state(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	struct state *s;

	if (fd == -1 || ftruncate(fd, 4096) == -1) {
		perror(path);
		exit(1);
	}
	s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (s == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	close(fd);
	return s;
}

static void
wait_go(struct state *s)
{
	while (!s->go)
		usleep(1000);
}

static void
out(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write(1, p, n);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			exit(0);	/* the reader is gone */
		p += r;
		n -= (size_t)r;
	}
}

static void
flood(struct state *s, long long bytes)
{
	static char buf[BATCH + LINE];
	long long seq = 0, lines = bytes / LINE;
	size_t n = 0;

	wait_go(s);
	s->t_begin = now();
	while (seq < lines) {
		/* "F 0000000001 xxx...x\n" */
		int k = snprintf(buf + n, LINE, "F %010lld ", ++seq);

		memset(buf + n + k, 'x', LINE - 1 - (size_t)k);
		buf[n + LINE - 1] = '\n';
		n += LINE;
		if (n >= BATCH || seq == lines) {
			s->started += (int64_t)n;
			out(buf, n);
			s->written += (int64_t)n;
			n = 0;
		}
	}
	s->t_end = now();
	s->flood_done = 1;
	for (;;)
		pause();
}

static void
quiet(struct state *s)
{
	char buf[128];
	long long seq = 0;

	wait_go(s);
	while (!s->flood_done) {
		int n = snprintf(buf, sizeof(buf), "Q %lld %lld %lld\n", ++seq,
		    (long long)s->started, (long long)now());

		out(buf, (size_t)n);
		usleep(10000);
	}
	out("Q END\n", 6);
	for (;;)
		pause();
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void
sink(struct state *s, const char *result, long long bytes, int with_quiet)
{
	static char buf[1 << 18];
	size_t len = 0;
	long long want = bytes / LINE, fl = 0, fbad = 0, ql = 0, qbad = 0;
	long long over_max = 0, prefixed = 0, other = 0, flast = 0, qlast = 0;
	static int64_t lat[100000];
	size_t nlat = 0;
	int qend = !with_quiet, done = 0, eof = 0;
	int64_t t_done = 0, idle_since = 0;

	while (!eof) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		ssize_t r;
		char *line, *nl, *end;

		if (!done && poll(&p, 1, 100) == 0) {
			/* Lines lost for good: give the result anyway. */
			if (s->flood_done && idle_since == 0)
				idle_since = now();
			if (idle_since && now() - idle_since > 2000000000LL)
				goto result;
			continue;
		}
		r = read(0, buf + len, sizeof(buf) - len);
		if (r <= 0) {
			eof = 1;
			if (done)
				break;
			goto result;
		}
		if (done)
			continue;
		idle_since = 0;
		len += (size_t)r;
		line = buf;
		end = buf + len;
		while ((nl = memchr(line, '\n', (size_t)(end - line))) != NULL) {
			char *p = line;

			if (p[0] == 'w' && strncmp(p, "worker ", 7) == 0) {
				char *c = memchr(p, ':', (size_t)(nl - p));

				if (c && c[1] == ' ')
					p = c + 2;
				prefixed++;
			}
			if (p[0] == 'F') {
				/* Gaps show in the count; a torn line or one
				 * out of order here. */
				long long seq = strtoll(p + 2, NULL, 10);

				if (nl - p + 1 != LINE || seq <= flast)
					fbad++;
				flast = seq;
				fl++;
			} else if (p[0] == 'Q' && p[2] == 'E') {
				qend = 1;
			} else if (p[0] == 'Q') {
				long long seq, started, t;

				if (sscanf(p, "Q %lld %lld %lld", &seq, &started, &t) != 3 ||
				    seq <= qlast)
					qbad++;
				else {
					qlast = seq;
					long long over = fl * LINE - started;

					if (over > over_max)
						over_max = over;
					if (nlat < sizeof(lat) / sizeof(lat[0]))
						lat[nlat++] = now() - t;
				}
				ql++;
			} else
				other++;
			line = nl + 1;
		}
		len = (size_t)(end - line);
		memmove(buf, line, len);
		if (fl >= want && qend) {
			t_done = now();
			goto result;
		}
		continue;
result:
		if (!t_done)
			t_done = now();
		{
			FILE *f = fopen(result, "w");

			qsort(lat, nlat, sizeof(lat[0]), cmp64);
			if (f == NULL) {
				perror(result);
				exit(1);
			}
			fprintf(f, "flood_lines %lld\nflood_want %lld\nflood_bad %lld\n"
			    "quiet_lines %lld\nquiet_last %lld\nquiet_bad %lld\nquiet_end %d\n"
			    "overtaken_max %lld\nlat_p50_ns %lld\nlat_max_ns %lld\n"
			    "prefixed %lld\nother %lld\nt_begin %lld\nt_done %lld\n"
			    "flood_t_end %lld\n",
			    fl, want, fbad, ql, qlast, qbad, qend, over_max,
			    nlat ? (long long)lat[nlat / 2] : -1,
			    nlat ? (long long)lat[nlat - 1] : -1, prefixed, other,
			    (long long)s->t_begin, (long long)t_done,
			    (long long)s->t_end);
			fclose(f);
		}
		done = 1;
	}
}

int
main(int argc, char **argv)
{
	const char *id;

	if (argc < 3) {
		fprintf(stderr, "usage: relay flood|quiet|worker|sink STATE ...\n");
		return 2;
	}
	if (strcmp(argv[1], "go") == 0) {
		state(argv[2])->go = 1;
		return 0;
	}
	if (strcmp(argv[1], "worker") == 0) {
		id = getenv("CLUSTERD_WORKER_ID");
		argv[1] = id && strcmp(id, "0") == 0 ? "flood" : "quiet";
	}
	if (strcmp(argv[1], "flood") == 0 && argc == 4)
		flood(state(argv[2]), atoll(argv[3]));
	else if (strcmp(argv[1], "quiet") == 0)
		quiet(state(argv[2]));
	else if (strcmp(argv[1], "sink") == 0 && argc == 6) {
		sink(state(argv[2]), argv[3], atoll(argv[4]), atoi(argv[5]));
		return 0;
	}
	fprintf(stderr, "relay: bad arguments\n");
	return 2;
}

/*
 * clusterd's own log: one line per event on stderr.
 *
 * Under systemd (JOURNAL_STREAM names our stderr) clusterd speaks the
 * journal's native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL): each
 * line is an entry with MESSAGE, PRIORITY and the CLUSTERD_* fields, so
 * that `journalctl CLUSTERD_WORKER_ID=3` finds a worker's lines. When the
 * journal's socket cannot be reached, lines go to stderr with a sd-daemon(3)
 * "<N>" priority instead, as they always did. On a terminal lines carry a
 * timestamp; otherwise (pipes, files, tests) they are plain
 * "clusterd: message" lines, or with log_format = json one JSON object per
 * line. The journal wins over JSON: it keeps the fields itself, and
 * `journalctl -o json` gives them.
 *
 * clusterd hands each line to its sink (sink.c), which never blocks;
 * clusterctl, and clusterd before the sink is set up, write it directly.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define JOURNAL_SOCKET	"/run/systemd/journal/socket"
/* Bigger entries go as a memfd: a datagram's limit is the socket's send
 * buffer, which a sysctl may have made small. */
#define JOURNAL_DGRAM_MAX	(64 * 1024)
#define JOURNAL_SNDBUF	(8 * 1024 * 1024)	/* as sd_journal_send asks */

static int verbosity = LOG_LVL_INFO;
static enum { OUT_PLAIN, OUT_TTY, OUT_JOURNAL, OUT_NATIVE } out = OUT_PLAIN;
static enum log_format format = LOG_FMT_TEXT;
static char *name;		/* CLUSTERD_NAME, "name" */
static int journal = -1;	/* the native socket */
static void (*writer)(const char *, size_t);

/* The stable names of enum log_event: documented in clusterd(8). */
static const char *const event_names[LOG_EV_COUNT] = {
	[LOG_EV_NONE] = NULL,
	[LOG_EV_LISTENING] = "listening",
	[LOG_EV_READY] = "ready",
	[LOG_EV_STOPPING] = "stopping",
	[LOG_EV_STOPPED] = "stopped",
	[LOG_EV_EXITING] = "exiting",
	[LOG_EV_GIVE_UP] = "give_up",
	[LOG_EV_WORKER_STARTED] = "worker_started",
	[LOG_EV_WORKER_READY] = "worker_ready",
	[LOG_EV_WORKER_EXITED] = "worker_exited",
	[LOG_EV_WORKER_STOPPING] = "worker_stopping",
	[LOG_EV_WORKER_KILLED] = "worker_killed",
	[LOG_EV_WORKER_TIMEOUT] = "worker_timeout",
	[LOG_EV_SPAWN_FAILED] = "spawn_failed",
	[LOG_EV_NOTIFY] = "notify",
	[LOG_EV_OOM] = "oom",
	[LOG_EV_MEMORY_HIGH] = "memory_high",
	[LOG_EV_LEFTOVER] = "leftover",
	[LOG_EV_HANG] = "hang",
	[LOG_EV_RECYCLE] = "recycle",
	[LOG_EV_ROLLOUT_STARTED] = "rollout_started",
	[LOG_EV_ROLLOUT_DONE] = "rollout_done",
	[LOG_EV_ROLLOUT_FAILED] = "rollout_failed",
	[LOG_EV_ROLLBACK] = "rollback",
	[LOG_EV_RELOAD] = "reload",
	[LOG_EV_RELOAD_REFUSED] = "reload_refused",
	[LOG_EV_SCALE] = "scale",
	[LOG_EV_UPGRADE] = "upgrade",
	[LOG_EV_LOG_DROPPED] = "log_dropped",
	[LOG_EV_OUTPUT] = "output",
};

static const char *const level_names[] = { "error", "warning", "info", "debug" };
/* sd-daemon priorities: err 3, warning 4, info 6, debug 7 */
static const int prio[] = { 3, 4, 6, 7 };

const char *
log_event_name(enum log_event ev)
{
	return ev > LOG_EV_NONE && ev < LOG_EV_COUNT ? event_names[ev] : NULL;
}

static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/* The native socket, or -1 (no journald listening: "<N>" lines). */
static int
journal_open(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = JOURNAL_SOCKET };
	int fd, sz = JOURNAL_SNDBUF;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	/* Capped by net.core.wmem_max; what does not fit goes as a memfd. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	return fd;
}

void
log_init(void)
{
	if (stderr_is_journal()) {
		out = OUT_JOURNAL;
		if ((journal = journal_open()) != -1)
			out = OUT_NATIVE;
	} else if (isatty(STDERR_FILENO))
		out = OUT_TTY;
}

int
log_journal_fd(void)
{
	return journal;
}

void
log_journal_lost(void)
{
	if (journal == -1)
		return;
	close(journal);
	journal = -1;
	out = OUT_JOURNAL;
}

void
log_set_writer(void (*w)(const char *, size_t))
{
	writer = w;
}

void
log_set_verbosity(int delta)
{
	verbosity = LOG_LVL_INFO + delta;
}

void
log_set_format(enum log_format f)
{
	format = f;
}

enum log_format
log_get_format(void)
{
	return format;
}

void
log_set_name(const char *n)
{
	free(name);
	name = n ? strdup(n) : NULL;
}

/*
 * A bounded writer: what does not fit is not written, but counted, so
 * that the caller learns the length an entry needs.
 */
struct out {
	char	*p;
	size_t	 room, len;
};

static void
put(struct out *o, const void *s, size_t n)
{
	if (o->len + n <= o->room)
		memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
putf(struct out *o, const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(o, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* The length of the valid UTF-8 sequence at s (1-4), or 0 if it is not one. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates, beyond U+10FFFF. */
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return len;
}

/* A JSON string: quotes, backslashes and control characters escaped,
 * bytes that are not UTF-8 replaced by U+FFFD, so any line is valid JSON. */
static void
json_str(struct out *o, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0, k;

	put(o, "\"", 1);
	while (i < n) {
		unsigned char c = p[i];
		const char *esc = NULL;
		char u[8];

		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f && c < 0x80) {
			run++, i++;
			continue;
		}
		if (c >= 0x80 && (k = utf8_len(p + i, n - i)) > 0) {
			run += k, i += k;
			continue;
		}
		put(o, p + i - run, run);
		run = 0;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			if (c >= 0x80)
				esc = "\\ufffd";
			else {
				snprintf(u, sizeof(u), "\\u%04x", c);
				esc = u;
			}
		}
		puts_(o, esc);
		i++;
	}
	put(o, p + i - run, run);
	put(o, "\"", 1);
}

/* "time":"2026-12-05T06:30:00.123456Z" (RFC 3339, UTC) */
static void
json_time(struct out *o)
{
	struct timespec ts;
	struct tm tm;
	char buf[40];
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%06ldZ", ts.tv_nsec / 1000);
	puts_(o, "{\"time\":\"");
	puts_(o, buf);
	put(o, "\"", 1);
}

/* {"time":...,"level":...,"event":... : what comes first on a line. */
static void
json_head(struct out *o, enum log_level lvl, const struct log_fields *f)
{
	const char *ev = log_event_name(f->event);

	json_time(o);
	putf(o, ",\"level\":\"%s\"", level_names[lvl]);
	if (ev)
		putf(o, ",\"event\":\"%s\"", ev);
}

/* ...,"worker_id":3,"worker_pid":1234,"generation":2,"name":"web"} */
static void
json_tail(struct out *o, const struct log_fields *f)
{
	if (f->worker >= 0)
		putf(o, ",\"worker_id\":%d", f->worker);
	if (f->pid > 0)
		putf(o, ",\"worker_pid\":%d", (int)f->pid);
	if (f->generation > 0)
		putf(o, ",\"generation\":%u", f->generation);
	if (name) {
		puts_(o, ",\"name\":");
		json_str(o, name, strlen(name));
	}
	puts_(o, "}\n");
}

/* KEY=value, or when the value holds a newline the binary-safe form:
 * KEY, newline, its length as 64-bit little endian, the value, newline. */
static void
jfield(struct out *o, const char *key, const char *v, size_t n)
{
	puts_(o, key);
	if (memchr(v, '\n', n) == NULL) {
		put(o, "=", 1);
		put(o, v, n);
	} else {
		unsigned char len[8];
		uint64_t l = n;

		for (int i = 0; i < 8; i++)
			len[i] = (unsigned char)(l >> (8 * i));
		put(o, "\n", 1);
		put(o, len, 8);
		put(o, v, n);
	}
	put(o, "\n", 1);
}

static void
jfieldf(struct out *o, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
jfieldf(struct out *o, const char *key, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		jfield(o, key, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void
journal_fields(struct out *o, const struct log_fields *f)
{
	const char *ev = log_event_name(f->event);

	if (ev)
		jfield(o, "CLUSTERD_EVENT", ev, strlen(ev));
	if (f->worker >= 0)
		jfieldf(o, "CLUSTERD_WORKER_ID", "%d", f->worker);
	if (f->pid > 0)
		jfieldf(o, "CLUSTERD_WORKER_PID", "%d", (int)f->pid);
	if (f->generation > 0)
		jfieldf(o, "CLUSTERD_GENERATION", "%u", f->generation);
	if (name)
		jfield(o, "CLUSTERD_NAME", name, strlen(name));
}

int
log_journal_send(int fd, const char *entry, size_t n)
{
	union {
		struct cmsghdr	cm;
		char		buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr mh = { .msg_control = c.buf, .msg_controllen = sizeof(c.buf) };
	struct cmsghdr *cm;
	int mfd, r, e;

	if (n <= JOURNAL_DGRAM_MAX) {
		if (send(fd, entry, n, MSG_DONTWAIT | MSG_NOSIGNAL) != -1)
			return 0;
		if (errno != EMSGSIZE && errno != ENOBUFS)
			return -1;
	}
	/* Too big for a datagram: the entry in a sealed memfd, and the
	 * datagram carries only that descriptor. */
	if ((mfd = memfd_create("clusterd-journal", MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1)
		return -1;
	for (size_t off = 0; off < n; ) {
		ssize_t w = write(mfd, entry + off, n - off);

		if (w <= 0) {
			e = w == 0 ? EIO : errno;
			close(mfd);
			errno = e;
			return -1;
		}
		off += (size_t)w;
	}
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
	    F_SEAL_SEAL) == -1) {
		e = errno;
		close(mfd);
		errno = e;
		return -1;
	}
	memset(c.buf, 0, sizeof(c.buf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &mfd, sizeof(int));
	r = (int)sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	e = errno;
	close(mfd);
	errno = e;
	return r == -1 ? -1 : 0;
}

static void __attribute__((format(printf, 4, 0)))
vlog(enum log_level lvl, int errnum, const struct log_fields *f, const char *fmt,
    va_list ap)
{
	/* Room for a message escaped in full (\u0001 for each byte). */
	char msg[2048], buf[6 * 2048 + 512];
	struct out o = { .p = buf, .room = sizeof(buf) - 1 };
	size_t m = 0;

	if ((int)lvl > verbosity)
		return;
	m = (size_t)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum && m < sizeof(msg))
		m += (size_t)snprintf(msg + m, sizeof(msg) - m, ": %s", strerror(errnum));
	if (m >= sizeof(msg))
		m = sizeof(msg) - 1;
	if (out == OUT_NATIVE) {
		char full[sizeof(msg) + 16];
		int fl = snprintf(full, sizeof(full), "clusterd: %s", msg);

		/* "clusterd: " as the stream had it: what was found stays so. */
		jfield(&o, "MESSAGE", full, fl > 0 ? (size_t)fl : 0);
		jfieldf(&o, "PRIORITY", "%d", prio[lvl]);
		jfield(&o, "SYSLOG_IDENTIFIER", "clusterd", 8);
		if (errnum)
			jfieldf(&o, "ERRNO", "%d", errnum);
		journal_fields(&o, f);
		if (writer)
			writer(buf, o.len);
		else
			(void)log_journal_send(journal, buf, o.len);
		return;
	}
	if (format == LOG_FMT_JSON) {
		json_head(&o, lvl, f);
		puts_(&o, ",\"message\":");
		json_str(&o, msg, m);
		json_tail(&o, f);
	} else {
		if (out == OUT_JOURNAL) {
			putf(&o, "<%d>", prio[lvl]);
		} else if (out == OUT_TTY) {
			struct timespec ts;
			struct tm tm;
			char t[32];

			clock_gettime(CLOCK_REALTIME, &ts);
			localtime_r(&ts.tv_sec, &tm);
			strftime(t, sizeof(t), "%H:%M:%S", &tm);
			putf(&o, "%s.%03ld ", t, ts.tv_nsec / 1000000);
		}
		puts_(&o, "clusterd: ");
		put(&o, msg, m);
		put(&o, "\n", 1);
	}
	if (o.len > sizeof(buf) - 1)
		return;		/* cannot be: buf holds msg escaped in full */
	if (writer)
		writer(buf, o.len);
	else	/* one write per line: lines of several processes never interleave */
		(void)!write(STDERR_FILENO, buf, o.len);
}

static const struct log_fields no_fields = { .worker = -1 };

#define LOGFN(name, lvl, witherr)				\
void								\
name(const char *fmt, ...)					\
{								\
	int e = errno;						\
	va_list ap;						\
								\
	va_start(ap, fmt);					\
	vlog(lvl, witherr ? e : 0, &no_fields, fmt, ap);	\
	va_end(ap);						\
	errno = e;						\
}

LOGFN(log_err, LOG_LVL_ERR, 1)
LOGFN(log_errx, LOG_LVL_ERR, 0)
LOGFN(log_warn, LOG_LVL_WARN, 1)
LOGFN(log_warnx, LOG_LVL_WARN, 0)
LOGFN(log_info, LOG_LVL_INFO, 0)
LOGFN(log_debug, LOG_LVL_DEBUG, 0)

void
log_with(enum log_level lvl, const struct log_fields *f, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, 0, f, fmt, ap);
	va_end(ap);
	errno = e;
}

void
fatal(int status, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, e, &no_fields, fmt, ap);
	va_end(ap);
	exit(status);
}

void
fatalx(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, 0, &no_fields, fmt, ap);
	va_end(ap);
	exit(status);
}

/* A leading "<N>" (sd-daemon(3)) sets the priority, as the journal does
 * for a stream; the prefix is taken off. -1: none. */
static int
line_prio(const char **line, size_t *n)
{
	const char *s = *line;

	if (*n >= 3 && s[0] == '<' && s[1] >= '0' && s[1] <= '7' && s[2] == '>') {
		*line += 3;
		*n -= 3;
		return s[1] - '0';
	}
	return -1;
}

size_t
log_output_line(enum log_out kind, char *dst, size_t room, const struct log_fields *f,
    const char *ident, int stream, const char *line, size_t n)
{
	struct out o = { .p = dst, .room = room };
	const char *sname = stream == 1 ? "stdout" : "stderr";
	int p;

	if (kind == LOG_OUT_JOURNAL) {
		p = line_prio(&line, &n);
		jfield(&o, "MESSAGE", line, n);
		jfieldf(&o, "PRIORITY", "%d", p >= 0 ? p : 6);
		if (ident)
			jfield(&o, "SYSLOG_IDENTIFIER", ident, strlen(ident));
		if (f->pid > 0)
			jfieldf(&o, "SYSLOG_PID", "%d", (int)f->pid);
		jfield(&o, "CLUSTERD_STREAM", sname, 6);
		journal_fields(&o, f);
	} else {
		json_head(&o, LOG_LVL_INFO, f);
		putf(&o, ",\"stream\":\"%s\",\"message\":", sname);
		json_str(&o, line, n);
		json_tail(&o, f);
	}
	return o.len;
}

/*
 * clusterd's own log: one line per event on stderr.
 *
 * Under systemd (JOURNAL_STREAM names our stderr) each line starts with a
 * sd-daemon(3) "<N>" priority so the journal files it at the right level;
 * on a terminal lines carry a timestamp; otherwise (pipes, files, tests)
 * they are plain "clusterd: message" lines.
 *
 * clusterd hands each line to its sink (sink.c), which never blocks;
 * clusterctl, and clusterd before the sink is set up, write it directly.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int verbosity = LOG_LVL_INFO;
static enum { OUT_PLAIN, OUT_TTY, OUT_JOURNAL } out = OUT_PLAIN;
static void (*writer)(const char *, size_t);

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

void
log_init(void)
{
	if (stderr_is_journal())
		out = OUT_JOURNAL;
	else if (isatty(STDERR_FILENO))
		out = OUT_TTY;
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

static void __attribute__((format(printf, 3, 0)))
vlog(enum log_level lvl, int errnum, const char *fmt, va_list ap)
{
	/* sd-daemon priorities: err 3, warning 4, info 6, debug 7 */
	static const int prio[] = { 3, 4, 6, 7 };
	char buf[2048];
	size_t n = 0;

	if ((int)lvl > verbosity)
		return;
	if (out == OUT_JOURNAL) {
		n += snprintf(buf, sizeof(buf), "<%d>", prio[lvl]);
	} else if (out == OUT_TTY) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n += strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
		n += snprintf(buf + n, sizeof(buf) - n, ".%03ld ",
		    ts.tv_nsec / 1000000);
	}
	n += snprintf(buf + n, sizeof(buf) - n, "clusterd: ");
	if (n < sizeof(buf))
		n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (errnum && n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(errnum));
	if (n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (writer)
		writer(buf, n);
	else	/* one write per line: lines of several processes never interleave */
		(void)!write(STDERR_FILENO, buf, n);
}

#define LOGFN(name, lvl, witherr)				\
void								\
name(const char *fmt, ...)					\
{								\
	int e = errno;						\
	va_list ap;						\
								\
	va_start(ap, fmt);					\
	vlog(lvl, witherr ? e : 0, fmt, ap);			\
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
fatal(int status, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, e, fmt, ap);
	va_end(ap);
	exit(status);
}

void
fatalx(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, 0, fmt, ap);
	va_end(ap);
	exit(status);
}

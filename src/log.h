/* One place that writes clusterd's own messages. */
#ifndef CLUSTERD_LOG_H
#define CLUSTERD_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* log_format: plain lines (the default) or one JSON object per line. */
enum log_format { LOG_FMT_TEXT, LOG_FMT_JSON };

/*
 * What a line reports, for machines: CLUSTERD_EVENT in the journal, "event"
 * in JSON. A fixed set, listed in clusterd(8); a name, once published,
 * keeps its meaning. LOG_EV_NONE: a line that reports no event.
 */
enum log_event {
	LOG_EV_NONE,
	LOG_EV_LISTENING, LOG_EV_READY, LOG_EV_STOPPING, LOG_EV_STOPPED,
	LOG_EV_EXITING, LOG_EV_GIVE_UP,
	LOG_EV_WORKER_STARTED, LOG_EV_WORKER_READY, LOG_EV_WORKER_EXITED,
	LOG_EV_WORKER_STOPPING, LOG_EV_WORKER_KILLED, LOG_EV_WORKER_TIMEOUT,
	LOG_EV_SPAWN_FAILED, LOG_EV_NOTIFY, LOG_EV_OOM, LOG_EV_MEMORY_HIGH,
	LOG_EV_LEFTOVER, LOG_EV_HANG, LOG_EV_RECYCLE, LOG_EV_ROLLOUT_STARTED,
	LOG_EV_ROLLOUT_DONE, LOG_EV_ROLLOUT_FAILED, LOG_EV_ROLLBACK,
	LOG_EV_RELOAD, LOG_EV_RELOAD_REFUSED, LOG_EV_SCALE, LOG_EV_UPGRADE,
	LOG_EV_LOG_DROPPED, LOG_EV_OUTPUT,
	LOG_EV_COUNT
};

/* The fields of a line beside its text. */
struct log_fields {
	enum log_event	 event;
	int		 worker;	/* CLUSTERD_WORKER_ID, -1: none */
	pid_t		 pid;		/* CLUSTERD_WORKER_PID, 0: none */
	unsigned	 generation;	/* CLUSTERD_GENERATION, 0: none */
};

void log_init(void);
void log_set_verbosity(int delta);	/* -q: -1, -v: +1 */
/* log_format (the file's on reload, or --log-format); the cluster's name. */
void log_set_format(enum log_format);
void log_set_name(const char *);
/* Where whole lines go instead of write(2) on stderr (clusterd: sink.c).
 * With the journal's native protocol a "line" is one entry, no newline. */
void log_set_writer(void (*)(const char *, size_t));
/* The journal's native socket (connected, non-blocking), or -1: lines go
 * to stderr. log_journal_lost(): it failed for good, stderr from now on. */
int  log_journal_fd(void);
void log_journal_lost(void);
/* Send one entry on the journal socket: as a datagram, or a sealed memfd
 * when it is too big for one. 0, or -1 with errno (EAGAIN: no room). */
int  log_journal_send(int fd, const char *entry, size_t n);
const char *log_event_name(enum log_event);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same text with fields: an event, its generation, or its worker. */
void log_with(enum log_level, const struct log_fields *, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define log_ev(lvl, ev, ...) \
	log_with((lvl), &(const struct log_fields){ .event = (ev), .worker = -1 }, \
	    __VA_ARGS__)
#define log_gen(lvl, ev, gen, ...) \
	log_with((lvl), &(const struct log_fields){ .event = (ev), .worker = -1, \
	    .generation = (gen) }, __VA_ARGS__)
#define log_worker(lvl, ev, id, wpid, gen, ...) \
	log_with((lvl), &(const struct log_fields){ .event = (ev), \
	    .worker = (int)(id), .pid = (wpid), .generation = (gen) }, __VA_ARGS__)
/* Log at error level (appending strerror(errno) for fatal()) and exit with status. */
void fatal(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
void fatalx(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/*
 * A worker's output line (log_prefix) in the current format, for output.c:
 * LOG_OUT_JSON a JSON object and its newline, LOG_OUT_JOURNAL one journal
 * entry. Written to dst only if it fits in room; returns the length it
 * takes either way. stream: 1 stdout, 2 stderr. ident: SYSLOG_IDENTIFIER.
 */
enum log_out { LOG_OUT_TEXT, LOG_OUT_JSON, LOG_OUT_JOURNAL };
enum log_format log_get_format(void);
size_t log_output_line(enum log_out, char *dst, size_t room,
    const struct log_fields *, const char *ident, int stream,
    const char *line, size_t n);

#endif

/*
 * clusterd's stdout and stderr, written without ever blocking the loop:
 * one bounded queue per open file, fed by clusterd's own log lines and by
 * the log_prefix relays (output.c), flushed when the file is writable.
 */
#ifndef CLUSTERD_SINK_H
#define CLUSTERD_SINK_H

#include <ev.h>
#include <stddef.h>
#include <sys/queue.h>

/* The queue holds at most SINK_MAX bytes. Relayed output fills it up to
 * SINK_RELAY_MAX, so that clusterd's own lines always find room above it
 * (64 KiB); once a relay found no room, relays add again only when the
 * queue is empty: each pause of the workers' pipes then moves 1 MiB, not
 * a line, and four reads of an enlarged pipe (256 KiB, output.c) with
 * their prefixes fit in one batch. */
#define SINK_RELAY_MAX	(1024 * 1024)
#define SINK_MAX	(SINK_RELAY_MAX + 64 * 1024)

struct sink;

/* A producer of relayed output (a relay). It tells the sink when it has
 * read something (sink_ready); the sink then calls pump(), which adds to
 * the queue what fits and returns 1 if it holds more for want of room,
 * 0 if not. A feed left holding more waits, and is pumped again, in the
 * order they came, when the queue is empty. */
enum feed_state { FEED_IDLE, FEED_READY, FEED_WAITING };
struct sink_feed {
	TAILQ_ENTRY(sink_feed) entry;
	enum feed_state	 state;
	size_t		 holds;		/* bytes read, when ready */
	int		(*pump)(struct sink_feed *);
};

/* Set up the sinks of fds 1 and 2 and route log.c's lines through 2's. */
void		 sink_init(void);
/* From now on a blocked sink is flushed by a watcher of this loop. */
void		 sink_start(struct ev_loop *);
/* The sink of fd 1 or 2: one and the same when both are one file; the
 * journal's when that file is stderr and clusterd speaks to the journal. */
struct sink	*sink_of(int fd);
/* Its queue holds journal entries, each after its length (a uint32_t). */
int		 sink_journal(const struct sink *);
/* A relay starts (+1) or ends (-1) using the sink. */
void		 sink_use(struct sink *, int delta);
/* Where a relay may add bytes now, and how many (0: wait your turn). */
char		*sink_space(struct sink *, size_t *room);
/* The n bytes are queued: written before the loop next waits. */
void		 sink_commit(struct sink *, size_t n);
/* f holds n bytes to pump: before the loop next waits, the feeds that
 * hold less first (at once when the loop is not running). */
void		 sink_ready(struct sink *, struct sink_feed *, size_t n);
/* f is a closing relay's last bytes: queued now, unless relays wait for
 * room, so they come before what clusterd logs next (its "stopped" at
 * exit comes after the loop, when no turn would pump them). */
void		 sink_last(struct sink *, struct sink_feed *);
/* f is going away: out of the sink's lists. */
void		 sink_forget(struct sink *, struct sink_feed *);
/* Serve waiting feeds and write what is queued, as far as it goes now. */
void		 sink_flush(struct sink *);
/* log.c's writer: queue one of clusterd's lines, or count it dropped. */
void		 sink_log(const char *, size_t);
struct state_out;
struct state_in;
/* An upgrade: what is still queued, carried over to be written first. */
void		 sink_save(struct state_out *);
void		 sink_adopt(const struct state_in *);
/* Log the lines dropped and not yet said (at exit). */
void		 sink_report(void);
/* Write what is queued, waiting up to SINK_EXIT_WAIT (atexit does this). */
void		 sink_drain_all(void);
#define SINK_EXIT_WAIT	1.0	/* seconds */

#endif

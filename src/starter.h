/*
 * Worker starts, run from the loop a slice of its time at a time: each
 * start waits for its child's exec (CLONE_VFORK), so a thousand in one
 * callback would leave signals and control requests unanswered for a
 * second or more.
 */
#ifndef CLUSTERD_STARTER_H
#define CLUSTERD_STARTER_H

#include <ev.h>
#include <sys/queue.h>

/* A start waiting for its turn, embedded in whoever wants it. */
struct start {
	TAILQ_ENTRY(start) entry;
	void		(*run)(struct start *);
	int		 queued;
};

struct starter {
	struct ev_loop	*loop;
	TAILQ_HEAD(, start) queue;
	ev_timer	 timer;		/* runs them a slice at a time */
};

void	starter_init(struct starter *, struct ev_loop *);
void	start_init(struct start *, void (*run)(struct start *));
/* Queue a start; one already queued keeps its place. */
void	starter_queue(struct starter *, struct start *);
void	starter_unqueue(struct starter *, struct start *);
void	starter_clear(struct starter *);

#endif

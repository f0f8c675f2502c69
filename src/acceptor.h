/*
 * A listening socket that the event loop accepts from: the control
 * socket's and the metrics endpoint's. Out of descriptors it stops
 * accepting for a while instead of spinning on a readable backlog.
 */
#ifndef CLUSTERD_ACCEPTOR_H
#define CLUSTERD_ACCEPTOR_H

#include <ev.h>

struct acceptor;
/* Own fd, a connection accepted non-blocking and close-on-exec (or close it). */
typedef void acceptor_take_fn(struct acceptor *, int fd);
/* Whether one more connection can be taken now; when not, accepting waits
 * for acceptor_resume(). */
typedef int acceptor_room_fn(struct acceptor *);

struct acceptor {
	struct ev_loop	*loop;
	ev_io		 io;		/* the listening socket; fd -1 when none */
	ev_timer	 pause;		/* out of descriptors: when to try again */
	int		 paused;	/* said so, and not yet that it accepts again */
	int		 full;		/* room() said no */
	int		 batch;		/* accepts per wake-up, so a flood cannot starve the rest */
	const char	*what;		/* for the log: "control socket" */
	acceptor_take_fn *take;
	acceptor_room_fn *room;		/* NULL: always room */
};

void	acceptor_init(struct acceptor *, struct ev_loop *, const char *what,
	    int batch, acceptor_take_fn *, acceptor_room_fn *);
/* Accept on fd from now on (-1: on nothing). The socket before it is the
 * caller's to close. */
void	acceptor_set_fd(struct acceptor *, int fd);
/* Stop accepting, a pause included; the socket is the caller's to close. */
void	acceptor_stop(struct acceptor *);
/* Stop, and close the socket. */
void	acceptor_close(struct acceptor *);
/* A connection went: if accepting waits for a descriptor or for room, try now. */
void	acceptor_resume(struct acceptor *);

#endif

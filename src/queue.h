/*
 * What the kernel says about a listening socket's load: its accept queue
 * (connections waiting for a worker's accept()), the queue's limit, the
 * connections it dropped for want of room, and how many accepted
 * connections are open on a port. Read on request; nothing here keeps
 * state or polls.
 */
#ifndef CLUSTERD_QUEUE_H
#define CLUSTERD_QUEUE_H

struct queue_stat {
	int		 depth;		/* connections waiting to be accepted */
	int		 limit;		/* the backlog listen() gave it */
	long long	 drops;		/* dropped for a full queue; -1 unknown */
};

/* The figures of a listening stream socket (TCP: TCP_INFO and SO_MEMINFO;
 * UNIX: sock_diag). -1 for anything else (UDP, not listening). */
int	queue_read(int fd, struct queue_stat *);
/* Just the limit, or -1. */
int	queue_limit(int fd);
/* Accepted TCP connections still open whose local port is port, on
 * either address family (sock_diag): what the workers have in hand.
 * -1 when the kernel does not say. */
int	queue_inflight(int port);

#endif

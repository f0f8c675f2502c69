/*
 * Every bound socket, shared by the generations that name it: a reload or
 * a rolling restart keeps a socket whose address stays, and closes one
 * when the last generation that had it goes.
 */
#ifndef CLUSTERD_SOCKPOOL_H
#define CLUSTERD_SOCKPOOL_H

#include <stddef.h>

#include "listen.h"
#include "strv.h"

struct sockpool {
	struct listener	**v;
	size_t		 n;
	int		 quiet;		/* clusterd is stopping: no "closing" lines */
};

/* A reference to the bound socket for sc: the one the pool has (its
 * options changed in place if they differ), or a new one. NULL on error,
 * with the message pushed to errors. */
struct listener	*sockpool_get(struct sockpool *, const struct sock_cfg *sc,
		    struct strv *errors);
/* Drop a reference; the last one closes the socket. */
void		 sockpool_put(struct sockpool *, struct listener *);
/* From now on sockets close without saying so. */
void		 sockpool_quiet(struct sockpool *);
/* The pool's own memory, once every reference is put. */
void		 sockpool_free(struct sockpool *);

/* Reuseport mode, over every socket of the pool that has per-slot
 * sockets: whether there is one; connections waiting in slot id's own
 * queues; steer new connections to the live slots; close slot id's. */
int		 sockpool_reuseport(const struct sockpool *);
int		 sockpool_queued(const struct sockpool *, unsigned id);
void		 sockpool_steer(struct sockpool *, const unsigned *live, size_t nlive);
void		 sockpool_slot_close(struct sockpool *, unsigned id);

#endif

/* The metrics endpoint's listening socket: see mssock.c. */
#ifndef CLUSTERD_MSSOCK_H
#define CLUSTERD_MSSOCK_H

#include <stddef.h>
#include <sys/types.h>

/* A bound socket and, for a UNIX socket file, the lock that owns its path. */
struct ms_sock {
	int		 fd;		/* -1: none */
	char		*addr;		/* as configured */
	char		 bound[160];	/* as bound: the port 0 picked */
	char		*path;		/* a UNIX socket file, or NULL */
	int		 lock;
	dev_t		 dev;
	ino_t		 ino;
};

void	mssock_init(struct ms_sock *);
/* Close it, and release its path's lock (the file goes with it). */
void	mssock_close(struct ms_sock *);
/* Bind and listen on addr; -1 with err set (inuse: the address is taken). */
int	mssock_open(struct ms_sock *, const char *addr, int *inuse, char *err, size_t len);

#endif

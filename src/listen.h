/*
 * Listening sockets: binding with the [socket:NAME] options, adopting the
 * service manager's, changing options in place, and tidying up (stale and
 * owned UNIX socket files).
 */
#ifndef CLUSTERD_LISTEN_H
#define CLUSTERD_LISTEN_H

#include <sys/types.h>

#include "addr.h"

struct listener {
	struct sock_cfg	*cfg;		/* its own copy: configs come and go */
	struct addr	 addr;		/* cfg's, or its IPv4 fallback */
	char		 bound[160];	/* the bound address, formatted */
	int		 fd;
	int		 port;		/* bound port, 0 for UNIX */
	dev_t		 dev;		/* the UNIX socket file we created */
	ino_t		 ino;
	int		 lock;		/* its PATH.lock, held while it lives, or -1 */
	int		 refs;		/* generations using it (sockpool.c) */
	int		 stored;	/* fd is in the service manager's fd store */
	/* Reuseport mode (steer.c's): fd is slot 0's socket; the others by
	 * slot id. */
	int		*slot_fd;	/* -1 where not open */
	size_t		 nslot_fd;
	unsigned	*group;		/* the kernel's group order: index -> slot */
	size_t		 ngroup;
	size_t		 steer_left;	/* ready slots the program leaves out */
	/* The accept queue's limit as clusterd left it (or adopted it): a
	 * worker's own listen() changes it for every worker (load.c warns). */
	int		 qlimit;
	int		 qlimit_warned;	/* the limit last warned of */
};

/* Bind and listen, or adopt the service manager's socket (sc->adopt_fd)
 * or the one clusterd stored with it (inherit.c); on error returns -1 and
 * listener_error() says "ADDR: reason". */
int	 listener_open(struct listener *, const struct sock_cfg *);
const char *listener_error(void);
/* Another socket with l's address and options (reuseport mode). */
int	 listener_open_more(const struct listener *l);
/* Apply sc's options to l's bound sockets; -1 with listener_error(). */
int	 listener_update(struct listener *, const struct sock_cfg *);
/* Whether the socket clusterd stored, fd, is the one sc asks for: the
 * same type and address (a configured port 0 takes any), reuseport and
 * IPV6_V6ONLY; if not, why says how it differs. */
int	 listener_fits(int fd, const struct sock_cfg *sc, char *why, size_t);
/* Whether l's socket may go to the fd store: not a UNIX socket file,
 * which clusterd removes when it exits. */
int	 listener_storable(const struct listener *l);
/* Close l's own socket. The reuseport ones are steer.c's: steer_free()
 * first. */
void	 listener_close(struct listener *);

#endif

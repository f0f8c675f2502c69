/*
 * Sockets clusterd itself was given by a service manager (sd_listen_fds(3):
 * LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES, LISTEN_PIDFDID), and the ones it
 * keeps in the manager's fd store (FDSTORE=1, sd_pid_notify_with_fds(3))
 * to get them back after a restart.
 */
#ifndef CLUSTERD_INHERIT_H
#define CLUSTERD_INHERIT_H

#include <sys/socket.h>

struct inherited {
	int			 fd;
	char			*name;		/* NULL when the manager gave none */
	int			 type;		/* SO_TYPE */
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 used;
	int			 carried;	/* by an upgrade, not a service manager */
	int			 stored;	/* ours, from the fd store */
	int			 repush;	/* its name was removed from the store */
};

/* The FDNAME of socket NAME in the fd store is FDSTORE_PREFIX NAME: no
 * unit name or socket name has a '/', so a socket unit's never looks
 * like one (FileDescriptorName= aside, which nobody sets so). */
#define FDSTORE_PREFIX	"clusterd/"

/* Read (once) what the environment says is ours; the fds get CLOEXEC. */
void		 inherit_scan(void);
size_t		 inherit_count(void);
/* One more, carried by an upgrade (the environment is not read then). */
int		 inherit_add(int fd, const char *name);
struct inherited *inherit_get(size_t i);

/* The [socket:NAME] a stored socket was: NAME. */
const char	*inherit_stored_sock(const struct inherited *);
/* A stored socket that no configured socket takes as it is: closed, and
 * removed from the store, logging why. */
void		 inherit_drop_stored(struct inherited *, const char *why);
/* The stored socket merge.c kept for socket NAME, now the caller's, or
 * -1. The fd store keeps it, unless it must be stored again (repush). */
int		 inherit_take_stored(const char *name, int *repush);

/* Keep fd in the service manager's fd store as socket NAME's; 1 if it was
 * sent, 0 when there is no manager (no NOTIFY_SOCKET) or it could not be
 * (logged). */
int		 fdstore_put(const char *name, int fd);
/* Remove socket NAME's from the fd store (every fd of that FDNAME). */
void		 fdstore_remove(const char *name);

#endif

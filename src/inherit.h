/*
 * Sockets clusterd itself was given by a service manager (sd_listen_fds(3):
 * LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES, LISTEN_PIDFDID).
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
};

/* Read (once) what the environment says is ours; the fds get CLOEXEC. */
void		 inherit_scan(void);
size_t		 inherit_count(void);
/* One more, carried by an upgrade (the environment is not read then). */
int		 inherit_add(int fd, const char *name);
struct inherited *inherit_get(size_t i);

#endif

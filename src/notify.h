/* sd_notify(3) messages from workers, one private datagram socket each. */
#ifndef CLUSTERD_NOTIFY_H
#define CLUSTERD_NOTIFY_H

#include <stddef.h>
#include <sys/types.h>

#define NOTIFY_MAX	4096	/* systemd's limit for one message */

struct notify_msg {
	int	 ready;
	int	 watchdog;
	int	 stopping;
	int	 reloading;
	char	 status[256];		/* STATUS=, "" when absent */
	int	 has_status;
	long long extend_usec;		/* EXTEND_TIMEOUT_USEC=, 0 when absent */
	int	 sender;		/* pid from SCM_CREDENTIALS, 0 if unknown */
};

/* Parse "KEY=VALUE\n..."; -1 for a malformed message. */
int	notify_parse(const char *buf, size_t len, struct notify_msg *);
/* Bind a fresh socket at dir/serial; returns the fd and the path. */
int	notify_open(const char *dir, unsigned long serial, char **path);
/* The same at path (a worker's socket made again); returns the fd. */
int	notify_bind(const char *path);
/* Read one datagram: 1 a message, 0 nothing to read, -1 dropped (*why says
 * why; fds that came with it are closed). */
int	notify_recv(int fd, struct notify_msg *, const char **why);
/* Is pid the worker root or one of its descendants (or gone already, as a
 * short-lived systemd-notify is)? */
int	notify_sender_ok(int pid, int root);

#endif

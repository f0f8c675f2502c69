/* Telling clusterd's own service manager how it is doing (sd_notify(3)). */
#ifndef CLUSTERD_SDNOTIFY_H
#define CLUSTERD_SDNOTIFY_H

#include <stddef.h>

#include <ev.h>

/* Take NOTIFY_SOCKET/WATCHDOG_USEC from the environment; start the
 * watchdog pings on loop. */
void	sdnotify_init(struct ev_loop *);
void	sdnotify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	sdnotify_close(void);
/* Whether there is a service manager to tell (NOTIFY_SOCKET is usable). */
int	sdnotify_on(void);
/* A message that may come before sdnotify_init() (while the configuration
 * is read): kept until it, then sent; dropped with no manager to tell
 * (no NOTIFY_SOCKET, or --check, which never gets that far). */
void	sdnotify_soon(const char *msg);

/* One message with file descriptors attached, as sd_pid_notify_with_fds(3)
 * (FDSTORE=1); 0, or -1 with errno (ENOTCONN: no manager; EMSGSIZE). */
#define SDNOTIFY_FDS_MAX 16
int	sdnotify_fds(const int *fds, size_t nfds, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif

/* Telling clusterd's own service manager how it is doing (sd_notify(3)). */
#ifndef CLUSTERD_SDNOTIFY_H
#define CLUSTERD_SDNOTIFY_H

#include <ev.h>

/* Take NOTIFY_SOCKET/WATCHDOG_USEC from the environment; start the
 * watchdog pings on loop. */
void	sdnotify_init(struct ev_loop *);
void	sdnotify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	sdnotify_close(void);

#endif

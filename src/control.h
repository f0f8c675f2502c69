/* The control socket that clusterctl talks to (§5; protocol in clusterctl(8)). */
#ifndef CLUSTERD_CONTROL_H
#define CLUSTERD_CONTROL_H

struct supervisor;
struct ctl;
struct ctl_conn;

/* Bind the socket; NULL on error (logged). A live socket at path is an
 * error, and *busy is set so a default path can be given up quietly. */
struct ctl	*ctl_open(struct supervisor *, const char *path, int *busy);
void		 ctl_close(struct ctl *);
/* Send "CODE MESSAGE\n" and body, then close the connection. */
void		 ctl_reply(struct ctl_conn *, int code, const char *msg, const char *body);

#endif

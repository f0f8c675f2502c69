/*
 * The control socket: one request line in, "CODE MESSAGE" and a body out
 * (protocol in clusterctl(8)). Every client has its own non-blocking
 * connection, buffers and idle timer, so a slow, silent or hostile client
 * costs one fd and a little memory, never the supervisor's attention.
 *
 * The socket's path is held with a lock file beside it (ctlpath.c), and
 * put back when something removes the socket, the lock or the directory.
 *
 * A thin adapter: each command is a call to the cluster (supervisor.h) or
 * a request to the queue (ops.h) whose callback sends the reply; the core
 * never holds a connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "ctlpath.h"
#include "ctlproto.h"
#include "acceptor.h"
#include "log.h"
#include "exposition.h"
#include "metrics.h"
#include "ops.h"
#include "rundir.h"
#include "state.h"
#include "status.h"
#include "upgrade.h"
#include "supervisor.h"
#include "util.h"

#define CTL_IDLE	10.0
#define CTL_MAX_CONNS	1024
#define CTL_ACCEPTS	64	/* per wake-up: a connection flood cannot starve the rest */

struct ctl_conn {
	LIST_ENTRY(ctl_conn) entry;
	struct ctl	*ctl;
	ev_io		 io;
	ev_timer	 idle;
	char		 in[CTL_LINE_MAX + 1];
	size_t		 inlen;
	int		 answered;	/* the request was read; only the reply is left */
	int		 waiting;	/* a restart/reload will answer */
	int		 upgrade;	/* ... or an upgrade */
	int		 cmd;		/* enum ctl_cmd read; -1: none understood */
	struct request	*req;		/* ... this one */
	struct sbuf	 out;
	size_t		 outoff;
};

struct ctl {
	struct supervisor *sup;
	struct ops	*ops;
	struct upgrade	*up;
	struct acceptor	 acc;		/* the listening socket; fd -1 once lost */
	char		*path;
	char		*dir;
	int		 own_dir;	/* the default directory: checked as at start */
	int		 lock;		/* path.lock, held while clusterd runs */
	dev_t		 dev;		/* the socket file we bound */
	ino_t		 ino;
	dev_t		 dir_dev;
	ino_t		 dir_ino;
	struct rundir_watch watch;
	int		 nconns;
	LIST_HEAD(, ctl_conn) conns;
};

static void
conn_close(struct ctl_conn *c)
{
	struct ev_loop *loop = c->ctl->sup->loop;

	if (c->req)
		ops_cancel(c->ctl->ops, c->req);
	if (c->upgrade && c->waiting && c->ctl->up)
		upgrade_cancel(c->ctl->up, c);
	ev_io_stop(loop, &c->io);
	ev_timer_stop(loop, &c->idle);
	close(c->io.fd);
	LIST_REMOVE(c, entry);
	c->ctl->nconns--;
	/* A descriptor is free again: accept() may work now. */
	acceptor_resume(&c->ctl->acc);
	sbuf_free(&c->out);
	free(c);
}

/* Write what we can; 1 when all is out (or the client is gone). */
static int
conn_flush(struct ctl_conn *c)
{
	return sbuf_send(c->io.fd, &c->out, &c->outoff) != 0;
}

static void conn_cb(struct ev_loop *, ev_io *, int);

static void
ctl_reply(struct ctl_conn *c, int code, const char *msg, const char *body)
{
	struct ev_loop *loop = c->ctl->sup->loop;

	c->waiting = 0;
	c->req = NULL;
	c->answered = 1;
	metrics_control(c->cmd, code);
	sbuf_printf(&c->out, "%d %s\n", code, msg);
	if (body)
		sbuf_add(&c->out, body, strlen(body));
	if (conn_flush(c)) {
		conn_close(c);
		return;
	}
	/* The rest goes out as the client reads; the idle timer bounds it. */
	ev_io_stop(loop, &c->io);
	ev_io_set(&c->io, c->io.fd, EV_WRITE);
	ev_io_start(loop, &c->io);
	ev_timer_again(loop, &c->idle);
}

/* A restart or reload is over. */
static void
request_done(int code, const char *msg, const char *body, void *cookie)
{
	ctl_reply(cookie, code, msg, body);
}

static void
dispatch(struct ctl_conn *c, char *line)
{
	struct supervisor *sup = c->ctl->sup;
	struct ctl_req req;
	struct sbuf body = { 0 };
	char msg[256];
	int ready, code, r;

	if (ctl_parse(line, &req, msg, sizeof(msg)) == -1) {
		ctl_reply(c, 2, msg, NULL);
		return;
	}
	c->cmd = (int)req.cmd;
	switch (req.cmd) {
	case CTL_STATUS:
		ready = sup_ready_count(sup);
		code = ready >= (int)sup->slots.n ? 0 : 3;
		load_check_limits(&sup->load);	/* a limit shown is a limit noticed */
		(req.json ? status_json : status_text)(sup, &body);
		snprintf(msg, sizeof(msg), "%s: %d of %zu workers ready",
		    code ? "degraded" : "ok", ready, sup->slots.n);
		ctl_reply(c, code, msg, body.s);
		sbuf_free(&body);
		break;
	case CTL_RESTART:
	case CTL_RELOAD:
		c->waiting = 1;
		ev_timer_stop(sup->loop, &c->idle);	/* a rollout takes its time */
		/* Without a config file a reload is a rolling restart, as SIGHUP is. */
		/* The answer may come at once, and close c: c is not used after. */
		ops_request(c->ctl->ops, req.cmd == CTL_RESTART ||
		    sup->cli->config == NULL ? OP_RESTART : OP_RELOAD, request_done, c,
		    &c->req);
		break;
	case CTL_SCALE:
		r = req.hi > 0 ? sup_scale_range(sup, (int)req.n, (int)req.hi, msg, sizeof(msg)) :
		    sup_scale(sup, (size_t)req.n, msg, sizeof(msg));
		ctl_reply(c, r == 0 ? 0 : 1, msg, NULL);
		break;
	case CTL_METRICS:
		exposition_render(sup, &body, req.openmetrics);
		ctl_reply(c, 0, "ok", body.s);
		sbuf_free(&body);
		break;
	case CTL_STOP:
		ctl_reply(c, 0, "stopping", NULL);
		sup_stop(sup, 0);
		break;
	case CTL_SIGNAL:
		r = sup_signal_workers(sup, req.sig, req.id, msg, sizeof(msg));
		ctl_reply(c, r == 0 ? 0 : 1, msg, NULL);
		break;
	case CTL_UPGRADE:
		if (c->ctl->up == NULL) {
			ctl_reply(c, 1, "upgrade: not available", NULL);
			break;
		}
		c->waiting = c->upgrade = 1;
		ev_timer_stop(sup->loop, &c->idle);
		/* Refused or failed: answered here; done: by the new image. */
		upgrade_request(c->ctl->up, req.path, request_done, c);
		break;
	}
}

static void
conn_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct ctl_conn *c = container_of(io, struct ctl_conn, io);
	const char *err;
	char *line;
	ssize_t n;

	(void)loop;
	if (revents & EV_WRITE) {
		if (conn_flush(c))
			conn_close(c);
		return;
	}
	if (c->answered || c->waiting) {
		/* Nothing more is read; EOF means the client gave up waiting. */
		char junk[256];

		n = recv(io->fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
	n = recv(io->fd, c->in + c->inlen, CTL_LINE_MAX + 1 - c->inlen, MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->inlen += (size_t)n;
	switch (ctl_take_line(c->in, c->inlen, &line, &err)) {
	case 0:
		return;
	case -1:
		ctl_reply(c, 2, err, NULL);
		return;
	}
	dispatch(c, line);
}

static void
idle_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct ctl_conn *c = container_of(t, struct ctl_conn, idle);

	(void)loop;
	(void)revents;
	conn_close(c);
}

static int
peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return 0;
	return cred.uid == 0 || cred.uid == geteuid();
}

/* A client's connection, read from now on. */
static struct ctl_conn *
conn_new(struct ctl *ctl, int fd)
{
	struct ctl_conn *c = xcalloc(1, sizeof(*c));

	c->ctl = ctl;
	c->cmd = -1;
	ev_io_init(&c->io, conn_cb, fd, EV_READ);
	ev_io_start(ctl->sup->loop, &c->io);
	ev_timer_init(&c->idle, idle_cb, 0, CTL_IDLE);
	LIST_INSERT_HEAD(&ctl->conns, c, entry);
	ctl->nconns++;
	return c;
}

/* A connection to the control socket: a client, if it may be one. */
static void
ctl_take(struct acceptor *a, int fd)
{
	struct ctl *ctl = container_of(a, struct ctl, acc);
	struct ctl_conn *c;

	if (!peer_allowed(fd)) {
		static const char denied[] = "1 permission denied\n";

		(void)!send(fd, denied, sizeof(denied) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	if (ctl->nconns >= CTL_MAX_CONNS) {
		static const char busy[] = "1 too many control connections\n";

		(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	c = conn_new(ctl, fd);
	ev_timer_again(ctl->sup->loop, &c->idle);
}

/* A listening socket at path, created 0600; -1 with errno. The caller
 * holds the path's lock and has cleared it. */
static int
ctl_bind(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, r, e;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	old = umask(0177);	/* created 0600: no window where it is wider */
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r == -1 || listen(fd, 128) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static void
remember(const char *path, dev_t *dev, ino_t *ino)
{
	struct stat st;

	*dev = 0;
	*ino = 0;
	if (lstat(path, &st) == 0) {
		*dev = st.st_dev;
		*ino = st.st_ino;
	}
}

/* Someone else has the path now: run on without a control socket. */
static void
ctl_give_up(struct ctl *ctl, const char *why)
{
	log_warnx("control socket %s: %s; running without one", ctl->path, why);
	rundir_unwatch(&ctl->watch);
	acceptor_close(&ctl->acc);
	if (ctl->lock >= 0)
		close(ctl->lock);
	ctl->lock = -1;
	ctl->ino = 0;
}

/*
 * Something removed the socket, its lock or its directory (a tmp cleaner,
 * rm -rf): put them back, with the checks of the start, unless another
 * clusterd took the path meanwhile. Clients already connected keep their
 * connections.
 */
static void
ctl_check(struct rundir_watch *wt)
{
	struct ctl *ctl = container_of(wt, struct ctl, watch);
	char lock[PATH_MAX], err[PATH_MAX + 128];
	struct stat st, lst;
	int fd, busy, old;

	if (ctl->acc.io.fd < 0)
		return;
	if (lstat(ctl->dir, &st) == -1 || st.st_dev != ctl->dir_dev ||
	    st.st_ino != ctl->dir_ino) {
		int made = mkdir(ctl->dir, 0700) == 0;

		if (!made && errno != EEXIST) {
			snprintf(err, sizeof(err), "its directory was removed and cannot "
			    "be made again: %s", strerror(errno));
			ctl_give_up(ctl, err);
			return;
		}
		/* Made again by us, or already by another clusterd: as at start. */
		if (ctl->own_dir && ctl_check_dir(ctl->dir, err, sizeof(err)) == -1) {
			ctl_give_up(ctl, err);
			return;
		}
		if (made)
			log_warnx("control socket directory %s was removed; made it again",
			    ctl->dir);
		remember(ctl->dir, &ctl->dir_dev, &ctl->dir_ino);
		rundir_watch(ctl->sup->loop, &ctl->watch, ctl->dir, ctl_check);
	}
	snprintf(lock, sizeof(lock), "%s.lock", ctl->path);
	if (fstat(ctl->lock, &st) == -1 || lstat(lock, &lst) == -1 ||
	    st.st_dev != lst.st_dev || st.st_ino != lst.st_ino) {
		if ((fd = sockpath_lock(ctl->path, &busy, err, sizeof(err))) == -1) {
			ctl_give_up(ctl, busy ? "taken by another clusterd" : err);
			return;
		}
		close(ctl->lock);
		ctl->lock = fd;
	}
	if (lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
		return;
	if (sockpath_clear(ctl->path, SOCK_STREAM, &busy, err, sizeof(err)) == -1) {
		ctl_give_up(ctl, busy ? "another program listens there" : err);
		return;
	}
	if ((fd = ctl_bind(ctl->path)) == -1) {
		snprintf(err, sizeof(err), "%s", strerror(errno));
		ctl_give_up(ctl, err);
		return;
	}
	old = ctl->acc.io.fd;
	acceptor_set_fd(&ctl->acc, fd);
	close(old);
	remember(ctl->path, &ctl->dev, &ctl->ino);
	log_warnx("control socket %s was removed; listening on it again", ctl->path);
}

/* Accept on fd, and watch the socket's directory. */
static void
ctl_listen(struct ctl *ctl, int fd)
{
	LIST_INIT(&ctl->conns);
	acceptor_init(&ctl->acc, ctl->sup->loop, "control socket", CTL_ACCEPTS,
	    ctl_take, NULL);
	acceptor_set_fd(&ctl->acc, fd);
	/* The socket and its lock; not every file of a shared directory. */
	ctl->watch.prefix = strrchr(ctl->path, '/') ? strrchr(ctl->path, '/') + 1 : ctl->path;
	rundir_watch(ctl->sup->loop, &ctl->watch, ctl->dir, ctl_check);
}

static struct ctl *
ctl_open(struct supervisor *sup, struct ops *ops, const char *path, int *busy)
{
	const char *name = sup->cur->cfg->name;
	char def[PATH_MAX], err[PATH_MAX + 128], *slash;
	struct ctl *ctl;
	int fd, lock;

	*busy = 0;
	if ((lock = sockpath_claim(path, SOCK_STREAM, busy, err, sizeof(err))) == -1) {
		/* Busy: the caller says it, in words that depend on the path. */
		if (!*busy)
			log_errx("control socket %s: %s", path, err);
		return NULL;
	}
	if ((fd = ctl_bind(path)) == -1) {
		log_err("control socket %s", path);
		sockpath_release(path, lock, 0, 0);
		return NULL;
	}
	ctl = xcalloc(1, sizeof(*ctl));
	ctl->sup = sup;
	ctl->ops = ops;
	ctl->path = xstrdup(path);
	ctl->lock = lock;
	remember(path, &ctl->dev, &ctl->ino);
	ctl->dir = xstrdup(path);
	if ((slash = strrchr(ctl->dir, '/')) == NULL) {
		free(ctl->dir);
		ctl->dir = xstrdup(".");
	} else
		slash[slash == ctl->dir] = '\0';	/* "/x.sock": "/" */
	remember(ctl->dir, &ctl->dir_dev, &ctl->dir_ino);
	ctl->own_dir = ctl_default_path(name, def, sizeof(def), 0, err, sizeof(err)) == 0 &&
	    strcmp(def, path) == 0;
	ctl_listen(ctl, fd);
	log_debug("control socket %s", path);
	return ctl;
}

int
ctl_start(struct supervisor *sup, struct ops *ops, struct ctl **out)
{
	const struct config *cfg = sup->cur->cfg;
	const char *path = cfg->control;
	char def[PATH_MAX], err[256];
	int busy;

	if (path == NULL) {
		if (ctl_default_path(cfg->name, def, sizeof(def), 1, err, sizeof(err)) == -1) {
			log_errx("control socket: %s", err);
			return -1;
		}
		path = def;
	}
	*out = ctl_open(sup, ops, path, &busy);
	if (*out == NULL && busy && cfg->control == NULL && cfg->name == NULL)
		/* A second unnamed cluster on this host: it runs, unreachable. */
		log_warnx("control socket %s is in use by another clusterd; running "
		    "without one (set -s or [clusterd] name)", path);
	else if (*out == NULL && busy) {
		log_errx("control socket %s: in use by another clusterd", path);
		return -1;
	} else if (*out == NULL)
		return -1;
	return 0;
}

void
ctl_close(struct ctl *ctl)
{
	if (ctl == NULL)
		return;
	while (!LIST_EMPTY(&ctl->conns)) {
		struct ctl_conn *c = LIST_FIRST(&ctl->conns);

		conn_flush(c);	/* a last "stopping" reply, if the socket takes it */
		conn_close(c);
	}
	rundir_unwatch(&ctl->watch);
	acceptor_close(&ctl->acc);
	sockpath_release(ctl->path, ctl->lock, ctl->dev, ctl->ino);
	free(ctl->path);
	free(ctl->dir);
	free(ctl);
}

void
ctl_set_upgrade(struct ctl *ctl, struct upgrade *up)
{
	if (ctl)
		ctl->up = up;
}

void
ctl_save(const struct ctl *ctl, struct state_out *so, const void *waiting)
{
	const struct ctl_conn *c;

	if (ctl == NULL || ctl->acc.io.fd < 0)
		return;
	state_rec(so, "ctl");
	state_str(so, "path", ctl->path);
	state_str(so, "dir", ctl->dir);
	state_int(so, "own_dir", ctl->own_dir);
	state_fd(so, "fd", ctl->acc.io.fd);
	state_fd(so, "lock", ctl->lock);
	state_int(so, "dev", (long long)ctl->dev);
	state_int(so, "ino", (long long)ctl->ino);
	state_int(so, "dir_dev", (long long)ctl->dir_dev);
	state_int(so, "dir_ino", (long long)ctl->dir_ino);
	/* Whoever asked for the upgrade hears how it went from the new image. */
	LIST_FOREACH(c, &ctl->conns, entry)
		if ((const void *)c == waiting)
			state_fd(so, "reply", c->io.fd);
}

int
ctl_adopt(struct supervisor *sup, struct ops *ops, const struct state_rec *r,
    struct ctl **out)
{
	struct ctl *ctl;
	int fd, lock;

	*out = NULL;
	if (r == NULL)
		return 0;	/* the old image ran without one */
	if ((fd = rec_fd(r, "fd")) == -1 || rec_str(r, "path") == NULL ||
	    rec_str(r, "dir") == NULL) {
		log_errx("upgrade: the control socket was not carried over");
		return -1;
	}
	lock = rec_fd(r, "lock");
	ctl = xcalloc(1, sizeof(*ctl));
	ctl->sup = sup;
	ctl->ops = ops;
	ctl->path = xstrdup(rec_str(r, "path"));
	ctl->dir = xstrdup(rec_str(r, "dir"));
	ctl->own_dir = rec_int(r, "own_dir", 0) != 0;
	ctl->lock = lock;
	ctl->dev = (dev_t)rec_int(r, "dev", 0);
	ctl->ino = (ino_t)rec_int(r, "ino", 0);
	ctl->dir_dev = (dev_t)rec_int(r, "dir_dev", 0);
	ctl->dir_ino = (ino_t)rec_int(r, "dir_ino", 0);
	ctl_listen(ctl, fd);
	*out = ctl;
	return 0;
}

void
ctl_adopt_reply(struct ctl *ctl, const struct state_rec *r, int code, const char *msg)
{
	struct ctl_conn *c;
	int fd = rec_fd(r, "reply");

	if (fd == -1)
		return;
	if (ctl == NULL) {
		close(fd);
		return;
	}
	c = conn_new(ctl, fd);
	c->cmd = CTL_UPGRADE;
	ctl_reply(c, code, msg, NULL);
}

int
ctl_conn_fd(void *cookie)
{
	const struct ctl_conn *c = cookie;

	return c ? c->io.fd : -1;
}

void *
ctl_adopt_waiter(int fd, request_cb **done, struct request ***handle, void *arg)
{
	struct ctl *ctl = arg;
	struct ctl_conn *c;

	if (ctl == NULL) {
		close(fd);
		return NULL;
	}
	c = conn_new(ctl, fd);
	c->waiting = 1;
	*done = request_done;
	*handle = &c->req;
	return c;
}

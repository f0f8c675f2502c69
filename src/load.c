/*
 * The cluster's load (load.h).
 *
 * Sampling. While idle, an ev_io on each listening socket (each slot's in
 * reuseport mode) waits for one to become readable: a connection queued.
 * Then those watchers stop and a timer samples every queue until they
 * have all been empty for a while; then the watchers again. So an idle
 * cluster wakes clusterd never, a loaded one a few times a second.
 *
 * Hung. A queue that has not shrunk for hang_timeout may still belong to
 * a busy worker: with as many arrivals as accepts between two samples
 * (clients that reconnect at once do that) its length stays put. So a
 * worker is hung only when, besides, it took no new connection: the
 * sockets in its descriptor table (and its children's) are the same as
 * half a timeout before. Reading those tables is the only costly part,
 * done at most twice a timeout, and only for a queue that stays put.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "gen.h"
#include "load.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "slot.h"
#include "sockpool.h"
#include "strv.h"
#include "util.h"
#include "worker.h"

static void	go_idle(struct load *);
static void	limits_check(struct load *);
static void	update(struct load *);
static void	settle_cb(struct ev_loop *, ev_timer *, int);
static void	arm_down(struct load *, double now);

int
load_active(const struct load *ld)
{
	const struct config *cfg = (*ld->cur)->cfg;

	int lo, hi;

	return cfg->hang_timeout > 0 || autoscale_range(&ld->as, cfg, &lo, &hi);
}

static double
interval(const struct load *ld)
{
	const struct config *cfg = (*ld->cur)->cfg;
	double t = 1;

	if (cfg->hang_timeout > 0)
		t = cfg->hang_timeout / 20;
	int lo, hi;

	if (autoscale_range(&ld->as, cfg, &lo, &hi) && cfg->scale_window / 5 < t)
		t = cfg->scale_window / 5;
	return t < 0.05 ? 0.05 : t > 1 ? 1 : t;
}

/* The stream sockets of the current generation (UDP has no queue). */
static int
stream(const struct listener *l)
{
	return l->addr.type == SOCK_STREAM;
}

/*
 * A process's sockets, as one number: the sum of a mix of each socket's
 * inode, over it and its children. A connection accepted or closed
 * changes it.
 */
static unsigned long long
mix(unsigned long long x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static unsigned long long
fd_sig(pid_t pid)
{
	char path[64], link[64];
	unsigned long long sig = 0;
	struct dirent *de;
	DIR *d;
	int dfd;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (d = fdopendir(dfd)) == NULL) {
		if (dfd != -1)
			close(dfd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		ssize_t n = readlinkat(dfd, de->d_name, link, sizeof(link) - 1);
		unsigned long long ino;

		if (n <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%llu]", &ino) == 1)
			sig += mix(ino);
	}
	closedir(d);
	return sig;
}

static unsigned long long
worker_sig(const struct worker *w)
{
	char path[64], buf[4096];
	unsigned long long sig = fd_sig(w->pid);
	FILE *fp;

	/* Its children (a prefork server's own workers accept too). */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)w->pid, (int)w->pid);
	if ((fp = fopen(path, "re")) != NULL) {
		if (fgets(buf, sizeof(buf), fp) != NULL)
			for (char *p = buf, *end; *p; p = end) {
				long c = strtol(p, &end, 10);

				if (end == p)
					break;
				sig += fd_sig((pid_t)c);
			}
		fclose(fp);
	}
	return sig;
}

/* Figures for slot id's sockets (reuseport), summed over the listeners. */
static int
slot_depth(struct gen *g, unsigned id, int *limit)
{
	int depth = 0;

	*limit = 0;
	for (size_t i = 0; i < g->nlst; i++) {
		struct listener *l = g->lst[i];
		struct queue_stat q;

		if (!stream(l) || l->cfg->reuseport <= 0 || id >= l->nslot_fd ||
		    l->slot_fd[id] == -1 || queue_read(l->slot_fd[id], &q) == -1)
			continue;
		depth += q.depth;
		*limit += q.limit;
	}
	return depth;
}

/*
 * One watch, of a worker's queue or a shared socket's: 1 when it has been
 * stuck for timeout, the queue never shorter and no connection taken.
 * sig_of reads the sockets of whoever should be taking them.
 */
struct watch {
	double		*since;
	int		*depth;
	int		*taken;
	double		*at;
	unsigned long long *sig;
};

static int
stuck(struct watch *wt, int depth, double now, double timeout,
    unsigned long long (*sig_of)(void *), void *arg)
{
	if (depth == 0) {
		*wt->since = 0;
		return 0;
	}
	if (*wt->since == 0 || depth < *wt->depth) {
		*wt->since = now;
		*wt->depth = depth;
		*wt->taken = 0;
		return 0;
	}
	*wt->depth = depth;
	if (!*wt->taken && now - *wt->since >= timeout / 2) {
		*wt->sig = sig_of(arg);
		*wt->at = now;
		*wt->taken = 1;
		return 0;
	}
	if (*wt->taken && now - *wt->since >= timeout) {
		unsigned long long sig = sig_of(arg);

		if (sig != *wt->sig) {
			/* It took or finished one: busy, not hung. */
			*wt->since = now;
			*wt->taken = 0;
			return 0;
		}
		return 1;
	}
	return 0;
}

static unsigned long long
sig_worker(void *arg)
{
	return worker_sig(arg);
}

static unsigned long long
sig_all(void *arg)
{
	struct slots *t = arg;
	unsigned long long sig = 0;

	for (size_t i = 0; i < t->n; i++)
		if (t->v[i]->w && t->v[i]->w->state == W_READY)
			sig += worker_sig(t->v[i]->w);
	return sig;
}

static void
hang_check(struct load *ld, struct slot *s, int depth, int limit, double now)
{
	const struct config *cfg = (*ld->cur)->cfg;
	struct worker *w = s->w;
	struct watch wt = { &w->hangw.since, &w->hangw.depth, &w->hangw.taken,
	    &w->hangw.at, &w->hangw.sig };

	/* Being replaced already: no watch (a watch left half-done would
	 * keep the sampling going while the cluster is idle). */
	if (w->hung || w->recycle) {
		w->hangw.since = 0;
		return;
	}
	if (!stuck(&wt, depth, now, cfg->hang_timeout, sig_worker, w))
		return;
	w->hung = 1;
	metrics_worker_hang(w->id);
	log_worker(LOG_LVL_WARN, LOG_EV_HANG, w->id, w->pid, w->gen->number,
	    "worker %u (pid %d): hung: %d connection%s wait%s in its queue and it "
	    "accepted none for %.1fs (queue %d of %d): replacing it", w->id, (int)w->pid,
	    depth, depth == 1 ? "" : "s", depth == 1 ? "s" : "", now - w->hangw.since,
	    depth, limit);
	/* New connections go to the others meanwhile; what waits in its
	 * queue stays there for its successor. */
	slots_steer(ld->slots);
	worker_recycle(w, xasprintf("hung: no connection accepted for %gs",
	    cfg->hang_timeout));
}

static void
stall_check(struct load *ld, size_t i, const struct listener *l,
    const struct queue_stat *q, double now)
{
	const struct config *cfg = (*ld->cur)->cfg;
	struct stall *st = &ld->stall[i];
	struct watch wt = { &st->since, &st->depth, &st->taken, &st->at, &st->sig };
	int was = st->stalled;

	if (stuck(&wt, q->depth, now, cfg->hang_timeout, sig_all, ld->slots)) {
		if (!st->stalled)
			log_warnx("socket %s: %d connection%s wait%s and no worker accepted "
			    "one for %.1fs (queue %d of %d): the cluster is stalled",
			    l->cfg->name, q->depth, q->depth == 1 ? "" : "s",
			    q->depth == 1 ? "s" : "", now - st->since, q->depth, q->limit);
		st->stalled = 1;
		/* Look for a connection taken again in half a timeout. */
		st->since = now - cfg->hang_timeout / 2;
		st->taken = 0;
	} else if (was && (q->depth == 0 || st->since == now)) {
		st->stalled = 0;
		log_info("socket %s: connections are accepted again", l->cfg->name);
	}
}

int
load_stalled(const struct load *ld, size_t i)
{
	return i < ld->nstall && ld->stall[i].stalled;
}

/* A worker's own listen() on the socket: once per socket and limit. */
static void
limit_check(const struct listener *cl, int fd, const struct config *cfg)
{
	struct listener *l = (struct listener *)cl;
	static const struct { const char *prog, *hint; } hints[] = {
		{ "hypercorn", "hypercorn: --backlog" },
		{ "uvicorn", "uvicorn: --backlog" },
		{ "gunicorn", "gunicorn: --backlog" },
		{ "node", "node: listen({fd: 3, backlog: N})" },
		{ "nginx", "nginx: listen ... backlog=" },
	};
	const char *hint = NULL;
	int limit = queue_limit(fd);

	if (limit <= 0 || l->qlimit <= 0 || limit == l->qlimit || limit == l->qlimit_warned)
		return;
	l->qlimit_warned = limit;
	for (size_t i = 0; i < cfg->prog.argv.n && hint == NULL; i++) {
		const char *base = strrchr(cfg->prog.argv.v[i], '/');

		base = base ? base + 1 : cfg->prog.argv.v[i];
		for (size_t k = 0; k < sizeof(hints) / sizeof(hints[0]); k++)
			if (strncmp(base, hints[k].prog, strlen(hints[k].prog)) == 0)
				hint = hints[k].hint;
	}
	if (hint)
		log_warnx("socket %s: its queue limit is %d, not the %d clusterd set: a "
		    "worker called listen() on it again (%s %d)", l->cfg->name, limit,
		    l->qlimit, hint, l->qlimit);
	else
		log_warnx("socket %s: its queue limit is %d, not the %d clusterd set: a "
		    "worker called listen() on it again", l->cfg->name, limit, l->qlimit);
}

void
load_check_limits(struct load *ld)
{
	if (*ld->cur != NULL)
		limits_check(ld);
}

static void
limits_check(struct load *ld)
{
	struct gen *g = *ld->cur;

	for (size_t i = 0; i < g->nlst; i++) {
		const struct listener *l = g->lst[i];

		if (!stream(l))
			continue;
		if (l->qlimit == 0)
			((struct listener *)l)->qlimit = queue_limit(l->fd);
		limit_check(l, l->fd, g->cfg);
		for (size_t k = 0; k < l->nslot_fd; k++)
			if (l->slot_fd[k] != -1 && l->slot_fd[k] != l->fd)
				limit_check(l, l->slot_fd[k], g->cfg);
	}
}

static struct autoscale_in
scale_in(struct load *ld, int inflight)
{
	struct autoscale_in in = { (*ld->cur)->cfg, ld->slots->n, slots_ready(ld->slots),
	    inflight };

	return in;
}

/* Accepted connections open on the cluster's TCP ports (autoscale.h). */
static int
inflight(struct load *ld)
{
	struct gen *g = *ld->cur;
	int n = 0, any = 0;

	for (size_t i = 0; i < g->nlst; i++) {
		int k;

		if (!stream(g->lst[i]) || g->lst[i]->port == 0)
			continue;
		if ((k = queue_inflight(g->lst[i]->port)) < 0) {
			log_debug("autoscale: cannot read the connections open on port %d",
			    g->lst[i]->port);
			return AUTOSCALE_UNREAD;
		}
		n += k;
		any = 1;
	}
	return any ? n : AUTOSCALE_NO_TCP;
}

static void
scale_to(struct load *ld, size_t n, const char *why, double now)
{
	size_t from = ld->slots->n;

	autoscale_changed(&ld->as, now, from, n, why);
	ld->hooks->scale(ld->owner, n, why);
}

static void
sample(struct load *ld, double now)
{
	struct gen *g = *ld->cur;
	const struct config *cfg = g->cfg;
	int total = 0, lo, hi;
	char why[160];
	size_t to;

	if (ld->nstall < g->nlst) {
		ld->stall = xreallocarray(ld->stall, g->nlst, sizeof(*ld->stall));
		memset(ld->stall + ld->nstall, 0, (g->nlst - ld->nstall) * sizeof(*ld->stall));
		ld->nstall = g->nlst;
	}
	for (size_t i = 0; i < g->nlst; i++) {
		const struct listener *l = g->lst[i];
		struct queue_stat q;

		if (!stream(l) || l->cfg->reuseport > 0 || queue_read(l->fd, &q) == -1)
			continue;
		total += q.depth;
		if (cfg->hang_timeout > 0)
			stall_check(ld, i, l, &q, now);
	}
	for (size_t k = 0; k < ld->slots->n; k++) {
		struct slot *s = ld->slots->v[k];
		int limit, depth = slot_depth(g, s->id, &limit);

		total += depth;
		if (cfg->hang_timeout > 0 && s->w && s->w->state == W_READY &&
		    s->state == SLOT_READY)
			hang_check(ld, s, depth, limit, now);
		else if (s->w)
			s->w->hangw.since = 0;
	}
	ld->quiet = total == 0 ? ld->quiet + 1 : 0;
	if (ld->quiet == 0 && now - ld->limits_at >= 1) {
		ld->limits_at = now;
		limits_check(ld);
	}
	if (!autoscale_range(&ld->as, cfg, &lo, &hi))
		return;
	autoscale_sample(&ld->as, now, total);
	struct autoscale_in in = scale_in(ld, AUTOSCALE_UNREAD);

	if ((to = autoscale_up(&ld->as, &in, now, why, sizeof(why))) > 0) {
		scale_to(ld, to, why, now);
		return;
	}
	if (autoscale_down_at(&ld->as, &in) != 0 && now >= autoscale_down_at(&ld->as, &in)) {
		in.inflight = inflight(ld);
		if ((to = autoscale_down(&ld->as, &in, now, why, sizeof(why))) > 0)
			scale_to(ld, to, why, now);
	}
}

/* Whether a watch is under way that an idle spell would lose. */
static int
watching(const struct load *ld)
{
	for (size_t i = 0; i < ld->nstall; i++)
		if (ld->stall[i].since > 0 || ld->stall[i].stalled)
			return 1;
	for (size_t k = 0; k < ld->slots->n; k++) {
		const struct worker *w = ld->slots->v[k]->w;

		if (w && w->hangw.since > 0)
			return 1;
	}
	return 0;
}

static void
tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct load *ld = container_of(t, struct load, tick);
	double now = mono_now();

	(void)loop;
	(void)revents;
	sample(ld, now);
	/* Empty for a second or so, and nothing half-watched: wait for a
	 * socket to be readable again. */
	if (ld->quiet * interval(ld) >= 1 && ld->quiet >= 3 && !watching(ld))
		go_idle(ld);
}

static void
stop_io(struct load *ld)
{
	for (size_t i = 0; i < ld->nio; i++)
		ev_io_stop(ld->loop, &ld->io[i]);
	ld->nio = 0;
}

static void
start_sampling(struct load *ld)
{
	stop_io(ld);
	ev_timer_stop(ld->loop, &ld->down);
	ld->quiet = 0;
	if (!ev_is_active(&ld->tick)) {
		ev_timer_set(&ld->tick, interval(ld), interval(ld));
		ev_timer_start(ld->loop, &ld->tick);
	}
}

static void
io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct load *ld = io->data;

	(void)loop;
	(void)revents;
	start_sampling(ld);
}

/* Each socket with a queue: a shared one, or every slot's. With io NULL,
 * just how many. */
static size_t
queue_fds(struct load *ld, ev_io *io)
{
	struct gen *g = *ld->cur;
	size_t n = 0;

	for (size_t i = 0; i < g->nlst; i++) {
		const struct listener *l = g->lst[i];

		if (!stream(l))
			continue;
		for (size_t k = 0; k < (l->cfg->reuseport > 0 ? ld->slots->n : 1); k++) {
			unsigned id = l->cfg->reuseport > 0 ? ld->slots->v[k]->id : 0;
			int fd = l->cfg->reuseport <= 0 ? l->fd :
			    id < l->nslot_fd ? l->slot_fd[id] : -1;

			if (fd == -1)
				continue;
			if (io) {
				ev_io_init(&io[n], io_cb, fd, EV_READ);
				io[n].data = ld;
			}
			n++;
		}
	}
	return n;
}

static void
go_idle(struct load *ld)
{
	ev_timer_stop(ld->loop, &ld->tick);
	stop_io(ld);
	/* Watchers are set up in place, once the array has its size. */
	free(ld->io);
	ld->io = xcalloc(queue_fds(ld, NULL) + 1, sizeof(*ld->io));
	ld->nio = queue_fds(ld, ld->io);
	for (size_t i = 0; i < ld->nio; i++)
		ev_io_start(ld->loop, &ld->io[i]);
	arm_down(ld, mono_now());
}

static void
down_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct load *ld = container_of(t, struct load, down);
	double now = mono_now();
	struct autoscale_in in = scale_in(ld, AUTOSCALE_UNREAD);
	char why[160];
	size_t to;

	(void)loop;
	(void)revents;
	in.inflight = inflight(ld);
	if ((to = autoscale_down(&ld->as, &in, now, why, sizeof(why))) > 0)
		scale_to(ld, to, why, now);
	else	/* busy workers: look again after another spell */
		ld->as.last_queue = now;
	arm_down(ld, now);
}

/* Idle above the range's low end: wake for the next scale-down only. */
static void
arm_down(struct load *ld, double now)
{
	struct autoscale_in in = scale_in(ld, AUTOSCALE_UNREAD);
	double at;

	ev_timer_stop(ld->loop, &ld->down);
	if (ev_is_active(&ld->tick) || (at = autoscale_down_at(&ld->as, &in)) == 0)
		return;
	ev_timer_set(&ld->down, at > now ? at - now : 0, 0);
	ev_timer_start(ld->loop, &ld->down);
}

void
load_init(struct load *ld, struct ev_loop *loop, struct slots *t, struct gen *const *cur,
    const struct load_hooks *hooks, void *owner)
{
	memset(ld, 0, sizeof(*ld));
	ld->loop = loop;
	ld->slots = t;
	ld->cur = cur;
	ld->hooks = hooks;
	ld->owner = owner;
	ev_init(&ld->tick, tick_cb);
	ev_init(&ld->down, down_cb);
	ev_init(&ld->settle, settle_cb);
	autoscale_init(&ld->as);
	ld->as.last_change = mono_now();
}

static void
settle_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct load *ld = container_of(t, struct load, settle);

	(void)loop;
	(void)revents;
	update(ld);
}

void
load_update(struct load *ld)
{
	if (*ld->cur == NULL || ev_is_active(&ld->settle))
		return;
	/* Stopping: nothing to watch, at once, before sockets close under
	 * the watchers (and nothing to read for each worker that exits). */
	if (ld->slots->stopping) {
		ev_timer_stop(ld->loop, &ld->tick);
		ev_timer_stop(ld->loop, &ld->down);
		stop_io(ld);
		return;
	}
	ev_timer_set(&ld->settle, 0.05, 0);
	ev_timer_start(ld->loop, &ld->settle);
}

static void
update(struct load *ld)
{
	limits_check(ld);
	if (ld->slots->stopping || !load_active(ld)) {
		ev_timer_stop(ld->loop, &ld->tick);
		ev_timer_stop(ld->loop, &ld->down);
		stop_io(ld);
		return;
	}
	if (ev_is_active(&ld->tick)) {
		/* The interval may have changed with the settings. */
		if (ld->tick.repeat != interval(ld)) {
			ev_timer_stop(ld->loop, &ld->tick);
			ev_timer_set(&ld->tick, interval(ld), interval(ld));
			ev_timer_start(ld->loop, &ld->tick);
		}
		return;
	}
	go_idle(ld);
}

void
load_count_changed(struct load *ld, size_t from, size_t to)
{
	if (from != to)
		autoscale_changed(&ld->as, mono_now(), from, to, NULL);
	load_update(ld);
}

void
load_free(struct load *ld)
{
	ev_timer_stop(ld->loop, &ld->settle);
	ev_timer_stop(ld->loop, &ld->tick);
	ev_timer_stop(ld->loop, &ld->down);
	stop_io(ld);
	free(ld->io);
	ld->io = NULL;
	free(ld->stall);
	ld->stall = NULL;
	ld->nstall = 0;
	autoscale_free(&ld->as);
}

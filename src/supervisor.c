/*
 * The cluster: start the slots, replace what dies (with per-slot backoff),
 * scale, answer signals, stop in order, and pick the exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "cpus.h"
#include "ctlpath.h"
#include "inherit.h"
#include "leftover.h"
#include "log.h"
#include "rundir.h"
#include "sdnotify.h"
#include "sink.h"
#include "starter.h"
#include "steer.h"
#include "supervisor.h"
#include "util.h"

extern char **environ;

static void	cleanup(struct supervisor *);
static int	slot_queued(const struct slot *);

/* What clusterd itself was handed for its own use never reaches a worker. */
static int
private_var(const char *kv)
{
	static const char *names[] = {
		"LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=", "LISTEN_PIDFDID=",
		"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strncmp(kv, names[i], strlen(names[i])) == 0)
			return 1;
	return 0;
}

int
sup_ready_count(const struct supervisor *sup)
{
	int n = 0;

	for (size_t i = 0; i < sup->nslots; i++) {
		const struct slot *s = sup->slots[i];

		if (s->w && s->w->state == W_READY)
			n++;
	}
	return n;
}

const char *
sup_state(const struct supervisor *sup)
{
	return sup->stopping ? "stopping" : sup->ro.active ? "restarting" : "running";
}

/* Reuseport mode: steer new connections to the slots with a ready worker. */
void
sup_steer(struct supervisor *sup)
{
	unsigned *live = NULL;
	size_t nlive = 0;

	for (size_t i = 0; i < sup->pool.n; i++) {
		struct listener *l = sup->pool.v[i];

		if (l->cfg->reuseport <= 0 || l->ngroup == 0)
			continue;
		if (live == NULL) {
			live = xcalloc(sup->nslots + 1, sizeof(*live));
			for (size_t k = 0; k < sup->nslots; k++) {
				const struct slot *s = sup->slots[k];

				if (s->w && s->w->state == W_READY)
					live[nlive++] = s->id;
			}
		}
		steer_update(l, live, nlive);
	}
	free(live);
}

static int
reuseport_in_use(const struct supervisor *sup)
{
	for (size_t i = 0; i < sup->pool.n; i++)
		if (sup->pool.v[i]->cfg->reuseport > 0 && sup->pool.v[i]->ngroup > 0)
			return 1;
	return 0;
}

void
slot_set_gen(struct slot *s, struct gen *g)
{
	if (s->gen == g)
		return;
	gen_ref(g);
	if (s->gen)
		gen_unref(&s->sup->pool, s->gen);
	s->gen = g;
}

void
sup_worker_ready(struct worker *w)
{
	struct slot *s = w->slot;
	struct supervisor *sup = s->sup;

	log_debug("worker %u (pid %d) ready", s->id, (int)w->pid);
	if (w == s->next) {
		rollout_worker_ready(sup, w);
		sup_steer(sup);
		return;
	}
	sup_steer(sup);
	sup_check_ready(sup);
}

/* Say once when every slot has a ready worker (again after a scale-up);
 * keep the service manager's STATUS= current. */
void
sup_check_ready(struct supervisor *sup)
{
	int ready = sup_ready_count(sup);

	if (!sup->announced && !sup->stopping && !sup->ro.active &&
	    ready == (int)sup->nslots) {
		sup->announced = 1;
		log_info("%zu worker%s ready", sup->nslots, sup->nslots == 1 ? "" : "s");
		sdnotify("READY=1\nSTATUS=%d of %zu workers ready, generation %u", ready,
		    sup->nslots, sup->cur->number);
		sup->told_ready = ready;
		sup->told_gen = sup->cur->number;
		sup->told_n = sup->nslots;
		return;
	}
	if (ready != sup->told_ready || sup->cur->number != sup->told_gen ||
	    sup->nslots != sup->told_n) {
		sup->told_ready = ready;
		sup->told_gen = sup->cur->number;
		sup->told_n = sup->nslots;
		sdnotify("STATUS=%d of %zu workers ready, generation %u", ready,
		    sup->nslots, sup->cur->number);
	}
}

static void
finish_if_done(struct supervisor *sup)
{
	int failed = 0;

	/* The port is free only once what the workers left is gone too. */
	if (sup->stopping) {
		if (TAILQ_EMPTY(&sup->workers) && !leftover_pending())
			ev_break(sup->loop, EVBREAK_ALL);
		return;
	}
	/* A batch pool: every slot ran out of restarts, so the job is over. */
	if (sup->nslots == 0)
		return;
	for (size_t i = 0; i < sup->nslots; i++) {
		const struct slot *s = sup->slots[i];

		if (!s->done || s->w || s->next)
			return;
		failed |= s->failed;
	}
	log_info("all workers have ended; exiting");
	sup->exit_status = failed ? 1 : 0;
	sup->stopping = 1;
	sockpool_quiet(&sup->pool);
	if (TAILQ_EMPTY(&sup->workers) && !leftover_pending())
		ev_break(sup->loop, EVBREAK_ALL);
}

void
sup_leftovers_gone(struct supervisor *sup)
{
	finish_if_done(sup);
}

void
sup_stop(struct supervisor *sup, int status)
{
	struct worker *w;
	char dur[32];
	int n = 0;

	if (sup->stopping)
		return;
	sup->stopping = 1;
	sockpool_quiet(&sup->pool);
	sup->exit_status = status;
	sdnotify("STOPPING=1");
	rollout_abort(sup);
	sup_unqueue_all(sup);
	for (size_t i = 0; i < sup->nslots; i++)
		ev_timer_stop(sup->loop, &sup->slots[i]->backoff);
	TAILQ_FOREACH(w, &sup->workers, entry) {
		ev_timer_stop(sup->loop, &w->slot->drain);
		if (w->state != W_STOPPING)
			n++;
	}
	format_duration(dur, sizeof(dur), sup->cur->cfg->stop_timeout);
	if (n > 0)
		log_info("stopping %d worker%s (SIG%s, timeout %s)", n, n == 1 ? "" : "s",
		    signal_name(sup->cur->cfg->prog.stop_signal), dur);
	TAILQ_FOREACH(w, &sup->workers, entry)
		worker_stop(w, NULL);
	/* Escaped orphans holding a socket go with the workers. */
	leftover_collect_orphans(sup);
	leftover_start(sup);
	finish_if_done(sup);
}

static void
sup_kill_all(struct supervisor *sup)
{
	struct worker *w;

	if (!sup->stopping) {
		sup->stopping = 1;
		sockpool_quiet(&sup->pool);
		rollout_abort(sup);
	}
	sup_unqueue_all(sup);
	for (size_t i = 0; i < sup->nslots; i++)
		ev_timer_stop(sup->loop, &sup->slots[i]->backoff);
	TAILQ_FOREACH(w, &sup->workers, entry)
		worker_kill(w);
	leftover_kill_all(sup);
	finish_if_done(sup);
}

/* How long slot s waits before its next start, by §4's backoff rule. */
static double
backoff_delay(const struct slot *s, const struct program_cfg *pc)
{
	double d = pc->backoff_initial;

	if (s->streak <= 1)
		return 0;
	for (unsigned i = 2; i < s->streak && d < pc->backoff_max; i++)
		d *= 2;
	return d < pc->backoff_max ? d : pc->backoff_max;
}

static void
slot_free(struct slot *s)
{
	struct supervisor *sup = s->sup;

	/* Its reuseport sockets go with it, unless a new slot took its id. */
	if (s->removed && s->id >= sup->nslots)
		for (size_t i = 0; i < sup->pool.n; i++)
			if (sup->pool.v[i]->cfg->reuseport > 0)
				steer_slot_close(sup->pool.v[i], s->id);
	slot_unqueue(&s->start_w);
	slot_unqueue(&s->start_next);
	ev_timer_stop(s->sup->loop, &s->drain);
	ev_timer_stop(s->sup->loop, &s->backoff);
	if (s->gen)
		gen_unref(&s->sup->pool, s->gen);
	free(s->last_exit);
	free(s);
}

/* The serving worker of a slot died: restart it by the policy. */
static void
slot_worker_died(struct slot *s, struct worker *w, int status, const char *what)
{
	struct supervisor *sup = s->sup;
	const struct program_cfg *pc = &s->gen->cfg->prog;
	int clean = !w->failed && !w->why && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	double lived = mono_now() - w->started, delay;
	char dur[32];
	pid_t pid = w->pid;

	s->w = NULL;
	s->failed = !clean;
	if (pc->restart == RESTART_NEVER || (pc->restart == RESTART_ON_FAILURE && clean)) {
		log_info("worker %u (pid %d) %s; not restarting (restart = %s)", s->id,
		    (int)pid, what, pc->restart == RESTART_NEVER ? "never" : "on-failure");
		s->done = 1;
		worker_free(w);
		finish_if_done(sup);
		return;
	}
	worker_free(w);
	s->streak = lived < pc->stable_after ? s->streak + 1 : 0;
	if (sup->cur->cfg->give_up_after > 0 &&
	    s->streak >= (unsigned)sup->cur->cfg->give_up_after) {
		log_errx("worker %u (pid %d) %s", s->id, (int)pid, what);
		log_errx("worker %u died %u times in a row; giving up", s->id, s->streak);
		sup_stop(sup, 3);
		return;
	}
	s->restarts++;
	delay = backoff_delay(s, pc);
	if (delay == 0) {
		log_warnx("worker %u (pid %d) %s; restarting now", s->id, (int)pid, what);
		slot_start(s);
	} else {
		format_duration(dur, sizeof(dur), delay);
		log_warnx("worker %u (pid %d) %s; restarting in %s", s->id, (int)pid,
		    what, dur);
		ev_timer_set(&s->backoff, delay, 0);
		ev_timer_start(sup->loop, &s->backoff);
	}
}

void
sup_worker_exited(struct worker *w, int status)
{
	struct slot *s = w->slot;
	struct supervisor *sup = s->sup;
	char what[512], full[640];

	worker_describe_exit(w, status, what, sizeof(what));
	if (w->why) {
		snprintf(full, sizeof(full), "%s (%s)", what, w->why);
		memcpy(what, full, sizeof(what) - 1);
		what[sizeof(what) - 1] = '\0';
	}
	free(s->last_exit);
	s->last_exit = xstrdup(what);
	sup->told_ready = -1;	/* the count may have changed: say so below */

	if (s->removed && w == s->w && !sup->stopping && slot_queued(s) > 0 &&
	    mono_now() - s->drain_since < sup->cur->cfg->stop_timeout) {
		/* Scaled away, but connections still wait in its own queue: one
		 * more worker for them (closing the socket would reset them). */
		log_warnx("worker %u (pid %d) %s; %d connection%s still queued for it: "
		    "restarting in 100ms", s->id, (int)w->pid, what, slot_queued(s),
		    slot_queued(s) == 1 ? "" : "s");
		s->w = NULL;
		worker_free(w);
		ev_timer_set(&s->backoff, 0.1, 0);
		ev_timer_start(sup->loop, &s->backoff);
		return;
	}
	if (sup->stopping || s->removed ||
	    (w != s->w && w != s->next)) {
		/* Asked to go: stopping, scaled away, or replaced. */
		log_info("worker %u (pid %d) %s", s->id, (int)w->pid, what);
		worker_free(w);
		if (s->removed && s->nworkers == 0)
			slot_free(s);
		finish_if_done(sup);
		return;
	}
	if (w == s->next) {
		char reason[700];

		snprintf(reason, sizeof(reason), "worker %u (pid %d) %s before it was ready",
		    s->id, (int)w->pid, what);
		s->next = NULL;
		worker_free(w);
		rollout_worker_failed(sup, NULL, reason);
		return;
	}
	if (s->replace_wait) {
		/* restart_mode = replace: the old one is gone, now the new one. */
		log_info("worker %u (pid %d) %s", s->id, (int)w->pid, what);
		s->replace_wait = 0;
		s->w = NULL;
		worker_free(w);
		s->next = worker_spawn(s, sup->ro.to);
		if (s->next == NULL)
			rollout_worker_failed(sup, NULL, "fork failed");
		return;
	}
	slot_worker_died(s, w, status, what);
	sup_steer(sup);
	sup_check_ready(sup);
}

void
sup_worker_timeout(struct worker *w, const char *why)
{
	struct slot *s = w->slot;
	char reason[300];

	if (w == s->next) {
		snprintf(reason, sizeof(reason), "worker %u (pid %d) %s", s->id, (int)w->pid,
		    why);
		s->next = NULL;
		worker_stop(w, why);
		rollout_worker_failed(s->sup, w, reason);
		return;
	}
	log_warnx("worker %u (pid %d) %s; stopping it", s->id, (int)w->pid, why);
	worker_stop(w, why);
}

static struct worker *
slot_start_now(struct slot *s)
{
	struct supervisor *sup = s->sup;

	s->w = worker_spawn(s, s->gen);
	if (s->w == NULL) {
		/* Out of descriptors, memory or pids: try again later. */
		s->streak++;
		ev_timer_set(&s->backoff, backoff_delay(s, &s->gen->cfg->prog) + 0.1, 0);
		ev_timer_start(sup->loop, &s->backoff);
	}
	return s->w;
}

/* One start from the queue (starter.c), if it is still wanted. */
void
sup_start_one(struct start *st)
{
	struct supervisor *sup = st->slot->sup;
	struct slot *s = st->slot;

	if (st == &s->start_w) {
		if (!sup->stopping && s->w == NULL &&
		    (!s->removed || slot_queued(s) > 0))
			slot_start_now(s);
	} else if (sup->ro.active && s->next == NULL) {
		if ((s->next = worker_spawn(s, sup->ro.to)) == NULL) {
			sup->ro.inflight--;
			rollout_worker_failed(sup, NULL, "fork failed");
		}
	}
}

static void
backoff_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct slot *s = t->data;

	(void)loop;
	(void)revents;
	if (!s->sup->stopping && s->w == NULL && (!s->removed || slot_queued(s) > 0))
		slot_start(s);
	else if (s->removed && s->nworkers == 0)
		slot_free(s);
}

/*
 * Scale-down in reuseport mode: the slot is already steered away; its
 * worker serves what waits in its queue, and is stopped once that is
 * empty (or after stop_timeout), so no queued connection is reset.
 */
static int
slot_queued(const struct slot *s)
{
	const struct supervisor *sup = s->sup;
	int queued = 0;

	for (size_t i = 0; i < sup->pool.n; i++)
		if (sup->pool.v[i]->cfg->reuseport > 0)
			queued += steer_queue_len(sup->pool.v[i], s->id);
	return queued;
}

static void
drain_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct slot *s = t->data;
	struct supervisor *sup = s->sup;

	(void)revents;
	/* A worker that only just started gets to accept before it is asked
	 * to go: its queue is read once it is ready. */
	if ((s->w && s->w->state == W_STARTING) ||
	    (slot_queued(s) > 0 && mono_now() - s->drain_since < sup->cur->cfg->stop_timeout))
		return;
	ev_timer_stop(loop, t);
	if (s->next)
		worker_stop(s->next, NULL);
	if (s->w)
		worker_stop(s->w, NULL);
}

static struct slot *
slot_new(struct supervisor *sup, unsigned id)
{
	struct slot *s = xcalloc(1, sizeof(*s));

	s->sup = sup;
	s->id = id;
	slot_set_gen(s, sup->cur);
	ev_timer_init(&s->backoff, backoff_cb, 0, 0);
	s->backoff.data = s;
	ev_timer_init(&s->drain, drain_cb, 0, 0.01);
	s->drain.data = s;
	s->start_w.slot = s->start_next.slot = s;
	return s;
}

int
sup_scale(struct supervisor *sup, size_t n, char *msg, size_t len)
{
	size_t old = sup->nslots;

	if (sup->stopping) {
		snprintf(msg, len, "clusterd is stopping");
		return -1;
	}
	if (n > 100000) {
		snprintf(msg, len, "at most 100000 workers");
		return -1;
	}
	if (n == old) {
		snprintf(msg, len, "already %zu worker%s", n, n == 1 ? "" : "s");
		return 0;
	}
	snprintf(msg, len, "scaling from %zu to %zu workers", old, n);
	log_info("%s", msg);
	sup->told_ready = -1;	/* the service manager's STATUS= changes */
	if (n > old) {
		sup->slots = xreallocarray(sup->slots, n, sizeof(*sup->slots));
		for (size_t i = old; i < n; i++)
			sup->slots[i] = slot_new(sup, (unsigned)i);
		sup->nslots = n;
		for (size_t i = old; i < n; i++)
			slot_start(sup->slots[i]);
		sup->announced = 0;
		sup_steer(sup);
		return 0;
	}
	/* The highest slots go, each worker stopped gracefully. */
	sup->nslots = n;
	for (size_t i = n; i < old; i++) {
		struct slot *s = sup->slots[i];

		s->removed = 1;
		s->drain_since = mono_now();
		ev_timer_stop(sup->loop, &s->backoff);
		slot_unqueue(&s->start_w);
		rollout_slot_removed(sup, s);
		/* A slot in backoff with connections in its own queue: a worker
		 * serves them before the socket goes (closing it would reset them). */
		if (s->nworkers == 0 && slot_queued(s) > 0)
			s->w = worker_spawn(s, s->gen);
		if (s->nworkers == 0) {
			slot_free(s);
			continue;
		}
		if (reuseport_in_use(sup)) {
			ev_timer_again(sup->loop, &s->drain);
			continue;
		}
		if (s->next)
			worker_stop(s->next, NULL);
		if (s->w)
			worker_stop(s->w, NULL);
	}
	sup_steer(sup);
	sup_check_ready(sup);
	finish_if_done(sup);
	return 0;
}

int
sup_signal_workers(struct supervisor *sup, int sig, long id, char *msg, size_t len)
{
	struct worker *w;
	int n = 0;

	TAILQ_FOREACH(w, &sup->workers, entry)
		if ((id < 0 || (long)w->slot->id == id) && !w->slot->removed &&
		    kill(w->pid, sig) == 0)
			n++;
	if (n == 0) {
		snprintf(msg, len, id < 0 ? "no worker to signal" : "no worker %ld", id);
		return -1;
	}
	snprintf(msg, len, "sent SIG%s to %d worker%s", signal_name(sig), n,
	    n == 1 ? "" : "s");
	return 0;
}

static void
signal_cb(struct ev_loop *loop, ev_signal *sig, int revents)
{
	struct supervisor *sup = sig->data;
	char msg[128];

	(void)loop;
	(void)revents;
	switch (sig->signum) {
	case SIGTERM:
	case SIGINT:
		if (sup->stopping) {
			log_info("SIG%s again: killing the workers now",
			    signal_name(sig->signum));
			sup_kill_all(sup);
		} else
			sup_stop(sup, 0);
		break;
	case SIGQUIT:
		log_info("SIGQUIT: killing the workers now");
		sup_kill_all(sup);
		break;
	case SIGHUP:
		sup_request(sup, sup->cli->config ? OP_RELOAD : OP_RESTART, NULL);
		break;
	case SIGUSR2:
		sup_request(sup, OP_RESTART, NULL);
		break;
	case SIGTTIN:
		sup_scale(sup, sup->nslots + 1, msg, sizeof(msg));
		break;
	case SIGTTOU:
		if (sup->nslots > 0)
			sup_scale(sup, sup->nslots - 1, msg, sizeof(msg));
		break;
	default:
		log_warnx("SIG%s: ignored (clusterctl signal %s reaches the workers)",
		    signal_name(sig->signum), signal_name(sig->signum));
		break;
	}
}

int
sup_init(struct supervisor *sup, const struct cli *cli, struct config *cfg)
{
	/* USR1 and WINCH are caught only so a stray one cannot end clusterd. */
	static const int signums[] = {
		SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR2, SIGTTIN, SIGTTOU,
		SIGUSR1, SIGWINCH,
	};
	struct strv errors = { 0 };
	char path[PATH_MAX], err[256];
	struct rlimit rl;

	memset(sup, 0, sizeof(*sup));
	TAILQ_INIT(&sup->workers);
	starter_init(sup);
	sup->cli = cli;
	/* signalfd: no wake-up pipe, and signals wait in the queue, not a handler. */
	sup->loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_SIGNALFD);
	if (sup->loop == NULL)
		fatalx(1, "cannot initialise libev");
	sink_start(sup->loop);
	sup->started = mono_now();
	/* Signals first: a TERM that arrives while sockets are being bound
	 * must stop clusterd in order, not kill it with the default action. */
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(signums) / sizeof(signums[0]); i++) {
		ev_signal_init(&sup->sigs[i], signal_cb, signums[i]);
		sup->sigs[i].data = sup;
		ev_signal_start(sup->loop, &sup->sigs[i]);
	}
	sdnotify_init(sup->loop);
	if ((sup->devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		fatal(1, "/dev/null");
	for (char **e = environ; *e; e++)
		if (!private_var(*e))
			strv_push(&sup->base_env, xstrdup(*e));

	/* 1000 workers need more than 1024 fds; the workers keep the original. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		sup->nofile = rl;
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (cfg->prog.cpu_affinity)
		sup->ncpus = cpus_list(&sup->cpus);
	if (cfg->subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_warn("PR_SET_CHILD_SUBREAPER");

	/* Bind everything before the first fork: a busy port fails the start. */
	sup->cur = gen_new(&sup->pool, cfg, sup->last_number = 1, &errors);
	if (sup->cur == NULL) {
		for (size_t i = 0; i < errors.n; i++)
			log_errx("%s", errors.v[i]);
		strv_free(&errors);
		goto fail;
	}
	for (size_t i = 0; i < inherit_count(); i++) {
		struct inherited *in = inherit_get(i);

		if (!in->used && in->fd >= 0) {
			log_warnx("inherited fd %d%s%s%s is not used; closing", in->fd,
			    in->name ? " (" : "", in->name ? in->name : "", in->name ? ")" : "");
			close(in->fd);
			in->fd = -1;	/* its number will be reused: never adopt it again */
		}
	}
	sup->notify_dir = rundir_notify(cfg->name, cfg->prog.ready == READY_NOTIFY);
	if (sup->notify_dir == NULL)
		goto fail;
	if (*sup->notify_dir == '\0') {
		free(sup->notify_dir);
		sup->notify_dir = NULL;
	}

	const char *ctlpath = cfg->control;
	int busy;

	if (ctlpath == NULL) {
		if (ctl_default_path(cfg->name, path, sizeof(path), 1, err, sizeof(err)) == -1) {
			log_errx("control socket: %s", err);
			goto fail;
		}
		ctlpath = path;
	}
	sup->ctl = ctl_open(sup, ctlpath, &busy);
	if (sup->ctl == NULL && busy && cfg->control == NULL && cfg->name == NULL)
		/* A second unnamed cluster on this host: it runs, unreachable. */
		log_warnx("control socket %s is in use by another clusterd; running "
		    "without one (set -s or [clusterd] name)", ctlpath);
	else if (sup->ctl == NULL && busy) {
		log_errx("control socket %s: in use by another clusterd", ctlpath);
		goto fail;
	} else if (sup->ctl == NULL)
		goto fail;
	if (cfg->pidfile) {
		if (write_pidfile(cfg->pidfile) == -1)
			goto fail;
		sup->pidfile = xstrdup(cfg->pidfile);
	}

	return 0;
fail:
	/* Leave no socket file behind from the sockets bound before. */
	cleanup(sup);
	return -1;
}

/* Start-up: the first worker is waited for, so a command that cannot run
 * fails clusterd at once (127/126) instead of N crash-looping slots. */
static int
start_first(struct supervisor *sup)
{
	struct slot *s = sup->slots[0];
	struct worker *w;
	char what[512];
	int status;

	if ((w = slot_start_now(s)) == NULL || worker_wait_exec(w) == 0)
		return 0;
	worker_describe_exit(w, 0, what, sizeof(what));
	log_errx("%s", what);
	ev_child_stop(sup->loop, &w->child);
	while (waitpid(w->pid, &status, 0) == -1 && errno == EINTR)
		;
	s->w = NULL;
	status = w->fail.stage != STAGE_EXEC ? 2 : w->fail.err == ENOENT ? 127 : 126;
	worker_free(w);
	return status;
}

static void
cleanup(struct supervisor *sup)
{
	struct gen *cur = sup->cur;

	sup_unqueue_all(sup);
	if (sup->ctl)
		ctl_close(sup->ctl);
	sup->ctl = NULL;
	if (sup->pidfile)
		remove_pidfile(sup->pidfile);
	free(sup->pidfile);
	for (size_t i = 0; i < sup->nslots; i++)
		slot_free(sup->slots[i]);
	free(sup->slots);
	leftover_free_all();
	sup->nslots = 0;
	if (sup->notify_dir) {
		rundir_notify_remove(sup->notify_dir);
		free(sup->notify_dir);
	}
	for (size_t i = 0; i < sizeof(sup->sigs) / sizeof(sup->sigs[0]); i++)
		ev_signal_stop(sup->loop, &sup->sigs[i]);
	sockpool_quiet(&sup->pool);	/* no "closing" lines for the sockets */
	if (cur)
		gen_unref(&sup->pool, cur);
	sockpool_free(&sup->pool);
	free(sup->cpus);
	strv_free(&sup->base_env);
	close(sup->devnull);
	sdnotify_close();
	output_report(1);
}

int
sup_run(struct supervisor *sup)
{
	size_t n = (size_t)sup->cur->cfg->workers;
	int status = 0;

	sup->slots = xcalloc(n, sizeof(*sup->slots));
	for (size_t i = 0; i < n; i++)
		sup->slots[i] = slot_new(sup, (unsigned)i);
	sup->nslots = n;
	if (n > 0 && (status = start_first(sup)) != 0) {
		cleanup(sup);
		return status;
	}
	for (size_t i = 1; i < n; i++)
		slot_start(sup->slots[i]);
	if (n == 0)
		log_info("no workers to start (workers = 0)");
	ev_run(sup->loop, 0);
	status = sup->exit_status;
	if (status == 0)
		log_info("stopped");
	cleanup(sup);
	return status;
}

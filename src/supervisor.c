/*
 * The cluster: its generations and sockets, the table of slots (slot.c
 * runs each one), scaling, readiness as the service manager hears it,
 * stopping in order, and the exit status.
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
#include <unistd.h>

#include "cpus.h"
#include "inherit.h"
#include "leftover.h"
#include "log.h"
#include "rundir.h"
#include "sdnotify.h"
#include "state.h"
#include "supervisor.h"
#include "suppriv.h"
#include "util.h"

extern char **environ;

/* What clusterd itself was handed for its own use never reaches a worker. */
static int
private_var(const char *kv)
{
	static const char *names[] = {
		"LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=", "LISTEN_PIDFDID=",
		"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=", "FDSTORE=",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strncmp(kv, names[i], strlen(names[i])) == 0)
			return 1;
	return 0;
}

int
sup_ready_count(const struct supervisor *sup)
{
	return slots_ready(&sup->slots);
}

const char *
sup_state(const struct supervisor *sup)
{
	return sup->stopping ? "stopping" : sup->rolling ? "restarting" : "running";
}

void
sup_set_gen(struct supervisor *sup, struct gen *g, int every_slot)
{
	const struct config *cfg = g->cfg;

	if (sup->cur != g) {
		gen_ref(g);
		if (sup->cur)
			gen_unref(&sup->pool, sup->cur);
		sup->cur = g;
	}
	slots_set_gen(&sup->slots, g, every_slot);
	log_set_format(cfg->log_format);
	log_set_name(cfg->name);
	worker_ctx_settings(&sup->wctx, cfg->prog.stop_signal, cfg->stop_timeout,
	    cfg->prog.cpu_affinity);
	leftover_settings(cfg->prog.stop_signal, cfg->stop_timeout);
	aging_update(&sup->aging, sup->rolling);
	load_update(&sup->load);
}

unsigned
sup_take_number(struct supervisor *sup)
{
	return ++sup->last_number;
}

void
sup_rolling(struct supervisor *sup, int on)
{
	sup->rolling = on;
	if (on)
		recycle_yield(&sup->recycle);
	else	/* recycles held back for the rollout */
		recycle_kick(&sup->recycle, sup->cur->cfg->recycle_batch, 0);
	aging_update(&sup->aging, on);
}

/* Say once when every slot has a ready worker (again after a scale-up);
 * keep the service manager's STATUS= current. */
void
sup_check_ready(struct supervisor *sup)
{
	int ready = sup_ready_count(sup);
	size_t n = sup->slots.n;

	if (!sup->announced && !sup->stopping && !sup->rolling && ready == (int)n) {
		sup->announced = 1;
		log_gen(LOG_LVL_INFO, LOG_EV_READY, sup->cur->number, "%zu worker%s ready",
		    n, n == 1 ? "" : "s");
		sdnotify("READY=1\nSTATUS=%d of %zu workers ready, generation %u", ready,
		    n, sup->cur->number);
		sup->told_ready = ready;
		sup->told_gen = sup->cur->number;
		sup->told_n = n;
		return;
	}
	if (ready != sup->told_ready || sup->cur->number != sup->told_gen ||
	    n != sup->told_n) {
		sup->told_ready = ready;
		sup->told_gen = sup->cur->number;
		sup->told_n = n;
		sdnotify("STATUS=%d of %zu workers ready, generation %u", ready, n,
		    sup->cur->number);
	}
}

static void
finish_if_done(struct supervisor *sup)
{
	int failed;

	/* The port is free only once what the workers left is gone too. */
	if (sup->stopping) {
		if (TAILQ_EMPTY(&sup->wctx.all) && !leftover_pending())
			ev_break(sup->loop, EVBREAK_ALL);
		return;
	}
	/* A batch pool: every slot ran out of restarts, so the job is over. */
	if (!slots_all_done(&sup->slots, &failed))
		return;
	log_ev(LOG_LVL_INFO, LOG_EV_EXITING, "all workers have ended; exiting");
	sup->exit_status = failed ? 1 : 0;
	sup->stopping = 1;
	sockpool_quiet(&sup->pool);
	if (TAILQ_EMPTY(&sup->wctx.all) && !leftover_pending())
		ev_break(sup->loop, EVBREAK_ALL);
}

/* Leftover hooks: nothing is left of any dead worker any more, and which
 * pids are live workers. */
static void
leftovers_gone(void *arg)
{
	finish_if_done(arg);
}

static int
is_worker(void *arg, pid_t pid)
{
	struct supervisor *sup = arg;
	struct worker *w;

	TAILQ_FOREACH(w, &sup->wctx.all, entry)
		if (w->pid == pid)
			return 1;
	return 0;
}

/* Slot hooks. */

static void
slots_changed(struct slots *t)
{
	struct supervisor *sup = t->owner;

	sup->told_ready = -1;	/* say the count again, even when it is the same */
	slots_steer(t);
	sup_check_ready(sup);
	recycle_kick(&sup->recycle, sup->cur->cfg->recycle_batch, sup->rolling);
	load_update(&sup->load);
	aging_update(&sup->aging, sup->rolling);
}

static void
slots_ended(struct slots *t)
{
	finish_if_done(t->owner);
}

static void
slots_give_up(struct slots *t)
{
	sup_stop(t->owner, 3);
}

static void
slots_recycle(struct slots *t)
{
	struct supervisor *sup = t->owner;

	sup->recycle.wanted = 1;
	recycle_kick(&sup->recycle, sup->cur->cfg->recycle_batch, sup->rolling);
}

static const struct slot_hooks slot_hooks = {
	slots_changed, slots_ended, slots_give_up, slots_recycle,
};

void
sup_stop(struct supervisor *sup, int status)
{
	struct worker *w;
	char dur[32];
	int n = 0;

	if (sup->stopping)
		return;
	sup->stopping = 1;
	load_free(&sup->load);	/* nothing to watch or scale any more */
	aging_stop(&sup->aging);
	sockpool_quiet(&sup->pool);
	sup->exit_status = status;
	sdnotify("STOPPING=1");
	TAILQ_FOREACH(w, &sup->wctx.all, entry)
		if (w->state != W_STOPPING)
			n++;
	format_duration(dur, sizeof(dur), sup->cur->cfg->stop_timeout);
	if (n > 0)
		log_ev(LOG_LVL_INFO, LOG_EV_STOPPING, "stopping %d worker%s (SIG%s, timeout %s)",
		    n, n == 1 ? "" : "s",
		    signal_name(sup->cur->cfg->prog.stop_signal), dur);
	slots_stop(&sup->slots);
	/* Escaped orphans holding a socket go with the workers. */
	leftover_collect_orphans();
	leftover_start();
	finish_if_done(sup);
}

void
sup_kill_all(struct supervisor *sup)
{
	sup->stopping = 1;
	load_free(&sup->load);
	aging_stop(&sup->aging);
	sockpool_quiet(&sup->pool);
	slots_kill(&sup->slots);
	leftover_kill_all();
	finish_if_done(sup);
}

static void
resize(struct supervisor *sup, size_t n)
{
	sup->told_ready = -1;	/* the service manager's STATUS= changes */
	if (n > sup->slots.n)
		sup->announced = 0;
	slots_resize(&sup->slots, n);
	slots_steer(&sup->slots);
	sup_check_ready(sup);
	finish_if_done(sup);
}

int
sup_scale(struct supervisor *sup, size_t n, char *msg, size_t len)
{
	size_t old = sup->slots.n;
	int lo, hi;

	if (sup->stopping) {
		snprintf(msg, len, "clusterd is stopping");
		return -1;
	}
	if (n > 100000) {
		snprintf(msg, len, "at most 100000 workers");
		return -1;
	}
	if (autoscale_range(&sup->load.as, sup->cur->cfg, &lo, &hi) &&
	    (n < (size_t)lo || n > (size_t)hi)) {
		snprintf(msg, len, "%zu is outside the autoscaler's range %d..%d "
		    "(clusterctl scale MIN..MAX sets another)", n, lo, hi);
		return -1;
	}
	if (n == old) {
		snprintf(msg, len, "already %zu worker%s", n, n == 1 ? "" : "s");
		return 0;
	}
	snprintf(msg, len, "scaling from %zu to %zu workers", old, n);
	log_ev(LOG_LVL_INFO, LOG_EV_SCALE, "%s", msg);
	resize(sup, n);
	load_count_changed(&sup->load, old, n);
	return 0;
}

int
sup_scale_range(struct supervisor *sup, int lo, int hi, char *msg, size_t len)
{
	size_t old = sup->slots.n, n = old;

	if (sup->stopping) {
		snprintf(msg, len, "clusterd is stopping");
		return -1;
	}
	sup->load.as.lo = lo;
	sup->load.as.hi = hi;
	if (n < (size_t)lo)
		n = (size_t)lo;
	if (n > (size_t)hi)
		n = (size_t)hi;
	snprintf(msg, len, "autoscaler: workers %d..%d until the next reload; %zu running",
	    lo, hi, n);
	log_ev(LOG_LVL_INFO, LOG_EV_SCALE, "%s", msg);
	if (n != old)
		resize(sup, n);
	load_count_changed(&sup->load, old, n);
	return 0;
}

void
sup_workers_setting(struct supervisor *sup, char *msg, size_t len)
{
	const struct config *cfg = sup->cur->cfg;
	size_t n = (size_t)cfg->workers;

	/* A new range: the count goes on from where it is, within it. */
	sup->load.as.lo = sup->load.as.hi = -1;
	if (cfg->workers_max > 0) {
		n = sup->slots.n;
		if (n < (size_t)cfg->workers)
			n = (size_t)cfg->workers;
		if (n > (size_t)cfg->workers_max)
			n = (size_t)cfg->workers_max;
	}
	if (sup_scale(sup, n, msg, len) == 0)
		load_update(&sup->load);
}

static void
autoscaled(void *owner, size_t n, const char *why)
{
	struct supervisor *sup = owner;

	if (sup->stopping)
		return;
	log_ev(LOG_LVL_INFO, LOG_EV_SCALE, "autoscale: %zu -> %zu workers: %s",
	    sup->slots.n, n, why);
	resize(sup, n);
	load_update(&sup->load);
}

static const struct load_hooks load_hooks = { autoscaled };

int
sup_signal_workers(struct supervisor *sup, int sig, long id, char *msg, size_t len)
{
	struct worker *w;
	int n = 0;

	TAILQ_FOREACH(w, &sup->wctx.all, entry)
		if ((id < 0 || (long)w->id == id) && !w->slot->removed &&
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

/* What a new cluster and one an upgrade carried over start with. */
void
sup_setup(struct supervisor *sup, struct ev_loop *loop, const struct cli *cli)
{
	memset(sup, 0, sizeof(*sup));
	sup->loop = loop;
	sup->cli = cli;
	sup->started = mono_now();
	worker_ctx_init(&sup->wctx, loop, &sup->pool, &sup->base_env);
	leftover_init(loop, &sup->pool, is_worker, leftovers_gone, sup);
	slots_init(&sup->slots, loop, &sup->wctx, &sup->pool, &slot_hooks, sup);
	recycle_init(&sup->recycle, &sup->slots);
	load_init(&sup->load, loop, &sup->slots, &sup->cur, &load_hooks, sup);
	aging_init(&sup->aging, loop, &sup->slots, &sup->cur);
	sup->cg.basefd = sup->cg.v1memfd = sup->cg.inotify = -1;
	sdnotify_init(loop);
	if ((sup->wctx.devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		fatal(1, "/dev/null");
	for (char **e = environ; *e; e++)
		if (!private_var(*e))
			strv_push(&sup->base_env, xstrdup(*e));
}

int
sup_init(struct supervisor *sup, struct ev_loop *loop, const struct cli *cli,
    struct config *cfg)
{
	struct strv errors = { 0 };
	struct rlimit rl;
	struct gen *g;

	sup_setup(sup, loop, cli);

	/* 1000 workers need more than 1024 fds; the workers keep the original. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		sup->wctx.nofile = rl;
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (cfg->subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_warn("PR_SET_CHILD_SUBREAPER");

	/* Before binding: what a killed clusterd of this name left may hold
	 * the ports. */
	if (cgroups_init(&sup->cg, loop, cfg) == -1) {
		/* No generation holds cfg yet: it is ours to free. */
		config_free(cfg);
		free(cfg);
		goto fail;
	}
	if (sup->cg.on)
		sup->wctx.cg = &sup->cg;

	/* Bind everything before the first fork: a busy port fails the start. */
	g = gen_new(&sup->pool, cfg, sup->last_number = 1, &errors);
	if (g == NULL) {
		for (size_t i = 0; i < errors.n; i++)
			log_errx("%s", errors.v[i]);
		strv_free(&errors);
		goto fail;
	}
	sup_set_gen(sup, g, 0);
	gen_unref(&sup->pool, g);
	for (size_t i = 0; i < inherit_count(); i++) {
		struct inherited *in = inherit_get(i);

		if (!in->used && in->fd >= 0) {
			log_warnx("inherited fd %d%s%s%s is not used; closing", in->fd,
			    in->name ? " (" : "", in->name ? in->name : "", in->name ? ")" : "");
			close(in->fd);
			in->fd = -1;	/* its number will be reused: never adopt it again */
		}
	}
	if (notifydir_new(loop, cfg->name, cfg->prog.ready == READY_NOTIFY,
	    &sup->notify) == -1)
		goto fail;
	sup->wctx.notify = sup->notify;
	return 0;
fail:
	/* Leave no socket file behind from the sockets bound before. */
	sup_free(sup);
	return -1;
}

int
sup_write_pidfile(struct supervisor *sup)
{
	const char *path = sup->cur->cfg->pidfile;

	if (path == NULL)
		return 0;
	if (write_pidfile(path) == -1)
		return -1;
	sup->pidfile = xstrdup(path);
	return 0;
}

void
sup_free(struct supervisor *sup)
{
	if (sup->pidfile)
		remove_pidfile(sup->pidfile);
	free(sup->pidfile);
	sup->pidfile = NULL;
	load_free(&sup->load);
	slots_free(&sup->slots);
	leftover_free_all();
	notifydir_free(sup->notify);
	sup->notify = NULL;
	sup->wctx.notify = NULL;
	sockpool_quiet(&sup->pool);
	if (sup->cur)
		gen_unref(&sup->pool, sup->cur);
	sup->cur = NULL;
	sockpool_free(&sup->pool);
	worker_ctx_free(&sup->wctx);
	sup->wctx.cg = NULL;
	cgroups_free(&sup->cg);
	strv_free(&sup->base_env);
	if (sup->wctx.devnull >= 0)
		close(sup->wctx.devnull);
	sup->wctx.devnull = -1;
	sdnotify_close();
	output_report(1);
}

/* Run until the cluster ends: its exit status. */
int
sup_run_loop(struct supervisor *sup)
{
	ev_run(sup->loop, 0);
	if (sup->exit_status == 0)
		log_ev(LOG_LVL_INFO, LOG_EV_STOPPED, "stopped");
	return sup->exit_status;
}

int
sup_run(struct supervisor *sup)
{
	size_t n = (size_t)sup->cur->cfg->workers;
	int status;

	/* Every start is queued; the first runs now and is waited for, so a
	 * command that cannot run fails clusterd at once (127/126) instead of
	 * N crash-looping slots. */
	slots_resize(&sup->slots, n);
	if (n > 0 && (status = slots_start_first(&sup->slots)) != 0)
		return status;
	if (n == 0)
		log_info("no workers to start (workers = 0)");
	return sup_run_loop(sup);
}

/*
 * Worker processes: starting them (their argv and environment are
 * workerenv.c's), watching them through exec, readiness, notify messages,
 * watchdog and exit, and stopping them. What a death means for the slot
 * is its owner's call (slot.c), told through the hooks it gave.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpus.h"
#include "gen.h"
#include "leftover.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "rundir.h"
#include "state.h"
#include "steer.h"
#include "worker.h"
#include "workerenv.h"
#include "util.h"
#include "values.h"

const char *const worker_state_names[] = { "starting", "ready", "stopping" };

const char *
worker_state_name(enum worker_state s)
{
	return worker_state_names[s];
}

static void
become_ready(struct worker *w)
{
	struct ev_loop *loop = w->ctx->loop;

	ev_timer_stop(loop, &w->timer);
	/* As systemd does: the watchdog runs from readiness on. */
	if (w->gen->cfg->prog.watchdog > 0)
		ev_timer_again(loop, &w->watchdog);
	w->state = W_READY;
	w->hooks->ready(w);
}

static void
on_exec_ok(struct worker *w)
{
	const struct program_cfg *pc = &w->gen->cfg->prog;
	struct ev_loop *loop = w->ctx->loop;

	if (pc->ready == READY_DELAY && pc->ready_delay > 0) {
		ev_timer_set(&w->timer, pc->ready_delay, 0);
		ev_timer_start(loop, &w->timer);
	} else if (pc->ready == READY_NOTIFY) {
		/* READY=1 may have come before the pipe's EOF was read. */
		if (w->state == W_STARTING && pc->ready_timeout > 0) {
			ev_timer_set(&w->timer, pc->ready_timeout, 0);
			ev_timer_start(loop, &w->timer);
		}
	} else
		become_ready(w);
}

/* Read what the exec pipe has: a failure report, or EOF. */
static void
read_report(struct worker *w, int fd)
{
	ssize_t n;

	do
		n = read(fd, &w->fail, sizeof(w->fail));
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)sizeof(w->fail))
		w->failed = 1;
}

static void
report_close(struct worker *w)
{
	if (w->report.fd < 0)
		return;
	ev_io_stop(w->ctx->loop, &w->report);
	close(w->report.fd);
	w->report.fd = -1;
}

static void
report_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker *w = container_of(io, struct worker, report);

	(void)loop;
	(void)revents;
	read_report(w, io->fd);
	report_close(w);
	if (!w->failed && w->state == W_STARTING)
		on_exec_ok(w);
}

int
worker_wait_exec(struct worker *w)
{
	if (w->report.fd >= 0) {
		read_report(w, w->report.fd);
		report_close(w);
		if (!w->failed && w->state == W_STARTING)
			on_exec_ok(w);
	}
	return w->failed ? -1 : 0;
}

static void
notify_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker *w = container_of(io, struct worker, notify.io);
	const struct program_cfg *pc = &w->gen->cfg->prog;
	struct notify_msg m;
	const char *why;
	int r, budget = 64;

	(void)revents;
	/* Bounded: a worker flooding its socket cannot starve the others. */
	while (budget-- > 0 && (r = notify_recv(io->fd, &m, &why)) != 0) {
		/* The socket names the worker; its credentials say the sender is
		 * in the worker's tree (the socket is in a private directory, but
		 * a process of the same user could still find it). */
		if (r == 1 && !notify_sender_ok(m.sender, (int)w->pid)) {
			r = -1;
			why = "dropped notify message from a process outside the worker's tree";
		}
		if (r == -1) {
			/* Five lines a second at most: a worker spraying junk
			 * cannot flood the log. */
			double t = mono_now();

			if (t - w->drop_window >= 1.0) {
				w->drop_window = t;
				w->drop_lines = 0;
			}
			if (w->drop_lines++ >= 5) {
				w->drops_unlogged++;
				continue;
			}
			if (w->drops_unlogged > 0)
				log_worker(LOG_LVL_WARN, LOG_EV_NOTIFY, w->id, w->pid,
				    w->gen->number, "worker %u (pid %d): %s (and %lu more dropped)",
				    w->id, (int)w->pid, why, w->drops_unlogged);
			else
				log_worker(LOG_LVL_WARN, LOG_EV_NOTIFY, w->id, w->pid,
				    w->gen->number, "worker %u (pid %d): %s", w->id,
				    (int)w->pid, why);
			w->drops_unlogged = 0;
			continue;
		}
		if (m.has_status) {
			free(w->status);
			w->status = xstrdup(m.status);
		}
		if (m.watchdog && pc->watchdog > 0)
			ev_timer_again(loop, &w->watchdog);
		if (m.extend_usec > 0 && w->state == W_STARTING && ev_is_active(&w->timer)) {
			double left = ev_timer_remaining(loop, &w->timer);
			double want = (double)m.extend_usec / 1e6;

			if (want > left) {
				ev_timer_stop(loop, &w->timer);
				ev_timer_set(&w->timer, want, 0);
				ev_timer_start(loop, &w->timer);
			}
		}
		/* Only the exec'd program has the socket's name: READY=1 may even
		 * be read before the exec pipe's EOF. */
		if (m.ready && w->state == W_STARTING && pc->ready == READY_NOTIFY)
			become_ready(w);
		if (m.stopping)
			log_worker(LOG_LVL_DEBUG, LOG_EV_WORKER_STOPPING, w->id, w->pid,
			    w->gen->number, "worker %u (pid %d) is stopping", w->id,
			    (int)w->pid);
	}
}

/* Which reason label of clusterd_worker_exits_total its exit counts as. */
static enum mx_exit
exit_reason(const struct worker *w, int status)
{
	/* What clusterd knew of it first: the exit status of a worker it
	 * stopped says only how it took the stop signal. */
	if (w->failed)
		return MX_EXEC_FAILED;
	if (w->cg.oom)
		return MX_OOM;
	if (w->timed_out == WT_WATCHDOG)
		return MX_WATCHDOG;
	if (w->timed_out == WT_READY)
		return MX_READY_TIMEOUT;
	if (w->state == W_STOPPING && w->hung)
		return MX_HANG;
	/* recycle.c gives the recycle as the stop's why once it replaces it. */
	if (w->state == W_STOPPING && w->recycle && w->why && strcmp(w->why, w->recycle) == 0)
		return MX_RECYCLE;
	if (w->state == W_STOPPING)
		return MX_STOPPED;
	if (WIFEXITED(status))
		return WEXITSTATUS(status) == 0 ? MX_CLEAN : MX_EXITED;
	return MX_SIGNAL;
}

/* The worker is gone, its whole cgroup too: the owner decides what next. */
static void
finish_exit(struct worker *w)
{
	struct ev_loop *loop = w->ctx->loop;

	ev_timer_stop(loop, &w->timer);
	ev_timer_stop(loop, &w->watchdog);
	metrics_worker_exit(w->id, exit_reason(w, w->wstatus), w->wstatus);
	w->hooks->exited(w, w->wstatus);
	leftover_start();
}

static void
child_cb(struct ev_loop *loop, ev_child *c, int revents)
{
	struct worker *w = container_of(c, struct worker, child);
	/* Stopping, the timer is its deadline, which its group keeps. */
	double left = ev_is_active(&w->timer) ? ev_timer_remaining(loop, &w->timer) :
	    w->ctx->stop_timeout;
	char what[256];
	int n;

	(void)revents;
	/* First what it left in its group (and orphans holding a socket), so
	 * that the exit cannot end clusterd before they are gone; they are
	 * signalled after the exit is logged. A cgroup holds them all. */
	if (w->cg.cg == NULL)
		leftover_collect(w->pid, w->id, w->state == W_STOPPING, w->killed, left);
	ev_child_stop(loop, c);
	ev_timer_stop(loop, &w->watchdog);
	/* The child is gone, so the pipe holds all it will ever say. */
	if (w->report.fd >= 0) {
		read_report(w, w->report.fd);
		report_close(w);
	}
	w->reaped = 1;
	w->wstatus = c->rstatus;
	wcg_oom(&w->cg);
	if (wcg_wait_empty(&w->cg)) {
		/* The worker is gone when its cgroup is empty: what it started
		 * goes too, within what is left of its stop deadline. */
		worker_describe_exit(w, w->wstatus, what, sizeof(what));
		n = wcg_signal(&w->cg, w->ctx->stop_signal);
		log_worker(LOG_LVL_INFO, LOG_EV_LEFTOVER, w->id, w->pid, w->gen->number,
		    "worker %u (pid %d) %s; %d process%s left in its cgroup: "
		    "stopping them", w->id, (int)w->pid, what, n, n == 1 ? "" : "es");
		if (w->state != W_STOPPING || !ev_is_active(&w->timer)) {
			w->state = W_STOPPING;
			w->stop_timeout = w->ctx->stop_timeout;
			ev_timer_stop(loop, &w->timer);
			ev_timer_set(&w->timer, w->stop_timeout, 0);
			ev_timer_start(loop, &w->timer);
		}
		return;
	}
	finish_exit(w);
}

/* Its cgroup's events: empty, memory_high crossed, OOM. */
static void
cgroup_cb(struct wcgroup *wc, enum wcg_event ev)
{
	struct worker *w = container_of(wc, struct worker, cg);
	struct wcg_stats st;
	char lim[32], use[32];

	switch (ev) {
	case WCG_EMPTY:
		if (w->reaped)
			finish_exit(w);
		break;
	case WCG_HIGH:
		if (w->state == W_STOPPING || w->recycle)
			break;
		format_bytes(lim, sizeof(lim), wc->memory_high);
		if (w->state == W_STARTING) {
			/* Its successor would cross it too: recycling would never end. */
			log_worker(LOG_LVL_WARN, LOG_EV_MEMORY_HIGH, w->id, w->pid,
			    w->gen->number, "worker %u (pid %d): memory.high %s crossed before it was "
			    "ready; not recycling it (is memory_high below what the "
			    "program needs to start?)", w->id, (int)w->pid, lim);
			break;
		}
		wcg_stats(wc, &st);
		snprintf(use, sizeof(use), "%.1fM", (double)st.memory / (1024 * 1024));
		log_worker(LOG_LVL_WARN, LOG_EV_MEMORY_HIGH, w->id, w->pid, w->gen->number,
		    "worker %u (pid %d): memory.high %s crossed (using %s): "
		    "recycling it", w->id, (int)w->pid, lim, st.memory >= 0 ? use : "?");
		worker_recycle(w, xasprintf("recycled: memory.high %s crossed", lim));
		break;
	case WCG_OOM:
		/* cgroup v1 kills one process: the rest of the worker goes too,
		 * as memory.oom.group makes v2 do. */
		if (wc->v1fd != -1) {
			log_worker(LOG_LVL_WARN, LOG_EV_OOM, w->id, w->pid, w->gen->number,
			    "worker %u (pid %d): out of memory in its cgroup; "
			    "ending it", w->id, (int)w->pid);
			w->killed = 1;
			wcg_kill(wc);
		}
		break;
	}
}

static void
timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = container_of(t, struct worker, timer);
	const struct config *cfg = w->gen->cfg;
	char dur[32], why[96];

	(void)loop;
	(void)revents;
	if (w->state == W_STARTING && cfg->prog.ready == READY_DELAY) {
		become_ready(w);
	} else if (w->state == W_STARTING) {
		format_duration(dur, sizeof(dur), cfg->prog.ready_timeout);
		snprintf(why, sizeof(why), "not ready within %s", dur);
		w->timed_out = WT_READY;
		w->hooks->timeout(w, why);
	} else if (w->state == W_STOPPING && !w->killed) {
		format_duration(dur, sizeof(dur), w->stop_timeout);
		log_worker(LOG_LVL_WARN, LOG_EV_WORKER_KILLED, w->id, w->pid, w->gen->number,
		    "worker %u (pid %d) did not stop within %s; killing",
		    w->id, (int)w->pid, dur);
		worker_kill(w);
	} else if (w->state == W_STOPPING && w->reaped) {
		/* Stuck in the kernel (D state): clusterd cannot wait forever. */
		log_worker(LOG_LVL_WARN, LOG_EV_LEFTOVER, w->id, w->pid, w->gen->number,
		    "worker %u (pid %d): processes of its cgroup survive "
		    "SIGKILL; giving up on them", w->id, (int)w->pid);
		finish_exit(w);
	}
}

static void
watchdog_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = container_of(t, struct worker, watchdog);
	char dur[32], why[128];

	(void)revents;
	ev_timer_stop(loop, t);
	if (w->state == W_STOPPING)
		return;
	format_duration(dur, sizeof(dur), w->gen->cfg->prog.watchdog);
	snprintf(why, sizeof(why), "watchdog timeout (no WATCHDOG=1 within %s)", dur);
	w->timed_out = WT_WATCHDOG;
	w->hooks->timeout(w, why);
}

/* The worker's notify socket and output pipes. */
static void
release_io(struct ev_loop *loop, struct worker *w)
{
	notify_sock_close(&w->notify);
	if (w->out) {
		output_close(loop, &w->out[0]);
		output_close(loop, &w->out[1]);
		free(w->out);
	}
}

void
worker_ctx_init(struct worker_ctx *ctx, struct ev_loop *loop, struct sockpool *pool,
    const struct strv *base_env)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->loop = loop;
	TAILQ_INIT(&ctx->all);
	ctx->pool = pool;
	ctx->base_env = base_env;
	ctx->devnull = -1;
	ctx->stop_signal = SIGTERM;
}

void
worker_ctx_settings(struct worker_ctx *ctx, int stop_signal, double stop_timeout,
    int cpu_affinity)
{
	ctx->stop_signal = stop_signal;
	ctx->stop_timeout = stop_timeout;
	if (cpu_affinity && ctx->cpus == NULL)
		ctx->ncpus = cpus_list(&ctx->cpus);
}

void
worker_ctx_free(struct worker_ctx *ctx)
{
	free(ctx->cpus);
	ctx->cpus = NULL;
}

/*
 * Start a worker. Any step that fails fails the start as a whole: logged,
 * everything made so far closed, NULL for the caller to try again later.
 * Descriptors are only ever closed by the number this function got for
 * them.
 */
struct worker *
worker_spawn(struct worker_ctx *ctx, const struct worker_spec *ws)
{
	struct gen *g = ws->gen;
	const struct program_cfg *pc = &g->cfg->prog;
	struct worker *w = xcalloc(1, sizeof(*w));
	struct strv argv = { 0 }, env = { 0 };
	int fds[g->nlst > 0 ? g->nlst : 1];
	struct spawn sp = { 0 };
	const char *what = NULL;
	struct workerenv we;
	char *path = NULL;
	int report = -1, e, i;
	pid_t pid = -1;

	w->ctx = ctx;
	sp.stdout_fd = sp.stderr_fd = -1;
	ev_io_init(&w->notify.io, notify_cb, -1, EV_READ);
	for (size_t k = 0; k < g->nlst; k++) {
		fds[k] = g->lst[k]->fd;
		/* Reuseport mode: the slot's own socket, the same for each of its workers. */
		if (g->lst[k]->cfg->reuseport > 0 &&
		    (g->lst[k]->cfg->adopt_fd < 0 || g->lst[k]->cfg->carried) &&
		    (fds[k] = steer_slot_fd(g->lst[k], ws->id)) == -1) {
			what = "reuseport socket";
			goto fail;
		}
	}
	/* A worker that runs as another user gets its socket file. */
	if (ctx->notify && notify_sock_open(ctx->notify, &w->notify, ws->id,
	    g->drop ? g->uid : (uid_t)-1, g->gid) == -1) {
		what = "notify socket";
		goto fail;
	}
	if (g->cfg->log_prefix) {
		w->out = xcalloc(2, sizeof(*w->out));
		/* Both, even when the first fails: each leaves its own fd at
		 * -1 on failure, so closing both later closes nothing else. */
		int o1 = output_open(&w->out[0], 1, &sp.stdout_fd);
		int o2 = output_open(&w->out[1], 2, &sp.stderr_fd);

		if (o1 == -1 || o2 == -1) {
			e = errno;
			if (o1 == -1)
				sp.stdout_fd = -1;
			if (o2 == -1)
				sp.stderr_fd = -1;
			errno = e;
			what = "output pipe";
			goto fail;
		}
	}
	we.gen = g;
	we.id = ws->id;
	we.nworkers = ws->nworkers;
	we.base = ctx->base_env;
	we.notify_path = w->notify.path;
	workerenv_argv(&we, &argv);
	workerenv_env(&we, &sp, &env);
	sp.argv = argv.v;
	sp.envp = env.v;
	sp.fds = fds;
	sp.nfds = (int)g->nlst;
	sp.devnull = ctx->devnull;
	sp.directory = pc->directory;
	sp.drop = g->drop;
	sp.uid = g->uid;
	sp.gid = g->gid;
	sp.groups = g->groups;
	sp.ngroups = g->ngroups;
	sp.umask = pc->umask;
	sp.nofile = ctx->nofile;
	if (pc->rlimit_nofile > 0)
		sp.nofile.rlim_cur = sp.nofile.rlim_max = (rlim_t)pc->rlimit_nofile;
	sp.pdeathsig = pc->parent_death_signal;
	sp.cpu = pc->cpu_affinity && ctx->ncpus > 0 ? ctx->cpus[ws->id % ctx->ncpus] : -1;
	if (ctx->cg) {
		if (wcg_create(ctx->cg, &w->cg, ws->id, g->number, pc, &what) == -1)
			goto fail;
		w->cg.hook = cgroup_cb;
		sp.in_cgroup = 1;
		sp.cgroup_fd = w->cg.fd;
		sp.join = w->cg.v1procs != -1;
		sp.join_fd = w->cg.v1procs;
	}
	/* The worker's PATH, from its own environment, not clusterd's. */
	i = strv_env_find(&env, "PATH", 4);
	sp.path = path = spawn_resolve(argv.v[0], i < 0 ? NULL : env.v[i] + 5,
	    pc->directory, &sp, &sp.path_err);
	if (path)
		sp.sh_argv = workerenv_sh_argv(&argv, path);

	pid = spawn_start(&sp, &report, &what);
	e = errno;
	free(sp.sh_argv);
	free(path);
	strv_free(&argv);
	strv_free(&env);
	errno = e;
	if (pid == -1)
		goto fail;
	wcg_started(&w->cg);
	if (sp.stdout_fd >= 0)
		close(sp.stdout_fd);
	if (sp.stderr_fd >= 0)
		close(sp.stderr_fd);
	w->slot = ws->owner;
	w->hooks = ws->hooks;
	w->id = ws->id;
	w->gen = g;
	gen_ref(g);
	w->pid = pid;
	w->notify.pid = pid;
	w->state = W_STARTING;
	w->started = mono_now();
	ev_child_init(&w->child, child_cb, pid, 0);
	ev_child_start(ctx->loop, &w->child);
	ev_io_init(&w->report, report_cb, report, EV_READ);
	ev_io_start(ctx->loop, &w->report);
	ev_timer_init(&w->timer, timer_cb, 0, 0);
	ev_timer_init(&w->watchdog, watchdog_cb, 0, pc->watchdog);
	if (w->out) {
		output_start(ctx->loop, &w->out[0], ws->id, pid, g->number, pc->argv.v[0]);
		output_start(ctx->loop, &w->out[1], ws->id, pid, g->number, pc->argv.v[0]);
	}
	TAILQ_INSERT_TAIL(&ctx->all, w, entry);
	metrics_worker_start(ws->id);
	if (g->number > 1)
		log_worker(LOG_LVL_INFO, LOG_EV_WORKER_STARTED, ws->id, pid, g->number,
		    "worker %u (pid %d) started (generation %u)", ws->id, (int)pid,
		    g->number);
	else
		log_worker(LOG_LVL_INFO, LOG_EV_WORKER_STARTED, ws->id, pid, g->number,
		    "worker %u (pid %d) started", ws->id, (int)pid);
	return w;

fail:
	e = errno;
	strv_free(&argv);
	strv_free(&env);
	if (sp.stdout_fd >= 0)
		close(sp.stdout_fd);
	if (sp.stderr_fd >= 0)
		close(sp.stderr_fd);
	release_io(ctx->loop, w);
	wcg_release(&w->cg);
	free(w);
	log_worker(LOG_LVL_WARN, LOG_EV_SPAWN_FAILED, ws->id, 0, ws->gen->number,
	    "worker %u: cannot start: %s: %s", ws->id, what, strerror(e));
	return NULL;
}

void
worker_stop(struct worker *w, const char *why)
{
	struct worker_ctx *ctx = w->ctx;

	if (w->state == W_STOPPING)
		return;
	if (why && w->why == NULL)
		w->why = xstrdup(why);
	w->state = W_STOPPING;
	/* The current setting: a reload may have changed it since w started. */
	w->stop_timeout = ctx->stop_timeout;
	/* The whole cgroup, or the whole group: a shell wrapper's children
	 * hear it too. */
	if (wcg_signal(&w->cg, ctx->stop_signal) == 0 && kill(-w->pid, ctx->stop_signal) == -1)
		kill(w->pid, ctx->stop_signal);
	/* A worker stopped by SIGSTOP would hold the signal until
	 * stop_timeout runs out: SIGCONT after it, as systemd sends. Only to
	 * one that is stopped (a process traced at exit, as a leak checker
	 * does, must not be woken), and never to a hung one: woken, it would
	 * take its queue before its successor, which is there to serve it. */
	if (!w->hung && leftover_proc_state(w->pid) == 'T' &&
	    wcg_signal(&w->cg, SIGCONT) == 0 && kill(-w->pid, SIGCONT) == -1)
		kill(w->pid, SIGCONT);
	ev_timer_stop(ctx->loop, &w->timer);
	ev_timer_stop(ctx->loop, &w->watchdog);
	ev_timer_set(&w->timer, w->stop_timeout, 0);
	ev_timer_start(ctx->loop, &w->timer);
}

void
worker_recycle(struct worker *w, char *why)
{
	if (w->state == W_STOPPING || w->recycle) {
		free(why);
		return;
	}
	w->recycle = why;
	if (w->hooks->recycle)
		w->hooks->recycle(w);
}

void
worker_note_why(struct worker *w, const char *why)
{
	if (why && w->why == NULL)
		w->why = xstrdup(why);
}

void
worker_kill(struct worker *w)
{
	w->state = W_STOPPING;
	w->killed = 1;
	ev_timer_stop(w->ctx->loop, &w->timer);
	ev_timer_stop(w->ctx->loop, &w->watchdog);
	if (w->cg.cg) {
		wcg_kill(&w->cg);
		/* How long the rest of its cgroup gets to go, once it has. */
		ev_timer_set(&w->timer, 5, 0);
		ev_timer_start(w->ctx->loop, &w->timer);
	}
	if (!w->reaped && kill(-w->pid, SIGKILL) == -1)
		kill(w->pid, SIGKILL);
}

void
worker_free(struct worker *w)
{
	struct worker_ctx *ctx = w->ctx;

	ev_child_stop(ctx->loop, &w->child);
	ev_timer_stop(ctx->loop, &w->timer);
	ev_timer_stop(ctx->loop, &w->watchdog);
	report_close(w);
	release_io(ctx->loop, w);
	wcg_release(&w->cg);
	TAILQ_REMOVE(&ctx->all, w, entry);
	gen_unref(ctx->pool, w->gen);
	free(w->why);
	free(w->recycle);
	free(w->status);
	free(w);
}

void
worker_describe_exit(const struct worker *w, int status, char *buf, size_t len)
{
	const struct program_cfg *pc = &w->gen->cfg->prog;

	if (w->failed && w->fail.stage == STAGE_DIRECTORY)
		snprintf(buf, len, "%s %s: %s", spawn_stage_what(w->fail.stage),
		    pc->directory, strerror(w->fail.err));
	else if (w->failed && w->fail.stage == STAGE_EXEC)
		snprintf(buf, len, "%s %s: %s", spawn_stage_what(w->fail.stage),
		    pc->argv.v[0], strerror(w->fail.err));
	else if (w->failed)
		snprintf(buf, len, "%s: %s", spawn_stage_what(w->fail.stage),
		    strerror(w->fail.err));
	else if (w->cg.oom && w->cg.memory_max >= 0) {
		char lim[32];

		format_bytes(lim, sizeof(lim), w->cg.memory_max);
		snprintf(buf, len, "OOM-killed: memory.max %s", lim);
	} else if (w->cg.oom)
		snprintf(buf, len, "OOM-killed");
	else if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d%s", WTERMSIG(status),
		    WCOREDUMP(status) ? " (core dumped)" : "");
	else
		snprintf(buf, len, "ended with wait status %#x", status);
}

static double
left_of(struct ev_loop *loop, ev_timer *t)
{
	return ev_is_active(t) ? ev_timer_remaining(loop, t) : -1;
}

void
worker_save(const struct worker *w, struct state_out *so)
{
	struct ev_loop *loop = w->ctx->loop;

	state_rec(so, "worker");
	state_int(so, "id", w->id);
	state_int(so, "pid", (long long)w->pid);
	state_int(so, "gen", w->gen->number);
	state_str(so, "state", worker_state_name(w->state));
	state_dbl(so, "started", w->started);
	state_dbl(so, "timer", left_of(loop, (ev_timer *)&w->timer));
	state_dbl(so, "watchdog", left_of(loop, (ev_timer *)&w->watchdog));
	state_dbl(so, "stop_timeout", w->stop_timeout);
	state_int(so, "killed", w->killed);
	state_int(so, "timed_out", w->timed_out);
	state_str(so, "why", w->why);
	state_str(so, "recycle", w->recycle);
	state_int(so, "recycle_failed", w->recycle_failed);
	state_int(so, "hung", w->hung);
	state_str(so, "status", w->status);
	/* The exec pipe, while its EOF has not been read. */
	state_fd(so, "report", w->report.fd);
	notify_sock_save(&w->notify, so);
	wcg_save(&w->cg, so);
}

static void
timer_resume(struct ev_loop *loop, ev_timer *t, double left, double repeat)
{
	if (left < 0)
		return;
	ev_timer_set(t, left, repeat);
	ev_timer_start(loop, t);
}

struct worker *
worker_adopt(struct worker_ctx *ctx, const struct worker_spec *ws, const struct state_rec *r,
    const struct state_rec *out1, const struct state_rec *out2)
{
	const struct program_cfg *pc = &ws->gen->cfg->prog;
	struct worker *w = xcalloc(1, sizeof(*w));
	int state = rec_index(r, "state", worker_state_names, W_STOPPING + 1), fd;

	w->ctx = ctx;
	w->pid = (pid_t)rec_int(r, "pid", 0);
	ev_io_init(&w->notify.io, notify_cb, -1, EV_READ);
	ev_io_init(&w->report, report_cb, -1, EV_READ);
	if (w->pid <= 0 || state < 0) {
		free(w);
		return NULL;
	}
	if (ctx->notify && rec_str(r, "notify_path") &&
	    notify_sock_adopt(ctx->notify, &w->notify, r, ws->id, w->pid) == -1)
		goto fail;
	if (wcg_adopt(ctx->cg, &w->cg, r) == -1)
		goto fail;
	w->cg.hook = cgroup_cb;
	if (out1 || out2) {
		w->out = xcalloc(2, sizeof(*w->out));
		if ((out1 && output_adopt(ctx->loop, &w->out[0], out1, ws->id, w->pid,
		    ws->gen->number, pc->argv.v[0]) == -1) ||
		    (out2 && output_adopt(ctx->loop, &w->out[1], out2, ws->id, w->pid,
		    ws->gen->number, pc->argv.v[0]) == -1))
			goto fail;
	}
	w->slot = ws->owner;
	w->hooks = ws->hooks;
	w->id = ws->id;
	w->gen = ws->gen;
	gen_ref(w->gen);
	w->state = state;
	w->started = rec_dbl(r, "started", mono_now());
	w->stop_timeout = rec_dbl(r, "stop_timeout", ctx->stop_timeout);
	w->killed = rec_int(r, "killed", 0) != 0;
	w->timed_out = (enum worker_timeout)rec_int(r, "timed_out", WT_NONE);
	w->why = rec_dup(r, "why");
	w->recycle = rec_dup(r, "recycle");
	w->recycle_failed = rec_int(r, "recycle_failed", 0) != 0;
	w->hung = rec_int(r, "hung", 0) != 0;	/* still steered around */
	w->status = rec_dup(r, "status");
	/* Reaped by the loop's first turn if it died on the way. */
	ev_child_init(&w->child, child_cb, w->pid, 0);
	ev_child_start(ctx->loop, &w->child);
	if ((fd = rec_fd(r, "report")) != -1) {
		ev_io_set(&w->report, fd, EV_READ);
		ev_io_start(ctx->loop, &w->report);
	}
	ev_timer_init(&w->timer, timer_cb, 0, 0);
	ev_timer_init(&w->watchdog, watchdog_cb, 0, pc->watchdog);
	timer_resume(ctx->loop, &w->timer, rec_dbl(r, "timer", -1), 0);
	if (pc->watchdog > 0)
		timer_resume(ctx->loop, &w->watchdog, rec_dbl(r, "watchdog", -1),
		    pc->watchdog);
	TAILQ_INSERT_TAIL(&ctx->all, w, entry);
	return w;
fail:
	/* Nothing closed or removed: the caller falls back to the old binary
	 * at once, which takes the same descriptors over. */
	return NULL;
}

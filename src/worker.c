/*
 * Worker processes: building their argv and environment, watching them
 * through exec, readiness and exit, and stopping them.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "supervisor.h"
#include "worker.h"

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

const char *
worker_state_name(enum worker_state s)
{
	static const char *names[] = { "starting", "ready", "stopping" };

	return names[s];
}

/* Expand {worker}, {workers}, {generation}, {fd:NAME}, {port:NAME}, {{. */
static char *
expand(const struct supervisor *sup, const struct slot *slot, const char *s)
{
	size_t cap = strlen(s) + 64, n = 0;
	char *out = xmalloc(cap);

	while (*s) {
		char val[32];
		const char *add = NULL, *end;

		if (s[0] == '{' && s[1] == '{') {
			add = "{";
			s += 2;
		} else if (s[0] == '{' && (end = strchr(s, '}')) != NULL) {
			size_t len = (size_t)(end - s - 1);
			const char *name = s + 1;

			val[0] = '\0';
			if (len == 6 && strncmp(name, "worker", 6) == 0)
				snprintf(val, sizeof(val), "%u", slot->id);
			else if (len == 7 && strncmp(name, "workers", 7) == 0)
				snprintf(val, sizeof(val), "%zu", sup->nslots);
			else if (len == 10 && strncmp(name, "generation", 10) == 0)
				snprintf(val, sizeof(val), "%u", sup->generation);
			else {
				int fd = strncmp(name, "fd:", 3) == 0;
				const char *sname = name + (fd ? 3 : 5);
				size_t slen = len - (fd ? 3 : 5);

				/* config.c checked every name: one of these matches. */
				for (size_t i = 0; i < sup->nlst; i++) {
					const char *ln = sup->lst[i].cfg->name;

					if (strlen(ln) == slen && strncmp(ln, sname, slen) == 0)
						snprintf(val, sizeof(val), "%d",
						    fd ? 3 + (int)i : sup->lst[i].port);
				}
			}
			add = val;
			s = end + 1;
		} else {
			val[0] = *s++;
			val[1] = '\0';
			add = val;
		}
		size_t alen = strlen(add);

		if (n + alen + 1 > cap) {
			cap = (n + alen + 1) * 2;
			out = xreallocarray(out, cap, 1);
		}
		memcpy(out + n, add, alen);
		n += alen;
	}
	out[n] = '\0';
	return out;
}

static void
build_env(const struct supervisor *sup, const struct slot *slot, struct strv *env,
    char **listen_pid, int *pidfd_idx)
{
	const struct config *cfg = sup->cfg;

	strv_copy(env, &sup->base_env);
	for (size_t i = 0; i < cfg->env.n; i++)
		strv_env_set(env, expand(sup, slot, cfg->env.v[i]));
	/* The fd protocol's names are clusterd's to set, whatever [env] says. */
	strv_env_unset_prefix(env, "LISTEN_");
	strv_env_set(env, xasprintf("CLUSTERD_WORKER_ID=%u", slot->id));
	strv_env_set(env, xasprintf("CLUSTERD_WORKERS=%zu", sup->nslots));
	strv_env_set(env, xasprintf("CLUSTERD_GENERATION=%u", sup->generation));
	*listen_pid = NULL;
	*pidfd_idx = -1;
	if (sup->nlst == 0)
		return;

	size_t namelen = 0;

	for (size_t i = 0; i < sup->nlst; i++)
		namelen += strlen(sup->lst[i].cfg->name) + 1;

	char *names = xmalloc(namelen + sizeof("LISTEN_FDNAMES="));
	char *p = stpcpy(names, "LISTEN_FDNAMES=");

	for (size_t i = 0; i < sup->nlst; i++) {
		if (i)
			*p++ = ':';
		p = stpcpy(p, sup->lst[i].cfg->name);
	}
	strv_push(env, xasprintf("LISTEN_FDS=%zu", sup->nlst));
	strv_push(env, names);
	/* Filled in by the child, which alone knows its pid. */
	*listen_pid = xcalloc(1, sizeof("LISTEN_PID=") + LISTEN_PID_ROOM);
	strv_push(env, *listen_pid);
	strv_push(env, xcalloc(1, sizeof("LISTEN_PIDFDID=") + LISTEN_PID_ROOM));
	*pidfd_idx = (int)env->n - 1;
}

static void
on_exec_ok(struct worker *w)
{
	const struct program_cfg *pc = &w->slot->sup->cfg->prog;

	if (pc->ready == READY_DELAY && pc->ready_delay > 0) {
		ev_timer_set(&w->timer, pc->ready_delay, 0);
		ev_timer_start(w->slot->sup->loop, &w->timer);
	} else {
		w->state = W_READY;
		sup_worker_ready(w);
	}
}

/* Read what the exec pipe has: a failure report, or EOF. */
static int
read_report(struct worker *w, int fd)
{
	ssize_t n;

	do
		n = read(fd, &w->fail, sizeof(w->fail));
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)sizeof(w->fail))
		w->failed = 1;
	return n > 0 ? 1 : 0;
}

static void
report_close(struct worker *w)
{
	struct ev_loop *loop = w->slot->sup->loop;

	if (w->report.fd < 0)
		return;
	ev_io_stop(loop, &w->report);
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
child_cb(struct ev_loop *loop, ev_child *c, int revents)
{
	struct worker *w = container_of(c, struct worker, child);

	(void)revents;
	ev_child_stop(loop, c);
	ev_timer_stop(loop, &w->timer);
	/* The child is gone, so the pipe holds all it will ever say. */
	if (w->report.fd >= 0) {
		read_report(w, w->report.fd);
		report_close(w);
	}
	sup_worker_exited(w, c->rstatus);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = container_of(t, struct worker, timer);
	struct supervisor *sup = w->slot->sup;
	char dur[32];

	(void)loop;
	(void)revents;
	if (w->state == W_STARTING) {
		w->state = W_READY;
		sup_worker_ready(w);
		return;
	}
	if (w->state == W_STOPPING && !w->killed) {
		format_duration(dur, sizeof(dur), sup->cfg->stop_timeout);
		log_warnx("worker %u (pid %d) did not stop within %s; killing",
		    w->slot->id, (int)w->pid, dur);
		worker_kill(w);
	}
}

struct worker *
worker_spawn(struct slot *slot)
{
	struct supervisor *sup = slot->sup;
	const struct program_cfg *pc = &sup->cfg->prog;
	struct worker *w = xcalloc(1, sizeof(*w));
	struct strv argv = { 0 }, env = { 0 };
	int fds[sup->nlst > 0 ? sup->nlst : 1];
	struct spawn sp = { 0 };
	int report, pidfd_idx;
	pid_t pid;

	for (size_t i = 0; i < pc->argv.n; i++)
		strv_push(&argv, expand(sup, slot, pc->argv.v[i]));
	build_env(sup, slot, &env, &sp.listen_pid, &pidfd_idx);
	for (size_t i = 0; i < sup->nlst; i++)
		fds[i] = sup->lst[i].fd;
	sp.argv = argv.v;
	sp.envp = env.v;
	sp.pidfd_id = pidfd_idx >= 0 ? &env.v[pidfd_idx] : NULL;
	sp.fds = fds;
	sp.nfds = (int)sup->nlst;
	sp.devnull = sup->devnull;
	sp.directory = pc->directory;
	sp.drop = sup->drop;
	sp.uid = sup->uid;
	sp.gid = sup->gid;
	sp.groups = sup->groups;
	sp.ngroups = sup->ngroups;
	sp.umask = pc->umask;
	sp.nofile = sup->nofile;
	sp.pdeathsig = pc->parent_death_signal;
	sp.cpu = pc->cpu_affinity && sup->ncpus > 0 ?
	    sup->cpus[slot->id % sup->ncpus] : -1;

	pid = spawn_start(&sp, &report);
	/* The child has its own copy; the pidfd entry may be NULL there only. */
	strv_free(&argv);
	strv_free(&env);
	if (pid == -1) {
		log_err("worker %u: fork", slot->id);
		free(w);
		return NULL;
	}
	w->slot = slot;
	w->pid = pid;
	w->state = W_STARTING;
	w->generation = sup->generation;
	w->started = ev_now(sup->loop);
	ev_child_init(&w->child, child_cb, pid, 0);
	ev_child_start(sup->loop, &w->child);
	ev_io_init(&w->report, report_cb, report, EV_READ);
	ev_io_start(sup->loop, &w->report);
	ev_timer_init(&w->timer, timer_cb, 0, 0);
	log_info("worker %u (pid %d) started", slot->id, (int)pid);
	return w;
}

void
worker_stop(struct worker *w)
{
	struct supervisor *sup = w->slot->sup;
	int sig = sup->cfg->prog.stop_signal;

	if (w->state == W_STOPPING)
		return;
	w->state = W_STOPPING;
	/* The whole group: a shell wrapper's children hear it too. */
	if (kill(-w->pid, sig) == -1)
		kill(w->pid, sig);
	ev_timer_stop(sup->loop, &w->timer);
	ev_timer_set(&w->timer, sup->cfg->stop_timeout, 0);
	ev_timer_start(sup->loop, &w->timer);
}

void
worker_kill(struct worker *w)
{
	w->state = W_STOPPING;
	w->killed = 1;
	ev_timer_stop(w->slot->sup->loop, &w->timer);
	if (kill(-w->pid, SIGKILL) == -1)
		kill(w->pid, SIGKILL);
}

void
worker_free(struct worker *w)
{
	struct ev_loop *loop = w->slot->sup->loop;

	ev_child_stop(loop, &w->child);
	ev_timer_stop(loop, &w->timer);
	report_close(w);
	free(w);
}

void
worker_describe_exit(const struct worker *w, int status, char *buf, size_t len)
{
	const char *argv0 = w->slot->sup->cfg->prog.argv.v[0];

	if (w->failed && w->fail.stage == STAGE_DIRECTORY)
		snprintf(buf, len, "%s %s: %s", spawn_stage_what(w->fail.stage),
		    w->slot->sup->cfg->prog.directory, strerror(w->fail.err));
	else if (w->failed)
		snprintf(buf, len, "%s %s: %s", spawn_stage_what(w->fail.stage),
		    w->fail.stage == STAGE_EXEC ? argv0 : "worker",
		    strerror(w->fail.err));
	else if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d%s", WTERMSIG(status),
		    WCOREDUMP(status) ? " (core dumped)" : "");
	else
		snprintf(buf, len, "ended with wait status %#x", status);
}

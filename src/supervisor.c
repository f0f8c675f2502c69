/*
 * The cluster: bind, start the slots, replace what dies (with per-slot
 * backoff), answer signals, stop in order, and pick the exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpus.h"
#include "log.h"
#include "supervisor.h"

extern char **environ;

enum { SIG_TERM, SIG_INT, SIG_QUIT, SIG_HUP, SIG_USR2, SIG_TTIN, SIG_TTOU };

static void	slot_start(struct slot *);
static void	cleanup(struct supervisor *);

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

static int
resolve_user(struct supervisor *sup, const struct program_cfg *pc)
{
	struct passwd *pw = NULL;
	struct group *gr;
	int n = 64;

	if (pc->user == NULL && pc->group == NULL)
		return 0;
	sup->drop = 1;
	sup->uid = getuid();
	sup->gid = getgid();
	if (pc->user) {
		if ((pw = getpwnam(pc->user)) == NULL) {
			log_errx("unknown user \"%s\"", pc->user);
			return -1;
		}
		sup->uid = pw->pw_uid;
		sup->gid = pw->pw_gid;
	}
	if (pc->group) {
		if ((gr = getgrnam(pc->group)) == NULL) {
			log_errx("unknown group \"%s\"", pc->group);
			return -1;
		}
		sup->gid = gr->gr_gid;
	}
	/* The user's supplementary groups, as a login would give them. */
	sup->groups = xreallocarray(NULL, n, sizeof(gid_t));
	if (pw) {
		if (getgrouplist(pw->pw_name, sup->gid, sup->groups, &n) == -1) {
			sup->groups = xreallocarray(sup->groups, n, sizeof(gid_t));
			getgrouplist(pw->pw_name, sup->gid, sup->groups, &n);
		}
	} else {
		sup->groups[0] = sup->gid;
		n = 1;
	}
	sup->ngroups = n;
	return 0;
}

static int
write_pidfile(const char *path)
{
	char tmp[PATH_MAX], buf[32];
	int fd, len;

	/* Written beside, then renamed: readers never see a half-written file,
	 * and O_EXCL|O_NOFOLLOW never write through someone's symlink. */
	if (snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof(tmp)) {
		log_errx("pidfile %s: name too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd == -1) {
		log_err("pidfile %s", tmp);
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, len) != len || close(fd) == -1 || rename(tmp, path) == -1) {
		log_err("pidfile %s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void
remove_pidfile(const char *path)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd == -1)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	/* Only our own: a successor may have written its pid since. */
	if (n > 0 && (buf[n] = '\0', atoi(buf) == (int)getpid()))
		unlink(path);
}

static int
all_ready(const struct supervisor *sup)
{
	for (size_t i = 0; i < sup->nslots; i++) {
		const struct slot *s = sup->slots[i];

		if (s->w == NULL || s->w->state != W_READY)
			return 0;
	}
	return 1;
}

void
sup_worker_ready(struct worker *w)
{
	struct supervisor *sup = w->slot->sup;

	log_debug("worker %u (pid %d) ready", w->slot->id, (int)w->pid);
	if (!sup->announced && !sup->stopping && all_ready(sup)) {
		sup->announced = 1;
		log_info("%zu worker%s ready", sup->nslots, sup->nslots == 1 ? "" : "s");
	}
}

static int
live_workers(const struct supervisor *sup)
{
	int n = 0;

	for (size_t i = 0; i < sup->nslots; i++)
		if (sup->slots[i]->w)
			n++;
	return n;
}

static void
finish_if_done(struct supervisor *sup)
{
	if (sup->stopping) {
		if (live_workers(sup) == 0)
			ev_break(sup->loop, EVBREAK_ALL);
		return;
	}
	/* A batch pool: every slot ran out of restarts, so the job is over. */
	if (sup->nslots == 0)
		return;
	int failed = 0;

	for (size_t i = 0; i < sup->nslots; i++) {
		const struct slot *s = sup->slots[i];

		if (!s->done || s->w)
			return;
		failed |= s->failed;
	}
	log_info("all workers have ended; exiting");
	sup->exit_status = failed ? 1 : 0;
	sup->stopping = 1;
	ev_break(sup->loop, EVBREAK_ALL);
}

static void
sup_stop(struct supervisor *sup, int status)
{
	char dur[32];
	int n = live_workers(sup);

	if (sup->stopping)
		return;
	sup->stopping = 1;
	sup->exit_status = status;
	for (size_t i = 0; i < sup->nslots; i++)
		ev_timer_stop(sup->loop, &sup->slots[i]->backoff);
	format_duration(dur, sizeof(dur), sup->cfg->stop_timeout);
	if (n > 0)
		log_info("stopping %d worker%s (SIG%s, timeout %s)", n, n == 1 ? "" : "s",
		    signal_name(sup->cfg->prog.stop_signal), dur);
	for (size_t i = 0; i < sup->nslots; i++)
		if (sup->slots[i]->w)
			worker_stop(sup->slots[i]->w);
	finish_if_done(sup);
}

static void
sup_kill_all(struct supervisor *sup)
{
	sup->stopping = 1;
	for (size_t i = 0; i < sup->nslots; i++) {
		ev_timer_stop(sup->loop, &sup->slots[i]->backoff);
		if (sup->slots[i]->w)
			worker_kill(sup->slots[i]->w);
	}
	finish_if_done(sup);
}

/* How long slot s waits before its next start, by §4's backoff rule. */
static double
backoff_delay(const struct slot *s, const struct program_cfg *pc)
{
	double d;

	if (s->streak <= 1)
		return 0;
	d = pc->backoff_initial * ldexp(1.0, (int)(s->streak < 64 ? s->streak - 2 : 62));
	return d < pc->backoff_max ? d : pc->backoff_max;
}

void
sup_worker_exited(struct worker *w, int status)
{
	struct slot *s = w->slot;
	struct supervisor *sup = s->sup;
	const struct program_cfg *pc = &sup->cfg->prog;
	double lived = ev_now(sup->loop) - w->started;
	int clean = !w->failed && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	char what[512], dur[32];
	int restart;

	worker_describe_exit(w, status, what, sizeof(what));
	if (s->w == w)
		s->w = NULL;
	s->last_status = status;
	s->failed = !clean;

	if (sup->stopping || w->state == W_STOPPING) {
		log_info("worker %u (pid %d) %s", s->id, (int)w->pid, what);
		worker_free(w);
		finish_if_done(sup);
		return;
	}
	restart = pc->restart == RESTART_ALWAYS ||
	    (pc->restart == RESTART_ON_FAILURE && !clean);
	if (!restart) {
		log_info("worker %u (pid %d) %s; not restarting (restart = %s)", s->id,
		    (int)w->pid, what, pc->restart == RESTART_NEVER ? "never" : "on-failure");
		s->done = 1;
		worker_free(w);
		finish_if_done(sup);
		return;
	}

	s->streak = lived < pc->stable_after ? s->streak + 1 : 0;
	if (sup->cfg->give_up_after > 0 && s->streak >= (unsigned)sup->cfg->give_up_after) {
		log_errx("worker %u (pid %d) %s", s->id, (int)w->pid, what);
		log_errx("worker %u died %u times in a row; giving up", s->id, s->streak);
		worker_free(w);
		sup_stop(sup, 3);
		return;
	}
	double delay = backoff_delay(s, pc);

	s->restarts++;
	if (delay == 0) {
		log_warnx("worker %u (pid %d) %s; restarting now", s->id, (int)w->pid, what);
		worker_free(w);
		slot_start(s);
	} else {
		format_duration(dur, sizeof(dur), delay);
		log_warnx("worker %u (pid %d) %s; restarting in %s", s->id, (int)w->pid,
		    what, dur);
		worker_free(w);
		ev_timer_set(&s->backoff, delay, 0);
		ev_timer_start(sup->loop, &s->backoff);
	}
}

static void
slot_start(struct slot *s)
{
	struct supervisor *sup = s->sup;

	s->w = worker_spawn(s);
	if (s->w == NULL) {
		/* fork failed (out of memory or pids): try again later. */
		s->streak++;
		ev_timer_set(&s->backoff, backoff_delay(s, &sup->cfg->prog) + 0.1, 0);
		ev_timer_start(sup->loop, &s->backoff);
	}
}

static void
backoff_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct slot *s = t->data;

	(void)loop;
	(void)revents;
	if (!s->sup->stopping && s->w == NULL)
		slot_start(s);
}

static struct slot *
slot_new(struct supervisor *sup, unsigned id)
{
	struct slot *s = xcalloc(1, sizeof(*s));

	s->sup = sup;
	s->id = id;
	s->last_status = -1;
	ev_timer_init(&s->backoff, backoff_cb, 0, 0);
	s->backoff.data = s;
	return s;
}

static void
signal_cb(struct ev_loop *loop, ev_signal *sig, int revents)
{
	struct supervisor *sup = sig->data;

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
	default:
		log_warnx("SIG%s: not supported yet; ignored", signal_name(sig->signum));
		break;
	}
}

int
sup_init(struct supervisor *sup, struct config *cfg)
{
	static const int signums[] = {
		[SIG_TERM] = SIGTERM, [SIG_INT] = SIGINT, [SIG_QUIT] = SIGQUIT,
		[SIG_HUP] = SIGHUP, [SIG_USR2] = SIGUSR2, [SIG_TTIN] = SIGTTIN,
		[SIG_TTOU] = SIGTTOU,
	};
	const struct program_cfg *pc = &cfg->prog;
	struct rlimit rl;
	struct stat st;

	memset(sup, 0, sizeof(*sup));
	sup->cfg = cfg;
	sup->generation = 1;
	/* signalfd: no wake-up pipe, and signals wait in the queue, not a handler. */
	sup->loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_SIGNALFD);
	if (sup->loop == NULL)
		fatalx(1, "cannot initialise libev");
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
	if (pc->rlimit_nofile > 0)
		sup->nofile.rlim_cur = sup->nofile.rlim_max = (rlim_t)pc->rlimit_nofile;
	if (pc->directory && stat(pc->directory, &st) == -1) {
		log_err("directory %s", pc->directory);
		goto fail;
	}
	if (pc->directory && !S_ISDIR(st.st_mode)) {
		log_errx("directory %s: %s", pc->directory, strerror(ENOTDIR));
		goto fail;
	}
	if (resolve_user(sup, pc) == -1)
		goto fail;
	if (pc->cpu_affinity)
		sup->ncpus = cpus_list(&sup->cpus);
	if (cfg->subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_warn("PR_SET_CHILD_SUBREAPER");

	/* Bind everything before the first fork: a busy port fails the start. */
	sup->lst = xcalloc(cfg->nsocks, sizeof(*sup->lst));
	for (size_t i = 0; i < cfg->nsocks; i++) {
		if (listener_open(&sup->lst[i], &cfg->socks[i]) == -1)
			goto fail;
		sup->nlst++;
	}
	if (cfg->pidfile) {
		if (write_pidfile(cfg->pidfile) == -1)
			goto fail;
		sup->pidfile_written = 1;
	}

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(signums) / sizeof(signums[0]); i++) {
		ev_signal_init(&sup->sigs[i], signal_cb, signums[i]);
		sup->sigs[i].data = sup;
		ev_signal_start(sup->loop, &sup->sigs[i]);
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

	slot_start(s);
	if ((w = s->w) == NULL || worker_wait_exec(w) == 0)
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
	for (size_t i = 0; i < sup->nlst; i++)
		listener_close(&sup->lst[i]);
	if (sup->pidfile_written)
		remove_pidfile(sup->cfg->pidfile);
	for (size_t i = 0; i < sup->nslots; i++) {
		ev_timer_stop(sup->loop, &sup->slots[i]->backoff);
		free(sup->slots[i]);
	}
	for (size_t i = 0; i < sizeof(sup->sigs) / sizeof(sup->sigs[0]); i++)
		ev_signal_stop(sup->loop, &sup->sigs[i]);
	free(sup->slots);
	free(sup->lst);
	free(sup->groups);
	free(sup->cpus);
	strv_free(&sup->base_env);
	close(sup->devnull);
}

int
sup_run(struct supervisor *sup)
{
	size_t n = (size_t)sup->cfg->workers;
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

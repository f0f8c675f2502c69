/*
 * Upgrading clusterd in place, as systemd re-executes itself: the state
 * goes to a sealed memfd (state.c), every descriptor it names stays open
 * across the exec, and the same process runs the new binary, which takes
 * the cluster over. The pid does not change, so systemd's MAINPID, the
 * workers' parent and their parent-death signal all stay right.
 *
 * In order: the request is refused unless the cluster is at rest (see
 * sup_can_save()); the new binary reads the state in a child first
 * (--check-upgrade), which must succeed; then, from the loop, the state is
 * written again, signals are blocked (they wait, pending, for the new
 * image) and the binary is exec'd from the descriptor that was checked.
 * A failed exec leaves the old image running; a new image that cannot
 * take the cluster over execs the old binary, kept open since start, with
 * the same state (--upgrade-fallback): workers are never left alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "sink.h"
#include "state.h"
#include "supervisor.h"
#include "upgrade.h"
#include "util.h"
#include "values.h"

extern char **environ;

#ifndef CLUSTERD_VERSION_TAG
#define CLUSTERD_VERSION_TAG	""
#endif

/* The new binary gets this long to say it can take the state over. */
#define CHECK_TIMEOUT	10.0

static char	**args;		/* clusterd's command line, for the exec */
static int	 nargs;
static char	 self_path[PATH_MAX];
static int	 self_fd = -1;	/* this binary, for a fallback */

/* Records the new image must understand to take the cluster over. */
static const char *const known[] = {
	"clusterd", "sup", "gen", "listener", "cgroups", "notifydir", "ctl", "slots",
	"slot", "worker", "worker_out", "sink", "rollout", "op", "metricsrv",
	"jsink",	/* sink.c: what was queued for the journal */
#ifdef CLUSTERD_TEST_FORMAT2
	"format2",
#endif
	"metrics", "metrics_slot",	/* the counters (metrics.c) */
	NULL,
};

const char *
upgrade_version(void)
{
	return PACKAGE_VERSION CLUSTERD_VERSION_TAG " (" CLUSTERD_COMMIT ")";
}

void
upgrade_args(int argc, char **argv)
{
	ssize_t n;

	/* An upgraded image's own flags are not part of the command line. */
	args = xcalloc((size_t)argc + 1, sizeof(*args));
	for (int i = 0; i < argc; i++)
		if (i == 0 || (strncmp(argv[i], "--upgrade-", 10) != 0 &&
		    strncmp(argv[i], "--check-upgrade", 15) != 0))
			args[nargs++] = argv[i];
	n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	self_path[n > 0 ? n : 0] = '\0';
	/* Replaced on disk (make install, a package): the path is the new
	 * binary, which is the usual upgrade; the old one is kept here. */
	if (n > 10 && strcmp(self_path + n - 10, " (deleted)") == 0)
		self_path[n - 10] = '\0';
	self_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
}

void
upgrade_init(struct upgrade *up, struct ev_loop *loop, struct supervisor *sup,
    struct ops *ops)
{
	memset(up, 0, sizeof(*up));
	up->loop = loop;
	up->sup = sup;
	up->ops = ops;
	up->exe = up->memfd = -1;
	ev_io_init(&up->out, NULL, -1, EV_READ);
}

void
upgrade_set_clients(struct upgrade *up, const void *clients,
    void (*save)(const void *clients, struct state_out *, const void *waiting),
    int (*fd_of)(void *cookie))
{
	up->clients = clients;
	up->client_save = save;
	up->client_fd = fd_of;
}

static void
reset(struct upgrade *up)
{
	if (up->pid > 0) {
		ev_child_stop(up->loop, &up->child);
		kill(up->pid, SIGKILL);
		while (waitpid(up->pid, NULL, 0) == -1 && errno == EINTR)
			;
	}
	up->pid = 0;
	ev_timer_stop(up->loop, &up->timer);
	if (up->out.fd >= 0) {
		ev_io_stop(up->loop, &up->out);
		close(up->out.fd);
		ev_io_set(&up->out, -1, EV_READ);
	}
	if (up->exe >= 0)
		close(up->exe);
	if (up->memfd >= 0)
		close(up->memfd);
	up->exe = up->memfd = -1;
	free(up->path);
	up->path = NULL;
	up->checking = 0;
	up->nsaid = 0;
	up->said[0] = '\0';
}

static void
finish(struct upgrade *up, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
finish(struct upgrade *up, int code, const char *fmt, ...)
{
	request_cb *done = up->done;
	void *cookie = up->cookie;
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reset(up);
	up->done = NULL;
	up->cookie = NULL;
	if (code)
		log_warnx("%s", msg);
	if (done)
		done(code, msg, NULL, cookie);
}

void
upgrade_cancel(struct upgrade *up, void *cookie)
{
	if (up->cookie == cookie) {
		up->done = NULL;
		up->cookie = NULL;
	}
}

void
upgrade_free(struct upgrade *up)
{
	reset(up);
}

const struct replace_owner *
upgrade_owners(struct supervisor *sup, struct ops *ops)
{
	static struct replace_owner v[3];

	v[0] = (struct replace_owner){ "rollout", rollout_replace_cb(), &ops->ro };
	v[1] = (struct replace_owner){ "recycle", recycle_replace_cb(), &sup->recycle };
	v[2] = (struct replace_owner){ NULL, NULL, NULL };
	return v;
}

/* state_build()'s waiting for the state the check reads. */
static const char CHECK_STATE[1];

static struct state_out *
state_build(struct upgrade *up, const void *waiting)
{
	struct state_out *so = state_out_new(up->format);
	struct gen *extra[3];

	/* Critical: a clusterd that cannot read it must refuse the state. */
	state_rec(so, "!clusterd");
	state_str(so, "version", upgrade_version());
	state_dbl(so, "asked", up->asked);
	state_int(so, "pid", (long long)getpid());
	state_fd(so, "self", self_fd);
	state_fd(so, "exe", up->exe);
	{
		unsigned long long bits = 0;
		sigset_t cur;

		/* The mask before the exec blocks everything: the new image
		 * goes back to this one. */
		sigemptyset(&cur);
		sigprocmask(SIG_SETMASK, NULL, &cur);
		for (int sig = 1; sig < NSIG && sig <= 64; sig++)
			if (sigismember(&cur, sig) == 1)
				bits |= 1ULL << (sig - 1);
		state_int(so, "sigmask", (long long)bits);
	}
	state_str(so, "self_path", self_path);
#ifdef CLUSTERD_TEST_FORMAT2
	/* What a format 1 reader cannot take: it must never be sent one. */
	if (up->format >= 2) {
		state_rec(so, "!format2");
		state_int(so, "proof", 1);
	}
#endif
	rollout_gens(&up->ops->ro, extra);
	/* The check reads what a new version may read differently: the
	 * format, each generation's configuration, the sockets. The slots
	 * and workers are plain records, read at the take-over (a failure
	 * there falls back): at 1000 workers they would double its time. */
	sup_save(up->sup, so, waiting == CHECK_STATE ? NULL :
	    upgrade_owners(up->sup, up->ops), extra);
	ops_save(up->ops, so, up->client_fd);
	metrics_save(so);
	if (up->client_save)
		up->client_save(up->clients, so, waiting == CHECK_STATE ? NULL : waiting);
	/* Last: the lines logged up to here go with it. */
	sink_save(so);
	return so;
}

/* FD_CLOEXEC is the only descriptor flag: set it or clear it outright. */
static void
set_cloexec(const int *fds, size_t n, int on)
{
	for (size_t i = 0; i < n; i++)
		fcntl(fds[i], F_SETFD, on ? FD_CLOEXEC : 0);
}

static char **
exec_argv(const char *path, const char *flag, int fd, const char *extra)
{
	char **v = xcalloc((size_t)nargs + 4, sizeof(*v));
	int n = 0;

	v[n++] = (char *)path;
	v[n++] = xasprintf("%s=%d", flag, fd);
	if (extra)
		v[n++] = (char *)extra;
	for (int i = 1; i < nargs; i++)
		v[n++] = args[i];
	return v;
}

/* clusterd's own environment, without the sockets a service manager gave
 * it at start: the state carries them now. */
static char **
exec_env(void)
{
	size_t n = 0;
	char **v;

	for (char **e = environ; *e; e++)
		n++;
	v = xcalloc(n + 1, sizeof(*v));
	n = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "LISTEN_", 7) != 0)
			v[n++] = *e;
	return v;
}

/*
 * The tests' way to have a worker die while clusterd is being replaced:
 * CLUSTERD_TEST_KILL_AT_EXEC=ID kills slot ID's worker after the state is
 * written, and waits until it is a zombie (not reaped: the new image must
 * find it so).
 */
static void
test_kill_worker(struct upgrade *up)
{
	const char *v = getenv("CLUSTERD_TEST_KILL_AT_EXEC");
	siginfo_t si;
	long id;

	if (v == NULL || parse_long(v, 0, 100000, &id) == -1 ||
	    (size_t)id >= up->sup->slots.n || up->sup->slots.v[id]->w == NULL)
		return;
	kill(up->sup->slots.v[id]->w->pid, SIGKILL);
	while (waitid(P_PID, (id_t)up->sup->slots.v[id]->w->pid, &si,
	    WEXITED | WNOWAIT) == -1 && errno == EINTR)
		;
}

/*
 * Run the binary open at fd (its descriptor stays open through the exec:
 * the new image closes it). Through /proc rather than execveat(): the
 * same file, and a tool that follows execs (valgrind) follows this one.
 */
static void
exec_fd(int fd, char **argv, char **envp)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	set_cloexec(&fd, 1, 0);
	execve(path, argv, envp);
	set_cloexec(&fd, 1, 1);
}

/* The check passed: the real thing, from the loop. */
static void
do_exec(struct upgrade *up)
{
	char err[256], **argv, **envp;
	struct state_out *so;
	sigset_t all, old;
	const int *fds;
	size_t nfds;
	int memfd, e;
	const char *why;

	if ((why = sup_can_save(up->sup)) != NULL) {
		finish(up, 1, "upgrade refused: %s; try again later", why);
		return;
	}
	log_ev(LOG_LVL_INFO, LOG_EV_UPGRADE, "upgrading to %s (%s, state format %d)", up->path,
	    up->said[0] ? up->said : "?", up->format);
	so = state_build(up, up->cookie);
	if ((memfd = state_out_finish(so, err, sizeof(err))) == -1) {
		state_out_free(so);
		finish(up, 1, "upgrade failed: %s", err);
		return;
	}
	fds = state_out_fds(so, &nfds);
	argv = exec_argv(up->path, "--upgrade-state", memfd, NULL);
	envp = exec_env();
	set_cloexec(fds, nfds, 0);
	set_cloexec(&memfd, 1, 0);
	/* Signals wait for the new image, pending; SIGCHLD among them. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	test_kill_worker(up);
	/* The tests' way to have the exec itself fail. */
	if (getenv("CLUSTERD_TEST_EXEC_FAIL"))
		errno = ENOEXEC;
	else
		exec_fd(up->exe, argv, envp);
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	set_cloexec(fds, nfds, 1);
	close(memfd);
	free(argv[1]);
	free(argv);
	free(envp);
	state_out_free(so);
	finish(up, 1, "upgrade failed: cannot run %s: %s; clusterd %s goes on",
	    up->path, strerror(e), upgrade_version());
}

static void
check_out_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct upgrade *up = container_of(io, struct upgrade, out);
	char buf[512];
	ssize_t n;

	(void)revents;
	n = read(io->fd, buf, sizeof(buf));
	if (n > 0) {
		/* The last line is what counts; keep the tail. */
		for (ssize_t i = 0; i < n; i++) {
			if (up->nsaid >= sizeof(up->said) - 1) {
				memmove(up->said, up->said + 256, up->nsaid - 256);
				up->nsaid -= 256;
			}
			up->said[up->nsaid++] = buf[i];
		}
		up->said[up->nsaid] = '\0';
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	ev_io_stop(loop, io);
	close(io->fd);
	ev_io_set(io, -1, EV_READ);
}

/* The last non-empty line of what the check said. */
static const char *
last_line(struct upgrade *up)
{
	char *p;

	while (up->nsaid > 0 && up->said[up->nsaid - 1] == '\n')
		up->said[--up->nsaid] = '\0';
	p = strrchr(up->said, '\n');
	return p ? p + 1 : up->said;
}

static void	check(struct upgrade *);

/*
 * The new binary refused the state, and says it reads only older formats
 * (the previous release): write the newest of those, if this clusterd
 * can, and check again. 1: under way again.
 */
static int
older_format(struct upgrade *up)
{
	const char *p = strstr(up->said, "reads state formats ");
	int lo, hi;

	if (up->retried || p == NULL ||
	    sscanf(p, "reads state formats %d-%d", &lo, &hi) != 2 ||
	    hi >= up->format || hi < STATE_FORMAT_OLDEST || lo > hi)
		return 0;
	log_info("upgrade: %s reads state formats %d-%d: writing format %d", up->path,
	    lo, hi, hi);
	up->retried = 1;
	up->format = hi;
	close(up->memfd);
	up->memfd = -1;
	up->nsaid = 0;
	up->said[0] = '\0';
	ev_timer_stop(up->loop, &up->timer);
	check(up);
	return 1;
}

static void
check_child_cb(struct ev_loop *loop, ev_child *c, int revents)
{
	struct upgrade *up = container_of(c, struct upgrade, child);
	int status = c->rstatus;
	const char *said;

	(void)revents;
	ev_child_stop(loop, c);
	up->pid = 0;
	/* What it wrote before it exited is in the pipe. */
	while (up->out.fd >= 0)
		check_out_cb(loop, &up->out, EV_READ);
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && older_format(up))
		return;
	said = last_line(up);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		/* Its first line: "clusterd VERSION reads state formats A-B". */
		up->said[strcspn(up->said, "\n")] = '\0';
		if (strncmp(up->said, "clusterd ", 9) == 0)
			memmove(up->said, up->said + 9, strlen(up->said + 9) + 1);
		do_exec(up);
		return;
	}
	if (WIFSIGNALED(status))
		finish(up, 1, "upgrade refused: %s --check-upgrade was killed by "
		    "signal %d%s%s; clusterd %s goes on", up->path, WTERMSIG(status),
		    *said ? ": " : "", said, upgrade_version());
	else
		finish(up, 1, "upgrade refused: %s --check-upgrade exited with status "
		    "%d%s%s; clusterd %s goes on", up->path, WEXITSTATUS(status),
		    *said ? ": " : "", said, upgrade_version());
}

static void
check_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct upgrade *up = container_of(t, struct upgrade, timer);

	(void)loop;
	(void)revents;
	finish(up, 1, "upgrade refused: %s --check-upgrade did not answer within "
	    "%.0fs; clusterd %s goes on", up->path, CHECK_TIMEOUT, upgrade_version());
}

/* Run PATH --check-upgrade=3 with the state on fd 3 and its output to us.
 * A plain fork: it is rare, and the child only moves descriptors. */
static int
start_check(struct upgrade *up, char *err, size_t len)
{
	char **argv, **envp;
	sigset_t none;
	int p[2], efd, mfd;

	/* Run through the descriptor that was opened (and is exec'd later),
	 * as fd 4 of the child, which a script's interpreter can still open;
	 * copies above 10 first, so neither dup2 overwrites the other. */
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(err, len, "pipe: %s", strerror(errno));
		return -1;
	}
	efd = fcntl(up->exe, F_DUPFD_CLOEXEC, 10);
	mfd = fcntl(up->memfd, F_DUPFD_CLOEXEC, 10);
	argv = exec_argv(up->path, "--check-upgrade", 3, NULL);
	envp = exec_env();
	if ((up->pid = fork()) == 0) {
		sigemptyset(&none);
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(mfd, 3) == -1 || dup2(efd, 4) == -1 || dup2(p[1], 1) == -1 ||
		    dup2(p[1], 2) == -1)
			_exit(126);
		execve("/proc/self/fd/4", argv, envp);
		dprintf(2, "cannot run %s: %s\n", up->path, strerror(errno));
		_exit(126);
	}
	free(argv[1]);
	free(argv);
	free(envp);
	close(p[1]);
	close(efd);
	close(mfd);
	if (up->pid == -1) {
		up->pid = 0;
		close(p[0]);
		snprintf(err, len, "fork: %s", strerror(errno));
		return -1;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	ev_io_init(&up->out, check_out_cb, p[0], EV_READ);
	ev_io_start(up->loop, &up->out);
	ev_child_init(&up->child, check_child_cb, up->pid, 0);
	ev_child_start(up->loop, &up->child);
	ev_timer_init(&up->timer, check_timer_cb, CHECK_TIMEOUT, 0);
	ev_timer_start(up->loop, &up->timer);
	return 0;
}

/* The state the check reads, in up->format, and the check on it. */
static void
check(struct upgrade *up)
{
	struct state_out *so = state_build(up, CHECK_STATE);
	char err[256];

	up->memfd = state_out_finish(so, err, sizeof(err));
	state_out_free(so);
	if (up->memfd == -1)
		finish(up, 1, "upgrade failed: %s", err);
	else if (start_check(up, err, sizeof(err)) == -1)
		finish(up, 1, "upgrade refused: %s", err);
}

void
upgrade_request(struct upgrade *up, const char *path, request_cb *done, void *cookie)
{
	const char *why;
	struct stat st;

	if (up->checking) {
		if (done)
			done(1, "upgrade refused: an upgrade is already under way", NULL,
			    cookie);
		return;
	}
	up->done = done;
	up->cookie = cookie;
	up->asked = mono_now();
	up->checking = 1;
	up->format = STATE_FORMAT;
	up->retried = 0;
	if (path == NULL)
		path = self_path;
	up->path = xstrdup(path);
	if ((why = sup_can_save(up->sup)) != NULL) {
		finish(up, 1, "upgrade refused: %s; try again later", why);
		return;
	}
	if (*path == '\0' || (up->exe = open(path, O_PATH | O_CLOEXEC)) == -1) {
		finish(up, 1, "upgrade refused: %s: %s", *path ? path : "clusterd's binary",
		    strerror(*path ? errno : ENOENT));
		return;
	}
	if (fstat(up->exe, &st) == -1 || !S_ISREG(st.st_mode) ||
	    access(path, X_OK) == -1) {
		finish(up, 1, "upgrade refused: %s: not an executable file", path);
		return;
	}
	log_ev(LOG_LVL_INFO, LOG_EV_UPGRADE, "upgrade to %s asked for: checking it", path);
	check(up);
}

/* --- The new image. --- */

static int
read_state(int fd, struct state_in *in)
{
	char err[256];

	if (state_in_read(in, fd, known, err, sizeof(err)) == -1) {
		log_errx("upgrade: %s", err);
		return -1;
	}
	if (state_first(in, "clusterd") == NULL || state_first(in, "sup") == NULL) {
		log_errx("upgrade: the state names no cluster");
		state_in_free(in);
		return -1;
	}
	return 0;
}

int
upgrade_check_main(int fd, const struct cli *cli)
{
	struct strv errors = { 0 };
	const struct state_rec *r;
	struct state_in in;
	size_t i = 0;

	/* First, whatever happens next: what the writer may send instead. */
	printf("clusterd %s reads state formats %d-%d\n", upgrade_version(),
	    STATE_FORMAT_OLDEST, STATE_FORMAT);
	fflush(stdout);
	if (read_state(fd, &in) == -1)
		return 1;
	/* Each generation's config must read as it did in the old image. */
	while ((r = state_next(&in, "gen", &i)) != NULL) {
		const struct state_field *text = rec_field(r, "text");
		struct config cfg;

		if (config_load_text(&cfg, cli, text ? text->val : NULL, text ? text->len : 0,
		    &errors) == -1) {
			for (size_t k = 0; k < errors.n; k++)
				log_errx("generation %lld: %s", rec_int(r, "number", 0),
				    errors.v[k]);
			strv_free(&errors);
			config_free(&cfg);
			state_in_free(&in);
			return 1;
		}
		config_free(&cfg);
	}
	printf("state format %d: can take it over\n", in.format);
	state_in_free(&in);
	return 0;
}

/* Every descriptor the state names, kept open (and without CLOEXEC) for the
 * fallback, or closed on exec once the new image has them: the one place
 * that sets it for all of them, the adopters' and any a newer writer's
 * fields name. */
static void
state_fds_cloexec(const struct state_in *in, int on)
{
	/* By number, without checking each is still the file it was (the
	 * adopters did): at worst a descriptor of this image's own gets the
	 * flag all of them have. */
	for (size_t i = 0; i < in->nfields; i++) {
		int fd = state_field_fd(&in->fields[i]);

		if (fd > 2)
			set_cloexec(&fd, 1, on);
	}
}

static void __attribute__((noreturn))
fall_back(const struct state_in *in, int memfd, int fallback)
{
	const struct state_rec *c = state_first(in, "clusterd");
	int fd = rec_fd(c, "self");
	const char *path = rec_str(c, "self_path");
	char **argv;

	if (fallback || fd == -1) {
		/* The old binary cannot take it over either: no worker must
		 * run unsupervised, so they go (exit 3, as give_up_after). */
		log_errx("upgrade: cannot take the cluster over; stopping the workers");
		for (size_t i = 0; i < in->n; i++)
			if (strcmp(in->r[i].kind, "worker") == 0 &&
			    rec_int(&in->r[i], "pid", 0) > 0)
				kill((pid_t)rec_int(&in->r[i], "pid", 0), SIGKILL);
		exit(3);
	}
	log_errx("upgrade: falling back to clusterd %s", rec_str(c, "version"));
	state_fds_cloexec(in, 0);
	set_cloexec(&memfd, 1, 0);
	argv = exec_argv(path ? path : "clusterd", "--upgrade-state", memfd,
	    "--upgrade-fallback");
	sink_drain_all();
	exec_fd(fd, argv, exec_env());
	log_err("upgrade: cannot run the old binary again");
	fallback = 1;
	fall_back(in, memfd, fallback);
}

struct adopted {
	struct state_in	 in;
	int		 memfd;
	int		 fallback;
};

static struct adopted ad;

int
upgrade_restore_begin(int fd, int fallback, struct state_in **inp)
{
	ad.memfd = fd;
	ad.fallback = fallback;
	set_cloexec(&fd, 1, 1);
	if (read_state(fd, &ad.in) == -1) {
		/* Nothing to go on: not even the old binary can be found. */
		log_errx("upgrade: the state cannot be read; exiting");
		exit(3);
	}
	sink_adopt(&ad.in);
	metrics_adopt(&ad.in);
	if (!fallback && getenv("CLUSTERD_TEST_RESTORE_FAIL")) {
		log_errx("upgrade: CLUSTERD_TEST_RESTORE_FAIL is set");
		fall_back(&ad.in, fd, 0);
	}
	*inp = &ad.in;
	return 0;
}

void
upgrade_restore_failed(void)
{
	fall_back(&ad.in, ad.memfd, ad.fallback);
}

static void
restore_sigmask(const struct state_rec *c)
{
	unsigned long long bits;
	sigset_t set;

	if (rec_field(c, "sigmask") == NULL)
		return;
	bits = (unsigned long long)rec_int(c, "sigmask", 0);
	sigemptyset(&set);
	for (int sig = 1; sig < NSIG && sig <= 64; sig++)
		if (bits & (1ULL << (sig - 1)))
			sigaddset(&set, sig);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

void
upgrade_restore_done(int *code, char *msg, size_t len)
{
	const struct state_rec *c = state_first(&ad.in, "clusterd");
	double ms = (mono_now() - rec_dbl(c, "asked", mono_now())) * 1000;
	int fd;

	state_fds_cloexec(&ad.in, 1);
	restore_sigmask(c);
	if ((fd = rec_fd(c, "self")) != -1 && fd != self_fd)
		close(fd);	/* this image has its own */
	if ((fd = rec_fd(c, "exe")) != -1 && fd != self_fd)
		close(fd);	/* what it was run from */
	close(ad.memfd);
	*code = ad.fallback ? 1 : 0;
	if (ad.fallback) {
		snprintf(msg, len, "upgrade failed: the new binary could not take over; "
		    "clusterd %s goes on", upgrade_version());
		log_ev(LOG_LVL_WARN, LOG_EV_UPGRADE, "%s", msg);
	} else {
		snprintf(msg, len, "upgraded from %s to %s in %.0f ms",
		    rec_str(c, "version") ? rec_str(c, "version") : "?",
		    upgrade_version(), ms);
		log_ev(LOG_LVL_INFO, LOG_EV_UPGRADE, "%s", msg);
	}
}

/* Taken over and answered: the records are not needed any more. */
void
upgrade_restore_end(void)
{
	state_in_free(&ad.in);
}

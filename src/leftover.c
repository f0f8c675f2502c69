/*
 * Leftovers: whatever is still in a worker's process group after the
 * worker has exited (a helper it forked, the workers of a master process,
 * the children of a crashed worker), and, when clusterd is a subreaper or
 * PID 1, orphans reparented to clusterd that left the group (setsid) but
 * still hold a listening socket. Left alone they keep the socket: clients
 * hang on them and the next clusterd cannot bind the port. Each gets the
 * stop signal, then SIGKILL after stop_timeout (systemd's
 * KillMode=control-group, per worker), and clusterd waits for them before
 * it exits.
 *
 * The kernel tells clusterd nothing when a process that is not its child
 * exits; a pidfd does (it polls readable once the process has exited), so
 * each process left gets one, watched like any other fd. A group is known
 * by its pgid, which the kernel does not reuse while a member lives; when
 * the last process watched has exited, /proc says whether others joined
 * meanwhile. Where pidfd_open fails (Linux before 5.3, a seccomp filter),
 * /proc is read every 100ms, and only while something is left.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "leftover.h"
#include "listen.h"
#include "log.h"
#include "sockpool.h"
#include "util.h"
#include "values.h"

#define POLL_INTERVAL	0.1	/* without pidfds */
#define KILL_GRACE	5.0	/* the least time SIGKILL gets before clusterd gives up */

/* What /proc/PID/stat says; a pid and its start time name one process. */
struct pinfo {
	pid_t			 pid;
	pid_t			 ppid;
	pid_t			 pgid;
	char			 state;
	unsigned long long	 starttime;
	char			 comm[16];
};

struct leftover;

struct proc {
	struct leftover		*lo;
	pid_t			 pid;
	unsigned long long	 starttime;
	ev_io			 exit;	/* its pidfd (readable once it has exited), or fd -1 */
};

struct leftover {
	TAILQ_ENTRY(leftover) entry;
	pid_t		 pgid;		/* a worker's group, or 0: one orphan, pid */
	pid_t		 pid;		/* the worker that led the group, or the orphan */
	unsigned	 slot;
	char		 comm[16];	/* the orphan's name */
	char		*socket;	/* the orphan's socket, "NAME (ADDR)" */
	int		 started;	/* logged and signalled */
	int		 signalled;	/* the group had the stop signal with its worker */
	int		 killed;	/* SIGKILL was sent */
	double		 left;		/* then: the worker's stop deadline, from now */
	double		 timeout;	/* stop_timeout */
	size_t		 found;		/* processes when it was collected */
	ev_timer	 deadline;	/* SIGKILL, then no more waiting */
	ev_timer	 poll;		/* without pidfds: look again */
	struct proc	**procs;	/* what is left, as last seen */
	size_t		 nprocs;
};

static TAILQ_HEAD(, leftover) leftovers = TAILQ_HEAD_INITIALIZER(leftovers);

/* What the owner gave, once, and the current settings. */
static struct {
	struct ev_loop	*loop;
	const struct sockpool *pool;
	int		(*is_worker)(void *, pid_t);
	void		(*gone)(void *);
	void		*arg;
	int		 stop_signal;
	double		 stop_timeout;
} lc = { .stop_signal = SIGTERM };

static int kill_now;		/* a second SIGTERM or SIGQUIT: no more grace */
static int scan_due;		/* look for orphans holding a socket */

static size_t	refresh(struct leftover *);
static int	reaper(void);

void
leftover_init(struct ev_loop *loop, const struct sockpool *pool,
    int (*is_worker)(void *, pid_t), void (*gone)(void *), void *arg)
{
	lc.loop = loop;
	lc.pool = pool;
	lc.is_worker = is_worker;
	lc.gone = gone;
	lc.arg = arg;
}

void
leftover_settings(int stop_signal, double stop_timeout)
{
	lc.stop_signal = stop_signal;
	lc.stop_timeout = stop_timeout;
}

int
leftover_pending(void)
{
	return scan_due || !TAILQ_EMPTY(&leftovers);
}

static int
read_stat(pid_t pid, struct pinfo *pi)
{
	char path[32], buf[1024], *lp, *rp;
	int fd, ppid, pgid;
	size_t len;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The name may hold any character, ')' too: it ends at the last one. */
	if ((lp = strchr(buf, '(')) == NULL || (rp = strrchr(buf, ')')) == NULL ||
	    rp < lp || sscanf(rp + 1, " %c %d %d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%*u %*u %*d %*d %*d %*d %*d %*d %llu", &pi->state, &ppid, &pgid,
	    &pi->starttime) != 4)
		return -1;
	len = (size_t)(rp - lp - 1);
	if (len >= sizeof(pi->comm))
		len = sizeof(pi->comm) - 1;
	memcpy(pi->comm, lp + 1, len);
	pi->comm[len] = '\0';
	pi->pid = pid;
	pi->ppid = ppid;
	pi->pgid = pgid;
	return 0;
}

char
leftover_proc_state(pid_t pid)
{
	struct pinfo pi;

	return read_stat(pid, &pi) == 0 ? pi.state : 0;
}

/* A zombie has closed all it had: it holds no socket. */
static int
exited(const struct pinfo *pi)
{
	return pi->state == 'Z' || pi->state == 'X' || pi->state == 'x';
}

/* Every process in /proc, to fn. */
static void
proc_scan(void (*fn)(const struct pinfo *, void *), void *arg)
{
	struct dirent *de;
	struct pinfo pi;
	DIR *d;

	if ((d = opendir("/proc")) == NULL) {
		log_warn("/proc");
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (pid > 0 && *end == '\0' && read_stat((pid_t)pid, &pi) == 0)
			fn(&pi, arg);
	}
	closedir(d);
}

static int
pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

static int
pidfd_kill(int fd, int sig)
{
#ifdef SYS_pidfd_send_signal
	return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
#else
	(void)fd;
	(void)sig;
	errno = ENOSYS;
	return -1;
#endif
}

static const char *
plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* "worker 3 (pid 812)" or "pid 901 (nginx)", for the log. */
static void
lo_name(const struct leftover *lo, char *buf, size_t len)
{
	if (lo->pgid > 0)
		snprintf(buf, len, "worker %u (pid %d)", lo->slot, (int)lo->pid);
	else
		snprintf(buf, len, "pid %d (%s)", (int)lo->pid, lo->comm);
}

static void
proc_drop(struct leftover *lo, size_t i)
{
	struct proc *p = lo->procs[i];

	if (p->exit.fd >= 0) {
		ev_io_stop(lc.loop, &p->exit);
		close(p->exit.fd);
	}
	free(p);
	lo->procs[i] = lo->procs[--lo->nprocs];
}

static void
lo_free(struct leftover *lo)
{
	struct ev_loop *loop = lc.loop;

	while (lo->nprocs > 0)
		proc_drop(lo, lo->nprocs - 1);
	ev_timer_stop(loop, &lo->deadline);
	ev_timer_stop(loop, &lo->poll);
	TAILQ_REMOVE(&leftovers, lo, entry);
	free(lo->procs);
	free(lo->socket);
	free(lo);
}

void
leftover_free_all(void)
{
	while (!TAILQ_EMPTY(&leftovers))
		lo_free(TAILQ_FIRST(&leftovers));
}

/* Nothing is left of lo (or clusterd waits no longer). */
static void
lo_done(struct leftover *lo)
{
	char name[64];

	lo_name(lo, name, sizeof(name));
	log_debug("%s: nothing left%s", name, lo->pgid > 0 ? " of its group" : "");
	lo_free(lo);
	/* What it left in turn is clusterd's now, if clusterd is a subreaper. */
	if (reaper()) {
		scan_due = 1;
		leftover_start();	/* says when nothing is left */
	} else if (TAILQ_EMPTY(&leftovers))
		lc.gone(lc.arg);
}

/* Look again soon, from the loop: a caller that cannot end lo itself. */
static void
lo_recheck(struct leftover *lo)
{
	ev_timer_stop(lc.loop, &lo->deadline);
	ev_timer_set(&lo->deadline, 0, 0);
	ev_timer_start(lc.loop, &lo->deadline);
}

static void
exit_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct proc *p = container_of(io, struct proc, exit);
	struct leftover *lo = p->lo;

	(void)loop;
	(void)revents;
	for (size_t i = 0; i < lo->nprocs; i++)
		if (lo->procs[i] == p) {
			proc_drop(lo, i);
			break;
		}
	if (lo->nprocs == 0 && refresh(lo) == 0)
		lo_done(lo);
}

static void
poll_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct leftover *lo = container_of(t, struct leftover, poll);

	(void)loop;
	(void)revents;
	if (refresh(lo) == 0)
		lo_done(lo);
}

/* Watch the process pi names; not if it has gone already. */
static void
proc_add(struct leftover *lo, const struct pinfo *pi)
{
	struct proc *p;
	struct pinfo now;
	int fd = pidfd_open_(pi->pid);

	if (fd == -1 && errno == ESRCH)
		return;
	/* The pidfd is the process that has the pid now: the one seen? */
	if (fd >= 0 && (read_stat(pi->pid, &now) == -1 || now.starttime != pi->starttime ||
	    exited(&now))) {
		close(fd);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->lo = lo;
	p->pid = pi->pid;
	p->starttime = pi->starttime;
	ev_io_init(&p->exit, exit_cb, fd, EV_READ);
	if (fd >= 0)
		ev_io_start(lc.loop, &p->exit);
	lo->procs = xreallocarray(lo->procs, lo->nprocs + 1, sizeof(*lo->procs));
	lo->procs[lo->nprocs++] = p;
}

struct members {
	pid_t		 pgid;
	struct pinfo	*v;
	size_t		 n;
};

static void
member_cb(const struct pinfo *pi, void *arg)
{
	struct members *m = arg;

	if (pi->pgid != m->pgid || exited(pi))
		return;
	m->v = xreallocarray(m->v, m->n + 1, sizeof(*m->v));
	m->v[m->n++] = *pi;
}

/*
 * What is left of lo now: watch what is new, forget what has ended or
 * left the group. Returns how many processes are left.
 */
static size_t
refresh(struct leftover *lo)
{
	struct members m = { .pgid = lo->pgid };
	struct pinfo pi;
	int unwatched = 0;

	if (lo->pgid == 0) {
		/* An orphan alone: its pidfd says when it is gone; without one,
		 * its start time tells it from a process that took its pid. */
		if (lo->nprocs == 1 && lo->procs[0]->exit.fd < 0 &&
		    (read_stat(lo->pid, &pi) == -1 || pi.starttime != lo->procs[0]->starttime ||
		    exited(&pi)))
			proc_drop(lo, 0);
	} else {
		if (kill(-lo->pgid, 0) == 0 || errno != ESRCH)
			proc_scan(member_cb, &m);
		for (size_t i = lo->nprocs; i-- > 0;) {
			const struct proc *p = lo->procs[i];
			size_t k;

			for (k = 0; k < m.n; k++)
				if (m.v[k].pid == p->pid && m.v[k].starttime == p->starttime)
					break;
			if (k == m.n)
				proc_drop(lo, i);
		}
		for (size_t k = 0; k < m.n; k++) {
			size_t i;

			for (i = 0; i < lo->nprocs; i++)
				if (lo->procs[i]->pid == m.v[k].pid &&
				    lo->procs[i]->starttime == m.v[k].starttime)
					break;
			if (i == lo->nprocs)
				proc_add(lo, &m.v[k]);
		}
		free(m.v);
	}
	for (size_t i = 0; i < lo->nprocs; i++)
		unwatched |= lo->procs[i]->exit.fd < 0;
	if (unwatched && !ev_is_active(&lo->poll))
		ev_timer_again(lc.loop, &lo->poll);
	else if (!unwatched)
		ev_timer_stop(lc.loop, &lo->poll);
	return lo->nprocs;
}

/* Right after a refresh that found someone: the pgid is still theirs. */
static void
lo_signal(struct leftover *lo, int sig)
{
	char name[64];
	int r;

	if (lo->nprocs == 0)
		return;
	if (lo->pgid > 0)
		r = kill(-lo->pgid, sig);
	else if (lo->procs[0]->exit.fd >= 0)
		r = pidfd_kill(lo->procs[0]->exit.fd, sig);
	else
		r = kill(lo->pid, sig);
	if (r == -1 && errno != ESRCH) {
		lo_name(lo, name, sizeof(name));
		log_warn("%s: SIG%s%s", name, signal_name(sig),
		    lo->pgid > 0 ? " to its group" : "");
	}
}

static void
deadline_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct leftover *lo = container_of(t, struct leftover, deadline);
	char name[64], dur[32];
	size_t n;

	(void)revents;
	if ((n = refresh(lo)) == 0) {
		lo_done(lo);
		return;
	}
	lo_name(lo, name, sizeof(name));
	if (!lo->killed) {
		format_duration(dur, sizeof(dur), lo->timeout);
		if (lo->pgid > 0)
			log_warnx("%s: %zu process%s of its group did not stop within %s; "
			    "killing", name, n, plural(n, "", "es"), dur);
		else
			log_warnx("%s did not stop within %s; killing", name, dur);
		lo->killed = 1;
		lo_signal(lo, SIGKILL);
		ev_timer_set(t, lo->timeout > KILL_GRACE ? lo->timeout : KILL_GRACE, 0);
		ev_timer_start(loop, t);
		return;
	}
	log_warnx("%s: %zu process%s%s still there after SIGKILL; no longer waiting",
	    name, n, plural(n, "", "es"), lo->pgid > 0 ? " of its group" : "");
	lo_done(lo);
}

static struct leftover *
lo_new(pid_t pgid, pid_t pid)
{
	struct leftover *lo = xcalloc(1, sizeof(*lo));

	lo->pgid = pgid;
	lo->pid = pid;
	lo->timeout = lc.stop_timeout;
	ev_timer_init(&lo->deadline, deadline_cb, 0, 0);
	ev_timer_init(&lo->poll, poll_cb, 0, POLL_INTERVAL);
	TAILQ_INSERT_TAIL(&leftovers, lo, entry);
	return lo;
}

/*
 * Only what costs a system call or two happens here, before the exit is
 * handled: the replacement is not delayed by reading /proc, which
 * leftover_start() does.
 */
void
leftover_collect(pid_t pid, unsigned id, int stopping, int killed, double left)
{
	struct leftover *lo;

	scan_due |= reaper();
	/* The common case, a group with no one left. */
	if (kill(-pid, 0) == -1 && errno == ESRCH)
		return;
	lo = lo_new(pid, pid);
	lo->slot = id;
	if (stopping) {
		/* The group had the stop signal with its worker: the same deadline. */
		lo->signalled = 1;
		lo->killed = killed;
		lo->left = left;
	}
}

/* --subreaper or PID 1: orphans end up clusterd's children. */
static int
reaper(void)
{
	static int known = -1;	/* set once at start-up: a reload keeps it */
	int on = 0;

	if (known == -1)
		known = getpid() == 1 ||
		    (prctl(PR_GET_CHILD_SUBREAPER, &on) == 0 && on);
	return known;
}

struct sockino {
	ino_t			 ino;
	const struct listener	*l;
};

struct orphans {
	pid_t			 self;
	struct sockino		*s;
	size_t			 ns;
};

static void
add_inode(struct orphans *o, int fd, const struct listener *l)
{
	struct stat st;

	if (fd < 0 || fstat(fd, &st) == -1)
		return;
	o->s = xreallocarray(o->s, o->ns + 1, sizeof(*o->s));
	o->s[o->ns].ino = st.st_ino;
	o->s[o->ns++].l = l;
}

/* The first of clusterd's listening sockets that pid has open, or NULL. */
static const struct listener *
held_socket(const struct orphans *o, pid_t pid)
{
	const struct listener *l = NULL;
	char path[32], link[64];
	unsigned long long ino;
	struct dirent *de;
	ssize_t n;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return NULL;
	while (l == NULL && (de = readdir(d)) != NULL) {
		n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%llu]", &ino) != 1)
			continue;
		for (size_t i = 0; i < o->ns && l == NULL; i++)
			if ((unsigned long long)o->s[i].ino == ino)
				l = o->s[i].l;
	}
	closedir(d);
	return l;
}

/*
 * The worker an orphan descends from: the LISTEN_PID in its environment,
 * which clusterd set for that worker, or 0 when the program has written
 * over it (nginx puts its process title there) or it is too far in.
 */
static pid_t
env_worker(pid_t pid)
{
	static const char key[] = "LISTEN_PID=";
	char path[32], buf[65536];
	size_t n = 0;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	while (n < sizeof(buf) - 1 &&
	    (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
		if (strncmp(buf + i, key, sizeof(key) - 1) == 0)
			return (pid_t)strtol(buf + i + sizeof(key) - 1, NULL, 10);
	return 0;
}

static void
orphan_cb(const struct pinfo *pi, void *arg)
{
	struct orphans *o = arg;
	const struct listener *l;
	struct leftover *lo;
	pid_t owner;

	if (pi->ppid != o->self || exited(pi))
		return;
	/* A worker, or in a live worker's group (led by it): its worker's
	 * exit tells. */
	if (lc.is_worker(lc.arg, pi->pid) || lc.is_worker(lc.arg, pi->pgid))
		return;
	TAILQ_FOREACH(lo, &leftovers, entry)
		if (lo->pgid > 0 ? lo->pgid == pi->pgid : lo->pid == pi->pid)
			return;
	if ((l = held_socket(o, pi->pid)) == NULL)
		return;
	/* A helper that a live worker daemonized goes when that worker does,
	 * as a member of its group would. */
	if ((owner = env_worker(pi->pid)) > 0 && lc.is_worker(lc.arg, owner))
		return;
	lo = lo_new(0, pi->pid);
	memcpy(lo->comm, pi->comm, sizeof(lo->comm));
	lo->socket = xasprintf("%s (%s)", l->cfg->name, l->bound);
	proc_add(lo, pi);
	if ((lo->found = lo->nprocs) == 0)
		lo_free(lo);
}

void
leftover_collect_orphans(void)
{
	struct orphans o = { .self = getpid() };

	if (!reaper())
		return;
	for (size_t i = 0; i < lc.pool->n; i++) {
		const struct listener *l = lc.pool->v[i];

		add_inode(&o, l->fd, l);
		for (size_t k = 0; k < l->nslot_fd; k++)
			if (l->slot_fd[k] != l->fd)
				add_inode(&o, l->slot_fd[k], l);
	}
	if (o.ns > 0)
		proc_scan(orphan_cb, &o);
	free(o.s);
}

void
leftover_start(void)
{
	struct leftover *lo, *tmp;
	char name[64], dur[32];
	int sig = lc.stop_signal;
	int settled = scan_due;
	double wait = 0;

	if (scan_due) {
		scan_due = 0;
		leftover_collect_orphans();
	}
	for (lo = TAILQ_FIRST(&leftovers); lo != NULL; lo = tmp) {
		tmp = TAILQ_NEXT(lo, entry);
		if (lo->started)
			continue;
		/* A group collected by its worker's exit: who is in it now? */
		if (lo->pgid > 0 && (lo->found = refresh(lo)) == 0) {
			lo_free(lo);
			settled = 1;
			continue;
		}
		lo->started = 1;
		lo_name(lo, name, sizeof(name));
		if (kill_now || lo->killed) {
			log_debug("%s left %zu process%s%s; sending SIGKILL", name, lo->found,
			    plural(lo->found, "", "es"), lo->pgid > 0 ? " in its group" : "");
			lo->killed = 1;
			lo_signal(lo, SIGKILL);
			wait = lo->timeout > KILL_GRACE ? lo->timeout : KILL_GRACE;
		} else if (lo->signalled) {
			/* Stopped with its worker and still going: no news yet. */
			format_duration(dur, sizeof(dur), lo->left);
			log_debug("%s left %zu process%s in its group; SIGKILL in %s", name,
			    lo->found, plural(lo->found, "", "es"), dur);
			wait = lo->left;
		} else {
			if (lo->pgid > 0)
				log_warnx("%s left %zu process%s in its group; sending SIG%s",
				    name, lo->found, plural(lo->found, "", "es"),
				    signal_name(sig));
			else
				log_warnx("%s, not a worker, holds socket %s; sending SIG%s",
				    name, lo->socket, signal_name(sig));
			lo_signal(lo, sig);
			/* A stopped process acts on nothing before it is continued. */
			if (sig != SIGKILL && sig != SIGCONT)
				lo_signal(lo, SIGCONT);
			wait = lo->timeout;
		}
		ev_timer_set(&lo->deadline, wait, 0);
		ev_timer_start(lc.loop, &lo->deadline);
	}
	/* What kept clusterd waiting may have been nothing after all. */
	if (settled && TAILQ_EMPTY(&leftovers))
		lc.gone(lc.arg);
}

void
leftover_kill_all(void)
{
	struct leftover *lo;

	kill_now = 1;
	TAILQ_FOREACH(lo, &leftovers, entry) {
		if (!lo->started || lo->killed)
			continue;
		lo->killed = 1;
		if (refresh(lo) == 0) {
			lo_recheck(lo);
			continue;
		}
		lo_signal(lo, SIGKILL);
		ev_timer_stop(lc.loop, &lo->deadline);
		ev_timer_set(&lo->deadline, lo->timeout > KILL_GRACE ? lo->timeout :
		    KILL_GRACE, 0);
		ev_timer_start(lc.loop, &lo->deadline);
	}
}

/*
 * Start one worker: clone, set it up, exec. Everything that can be
 * prepared is prepared by the caller first; the child only makes system
 * calls: it moves fds, applies settings and fills in its own pid.
 *
 * The child borrows clusterd's memory (CLONE_VM | CLONE_VFORK, as
 * posix_spawn does) and, at first, its descriptor table (CLONE_FILES),
 * then takes a private table of only the low descriptors it needs
 * (close_range CLOSE_RANGE_UNSHARE). So starting a worker copies neither
 * page tables nor the hundreds of descriptors clusterd keeps for the
 * other workers, which a fork would copy and the exec then close one by
 * one: the cost of a start does not grow with the number of workers.
 * Those descriptors are kept above SPAWN_FD_PARK (spawn_park_fd()) so
 * that the ones a worker needs are low.
 *
 * The price is discipline in the child: no malloc, no stdio, no library
 * state, no descriptor touched before the table is its own, nothing
 * written that clusterd reads afterwards except through spawn_start()'s
 * restore, and signal handlers reset before the signals are unblocked.
 * It runs on a stack of its own, and without AddressSanitizer, which
 * cannot tell that stack from a corrupted one.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "spawn.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif
#define PIDFS_MAGIC 0x50494446
/* Code that runs on the child's own stack, before exec. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHILD_CODE __attribute__((no_sanitize("address")))
#endif
#endif
#if !defined(CHILD_CODE) && defined(__SANITIZE_ADDRESS__)
#define CHILD_CODE __attribute__((no_sanitize_address))
#endif
#ifndef CHILD_CODE
#define CHILD_CODE
#endif

/* What the child needs, all in one place on the parent's stack. */
struct child_args {
	const struct spawn *sp;
	const int	*fds;		/* sp->fds, some moved low */
	int		 devnull, stdout_fd, stderr_fd;
	int		 report;	/* write end of the report pipe */
	int		 keep_below;	/* every fd above is not the child's */
	pid_t		 parent;
};

const char *
spawn_stage_what(int stage)
{
	switch (stage) {
	case STAGE_DIRECTORY:
		return "cannot change to directory";
	case STAGE_CREDENTIALS:
		return "cannot change user";
	case STAGE_SETUP:
		return "cannot set up";
	default:
		return "cannot run";
	}
}

static void CHILD_CODE __attribute__((noreturn))
child_fail(int report, int stage)
{
	struct spawn_report r = { stage, errno };

	(void)!write(report, &r, sizeof(r));
	_exit(stage == STAGE_EXEC ? (r.err == ENOENT ? 127 : 126) : 125);
}

/* Mark every fd from `from` on close-on-exec: nothing of ours leaks. */
static void CHILD_CODE
cloexec_from(int from)
{
	if (syscall(SYS_close_range, (unsigned)from, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	for (int fd = from; fd < 65536; fd++) {
		int fl = fcntl(fd, F_GETFD);

		if (fl != -1)
			fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
}

/*
 * Where the kernel has pidfs, a pidfd's inode number names this process
 * for good: systemd passes it as LISTEN_PIDFDID so a reused pid cannot
 * claim the sockets.
 */
static void CHILD_CODE
fill_pidfd_id(char **entry)
{
	struct statfs sfs;
	struct stat st;
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);

	if (fd == -1)
		goto none;
	if (fstatfs(fd, &sfs) == -1 || (unsigned long)sfs.f_type != PIDFS_MAGIC ||
	    fstat(fd, &st) == -1) {
		close(fd);
		goto none;
	}
	close(fd);
	snprintf(*entry, LISTEN_PID_ROOM + sizeof("LISTEN_PIDFDID="),
	    "LISTEN_PIDFDID=%llu", (unsigned long long)st.st_ino);
	return;
none:
	*entry = NULL;		/* it is envp's last entry */
}

/*
 * A handler run in the child would run on clusterd's memory. clusterd
 * takes its signals through a signalfd and has none, but a fallback in
 * libev could install some; the classic signals are all it watches.
 */
static void CHILD_CODE
default_handlers(void)
{
	struct sigaction sa, dfl = { .sa_handler = SIG_DFL };

	for (int sig = 1; sig < 32; sig++)
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL &&
		    sa.sa_handler != SIG_IGN)
			sigaction(sig, &dfl, NULL);
}

static int CHILD_CODE __attribute__((noreturn))
child(void *arg)
{
	const struct child_args *a = arg;
	const struct spawn *sp = a->sp;
	int report = a->report, top = 3 + sp->nfds;
	sigset_t none;

	/*
	 * First, before any descriptor is touched: a table of our own with
	 * only the low ones (or, where close_range cannot unshare, a copy of
	 * all, closed at exec as cloexec_from() marks them).
	 */
	if (syscall(SYS_close_range, (unsigned)a->keep_below, ~0U, CLOSE_RANGE_UNSHARE) == -1 &&
	    unshare(CLONE_FILES) == -1)
		_exit(125);
	default_handlers();
	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);

	if (sp->umask >= 0)
		umask((mode_t)sp->umask);
	if (setrlimit(RLIMIT_NOFILE, &sp->nofile) == -1)
		child_fail(report, STAGE_SETUP);
	if (sp->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(sp->cpu, &set);
		(void)sched_setaffinity(0, sizeof(set), &set);
	}
	if (sp->drop) {
		if (setgroups(sp->ngroups, sp->groups) == -1 ||
		    setresgid(sp->gid, sp->gid, sp->gid) == -1 ||
		    setresuid(sp->uid, sp->uid, sp->uid) == -1)
			child_fail(report, STAGE_CREDENTIALS);
	}
	/* After the credential change, which clears it. */
	if (sp->pdeathsig > 0) {
		prctl(PR_SET_PDEATHSIG, sp->pdeathsig);
		/* clusterd died between clone and prctl: act as if told. */
		if (getppid() != a->parent)
			raise(sp->pdeathsig);
	}
	if (sp->directory && chdir(sp->directory) == -1)
		child_fail(report, STAGE_DIRECTORY);

	/*
	 * fds: lift the report pipe and every socket above the target range
	 * first, so moving socket i to 3+i never overwrites one not yet moved.
	 */
	if (report < top && (report = fcntl(report, F_DUPFD_CLOEXEC, top)) == -1)
		_exit(125);
	if ((a->stdout_fd >= 0 && dup2(a->stdout_fd, 1) == -1) ||
	    (a->stderr_fd >= 0 && dup2(a->stderr_fd, 2) == -1))
		child_fail(report, STAGE_SETUP);
	int moved[sp->nfds > 0 ? sp->nfds : 1];

	for (int i = 0; i < sp->nfds; i++)
		if ((moved[i] = fcntl(a->fds[i], F_DUPFD_CLOEXEC, top)) == -1)
			child_fail(report, STAGE_SETUP);
	for (int i = 0; i < sp->nfds; i++)
		if (dup2(moved[i], 3 + i) == -1)	/* dup2 leaves CLOEXEC off */
			child_fail(report, STAGE_SETUP);
	if (dup2(a->devnull, 0) == -1)
		child_fail(report, STAGE_SETUP);
	cloexec_from(top);

	if (sp->listen_pid)
		snprintf(sp->listen_pid, LISTEN_PID_ROOM + sizeof("LISTEN_PID="),
		    "LISTEN_PID=%d", (int)getpid());
	if (sp->watchdog_pid)
		snprintf(sp->watchdog_pid, LISTEN_PID_ROOM + sizeof("WATCHDOG_PID="),
		    "WATCHDOG_PID=%d", (int)getpid());
	if (sp->pidfd_id)
		fill_pidfd_id(sp->pidfd_id);

	/* libev blocked signals for its signalfd; a worker starts clean. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvpe(sp->argv[0], sp->argv, sp->envp);
	child_fail(report, STAGE_EXEC);
}

int
spawn_park_fd(int fd)
{
	int high;

	if (fd < SPAWN_FD_PARK && fd >= 0 &&
	    (high = fcntl(fd, F_DUPFD_CLOEXEC, SPAWN_FD_PARK)) != -1) {
		close(fd);
		return high;
	}
	return fd;
}

/*
 * The child's stack, kept from one start to the next (one child at a
 * time: clusterd waits while it runs). Room for the child's frames and
 * for execvpe(), which copies argv on the stack to run a script.
 */
static void *
child_stack(size_t argc, size_t *size)
{
	static void *stack;
	static size_t have;
	long page = sysconf(_SC_PAGESIZE);
	size_t want = 64 * 1024 + (argc + 3) * sizeof(char *);

	want = (want + (size_t)page - 1) / (size_t)page * (size_t)page;
	if (want > have) {
		if (stack)
			munmap((char *)stack - page, have + (size_t)page);
		/* One page more, left unmapped below: an overflow faults. */
		stack = mmap(NULL, want + (size_t)page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
		if (stack == MAP_FAILED) {
			stack = NULL;
			have = 0;
			return NULL;
		}
		mprotect(stack, (size_t)page, PROT_NONE);
		stack = (char *)stack + page;
		have = want;
	}
	*size = have;
	return stack;
}

pid_t
spawn_start(const struct spawn *sp, int *report_fd)
{
	static int share_files = -1;
	char *pidfd_id = sp->pidfd_id ? *sp->pidfd_id : NULL;
	int pipefd[2], fds[sp->nfds > 0 ? sp->nfds : 1], lowered[sp->nfds > 0 ? sp->nfds : 1];
	struct child_args a = { .sp = sp, .fds = fds, .devnull = sp->devnull,
	    .stdout_fd = sp->stdout_fd, .stderr_fd = sp->stderr_fd, .parent = getpid() };
	size_t argc = 0, size;
	void *stack;
	pid_t pid = -1;
	int e;

	while (sp->argv[argc])
		argc++;
	if ((stack = child_stack(argc, &size)) == NULL || pipe2(pipefd, O_CLOEXEC) == -1)
		return -1;
	a.report = pipefd[1];
	pipefd[0] = spawn_park_fd(pipefd[0]);
	/* What the child keeps must be below keep_below: bring parked ones down. */
	for (int i = 0; i < sp->nfds; i++) {
		fds[i] = sp->fds[i];
		lowered[i] = -1;
		if (fds[i] >= SPAWN_FD_PARK &&
		    (lowered[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) != -1)
			fds[i] = lowered[i];
	}
	a.keep_below = a.report;
	for (int i = 0; i < sp->nfds; i++)
		if (fds[i] > a.keep_below)
			a.keep_below = fds[i];
	if (a.devnull > a.keep_below)
		a.keep_below = a.devnull;
	if (a.stdout_fd > a.keep_below)
		a.keep_below = a.stdout_fd;
	if (a.stderr_fd > a.keep_below)
		a.keep_below = a.stderr_fd;
	a.keep_below++;

	/*
	 * Valgrind runs CLONE_VM | CLONE_VFORK as a fork but stops the whole
	 * program at CLONE_FILES: under it (its preload library says so),
	 * the child gets a copy of the table, as it does where a filter
	 * refuses the flags.
	 */
	if (share_files < 0) {
		const char *pre = getenv("LD_PRELOAD");

		share_files = pre == NULL || strstr(pre, "/vgpreload_") == NULL;
	}
	if (share_files)
		pid = clone(child, (char *)stack + size,
		    CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, &a);
	if (!share_files || (pid == -1 && errno == EINVAL))
		pid = clone(child, (char *)stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
	e = errno;
	for (int i = 0; i < sp->nfds; i++)
		if (lowered[i] != -1)
			close(lowered[i]);
	close(pipefd[1]);
	if (pid == -1) {
		close(pipefd[0]);
		errno = e;
		return -1;
	}
	/* The child may have cut envp's last entry (no pidfs): the caller frees it. */
	if (sp->pidfd_id)
		*sp->pidfd_id = pidfd_id;
	*report_fd = pipefd[0];
	return pid;
}

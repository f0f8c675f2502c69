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
 *
 * A worker with a cgroup of its own starts in it: clone3() with
 * CLONE_INTO_CGROUP, so that neither it nor a child it forks at once ever
 * runs in clusterd's cgroup. Where that cannot be had, the child moves
 * itself there (writes "0" to the cgroup's cgroup.procs) before exec, so
 * no code of the worker's runs outside it either.
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

#include <linux/sched.h>

#include "spawn.h"
#include "strv.h"

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
	int		 procs;		/* cgroup.procs of sp->cgroup_fd, or -1 */
	int		 join;		/* sp->join_fd, maybe moved low, or -1 */
	pid_t		 parent;
	struct rlimit	 raise;		/* a higher hard limit, or 0 */
	unsigned long	 handled;	/* signals to reset to SIG_DFL */
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

/* "KEY=" then v in decimal: snprintf is not async-signal-safe. */
static void CHILD_CODE
put_number(char *entry, unsigned long long v)
{
	char digits[24], *p = digits + sizeof(digits);

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	while (*entry != '=')
		entry++;
	entry++;
	while (p < digits + sizeof(digits))
		*entry++ = *p++;
	*entry = '\0';
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
 * Close every descriptor above 2 but the n in keep (sorted): the child's
 * table then holds only what it needs, so moving them cannot run out of
 * room, whatever clusterd's own table looks like.
 */
static void CHILD_CODE
close_others(const int *keep, int n)
{
	int from = 3;

	for (int i = 0; i <= n; i++) {
		int to = i < n ? keep[i] : -1;

		if (to != -1 && to < from)
			continue;
		if (to == -1) {
			if (syscall(SYS_close_range, (unsigned)from, ~0U, 0) == -1)
				for (int fd = from; fd < 65536; fd++)
					close(fd);
			break;
		}
		if (to > from && syscall(SYS_close_range, (unsigned)from,
		    (unsigned)to - 1, 0) == -1)
			for (int fd = from; fd < to; fd++)
				close(fd);
		from = to + 1;
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
	put_number(*entry, (unsigned long long)st.st_ino);
	return;
none:
	*entry = NULL;		/* it is envp's last entry */
}

/*
 * The signals whose disposition a worker must not inherit: those with a
 * handler, and SIGPIPE's SIG_IGN. clusterd takes its signals through a
 * signalfd, but a fallback in libev could install handlers; the classic
 * signals are all it watches. Dispositions are set up before the first
 * worker starts and never change after, so they are looked up once, here
 * in clusterd, rather than with 31 calls in every child.
 */
static unsigned long
handled_signals(void)
{
	static unsigned long mask;
	static int done;
	struct sigaction sa;

	if (done)
		return mask;
	for (int sig = 1; sig < 32; sig++)
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL &&
		    (sa.sa_handler != SIG_IGN || sig == SIGPIPE))
			mask |= 1UL << sig;
	done = 1;
	return mask;
}

/* Signals are all blocked here (spawn_start blocked them before the
 * clone), so no handler of clusterd's can run in the child, on clusterd's
 * memory; reset them before exec unblocks them. */
static void CHILD_CODE
default_handlers(unsigned long mask)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	for (int sig = 1; sig < 32; sig++)
		if (mask & (1UL << sig))
			sigaction(sig, &dfl, NULL);
}

static int CHILD_CODE __attribute__((noreturn))
child(void *arg)
{
	const struct child_args *a = arg;
	const struct spawn *sp = a->sp;
	int report = a->report, top = 3 + sp->nfds, n = 0;
	int keep[sp->nfds + 6];
	sigset_t none;

	keep[n++] = report;
	keep[n++] = a->devnull;
	if (a->stdout_fd >= 0)
		keep[n++] = a->stdout_fd;
	if (a->stderr_fd >= 0)
		keep[n++] = a->stderr_fd;
	if (a->procs >= 0)
		keep[n++] = a->procs;
	if (a->join >= 0)
		keep[n++] = a->join;
	for (int i = 0; i < sp->nfds; i++)
		keep[n++] = a->fds[i];
	for (int i = 1; i < n; i++)	/* insertion sort: a handful */
		for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	/*
	 * First, before any descriptor is touched: a table of our own with
	 * only the low ones (or, where close_range cannot unshare, a copy of
	 * all), then only those we need.
	 */
	if (syscall(SYS_close_range, (unsigned)keep[n - 1] + 1, ~0U, CLOSE_RANGE_UNSHARE) == -1 &&
	    unshare(CLONE_FILES) == -1)
		_exit(125);
	close_others(keep, n);
	/* Before the credential change: the move is the kernel's to allow
	 * for the writer's credentials, clusterd's. */
	if (a->procs >= 0 && write(a->procs, "0", 1) != 1)
		child_fail(report, STAGE_SETUP);
	if (a->join >= 0 && write(a->join, "0", 1) != 1)
		child_fail(report, STAGE_SETUP);
	if (a->procs >= 0)
		close(a->procs);
	if (a->join >= 0)
		close(a->join);
	default_handlers(a->handled);
	setpgid(0, 0);

	if (sp->umask >= 0)
		umask((mode_t)sp->umask);
	/* A higher hard limit needs the privilege the user change drops;
	 * the limits themselves come last, once the fds are in place. */
	if (a->raise.rlim_max != 0 && setrlimit(RLIMIT_NOFILE, &a->raise) == -1)
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
		/* clusterd died between clone and prctl: act as if told (not
		 * raise(), which names the thread by clusterd's cached tid). */
		if (getppid() != a->parent)
			kill(getpid(), sp->pdeathsig);
	}
	if (sp->directory && chdir(sp->directory) == -1)
		child_fail(report, STAGE_DIRECTORY);

	/*
	 * fds: lift the report pipe and every socket above the target range
	 * first, so moving socket i to 3+i never overwrites one not yet moved.
	 */
	if (report < top) {
		int high = fcntl(report, F_DUPFD_CLOEXEC, top);

		if (high == -1)
			child_fail(report, STAGE_SETUP);
		report = high;
	}
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
		put_number(sp->listen_pid, (unsigned long long)getpid());
	if (sp->watchdog_pid)
		put_number(sp->watchdog_pid, (unsigned long long)getpid());
	if (sp->pidfd_id)
		fill_pidfd_id(sp->pidfd_id);

	/* Last: the workers' limit may be below the fds clusterd's table
	 * lent us, and below what the moves above needed. */
	if (setrlimit(RLIMIT_NOFILE, &sp->nofile) == -1)
		child_fail(report, STAGE_SETUP);
	/* A worker starts with no signal blocked. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (sp->path == NULL) {
		errno = sp->path_err;
		child_fail(report, STAGE_EXEC);
	}
	execve(sp->path, sp->argv, sp->envp);
	if (errno == ENOEXEC && sp->sh_argv) {
		/* As execvp: a file without #! is a shell script. */
		execve(sp->sh_argv[0], sp->sh_argv, sp->envp);
		errno = ENOEXEC;	/* no /bin/sh: say why this one failed */
	}
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

/* Could the worker's credentials execute st? (Its path's directories are
 * the kernel's to judge, at exec.) */
static int
executable(const char *path, const struct stat *st, const struct spawn *sp)
{
	mode_t bit = S_IXOTH;

	if (!sp->drop)
		return faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0;
	if (sp->uid == 0)
		return (st->st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) != 0;
	if (st->st_uid == sp->uid)
		bit = S_IXUSR;
	else if (st->st_gid == sp->gid)
		bit = S_IXGRP;
	else
		for (int i = 0; i < sp->ngroups; i++)
			if (st->st_gid == sp->groups[i])
				bit = S_IXGRP;
	return (st->st_mode & bit) != 0;
}

/*
 * execvp(3)'s search, done here, in clusterd, where it may allocate and
 * look at the file system: an entry that has no such file is skipped, one
 * that cannot be executed too but makes the answer EACCES rather than
 * ENOENT; an empty entry is the current directory. Relative entries are
 * taken from the worker's directory, where the child will be when it
 * executes the path returned.
 */
char *
spawn_resolve(const char *file, const char *pathvar, const char *dir,
    const struct spawn *sp, int *err)
{
	int eacces = 0;

	if (*file == '\0') {
		*err = ENOENT;
		return NULL;
	}
	if (strchr(file, '/'))
		return xstrdup(file);
	if (pathvar == NULL)
		pathvar = "/bin:/usr/bin";	/* execvp's, for no PATH at all */
	for (const char *p = pathvar;; p++) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *cand = len == 0 ? xstrdup(file) :
		    xasprintf("%.*s%s%s", (int)len, p, p[len - 1] == '/' ? "" : "/", file);
		char *check = dir && *cand != '/' ? xasprintf("%s/%s", dir, cand) : cand;
		struct stat st;

		if (stat(check, &st) == 0) {
			if (S_ISREG(st.st_mode) && executable(check, &st, sp)) {
				if (check != cand)
					free(check);
				return cand;
			}
			eacces = 1;
		} else if (errno == EACCES)
			eacces = 1;
		if (check != cand)
			free(check);
		free(cand);
		if (end == NULL)
			break;
		p = end;
	}
	*err = eacces ? EACCES : ENOENT;
	return NULL;
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

/*
 * clone3() is a fork-like call: with CLONE_VM the child would return into
 * this frame, on the stack it shares with us. So, as glibc's clone() does
 * for clone(), a few instructions: in the child, on its own stack (base and
 * size in ca), call fn(arg) and exit with what it returns, with no frame
 * to return to.
 */
#if defined(SYS_clone3) && defined(__x86_64__)
#define HAVE_CLONE3_CALL 1
static pid_t
clone3_call(struct clone_args *ca, int (*fn)(void *), void *arg)
{
	/* Callee-saved, so the syscall leaves them to the child as they are. */
	register long r12 __asm__("r12") = (long)fn;
	register long r13 __asm__("r13") = (long)arg;
	long ret;

	__asm__ volatile (
	    "syscall\n\t"
	    "testq %%rax, %%rax\n\t"
	    "jnz 1f\n\t"
	    "xorl %%ebp, %%ebp\n\t"	/* the outermost frame, for unwinders */
	    "movq %%r13, %%rdi\n\t"
	    "callq *%%r12\n\t"
	    "movl %%eax, %%edi\n\t"
	    "movl $60, %%eax\n\t"		/* SYS_exit */
	    "syscall\n\t"
	    "hlt\n"
	    "1:"
	    : "=a" (ret)
	    : "0" ((long)SYS_clone3), "D" (ca), "S" (sizeof(*ca)), "r" (r12), "r" (r13)
	    : "rcx", "r11", "memory");
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return (pid_t)ret;
}
#elif defined(SYS_clone3) && defined(__aarch64__)
#define HAVE_CLONE3_CALL 1
static pid_t
clone3_call(struct clone_args *ca, int (*fn)(void *), void *arg)
{
	/* svc keeps every register but x0, in the child too. */
	register long x0 __asm__("x0") = (long)ca;
	register long x1 __asm__("x1") = (long)sizeof(*ca);
	register long x2 __asm__("x2") = (long)fn;
	register long x3 __asm__("x3") = (long)arg;
	register long x8 __asm__("x8") = SYS_clone3;

	__asm__ volatile (
	    "svc #0\n\t"
	    "cbnz x0, 1f\n\t"
	    "mov x29, xzr\n\t"		/* the outermost frame, for unwinders */
	    "mov x30, xzr\n\t"
	    "mov x0, x3\n\t"
	    "blr x2\n\t"
	    "mov x8, #93\n\t"		/* SYS_exit */
	    "svc #0\n\t"
	    "brk #0\n"
	    "1:"
	    : "+r" (x0)
	    : "r" (x1), "r" (x2), "r" (x3), "r" (x8)
	    : "memory");
	if (x0 < 0) {
		errno = (int)-x0;
		return -1;
	}
	return (pid_t)x0;
}
#endif

/*
 * Start the child in sp->cgroup_fd's cgroup with clone3(), if this kernel
 * (and whatever filters its calls) lets us: 1, or 0 with *pid set (-1 with
 * errno: no start, and none to retry); or -1: clone() instead, and the child
 * moves itself. What the first try learns holds for the next.
 */
static int
start_in_cgroup(const struct spawn *sp, void *stack, size_t size, int share_files,
    struct child_args *a, pid_t *pid)
{
#ifdef HAVE_CLONE3_CALL
	static int works = -1;
	struct clone_args ca = {
		.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP |
		    (share_files ? CLONE_FILES : 0),
		.exit_signal = SIGCHLD,
		.stack = (unsigned long)stack,
		.stack_size = size,
		.cgroup = (unsigned)sp->cgroup_fd,
	};

	if (works == 0)
		return -1;
	if ((*pid = clone3_call(&ca, child, a)) != -1) {
		works = 1;
		return 1;
	}
	/*
	 * No clone3 (ENOSYS: an older kernel, valgrind, container filters
	 * that make glibc fall back), refused by a filter (EPERM), or no
	 * CLONE_INTO_CGROUP (E2BIG, EINVAL: before Linux 5.7). Anything else
	 * is about the cgroup (EBUSY: it has controllers on for children;
	 * EBADF: not a v2 cgroup; EACCES) and the move would fail as well.
	 */
	if (errno == ENOSYS || errno == EPERM || errno == E2BIG || errno == EINVAL) {
		works = 0;
		return -1;
	}
	return 0;
#else
	(void)sp, (void)stack, (void)size, (void)share_files, (void)a, (void)pid;
	return -1;
#endif
}

pid_t
spawn_start(const struct spawn *sp, int *report_fd, const char **what)
{
	static int share_files = -1;
	char *pidfd_id = sp->pidfd_id ? *sp->pidfd_id : NULL;
	int pipefd[2], fds[sp->nfds > 0 ? sp->nfds : 1], lowered[sp->nfds > 0 ? sp->nfds : 1];
	struct child_args a = { .sp = sp, .fds = fds, .devnull = sp->devnull,
	    .stdout_fd = sp->stdout_fd, .stderr_fd = sp->stderr_fd, .procs = -1, .join = -1,
	    .parent = getpid() };
	struct rlimit cur;
	sigset_t all, old;
	size_t argc = 0, size;
	void *stack;
	pid_t pid = -1;
	int e, joined = -1, into = -1;

	while (sp->argv[argc])
		argc++;
	if ((stack = child_stack(argc, &size)) == NULL) {
		*what = "stack";
		return -1;
	}
	if (pipe2(pipefd, O_CLOEXEC) == -1) {
		*what = "exec report pipe";
		return -1;
	}
	if (getrlimit(RLIMIT_NOFILE, &cur) == 0 && sp->nofile.rlim_max > cur.rlim_max) {
		a.raise = cur;
		a.raise.rlim_max = sp->nofile.rlim_max;
	}
	a.report = pipefd[1];
	a.handled = handled_signals();
	pipefd[0] = spawn_park_fd(pipefd[0]);
	/* The child's table stops at the highest it keeps: bring parked ones down. */
	for (int i = 0; i < sp->nfds; i++) {
		fds[i] = sp->fds[i];
		lowered[i] = -1;
		if (fds[i] >= SPAWN_FD_PARK &&
		    (lowered[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) != -1)
			fds[i] = lowered[i];
	}
	if (sp->join) {
		a.join = sp->join_fd;
		if (a.join >= SPAWN_FD_PARK &&
		    (joined = fcntl(a.join, F_DUPFD_CLOEXEC, 3)) != -1)
			a.join = joined;
	}

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
	/* As posix_spawn: no handler may run in the child, on our memory,
	 * before it has reset them. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	/* into: 1 started there, 0 not started for the cgroup's sake, -1
	 * clone() (and, with in_cgroup, the child moves itself). */
	if (sp->in_cgroup)
		into = start_in_cgroup(sp, stack, size, share_files, &a, &pid);
	if (into == -1 && sp->in_cgroup &&
	    (a.procs = openat(sp->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC)) == -1)
		into = 0;
	if (into == -1) {
		if (share_files)
			pid = clone(child, (char *)stack + size,
			    CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, &a);
		if (!share_files || (pid == -1 && errno == EINVAL))
			pid = clone(child, (char *)stack + size,
			    CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
	}
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	for (int i = 0; i < sp->nfds; i++)
		if (lowered[i] != -1)
			close(lowered[i]);
	if (joined != -1)
		close(joined);
	if (a.procs != -1)
		close(a.procs);
	close(pipefd[1]);
	if (pid == -1) {
		close(pipefd[0]);
		*what = into == 0 ? "cgroup" : "clone";
		errno = e;
		return -1;
	}
	/* The child may have cut envp's last entry (no pidfs): the caller frees it. */
	if (sp->pidfd_id)
		*sp->pidfd_id = pidfd_id;
	*report_fd = pipefd[0];
	return pid;
}

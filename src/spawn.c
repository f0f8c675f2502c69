/*
 * vfork and exec of one worker. Everything that can be prepared is
 * prepared by the caller first; the child only makes system calls: it
 * moves fds, applies settings and fills in its own pid.
 *
 * vfork, not fork: the child borrows clusterd's memory until it execs, so
 * starting a worker costs no copy of page tables or of a fd table that
 * grows with the number of workers (1000 workers start in about half the
 * time). The price is discipline in child(): no malloc, no stdio, no
 * library state, nothing written that clusterd reads afterwards except
 * through spawn_start()'s restore, and signal handlers reset before the
 * signals are unblocked.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "spawn.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#define PIDFS_MAGIC 0x50494446

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

static void __attribute__((noreturn))
child_fail(int report, int stage)
{
	struct spawn_report r = { stage, errno };

	(void)!write(report, &r, sizeof(r));
	_exit(stage == STAGE_EXEC ? (r.err == ENOENT ? 127 : 126) : 125);
}

/* Mark every fd from `from` on close-on-exec: nothing of ours leaks. */
static void
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
static void
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
static void
default_handlers(void)
{
	struct sigaction sa, dfl = { .sa_handler = SIG_DFL };

	for (int sig = 1; sig < 32; sig++)
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL &&
		    sa.sa_handler != SIG_IGN)
			sigaction(sig, &dfl, NULL);
}

static void __attribute__((noreturn))
child(const struct spawn *sp, pid_t parent, int report)
{
	sigset_t none;
	int top = 3 + sp->nfds;

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
		/* clusterd died between fork and prctl: act as if told. */
		if (getppid() != parent)
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
	if ((sp->stdout_fd >= 0 && dup2(sp->stdout_fd, 1) == -1) ||
	    (sp->stderr_fd >= 0 && dup2(sp->stderr_fd, 2) == -1))
		child_fail(report, STAGE_SETUP);
	int moved[sp->nfds > 0 ? sp->nfds : 1];

	for (int i = 0; i < sp->nfds; i++)
		if ((moved[i] = fcntl(sp->fds[i], F_DUPFD_CLOEXEC, top)) == -1)
			child_fail(report, STAGE_SETUP);
	for (int i = 0; i < sp->nfds; i++)
		if (dup2(moved[i], 3 + i) == -1)	/* dup2 leaves CLOEXEC off */
			child_fail(report, STAGE_SETUP);
	if (dup2(sp->devnull, 0) == -1)
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

pid_t
spawn_start(const struct spawn *sp, int *report_fd)
{
	pid_t parent = getpid(), pid;
	char *pidfd_id = sp->pidfd_id ? *sp->pidfd_id : NULL;
	int pipefd[2];

	if (pipe2(pipefd, O_CLOEXEC) == -1)
		return -1;
	pid = vfork();
	if (pid == -1) {
		int e = errno;

		close(pipefd[0]);
		close(pipefd[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		close(pipefd[0]);
		child(sp, parent, pipefd[1]);
	}
	/* The child may have cut envp's last entry (no pidfs): the caller frees it. */
	if (sp->pidfd_id)
		*sp->pidfd_id = pidfd_id;
	close(pipefd[1]);
	*report_fd = pipefd[0];
	return pid;
}

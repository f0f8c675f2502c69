/*
 * spawnwatch.c: how long a launcher takes to have N workers running, and to
 * stop, by the kernel's clock.
 *
 *	spawnwatch N COMMAND [ARG...]
 *
 * Runs COMMAND (a supervisor) and follows the proc connector (netlink,
 * root): each process it forks is one of its workers, and a worker runs
 * once it has exec'd.  Prints, on its standard output:
 *
 *	spawnwatch: pid PID
 *	spawnwatch: N running after US us, CPU US us
 *
 * the time from just before COMMAND was started to the Nth exec, and the
 * CPU time (user + system) COMMAND itself had used by then, its workers'
 * not counted.  SIGTERM or SIGINT is passed on to COMMAND, and once it has
 * exited:
 *
 *	spawnwatch: stopped after US us, CPU US us
 *
 * (from the signal; CPU as above, for its whole life), and spawnwatch
 * exits with COMMAND's status.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procev.h"

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* user + system time of pid itself, from /proc/PID/stat (a zombie too) */
static long long
cpu_us(pid_t pid)
{
	char path[64], line[1024], *p;
	unsigned long long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (p == NULL || (p = strrchr(line, ')')) == NULL || sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st) * 1000000 / sysconf(_SC_CLK_TCK);
}

/* pid -> 1 forked by COMMAND, 2 and exec'd; open addressing */
#define SLOTS	65536
static struct { pid_t pid; int state; } seen[SLOTS];

static int *
state_of(pid_t pid, int add)
{
	for (unsigned i = (unsigned)pid * 2654435761u % SLOTS;; i = (i + 1) % SLOTS) {
		if (seen[i].pid == pid)
			return &seen[i].state;
		if (seen[i].pid == 0) {
			if (!add)
				return NULL;
			seen[i].pid = pid;
			return &seen[i].state;
		}
	}
}

int
main(int argc, char **argv)
{
	int n, nl, sfd, running = 0, status;
	int64_t t0, tstop = 0;
	pid_t cmd;
	sigset_t mask;

	if (argc < 3 || (n = atoi(argv[1])) < 1 || n > SLOTS / 4) {
		fprintf(stderr, "usage: spawnwatch N COMMAND [ARG...]\n");
		return 2;
	}
	nl = proc_connector("spawnwatch", 16 << 20);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	setvbuf(stdout, NULL, _IOLBF, 0);

	t0 = now_us();
	if ((cmd = fork()) == 0) {
		sigprocmask(SIG_UNBLOCK, &mask, NULL);
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	printf("spawnwatch: pid %d\n", (int)cmd);
	for (;;) {
		struct pollfd p[2] = { { nl, POLLIN, 0 }, { sfd, POLLIN, 0 } };

		if (poll(p, 2, -1) == -1 && errno != EINTR)
			return 1;
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si) &&
			    si.ssi_signo != SIGCHLD) {
				tstop = now_us();
				kill(cmd, (int)si.ssi_signo);
			}
			siginfo_t info = { 0 };

			if (waitid(P_PID, cmd, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    info.si_pid == cmd) {
				long long cpu = cpu_us(cmd);

				waitpid(cmd, &status, 0);
				printf("spawnwatch: stopped after %lld us, CPU %lld us\n",
				    tstop ? (long long)(now_us() - tstop) : -1LL, cpu);
				break;
			}
		}
		if (!(p[0].revents & POLLIN))
			continue;

		char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
		ssize_t len;

		while ((len = recv(nl, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
			for (struct nlmsghdr *h = (struct nlmsghdr *)buf;
			    NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
				struct proc_event *ev = (struct proc_event *)
				    ((struct cn_msg *)NLMSG_DATA(h))->data;
				int *st;

				if (ev->what == PROC_EVENT_FORK &&
				    ev->event_data.fork.parent_tgid == cmd &&
				    ev->event_data.fork.child_pid ==
				    ev->event_data.fork.child_tgid)
					*state_of(ev->event_data.fork.child_pid, 1) = 1;
				else if (ev->what == PROC_EVENT_EXEC &&
				    (st = state_of(ev->event_data.exec.process_tgid,
				    0)) != NULL && *st == 1) {
					*st = 2;
					if (++running == n)
						printf("spawnwatch: %d running after "
						    "%lld us, CPU %lld us\n", n, (long long)
						    ((int64_t)ev->timestamp_ns / 1000 - t0),
						    cpu_us(cmd));
				}
			}
		}
		if (len == -1 && errno == ENOBUFS)
			fprintf(stderr, "spawnwatch: proc connector overflow\n");
	}

	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

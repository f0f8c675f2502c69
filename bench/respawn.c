/*
 * respawn.c: how long a supervisor takes to replace a worker killed by
 * SIGKILL, measured by the kernel's own clock.
 *
 *	respawn -s SUPERVISOR_PID -p PORT [-k KILLS] [-g GAP_MS] [-o OUT]
 *
 * The supervisor should run one worker (so the only process that can
 * answer is the replacement).  For each kill:
 *
 *   t0       clock_gettime(CLOCK_MONOTONIC), then kill(worker, SIGKILL)
 *   exit     the kernel's exit event of the old worker's last thread (the
 *            parent is sent SIGCHLD just before it: a big process, node,
 *            takes milliseconds to tear down after the signal)
 *   fork     the kernel's fork event of the new process, parent = supervisor
 *   exec     the kernel's exec event of the new process
 *   accept   the first whole "200" answer to requests sent from the kill
 *            on (see until_answer: node:cluster and PM2 close the port
 *            when no worker is left, and lose the connections they took
 *            meanwhile; clusterd keeps the port, so the first request waits
 *            in the backlog for the replacement)
 *
 * The events come from the proc connector (netlink, CN_IDX_PROC; root),
 * stamped with ktime_get_ns(), which is CLOCK_MONOTONIC: no polling, no
 * sampling error.  Then GAP_MS (default 80) of rest, so that the new worker
 * has lived longer than the supervisor's crash-loop threshold, and the next.
 *
 * OUT (default stdout) gets one line per kill, microseconds after t0:
 *	EXIT_US FORK_US EXEC_US ACCEPT_US REQUESTS LOST
 */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "procev.h"

static struct sockaddr_in dst = { .sin_family = AF_INET };
static const char req[] =
    "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct times {
	pid_t	 victim, child;
	int64_t	 exit, fork, exec;	/* ns, CLOCK_MONOTONIC; 0 not yet */
};

/* Read what the proc connector has for us; note the events we wait for. */
static void
events(int nl, pid_t sup, struct times *t)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	ssize_t n;

	while ((n = recv(nl, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf;
		    NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct cn_msg *cn = NLMSG_DATA(h);
			struct proc_event *ev = (struct proc_event *)cn->data;

			if (t == NULL)
				continue;
			switch (ev->what) {
			case PROC_EVENT_EXIT:
				/* the last thread of the victim to go: the
				 * kernel tells the parent just before this */
				if (ev->event_data.exit.process_tgid == t->victim &&
				    (int64_t)ev->timestamp_ns > t->exit)
					t->exit = ev->timestamp_ns;
				break;
			case PROC_EVENT_FORK:
				if (t->fork == 0 &&
				    ev->event_data.fork.parent_tgid == sup &&
				    ev->event_data.fork.child_pid ==
				    ev->event_data.fork.child_tgid) {
					t->fork = ev->timestamp_ns;
					t->child = ev->event_data.fork.child_pid;
				}
				break;
			case PROC_EVENT_EXEC:
				if (t->exec == 0 && t->child != 0 &&
				    ev->event_data.exec.process_tgid == t->child)
					t->exec = ev->timestamp_ns;
				break;
			default:
				break;
			}
		}
	}
}

/* The supervisor's child; with several, the first found. */
static pid_t
worker_of(pid_t sup)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	while (d != NULL && found == 0 && (de = readdir(d)) != NULL) {
		char path[300], line[512], *p;
		FILE *f;
		int ppid;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(line, sizeof(line), f) != NULL &&
		    (p = strrchr(line, ')')) != NULL &&
		    sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == sup)
			found = atoi(de->d_name);
		fclose(f);
	}
	if (d != NULL)
		closedir(d);
	return found;
}

/*
 * Requests until one is answered with a whole 200, while the proc
 * connector's events are read as they come.  A request goes out at once
 * and then another every max(1 ms, 2% of the time elapsed), the earlier
 * ones left open: a connection a supervisor took and never passed on
 * (node:cluster hands it to the dead worker) cannot hide the moment a
 * later one is answered.  A refused or reset one is just closed.  Counts
 * the requests sent and those sent before the answered one that were still
 * unanswered when it was: lost.  Gives up after 10 s.
 */
#define MAXTRY	512

struct try {
	int	 fd;
	int	 sent;
	size_t	 len;
	char	 buf[512];
};

static int
try_start(struct try *t)
{
	t->len = 0;
	t->sent = 0;
	t->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd == -1)
		return -1;
	if (connect(t->fd, (struct sockaddr *)&dst, sizeof(dst)) == -1 &&
	    errno != EINPROGRESS) {
		close(t->fd);
		t->fd = -1;		/* refused at once */
	}
	return 0;
}

/* 1: answered; 0: still waiting; -1: failed, closed. */
static int
try_io(struct try *t, short revents)
{
	int err = 0;
	socklen_t len = sizeof(err);
	ssize_t n;

	if (!t->sent) {
		if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0)
			goto fail;
		if (!(revents & POLLOUT))
			return 0;
		if (send(t->fd, req, sizeof(req) - 1, MSG_NOSIGNAL) !=
		    (ssize_t)sizeof(req) - 1)
			goto fail;
		t->sent = 1;
		return 0;
	}
	while ((n = read(t->fd, t->buf + t->len, sizeof(t->buf) - 1 - t->len)) > 0)
		if ((t->len += n) == sizeof(t->buf) - 1)
			break;
	if (n == -1 && errno == EAGAIN)
		return 0;
	t->buf[t->len] = '\0';
	if (t->len > 12 && strncmp(t->buf + 8, " 200", 4) == 0 &&
	    strstr(t->buf, "\r\n\r\n") != NULL)
		return 1;
fail:
	close(t->fd);
	t->fd = -1;
	return -1;
}

static int64_t
until_answer(int nl, pid_t sup, struct times *tm, int *attempts, int *lost)
{
	static struct try tries[MAXTRY];
	struct pollfd p[MAXTRY + 1];
	int64_t t0 = now_ns(), next = t0, at = -1, now;
	int n = 0;

	*lost = 0;
	while ((now = now_ns()) < t0 + 10000000000LL) {
		int np = 0, idx[MAXTRY];

		if (now >= next && n < MAXTRY) {
			if (try_start(&tries[n]) == -1)
				break;
			n++;
			next = now + ((now - t0) / 50 > 1000000 ?
			    (now - t0) / 50 : 1000000);
		}
		for (int i = 0; i < n; i++) {
			if (tries[i].fd < 0)
				continue;
			p[np] = (struct pollfd){ tries[i].fd,
			    tries[i].sent ? POLLIN : POLLOUT, 0 };
			idx[np++] = i;
		}
		p[np] = (struct pollfd){ nl, POLLIN, 0 };
		int wait = (int)((next - now) / 1000000) + 1;

		if (poll(p, np + 1, wait) <= 0)
			continue;
		if (p[np].revents & POLLIN)
			events(nl, sup, tm);
		for (int j = 0; j < np && at < 0; j++) {
			if (p[j].revents == 0)
				continue;
			if (try_io(&tries[idx[j]], p[j].revents) == 1) {
				at = now_ns();
				for (int i = 0; i < idx[j]; i++)
					if (tries[i].fd >= 0 && tries[i].sent)
						++*lost;
			}
		}
		if (at >= 0)
			break;
	}
	for (int i = 0; i < n; i++)
		if (tries[i].fd >= 0)
			close(tries[i].fd);
	*attempts = n;
	return at;
}

int
main(int argc, char **argv)
{
	int kills = 200, gap = 80, opt, nl;
	pid_t sup = 0;
	FILE *out = stdout;

	while ((opt = getopt(argc, argv, "s:p:k:g:o:")) != -1) {
		switch (opt) {
		case 's': sup = atoi(optarg); break;
		case 'p': dst.sin_port = htons(atoi(optarg)); break;
		case 'k': kills = atoi(optarg); break;
		case 'g': gap = atoi(optarg); break;
		case 'o':
			if ((out = fopen(optarg, "w")) == NULL) {
				perror(optarg);
				return 1;
			}
			break;
		default:
			fprintf(stderr, "usage: respawn -s SUPERVISOR_PID -p PORT"
			    " [-k KILLS] [-g GAP_MS] [-o OUT]\n");
			return 2;
		}
	}
	if (sup <= 0 || dst.sin_port == 0) {
		fprintf(stderr, "respawn: need -s PID and -p PORT\n");
		return 2;
	}
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	nl = proc_connector("respawn", 4 << 20);

	for (int k = 0; k < kills; k++) {
		struct times t = { 0 };
		int64_t t0, accept;
		int attempts, lost;

		usleep(gap * 1000);
		if ((t.victim = worker_of(sup)) == 0) {
			fprintf(stderr, "respawn: supervisor %d has no worker\n",
			    (int)sup);
			return 1;
		}
		events(nl, sup, NULL);		/* forget what came before */
		t0 = now_ns();
		if (kill(t.victim, SIGKILL) == -1) {
			perror("respawn: kill");
			return 1;
		}
		accept = until_answer(nl, sup, &t, &attempts, &lost);
		/* the events may trail the answer: wait for them a little */
		for (int64_t until = now_ns() + 2000000000LL;
		    (t.exit == 0 || t.fork == 0 || t.exec == 0) && now_ns() < until;) {
			struct pollfd p = { nl, POLLIN, 0 };

			if (poll(&p, 1, 50) > 0)
				events(nl, sup, &t);
		}
		usleep(2000);
		events(nl, sup, &t);
		if (accept < 0 || t.fork == 0) {
			fprintf(stderr, "respawn: kill %d: no %s\n", k,
			    accept < 0 ? "answer in 10 s" : "fork event");
			return 1;
		}
#define US(x)	((x) ? ((x) - t0) / 1e3 : -1.0)
		fprintf(out, "%.1f %.1f %.1f %.1f %d %d\n", US(t.exit),
		    US(t.fork), US(t.exec), US(accept), attempts, lost);
		fflush(out);
	}
	return 0;
}

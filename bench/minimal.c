/*
 * minimal.c: the least a socket-sharing supervisor can do, as a yardstick.
 * Bind one TCP socket, fork N workers that get it as fd 3 with LISTEN_FDS=1
 * and LISTEN_PID (the systemd protocol, as clusterd gives it), wait.  No
 * restart, no control socket, no logging: whatever clusterd costs beyond
 * this is its own overhead.  SIGTERM/SIGINT is passed on to the workers.
 *
 *	minimal N HOST PORT COMMAND [ARG...]
 */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t	pids[4096];
static int	n;

static void
pass_on(int sig)
{
	for (int i = 0; i < n; i++)
		kill(pids[i], sig);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd, one = 1;

	if (argc < 5 || (n = atoi(argv[1])) < 1 || n > 4096 ||
	    inet_pton(AF_INET, argv[2], &sin.sin_addr) != 1) {
		fprintf(stderr, "usage: minimal N HOST PORT COMMAND [ARG...]\n");
		return 2;
	}
	sin.sin_port = htons(atoi(argv[3]));
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, SOMAXCONN) == -1 || (fd != 3 && dup2(fd, 3) == -1)) {
		perror("minimal: socket");
		return 2;
	}
	if (fd != 3)
		close(fd);
	signal(SIGTERM, pass_on);
	signal(SIGINT, pass_on);
	for (int i = 0; i < n; i++) {
		if ((pids[i] = fork()) == 0) {
			char pid[32], id[32];

			snprintf(pid, sizeof(pid), "%d", (int)getpid());
			snprintf(id, sizeof(id), "%d", i);
			setenv("LISTEN_FDS", "1", 1);
			setenv("LISTEN_PID", pid, 1);
			setenv("CLUSTERD_WORKER_ID", id, 1);
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			execvp(argv[4], argv + 4);
			_exit(127);
		}
	}
	while (wait(NULL) > 0 || errno == EINTR)
		;
	return 0;
}

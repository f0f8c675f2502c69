/*
 * leaker.c: a clusterd worker that leaks memory when asked, for the cgroups
 * part of the benchmarks (memory_high -> replacement ready).
 *
 * Serves HTTP/1.0-style (one request per connection) on fd 3, the socket
 * clusterd passes (LISTEN_FDS), one connection at a time:
 *
 *	GET /leak/N	allocate N MiB, write every page, keep them
 *	GET /leak/N/ID	the same if $CLUSTERD_WORKER_ID is ID, else nothing
 *	GET /...	nothing
 *
 * and answers every request with one line:
 *
 *	worker ID pid PID leaked N total T
 *
 * (N the MiB this request allocated, T all this process holds), so that a
 * client aiming at one worker of a shared socket knows whom it reached.
 * Sends READY=1 to $NOTIFY_SOCKET once it is about to accept (ready =
 * notify).  SIGTERM or SIGINT: exit 0, after the connection in hand if
 * there is one.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t stopping, busy;

/* Between connections, at once: a flag checked before a blocking accept()
 * could miss a signal that comes just before it. */
static void
on_term(int sig)
{
	(void)sig;
	if (!busy)
		_exit(0);
	stopping = 1;
}

/* READY=1 to $NOTIFY_SOCKET ("@name": abstract), if there is one. */
static void
notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (path == NULL || *path == '\0' || strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	(void)sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	close(fd);
}

/* N MiB, every page written: resident and charged to our cgroup. */
static int
leak(long mib)
{
	size_t len = (size_t)mib << 20;
	long page = sysconf(_SC_PAGESIZE);
	char *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	for (size_t i = 0; i < len; i += page)
		p[i] = 1;
	return 0;
}

static void
serve(int c, const char *id, long *total)
{
	char req[4096], out[160];
	size_t have = 0;
	ssize_t n;
	long mib = 0;
	char *end;

	/* The request line is all we need; its headers may follow or not. */
	while (have < sizeof(req) - 1 && memchr(req, '\n', have) == NULL) {
		if ((n = read(c, req + have, sizeof(req) - 1 - have)) <= 0)
			return;
		have += n;
	}
	req[have] = '\0';
	if (strncmp(req, "GET /leak/", 10) == 0) {
		mib = strtol(req + 10, &end, 10);
		if (*end == '/' && strncmp(end + 1, id, strlen(id)) != 0)
			mib = 0;	/* meant for another worker */
		else if (*end == '/' && strchr(" ?", end[1 + strlen(id)]) == NULL)
			mib = 0;
		if (mib < 0 || mib > 4096)
			mib = 0;
	}
	if (mib > 0 && leak(mib) == 0)
		*total += mib;
	else
		mib = 0;
	n = snprintf(out, sizeof(out), "worker %s pid %d leaked %ld total %ld\n",
	    id, (int)getpid(), mib, *total);
	dprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %zd\r\nConnection: close\r\n\r\n%s", n, out);
}

int
main(void)
{
	const char *id = getenv("CLUSTERD_WORKER_ID");
	struct sigaction sa = { .sa_handler = on_term };	/* no SA_RESTART */
	long total = 0;
	int c;

	if (id == NULL)
		id = "?";
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	notify_ready();
	while (!stopping) {
		if ((c = accept4(3, NULL, NULL, SOCK_CLOEXEC)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("leaker: accept");
			return 1;
		}
		busy = 1;
		serve(c, id, &total);
		close(c);
		busy = 0;
	}
	return 0;
}

/*
 * Each worker gets its own NOTIFY_SOCKET, so the socket a message arrives
 * on names the sender: no pid lookup, so no race with a short-lived sender
 * such as systemd-notify that is gone before the message is read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"
#include "strv.h"

static int
is_key(const char *line, size_t len, const char *key)
{
	size_t n = strlen(key);

	return len >= n && memcmp(line, key, n) == 0;
}

int
notify_parse(const char *buf, size_t len, struct notify_msg *m)
{
	memset(m, 0, sizeof(*m));
	if (memchr(buf, '\0', len) != NULL)
		return -1;
	while (len > 0) {
		const char *nl = memchr(buf, '\n', len);
		size_t n = nl ? (size_t)(nl - buf) : len;
		const char *eq = memchr(buf, '=', n);

		if (n > 0 && (eq == NULL || eq == buf))
			return -1;
		if (n == 7 && memcmp(buf, "READY=1", 7) == 0)
			m->ready = 1;
		else if (n == 10 && memcmp(buf, "WATCHDOG=1", 10) == 0)
			m->watchdog = 1;
		else if (n == 10 && memcmp(buf, "STOPPING=1", 10) == 0)
			m->stopping = 1;
		else if (n == 11 && memcmp(buf, "RELOADING=1", 11) == 0)
			m->reloading = 1;
		else if (is_key(buf, n, "STATUS=")) {
			size_t vlen = n - 7;

			if (vlen >= sizeof(m->status))
				vlen = sizeof(m->status) - 1;
			memcpy(m->status, buf + 7, vlen);
			m->status[vlen] = '\0';
			m->has_status = 1;
		} else if (is_key(buf, n, "EXTEND_TIMEOUT_USEC=")) {
			char num[32];
			size_t vlen = n - 20;

			if (vlen == 0 || vlen >= sizeof(num))
				return -1;
			memcpy(num, buf + 20, vlen);
			num[vlen] = '\0';
			if (strspn(num, "0123456789") != vlen)
				return -1;
			m->extend_usec = strtoll(num, NULL, 10);
		}
		/* Other variables (MAINPID=, ERRNO=, ...) are understood as ignored. */
		if (nl == NULL)
			break;
		len -= n + 1;
		buf = nl + 1;
	}
	return 0;
}

int
notify_bind(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, one = 1;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
	unlink(sun.sun_path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == -1) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int
notify_open(const char *dir, unsigned long serial, char **path)
{
	char name[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;

	if ((size_t)snprintf(name, sizeof(name), "%s/%lu", dir, serial) >= sizeof(name)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = notify_bind(name)) != -1)
		*path = xstrdup(name);
	return fd;
}

int
notify_recv(int fd, struct notify_msg *m, const char **why)
{
	char buf[NOTIFY_MAX + 1];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 253)];
	} control;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = &control, .msg_controllen = sizeof(control),
	};
	size_t fds_attached = 0;
	int sender = 0;
	ssize_t n;

	n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
	if (n == -1)
		return 0;
	/* Never keep a descriptor someone slipped us. */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			sender = uc.pid;
		}
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int *fds = (int *)(void *)CMSG_DATA(c);

			for (size_t i = 0; i < nfd; i++)
				close(fds[i]);
			fds_attached += nfd;
		}
	}
	/* sd_notify_barrier(3): one fd, which the sender waits to see closed. */
	if (fds_attached == 1 && n == 9 && memcmp(buf, "BARRIER=1", 9) == 0)
		return 0;
	if (fds_attached) {
		*why = "dropped notify message with file descriptors attached";
		return -1;
	}
	if ((mh.msg_flags & MSG_CTRUNC)) {
		*why = "dropped notify message with truncated control data";
		return -1;
	}
	if (n > NOTIFY_MAX || (mh.msg_flags & MSG_TRUNC)) {
		*why = "dropped oversized notify message";
		return -1;
	}
	if (notify_parse(buf, (size_t)n, m) == -1) {
		*why = "dropped malformed notify message";
		return -1;
	}
	m->sender = sender;
	return 1;
}

int
notify_sender_ok(int pid, int root)
{
	/* Walk up the parents: a few levels cover shells and wrappers. */
	for (int depth = 0; depth < 32; depth++) {
		char path[64], buf[512], *p;
		int ppid;
		FILE *fp;

		if (pid <= 0 || pid == root)
			return 1;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		if ((fp = fopen(path, "re")) == NULL)
			return 1;	/* gone already: the socket's name is all we have */
		p = fgets(buf, sizeof(buf), fp);
		fclose(fp);
		/* "pid (comm) state ppid ...": comm may hold spaces and ')' */
		if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 1, " %*c %d", &ppid) != 1)
			return 1;
		if (ppid <= 1)
			return 0;
		pid = ppid;
	}
	return 0;
}

/*
 * libFuzzer target: the sd_notify(3) messages workers send (src/notify.c).
 *
 * Every input goes to notify_parse() as the exact bytes of a datagram (no
 * NUL terminator: the sanitizer sees any read past the end). Then the same
 * bytes go through a real datagram socket to notify_recv(), the way a
 * worker's message arrives, with file descriptors attached when the first
 * byte asks for them:
 *
 *	byte 0, bits 0-2	how many fds to attach (SCM_RIGHTS), 0-7
 *	byte 0, bit 3		attach SCM_CREDENTIALS too
 *	byte 0, bit 4		send 'BARRIER=1' with one fd (sd_notify_barrier)
 *	the rest		the datagram
 *
 * Checks: STATUS= is NUL-terminated and shorter than its buffer; a message
 * with fds attached is dropped; every fd that came with a message is
 * closed, whatever notify_recv() decides (clusterd must never keep one);
 * an oversized message is dropped; notify_recv() agrees with
 * notify_parse() on what it accepts.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "notify.h"

static int pair[2] = { -1, -1 };	/* [0] clusterd's end, [1] the worker's */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int one = 1, big = 1 << 20;

	(void)argc;
	(void)argv;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) == -1)
		abort();
	(void)setsockopt(pair[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	(void)setsockopt(pair[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	(void)setsockopt(pair[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return 0;
}

/* The lowest free fd number: received fds take the lowest ones, so a
 * leaked one shows as a change. */
static int
lowest_free_fd(void)
{
	int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);

	if (fd == -1)
		abort();
	close(fd);
	return fd;
}

static void
check_msg(const struct notify_msg *m)
{
	FUZZ_CHECK(memchr(m->status, '\0', sizeof(m->status)) != NULL,
	    "STATUS not terminated");
	FUZZ_CHECK(m->has_status || m->status[0] == '\0', "STATUS without has_status");
	FUZZ_CHECK(m->extend_usec >= 0, "EXTEND_TIMEOUT_USEC %lld", m->extend_usec);
}

static void
via_socket(const uint8_t *data, size_t size, unsigned mode)
{
	int nfds = mode & 7, fds[8];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(fds)) + CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct iovec iov = { (void *)data, size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	struct notify_msg m, p;
	const char *why = NULL;
	int before, r, parsed;

	if (mode & 16) {
		iov.iov_base = (void *)"BARRIER=1";
		iov.iov_len = size = 9;
		data = (const uint8_t *)"BARRIER=1";
		nfds = 1;
	}
	before = lowest_free_fd();
	memset(&control, 0, sizeof(control));
	if (nfds || (mode & 8)) {
		mh.msg_control = &control;
		mh.msg_controllen = 0;
		c = (struct cmsghdr *)(void *)control.buf;
		if (nfds) {
			for (int i = 0; i < nfds; i++)
				if ((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
					abort();
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
			mh.msg_controllen += CMSG_SPACE(sizeof(int) * nfds);
			c = (struct cmsghdr *)(void *)(control.buf + mh.msg_controllen);
		}
		if (mode & 8) {
			struct ucred cred = { getpid(), getuid(), getgid() };

			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_CREDENTIALS;
			c->cmsg_len = CMSG_LEN(sizeof(cred));
			memcpy(CMSG_DATA(c), &cred, sizeof(cred));
			mh.msg_controllen += CMSG_SPACE(sizeof(cred));
		}
	}
	r = (int)sendmsg(pair[1], &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (r == -1)
		return;		/* too big for the socket: nothing to receive */
	r = notify_recv(pair[0], &m, &why);
	FUZZ_CHECK(lowest_free_fd() == before, "notify_recv kept a descriptor (%d fds sent)",
	    nfds);
	parsed = notify_parse((const char *)data, size, &p);
	if (r == 1) {
		check_msg(&m);
		FUZZ_CHECK(nfds == 0, "accepted a message with %d fds", nfds);
		FUZZ_CHECK(size <= NOTIFY_MAX, "accepted %zu bytes", size);
		FUZZ_CHECK(parsed == 0, "notify_recv accepts what notify_parse refuses");
		FUZZ_CHECK(m.ready == p.ready && m.watchdog == p.watchdog &&
		    m.stopping == p.stopping && m.reloading == p.reloading &&
		    m.has_status == p.has_status && strcmp(m.status, p.status) == 0 &&
		    m.extend_usec == p.extend_usec, "notify_recv and notify_parse differ");
	} else if (r == -1)
		FUZZ_CHECK(why != NULL && *why != '\0', "dropped without a reason");
	else
		FUZZ_CHECK(nfds == 1 && size == 9 && memcmp(data, "BARRIER=1", 9) == 0,
		    "a sent message read as nothing");
	if (nfds == 0 && size <= NOTIFY_MAX && parsed == 0)
		FUZZ_CHECK(r == 1, "dropped a good message: %s", why ? why : "(no reason)");
	/* Nothing may be left in the socket for the next input. */
	FUZZ_CHECK(recv(pair[0], &m, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN,
	    "a datagram left unread");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct notify_msg m;

	if (notify_parse((const char *)data, size, &m) == 0)
		check_msg(&m);
	if (size > 0)
		via_socket(data + 1, size - 1, data[0]);
	return 0;
}

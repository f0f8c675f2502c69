/*
 * Accept-queue figures (queue.h). A listening TCP socket answers TCP_INFO
 * with its queue length in tcpi_unacked and its limit in tcpi_sacked, and
 * counts what a full queue drops in sk_drops (SO_MEMINFO); a UNIX one has
 * no such option, and sock_diag (UDIAG_SHOW_RQLEN) gives the same two
 * figures for it by inode. Accepted connections are the port's TCP
 * sockets with an inode: one still waiting in a queue has none, as no
 * file refers to it yet.
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue.h"

#ifndef SO_MEMINFO
#define SO_MEMINFO	55
#endif

enum { ST_LISTEN = 10 };	/* the kernel's TCP state */

/* One sock_diag request on a fresh socket; the answer's messages go to fn
 * until NLMSG_DONE (or, for a request that is no dump, the first one).
 * fn returns 0 to go on. -1 when the kernel refuses or fails. */
static int
diag(void *req, size_t len, int (*fn)(const struct nlmsghdr *, void *), void *arg)
{
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	struct nlmsghdr *h = req;
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
	int fd, r = -1, dump = (h->nlmsg_flags & NLM_F_DUMP) != 0;

	if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) == -1)
		return -1;
	if (sendto(fd, req, len, 0, (struct sockaddr *)&nl, sizeof(nl)) != (ssize_t)len)
		goto out;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				r = 0;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_ERROR)
				goto out;
			if (fn(h, arg) != 0 || !dump) {
				r = 0;
				goto out;
			}
		}
	}
out:
	close(fd);
	return r;
}

static int
unix_rqlen(const struct nlmsghdr *h, void *arg)
{
	struct queue_stat *q = arg;
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	const struct rtattr *a = (const struct rtattr *)(m + 1);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));

	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == UNIX_DIAG_RQLEN &&
		    RTA_PAYLOAD(a) >= sizeof(struct unix_diag_rqlen)) {
			const struct unix_diag_rqlen *rq = RTA_DATA(a);

			q->depth = (int)rq->udiag_rqueue;
			q->limit = (int)rq->udiag_wqueue;
		}
	return 1;
}

static int
unix_read(int fd, struct queue_stat *q)
{
	struct {
		struct nlmsghdr		h;
		struct unix_diag_req	r;
	} req;
	struct stat st;

	if (fstat(fd, &st) == -1)
		return -1;
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST;
	req.r.sdiag_family = AF_UNIX;
	req.r.udiag_states = 1u << ST_LISTEN;
	req.r.udiag_ino = (unsigned)st.st_ino;
	req.r.udiag_show = UDIAG_SHOW_RQLEN;
	req.r.udiag_cookie[0] = req.r.udiag_cookie[1] = INET_DIAG_NOCOOKIE;
	q->depth = q->limit = -1;
	if (diag(&req, sizeof(req), unix_rqlen, q) == -1 || q->depth < 0)
		return -1;
	return 0;
}

int
queue_read(int fd, struct queue_stat *q)
{
	int family = 0, type = 0, listening = 0;
	socklen_t len = sizeof(int);
	struct tcp_info ti;
	unsigned mem[SK_MEMINFO_VARS];

	q->depth = q->limit = -1;
	q->drops = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) == -1 ||
	    (len = sizeof(int), getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len)) == -1 ||
	    (len = sizeof(int), getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len)) == -1 ||
	    !listening)
		return -1;
	if (family == AF_UNIX)
		return unix_read(fd, q);
	if (type != SOCK_STREAM)
		return -1;
	len = sizeof(ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 || ti.tcpi_state != ST_LISTEN)
		return -1;
	q->depth = (int)ti.tcpi_unacked;
	q->limit = (int)ti.tcpi_sacked;
	len = sizeof(mem);
	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 &&
	    len > SK_MEMINFO_DROPS * sizeof(unsigned))
		q->drops = mem[SK_MEMINFO_DROPS];
	return 0;
}

int
queue_limit(int fd)
{
	struct queue_stat q;

	return queue_read(fd, &q) == 0 ? q.limit : -1;
}

static int
count_accepted(const struct nlmsghdr *h, void *arg)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);

	if (m->idiag_inode != 0)
		++*(int *)arg;
	return 0;
}

int
queue_inflight(int port)
{
	/* A filter on the local port, as ss(8) writes "sport = :PORT":
	 * port >= PORT, then port <= PORT; a failed test jumps past the
	 * end (the length plus 4), which drops the socket. */
	struct {
		struct nlmsghdr		h;
		struct inet_diag_req_v2	r;
		struct rtattr		a;
		struct inet_diag_bc_op	bc[4];
	} req;
	int n = 0;

	for (int i = 0; i < 2; i++) {
		memset(&req, 0, sizeof(req));
		req.h.nlmsg_len = sizeof(req);
		req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
		req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		req.r.sdiag_family = i ? AF_INET6 : AF_INET;
		req.r.sdiag_protocol = IPPROTO_TCP;
		/* Open from the workers' side: not listening, not gone. */
		req.r.idiag_states = ~((1u << ST_LISTEN) | (1u << 6) /* TIME_WAIT */ |
		    (1u << 7) /* CLOSE */ | (1u << 12) /* NEW_SYN_RECV */);
		req.a.rta_type = INET_DIAG_REQ_BYTECODE;
		req.a.rta_len = RTA_LENGTH(sizeof(req.bc));
		req.bc[0] = (struct inet_diag_bc_op){ INET_DIAG_BC_S_GE, 8, 20 };
		req.bc[1] = (struct inet_diag_bc_op){ 0, 0, (unsigned short)port };
		req.bc[2] = (struct inet_diag_bc_op){ INET_DIAG_BC_S_LE, 8, 12 };
		req.bc[3] = (struct inet_diag_bc_op){ 0, 0, (unsigned short)port };
		if (diag(&req, sizeof(req), count_accepted, &n) == -1)
			return -1;
	}
	return n;
}

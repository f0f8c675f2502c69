/*
 * procev.h: a socket on the kernel's process events (the proc connector:
 * netlink, CN_IDX_PROC; root), for the bench tools that time fork, exec
 * and exit by the kernel's own clock. Each tool is one C file that
 * includes this.
 */
#ifndef CLUSTERD_BENCH_PROCEV_H
#define CLUSTERD_BENCH_PROCEV_H

#include <errno.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Subscribed and with a receive buffer of rcvbuf bytes; exits on failure,
 * saying so as `who`. */
static int
proc_connector(const char *who, int rcvbuf)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
	    .nl_groups = CN_IDX_PROC, .nl_pid = getpid() };
	struct {
		struct nlmsghdr nl;
		struct cn_msg cn;
		enum proc_cn_mcast_op op;
	} __attribute__((packed)) msg;
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);

	if (fd == -1 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		fprintf(stderr, "%s: proc connector: %s\n", who, strerror(errno));
		exit(1);
	}
	/* Deep enough for a burst of 1000 forks and execs. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	memset(&msg, 0, sizeof(msg));
	msg.nl.nlmsg_len = sizeof(msg);
	msg.nl.nlmsg_type = NLMSG_DONE;
	msg.nl.nlmsg_pid = getpid();
	msg.cn.id.idx = CN_IDX_PROC;
	msg.cn.id.val = CN_VAL_PROC;
	msg.cn.len = sizeof(enum proc_cn_mcast_op);
	msg.op = PROC_CN_MCAST_LISTEN;
	if (send(fd, &msg, sizeof(msg), 0) == -1) {
		fprintf(stderr, "%s: proc connector listen: %s\n", who, strerror(errno));
		exit(1);
	}
	return fd;
}

#endif

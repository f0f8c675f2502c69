/*
 * Reuseport mode. Each slot has its own SO_REUSEPORT socket, held by
 * clusterd for as long as the slot exists, so a dead worker's queued
 * connections wait for its replacement instead of being reset, and the
 * kernel balances by hash instead of by whoever wakes first.
 *
 * Steering is a classic BPF program (SO_ATTACH_REUSEPORT_CBPF, no
 * privileges needed) that returns an index into the group's socket array.
 * The kernel's order is the order sockets joined (listen() for TCP, bind()
 * for UDP); closing one moves the last into its place. clusterd mirrors
 * that in l->group. The program hashes the source address and port read
 * from the packet (the skb hash may be 0) and picks among the live slots.
 */
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"
#include "steer.h"
#include "strv.h"

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

static void
group_add(struct listener *l, unsigned slot)
{
	l->group = xreallocarray(l->group, l->ngroup + 1, sizeof(*l->group));
	l->group[l->ngroup++] = slot;
}

int
steer_slot_fd(struct listener *l, unsigned slot)
{
	if (slot >= l->nslot_fd) {
		size_t n = slot + 1;

		l->slot_fd = xreallocarray(l->slot_fd, n, sizeof(*l->slot_fd));
		for (size_t i = l->nslot_fd; i < n; i++)
			l->slot_fd[i] = -1;
		l->nslot_fd = n;
	}
	if (l->ngroup == 0) {
		/* Slot 0's is the socket listener_open() made. */
		l->slot_fd[0] = l->fd;
		group_add(l, 0);
	}
	if (l->slot_fd[slot] == -1) {
		if ((l->slot_fd[slot] = listener_open_more(l)) == -1)
			return -1;
		group_add(l, slot);
	}
	return l->slot_fd[slot];
}

void
steer_slot_close(struct listener *l, unsigned slot)
{
	/* Slot 0's socket is the listener's own: it stays while the listener does. */
	if (slot == 0 || slot >= l->nslot_fd || l->slot_fd[slot] == -1)
		return;
	close(l->slot_fd[slot]);
	l->slot_fd[slot] = -1;
	for (size_t i = 0; i < l->ngroup; i++)
		if (l->group[i] == slot) {
			l->group[i] = l->group[--l->ngroup];
			break;
		}
}

int
steer_queue_len(const struct listener *l, unsigned slot)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (slot >= l->nslot_fd || l->slot_fd[slot] == -1 || l->addr.type != SOCK_STREAM ||
	    l->addr.family == AF_UNIX)
		return 0;
	/* On a listening socket, tcpi_unacked is its accept queue's length. */
	if (getsockopt(l->slot_fd[slot], IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return 0;
	return (int)ti.tcpi_unacked;
}

void
steer_update(struct listener *l, const unsigned *live, size_t nlive)
{
	struct sock_filter code[16 + 2 * 4096];
	struct sock_fprog prog = { 0, code };
	unsigned idx[4096];
	size_t n = 0, pc = 0;

	if (l->ngroup == 0)
		return;
	for (size_t i = 0; i < nlive && n < 4000; i++)
		for (size_t j = 0; j < l->ngroup; j++)
			if (l->group[j] == live[i])
				idx[n++] = (unsigned)j;
	if (n == 0) {
		/* Nobody ready: slot 0's socket, which lives as long as the
		 * listener does, holds new connections until a worker is back
		 * (never one that is draining away). */
		unsigned zero = 0;

		for (size_t j = 0; j < l->ngroup; j++)
			if (l->group[j] == 0)
				zero = (unsigned)j;
		code[pc++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, zero);
	} else {
		/* A = version nibble of the IP header */
		code[pc++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, SKF_NET_OFF);
		code[pc++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4);
		code[pc++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 4, 0);
		/* IPv4: source address, then the source port after a 20-byte header */
		code[pc++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 12);
		code[pc++] = (struct sock_filter)BPF_STMT(BPF_MISC | BPF_TAX, 0);
		code[pc++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_ABS, SKF_NET_OFF + 20);
		code[pc++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, 3, 0, 0);
		/* IPv6: the source address's last word, the port after 40 bytes */
		code[pc++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 20);
		code[pc++] = (struct sock_filter)BPF_STMT(BPF_MISC | BPF_TAX, 0);
		code[pc++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_ABS, SKF_NET_OFF + 40);
		/* Fibonacci hashing: ephemeral ports step by 2, so mix before mod. */
		code[pc++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0);
		code[pc++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 0x9e3779b1u);
		code[pc++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16);
		code[pc++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, (unsigned)n);
		for (size_t i = 0; i < n; i++) {
			code[pc++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			    (unsigned)i, 0, 1);
			code[pc++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, idx[i]);
		}
		code[pc++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, idx[0]);
	}
	prog.len = (unsigned short)pc;
	if (setsockopt(l->fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) == -1)
		log_warn("%s: SO_ATTACH_REUSEPORT_CBPF", l->bound);
	else
		log_debug("%s: steering to %zu of %zu sockets", l->bound, n, l->ngroup);
}

void
steer_free(struct listener *l)
{
	for (size_t i = 1; i < l->nslot_fd; i++)
		if (l->slot_fd[i] != -1)
			close(l->slot_fd[i]);
	free(l->slot_fd);
	free(l->group);
	l->slot_fd = NULL;
	l->group = NULL;
	l->nslot_fd = l->ngroup = 0;
}

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
 * from the packet (the skb hash may be 0) and picks among the live slots
 * (steerprog.c, which says how that fits any group in classic BPF's 4096
 * instructions).
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
#include "steerprog.h"
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
	struct sock_filter *code;
	struct sock_fprog prog;
	unsigned char *steer;
	unsigned *pos;
	size_t n = 0, left = 0;

	if (l->ngroup == 0)
		return;
	/* Which of the group's sockets are live slots' (each slot's is). */
	pos = xcalloc(l->nslot_fd, sizeof(*pos));
	for (size_t j = 0; j < l->ngroup; j++)
		pos[l->group[j]] = (unsigned)j;
	steer = xcalloc(l->ngroup, 1);
	for (size_t i = 0; i < nlive; i++)
		if (live[i] < l->nslot_fd && l->slot_fd[live[i]] != -1 &&
		    !steer[pos[live[i]]]) {
			steer[pos[live[i]]] = 1;
			n++;
		}
	code = xcalloc(STEER_PROG_MAX, sizeof(*code));
	prog.filter = code;
	if ((prog.len = (unsigned short)steer_prog(code, steer, l->ngroup)) == 0) {
		/* Nobody ready: slot 0's socket, which lives as long as the
		 * listener does, holds new connections until a worker is back
		 * (never one that is draining away). */
		code[0] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, pos[0]);
		prog.len = 1;
	}
	left = n;
	for (size_t j = 0; j < l->ngroup; j++)
		left -= steer[j];
	if (setsockopt(l->fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) == -1)
		log_warn("%s: SO_ATTACH_REUSEPORT_CBPF", l->bound);
	else {
		log_debug("%s: steering to %zu of %zu sockets (%u instructions)", l->bound,
		    n - left, l->ngroup, prog.len);
		/* Once per spell: at the start of a big pool it is expected. */
		if (left > 0 && l->steer_left == 0)
			log_info("%s: the ready slots are scattered in more runs than "
			    "one steering program holds: %zu of %zu get no new "
			    "connections until more are ready", l->bound, left, n);
		else if (left == 0 && l->steer_left > 0)
			log_info("%s: steering to every ready slot again (%zu)", l->bound, n);
		l->steer_left = left;
	}
	free(code);
	free(steer);
	free(pos);
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
	l->nslot_fd = l->ngroup = l->steer_left = 0;
}

/*
 * The reuseport steering program (§7), on its own: which sockets of a
 * group get new connections in, classic BPF out. No sockets, no state, so
 * t/steer-prog.c can run it for any group.
 */
#ifndef CLUSTERD_STEERPROG_H
#define CLUSTERD_STEERPROG_H

#include <stddef.h>
#include <linux/filter.h>

/* Classic BPF's limit (BPF_MAXINSNS): the kernel refuses a longer program. */
#define STEER_PROG_MAX	4096

/*
 * Write into code (room for STEER_PROG_MAX) a program that spreads new
 * connections evenly over the group's sockets i with steer[i] set, by a
 * hash of the source address and port; returns its length. Its size grows
 * with the number of runs of consecutive steered sockets, not with the
 * group: any group fits while they form at most STEER_RUNS_MAX runs.
 * Beyond that the shortest runs are left out (their steer[i] cleared) so
 * the program fits. Returns 0 when no steer[i] is set.
 */
size_t	steer_prog(struct sock_filter *code, unsigned char *steer, size_t ngroup);

/* Runs that always fit (a leaf of 2 and a node of up to 2 instructions each). */
#define STEER_RUNS_MAX	1000

#endif

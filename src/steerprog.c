/*
 * The steering program. The kernel runs it for each new connection (or
 * datagram) and takes what it returns as an index into the group's socket
 * array. Classic BPF has no tables and no loops, and at most 4096
 * instructions, so a list of the steered indices cannot be in it once
 * there are more than ~2000 of them. But the steered indices, in order,
 * form runs of consecutive ones (all of them a single run when every slot
 * is ready), and h in [0, n) maps onto them as
 *
 *	run r: h in [pos_r, pos_r + len_r) -> start_r + (h - pos_r)
 *
 * which is a binary search over the runs' first positions with an add at
 * each leaf: about 3 instructions a run, whatever the group's size, and
 * every steered socket gets the same share of h.
 *
 * Beyond ~1300 runs (gaps scattered all over a group of thousands, as
 * while a big pool starts and its workers become ready in any order) the
 * shortest runs are left out until the program fits: they get no new
 * connections for a while, but no connection ever goes to a socket whose
 * worker is not ready.
 */
#include <stdint.h>
#include <stdlib.h>

#include "steerprog.h"
#include "strv.h"

/* Conditional jumps reach at most 255 instructions ahead. */
#define JUMP_MAX	255

struct run {
	unsigned	start;		/* first group index */
	unsigned	len;
	unsigned	pos;		/* first h */
};

/* The fixed part, up to A = hash % n. */
static size_t
prog_hash(struct sock_filter *code, unsigned n)
{
	size_t pc = 0;

#define OP(c, k)	code[pc++] = (struct sock_filter)BPF_STMT(c, k)
#define J(c, k, t, f)	code[pc++] = (struct sock_filter)BPF_JUMP(c, k, t, f)
	/* A = version nibble of the IP header */
	OP(BPF_LD | BPF_B | BPF_ABS, SKF_NET_OFF);
	OP(BPF_ALU | BPF_RSH | BPF_K, 4);
	J(BPF_JMP | BPF_JEQ | BPF_K, 6, 4, 0);
	/* IPv4: source address, then the source port after a 20-byte header */
	OP(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 12);
	OP(BPF_MISC | BPF_TAX, 0);
	OP(BPF_LD | BPF_H | BPF_ABS, SKF_NET_OFF + 20);
	J(BPF_JMP | BPF_JA, 3, 0, 0);
	/* IPv6: the source address's last word, the port after 40 bytes */
	OP(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 20);
	OP(BPF_MISC | BPF_TAX, 0);
	OP(BPF_LD | BPF_H | BPF_ABS, SKF_NET_OFF + 40);
	/*
	 * MurmurHash3's finalizer, so that every bit of the result depends
	 * on every bit of address and port: ephemeral ports step by 2, and
	 * the modulo below reads the low bits (a group of 8) as well as all
	 * 32 (a group of 100000, where 16 bits would leave some sockets
	 * twice the share of others).
	 */
	OP(BPF_ALU | BPF_ADD | BPF_X, 0);
	OP(BPF_MISC | BPF_TAX, 0);
	OP(BPF_ALU | BPF_RSH | BPF_K, 16);
	OP(BPF_ALU | BPF_XOR | BPF_X, 0);
	OP(BPF_ALU | BPF_MUL | BPF_K, 0x85ebca6bu);
	OP(BPF_MISC | BPF_TAX, 0);
	OP(BPF_ALU | BPF_RSH | BPF_K, 13);
	OP(BPF_ALU | BPF_XOR | BPF_X, 0);
	OP(BPF_ALU | BPF_MUL | BPF_K, 0xc2b2ae35u);
	OP(BPF_MISC | BPF_TAX, 0);
	OP(BPF_ALU | BPF_RSH | BPF_K, 16);
	OP(BPF_ALU | BPF_XOR | BPF_X, 0);
	OP(BPF_ALU | BPF_MOD | BPF_K, n);
#undef OP
#undef J
	return pc;
}

static size_t
leaf_size(const struct run *r)
{
	return r->start == r->pos ? 1 : 2;
}

/* Instructions for the search over runs [lo, hi). */
static size_t
tree_size(const struct run *r, size_t lo, size_t hi)
{
	size_t mid, left;

	if (hi - lo == 1)
		return leaf_size(&r[lo]);
	mid = lo + (hi - lo) / 2;
	left = tree_size(r, lo, mid);
	return (left > JUMP_MAX ? 2 : 1) + left + tree_size(r, mid, hi);
}

static size_t
tree_emit(struct sock_filter *code, const struct run *r, size_t lo, size_t hi)
{
	size_t pc = 0, mid, left;

	if (hi - lo == 1) {
		if (r[lo].start != r[lo].pos)
			code[pc++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_ADD | BPF_K,
			    r[lo].start - r[lo].pos);
		code[pc++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_A, 0);
		return pc;
	}
	/* h >= pos of the middle run: the right half, else the left */
	mid = lo + (hi - lo) / 2;
	left = tree_size(r, lo, mid);
	if (left <= JUMP_MAX)
		code[pc++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
		    r[mid].pos, (uint8_t)left, 0);
	else {
		code[pc++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
		    r[mid].pos, 0, 1);
		code[pc++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, (unsigned)left, 0, 0);
	}
	pc += tree_emit(code + pc, r, lo, mid);
	pc += tree_emit(code + pc, r, mid, hi);
	return pc;
}

static size_t
runs_find(struct run *r, const unsigned char *steer, size_t ngroup)
{
	size_t nrun = 0;
	unsigned pos = 0;

	for (size_t i = 0; i < ngroup; i++) {
		if (!steer[i])
			continue;
		if (nrun > 0 && r[nrun - 1].start + r[nrun - 1].len == i)
			r[nrun - 1].len++;
		else
			r[nrun++] = (struct run){ (unsigned)i, 1, pos };
		pos++;
	}
	return nrun;
}

static int
run_shorter(const void *a, const void *b)
{
	const struct run *x = *(const struct run *const *)a, *y = *(const struct run *const *)b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Leave out the k shortest runs. */
static void
runs_drop(struct run *r, size_t nrun, size_t k, unsigned char *steer)
{
	struct run **by_len = xcalloc(nrun, sizeof(*by_len));

	for (size_t i = 0; i < nrun; i++)
		by_len[i] = &r[i];
	qsort(by_len, nrun, sizeof(*by_len), run_shorter);
	for (size_t i = 0; i < k && i < nrun - 1; i++)
		for (unsigned j = 0; j < by_len[i]->len; j++)
			steer[by_len[i]->start + j] = 0;
	free(by_len);
}

size_t
steer_prog(struct sock_filter *code, unsigned char *steer, size_t ngroup)
{
	struct run *r = xcalloc(ngroup / 2 + 1, sizeof(*r));
	size_t nrun, n, pc, size;

	for (;;) {
		if ((nrun = runs_find(r, steer, ngroup)) == 0) {
			free(r);
			return 0;
		}
		n = r[nrun - 1].pos + r[nrun - 1].len;
		pc = prog_hash(code, (unsigned)n);
		if ((size = tree_size(r, 0, nrun)) <= STEER_PROG_MAX - pc)
			break;
		/* Each run left out saves about 3: a leaf and a node. */
		runs_drop(r, nrun, (size - (STEER_PROG_MAX - pc) + 2) / 3, steer);
	}
	pc += tree_emit(code + pc, r, 0, nrun);
	free(r);
	return pc;
}

/*
 * The reuseport steering program (src/steerprog.c) for groups of 1 to
 * 100000 sockets with the live ones in any pattern, checked by running it:
 * a small classic BPF interpreter (the opcodes the program uses) feeds it
 * every hash value, then real-looking IPv4 and IPv6 headers. Proves that
 * the kernel takes it (attached to a real SO_REUSEPORT socket), that it
 * returns only steered indices and every one of them as often, that it
 * leaves nothing out while the live sockets form few enough runs and only
 * the shortest runs when not, and that the hash spreads ephemeral ports
 * evenly. Prints the program's size and the time to build and attach it
 * for 1000, 3000 and 10000 sockets with gaps. TAP, run by t/steer-prog.t.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "steerprog.h"

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

static int ntest, nfail;
static struct sock_filter code[STEER_PROG_MAX];

static void ok(int, const char *, ...) __attribute__((format(printf, 2, 3)));

static void
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	nfail += !cond;
}

/*
 * Run code[0..len) on a packet whose network header is pkt (len plen), or,
 * with pkt NULL, from pc with A = a. Returns what it returns, or -1 (and
 * says why) on anything a correct program never does.
 */
static long
run(size_t len, size_t pc, uint32_t a, const uint8_t *pkt, size_t plen)
{
	uint32_t x = 0;

	for (size_t steps = 0; pc < len && steps < 10000; steps++) {
		const struct sock_filter *f = &code[pc++];
		uint32_t k = f->k, off;

		switch (f->code) {
		case BPF_LD | BPF_B | BPF_ABS:
		case BPF_LD | BPF_H | BPF_ABS:
		case BPF_LD | BPF_W | BPF_ABS: {
			size_t size = BPF_SIZE(f->code) == BPF_B ? 1 : BPF_SIZE(f->code) == BPF_H ? 2 : 4;

			off = k - (uint32_t)SKF_NET_OFF;
			if (pkt == NULL || off + size > plen) {
				printf("# pc %zu: load outside the packet\n", pc - 1);
				return -1;
			}
			a = 0;
			for (size_t i = 0; i < size; i++)
				a = a << 8 | pkt[off + i];
			break;
		}
		case BPF_MISC | BPF_TAX: x = a; break;
		case BPF_ALU | BPF_ADD | BPF_K: a += k; break;
		case BPF_ALU | BPF_ADD | BPF_X: a += x; break;
		case BPF_ALU | BPF_MUL | BPF_K: a *= k; break;
		case BPF_ALU | BPF_RSH | BPF_K: a >>= k & 31; break;
		case BPF_ALU | BPF_XOR | BPF_X: a ^= x; break;
		case BPF_ALU | BPF_MOD | BPF_K:
			if (k == 0)
				return -1;
			a %= k;
			break;
		case BPF_JMP | BPF_JA: pc += k; break;
		case BPF_JMP | BPF_JEQ | BPF_K: pc += a == k ? f->jt : f->jf; break;
		case BPF_JMP | BPF_JGE | BPF_K: pc += a >= k ? f->jt : f->jf; break;
		case BPF_RET | BPF_A: return a;
		case BPF_RET | BPF_K: return k;
		default:
			printf("# pc %zu: opcode %#x\n", pc - 1, f->code);
			return -1;
		}
	}
	printf("# ran off the end or looped\n");
	return -1;
}

/* Where the search starts: after A %= n. */
static size_t
tree_start(size_t len, uint32_t *n)
{
	for (size_t pc = 0; pc < len; pc++)
		if (code[pc].code == (BPF_ALU | BPF_MOD | BPF_K)) {
			*n = code[pc].k;
			return pc + 1;
		}
	return len;
}

static int kfd = -1;

/* Does the kernel take it? */
static int
kernel_takes(size_t len)
{
	struct sock_fprog prog = { (unsigned short)len, code };

	if (kfd == -1) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		int one = 1;

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((kfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    setsockopt(kfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1 ||
		    bind(kfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    listen(kfd, 1) == -1) {
			printf("# a reuseport socket: %s\n", strerror(errno));
			return 0;
		}
	}
	if (setsockopt(kfd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) == -1) {
		printf("# SO_ATTACH_REUSEPORT_CBPF: %s\n", strerror(errno));
		return 0;
	}
	return 1;
}

static size_t
count_runs(const unsigned char *s, size_t n)
{
	size_t r = 0;

	for (size_t i = 0; i < n; i++)
		r += s[i] && (i == 0 || !s[i - 1]);
	return r;
}

/*
 * Build for live[0..n) and check it. Returns the program's length (0 on a
 * failure, said).
 */
static size_t
check(const char *what, const unsigned char *live, size_t n)
{
	unsigned char *steer = malloc(n);
	unsigned *hits = calloc(n, sizeof(*hits));
	size_t len, nlive = 0, nsteer = 0, bad = 0, pc, runs = count_runs(live, n);
	uint32_t mod = 0;
	int fine = 1;

	memcpy(steer, live, n);
	for (size_t i = 0; i < n; i++)
		nlive += live[i] != 0;
	len = steer_prog(code, steer, n);
	if (nlive == 0) {
		ok(len == 0, "%s: none live: no program (%zu), the caller's fallback", what, len);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		nsteer += steer[i] != 0;
		if (steer[i] && !live[i])
			fine = 0;
	}
	if (len == 0 || len > STEER_PROG_MAX || !fine || nsteer == 0 ||
	    (runs <= STEER_RUNS_MAX && nsteer != nlive)) {
		ok(0, "%s: %zu instructions, %zu of %zu live steered, in %zu runs", what, len,
		    nsteer, nlive, runs);
		goto out;
	}
	/* Every h in [0, mod) to a steered index, each index once. */
	pc = tree_start(len, &mod);
	if (mod != nsteer) {
		ok(0, "%s: hash %% %u for %zu steered", what, mod, nsteer);
		goto out;
	}
	for (uint32_t h = 0; h < mod; h++) {
		long i = run(len, pc, h, NULL, 0);

		if (i < 0 || (size_t)i >= n || !steer[i] || hits[i]++ > 0)
			bad++;
	}
	ok(bad == 0 && kernel_takes(len), "%s: %zu instructions, the kernel takes it; "
	    "each of the %u hash values to another of the %zu steered sockets (of %zu "
	    "live in %zu runs; %zu wrong)", what, len, mod, nsteer, nlive, runs, bad);
	if (bad)
		len = 0;
	/* Left out only when needed, and only the shortest. */
	if (nsteer < nlive) {
		size_t longest_out = 0, shortest_in = n, r0 = 0;

		for (size_t i = 0; i <= n; i++) {
			if (i < n && live[i] && (i == 0 || !live[i - 1]))
				r0 = i;
			if (i > 0 && live[i - 1] && (i == n || !live[i])) {
				size_t rl = i - r0;

				if (steer[r0]) {
					if (rl < shortest_in)
						shortest_in = rl;
				} else if (rl > longest_out)
					longest_out = rl;
			}
		}
		ok(longest_out <= shortest_in && count_runs(steer, n) > STEER_RUNS_MAX,
		    "%s: %zu runs are more than fit: left out %zu live sockets, in runs "
		    "no longer (%zu) than any kept (%zu); %zu runs kept", what, runs,
		    nlive - nsteer, longest_out, shortest_in, count_runs(steer, n));
	}
out:
	free(steer);
	free(hits);
	return len;
}

static uint64_t rng = 88172645463325252ull;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* live[i] for a group of n: "all", "gap AT", "every K", "random P" ... */
static unsigned char *
pattern(size_t n, const char *kind, double arg)
{
	unsigned char *l = malloc(n);

	for (size_t i = 0; i < n; i++) {
		if (strcmp(kind, "all") == 0)
			l[i] = 1;
		else if (strcmp(kind, "gap") == 0)
			l[i] = i != (size_t)arg;
		else if (strcmp(kind, "every") == 0)	/* every arg-th down */
			l[i] = i % (size_t)arg != 0;
		else if (strcmp(kind, "alternate") == 0)
			l[i] = i % 2 == 0;
		else if (strcmp(kind, "only") == 0)
			l[i] = i == (size_t)arg;
		else					/* random: arg of them down */
			l[i] = rnd() >= arg * 4294967296.0;
	}
	return l;
}

/* Chi-square of counts against an even spread over the steered sockets:
 * how many standard deviations above its mean (k - 1). */
static double
unevenness(const unsigned *c, const unsigned char *steer, size_t n, size_t total)
{
	size_t k = 0;
	double e, chi = 0;

	for (size_t i = 0; i < n; i++)
		k += steer[i] != 0;
	e = (double)total / (double)k;
	for (size_t i = 0; i < n; i++)
		if (steer[i])
			chi += ((double)c[i] - e) * ((double)c[i] - e) / e;
	return (chi - (double)(k - 1)) / sqrt(2.0 * (double)(k - 1));
}

/* Whole program on packets from one address, every ephemeral port (Linux
 * hands out every second one to connect()). */
static void
check_packets(const char *what, size_t n, const unsigned char *live, int v6, int step)
{
	unsigned char *steer = malloc(n);
	unsigned *c = calloc(n, sizeof(*c));
	uint8_t pkt[60] = { 0 };
	size_t len, total = 0, bad = 0;
	double z;

	memcpy(steer, live, n);
	len = steer_prog(code, steer, n);
	pkt[0] = v6 ? 0x60 : 0x45;
	if (v6) {
		pkt[23] = 1;			/* ::1 */
	} else {
		pkt[12] = 127;			/* 127.0.0.1 */
		pkt[15] = 1;
	}
	for (unsigned port = 32768; port < 61000; port += step) {
		size_t tcp = v6 ? 40 : 20;
		long i;

		pkt[tcp] = port >> 8;
		pkt[tcp + 1] = port & 0xff;
		i = run(len, 0, 0, pkt, sizeof(pkt));
		if (i < 0 || (size_t)i >= n || !steer[i])
			bad++;
		else
			c[i]++;
		total++;
	}
	z = unevenness(c, steer, n, total);
	if (n <= 16) {
		unsigned lo = ~0u, hi = 0;

		for (size_t i = 0; i < n; i++)
			if (steer[i]) {
				lo = c[i] < lo ? c[i] : lo;
				hi = c[i] > hi ? c[i] : hi;
			}
		printf("# %s: busiest/idlest %.3f\n", what, lo ? (double)hi / lo : 0);
	}
	/* A fair hash: within 4 standard deviations of a random spread. */
	ok(bad == 0 && z < 4, "%s: %zu packets (ports 32768-60999 by %d) to steered "
	    "sockets only (%zu not), spread as evenly as chance (chi-square %+.2f sd)",
	    what, total, step, bad, z);
	free(steer);
	free(c);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Size and time to build, and to attach, for a group of n. */
static void
measure(size_t n, const char *label, const char *kind, double arg)
{
	unsigned char *live = pattern(n, kind, arg), *steer = malloc(n);
	size_t len = 0, out = 0;
	double t0, tb = 1e9, ta = 1e9;

	/* The best of 20: the machine may be busy with other things. */
	for (int r = 0; r < 20; r++) {
		memcpy(steer, live, n);
		t0 = now();
		len = steer_prog(code, steer, n);
		tb = fmin(tb, now() - t0);
		t0 = now();
		kernel_takes(len);
		ta = fmin(ta, now() - t0);
	}
	for (size_t i = 0; i < n; i++)
		out += live[i] && !steer[i];
	printf("# %6zu sockets, %-15s %5zu runs: %4zu instructions, %5zu live left out; "
	    "build %5.0f us, attach %4.0f us\n", n, label, count_runs(live, n), len, out,
	    tb * 1e6, ta * 1e6);
	free(live);
	free(steer);
}

int
main(void)
{
	static const size_t sizes[] = { 1, 2, 3, 8, 100, 2000, 2100, 3000, 10000, 100000 };
	char what[96];
	unsigned char *l;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];

		snprintf(what, sizeof(what), "%zu sockets, all live", n);
		l = pattern(n, "all", 0);
		ok(check(what, l, n) == 24, "%s: the fixed part and one return: 24", what);
		free(l);
		snprintf(what, sizeof(what), "%zu sockets, only the last live", n);
		check(what, l = pattern(n, "only", (double)(n - 1)), n);
		free(l);
		if (n < 3)
			continue;
		snprintf(what, sizeof(what), "%zu sockets, the first down", n);
		check(what, l = pattern(n, "gap", 0), n);
		free(l);
		snprintf(what, sizeof(what), "%zu sockets, the middle one down", n);
		check(what, l = pattern(n, "gap", (double)(n / 2)), n);
		free(l);
		snprintf(what, sizeof(what), "%zu sockets, every 3rd down", n);
		check(what, l = pattern(n, "every", 3), n);
		free(l);
		snprintf(what, sizeof(what), "%zu sockets, every 2nd down", n);
		check(what, l = pattern(n, "alternate", 0), n);
		free(l);
		for (int k = 0; k < 3; k++) {
			static const double p[] = { 0.01, 0.3, 0.5 };

			snprintf(what, sizeof(what), "%zu sockets, %.0f%% down at random", n,
			    p[k] * 100);
			check(what, l = pattern(n, "random", p[k]), n);
			free(l);
		}
	}
	/* The most runs that fit, and one more. */
	for (size_t n = 2 * STEER_RUNS_MAX - 1; n <= 2 * STEER_RUNS_MAX + 1; n += 2) {
		snprintf(what, sizeof(what), "%zu sockets, every 2nd down (%zu runs)", n,
		    (n + 1) / 2);
		check(what, l = pattern(n, "alternate", 0), n);
		free(l);
	}

	for (int v6 = 0; v6 <= 1; v6++)
		for (int step = 1; step <= 2; step++) {
			static const size_t pn[] = { 2, 8, 9, 64, 3000, 10000 };

			for (size_t s = 0; s < sizeof(pn) / sizeof(pn[0]); s++) {
				size_t n = pn[s];

				snprintf(what, sizeof(what), "IPv%d, %zu sockets, all live",
				    v6 ? 6 : 4, n);
				check_packets(what, n, l = pattern(n, "all", 0), v6, step);
				free(l);
				if (n < 64)
					continue;
				snprintf(what, sizeof(what), "IPv%d, %zu sockets, 30%% down",
				    v6 ? 6 : 4, n);
				check_packets(what, n, l = pattern(n, "random", 0.3), v6, step);
				free(l);
			}
		}

	printf("# program size and time to build and attach it:\n");
	for (size_t m = 0; m < 3; m++) {
		size_t n = m == 0 ? 1000 : m == 1 ? 3000 : 10000;

		measure(n, "all live", "all", 0);
		measure(n, "every 10th down", "every", 10);
		measure(n, "1% down", "random", 0.01);
		measure(n, "10% down", "random", 0.1);
		measure(n, "50% down", "random", 0.5);
		measure(n, "every 2nd down", "alternate", 0);
	}
	measure(100000, "10% down", "random", 0.1);
	measure(100000, "50% down", "random", 0.5);
	if (kfd != -1)
		close(kfd);
	printf("1..%d\n", ntest);
	return nfail != 0;
}

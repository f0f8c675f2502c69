/*
 * The config keys, one row each: its name, the type of its value, where
 * that is kept, its bounds, its default, and what a change of it does on
 * reload. A new key is a row here and a paragraph in clusterd.conf(5)
 * (t/config-table.t holds the two together); the parser (config.c),
 * --check (check.c) and the reload diff (config_diff, here) read the rows.
 *
 * Effects, as reload has always applied them: WORKERS for what a running
 * worker was started with and cannot change (its command, environment,
 * credentials, limits, readiness protocol), LIVE for what clusterd reads
 * when it next acts (timeouts, backoff, policies) and for what new workers
 * pick up (log_prefix, bind_shim, ready_timeout) or what clusterd's next
 * line shows (log_format), CLUSTERD for what only
 * start-up reads. A socket's address and identity are WORKERS: a new
 * socket reaches workers through a rolling restart (gen.c binds it); its
 * tuning (backlog, buffers, TCP options) is made on the open socket, LIVE.
 * The metrics endpoint is clusterd's own, not the workers': a new address
 * is bound by the reload itself (metricsrv.c), LIVE.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "confparse.h"
#include "confkeys.h"
#include "log.h"

#define MAX_WORKERS	100000

#define C(f)	offsetof(struct config, f)
#define P(f)	offsetof(struct program_cfg, f)
#define S(f)	offsetof(struct sock_cfg, f)

#define LIVE		EFFECT_LIVE
#define WORKERS		EFFECT_WORKERS
#define CLUSTERD	EFFECT_CLUSTERD

/* K_ENUM stores an enum through an int. */
_Static_assert(sizeof(enum restart_policy) == sizeof(int), "enum size");
_Static_assert(sizeof(enum restart_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum log_format) == sizeof(int), "enum size");

static const struct kname restart_names[] = {
	{ "always", RESTART_ALWAYS }, { "on-failure", RESTART_ON_FAILURE },
	{ "never", RESTART_NEVER }, { NULL, 0 },
};
static const struct kname restart_mode_names[] = {
	{ "surge", RESTART_SURGE }, { "replace", RESTART_REPLACE }, { NULL, 0 },
};
static const struct kname cgroups_names[] = {
	{ "auto", CGROUPS_AUTO }, { "yes", CGROUPS_YES }, { "no", CGROUPS_NO }, { NULL, 0 },
};
static const struct kname log_format_names[] = {
	{ "text", LOG_FMT_TEXT }, { "json", LOG_FMT_JSON }, { NULL, 0 },
};
static const struct kname affinity_names[] = {
	{ "auto", 1 }, { "none", 0 }, { "no", 0 }, { NULL, 0 },
};

const struct key clusterd_keys[] = {
	{ "workers",	K_WORKERS,	C(workers),	LIVE,	.def = NULL,	.max = MAX_WORKERS },
	{ "name",	K_STRING,	C(name),	CLUSTERD, .def = NULL },
	{ "control",	K_STRING,	C(control),	CLUSTERD, .def = NULL },
	{ "metrics",	K_ADDR,		C(metrics),	LIVE,	.def = NULL },
	{ "pidfile",	K_STRING,	C(pidfile),	CLUSTERD, .def = NULL },
	{ "stop_timeout", K_DURATION,	C(stop_timeout), LIVE,	.def = "8s" },
	{ "give_up_after", K_INT,	C(give_up_after), LIVE,	.def = "0",	.max = 1000000 },
	{ "subreaper",	K_BOOL,		C(subreaper),	CLUSTERD, .def = "no" },
	{ "log_prefix",	K_BOOL,		C(log_prefix),	LIVE,	.def = "no" },
	{ "bind_shim",	K_BOOL,		C(bind_shim),	LIVE,	.def = "no" },
	{ "compat",	K_COMPAT,	C(compat),	WORKERS, .def = "none" },
	{ "restart_batch", K_INT,	C(restart_batch), LIVE,	.def = "1",	.min = 1,
	    .max = MAX_WORKERS },
	{ "cgroups",	K_ENUM,		C(cgroups),	CLUSTERD, .def = "auto",
	    .names = cgroups_names, .hint = "auto, yes or no" },
	{ "recycle_batch", K_INT,	C(recycle_batch), LIVE,	.def = "1",	.min = 1,
	    .max = MAX_WORKERS },
	{ "scale_queue", K_INT,	C(scale_queue),	LIVE,	.def = "2",	.min = 0,
	    .max = 1000000 },
	{ "scale_window", K_DURATION,	C(scale_window), LIVE,	.def = "1s" },
	{ "scale_down_after", K_DURATION, C(scale_down_after), LIVE, .def = "30s" },
	{ "scale_cooldown", K_DURATION,	C(scale_cooldown), LIVE, .def = "30s" },
	{ "hang_timeout", K_DURATION,	C(hang_timeout), LIVE,	.def = "0",	.flags = KF_OFF_ZERO },
	{ "max_age",	K_DURATION,	C(max_age),	LIVE,	.def = "0",	.flags = KF_OFF_ZERO },
	{ "max_age_jitter", K_INT,	C(max_age_jitter), LIVE, .def = "10%",	.min = 0,
	    .max = 100, .flags = KF_PERCENT },
	{ "log_format",	K_ENUM,		C(log_format),	LIVE,	.def = "text",
	    .names = log_format_names, .hint = "text or json" },
};

/* listen first: merge.c looks for it there. */
const struct key socket_keys[] = {
	{ "listen",	K_LISTEN,	S(listen),	WORKERS, .def = NULL },
	{ "backlog",	K_INT,		S(backlog),	LIVE,	.def = NULL,	.min = 1,
	    .max = 0x7fffffff },
	{ "reuseport",	K_BOOL,		S(reuseport),	WORKERS, .def = NULL,	.flags = KF_ON_OFF },
	{ "mode",	K_OCTAL,	S(mode),	WORKERS, .def = NULL,	.max = 07777 },
	{ "owner",	K_STRING,	S(owner),	WORKERS, .def = NULL },
	{ "group",	K_STRING,	S(group),	WORKERS, .def = NULL },
	{ "ipv6only",	K_BOOL,		S(ipv6only),	WORKERS, .def = NULL },
	{ "freebind",	K_BOOL,		S(freebind),	WORKERS, .def = NULL },
	{ "nodelay",	K_BOOL,		S(nodelay),	LIVE,	.def = NULL },
	{ "defer_accept", K_DURATION,	S(defer_accept), LIVE,	.def = NULL },
	{ "keepalive",	K_BOOL,		S(keepalive),	LIVE,	.def = NULL },
	{ "rcvbuf",	K_SIZE,		S(rcvbuf),	LIVE,	.def = NULL },
	{ "sndbuf",	K_SIZE,		S(sndbuf),	LIVE,	.def = NULL },
	{ "transparent", K_BOOL,	S(transparent),	WORKERS, .def = NULL },
};

const struct key program_keys[] = {
	{ "command",	K_COMMAND,	P(command),	WORKERS, .def = NULL },
	{ "directory",	K_STRING,	P(directory),	WORKERS, .def = NULL },
	{ "user",	K_STRING,	P(user),	WORKERS, .def = NULL },
	{ "group",	K_STRING,	P(group),	WORKERS, .def = NULL },
	{ "umask",	K_OCTAL,	P(umask),	WORKERS, .def = NULL,	.max = 0777 },
	{ "rlimit_nofile", K_LONG,	P(rlimit_nofile), WORKERS, .def = NULL, .min = 1,
	    .max = 0x7fffffff },
	{ "ready",	K_READY,	P(ready),	WORKERS, .def = "exec" },
	{ "ready_timeout", K_DURATION,	P(ready_timeout), LIVE,	.def = "30s" },
	{ "restart",	K_ENUM,		P(restart),	LIVE,	.def = "always",
	    .names = restart_names, .hint = "always, on-failure or never" },
	{ "backoff_initial", K_DURATION, P(backoff_initial), LIVE, .def = "100ms" },
	{ "backoff_max", K_DURATION,	P(backoff_max),	LIVE,	.def = "30s" },
	{ "stable_after", K_DURATION,	P(stable_after), LIVE,	.def = "10s" },
	{ "stop_signal", K_SIGNAL,	P(stop_signal),	LIVE,	.def = "TERM" },
	{ "parent_death_signal", K_SIGNAL, P(parent_death_signal), WORKERS, .def = "TERM" },
	{ "cpu_affinity", K_ENUM,	P(cpu_affinity), WORKERS, .def = "none",
	    .names = affinity_names, .hint = "auto or none" },
	{ "watchdog",	K_DURATION,	P(watchdog),	WORKERS, .def = "0",	.flags = KF_OFF_ZERO },
	{ "restart_mode", K_ENUM,	P(restart_mode), LIVE,	.def = "surge",
	    .names = restart_mode_names, .hint = "surge or replace" },
	{ "memory_max",	K_BYTES,	P(memory_max),	WORKERS, .def = NULL },
	{ "memory_high", K_BYTES,	P(memory_high),	WORKERS, .def = NULL },
	{ "pids_max",	K_INT,		P(pids_max),	WORKERS, .def = NULL,	.min = 1,
	    .max = 0x7fffffff },
	{ "cpu_weight",	K_INT,		P(cpu_weight),	WORKERS, .def = NULL,	.min = 1,
	    .max = 10000 },
	{ "cpu_max",	K_INT,		P(cpu_max),	WORKERS, .def = NULL,	.min = 1,
	    .max = 100000, .flags = KF_PERCENT },
};

#define NKEYS(t)	(sizeof(t) / sizeof((t)[0]))

const size_t nclusterd_keys = NKEYS(clusterd_keys);
const size_t nsocket_keys = NKEYS(socket_keys);
const size_t nprogram_keys = NKEYS(program_keys);

void
key_free(const struct key *k, void *base)
{
	char *field = (char *)base + k->off;

	switch (k->type) {
	case K_STRING:
	case K_LISTEN:
	case K_ADDR:
	case K_COMMAND:
		free(*(char **)field);
		*(char **)field = NULL;
		break;
	default:
		break;
	}
	if (k->type == K_COMMAND)
		strv_free(&((struct program_cfg *)base)->argv);
}

static int
strv_equal(const struct strv *a, const struct strv *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

static int
key_equal(const struct key *k, const void *a, const void *b)
{
	const char *x = (const char *)a + k->off, *y = (const char *)b + k->off;

	switch (k->type) {
	case K_WORKERS:
		return *(const int *)x == *(const int *)y &&
		    ((const int *)x)[1] == ((const int *)y)[1];
	case K_INT:
	case K_BOOL:
	case K_SIGNAL:
	case K_OCTAL:
	case K_SIZE:
	case K_ENUM:
		if (k->flags & KF_ON_OFF)
			return (*(const int *)x > 0) == (*(const int *)y > 0);
		return *(const int *)x == *(const int *)y;
	case K_LONG:
		return *(const long *)x == *(const long *)y;
	case K_BYTES:
		return *(const long long *)x == *(const long long *)y;
	case K_COMPAT:
		return *(const unsigned *)x == *(const unsigned *)y;
	case K_DURATION:
		return *(const double *)x == *(const double *)y;
	case K_STRING:
	case K_LISTEN:
	case K_ADDR:
		return str_equal(*(char *const *)x, *(char *const *)y);
	case K_COMMAND:
		/* The words the worker gets, however they were quoted. */
		return strv_equal(&((const struct program_cfg *)a)->argv,
		    &((const struct program_cfg *)b)->argv);
	case K_READY: {
		const struct program_cfg *p = a, *q = b;

		/* A delay left from the file under --ready=exec means nothing. */
		return p->ready == q->ready &&
		    (p->ready != READY_DELAY || p->ready_delay == q->ready_delay);
	}
	}
	return 1;
}

struct diff {
	void		(*fn)(const char *, enum key_effect, void *);
	void		*arg;
	enum key_effect	 max;
};

/* key of socket sock, or the socket itself when key is NULL, or key
 * outside of sockets when sock is NULL. */
static void
differs(struct diff *d, enum key_effect e, const char *sock, const char *key)
{
	if (d->fn) {
		char *name = sock == NULL ? NULL : key == NULL ?
		    xasprintf("socket:%s", sock) : xasprintf("socket:%s %s", sock, key);

		d->fn(name ? name : key, e, d->arg);
		free(name);
	}
	if (e > d->max)
		d->max = e;
}

static void
diff_keys(struct diff *d, const struct key *keys, size_t n, const void *a,
    const void *b, const char *sock)
{
	for (size_t i = 0; i < n; i++)
		if (!key_equal(&keys[i], a, b))
			differs(d, keys[i].effect, sock, keys[i].name);
}

/* Sockets go by name; one at another index changes the workers' fd
 * numbers, as one added or removed does. */
static void
diff_sockets(struct diff *d, const struct config *a, const struct config *b)
{
	for (size_t i = 0; i < b->nsocks; i++) {
		const struct sock_cfg *sc = &b->socks[i];

		if (i < a->nsocks && strcmp(a->socks[i].name, sc->name) == 0)
			diff_keys(d, socket_keys, nsocket_keys, &a->socks[i], sc, sc->name);
		else
			differs(d, EFFECT_WORKERS, sc->name, NULL);
	}
	for (size_t i = 0; i < a->nsocks; i++) {
		const char *name = a->socks[i].name;

		if (!(i < b->nsocks && strcmp(b->socks[i].name, name) == 0) &&
		    sock_find(b, name) < 0)
			differs(d, EFFECT_WORKERS, name, NULL);
	}
}

enum key_effect
config_diff(const struct config *old, const struct config *new,
    void (*fn)(const char *key, enum key_effect, void *arg), void *arg)
{
	struct diff d = { fn, arg, EFFECT_NONE };

	diff_keys(&d, clusterd_keys, nclusterd_keys, old, new, NULL);
	diff_sockets(&d, old, new);
	diff_keys(&d, program_keys, nprogram_keys, &old->prog, &new->prog, NULL);
	/* Order counts: of two settings of a variable, the later wins. */
	if (!strv_equal(&old->env, &new->env))
		differs(&d, EFFECT_WORKERS, NULL, "env");
	return d.max;
}

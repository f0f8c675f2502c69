/*
 * What a worker is started with: its argv and environment, with the
 * placeholders expanded and the protocols' variables (LISTEN_*,
 * NOTIFY_SOCKET, WATCHDOG_*, CLUSTERD_*, compat) set. Nothing here has a
 * side effect beyond the memory it returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gen.h"
#include "spawn.h"
#include "strv.h"
#include "util.h"
#include "workerenv.h"

/* Expand {worker}, {workers}, {generation}, {fd:NAME}, {port:NAME}, {{. */
static char *
expand(const struct workerenv *we, const char *s)
{
	const struct gen *g = we->gen;
	size_t cap = strlen(s) + 64, n = 0;
	char *out = xmalloc(cap);

	while (*s) {
		char val[32];
		const char *add, *end;

		if (s[0] == '{' && s[1] == '{') {
			add = "{";
			s += 2;
		} else if (s[0] == '{' && (end = strchr(s, '}')) != NULL) {
			size_t len = (size_t)(end - s - 1);
			const char *name = s + 1;

			val[0] = '\0';
			if (len == 6 && strncmp(name, "worker", 6) == 0)
				snprintf(val, sizeof(val), "%u", we->id);
			else if (len == 7 && strncmp(name, "workers", 7) == 0)
				snprintf(val, sizeof(val), "%zu", we->nworkers);
			else if (len == 10 && strncmp(name, "generation", 10) == 0)
				snprintf(val, sizeof(val), "%u", g->number);
			else {
				int fd = strncmp(name, "fd:", 3) == 0;
				const char *sname = name + (fd ? 3 : 5);
				size_t slen = len - (fd ? 3 : 5);

				/* config.c checked every name: one of these matches. */
				for (size_t i = 0; i < g->nlst; i++) {
					const char *ln = g->cfg->socks[i].name;

					if (strlen(ln) == slen && strncmp(ln, sname, slen) == 0)
						snprintf(val, sizeof(val), "%d",
						    fd ? 3 + (int)i : g->lst[i]->port);
				}
			}
			add = val;
			s = end + 1;
		} else {
			val[0] = *s++;
			val[1] = '\0';
			add = val;
		}
		size_t alen = strlen(add);

		if (n + alen + 1 > cap) {
			cap = (n + alen + 1) * 2;
			out = xreallocarray(out, cap, 1);
		}
		memcpy(out + n, add, alen);
		n += alen;
	}
	out[n] = '\0';
	return out;
}

static char *
pid_slot(struct strv *env, const char *prefix)
{
	char *p = xcalloc(1, strlen(prefix) + 1 + LISTEN_PID_ROOM);

	strcpy(p, prefix);
	strv_push(env, p);	/* the number is the child's to add: it alone knows its pid */
	return p;
}

/* The variables einhorn and Server::Starter give their workers, so apps
 * written for them move over unchanged. */
static void
compat_env(const struct gen *g, struct strv *env)
{
	if (g->cfg->compat & COMPAT_EINHORN) {
		strv_env_unset_prefix(env, "EINHORN_FD_");
		strv_push(env, xasprintf("EINHORN_FD_COUNT=%zu", g->nlst));
		for (size_t i = 0; i < g->nlst; i++)
			strv_push(env, xasprintf("EINHORN_FD_%zu=%zu", i, 3 + i));
	}
	if (g->cfg->compat & COMPAT_SERVER_STARTER) {
		struct sbuf b = { 0 };

		for (size_t i = 0; i < g->nlst; i++) {
			const struct listener *l = g->lst[i];
			const char *addr = l->bound;

			if (strncmp(addr, "udp:", 4) == 0)
				addr += 4;
			if (l->addr.family == AF_UNIX)
				addr += 5;	/* "unix:" */
			else if (l->addr.dualstack || strncmp(addr, "0.0.0.0:", 8) == 0 ||
			    strncmp(addr, "[::]:", 5) == 0)
				addr = strrchr(addr, ':') + 1;	/* a wildcard: the port alone */
			sbuf_printf(&b, "%s%s=%zu", i ? ";" : "", addr, 3 + i);
		}
		strv_env_set(env, xasprintf("SERVER_STARTER_PORT=%s", b.s ? b.s : ""));
		sbuf_free(&b);
	}
}

void
workerenv_argv(const struct workerenv *we, struct strv *argv)
{
	const struct strv *v = &we->gen->cfg->prog.argv;

	for (size_t k = 0; k < v->n; k++)
		strv_push(argv, expand(we, v->v[k]));
}

void
workerenv_env(const struct workerenv *we, struct spawn *sp, struct strv *env)
{
	const struct gen *g = we->gen;
	const struct config *cfg = g->cfg;

	strv_copy(env, we->base);
	for (size_t i = 0; i < cfg->env.n; i++)
		strv_env_set(env, expand(we, cfg->env.v[i]));
	/* The protocols' names are clusterd's to set, whatever [env] says. */
	strv_env_unset_prefix(env, "LISTEN_");
	strv_env_unset_prefix(env, "WATCHDOG_");
	strv_env_set(env, xasprintf("CLUSTERD_WORKER_ID=%u", we->id));
	strv_env_set(env, xasprintf("CLUSTERD_WORKERS=%zu", we->nworkers));
	strv_env_set(env, xasprintf("CLUSTERD_GENERATION=%u", g->number));
	if (cfg->bind_shim) {
		int i = strv_env_find(env, "LD_PRELOAD", 10);

		/* Ours first; whatever the user preloads still loads after it. */
		strv_env_set(env, i < 0 ? xasprintf("LD_PRELOAD=%s", config_shim_path()) :
		    xasprintf("LD_PRELOAD=%s %s", config_shim_path(), env->v[i] + 11));
	}
	if (we->notify_path)
		strv_env_set(env, xasprintf("NOTIFY_SOCKET=%s", we->notify_path));
	else
		strv_env_unset_prefix(env, "NOTIFY_SOCKET=");
	if (cfg->prog.watchdog > 0) {
		strv_push(env, xasprintf("WATCHDOG_USEC=%lld",
		    (long long)(cfg->prog.watchdog * 1e6)));
		sp->watchdog_pid = pid_slot(env, "WATCHDOG_PID=");
	}
	if (g->nlst == 0)
		return;

	size_t namelen = 0;

	for (size_t i = 0; i < g->nlst; i++)
		namelen += strlen(cfg->socks[i].name) + 1;

	char *names = xmalloc(namelen + sizeof("LISTEN_FDNAMES="));
	char *p = stpcpy(names, "LISTEN_FDNAMES=");

	for (size_t i = 0; i < g->nlst; i++) {
		if (i)
			*p++ = ':';
		p = stpcpy(p, cfg->socks[i].name);
	}
	strv_push(env, xasprintf("LISTEN_FDS=%zu", g->nlst));
	strv_push(env, names);
	if (cfg->compat)
		compat_env(g, env);
	sp->listen_pid = pid_slot(env, "LISTEN_PID=");
	pid_slot(env, "LISTEN_PIDFDID=");	/* last: the child may cut it off */
	sp->pidfd_id = &env->v[env->n - 1];
}

char **
workerenv_sh_argv(const struct strv *argv, const char *path)
{
	char **v = xcalloc(argv->n + 2, sizeof(*v));

	v[0] = "/bin/sh";
	v[1] = (char *)path;
	for (size_t i = 1; i < argv->n; i++)
		v[i + 1] = argv->v[i];
	return v;
}

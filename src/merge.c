/*
 * The command line laid over the file (options win), the defaults that
 * depend on both (the seed's :${PORT:-3000}, sockets from a service
 * manager, the worker count), and the checks that need the whole config.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confparse.h"
#include "merge.h"
#include "confkeys.h"
#include "cpus.h"
#include "ctlpath.h"
#include "inherit.h"
#include "listen.h"
#include "log.h"

/* Check {placeholders} now, so a typo is a config error, not a crash loop. */
static void
check_placeholders(struct parse *ps, int line, const char *what, const char *s)
{
	const struct config *cfg = ps->cfg;

	for (const char *p = s; (p = strchr(p, '{')) != NULL; ) {
		const char *end;
		char name[128];
		size_t n;

		if (p[1] == '{') {
			p += 2;
			continue;
		}
		if ((end = strchr(p, '}')) == NULL) {
			perr(ps, line, "%s: unterminated { in \"%s\" (write {{ for a literal {)",
			    what, s);
			return;
		}
		n = (size_t)(end - p - 1);
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, p + 1, n);
		name[n] = '\0';
		p = end + 1;
		if (strcmp(name, "worker") == 0 || strcmp(name, "workers") == 0 ||
		    strcmp(name, "generation") == 0)
			continue;
		if (strncmp(name, "fd:", 3) == 0 || strncmp(name, "port:", 5) == 0) {
			const char *sname = strchr(name, ':') + 1;
			ssize_t i = sock_find(cfg, sname);

			if (i < 0)
				perr(ps, line, "%s: {%s} names no socket", what, name);
			else if (name[0] == 'p' && cfg->socks[i].addr.family == AF_UNIX)
				perr(ps, line, "%s: {%s}: socket %s has no port", what, name,
				    sname);
			continue;
		}
		perr(ps, line, "%s: unknown placeholder {%s} (worker, workers, "
		    "generation, fd:NAME, port:NAME)", what, name);
	}
}

void
merge_cli(struct parse *ps, const struct cli *cli)
{
	struct config *cfg = ps->cfg;
	char err[256];

	ps->file = NULL;
	if (cli->workers >= 0) {
		cfg->workers = cli->workers;
		cfg->workers_max = cli->workers_max;
	}
	if (cli->stop_timeout >= 0)
		cfg->stop_timeout = cli->stop_timeout;
	if (cli->control) {
		free(cfg->control);
		cfg->control = xstrdup(cli->control);
	}
	if (cli->subreaper)
		cfg->subreaper = 1;
	if (cli->bind_shim)
		cfg->bind_shim = 1;
	if (cli->cgroups >= 0)
		cfg->cgroups = cli->cgroups;
	if (cli->log_format >= 0)
		cfg->log_format = cli->log_format;
	if (cli->ready) {
		ps->line = 0;
		set_ready(ps, &cfg->prog, cli->ready);
	}
	if (cli->directory) {
		free(cfg->prog.directory);
		cfg->prog.directory = xstrdup(cli->directory);
	}
	if (cli->user) {
		char *colon = strchr(cli->user, ':');

		/* As the file's "user =" and "group =", which cannot be empty. */
		if (cli->user[0] == ':' || cli->user[0] == '\0' || (colon && colon[1] == '\0'))
			perr(ps, 0, "-u: empty %s name in \"%s\" (USER or USER:GROUP)",
			    cli->user[0] == ':' || cli->user[0] == '\0' ? "user" : "group",
			    cli->user);
		free(cfg->prog.user);
		cfg->prog.user = colon ? strndup(cli->user, colon - cli->user) :
		    xstrdup(cli->user);
		if (colon) {
			free(cfg->prog.group);
			cfg->prog.group = xstrdup(colon + 1);
		}
	}
	for (size_t i = 0; i < cli->env.n; i++)
		strv_env_set(&cfg->env, xstrdup(cli->env.v[i]));

	for (size_t i = 0; i < cli->listen.n; i++) {
		const char *spec = cli->listen.v[i], *eq = strchr(spec, '=');
		struct sock_cfg *sc;
		char *name = NULL;
		ssize_t at;

		if (strcmp(spec, "none") == 0)
			continue;
		if (eq && eq > spec && spec[0] != '/' && spec[0] != '.') {
			name = strndup(spec, eq - spec);
			if (!valid_name(name)) {
				free(name);
				name = NULL;
			} else
				spec = eq + 1;
		}
		if (name && (at = sock_find(cfg, name)) >= 0)
			sc = &cfg->socks[at];
		else {
			char auto_name[32];

			if (name == NULL)
				snprintf(auto_name, sizeof(auto_name), "listen%zu", cfg->nsocks);
			sc = sock_add(cfg, name ? name : auto_name, "-l", 0);
		}
		free(name);
		if (addr_parse(spec, &sc->addr, err, sizeof(err)) == -1) {
			perr(ps, 0, "-l %s: %s", cli->listen.v[i], err);
			continue;
		}
		free(sc->listen);
		sc->listen = xstrdup(spec);
	}
	if (cli->argv.n > 0) {
		struct strv words = { 0 };

		strv_free(&cfg->prog.argv);
		for (size_t i = 0; i < cli->argv.n; i++)
			strv_push(&words, quote_word(cli->argv.v[i]));
		free(cfg->prog.command);
		cfg->prog.command = NULL;
		for (size_t i = 0; i < words.n; i++) {
			char *c = cfg->prog.command ?
			    xasprintf("%s %s", cfg->prog.command, words.v[i]) :
			    xstrdup(words.v[i]);

			free(cfg->prog.command);
			cfg->prog.command = c;
		}
		strv_free(&words);
		strv_copy(&cfg->prog.argv, &cli->argv);
		ps->command_line = 0;
	}
}

/* The k-th socket the manager passed, leaving clusterd's stored ones out. */
static struct inherited *
passed(size_t k)
{
	for (size_t i = 0; i < inherit_count(); i++)
		if (!inherit_get(i)->stored && k-- == 0)
			return inherit_get(i);
	return NULL;
}

/*
 * Sockets a service manager gave clusterd: with none configured, each one
 * is a socket; otherwise each configured one takes its namesake (or, with
 * no names given, the one in its position), which must match its address.
 */
static void
adopt_inherited(struct parse *ps, int none)
{
	struct config *cfg = ps->cfg;
	size_t n = inherit_count(), npassed = 0;
	int named = 0;
	char err[256], have[160];

	if (n == 0)
		return;
	/* clusterd's own stored sockets are match_stored()'s: names and
	 * positions are the others'. */
	for (size_t i = 0; i < n; i++) {
		inherit_get(i)->used = 0;
		if (!inherit_get(i)->stored) {
			named |= inherit_get(i)->name != NULL;
			npassed++;
		}
	}
	if (none)
		return;
	if (cfg->nsocks == 0) {
		for (size_t i = 0; i < npassed; i++) {
			struct inherited *in = passed(i);
			char auto_name[32];
			struct sock_cfg *sc;

			if (in->fd < 0)
				continue;	/* closed at start as unused */
			snprintf(auto_name, sizeof(auto_name), "listen%zu", i);
			sc = sock_add(cfg, in->name ? in->name : auto_name, "LISTEN_FDS", 0);
			addr_format((struct sockaddr *)&in->ss, in->len, in->type, have,
			    sizeof(have));
			sc->listen = xstrdup(have);
			if (addr_parse(have, &sc->addr, err, sizeof(err)) == -1)
				memcpy(&sc->addr.ss, &in->ss, sc->addr.len = in->len);
			sc->addr.type = in->type;
			sc->adopt_fd = in->fd;
			sc->carried = in->carried;
			in->used = 1;
		}
		return;
	}
	for (size_t i = 0; i < cfg->nsocks; i++) {
		struct sock_cfg *sc = &cfg->socks[i];
		struct inherited *in = NULL;

		if (sc->listen == NULL)
			continue;
		for (size_t j = 0; named && j < n; j++)
			if (!inherit_get(j)->stored && inherit_get(j)->name &&
			    strcmp(inherit_get(j)->name, sc->name) == 0)
				in = inherit_get(j);
		if (!named)
			in = passed(i);
		if (in == NULL || in->fd < 0)
			continue;	/* bound by clusterd as usual */
		addr_format((struct sockaddr *)&in->ss, in->len, in->type, have, sizeof(have));
		if (!addr_matches(&in->ss, in->len, in->type, &sc->addr)) {
			perr(ps, sc->line, "[socket:%s]: inherited fd %d is %s (%s), not %s",
			    sc->name, in->fd, have, in->type == SOCK_DGRAM ? "datagram" : "stream",
			    sc->listen);
			continue;
		}
		sc->adopt_fd = in->fd;
		sc->carried = in->carried;
		in->used = 1;
	}
}

/*
 * The sockets clusterd stored in the service manager's fd store come back
 * on a restart (inherit.c). Each goes back to its [socket:NAME] if that
 * still asks for the very same socket; one whose section is gone, whose
 * address or reuseport changed, or whose section the manager passed a
 * socket unit's socket for (never two for one), is closed and removed
 * from the store, where it would hold the port for nothing.
 */
static void
match_stored(struct parse *ps, int none)
{
	struct config *cfg = ps->cfg;
	char why[300];

	for (size_t i = 0; i < inherit_count(); i++) {
		struct inherited *in = inherit_get(i);
		const char *name;
		struct sock_cfg *sc = NULL;
		ssize_t at;
		int taken = 0;

		if (!in->stored || in->fd < 0)
			continue;	/* taken at start, or dropped */
		name = inherit_stored_sock(in);
		at = none ? -1 : sock_find(cfg, name);
		if (at >= 0 && cfg->socks[at].listen)
			sc = &cfg->socks[at];
		for (size_t j = 0; j < i; j++)
			taken |= inherit_get(j)->stored && inherit_get(j)->used &&
			    strcmp(inherit_stored_sock(inherit_get(j)), name) == 0;
		if (sc == NULL)
			snprintf(why, sizeof(why), "has no [socket:%s] any more", name);
		else if (sc->adopt_fd >= 0)
			snprintf(why, sizeof(why), "came with a socket unit's for it (fd %d)",
			    sc->adopt_fd);
		else if (taken)
			snprintf(why, sizeof(why), "is one more of that name");
		else if (listener_fits(in->fd, sc, why, sizeof(why))) {
			in->used = 1;	/* listen.c takes it */
			continue;
		}
		inherit_drop_stored(in, why);
	}
}

void
merge_check(struct parse *ps, const struct cli *cli)
{
	struct config *cfg = ps->cfg;
	char err[256];
	int none = 0;

	ps->file = cfg->file;
	for (size_t i = 0; i < cli->listen.n; i++)
		if (strcmp(cli->listen.v[i], "none") == 0)
			none = 1;
	if (none && cfg->nsocks > 0) {
		ps->file = NULL;
		perr(ps, 0, "-l none cannot be combined with other sockets");
		ps->file = cfg->file;
	}
	adopt_inherited(ps, none);
	if (!none && cfg->nsocks == 0 && cfg->file == NULL) {
		/* Plain command-line use: the seed's port, or $PORT as PaaS set it. */
		const char *port = getenv("PORT");
		char *spec = xasprintf(":%s", port && *port ? port : "3000");
		struct sock_cfg *sc = sock_add(cfg, "listen0", "PORT", 0);

		if (addr_parse(spec, &sc->addr, err, sizeof(err)) == -1)
			strv_pushf(&ps->errors, "PORT=%s: %s", port, err);
		sc->listen = spec;
	}
	for (size_t i = 0; i < cfg->nsocks; i++) {
		struct sock_cfg *sc = &cfg->socks[i];

		if (cli->reuseport && sc->addr.family != AF_UNIX && sc->reuseport < 0)
			sc->reuseport = 1;
		if (sc->reuseport > 0 && sc->listen && sc->addr.family == AF_UNIX)
			perr(ps, sc->line, "[socket:%s]: reuseport takes TCP or UDP sockets, "
			    "not UNIX ones", sc->name);
		/* Carried over an upgrade: clusterd's own group, slots and all. */
		if (sc->reuseport > 0 && sc->adopt_fd >= 0 && !sc->carried) {
			log_warnx("[socket:%s]: inherited from the service manager: one "
			    "socket for all workers (reuseport off)", sc->name);
			sc->reuseport = 0;
		}
	}
	match_stored(ps, none);
	for (size_t i = 0; i < cfg->nsocks; i++) {
		struct sock_cfg *sc = &cfg->socks[i];
		/* A bad address was reported already where it was given (listen
		 * is the first socket key). */
		int tried = i < ps->nsock_seen ? ps->sock_seen[i * nsocket_keys] != 0 :
		    strcmp(sc->file, "-l") == 0;

		if (sc->listen == NULL && !tried)
			perr(ps, sc->line, "[socket:%s] has no listen address", sc->name);
	}

	if (cfg->prog.argv.n == 0 && cfg->prog.command) {
		if (split_command(cfg->prog.command, &cfg->prog.argv, err, sizeof(err)) == -1)
			perr(ps, ps->command_line, "command: %s", err);
		else if (cfg->prog.argv.n == 0)
			perr(ps, ps->command_line, "command is empty");
	}
	if (cfg->prog.argv.n == 0 && cfg->prog.command == NULL)
		perr(ps, 0, "no command: set [program] command or give one after --");
	for (size_t i = 0; i < cfg->prog.argv.n; i++)
		check_placeholders(ps, ps->command_line, "command", cfg->prog.argv.v[i]);
	for (size_t i = 0; i < cfg->env.n; i++)
		check_placeholders(ps, i < ps->nenv_line ? ps->env_line[i] : 0, "env",
		    cfg->env.v[i]);
	if (cfg->name && !ctl_valid_name(cfg->name))
		perr(ps, 0, "bad name \"%s\" (letters, digits, _ . -)", cfg->name);
	if (cfg->bind_shim && access(config_shim_path(), R_OK) == -1)
		perr(ps, 0, "bind shim %s: %s (run make install, or set "
		    "CLUSTERD_SHIM to the library's path)", config_shim_path(),
		    strerror(errno));
	if (cfg->prog.backoff_max < cfg->prog.backoff_initial)
		perr(ps, 0, "backoff_max is shorter than backoff_initial");
	if (cfg->workers < 0)
		cfg->workers = cpus_available();
	if (cfg->restart_batch > 1 && cfg->restart_batch > cfg->workers && cfg->workers > 0)
		cfg->restart_batch = cfg->workers;
}


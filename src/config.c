/*
 * The INI file (parsed by inih) read into a struct config, key by key
 * through the rows of confkeys.c: sections, values, defaults, and the
 * errors; config_load() then lays the command line over it (merge.c).
 *
 * Debian's inih (r55) does not give the handler line numbers, cuts lines
 * at 199 characters and reports only its first syntax error, so the reader
 * in conffile.c feeds it one line at a time, counts lines and checks each line's
 * shape itself. Every problem is collected as "FILE:LINE: message" and all
 * of them are printed before one failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "confparse.h"
#include "merge.h"
#include "confkeys.h"
#include "conffile.h"
#include "config.h"
#include "cpus.h"
#include "inherit.h"
#include "log.h"

#define MAX_ERRORS	50

void
perr(struct parse *ps, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	/* A binary or runaway file would print millions: the first fifty
	 * say what is wrong, and a count says how much more. */
	if (ps->errors.n >= MAX_ERRORS) {
		ps->more_errors++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ps->file == NULL) {
		strv_pushf(&ps->errors, "%s", msg);
		ps->cli_errors = 1;
	}
	else if (line > 0)
		strv_pushf(&ps->errors, "%s:%d: %s", ps->file, line, msg);
	else
		strv_pushf(&ps->errors, "%s: %s", ps->file, msg);
}

static const char *
suggest(const char *name, const struct key *keys, size_t n)
{
	const char *best = NULL;
	size_t bestd = 3;

	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(name, keys[i].name);

		if (d < bestd && d < strlen(keys[i].name)) {
			bestd = d;
			best = keys[i].name;
		}
	}
	return best;
}

int
set_ready(struct parse *ps, struct program_cfg *pc, const char *v)
{
	double d;

	if (strcmp(v, "exec") == 0)
		pc->ready = READY_EXEC;
	else if (strcmp(v, "notify") == 0)
		pc->ready = READY_NOTIFY;
	else if (parse_duration(v, &d) == 0) {
		pc->ready = READY_DELAY;
		pc->ready_delay = d;
	} else {
		perr(ps, ps->line, "bad value \"%s\" for ready (exec, notify or a duration)", v);
		return -1;
	}
	return 0;
}

static int
set_value(struct parse *ps, const struct key *k, char *base, const char *v)
{
	void *field = base + k->off;
	double d;
	long l;
	int b;

	switch (k->type) {
	case K_WORKERS:
		if (parse_workers(v, k->max, (int *)field, (int *)field + 1) == -1) {
			perr(ps, ps->line, "bad number \"%s\" for %s (0-%ld, or a range "
			    "MIN..MAX from 1, MIN below MAX: 2..16)", v, k->name, k->max);
			return -1;
		}
		return 0;
	case K_INT:
	case K_LONG:
		if (k->flags & KF_PERCENT) {
			char num[32];
			size_t n = strlen(v);

			if (n >= 2 && n < sizeof(num) && v[n - 1] == '%') {
				memcpy(num, v, n - 1);
				num[n - 1] = '\0';
			} else
				num[0] = '\0';
			if (parse_long(num, k->min, k->max, &l) == -1) {
				perr(ps, ps->line, "bad value \"%s\" for %s (a percentage, "
				    "%ld%% to %ld%%)", v, k->name, k->min, k->max);
				return -1;
			}
			*(int *)field = (int)l;
			return 0;
		}
		if (parse_long(v, k->min, k->max, &l) == -1)
			goto bad_number;
		if (k->type == K_LONG)
			*(long *)field = l;
		else
			*(int *)field = (int)l;
		return 0;
	case K_SIZE:
		if (parse_size(v, &l) == -1)
			goto bad_number;
		*(int *)field = (int)l;
		return 0;
	case K_BYTES:
		if (parse_bytes(v, (long long *)field) == -1) {
			perr(ps, ps->line, "bad size \"%s\" for %s (bytes, or with k, m, g "
			    "or t: 150M)", v, k->name);
			return -1;
		}
		return 0;
	case K_OCTAL:
		if (parse_octal(v, k->max, &l) == -1) {
			perr(ps, ps->line, "bad octal mode \"%s\" for %s", v, k->name);
			return -1;
		}
		*(int *)field = (int)l;
		return 0;
	case K_BOOL:
		if (parse_bool(v, &b) == -1) {
			perr(ps, ps->line, "bad boolean \"%s\" for %s (yes or no)", v, k->name);
			return -1;
		}
		*(int *)field = b;
		return 0;
	case K_DURATION:
		if (parse_duration(v, &d) == -1) {
			perr(ps, ps->line, "bad duration \"%s\" for %s (e.g. 250ms, 10s, 2m)",
			    v, k->name);
			return -1;
		}
		*(double *)field = d;
		return 0;
	case K_STRING:
		if (*v == '\0') {
			perr(ps, ps->line, "empty value for %s", k->name);
			return -1;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(v);
		return 0;
	case K_COMMAND:
		free(*(char **)field);
		*(char **)field = xstrdup(v);
		ps->command_line = ps->line;
		return 0;
	case K_SIGNAL:
		if (parse_signal(v, &b) == -1) {
			perr(ps, ps->line, "unknown signal \"%s\" for %s", v, k->name);
			return -1;
		}
		*(int *)field = b;
		return 0;
	case K_READY:
		return set_ready(ps, (struct program_cfg *)base, v);
	case K_ENUM:
		for (const struct kname *n = k->names; n->name; n++)
			if (strcmp(v, n->name) == 0) {
				*(int *)field = n->value;
				return 0;
			}
		perr(ps, ps->line, "bad value \"%s\" for %s (%s)", v, k->name, k->hint);
		return -1;
	case K_COMPAT: {
		char *copy = xstrdup(v), *tok, *save = NULL;
		unsigned bits = 0;
		int ret = 0;

		for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
			if (strcmp(tok, "einhorn") == 0)
				bits |= COMPAT_EINHORN;
			else if (strcmp(tok, "server_starter") == 0)
				bits |= COMPAT_SERVER_STARTER;
			else if (strcmp(tok, "none") != 0) {
				perr(ps, ps->line, "unknown compat protocol \"%s\" "
				    "(einhorn, server_starter)", tok);
				ret = -1;
			}
		}
		free(copy);
		*(unsigned *)field = bits;
		return ret;
	}
	case K_ADDR: {
		struct addr a;
		char err[256];

		if (addr_parse(v, &a, err, sizeof(err)) == -1) {
			perr(ps, ps->line, "bad address \"%s\" for %s: %s", v, k->name, err);
			return -1;
		}
		if (a.type != SOCK_STREAM) {
			perr(ps, ps->line, "bad address \"%s\" for %s: it serves HTTP, "
			    "over TCP or a UNIX stream socket, not udp:", v, k->name);
			return -1;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(v);
		return 0;
	}
	case K_LISTEN: {
		struct sock_cfg *sc = (struct sock_cfg *)base;
		char err[256];

		if (addr_parse(v, &sc->addr, err, sizeof(err)) == -1) {
			perr(ps, ps->line, "bad address \"%s\": %s", v, err);
			return -1;
		}
		free(sc->listen);
		sc->listen = xstrdup(v);
		return 0;
	}
	}
	return 0;
bad_number:
	if (k->max > k->min && k->max < 0x7fffffff)
		perr(ps, ps->line, "bad number \"%s\" for %s (%ld-%ld)", v, k->name,
		    k->min, k->max);
	else
		perr(ps, ps->line, "bad number \"%s\" for %s", v, k->name);
	return -1;
}

/*
 * A row's default: its value read as the file's would be, or the type's
 * unset. A default that does not read is a bug of the table, which every
 * run would hit; fail loudly.
 */
static void
key_default(const struct key *k, char *base)
{
	char *field = base + k->off;
	struct parse ps = { 0 };

	if (k->def) {
		if (set_value(&ps, k, base, k->def) == -1)
			fatalx(2, "default of %s: %s", k->name, ps.errors.v[0]);
		return;
	}
	switch (k->type) {
	case K_LONG:
		*(long *)field = -1;
		break;
	case K_BYTES:
		*(long long *)field = -1;
		break;
	case K_WORKERS:
		((int *)field)[0] = ((int *)field)[1] = -1;
		break;
	case K_DURATION:
		*(double *)field = -1;
		break;
	case K_STRING:
	case K_LISTEN:
	case K_ADDR:
	case K_COMMAND:
		*(char **)field = NULL;
		break;
	default:
		*(int *)field = -1;
		break;
	}
}

int
valid_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 255)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_.-") == strlen(s);
}

struct sock_cfg *
sock_add(struct config *cfg, const char *name, const char *file, int line)
{
	struct sock_cfg *sc;

	cfg->socks = xgrow(cfg->socks, cfg->nsocks + 1, sizeof(*cfg->socks));
	sc = &cfg->socks[cfg->nsocks++];
	sock_cfg_init(sc);
	for (size_t i = 0; i < nsocket_keys; i++)
		key_default(&socket_keys[i], (char *)sc);
	sc->name = xstrdup(name);
	sc->file = file;
	sc->line = line;
	return sc;
}

ssize_t
sock_find(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nsocks; i++)
		if (strcmp(cfg->socks[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static void
env_value(struct parse *ps, const char *name, const char *value)
{
	struct config *cfg = ps->cfg;

	if (!valid_env_name(name, strlen(name))) {
		perr(ps, ps->line, "bad environment variable name \"%s\"", name);
		return;
	}
	/* Duplicates are found once the file is read (env_duplicates): a
	 * search here would make 100,000 keys take minutes. */
	strv_pushf(&cfg->env, "%s=%s", name, value);
	ps->env_line = xgrow(ps->env_line, cfg->env.n, sizeof(int));
	ps->env_line[cfg->env.n - 1] = ps->line;
	ps->nenv_line = cfg->env.n;
}

/* An indented line: inih hands it over as the same key once more. */
static int
continuation(struct parse *ps, const char *section, const char *name,
    const char *value)
{
	struct config *cfg = ps->cfg;
	char **target = NULL;
	char *joined;

	if (strcmp(section, "program") == 0 && strcmp(name, "command") == 0)
		target = &cfg->prog.command;
	else if (strcmp(section, "env") == 0 && cfg->env.n > 0)
		target = &cfg->env.v[cfg->env.n - 1];
	if (target == NULL || *target == NULL) {
		perr(ps, ps->line, "indented line continues the value of \"%s\"; "
		    "only command and [env] values may continue", name);
		return 0;
	}
	joined = xasprintf("%s %s", *target, value);
	free(*target);
	*target = joined;
	return 1;
}

static int
handler(void *arg, const char *section, const char *name, const char *value)
{
	struct parse *ps = arg;
	struct config *cfg = ps->cfg;
	const struct key *keys;
	size_t nkeys;
	int *seen;
	char *base;

	if (ps->cont)
		return continuation(ps, section, name, value);
	if (*section == '\0') {
		perr(ps, ps->line, "\"%s\" outside of any section", name);
		return 1;
	}
	if (strcmp(section, "clusterd") == 0) {
		keys = clusterd_keys, nkeys = nclusterd_keys;
		seen = ps->clusterd_seen, base = (char *)cfg;
	} else if (strcmp(section, "program") == 0) {
		keys = program_keys, nkeys = nprogram_keys;
		seen = ps->program_seen, base = (char *)&cfg->prog;
	} else if (strcmp(section, "env") == 0) {
		env_value(ps, name, value);
		return 1;
	} else if (strncmp(section, "socket:", 7) == 0) {
		const char *sname = section + 7;
		/* Keys come section by section: the last one found is the likely one. */
		ssize_t i = ps->last_sock < cfg->nsocks &&
		    strcmp(cfg->socks[ps->last_sock].name, sname) == 0 ?
		    (ssize_t)ps->last_sock : sock_find(cfg, sname);

		if (!valid_name(sname)) {
			perr(ps, ps->section_line, "bad socket name \"%s\" "
			    "(letters, digits, _ . -)", sname);
			return 1;
		}
		if (i < 0) {
			sock_add(cfg, sname, ps->file, ps->section_line);
			i = (ssize_t)cfg->nsocks - 1;
			ps->sock_seen = xgrow(ps->sock_seen, cfg->nsocks,
			    nsocket_keys * sizeof(*ps->sock_seen));
			ps->nsock_seen = cfg->nsocks;
			memset(ps->sock_seen + i * nsocket_keys, 0,
			    nsocket_keys * sizeof(*ps->sock_seen));
		}
		ps->last_sock = (size_t)i;
		keys = socket_keys, nkeys = nsocket_keys;
		seen = ps->sock_seen + i * nsocket_keys, base = (char *)&cfg->socks[i];
	} else {
		/* Report an unknown section once, at its header. */
		if (ps->section_line != -1) {
			const char *hint = strncmp(section, "sock", 4) == 0 ? "socket:NAME" :
			    edit_distance(section, "clusterd") <= 2 ? "clusterd" :
			    edit_distance(section, "program") <= 2 ? "program" :
			    edit_distance(section, "env") <= 1 ? "env" : NULL;

			if (hint)
				perr(ps, ps->section_line, "unknown section [%s] "
				    "(did you mean [%s]?)", section, hint);
			else
				perr(ps, ps->section_line, "unknown section [%s] "
				    "(sections: clusterd, socket:NAME, program, env)", section);
			ps->section_line = -1;
		}
		return 1;
	}

	for (size_t i = 0; i < nkeys; i++) {
		if (strcmp(keys[i].name, name) != 0)
			continue;
		if (seen[i]) {
			perr(ps, ps->line, "duplicate key \"%s\" (first set on line %d)",
			    name, seen[i]);
			return 1;
		}
		seen[i] = ps->line;
		set_value(ps, &keys[i], base, value);
		return 1;
	}
	const char *hint = suggest(name, keys, nkeys);

	if (hint)
		perr(ps, ps->line, "unknown key \"%s\" in [%s] (did you mean \"%s\"?)",
		    name, section, hint);
	else
		perr(ps, ps->line, "unknown key \"%s\" in [%s]", name, section);
	return 1;
}

static const char *env_sorted_base;

static int
by_env_key(const void *a, const void *b)
{
	const char *x = ((char *const *)env_sorted_base)[*(const size_t *)a];
	const char *y = ((char *const *)env_sorted_base)[*(const size_t *)b];
	size_t xn = strcspn(x, "="), yn = strcspn(y, "=");
	int c = strncmp(x, y, xn < yn ? xn : yn);

	if (c == 0 && xn != yn)
		c = xn < yn ? -1 : 1;
	if (c == 0)	/* keep file order among equals: the first is "first set" */
		c = *(const size_t *)a < *(const size_t *)b ? -1 : 1;
	return c;
}

/* [env] keys set twice, found by sorting once (n log n) instead of a
 * search per key. */
static void
env_duplicates(struct parse *ps)
{
	const struct strv *env = &ps->cfg->env;
	size_t *idx, n = env->n;

	if (n < 2)
		return;
	idx = xcalloc(n, sizeof(*idx));
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	env_sorted_base = (const char *)env->v;
	qsort(idx, n, sizeof(*idx), by_env_key);
	for (size_t i = 1, first = 0; i < n; i++) {
		const char *a = env->v[idx[first]], *b = env->v[idx[i]];
		size_t an = strcspn(a, "="), bn = strcspn(b, "=");

		if (an == bn && strncmp(a, b, an) == 0)
			perr(ps, ps->env_line[idx[i]], "duplicate key \"%.*s\" in [env] "
			    "(first set on line %d)", (int)bn, b, ps->env_line[idx[first]]);
		else
			first = i;
	}
	free(idx);
}

static int
parse_file(struct parse *ps, const char *path)
{
	if (conf_open(ps, path) == -1)
		return -1;
	/* inih's own error return is ignored: the reader saw every bad line. */
	(void)ini_parse_stream(conf_reader, ps, handler, ps);
	env_duplicates(ps);
	conf_close(ps);
	return 0;
}

static void
defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < nclusterd_keys; i++)
		key_default(&clusterd_keys[i], (char *)cfg);
	for (size_t i = 0; i < nprogram_keys; i++)
		key_default(&program_keys[i], (char *)&cfg->prog);
}

/*
 * A clusterd run from its build tree preloads the shim built beside it, as
 * git finds its exec path: a new checkout works before make install, and
 * never with an older installed library. The build tree's binary is known
 * by its inode, so a symlink in the build path changes nothing, and an
 * installed copy is another file.
 */
static const char *
build_tree_shim(void)
{
#ifdef BUILDDIR
	struct stat self, built;

	if (stat("/proc/self/exe", &self) == 0 &&
	    stat(BUILDDIR "/src/clusterd", &built) == 0 &&
	    self.st_dev == built.st_dev && self.st_ino == built.st_ino)
		return BUILDDIR "/src/clusterd-shim.so";
#endif
	return NULL;
}

const char *
config_shim_path(void)
{
	static const char *shim;
	const char *p = getenv("CLUSTERD_SHIM");

	if (p && *p)
		return p;
	if (shim == NULL && (shim = build_tree_shim()) == NULL)
		shim = SHIM_PATH;
	return shim;
}

static int	build(struct config *, const struct cli *, struct parse *,
		    struct strv *);

int
config_load(struct config *cfg, const struct cli *cli, struct strv *errors)
{
	struct parse ps = { 0 };

	return build(cfg, cli, &ps, errors);
}

int
config_load_text(struct config *cfg, const struct cli *cli, const char *text,
    size_t len, struct strv *errors)
{
	struct parse ps = { 0 };

	ps.text = text ? text : "";
	ps.textlen = text ? len : 0;
	return build(cfg, cli, &ps, errors);
}

static int
build(struct config *cfg, const struct cli *cli, struct parse *psp, struct strv *errors)
{
	struct parse ps = *psp;

	defaults(cfg);
	ps.cfg = cfg;
	ps.clusterd_seen = xcalloc(nclusterd_keys, sizeof(*ps.clusterd_seen));
	ps.program_seen = xcalloc(nprogram_keys, sizeof(*ps.program_seen));
	if (cli->config) {
		cfg->file = xstrdup(cli->config);
		if (parse_file(&ps, cfg->file) == -1)
			goto out;
	}
	merge_cli(&ps, cli);
	merge_check(&ps, cli);
out:;

	int nerr = (int)ps.errors.n;

	if (ps.gave_up)
		strv_pushf(&ps.errors, "%s: %lu more errors not shown; stopped reading "
		    "after line %d", ps.file, ps.more_errors, ps.gave_up);
	else if (ps.more_errors)
		strv_pushf(&ps.errors, "%s%s%lu more error%s not shown", ps.file ? ps.file : "",
		    ps.file ? ": " : "", ps.more_errors, ps.more_errors == 1 ? "" : "s");
	if (errors)
		strv_copy(errors, &ps.errors);
	else {
		for (size_t i = 0; i < ps.errors.n; i++)
			log_errx("%s", ps.errors.v[i]);
		if (ps.cli_errors)
			fprintf(stderr, "Try 'clusterd --help'.\n");
	}
	strv_free(&ps.errors);
	free(ps.clusterd_seen);
	free(ps.program_seen);
	free(ps.sock_seen);
	free(ps.env_line);
	return nerr ? -1 : 0;
}

void
config_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nsocks; i++) {
		free(cfg->socks[i].name);
		for (size_t k = 0; k < nsocket_keys; k++)
			key_free(&socket_keys[k], &cfg->socks[i]);
	}
	free(cfg->socks);
	for (size_t k = 0; k < nclusterd_keys; k++)
		key_free(&clusterd_keys[k], cfg);
	for (size_t k = 0; k < nprogram_keys; k++)
		key_free(&program_keys[k], &cfg->prog);
	strv_free(&cfg->env);
	free(cfg->file);
	free(cfg->text);
	memset(cfg, 0, sizeof(*cfg));
}

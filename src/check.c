/* clusterd --check: the settings in effect, as a config file that would
 * give the same. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static void
print_duration(FILE *fp, const char *key, double secs)
{
	char buf[32];

	format_duration(buf, sizeof(buf), secs);
	fprintf(fp, "%s = %s\n", key, buf);
}

static void
print_int(FILE *fp, const char *key, long v)
{
	if (v >= 0)
		fprintf(fp, "%s = %ld\n", key, v);
}

static void
print_bool(FILE *fp, const char *key, int v)
{
	if (v >= 0)
		fprintf(fp, "%s = %s\n", key, v ? "yes" : "no");
}

/*
 * Whether v reads back from "key = v": inih strips white space at both
 * ends, takes a ';' after white space (the one after '=' too) as a
 * comment, and a line ends at a newline. Such a value can only come from
 * the command line.
 */
static int
ini_safe(const char *v)
{
	size_t n = strlen(v);

	if (n && (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1])))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (v[i] == '\n' || (v[i] == ';' && (i == 0 || isspace((unsigned char)v[i - 1]))))
			return 0;
	return 1;
}

/* The comment that stands for a value the file cannot hold (fuzz-config
 * knows it too). */
#define UNWRITABLE "a value a config file cannot hold"

static void
print_kv(FILE *fp, const char *key, int klen, const char *v)
{
	if (ini_safe(v))
		fprintf(fp, "%.*s = %s\n", klen, key, v);
	else
		fprintf(fp, "; %.*s: " UNWRITABLE " (white space at an end, a newline, "
		    "or a ';' first or after a blank); set on the command line\n", klen, key);
}

static void
print_str(FILE *fp, const char *key, const char *v)
{
	if (v)
		print_kv(fp, key, (int)strlen(key), v);
}

/*
 * The command's words, each quoted as split_command() and the INI reader
 * will read it back (quote_word()), whatever way they were written: a file
 * read by inih r55 keeps a " ;" of a continuation line, which on the
 * first line would start a comment. Long commands go on indented
 * continuation lines, as a person would write them, so the output stays
 * within the line limit.
 */
static void
print_command(FILE *fp, const struct strv *argv)
{
	size_t col;

	for (size_t i = 0; i < argv->n; i++)
		if (strchr(argv->v[i], '\n') != NULL) {
			/* Only a word given after -- can hold one; no quoting
			 * keeps it in a line. */
			fprintf(fp, "; command: " UNWRITABLE " (a word with a newline); "
			    "set on the command line\n");
			return;
		}
	col = fprintf(fp, "command =");
	for (size_t i = 0; i < argv->n; i++) {
		char *w = quote_word(argv->v[i]);
		size_t len = strlen(w);

		if (col + 1 + len > 150 && col > 12) {
			fprintf(fp, "\n   ");
			col = 3;
		}
		col += fprintf(fp, " %s", w);
		free(w);
	}
	fputc('\n', fp);
}

/* The effective settings, as a config file that would give the same. */
void
config_print(const struct config *cfg, FILE *fp)
{
	static const char *restart[] = { "always", "on-failure", "never" };
	const struct program_cfg *pc = &cfg->prog;

	fprintf(fp, "[clusterd]\n");
	print_int(fp, "workers", cfg->workers);
	print_str(fp, "name", cfg->name);
	print_str(fp, "control", cfg->control);
	print_str(fp, "pidfile", cfg->pidfile);
	print_duration(fp, "stop_timeout", cfg->stop_timeout);
	print_int(fp, "give_up_after", cfg->give_up_after);
	print_bool(fp, "subreaper", cfg->subreaper);
	print_bool(fp, "log_prefix", cfg->log_prefix);
	print_bool(fp, "bind_shim", cfg->bind_shim);
	if (cfg->compat)
		fprintf(fp, "compat = %s%s%s\n", cfg->compat & COMPAT_EINHORN ? "einhorn" : "",
		    cfg->compat == (COMPAT_EINHORN | COMPAT_SERVER_STARTER) ? ", " : "",
		    cfg->compat & COMPAT_SERVER_STARTER ? "server_starter" : "");
	print_int(fp, "restart_batch", cfg->restart_batch);

	for (size_t i = 0; i < cfg->nsocks; i++) {
		const struct sock_cfg *sc = &cfg->socks[i];

		fprintf(fp, "\n[socket:%s]\n", sc->name);
		print_str(fp, "listen", sc->listen);
		print_int(fp, "backlog", sc->backlog);
		print_bool(fp, "reuseport", sc->reuseport);
		if (sc->mode >= 0)
			fprintf(fp, "mode = %04o\n", (unsigned)sc->mode);
		print_str(fp, "owner", sc->owner);
		print_str(fp, "group", sc->group);
		print_bool(fp, "ipv6only", sc->ipv6only);
		print_bool(fp, "freebind", sc->freebind);
		print_bool(fp, "nodelay", sc->nodelay);
		if (sc->defer_accept >= 0)
			print_duration(fp, "defer_accept", sc->defer_accept);
		print_bool(fp, "keepalive", sc->keepalive);
		print_int(fp, "rcvbuf", sc->rcvbuf);
		print_int(fp, "sndbuf", sc->sndbuf);
		print_bool(fp, "transparent", sc->transparent);
	}

	fprintf(fp, "\n[program]\n");
	print_command(fp, &pc->argv);
	print_str(fp, "directory", pc->directory);
	print_str(fp, "user", pc->user);
	print_str(fp, "group", pc->group);
	if (pc->umask >= 0)
		fprintf(fp, "umask = %04o\n", (unsigned)pc->umask);
	print_int(fp, "rlimit_nofile", pc->rlimit_nofile);
	if (pc->ready == READY_DELAY)
		print_duration(fp, "ready", pc->ready_delay);
	else
		print_str(fp, "ready", pc->ready == READY_EXEC ? "exec" : "notify");
	print_duration(fp, "ready_timeout", pc->ready_timeout);
	print_str(fp, "restart", restart[pc->restart]);
	print_duration(fp, "backoff_initial", pc->backoff_initial);
	print_duration(fp, "backoff_max", pc->backoff_max);
	print_duration(fp, "stable_after", pc->stable_after);
	print_str(fp, "stop_signal", signal_name(pc->stop_signal));
	print_str(fp, "parent_death_signal", signal_name(pc->parent_death_signal));
	print_str(fp, "cpu_affinity", pc->cpu_affinity ? "auto" : "none");
	if (pc->watchdog > 0)
		print_duration(fp, "watchdog", pc->watchdog);
	print_str(fp, "restart_mode", pc->restart_mode == RESTART_SURGE ? "surge" : "replace");

	if (cfg->env.n > 0)
		fprintf(fp, "\n[env]\n");
	for (size_t i = 0; i < cfg->env.n; i++) {
		const char *kv = cfg->env.v[i];
		int klen = (int)strcspn(kv, "=");

		print_kv(fp, kv, klen, kv + klen + 1);
	}
}

/* clusterd --check: the settings in effect, as a config file that would
 * give the same; each section's keys in the order of their rows
 * (confkeys.c), each printed as its type says. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confparse.h"
#include "confkeys.h"
#include "check.h"

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
print_command(FILE *fp, const char *key, const struct strv *argv)
{
	size_t col;

	for (size_t i = 0; i < argv->n; i++)
		if (strchr(argv->v[i], '\n') != NULL) {
			/* Only a word given after -- can hold one; no quoting
			 * keeps it in a line. */
			fprintf(fp, "; %s: " UNWRITABLE " (a word with a newline); "
			    "set on the command line\n", key);
			return;
		}
	col = fprintf(fp, "%s =", key);
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

static const char *
enum_name(const struct key *k, int v)
{
	for (const struct kname *n = k->names; n->name; n++)
		if (n->value == v)
			return n->name;
	return NULL;
}

/* One key of the struct at base, unless it is unset (or off, for a
 * KF_OFF_ZERO duration): the file would say nothing of it. */
static void
print_key(FILE *fp, const struct key *k, const void *base)
{
	const char *field = (const char *)base + k->off;
	const int *i = (const int *)field;
	const struct program_cfg *pc = base;
	double d;
	unsigned u;

	switch (k->type) {
	case K_WORKERS:
		if (i[1] > 0)
			fprintf(fp, "%s = %d..%d\n", k->name, i[0], i[1]);
		else
			print_int(fp, k->name, *i);
		break;
	case K_INT:
		if ((k->flags & KF_PERCENT) && *i >= 0)
			fprintf(fp, "%s = %d%%\n", k->name, *i);
		else if (!(k->flags & KF_PERCENT))
			print_int(fp, k->name, *i);
		break;
	case K_SIZE:
		print_int(fp, k->name, *i);
		break;
	case K_BYTES:
		if (*(const long long *)field >= 0) {
			char v[32];

			format_bytes(v, sizeof(v), *(const long long *)field);
			fprintf(fp, "%s = %s\n", k->name, v);
		}
		break;
	case K_LONG:
		print_int(fp, k->name, *(const long *)field);
		break;
	case K_BOOL:
		print_bool(fp, k->name, *i);
		break;
	case K_DURATION:
		d = *(const double *)field;
		if (d > 0 || (d == 0 && !(k->flags & KF_OFF_ZERO)))
			print_duration(fp, k->name, d);
		break;
	case K_STRING:
	case K_LISTEN:
	case K_ADDR:
		print_str(fp, k->name, *(char *const *)field);
		break;
	case K_SIGNAL:
		print_str(fp, k->name, signal_name(*i));
		break;
	case K_OCTAL:
		if (*i >= 0)
			fprintf(fp, "%s = %04o\n", k->name, (unsigned)*i);
		break;
	case K_ENUM:
		print_str(fp, k->name, enum_name(k, *i));
		break;
	case K_READY:
		if (pc->ready == READY_DELAY)
			print_duration(fp, k->name, pc->ready_delay);
		else
			print_str(fp, k->name, pc->ready == READY_EXEC ? "exec" : "notify");
		break;
	case K_COMMAND:
		print_command(fp, k->name, &pc->argv);
		break;
	case K_COMPAT:
		if ((u = *(const unsigned *)field) != 0)
			fprintf(fp, "%s = %s%s%s\n", k->name, u & COMPAT_EINHORN ? "einhorn" : "",
			    u == (COMPAT_EINHORN | COMPAT_SERVER_STARTER) ? ", " : "",
			    u & COMPAT_SERVER_STARTER ? "server_starter" : "");
		break;
	}
}

static void
print_keys(FILE *fp, const struct key *keys, size_t n, const void *base)
{
	for (size_t i = 0; i < n; i++)
		print_key(fp, &keys[i], base);
}

/* The effective settings, as a config file that would give the same. */
void
config_print(const struct config *cfg, FILE *fp)
{
	fprintf(fp, "[clusterd]\n");
	print_keys(fp, clusterd_keys, nclusterd_keys, cfg);
	for (size_t i = 0; i < cfg->nsocks; i++) {
		fprintf(fp, "\n[socket:%s]\n", cfg->socks[i].name);
		print_keys(fp, socket_keys, nsocket_keys, &cfg->socks[i]);
	}
	fprintf(fp, "\n[program]\n");
	print_keys(fp, program_keys, nprogram_keys, &cfg->prog);

	if (cfg->env.n > 0)
		fprintf(fp, "\n[env]\n");
	for (size_t i = 0; i < cfg->env.n; i++) {
		const char *kv = cfg->env.v[i];
		int klen = (int)strcspn(kv, "=");

		print_kv(fp, kv, klen, kv + klen + 1);
	}
}

/*
 * libFuzzer target: the config file and its merge with the command line
 * (config_load() in src/config.c, with inih, src/values.c durations and
 * values, split_command(), {placeholder} checks and addr_parse()).
 *
 * The input is the file's bytes. It is handed to config_load() as a file
 * (a memfd, through /proc/self/fd/N), exactly as clusterd -c reads it.
 * An optional first line "#! ARGS" gives command-line options for the
 * merge (an INI comment to the parser itself), split with split_command():
 *
 *	#! -n 4 -l web=127.0.0.1:0 --ready=2s -e K=V -t 3 --subreaper -- ./srv {fd:web}
 *
 * Checks: config_load() never crashes or leaks (LeakSanitizer) and always
 * says why it failed; errors are "FILE:LINE: message", "FILE: message"
 * or, for options, a plain message; a config it accepts has a command, a
 * worker count and valid sockets, config_print() (--check) can print it,
 * and config_diff() finds it equal to itself.
 *
 * Built with -DFUZZ_ROUNDTRIP it also feeds config_print()'s output back
 * to config_load(): --check promises "a config file that would give the
 * same" settings, so a printed config whose lines all fit must load, and
 * config_diff() must find no key changed.
 */
#define _GNU_SOURCE 1
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"
#include "config.h"
#include "confkeys.h"
#include "fuzz.h"

static int memfd = -1;
static char path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* No inherited sockets and no $PORT: the same result everywhere. */
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("PORT");
	if ((memfd = memfd_create("fuzz-config", MFD_CLOEXEC)) == -1)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return 0;
}

static void
set_file(const uint8_t *data, size_t size)
{
	if (ftruncate(memfd, 0) == -1 || pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();
}

/* "#! ARGS" on the first line: a small getopt of clusterd's options. */
static void
cli_from(const uint8_t *data, size_t size, struct cli *cli, struct strv *words)
{
	const uint8_t *nl;
	char *line, err[128];
	size_t i;

	memset(cli, 0, sizeof(*cli));
	cli->workers = -1;
	cli->stop_timeout = -1;
	if (size < 2 || data[0] != '#' || data[1] != '!')
		return;
	nl = memchr(data, '\n', size);
	line = fuzz_cstr(data + 2, nl ? (size_t)(nl - data) - 2 : size - 2);
	if (split_command(line, words, err, sizeof(err)) == -1) {
		free(line);
		return;
	}
	free(line);
	for (i = 0; i < words->n; i++) {
		const char *w = words->v[i], *next = i + 1 < words->n ? words->v[i + 1] : NULL;
		long n;

		if (strcmp(w, "--") == 0) {
			i++;
			break;
		} else if (strcmp(w, "-n") == 0 && next) {
			if (parse_long(next, 0, 100000, &n) == 0)
				cli->workers = (int)n;
			i++;
		} else if (strcmp(w, "-l") == 0 && next && *next) {
			strv_push(&cli->listen, xstrdup(next));
			i++;
		} else if (strcmp(w, "-e") == 0 && next && strchr(next, '=') &&
		    valid_env_name(next, strcspn(next, "="))) {	/* as cli.c checks */
			strv_push(&cli->env, xstrdup(next));
			i++;
		} else if (strcmp(w, "-t") == 0 && next) {
			double d;

			if (parse_duration(next, &d) == 0)
				cli->stop_timeout = d;
			i++;
		} else if (strncmp(w, "--ready=", 8) == 0 && w[8])
			cli->ready = w + 8;
		else if (strcmp(w, "-u") == 0 && next)
			cli->user = words->v[++i];
		else if (strcmp(w, "-d") == 0 && next && *next)	/* cli.c refuses "" */
			cli->directory = words->v[++i];
		else if (strcmp(w, "-s") == 0 && next && *next)	/* cli.c refuses "" */
			cli->control = words->v[++i];
		else if (strcmp(w, "--subreaper") == 0)
			cli->subreaper = 1;
		else if (strcmp(w, "--bind-shim") == 0)
			cli->bind_shim = 1;
		else
			break;
	}
	for (; i < words->n; i++)
		strv_push(&cli->argv, xstrdup(words->v[i]));
}

static void
check_errors(const struct strv *errors)
{
	FUZZ_CHECK(errors->n > 0, "config_load failed without saying why");
	for (size_t i = 0; i < errors->n; i++) {
		const char *e = errors->v[i];

		FUZZ_CHECK(*e != '\0', "empty error message");
		FUZZ_CHECK(strchr(e, '\n') == NULL, "error message with a newline: %s", e);
	}
}

static void
check_config(const struct config *cfg)
{
	FUZZ_CHECK(cfg->prog.argv.n > 0, "accepted without a command");
	FUZZ_CHECK(cfg->prog.command != NULL, "accepted without command text");
	FUZZ_CHECK(cfg->workers >= 0, "workers %d", cfg->workers);
	FUZZ_CHECK(cfg->restart_batch >= 1, "restart_batch %d", cfg->restart_batch);
	FUZZ_CHECK(cfg->prog.backoff_max >= cfg->prog.backoff_initial, "backoff");
	for (size_t i = 0; i < cfg->nsocks; i++) {
		const struct sock_cfg *sc = &cfg->socks[i];

		FUZZ_CHECK(sc->name && *sc->name, "socket %zu without a name", i);
		FUZZ_CHECK(sc->listen != NULL, "socket %s without an address", sc->name);
		FUZZ_CHECK(sc->addr.len > 0 && sc->addr.len <= sizeof(sc->addr.ss),
		    "socket %s: address length %u", sc->name, (unsigned)sc->addr.len);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(cfg->socks[j].name, sc->name) != 0,
			    "two sockets named %s", sc->name);
	}
}

#ifdef FUZZ_ROUNDTRIP
static void
say_key(const char *key, enum key_effect e, void *arg)
{
	(void)arg;
	fprintf(stderr, "  %s changed (effect %d)\n", key, (int)e);
}

static void
roundtrip(const struct config *cfg)
{
	struct config again;
	struct strv errors = { 0 };
	struct cli cli;
	char *text = NULL, *line;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	int fits = 1, r;

	if (fp == NULL)
		abort();
	config_print(cfg, fp);
	fclose(fp);
	for (line = text; *line; ) {
		size_t n = strcspn(line, "\n");

		if (n > 199)
			fits = 0;
		line += n + (line[n] == '\n');
	}
	/* A value only the command line can give is printed as a comment. */
	if (strstr(text, "a value a config file cannot hold") != NULL)
		fits = 0;
	memset(&cli, 0, sizeof(cli));
	cli.workers = -1;
	cli.stop_timeout = -1;
	cli.config = path;
	set_file((const uint8_t *)text, len);
	r = config_load(&again, &cli, &errors);
	if (r == -1 && fits) {
		fprintf(stderr, "--check printed:\n%s\nwhich does not load:\n", text);
		for (size_t i = 0; i < errors.n; i++)
			fprintf(stderr, "  %s\n", errors.v[i]);
		FUZZ_CHECK(0, "config_print output does not load again");
	}
	if (r == 0 && fits) {
		int same = again.nsocks == cfg->nsocks && again.workers == cfg->workers &&
		    again.prog.argv.n == cfg->prog.argv.n;

		for (size_t i = 0; same && i < cfg->prog.argv.n; i++)
			same = strcmp(again.prog.argv.v[i], cfg->prog.argv.v[i]) == 0;
		if (!same) {
			fprintf(stderr, "--check printed:\n%s\nfrom the command words:\n", text);
			for (size_t i = 0; i < cfg->prog.argv.n; i++)
				fprintf(stderr, "  %zu: \"%s\"\n", i, cfg->prog.argv.v[i]);
		}
		FUZZ_CHECK(again.nsocks == cfg->nsocks, "sockets %zu -> %zu", cfg->nsocks,
		    again.nsocks);
		FUZZ_CHECK(again.workers == cfg->workers, "workers %d -> %d", cfg->workers,
		    again.workers);
		FUZZ_CHECK(again.prog.argv.n == cfg->prog.argv.n, "command words %zu -> %zu",
		    cfg->prog.argv.n, again.prog.argv.n);
		for (size_t i = 0; i < cfg->prog.argv.n; i++)
			FUZZ_CHECK(strcmp(again.prog.argv.v[i], cfg->prog.argv.v[i]) == 0,
			    "command word %zu: \"%s\" -> \"%s\"", i, cfg->prog.argv.v[i],
			    again.prog.argv.v[i]);
		if (config_diff(cfg, &again, NULL, NULL) != EFFECT_NONE) {
			fprintf(stderr, "--check printed:\n%s\nwhich loads with changes:\n", text);
			config_diff(cfg, &again, say_key, NULL);
			FUZZ_CHECK(0, "config_print output loads other settings");
		}
	}
	config_free(&again);
	strv_free(&errors);
	free(text);
}
#endif

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct strv errors = { 0 }, words = { 0 };
	struct cli cli;
	FILE *null;

	cli_from(data, size, &cli, &words);
	cli.config = path;
	set_file(data, size);
	if (config_load(&cfg, &cli, &errors) == -1)
		check_errors(&errors);
	else {
		FUZZ_CHECK(errors.n == 0, "config_load succeeded with %zu errors", errors.n);
		check_config(&cfg);
		FUZZ_CHECK(config_diff(&cfg, &cfg, NULL, NULL) == EFFECT_NONE,
		    "config_diff: a config differs from itself");
		if ((null = fopen("/dev/null", "we")) != NULL) {
			config_print(&cfg, null);
			fclose(null);
		}
#ifdef FUZZ_ROUNDTRIP
		roundtrip(&cfg);
#endif
	}
	config_free(&cfg);
	strv_free(&errors);
	strv_free(&words);
	strv_free(&cli.listen);
	strv_free(&cli.env);
	strv_free(&cli.argv);
	return 0;
}

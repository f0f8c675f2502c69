/* The clusterd command line (§1 of the contract). */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "cli.h"
#include "log.h"
#include "upgrade.h"

static const char usage_text[] =
"usage: clusterd [-n N] [-l [NAME=]ADDR]... [-c FILE] [-s CTLSOCK] [--reuseport]\n"
"                [-t STOP_TIMEOUT] [--ready=exec|notify|DURATION] [-e KEY=VALUE]...\n"
"                [-u USER[:GROUP]] [-d DIR] [--subreaper] [--bind-shim]\n"
"                [--cgroups=auto|yes|no] [--log-format=text|json] [--check]\n"
"                [-q|-v] [-V] [-h] [--] COMMAND [ARG...]\n"
"\n"
"Run N copies of COMMAND sharing the listening sockets (LISTEN_FDS, fd 3 on).\n"
"\n"
"  -n, --workers=N|MIN..MAX number of workers (default: usable CPUs), or a\n"
"                           range the autoscaler keeps it in\n"
"  -l, --listen=[NAME=]ADDR socket to share: PORT, :PORT, HOST:PORT, [V6]:PORT,\n"
"                           unix:PATH, /PATH, unix:@NAME, udp:HOST:PORT, none\n"
"                           (default :${PORT:-3000})\n"
"  -c, --config=FILE        INI config file (see clusterd.conf(5))\n"
"  -s, --control=PATH       control socket path\n"
"  -t, --stop-timeout=DUR   grace before SIGKILL on stop (default 8s)\n"
"      --ready=MODE         exec, notify or a duration alive (default exec)\n"
"  -e, --env=KEY=VALUE      extra environment for the workers\n"
"  -u, --user=USER[:GROUP]  run workers as this user\n"
"  -d, --directory=DIR      workers' working directory\n"
"      --reuseport          a SO_REUSEPORT socket per worker, steered by clusterd\n"
"      --subreaper          reap orphaned descendants (PR_SET_CHILD_SUBREAPER)\n"
"      --bind-shim          let workers' own bind() take the shared sockets\n"
"      --cgroups=MODE       a cgroup per worker: auto, yes or no (default auto)\n"
"      --log-format=FORMAT  text or json lines on stderr (default text)\n"
"      --check              check the settings, print them, and exit\n"
"  -q, --quiet              log warnings and errors only\n"
"  -v, --verbose            log debugging detail\n"
"  -V, --version            print the version and exit\n"
"  -h, --help               print this help and exit\n"
"\n"
"See clusterd(8).\n";

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "clusterd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'clusterd --help'.\n");
	exit(2);
}

void
cli_parse(struct cli *cli, int argc, char **argv)
{
	enum { OPT_READY = 256, OPT_SUBREAPER, OPT_CHECK, OPT_REUSEPORT, OPT_BIND_SHIM,
		OPT_CGROUPS, OPT_LOG_FORMAT };
	static const struct option longopts[] = {
		{ "workers",	required_argument, NULL, 'n' },
		{ "listen",	required_argument, NULL, 'l' },
		{ "config",	required_argument, NULL, 'c' },
		{ "control",	required_argument, NULL, 's' },
		{ "stop-timeout", required_argument, NULL, 't' },
		{ "ready",	required_argument, NULL, OPT_READY },
		{ "env",	required_argument, NULL, 'e' },
		{ "user",	required_argument, NULL, 'u' },
		{ "directory",	required_argument, NULL, 'd' },
		{ "subreaper",	no_argument,	   NULL, OPT_SUBREAPER },
		{ "check",	no_argument,	   NULL, OPT_CHECK },
		{ "reuseport",	no_argument,	   NULL, OPT_REUSEPORT },
		{ "bind-shim",	no_argument,	   NULL, OPT_BIND_SHIM },
		{ "cgroups",	required_argument, NULL, OPT_CGROUPS },
		{ "log-format",	required_argument, NULL, OPT_LOG_FORMAT },
		{ "quiet",	no_argument,	   NULL, 'q' },
		{ "verbose",	no_argument,	   NULL, 'v' },
		{ "version",	no_argument,	   NULL, 'V' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(cli, 0, sizeof(*cli));
	cli->workers = cli->workers_max = -1;
	cli->stop_timeout = -1;
	cli->cgroups = -1;
	cli->log_format = -1;
	opterr = 0;
	/* "+": the worker command's own options are not ours. */
	while ((c = getopt_long(argc, argv, "+:n:l:c:s:t:e:u:d:qvVh", longopts, NULL)) != -1) {
		/* A path or an address cannot be empty (the file refuses "key ="). */
		if ((c == 'l' || c == 'c' || c == 's' || c == 'd') && *optarg == '\0')
			usage_error("-%c: empty argument", c);
		if (c == OPT_READY && *optarg == '\0')
			usage_error("--ready: empty argument (exec, notify or a duration)");
		switch (c) {
		case 'n':
			if (parse_workers(optarg, 100000, &cli->workers, &cli->workers_max) == -1)
				usage_error("-n: bad number \"%s\" (0-100000, or a range "
				    "MIN..MAX from 1, MIN below MAX: 2..16)", optarg);
			break;
		case 'l':
			strv_push(&cli->listen, xstrdup(optarg));
			break;
		case 'c':
			cli->config = optarg;
			break;
		case 's':
			cli->control = optarg;
			break;
		case 't':
			if (parse_duration(optarg, &cli->stop_timeout) == -1)
				usage_error("-t: bad duration \"%s\" (e.g. 500ms, 10s)", optarg);
			break;
		case OPT_READY:
			cli->ready = optarg;
			break;
		case 'e':
			if (strchr(optarg, '=') == NULL || optarg[0] == '=')
				usage_error("-e: expected KEY=VALUE, got \"%s\"", optarg);
			/* As [env] in the file: what --check prints must load. */
			if (!valid_env_name(optarg, strcspn(optarg, "=")))
				usage_error("-e: bad environment variable name in \"%s\" "
				    "(letters, digits and _, not a digit first)", optarg);
			strv_push(&cli->env, xstrdup(optarg));
			break;
		case 'u':
			cli->user = optarg;
			break;
		case 'd':
			cli->directory = optarg;
			break;
		case OPT_SUBREAPER:
			cli->subreaper = 1;
			break;
		case OPT_CHECK:
			cli->check = 1;
			break;
		case OPT_REUSEPORT:
			cli->reuseport = 1;
			break;
		case OPT_BIND_SHIM:
			cli->bind_shim = 1;
			break;
		case OPT_CGROUPS:
			if (strcmp(optarg, "auto") == 0)
				cli->cgroups = CGROUPS_AUTO;
			else if (strcmp(optarg, "yes") == 0)
				cli->cgroups = CGROUPS_YES;
			else if (strcmp(optarg, "no") == 0)
				cli->cgroups = CGROUPS_NO;
			else
				usage_error("--cgroups: expected auto, yes or no, got \"%s\"",
				    optarg);
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "text") == 0)
				cli->log_format = LOG_FMT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				cli->log_format = LOG_FMT_JSON;
			else
				usage_error("--log-format: expected text or json, got \"%s\"",
				    optarg);
			break;
		case 'q':
			cli->verbosity = -1;
			break;
		case 'v':
			cli->verbosity = 1;
			break;
		case 'V':
			printf("clusterd %s\n", upgrade_version());
			exit(0);
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case ':':
			usage_error("%s: missing argument", argv[optind - 1]);
		default:
			if (optopt) {
				char opt[3] = { '-', (char)optopt, '\0' };

				usage_error("%s: unknown option", opt);
			}
			usage_error("%s: unknown option", argv[optind - 1]);
		}
	}
	for (int i = optind; i < argc; i++)
		strv_push(&cli->argv, xstrdup(argv[i]));
}

void
cli_free(struct cli *cli)
{
	strv_free(&cli->listen);
	strv_free(&cli->env);
	strv_free(&cli->argv);
}

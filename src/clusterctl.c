/*
 * clusterctl: send one request to clusterd's control socket, print the
 * reply, exit with its code (contract §5; the protocol is in clusterctl(8)).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctlpath.h"
#include "ctlproto.h"
#include "util.h"
#include "values.h"

#define EXIT_UNREACHABLE	4
#define HEADER_MAX		4096
#define DEFAULT_TIMEOUT		10.0	/* s; reload and restart wait forever */
#define UPGRADE_TIMEOUT		60.0	/* s: the new binary's check has 10 */

static const char usage_text[] =
"usage: clusterctl [-s CTLSOCK] [-N NAME] [-t TIMEOUT] COMMAND [ARG...]\n"
"\n"
"Control a running clusterd through its control socket.\n"
"\n"
"Commands:\n"
"  status [--json]     workers, sockets and generation (exit 3: degraded)\n"
"  metrics [--openmetrics]\n"
"                      clusterd's metrics in the Prometheus text format\n"
"  reload              reload the configuration file, wait until applied\n"
"  restart             rolling restart of all workers, wait until done\n"
"  scale N             run N workers\n"
"  stop                stop the workers and clusterd\n"
"  signal SIG [ID]     send SIG to every worker, or to slot ID's workers\n"
"  upgrade [PATH]      replace clusterd by PATH (default: its own binary)\n"
"                      in place: same pid, sockets and workers\n"
"\n"
"Options:\n"
"  -s, --control=PATH  control socket (default: $CLUSTERD_CONTROL, else\n"
"                      the default path, see clusterctl(8))\n"
"  -N, --name=NAME     talk to the clusterd with [clusterd] name = NAME\n"
"  -t, --timeout=DUR   give up waiting after DUR (default 10s; reload and\n"
"                      restart wait until done); 0: wait forever\n"
"  -V, --version       print the version and exit\n"
"  -h, --help          print this help and exit\n"
"\n"
"Exit status: 0 ok, 1 failed, 2 bad request, 3 degraded, 4 unreachable.\n";

static const char *ctlpath;	/* for messages */

static void __attribute__((noreturn, format(printf, 2, 3)))
die(int status, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "clusterctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (status == 2)
		fprintf(stderr, "Try 'clusterctl --help'.\n");
	exit(status);
}

/* The request line for argv (command first); returns the default timeout. */
static double
build_request(int argc, char **argv, char *line, size_t len)
{
	struct ctl_req req;
	char err[256];

	char abs[PATH_MAX];

	/* upgrade PATH: as the user means it, from this directory. */
	if (argc == 2 && strcmp(argv[0], "upgrade") == 0 && argv[1][0] != '/' &&
	    argv[1][0] != '\0') {
		if (realpath(argv[1], abs) == NULL)
			die(1, "upgrade: %s: %s", argv[1], strerror(errno));
		argv[1] = abs;
	}
	if (argc == 2 && strcmp(argv[0], "upgrade") == 0 && strpbrk(argv[1], " \t\n"))
		die(2, "upgrade: a path with a blank cannot be sent: use a symlink");
	if (ctl_parse_words(argc, argv, &req, err, sizeof(err)) == -1)
		die(2, "%s", err);
	if ((size_t)ctl_format(&req, line, len) >= len)
		die(2, "request too long");	/* cannot happen: the longest is short */
	return req.cmd == CTL_RELOAD || req.cmd == CTL_RESTART ? 0 :
	    req.cmd == CTL_UPGRADE ? UPGRADE_TIMEOUT : DEFAULT_TIMEOUT;
}

static int
ctl_connect(const char *path, double timeout)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (timeout > 0) {
		/* Bounds a connect() that waits for room in a full backlog. */
		struct timeval tv = { (time_t)timeout,
		    (suseconds_t)((timeout - floor(timeout)) * 1e6) };

		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int e = errno == EAGAIN ? ETIMEDOUT : errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* read() that gives up at deadline (0: never); a reset reads as EOF. */
static ssize_t
read_until(int fd, char *buf, size_t len, double deadline, double timeout)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char dur[32];
	ssize_t r;

	for (;;) {
		int ms = -1;

		if (deadline > 0) {
			double left = deadline - mono_now();

			ms = left > 0 ? (int)ceil(left * 1000) : 0;
		}
		r = poll(&pfd, 1, ms);
		if (r == 0) {
			format_duration(dur, sizeof(dur), timeout);
			die(EXIT_UNREACHABLE, "timed out after %s waiting for "
			    "clusterd at %s", dur, ctlpath);
		}
		if (r == 1 && (r = read(fd, buf, len)) >= 0)
			return r;
		/* Closed with our request unread (a refused peer): EOF. */
		if (errno == ECONNRESET)
			return 0;
		if (errno != EINTR && errno != EAGAIN)
			die(EXIT_UNREACHABLE, "reading the reply of clusterd "
			    "at %s: %s", ctlpath, strerror(errno));
	}
}

/*
 * Read "CODE MESSAGE\n" and the body up to EOF.  The body goes to stdout
 * as it comes; MESSAGE to stderr before it unless CODE is 0, else to stdout
 * when there was no body.  Returns CODE.
 */
static int
read_reply(int fd, double timeout, int senderr)
{
	char buf[HEADER_MAX], msg[HEADER_MAX];
	double deadline = timeout > 0 ? mono_now() + timeout : 0;
	size_t have = 0, body = 0, msglen;
	const char *m;
	ssize_t r, hlen;
	int code;

	while ((hlen = ctl_reply_header(buf, have, &code, &m, &msglen)) <= 0) {
		if (hlen == -1 || have == sizeof(buf)) {
			char *nl = memchr(buf, '\n', have);

			die(EXIT_UNREACHABLE, "malformed reply from clusterd "
			    "at %s: \"%.*s\"", ctlpath,
			    (int)(nl ? nl - buf : (int)(have < 80 ? have : 80)), buf);
		}
		if ((r = read_until(fd, buf + have, sizeof(buf) - have,
		    deadline, timeout)) == 0) {
			if (have == 0 && senderr)
				die(EXIT_UNREACHABLE, "cannot reach clusterd "
				    "at %s: %s", ctlpath, strerror(senderr));
			if (have > 0)
				die(EXIT_UNREACHABLE, "reply from clusterd "
				    "at %s cut short", ctlpath);
			die(EXIT_UNREACHABLE, "clusterd at %s closed the "
			    "connection without a reply", ctlpath);
		}
		have += r;
	}
	memcpy(msg, m, msglen);
	msg[msglen] = '\0';
	if (code != 0)
		fprintf(stderr, "clusterctl: %s\n", msg);
	have -= (size_t)hlen;
	memmove(buf, buf + hlen, have);
	do {
		if (have > 0 && fwrite(buf, 1, have, stdout) != have)
			break;
		body += have;
	} while ((have = read_until(fd, buf, sizeof(buf), deadline,
	    timeout)) > 0);
	if (code == 0 && body == 0 && msglen > 0)
		printf("%s\n", msg);
	if (fflush(stdout) == EOF)
		die(EXIT_UNREACHABLE, "standard output: %s", strerror(errno));
	return code;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "control",	required_argument, NULL, 's' },
		{ "name",	required_argument, NULL, 'N' },
		{ "timeout",	required_argument, NULL, 't' },
		{ "version",	no_argument,	   NULL, 'V' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char req[CTL_LINE_MAX + 1], path[PATH_MAX], err[256];
	const char *name = NULL;
	double timeout = -1, deftimeout;
	int c, fd, senderr = 0;
	size_t len;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:s:N:t:Vh", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 's':
			if (*optarg == '\0')
				die(2, "-s: empty path");
			ctlpath = optarg;
			break;
		case 'N':
			if (!ctl_valid_name(optarg))
				die(2, "-N: bad name \"%s\" (letters, digits, "
				    "_ . -)", optarg);
			name = optarg;
			break;
		case 't':
			if (parse_duration(optarg, &timeout) == -1)
				die(2, "-t: bad duration \"%s\" (e.g. 500ms, "
				    "30s, 5m)", optarg);
			break;
		case 'V':
			printf("clusterctl %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case ':':
			die(2, "%s: missing argument", argv[optind - 1]);
		default:
			if (optopt)
				die(2, "-%c: unknown option", optopt);
			die(2, "%s: unknown option", argv[optind - 1]);
		}
	}
	if (optind == argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	deftimeout = build_request(argc - optind, argv + optind, req,
	    sizeof(req));
	if (timeout < 0)
		timeout = deftimeout;

	/* -s, then -N (the command line wins), then the environment. */
	if (ctlpath == NULL && name == NULL &&
	    (ctlpath = getenv("CLUSTERD_CONTROL")) != NULL && *ctlpath == '\0')
		ctlpath = NULL;
	if (ctlpath == NULL) {
		if (ctl_default_path(name, path, sizeof(path), 0, err,
		    sizeof(err)) == -1)
			die(EXIT_UNREACHABLE, "%s", err);
		ctlpath = path;
	}
	if ((fd = ctl_connect(ctlpath, timeout)) == -1)
		die(EXIT_UNREACHABLE, "cannot reach clusterd at %s: %s",
		    ctlpath, strerror(errno));
	/* A peer that was refused may close first: read its answer anyway. */
	len = strlen(req);
	if (send(fd, req, len, MSG_NOSIGNAL) == -1)
		senderr = errno;
	return read_reply(fd, timeout, senderr);
}

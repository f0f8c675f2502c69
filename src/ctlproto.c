/*
 * The control protocol's text: request lines in, reply headers out. No
 * I/O here (see control.c and clusterctl.c for the sockets); every input
 * is untrusted, and fuzz/fuzz-control.c holds these functions to that.
 */
#include <stdio.h>
#include <string.h>

#include "ctlproto.h"
#include "values.h"

#define MAX_WORDS	4	/* the longest request plus one, to see extras */

static const char usage[] =
    "(status, reload, restart, scale N, stop, signal SIG [ID], upgrade [PATH], metrics [--openmetrics])";

const char *const ctl_cmd_names[CTL_NCMD] = {
	[CTL_STATUS] = "status", [CTL_RELOAD] = "reload", [CTL_RESTART] = "restart",
	[CTL_SCALE] = "scale", [CTL_STOP] = "stop", [CTL_SIGNAL] = "signal",
	[CTL_UPGRADE] = "upgrade", [CTL_METRICS] = "metrics",
};

/* A printable prefix of s for a message: the log and the terminal stay readable. */
static const char *
shown(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i < len - 1; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

int
ctl_take_line(char *buf, size_t len, char **line, const char **err)
{
	char *nl = memchr(buf, '\n', len);

	if (nl == NULL || (size_t)(nl - buf) > CTL_LINE_MAX) {
		if (len <= CTL_LINE_MAX)
			return 0;
		*err = "request too long";
		return -1;
	}
	if (memchr(buf, '\0', (size_t)(nl - buf)) != NULL) {
		*err = "unknown command (NUL byte in request)";
		return -1;
	}
	*nl = '\0';
	if (nl > buf && nl[-1] == '\r')
		nl[-1] = '\0';
	*line = buf;
	return 1;
}

/* Say that argv[0] takes between min and max arguments, if it does not. */
static int
nargs(int argc, char **argv, int min, int max, char *err, size_t errlen)
{
	char a[40];

	if (argc - 1 < min)
		snprintf(err, errlen, "%s: missing argument", argv[0]);
	else if (argc - 1 > max)
		snprintf(err, errlen, "%s: unexpected argument \"%s\"", argv[0],
		    shown(argv[max + 1], a, sizeof(a)));
	else
		return 0;
	return -1;
}

int
ctl_parse_words(int argc, char **argv, struct ctl_req *req, char *err, size_t errlen)
{
	const char *cmd = argv[0];
	char a[40];

	memset(req, 0, sizeof(*req));
	req->id = -1;
	if (argc == 0) {
		snprintf(err, errlen, "empty request");
		return -1;
	}
	if (strcmp(cmd, "status") == 0) {
		req->cmd = CTL_STATUS;
		if (nargs(argc, argv, 0, 1, err, errlen) == -1)
			return -1;
		if (argc == 2 && strcmp(argv[1], "json") != 0 &&
		    strcmp(argv[1], "--json") != 0) {
			snprintf(err, errlen, "status: unexpected argument \"%s\" "
			    "(--json)", shown(argv[1], a, sizeof(a)));
			return -1;
		}
		req->json = argc == 2;
		return 0;
	}
	if (strcmp(cmd, "metrics") == 0) {
		req->cmd = CTL_METRICS;
		if (nargs(argc, argv, 0, 1, err, errlen) == -1)
			return -1;
		if (argc == 2 && strcmp(argv[1], "openmetrics") != 0 &&
		    strcmp(argv[1], "--openmetrics") != 0) {
			snprintf(err, errlen, "metrics: unexpected argument \"%s\" "
			    "(--openmetrics)", shown(argv[1], a, sizeof(a)));
			return -1;
		}
		req->openmetrics = argc == 2;
		return 0;
	}
	if (strcmp(cmd, "reload") == 0 || strcmp(cmd, "restart") == 0 ||
	    strcmp(cmd, "stop") == 0) {
		req->cmd = cmd[0] == 's' ? CTL_STOP : cmd[2] == 'l' ? CTL_RELOAD :
		    CTL_RESTART;
		return nargs(argc, argv, 0, 0, err, errlen);
	}
	if (strcmp(cmd, "scale") == 0) {
		req->cmd = CTL_SCALE;
		if (nargs(argc, argv, 1, 1, err, errlen) == -1)
			return -1;
		int lo, hi;

		if (parse_workers(argv[1], CTL_SCALE_MAX, &lo, &hi) == -1) {
			snprintf(err, errlen, "scale: bad number \"%s\" (0-%d, or a range "
			    "MIN..MAX from 1, MIN below MAX)", shown(argv[1], a, sizeof(a)),
			    CTL_SCALE_MAX);
			return -1;
		}
		req->n = lo;
		req->hi = hi > 0 ? hi : 0;
		return 0;
	}
	if (strcmp(cmd, "signal") == 0) {
		req->cmd = CTL_SIGNAL;
		if (nargs(argc, argv, 1, 2, err, errlen) == -1)
			return -1;
		if (parse_signal(argv[1], &req->sig) == -1) {
			snprintf(err, errlen, "signal: unknown signal \"%s\"",
			    shown(argv[1], a, sizeof(a)));
			return -1;
		}
		if (argc == 3 && parse_long(argv[2], 0, CTL_ID_MAX, &req->id) == -1) {
			snprintf(err, errlen, "signal: bad worker id \"%s\" (0-%d)",
			    shown(argv[2], a, sizeof(a)), CTL_ID_MAX);
			return -1;
		}
		return 0;
	}
	if (strcmp(cmd, "upgrade") == 0) {
		req->cmd = CTL_UPGRADE;
		if (nargs(argc, argv, 0, 1, err, errlen) == -1)
			return -1;
		/* clusterd has its own working directory; a word has no blank. */
		if (argc == 2 && argv[1][0] != '/') {
			snprintf(err, errlen, "upgrade: \"%s\" is not an absolute path",
			    shown(argv[1], a, sizeof(a)));
			return -1;
		}
		req->path = argc == 2 ? argv[1] : NULL;
		return 0;
	}
	snprintf(err, errlen, "unknown command \"%s\" %s",
	    shown(cmd, a, sizeof(a)), usage);
	return -1;
}

int
ctl_parse(char *line, struct ctl_req *req, char *err, size_t errlen)
{
	char *argv[MAX_WORDS], *save = NULL;
	int argc = 0;

	for (char *w = strtok_r(line, " \t", &save); w && argc < MAX_WORDS;
	    w = strtok_r(NULL, " \t", &save))
		argv[argc++] = w;
	return ctl_parse_words(argc, argv, req, err, errlen);
}

int
ctl_format(const struct ctl_req *req, char *buf, size_t len)
{
	switch (req->cmd) {
	case CTL_STATUS:
		return snprintf(buf, len, "status%s\n", req->json ? " json" : "");
	case CTL_RELOAD:
		return snprintf(buf, len, "reload\n");
	case CTL_RESTART:
		return snprintf(buf, len, "restart\n");
	case CTL_STOP:
		return snprintf(buf, len, "stop\n");
	case CTL_METRICS:
		return snprintf(buf, len, "metrics%s\n", req->openmetrics ? " openmetrics" : "");
	case CTL_SCALE:
		if (req->hi > 0)
			return snprintf(buf, len, "scale %ld..%ld\n", req->n, req->hi);
		return snprintf(buf, len, "scale %ld\n", req->n);
	case CTL_UPGRADE:
		return snprintf(buf, len, "upgrade%s%s\n", req->path ? " " : "",
		    req->path ? req->path : "");
	case CTL_SIGNAL:
		break;
	}
	/* By name as clusterd logs it, by number where it has none (SIGRTMIN+n). */
	const char *name = signal_name(req->sig);
	char num[16];

	if (strcmp(name, "?") == 0) {
		snprintf(num, sizeof(num), "%d", req->sig);
		name = num;
	}
	if (req->id >= 0)
		return snprintf(buf, len, "signal %s %ld\n", name, req->id);
	return snprintf(buf, len, "signal %s\n", name);
}

ssize_t
ctl_reply_header(const char *buf, size_t len, int *code, const char **msg,
    size_t *msglen)
{
	const char *nl = memchr(buf, '\n', len);

	if (len >= 1 && (buf[0] < '0' || buf[0] > '3'))
		return -1;
	if (len >= 2 && buf[1] != ' ' && buf[1] != '\n')
		return -1;
	if (nl == NULL)
		return 0;
	*code = buf[0] - '0';
	*msg = buf + 2;
	*msglen = buf[1] == ' ' ? (size_t)(nl - buf - 2) : 0;
	return nl - buf + 1;
}

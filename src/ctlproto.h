/*
 * The control protocol's text (clusterctl(8), PROTOCOL), apart from any
 * socket: the request line as clusterd reads it and clusterctl writes it,
 * and the reply's header line. clusterd, clusterctl and the fuzz target
 * share these, so the two ends cannot disagree.
 */
#ifndef CLUSTERD_CTLPROTO_H
#define CLUSTERD_CTLPROTO_H

#include <stddef.h>
#include <sys/types.h>

#define CTL_LINE_MAX	1024	/* bytes of a request, without its newline */
#define CTL_SCALE_MAX	100000
#define CTL_ID_MAX	1000000

enum ctl_cmd { CTL_STATUS, CTL_RELOAD, CTL_RESTART, CTL_SCALE, CTL_STOP, CTL_SIGNAL,
	CTL_UPGRADE, CTL_METRICS };
#define CTL_NCMD	(CTL_METRICS + 1)

/* The commands' words, by enum ctl_cmd. */
extern const char *const ctl_cmd_names[CTL_NCMD];

struct ctl_req {
	enum ctl_cmd	 cmd;
	int		 json;	/* status */
	int		 openmetrics;	/* metrics: OpenMetrics, not the text format */
	long		 n;	/* scale: workers, or a range's low end */
	long		 hi;	/* scale MIN..MAX: its high end; 0: a count */
	int		 sig;	/* signal */
	long		 id;	/* signal: the slot, -1 for all */
	const char	*path;	/* upgrade: the new binary (absolute), or NULL;
				 * points into the words parsed */
};

/*
 * Find the request line in the len bytes read so far (buf has room for
 * one more). 1: *line is it, NUL-terminated, without CR LF; 0: read more;
 * -1: refused before parsing, *err says why (too long, a NUL byte).
 */
int	 ctl_take_line(char *buf, size_t len, char **line, const char **err);
/* A request line (split at blanks, modified) or words (clusterctl's
 * arguments) to a request; -1 with a message for the user in err. */
int	 ctl_parse(char *line, struct ctl_req *, char *err, size_t errlen);
int	 ctl_parse_words(int argc, char **argv, struct ctl_req *, char *err,
	    size_t errlen);
/* The request line for req, with its newline; its length, as snprintf. */
int	 ctl_format(const struct ctl_req *, char *buf, size_t len);
/*
 * The reply header "CODE MESSAGE\n" at the start of the len bytes of buf:
 * its length with the newline (the body follows), 0 when it is not all
 * there yet, -1 when it is malformed. msg and msglen point into buf.
 */
ssize_t	 ctl_reply_header(const char *buf, size_t len, int *code,
	    const char **msg, size_t *msglen);

#endif

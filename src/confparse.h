/*
 * One parse of the config (config.c), shared by the modules that build a
 * struct config: conffile.c reads the file's lines, config.c gives them
 * meaning, merge.c lays the command line over the result.
 */
#ifndef CLUSTERD_CONFPARSE_H
#define CLUSTERD_CONFPARSE_H

#include <stdio.h>
#include <sys/types.h>

#include "cli.h"
#include "config.h"

/* The state of one parse: where we are and what was already set where. */
struct parse {
	struct config	*cfg;
	const char	*file;
	FILE		*fp;
	char		*buf;		/* the line read, cut to what a valid line holds */
	size_t		 bufcap;
	int		 line;
	int		 cont;		/* this line continues the previous value */
	int		 have_key;	/* inih's prev_name is set */
	int		 section_line;
	/* Where each key was set, or 0: a row per section, each socket's
	 * at sock_seen + i * nsocket_keys. */
	int		*clusterd_seen;
	int		*program_seen;
	int		*sock_seen;
	size_t		 nsock_seen;
	size_t		 last_sock;	/* index of the last [socket:] handled */
	int		*env_line;	/* line of each [env] entry */
	size_t		 nenv_line;
	int		 command_line;
	struct strv	 errors;
	unsigned long	 more_errors;	/* past MAX_ERRORS: counted, not kept */
	int		 gave_up;	/* line where reading stopped, or 0 */
	int		 cli_errors;	/* some came from options: show the hint */
	const char	*text;		/* read this instead of the file (an upgrade) */
	size_t		 textlen;
};

/* Collect "FILE:LINE: message" (or "FILE: message" for line 0, or the bare
 * message for the command line, where file is NULL). */
void	perr(struct parse *, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int	valid_name(const char *);
struct sock_cfg *sock_add(struct config *, const char *name, const char *file, int line);
ssize_t	sock_find(const struct config *, const char *name);
int	set_ready(struct parse *, struct program_cfg *, const char *);

#endif

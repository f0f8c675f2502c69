/*
 * Internal to the modules that build a struct config: config.c reads the
 * INI file, merge.c lays the command line over it and checks the result,
 * check.c prints it for --check.
 */
#ifndef CLUSTERD_CONFPARSE_H
#define CLUSTERD_CONFPARSE_H

#include <stdio.h>
#include <sys/types.h>

#include "config.h"

#define NCLUSTERD_KEYS	11
#define NSOCKET_KEYS	14
#define NPROGRAM_KEYS	17

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
	int		 clusterd_seen[NCLUSTERD_KEYS];
	int		 program_seen[NPROGRAM_KEYS];
	int		 (*sock_seen)[NSOCKET_KEYS];
	size_t		 nsock_seen;
	size_t		 last_sock;	/* index of the last [socket:] handled */
	int		*env_line;	/* line of each [env] entry */
	size_t		 nenv_line;
	int		 command_line;
	struct strv	 errors;
	unsigned long	 more_errors;	/* past MAX_ERRORS: counted, not kept */
	int		 gave_up;	/* line where reading stopped, or 0 */
	int		 cli_errors;	/* some came from options: show the hint */
};

/* Collect "FILE:LINE: message" (or "FILE: message" for line 0, or the bare
 * message for the command line, where file is NULL). */
void	perr(struct parse *, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* conffile.c: open the file (a regular one, without blocking), read it
 * through conf_reader (inih's ini_parse_stream reader), close it. */
int	conf_open(struct parse *, const char *path);
char	*conf_reader(char *str, int num, void *arg);
void	conf_close(struct parse *);
int	valid_name(const char *);
struct sock_cfg *sock_add(struct config *, const char *name, const char *file, int line);
ssize_t	sock_find(const struct config *, const char *name);
int	set_ready(struct parse *, struct program_cfg *, const char *);
void	merge_cli(struct parse *, const struct cli *);
void	merge_check(struct parse *, const struct cli *);

#endif

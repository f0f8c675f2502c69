/*
 * Internal to the modules that build a struct config: confkeys.c holds the
 * table of keys, config.c reads the INI file through it, merge.c lays the
 * command line over it and checks the result, check.c prints it for
 * --check.
 */
#ifndef CLUSTERD_CONFPARSE_H
#define CLUSTERD_CONFPARSE_H

#include <stdio.h>
#include <sys/types.h>

#include "config.h"

/* What a key's value is: how it is read, printed, compared and freed. */
enum ktype {
	K_INT,		/* int, within min..max */
	K_LONG,		/* long, within min..max */
	K_BOOL,		/* int: yes 1, no 0, unset -1 */
	K_DURATION,	/* double seconds, unset < 0 */
	K_STRING,	/* char *, not empty, unset NULL */
	K_SIGNAL,	/* int signal number */
	K_OCTAL,	/* int mode, up to max, unset -1 */
	K_SIZE,		/* int bytes, k/m/g suffixes, unset -1 */
	K_ENUM,		/* int, one of names */
	K_READY,	/* struct program_cfg's ready and ready_delay */
	K_COMMAND,	/* struct program_cfg's command, compared as argv */
	K_COMPAT,	/* unsigned enum compat bits */
	K_LISTEN,	/* struct sock_cfg's listen and addr */
};

/* One word of a K_ENUM key; a value given twice is an alias, read but
 * never printed or offered. */
struct kname {
	const char	*name;
	int		 value;
};

#define KF_OFF_ZERO	0x1	/* a duration where 0 is off: not printed */
#define KF_ON_OFF	0x2	/* a K_BOOL whose unset is off: unset equals no */

/*
 * One config key. Everything that goes key by key reads its row: the
 * defaults and the parser (config.c), --check (check.c), freeing and the
 * reload diff (confkeys.c).
 */
struct key {
	const char	*name;
	enum ktype	 type;
	size_t		 off;		/* in struct config, sock_cfg or program_cfg */
	enum key_effect	 effect;	/* of a change, on reload */
	const char	*def;		/* default, as the file would say it; NULL: unset */
	long		 min, max;	/* K_INT, K_LONG: bounds; K_OCTAL: max */
	const struct kname *names;	/* K_ENUM: its words, ending in NULL */
	const char	*hint;		/* K_ENUM: the words, for messages */
	unsigned	 flags;		/* KF_* */
};

/* The rows of [clusterd], of each [socket:NAME] and of [program], in the
 * order --check prints them. */
extern const struct key clusterd_keys[], socket_keys[], program_keys[];
extern const size_t nclusterd_keys, nsocket_keys, nprogram_keys;

/* Free what a row's value owns (strings), in the struct at base. */
void	key_free(const struct key *, void *base);

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

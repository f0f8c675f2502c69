/*
 * The config keys, one row each (confkeys.c): everything that goes key by
 * key reads its row: the defaults and the parser (config.c), --check
 * (check.c), freeing and the reload diff (confkeys.c).
 */
#ifndef CLUSTERD_CONFKEYS_H
#define CLUSTERD_CONFKEYS_H

#include <stddef.h>

#include "config.h"

/* What a change of a key does on reload, weakest first: LIVE applies to
 * what happens next, WORKERS replaces the workers by a rolling restart,
 * CLUSTERD waits until clusterd itself restarts. */
enum key_effect { EFFECT_NONE, EFFECT_LIVE, EFFECT_WORKERS, EFFECT_CLUSTERD };

/* Compare two configs key by key; for each key whose value differs, call
 * fn (if not NULL) with the key's name as written in a file
 * ("stop_timeout", "command", "env"; "socket:NAME" for a socket added,
 * removed or moved, "socket:NAME KEY" for one of its keys) and its effect.
 * Returns the strongest effect (EFFECT_NONE when equal). */
enum key_effect config_diff(const struct config *old, const struct config *new,
    void (*fn)(const char *key, enum key_effect, void *arg), void *arg);
/* What a key's value is: how it is read, printed, compared and freed. */
enum ktype {
	K_INT,		/* int, within min..max */
	K_WORKERS,	/* int N or MIN..MAX: the int at off, the range's high end
			 * (or -1) in the int after it */
	K_LONG,		/* long, within min..max */
	K_BOOL,		/* int: yes 1, no 0, unset -1 */
	K_DURATION,	/* double seconds, unset < 0 */
	K_STRING,	/* char *, not empty, unset NULL */
	K_SIGNAL,	/* int signal number */
	K_OCTAL,	/* int mode, up to max, unset -1 */
	K_SIZE,		/* int bytes, k/m/g suffixes, unset -1 */
	K_BYTES,	/* long long bytes, k/m/g/t suffixes, unset -1 */
	K_ENUM,		/* int, one of names */
	K_READY,	/* struct program_cfg's ready and ready_delay */
	K_COMMAND,	/* struct program_cfg's command, compared as argv */
	K_COMPAT,	/* unsigned enum compat bits */
	K_LISTEN,	/* struct sock_cfg's listen and addr */
	K_ADDR,		/* char *, a stream address addr_parse() reads, unset NULL */
};

/* One word of a K_ENUM key; a value given twice is an alias, read but
 * never printed or offered. */
struct kname {
	const char	*name;
	int		 value;
};

#define KF_OFF_ZERO	0x1	/* a duration where 0 is off: not printed */
#define KF_ON_OFF	0x2	/* a K_BOOL whose unset is off: unset equals no */
#define KF_PERCENT	0x4	/* a K_INT written with a %: "150%" */

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

#endif

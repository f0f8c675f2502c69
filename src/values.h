/* Parsing and printing of the value types that the config file and the
 * command line share: durations, signals, numbers, booleans, commands. */
#ifndef CLUSTERD_VALUES_H
#define CLUSTERD_VALUES_H

#include <stddef.h>

#include "strv.h"

int	 parse_duration(const char *, double *out);
void	 format_duration(char *buf, size_t len, double secs);
int	 parse_signal(const char *, int *out);
const char *signal_name(int sig);
int	 parse_long(const char *, long min, long max, long *out);
/* A worker count, N, or a range MIN..MAX (1 <= MIN < MAX <= max): *hi is
 * -1 for a count. */
int	 parse_workers(const char *, long max, int *lo, int *hi);
void	 workers_format(char *, size_t, int lo, int hi);
int	 parse_octal(const char *, long max, long *out);
int	 parse_size(const char *, long *out);	/* bytes, k/m/g suffixes */
int	 parse_bool(const char *, int *out);
int	 parse_bytes(const char *, long long *out);	/* k/m/g/t: 1024^n */
void	 format_bytes(char *buf, size_t len, long long);	/* "150M" */
/* Split a command into words: 'literal', "with \\escapes", \\x; no shell. */
int	 split_command(const char *, struct strv *out, char *err, size_t errlen);
/* Quote one word so split_command() gives it back unchanged. */
char	*quote_word(const char *);
/* An environment variable name as systemd takes one: [A-Za-z_][A-Za-z0-9_]*,
 * the first len bytes of s. */
int	 valid_env_name(const char *s, size_t len);
/* Levenshtein distance, for "did you mean". */
size_t	 edit_distance(const char *, const char *);

#endif

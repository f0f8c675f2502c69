/*
 * What clusterd carries across an exec of itself (upgrade.c): records of
 * KEY=VALUE fields in a sealed memfd, and the descriptors they name.
 *
 *   clusterd-state FORMAT
 *   KIND key=value key=value ...
 *   ...
 *   end records=N
 *
 * Values are %XX-escaped, so a record is one line. A reader ignores what
 * it does not know (a newer writer's fields and kinds), except a kind
 * written with a leading '!': that one it must understand or refuse the
 * whole state. Each descriptor is written as fd:dev:ino and checked on the
 * way in, so a number that names another file is never used.
 */
#ifndef CLUSTERD_STATE_H
#define CLUSTERD_STATE_H

#include <stddef.h>

/*
 * The formats this clusterd writes and reads: it writes whichever of them
 * the new binary reads (upgrade.c asks it first), so an upgrade to the
 * previous release, which reads one format less, still works. A new
 * format is for a change a reader cannot skip; new fields and records do
 * not need one. The test build t/fmt2/clusterd reads and writes a format
 * 2 of its own, to test just that.
 */
#ifdef CLUSTERD_TEST_FORMAT2
#define STATE_FORMAT		2
#else
#define STATE_FORMAT		1
#endif
#define STATE_FORMAT_OLDEST	1

struct state_out;

struct state_out *state_out_new(int format);
int	state_out_format(const struct state_out *);
/* Begin a record; the fields that follow belong to it. */
void	state_rec(struct state_out *, const char *kind);
void	state_str(struct state_out *, const char *key, const char *v);	/* NULL: none */
void	state_int(struct state_out *, const char *key, long long v);
void	state_dbl(struct state_out *, const char *key, double v);
void	state_bytes(struct state_out *, const char *key, const void *, size_t);
/* A descriptor that must survive the exec: it is kept open without
 * CLOEXEC by upgrade.c (-1: none, not written). */
void	state_fd(struct state_out *, const char *key, int fd);
/* The sealed memfd holding it all (CLOEXEC set), or -1 with err. */
int	state_out_finish(struct state_out *, char *err, size_t len);
/* The descriptors named, for upgrade.c to keep across the exec. */
const int *state_out_fds(const struct state_out *, size_t *n);
void	state_out_free(struct state_out *);

struct state_field {
	char	*key;
	char	*val;
	size_t	 len;		/* of val, which may hold NULs */
};

struct state_rec {
	char	*kind;		/* without the '!' */
	struct state_field *f;
	size_t	 nf;
	size_t	 first;		/* f's index in the state's fields */
	int	 line;
};

/* Records and fields point into the text read, which the state keeps: a
 * state of 1000 workers is a few allocations, not tens of thousands. */
struct state_in {
	int	 format;
	struct state_rec *r;
	size_t	 n;
	struct state_field *fields;
	size_t	 nfields;
	char	*text;
};

/* Read and check a whole state; -1 with err ("line N: ..."). known: the
 * kinds this reader understands, NULL-terminated, for '!' records. */
int	state_in_read(struct state_in *, int fd, const char *const *known, char *err,
	    size_t len);
void	state_in_free(struct state_in *);
/* The next record of kind after *i (start with 0), or NULL. */
const struct state_rec *state_next(const struct state_in *, const char *kind, size_t *i);
const struct state_rec *state_first(const struct state_in *, const char *kind);
/* A field's value, or NULL (def) when absent. */
const char *rec_str(const struct state_rec *, const char *key);
long long rec_int(const struct state_rec *, const char *key, long long def);
double	rec_dbl(const struct state_rec *, const char *key, double def);
const struct state_field *rec_field(const struct state_rec *, const char *key);
/* A copy of a field's value, or NULL when absent. */
char	*rec_dup(const struct state_rec *, const char *key);
/* The index in names[n] of a field's value, or -1 (absent, unknown). */
int	rec_index(const struct state_rec *, const char *key, const char *const *names,
	    int n);
/* A descriptor field, checked to still be the file it was: the fd, or -1
 * (absent, closed, or another file). */
int	rec_fd(const struct state_rec *, const char *key);
/* The number any field holds as a descriptor, unchecked, or -1: not one. */
int	state_field_fd(const struct state_field *);

#endif

/* NULL-terminated string vectors (argv, envp) and allocation that cannot fail. */
#ifndef CLUSTERD_STRV_H
#define CLUSTERD_STRV_H

#include <stddef.h>

struct strv {
	char	**v;		/* always NULL-terminated once anything was pushed */
	size_t	  n;
	size_t	  cap;
};

void	 strv_push(struct strv *, char *owned);
void	 strv_pushf(struct strv *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void	 strv_free(struct strv *);
void	 strv_copy(struct strv *dst, const struct strv *src);
/* Index of the KEY=... entry in an environment vector, or -1. */
int	 strv_env_find(const struct strv *, const char *key, size_t keylen);
/* Set KEY=VALUE (given as one "KEY=VALUE" string), replacing an earlier KEY. */
void	 strv_env_set(struct strv *, char *owned_kv);
/* Drop every entry that starts with prefix. */
void	 strv_env_unset_prefix(struct strv *, const char *prefix);

/* A growing string buffer for replies. */
struct sbuf {
	char	*s;		/* NUL-terminated, or NULL while empty */
	size_t	 len;
	size_t	 cap;
};

void	 sbuf_printf(struct sbuf *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void	 sbuf_add(struct sbuf *, const char *, size_t);
void	 sbuf_free(struct sbuf *);
/* Send what a non-blocking socket takes of b from *off on: 1 all is out,
 * 0 the rest when it is writable again, -1 the peer is gone. */
int	 sbuf_send(int fd, const struct sbuf *, size_t *off);

/* Equal strings, where NULL equals only NULL. */
int	 str_equal(const char *, const char *);

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
/* Room for n elements of an array grown one at a time: doubles, so adding
 * 100,000 costs 15 copies, not 100,000. */
void	*xgrow(void *, size_t n, size_t size);
char	*xstrdup(const char *);
char	*xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

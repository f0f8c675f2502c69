#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "strv.h"

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal(1, "malloc");
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal(1, "calloc");
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	p = reallocarray(p, n ? n : 1, size ? size : 1);
	if (p == NULL)
		fatal(1, "realloc");
	return p;
}

static size_t
pow2cap(size_t n)
{
	size_t c = 8;

	while (c < n)
		c <<= 1;
	return c;
}

void *
xgrow(void *p, size_t n, size_t size)
{
	if (p != NULL && n > 1 && pow2cap(n) == pow2cap(n - 1))
		return p;
	return xreallocarray(p, pow2cap(n), size);
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatal(1, "strdup");
	return p;
}

static char * __attribute__((format(printf, 1, 0)))
xvasprintf(const char *fmt, va_list ap)
{
	char *p;

	if (vasprintf(&p, fmt, ap) == -1)
		fatal(1, "vasprintf");
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void
strv_push(struct strv *sv, char *owned)
{
	if (sv->n + 2 > sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 8;
		sv->v = xreallocarray(sv->v, sv->cap, sizeof(*sv->v));
	}
	sv->v[sv->n++] = owned;
	sv->v[sv->n] = NULL;
}

void
strv_pushf(struct strv *sv, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strv_push(sv, xvasprintf(fmt, ap));
	va_end(ap);
}

void
strv_free(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

void
strv_copy(struct strv *dst, const struct strv *src)
{
	for (size_t i = 0; i < src->n; i++)
		strv_push(dst, xstrdup(src->v[i]));
}

int
strv_env_find(const struct strv *sv, const char *key, size_t keylen)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strncmp(sv->v[i], key, keylen) == 0 && sv->v[i][keylen] == '=')
			return (int)i;
	return -1;
}

void
strv_env_set(struct strv *sv, char *kv)
{
	size_t keylen = strcspn(kv, "=");
	int i = strv_env_find(sv, kv, keylen);

	if (i >= 0) {
		free(sv->v[i]);
		sv->v[i] = kv;
	} else
		strv_push(sv, kv);
}

void
strv_env_unset_prefix(struct strv *sv, const char *prefix)
{
	size_t n = strlen(prefix), j = 0;

	for (size_t i = 0; i < sv->n; i++) {
		if (strncmp(sv->v[i], prefix, n) == 0)
			free(sv->v[i]);
		else
			sv->v[j++] = sv->v[i];
	}
	sv->n = j;
	if (sv->v)
		sv->v[j] = NULL;
}

void
sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xreallocarray(b->s, b->cap, 1);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	sbuf_add(b, p, strlen(p));
	free(p);
}

void
sbuf_free(struct sbuf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

int
sbuf_send(int fd, const struct sbuf *b, size_t *off)
{
	while (*off < b->len) {
		ssize_t n = send(fd, b->s + *off, b->len - *off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		*off += (size_t)n;
	}
	return 1;
}

int
str_equal(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

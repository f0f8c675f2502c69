/*
 * The state carried across an upgrade, as text: easy to read in a test or
 * a bug report, and a newer or older clusterd can skip what it does not
 * know. Format in state.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"
#include "strv.h"

struct state_out {
	int		 format;
	struct sbuf	 b;
	size_t		 nrec;
	int		*fds;
	size_t		 nfds;
};

struct state_out *
state_out_new(int format)
{
	struct state_out *o = xcalloc(1, sizeof(*o));

	o->format = format;
	sbuf_printf(&o->b, "clusterd-state %d", format);
	return o;
}

int
state_out_format(const struct state_out *o)
{
	return o->format;
}

void
state_rec(struct state_out *o, const char *kind)
{
	sbuf_printf(&o->b, "\n%s", kind);
	o->nrec++;
}

static void
put(struct state_out *o, const char *key, const void *v, size_t n)
{
	const unsigned char *p = v;

	sbuf_printf(&o->b, " %s=", key);
	for (size_t i = 0; i < n; i++) {
		if (p[i] <= ' ' || p[i] >= 0x7f || p[i] == '%' || p[i] == '=')
			sbuf_printf(&o->b, "%%%02X", p[i]);
		else
			sbuf_add(&o->b, (const char *)p + i, 1);
	}
}

void
state_str(struct state_out *o, const char *key, const char *v)
{
	if (v)
		put(o, key, v, strlen(v));
}

void
state_bytes(struct state_out *o, const char *key, const void *v, size_t n)
{
	put(o, key, v, n);
}

void
state_int(struct state_out *o, const char *key, long long v)
{
	sbuf_printf(&o->b, " %s=%lld", key, v);
}

void
state_dbl(struct state_out *o, const char *key, double v)
{
	/* %a reads back exactly. */
	sbuf_printf(&o->b, " %s=%a", key, v);
}

void
state_fd(struct state_out *o, const char *key, int fd)
{
	struct stat st;

	if (fd < 0 || fstat(fd, &st) == -1)
		return;
	sbuf_printf(&o->b, " %s=%d:%llu:%llu", key, fd, (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	o->fds = xgrow(o->fds, o->nfds + 1, sizeof(*o->fds));
	o->fds[o->nfds++] = fd;
}

int
state_out_finish(struct state_out *o, char *err, size_t len)
{
	const char *p;
	size_t left;
	int fd;

	sbuf_printf(&o->b, "\nend records=%zu\n", o->nrec);
	if ((fd = memfd_create("clusterd-state", MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1) {
		snprintf(err, len, "memfd_create: %s", strerror(errno));
		return -1;
	}
	for (p = o->b.s, left = o->b.len; left > 0;) {
		ssize_t n = write(fd, p, left);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, len, "writing the state: %s", strerror(errno));
			close(fd);
			return -1;
		}
		p += n;
		left -= (size_t)n;
	}
	/* Sealed: the new image reads exactly what was written. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK |
	    F_SEAL_SEAL) == -1 || lseek(fd, 0, SEEK_SET) == -1) {
		snprintf(err, len, "sealing the state: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

const int *
state_out_fds(const struct state_out *o, size_t *n)
{
	*n = o->nfds;
	return o->fds;
}

void
state_out_free(struct state_out *o)
{
	if (o == NULL)
		return;
	sbuf_free(&o->b);
	free(o->fds);
	free(o);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Unescape s in place; -1 on a bad escape. */
static int
unescape(char *s, size_t *len)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (*r != '%') {
			*w++ = *r;
			continue;
		}
		int hi = hexval(r[1]), lo = hi < 0 ? -1 : hexval(r[2]);

		if (hi < 0 || lo < 0)
			return -1;
		*w++ = (char)(hi << 4 | lo);
		r += 2;
	}
	*w = '\0';
	*len = (size_t)(w - s);
	return 0;
}

static int
known_kind(const char *const *known, const char *kind)
{
	for (; known && *known; known++)
		if (strcmp(*known, kind) == 0)
			return 1;
	return 0;
}

static char *
slurp(int fd, size_t *len)
{
	struct sbuf b = { 0 };
	char buf[65536];
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) == -1)
		return NULL;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			sbuf_free(&b);
			return NULL;
		}
		sbuf_add(&b, buf, (size_t)n);
	}
	*len = b.len;
	return b.s ? b.s : xstrdup("");
}

int
state_in_read(struct state_in *in, int fd, const char *const *known, char *err,
    size_t len)
{
	char *text, *line, *next;
	size_t tlen, nline = 0, seen = 0;
	int ended = 0;

	memset(in, 0, sizeof(*in));
	if ((text = slurp(fd, &tlen)) == NULL) {
		snprintf(err, len, "cannot read the state: %s", strerror(errno));
		return -1;
	}
	if (strlen(text) != tlen) {
		snprintf(err, len, "the state holds a NUL byte");
		goto fail;
	}
	for (line = text; line && *line; line = next) {
		struct state_rec *r;
		char *tok, *save;
		int crit;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		nline++;
		if (ended) {
			snprintf(err, len, "line %zu: text after the end", nline);
			goto fail;
		}
		if (nline == 1) {
			if (sscanf(line, "clusterd-state %d", &in->format) != 1) {
				snprintf(err, len, "not a clusterd state");
				goto fail;
			}
			if (in->format < STATE_FORMAT_OLDEST || in->format > STATE_FORMAT) {
				snprintf(err, len, "state format %d: this clusterd reads "
				    "formats %d to %d", in->format, STATE_FORMAT_OLDEST,
				    STATE_FORMAT);
				goto fail;
			}
			continue;
		}
		if ((tok = strtok_r(line, " ", &save)) == NULL) {
			snprintf(err, len, "line %zu: empty", nline);
			goto fail;
		}
		if (strcmp(tok, "end") == 0) {
			size_t said;

			ended = 1;
			if (save == NULL || sscanf(save, "records=%zu", &said) != 1 ||
			    said != seen) {
				snprintf(err, len, "line %zu: %zu records, not what the end "
				    "says (%s)", nline, seen, save ? save : "");
				goto fail;
			}
			continue;
		}
		seen++;
		if ((crit = tok[0] == '!'))
			tok++;
		if (!known_kind(known, tok)) {
			if (crit) {
				snprintf(err, len, "line %zu: this clusterd cannot carry "
				    "\"%s\" over", nline, tok);
				goto fail;
			}
			continue;
		}
		in->r = xgrow(in->r, in->n + 1, sizeof(*in->r));
		r = &in->r[in->n++];
		memset(r, 0, sizeof(*r));
		r->kind = tok;
		r->line = (int)nline;
		r->first = in->nfields;
		while ((tok = strtok_r(NULL, " ", &save)) != NULL) {
			char *eq = strchr(tok, '=');
			struct state_field *f;

			if (eq == NULL || eq == tok) {
				snprintf(err, len, "line %zu: \"%s\" is not KEY=VALUE",
				    nline, tok);
				goto fail;
			}
			/* In place: the text is the state's, for its life. */
			*eq = '\0';
			in->fields = xgrow(in->fields, in->nfields + 1, sizeof(*in->fields));
			f = &in->fields[in->nfields++];
			r->nf++;
			f->key = tok;
			f->val = eq + 1;
			if (unescape(f->val, &f->len) == -1) {
				snprintf(err, len, "line %zu: %s: bad %%XX escape", nline,
				    f->key);
				goto fail;
			}
		}
	}
	if (!ended) {
		snprintf(err, len, "the state is cut short (no end line)");
		goto fail;
	}
	for (size_t i = 0; i < in->n; i++)
		in->r[i].f = in->fields + in->r[i].first;
	in->text = text;
	return 0;
fail:
	free(text);
	state_in_free(in);
	return -1;
}

void
state_in_free(struct state_in *in)
{
	free(in->r);
	free(in->fields);
	free(in->text);
	memset(in, 0, sizeof(*in));
}

const struct state_rec *
state_next(const struct state_in *in, const char *kind, size_t *i)
{
	for (; *i < in->n; (*i)++)
		if (strcmp(in->r[*i].kind, kind) == 0)
			return &in->r[(*i)++];
	return NULL;
}

const struct state_rec *
state_first(const struct state_in *in, const char *kind)
{
	size_t i = 0;

	return state_next(in, kind, &i);
}

const struct state_field *
rec_field(const struct state_rec *r, const char *key)
{
	for (size_t i = 0; r && i < r->nf; i++)
		if (strcmp(r->f[i].key, key) == 0)
			return &r->f[i];
	return NULL;
}

const char *
rec_str(const struct state_rec *r, const char *key)
{
	const struct state_field *f = rec_field(r, key);

	return f ? f->val : NULL;
}

long long
rec_int(const struct state_rec *r, const char *key, long long def)
{
	const char *v = rec_str(r, key);
	char *end;
	long long n;

	if (v == NULL || *v == '\0')
		return def;
	errno = 0;
	n = strtoll(v, &end, 10);
	return *end || errno ? def : n;
}

double
rec_dbl(const struct state_rec *r, const char *key, double def)
{
	const char *v = rec_str(r, key);
	char *end;
	double d;

	if (v == NULL || *v == '\0')
		return def;
	d = strtod(v, &end);
	return *end ? def : d;
}

char *
rec_dup(const struct state_rec *r, const char *key)
{
	const char *v = rec_str(r, key);

	return v ? xstrdup(v) : NULL;
}

int
rec_index(const struct state_rec *r, const char *key, const char *const *names, int n)
{
	const char *v = rec_str(r, key);

	for (int i = 0; v && i < n; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	return -1;
}

/* A descriptor field's parts (state_fd()'s fd:dev:ino); 0, or -1. Most
 * fields are none: a colon is looked for first, cheaply. */
static int
fd_parts(const char *v, int *fd, unsigned long long *dev, unsigned long long *ino)
{
	if (v == NULL || strchr(v, ':') == NULL ||
	    sscanf(v, "%d:%llu:%llu", fd, dev, ino) != 3 || *fd < 0)
		return -1;
	return 0;
}

int
state_field_fd(const struct state_field *f)
{
	unsigned long long dev, ino;
	int fd;

	return fd_parts(f->val, &fd, &dev, &ino) == -1 ? -1 : fd;
}

int
rec_fd(const struct state_rec *r, const char *key)
{
	unsigned long long dev, ino;
	struct stat st;
	int fd;

	if (fd_parts(rec_str(r, key), &fd, &dev, &ino) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || (unsigned long long)st.st_dev != dev ||
	    (unsigned long long)st.st_ino != ino)
		return -1;
	return fd;
}

/*
 * The config file as inih reads it: opened without ever blocking (a
 * regular file only), then handed over one line at a time, counted and
 * checked for what inih would silently mangle. What the lines mean is
 * config.c's.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "confparse.h"
#include "conffile.h"
#include "strv.h"

#define MAX_LINE	199	/* what inih's 200-byte buffer holds */
/* A file this wrong is not a config file: reading the rest (a 10 MB one
 * takes a second, and blocks a running clusterd's reload) says nothing. */
#define MAX_COUNTED	1000

/*
 * One line into ps->buf, of which only what a valid line can hold is
 * kept: a file of one endless line costs no more memory than a short one.
 * Returns the line's whole length (without the newline and a CR before
 * it), or -1 at the end of the file.
 */
static ssize_t
read_line(struct parse *ps, int *nul)
{
	size_t n = 0, kept = 0;
	int c = EOF;

	if (ps->buf == NULL) {
		ps->bufcap = MAX_LINE + 2;
		ps->buf = xmalloc(ps->bufcap);
	}
	*nul = 0;
	while ((c = getc_unlocked(ps->fp)) != EOF && c != '\n') {
		if (c == '\0')
			*nul = 1;
		if (kept < ps->bufcap - 1)
			ps->buf[kept++] = (char)c;
		n++;
	}
	if (c == EOF && n == 0)
		return -1;
	if (n == kept && kept > 0 && ps->buf[kept - 1] == '\r') {
		kept--;
		n--;
	}
	ps->buf[kept] = '\0';
	return (ssize_t)n;
}

/*
 * inih's reader: one line per call, counted, checked for what inih would
 * silently mangle (long lines, NUL bytes) or report only once (syntax).
 */
char *
conf_reader(char *str, int num, void *arg)
{
	struct parse *ps = arg;
	ssize_t len;
	char *s, *end;
	int nul;

	if (ps->errors.n + ps->more_errors >= MAX_COUNTED) {
		ps->gave_up = ps->line;
		return NULL;
	}
	if ((len = read_line(ps, &nul)) == -1)
		return NULL;
	ps->line++;
	ps->cont = 0;
	str[0] = '\0';
	if (nul) {
		perr(ps, ps->line, "NUL byte in line");
		return str;
	}
	if (len > MAX_LINE || len >= num) {
		perr(ps, ps->line, "line too long (max %d characters)", MAX_LINE);
		return str;
	}
	memcpy(str, ps->buf, len + 1);

	/* Mirror inih's reading of the line to know what it will do. */
	for (s = ps->buf; isspace((unsigned char)*s); s++)
		;
	if (*s == '\0' || *s == ';' || *s == '#')
		return str;
	if (s > ps->buf && ps->have_key) {
		ps->cont = 1;
		return str;
	}
	if (*s == '[') {
		ps->have_key = 0;
		ps->section_line = ps->line;
		if ((end = strchr(s, ']')) == NULL)
			perr(ps, ps->line, "unterminated section header (missing ])");
		else {
			for (end++; isspace((unsigned char)*end); end++)
				;
			if (*end && *end != ';' && *end != '#')
				perr(ps, ps->line, "text after section header");
		}
		return str;
	}
	ps->have_key = 1;
	if (strcspn(s, "=:") == strlen(s))
		perr(ps, ps->line, "expected KEY = VALUE or [SECTION]");
	return str;
}

static const char *
file_type(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "an unknown file type";
}

/*
 * Only a regular file: open() of a FIFO waits for a writer, a device may
 * never end (/dev/zero) or act on being opened, and at a reload either
 * would stop the loop (no signal, no control request, no reaping). stat()
 * first so that a device is never opened; the open itself cannot block
 * (O_NONBLOCK), and fstat() catches a path swapped in between.
 */
static FILE *
open_regular(struct parse *ps, const char *path)
{
	struct stat st;
	FILE *fp;
	int fd, fl;

	if (stat(path, &st) == -1) {
		perr(ps, 0, "%s", strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode))
		goto irregular;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		perr(ps, 0, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		goto irregular;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1 ||
	    (fp = fdopen(fd, "r")) == NULL)
		goto fail;
	return fp;
fail:
	perr(ps, 0, "%s", strerror(errno));
	close(fd);
	return NULL;
irregular:
	perr(ps, 0, "not a regular file (%s)", file_type(st.st_mode));
	return NULL;
}

/*
 * The file's text is kept with the config, so an upgrade can carry the
 * running config over exactly (the file may have changed since); one
 * larger than CONF_KEEP_MAX is not, and such a config is not carried.
 */
#define CONF_KEEP_MAX	(1024 * 1024)

/* Keep the file's text, if it is small enough: 0, or -1 (the file is
 * read from its start again). */
static int
keep_text(struct parse *ps)
{
	char *t = xmalloc(CONF_KEEP_MAX + 1);
	size_t n = fread(t, 1, CONF_KEEP_MAX + 1, ps->fp);

	if (n > CONF_KEEP_MAX || ferror(ps->fp)) {
		free(t);
		clearerr(ps->fp);
		rewind(ps->fp);
		return -1;
	}
	ps->cfg->text = xreallocarray(t, n + 1, 1);
	ps->cfg->text[n] = '\0';
	ps->cfg->textlen = n;
	return 0;
}

/* Read the kept text: the lines parsed are the ones an upgrade carries. */
static int
text_stream(struct parse *ps)
{
	/* fmemopen() wants a size: an empty file reads as a blank line. */
	ps->fp = ps->cfg->textlen ? fmemopen(ps->cfg->text, ps->cfg->textlen, "r") :
	    fmemopen((char *)"\n", 1, "r");
	if (ps->fp == NULL) {
		perr(ps, 0, "%s", strerror(errno));
		return -1;
	}
	return 0;
}

int
conf_open(struct parse *ps, const char *path)
{
	ps->file = path;
	if (ps->text) {
		/* An upgrade's carried text, read as the file was. */
		ps->cfg->text = xmalloc(ps->textlen + 1);
		memcpy(ps->cfg->text, ps->text, ps->textlen);
		ps->cfg->text[ps->textlen] = '\0';
		ps->cfg->textlen = ps->textlen;
		return text_stream(ps);
	}
	if ((ps->fp = open_regular(ps, path)) == NULL)
		return -1;
	if (keep_text(ps) == -1)
		return 0;
	fclose(ps->fp);
	return text_stream(ps);
}

void
conf_close(struct parse *ps)
{
	if (ferror(ps->fp))
		perr(ps, 0, "read error: %s", strerror(errno));
	fclose(ps->fp);
	free(ps->buf);
}

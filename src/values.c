#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "values.h"

/* Durations longer than a year are a typo, not a setting. */
#define DURATION_MAX (366.0 * 24 * 3600)

int
parse_duration(const char *s, double *out)
{
	static const struct { const char *unit; double mult; } units[] = {
		{ "", 1 }, { "s", 1 }, { "ms", 0.001 }, { "us", 0.000001 },
		{ "m", 60 }, { "min", 60 }, { "h", 3600 },
	};
	char *end;
	double v;

	if (!isdigit((unsigned char)*s) && *s != '.')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			v *= units[i].mult;
			if (v > DURATION_MAX)
				return -1;
			*out = v;
			return 0;
		}
	}
	return -1;
}

void
format_duration(char *buf, size_t len, double secs)
{
	if (secs > 0 && secs < 1)
		snprintf(buf, len, "%.0fms", secs * 1000);
	else
		snprintf(buf, len, "%gs", (double)(long long)(secs * 1000 + 0.5) / 1000);
}

int
parse_signal(const char *s, int *out)
{
	long n;

	if (isdigit((unsigned char)*s))
		return parse_long(s, 1, NSIG - 1, &n) == 0 ? (*out = (int)n, 0) : -1;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (int sig = 1; sig < NSIG; sig++) {
		const char *abbrev = sigabbrev_np(sig);

		if (abbrev && strcasecmp(abbrev, s) == 0) {
			*out = sig;
			return 0;
		}
	}
	return -1;
}

const char *
signal_name(int sig)
{
	const char *abbrev = sigabbrev_np(sig);

	return abbrev ? abbrev : "?";
}

int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*s) && *s != '-')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_workers(const char *s, long max, int *lo, int *hi)
{
	const char *dots = strstr(s, "..");
	char first[32];
	long a, b;

	if (dots == NULL) {
		if (parse_long(s, 0, max, &a) == -1)
			return -1;
		*lo = (int)a;
		*hi = -1;
		return 0;
	}
	if ((size_t)(dots - s) >= sizeof(first))
		return -1;
	memcpy(first, s, (size_t)(dots - s));
	first[dots - s] = '\0';
	if (parse_long(first, 1, max, &a) == -1 || parse_long(dots + 2, 1, max, &b) == -1 ||
	    a >= b)
		return -1;
	*lo = (int)a;
	*hi = (int)b;
	return 0;
}

void
workers_format(char *buf, size_t len, int lo, int hi)
{
	if (hi > 0)
		snprintf(buf, len, "%d..%d", lo, hi);
	else
		snprintf(buf, len, "%d", lo);
}

int
parse_octal(const char *s, long max, long *out)
{
	char *end;
	long v;

	if (*s < '0' || *s > '7')
		return -1;
	errno = 0;
	v = strtol(s, &end, 8);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_size(const char *s, long *out)
{
	char *end;
	long v, mult = 1;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno)
		return -1;
	if (strcasecmp(end, "k") == 0)
		mult = 1024;
	else if (strcasecmp(end, "m") == 0)
		mult = 1024 * 1024;
	else if (strcasecmp(end, "g") == 0)
		mult = 1024L * 1024 * 1024;
	else if (*end)
		return -1;
	if (v < 1 || v > 0x7fffffffL / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/* Memory sizes: k, m, g, t are powers of 1024, as cgroup and systemd
 * users write them; up to 2^62, so any sum of them stays in range. */
int
parse_bytes(const char *s, long long *out)
{
	static const char units[] = "kmgt";
	char *end;
	long long v;
	int shift = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno)
		return -1;
	if (*end) {
		const char *u = strchr(units, tolower((unsigned char)*end));

		if (u == NULL || *u == '\0' || (end[1] != '\0' &&
		    strcasecmp(end + 1, "b") != 0))
			return -1;
		shift = 10 * (int)(u - units + 1);
	}
	if (v < 1 || v > (1LL << 62) >> shift)
		return -1;
	*out = v << shift;
	return 0;
}

/* The largest unit that divides v: 150M, 1536K, 3G. */
void
format_bytes(char *buf, size_t len, long long v)
{
	static const char units[] = "KMGT";
	int i = -1;

	while (i < 3 && v >= 1024 && v % 1024 == 0) {
		v /= 1024;
		i++;
	}
	if (i < 0)
		snprintf(buf, len, "%lld", v);
	else
		snprintf(buf, len, "%lld%c", v, units[i]);
}

int
parse_bool(const char *s, int *out)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

int
split_command(const char *s, struct strv *out, char *err, size_t errlen)
{
	size_t cap = strlen(s) + 1;
	char *word = malloc(cap);
	size_t n = 0;
	int inword = 0;

	if (word == NULL)
		abort();
	for (;;) {
		char c = *s++;

		if (c == '\0' || c == ' ' || c == '\t' || c == '\n') {
			if (inword) {
				word[n] = '\0';
				strv_push(out, xstrdup(word));
				n = 0;
				inword = 0;
			}
			if (c == '\0')
				break;
			continue;
		}
		inword = 1;
		if (c == '\'') {
			while (*s && *s != '\'')
				word[n++] = *s++;
			if (*s++ != '\'') {
				snprintf(err, errlen, "unterminated ' quote");
				goto fail;
			}
		} else if (c == '"') {
			while (*s && *s != '"') {
				if (*s == '\\' && s[1])
					s++;
				word[n++] = *s++;
			}
			if (*s++ != '"') {
				snprintf(err, errlen, "unterminated \" quote");
				goto fail;
			}
		} else if (c == '\\') {
			if (*s == '\0') {
				snprintf(err, errlen, "backslash at end of command");
				goto fail;
			}
			word[n++] = *s++;
		} else
			word[n++] = c;
	}
	free(word);
	return 0;
fail:
	free(word);
	return -1;
}

char *
quote_word(const char *w)
{
	size_t n = strlen(w);
	char *q, *p;

	/*
	 * Bare when nothing in it is special to split_command() or to the INI
	 * file the word may be printed into: there a blank then ';' starts a
	 * comment, '#' starting a continuation line makes it one, and other
	 * white space at the ends of a line is stripped.
	 */
	if (n && strcspn(w, " \t\n\v\f\r'\"\\;") == n && w[0] != '#')
		return xstrdup(w);
	p = q = xmalloc(4 * n + 3);
	if (strchr(w, ';') != NULL) {
		/* Double quotes, where "\;" keeps a ';' from following a blank. */
		*p++ = '"';
		for (; *w; w++) {
			if (*w == '"' || *w == '\\' || *w == ';')
				*p++ = '\\';
			*p++ = *w;
		}
		*p++ = '"';
	} else {
		/* Single quotes keep everything but ' itself, which becomes '\''. */
		*p++ = '\'';
		for (; *w; w++) {
			if (*w == '\'') {
				memcpy(p, "'\\''", 4);
				p += 4;
			} else
				*p++ = *w;
		}
		*p++ = '\'';
	}
	*p = '\0';
	return q;
}

int
valid_env_name(const char *s, size_t len)
{
	if (len == 0 || (!isalpha((unsigned char)s[0]) && s[0] != '_'))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[64];

	if (lb >= sizeof(row) / sizeof(row[0]) || la > 64)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = prev + cost;

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

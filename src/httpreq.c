/*
 * The little of HTTP/1.x's request grammar the metrics endpoint reads
 * (RFC 9112): the request line, header names, and Accept. Pure functions
 * of the bytes, so they can be read, and fuzzed, apart from the sockets.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpreq.h"

int
http_tchar(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Does this Accept value ask for OpenMetrics (with a q above 0)? */
int
http_wants_openmetrics(const char *v, size_t len)
{
	static const char om[] = "application/openmetrics-text";
	size_t i = 0;

	while (i < len) {
		size_t end = i, semi;
		int match;

		while (end < len && v[end] != ',')
			end++;
		while (i < end && (v[i] == ' ' || v[i] == '\t'))
			i++;
		for (semi = i; semi < end && v[semi] != ';' && v[semi] != ' ' &&
		    v[semi] != '\t'; semi++)
			;
		match = semi - i == sizeof(om) - 1 && strncasecmp(v + i, om, semi - i) == 0;
		if (match) {
			double q = 1;

			/* ";q=0" refuses it. */
			for (size_t p = semi; p + 2 < end; p++)
				if ((v[p] == ';' || v[p] == ' ') &&
				    (v[p + 1] == 'q' || v[p + 1] == 'Q') && v[p + 2] == '=') {
					char num[16];
					size_t n = 0;

					for (size_t k = p + 3; k < end && n < sizeof(num) - 1 &&
					    strchr("0123456789.", v[k]); k++)
						num[n++] = v[k];
					num[n] = '\0';
					q = n ? strtod(num, NULL) : 0;
				}
			if (q > 0)
				return 1;
		}
		i = end + 1;
	}
	return 0;
}

/* The request line is bad: 400 (505 for an HTTP other than 1.x). */
int
http_bad_request_line(const char *s, size_t len, size_t *mlen, size_t *tstart, size_t *tlen)
{
	size_t i = 0, t;

	while (i < len && http_tchar((unsigned char)s[i]))
		i++;
	if (i == 0 || i == len || s[i] != ' ')
		return 400;
	*mlen = i;
	t = ++i;
	while (i < len && s[i] > ' ' && s[i] < 0x7f)
		i++;
	if (i == t || i == len || s[i] != ' ')
		return 400;
	*tstart = t;
	*tlen = i - t;
	/* The absolute form a proxy sends, "http://HOST/metrics": its path. */
	if (s[t] != '/') {
		size_t p = t;

		if (i - t > 7 && strncasecmp(s + t, "http://", 7) == 0)
			p = t + 7;
		else if (i - t > 8 && strncasecmp(s + t, "https://", 8) == 0)
			p = t + 8;
		else
			return 400;
		while (p < i && s[p] != '/')
			p++;
		*tstart = p;
		*tlen = i - p;
	}
	i++;
	if (len - i != 8 || strncmp(s + i, "HTTP/", 5) != 0 || s[i + 6] != '.' ||
	    s[i + 5] < '0' || s[i + 5] > '9' || s[i + 7] < '0' || s[i + 7] > '9')
		return 400;
	return s[i + 5] == '1' ? 0 : 505;
}

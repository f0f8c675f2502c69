/* HTTP request grammar for the metrics endpoint: see httpreq.c. */
#ifndef CLUSTERD_HTTPREQ_H
#define CLUSTERD_HTTPREQ_H

#include <stddef.h>

/* A token character (RFC 9110): methods and header names. */
int	http_tchar(int ch);
/* Does this Accept value ask for OpenMetrics (with a q above 0)? */
int	http_wants_openmetrics(const char *v, size_t len);
/* A request line (without its CRLF): 0 and where its method and target
 * are (the absolute form's path for "http://HOST/PATH"), or the status
 * it deserves: 400, or 505 for an HTTP other than 1.x. */
int	http_bad_request_line(const char *s, size_t len, size_t *mlen, size_t *tstart,
	    size_t *tlen);

#endif

/*
 * libFuzzer target: the control protocol (src/ctlproto.c), both ends.
 *
 * The input is used three ways:
 *  - as the bytes a client sends, arriving in pieces (byte 0 picks the
 *    piece size, the way recv() returns what has come): ctl_take_line()
 *    on the growing buffer, then ctl_parse() on the line it gives;
 *  - split at NUL bytes, as clusterctl's words: ctl_parse_words();
 *  - as the bytes clusterd answers with: ctl_reply_header().
 *
 * Checks, besides memory safety: a line is at most CTL_LINE_MAX bytes
 * with no NUL, CR or LF in it; every refusal has a message of printable
 * text only (it goes to the log and the client's terminal), in bounds;
 * an accepted request has its values in range, and what ctl_format()
 * makes of it is one line that parses back to the same request (what
 * clusterctl sends is what clusterd reads); a reply header is only
 * accepted whole, and once a prefix is refused the whole is refused.
 */
#include <signal.h>

#include "ctlproto.h"
#include "fuzz.h"

static void
check_err(const char *err, size_t len)
{
	size_t n = strnlen(err, len);

	FUZZ_CHECK(n > 0 && n < len, "refused without a message (or unterminated)");
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(err[i] >= 0x20 && err[i] < 0x7f,
		    "unprintable byte 0x%02x in \"%s\"", (unsigned char)err[i], err);
}

static int
same_req(const struct ctl_req *a, const struct ctl_req *b)
{
	if (a->cmd != b->cmd)
		return 0;
	switch (a->cmd) {
	case CTL_STATUS:
		return a->json == b->json;
	case CTL_SCALE:
		return a->n == b->n;
	case CTL_SIGNAL:
		return a->sig == b->sig && a->id == b->id;
	default:
		return 1;
	}
}

/* An accepted request: in range, and ctl_format() round-trips it. */
static void
check_req(const struct ctl_req *req)
{
	char line[CTL_LINE_MAX + 1], err[256], *l;
	const char *why = NULL;
	struct ctl_req back;
	int n;

	FUZZ_CHECK(req->cmd >= CTL_STATUS && req->cmd <= CTL_SIGNAL, "cmd %d",
	    (int)req->cmd);
	if (req->cmd == CTL_SCALE)
		FUZZ_CHECK(req->n >= 0 && req->n <= CTL_SCALE_MAX, "scale %ld", req->n);
	if (req->cmd == CTL_SIGNAL) {
		FUZZ_CHECK(req->sig > 0 && req->sig < NSIG, "signal %d", req->sig);
		FUZZ_CHECK(req->id >= -1 && req->id <= CTL_ID_MAX, "id %ld", req->id);
	}
	n = ctl_format(req, line, sizeof(line));
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(line) && line[n - 1] == '\n',
	    "formatted to %d bytes", n);
	FUZZ_CHECK(ctl_take_line(line, (size_t)n, &l, &why) == 1,
	    "formatted request is not a line: %s", why ? why : "(more wanted)");
	FUZZ_CHECK(ctl_parse(l, &back, err, sizeof(err)) == 0,
	    "formatted request refused: %s", err);
	FUZZ_CHECK(same_req(req, &back), "round trip changed the request (cmd %d)",
	    (int)req->cmd);
}

static void
parse_line(char *line)
{
	struct ctl_req req;
	char err[256];

	memset(err, 'X', sizeof(err));
	if (ctl_parse(line, &req, err, sizeof(err)) == 0)
		check_req(&req);
	else
		check_err(err, sizeof(err));
}

/* The request side: the input arriving in pieces on one connection. */
static void
as_request(const uint8_t *data, size_t size, size_t piece)
{
	char buf[CTL_LINE_MAX + 1], *line = NULL;
	const uint8_t *nl;
	const char *err = NULL;
	size_t have = 0;
	int r = 0;

	while (have < size && have < sizeof(buf)) {
		size_t n = size - have;

		if (n > piece)
			n = piece;
		if (n > sizeof(buf) - have)
			n = sizeof(buf) - have;
		memcpy(buf + have, data + have, n);
		have += n;
		if ((r = ctl_take_line(buf, have, &line, &err)) != 0)
			break;
	}
	if (r == 0) {
		FUZZ_CHECK(have < sizeof(buf) && memchr(buf, '\n', have) == NULL,
		    "wanted more with %zu bytes in hand", have);
		return;
	}
	if (r == -1) {
		FUZZ_CHECK(err != NULL, "refused without a reason");
		check_err(err, strlen(err) + 1);
		/* Only a line too long or with a NUL in it is refused. */
		nl = memchr(data, '\n', have);

		if (nl != NULL && nl - data <= CTL_LINE_MAX)
			FUZZ_CHECK(memchr(data, '\0', (size_t)(nl - data)) != NULL,
			    "refused a good line: %s", err);
		return;
	}
	size_t len = strlen(line);

	FUZZ_CHECK(line == buf && len <= CTL_LINE_MAX, "line of %zu bytes", len);
	FUZZ_CHECK(strchr(line, '\n') == NULL, "a newline in the line");
	nl = memchr(data, '\n', have);
	FUZZ_CHECK(nl != NULL && memchr(data, '\0', (size_t)(nl - data)) == NULL,
	    "took a line with a NUL byte, or without a newline");
	parse_line(line);
}

/* clusterctl's side: the input's NUL-separated pieces as its words. */
static void
as_words(const uint8_t *data, size_t size)
{
	char *copy = fuzz_cstr(data, size), *argv[8];
	struct ctl_req req;
	char err[256];
	int argc = 0;
	size_t i = 0;

	/* fuzz_cstr copies every byte and adds a NUL: the last word ends there. */
	while (i <= size && argc < 8) {
		argv[argc++] = copy + i;
		i += strlen(copy + i) + 1;
	}
	if (ctl_parse_words(argc, argv, &req, err, sizeof(err)) == 0)
		check_req(&req);
	else
		check_err(err, sizeof(err));
	free(copy);
}

/* The reply side: what clusterctl reads back. */
static void
as_reply(const uint8_t *data, size_t size)
{
	const char *msg;
	size_t msglen;
	ssize_t h;
	int code;

	h = ctl_reply_header((const char *)data, size, &code, &msg, &msglen);
	if (h <= 0)
		return;
	FUZZ_CHECK((size_t)h <= size && data[h - 1] == '\n', "header of %zd bytes", h);
	FUZZ_CHECK(code >= 0 && code <= 3, "code %d", code);
	FUZZ_CHECK(msg == (const char *)data + 2 && msglen + 2 <= (size_t)h,
	    "message outside the header");
	FUZZ_CHECK(memchr(msg, '\n', msglen) == NULL, "newline in the message");
	/* Read in pieces, it is "more" until whole, never refused. */
	for (size_t k = 0; k < (size_t)h; k = k < 3 ? k + 1 : k < (size_t)h - 1 ?
	    (size_t)h - 1 : k + 1) {
		ssize_t p = ctl_reply_header((const char *)data, k, &code, &msg, &msglen);

		FUZZ_CHECK(p == 0, "a %zu-byte prefix of a good header gave %zd", k, p);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	as_request(data + 1, size - 1, (size_t)data[0] % 64 + 1);
	as_words(data, size);
	as_reply(data, size);
	return 0;
}

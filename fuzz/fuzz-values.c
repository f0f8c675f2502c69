/*
 * libFuzzer target: the value parsers of src/values.c that the config file,
 * the command line and the control protocol share (durations, signals,
 * numbers, sizes, modes, booleans, command splitting and quoting, the
 * "did you mean" distance).
 *
 * Besides memory safety it checks the promises the rest of clusterd
 * relies on:
 *  - a parsed duration is within 0..DURATION_MAX and format_duration()
 *    prints something parse_duration() reads back (to the millisecond);
 *  - a parsed signal's name parses back to the same signal;
 *  - numbers respect the bounds asked for;
 *  - split_command(), then quote_word() on every word, joined by spaces,
 *    splits back to the same words (--check prints commands that way);
 *  - split_command(quote_word(s)) is exactly [s].
 *
 * Input: any bytes; the text is everything up to the first NUL.
 */
#include <math.h>
#include <signal.h>

#include "fuzz.h"
#include "strv.h"
#include "values.h"

#define DURATION_MAX	(366.0 * 24 * 3600)	/* values.c's limit */

static void
check_duration(const char *s)
{
	char buf[64];
	double d, back;

	if (parse_duration(s, &d) == -1)
		return;
	FUZZ_CHECK(d >= 0 && d <= DURATION_MAX && isfinite(d), "\"%s\" -> %g", s, d);
	format_duration(buf, sizeof(buf), d);
	FUZZ_CHECK(parse_duration(buf, &back) == 0, "\"%s\" -> %g -> \"%s\" unreadable",
	    s, d, buf);
	/* format_duration keeps milliseconds, and %g six significant digits. */
	FUZZ_CHECK(fabs(back - d) <= 0.0005 + d * 1e-5, "\"%s\" -> %g -> \"%s\" -> %g",
	    s, d, buf, back);
}

static void
check_signal(const char *s)
{
	const char *name;
	int sig, back;

	if (parse_signal(s, &sig) == -1)
		return;
	FUZZ_CHECK(sig >= 1 && sig < NSIG, "\"%s\" -> %d", s, sig);
	name = signal_name(sig);
	if (strcmp(name, "?") == 0)
		return;		/* real-time signals have numbers only */
	FUZZ_CHECK(parse_signal(name, &back) == 0 && back == sig,
	    "\"%s\" -> %d -> \"%s\"", s, sig, name);
}

static void
check_numbers(const char *s)
{
	static const long ranges[][2] = {
		{ 0, 100000 }, { 1, 0x7fffffff }, { -5, 5 }, { 0, 0 },
		{ -0x7fffffffL - 1, 0x7fffffff },
	};
	long v;
	int b;

	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (parse_long(s, ranges[i][0], ranges[i][1], &v) == 0)
			FUZZ_CHECK(v >= ranges[i][0] && v <= ranges[i][1],
			    "\"%s\" -> %ld outside %ld-%ld", s, v, ranges[i][0], ranges[i][1]);
	if (parse_octal(s, 07777, &v) == 0)
		FUZZ_CHECK(v >= 0 && v <= 07777, "octal \"%s\" -> %lo", s, v);
	if (parse_octal(s, 0777, &v) == 0)
		FUZZ_CHECK(v >= 0 && v <= 0777, "octal \"%s\" -> %lo", s, v);
	if (parse_size(s, &v) == 0)
		FUZZ_CHECK(v >= 1 && v <= 0x7fffffff, "size \"%s\" -> %ld", s, v);
	if (parse_bool(s, &b) == 0)
		FUZZ_CHECK(b == 0 || b == 1, "bool \"%s\" -> %d", s, b);
}

static void
check_split(const char *s)
{
	struct strv words = { 0 }, back = { 0 };
	char err[128], *joined = NULL;
	size_t len = 0;

	err[0] = '\0';
	if (split_command(s, &words, err, sizeof(err)) == -1) {
		FUZZ_CHECK(err[0] != '\0', "split_command failed with no message");
		strv_free(&words);
		return;
	}
	for (size_t i = 0; i < words.n; i++) {
		char *q = quote_word(words.v[i]);
		size_t qn = strlen(q);

		joined = realloc(joined, len + qn + 2);
		if (joined == NULL)
			abort();
		if (len)
			joined[len++] = ' ';
		memcpy(joined + len, q, qn + 1);
		len += qn;
		free(q);
	}
	if (joined) {
		FUZZ_CHECK(split_command(joined, &back, err, sizeof(err)) == 0,
		    "quoted words \"%s\" do not split: %s", joined, err);
		FUZZ_CHECK(back.n == words.n, "\"%s\": %zu words, quoted \"%s\": %zu",
		    s, words.n, joined, back.n);
		for (size_t i = 0; i < words.n; i++)
			FUZZ_CHECK(strcmp(back.v[i], words.v[i]) == 0,
			    "word %zu \"%s\" comes back as \"%s\"", i, words.v[i], back.v[i]);
	}
	free(joined);
	strv_free(&words);
	strv_free(&back);
}

static void
check_quote(const char *s)
{
	struct strv words = { 0 };
	char err[128], *q = quote_word(s);

	FUZZ_CHECK(split_command(q, &words, err, sizeof(err)) == 0,
	    "quote_word(\"%s\") = \"%s\" does not split: %s", s, q, err);
	FUZZ_CHECK(words.n == 1 && strcmp(words.v[0], s) == 0,
	    "quote_word(\"%s\") = \"%s\" splits into %zu words", s, q, words.n);
	free(q);
	strv_free(&words);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	size_t n = strlen(s);

	check_duration(s);
	check_signal(s);
	check_numbers(s);
	check_split(s);
	check_quote(s);

	/* edit_distance: both halves against each other and a key name. */
	char *b = s + n / 2;
	char save = *b;
	size_t d;

	*b = '\0';
	d = edit_distance(s, "backoff_initial");
	FUZZ_CHECK(d == (size_t)-1 || d <= (n / 2 > 15 ? n / 2 : 15), "distance %zu", d);
	*b = save;
	d = edit_distance(s, b);
	FUZZ_CHECK(d == (size_t)-1 || d <= n, "distance %zu", d);
	FUZZ_CHECK(edit_distance(b, b) == 0 || strlen(b) >= 64, "distance to itself");

	free(s);
	return 0;
}

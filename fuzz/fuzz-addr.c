/*
 * libFuzzer target: listening addresses (addr_parse() in src/addr.c), as
 * -l and "listen =" take them: PORT, :PORT, HOST:PORT, [V6]:PORT,
 * unix:PATH, /PATH, ./PATH, unix:@NAME, udp:HOST:PORT.
 *
 * Host names are not resolved here (fuzz.h makes getaddrinfo numeric-only).
 *
 * Checks: an error comes with a message that fits the buffer; an accepted
 * address has a known family and type and a length within the sockaddr;
 * addr_format() of it parses again to an address addr_matches() takes
 * (that is how an inherited socket is matched to its [socket:NAME]).
 * Byte 0 of the input picks the size of the error buffer (how callers
 * with small buffers fare); the rest is the address.
 */
#include <netinet/in.h>
#include <sys/un.h>

#include "fuzz.h"
#include "addr.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t errlens[] = { 256, 1, 2, 16, 64, 128, 512, 33 };
	struct addr a, b;
	char err[513], buf[300], *s;
	size_t errlen;

	if (size == 0)
		return 0;
	errlen = errlens[data[0] & 7];
	s = fuzz_cstr(data + 1, size - 1);
	memset(err, 'X', sizeof(err));
	if (addr_parse(s, &a, err, errlen) == -1) {
		FUZZ_CHECK(memchr(err, '\0', errlen) != NULL, "error message not terminated");
		FUZZ_CHECK(errlen < 2 || err[0] != '\0', "\"%s\": error with no message", s);
		FUZZ_CHECK(err[errlen] == 'X', "error message overran its buffer");
		free(s);
		return 0;
	}
	FUZZ_CHECK(a.family == AF_INET || a.family == AF_INET6 || a.family == AF_UNIX,
	    "\"%s\": family %d", s, a.family);
	FUZZ_CHECK(a.type == SOCK_STREAM || a.type == SOCK_DGRAM, "\"%s\": type %d", s, a.type);
	FUZZ_CHECK(a.len > 0 && a.len <= sizeof(a.ss), "\"%s\": length %u", s, (unsigned)a.len);
	FUZZ_CHECK(((struct sockaddr *)&a.ss)->sa_family == a.family,
	    "\"%s\": sockaddr family %d, addr %d", s, ((struct sockaddr *)&a.ss)->sa_family,
	    a.family);
	FUZZ_CHECK(!a.dualstack || a.family == AF_INET6, "\"%s\": dual-stack, not IPv6", s);
	FUZZ_CHECK(addr_matches(&a.ss, a.len, a.type, &a), "\"%s\" does not match itself", s);

	addr_format((struct sockaddr *)&a.ss, a.len, a.type, buf, sizeof(buf));
	FUZZ_CHECK(addr_parse(buf, &b, err, sizeof(err)) == 0,
	    "\"%s\" is formatted as \"%s\", which does not parse: %s", s, buf, err);
	FUZZ_CHECK(b.family == a.family, "\"%s\" -> \"%s\": family %d -> %d", s, buf,
	    a.family, b.family);
	FUZZ_CHECK(addr_matches(&a.ss, a.len, a.type, &b),
	    "\"%s\" is formatted as \"%s\", which does not match it", s, buf);
	free(s);
	return 0;
}

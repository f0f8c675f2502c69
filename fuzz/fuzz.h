/*
 * What the libFuzzer harnesses in fuzz/ share. Each harness compiles the
 * src/ sources it needs directly (see fuzz/fuzz.mk) and includes this
 * once.
 */
#ifndef CLUSTERD_FUZZ_H
#define CLUSTERD_FUZZ_H

#include <dlfcn.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);
int	getaddrinfo(const char *, const char *, const struct addrinfo *,
	    struct addrinfo **);

/* A failed check: say what and crash, so that libFuzzer keeps the input. */
#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz check failed: %s (%s:%d): ",	\
		    #cond, __FILE__, __LINE__);				\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/*
 * addr_parse() resolves HOST with getaddrinfo(); random host names would
 * become DNS queries (slow, and not what is under test). Interpose it for
 * the whole harness: numeric hosts only, everything else fails at once the
 * way an unknown name does.
 */
int
getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
    struct addrinfo **res)
{
	static int (*real)(const char *, const char *, const struct addrinfo *,
	    struct addrinfo **);
	struct addrinfo h = { 0 };

	if (real == NULL &&
	    (real = (int (*)(const char *, const char *, const struct addrinfo *,
	    struct addrinfo **))dlsym(RTLD_NEXT, "getaddrinfo")) == NULL)
		abort();
	if (hints)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	return real(node, service, &h, res);
}

/* The input as a C string: what a parser of text sees (up to a NUL). */
static char * __attribute__((unused))
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Quiet from the start, in every harness: clusterd's warnings are not findings. */
static void __attribute__((constructor))
fuzz_quiet(void)
{
	log_set_verbosity(-10);
}

#endif

/* Shared by the libFuzzer targets in this folder: the entry points' prototypes, a sink the optimiser cannot drop,
 * quiet logging, and the input as a C string. Not a target itself (targets are fuzz_*.c). */
#ifndef GX_FUZZ_H
#define GX_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gx/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Results are added here so the calls under test are not optimised away. */
static volatile size_t sink __attribute__((unused));

/* Log only fatal lines: a target's LLVMFuzzerInitialize starts with this. */
static inline void fuzz_quiet(void)
{
	gx_log_set_level(GX_LOG_FATAL);
}

/* The n bytes at data as a new NUL-terminated string (caller frees; an embedded NUL ends it early), NULL when out of
 * memory. */
static inline char *fuzz_cstr(const uint8_t *data, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		memcpy(s, data, n);
		s[n] = '\0';
	}
	return s;
}

#endif

/* Cryptographically secure random bytes and UUID v4 strings.
 *
 * Each thread owns an mbedTLS CTR-DRBG seeded from the platform entropy source on first use; it reseeds on the
 * mbedTLS default interval and also right after a fork (detected by a changed getpid()), so a parent and its child
 * never produce the same stream. No locking: the generator state is thread-local.
 */
#ifndef GX_RAND_H
#define GX_RAND_H

#include <stdbool.h>
#include <stddef.h>
#include "gx/util.h"

/* Fill buf (borrowed, n bytes) with random bytes. Returns 0, or -1 (logged) when the DRBG cannot be seeded or
 * fails; buf is then zeroed so a caller that ignores the result does not use stale memory. */
int gx_rand_bytes(void *buf, size_t n) GX_MUSTCHECK;

/* Write a random RFC 4122 version 4 UUID, lowercase "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", NUL-terminated, into
 * out (37 bytes). Returns 0, or -1 (logged, out is set to "") when no random bytes are available. */
int gx_uuid_v4(char out[37]) GX_MUSTCHECK;

/* True when s (borrowed, may be NULL) is a canonical UUID: 36 characters, hyphens at 8/13/18/23, hex digits
 * elsewhere. Lowercase and uppercase hex are both accepted; the version is not checked, so ids made by the
 * database or by other systems pass too. */
bool gx_uuid_valid(const char *s);

#endif

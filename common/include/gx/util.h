/* Small shared helpers: allocation wrappers that abort on OOM, string helpers, attribute macros.
 *
 * gx_xmalloc/gx_xcalloc/gx_xrealloc/gx_xstrdup never return NULL: on OOM they log one fatal line and abort()
 * (under a Kubernetes memory limit the pod is restarted anyway). The caller owns what they return; free with free().
 */
#ifndef GX_UTIL_H
#define GX_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define GX_UNUSED __attribute__((unused))
#define GX_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define GX_MUSTCHECK __attribute__((warn_unused_result))
#define GX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *gx_xmalloc(size_t n);
void *gx_xcalloc(size_t count, size_t n);
void *gx_xrealloc(void *p, size_t n);
char *gx_xstrdup(const char *s);
/* Copy at most n bytes of s and NUL-terminate. */
char *gx_xstrndup(const char *s, size_t n);
/* printf into a new heap string (caller owns). */
char *gx_xasprintf(const char *fmt, ...) GX_PRINTF(1, 2);

/* Wall clock in milliseconds since the epoch, and a monotonic clock in microseconds. */
int64_t gx_now_ms(void);
int64_t gx_mono_us(void);

/* Lower-case hex of n bytes into out (must hold 2n+1 bytes). */
void gx_hex_encode(const unsigned char *in, size_t n, char *out);
/* Decode 2n hex chars into out (n bytes). Returns 0, or -1 on a non-hex char. */
int gx_hex_decode(const char *hex, size_t n, unsigned char *out);

/* Constant-time comparison of two byte strings of the same length. */
bool gx_ct_equal(const void *a, const void *b, size_t n);

#endif

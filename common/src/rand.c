/* Random bytes from a per-thread mbedTLS CTR-DRBG, and UUID v4 formatting/validation on top of it. */
#include "gx/rand.h"

#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

#include "gx/log.h"

/* Kept in thread-local storage rather than on the heap so nothing needs freeing when a thread ends. */
struct rand_state {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	pid_t pid; /* process that seeded drbg; a different getpid() means we are in a forked child */
	bool ready;
};

static _Thread_local struct rand_state rs;

static int rand_seed(void)
{
	static const char pers[] = "gx-backend rand";
	int rc;

	mbedtls_entropy_init(&rs.entropy);
	mbedtls_ctr_drbg_init(&rs.drbg);
	rc = mbedtls_ctr_drbg_seed(&rs.drbg, mbedtls_entropy_func, &rs.entropy, (const unsigned char *)pers,
				   sizeof(pers) - 1);
	if (rc != 0) {
		gx_log_error("mbedtls_ctr_drbg_seed failed: -0x%04x", (unsigned)-rc);
		mbedtls_ctr_drbg_free(&rs.drbg);
		mbedtls_entropy_free(&rs.entropy);
		return -1;
	}
	rs.pid = getpid();
	rs.ready = true;
	return 0;
}

/* After fork() both processes hold the same DRBG state; mixing fresh entropy plus the pid separates them. */
static int rand_check_fork(void)
{
	pid_t pid = getpid();
	int rc;

	if (pid == rs.pid)
		return 0;
	rc = mbedtls_ctr_drbg_reseed(&rs.drbg, (const unsigned char *)&pid, sizeof(pid));
	if (rc != 0) {
		gx_log_error("mbedtls_ctr_drbg_reseed after fork failed: -0x%04x", (unsigned)-rc);
		return -1;
	}
	rs.pid = pid;
	return 0;
}

int gx_rand_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;
	size_t chunk;
	int rc;

	if (!rs.ready && rand_seed() < 0)
		goto fail;
	if (rand_check_fork() < 0)
		goto fail;
	while (n > 0) {
		chunk = n < MBEDTLS_CTR_DRBG_MAX_REQUEST ? n : MBEDTLS_CTR_DRBG_MAX_REQUEST;
		rc = mbedtls_ctr_drbg_random(&rs.drbg, p, chunk);
		if (rc != 0) {
			gx_log_error("mbedtls_ctr_drbg_random failed: -0x%04x", (unsigned)-rc);
			goto fail;
		}
		p += chunk;
		n -= chunk;
	}
	return 0;
fail:
	memset(p, 0, n);
	return -1;
}

int gx_uuid_v4(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	size_t o = 0;

	if (gx_rand_bytes(b, sizeof(b)) < 0) {
		out[0] = '\0';
		return -1;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10xx */
	for (size_t i = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 0x0f];
	}
	out[o] = '\0';
	return 0;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool gx_uuid_valid(const char *s)
{
	if (!s)
		return false;
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!is_hex(s[i])) {
			return false; /* also stops at a NUL before position 36 */
		}
	}
	return s[36] == '\0';
}

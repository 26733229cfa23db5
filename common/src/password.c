/* bcrypt password hashing and verification on crypt_r/crypt_gensalt_rn, the timing-equaliser for unknown users,
 * and the one quality policy of new passwords (length, names, cracklib's dictionary). */
#include "gx/password.h"

#include <crypt.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <crack.h>

#include "gx/log.h"
#include "gx/rand.h"

#define BCRYPT_HASH_LEN 60
#define BCRYPT_SALT_BYTES 16

/* Dummy hash for gx_password_burn: made once, read by any thread afterwards. */
static pthread_mutex_t burn_lock = PTHREAD_MUTEX_INITIALIZER;
static char burn_hash[BCRYPT_HASH_LEN + 1];

char *gx_password_hash(const char *pw, int cost)
{
	unsigned char rnd[BCRYPT_SALT_BYTES];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = NULL;
	const char *h;
	char *out = NULL;

	if (cost < GX_PASSWORD_MIN_COST || cost > GX_PASSWORD_MAX_COST) {
		gx_log_error("bcrypt cost %d out of range %d..%d", cost, GX_PASSWORD_MIN_COST, GX_PASSWORD_MAX_COST);
		return NULL;
	}
	if (gx_rand_bytes(rnd, sizeof(rnd)) < 0)
		return NULL;
	if (!crypt_gensalt_rn("$2b$", (unsigned long)cost, (const char *)rnd, sizeof(rnd), setting, sizeof(setting))) {
		gx_log_error("crypt_gensalt_rn failed for bcrypt cost %d", cost);
		goto out;
	}
	/* crypt_data is ~32 KiB: too big for a worker thread's stack */
	cd = gx_xcalloc(1, sizeof(*cd));
	h = crypt_r(pw, setting, cd);
	if (!h || strlen(h) != BCRYPT_HASH_LEN || strncmp(h, "$2b$", 4) != 0) {
		gx_log_error("crypt_r failed to produce a bcrypt hash");
		goto out;
	}
	out = gx_xstrdup(h);
out:
	if (cd)
		explicit_bzero(cd, sizeof(*cd));
	free(cd);
	explicit_bzero(rnd, sizeof(rnd));
	return out;
}

/* "$2a$", "$2b$" or "$2y$", two-digit cost 04..31, '$', then 53 characters of bcrypt's base64 alphabet. */
static bool bcrypt_well_formed(const char *h)
{
	static const char alpha[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	int cost;

	if (strlen(h) != BCRYPT_HASH_LEN || h[0] != '$' || h[1] != '2' || !strchr("aby", h[2]) || h[3] != '$' ||
	    h[6] != '$' || h[4] < '0' || h[4] > '9' || h[5] < '0' || h[5] > '9')
		return false;
	cost = (h[4] - '0') * 10 + (h[5] - '0');
	if (cost < GX_PASSWORD_MIN_COST || cost > GX_PASSWORD_MAX_COST)
		return false;
	for (size_t i = 7; i < BCRYPT_HASH_LEN; i++)
		if (!strchr(alpha, h[i]) || h[i] == '\0')
			return false;
	return true;
}

bool gx_password_verify(const char *pw, const char *hash)
{
	struct crypt_data *cd;
	const char *h;
	bool ok;

	if (!pw || !hash || !bcrypt_well_formed(hash))
		return false;
	cd = gx_xcalloc(1, sizeof(*cd));
	h = crypt_r(pw, hash, cd);
	ok = h && strlen(h) == BCRYPT_HASH_LEN && gx_ct_equal(h, hash, BCRYPT_HASH_LEN);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

/* Caller holds burn_lock. */
static int burn_make(int cost)
{
	char *h = gx_password_hash("gx-burn-dummy-password", cost);

	if (!h)
		return -1;
	memcpy(burn_hash, h, BCRYPT_HASH_LEN + 1);
	free(h);
	return 0;
}

int gx_password_burn_init(int cost)
{
	int rc;

	pthread_mutex_lock(&burn_lock);
	rc = burn_make(cost);
	pthread_mutex_unlock(&burn_lock);
	return rc;
}

void gx_password_burn(const char *pw)
{
	char h[BCRYPT_HASH_LEN + 1];

	pthread_mutex_lock(&burn_lock);
	if (!burn_hash[0] && burn_make(GX_PASSWORD_DEFAULT_COST) < 0) {
		pthread_mutex_unlock(&burn_lock);
		return;
	}
	memcpy(h, burn_hash, sizeof(h));
	pthread_mutex_unlock(&burn_lock);
	/* the result is meaningless; only the time spent matters */
	(void)gx_password_verify(pw ? pw : "", h);
}

bool gx_password_acceptable(const char *pw, const char **issue)
{
	size_t n = pw ? strlen(pw) : 0;

	if (n < GX_PASSWORD_MIN_LEN) {
		*issue = "must be at least 8 characters long";
		return false;
	}
	if (n > GX_PASSWORD_MAX_LEN) {
		*issue = "must be at most 72 bytes long";
		return false;
	}
	return true;
}

/* ---- quality ---- */

/* cracklib keeps static state and opens the dictionary on every call: one caller at a time. */
static pthread_mutex_t crack_lock = PTHREAD_MUTEX_INITIALIZER;
static char crack_dict[512] = GX_PASSWORD_DICT_DEFAULT;

int gx_password_dict_init(const char *path)
{
	char file[600];
	const char *r;

	if (!path || !*path || strlen(path) >= sizeof(crack_dict)) {
		gx_log_error("password dictionary path is empty or too long");
		return -1;
	}
	snprintf(file, sizeof(file), "%s.pwd", path);
	if (access(file, R_OK) != 0) {
		gx_log_error("password dictionary %s cannot be read: %m (install cracklib-runtime)", file);
		return -1;
	}
	pthread_mutex_lock(&crack_lock);
	snprintf(crack_dict, sizeof(crack_dict), "%s", path);
	r = FascistCheck("gx-dictionary-probe-7Qz", crack_dict);
	pthread_mutex_unlock(&crack_lock);
	if (r && strstr(r, "dictionary") && strstr(r, "error")) {
		gx_log_error("password dictionary %s does not load: %s", path, r);
		return -1;
	}
	return 0;
}

/* Does pw equal or contain part (case-insensitively)? Parts under 3 bytes count only when equal. */
static bool has_part(const char *pw, const char *part, size_t len)
{
	char buf[256];

	if (!part || len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, part, len);
	buf[len] = '\0';
	if (strcasecmp(pw, buf) == 0)
		return true;
	return len >= 3 && strcasestr(pw, buf) != NULL;
}

enum gx_password_verdict gx_password_check(const char *pw, const char *email, const char *first, const char *last,
					   char *issue, size_t n)
{
	const char *why, *at = email ? strchr(email, '@') : NULL;
	char gecos[128];

	if (!gx_password_acceptable(pw, &why)) {
		snprintf(issue, n, "%s", why);
		return GX_PASSWORD_BAD_LENGTH;
	}
	if (email && has_part(pw, email, at ? (size_t)(at - email) : strlen(email))) {
		snprintf(issue, n, "must not contain the email address's local part");
		return GX_PASSWORD_WEAK;
	}
	if (first && has_part(pw, first, strlen(first))) {
		snprintf(issue, n, "must not contain the first name");
		return GX_PASSWORD_WEAK;
	}
	if (last && has_part(pw, last, strlen(last))) {
		snprintf(issue, n, "must not contain the last name");
		return GX_PASSWORD_WEAK;
	}
	snprintf(gecos, sizeof(gecos), "%s %s", first ? first : "", last ? last : "");
	pthread_mutex_lock(&crack_lock);
	/* the user and gecos given here, so cracklib never looks the process's own account up */
	why = FascistCheckUser(pw, crack_dict, "gx-user", gecos);
	if (why && strstr(why, "error loading dictionary")) {
		pthread_mutex_unlock(&crack_lock);
		gx_log_error("password dictionary %s does not load", crack_dict);
		snprintf(issue, n, "cannot be checked now");
		return GX_PASSWORD_ERROR;
	}
	if (why)
		snprintf(issue, n, "is too easy to guess: %s", why);
	pthread_mutex_unlock(&crack_lock);
	return why ? GX_PASSWORD_WEAK : GX_PASSWORD_OK;
}

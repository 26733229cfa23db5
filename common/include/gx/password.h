/* Password hashing with bcrypt through libcrypt's crypt_r (design.md §4: "$2b$", cost 12).
 *
 * Hashes written by the original system ("$2a$") and by other bcrypt implementations ("$2y$") verify too. Every
 * function is thread-safe: each call uses its own crypt_data. bcrypt takes ~250 ms at cost 12, so callers on an
 * event loop run these on a worker thread.
 */
#ifndef GX_PASSWORD_H
#define GX_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include "gx/util.h"

#define GX_PASSWORD_DEFAULT_COST 12
#define GX_PASSWORD_MIN_COST 4
#define GX_PASSWORD_MAX_COST 31
/* bcrypt uses only the first 72 bytes of a password, so longer ones are refused rather than silently cut. */
#define GX_PASSWORD_MIN_LEN 8
#define GX_PASSWORD_MAX_LEN 72

/* Hash pw (borrowed) with a fresh 16-byte salt from gx_rand_bytes at cost (4..31). Returns the 60-character
 * "$2b$NN$..." string (caller owns, free with free()), or NULL (logged) when the cost is out of range, no random
 * bytes are available or crypt_r fails. */
char *gx_password_hash(const char *pw, int cost);

/* True when pw (borrowed) matches hash (borrowed, "$2a$", "$2b$" or "$2y$"). The computed hash is compared in
 * constant time. A malformed or unsupported hash is simply false (not logged: it may come from old data). */
bool gx_password_verify(const char *pw, const char *hash);

/* Set the cost of the dummy hash gx_password_burn verifies against, normally the cost new hashes use, and compute
 * that hash now (takes one hash's time). Call at startup. Returns 0, or -1 (logged) on a bad cost. */
int gx_password_burn_init(int cost);

/* Spend the time of one gx_password_verify on pw (borrowed) against a fixed dummy hash, so a login for an unknown
 * email takes as long as one with a wrong password. Uses GX_PASSWORD_DEFAULT_COST if gx_password_burn_init was
 * not called (the dummy hash is then made on first use). */
void gx_password_burn(const char *pw);

/* Length rule for new passwords: 8..72 bytes (the cheap part of gx_password_check, for request validation). Returns
 * true, or false with *issue set to a static client-safe sentence. (A JSON "\u0000" cannot reach here: the body parser
 * refuses embedded NULs, and a C string ends at the first.) */
bool gx_password_acceptable(const char *pw, const char **issue);

/* ---- password quality (Debian's cracklib) ---- */

/* Where cracklib-runtime puts its packed dictionary (the files <path>.pwd, .pwi, .hwm). */
#define GX_PASSWORD_DICT_DEFAULT "/var/cache/cracklib/cracklib_dict"

/* Use the cracklib dictionary at path (borrowed; copied) from now on, and check that it loads. Call at startup.
 * Returns 0, or -1 (logged) when the dictionary cannot be read. */
int gx_password_dict_init(const char *path);

enum gx_password_verdict {
	GX_PASSWORD_OK,
	GX_PASSWORD_BAD_LENGTH, /* outside 8..72 bytes: a validation failure */
	GX_PASSWORD_WEAK,       /* too easy to guess: 400 WEAK_PASSWORD */
	GX_PASSWORD_ERROR,      /* the dictionary did not load (logged): the password cannot be judged now */
};

/* The one policy every new password meets (registration, change, reset): the length rule, then not equal to or
 * containing the email's local part, the first or the last name (ASCII case-insensitive; parts shorter than 3
 * bytes are only compared whole), then cracklib's FascistCheckUser against the dictionary of gx_password_dict_init
 * (GX_PASSWORD_DICT_DEFAULT when not called). email, first, last may be NULL. On a refusal writes a client-safe
 * sentence naming the reason into issue (n bytes, e.g. "must not contain the first name"). Thread-safe: cracklib
 * is not, so its calls are serialised by a mutex (about 0.5 ms each: call it off the event loop). */
enum gx_password_verdict gx_password_check(const char *pw, const char *email, const char *first, const char *last,
					   char *issue, size_t n);

#endif

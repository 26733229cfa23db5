/* Input validation: predicates for the field shapes the APIs accept, JSON field getters, and the error collector
 * behind 400 VALIDATION_FAILED.
 *
 * A handler creates one collector, reads every field through the gx_valid_* getters (each adds a
 * {"field","issue"} entry when the field is missing or wrong and returns a harmless default), then answers 400 with
 * gx_verr_details_json() if gx_verr_count() > 0. Reporting every problem at once spares clients a retry loop.
 * Nothing here logs: bad input is the client's error. Predicates accept NULL and return false for it.
 */
#ifndef GX_VALID_H
#define GX_VALID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cjson/cJSON.h>
#include "gx/util.h"

/* ---- error collector ---------------------------------------------------------------------------------------- */

struct gx_verr;

/* New empty collector; caller owns, free with gx_verr_free(). Never NULL. */
struct gx_verr *gx_verr_new(void);
/* Free v; NULL is a no-op. */
void gx_verr_free(struct gx_verr *v);
/* Add one problem: field (borrowed, copied; e.g. "amount" or "items[2].id") and a printf-style issue
 * ("must be > 0"). At most 64 entries are kept; further ones are counted but dropped from the details. */
void gx_verr_add(struct gx_verr *v, const char *field, const char *fmt, ...) GX_PRINTF(3, 4);
/* Number of problems added so far. */
size_t gx_verr_count(const struct gx_verr *v);
/* True when field already has an entry (lets cross-field checks avoid piling a second issue on a bad field). */
bool gx_verr_has(const struct gx_verr *v, const char *field);
/* The details array [{"field":..,"issue":..},...] in insertion order; caller owns, free with cJSON_Delete. */
cJSON *gx_verr_details_json(const struct gx_verr *v);

/* ---- predicates (all arguments borrowed) ---------------------------------------------------------------------- */

/* Pragmatic RFC 5322 subset: dot-atom local part (<= 64 bytes of atext) '@' a DNS name of >= 2 labels (letters,
 * digits, inner hyphens, each 1..63), top-level label not all digits; whole address <= 254 bytes. */
bool gx_valid_email(const char *s);
/* E.164: '+' then 8..15 digits, the first not 0. */
bool gx_valid_e164(const char *s);
/* Two uppercase ASCII letters (whether the country exists is a database check). */
bool gx_valid_iso2(const char *s);
/* Exactly 64 hex digits (a SHA-256), either case. */
bool gx_valid_hex64(const char *s);
/* Well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points above U+10FFFF). The one UTF-8 check
 * of the project: JWT claims, request bodies (gx_http_json_*) and chaincode event payloads (projector) use it. */
bool gx_valid_utf8(const char *s);
/* The same for the n bytes at s (not NUL-terminated; a NUL byte is U+0000, well-formed: callers that store text
 * reject it themselves). s may be NULL when n is 0. */
bool gx_valid_utf8_n(const unsigned char *s, size_t n);
/* A person or display name: well-formed UTF-8 of min..max code points, no control characters (C0, DEL, C1, U+2028,
 * U+2029), and not only spaces. */
bool gx_valid_name(const char *s, size_t min, size_t max);
/* "YYYY-MM-DD" that is a real calendar date (year 0001..9999, leap years honoured). y/m/d may be NULL; they are
 * written only on success. */
bool gx_valid_date(const char *s, int *y, int *m, int *d);
/* Completed years between the date y-m-d and now (UTC): the age of someone born then. Returns -1 when the date is
 * after today. A 29 February birthday counts as reached on 1 March in common years. */
int gx_valid_age_years(int y, int m, int d, time_t now);
/* True when s equals one of choices (a NULL-terminated array, borrowed), case-sensitively. */
bool gx_valid_enum(const char *s, const char *const *choices);
/* A safe opaque id for paths, keys and chaincode arguments: 1..64 bytes of [A-Za-z0-9_.:-], without "..". */
bool gx_valid_id(const char *s);

/* ---- JSON field getters ------------------------------------------------------------------------------------- */
/* obj is the parsed request body (borrowed; NULL or a non-object counts as "every field missing"). JSON null counts
 * as missing. On a problem they add one entry for field to v and return the stated fallback. */

/* String field of min..max code points, well-formed UTF-8. Returns the string (borrowed from obj, valid while obj
 * lives), or NULL when missing (an issue only if required) or invalid. */
const char *gx_valid_str(const cJSON *obj, const char *field, bool required, size_t min, size_t max, struct gx_verr *v);
/* Integer field: a JSON number with an integral value in [min, max] (strings are not converted). Returns the value,
 * or def when missing or invalid. */
long long gx_valid_int(const cJSON *obj, const char *field, bool required, long long min, long long max, long long def,
		       struct gx_verr *v);
/* Boolean field: JSON true/false only. Returns the value, or def when missing or invalid. */
bool gx_valid_bool(const cJSON *obj, const char *field, bool required, bool def, struct gx_verr *v);
/* Coin amount field (string or number, exact, see gx/money.h) that must be > 0. Returns true with *qirat set, or
 * false (issue added when required or invalid; *qirat = 0). */
bool gx_valid_amount(const cJSON *obj, const char *field, bool required, uint64_t *qirat, struct gx_verr *v);
/* The field of obj spelled a, or else spelled b (an API that accepts the OpenAPI's name and the original code's).
 * *used is set to the spelling to name in issues: b when only b is present, else a. Returns the item (borrowed from
 * obj; may be NULL or JSON null when neither is present). */
const cJSON *gx_valid_either(const cJSON *obj, const char *a, const char *b, const char **used);

/* ---- query parameters ----------------------------------------------------------------------------------------- */

/* A decimal query parameter s (borrowed; NULL when absent) named name, in [min, max]: plain digits, no sign.
 * Returns the value, def when s is NULL, or def with an issue "must be an integer from min to max" added. */
long long gx_valid_query_int(const char *s, const char *name, long long min, long long max, long long def,
			     struct gx_verr *v);

/* Paging of a list: limit in 1..max (default def) and offset in 0..GX_VALID_OFFSET_MAX (default 0), as numbers and
 * as text ready for SQL parameters. */
#define GX_VALID_OFFSET_MAX 1000000000LL
struct gx_valid_page {
	long long limit, offset;
	char limit_s[24], offset_s[24];
};
/* Read ?limit and ?offset (limit, offset: the raw query values, NULL when absent) into *pg. Returns 0, or -1 with
 * the issues added to v (*pg then holds the defaults for the bad values). */
int gx_valid_paging(const char *limit, const char *offset, long long max, long long def, struct gx_valid_page *pg,
		    struct gx_verr *v);

#endif

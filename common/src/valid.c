/* Validation predicates, JSON field getters and the VALIDATION_FAILED details collector. */
#include "gx/valid.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/log.h"
#include "gx/money.h"

#define VERR_MAX_DETAILS 64
#define VERR_ISSUE_MAX 256

struct gx_verr {
	cJSON *details; /* array of {"field","issue"} */
	size_t count;   /* every add, including those dropped past VERR_MAX_DETAILS */
};

/* cJSON reports OOM as NULL; like gx_xmalloc we treat that as fatal rather than threading it through callers. */
static cJSON *oom_check(cJSON *j)
{
	if (!j) {
		gx_log_fatal("out of memory building JSON");
		abort();
	}
	return j;
}

/* ---- error collector ---------------------------------------------------------------------------------------- */

struct gx_verr *gx_verr_new(void)
{
	struct gx_verr *v = gx_xcalloc(1, sizeof(*v));

	v->details = oom_check(cJSON_CreateArray());
	return v;
}

void gx_verr_free(struct gx_verr *v)
{
	if (!v)
		return;
	cJSON_Delete(v->details);
	free(v);
}

void gx_verr_add(struct gx_verr *v, const char *field, const char *fmt, ...)
{
	char issue[VERR_ISSUE_MAX];
	cJSON *e;
	va_list ap;

	v->count++;
	if (v->count > VERR_MAX_DETAILS)
		return;
	va_start(ap, fmt);
	vsnprintf(issue, sizeof(issue), fmt, ap);
	va_end(ap);
	e = oom_check(cJSON_CreateObject());
	oom_check(cJSON_AddStringToObject(e, "field", field));
	oom_check(cJSON_AddStringToObject(e, "issue", issue));
	cJSON_AddItemToArray(v->details, e);
}

size_t gx_verr_count(const struct gx_verr *v)
{
	return v->count;
}

bool gx_verr_has(const struct gx_verr *v, const char *field)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, v->details) {
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, "field");
		if (cJSON_IsString(f) && strcmp(f->valuestring, field) == 0)
			return true;
	}
	return false;
}

cJSON *gx_verr_details_json(const struct gx_verr *v)
{
	return oom_check(cJSON_Duplicate(v->details, true));
}

/* ---- predicates --------------------------------------------------------------------------------------------- */

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Decode one UTF-8 sequence (RFC 3629) from the avail bytes at s: returns its length and sets *cp, or 0 when it is
 * malformed, truncated, overlong, a UTF-16 surrogate or above U+10FFFF. */
static size_t utf8_decode(const unsigned char *s, size_t avail, unsigned *cp)
{
	unsigned c = s[0], min, n;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2, min = 0x80, c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3, min = 0x800, c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4, min = 0x10000, c &= 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (unsigned i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Code points in the n bytes at s, or -1 when they are not well-formed UTF-8. */
static long utf8_count(const unsigned char *s, size_t n)
{
	size_t i = 0, len;
	unsigned cp;
	long count = 0;

	while (i < n) {
		len = utf8_decode(s + i, n - i, &cp);
		if (!len)
			return -1;
		i += len;
		count++;
	}
	return count;
}

bool gx_valid_utf8(const char *s)
{
	return s && utf8_count((const unsigned char *)s, strlen(s)) >= 0;
}

bool gx_valid_utf8_n(const unsigned char *s, size_t n)
{
	return (s || n == 0) && utf8_count(s, n) >= 0;
}

static bool is_atext(char c)
{
	return is_alpha(c) || is_digit(c) || (c && strchr("!#$%&'*+/=?^_`{|}~-", c));
}

static bool email_local_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!is_atext(s[i])) {
			return false;
		}
	}
	return true;
}

static bool email_domain_ok(const char *s)
{
	size_t label = 0, labels = 0;
	const char *tld = s;
	bool tld_digits_only = true;

	for (const char *p = s;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return false;
			labels++;
			label = 0;
			if (*p == '\0')
				break;
			tld = p + 1;
			continue;
		}
		if (!is_alpha(*p) && !is_digit(*p) && *p != '-')
			return false;
		if (*p == '-' && label == 0)
			return false;
		label++;
	}
	for (const char *p = tld; *p; p++)
		if (!is_digit(*p))
			tld_digits_only = false;
	return labels >= 2 && !tld_digits_only;
}

bool gx_valid_email(const char *s)
{
	const char *at;
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	at = strchr(s, '@');
	if (n > 254 || !at || strchr(at + 1, '@'))
		return false;
	return email_local_ok(s, (size_t)(at - s)) && email_domain_ok(at + 1);
}

bool gx_valid_e164(const char *s)
{
	size_t n = 0;

	if (!s || s[0] != '+' || s[1] == '0')
		return false;
	for (s++; is_digit(*s); s++)
		n++;
	return *s == '\0' && n >= 8 && n <= 15;
}

bool gx_valid_iso2(const char *s)
{
	return s && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] == '\0';
}

bool gx_valid_hex64(const char *s)
{
	if (!s)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!is_hex(s[i]))
			return false;
	return s[64] == '\0';
}

bool gx_valid_name(const char *s, size_t min, size_t max)
{
	const unsigned char *p = (const unsigned char *)s, *end;
	size_t n = 0, len;
	bool blank = true;
	unsigned cp;

	if (!s)
		return false;
	end = p + strlen(s);
	while (p < end) {
		len = utf8_decode(p, (size_t)(end - p), &cp);
		if (!len)
			return false;
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029)
			return false;
		if (cp != ' ' && cp != 0xa0 && cp != 0x3000)
			blank = false;
		p += len;
		n++;
	}
	return !blank && n >= min && n <= max;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

bool gx_valid_date(const char *s, int *y, int *m, int *d)
{
	int yy, mm, dd;

	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !is_digit(s[i]))
			return false;
	yy = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	mm = (s[5] - '0') * 10 + (s[6] - '0');
	dd = (s[8] - '0') * 10 + (s[9] - '0');
	if (yy < 1 || mm < 1 || mm > 12 || dd < 1 || dd > days_in_month(yy, mm))
		return false;
	if (y)
		*y = yy;
	if (m)
		*m = mm;
	if (d)
		*d = dd;
	return true;
}

int gx_valid_age_years(int y, int m, int d, time_t now)
{
	struct tm tm;
	int ny, nm, nd, age;

	if (!gmtime_r(&now, &tm))
		return -1;
	ny = tm.tm_year + 1900, nm = tm.tm_mon + 1, nd = tm.tm_mday;
	age = ny - y;
	if (nm < m || (nm == m && nd < d))
		age--;
	return age < 0 ? -1 : age;
}

bool gx_valid_enum(const char *s, const char *const *choices)
{
	if (!s)
		return false;
	for (; *choices; choices++)
		if (strcmp(s, *choices) == 0)
			return true;
	return false;
}

bool gx_valid_id(const char *s)
{
	size_t n = 0;

	if (!s || strstr(s, ".."))
		return false;
	for (; s[n]; n++) {
		char c = s[n];
		if (!is_alpha(c) && !is_digit(c) && c != '_' && c != '-' && c != '.' && c != ':')
			return false;
	}
	return n >= 1 && n <= 64;
}

/* ---- JSON field getters ------------------------------------------------------------------------------------- */

/* The field's value, or NULL when obj is not an object or the field is absent or JSON null. */
static const cJSON *field_get(const cJSON *obj, const char *field)
{
	const cJSON *it;

	if (!cJSON_IsObject(obj))
		return NULL;
	it = cJSON_GetObjectItemCaseSensitive(obj, field);
	return cJSON_IsNull(it) ? NULL : it;
}

const char *gx_valid_str(const cJSON *obj, const char *field, bool required, size_t min, size_t max, struct gx_verr *v)
{
	const cJSON *it = field_get(obj, field);
	long n;

	if (!it) {
		if (required)
			gx_verr_add(v, field, "is required");
		return NULL;
	}
	if (!cJSON_IsString(it)) {
		gx_verr_add(v, field, "must be a string");
		return NULL;
	}
	n = utf8_count((const unsigned char *)it->valuestring, strlen(it->valuestring));
	if (n < 0) {
		gx_verr_add(v, field, "must be valid UTF-8");
		return NULL;
	}
	if ((size_t)n < min || (size_t)n > max) {
		if (min == max)
			gx_verr_add(v, field, "must be %zu characters long", min);
		else
			gx_verr_add(v, field, "must be %zu..%zu characters long", min, max);
		return NULL;
	}
	return it->valuestring;
}

long long gx_valid_int(const cJSON *obj, const char *field, bool required, long long min, long long max, long long def,
		       struct gx_verr *v)
{
	const cJSON *it = field_get(obj, field);
	long long i;
	double x;

	if (!it) {
		if (required)
			gx_verr_add(v, field, "is required");
		return def;
	}
	x = cJSON_IsNumber(it) ? it->valuedouble : NAN;
	/* beyond 2^53 a double no longer holds every integer, so the client's literal may have been changed */
	if (!isfinite(x) || x != floor(x) || fabs(x) > 9007199254740992.0) {
		gx_verr_add(v, field, "must be an integer");
		return def;
	}
	i = (long long)x;
	if (i < min || i > max) {
		gx_verr_add(v, field, "must be between %lld and %lld", min, max);
		return def;
	}
	return i;
}

bool gx_valid_bool(const cJSON *obj, const char *field, bool required, bool def, struct gx_verr *v)
{
	const cJSON *it = field_get(obj, field);

	if (!it) {
		if (required)
			gx_verr_add(v, field, "is required");
		return def;
	}
	if (!cJSON_IsBool(it)) {
		gx_verr_add(v, field, "must be true or false");
		return def;
	}
	return cJSON_IsTrue(it);
}

bool gx_valid_amount(const cJSON *obj, const char *field, bool required, uint64_t *qirat, struct gx_verr *v)
{
	const cJSON *it = field_get(obj, field);
	const char *issue = NULL;

	*qirat = 0;
	if (!it) {
		if (required)
			gx_verr_add(v, field, "is required");
		return false;
	}
	if (gx_money_from_json(it, qirat, &issue) < 0) {
		gx_verr_add(v, field, "%s", issue);
		*qirat = 0;
		return false;
	}
	if (*qirat == 0) {
		gx_verr_add(v, field, "must be > 0");
		return false;
	}
	return true;
}

const cJSON *gx_valid_either(const cJSON *obj, const char *a, const char *b, const char **used)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, a);
	const cJSON *y;

	*used = a;
	if (x && !cJSON_IsNull(x))
		return x;
	y = cJSON_GetObjectItemCaseSensitive(obj, b);
	if (y && !cJSON_IsNull(y))
		*used = b;
	return y;
}

/* ---- query parameters ---- */

long long gx_valid_query_int(const char *s, const char *name, long long min, long long max, long long def,
			     struct gx_verr *v)
{
	char *end;
	long long n;

	if (!s)
		return def;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (!*s || *end || errno || s[0] < '0' || s[0] > '9' || n < min || n > max) {
		gx_verr_add(v, name, "must be an integer from %lld to %lld", min, max);
		return def;
	}
	return n;
}

int gx_valid_paging(const char *limit, const char *offset, long long max, long long def, struct gx_valid_page *pg,
		    struct gx_verr *v)
{
	size_t before = gx_verr_count(v);

	pg->limit = gx_valid_query_int(limit, "limit", 1, max, def, v);
	pg->offset = gx_valid_query_int(offset, "offset", 0, GX_VALID_OFFSET_MAX, 0, v);
	snprintf(pg->limit_s, sizeof(pg->limit_s), "%lld", pg->limit);
	snprintf(pg->offset_s, sizeof(pg->offset_s), "%lld", pg->offset);
	return gx_verr_count(v) > before ? -1 : 0;
}

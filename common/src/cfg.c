/* Environment configuration driven by per-daemon tables, and the DATABASE_URL -> libpq conninfo conversion. */
#include "gx/cfg.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "gx/log.h"

/* Values echoed in error messages are cut to this many bytes. */
#define CFG_SHOW_MAX 64

/* ---- small growable string ---------------------------------------------------------------------------------- */

struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_vadd(struct sbuf *b, const char *fmt, va_list ap) GX_PRINTF(2, 0);
static void sb_vadd(struct sbuf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if (b->len + (size_t)n + 1 > b->cap) {
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->s = gx_xrealloc(b->s, b->cap);
	}
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	b->len += (size_t)n;
}

static void sb_add(struct sbuf *b, const char *fmt, ...) GX_PRINTF(2, 3);
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vadd(b, fmt, ap);
	va_end(ap);
}

/* Take the buffer's string (caller owns); "" when nothing was added. */
static char *sb_take(struct sbuf *b)
{
	char *s = b->s ? b->s : gx_xstrdup("");

	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

/* ---- value parsers ------------------------------------------------------------------------------------------ */

static bool parse_ll(const char *s, long long *out)
{
	char *end;
	long long v;

	if (!((*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9')))
		return false; /* no leading space or '+', which strtoll would allow */
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool parse_ms(const char *s, long long *out)
{
	static const struct {
		const char *unit;
		long long ms;
	} units[] = { { "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	unsigned long long v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (unsigned long long)(LLONG_MAX - 9) / 10)
			return false;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	for (size_t i = 0; i < GX_ARRAY_LEN(units); i++) {
		if (strcmp(p, units[i].unit) == 0) {
			if (v > (unsigned long long)(LLONG_MAX / units[i].ms))
				return false;
			*out = (long long)v * units[i].ms;
			return true;
		}
	}
	return false;
}

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "1", "yes", "on" }, *const no[] = { "false", "0", "no", "off" };

	for (size_t i = 0; i < GX_ARRAY_LEN(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
			*out = strcasecmp(s, yes[i]) == 0;
			return true;
		}
	}
	return false;
}

/* The choice in "a|b|c" equal to s ignoring case, as a new string; NULL when none is. */
static char *match_choice(const char *choices, const char *s)
{
	size_t n = strlen(s);

	for (const char *p = choices; p && *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncasecmp(p, s, n) == 0)
			return gx_xstrndup(p, len);
		p = bar ? bar + 1 : NULL;
	}
	return NULL;
}

/* ---- loading ------------------------------------------------------------------------------------------------ */

static void *field_at(void *dst, const struct gx_cfg_key *k)
{
	return (char *)dst + k->offset;
}

/* Value as shown in an error: masked for secrets, control characters replaced, long values cut. */
static void show_value(const struct gx_cfg_key *k, const char *v, char out[CFG_SHOW_MAX + 4])
{
	size_t i;

	if (k->flags & GX_CFG_SECRET) {
		strcpy(out, "***");
		return;
	}
	for (i = 0; i < CFG_SHOW_MAX && v[i]; i++)
		out[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i];
	strcpy(out + i, v[i] ? "..." : "");
}

static bool out_of_range(const struct gx_cfg_key *k, long long v)
{
	return !(k->min == 0 && k->max == 0) && (v < k->min || v > k->max);
}

/* An unset row without default: "" for strings, 0 or false otherwise. */
static void set_empty(const struct gx_cfg_key *k, void *dst)
{
	if (k->type == GX_CFG_STR || k->type == GX_CFG_ENUM)
		*(char **)field_at(dst, k) = gx_xstrdup("");
	else if (k->type == GX_CFG_BOOL)
		*(bool *)field_at(dst, k) = false;
	else
		*(long long *)field_at(dst, k) = 0;
}

/* Parse src for row k into its field; on a problem describe it in pb and leave the field zero/"". */
static void load_one(const struct gx_cfg_key *k, const char *src, bool is_default, void *dst, struct sbuf *pb)
{
	char shown[CFG_SHOW_MAX + 4], why[192] = "", *str = NULL;
	const char *unit = k->type == GX_CFG_MS ? " ms" : "";
	long long ll = 0;
	bool b = false;
	size_t len;

	switch (k->type) {
	case GX_CFG_STR:
		len = strlen(src);
		if (k->min > 0 && len < (size_t)k->min)
			snprintf(why, sizeof(why), "is too short (at least %lld bytes)", k->min);
		else if (k->max > 0 && len > (size_t)k->max)
			snprintf(why, sizeof(why), "is too long (at most %lld bytes)", k->max);
		else
			str = gx_xstrdup(src);
		break;
	case GX_CFG_ENUM:
		str = match_choice(k->choices, src);
		if (!str)
			snprintf(why, sizeof(why), "is not one of %s", k->choices ? k->choices : "(no choices)");
		break;
	case GX_CFG_INT:
	case GX_CFG_MS:
		if (k->type == GX_CFG_INT ? !parse_ll(src, &ll) : !parse_ms(src, &ll))
			snprintf(why, sizeof(why), "%s",
				 k->type == GX_CFG_INT ? "is not an integer"
						       : "is not a duration (e.g. 500ms, 5s, 2m)");
		else if (out_of_range(k, ll))
			snprintf(why, sizeof(why), "is out of range %lld..%lld%s", k->min, k->max, unit);
		break;
	case GX_CFG_BOOL:
		if (!parse_bool(src, &b))
			snprintf(why, sizeof(why), "is not a boolean (true/false)");
		break;
	}
	if (why[0]) {
		show_value(k, src, shown);
		sb_add(pb, "%s%s='%s' %s%s", pb->len ? "; " : "", k->name, shown, why,
		       is_default ? " (built-in default)" : "");
		ll = 0;
		b = false;
	}
	if (k->type == GX_CFG_STR || k->type == GX_CFG_ENUM)
		*(char **)field_at(dst, k) = str ? str : gx_xstrdup("");
	else if (k->type == GX_CFG_BOOL)
		*(bool *)field_at(dst, k) = b;
	else
		*(long long *)field_at(dst, k) = ll;
}

int gx_cfg_load(const struct gx_cfg_key *keys, size_t n, void *dst, char *err, size_t errlen)
{
	struct sbuf pb = { 0 };
	const char *raw;
	char *msg;

	for (size_t i = 0; i < n; i++) {
		const struct gx_cfg_key *k = &keys[i];

		raw = getenv(k->name);
		if (raw && !*raw)
			raw = NULL;
		if (!raw && (k->flags & GX_CFG_REQUIRED || !k->def)) {
			if (k->flags & GX_CFG_REQUIRED)
				sb_add(&pb, "%s%s is required", pb.len ? "; " : "", k->name);
			set_empty(k, dst);
			continue;
		}
		load_one(k, raw ? raw : k->def, !raw, dst, &pb);
	}
	if (!pb.len) {
		if (errlen)
			err[0] = '\0';
		return 0;
	}
	msg = sb_take(&pb);
	if (errlen)
		snprintf(err, errlen, "invalid configuration: %s", msg);
	free(msg);
	gx_cfg_free(keys, n, dst);
	return -1;
}

void gx_cfg_free(const struct gx_cfg_key *keys, size_t n, void *dst)
{
	for (size_t i = 0; i < n; i++) {
		if (keys[i].type == GX_CFG_STR || keys[i].type == GX_CFG_ENUM) {
			char **p = field_at(dst, &keys[i]);
			free(*p);
			*p = NULL;
		}
	}
}

/* The effective value of row k as text for the startup log line (caller frees). */
static char *effective_value(const struct gx_cfg_key *k, void *dst)
{
	switch (k->type) {
	case GX_CFG_STR:
	case GX_CFG_ENUM: {
		const char *s = *(char **)field_at(dst, k);
		return gx_xstrdup((k->flags & GX_CFG_SECRET) && s[0] ? "***" : s);
	}
	case GX_CFG_BOOL:
		return gx_xstrdup(*(bool *)field_at(dst, k) ? "true" : "false");
	case GX_CFG_MS:
		return gx_xasprintf("%lldms", *(long long *)field_at(dst, k));
	case GX_CFG_INT:
		break;
	}
	return gx_xasprintf("%lld", *(long long *)field_at(dst, k));
}

void gx_cfg_load_or_exit(const struct gx_cfg_key *keys, size_t n, void *dst, const char *service)
{
	char err[4096];
	const char **kv;

	if (gx_cfg_load(keys, n, dst, err, sizeof(err)) < 0) {
		gx_log_fatal("%s", err);
		exit(2);
	}
	kv = gx_xcalloc(2 * n + 1, sizeof(*kv));
	for (size_t i = 0; i < n; i++) {
		kv[2 * i] = keys[i].name;
		kv[2 * i + 1] = effective_value(&keys[i], dst);
	}
	gx_log_kv(GX_LOG_INFO, kv, "%s configuration", service);
	for (size_t i = 0; i < n; i++)
		free((char *)kv[2 * i + 1]);
	free(kv);
}

void gx_cfg_print_help(FILE *f, const struct gx_cfg_key *keys, size_t n, const char *service)
{
	static const char *const tnames[] = { "string", "int", "bool", "duration", "enum" };

	fprintf(f, "%s is configured by environment variables:\n\n", service);
	fprintf(f, "%-28s %-24s %-14s %-9s %s\n", "NAME", "TYPE", "DEFAULT", "REQUIRED", "DESCRIPTION");
	for (size_t i = 0; i < n; i++) {
		const struct gx_cfg_key *k = &keys[i];
		char type[160];
		const char *def = k->def ? k->def : "-";

		if (k->type == GX_CFG_ENUM)
			snprintf(type, sizeof(type), "%s", k->choices ? k->choices : "enum");
		else if ((k->type == GX_CFG_INT || k->type == GX_CFG_MS) && !(k->min == 0 && k->max == 0))
			snprintf(type, sizeof(type), "%s[%lld..%lld%s]", tnames[k->type], k->min, k->max,
				 k->type == GX_CFG_MS ? "ms" : "");
		else if (k->type == GX_CFG_STR && k->max > 0)
			snprintf(type, sizeof(type), "string(%lld..%lld bytes)", k->min, k->max);
		else if (k->type == GX_CFG_STR && k->min > 0)
			snprintf(type, sizeof(type), "string(>=%lld bytes)", k->min);
		else
			snprintf(type, sizeof(type), "%s", tnames[k->type]);
		if ((k->flags & GX_CFG_SECRET) && k->def)
			def = "***";
		fprintf(f, "%-28s %-24s %-14s %-9s %s%s\n", k->name, type, def,
			k->flags & GX_CFG_REQUIRED ? "yes" : "no", k->help ? k->help : "",
			k->flags & GX_CFG_SECRET ? " (secret)" : "");
	}
}

/* ---- database connection string ----------------------------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode n bytes of s into a new string (caller frees); NULL on a bad escape or an encoded NUL. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = gx_xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		/* %00 would cut the value short inside libpq */
		if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0 ||
		    (s[i + 1] == '0' && s[i + 2] == '0')) {
			free(out);
			return NULL;
		}
		out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
		i += 2;
	}
	out[o] = '\0';
	return out;
}

/* Append " key='value'" with ' and \ escaped, as libpq's conninfo syntax wants. */
static void ci_add(struct sbuf *b, const char *key, const char *val)
{
	if (!val || !*val)
		return;
	sb_add(b, "%s%s='", b->len ? " " : "", key);
	for (const char *p = val; *p; p++)
		sb_add(b, "%s%c", *p == '\'' || *p == '\\' ? "\\" : "", *p);
	sb_add(b, "'");
}

static bool port_ok(const char *s)
{
	long long v;

	return parse_ll(s, &v) && v >= 1 && v <= 65535;
}

/* Query parameters passed through to libpq as they are. */
static const char *const url_params[] = {
	"sslmode",     "application_name", "connect_timeout", "options", "target_session_attrs",
	"sslrootcert", "sslcert",          "sslkey"
};
static const char *const sslmodes[] = { "disable", "allow", "prefer", "require", "verify-ca", "verify-full" };

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

/* One "key=value" of the query string into b. Returns NULL, or a static reason. */
static const char *url_param(const char *s, size_t n, struct sbuf *b)
{
	const char *eq = memchr(s, '=', n), *why = NULL;
	char *key = NULL, *val = NULL;
	long long v;

	if (!eq)
		return "has a query parameter without '='";
	key = pct_decode(s, (size_t)(eq - s));
	val = pct_decode(eq + 1, n - (size_t)(eq - s) - 1);
	if (!key || !val)
		why = "has a bad percent-escape in its query";
	else if (strcmp(key, "schema") == 0)
		why = strcmp(val, "public") == 0 ? NULL : "names a schema other than public";
	else if (strcmp(key, "connection_limit") == 0 || strcmp(key, "pool_timeout") == 0)
		why = NULL; /* Prisma pool settings: meaningless to libpq */
	else if (!in_list(key, url_params, GX_ARRAY_LEN(url_params)))
		why = "has an unsupported query parameter";
	else if (strcmp(key, "sslmode") == 0 && !in_list(val, sslmodes, GX_ARRAY_LEN(sslmodes)))
		why = "has an invalid sslmode";
	else if (strcmp(key, "connect_timeout") == 0 && (!parse_ll(val, &v) || v < 0 || v > 3600))
		why = "has an invalid connect_timeout";
	else
		ci_add(b, key, val);
	free(key);
	free(val);
	return why;
}

/* host, [v6] host and port of the authority (after any userinfo). Returns NULL, or a static reason. */
static const char *url_hostport(const char *s, size_t n, struct sbuf *b)
{
	const char *colon, *why = NULL;
	char *host = NULL, *port = NULL;

	if (n && s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		if (!rb || rb == s + 1)
			return "has a bad [IPv6] host";
		host = gx_xstrndup(s + 1, (size_t)(rb - s - 1));
		colon = rb + 1 < s + n ? rb + 1 : NULL;
		if (colon && *colon != ':') {
			free(host);
			return "has a bad [IPv6] host";
		}
	} else {
		colon = memchr(s, ':', n);
		host = pct_decode(s, colon ? (size_t)(colon - s) : n);
		if (!host)
			return "has a bad percent-escape in its host";
	}
	if (colon) {
		port = gx_xstrndup(colon + 1, n - (size_t)(colon + 1 - s));
		if (!port_ok(port))
			why = "has an invalid port";
	}
	if (!why) {
		ci_add(b, "host", host);
		ci_add(b, "port", port);
	}
	free(host);
	free(port);
	return why;
}

/* user[:password] of the authority. Returns NULL, or a static reason that never quotes the password. */
static const char *url_userinfo(const char *s, size_t n, struct sbuf *b)
{
	const char *colon = memchr(s, ':', n), *why = NULL;
	char *user = pct_decode(s, colon ? (size_t)(colon - s) : n);
	char *pw = colon ? pct_decode(colon + 1, n - (size_t)(colon + 1 - s)) : NULL;

	if (!user || (colon && !pw))
		why = "has a bad percent-escape in its user or password";
	else {
		ci_add(b, "user", user);
		ci_add(b, "password", pw);
	}
	free(user);
	if (pw)
		explicit_bzero(pw, strlen(pw));
	free(pw);
	return why;
}

static const char *url_to_conninfo(const char *url, struct sbuf *b)
{
	const char *p, *auth_end, *at = NULL, *q, *why;
	char *db;

	if (strncasecmp(url, "postgresql://", 13) == 0)
		p = url + 13;
	else if (strncasecmp(url, "postgres://", 11) == 0)
		p = url + 11;
	else
		return "must start with postgres:// or postgresql://";
	auth_end = p + strcspn(p, "/?");
	for (const char *c = p; c < auth_end; c++)
		if (*c == '@')
			at = c; /* the last '@': a raw '@' in the password still parses */
	if (at && (why = url_userinfo(p, (size_t)(at - p), b)))
		return why;
	if ((why = url_hostport(at ? at + 1 : p, (size_t)(auth_end - (at ? at + 1 : p)), b)))
		return why;
	p = auth_end;
	q = strchr(p, '?');
	if (*p == '/') {
		db = pct_decode(p + 1, (size_t)((q ? q : p + strlen(p)) - p - 1));
		if (!db)
			return "has a bad percent-escape in its database name";
		ci_add(b, "dbname", db);
		free(db);
	}
	for (p = q ? q + 1 : NULL; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len && (why = url_param(p, len, b)))
			return why;
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

char *gx_cfg_pg_conninfo(char *err, size_t errlen)
{
	struct sbuf b = { 0 };
	const char *url = env_nonempty("DATABASE_URL"), *why, *port;
	char *out, *pqerr = NULL;
	PQconninfoOption *opts;

	if (url) {
		if ((why = url_to_conninfo(url, &b))) {
			snprintf(err, errlen, "DATABASE_URL %s", why);
			goto fail;
		}
	} else {
		port = env_nonempty("DATABASE_PORT");
		if (port && !port_ok(port)) {
			snprintf(err, errlen, "DATABASE_PORT='%.16s' is not a port number 1..65535", port);
			goto fail;
		}
		ci_add(&b, "host", env_nonempty("DATABASE_HOST"));
		ci_add(&b, "port", port);
		ci_add(&b, "dbname", env_nonempty("DATABASE_NAME"));
		ci_add(&b, "user", env_nonempty("DATABASE_USER"));
		ci_add(&b, "password", env_nonempty("DATABASE_PASSWORD"));
	}
	out = sb_take(&b);
	/* libpq is the judge of what it will accept; its messages name options, never their values */
	opts = PQconninfoParse(out, &pqerr);
	if (!opts) {
		snprintf(err, errlen, "database settings rejected by libpq: %s", pqerr ? pqerr : "out of memory");
		err[strcspn(err, "\n")] = '\0';
		PQfreemem(pqerr);
		explicit_bzero(out, strlen(out));
		free(out);
		return NULL;
	}
	PQconninfoFree(opts);
	return out;
fail:
	if (b.s)
		explicit_bzero(b.s, b.len);
	free(b.s);
	return NULL;
}

char *gx_cfg_conninfo_masked(const char *conninfo)
{
	struct sbuf b = { 0 };
	PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", NULL);

	if (!opts)
		return gx_xstrdup("(invalid conninfo)");
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (o->val && *o->val)
			ci_add(&b, o->keyword, strcmp(o->keyword, "password") == 0 ? "***" : o->val);
	}
	PQconninfoFree(opts);
	return sb_take(&b);
}

/* Environment configuration driven by per-daemon tables, and the DATABASE_URL -> libpq conninfo conversion. */
#include "gx/cfg.h"

#include <ctype.h>
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

/* The effective value of row k as a field of the startup log line: text (secrets "***"), a bool, or a number (a
 * duration in milliseconds). Borrows from dst. */
static struct gx_log_field effective_value(const struct gx_cfg_key *k, void *dst)
{
	switch (k->type) {
	case GX_CFG_STR:
	case GX_CFG_ENUM: {
		const char *s = *(char **)field_at(dst, k);
		return (struct gx_log_field)GX_LOG_STR(k->name, (k->flags & GX_CFG_SECRET) && s[0] ? "***" : s);
	}
	case GX_CFG_BOOL:
		return (struct gx_log_field)GX_LOG_BOOL(k->name, *(bool *)field_at(dst, k));
	case GX_CFG_MS:
	case GX_CFG_INT:
		break;
	}
	return (struct gx_log_field)GX_LOG_INT(k->name, *(long long *)field_at(dst, k));
}

void gx_cfg_load_or_exit(const struct gx_cfg_key *keys, size_t n, void *dst, const char *service)
{
	char err[4096];
	struct gx_log_field *fields;

	if (gx_cfg_load(keys, n, dst, err, sizeof(err)) < 0) {
		gx_log_fatal("%s", err);
		exit(2);
	}
	fields = gx_xcalloc(n + 1, sizeof(*fields)); /* ended by the zeroed last one */
	for (size_t i = 0; i < n; i++)
		fields[i] = effective_value(&keys[i], dst);
	gx_log_kv(GX_LOG_INFO, fields, "%s configuration", service);
	free(fields);
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

/* Query parameters passed through to libpq as they are; with user, password, host, port and dbname, also the order
 * of the keywords in the resulting conninfo. */
static const char *const url_params[] = {
	"sslmode",     "application_name", "connect_timeout", "options", "target_session_attrs",
	"sslrootcert", "sslcert",          "sslkey"
};
static const char *const url_parts[] = { "user", "password", "host", "port", "dbname" };
static const char *const sslmodes[] = { "disable", "allow", "prefer", "require", "verify-ca", "verify-full" };

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

/* Whether n bytes of s hold only well-formed percent-escapes, none of them %00 (it would cut a value short inside
 * libpq). Checked per part of the URL so the error can name the part: libpq's own messages quote the whole URL,
 * password included, and are never shown. */
static bool pct_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%')
			continue;
		if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) || !isxdigit((unsigned char)s[i + 2]) ||
		    (s[i + 1] == '0' && s[i + 2] == '0'))
			return false;
		i += 2;
	}
	return true;
}

/* Whether the n-byte host list s has a ':' with no port after it ("h:", "[::1]:,h2"): libpq would silently use
 * the default port there. */
static bool empty_port(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == ':' && (i + 1 == n || s[i + 1] == ','))
			return true;
	return false;
}

/* Every element of libpq's comma-separated port list is empty (that host's default) or 1..65535. */
static bool ports_ok(const char *ports)
{
	char one[16];

	for (const char *p = ports; p && *p;) {
		size_t n = strcspn(p, ",");
		if (n >= sizeof(one))
			return false;
		memcpy(one, p, n);
		one[n] = '\0';
		if (n && !port_ok(one))
			return false;
		p += n + (p[n] == ',');
	}
	return true;
}

/* The query string s (after the '?') onto u as libpq should read it: the parameters of url_params only, Prisma's
 * pool settings and schema=public left out, a '=' inside a value percent-encoded (libpq refuses a second raw '=').
 * Keys are matched as written. Returns NULL, or a static reason. */
static const char *url_query(const char *s, struct sbuf *u)
{
	const char *why = NULL;
	char sep = '?';

	while (*s && !why) {
		size_t n = strcspn(s, "&");
		char *kv = gx_xstrndup(s, n), *eq = strchr(kv, '=');

		s += n + (s[n] == '&');
		if (eq)
			*eq++ = '\0'; /* kv: the key, eq: the value */
		if (!n)
			; /* "a=1&&b=2" */
		else if (!eq)
			why = "has a query parameter without '='";
		else if (!pct_ok(kv, n))
			why = "has a bad percent-escape in its query";
		else if (strcmp(kv, "schema") == 0)
			why = strcmp(eq, "public") == 0 ? NULL : "names a schema other than public";
		else if (strcmp(kv, "connection_limit") == 0 || strcmp(kv, "pool_timeout") == 0)
			; /* Prisma pool settings: meaningless to libpq */
		else if (!in_list(kv, url_params, GX_ARRAY_LEN(url_params)))
			why = "has an unsupported query parameter";
		else {
			sb_add(u, "%c%s=", sep, kv);
			for (const char *c = eq; *c; c++) {
				if (*c == '=')
					sb_add(u, "%%3D");
				else
					sb_add(u, "%c", *c);
			}
			sep = '&';
		}
		free(kv);
	}
	return why;
}

static const char *opt_val(const PQconninfoOption *opts, const char *keyword)
{
	for (const PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0)
			return o->val;
	return NULL;
}

/* The options libpq parsed from the URL into b, checked and in the order of url_parts and url_params. */
static const char *url_options(const PQconninfoOption *opts, struct sbuf *b)
{
	const char *v;
	long long t;

	if (!ports_ok(opt_val(opts, "port")))
		return "has an invalid port";
	if ((v = opt_val(opts, "sslmode")) && !in_list(v, sslmodes, GX_ARRAY_LEN(sslmodes)))
		return "has an invalid sslmode";
	if ((v = opt_val(opts, "connect_timeout")) && (!parse_ll(v, &t) || t < 0 || t > 3600))
		return "has an invalid connect_timeout";
	for (size_t i = 0; i < GX_ARRAY_LEN(url_parts); i++)
		ci_add(b, url_parts[i], opt_val(opts, url_parts[i]));
	for (size_t i = 0; i < GX_ARRAY_LEN(url_params); i++)
		ci_add(b, url_params[i], opt_val(opts, url_params[i]));
	return NULL;
}

/* DATABASE_URL into keyword='value' form in b. libpq parses the URL (percent-decoding, [v6] hosts, host lists);
 * this function only finds the parts to check them and hands libpq a copy it reads the way this project always
 * did: scheme case-insensitive, the last '@' before the first '/' or '?' ending the userinfo (earlier ones
 * percent-encoded), the query reduced by url_query. Returns NULL, or a static reason that never quotes the URL. */
static const char *url_to_conninfo(const char *url, struct sbuf *b)
{
	struct sbuf u = { 0 };
	const char *p, *auth_end, *host, *at = NULL, *q, *db, *db_end, *why = NULL;
	char *pqerr = NULL;
	PQconninfoOption *opts = NULL;

	if (strncasecmp(url, "postgresql://", 13) == 0)
		p = url + 13;
	else if (strncasecmp(url, "postgres://", 11) == 0)
		p = url + 11;
	else
		return "must start with postgres:// or postgresql://";
	auth_end = p + strcspn(p, "/?");
	for (const char *c = p; c < auth_end; c++)
		if (*c == '@')
			at = c;
	host = at ? at + 1 : p;
	q = strchr(auth_end, '?');
	db = auth_end + (*auth_end == '/');
	db_end = q ? q : db + strlen(db);
	if (at && !pct_ok(p, (size_t)(at - p)))
		return "has a bad percent-escape in its user or password";
	if (!pct_ok(host, (size_t)(auth_end - host)))
		return "has a bad percent-escape in its host";
	if (empty_port(host, (size_t)(auth_end - host)))
		return "has an invalid port";
	if (!pct_ok(db, (size_t)(db_end - db)))
		return "has a bad percent-escape in its database name";

	sb_add(&u, "postgresql://");
	for (const char *c = p; c < auth_end; c++) {
		if (*c == '@' && c != at)
			sb_add(&u, "%%40");
		else
			sb_add(&u, "%c", *c);
	}
	/* always a '/', so that libpq's search for the userinfo's '@' stops before the query */
	sb_add(&u, "/%.*s", (int)(db_end - db), db);
	if (q && (why = url_query(q + 1, &u)))
		goto done;
	opts = PQconninfoParse(u.s, &pqerr);
	if (!opts)
		why = memchr(host, '[', (size_t)(auth_end - host)) ? "has a bad [IPv6] host"
								   : "is not a URL libpq accepts";
	else
		why = url_options(opts, b);
done:
	if (opts) {
		for (PQconninfoOption *o = opts; o->keyword; o++)
			if (o->val && strcmp(o->keyword, "password") == 0)
				explicit_bzero(o->val, strlen(o->val));
		PQconninfoFree(opts);
	}
	if (pqerr) {
		explicit_bzero(pqerr, strlen(pqerr));
		PQfreemem(pqerr);
	}
	explicit_bzero(u.s, u.len);
	free(u.s);
	return why;
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

/* Route table compilation and matching: literal segments and {param} segments, percent-decoding, 404 vs 405. */
#include "http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/log.h"
#include "gx/util.h"

struct seg {
	char *text; /* literal text, or the parameter name */
	bool param;
};

struct croute {
	const struct gx_route *route;
	const char *method; /* canonical upper-case method */
	size_t nseg;
	struct seg seg[GX_HTTP_MAX_SEGMENTS];
};

struct gx_http_router {
	struct croute *routes;
	size_t n;
};

static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };

static const char *canon_method(const char *m)
{
	for (size_t i = 0; i < GX_ARRAY_LEN(methods); i++)
		if (m && strcmp(m, methods[i]) == 0)
			return methods[i];
	return NULL;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Split a route template into segments; returns 0 or -1 (logged). */
static int compile_path(struct croute *c, const char *path)
{
	const char *p = path;
	size_t nparams = 0;

	if (!path || path[0] != '/') {
		gx_log_error("route path '%s' must start with '/'", path ? path : "");
		return -1;
	}
	if (strcmp(path, "/") == 0)
		return 0;
	while (*p == '/') {
		const char *start = ++p;
		size_t len;

		while (*p && *p != '/')
			p++;
		len = (size_t)(p - start);
		if (len == 0 || c->nseg == GX_HTTP_MAX_SEGMENTS) {
			gx_log_error("route path '%s' has an empty segment or too many segments", path);
			return -1;
		}
		if (start[0] == '{') {
			if (len < 3 || start[len - 1] != '}' || nparams == GX_HTTP_MAX_PARAMS) {
				gx_log_error("route path '%s' has a malformed or extra parameter", path);
				return -1;
			}
			for (size_t i = 1; i < len - 1; i++) {
				if (!name_char(start[i])) {
					gx_log_error("route path '%s' has a bad parameter name", path);
					return -1;
				}
			}
			c->seg[c->nseg].text = gx_xstrndup(start + 1, len - 2);
			c->seg[c->nseg].param = true;
			nparams++;
		} else {
			if (memchr(start, '{', len) || memchr(start, '}', len) || memchr(start, '%', len)) {
				gx_log_error("route path '%s' mixes literal text and braces or escapes", path);
				return -1;
			}
			c->seg[c->nseg].text = gx_xstrndup(start, len);
		}
		c->nseg++;
	}
	return 0;
}

static bool same_template(const struct croute *a, const struct croute *b)
{
	if (a->nseg != b->nseg)
		return false;
	for (size_t i = 0; i < a->nseg; i++) {
		if (a->seg[i].param != b->seg[i].param)
			return false;
		if (!a->seg[i].param && strcmp(a->seg[i].text, b->seg[i].text) != 0)
			return false;
	}
	return true;
}

void gx_http_router_free(struct gx_http_router *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		for (size_t j = 0; j < r->routes[i].nseg; j++)
			free(r->routes[i].seg[j].text);
	free(r->routes);
	free(r);
}

struct gx_http_router *gx_http_router_new(const struct gx_route *routes, size_t n)
{
	struct gx_http_router *r = gx_xcalloc(1, sizeof(*r));

	r->routes = gx_xcalloc(n ? n : 1, sizeof(*r->routes));
	for (size_t i = 0; i < n; i++) {
		struct croute *c = &r->routes[i];

		r->n = i + 1;
		c->route = &routes[i];
		c->method = canon_method(routes[i].method);
		if (!c->method || !routes[i].handler) {
			gx_log_error("route %zu '%s': unknown method '%s' or no handler", i,
				     routes[i].path ? routes[i].path : "", routes[i].method ? routes[i].method : "");
			goto fail;
		}
		if (compile_path(c, routes[i].path) < 0)
			goto fail;
		for (size_t j = 0; j < i; j++) {
			if (r->routes[j].method == c->method && same_template(&r->routes[j], c)) {
				gx_log_error("route '%s %s' is defined twice", c->method, routes[i].path);
				goto fail;
			}
		}
	}
	return r;
fail:
	gx_http_router_free(r);
	return NULL;
}

char *gx_http_pct_decode(const char *s, size_t n)
{
	char *out = gx_xmalloc(n + 1);
	size_t o = 0;
	unsigned char byte;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			if (s[i] == '\0')
				goto fail;
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= n)
			goto fail;
		if (gx_hex_decode(s + i + 1, 1, &byte) < 0 || byte == 0)
			goto fail;
		out[o++] = (char)byte;
		i += 2;
	}
	out[o] = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

void gx_http_match_release(struct gx_http_match *m)
{
	for (size_t i = 0; i < m->nparams; i++) {
		free(m->values[i]);
		m->values[i] = NULL;
	}
	m->nparams = 0;
	m->route = NULL;
}

/* Raw path split into segment pointers into the caller's string. Returns the count, or -1 for an empty segment
 * or too many segments (no route can match those). */
static int split_raw(const char *raw, const char **start, size_t *len)
{
	int n = 0;
	const char *p = raw;

	if (raw[0] != '/')
		return -1;
	if (strcmp(raw, "/") == 0)
		return 0;
	while (*p == '/') {
		const char *s = ++p;
		while (*p && *p != '/')
			p++;
		if (p == s || n == GX_HTTP_MAX_SEGMENTS)
			return -1;
		start[n] = s;
		len[n] = (size_t)(p - s);
		n++;
	}
	return *p ? -1 : n;
}

/* Does route c match the segments? Returns a specificity score (higher wins: literal before param at the first
 * difference), or -1. */
static long long path_score(const struct croute *c, int nseg, char **decoded)
{
	long long score = 0;

	if ((size_t)nseg != c->nseg)
		return -1;
	for (size_t i = 0; i < c->nseg; i++) {
		score <<= 1;
		if (c->seg[i].param)
			continue;
		if (strcmp(c->seg[i].text, decoded[i]) != 0)
			return -1;
		score |= 1;
	}
	return score;
}

static void allow_add(char *allow, size_t cap, const char *method)
{
	size_t len = strlen(allow);
	const char *p = strstr(allow, method);

	if (p && (p == allow || p[-1] == ' ') && (p[strlen(method)] == ',' || p[strlen(method)] == '\0'))
		return;
	snprintf(allow + len, cap - len, "%s%s", len ? ", " : "", method);
}

enum gx_http_match_result gx_http_router_match(const struct gx_http_router *r, const char *method, const char *raw_path,
					       struct gx_http_match *m)
{
	const char *start[GX_HTTP_MAX_SEGMENTS];
	size_t len[GX_HTTP_MAX_SEGMENTS];
	char *decoded[GX_HTTP_MAX_SEGMENTS];
	const struct croute *best = NULL;
	long long best_score = -1;
	bool path_known = false;
	enum gx_http_match_result res = GX_HTTP_MATCH_NOT_FOUND;
	int nseg;

	memset(m, 0, sizeof(*m));
	if (method && strcmp(method, "HEAD") == 0)
		method = "GET";
	nseg = split_raw(raw_path, start, len);
	if (nseg < 0)
		return GX_HTTP_MATCH_NOT_FOUND;
	for (int i = 0; i < nseg; i++) {
		decoded[i] = gx_http_pct_decode(start[i], len[i]);
		if (!decoded[i]) {
			for (int j = 0; j < i; j++)
				free(decoded[j]);
			return GX_HTTP_MATCH_BAD_PATH;
		}
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct croute *c = &r->routes[i];
		long long score = path_score(c, nseg, decoded);

		if (score < 0)
			continue;
		path_known = true;
		allow_add(m->allow, sizeof(m->allow), c->method);
		if (method && strcmp(c->method, method) == 0 && score > best_score) {
			best = c;
			best_score = score;
		}
	}
	if (best) {
		res = GX_HTTP_MATCH_OK;
		m->route = best->route;
		for (size_t i = 0; i < best->nseg; i++) {
			if (!best->seg[i].param)
				continue;
			if (strchr(decoded[i], '/')) {
				res = GX_HTTP_MATCH_BAD_PATH;
				break;
			}
			m->names[m->nparams] = best->seg[i].text;
			m->values[m->nparams++] = decoded[i];
			decoded[i] = NULL;
		}
	} else if (path_known) {
		res = GX_HTTP_MATCH_BAD_METHOD;
		if (strstr(m->allow, "GET"))
			allow_add(m->allow, sizeof(m->allow), "HEAD");
	}
	for (int i = 0; i < nseg; i++)
		free(decoded[i]);
	if (res == GX_HTTP_MATCH_BAD_PATH)
		gx_http_match_release(m);
	return res;
}

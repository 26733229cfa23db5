/* JSON text checks for request bodies (and JWT parts): well-formed UTF-8, no raw control characters, no \u0000
 * escape, then a strict cJSON parse of exactly the given bytes into an object nested at most 32 deep. */
#include "http_int.h"

#include <string.h>

#include "gx/valid.h"

#define JSON_MAX_DEPTH 32

static bool json_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The lexical rules cJSON does not enforce: outside strings the only bytes below 0x20 are JSON whitespace (cJSON
 * skips every byte <= 0x20, NUL included); inside strings none at all (RFC 8259 §7); and no \u0000 escape, which
 * cJSON decodes into a NUL that silently ends the C string. Escapes are walked pairwise, so "\\u0000" (an escaped
 * backslash, then text) is fine. */
static const char *lexical_problem(const unsigned char *s, size_t n)
{
	bool in_str = false;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (!in_str) {
			if (c == '"')
				in_str = true;
			else if (c < 0x20 && !json_ws(c))
				return "the request body contains a raw control character";
			continue;
		}
		if (c == '"') {
			in_str = false;
		} else if (c < 0x20) {
			return "the request body contains a raw control character in a string";
		} else if (c == '\\') {
			if (i + 5 < n && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0)
				return "the request body contains a \\u0000 escape";
			i++;
			if (i < n && s[i] < 0x20)
				return "the request body contains a raw control character in a string";
		}
	}
	return NULL;
}

bool gx_http_json_text_ok(const unsigned char *s, size_t n)
{
	return s && gx_valid_utf8_n(s, n) && !lexical_problem(s, n);
}

static bool depth_ok(const cJSON *item, int depth)
{
	if (depth > JSON_MAX_DEPTH)
		return false;
	for (const cJSON *c = item->child; c; c = c->next)
		if (!depth_ok(c, depth + 1))
			return false;
	return true;
}

cJSON *gx_http_json_parse_body(const unsigned char *s, size_t n, const char **why)
{
	const char *text = (const char *)s;
	const char *end = NULL;
	cJSON *body;

	if (!gx_valid_utf8_n(s, n)) {
		*why = "the request body is not valid UTF-8";
		return NULL;
	}
	if ((*why = lexical_problem(s, n)))
		return NULL;
	/* cJSON reads at most n bytes here: the body is not NUL-terminated */
	body = cJSON_ParseWithLengthOpts(text, n, &end, false);
	while (body && end && end < text + n && json_ws((unsigned char)*end))
		end++;
	if (!body || end != text + n) {
		cJSON_Delete(body);
		*why = "the request body is not valid JSON";
		return NULL;
	}
	if (!cJSON_IsObject(body) || !depth_ok(body, 0)) {
		cJSON_Delete(body);
		*why = "the request body must be a JSON object nested at most 32 deep";
		return NULL;
	}
	*why = NULL;
	return body;
}

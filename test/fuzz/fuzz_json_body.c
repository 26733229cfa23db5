/* libFuzzer target for the JSON request-body layer: the pipeline's body step itself (gx_http_json_parse_body: UTF-8,
 * no raw control character or \u0000 escape, strict cJSON parse of exactly the input's bytes with only trailing
 * whitespace allowed, an object nested at most 32 deep), then every gx_valid getter and predicate a handler runs on
 * the parsed object, and the VALIDATION_FAILED details. The input is not NUL-terminated, so ASan catches any read
 * past the body's length. The integration tests (test_hostile.py) send hostile bodies through the real server. */
#include <stdbool.h>
#include <cjson/cJSON.h>

#include "fuzz.h"
#include "gx/money.h"
#include "gx/valid.h"
#include "../../common/src/http_int.h"

#define MAX_DEPTH 32

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

static int depth_of(const cJSON *item)
{
	int d = 0;

	for (const cJSON *c = item->child; c; c = c->next) {
		int k = depth_of(c) + 1;

		if (k > d)
			d = k;
	}
	return d;
}

/* Every getter and predicate on every member value, the way handlers read fields. */
static void validate(const cJSON *obj)
{
	static const char *const roles[] = { "USER", "ADMIN", "SUPER_ADMIN", "PARTNER_API", NULL };
	struct gx_verr *v = gx_verr_new();
	const cJSON *m;
	uint64_t q;
	int y, mo, d;
	cJSON *details;
	size_t before;
	bool missing;
	char *txt;

	cJSON_ArrayForEach(m, obj) {
		const char *name = m->string ? m->string : "";
		const char *s, *issue;

		s = gx_valid_str(obj, name, false, 0, 200, v);
		if (s) {
			sink += gx_valid_email(s) + gx_valid_e164(s) + gx_valid_iso2(s) + gx_valid_hex64(s);
			sink += gx_valid_utf8(s) + gx_valid_name(s, 1, 100) + gx_valid_enum(s, roles) + gx_valid_id(s);
			if (gx_valid_date(s, &y, &mo, &d))
				sink += (size_t)gx_valid_age_years(y, mo, d, 1700000000);
			if (gx_money_parse(s, &q, &issue) == 0)
				sink += q;
		}
		sink += (size_t)gx_valid_int(obj, name, false, -1000000, 1000000, 0, v);
		sink += gx_valid_bool(obj, name, false, false, v);
		if (gx_valid_amount(obj, name, false, &q, v))
			sink += q;
	}
	before = gx_verr_count(v);
	missing = !cJSON_GetObjectItemCaseSensitive(obj, "required") ||
		  cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(obj, "required"));
	(void)gx_valid_str(obj, "required", true, 1, 64, v);
	/* a missing required field is counted, and listed while the collector keeps entries (64) */
	if (missing && (gx_verr_count(v) != before + 1 || (before < 64 && !gx_verr_has(v, "required"))))
		abort();
	details = gx_verr_details_json(v);
	if ((size_t)cJSON_GetArraySize(details) != (gx_verr_count(v) < 64 ? gx_verr_count(v) : 64))
		abort();
	txt = cJSON_PrintUnformatted(details);
	if (!txt)
		abort();
	sink += strlen(txt);
	free(txt);
	cJSON_Delete(details);
	gx_verr_free(v);
}

/* Every key and string decoded from an accepted body is well-formed UTF-8 (escapes included). */
static void check_strings(const cJSON *item)
{
	for (const cJSON *c = item->child; c; c = c->next) {
		if ((c->string && !gx_valid_utf8(c->string)) || (cJSON_IsString(c) && !gx_valid_utf8(c->valuestring)))
			abort();
		check_strings(c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	cJSON *body = gx_http_json_parse_body(data, size, &why);

	if (!body) {
		/* refused with a reason, and the text check (shared with gx_jwt) agrees on which kind */
		bool lexical = why && (strstr(why, "control") || strstr(why, "u0000") || strstr(why, "UTF-8"));

		if (!why || lexical == gx_http_json_text_ok(data, size))
			abort();
		return 0;
	}
	if (why || !cJSON_IsObject(body) || depth_of(body) > MAX_DEPTH || !gx_http_json_text_ok(data, size))
		abort();
	check_strings(body);
	validate(body);
	cJSON_Delete(body);
	return 0;
}

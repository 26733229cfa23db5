/* libFuzzer target for the JSON request-body layer: the same checks as the pipeline's body step (UTF-8, strict
 * cJSON parse of the exact length with only trailing whitespace allowed, an object nested at most 32 deep), then
 * every gx_valid getter and predicate a handler runs on the parsed object, and the VALIDATION_FAILED details.
 * The body step itself is static in http.c, so this mirrors it with the same library calls; the integration tests
 * (test_hostile.py) send the hostile bodies through the real server. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "gx/log.h"
#include "gx/money.h"
#include "gx/valid.h"

#define MAX_DEPTH 32

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	gx_log_set_level(GX_LOG_FATAL);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *end = NULL;
	char *s;
	cJSON *body;

	/* step 4: UTF-8 first (gx_valid_utf8 needs a string: an embedded NUL is not valid JSON text anyway) */
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (strlen(s) != size || !gx_valid_utf8(s)) {
		free(s);
		return 0;
	}
	body = cJSON_ParseWithLengthOpts(s, size, &end, false);
	while (body && end && end < s + size && strchr(" \t\r\n", *end) && *end)
		end++;
	if (body && end == s + size && cJSON_IsObject(body) && depth_of(body) <= MAX_DEPTH)
		validate(body);
	cJSON_Delete(body);
	free(s);
	return 0;
}

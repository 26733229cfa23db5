/* libFuzzer target for exact money parsing (gx/money.h). The input is tried as a decimal string (gx_money_parse)
 * and as JSON text (gx_money_from_json on the parsed value). Checks: an accepted amount formats to a canonical
 * string that parses back to the same Qirat; a JSON string amount agrees with gx_money_parse; fee math never
 * exceeds the amount. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "gx/log.h"
#include "gx/money.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	gx_log_set_level(GX_LOG_FATAL);
	return 0;
}

static void roundtrip(uint64_t q)
{
	char buf[GX_MONEY_FMT_LEN];
	const char *issue = NULL;
	uint64_t back = 0, fee = 0;

	gx_money_format(q, buf);
	if (gx_money_parse(buf, &back, &issue) != 0 || back != q)
		abort();
	if (gx_money_mul_bps(q, 10000, &fee) != 0 || fee != q)
		abort();
	if (gx_money_mul_bps(q, 25, &fee) != 0 || fee > q)
		abort();
	sink += fee;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *issue = NULL;
	uint64_t q = 0, q2 = 0;
	char *s = malloc(size + 1);
	cJSON *v;
	int rc;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	rc = gx_money_parse(s, &q, &issue);
	if (rc == 0)
		roundtrip(q);
	else if (!issue || !issue[0])
		abort();

	v = cJSON_ParseWithLength(s, size);
	if (v) {
		issue = NULL;
		if (gx_money_from_json(v, &q2, &issue) == 0) {
			roundtrip(q2);
			if (cJSON_IsString(v) && (gx_money_parse(v->valuestring, &q, &issue) != 0 || q != q2))
				abort();
		} else if (!issue || !issue[0]) {
			abort();
		}
		cJSON_Delete(v);
	}
	free(s);
	return 0;
}

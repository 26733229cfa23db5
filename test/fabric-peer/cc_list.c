/* GX chaincode model: the paged read functions (docs/chaincode.md §6.8) over paginated range reads (cc_range).
 * Each lists one kind of record in byte order of its id: List*(pageSize, bookmark) ->
 * {"records":[...],"fetchedRecordsCount":n,"bookmark":"<id the next page starts at>"|""}. */
#include "cc_int.h"

#include <stdlib.h>
#include <string.h>

#include "gx/fee.h"

#define CC_PAGE_MAX 1000

struct page {
	cJSON *records;
	size_t prefix_len;
};

static void add_record(const char *key, const char *val, size_t len, void *arg)
{
	struct page *pg = arg;
	cJSON *rec = cJSON_ParseWithLength(val, len);

	(void)key;
	if (rec)
		cJSON_AddItemToArray(pg->records, rec);
}

/* args: pageSize (decimal 1..1000), bookmark ("" = from the first record, else an id as returned). */
static int list(struct cc_ctx *c, const char *kind)
{
	const char *bookmark = c->args[1];
	uint64_t size = 0;
	char *start, *end, *next = NULL;
	struct page pg;
	cJSON *out;
	size_t n;

	if (gx_fee_parse_u64(c->args[0], &size) < 0 || size < 1 || size > CC_PAGE_MAX)
		return cc_fail(c, CC_BAD, "pageSize must be an integer 1..%d", CC_PAGE_MAX);
	if (*bookmark && cc_check_id(c, "bookmark", bookmark) < 0)
		return CC_BAD;
	start = cc_key(kind, bookmark);
	end = gx_xasprintf("%s~~", kind); /* '~' sorts after every id character (§1) */
	pg.records = cJSON_CreateArray();
	pg.prefix_len = strlen(kind) + 1;
	n = cc_range(c->stub, start, end, (size_t)size, add_record, &pg, &next);
	out = cJSON_CreateObject();
	cJSON_AddItemToObject(out, "records", pg.records);
	cJSON_AddNumberToObject(out, "fetchedRecordsCount", (double)n);
	cJSON_AddStringToObject(out, "bookmark", next ? next + pg.prefix_len : "");
	free(next);
	free(start);
	free(end);
	return cc_ok(c, out);
}

int cc_token_list_accounts(struct cc_ctx *c)
{
	return list(c, "acct");
}

int cc_org_list(struct cc_ctx *c)
{
	return list(c, "org");
}

int cc_org_list_tx(struct cc_ctx *c)
{
	return list(c, "mstx");
}

int cc_loan_list(struct cc_ctx *c)
{
	return list(c, "loan");
}

int cc_gov_list(struct cc_ctx *c)
{
	return list(c, "prop");
}

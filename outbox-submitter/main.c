/* outbox-submitter: claims outbox commands and submits them to Fabric (issue 4, docs/outbox-submitter.md). This file
 * is the wiring: the configuration table (the shared FABRIC_* rows, then the submitter's own), and the engine
 * (submitter.c) started from init, drained on SIGTERM and joined in fini, next to the shared health and metrics
 * server on METRICS_PORT. */
#include <stddef.h>

#include <string.h>

#include "gx/api.h"
#include "gx/fabric_cfg.h"
#include "gx/util.h"
#include "submitter.h"

static struct sub_cfg cfg;

#define OFF(f) offsetof(struct sub_cfg, f)
#define REQ GX_CFG_REQUIRED

/* The submitter's own rows, after the shared FABRIC_* ones (gx/fabric_cfg.h). */
static const struct gx_cfg_key own_keys[] = {
	{ "FABRIC_ENDORSE_TIMEOUT_MS", GX_CFG_MS, "15s", 100, 600000, OFF(endorse_timeout_ms), 0, NULL,
	  "Endorse deadline" },
	{ "FABRIC_COMMIT_TIMEOUT_MS", GX_CFG_MS, "60s", 100, 600000, OFF(commit_timeout_ms), 0, NULL,
	  "CommitStatus deadline (waits for the block)" },
	{ "WORKER_ID", GX_CFG_STR, "", 0, 128, OFF(worker_id), 0, NULL,
	  "lease owner name, held by one live process at a time; empty = the host name (the pod name), or <host>-<n> "
	  "while another live process holds it" },
	{ "BATCH_SIZE", GX_CFG_INT, "500", 1, 10000, OFF(batch_size), 0, NULL, "commands claimed per query" },
	{ "MAX_IN_FLIGHT", GX_CFG_INT, "2000", 1, 100000, OFF(max_in_flight), 0, NULL,
	  "commands claimed and not yet settled, per replica" },
	{ "LEASE_MS", GX_CFG_MS, "6s", 1000, 3600000, OFF(lease_ms), 0, NULL,
	  "claim lease, renewed every third for the commands held; a lost replica's commands are taken over "
	  "after it" },
	{ "POLL_INTERVAL_MS", GX_CFG_MS, "1s", 10, 600000, OFF(poll_ms), 0, NULL,
	  "claim poll when no NOTIFY gx_outbox arrives" },
	{ "MAX_RETRIES", GX_CFG_INT, "10", 1, 1000, OFF(max_retries), 0, NULL,
	  "counted attempts before a retryable failure becomes FAILED" },
	{ "BACKOFF_BASE_MS", GX_CFG_MS, "500ms", 1, 3600000, OFF(backoff_base_ms), 0, NULL,
	  "first retry delay (doubles per attempt, jittered)" },
	{ "BACKOFF_MAX_MS", GX_CFG_MS, "60s", 1, 86400000, OFF(backoff_max_ms), 0, NULL, "retry delay cap" },
	{ "MVCC_MAX_REENDORSE", GX_CFG_INT, "20", 0, 1000, OFF(mvcc_max), 0, NULL,
	  "MVCC conflicts re-endorsed at once (not counted) before they count as retryable failures" },
};

static int init(const struct gx_api_config *shared, void *c, void **app)
{
	struct sub *s = sub_start(c, shared->pg_conninfo, shared->drain_timeout_ms);

	if (!s)
		return -1;
	*app = s;
	return 0;
}

static void fini(void *app)
{
	sub_free(app);
}

static void on_drain(void *app)
{
	sub_drain(app);
}

static bool ready(void *app, char *reason, size_t reasonlen)
{
	return sub_ready(app, reason, reasonlen);
}

static void health(void *app, cJSON *body)
{
	sub_health(app, body);
}

int main(int argc, char **argv)
{
	static struct gx_cfg_key keys[GX_FABRIC_CFG_MAX_ROWS + GX_ARRAY_LEN(own_keys)];
	size_t n = gx_fabric_cfg_rows(keys, OFF(fabric), GX_FABRIC_CFG_ALL_IDS);
	struct gx_worker_service svc = {
		.name = "outbox-submitter",
		.keys = keys,
		.nkeys = n + GX_ARRAY_LEN(own_keys),
		.cfg = &cfg,
		.init = init,
		.fini = fini,
		.ready = ready,
		.health = health,
		.on_drain = on_drain,
	};

	memcpy(keys + n, own_keys, sizeof(own_keys));
	return gx_api_worker_main(argc, argv, &svc);
}

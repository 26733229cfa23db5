/* The outbox-submitter engine: claims due "OutboxCommand" rows under a lease, maps them to chaincode calls, persists
 * each signed proposal (and so its tx id) before sending it, pipelines Endorse/Submit/CommitStatus through one Fabric
 * Gateway client per identity, and records the outcome (docs/outbox-submitter.md describes the whole protocol).
 *
 * Threads: one database thread (blocking libpq, LISTEN gx_outbox, all SQL) and one poll thread per Fabric client.
 * Fabric callbacks only move results into a queue and wake the database thread, so every decision and every write
 * happens on the database thread.
 */
#ifndef SUBMITTER_H
#define SUBMITTER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "gx/fabric_cfg.h"

/* Index of the three client identities (same order as enum gx_cc_identity). */
#define SUB_NIDS GX_FABRIC_CFG_NIDS

/* Configuration (filled by the gx_cfg table in main.c; strings never NULL once loaded). */
struct sub_cfg {
	struct gx_fabric_cfg fabric;  /* the FABRIC_* rows shared with the projector (gx/fabric_cfg.h) */
	char *worker_id;              /* WORKER_ID; "" = the host name (submitter_int.h) */
	long long batch_size;         /* BATCH_SIZE: rows per claim */
	long long max_in_flight;      /* MAX_IN_FLIGHT: commands sent and not yet settled */
	long long lease_ms;           /* LEASE_MS */
	long long poll_ms;            /* POLL_INTERVAL_MS */
	long long max_retries;        /* MAX_RETRIES */
	long long backoff_base_ms;    /* BACKOFF_BASE_MS */
	long long backoff_max_ms;     /* BACKOFF_MAX_MS */
	long long mvcc_max;           /* MVCC_MAX_REENDORSE */
	long long commit_timeout_ms;  /* FABRIC_COMMIT_TIMEOUT_MS */
	long long endorse_timeout_ms; /* FABRIC_ENDORSE_TIMEOUT_MS */
};

struct sub;

/* Load the identities, create the Fabric clients and start the threads. cfg and conninfo are borrowed and must
 * outlive the engine; drain_ms bounds the SIGTERM drain. Returns the engine (caller owns, sub_free()) or NULL
 * (logged). */
struct sub *sub_start(const struct sub_cfg *cfg, const char *conninfo, long long drain_ms);

/* Stop claiming and finish or release in-flight work within drain_ms (thread-safe, returns at once). */
void sub_drain(struct sub *s);

/* Drain if not yet draining, join every thread, release what is still leased and free the engine. NULL is a
 * no-op. */
void sub_free(struct sub *s);

/* Readiness beyond the database: the peer answered the last probe and the engine loop is alive. Non-blocking;
 * fills reason when not ready. */
bool sub_ready(struct sub *s, char *reason, size_t reasonlen);

/* The original's /health keys: fabricClientsConnected, fabricCircuitBreakers (one per identity: state, successes
 * and failures in the last 10 s, openCount) and queueDepth (the last count read). Non-blocking; s may be NULL. */
void sub_health(struct sub *s, cJSON *body);

#endif

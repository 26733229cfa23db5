/* projector: private declarations shared by the projector's files (configuration, the projector state, the block
 * applier and the event handlers). Not a public header: nothing outside projector/ includes it. */
#ifndef PROJECTOR_H
#define PROJECTOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "gx/fabric_cfg.h"
#include "gx/fabric_msg.h"
#include "gx/pg_sync.h"
#include "gx/rollwin.h"

/* Configuration (the projector's own rows; DATABASE_URL, TENANT_ID, METRICS_PORT are shared rows in gx/api.h). */
struct prj_cfg {
	struct gx_fabric_cfg fabric; /* the FABRIC_* rows shared with the submitter; the partner identity only */
	char *name;                  /* PROJECTOR_NAME */
	long long lock_key;          /* LOCK_KEY */
	long long reconnect_max_ms;  /* RECONNECT_MAX_MS */
	long long standby_poll_ms;   /* STANDBY_POLL_MS */
	long long stmt_timeout_ms;   /* PROJECTOR_STATEMENT_TIMEOUT */
};

/* Role of this replica, for /readyz and gx_projector_active. */
enum prj_role {
	PRJ_ROLE_STARTING = 0,
	PRJ_ROLE_NO_DB,   /* no database session: neither active nor a healthy standby */
	PRJ_ROLE_STANDBY, /* connected, another replica holds the lock */
	PRJ_ROLE_ACTIVE,  /* holds the advisory lock and projects */
};

/* The running projector. Created by init (main.c), run by its own thread (run.c). Fields under `mu` are read by the
 * health server's thread; everything else belongs to the projector thread. */
struct prj {
	struct prj_cfg *cfg; /* borrowed from main.c */
	char *tenant;        /* TENANT_ID (owned) */
	char *conninfo;      /* libpq conninfo with timeouts appended (owned) */
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;

	pthread_mutex_t mu;
	enum prj_role role;
	int64_t last_block;         /* last block fully applied, -1 = none */
	int64_t chain_height;       /* highest block number seen on the streams, -1 = unknown */
	int64_t last_block_time_ms; /* chain time of the last applied block, 0 = unknown */
	bool stream_up;
	uint64_t events_seen;     /* chaincode events applied or sent to the DLQ since start */
	struct gx_rollwin stream; /* blocks applied (ok) and stream or apply failures: the block callback notes */
};

/* The original projector's metric families (docs/compat.md), registered beside the gx_projector_* ones by run.c
 * at start and by apply.c on first use, with the same help and labels. */
#define PRJ_ORIG_EVENTS_HELP \
	"Chaincode events processed, by event name and status (success|validation_failed|processing_failed)"
/* clang-format off */
#define PRJ_ORIG_EVENT_LABELS { "event_name", "status", NULL }
/* clang-format on */
#define PRJ_ORIG_CKPT_HELP "Checkpoints saved (one per applied block)"

/* One statement of an event's effect: SQL (static storage), text parameters (owned by the list), and whether it must
 * return at least one row (a missing target makes the event poison). */
#define PRJ_MAX_PARAMS 16
struct prj_stmt {
	int q; /* enum prj_q: which prepared statement */
	int nparams;
	char *params[PRJ_MAX_PARAMS];
	bool expect_row;
	const char *expect_what; /* reason when expect_row fails, e.g. "no UserProfile with fabricUserId" */
};

struct prj_stmts {
	struct prj_stmt *v;
	size_t n, cap;
};

void prj_stmts_free(struct prj_stmts *s);

/* What a handler sees of one event. Strings borrowed for the call. */
struct prj_event {
	const char *tenant;
	const char *tx_id;
	const char *name;
	const cJSON *payload; /* parsed JSON object */
	uint64_t block;
	int64_t time_ms; /* the event's chain time (see docs/projector.md) */
};

/* Append the statements that apply ev to out. Returns 0, or -1 with a one-line reason in why (poison event: bad or
 * missing fields, unknown event). Nothing is logged. */
int prj_handle_event(const struct prj_event *ev, struct prj_stmts *out, char *why, size_t whylen);

/* The chain time an event payload carries (txTimeMs, or the *AtMs field of its kind), or 0 when it has none. */
int64_t prj_event_time_ms(const cJSON *payload);

/* Every SQL statement prepared on a projector session (sql.c): index into prj_sql[]. */
enum prj_q {
	Q_BAL_ANY,       /* $1 tenant, $2 account, $3 balance: a USER wallet or an organization account */
	Q_BAL_SYSTEM,    /* $1 tenant, $2 account, $3 balance, $4 kind: SYSTEM_* pool (upsert) */
	Q_BAL_TREASURY,  /* $1 tenant, $2 account, $3 balance */
	Q_SYSTEM_ENSURE, /* $1 tenant, $2 account, $3 kind: create a pool with balance 0 if absent */
	Q_TX_ROWS,       /* Transaction rows for up to two wallet sides */
	Q_USER_STATUS,
	Q_WALLET_CREATE,
	Q_WALLET_FREEZE,
	Q_ADMIN_APPOINT,
	Q_ORG_UPSERT,
	Q_ORG_ENDORSE,
	Q_ORG_ACTIVATE,
	Q_ORG_RULE,
	Q_MSTX_UPSERT,
	Q_MSTX_APPROVE,
	Q_LOAN_UPSERT,
	Q_LOAN_APPROVE,
	Q_LOAN_REPAY,
	Q_PROP_UPSERT,
	Q_PROP_VOTE,
	Q_VOTE_UPSERT,
	Q_PROP_DECIDE,
	Q_PARAM_SET,
	Q_COUNTRIES,
	Q_TREASURY_ACTIVATE,
	/* block level (apply.c) */
	Q_CKPT_LOCK,
	Q_CKPT_SAVE,
	Q_EVENTLOG,
	Q_DLQ,
	Q_OUTBOX,
	Q_COUNT
};

/* The statements by name and text, a gx_pgs statement table (gx/pg_sync.h): run.c prepares them all when the
 * session becomes active, the applier runs them by name. */
extern const struct gx_pgs_stmt prj_sql[Q_COUNT];

/* Outcome of applying one block. */
enum prj_apply_rc {
	PRJ_APPLY_OK = 0,   /* committed (or already applied: nothing to do) */
	PRJ_APPLY_MOVED,    /* the checkpoint in the database is not ours (rebuild ran): restart from it */
	PRJ_APPLY_DB_ERROR, /* the database failed: drop the session, reconnect, resume from the checkpoint */
};

/* Apply one block's events, their EventLog rows, DLQ rows, PROJECTED marks and the checkpoint in one transaction on
 * conn (the session holding the advisory lock). *last_block is the checkpoint the caller believes in (-1 = none)
 * and is advanced on success. recv_ms is when the block arrived (chain time fallback). Logs its failures. */
enum prj_apply_rc prj_apply_block(struct prj *p, PGconn *conn, const struct gx_fabric_msg_events *ev,
				  int64_t *last_block, int64_t recv_ms);

/* Read the checkpoint: *last_block = "lastBlock" or -1 without a row. Returns 0, or -1 (logged). */
int prj_load_checkpoint(struct prj *p, PGconn *conn, int64_t *last_block, int64_t *last_time_ms);

/* SQL of `projector rebuild` (docs/projector.md): in one transaction, forget the checkpoint and clear the derived
 * read models so the projector replays from block 0. A script without parameters (all tenants). Static storage. */
extern const char prj_rebuild_sql[];

/* Run `projector rebuild` against the configured database. Returns the process exit code. */
int prj_rebuild_main(void);

/* Thread body (run.c). */
void *prj_thread_main(void *arg);

#endif

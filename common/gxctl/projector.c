/* gxctl projector rebuild: make the projector replay the chain from block 0. In one transaction: forget the
 * checkpoint ("ProjectorState"), empty the read models only the projector writes, reset the projector-owned columns
 * of rows other writers own, and record who did it. The statements are the projector's own rebuild script
 * (gx/projector_rebuild.h, also used by `projector rebuild`; docs/projector.md). A running projector notices at its
 * next block that the checkpoint moved and restarts from it. */
#include "gxctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/projector_rebuild.h"
#include "gx/util.h"

/* $1 tenant, $2 actor. Multi-statement scripts cannot take parameters, so the audit row is a separate statement
 * inside the same transaction. */
static const char SQL_RESET[] =
	"BEGIN;"
	"SET LOCAL lock_timeout = '30s';" GX_PROJECTOR_REBUILD_SQL;

static const char SQL_AUDIT[] =
	"INSERT INTO \"AdminAuditLog\" (\"tenantId\", \"actorId\", \"actorRole\", \"action\", \"targetType\", \"details\")"
	" VALUES ($1, $2, 'OPERATOR', 'PROJECTOR_REBUILD', 'PROJECTOR', jsonb_build_object('tables', jsonb_build_array("
	"'ProjectorState', 'Transaction', 'EventLog', 'SystemAccount', 'TreasuryAccount', 'Organization',"
	" 'MultiSigTransaction', 'Loan', 'ProposalVote', 'Proposal')))";

static void usage(FILE *out)
{
	fprintf(out,
		"usage: gxctl projector rebuild --yes\n"
		"\n"
		"Makes the projector rebuild every read model from block 0, in one transaction:\n"
		"  deletes the checkpoint (ProjectorState);\n"
		"  empties Transaction, EventLog, SystemAccount, TreasuryAccount, Organization, MultiSigTransaction, Loan,\n"
		"  ProposalVote, Proposal;\n"
		"  resets Wallet balances and freezes, UserProfile.onchainStatus, Country allocation/initializedAt;\n"
		"  turns PROJECTED outbox commands back to COMMITTED (the replay marks them PROJECTED again);\n"
		"  writes an AdminAuditLog row (actor gxctl:$USER).\n"
		"Kept: UserProfile, Wallet ids, Country rows, SystemParameter, OutboxCommand, EventDLQ, audit history.\n"
		"A running projector restarts from block 0 within about a second. --yes is required (destructive).\n"
		"Waits at most 30 s for table locks. Tenant for the audit row: TENANT_ID (default \"default\").\n\n%s",
		GXCTL_DB_HELP);
}

static bool ok(PGconn *conn, PGresult *res, ExecStatusType want, const char *what)
{
	bool good = PQresultStatus(res) == want;

	if (!good)
		fprintf(stderr, "gxctl: projector rebuild: %s failed: %s", what, PQerrorMessage(conn));
	PQclear(res);
	return good;
}

int gxctl_projector(int argc, char **argv)
{
	const char *user = getenv("USER");
	const char *params[2];
	char *actor;
	PGconn *conn;
	int rc;

	if (gxctl_wants_help(argc, argv)) {
		usage(stdout);
		return GXCTL_OK;
	}
	if (argc < 2 || strcmp(argv[1], "rebuild") != 0 || argc > 3 || (argc == 3 && strcmp(argv[2], "--yes") != 0)) {
		usage(stderr);
		return GXCTL_USAGE;
	}
	if (argc != 3) {
		fprintf(stderr, "gxctl: projector rebuild erases the read models: add --yes to confirm\n");
		return GXCTL_USAGE;
	}
	conn = gxctl_connect(&rc);
	if (!conn)
		return rc;
	actor = gx_xasprintf("gxctl:%s", user && *user ? user : "operator");
	params[0] = gx_api_tenant_env();
	params[1] = actor;
	rc = GXCTL_FAIL;
	if (ok(conn, PQexec(conn, SQL_RESET), PGRES_COMMAND_OK, "reset") &&
	    ok(conn, PQexecParams(conn, SQL_AUDIT, 2, NULL, params, NULL, NULL, 0), PGRES_COMMAND_OK, "audit") &&
	    ok(conn, PQexec(conn, "COMMIT"), PGRES_COMMAND_OK, "commit")) {
		printf("projector read models cleared; the projector replays from block 0\n");
		rc = GXCTL_OK;
	}
	PQfinish(conn); /* an open transaction is rolled back when the session ends */
	free(actor);
	return rc;
}

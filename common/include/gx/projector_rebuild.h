/* The one copy of what `projector rebuild` does to the database (docs/projector.md), shared by the projector's own
 * `projector rebuild` command (projector/sql.c) and `gxctl projector rebuild` (common/gxctl/projector.c).
 *
 * GX_PROJECTOR_REBUILD_SQL is a multi-statement script without parameters (all tenants) and without BEGIN/COMMIT:
 * the caller wraps it in one transaction (and may add statements of its own, e.g. a lock timeout or an audit row).
 * It forgets the checkpoint and clears the derived read models so the projector replays from block 0. Read models
 * that only the projector writes are emptied; rows other writers own (Wallet ids handed out by the API, UserProfile,
 * Country reference data) are reset instead, so their ids stay stable. EventDLQ is kept (operator history; replays
 * do not repeat its rows). A string literal, so callers can concatenate it at compile time.
 */
#ifndef GX_PROJECTOR_REBUILD_H
#define GX_PROJECTOR_REBUILD_H

#define GX_PROJECTOR_REBUILD_SQL \
	"LOCK TABLE \"ProjectorState\" IN ACCESS EXCLUSIVE MODE;" \
	"DELETE FROM \"ProjectorState\";" \
	"TRUNCATE \"Transaction\", \"EventLog\", \"SystemAccount\", \"TreasuryAccount\", \"Organization\"," \
	" \"MultiSigTransaction\", \"Loan\", \"ProposalVote\", \"Proposal\";" \
	"UPDATE \"Wallet\" SET \"balanceQirat\" = 0, \"isFrozen\" = false, \"frozenReason\" = NULL, \"updatedAt\" = now();" \
	"UPDATE \"UserProfile\" SET \"onchainStatus\" = NULL WHERE \"onchainStatus\" IS NOT NULL;" \
	"UPDATE \"Country\" SET \"allocationPercentage\" = NULL, \"initializedAt\" = NULL" \
	" WHERE \"initializedAt\" IS NOT NULL OR \"allocationPercentage\" IS NOT NULL;" \
	"UPDATE \"OutboxCommand\" SET \"status\" = 'COMMITTED', \"projectedAt\" = NULL, \"updatedAt\" = now()" \
	" WHERE \"status\" = 'PROJECTED';"

#endif

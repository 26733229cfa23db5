/* projector: every SQL statement the projector runs, prepared once per database session, and the rebuild script.
 * All statements are idempotent: applying an event twice leaves the read models as applying it once (balances and
 * counters are absolute values from the event, rows are upserts or ON CONFLICT DO NOTHING on natural keys). The
 * session helper (gx/pg_sync.h) prepares them once per connection. */
#include <libpq-fe.h>

#include "gx/outbox_store.h"
#include "gx/projector_rebuild.h"
#include "gx/util.h"
#include "projector.h"

#define TS(n) "to_timestamp(" n "::bigint / 1000.0)"

/* clang-format off */
const struct gx_pgs_stmt prj_sql[Q_COUNT] = {
	[Q_BAL_ANY] = { "prj_bal_any",
		"WITH w AS (UPDATE \"Wallet\" SET \"balanceQirat\" = $3::numeric, \"updatedAt\" = now()"
		" WHERE \"tenantId\" = $1 AND \"primaryAccountId\" = $2 RETURNING 1)"
		" UPDATE \"Organization\" SET \"balanceQirat\" = $3::numeric, \"updatedAt\" = now()"
		" WHERE \"orgId\" = $2 AND \"tenantId\" = $1 AND NOT EXISTS (SELECT 1 FROM w)" },
	[Q_BAL_SYSTEM] = { "prj_bal_system",
		"INSERT INTO \"SystemAccount\" (\"accountId\", \"tenantId\", \"kind\", \"balanceQirat\")"
		" VALUES ($2, $1, $4, $3::numeric) ON CONFLICT (\"accountId\") DO UPDATE"
		" SET \"balanceQirat\" = EXCLUDED.\"balanceQirat\", \"updatedAt\" = now()" },
	[Q_BAL_TREASURY] = { "prj_bal_treasury",
		"UPDATE \"TreasuryAccount\" SET \"balanceQirat\" = $3::numeric, \"updatedAt\" = now()"
		" WHERE \"accountId\" = $2 AND \"tenantId\" = $1" },
	[Q_SYSTEM_ENSURE] = { "prj_system_ensure",
		"INSERT INTO \"SystemAccount\" (\"accountId\", \"tenantId\", \"kind\", \"balanceQirat\")"
		" VALUES ($2, $1, $3, 0) ON CONFLICT (\"accountId\") DO NOTHING" },
	/* $1 tenant, $2 tx id, sides ($3 account, $4 type, $5 counterparty, $6 amount, $7 fee) and ($8..$12; $8 may be
	 * NULL), $13 remark, $14 time ms, $15 block. Accounts without a wallet (organizations, pools, treasuries) get
	 * no row. */
	[Q_TX_ROWS] = { "prj_tx_rows",
		"INSERT INTO \"Transaction\" (\"tenantId\", \"onChainTxId\", \"walletId\", \"type\", \"counterparty\","
		" \"remark\", \"timestamp\", \"blockNumber\", \"amountQirat\", \"feeQirat\")"
		" SELECT $1, $2, w.\"walletId\", v.t::\"OffChainTxType\", v.cp, $13, " TS("$14") ", $15::bigint,"
		" v.amt::numeric, v.fee::numeric"
		" FROM (VALUES ($3, $4, $5, $6, $7), ($8, $9, $10, $11, $12)) AS v(acct, t, cp, amt, fee)"
		" JOIN \"Wallet\" w ON w.\"tenantId\" = $1 AND w.\"primaryAccountId\" = v.acct"
		" ON CONFLICT (\"tenantId\", \"onChainTxId\", \"walletId\", \"type\") DO NOTHING" },
	/* $1 tenant, $2 userID, $3 on-chain status */
	[Q_USER_STATUS] = { "prj_user_status",
		"UPDATE \"UserProfile\" SET \"onchainStatus\" = $3, \"status\" = CASE WHEN \"status\" IN"
		" ('PENDING_VERIFICATION', 'VERIFIED') THEN 'ACTIVE'::\"UserProfileStatus\" ELSE \"status\" END,"
		" \"updatedAt\" = now() WHERE \"tenantId\" = $1 AND \"fabricUserId\" = $2 RETURNING \"profileId\"" },
	/* $1 tenant, $2 userID, $3 accountID, $4 balance */
	[Q_WALLET_CREATE] = { "prj_wallet_create",
		"INSERT INTO \"Wallet\" (\"tenantId\", \"profileId\", \"primaryAccountId\", \"walletName\", \"balanceQirat\")"
		" SELECT $1, \"profileId\", $3, 'Primary Wallet', $4::numeric FROM \"UserProfile\""
		" WHERE \"tenantId\" = $1 AND \"fabricUserId\" = $2"
		" ON CONFLICT (\"tenantId\", \"primaryAccountId\") DO UPDATE"
		" SET \"balanceQirat\" = EXCLUDED.\"balanceQirat\", \"isFrozen\" = false, \"frozenReason\" = NULL,"
		" \"updatedAt\" = now() RETURNING 1" },
	/* $1 tenant, $2 accountID, $3 frozen, $4 reason */
	[Q_WALLET_FREEZE] = { "prj_wallet_freeze",
		"UPDATE \"Wallet\" SET \"isFrozen\" = $3::boolean, \"frozenReason\" = $4, \"updatedAt\" = now()"
		" WHERE \"tenantId\" = $1 AND \"primaryAccountId\" = $2" },
	[Q_ADMIN_APPOINT] = { "prj_admin_appoint",
		"UPDATE \"UserProfile\" SET \"role\" = 'ADMIN', \"updatedAt\" = now()"
		" WHERE \"tenantId\" = $1 AND \"fabricUserId\" = $2 AND \"role\" = 'USER'" },
	/* $1 tenant, $2 orgID, $3 name, $4 type, $5 status, $6 stakeholders JSON */
	[Q_ORG_UPSERT] = { "prj_org_upsert",
		"INSERT INTO \"Organization\" (\"orgId\", \"tenantId\", \"orgName\", \"orgType\", \"status\","
		" \"stakeholders\", \"endorsers\", \"authRules\") VALUES ($2, $1, $3, $4, $5, $6::jsonb, '[]', '[]')"
		" ON CONFLICT (\"orgId\") DO UPDATE SET \"orgName\" = EXCLUDED.\"orgName\", \"orgType\" = EXCLUDED.\"orgType\","
		" \"status\" = EXCLUDED.\"status\", \"stakeholders\" = EXCLUDED.\"stakeholders\", \"updatedAt\" = now()" },
	/* $1 tenant, $2 orgID, $3 userID */
	[Q_ORG_ENDORSE] = { "prj_org_endorse",
		"UPDATE \"Organization\" SET \"endorsers\" = CASE WHEN COALESCE(\"endorsers\", '[]') @> jsonb_build_array($3::text)"
		" THEN \"endorsers\" ELSE COALESCE(\"endorsers\", '[]') || jsonb_build_array($3::text) END,"
		" \"updatedAt\" = now() WHERE \"orgId\" = $2 AND \"tenantId\" = $1 RETURNING 1" },
	/* $1 tenant, $2 orgID, $3 status, $4 activated ms */
	[Q_ORG_ACTIVATE] = { "prj_org_activate",
		"UPDATE \"Organization\" SET \"status\" = $3, \"activatedAt\" = " TS("$4") ", \"updatedAt\" = now()"
		" WHERE \"orgId\" = $2 AND \"tenantId\" = $1 RETURNING 1" },
	/* $1 tenant, $2 orgID, $3 amountThreshold, $4 rule JSON: a rule replaces the one with the same threshold */
	[Q_ORG_RULE] = { "prj_org_rule",
		"UPDATE \"Organization\" SET \"authRules\" = COALESCE((SELECT jsonb_agg(r) FROM"
		" jsonb_array_elements(COALESCE(\"authRules\", '[]')) r WHERE r->>'amountThreshold' IS DISTINCT FROM $3),"
		" '[]') || jsonb_build_array($4::jsonb), \"updatedAt\" = now()"
		" WHERE \"orgId\" = $2 AND \"tenantId\" = $1 RETURNING 1" },
	/* $1 tenant, $2 pendingTxID, $3 orgID, $4 initiator, $5 params JSON, $6 status, $7 required, $8 current,
	 * $9 approvals JSON, $10 toID, $11 amount, $12 remark */
	[Q_MSTX_UPSERT] = { "prj_mstx_upsert",
		"INSERT INTO \"MultiSigTransaction\" (\"txId\", \"tenantId\", \"orgId\", \"proposerId\", \"operation\","
		" \"params\", \"status\", \"requiredSignatures\", \"currentSignatures\", \"approvers\", \"toId\","
		" \"amountQirat\", \"remark\") VALUES ($2, $1, $3, $4, 'TRANSFER', $5::jsonb, $6, $7::int, $8::int,"
		" $9::jsonb, $10, $11::numeric, $12) ON CONFLICT (\"txId\") DO UPDATE SET \"status\" = EXCLUDED.\"status\","
		" \"params\" = EXCLUDED.\"params\", \"requiredSignatures\" = EXCLUDED.\"requiredSignatures\","
		" \"currentSignatures\" = EXCLUDED.\"currentSignatures\", \"approvers\" = EXCLUDED.\"approvers\","
		" \"updatedAt\" = now()" },
	/* $1 tenant, $2 pendingTxID, $3 approver, $4 approvals, $5 status, $6 time ms */
	[Q_MSTX_APPROVE] = { "prj_mstx_approve",
		"UPDATE \"MultiSigTransaction\" SET \"approvers\" = CASE WHEN COALESCE(\"approvers\", '[]') @>"
		" jsonb_build_array($3::text) THEN \"approvers\" ELSE COALESCE(\"approvers\", '[]') ||"
		" jsonb_build_array($3::text) END, \"currentSignatures\" = $4::int, \"status\" = $5,"
		" \"executedAt\" = CASE WHEN $5 = 'EXECUTED' THEN " TS("$6") " ELSE \"executedAt\" END,"
		" \"updatedAt\" = now() WHERE \"txId\" = $2 AND \"tenantId\" = $1 RETURNING 1" },
	/* $1 tenant, $2 loanID, $3 borrower, $4 collateral, $5 applied ms, $6 status, $7 amount, $8 outstanding */
	[Q_LOAN_UPSERT] = { "prj_loan_upsert",
		"INSERT INTO \"Loan\" (\"loanId\", \"tenantId\", \"borrowerId\", \"collateralHash\", \"appliedAt\", \"status\","
		" \"amountQirat\", \"repaidQirat\", \"createdAt\") VALUES ($2, $1, $3, $4, " TS("$5") ", $6, $7::numeric,"
		" $7::numeric - $8::numeric, " TS("$5") ") ON CONFLICT (\"loanId\") DO UPDATE SET"
		" \"borrowerId\" = EXCLUDED.\"borrowerId\", \"collateralHash\" = EXCLUDED.\"collateralHash\","
		" \"appliedAt\" = EXCLUDED.\"appliedAt\", \"status\" = EXCLUDED.\"status\","
		" \"amountQirat\" = EXCLUDED.\"amountQirat\", \"repaidQirat\" = EXCLUDED.\"repaidQirat\", \"updatedAt\" = now()" },
	/* $1 tenant, $2 loanID, $3 status, $4 approvedBy, $5 time ms, $6 outstanding */
	[Q_LOAN_APPROVE] = { "prj_loan_approve",
		"UPDATE \"Loan\" SET \"status\" = $3, \"approvedBy\" = $4, \"approvedAt\" = " TS("$5") ","
		" \"disbursedAt\" = " TS("$5") ", \"repaidQirat\" = \"amountQirat\" - $6::numeric, \"updatedAt\" = now()"
		" WHERE \"loanId\" = $2 AND \"tenantId\" = $1 RETURNING 1" },
	/* $1 tenant, $2 loanID, $3 status, $4 outstanding, $5 time ms */
	[Q_LOAN_REPAY] = { "prj_loan_repay",
		"UPDATE \"Loan\" SET \"status\" = $3, \"repaidQirat\" = \"amountQirat\" - $4::numeric,"
		" \"repaidAt\" = CASE WHEN $3 = 'REPAID' THEN " TS("$5") " ELSE \"repaidAt\" END, \"updatedAt\" = now()"
		" WHERE \"loanId\" = $2 AND \"tenantId\" = $1 RETURNING 1" },
	/* $1 tenant, $2 proposalID, $3 title, $4 description, $5 proposer, $6 type, $7 status, $8..$10 votes,
	 * $11 targetParam, $12 newValue, $13 voting ends ms, $14 voting starts ms */
	[Q_PROP_UPSERT] = { "prj_prop_upsert",
		"INSERT INTO \"Proposal\" (\"proposalId\", \"tenantId\", \"title\", \"description\", \"proposerId\","
		" \"proposalType\", \"status\", \"votesFor\", \"votesAgainst\", \"votesAbstain\", \"targetParam\", \"newValue\","
		" \"votingEndsAt\", \"voters\", \"createdAt\") VALUES ($2, $1, $3, $4, $5, $6, $7, $8::int, $9::int, $10::int,"
		" $11, $12, " TS("$13") ", '[]', " TS("$14") ") ON CONFLICT (\"proposalId\") DO UPDATE SET"
		" \"title\" = EXCLUDED.\"title\", \"description\" = EXCLUDED.\"description\","
		" \"proposerId\" = EXCLUDED.\"proposerId\", \"proposalType\" = EXCLUDED.\"proposalType\","
		" \"status\" = EXCLUDED.\"status\", \"votesFor\" = EXCLUDED.\"votesFor\","
		" \"votesAgainst\" = EXCLUDED.\"votesAgainst\", \"votesAbstain\" = EXCLUDED.\"votesAbstain\","
		" \"targetParam\" = EXCLUDED.\"targetParam\", \"newValue\" = EXCLUDED.\"newValue\","
		" \"votingEndsAt\" = EXCLUDED.\"votingEndsAt\", \"updatedAt\" = now()" },
	/* $1 tenant, $2 proposalID, $3 voter, $4..$6 votes */
	[Q_PROP_VOTE] = { "prj_prop_vote",
		"UPDATE \"Proposal\" SET \"voters\" = CASE WHEN COALESCE(\"voters\", '[]') @> jsonb_build_array($3::text)"
		" THEN \"voters\" ELSE COALESCE(\"voters\", '[]') || jsonb_build_array($3::text) END,"
		" \"votesFor\" = $4::int, \"votesAgainst\" = $5::int, \"votesAbstain\" = $6::int, \"updatedAt\" = now()"
		" WHERE \"proposalId\" = $2 AND \"tenantId\" = $1 RETURNING 1" },
	/* $1 tenant, $2 proposalID, $3 voter, $4 vote, $5 tx id, $6 time ms */
	[Q_VOTE_UPSERT] = { "prj_vote_upsert",
		"INSERT INTO \"ProposalVote\" (\"tenantId\", \"proposalId\", \"voterId\", \"vote\", \"fabricTxId\","
		" \"votedAt\", \"confirmedAt\") VALUES ($1, $2, $3, $4::\"VoteChoice\", $5, " TS("$6") ", now())"
		" ON CONFLICT (\"proposalId\", \"voterId\") DO UPDATE SET \"vote\" = EXCLUDED.\"vote\","
		" \"fabricTxId\" = EXCLUDED.\"fabricTxId\","
		" \"confirmedAt\" = COALESCE(\"ProposalVote\".\"confirmedAt\", EXCLUDED.\"confirmedAt\")" },
	/* $1 tenant, $2 proposalID, $3 status, $4..$6 votes, $7 executed ms */
	[Q_PROP_DECIDE] = { "prj_prop_decide",
		"UPDATE \"Proposal\" SET \"status\" = $3, \"votesFor\" = $4::int, \"votesAgainst\" = $5::int,"
		" \"votesAbstain\" = $6::int, \"executedAt\" = CASE WHEN $3 = 'EXECUTED' THEN " TS("$7") " ELSE"
		" \"executedAt\" END, \"updatedAt\" = now() WHERE \"proposalId\" = $2 AND \"tenantId\" = $1 RETURNING 1" },
	/* $1 tenant, $2 key, $3 value */
	[Q_PARAM_SET] = { "prj_param_set",
		"INSERT INTO \"SystemParameter\" (\"tenantId\", \"paramKey\", \"paramValue\") VALUES ($1, $2, $3)"
		" ON CONFLICT (\"tenantId\", \"paramKey\") DO UPDATE SET \"paramValue\" = EXCLUDED.\"paramValue\","
		" \"updatedAt\" = now()" },
	/* $1 tenant, $2 [{"countryCode","treasuryID","ppb","allocation"}], $3 time ms, $4 tx id */
	[Q_COUNTRIES] = { "prj_countries",
		"WITH c AS (SELECT e->>'countryCode' AS cc, e->>'treasuryID' AS tid, (e->>'ppb')::bigint AS ppb,"
		" (e->>'allocation')::numeric AS alloc FROM jsonb_array_elements($2::jsonb) e),"
		" t AS (INSERT INTO \"TreasuryAccount\" (\"accountId\", \"tenantId\", \"countryCode\", \"status\","
		" \"balanceQirat\", \"fabricTxId\") SELECT tid, $1, cc, 'INACTIVE', alloc, $4 FROM c"
		" ON CONFLICT (\"accountId\") DO UPDATE SET \"balanceQirat\" = EXCLUDED.\"balanceQirat\", \"updatedAt\" = now()"
		" RETURNING 1)"
		" UPDATE \"Country\" k SET \"allocationPercentage\" = c.ppb / 1000000000.0, \"initializedAt\" = " TS("$3")
		" FROM c WHERE k.\"countryCode\" = c.cc" },
	/* $1 tenant, $2 treasuryID, $3 countryCode, $4 balance, $5 time ms, $6 tx id */
	[Q_TREASURY_ACTIVATE] = { "prj_treasury_activate",
		"INSERT INTO \"TreasuryAccount\" (\"accountId\", \"tenantId\", \"countryCode\", \"status\", \"balanceQirat\","
		" \"activatedAt\", \"fabricTxId\") VALUES ($2, $1, $3, 'ACTIVE', $4::numeric, " TS("$5") ", $6)"
		" ON CONFLICT (\"accountId\") DO UPDATE SET \"status\" = 'ACTIVE', \"balanceQirat\" = EXCLUDED.\"balanceQirat\","
		" \"activatedAt\" = EXCLUDED.\"activatedAt\", \"fabricTxId\" = EXCLUDED.\"fabricTxId\", \"updatedAt\" = now()" },
	/* $1 tenant, $2 name, $3 channel */
	[Q_CKPT_LOCK] = { "prj_ckpt_lock",
		"SELECT \"lastBlock\" FROM \"ProjectorState\" WHERE \"tenantId\" = $1 AND \"projectorName\" = $2"
		" AND \"channel\" = $3 FOR UPDATE" },
	/* $1 tenant, $2 name, $3 channel, $4 block, $5 last event index, $6 chain height, $7 block time ms */
	[Q_CKPT_SAVE] = { "prj_ckpt_save",
		"INSERT INTO \"ProjectorState\" (\"tenantId\", \"projectorName\", \"channel\", \"lastBlock\", \"lastEventIndex\","
		" \"chainHeight\", \"lastBlockTime\", \"updatedAt\") VALUES ($1, $2, $3, $4::bigint, $5::int, $6::bigint,"
		" " TS("$7") ", now()) ON CONFLICT (\"tenantId\", \"projectorName\", \"channel\") DO UPDATE SET"
		" \"lastBlock\" = EXCLUDED.\"lastBlock\", \"lastEventIndex\" = EXCLUDED.\"lastEventIndex\","
		" \"chainHeight\" = EXCLUDED.\"chainHeight\", \"lastBlockTime\" = EXCLUDED.\"lastBlockTime\","
		" \"updatedAt\" = now()" },
	/* $1 tenant, $2 block, $3 channel, $4 [{"tx","cc","name","idx","ms","payload"}]; written last before COMMIT,
	 * so "ingestedAt" (clock_timestamp) is within a few ms of the block's commit */
	[Q_EVENTLOG] = { "prj_eventlog",
		"INSERT INTO \"EventLog\" (\"tenantId\", \"fabricTxId\", \"blockNumber\", \"channel\", \"chaincode\","
		" \"eventName\", \"eventVersion\", \"payload\", \"txTimestamp\", \"eventIndex\", \"ingestedAt\")"
		" SELECT $1, e->>'tx', $2::bigint, $3, e->>'cc', e->>'name', '1', e->'payload',"
		" to_timestamp((e->>'ms')::bigint / 1000.0), (e->>'idx')::int, clock_timestamp()"
		" FROM jsonb_array_elements($4::jsonb) e"
		" ON CONFLICT (\"tenantId\", \"channel\", \"blockNumber\", \"eventIndex\") DO NOTHING" },
	/* $1 tenant, $2 reason, $3 raw payload JSON, $4 tx id, $5 block, $6 channel, $7 chaincode, $8 event name,
	 * $9 event index; once per (tenant, channel, block, index) so a replay does not repeat it */
	[Q_DLQ] = { "prj_dlq",
		"INSERT INTO \"EventDLQ\" (\"tenantId\", \"reason\", \"rawPayload\", \"fabricTxId\", \"blockNumber\","
		" \"channel\", \"chaincode\", \"eventName\", \"eventIndex\") SELECT $1, $2, $3::jsonb, $4, $5::bigint, $6, $7,"
		" $8, $9::int WHERE NOT EXISTS (SELECT 1 FROM \"EventDLQ\" WHERE \"tenantId\" = $1 AND \"channel\" = $6"
		" AND \"blockNumber\" = $5::bigint AND \"eventIndex\" = $9::int)" },
	/* the originating commands PROJECTED: the outbox store owns the statement */
	[Q_OUTBOX] = { "prj_outbox", gx_outbox_store_sql_projected },
};
/* clang-format on */

/* `projector rebuild`: the shared script (gx/projector_rebuild.h) in one transaction. */
const char prj_rebuild_sql[] = "BEGIN;" GX_PROJECTOR_REBUILD_SQL "COMMIT;";

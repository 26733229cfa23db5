-- 0001_init: the whole gx_protocol schema on an empty database.
--
-- Names follow the original Prisma schema (quoted CamelCase tables, columns, enum types and index names
-- "<Model>_<cols>_key|idx|fkey"), so a database created by the original can be served after 0002 adopts it.
-- Differences from the original, all deliberate:
--   * every id column has a database default gen_random_uuid()::text and every "updatedAt" defaults to
--     CURRENT_TIMESTAMP (the original set both client-side). Writers still set "updatedAt" = now() on UPDATE.
--   * money: on-chain amounts are integer Qirat (1 coin = 100,000 Qirat, unsigned 64-bit on chain), stored in
--     NUMERIC(20,0) columns whose names end in "Qirat". The original's coin columns ("cachedBalance", "amount",
--     "fee") remain, as read-only DECIMAL(36,9) coin values GENERATED from the Qirat column, so old readers keep
--     working and nobody can write a balance in the wrong unit. DECIMAL(36,9) holds any u64 Qirat / 10^5 exactly.
--   * enums carry every value the code writes (CommandType has every command we produce, OutboxStatus has
--     PROJECTED, ...). New enums: "UserRole", "VoteChoice", "IdempotencyState".
--   * "Transaction" is unique per (tenant, Fabric tx id, wallet, type): one row per wallet side of a transfer.
--   * "HttpIdempotency" is keyed by (tenant, caller, Idempotency-Key) and stores the exact response bytes.
--   * our tables: "ProposalVote", "RefreshToken", "AdminAuditLog", "TreasuryAccount", "SystemAccount".
-- Tables of the original that no code of ours reads (FamilyRelationship, TrustScore, Beneficiary, ...) are not
-- created; an adopted database keeps them untouched. The migration record "_gx_migrations" belongs to the tool.

-- ---------------------------------------------------------------------------------------------------------
-- Enums
-- ---------------------------------------------------------------------------------------------------------
CREATE TYPE "OutboxStatus" AS ENUM ('PENDING', 'LOCKED', 'SUBMITTED', 'COMMITTED', 'FAILED', 'PROJECTED');

CREATE TYPE "CommandType" AS ENUM (
	'CREATE_USER', 'TRANSFER_TOKENS', 'DISTRIBUTE_GENESIS', 'FREEZE_WALLET', 'UNFREEZE_WALLET',
	'PROPOSE_ORGANIZATION', 'ENDORSE_MEMBERSHIP', 'ACTIVATE_ORGANIZATION', 'DEFINE_AUTH_RULE',
	'INITIATE_MULTISIG_TX', 'APPROVE_MULTISIG_TX', 'EXECUTE_MULTISIG_TX', 'APPLY_FOR_LOAN', 'APPROVE_LOAN',
	'SUBMIT_PROPOSAL', 'CAST_VOTE', 'EXECUTE_PROPOSAL', 'BOOTSTRAP_SYSTEM', 'INITIALIZE_COUNTRY',
	'UPDATE_SYSTEM_PARAMETER', 'PAUSE_SYSTEM', 'RESUME_SYSTEM', 'APPOINT_ADMIN', 'ACTIVATE_TREASURY',
	'APPLY_VELOCITY_TAX',
	-- beyond the original's 25: the renamed country command, HEAD's values, and what our issues produce
	'INITIALIZE_COUNTRY_DATA', 'MINT', 'Q_SEND_PAY', 'REPAY_LOAN', 'REJECT_LOAN', 'REJECT_PROPOSAL');

CREATE TYPE "UserProfileStatus" AS ENUM ('PENDING_VERIFICATION', 'VERIFIED', 'REJECTED', 'SUSPENDED', 'CLOSED',
	'ACTIVE', 'FROZEN');
CREATE TYPE "KycStatus" AS ENUM ('PENDING', 'APPROVED', 'REJECTED', 'EXPIRED');
CREATE TYPE "OrgProfileStatus" AS ENUM ('PENDING_VERIFICATION', 'VERIFIED', 'REJECTED', 'SUSPENDED');
CREATE TYPE "PartnerStatus" AS ENUM ('PENDING', 'ACTIVE', 'REVOKED');
CREATE TYPE "LicenseStatus" AS ENUM ('ACTIVE', 'EXPIRED', 'REVOKED');
CREATE TYPE "CredentialStatus" AS ENUM ('ACTIVE', 'REVOKED');
CREATE TYPE "LegalTenderStatusEnum" AS ENUM ('RECOGNIZED', 'SANDBOX', 'ACTIVE_LEGAL_TENDER');
CREATE TYPE "OffChainTxType" AS ENUM ('MINT', 'SENT', 'RECEIVED', 'TAX', 'LOAN_DISBURSEMENT', 'LOAN_REPAYMENT',
	'GENESIS', 'FEE', 'FEE_COLLECTED', 'TAX_COLLECTED', 'ADJUSTMENT');
CREATE TYPE "CollateralStatus" AS ENUM ('PLEDGED', 'RELEASED');
CREATE TYPE "RelationType" AS ENUM ('FATHER', 'MOTHER', 'SPOUSE', 'CHILD', 'SIBLING', 'BUSINESS_PARTNER', 'DIRECTOR',
	'WORKPLACE_ASSOCIATE', 'FRIEND');
CREATE TYPE "RelationshipStatus" AS ENUM ('PENDING', 'CONFIRMED', 'REJECTED', 'DECEASED', 'DIVORCED',
	'NOT_APPLICABLE');
CREATE TYPE "SignatoryRole" AS ENUM ('OWNER', 'DIRECTOR', 'AUTHORIZED_SIGNATORY', 'ACCOUNTANT', 'VIEWER');
CREATE TYPE "ApprovalStatus" AS ENUM ('PENDING', 'APPROVED', 'REJECTED', 'EXPIRED');
CREATE TYPE "AuditEventType" AS ENUM ('USER_LOGIN', 'USER_LOGOUT', 'USER_REGISTERED', 'PROFILE_UPDATED',
	'PASSWORD_CHANGED', 'KYC_SUBMITTED', 'KYC_APPROVED', 'KYC_REJECTED', 'TRANSACTION_INITIATED',
	'TRANSACTION_APPROVED', 'TRANSACTION_REJECTED', 'TRANSACTION_COMPLETED', 'TRANSACTION_FAILED', 'WALLET_CREATED',
	'BENEFICIARY_ADDED', 'BENEFICIARY_REMOVED', 'RELATIONSHIP_INVITED', 'RELATIONSHIP_CONFIRMED',
	'RELATIONSHIP_REJECTED', 'BUSINESS_SIGNATORY_ADDED', 'BUSINESS_SIGNATORY_REVOKED', 'ADMIN_ACCOUNT_FROZEN',
	'ADMIN_ACCOUNT_UNFROZEN', 'ADMIN_ACCOUNT_CLOSED', 'SESSION_CREATED', 'SESSION_REVOKED', 'DEVICE_TRUSTED',
	'DEVICE_UNTRUSTED');
CREATE TYPE "SessionStatus" AS ENUM ('ACTIVE', 'EXPIRED', 'REVOKED', 'LOGGED_OUT');
CREATE TYPE "NotificationType" AS ENUM ('RELATIONSHIP_INVITATION', 'RELATIONSHIP_CONFIRMED', 'RELATIONSHIP_REJECTED',
	'BUSINESS_SIGNATORY_INVITATION', 'TRANSACTION_APPROVAL_REQUEST', 'TRANSACTION_APPROVED',
	'TRANSACTION_REJECTED', 'TRANSACTION_COMPLETED', 'KYC_STATUS_UPDATE', 'WALLET_CREDITED', 'WALLET_DEBITED',
	'SYSTEM_ANNOUNCEMENT', 'SECURITY_ALERT');
CREATE TYPE "NotificationStatus" AS ENUM ('UNREAD', 'READ', 'ARCHIVED', 'ACTIONED');
CREATE TYPE "DocumentType" AS ENUM ('NATIONAL_ID', 'PASSPORT', 'DRIVERS_LICENSE', 'PROOF_OF_ADDRESS',
	'DEATH_CERTIFICATE', 'DIVORCE_CERTIFICATE', 'BUSINESS_REGISTRATION', 'TAX_REGISTRATION', 'BANK_STATEMENT',
	'UTILITY_BILL', 'SELFIE_PHOTO', 'OTHER');
CREATE TYPE "LimitType" AS ENUM ('DAILY_SEND', 'DAILY_RECEIVE', 'MONTHLY_SEND', 'MONTHLY_RECEIVE',
	'SINGLE_TRANSACTION', 'VELOCITY_CHECK');
CREATE TYPE "ContactStatus" AS ENUM ('ACTIVE', 'BLOCKED', 'ARCHIVED');

-- ours
CREATE TYPE "UserRole" AS ENUM ('USER', 'ADMIN', 'SUPER_ADMIN', 'PARTNER_API');
CREATE TYPE "VoteChoice" AS ENUM ('FOR', 'AGAINST', 'ABSTAIN');
CREATE TYPE "IdempotencyState" AS ENUM ('IN_FLIGHT', 'COMPLETE');

-- ---------------------------------------------------------------------------------------------------------
-- Outbox, idempotency, projection
-- ---------------------------------------------------------------------------------------------------------

-- One row per command for the chain. Life cycle: PENDING -> LOCKED (claimed under a lease) -> SUBMITTED (sent,
-- commit not yet confirmed) -> COMMITTED (block known) -> PROJECTED (projector applied its event), or FAILED.
-- "fabricTxId" is chosen once per command and kept across retries; "aggregateId" (wallet, org, loan, proposal)
-- serialises commands per aggregate.
CREATE TABLE "OutboxCommand" (
	"id" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"tenantId" TEXT NOT NULL,
	"service" TEXT NOT NULL,
	"commandType" "CommandType" NOT NULL,
	"requestId" TEXT NOT NULL,
	"payload" JSONB NOT NULL,
	"status" "OutboxStatus" NOT NULL DEFAULT 'PENDING',
	"attempts" INTEGER NOT NULL DEFAULT 0,
	"lockedBy" TEXT,
	"lockedAt" TIMESTAMPTZ(3),
	"submittedAt" TIMESTAMPTZ(3),
	"fabricTxId" TEXT,
	"commitBlock" BIGINT,
	"errorCode" TEXT,
	"error" TEXT,
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"leaseUntil" TIMESTAMPTZ(3),
	"nextAttemptAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"committedAt" TIMESTAMPTZ(3),
	"projectedAt" TIMESTAMPTZ(3),
	"aggregateId" TEXT,
	CONSTRAINT "OutboxCommand_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "OutboxCommand_tenantId_requestId_key" ON "OutboxCommand" ("tenantId", "requestId");
CREATE INDEX "OutboxCommand_status_createdAt_idx" ON "OutboxCommand" ("status", "createdAt");
CREATE INDEX "OutboxCommand_tenantId_status_idx" ON "OutboxCommand" ("tenantId", "status");
CREATE INDEX "OutboxCommand_fabricTxId_idx" ON "OutboxCommand" ("fabricTxId");
-- claim path: WHERE status = 'PENDING' AND "nextAttemptAt" <= now() ORDER BY "nextAttemptAt", "createdAt"
CREATE INDEX "OutboxCommand_pending_nextAttemptAt_idx" ON "OutboxCommand" ("nextAttemptAt", "createdAt")
	WHERE "status" = 'PENDING';
-- lease takeover: in-flight rows whose lease ran out
CREATE INDEX "OutboxCommand_inflight_leaseUntil_idx" ON "OutboxCommand" ("leaseUntil")
	WHERE "status" IN ('LOCKED', 'SUBMITTED');
-- per-aggregate ordering: is an older command of this aggregate still open?
CREATE INDEX "OutboxCommand_open_aggregateId_idx" ON "OutboxCommand" ("aggregateId", "createdAt")
	WHERE "status" IN ('PENDING', 'LOCKED', 'SUBMITTED');
-- admin listing by type and age
CREATE INDEX "OutboxCommand_commandType_createdAt_idx" ON "OutboxCommand" ("commandType", "createdAt");

-- Idempotency-Key records (design.md §3): the key is scoped by tenant and caller ('' for anonymous callers).
-- IN_FLIGHT while the first request runs (a concurrent retry gets 409); COMPLETE with the exact response bytes
-- for replay; "bodyHash" (hex SHA-256 of method, path and body) detects a different body (422). Kept 24 h.
CREATE TABLE "HttpIdempotency" (
	"tenantId" TEXT NOT NULL,
	"callerId" TEXT NOT NULL DEFAULT '',
	"idempotencyKey" TEXT NOT NULL,
	"method" TEXT NOT NULL,
	"path" TEXT NOT NULL,
	"bodyHash" TEXT NOT NULL,
	"state" "IdempotencyState" NOT NULL DEFAULT 'IN_FLIGHT',
	"statusCode" INTEGER,
	"responseHeaders" JSONB,
	"responseBody" BYTEA,
	"commandId" TEXT,
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"expiresAt" TIMESTAMPTZ(3) NOT NULL DEFAULT (CURRENT_TIMESTAMP + INTERVAL '24 hours'),
	CONSTRAINT "HttpIdempotency_pkey" PRIMARY KEY ("tenantId", "callerId", "idempotencyKey"),
	CONSTRAINT "HttpIdempotency_complete_check" CHECK ("state" = 'IN_FLIGHT' OR "statusCode" IS NOT NULL)
);
CREATE INDEX "HttpIdempotency_expiresAt_idx" ON "HttpIdempotency" ("expiresAt");

-- Projector checkpoint: "lastBlock" is the last block fully applied (resume at lastBlock + 1).
CREATE TABLE "ProjectorState" (
	"tenantId" TEXT NOT NULL,
	"projectorName" TEXT NOT NULL,
	"channel" TEXT NOT NULL,
	"lastBlock" BIGINT NOT NULL,
	"lastEventIndex" INTEGER NOT NULL,
	"updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"chainHeight" BIGINT,
	"lastBlockTime" TIMESTAMPTZ(3),
	CONSTRAINT "ProjectorState_pkey" PRIMARY KEY ("tenantId", "projectorName", "channel")
);

-- Every chaincode event seen, for audit and replay. "eventIndex" is the event's position in its block, so
-- (channel, block, index) identifies it and a duplicate delivery is an ON CONFLICT no-op.
CREATE TABLE "EventLog" (
	"id" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"tenantId" TEXT NOT NULL,
	"fabricTxId" TEXT NOT NULL,
	"blockNumber" BIGINT NOT NULL,
	"channel" TEXT NOT NULL,
	"chaincode" TEXT NOT NULL,
	"eventName" TEXT NOT NULL,
	"eventVersion" TEXT NOT NULL,
	"payload" JSONB NOT NULL,
	"txTimestamp" TIMESTAMPTZ(3) NOT NULL,
	"ingestedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"eventIndex" INTEGER NOT NULL DEFAULT 0,
	CONSTRAINT "EventLog_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "EventLog_tenantId_blockNumber_idx" ON "EventLog" ("tenantId", "blockNumber");
CREATE INDEX "EventLog_fabricTxId_idx" ON "EventLog" ("fabricTxId");
CREATE INDEX "EventLog_tenantId_eventName_idx" ON "EventLog" ("tenantId", "eventName");
CREATE UNIQUE INDEX "EventLog_tenantId_channel_blockNumber_eventIndex_key"
	ON "EventLog" ("tenantId", "channel", "blockNumber", "eventIndex");

-- Poison events: stored with the reason, the stream moves on.
CREATE TABLE "EventDLQ" (
	"id" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"tenantId" TEXT NOT NULL,
	"reason" TEXT NOT NULL,
	"rawPayload" JSONB NOT NULL,
	"fabricTxId" TEXT,
	"blockNumber" BIGINT,
	"channel" TEXT,
	"chaincode" TEXT,
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"eventName" TEXT,
	"eventIndex" INTEGER,
	"resolvedAt" TIMESTAMPTZ(3),
	CONSTRAINT "EventDLQ_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "EventDLQ_tenantId_createdAt_idx" ON "EventDLQ" ("tenantId", "createdAt");
CREATE INDEX "EventDLQ_fabricTxId_idx" ON "EventDLQ" ("fabricTxId");

-- ---------------------------------------------------------------------------------------------------------
-- Reference data
-- ---------------------------------------------------------------------------------------------------------

-- ISO 3166-1 countries (seeded by `gxctl seed`). "allocationPercentage" is the genesis share (a fraction, e.g.
-- 0.13464767) once InitializeCountryData has been projected.
CREATE TABLE "Country" (
	"countryCode" CHAR(2) NOT NULL,
	"countryName" TEXT NOT NULL,
	"region" TEXT,
	"alpha3" CHAR(3),
	"numericCode" CHAR(3),
	"allocationPercentage" NUMERIC(12, 10),
	"initializedAt" TIMESTAMPTZ(3),
	CONSTRAINT "Country_pkey" PRIMARY KEY ("countryCode")
);

CREATE TABLE "LegalTenderStatus" (
	"statusId" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"countryCode" CHAR(2) NOT NULL,
	"status" "LegalTenderStatusEnum" NOT NULL,
	"effectiveDate" TIMESTAMPTZ(3) NOT NULL,
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	CONSTRAINT "LegalTenderStatus_pkey" PRIMARY KEY ("statusId"),
	CONSTRAINT "LegalTenderStatus_countryCode_fkey" FOREIGN KEY ("countryCode") REFERENCES "Country" ("countryCode")
		ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "LegalTenderStatus_countryCode_effectiveDate_idx" ON "LegalTenderStatus" ("countryCode", "effectiveDate");

-- System parameters (fees, tax, governance, ...): default rows come from migration 0003.
CREATE TABLE "SystemParameter" (
	"tenantId" TEXT NOT NULL,
	"paramKey" TEXT NOT NULL,
	"paramValue" TEXT NOT NULL,
	"updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"description" TEXT,
	CONSTRAINT "SystemParameter_pkey" PRIMARY KEY ("tenantId", "paramKey")
);
CREATE INDEX "SystemParameter_tenantId_idx" ON "SystemParameter" ("tenantId");

-- ---------------------------------------------------------------------------------------------------------
-- Identity and auth
-- ---------------------------------------------------------------------------------------------------------

-- Off-chain profile (PII never goes on chain). "fabricUserId" is the userID we generate and send in CreateUser;
-- "onchainStatus" is what the projector last saw. Emails are stored lower-case and unique case-insensitively.
CREATE TABLE "UserProfile" (
	"profileId" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"tenantId" TEXT NOT NULL,
	"firstName" TEXT NOT NULL,
	"lastName" TEXT NOT NULL,
	"email" TEXT,
	"phoneNum" TEXT,
	"identityNum" TEXT,
	"biometricHash" TEXT NOT NULL,
	"passwordHash" TEXT NOT NULL,
	"nationalityCountryCode" CHAR(2),
	"status" "UserProfileStatus" NOT NULL DEFAULT 'PENDING_VERIFICATION',
	"deletedAt" TIMESTAMPTZ(3),
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"role" "UserRole" NOT NULL DEFAULT 'USER',
	"fabricUserId" TEXT,
	"onchainStatus" TEXT,
	"dateOfBirth" DATE,
	"failedLoginAttempts" INTEGER NOT NULL DEFAULT 0,
	"lockedUntil" TIMESTAMPTZ(3),
	"lastLoginAt" TIMESTAMPTZ(3),
	CONSTRAINT "UserProfile_pkey" PRIMARY KEY ("profileId"),
	CONSTRAINT "UserProfile_nationalityCountryCode_fkey" FOREIGN KEY ("nationalityCountryCode")
		REFERENCES "Country" ("countryCode") ON DELETE SET NULL ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "UserProfile_email_key" ON "UserProfile" ("email");
CREATE UNIQUE INDEX "UserProfile_phoneNum_key" ON "UserProfile" ("phoneNum");
CREATE UNIQUE INDEX "UserProfile_biometricHash_key" ON "UserProfile" ("biometricHash");
CREATE UNIQUE INDEX "UserProfile_email_lower_key" ON "UserProfile" (lower("email"));
CREATE UNIQUE INDEX "UserProfile_fabricUserId_key" ON "UserProfile" ("fabricUserId");
CREATE INDEX "UserProfile_tenantId_status_idx" ON "UserProfile" ("tenantId", "status");
CREATE INDEX "UserProfile_tenantId_email_idx" ON "UserProfile" ("tenantId", "email");
CREATE INDEX "UserProfile_tenantId_phoneNum_idx" ON "UserProfile" ("tenantId", "phoneNum");
CREATE INDEX "UserProfile_tenantId_deletedAt_idx" ON "UserProfile" ("tenantId", "deletedAt");
CREATE INDEX "UserProfile_tenantId_nationalityCountryCode_idx" ON "UserProfile" ("tenantId", "nationalityCountryCode");
CREATE INDEX "UserProfile_tenantId_role_idx" ON "UserProfile" ("tenantId", "role");

CREATE TABLE "KYCVerification" (
	"kycId" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"profileId" TEXT NOT NULL,
	"status" "KycStatus" NOT NULL,
	"verifiedAt" TIMESTAMPTZ(3),
	"verifierDetails" TEXT,
	"evidenceHash" TEXT,
	"evidenceSize" INTEGER,
	"evidenceMime" TEXT,
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	CONSTRAINT "KYCVerification_pkey" PRIMARY KEY ("kycId"),
	CONSTRAINT "KYCVerification_profileId_fkey" FOREIGN KEY ("profileId") REFERENCES "UserProfile" ("profileId")
		ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "KYCVerification_profileId_idx" ON "KYCVerification" ("profileId");
CREATE INDEX "KYCVerification_status_idx" ON "KYCVerification" ("status");
-- at most one pending KYC submission per profile
CREATE UNIQUE INDEX "KYCVerification_profileId_pending_key" ON "KYCVerification" ("profileId")
	WHERE "status" = 'PENDING';

-- Original session table (kept for adopted databases; our refresh tokens live in "RefreshToken").
CREATE TABLE "UserSession" (
	"sessionId" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"tenantId" TEXT NOT NULL,
	"profileId" TEXT NOT NULL,
	"deviceId" TEXT NOT NULL,
	"deviceName" TEXT,
	"deviceOs" TEXT,
	"ipAddress" TEXT NOT NULL,
	"userAgent" TEXT NOT NULL,
	"status" "SessionStatus" NOT NULL DEFAULT 'ACTIVE',
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"lastActivityAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"expiresAt" TIMESTAMPTZ(3) NOT NULL,
	"revokedAt" TIMESTAMPTZ(3),
	"revokedReason" TEXT,
	"refreshToken" TEXT NOT NULL,
	"refreshTokenHash" TEXT NOT NULL,
	CONSTRAINT "UserSession_pkey" PRIMARY KEY ("sessionId"),
	CONSTRAINT "UserSession_profileId_fkey" FOREIGN KEY ("profileId") REFERENCES "UserProfile" ("profileId")
		ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "UserSession_refreshToken_key" ON "UserSession" ("refreshToken");
CREATE UNIQUE INDEX "UserSession_tenantId_sessionId_key" ON "UserSession" ("tenantId", "sessionId");
CREATE INDEX "UserSession_tenantId_profileId_status_idx" ON "UserSession" ("tenantId", "profileId", "status");
CREATE INDEX "UserSession_refreshTokenHash_idx" ON "UserSession" ("refreshTokenHash");
CREATE INDEX "UserSession_expiresAt_idx" ON "UserSession" ("expiresAt");
CREATE INDEX "UserSession_tenantId_deviceId_idx" ON "UserSession" ("tenantId", "deviceId");

-- Refresh tokens (design.md §4): one row per issued token, identified by its "jti". Rotation sets "rotatedAt"
-- and "replacedBy"; presenting a rotated token again revokes every token of its "familyId". Only a hash of the
-- token is stored.
CREATE TABLE "RefreshToken" (
	"jti" TEXT NOT NULL,
	"tenantId" TEXT NOT NULL,
	"profileId" TEXT NOT NULL,
	"familyId" TEXT NOT NULL,
	"tokenHash" TEXT NOT NULL,
	"issuedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"expiresAt" TIMESTAMPTZ(3) NOT NULL,
	"rotatedAt" TIMESTAMPTZ(3),
	"replacedBy" TEXT,
	"revoked" BOOLEAN NOT NULL DEFAULT false,
	"revokedAt" TIMESTAMPTZ(3),
	"revokedReason" TEXT,
	"userAgent" TEXT,
	"ipAddress" TEXT,
	CONSTRAINT "RefreshToken_pkey" PRIMARY KEY ("jti"),
	CONSTRAINT "RefreshToken_profileId_fkey" FOREIGN KEY ("profileId") REFERENCES "UserProfile" ("profileId")
		ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "RefreshToken_familyId_idx" ON "RefreshToken" ("familyId");
CREATE INDEX "RefreshToken_profileId_idx" ON "RefreshToken" ("profileId");
CREATE INDEX "RefreshToken_expiresAt_idx" ON "RefreshToken" ("expiresAt");

-- Who did what among admins and operators (re-queue, parameter changes, bootstrap, ...).
CREATE TABLE "AdminAuditLog" (
	"id" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"tenantId" TEXT NOT NULL,
	"actorId" TEXT NOT NULL,
	"actorRole" TEXT NOT NULL,
	"action" TEXT NOT NULL,
	"targetType" TEXT,
	"targetId" TEXT,
	"details" JSONB,
	"requestId" TEXT,
	"ipAddress" TEXT,
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	CONSTRAINT "AdminAuditLog_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "AdminAuditLog_tenantId_createdAt_idx" ON "AdminAuditLog" ("tenantId", "createdAt");
CREATE INDEX "AdminAuditLog_actorId_createdAt_idx" ON "AdminAuditLog" ("actorId", "createdAt");
CREATE INDEX "AdminAuditLog_targetType_targetId_idx" ON "AdminAuditLog" ("targetType", "targetId");

-- ---------------------------------------------------------------------------------------------------------
-- Wallets, balances, history
-- ---------------------------------------------------------------------------------------------------------

-- "balanceQirat": Qirat (the projector's balance). "cachedBalance": the same in coins, derived, read-only.
CREATE TABLE "Wallet" (
	"walletId" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"tenantId" TEXT NOT NULL,
	"profileId" TEXT NOT NULL,
	"primaryAccountId" TEXT NOT NULL,
	"walletName" TEXT NOT NULL,
	"deletedAt" TIMESTAMPTZ(3),
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"balanceQirat" NUMERIC(20, 0) NOT NULL DEFAULT 0,
	"isFrozen" BOOLEAN NOT NULL DEFAULT false,
	"frozenReason" TEXT,
	"cachedBalance" DECIMAL(36, 9) GENERATED ALWAYS AS ("balanceQirat" * 0.00001) STORED,
	CONSTRAINT "Wallet_pkey" PRIMARY KEY ("walletId"),
	CONSTRAINT "Wallet_balanceQirat_check" CHECK ("balanceQirat" >= 0),
	CONSTRAINT "Wallet_profileId_fkey" FOREIGN KEY ("profileId") REFERENCES "UserProfile" ("profileId")
		ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "Wallet_tenantId_primaryAccountId_key" ON "Wallet" ("tenantId", "primaryAccountId");
CREATE INDEX "Wallet_tenantId_profileId_idx" ON "Wallet" ("tenantId", "profileId");
CREATE INDEX "Wallet_tenantId_deletedAt_idx" ON "Wallet" ("tenantId", "deletedAt");
CREATE INDEX "Wallet_profileId_idx" ON "Wallet" ("profileId");

-- Wallet history, one row per wallet side of an on-chain transaction ("onChainTxId" = Fabric tx id).
-- "amountQirat"/"feeQirat": Qirat; "amount"/"fee": the same in coins, derived, read-only.
CREATE TABLE "Transaction" (
	"offTxId" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"tenantId" TEXT NOT NULL,
	"onChainTxId" TEXT,
	"walletId" TEXT NOT NULL,
	"type" "OffChainTxType" NOT NULL,
	"counterparty" TEXT NOT NULL,
	"remark" TEXT,
	"timestamp" TIMESTAMPTZ(3) NOT NULL,
	"blockNumber" BIGINT,
	"amountQirat" NUMERIC(20, 0) NOT NULL,
	"feeQirat" NUMERIC(20, 0) NOT NULL DEFAULT 0,
	"amount" DECIMAL(36, 9) GENERATED ALWAYS AS ("amountQirat" * 0.00001) STORED,
	"fee" DECIMAL(36, 9) GENERATED ALWAYS AS ("feeQirat" * 0.00001) STORED,
	CONSTRAINT "Transaction_pkey" PRIMARY KEY ("offTxId"),
	CONSTRAINT "Transaction_qirat_check" CHECK ("amountQirat" >= 0 AND "feeQirat" >= 0),
	CONSTRAINT "Transaction_walletId_fkey" FOREIGN KEY ("walletId") REFERENCES "Wallet" ("walletId")
		ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "Transaction_tenantId_onChainTxId_walletId_type_key"
	ON "Transaction" ("tenantId", "onChainTxId", "walletId", "type");
CREATE INDEX "Transaction_tenantId_walletId_timestamp_idx" ON "Transaction" ("tenantId", "walletId", "timestamp");
CREATE INDEX "Transaction_tenantId_counterparty_timestamp_idx" ON "Transaction" ("tenantId", "counterparty", "timestamp");
CREATE INDEX "Transaction_timestamp_idx" ON "Transaction" ("timestamp");
CREATE INDEX "Transaction_walletId_timestamp_idx" ON "Transaction" ("walletId", "timestamp" DESC, "offTxId");
CREATE INDEX "Transaction_onChainTxId_idx" ON "Transaction" ("onChainTxId");

-- National treasuries, account ids treasury_<CC> as on chain. Balance in Qirat.
CREATE TABLE "TreasuryAccount" (
	"accountId" TEXT NOT NULL,
	"tenantId" TEXT NOT NULL,
	"countryCode" CHAR(2) NOT NULL,
	"status" TEXT NOT NULL DEFAULT 'ACTIVE',
	"balanceQirat" NUMERIC(20, 0) NOT NULL DEFAULT 0,
	"activatedAt" TIMESTAMPTZ(3),
	"fabricTxId" TEXT,
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	CONSTRAINT "TreasuryAccount_pkey" PRIMARY KEY ("accountId"),
	CONSTRAINT "TreasuryAccount_accountId_check" CHECK ("accountId" ~ '^treasury_[A-Z]{2}$'
		AND substr("accountId", 10, 2) = "countryCode"),
	CONSTRAINT "TreasuryAccount_balanceQirat_check" CHECK ("balanceQirat" >= 0)
);
CREATE UNIQUE INDEX "TreasuryAccount_tenantId_countryCode_key" ON "TreasuryAccount" ("tenantId", "countryCode");

-- System pools seen on chain (SYSTEM_USER_GENESIS_POOL, SYSTEM_TAX_COLLECTION_POOL, ...). Balance in Qirat.
CREATE TABLE "SystemAccount" (
	"accountId" TEXT NOT NULL,
	"tenantId" TEXT NOT NULL,
	"kind" TEXT NOT NULL,
	"balanceQirat" NUMERIC(20, 0) NOT NULL DEFAULT 0,
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	CONSTRAINT "SystemAccount_pkey" PRIMARY KEY ("accountId"),
	CONSTRAINT "SystemAccount_balanceQirat_check" CHECK ("balanceQirat" >= 0)
);

-- Original's unused tax snapshot; money columns here are coins (DECIMAL(36,9)) as in the original.
CREATE TABLE "HoardingTaxSnapshot" (
	"snapshotId" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"tenantId" TEXT NOT NULL,
	"walletId" TEXT NOT NULL,
	"snapshotDate" DATE NOT NULL,
	"balance" DECIMAL(36, 9) NOT NULL,
	"daysHeld" INTEGER NOT NULL,
	"taxableAmount" DECIMAL(36, 9) NOT NULL,
	"taxRate" DECIMAL(5, 4) NOT NULL,
	"taxOwed" DECIMAL(36, 9) NOT NULL,
	"taxPaid" BOOLEAN NOT NULL DEFAULT false,
	"paidAt" TIMESTAMPTZ(3),
	"fabricTxId" TEXT,
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	CONSTRAINT "HoardingTaxSnapshot_pkey" PRIMARY KEY ("snapshotId"),
	CONSTRAINT "HoardingTaxSnapshot_walletId_fkey" FOREIGN KEY ("walletId") REFERENCES "Wallet" ("walletId")
		ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "HoardingTaxSnapshot_tenantId_walletId_snapshotDate_key"
	ON "HoardingTaxSnapshot" ("tenantId", "walletId", "snapshotDate");
CREATE INDEX "HoardingTaxSnapshot_tenantId_snapshotDate_taxPaid_idx"
	ON "HoardingTaxSnapshot" ("tenantId", "snapshotDate", "taxPaid");
CREATE INDEX "HoardingTaxSnapshot_tenantId_taxPaid_idx" ON "HoardingTaxSnapshot" ("tenantId", "taxPaid");

-- ---------------------------------------------------------------------------------------------------------
-- Organizations and multisig ("Phase 3" read models; status values are the UPPER_SNAKE strings below)
-- ---------------------------------------------------------------------------------------------------------

CREATE TABLE "OrganizationProfile" (
	"orgProfileId" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"tenantId" TEXT NOT NULL,
	"legalName" TEXT NOT NULL,
	"registrationNumber" TEXT,
	"jurisdictionCountryCode" CHAR(2) NOT NULL,
	"address" TEXT,
	"status" "OrgProfileStatus" NOT NULL DEFAULT 'PENDING_VERIFICATION',
	"deletedAt" TIMESTAMPTZ(3),
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	CONSTRAINT "OrganizationProfile_pkey" PRIMARY KEY ("orgProfileId"),
	CONSTRAINT "OrganizationProfile_jurisdictionCountryCode_fkey" FOREIGN KEY ("jurisdictionCountryCode")
		REFERENCES "Country" ("countryCode") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "OrganizationProfile_tenantId_status_idx" ON "OrganizationProfile" ("tenantId", "status");
CREATE INDEX "OrganizationProfile_tenantId_deletedAt_idx" ON "OrganizationProfile" ("tenantId", "deletedAt");

-- status: PROPOSED, ACTIVE, SUSPENDED. "balanceQirat": the organization account's balance in Qirat.
CREATE TABLE "Organization" (
	"orgId" TEXT NOT NULL,
	"tenantId" TEXT NOT NULL,
	"orgName" TEXT NOT NULL,
	"orgType" TEXT NOT NULL,
	"status" TEXT NOT NULL,
	"stakeholders" JSONB NOT NULL,
	"endorsers" JSONB,
	"authRules" JSONB,
	"activatedAt" TIMESTAMPTZ(3),
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"balanceQirat" NUMERIC(20, 0) NOT NULL DEFAULT 0,
	CONSTRAINT "Organization_pkey" PRIMARY KEY ("orgId"),
	CONSTRAINT "Organization_balanceQirat_check" CHECK ("balanceQirat" >= 0)
);
CREATE INDEX "Organization_tenantId_idx" ON "Organization" ("tenantId");
CREATE INDEX "Organization_status_idx" ON "Organization" ("status");

-- status: PENDING, EXECUTED, REJECTED. "txId" is the pendingTxID we generate and send on chain.
-- "amountQirat": Qirat to move from the organization to "toId".
CREATE TABLE "MultiSigTransaction" (
	"txId" TEXT NOT NULL,
	"tenantId" TEXT NOT NULL,
	"orgId" TEXT NOT NULL,
	"proposerId" TEXT NOT NULL,
	"operation" TEXT NOT NULL,
	"params" JSONB NOT NULL,
	"status" TEXT NOT NULL,
	"requiredSignatures" INTEGER NOT NULL,
	"currentSignatures" INTEGER NOT NULL DEFAULT 0,
	"approvers" JSONB,
	"executedAt" TIMESTAMPTZ(3),
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"toId" TEXT,
	"amountQirat" NUMERIC(20, 0),
	"remark" TEXT,
	CONSTRAINT "MultiSigTransaction_pkey" PRIMARY KEY ("txId")
);
CREATE INDEX "MultiSigTransaction_tenantId_orgId_idx" ON "MultiSigTransaction" ("tenantId", "orgId");
CREATE INDEX "MultiSigTransaction_status_idx" ON "MultiSigTransaction" ("status");

CREATE TABLE "TransactionApproval" (
	"approvalId" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"tenantId" TEXT NOT NULL,
	"businessAccountId" TEXT NOT NULL,
	"outboxCommandId" TEXT NOT NULL,
	"requiredApprovals" INTEGER NOT NULL,
	"receivedApprovals" INTEGER NOT NULL DEFAULT 0,
	"status" "ApprovalStatus" NOT NULL DEFAULT 'PENDING',
	"expiresAt" TIMESTAMPTZ(3) NOT NULL,
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	CONSTRAINT "TransactionApproval_pkey" PRIMARY KEY ("approvalId"),
	CONSTRAINT "TransactionApproval_outboxCommandId_fkey" FOREIGN KEY ("outboxCommandId")
		REFERENCES "OutboxCommand" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "TransactionApproval_tenantId_outboxCommandId_key"
	ON "TransactionApproval" ("tenantId", "outboxCommandId");
CREATE INDEX "TransactionApproval_tenantId_businessAccountId_status_idx"
	ON "TransactionApproval" ("tenantId", "businessAccountId", "status");
CREATE INDEX "TransactionApproval_status_expiresAt_idx" ON "TransactionApproval" ("status", "expiresAt");

CREATE TABLE "ApprovalVote" (
	"voteId" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"tenantId" TEXT NOT NULL,
	"approvalId" TEXT NOT NULL,
	"signatoryId" TEXT NOT NULL,
	"approved" BOOLEAN NOT NULL,
	"remarks" TEXT,
	"votedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	CONSTRAINT "ApprovalVote_pkey" PRIMARY KEY ("voteId"),
	CONSTRAINT "ApprovalVote_approvalId_fkey" FOREIGN KEY ("approvalId") REFERENCES "TransactionApproval" ("approvalId")
		ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "ApprovalVote_tenantId_approvalId_signatoryId_key"
	ON "ApprovalVote" ("tenantId", "approvalId", "signatoryId");
CREATE INDEX "ApprovalVote_tenantId_signatoryId_idx" ON "ApprovalVote" ("tenantId", "signatoryId");

-- ---------------------------------------------------------------------------------------------------------
-- Loans
-- ---------------------------------------------------------------------------------------------------------

-- status: PENDING_APPROVAL, ACTIVE, REPAID, DEFAULTED, REJECTED. "loanId" is generated by us and sent on chain.
-- "amountQirat"/"repaidQirat": Qirat; "amount": the same in coins, derived (the original had a float here).
CREATE TABLE "Loan" (
	"loanId" TEXT NOT NULL,
	"tenantId" TEXT NOT NULL,
	"borrowerId" TEXT NOT NULL,
	"collateralHash" TEXT,
	"appliedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"purpose" TEXT NOT NULL DEFAULT '',
	"status" TEXT NOT NULL,
	"approvedBy" TEXT,
	"approvedAt" TIMESTAMPTZ(3),
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"amountQirat" NUMERIC(20, 0) NOT NULL,
	"repaidQirat" NUMERIC(20, 0) NOT NULL DEFAULT 0,
	"disbursedAt" TIMESTAMPTZ(3),
	"repaidAt" TIMESTAMPTZ(3),
	"dueAt" TIMESTAMPTZ(3),
	"amount" DECIMAL(36, 9) GENERATED ALWAYS AS ("amountQirat" * 0.00001) STORED,
	CONSTRAINT "Loan_pkey" PRIMARY KEY ("loanId"),
	CONSTRAINT "Loan_qirat_check" CHECK ("amountQirat" >= 0 AND "repaidQirat" >= 0)
);
CREATE INDEX "Loan_tenantId_borrowerId_idx" ON "Loan" ("tenantId", "borrowerId");
CREATE INDEX "Loan_status_idx" ON "Loan" ("status");
CREATE INDEX "Loan_appliedAt_idx" ON "Loan" ("appliedAt");

CREATE TABLE "Collateral" (
	"collateralId" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"onChainLoanId" TEXT NOT NULL,
	"documentReference" TEXT NOT NULL,
	"documentHash" TEXT NOT NULL,
	"documentSize" INTEGER,
	"documentMime" TEXT,
	"status" "CollateralStatus" NOT NULL DEFAULT 'PLEDGED',
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	CONSTRAINT "Collateral_pkey" PRIMARY KEY ("collateralId")
);
CREATE UNIQUE INDEX "Collateral_onChainLoanId_key" ON "Collateral" ("onChainLoanId");
CREATE INDEX "Collateral_onChainLoanId_idx" ON "Collateral" ("onChainLoanId");
CREATE INDEX "Collateral_status_idx" ON "Collateral" ("status");

-- ---------------------------------------------------------------------------------------------------------
-- Governance
-- ---------------------------------------------------------------------------------------------------------

-- status: ACTIVE, PASSED, REJECTED, EXECUTED. A parameter proposal sets "targetParam" to "newValue" when
-- executed. Vote counters are kept by the projector from "ProposalVote".
CREATE TABLE "Proposal" (
	"proposalId" TEXT NOT NULL,
	"tenantId" TEXT NOT NULL,
	"title" TEXT NOT NULL DEFAULT '',
	"description" TEXT NOT NULL DEFAULT '',
	"proposerId" TEXT NOT NULL,
	"proposalType" TEXT NOT NULL,
	"status" TEXT NOT NULL,
	"votesFor" INTEGER NOT NULL DEFAULT 0,
	"votesAgainst" INTEGER NOT NULL DEFAULT 0,
	"voters" JSONB,
	"executedAt" TIMESTAMPTZ(3),
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"votesAbstain" INTEGER NOT NULL DEFAULT 0,
	"targetParam" TEXT,
	"newValue" TEXT,
	"votingEndsAt" TIMESTAMPTZ(3),
	CONSTRAINT "Proposal_pkey" PRIMARY KEY ("proposalId")
);
CREATE INDEX "Proposal_tenantId_idx" ON "Proposal" ("tenantId");
CREATE INDEX "Proposal_status_idx" ON "Proposal" ("status");
CREATE INDEX "Proposal_proposerId_idx" ON "Proposal" ("proposerId");
CREATE INDEX "Proposal_tenantId_status_createdAt_idx" ON "Proposal" ("tenantId", "status", "createdAt");

-- One vote per proposal and voter. The API may insert the row when it accepts the vote ("commandId" set), the
-- projector confirms it ("fabricTxId", "confirmedAt"); the unique key makes a second vote a conflict (409).
CREATE TABLE "ProposalVote" (
	"voteId" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"tenantId" TEXT NOT NULL,
	"proposalId" TEXT NOT NULL,
	"voterId" TEXT NOT NULL,
	"vote" "VoteChoice" NOT NULL,
	"commandId" TEXT,
	"fabricTxId" TEXT,
	"votedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"confirmedAt" TIMESTAMPTZ(3),
	CONSTRAINT "ProposalVote_pkey" PRIMARY KEY ("voteId"),
	CONSTRAINT "ProposalVote_proposalId_fkey" FOREIGN KEY ("proposalId") REFERENCES "Proposal" ("proposalId")
		ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "ProposalVote_proposalId_voterId_key" ON "ProposalVote" ("proposalId", "voterId");
CREATE INDEX "ProposalVote_voterId_idx" ON "ProposalVote" ("voterId");

-- 0002_adopt_prisma: bring a database created by the original's Prisma migration to the state 0001 creates.
--
-- Adoption path for an existing production database (made by `prisma migrate deploy` of the original's
-- 20251016052857_initial_schema / 20251113_init_production_schema, possibly patched by hand with
-- ALTER TYPE "CommandType" ADD VALUE ...):
--   1. back it up; stop the original's services and workers.
--   2. run `gxctl migrate up`. Finding no "_gx_migrations" record but an "OutboxCommand" table, the tool records
--      0001 as a baseline without running it (its CREATE TYPE statements would fail on the existing types).
--      This file then runs, in one transaction, and
--        * adds the enum values we need (keeping our order where it can) and creates our new enum types;
--        * gives ids gen_random_uuid()::text and "updatedAt" CURRENT_TIMESTAMP database defaults;
--        * adds our columns (outbox leases, projection marks, roles, ...) and indexes;
--        * converts coin balances to Qirat: "Wallet"."cachedBalance" and "Transaction"."amount"/"fee" become
--          read-only columns derived from new exact "balanceQirat"/"amountQirat"/"feeQirat" (value * 100,000);
--        * replaces the unique (tenantId, onChainTxId) of "Transaction" by (tenantId, onChainTxId, walletId, type);
--        * replaces "HttpIdempotency", which the original never wrote, by our keyed table;
--        * creates the Phase 3 read models, our tables and any original table that is missing.
--   The original's other tables (AuditLog, Beneficiary, ...) are left as they are.
-- On a database created by 0001 every statement here finds its work done and changes nothing.

-- ---------------------------------------------------------------------------------------------------------
-- Helpers (session-temporary, dropped at the end)
-- ---------------------------------------------------------------------------------------------------------

-- Create enum typ with vals, or add the missing vals keeping their order relative to the ones present.
CREATE FUNCTION pg_temp.gx_enum(typ text, vals text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	i int;
	first_label text;
BEGIN
	IF to_regtype(format('%I', typ)) IS NULL THEN
		EXECUTE format('CREATE TYPE %I AS ENUM (%s)', typ,
			(SELECT string_agg(quote_literal(v), ', ') FROM unnest(vals) AS v));
		RETURN;
	END IF;
	FOR i IN 1 .. array_length(vals, 1) LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_enum WHERE enumtypid = to_regtype(format('%I', typ))
				AND enumlabel = vals[i]) THEN
			IF i > 1 THEN
				EXECUTE format('ALTER TYPE %I ADD VALUE %L AFTER %L', typ, vals[i], vals[i - 1]);
			ELSE
				SELECT enumlabel INTO first_label FROM pg_enum
					WHERE enumtypid = to_regtype(format('%I', typ)) ORDER BY enumsortorder LIMIT 1;
				EXECUTE format('ALTER TYPE %I ADD VALUE %L BEFORE %L', typ, vals[i], first_label);
			END IF;
		END IF;
	END LOOP;
END $$;

-- Turn a plain coin column (DECIMAL or float) into a read-only coin column derived from a Qirat column, keeping
-- the values (coins * 100,000, rounded to whole Qirat). Does nothing when the coin column is already generated.
CREATE FUNCTION pg_temp.gx_coin_to_qirat(tbl text, coin text, qirat text, qirat_default text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(format('%I', tbl))
			AND attname = coin AND attgenerated = '' AND NOT attisdropped) THEN
		RETURN;
	END IF;
	EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS %I NUMERIC(20, 0)', tbl, qirat);
	EXECUTE format('UPDATE %I SET %I = round(%I::numeric * 100000)', tbl, qirat, coin);
	IF qirat_default IS NOT NULL THEN
		EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET DEFAULT %s', tbl, qirat, qirat_default);
	END IF;
	EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET NOT NULL', tbl, qirat);
	EXECUTE format('ALTER TABLE %I DROP COLUMN %I', tbl, coin);
	EXECUTE format('ALTER TABLE %I ADD COLUMN %I DECIMAL(36, 9) GENERATED ALWAYS AS (%I * 0.00001) STORED',
		tbl, coin, qirat);
END $$;

-- Add a table constraint unless one of that name exists.
CREATE FUNCTION pg_temp.gx_constraint(tbl text, name text, def text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(format('%I', tbl))
			AND conname = name) THEN
		EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I %s', tbl, name, def);
	END IF;
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- Enums
-- ---------------------------------------------------------------------------------------------------------
SELECT pg_temp.gx_enum('OutboxStatus', ARRAY['PENDING', 'LOCKED', 'SUBMITTED', 'COMMITTED', 'FAILED', 'PROJECTED']);
SELECT pg_temp.gx_enum('CommandType', ARRAY[
	'CREATE_USER', 'TRANSFER_TOKENS', 'DISTRIBUTE_GENESIS', 'FREEZE_WALLET', 'UNFREEZE_WALLET',
	'PROPOSE_ORGANIZATION', 'ENDORSE_MEMBERSHIP', 'ACTIVATE_ORGANIZATION', 'DEFINE_AUTH_RULE',
	'INITIATE_MULTISIG_TX', 'APPROVE_MULTISIG_TX', 'EXECUTE_MULTISIG_TX', 'APPLY_FOR_LOAN', 'APPROVE_LOAN',
	'SUBMIT_PROPOSAL', 'CAST_VOTE', 'EXECUTE_PROPOSAL', 'BOOTSTRAP_SYSTEM', 'INITIALIZE_COUNTRY',
	'UPDATE_SYSTEM_PARAMETER', 'PAUSE_SYSTEM', 'RESUME_SYSTEM', 'APPOINT_ADMIN', 'ACTIVATE_TREASURY',
	'APPLY_VELOCITY_TAX', 'INITIALIZE_COUNTRY_DATA', 'MINT', 'Q_SEND_PAY', 'REPAY_LOAN', 'REJECT_LOAN',
	'REJECT_PROPOSAL']);
SELECT pg_temp.gx_enum('UserProfileStatus', ARRAY['PENDING_VERIFICATION', 'VERIFIED', 'REJECTED', 'SUSPENDED',
	'CLOSED', 'ACTIVE', 'FROZEN']);
SELECT pg_temp.gx_enum('KycStatus', ARRAY['PENDING', 'APPROVED', 'REJECTED', 'EXPIRED']);
SELECT pg_temp.gx_enum('OrgProfileStatus', ARRAY['PENDING_VERIFICATION', 'VERIFIED', 'REJECTED', 'SUSPENDED']);
SELECT pg_temp.gx_enum('PartnerStatus', ARRAY['PENDING', 'ACTIVE', 'REVOKED']);
SELECT pg_temp.gx_enum('LicenseStatus', ARRAY['ACTIVE', 'EXPIRED', 'REVOKED']);
SELECT pg_temp.gx_enum('CredentialStatus', ARRAY['ACTIVE', 'REVOKED']);
SELECT pg_temp.gx_enum('LegalTenderStatusEnum', ARRAY['RECOGNIZED', 'SANDBOX', 'ACTIVE_LEGAL_TENDER']);
SELECT pg_temp.gx_enum('OffChainTxType', ARRAY['MINT', 'SENT', 'RECEIVED', 'TAX', 'LOAN_DISBURSEMENT',
	'LOAN_REPAYMENT', 'GENESIS', 'FEE', 'FEE_COLLECTED', 'TAX_COLLECTED', 'ADJUSTMENT']);
SELECT pg_temp.gx_enum('CollateralStatus', ARRAY['PLEDGED', 'RELEASED']);
SELECT pg_temp.gx_enum('RelationType', ARRAY['FATHER', 'MOTHER', 'SPOUSE', 'CHILD', 'SIBLING', 'BUSINESS_PARTNER',
	'DIRECTOR', 'WORKPLACE_ASSOCIATE', 'FRIEND']);
SELECT pg_temp.gx_enum('RelationshipStatus', ARRAY['PENDING', 'CONFIRMED', 'REJECTED', 'DECEASED', 'DIVORCED',
	'NOT_APPLICABLE']);
SELECT pg_temp.gx_enum('SignatoryRole', ARRAY['OWNER', 'DIRECTOR', 'AUTHORIZED_SIGNATORY', 'ACCOUNTANT', 'VIEWER']);
SELECT pg_temp.gx_enum('ApprovalStatus', ARRAY['PENDING', 'APPROVED', 'REJECTED', 'EXPIRED']);
SELECT pg_temp.gx_enum('AuditEventType', ARRAY['USER_LOGIN', 'USER_LOGOUT', 'USER_REGISTERED', 'PROFILE_UPDATED',
	'PASSWORD_CHANGED', 'KYC_SUBMITTED', 'KYC_APPROVED', 'KYC_REJECTED', 'TRANSACTION_INITIATED',
	'TRANSACTION_APPROVED', 'TRANSACTION_REJECTED', 'TRANSACTION_COMPLETED', 'TRANSACTION_FAILED', 'WALLET_CREATED',
	'BENEFICIARY_ADDED', 'BENEFICIARY_REMOVED', 'RELATIONSHIP_INVITED', 'RELATIONSHIP_CONFIRMED',
	'RELATIONSHIP_REJECTED', 'BUSINESS_SIGNATORY_ADDED', 'BUSINESS_SIGNATORY_REVOKED', 'ADMIN_ACCOUNT_FROZEN',
	'ADMIN_ACCOUNT_UNFROZEN', 'ADMIN_ACCOUNT_CLOSED', 'SESSION_CREATED', 'SESSION_REVOKED', 'DEVICE_TRUSTED',
	'DEVICE_UNTRUSTED']);
SELECT pg_temp.gx_enum('SessionStatus', ARRAY['ACTIVE', 'EXPIRED', 'REVOKED', 'LOGGED_OUT']);
SELECT pg_temp.gx_enum('NotificationType', ARRAY['RELATIONSHIP_INVITATION', 'RELATIONSHIP_CONFIRMED',
	'RELATIONSHIP_REJECTED', 'BUSINESS_SIGNATORY_INVITATION', 'TRANSACTION_APPROVAL_REQUEST',
	'TRANSACTION_APPROVED', 'TRANSACTION_REJECTED', 'TRANSACTION_COMPLETED', 'KYC_STATUS_UPDATE', 'WALLET_CREDITED',
	'WALLET_DEBITED', 'SYSTEM_ANNOUNCEMENT', 'SECURITY_ALERT']);
SELECT pg_temp.gx_enum('NotificationStatus', ARRAY['UNREAD', 'READ', 'ARCHIVED', 'ACTIONED']);
SELECT pg_temp.gx_enum('DocumentType', ARRAY['NATIONAL_ID', 'PASSPORT', 'DRIVERS_LICENSE', 'PROOF_OF_ADDRESS',
	'DEATH_CERTIFICATE', 'DIVORCE_CERTIFICATE', 'BUSINESS_REGISTRATION', 'TAX_REGISTRATION', 'BANK_STATEMENT',
	'UTILITY_BILL', 'SELFIE_PHOTO', 'OTHER']);
SELECT pg_temp.gx_enum('LimitType', ARRAY['DAILY_SEND', 'DAILY_RECEIVE', 'MONTHLY_SEND', 'MONTHLY_RECEIVE',
	'SINGLE_TRANSACTION', 'VELOCITY_CHECK']);
SELECT pg_temp.gx_enum('ContactStatus', ARRAY['ACTIVE', 'BLOCKED', 'ARCHIVED']);
SELECT pg_temp.gx_enum('UserRole', ARRAY['USER', 'ADMIN', 'SUPER_ADMIN', 'PARTNER_API']);
SELECT pg_temp.gx_enum('VoteChoice', ARRAY['FOR', 'AGAINST', 'ABSTAIN']);
SELECT pg_temp.gx_enum('IdempotencyState', ARRAY['IN_FLIGHT', 'COMPLETE']);

-- ---------------------------------------------------------------------------------------------------------
-- Tables of the original that the adopted database may lack (a partial or hand-made schema): created as 0001
-- does. Existing ones are altered below.
-- ---------------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS "OutboxCommand" (
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
CREATE TABLE IF NOT EXISTS "ProjectorState" (
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
CREATE TABLE IF NOT EXISTS "EventLog" (
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
CREATE TABLE IF NOT EXISTS "EventDLQ" (
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
CREATE TABLE IF NOT EXISTS "Country" (
	"countryCode" CHAR(2) NOT NULL,
	"countryName" TEXT NOT NULL,
	"region" TEXT,
	"alpha3" CHAR(3),
	"numericCode" CHAR(3),
	"allocationPercentage" NUMERIC(12, 10),
	"initializedAt" TIMESTAMPTZ(3),
	CONSTRAINT "Country_pkey" PRIMARY KEY ("countryCode")
);
CREATE TABLE IF NOT EXISTS "LegalTenderStatus" (
	"statusId" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"countryCode" CHAR(2) NOT NULL,
	"status" "LegalTenderStatusEnum" NOT NULL,
	"effectiveDate" TIMESTAMPTZ(3) NOT NULL,
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	CONSTRAINT "LegalTenderStatus_pkey" PRIMARY KEY ("statusId"),
	CONSTRAINT "LegalTenderStatus_countryCode_fkey" FOREIGN KEY ("countryCode") REFERENCES "Country" ("countryCode")
		ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE TABLE IF NOT EXISTS "UserProfile" (
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
CREATE TABLE IF NOT EXISTS "KYCVerification" (
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
CREATE TABLE IF NOT EXISTS "UserSession" (
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
CREATE TABLE IF NOT EXISTS "Wallet" (
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
CREATE TABLE IF NOT EXISTS "Transaction" (
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
CREATE TABLE IF NOT EXISTS "HoardingTaxSnapshot" (
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
CREATE TABLE IF NOT EXISTS "OrganizationProfile" (
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
CREATE TABLE IF NOT EXISTS "TransactionApproval" (
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
CREATE TABLE IF NOT EXISTS "ApprovalVote" (
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
CREATE TABLE IF NOT EXISTS "Collateral" (
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

-- ---------------------------------------------------------------------------------------------------------
-- Outbox, idempotency, projection
-- ---------------------------------------------------------------------------------------------------------
ALTER TABLE "OutboxCommand" ALTER COLUMN "id" SET DEFAULT gen_random_uuid()::text;
ALTER TABLE "OutboxCommand" ALTER COLUMN "updatedAt" SET DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE "OutboxCommand" ADD COLUMN IF NOT EXISTS "leaseUntil" TIMESTAMPTZ(3);
ALTER TABLE "OutboxCommand" ADD COLUMN IF NOT EXISTS "nextAttemptAt" TIMESTAMPTZ(3) NOT NULL
	DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE "OutboxCommand" ADD COLUMN IF NOT EXISTS "committedAt" TIMESTAMPTZ(3);
ALTER TABLE "OutboxCommand" ADD COLUMN IF NOT EXISTS "projectedAt" TIMESTAMPTZ(3);
ALTER TABLE "OutboxCommand" ADD COLUMN IF NOT EXISTS "aggregateId" TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS "OutboxCommand_tenantId_requestId_key" ON "OutboxCommand" ("tenantId", "requestId");
CREATE INDEX IF NOT EXISTS "OutboxCommand_status_createdAt_idx" ON "OutboxCommand" ("status", "createdAt");
CREATE INDEX IF NOT EXISTS "OutboxCommand_tenantId_status_idx" ON "OutboxCommand" ("tenantId", "status");
CREATE INDEX IF NOT EXISTS "OutboxCommand_fabricTxId_idx" ON "OutboxCommand" ("fabricTxId");
CREATE INDEX IF NOT EXISTS "OutboxCommand_pending_nextAttemptAt_idx" ON "OutboxCommand" ("nextAttemptAt", "createdAt")
	WHERE "status" = 'PENDING';
CREATE INDEX IF NOT EXISTS "OutboxCommand_inflight_leaseUntil_idx" ON "OutboxCommand" ("leaseUntil")
	WHERE "status" IN ('LOCKED', 'SUBMITTED');
CREATE INDEX IF NOT EXISTS "OutboxCommand_open_aggregateId_idx" ON "OutboxCommand" ("aggregateId", "createdAt")
	WHERE "status" IN ('PENDING', 'LOCKED', 'SUBMITTED');
CREATE INDEX IF NOT EXISTS "OutboxCommand_commandType_createdAt_idx" ON "OutboxCommand" ("commandType", "createdAt");

-- the original's HttpIdempotency (keyed by method/path/bodyHash, never written) is replaced
DO $$
BEGIN
	IF to_regclass('"HttpIdempotency"') IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_attribute
			WHERE attrelid = to_regclass('"HttpIdempotency"') AND attname = 'idempotencyKey') THEN
		DROP TABLE "HttpIdempotency";
	END IF;
END $$;
CREATE TABLE IF NOT EXISTS "HttpIdempotency" (
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
CREATE INDEX IF NOT EXISTS "HttpIdempotency_expiresAt_idx" ON "HttpIdempotency" ("expiresAt");

ALTER TABLE "ProjectorState" ALTER COLUMN "updatedAt" SET DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE "ProjectorState" ADD COLUMN IF NOT EXISTS "chainHeight" BIGINT;
ALTER TABLE "ProjectorState" ADD COLUMN IF NOT EXISTS "lastBlockTime" TIMESTAMPTZ(3);

ALTER TABLE "EventLog" ALTER COLUMN "id" SET DEFAULT gen_random_uuid()::text;
ALTER TABLE "EventLog" ADD COLUMN IF NOT EXISTS "eventIndex" INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS "EventLog_tenantId_blockNumber_idx" ON "EventLog" ("tenantId", "blockNumber");
CREATE INDEX IF NOT EXISTS "EventLog_fabricTxId_idx" ON "EventLog" ("fabricTxId");
CREATE INDEX IF NOT EXISTS "EventLog_tenantId_eventName_idx" ON "EventLog" ("tenantId", "eventName");
CREATE UNIQUE INDEX IF NOT EXISTS "EventLog_tenantId_channel_blockNumber_eventIndex_key"
	ON "EventLog" ("tenantId", "channel", "blockNumber", "eventIndex");

ALTER TABLE "EventDLQ" ALTER COLUMN "id" SET DEFAULT gen_random_uuid()::text;
ALTER TABLE "EventDLQ" ADD COLUMN IF NOT EXISTS "eventName" TEXT;
ALTER TABLE "EventDLQ" ADD COLUMN IF NOT EXISTS "eventIndex" INTEGER;
ALTER TABLE "EventDLQ" ADD COLUMN IF NOT EXISTS "resolvedAt" TIMESTAMPTZ(3);
CREATE INDEX IF NOT EXISTS "EventDLQ_tenantId_createdAt_idx" ON "EventDLQ" ("tenantId", "createdAt");
CREATE INDEX IF NOT EXISTS "EventDLQ_fabricTxId_idx" ON "EventDLQ" ("fabricTxId");

-- ---------------------------------------------------------------------------------------------------------
-- Reference data
-- ---------------------------------------------------------------------------------------------------------
ALTER TABLE "Country" ADD COLUMN IF NOT EXISTS "alpha3" CHAR(3);
ALTER TABLE "Country" ADD COLUMN IF NOT EXISTS "numericCode" CHAR(3);
ALTER TABLE "Country" ADD COLUMN IF NOT EXISTS "allocationPercentage" NUMERIC(12, 10);
ALTER TABLE "Country" ADD COLUMN IF NOT EXISTS "initializedAt" TIMESTAMPTZ(3);

ALTER TABLE "LegalTenderStatus" ALTER COLUMN "statusId" SET DEFAULT gen_random_uuid()::text;

CREATE TABLE IF NOT EXISTS "SystemParameter" (
	"tenantId" TEXT NOT NULL,
	"paramKey" TEXT NOT NULL,
	"paramValue" TEXT NOT NULL,
	"updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"description" TEXT,
	CONSTRAINT "SystemParameter_pkey" PRIMARY KEY ("tenantId", "paramKey")
);
ALTER TABLE "SystemParameter" ALTER COLUMN "updatedAt" SET DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE "SystemParameter" ADD COLUMN IF NOT EXISTS "description" TEXT;
CREATE INDEX IF NOT EXISTS "SystemParameter_tenantId_idx" ON "SystemParameter" ("tenantId");

-- ---------------------------------------------------------------------------------------------------------
-- Identity and auth
-- ---------------------------------------------------------------------------------------------------------
ALTER TABLE "UserProfile" ALTER COLUMN "profileId" SET DEFAULT gen_random_uuid()::text;
ALTER TABLE "UserProfile" ALTER COLUMN "updatedAt" SET DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE "UserProfile" ADD COLUMN IF NOT EXISTS "role" "UserRole" NOT NULL DEFAULT 'USER';
ALTER TABLE "UserProfile" ADD COLUMN IF NOT EXISTS "fabricUserId" TEXT;
ALTER TABLE "UserProfile" ADD COLUMN IF NOT EXISTS "onchainStatus" TEXT;
ALTER TABLE "UserProfile" ADD COLUMN IF NOT EXISTS "dateOfBirth" DATE;
ALTER TABLE "UserProfile" ADD COLUMN IF NOT EXISTS "failedLoginAttempts" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "UserProfile" ADD COLUMN IF NOT EXISTS "lockedUntil" TIMESTAMPTZ(3);
ALTER TABLE "UserProfile" ADD COLUMN IF NOT EXISTS "lastLoginAt" TIMESTAMPTZ(3);
CREATE UNIQUE INDEX IF NOT EXISTS "UserProfile_email_key" ON "UserProfile" ("email");
CREATE UNIQUE INDEX IF NOT EXISTS "UserProfile_phoneNum_key" ON "UserProfile" ("phoneNum");
CREATE UNIQUE INDEX IF NOT EXISTS "UserProfile_biometricHash_key" ON "UserProfile" ("biometricHash");
CREATE UNIQUE INDEX IF NOT EXISTS "UserProfile_email_lower_key" ON "UserProfile" (lower("email"));
CREATE UNIQUE INDEX IF NOT EXISTS "UserProfile_fabricUserId_key" ON "UserProfile" ("fabricUserId");
CREATE INDEX IF NOT EXISTS "UserProfile_tenantId_status_idx" ON "UserProfile" ("tenantId", "status");
CREATE INDEX IF NOT EXISTS "UserProfile_tenantId_email_idx" ON "UserProfile" ("tenantId", "email");
CREATE INDEX IF NOT EXISTS "UserProfile_tenantId_phoneNum_idx" ON "UserProfile" ("tenantId", "phoneNum");
CREATE INDEX IF NOT EXISTS "UserProfile_tenantId_deletedAt_idx" ON "UserProfile" ("tenantId", "deletedAt");
CREATE INDEX IF NOT EXISTS "UserProfile_tenantId_nationalityCountryCode_idx"
	ON "UserProfile" ("tenantId", "nationalityCountryCode");
CREATE INDEX IF NOT EXISTS "UserProfile_tenantId_role_idx" ON "UserProfile" ("tenantId", "role");

ALTER TABLE "KYCVerification" ALTER COLUMN "kycId" SET DEFAULT gen_random_uuid()::text;
ALTER TABLE "KYCVerification" ALTER COLUMN "updatedAt" SET DEFAULT CURRENT_TIMESTAMP;
CREATE INDEX IF NOT EXISTS "KYCVerification_profileId_idx" ON "KYCVerification" ("profileId");
CREATE INDEX IF NOT EXISTS "KYCVerification_status_idx" ON "KYCVerification" ("status");
CREATE UNIQUE INDEX IF NOT EXISTS "KYCVerification_profileId_pending_key" ON "KYCVerification" ("profileId")
	WHERE "status" = 'PENDING';

ALTER TABLE "UserSession" ALTER COLUMN "sessionId" SET DEFAULT gen_random_uuid()::text;

CREATE TABLE IF NOT EXISTS "RefreshToken" (
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
CREATE INDEX IF NOT EXISTS "RefreshToken_familyId_idx" ON "RefreshToken" ("familyId");
CREATE INDEX IF NOT EXISTS "RefreshToken_profileId_idx" ON "RefreshToken" ("profileId");
CREATE INDEX IF NOT EXISTS "RefreshToken_expiresAt_idx" ON "RefreshToken" ("expiresAt");

CREATE TABLE IF NOT EXISTS "AdminAuditLog" (
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
CREATE INDEX IF NOT EXISTS "AdminAuditLog_tenantId_createdAt_idx" ON "AdminAuditLog" ("tenantId", "createdAt");
CREATE INDEX IF NOT EXISTS "AdminAuditLog_actorId_createdAt_idx" ON "AdminAuditLog" ("actorId", "createdAt");
CREATE INDEX IF NOT EXISTS "AdminAuditLog_targetType_targetId_idx" ON "AdminAuditLog" ("targetType", "targetId");

-- ---------------------------------------------------------------------------------------------------------
-- Wallets, balances, history (coins -> Qirat)
-- ---------------------------------------------------------------------------------------------------------
ALTER TABLE "Wallet" ALTER COLUMN "walletId" SET DEFAULT gen_random_uuid()::text;
ALTER TABLE "Wallet" ALTER COLUMN "updatedAt" SET DEFAULT CURRENT_TIMESTAMP;
SELECT pg_temp.gx_coin_to_qirat('Wallet', 'cachedBalance', 'balanceQirat', '0');
ALTER TABLE "Wallet" ADD COLUMN IF NOT EXISTS "isFrozen" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "Wallet" ADD COLUMN IF NOT EXISTS "frozenReason" TEXT;
SELECT pg_temp.gx_constraint('Wallet', 'Wallet_balanceQirat_check', 'CHECK ("balanceQirat" >= 0)');
CREATE UNIQUE INDEX IF NOT EXISTS "Wallet_tenantId_primaryAccountId_key" ON "Wallet" ("tenantId", "primaryAccountId");
CREATE INDEX IF NOT EXISTS "Wallet_tenantId_profileId_idx" ON "Wallet" ("tenantId", "profileId");
CREATE INDEX IF NOT EXISTS "Wallet_tenantId_deletedAt_idx" ON "Wallet" ("tenantId", "deletedAt");
CREATE INDEX IF NOT EXISTS "Wallet_profileId_idx" ON "Wallet" ("profileId");

ALTER TABLE "Transaction" ALTER COLUMN "offTxId" SET DEFAULT gen_random_uuid()::text;
SELECT pg_temp.gx_coin_to_qirat('Transaction', 'amount', 'amountQirat', NULL);
SELECT pg_temp.gx_coin_to_qirat('Transaction', 'fee', 'feeQirat', '0');
SELECT pg_temp.gx_constraint('Transaction', 'Transaction_qirat_check', 'CHECK ("amountQirat" >= 0 AND "feeQirat" >= 0)');
-- one row per wallet side: the original's unique (tenantId, onChainTxId) rejected the second side of a transfer
DROP INDEX IF EXISTS "Transaction_tenantId_onChainTxId_key";
CREATE UNIQUE INDEX IF NOT EXISTS "Transaction_tenantId_onChainTxId_walletId_type_key"
	ON "Transaction" ("tenantId", "onChainTxId", "walletId", "type");
CREATE INDEX IF NOT EXISTS "Transaction_tenantId_walletId_timestamp_idx"
	ON "Transaction" ("tenantId", "walletId", "timestamp");
CREATE INDEX IF NOT EXISTS "Transaction_tenantId_counterparty_timestamp_idx"
	ON "Transaction" ("tenantId", "counterparty", "timestamp");
CREATE INDEX IF NOT EXISTS "Transaction_timestamp_idx" ON "Transaction" ("timestamp");
CREATE INDEX IF NOT EXISTS "Transaction_walletId_timestamp_idx" ON "Transaction" ("walletId", "timestamp" DESC, "offTxId");
CREATE INDEX IF NOT EXISTS "Transaction_onChainTxId_idx" ON "Transaction" ("onChainTxId");

CREATE TABLE IF NOT EXISTS "TreasuryAccount" (
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
CREATE UNIQUE INDEX IF NOT EXISTS "TreasuryAccount_tenantId_countryCode_key"
	ON "TreasuryAccount" ("tenantId", "countryCode");

CREATE TABLE IF NOT EXISTS "SystemAccount" (
	"accountId" TEXT NOT NULL,
	"tenantId" TEXT NOT NULL,
	"kind" TEXT NOT NULL,
	"balanceQirat" NUMERIC(20, 0) NOT NULL DEFAULT 0,
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	CONSTRAINT "SystemAccount_pkey" PRIMARY KEY ("accountId"),
	CONSTRAINT "SystemAccount_balanceQirat_check" CHECK ("balanceQirat" >= 0)
);

ALTER TABLE "HoardingTaxSnapshot" ALTER COLUMN "snapshotId" SET DEFAULT gen_random_uuid()::text;

-- ---------------------------------------------------------------------------------------------------------
-- Organizations, multisig, approvals
-- ---------------------------------------------------------------------------------------------------------
ALTER TABLE "OrganizationProfile" ALTER COLUMN "orgProfileId" SET DEFAULT gen_random_uuid()::text;
ALTER TABLE "OrganizationProfile" ALTER COLUMN "updatedAt" SET DEFAULT CURRENT_TIMESTAMP;

CREATE TABLE IF NOT EXISTS "Organization" (
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
ALTER TABLE "Organization" ALTER COLUMN "updatedAt" SET DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE "Organization" ADD COLUMN IF NOT EXISTS "balanceQirat" NUMERIC(20, 0) NOT NULL DEFAULT 0;
SELECT pg_temp.gx_constraint('Organization', 'Organization_balanceQirat_check', 'CHECK ("balanceQirat" >= 0)');
CREATE INDEX IF NOT EXISTS "Organization_tenantId_idx" ON "Organization" ("tenantId");
CREATE INDEX IF NOT EXISTS "Organization_status_idx" ON "Organization" ("status");

CREATE TABLE IF NOT EXISTS "MultiSigTransaction" (
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
ALTER TABLE "MultiSigTransaction" ALTER COLUMN "updatedAt" SET DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE "MultiSigTransaction" ADD COLUMN IF NOT EXISTS "toId" TEXT;
ALTER TABLE "MultiSigTransaction" ADD COLUMN IF NOT EXISTS "amountQirat" NUMERIC(20, 0);
ALTER TABLE "MultiSigTransaction" ADD COLUMN IF NOT EXISTS "remark" TEXT;
CREATE INDEX IF NOT EXISTS "MultiSigTransaction_tenantId_orgId_idx" ON "MultiSigTransaction" ("tenantId", "orgId");
CREATE INDEX IF NOT EXISTS "MultiSigTransaction_status_idx" ON "MultiSigTransaction" ("status");

ALTER TABLE "TransactionApproval" ALTER COLUMN "approvalId" SET DEFAULT gen_random_uuid()::text;
ALTER TABLE "TransactionApproval" ALTER COLUMN "updatedAt" SET DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE "ApprovalVote" ALTER COLUMN "voteId" SET DEFAULT gen_random_uuid()::text;

-- ---------------------------------------------------------------------------------------------------------
-- Loans
-- ---------------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS "Loan" (
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
-- a hand-made Phase 3 "Loan" had a float coin "amount"
SELECT pg_temp.gx_coin_to_qirat('Loan', 'amount', 'amountQirat', NULL);
ALTER TABLE "Loan" ALTER COLUMN "updatedAt" SET DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE "Loan" ALTER COLUMN "purpose" SET DEFAULT '';
ALTER TABLE "Loan" ADD COLUMN IF NOT EXISTS "repaidQirat" NUMERIC(20, 0) NOT NULL DEFAULT 0;
ALTER TABLE "Loan" ADD COLUMN IF NOT EXISTS "disbursedAt" TIMESTAMPTZ(3);
ALTER TABLE "Loan" ADD COLUMN IF NOT EXISTS "repaidAt" TIMESTAMPTZ(3);
ALTER TABLE "Loan" ADD COLUMN IF NOT EXISTS "dueAt" TIMESTAMPTZ(3);
SELECT pg_temp.gx_constraint('Loan', 'Loan_qirat_check', 'CHECK ("amountQirat" >= 0 AND "repaidQirat" >= 0)');
CREATE INDEX IF NOT EXISTS "Loan_tenantId_borrowerId_idx" ON "Loan" ("tenantId", "borrowerId");
CREATE INDEX IF NOT EXISTS "Loan_status_idx" ON "Loan" ("status");
CREATE INDEX IF NOT EXISTS "Loan_appliedAt_idx" ON "Loan" ("appliedAt");

ALTER TABLE "Collateral" ALTER COLUMN "collateralId" SET DEFAULT gen_random_uuid()::text;

-- ---------------------------------------------------------------------------------------------------------
-- Governance
-- ---------------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS "Proposal" (
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
ALTER TABLE "Proposal" ALTER COLUMN "updatedAt" SET DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE "Proposal" ALTER COLUMN "title" SET DEFAULT '';
ALTER TABLE "Proposal" ALTER COLUMN "description" SET DEFAULT '';
ALTER TABLE "Proposal" ADD COLUMN IF NOT EXISTS "votesAbstain" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "Proposal" ADD COLUMN IF NOT EXISTS "targetParam" TEXT;
ALTER TABLE "Proposal" ADD COLUMN IF NOT EXISTS "newValue" TEXT;
ALTER TABLE "Proposal" ADD COLUMN IF NOT EXISTS "votingEndsAt" TIMESTAMPTZ(3);
CREATE INDEX IF NOT EXISTS "Proposal_tenantId_idx" ON "Proposal" ("tenantId");
CREATE INDEX IF NOT EXISTS "Proposal_status_idx" ON "Proposal" ("status");
CREATE INDEX IF NOT EXISTS "Proposal_proposerId_idx" ON "Proposal" ("proposerId");
CREATE INDEX IF NOT EXISTS "Proposal_tenantId_status_createdAt_idx" ON "Proposal" ("tenantId", "status", "createdAt");

CREATE TABLE IF NOT EXISTS "ProposalVote" (
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
CREATE UNIQUE INDEX IF NOT EXISTS "ProposalVote_proposalId_voterId_key" ON "ProposalVote" ("proposalId", "voterId");
CREATE INDEX IF NOT EXISTS "ProposalVote_voterId_idx" ON "ProposalVote" ("voterId");

-- ---------------------------------------------------------------------------------------------------------
-- Remaining indexes of the original's tables (present in a Prisma-made database, created here otherwise)
-- ---------------------------------------------------------------------------------------------------------
CREATE INDEX IF NOT EXISTS "LegalTenderStatus_countryCode_effectiveDate_idx" ON "LegalTenderStatus" ("countryCode", "effectiveDate");
CREATE UNIQUE INDEX IF NOT EXISTS "UserSession_refreshToken_key" ON "UserSession" ("refreshToken");
CREATE UNIQUE INDEX IF NOT EXISTS "UserSession_tenantId_sessionId_key" ON "UserSession" ("tenantId", "sessionId");
CREATE INDEX IF NOT EXISTS "UserSession_tenantId_profileId_status_idx" ON "UserSession" ("tenantId", "profileId", "status");
CREATE INDEX IF NOT EXISTS "UserSession_refreshTokenHash_idx" ON "UserSession" ("refreshTokenHash");
CREATE INDEX IF NOT EXISTS "UserSession_expiresAt_idx" ON "UserSession" ("expiresAt");
CREATE INDEX IF NOT EXISTS "UserSession_tenantId_deviceId_idx" ON "UserSession" ("tenantId", "deviceId");
CREATE UNIQUE INDEX IF NOT EXISTS "HoardingTaxSnapshot_tenantId_walletId_snapshotDate_key"
	ON "HoardingTaxSnapshot" ("tenantId", "walletId", "snapshotDate");
CREATE INDEX IF NOT EXISTS "HoardingTaxSnapshot_tenantId_snapshotDate_taxPaid_idx"
	ON "HoardingTaxSnapshot" ("tenantId", "snapshotDate", "taxPaid");
CREATE INDEX IF NOT EXISTS "HoardingTaxSnapshot_tenantId_taxPaid_idx" ON "HoardingTaxSnapshot" ("tenantId", "taxPaid");
CREATE INDEX IF NOT EXISTS "OrganizationProfile_tenantId_status_idx" ON "OrganizationProfile" ("tenantId", "status");
CREATE INDEX IF NOT EXISTS "OrganizationProfile_tenantId_deletedAt_idx" ON "OrganizationProfile" ("tenantId", "deletedAt");
CREATE UNIQUE INDEX IF NOT EXISTS "TransactionApproval_tenantId_outboxCommandId_key"
	ON "TransactionApproval" ("tenantId", "outboxCommandId");
CREATE INDEX IF NOT EXISTS "TransactionApproval_tenantId_businessAccountId_status_idx"
	ON "TransactionApproval" ("tenantId", "businessAccountId", "status");
CREATE INDEX IF NOT EXISTS "TransactionApproval_status_expiresAt_idx" ON "TransactionApproval" ("status", "expiresAt");
CREATE UNIQUE INDEX IF NOT EXISTS "ApprovalVote_tenantId_approvalId_signatoryId_key"
	ON "ApprovalVote" ("tenantId", "approvalId", "signatoryId");
CREATE INDEX IF NOT EXISTS "ApprovalVote_tenantId_signatoryId_idx" ON "ApprovalVote" ("tenantId", "signatoryId");
CREATE UNIQUE INDEX IF NOT EXISTS "Collateral_onChainLoanId_key" ON "Collateral" ("onChainLoanId");
CREATE INDEX IF NOT EXISTS "Collateral_onChainLoanId_idx" ON "Collateral" ("onChainLoanId");
CREATE INDEX IF NOT EXISTS "Collateral_status_idx" ON "Collateral" ("status");

DROP FUNCTION pg_temp.gx_enum(text, text[]);
DROP FUNCTION pg_temp.gx_coin_to_qirat(text, text, text, text);
DROP FUNCTION pg_temp.gx_constraint(text, text, text);

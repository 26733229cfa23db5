-- Partner API keys (docs/partners.md): long-lived, scoped, revocable credentials a partner sends as X-API-Key.
--   "id": the key id, 32 lowercase hex digits; it is also the public part of the key text
--     (gxk_<id>_<secret>), so a request finds its row by primary key.
--   "secretHash": lowercase hex SHA-256 of the secret part (256 random bits); the secret itself is never stored.
--   "scopes": the operations the key may call (scope names of common/src/apikey_scope.c, docs/partners.md).
--   "profileId": the profile the key acts for (the caller's sub), or NULL: the key id is the caller.
--   "rateLimitPerMin": requests per minute for this key, enforced in Redis (GCRA, gx:rl:key:<id>).
--   "expiresAt": the key stops working then; a rotation moves the old key's expiry to the end of the overlap.
--   "revokedAt": set once by a revocation; never cleared.
--   "rotatedFrom": the key this one replaced, NULL for a first key.
-- Every use of a key is audited in "AdminAuditLog" (actorRole PARTNER_API, action PARTNER_KEY_USE), every
-- change (create, rotate, revoke) there too.
CREATE TABLE IF NOT EXISTS "PartnerApiKey" (
	"id" TEXT NOT NULL,
	"tenantId" TEXT NOT NULL,
	"name" TEXT NOT NULL,
	"secretHash" TEXT NOT NULL,
	"scopes" TEXT[] NOT NULL,
	"profileId" TEXT,
	"rateLimitPerMin" INTEGER NOT NULL,
	"expiresAt" TIMESTAMPTZ(3) NOT NULL,
	"revokedAt" TIMESTAMPTZ(3),
	"rotatedFrom" TEXT,
	"createdBy" TEXT NOT NULL,
	"createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	CONSTRAINT "PartnerApiKey_pkey" PRIMARY KEY ("id"),
	CONSTRAINT "PartnerApiKey_id_check" CHECK ("id" ~ '^[0-9a-f]{32}$'),
	CONSTRAINT "PartnerApiKey_secretHash_check" CHECK ("secretHash" ~ '^[0-9a-f]{64}$'),
	CONSTRAINT "PartnerApiKey_rateLimitPerMin_check" CHECK ("rateLimitPerMin" > 0)
);
CREATE INDEX IF NOT EXISTS "PartnerApiKey_tenantId_createdAt_idx" ON "PartnerApiKey" ("tenantId", "createdAt");

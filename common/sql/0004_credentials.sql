-- Credentials (docs/security.md "Credentials"): the per-profile token epoch and the forced password change.
--   "tokensValidAfter": a password change or an admin's reset sets it to the next whole second; every access token
--     issued before it is refused (the HTTP pipeline reads the copy in Redis, gx:epoch:<profileId>, and this column
--     when Redis is down). NULL: never changed.
--   "mustChangePassword": set by an admin's reset (POST /api/v1/users/{id}/password-reset), cleared by the user's
--     own change; while set, login answers mustChangePassword: true and the access token carries "pwc": true.
-- The reset itself is audited in "AdminAuditLog" (action PASSWORD_RESET).
ALTER TABLE "UserProfile" ADD COLUMN IF NOT EXISTS "tokensValidAfter" TIMESTAMPTZ(3);
ALTER TABLE "UserProfile" ADD COLUMN IF NOT EXISTS "mustChangePassword" BOOLEAN NOT NULL DEFAULT false;

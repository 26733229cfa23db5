-- KYC review (docs/security.md "Four-eyes"): who submitted a KYC record and who decided on it, so that nobody
-- decides on a record they submitted themselves. Rows written before this migration have neither (NULL).
ALTER TABLE "KYCVerification" ADD COLUMN IF NOT EXISTS "submittedBy" TEXT;
ALTER TABLE "KYCVerification" ADD COLUMN IF NOT EXISTS "reviewedBy" TEXT;

-- 0006_rule_changes: four eyes on an organization's approval rules (docs/security.md, docs/svc-organization.md).
--
-- A rule that lowers an ACTIVE organization's defined rule is not sent to the chain on one stakeholder's word:
-- svc-organization records it here, and submits DEFINE_AUTH_RULE only when a different stakeholder sends the same
-- rule (same threshold, same number of approvals, same set of approvers) before "expiresAt" (24 hours later).
-- The row is deleted when the second stakeholder's request takes it; an expired row is replaced by the next
-- request for that rule and purged by any later request for the organization.
CREATE TABLE "RuleChange" (
	"tenantId" TEXT NOT NULL,
	"orgId" TEXT NOT NULL,
	"amountThreshold" NUMERIC(20,0) NOT NULL,  -- Qirat
	"requiredApprovals" INTEGER NOT NULL,
	"approverKey" TEXT NOT NULL,               -- the approver ids sorted and joined by ','
	"approverIds" JSONB NOT NULL,              -- as the first stakeholder sent them
	"requestedBy" TEXT NOT NULL,
	"createdAt" TIMESTAMPTZ NOT NULL DEFAULT now(),
	"expiresAt" TIMESTAMPTZ NOT NULL,
	CONSTRAINT "RuleChange_pkey" PRIMARY KEY ("tenantId", "orgId", "amountThreshold", "requiredApprovals",
						  "approverKey")
);

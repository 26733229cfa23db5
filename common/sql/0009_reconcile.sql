-- 0009_reconcile: runs of the ledger reconciliation started through svc-admin (docs/reconcile.md).
--
-- One row per run. At most one RUNNING row per tenant (the partial unique index), so two replicas cannot start
-- two runs at once; the running process refreshes "heartbeatAt", and a RUNNING row whose heartbeat is older than
-- RECONCILE_STALE_AFTER (the process died) is marked FAILED by the next start. "report" is the JSON report of
-- gx/reconcile.h; "outcome" clean | differences | in_flight when the run finished.
CREATE TABLE "ReconcileRun" (
	"runId" TEXT NOT NULL DEFAULT gen_random_uuid()::text,
	"tenantId" TEXT NOT NULL,
	"status" TEXT NOT NULL DEFAULT 'RUNNING',
	"requestedBy" TEXT NOT NULL,
	"repair" BOOLEAN NOT NULL DEFAULT false,
	"startedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"heartbeatAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
	"finishedAt" TIMESTAMPTZ(3),
	"outcome" TEXT,
	"differenceCount" INTEGER,
	"inFlightCount" INTEGER,
	"repaired" BOOLEAN NOT NULL DEFAULT false,
	"report" JSONB,
	"error" TEXT,
	CONSTRAINT "ReconcileRun_pkey" PRIMARY KEY ("runId"),
	CONSTRAINT "ReconcileRun_status_check" CHECK ("status" IN ('RUNNING', 'DONE', 'FAILED'))
);
CREATE UNIQUE INDEX "ReconcileRun_running_key" ON "ReconcileRun" ("tenantId") WHERE "status" = 'RUNNING';
CREATE INDEX "ReconcileRun_tenantId_startedAt_idx" ON "ReconcileRun" ("tenantId", "startedAt" DESC);

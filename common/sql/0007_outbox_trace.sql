-- 0007_outbox_trace: the request that created a command, kept with it so that the workers' log lines about the
-- command name it (design.md §8).
--
-- "httpRequestId" is the X-Request-Id of the API request that enqueued the command (its answer's header, the
-- "requestId" of the API's log lines); "traceId" is its W3C trace id (32 hex, from the request's traceparent or new).
-- Both are NULL for commands enqueued before this migration. Not to be confused with "requestId", the idempotency
-- key's digest that makes a retried request find its first command.
ALTER TABLE "OutboxCommand" ADD COLUMN IF NOT EXISTS "httpRequestId" TEXT;
ALTER TABLE "OutboxCommand" ADD COLUMN IF NOT EXISTS "traceId" TEXT;

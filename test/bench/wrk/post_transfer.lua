-- wrk script: POST /api/v1/transfers as the sender whose token is in $GX_TOKEN to the profile $GX_TO, with a
-- unique Idempotency-Key and remark per request (thread id, per-thread counter and a per-run nonce), so every
-- request creates one outbox command and answers 202.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local report = dofile(here .. "report.lua")

local threads = {}
local token = os.getenv("GX_TOKEN") or ""
local to = os.getenv("GX_TO") or ""
local nonce = os.getenv("GX_NONCE") or tostring(os.time())

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

local n = 0

function request()
   n = n + 1
   local key = string.format("bench-%s-%d-%d", nonce, tid, n)
   local body = string.format('{"toUserId":"%s","amount":"0.00001","remark":"%s"}', to, key)
   return wrk.format("POST", "/api/v1/transfers", {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json",
      ["Idempotency-Key"] = key,
   }, body)
end

done = report.done

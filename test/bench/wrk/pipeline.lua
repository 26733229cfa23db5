-- wrk script for the pipeline benchmark: POST /api/v1/transfers from many senders at a paced rate.
-- $GX_PAIRS names a file of lines "<bearer token> <receiver profile id>" (one line per sender); request k of
-- thread t uses line (t - 1 + k * threads) mod lines, so consecutive requests of one sender are spread out.
-- $GX_DELAY_MS (default 0) is the pause before each request on a connection: offered rate ~ connections /
-- (delay + latency). Keys are unique per run ($GX_NONCE), so every request creates one command.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local report = dofile(here .. "report.lua")

local threads = {}
local nonce = os.getenv("GX_NONCE") or tostring(os.time())
local pause = tonumber(os.getenv("GX_DELAY_MS") or "0")
local pairs_list = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   for line in io.lines(os.getenv("GX_PAIRS")) do
      local tok, to = line:match("^(%S+) (%S+)$")
      if tok then
         table.insert(pairs_list, { tok, to })
      end
   end
end

local k = 0

function delay()
   return pause
end

function request()
   local nt = tonumber(os.getenv("GX_THREADS") or "1")
   local p = pairs_list[((tid - 1) + k * nt) % #pairs_list + 1]
   k = k + 1
   local key = string.format("pipe-%s-%d-%d", nonce, tid, k)
   local body = string.format('{"toUserId":"%s","amount":"0.00001","remark":"%s"}', p[2], key)
   return wrk.format("POST", "/api/v1/transfers", {
      ["Authorization"] = "Bearer " .. p[1],
      ["Content-Type"] = "application/json",
      ["Idempotency-Key"] = key,
   }, body)
end

done = report.done

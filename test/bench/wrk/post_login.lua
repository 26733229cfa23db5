-- wrk script: POST /api/v1/auth/login with the credentials in $GX_EMAIL and $GX_PASSWORD (every answer other than
-- 2xx is counted as an error by wrk and reported by run.py).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local report = dofile(here .. "report.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"email":"%s","password":"%s"}', os.getenv("GX_EMAIL") or "", os.getenv("GX_PASSWORD") or "")

done = report.done

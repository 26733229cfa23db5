-- wrk script: authenticated GET of the URL's path with the bearer token in $GX_TOKEN (any non-2xx/3xx status is
-- counted as an error by wrk and reported by run.py).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local report = dofile(here .. "report.lua")

wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("GX_TOKEN") or "")

done = report.done

-- wrk script: POST /api/v1/auth/login, cycling through the accounts in $GX_EMAILS (comma-separated; or the one in
-- $GX_EMAIL), all with the password $GX_PASSWORD: one account is hashed at most once at a time (a second login of
-- the same account meanwhile is 503 BUSY), so concurrent logins are of different people, as in production. Every
-- answer other than 2xx is counted as an error by wrk and reported by run.py.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local report = dofile(here .. "report.lua")

local emails = {}
for e in string.gmatch(os.getenv("GX_EMAILS") or os.getenv("GX_EMAIL") or "", "[^,]+") do
	emails[#emails + 1] = e
end
local password = os.getenv("GX_PASSWORD") or ""
local n = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

-- each wrk thread has its own copy of this state: start the threads at different accounts
function setup(thread)
	thread:set("n", math.random(1, 1000000))
end

request = function()
	n = n + 1
	local email = emails[(n % math.max(#emails, 1)) + 1] or ""
	return wrk.format(nil, nil, nil, string.format('{"email":"%s","password":"%s"}', email, password))
end

done = report.done

#!/usr/bin/python3
"""Benchmark driver behind `make bench` (not a test): starts a throwaway stack (PostgreSQL with default durability,
Redis, the Fabric stand-in, the nine release daemons) through test/lib/gxtest and measures

  * footprint: time from exec to /readyz 200 and RSS of every daemon idle and under load;
  * HTTP (svc-identity): POST /auth/login (bcrypt-bound, cost reported) and GET /users/{id} at 1, 10, 50 connections;
    hash isolation: one account's login p99 idle and while another account hammers password changes (goal <= 2x).
  * HTTP (svc-tokenomics, wrk with test/bench/wrk/*.lua): GET /livez, authenticated GET
    /api/v1/wallets/{id}/balance and POST /api/v1/transfers (to the durable outbox commit and 202) at 1..100
    connections: req/s, latency percentiles, daemon CPU-us per request (and PostgreSQL + Redis CPU-us), RSS;
  * pipeline: transfers from many sender/receiver pairs at fixed offered rates and at the API's maximum, from 202
    to PROJECTED in the read model: end-to-end latency (projectedAt - createdAt), projection lag
    (projectedAt - committedAt) and the projected rate;
  * profile (perf record, when perf works): the hottest symbols of svc-tokenomics per HTTP endpoint.

    test/bench/run.py [--quick] [--only footprint,http,pipeline,profile] [--out bench/results/<date>.json]

Uses $GX_BIN_DIR (default build/release/bin). Writes one JSON document, then test/bench/report.py renders
bench/REPORT.md and the plots in bench/plots/ from it. Figures are for this machine at the time of the run.
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

import gxtest  # noqa: E402
from gxtest import stack as gxstack  # noqa: E402
from gxtest.chain import Chain  # noqa: E402
from projector_bench import drive, peer_commit_times, seed_profiles, tx  # noqa: E402
from test_tokenomics import seed_user  # noqa: E402

WRK_DIR = os.path.join(HERE, "wrk")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
# rate limiting stays on (one Redis call per request, as in production) but cannot trip within a run
API_ENV = {"LOG_LEVEL": "warn", "RATE_LIMIT_PER_MIN": "1000000", "RATE_LIMIT_BURST": "1000000"}
WORKER_ENV = {"LOG_LEVEL": "warn", "MAX_IN_FLIGHT": "2000", "BATCH_SIZE": "500"}


def log(msg):
    print(msg, flush=True)


# --- a PostgreSQL with default durability -------------------------------------------------------------------
class DurablePostgres(gxstack.Postgres):
    """gxtest's throwaway cluster, but with fsync, synchronous_commit and full_page_writes at their defaults (on),
    so a 202 means the outbox row is on disk as in production."""

    def start(self, timeout=30.0):
        if self.proc is not None and self.proc.alive():
            return
        argv = [os.path.join(gxstack.PGBIN, "postgres"), "-D", self.data, "-p", str(self.port), "-k", self.dir,
                "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200",
                "-c", "log_min_messages=warning"]
        self.proc = gxstack.Process(argv, gxstack._base_env(), "postgres", os.path.join(self.dir, "server.log"),
                                    cwd="/", user=self.user)
        deadline = time.monotonic() + timeout
        while subprocess.run([os.path.join(gxstack.PGBIN, "pg_isready"), "-q", "-h", "127.0.0.1", "-p",
                              str(self.port)], stdin=subprocess.DEVNULL).returncode != 0:
            if not self.proc.alive() or time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not start; last lines:\n" + self.proc.log_tail())
            time.sleep(0.1)
        if not self.created:
            self.psql("CREATE DATABASE %s" % self.dbname, db="postgres")
            self.created = True


# --- /proc helpers ------------------------------------------------------------------------------------------
def cpu_ticks(pid):
    """utime + stime of pid in clock ticks (0 when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def rss_kib(pid):
    try:
        with open("/proc/%d/statm" % pid) as f:
            return int(f.read().split()[1]) * PAGE // 1024
    except (OSError, IndexError, ValueError):
        return 0


def children(ppid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                        out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out


def tree_ticks(pid):
    """CPU ticks of pid and all its descendants, including those that exited and were reaped (cutime/cstime), so
    PostgreSQL backends that come and go during a run are counted."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        own = sum(int(x) for x in fields[11:15])
    except (OSError, IndexError, ValueError):
        return 0
    return own + sum(tree_ticks(c) for c in children(pid))


def backend_ticks(stack):
    """{"postgresql": ticks, "redis": ticks} of the shared services, for CPU-per-request deltas."""
    out = {"postgresql": 0, "redis": 0}
    if stack.pg and stack.pg.proc:
        out["postgresql"] = tree_ticks(stack.pg.proc.pid)
    if stack.redis and getattr(stack.redis, "proc", None):
        out["redis"] = tree_ticks(stack.redis.proc.pid)
    return out


def backend_pids(stack):
    """{"postgresql": [postmaster and its children], "redis": [redis-server]}: the shared services' CPU."""
    pg, rd = [], []
    if stack.pg and stack.pg.proc:
        pm = stack.pg.proc.pid
        # the Process may be runuser: take the postgres it started as well
        for p in [pm] + children(pm):
            pg += [p] + children(p)
    if stack.redis and getattr(stack.redis, "proc", None):
        rd.append(stack.redis.proc.pid)
    return {"postgresql": sorted(set(pg)), "redis": rd}


class RssSampler:
    """Samples the RSS of named pids every 0.2 s in a thread; peak() gives the maximum KiB per name."""

    def __init__(self, pids):
        self.pids = dict(pids)
        self.peak_kib = {n: 0 for n in self.pids}
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop_ev.is_set():
            for n, p in self.pids.items():
                self.peak_kib[n] = max(self.peak_kib[n], rss_kib(p))
            self.stop_ev.wait(0.2)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_ev.set()
        self.thread.join()


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100.0 * len(v)))] if v else None


# --- wrk ----------------------------------------------------------------------------------------------------
def wrk(url, script, conns, seconds, env=None, threads=None):
    threads = threads or min(2, conns)
    e = dict(os.environ)
    e.update(env or {})
    e["GX_THREADS"] = str(threads)
    argv = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds, "--timeout", "10s",
            "-s", os.path.join(WRK_DIR, script), url]
    r = subprocess.run(argv, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=seconds + 60)
    out = r.stdout.decode("utf-8", "replace")
    m = re.search(r"^WRKJSON (\{.*\})$", out, re.M)
    if r.returncode != 0 or not m:
        raise RuntimeError("wrk failed (%d):\n%s" % (r.returncode, out[-3000:]))
    res = json.loads(m.group(1))
    res["rps"] = round(res["requests"] * 1e6 / res["duration_us"], 1)
    res["non_2xx_or_errors"] = sum(res["errors"].values())
    return res


def measured_wrk(daemon, stack, url, script, conns, seconds, env=None):
    """wrk plus the daemon's and the backends' CPU per request and the daemon's peak RSS during the run."""
    c0, b0 = cpu_ticks(daemon.pid), backend_ticks(stack)
    with RssSampler({"daemon": daemon.pid}) as s:
        res = wrk(url, script, conns, seconds, env)
    c1, b1 = cpu_ticks(daemon.pid), backend_ticks(stack)
    n = max(1, res["requests"])
    res["connections"] = conns
    res["daemon_cpu_us_per_req"] = round((c1 - c0) * 1e6 / CLK_TCK / n, 1)
    for k in b0:
        res["%s_cpu_us_per_req" % k] = round((b1[k] - b0[k]) * 1e6 / CLK_TCK / n, 1)
    res["backend_cpu_us_per_req"] = round(res["postgresql_cpu_us_per_req"] + res["redis_cpu_us_per_req"], 1)
    res["daemon_rss_peak_kib"] = s.peak_kib["daemon"]
    return res


# --- footprint ----------------------------------------------------------------------------------------------
def start_timed(stack, name, env, timeout=30.0):
    """Start a daemon and poll /readyz every 5 ms; returns (Daemon, ms from exec to the first 200)."""
    t0 = time.monotonic()
    d = stack.start_daemon(name, env=env, wait_ready=False)
    deadline = t0 + timeout
    while True:
        try:
            if gxtest.request("GET", d.url + "/readyz", timeout=1).status == 200:
                return d, round((time.monotonic() - t0) * 1000, 1)
        except OSError:
            pass
        if not d.alive() or time.monotonic() > deadline:
            raise RuntimeError("%s not ready; last lines:\n%s" % (name, d.log_tail()))
        time.sleep(0.005)


# --- pipeline setup -----------------------------------------------------------------------------------------
def make_chain_users(stack, chain, pairs):
    """2 x pairs users on chain and in the read model (profiles p-u<i>), funded by genesis and a doubling tree of
    transfers. Returns the list of user ids (senders first, then receivers)."""
    users = ["u%d" % i for i in range(2 * pairs)]
    seed_profiles(stack, users)
    setup = [tx("AdminContract:BootstrapSystem", who="super-admin"), {"wait": True}]
    setup += [tx("IdentityContract:CreateUser", u, "%064x" % (i + 1), "US", "30") for i, u in enumerate(users)]
    t0 = time.monotonic()
    drive(chain, setup, window=1)  # CreateUser bumps the user count: one per block
    log("  %d CreateUser, one per block: %.1f s" % (len(users), time.monotonic() - t0))
    fund = [tx("TokenomicsContract:DistributeGenesis", users[0], "government", "US", who="admin"), {"wait": True}]
    funded, level = 1, 0
    while funded < len(users):
        amount = 1000000 >> level
        for i in range(min(funded, len(users) - funded)):
            fund.append(tx("TokenomicsContract:Transfer", users[i], users[funded + i], amount, "fund"))
        fund.append({"wait": True})
        funded, level = funded * 2, level + 1
    res = drive(chain, fund)
    return users, max(o["block"] for o in res)


def wait_projected_block(stack, top, timeout=300):
    t0 = time.monotonic()
    while True:
        rows = stack.psql('SELECT "lastBlock" FROM "ProjectorState"')
        if rows and int(rows[0][0]) >= top:
            return
        if time.monotonic() - t0 > timeout:
            raise RuntimeError("projector did not reach block %d" % top)
        time.sleep(0.1)


def phase_stats(stack, chain, since, timeout):
    """Wait until every command created at or after `since` has left PENDING/SUBMITTED/COMMITTED (or timeout);
    return the phase's end-to-end percentiles (projectedAt - createdAt of each command) and projection lag
    (projectedAt minus the time the peer logged the commit of the command's block; same host clock)."""
    where = '"createdAt" >= \'%s\'' % since
    t0 = time.monotonic()
    while True:
        left = int(stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE %s AND "status" IN '
                              "('PENDING','SUBMITTED','COMMITTED')" % where)[0][0])
        if left == 0 or time.monotonic() - t0 > timeout:
            break
        time.sleep(0.5)
    drain = round(time.monotonic() - t0, 1)
    counts = dict(stack.psql('SELECT "status"::text, count(*) FROM "OutboxCommand" WHERE %s GROUP BY 1' % where))
    q = ('SELECT round(extract(epoch FROM ("projectedAt" - "createdAt")) * 1000),'
         ' round(extract(epoch FROM "projectedAt") * 1000), "commitBlock",'
         ' round(extract(epoch FROM ("submittedAt" - "createdAt")) * 1000),'
         ' round(extract(epoch FROM ("committedAt" - "submittedAt")) * 1000), "attempts" FROM "OutboxCommand"'
         ' WHERE %s AND "status" = \'PROJECTED\'' % where)
    rows = stack.psql(q)
    committed = peer_commit_times(chain)
    e2e = [float(r[0]) for r in rows if r[0]]
    lag = [float(r[1]) - committed[int(r[2])] for r in rows if r[1] and r[2] and int(r[2]) in committed]
    # where an end-to-end second goes: waiting in the outbox, then endorse + order + commit as the submitter saw it
    queued = [float(r[3]) for r in rows if r[3]]
    chain_ms = [float(r[4]) for r in rows if r[4]]
    attempts = [int(r[5]) for r in rows if r[5]]
    span = stack.psql('SELECT extract(epoch FROM (max("projectedAt") - min("createdAt"))) FROM "OutboxCommand"'
                      ' WHERE %s AND "status" = \'PROJECTED\'' % where)[0][0]
    span = float(span) if span else 0.0
    out = {"commands": sum(int(v) for v in counts.values()), "by_status": {k: int(v) for k, v in counts.items()},
           "unfinished_after_drain": left, "drain_seconds": drain,
           "projected_per_second": round(len(e2e) / span, 1) if span > 0 else 0.0}
    out["mean_attempts"] = round(sum(attempts) / len(attempts), 2) if attempts else None
    for name, v in (("end_to_end_ms", e2e), ("projection_lag_ms", lag), ("outbox_wait_ms", queued),
                    ("submit_to_commit_ms", chain_ms)):
        out[name] = {"p50": pct(v, 50), "p90": pct(v, 90), "p99": pct(v, 99), "max": max(v) if v else None}
    return out


# --- the parts ----------------------------------------------------------------------------------------------
def bench_http(stack, api, seconds, conns_list):
    pid_a, _, _ = seed_user(stack, balance=10 ** 17)
    pid_b, _, _ = seed_user(stack)
    tok = gxtest.mint_token(pid_a, "USER", ttl=24 * 3600)
    env = {"GX_TOKEN": tok, "GX_TO": pid_b}
    cases = [("livez", api.url + "/livez", "get_auth.lua"),
             ("balance", "%s/api/v1/wallets/%s/balance" % (api.url, pid_a), "get_auth.lua"),
             ("transfers", api.url + "/api/v1/transfers", "post_transfer.lua")]
    r = gxtest.request("GET", cases[1][1], headers=gxtest.bearer(tok))
    if r.status != 200:
        raise RuntimeError("balance GET answered %d: %s" % (r.status, r.text[:300]))
    out = {}
    for name, url, script in cases:
        runs = []
        for c in conns_list:
            env["GX_NONCE"] = uuid.uuid4().hex[:12]
            res = measured_wrk(api, stack, url, script, c, seconds, env)
            log("  %-9s c=%-3d %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  cpu %6.1f us/req (+%.1f backends)  "
                "errors %d" % (name, c, res["rps"], res["latency_us"]["p50"] / 1000.0,
                               res["latency_us"]["p99"] / 1000.0, res["daemon_cpu_us_per_req"],
                               res["backend_cpu_us_per_req"], res["non_2xx_or_errors"]))
            runs.append(res)
        out[name] = runs
    return out, env, cases


IDENTITY_ENV = dict(API_ENV, RATE_LIMIT_STRICT_PER_MIN="1000000", RATE_LIMIT_STRICT_BURST="1000000")


def register_login_account(d, password):
    """One more profile (without the on-chain fields: no command) to log in with; returns its email."""
    email = "bench-%s@example.com" % uuid.uuid4().hex[:10]
    r = gxtest.request("POST", d.url + "/api/v1/users",
                       json_body={"email": email, "password": password, "firstName": "Bench", "lastName": "User"})
    if r.status != 202:
        raise RuntimeError("registration answered %d: %s" % (r.status, r.text[:300]))
    return email


def bench_identity(stack, seconds, conns_list):
    """svc-identity at its production bcrypt cost: POST /auth/login (bcrypt-bound) and GET /users/{id} (the caller's
    own profile) per connection count. Returns {"bcrypt_cost", "login": [runs], "get_user": [runs]}."""
    d = stack.start_daemon("svc-identity", env=IDENTITY_ENV)
    try:
        email, password = "bench-%s@example.com" % uuid.uuid4().hex[:10], "staple horse 42"
        r = gxtest.request("POST", d.url + "/api/v1/users",
                           json_body={"email": email, "password": password, "firstName": "Bench", "lastName": "User",
                                      "nationalityCountryCode": "AE", "dateOfBirth": "1990-05-17"})
        if r.status != 202:
            raise RuntimeError("registration answered %d: %s" % (r.status, r.text[:300]))
        pid = r.json()["aggregateId"]
        tok = gxtest.mint_token(pid, "USER", ttl=24 * 3600)
        # logins cycle through more accounts than connections: one account is hashed at most once at a time
        emails = [email] + [register_login_account(d, password) for _ in range(max(conns_list) + 10)]
        env = {"GX_EMAIL": email, "GX_EMAILS": ",".join(emails), "GX_PASSWORD": password, "GX_TOKEN": tok}
        cost = int(stack.psql('SELECT substr("passwordHash", 5, 2) FROM "UserProfile" WHERE "profileId" = \'%s\''
                              % pid)[0][0])
        out = {"bcrypt_cost": cost}
        # reads first: logins left queued behind bcrypt at the end of a run would still burn CPU in the next one
        for name, url, script in (("get_user", "%s/api/v1/users/%s" % (d.url, pid), "get_auth.lua"),
                                  ("login", d.url + "/api/v1/auth/login", "post_login.lua")):
            out[name] = []
            for c in conns_list:
                res = measured_wrk(d, stack, url, script, c, seconds, env)
                log("  %-9s c=%-3d %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  cpu %6.1f us/req  errors %d"
                    % (name, c, res["rps"], res["latency_us"]["p50"] / 1000.0, res["latency_us"]["p99"] / 1000.0,
                       res["daemon_cpu_us_per_req"], res["non_2xx_or_errors"]))
                out[name].append(res)
        return out
    finally:
        d.stop()


def bench_hash_isolation(stack, seconds, hammer_threads=16, pause_s=0.05):
    """svc-identity at its production bcrypt cost and thread count: one account's logins, one at a time, idle and
    while another account hammers PATCH /users/{id} password changes from hammer_threads clients, each sending its
    next request pause_s after the last answer (16 x 20/s = 320 password changes/s asked of a pool that hashes a
    few per second per core; each would be a bcrypt verify of a wrong currentPassword, so the hammering token stays
    valid). The pause keeps the load generator, which shares the machine's cores, from starving the server by
    itself. Returns the victim's login latencies idle and under the hammer, their p99 ratio (goal: <= 2) and the
    hammer's answers by status."""
    d = stack.start_daemon("svc-identity", env=IDENTITY_ENV)
    try:
        accounts = []
        for tag in ("victim", "hammer"):
            email, password = "bench-%s-%s@example.com" % (tag, uuid.uuid4().hex[:8]), "staple horse 42"
            r = gxtest.request("POST", d.url + "/api/v1/users",
                               json_body={"email": email, "password": password, "firstName": "Bench",
                                          "lastName": "User"})
            if r.status != 202:
                raise RuntimeError("registration answered %d: %s" % (r.status, r.text[:300]))
            accounts.append((email, password, r.json()["aggregateId"]))
        (v_email, v_pw, _), (h_email, h_pw, h_id) = accounts
        login = gxtest.request("POST", d.url + "/api/v1/auth/login", json_body={"email": h_email, "password": h_pw})
        h_tok = login.json()["accessToken"]

        def victim_logins(duration):
            lat, end = [], time.monotonic() + duration
            while time.monotonic() < end:
                t0 = time.monotonic()
                r = gxtest.request("POST", d.url + "/api/v1/auth/login",
                                   json_body={"email": v_email, "password": v_pw}, timeout=30)
                if r.status == 200:
                    lat.append((time.monotonic() - t0) * 1e6)
            return lat

        idle = victim_logins(seconds)
        stop, statuses, lock = threading.Event(), {}, threading.Lock()

        def hammer():
            body = {"password": "hammered pass 77", "currentPassword": "not the password 1"}
            while not stop.is_set():
                r = gxtest.request("PATCH", "%s/api/v1/users/%s" % (d.url, h_id), json_body=body,
                                   headers=gxtest.bearer(h_tok), timeout=30)
                with lock:
                    statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
                stop.wait(pause_s)

        threads = [threading.Thread(target=hammer) for _ in range(hammer_threads)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        loaded = victim_logins(seconds)
        stop.set()
        for t in threads:
            t.join()
        out = {"hammer_threads": hammer_threads, "idle_logins": len(idle), "loaded_logins": len(loaded),
               "idle_p50_ms": pct(idle, 50) / 1000.0, "idle_p99_ms": pct(idle, 99) / 1000.0,
               "loaded_p50_ms": pct(loaded, 50) / 1000.0, "loaded_p99_ms": pct(loaded, 99) / 1000.0,
               "hammer_statuses": statuses}
        out["p99_ratio"] = out["loaded_p99_ms"] / out["idle_p99_ms"] if out["idle_p99_ms"] else None
        log("  other account's login p99: idle %.1f ms, while one account hammers password changes %.1f ms "
            "(x%.2f); hammer answers %s" % (out["idle_p99_ms"], out["loaded_p99_ms"], out["p99_ratio"] or 0,
                                            statuses))
        return out
    finally:
        d.stop()


def bench_profile(stack, api, env, cases, seconds):
    """perf record on the API daemon, the PostgreSQL backends and Redis during one 50-connection run per endpoint;
    top (process, object, symbol) rows by self time, and each process's share of the samples."""
    if not shutil.which("perf"):
        return {"skipped": "perf is not installed"}
    out = {}
    tmp = os.path.join(stack.root, "perf.data")
    for name, url, script in cases:
        bp = backend_pids(stack)
        pids = ",".join(str(p) for p in [api.pid] + bp["postgresql"] + bp["redis"])
        rec = subprocess.Popen(["perf", "record", "-F", "999", "-o", tmp, "-p", pids, "--",
                                "sleep", str(seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        env["GX_NONCE"] = uuid.uuid4().hex[:12]
        wrk(url, script, 50, seconds, env)
        _, err = rec.communicate(timeout=60)
        if rec.returncode != 0:
            return {"skipped": "perf record failed: %s" % err.decode("utf-8", "replace").strip()[-300:]}
        def report(sort, limit):
            r = subprocess.run(["perf", "report", "-i", tmp, "--no-children", "--stdio", "--sort", sort,
                                "--percent-limit", limit], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               timeout=120)
            return [ln for ln in r.stdout.decode("utf-8", "replace").splitlines() if ln and not ln.startswith("#")]

        top = []
        for line in report("comm,dso,symbol", "1"):
            m = re.match(r"^\s+([0-9.]+)%\s+(\S+)\s+(\S+)\s+\[[.kx]\]\s+(.+?)(\s+-\s+-)?\s*$", line)
            if m:
                top.append({"self_pct": float(m.group(1)), "comm": m.group(2), "dso": m.group(3),
                            "symbol": m.group(4)})
        share = {}
        for line in report("comm", "0.5"):
            m = re.match(r"^\s+([0-9.]+)%\s+(\S+)", line)
            if m:
                share[m.group(2)] = float(m.group(1))
        out[name] = {"process_share_pct": share, "top": top[:25]}
        log("  profile %s: %s | %s" % (name, share, ", ".join("%s %.1f%%" % (t["symbol"], t["self_pct"])
                                                               for t in top[:4])))
    return out


def cpu_snapshot(stack, procs):
    """CPU ticks per component: the named pids plus PostgreSQL and Redis."""
    snap = {n: cpu_ticks(p) for n, p in procs.items()}
    snap.update(backend_ticks(stack))
    return snap


def submitter_calls(sub):
    """Gateway calls the submitter held at most, and its commits by source (docs/outbox-submitter.md)."""
    out = {"calls_peak": None, "commits_events": 0.0, "commits_commit_status": 0.0}
    if sub is None:
        return out
    for line in sub.get("/metrics").text.splitlines():
        if line.startswith("gx_outbox_fabric_calls_peak "):
            out["calls_peak"] = float(line.split()[1])
        elif line.startswith('gx_outbox_commits_learnt_total{source="events"} '):
            out["commits_events"] = float(line.split()[1])
        elif line.startswith('gx_outbox_commits_learnt_total{source="commit_status"} '):
            out["commits_commit_status"] = float(line.split()[1])
    return out


def bench_pipeline(stack, chain, api, users, phases, seconds, drain, procs, submitter=None):
    pairs = len(users) // 2
    lines = ["%s %s" % (gxtest.mint_token("p-" + users[i], "USER", ttl=24 * 3600), "p-" + users[pairs + i])
             for i in range(pairs)]
    pairs_file = os.path.join(stack.root, "pairs.txt")
    with open(pairs_file, "w") as f:
        f.write("\n".join(lines) + "\n")
    out = []
    conns = 50
    for rate in phases:
        since = stack.psql("SELECT now()")[0][0]
        cpu0 = cpu_snapshot(stack, procs)
        delay = 0 if rate == "max" else max(0, int(round(conns * 1000.0 / rate)) - 2)
        env = {"GX_PAIRS": pairs_file, "GX_DELAY_MS": str(delay), "GX_NONCE": uuid.uuid4().hex[:12]}
        secs = max(3, seconds // 2) if rate == "max" else seconds
        res = wrk(api.url, "pipeline.lua", conns, secs, env)
        st = phase_stats(stack, chain, since, drain)
        cpu1 = cpu_snapshot(stack, procs)
        n = max(1, st["by_status"].get("PROJECTED", 0))
        # CPU of each component per projected transfer, from 202 to the read model (includes idle polling)
        st["cpu_us_per_transfer"] = {k: round((cpu1[k] - cpu0[k]) * 1e6 / CLK_TCK / n, 1) for k in cpu0}
        st.update({"offered_rate": rate, "seconds": secs, "connections": conns, "accepted_per_second": res["rps"],
                   "api_errors": res["non_2xx_or_errors"], "api_latency_us": res["latency_us"]})
        log("  offered %-5s: accepted %7.1f/s  projected %7.1f/s  e2e p50 %s ms p99 %s ms  lag p99 %s ms  "
            "(outbox wait p50 %s, submit->commit p50 %s, attempts %s)  unfinished %d  status %s" % (rate, res["rps"], st["projected_per_second"], st["end_to_end_ms"]["p50"],
                                          st["end_to_end_ms"]["p99"], st["projection_lag_ms"]["p99"],
                                          st["outbox_wait_ms"]["p50"], st["submit_to_commit_ms"]["p50"],
                                          st["mean_attempts"], st["unfinished_after_drain"], st["by_status"]))
        log("    CPU us per projected transfer: %s" % st["cpu_us_per_transfer"])
        st["gateway"] = submitter_calls(submitter)
        log("    Gateway calls held at peak (so far): %s; commits learnt: %.0f from events, %.0f by CommitStatus"
            % (st["gateway"]["calls_peak"], st["gateway"]["commits_events"], st["gateway"]["commits_commit_status"]))
        out.append(st)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short runs (a smoke run of the benchmark itself)")
    ap.add_argument("--only", default="footprint,http,profile,pipeline")
    ap.add_argument("--seconds", type=int, default=None, help="seconds per wrk run (default 5, quick 2)")
    ap.add_argument("--pairs", type=int, default=None, help="sender/receiver pairs of the pipeline (default 500)")
    ap.add_argument("--rates", default="500,1000,max", help="pipeline offered rates per second, or max")
    ap.add_argument("--block-timeout-ms", type=int, default=200, help="peer block cut timeout during the pipeline")
    ap.add_argument("--endorse-latency-ms", type=int, default=20, help="peer endorse latency during the pipeline")
    ap.add_argument("--endorse-jitter-ms", type=int, default=10, help="plus a random 0..N ms")
    ap.add_argument("--out", default=None)
    ap.add_argument("--no-report", action="store_true")
    a = ap.parse_args()
    parts = set(a.only.split(","))
    seconds = a.seconds or (2 if a.quick else 5)
    pairs = a.pairs or (100 if a.quick else 500)
    conns_list = [1, 10, 50, 100]
    date = time.strftime("%Y-%m-%d", time.gmtime())
    out_path = a.out or os.path.join(gxtest.REPO_ROOT, "bench", "results", "%s.json" % date)
    for b in gxtest.DAEMONS + ["gx-fabric-peer", "gxctl"]:
        if not gxtest.have_binary(b):
            raise SystemExit("%s is not built in %s" % (b, gxtest.bin_dir()))
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    doc = {"benchmark": "gx-backend", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                       "loadavg_at_start": os.getloadavg()},
           "bin_dir": os.path.relpath(gxtest.bin_dir(), gxtest.REPO_ROOT),
           "command": "make bench" if not a.quick else "test/bench/run.py --quick",
           "setup": {"postgresql": "fsync=on, synchronous_commit=on, full_page_writes=on (defaults)",
                     "api_env": API_ENV, "worker_env": WORKER_ENV, "wrk_seconds": seconds,
                     "connections": conns_list, "pipeline_pairs": pairs,
                     "peer": {"block_size": 500, "block_timeout_ms": a.block_timeout_ms,
                              "endorse_latency_ms": a.endorse_latency_ms, "endorse_jitter_ms": a.endorse_jitter_ms,
                              "gateway_concurrency": 500}}}
    t_start = time.monotonic()
    stack = gxtest.Stack("bench")
    try:
        stack.pg = DurablePostgres(stack.root)
        stack.start_pg()
        stack.start_redis()
        stack.migrate()
        log("durable PostgreSQL, Redis, schema: ok (%.0f s)" % (time.monotonic() - t_start))
        chain = Chain(stack, peer_args=("--block-size", "500", "--block-timeout-ms", "5", "--endorse-latency-ms", "0",
                                         "--endorse-jitter-ms", "0"))
        chain.start_peer()
        users, top = [], -1
        if "pipeline" in parts:
            t0 = time.monotonic()
            users, top = make_chain_users(stack, chain, pairs)
            log("pipeline setup: %d users on chain, funded (%.0f s)" % (len(users), time.monotonic() - t0))
        chain.stop_peer()
        chain.peer_args = ["--block-size", "500", "--block-timeout-ms", str(a.block_timeout_ms),
                           "--endorse-latency-ms", str(a.endorse_latency_ms),
                           "--endorse-jitter-ms", str(a.endorse_jitter_ms)]
        chain.start_peer()

        # footprint: every daemon, exec -> /readyz 200, then idle RSS
        daemons, ready_ms = {}, {}
        for name in gxtest.API_DAEMONS:
            daemons[name], ready_ms[name] = start_timed(stack, name, API_ENV)
        wenv = dict(chain.fabric_env(), **WORKER_ENV)
        daemons["outbox-submitter"], ready_ms["outbox-submitter"] = start_timed(
            stack, "outbox-submitter", dict(wenv, WORKER_ID="submitter-1"))
        daemons["projector"], ready_ms["projector"] = start_timed(stack, "projector", wenv)
        if top >= 0:
            wait_projected_block(stack, top)
        time.sleep(3)
        idle = {n: rss_kib(d.pid) for n, d in daemons.items()}
        idle["gx-fabric-peer"] = rss_kib(chain.peer.pid)
        doc["footprint"] = {"ready_ms": ready_ms, "rss_idle_kib": idle, "rss_load_kib": {},
                            "images": "not measured: the benchmark does not build images (`make images`, k8s/images/build.sh, "
                                      "needs buildah or podman)"}
        for n in daemons:
            log("  %-17s ready in %7.1f ms, idle RSS %6d KiB" % (n, ready_ms[n], idle[n]))

        api = daemons["svc-tokenomics"]
        # the HTTP runs must not feed the chain: stop the submitter, drop their outbox rows afterwards
        daemons["outbox-submitter"].stop()
        if "http" in parts or "profile" in parts:
            log("HTTP (svc-tokenomics, %d s per run, connections %s)" % (seconds, conns_list))
            http, env, cases = bench_http(stack, api, seconds, conns_list if "http" in parts else [50])
            doc["http"] = http
            doc["footprint"]["rss_load_kib"]["svc-tokenomics"] = max(r["daemon_rss_peak_kib"]
                                                                     for runs in http.values() for r in runs)
            # the same read without the rate limiter (no Redis call per request): what the limiter costs
            nolimit = stack.start_daemon("svc-tokenomics", env=dict(API_ENV, RATE_LIMIT_PER_MIN="0"))
            path = cases[1][1][len(api.url):]
            res = measured_wrk(nolimit, stack, nolimit.url + path, "get_auth.lua", 50, seconds, env)
            log("  balance without rate limiter c=50: %.0f req/s p99 %.2f ms" % (res["rps"],
                                                                               res["latency_us"]["p99"] / 1000.0))
            doc["http_balance_no_rate_limit"] = res
            nolimit.stop()
            log("HTTP (svc-identity, bcrypt at its production cost)")
            doc["identity"] = bench_identity(stack, seconds, [1, 10, 50])
            log("HTTP (svc-identity): one account hammering password changes, another logging in")
            doc["hash_isolation"] = bench_hash_isolation(stack, max(seconds, 5) * 2)
            if "profile" in parts:
                doc["profile"] = bench_profile(stack, api, env, cases, max(3, seconds // 2))
            stack.psql('DELETE FROM "OutboxCommand"')
        daemons["outbox-submitter"], _ = start_timed(stack, "outbox-submitter", dict(wenv, WORKER_ID="submitter-2"))

        if "pipeline" in parts:
            log("pipeline: %d pairs, rates %s, %d s each" % (pairs, a.rates, seconds))
            phases = [r if r == "max" else int(r) for r in a.rates.split(",")]
            watch = {"svc-tokenomics": api.pid, "outbox-submitter": daemons["outbox-submitter"].pid,
                     "projector": daemons["projector"].pid, "gx-fabric-peer": chain.peer.pid}
            with RssSampler(watch) as s:
                doc["pipeline"] = bench_pipeline(stack, chain, api, users, phases, seconds, 30 if a.quick else 45,
                                                 watch, daemons["outbox-submitter"])
            for n, v in s.peak_kib.items():
                doc["footprint"]["rss_load_kib"][n] = max(v, doc["footprint"]["rss_load_kib"].get(n, 0))
            time.sleep(1.5)  # the peer rewrites its counters every second
            doc["pipeline_peer_gateway"] = chain.peer_stats()
            log("  peer Gateway calls since its start: %s" % doc["pipeline_peer_gateway"])
        problems = [p for p in stack.check_logs() if "Sanitizer" in p or "runtime error" in p]
        doc["log_problems"] = problems[:20]
    finally:
        stack.close(check=False)
    doc["wall_seconds"] = round(time.monotonic() - t_start, 1)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    log("wrote %s (%.0f s)" % (out_path, doc["wall_seconds"]))
    if not a.no_report:
        subprocess.run([sys.executable, os.path.join(HERE, "report.py"), out_path], check=True)


if __name__ == "__main__":
    main()

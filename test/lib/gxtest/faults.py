"""Fault injection and load helpers for the reliability suite (test/reliability): funded on-chain users, a transfer
load generator, a round-robin TCP proxy that follows /readyz, process pause/resume, PostgreSQL backend termination,
read-model snapshots and the figures file the suite turns into docs/reliability-report.md.

    from gxtest import faults
    users = faults.fund_users(stack, api, 4)                  # on chain, projected, genesis received
    load = faults.TransferLoad(api.url, users, threads=3).start()
    ...; load.stop(); load.accepted                           # {idempotency key: commandId} of every 202
    faults.record("crash", "kills", 12)                      # figure for the report (under $GX_REL_FIGURES)
    faults.check_final(self, stack, chain, ids, supply0, daemons)   # the invariants every scenario ends with

Profiles: GX_REL_PROFILE=short (make test, the default) or long (make reliability): faults.by_profile(short, long).
"""

import hashlib
import json
import os
import random
import re
import select
import signal
import socket
import threading
import time
import unittest
import uuid
from concurrent.futures import ThreadPoolExecutor

from . import GxTestCase
from .auth import bearer, mint_token
from .chain import evaluate, wait_command, wait_sql
from .http import request

__all__ = ["q", "outbox", "stop_all", "create_users", "fund_users", "User", "TransferLoad", "RoundRobinProxy",
           "pause", "resume", "terminate_backends", "supply", "balances", "settle", "wait_until", "record", "SUPER_ID",
           "NO_LIMITS", "FaultTestCase", "worker_env", "start_full_chain", "PROFILE", "by_profile", "check_final",
           "deadlock_canary", "same_key_burst", "keyless_burst", "overdraft_burst", "leased_by", "final_within",
           "projector_active", "GENESIS_QIRAT", "production_blocks", "post_transfer", "at_once"]

PROFILE = os.environ.get("GX_REL_PROFILE", "short")
# genesisTier1Amount (docs/chaincode.md §5): what fund_users gives each individual
GENESIS_QIRAT = 10000000

SUPER_ID = "00000000-0000-4000-8000-00000000beef"
NO_LIMITS = {"RATE_LIMIT_PER_MIN": "1000000", "RATE_LIMIT_BURST": "1000000"}
FINAL = ("COMMITTED", "PROJECTED", "FAILED")


def q(s):
    """SQL string literal."""
    return "'" + str(s).replace("'", "''") + "'"


def by_profile(short, long):
    """The value for the running profile: short (make test) or long (make reliability, GX_REL_PROFILE=long)."""
    return long if PROFILE == "long" else short


def wait_until(fn, timeout, interval=0.1, what="condition"):
    """Poll fn() until it returns a true value; return (value, seconds waited). AssertionError on timeout."""
    t0 = time.monotonic()
    while True:
        v = fn()
        if v:
            return v, time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError("%s not reached within %.0fs" % (what, timeout))
        time.sleep(interval)


def outbox(stack, ctype, payload, aggregate="system"):
    """Enqueue a command as another service would (INSERT + NOTIFY); returns its id."""
    cid = str(uuid.uuid4())
    stack.psql('INSERT INTO "OutboxCommand" ("id", "tenantId", "service", "commandType", "requestId", "payload", '
               '"aggregateId") VALUES (%s, \'default\', \'test\', %s, %s, %s::jsonb, %s); NOTIFY gx_outbox, %s'
               % (q(cid), q(ctype), q(cid), q(json.dumps(payload)), q(aggregate), q(cid)))
    return cid


class User:
    def __init__(self, pid, acct):
        self.pid = pid
        self.acct = acct
        self.token = mint_token(pid)


def create_users(stack, n, projected=True, timeout=60):
    """n profiles with CREATE_USER commands (all enqueued at once); waits until every wallet is projected when
    projected is true. Returns [User]."""
    users, ids = [], []
    for _ in range(n):
        pid = str(uuid.uuid4())
        acct = "u-" + pid[:18]
        bio = hashlib.sha256(pid.encode()).hexdigest()
        stack.psql('INSERT INTO "UserProfile" ("profileId", "tenantId", "firstName", "lastName", "email", '
                   '"biometricHash", "passwordHash", "nationalityCountryCode", "status", "fabricUserId") VALUES '
                   "(%s, 'default', 'Rel', 'Iable', %s, %s, 'x', 'US', 'PENDING_VERIFICATION', %s)"
                   % (q(pid), q(pid + "@example.com"), q(bio), q(acct)))
        ids.append(outbox(stack, "CREATE_USER", {"userId": acct, "biometricHash": bio, "nationality": "US",
                                                 "age": 30}, "wallet:" + acct))
        users.append(User(pid, acct))
    if projected:
        wait_sql(stack, 'SELECT count(*) FROM "Wallet" WHERE "primaryAccountId" IN (%s)'
                 % ",".join(q(u.acct) for u in users), [(str(n),)], timeout=timeout)
    return users


def fund_users(stack, api, n, timeout=90):
    """Bootstrap the system, create n users on chain and give each the genesis allocation through api (an
    svc-tokenomics Daemon). Waits until everything is projected. Returns [User]."""
    boot = outbox(stack, "BOOTSTRAP_SYSTEM", {})
    wait_sql(stack, 'SELECT "status"::text FROM "OutboxCommand" WHERE "id" = %s' % q(boot), [("PROJECTED",)],
             timeout=timeout)
    users = create_users(stack, n, timeout=timeout)
    sup = mint_token(SUPER_ID, "SUPER_ADMIN")
    cmds = []
    for u in users:
        r = request("POST", api.url + "/api/v1/genesis", headers=bearer(sup),
                    json_body={"userId": u.pid, "userType": "individual", "countryCode": "US"})
        if r.status != 202:
            raise AssertionError("genesis for %s: %d %s" % (u.pid, r.status, r.text))
        cmds.append(r.json()["commandId"])
    for c in cmds:
        wait_command(api.url, c, sup, want="PROJECTED", timeout=timeout)
    return users


def supply(stack):
    """Total Qirat in the read models: every wallet, system and treasury account."""
    return int(stack.psql('SELECT (SELECT COALESCE(sum("balanceQirat"), 0) FROM "Wallet") + (SELECT '
                          'COALESCE(sum("balanceQirat"), 0) FROM "SystemAccount") + (SELECT '
                          'COALESCE(sum("balanceQirat"), 0) FROM "TreasuryAccount")')[0][0])


def balances(stack):
    """{account: Qirat} of every wallet and system account (the read models a replay must reproduce)."""
    rows = stack.psql('SELECT "primaryAccountId", "balanceQirat"::text FROM "Wallet" UNION ALL '
                      'SELECT "accountId", "balanceQirat"::text FROM "SystemAccount" ORDER BY 1')
    return {a: int(b) for a, b in rows}


def settle(stack, ids, want=FINAL, timeout=60):
    """Wait until every command id in ids has a status in want; returns ({id: status}, seconds)."""
    ids = list(ids)

    def done():
        st = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            if not chunk:
                continue
            st.update(dict(stack.psql('SELECT "id", "status"::text FROM "OutboxCommand" WHERE "id" IN (%s)'
                                      % ",".join(q(c) for c in chunk))))
        return st if len(st) == len(ids) and all(s in want for s in st.values()) else None
    if not ids:
        return {}, 0.0
    return wait_until(done, timeout, 0.25, "%d commands in %s" % (len(ids), "/".join(want)))


def stop_all(stack, timeout=20.0):
    """SIGTERM every live process of stack, newest first, allowing timeout seconds each (Stack.close allows 5,
    too little for a submitter draining a full queue under ASan on a busy machine). Returns the problems: daemons
    that exited non-zero or did not exit. Call it from tearDownClass before super().tearDownClass()."""
    from .stack import Daemon
    problems = []
    for p in reversed(stack.procs):
        if not p.alive():
            continue
        t0 = time.monotonic()
        try:
            code = p.stop(signal.SIGTERM, timeout)
        except AssertionError as e:
            problems.append(str(e).splitlines()[0])
            continue
        if code != 0 and isinstance(p, Daemon):
            problems.append("%s: exit code %s on SIGTERM" % (p.name, code))
        record("shutdown", "slowest exit on SIGTERM (s)", max(round(time.monotonic() - t0, 2),
                                                               _figure("shutdown", "slowest exit on SIGTERM (s)", 0)))
    return problems


def worker_env(endorse_ms, commit_ms):
    """Submitter settings for fault tests: short leases and backoff, endless retries, the given Fabric deadlines."""
    return {"LEASE_MS": "2000", "BACKOFF_BASE_MS": "100", "BACKOFF_MAX_MS": "1000", "POLL_INTERVAL_MS": "200",
            "FABRIC_ENDORSE_TIMEOUT_MS": str(endorse_ms), "FABRIC_COMMIT_TIMEOUT_MS": str(commit_ms),
            "MAX_RETRIES": "1000"}


def start_full_chain(stack, worker_env):
    """The stand-in, one submitter with worker_env and the projector (the test is skipped when the projector is
    not built). Returns the Chain."""
    from .chain import start_chain
    chain = start_chain(stack, replicas=1, submitter_env=worker_env)
    if chain.projector is None:
        raise unittest.SkipTest("projector is not built")
    return chain


PEER_BLOCK_ARGS = ("--block-timeout-ms", "2000")


def production_blocks(chain):
    """Restart the stand-in (same ledger and port) with the stack's real 2 s block cut timeout. Set-up runs on the
    test default of 200 ms (fund_users: CreateUser and genesis each conflict on a shared key, one valid per block);
    the scenario itself then runs on production blocks."""
    chain.peer_args = [a for a in chain.peer_args if a not in PEER_BLOCK_ARGS] + list(PEER_BLOCK_ARGS)
    chain.stop_peer()
    chain.start_peer()


class FaultTestCase(GxTestCase):
    """A test class on its own stack: PostgreSQL (durable: fsync, synchronous_commit and full_page_writes on, as in
    production) and Redis started and migrated before the subclass's setUpClass body (call super() first); at class
    end every process is stopped with stop_all's generous timeouts, and a process that exits badly fails the
    class."""

    durable = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stack.start_pg(durable=cls.durable)
        cls.stack.start_redis()
        cls.stack.migrate()

    @classmethod
    def tearDownClass(cls):
        problems = stop_all(cls.stack)
        super().tearDownClass()
        if problems:
            raise AssertionError("shutdown problems:\n  " + "\n  ".join(problems))


def pause(proc):
    """SIGSTOP a Process (its whole process group)."""
    os.killpg(proc.pid, signal.SIGSTOP)


def resume(proc):
    os.killpg(proc.pid, signal.SIGCONT)


def terminate_backends(stack):
    """pg_terminate_backend() every other connection to the test database; returns how many were terminated."""
    rows = stack.psql("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    return int(rows[0][0])


class TransferLoad:
    """Threads posting POST /api/v1/transfers between random pairs of users (disjoint=True: thread i always sends
    from users[2i] to users[2i+1], so no two senders' transactions write the same account), each request with its own
    Idempotency-Key and remark (the key), retried with the same key on connection errors, 5xx and 409 in-flight
    answers for up to retry_for seconds, as a careful client would.

    amounts    a list to pick each transfer's amount from at random (instead of amount); amounts above
               transactionFeeThreshold (10 coins) pay the transfer fee
    accepted   {key: commandId} of every request answered 202
    outcomes   {final status or exception name: count}
    conflicts  keys whose retries returned a different commandId (must stay empty)
    latencies  seconds of each accepted request (first try to 202)
    """

    def __init__(self, urls, users, threads=3, amount="0.01", retry_for=20.0, pace=0.0, disjoint=False,
                 amounts=None):
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        self.users = users
        self.nthreads = threads
        self.amount = amount
        self.amounts = list(amounts) if amounts else None
        self.sent = {}   # key: (sender User, receiver User, amount) of every request sent
        self.retry_for = retry_for
        self.pace = pace
        self.disjoint = disjoint
        if disjoint and len(users) < 2 * threads:
            raise ValueError("disjoint load needs two users per thread")
        self.accepted = {}
        self.outcomes = {}
        self.conflicts = []
        self.latencies = []
        self.accept_times = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = []

    def start(self):
        for i in range(self.nthreads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self, timeout=60):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout)
        return self

    def count(self, outcome):
        with self.lock:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def _post(self, url, key, body, user):
        try:
            r = request("POST", url + "/api/v1/transfers", json_body=body, timeout=10,
                        headers=dict(bearer(user.token), **{"Idempotency-Key": key}))
        except OSError as e:
            return type(e).__name__, None
        if r.status == 202:
            return "202", r.json()["commandId"]
        doc = r.json() or {}
        code = doc.get("code", "")
        return "%d %s" % (r.status, code), None

    def _run(self, index):
        rnd = random.Random(index)
        n = 0
        while not self.stopping.is_set():
            if self.disjoint:
                a, b = self.users[2 * index], self.users[2 * index + 1]
            else:
                a, b = rnd.sample(self.users, 2)
            key = "rel-%d-%d-%s" % (index, n, uuid.uuid4().hex[:8])
            n += 1
            amount = rnd.choice(self.amounts) if self.amounts else self.amount
            body = {"toUserId": b.pid, "amount": amount, "remark": key}
            with self.lock:
                self.sent[key] = (a, b, amount)
            t0 = time.monotonic()
            first_id = None
            while True:
                url = self.urls[n % len(self.urls)]
                outcome, cid = self._post(url, key, body, a)
                if cid:
                    with self.lock:
                        if first_id is None:
                            first_id = cid
                        elif cid != first_id:
                            self.conflicts.append(key)
                        self.accepted[key] = cid
                        self.latencies.append(time.monotonic() - t0)
                        self.accept_times.append(time.monotonic())
                    break
                retry = (not outcome[0].isdigit() or outcome.startswith("5") or "IN_FLIGHT" in outcome
                         or outcome.startswith("429"))
                if not retry or time.monotonic() - t0 > self.retry_for:
                    break
                time.sleep(0.1)
            self.count(outcome)
            if self.pace:
                time.sleep(self.pace)


class RoundRobinProxy:
    """A TCP proxy on a free loopback port spreading connections over backends (Daemons) round-robin, skipping any
    whose /readyz does not answer 200 (polled every poll seconds), as a Kubernetes Service drops an unready pod.

    proxy.url; proxy.served {backend port: connections}; proxy.close()."""

    def __init__(self, backends, poll=0.1):
        self.backends = list(backends)
        self.ready = {d.port: True for d in self.backends}
        self.served = {d.port: 0 for d in self.backends}
        self.lock = threading.Lock()
        self.next = 0
        self.poll = poll
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.closing = threading.Event()
        for target in (self._accept_loop, self._health_loop):
            threading.Thread(target=target, daemon=True).start()

    def set_backends(self, backends):
        with self.lock:
            self.backends = list(backends)
            for d in self.backends:
                self.ready.setdefault(d.port, False)
                self.served.setdefault(d.port, 0)

    def _health_loop(self):
        while not self.closing.is_set():
            with self.lock:
                backends = list(self.backends)
            for d in backends:
                try:
                    ok = request("GET", d.url + "/readyz", timeout=1).status == 200
                except OSError:
                    ok = False
                with self.lock:
                    self.ready[d.port] = ok
            time.sleep(self.poll)

    def _pick(self):
        with self.lock:
            live = [d for d in self.backends if self.ready.get(d.port)]
            if not live:
                return None
            d = live[self.next % len(live)]
            self.next += 1
            self.served[d.port] += 1
            return d

    def _accept_loop(self):
        while not self.closing.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        d = self._pick()
        if d is None:
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        except OSError:
            client.close()
            return
        socks = [client, upstream]
        try:
            while True:
                r, _, _ = select.select(socks, [], [], 30)
                if not r:
                    break
                done = False
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        done = True
                        break
                    (upstream if s is client else client).sendall(data)
                if done:
                    break
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()

    def close(self):
        self.closing.set()
        self.sock.close()


# --- concurrency probes ----------------------------------------------------------------------------------------

def post_transfer(url, sender, receiver, amount, key=None, remark=None):
    """One POST /api/v1/transfers; returns (status, doc) or (exception name, None)."""
    headers = dict(bearer(sender.token))
    if key is not None:
        headers["Idempotency-Key"] = key
    body = {"toUserId": receiver.pid, "amount": amount}
    if remark:
        body["remark"] = remark
    try:
        r = request("POST", url + "/api/v1/transfers", json_body=body, headers=headers, timeout=30)
    except OSError as e:
        return type(e).__name__, None
    return r.status, r.json() or {}


def at_once(n, fn):
    """Run fn(i) for i in range(n) in n threads released together by a barrier; returns the results in order."""
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait(10)
        return fn(i)
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def same_key_burst(url, sender, receiver, n=8, amount="0.5"):
    """n identical transfers with one Idempotency-Key sent at the same instant. Returns (key, answers) where
    answers is [(status, commandId or error code)]: every answer must be the one command (202, replayed or not)
    or 409 IDEMPOTENCY_IN_PROGRESS while the first runs."""
    key = "same-" + uuid.uuid4().hex[:12]
    answers = at_once(n, lambda i: post_transfer(url, sender, receiver, amount, key=key, remark=key))
    return key, [(st, (doc or {}).get("commandId") if st == 202 else (doc or {}).get("code")) for st, doc in answers]


def keyless_burst(url, sender, receiver, n=8, amount="0.5"):
    """n transfers without an Idempotency-Key sent at the same instant (one remark each): each is its own request.
    Returns [(status, commandId or error code)]."""
    tag = "keyless-" + uuid.uuid4().hex[:8]
    answers = at_once(n, lambda i: post_transfer(url, sender, receiver, amount, remark="%s-%d" % (tag, i)))
    return [(st, (doc or {}).get("commandId") if st == 202 else (doc or {}).get("code")) for st, doc in answers]


def overdraft_burst(url, senders, receiver, each, n=3):
    """Every sender posts n transfers of each coins at the same instant (all pass the read-model pre-check, which
    sees the untouched balance): the chain accepts what the balance covers and refuses the rest with 409
    insufficient balance. Returns {sender account: [commandId of each 202]} and the other answers."""
    jobs = [(u, i) for u in senders for i in range(n)]
    answers = at_once(len(jobs), lambda j: post_transfer(url, jobs[j][0], receiver, each,
                                                     key="over-%s-%d" % (jobs[j][0].acct, jobs[j][1]),
                                                     remark="over-%s-%d" % (jobs[j][0].acct, jobs[j][1])))
    ids, other = {u.acct: [] for u in senders}, []
    for (u, _), (st, doc) in zip(jobs, answers):
        if st == 202:
            ids[u.acct].append(doc["commandId"])
        else:
            other.append((u.acct, st, (doc or {}).get("code")))
    return ids, other


# --- workers ----------------------------------------------------------------------------------------------------

def leased_by(stack, worker_id=None):
    """{command id: status} of the rows in flight (LOCKED/SUBMITTED) under worker_id (None: under any worker)."""
    cond = '"lockedBy" = %s' % q(worker_id) if worker_id is not None else '"lockedBy" IS NOT NULL'
    return dict(stack.psql('SELECT "id", "status"::text FROM "OutboxCommand" WHERE "status" IN (\'LOCKED\', '
                           '\'SUBMITTED\') AND %s' % cond))


def final_within(stack, ids, timeout, want=("COMMITTED", "PROJECTED", "FAILED")):
    """Seconds until every command in ids has left the submitter (COMMITTED or later); AssertionError naming the
    rows still in flight (status, owner, lease left) after timeout."""
    try:
        return settle(stack, ids, want=want, timeout=timeout)[1]
    except AssertionError as e:
        raise AssertionError("%s; still in flight: %s" % (e, _inflight_rows(stack, ids))) from None


def _inflight_rows(stack, ids=None):
    cond = ' AND "id" IN (%s)' % ",".join(q(c) for c in ids) if ids else ""
    return stack.psql('SELECT "id", "status"::text, COALESCE("lockedBy", \'\'), COALESCE(round(extract(epoch FROM '
                      '"leaseUntil" - now()), 1)::text, \'\'), "attempts"::text, COALESCE("errorCode", \'\') FROM '
                      '"OutboxCommand" WHERE "status" NOT IN (\'PROJECTED\', \'FAILED\')%s ORDER BY "createdAt" '
                      'LIMIT 20' % cond)


def projector_active(daemon):
    """1 when this projector replica holds the lock (gx_projector_active), 0 when standby, None without an answer."""
    try:
        text = daemon.get("/metrics", timeout=3).text
    except OSError:
        return None
    m = re.search(r"^gx_projector_active(?:\{[^}]*\})? (\S+)$", text, re.M)
    return int(float(m.group(1))) if m else None


# --- PostgreSQL log ---------------------------------------------------------------------------------------------

def deadlock_canary(stack):
    """Cause one deadlock on a scratch table with two sessions and check that server.log shows "deadlock detected"
    (so the checker's search of the log can fail). Returns the log offset after it: the checker looks past it."""
    st = stack
    st.psql('CREATE TABLE "_gx_deadlock_canary" (id int PRIMARY KEY, v int); '
            'INSERT INTO "_gx_deadlock_canary" VALUES (1, 0), (2, 0)')
    import subprocess
    argv = ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(st.pg.port), "-U", "postgres", "-d", st.pg.dbname]
    s1 = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          text=True)
    s2 = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          text=True)
    try:
        for s, row in ((s1, 1), (s2, 2)):
            s.stdin.write('BEGIN; UPDATE "_gx_deadlock_canary" SET v = 1 WHERE id = %d;\n' % row)
            s.stdin.flush()
        wait_until(lambda: st.psql("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' "
                                   "AND query LIKE '%_gx_deadlock_canary%'") == [("2",)], 20, 0.1,
                   "both canary sessions hold a row")
        for s, row in ((s1, 2), (s2, 1)):
            s.stdin.write('UPDATE "_gx_deadlock_canary" SET v = 2 WHERE id = %d;\nCOMMIT;\n\\q\n' % row)
            s.stdin.flush()
            time.sleep(0.2)
        for s in (s1, s2):
            s.stdin.close()
            s.wait(30)
    finally:
        for s in (s1, s2):
            if s.poll() is None:
                s.kill()
    wait_until(lambda: "deadlock detected" in st.pg.log_text(), 10, 0.1, "\"deadlock detected\" in server.log")
    st.psql('DROP TABLE "_gx_deadlock_canary"')
    return len(st.pg.log_text())


# --- the end-of-scenario checker --------------------------------------------------------------------------------

def check_final(tc, stack, chain, ids, supply0, daemons, transfer_ids=None, pg_log_from=0, timeout=180,
                section=None, ledger_accounts=None):
    """The invariants every reliability scenario ends with (tc: the TestCase, for its assertions).

    ids           every commandId answered 202 during the scenario (transfers, genesis, ...)
    transfer_ids  the transfer commands among them (default: ids); the TRANSFER_TOKENS rows of the database must be
                  exactly these (every 202 has its command, nothing more)
    supply0       total supply at the start (faults.supply)
    daemons       the Daemons that must answer /readyz 200 at the end
    pg_log_from   server.log offset to search for "deadlock detected" from (after deadlock_canary)
    ledger_accounts  the wallet accounts to compare with the ledger (default: every wallet; the system accounts
                  always): one Node client run per account, so a class checking often names the ones it moved

    1. every 202 is final: PROJECTED, or FAILED with an error code and message; nothing left in flight or leased;
    2. supply conserved, and the wallets plus the fee pool hold exactly the genesis they received (balances plus
       fees equal genesis); no balance negative; the fee pool equals the fees of the SENT rows;
    3. each wallet's balance equals the replay of its Transaction rows (GENESIS + RECEIVED - SENT - fees);
    4. the ledger equals the read model: GetBalance of every wallet and system account through the official Node
       client (gxtest.chain.evaluate) equals the projected balance;
    5. no duplicates: tx ids unique, one EventLog row per (tx, event index), one SENT and one RECEIVED row per
       PROJECTED transfer and none for a FAILED one;
    6. every daemon answers /readyz 200;
    7. no "deadlock detected" in the PostgreSQL server log.
    Returns {figure: value} (final states, checks counted); records them under section when given."""
    st = stack
    ids = list(dict.fromkeys(ids))
    transfer_ids = list(dict.fromkeys(transfer_ids if transfer_ids is not None else ids))
    # 1. final
    try:
        status, settle_s = settle(st, ids, want=("PROJECTED", "FAILED"), timeout=timeout)
    except AssertionError as e:
        raise AssertionError("%s; not final (id, status, owner, lease s, attempts, code): %s"
                             % (e, _inflight_rows(st, ids))) from None
    counts = {}
    for v in status.values():
        counts[v] = counts.get(v, 0) + 1
    bad = st.psql('SELECT "id", COALESCE("errorCode", \'\'), COALESCE("error", \'\') FROM "OutboxCommand" WHERE '
                  '"status" = \'FAILED\' AND (COALESCE("errorCode", \'\') = \'\' OR COALESCE("error", \'\') = \'\')')
    tc.assertEqual(bad, [], "FAILED commands without a reason")
    try:   # other commands than ids (a retried request's first try, a bootstrap) may still be settling
        wait_until(lambda: not _inflight_rows(st), 60, 0.5, "outbox drained")
    except AssertionError:
        pass
    tc.assertEqual(_inflight_rows(st), [], "commands left in flight")
    tc.assertEqual(st.psql('SELECT count(*) FROM "OutboxCommand" WHERE "leaseUntil" IS NOT NULL AND "status" NOT IN '
                           '(\'PROJECTED\', \'COMMITTED\', \'FAILED\')'), [("0",)], "leases left behind")
    # 2. supply and genesis
    tc.assertEqual(supply(st), supply0, "total supply changed")
    wallets = int(st.psql('SELECT COALESCE(sum("balanceQirat"), 0) FROM "Wallet"')[0][0])
    pool = st.psql('SELECT "balanceQirat"::text FROM "SystemAccount" WHERE "accountId" = \'SYSTEM_FEE_POOL\'')
    pool = int(pool[0][0]) if pool else 0
    genesis = int(st.psql('SELECT COALESCE(sum("amountQirat"), 0) FROM "Transaction" WHERE "type" = '
                          '\'GENESIS\'')[0][0])
    fees = int(st.psql('SELECT COALESCE(sum("feeQirat"), 0) FROM "Transaction" WHERE "type" = \'SENT\'')[0][0])
    tc.assertEqual(wallets + pool, genesis, "wallets + fee pool != genesis distributed")
    tc.assertEqual(pool, fees, "fee pool != fees of the SENT rows")
    tc.assertEqual(st.psql('SELECT count(*) FROM "Wallet" WHERE "balanceQirat" < 0'), [("0",)], "negative balance")
    # 3. replay of each wallet's rows
    mismatch = st.psql(
        'SELECT w."primaryAccountId", w."balanceQirat"::text, COALESCE(sum(CASE t."type" WHEN \'GENESIS\' THEN '
        't."amountQirat" WHEN \'RECEIVED\' THEN t."amountQirat" WHEN \'SENT\' THEN -t."amountQirat" - t."feeQirat" '
        'ELSE NULL END), 0)::text FROM "Wallet" w LEFT JOIN "Transaction" t ON t."walletId" = w."walletId" '
        'GROUP BY w."walletId" HAVING w."balanceQirat" <> COALESCE(sum(CASE t."type" WHEN \'GENESIS\' THEN '
        't."amountQirat" WHEN \'RECEIVED\' THEN t."amountQirat" WHEN \'SENT\' THEN -t."amountQirat" - t."feeQirat" '
        'ELSE NULL END), 0)')
    tc.assertEqual(mismatch, [], "balance != replay of its transaction rows (account, balance, replay)")
    # 4. ledger = read model
    model = balances(st)
    system = {a for (a,) in st.psql('SELECT "accountId" FROM "SystemAccount"')}
    accounts = sorted(a for a in model if ledger_accounts is None or a in system or a in set(ledger_accounts))
    with ThreadPoolExecutor(max_workers=3) as pool_ex:
        chain_bal = dict(zip(accounts, pool_ex.map(
            lambda a: int(evaluate(chain, "TokenomicsContract:GetBalance", a)["balance"]), accounts)))
    tc.assertEqual({a: (model[a], chain_bal[a]) for a in accounts if model[a] != chain_bal[a]}, {},
                   "read model != ledger (account: (read model, chain))")
    # 5. duplicates
    tc.assertEqual(st.psql('SELECT "fabricTxId" FROM "OutboxCommand" WHERE "fabricTxId" IS NOT NULL GROUP BY 1 '
                           'HAVING count(*) > 1'), [], "a tx id used by two commands")
    tc.assertEqual(st.psql('SELECT "fabricTxId", "eventIndex" FROM "EventLog" GROUP BY 1, 2 HAVING count(*) > 1'),
                   [], "an event stored twice")
    rows = st.psql(
        'SELECT o."id", o."status"::text, (SELECT count(*) FROM "Transaction" t WHERE t."onChainTxId" = '
        'o."fabricTxId" AND t."type" = \'SENT\'), (SELECT count(*) FROM "Transaction" t WHERE t."onChainTxId" = '
        'o."fabricTxId" AND t."type" = \'RECEIVED\') FROM "OutboxCommand" o WHERE o."commandType" = '
        '\'TRANSFER_TOKENS\'')
    in_db = {r[0] for r in rows}
    tc.assertEqual((sorted(set(transfer_ids) - in_db), sorted(in_db - set(transfer_ids))), ([], []),
                   "TRANSFER_TOKENS rows != the 202s: (202s without their row, rows without a 202)")
    want_rows = {"PROJECTED": ("1", "1"), "FAILED": ("0", "0")}
    tc.assertEqual([r for r in rows if want_rows.get(r[1]) != (r[2], r[3])], [],
                   "transaction rows per transfer command (id, status, SENT, RECEIVED)")
    sent_total = int(st.psql('SELECT count(*) FROM "Transaction" WHERE "type" = \'SENT\'')[0][0])
    tc.assertEqual(sent_total, sum(1 for r in rows if r[1] == "PROJECTED"), "SENT rows without their command")
    # 6. readiness
    for d in daemons:
        wait_until(lambda: _ready(d), 60, 0.2, "%s (port %d) /readyz 200" % (d.name, d.port))
    # 7. deadlocks
    log = st.pg.log_text()[pg_log_from:]
    deadlocks = log.count("deadlock detected")
    tc.assertEqual(deadlocks, 0, "deadlocks in the PostgreSQL log:\n" + "\n".join(
        line for line in log.splitlines() if "deadlock" in line or "DETAIL" in line or "STATEMENT" in line)[-3000:])
    figs = {"final states": ", ".join("%s %d" % kv for kv in sorted(counts.items())),
            "seconds until every 202 was final": round(settle_s, 1), "accounts compared with the ledger":
            len(accounts), "fees collected (Qirat)": fees, "deadlocks in the PostgreSQL log": deadlocks,
            "lock waits over 1 s in the PostgreSQL log": log.count("still waiting for")}
    if section:
        for k, v in figs.items():
            record(section, k, v)
    return figs


def _ready(d):
    if not d.alive():
        raise AssertionError("%s (port %d) is not running (exit code %s)" % (d.name, d.port, d.popen.poll()))
    try:
        return request("GET", d.url + "/readyz", timeout=3).status == 200
    except OSError:
        return False


# --- figures for the report ------------------------------------------------------------------------------------

def _figures_file():
    """This process's figures file in the directory $GX_REL_FIGURES (None when unset): test files run in parallel
    processes, each writes its own file and test/reliability/report.py merges them."""
    d = os.environ.get("GX_REL_FIGURES")
    return os.path.join(d, "figures-%d.json" % os.getpid()) if d else None


def record(section, name, value):
    """Add one figure for the report: {section: {name: value}} in this process's file under $GX_REL_FIGURES
    (no-op when unset)."""
    path = _figures_file()
    if not path:
        return
    with _figures_lock:
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            data = {}
        data.setdefault(section, {})[name] = value
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)


def _figure(section, name, default=None):
    path = _figures_file()
    try:
        with open(path) as f:
            return json.load(f).get(section, {}).get(name, default)
    except (OSError, ValueError, TypeError):
        return default


_figures_lock = threading.Lock()

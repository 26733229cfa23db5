"""Fault injection and load helpers for the reliability suite (test/reliability): funded on-chain users, a transfer
load generator, a round-robin TCP proxy that follows /readyz, process pause/resume, PostgreSQL backend termination,
read-model snapshots and the figures file the suite turns into docs/reliability-report.md.

    from gxtest import faults
    users = faults.fund_users(stack, api, 4)                  # on chain, projected, genesis received
    load = faults.TransferLoad(api.url, users, threads=3).start()
    ...; load.stop(); load.accepted                           # {idempotency key: commandId} of every 202
    faults.record("crash", "kills", 12)                      # figure for the report (under $GX_REL_FIGURES)
"""

import hashlib
import json
import os
import random
import select
import signal
import socket
import threading
import time
import unittest
import uuid

from . import GxTestCase
from .auth import bearer, mint_token
from .chain import wait_command, wait_sql
from .http import request

__all__ = ["q", "outbox", "stop_all", "create_users", "fund_users", "User", "TransferLoad", "RoundRobinProxy",
           "pause", "resume", "terminate_backends", "supply", "balances", "settle", "wait_until", "record", "SUPER_ID",
           "NO_LIMITS", "FaultTestCase", "worker_env", "start_full_chain"]

SUPER_ID = "00000000-0000-4000-8000-00000000beef"
NO_LIMITS = {"RATE_LIMIT_PER_MIN": "1000000", "RATE_LIMIT_BURST": "1000000"}
FINAL = ("COMMITTED", "PROJECTED", "FAILED")


def q(s):
    """SQL string literal."""
    return "'" + str(s).replace("'", "''") + "'"


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


class FaultTestCase(GxTestCase):
    """A test class on its own stack: PostgreSQL and Redis started and migrated before the subclass's setUpClass
    body (call super() first); at class end every process is stopped with stop_all's generous timeouts, and a
    process that exits badly fails the class."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stack.start_pg()
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

    accepted   {key: commandId} of every request answered 202
    outcomes   {final status or exception name: count}
    conflicts  keys whose retries returned a different commandId (must stay empty)
    latencies  seconds of each accepted request (first try to 202)
    """

    def __init__(self, urls, users, threads=3, amount="0.01", retry_for=20.0, pace=0.0, disjoint=False):
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        self.users = users
        self.nthreads = threads
        self.amount = amount
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
            body = {"toUserId": b.pid, "amount": self.amount, "remark": key}
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

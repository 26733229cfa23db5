"""Two replicas of svc-tokenomics: a rolling restart (SIGTERM one replica, start its successor, SIGTERM the other)
behind a round-robin proxy that follows /readyz while a load generator runs loses no request; and the rate limit,
kept in the shared Redis, holds across both replicas (the sum of allowed requests stays within the limit)."""

import hashlib
import math
import threading
import time
import uuid

import gxtest
from gxtest import faults
from gxtest.faults import q

RL_BURST = 10
RL_PER_MIN = 60


def wallet_user(stack, balance_qirat):
    """A profile with a wallet row holding balance_qirat (read model only: these tests need no chain)."""
    pid = str(uuid.uuid4())
    acct = "u-" + pid[:18]
    bio = hashlib.sha256(pid.encode()).hexdigest()
    stack.psql('INSERT INTO "UserProfile" ("profileId", "tenantId", "firstName", "lastName", "email", "biometricHash", '
               '"passwordHash", "nationalityCountryCode", "status", "fabricUserId") VALUES (%s, \'default\', \'Roll\', '
               '\'Out\', %s, %s, \'x\', \'US\', \'ACTIVE\', %s); INSERT INTO "Wallet" ("tenantId", "profileId", '
               '"primaryAccountId", "walletName", "balanceQirat") VALUES (\'default\', %s, %s, \'main\', %d)'
               % (q(pid), q(pid + "@example.com"), q(bio), q(acct), q(pid), q(acct), balance_qirat))
    return faults.User(pid, acct)


class RolloutTest(faults.FaultTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        st = cls.stack
        cls.a = wallet_user(st, 100 * 100000)
        cls.b = wallet_user(st, 0)

    def replica(self, env=None):
        return self.stack.start_daemon("svc-tokenomics", env=dict(faults.NO_LIMITS, **(env or {})))

    def test_rolling_restart_loses_nothing(self):
        r1, r2 = self.replica(), self.replica()
        proxy = faults.RoundRobinProxy([r1, r2])
        self.addCleanup(proxy.close)
        stats = {"ok": 0, "failed": [], "writes": 0}
        lock = threading.Lock()
        stop = threading.Event()

        def load(i):
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    if n % 3 == 0:
                        r = gxtest.request("POST", proxy.url + "/api/v1/transfers", headers=gxtest.bearer(self.a.token),
                                           json_body={"toUserId": self.b.pid, "amount": "0.001"}, timeout=10)
                        good = r.status == 202
                    else:
                        r = gxtest.request("GET", "%s/api/v1/wallets/%s/balance" % (proxy.url, self.a.pid),
                                           headers=gxtest.bearer(self.a.token), timeout=10)
                        good = r.status == 200
                    what = "%d %s" % (r.status, r.text[:120])
                except OSError as e:
                    good, what = False, "%s: %s" % (type(e).__name__, e)
                with lock:
                    if good:
                        stats["ok"] += 1
                        stats["writes"] += n % 3 == 0
                    else:
                        stats["failed"].append(what)
                time.sleep(0.02)
        threads = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(3)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        time.sleep(1.5)
        codes = []
        # rolling restart: replace r1, then r2, each with SIGTERM while the load runs
        r3 = None
        for old, keep in ((r1, r2), (r2, None)):
            codes.append(old.stop(timeout=10))
            new = self.replica()
            proxy.set_backends([d for d in (keep, r3, new) if d is not None])
            faults.wait_until(lambda: proxy.ready.get(new.port), 10, 0.05, "proxy sees the new replica ready")
            r3 = new
            time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join(15)
        took = time.monotonic() - t0
        self.assertEqual(codes, [0, 0], "replicas exit 0 on SIGTERM")
        self.assertEqual(stats["failed"], [], "requests failed during the rolling restart")
        self.assertGreaterEqual(stats["ok"], 50)
        served = {p: n for p, n in proxy.served.items()}
        self.assertEqual(sum(1 for n in served.values() if n > 0), 4, served)
        accepted = int(self.stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "commandType" = '
                                       '\'TRANSFER_TOKENS\'')[0][0])
        self.assertEqual(accepted, stats["writes"], "every 202 has its outbox row, and nothing more")
        for k, v in (("requests", stats["ok"]), ("of which writes (202, each with its outbox row)", stats["writes"]),
                     ("failed requests", len(stats["failed"])), ("replicas restarted (SIGTERM, exit 0)", 2),
                     ("seconds under load", round(took, 1))):
            faults.record("graceful rollout", k, v)

    def test_rate_limit_shared_by_replicas(self):
        env = {"RATE_LIMIT_PER_MIN": str(RL_PER_MIN), "RATE_LIMIT_BURST": str(RL_BURST)}
        reps = [self.replica(env), self.replica(env)]
        user = wallet_user(self.stack, 0)
        results = []
        t0 = time.monotonic()
        for i in range(40):
            r = reps[i % 2].get("/api/v1/wallets/%s/balance" % user.pid, headers=gxtest.bearer(user.token))
            results.append((i % 2, r))
        elapsed = time.monotonic() - t0
        allowed = [(rep, r) for rep, r in results if r.status == 200]
        limited = [r for _, r in results if r.status == 429]
        self.assertEqual(len(allowed) + len(limited), 40, [r.status for _, r in results])
        # GCRA/sliding window: at most the burst plus what the rate refills meanwhile (+1 for rounding)
        ceiling = RL_BURST + math.ceil(RL_PER_MIN * elapsed / 60.0) + 1
        self.assertLessEqual(len(allowed), ceiling, "replicas do not share the limit")
        self.assertGreaterEqual(len(allowed), RL_BURST - 1)
        self.assertEqual({rep for rep, _ in allowed}, {0, 1}, "both replicas served part of the burst")
        for r in limited:
            self.assertEqual(r.json()["code"], "RATE_LIMITED")
            self.assertTrue(r.headers.get("Retry-After"), r.headers)
        for k, v in (("requests sent alternately to 2 replicas", 40), ("allowed (200)", len(allowed)),
                     ("limited (429 RATE_LIMITED with Retry-After)", len(limited)),
                     ("limit: burst + rate x elapsed", "%d + %d/min x %.1fs" % (RL_BURST, RL_PER_MIN, elapsed))):
            faults.record("rate limit across replicas", k, v)

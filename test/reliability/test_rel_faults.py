"""Dependency faults on a running stack (svc-tokenomics, outbox-submitter, projector, Fabric stand-in): PostgreSQL
restarted, every PostgreSQL connection terminated, Redis stopped, the stand-in paused (SIGSTOP), stopped (connection
refused) and slow (endorsements delayed inside and past the submitter's deadline). Each case checks what the API
answers during the fault (503 DB_UNAVAILABLE where a write needs PostgreSQL, 202 where the outbox absorbs it), what
/readyz says, that recovery is automatic and that a write is accepted and projected again within 10 s of the fault
ending (measured), and that no lease is left behind."""

import json
import time

import gxtest
from gxtest import faults, request
from gxtest.faults import q

RECOVERY_LIMIT_S = 10.0
WORKER_ENV = faults.worker_env(2000, 4000)


class DependencyFaultTest(faults.FaultTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        st = cls.stack
        cls.chain = faults.start_full_chain(st, WORKER_ENV)
        cls.api = st.start_daemon("svc-tokenomics", env=faults.NO_LIMITS)
        cls.users = faults.fund_users(st, cls.api, 2)
        cls.seq = 0
        for p in st.procs:
            p.expect_errors("")   # they all log the outages they see; sanitizer reports still fail the test

    def transfer(self, timeout=5):
        a, b = self.users
        type(self).seq += 1
        try:
            r = gxtest.request("POST", self.api.url + "/api/v1/transfers", headers=gxtest.bearer(a.token),
                               json_body={"toUserId": b.pid, "amount": "0.01", "remark": "fault-%d" % self.seq},
                               timeout=timeout)
        except OSError as e:
            return None, type(e).__name__
        doc = r.json() or {}
        return r, (doc.get("commandId") if r.status == 202 else doc.get("code"))

    def readyz(self, daemon):
        try:
            r = gxtest.request("GET", daemon.url + "/readyz", timeout=3)
        except OSError as e:
            return None, {"error": str(e)}
        return r.status, (r.json() or {}).get("checks", {})

    def recover(self, label, t_end):
        """From t_end (fault over), poll writes until one is accepted and projected; assert within the limit;
        then a burst of 5 more all projected. Returns the recovery seconds."""
        def accepted():
            r, cid = self.transfer()
            return cid if r is not None and r.status == 202 else None
        cid, _ = faults.wait_until(accepted, 30, 0.1, "%s: a write accepted again" % label)
        faults.settle(self.stack, [cid], want=("PROJECTED",), timeout=30)
        took = time.monotonic() - t_end
        faults.record("dependency faults", "%s: seconds until a write is accepted and projected" % label,
                      round(took, 2))
        self.assertLessEqual(took, RECOVERY_LIMIT_S, "%s: recovery took %.1fs" % (label, took))
        t0 = time.monotonic()
        ids = []
        for _ in range(5):
            r, cid = self.transfer()
            self.assertEqual(r.status if r else cid, 202, "%s: write after recovery" % label)
            ids.append(cid)
        faults.settle(self.stack, ids, want=("PROJECTED",), timeout=RECOVERY_LIMIT_S)
        faults.record("dependency faults", "%s: 5 writes accepted and projected after recovery (s)" % label,
                      round(time.monotonic() - t0, 2))
        return took

    def assert_no_stuck_leases(self):
        st = self.stack
        faults.wait_until(lambda: st.psql('SELECT count(*) FROM "OutboxCommand" WHERE "status" IN (\'PENDING\', '
                                          '\'LOCKED\', \'SUBMITTED\', \'COMMITTED\')') == [("0",)], 30, 0.2,
                          "outbox drained")
        self.assertEqual(st.psql('SELECT count(*) FROM "OutboxCommand" WHERE "leaseUntil" IS NOT NULL AND '
                                 '"status" NOT IN (\'PROJECTED\', \'COMMITTED\', \'FAILED\')'), [("0",)])
        self.assertEqual(st.psql('SELECT count(*) FROM "OutboxCommand" WHERE "status" = \'FAILED\''), [("0",)])

    def test_1_postgres_restart(self):
        st = self.stack
        st.stop_pg()
        try:
            t_fault = time.monotonic()
            statuses = []
            for _ in range(3):
                r, code = self.transfer()
                self.assertIsNotNone(r, code)
                statuses.append((r.status, code))
            self.assertEqual(statuses, [(503, "DB_UNAVAILABLE")] * 3)
            status, checks = self.readyz(self.api)
            self.assertEqual((status, checks.get("db")), (503, "unavailable"), checks)
            # the workers check their database connection every few seconds
            for w in (self.chain.submitters[0], self.chain.projector):
                (_, checks), s = faults.wait_until(
                    lambda: (lambda rc: rc if rc[0] == 503 else None)(self.readyz(w)), 12, 0.2,
                    "%s /readyz 503" % w.name)
                self.assertTrue(checks.get("db") != "ok" or "database" in checks.get("service", ""), checks)
                faults.record("dependency faults", "PostgreSQL down: seconds until %s /readyz names the db" % w.name,
                              round(time.monotonic() - t_fault, 2))
            time.sleep(max(0, 2 - (time.monotonic() - t_fault)))
        finally:
            st.start_pg()
        t_end = time.monotonic()
        self.recover("PostgreSQL restart", t_end)
        _, ready_s = faults.wait_until(lambda: self.readyz(self.api)[0] == 200, 10, 0.1, "readyz 200")
        self.assert_no_stuck_leases()

    def test_2_terminate_every_backend(self):
        st = self.stack
        faults.wait_until(lambda: self.transfer()[0].status == 202, 15, 0.2, "a write accepted before the fault")
        n = faults.terminate_backends(st)
        self.assertGreaterEqual(n, 3, "API, submitter and projector connections")
        t_end = time.monotonic()
        seen = {}
        for _ in range(4):
            r, code = self.transfer()
            key = "%s %s" % (r.status, code if r.status != 202 else "") if r else code
            seen[key.strip()] = seen.get(key.strip(), 0) + 1
        # a broken connection may cost one request a clear 503; never a 500 or a hang
        self.assertTrue(set(seen) <= {"202", "503 DB_UNAVAILABLE"}, seen)
        faults.record("dependency faults", "pg_terminate_backend: connections terminated", n)
        self.recover("pg_terminate_backend", t_end)
        faults.record("dependency faults", "pg_terminate_backend: answers right after", json.dumps(seen))
        self.assert_no_stuck_leases()

    def test_3_redis_stopped(self):
        st = self.stack
        metric = "gx_redis_degraded_total"

        def degraded():
            text = self.api.get("/metrics").text
            return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith(metric + "{") or line.startswith(metric + " "))
        d0 = degraded()
        st.stop_redis()
        try:
            # documented degraded mode: rate limits and revocation fail open, writes still go to PostgreSQL
            ids = []
            for _ in range(3):
                r, cid = self.transfer()
                self.assertEqual(r.status if r else cid, 202, "write while Redis is down")
                ids.append(cid)
            status, checks = self.readyz(self.api)
            self.assertEqual((status, checks.get("redis")), (200, "degraded"), checks)
            self.assertGreater(degraded(), d0, "degraded requests are counted")
            faults.settle(st, ids, want=("PROJECTED",), timeout=20)
        finally:
            st.start_redis()
        t_end = time.monotonic()
        _, s = faults.wait_until(lambda: self.readyz(self.api)[1].get("redis") == "ok", RECOVERY_LIMIT_S, 0.1,
                                 "readyz redis ok")
        faults.record("dependency faults", "Redis restart: seconds until /readyz says redis ok", round(s, 2))
        self.recover("Redis restart", t_end)
        self.assert_no_stuck_leases()

    def wait_peer_unready(self, label):
        sub = self.chain.submitters[0]
        seen = []

        def peer_named():
            rc = self.readyz(sub)
            seen.append(rc)
            return rc if rc[0] == 503 and "peer unreachable" in rc[1].get("service", "") else None
        try:
            (status, checks), s = faults.wait_until(peer_named, 20, 0.2, "%s: submitter /readyz 503" % label)
        except AssertionError as e:
            raise AssertionError("%s; last answers: %s" % (e, seen[-3:])) from None
        faults.record("dependency faults", "%s: seconds until submitter /readyz names the peer" % label, round(s, 2))
        # the original's /health: still 200, unhealthy, every identity's breaker open (or half open while probing)
        r = request("GET", sub.url + "/health")
        self.assertEqual(r.status, 200, r.text)
        h = r.json()
        self.assertEqual((h["status"], h["fabricClientsConnected"]), ("unhealthy", 0), h)
        self.assertLessEqual({b["state"] for b in h["fabricCircuitBreakers"].values()}, {"OPEN", "HALF_OPEN"}, h)

    def test_4_peer_paused(self):
        st, ch = self.stack, self.chain
        faults.pause(ch.peer)
        try:
            ids = []
            for _ in range(3):
                r, cid = self.transfer()
                self.assertEqual(r.status if r else cid, 202, "the outbox absorbs writes while the peer hangs")
                ids.append(cid)
            self.assertEqual(self.readyz(self.api)[0], 200, "the write API stays ready")
            self.wait_peer_unready("stand-in paused (SIGSTOP)")
            self.assertEqual(st.psql('SELECT count(*) FROM "OutboxCommand" WHERE "id" IN (%s) AND "status" IN '
                                     '(\'COMMITTED\', \'PROJECTED\')' % ",".join(q(c) for c in ids)), [("0",)])
        finally:
            faults.resume(ch.peer)
        t_end = time.monotonic()
        _, s = faults.settle(st, ids, want=("PROJECTED",), timeout=30)
        faults.record("dependency faults", "stand-in paused: seconds until the 3 queued writes are projected",
                      round(s, 2))
        self.assertLessEqual(s, RECOVERY_LIMIT_S)
        self.recover("stand-in paused (SIGSTOP)", t_end)
        self.assert_no_stuck_leases()

    def test_5_peer_refusing(self):
        st, ch = self.stack, self.chain
        ch.stop_peer()
        try:
            ids = []
            for _ in range(3):
                r, cid = self.transfer()
                self.assertEqual(r.status if r else cid, 202, "the outbox absorbs writes while the peer is down")
                ids.append(cid)
            self.wait_peer_unready("stand-in stopped (refusing)")
        finally:
            ch.start_peer()
        t_end = time.monotonic()
        _, s = faults.settle(st, ids, want=("PROJECTED",), timeout=30)
        faults.record("dependency faults", "stand-in stopped: seconds until the 3 queued writes are projected",
                      round(s, 2))
        self.assertLessEqual(s, RECOVERY_LIMIT_S)
        self.recover("stand-in stopped (refusing)", t_end)
        self.assert_no_stuck_leases()

    def test_6_peer_slow(self):
        """A slow peer: the first endorsement waits 3 s (past the 2 s deadline: the submitter's deadline fires and the
        command is retried with the same tx id), the next three wait 1.5 s (slow but inside it). Writes keep being accepted,
        every one is projected exactly once, and throughput comes back within the limit once the peer is fast."""
        st, ch = self.stack, self.chain
        ch.set_faults("delay Endorse 1 3000\ndelay Endorse 3 1500\n")
        try:
            ids = []
            for _ in range(3):
                r, cid = self.transfer()
                self.assertEqual(r.status if r else cid, 202, "the outbox absorbs writes while the peer is slow")
                ids.append(cid)
            _, s = faults.settle(st, ids, want=("PROJECTED",), timeout=60)
            faults.record("dependency faults", "stand-in slow (3 s and 1.5 s endorsements): seconds until 3 writes "
                          "are projected", round(s, 2))
        finally:
            ch.set_faults("")
        t_end = time.monotonic()
        rows = st.psql('SELECT count(*), count(DISTINCT "fabricTxId"), max("attempts") FROM "OutboxCommand" '
                       'WHERE "id" IN (%s)' % ",".join(q(c) for c in ids))
        self.assertEqual(rows[0][:2], ("3", "3"), "one tx id per command")
        self.assertGreaterEqual(int(rows[0][2]), 2, "an endorsement past the deadline is retried")
        self.assertEqual(st.psql('SELECT count(DISTINCT "onChainTxId") FROM "Transaction" WHERE "onChainTxId" IN '
                                 '(SELECT "fabricTxId" FROM "OutboxCommand" WHERE "id" IN (%s))'
                                 % ",".join(q(c) for c in ids)), [("3",)], "each transfer is in the history")
        self.recover("stand-in slow", t_end)
        self.assert_no_stuck_leases()

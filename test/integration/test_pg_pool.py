"""Async PostgreSQL pool (gx/pg.h) and Redis client (gx/redis.h) against real servers, with faults.

The C driver test/integration/pgdriver.c (built as <build>/<mode>/itest/pgdriver) runs the client side of each
scenario and prints JSON lines; this file owns the servers, breaks them (restart, pg_terminate_backend, Redis
stop/start) and asserts. Set GX_PGDRIVER to use another driver binary.
"""

import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import gxtest  # noqa: E402


def driver_path():
    return os.environ.get("GX_PGDRIVER") or os.path.join(gxtest.bin_dir(), "..", "itest", "pgdriver")


class Run:
    """The driver running in the background; lines() parses its JSON observations once it has exited."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([driver_path()] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
        self.out = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for raw in self.proc.stdout:
            self.out.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def seen(self, pred):
        for line in list(self.out):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if pred(obj):
                return True
        return False

    def wait_for(self, pred, timeout=15.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.seen(pred):
                return True
            time.sleep(0.05)
        return False

    def finish(self, timeout=60):
        rc = self.proc.wait(timeout)
        self.t.join(5)
        err = self.proc.stderr.read().decode("utf-8", "replace")
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc, err

    def lines(self, drv=None):
        res = []
        for line in self.out:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if "drv" in obj and (drv is None or obj["drv"] == drv):
                res.append(obj)
        return res

    def log_lines(self, level):
        res = []
        for line in self.out:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if obj.get("level") == level:
                res.append(obj)
        return res


@unittest.skipUnless(os.access(driver_path(), os.X_OK), "pgdriver not built (make all)")
class PgPoolTest(gxtest.GxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stack.start_pg()
        cls.stack.start_redis()

    def run_driver(self, *args, timeout=60):
        r = Run(*args)
        rc, err = r.finish(timeout)
        self.assertNotIn("Sanitizer", err, err)
        self.assertNotIn("runtime error", err, err)
        self.assertEqual(rc, 0, "driver failed: %s\n%s" % (err, "\n".join(r.out[-20:])))
        return r

    def test_concurrent_queries_small_pool(self):
        r = self.run_driver("concurrent", self.stack.database_url)
        (res,) = r.lines("concurrent")
        self.assertEqual(res["ok"], 300, res)
        self.assertEqual(res["bad"] + res["unavailable"] + res["other"], 0, res)
        self.assertGreater(res["waitingAtStart"], 200, "most queries should have queued behind 3 connections")

    def test_queue_full_is_unavailable(self):
        # one connection, four waiters: 1 running + 4 queued succeed, the other 15 fail fast as UNAVAILABLE
        r = self.run_driver("queue", self.stack.database_url)
        (res,) = r.lines("queue")
        self.assertEqual(res["ok"], 5, res)
        self.assertEqual(res["unavailable"], 15, res)
        self.assertEqual(res["other"], 0, res)

    def test_acquire_timeout_is_unavailable(self):
        r = self.run_driver("acqtimeout", self.stack.database_url)
        (res,) = r.lines("acqtimeout")
        self.assertEqual(res["ok"], 1, res)
        self.assertEqual(res["unavailable"], 2, res)

    def test_transactions(self):
        self.stack.psql('DROP TABLE IF EXISTS "Item"; CREATE TABLE "Item" (id int PRIMARY KEY, '
                        'v text CONSTRAINT "Item_v_key" UNIQUE)')
        r = self.run_driver("txn", self.stack.database_url)
        steps = {o["step"]: o for o in r.lines("txn")}
        self.assertTrue(steps["commit"]["ok"], steps)
        self.assertEqual(steps["commit-results"]["n"], 2)
        self.assertEqual(steps["commit-results"]["last"], "1")
        rb = steps["rollback"]
        self.assertFalse(rb["ok"])
        self.assertEqual(rb["kind"], "QUERY")
        self.assertEqual(rb["sqlstate"], "23505")
        self.assertEqual(rb["constraint"], "Item_v_key")
        self.assertEqual(rb["stmtIndex"], 1)
        self.assertEqual(steps["after-rollback-value"]["value"], "0", "statement 0 of the failed txn must roll back")
        self.assertTrue(steps["acquire"]["ok"] and steps["begin"]["ok"] and steps["insert-held"]["ok"], steps)
        self.assertEqual(steps["after-dirty-release-value"]["value"], "0",
                         "a connection released inside a transaction must be rolled back")
        self.assertEqual(steps["syntax"]["kind"], "QUERY")
        self.assertEqual(steps["syntax"]["sqlstate"], "42601")
        self.assertEqual(steps["stmt-timeout"]["kind"], "TIMEOUT")
        self.assertEqual(steps["final-count"]["ok"], True)
        self.assertEqual(steps["final-count-value"]["value"], "2")
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "Item"'), [("2",)])
        # prepared statements: run twice, prepared once; a failed prepare is the statement's own error every time
        # (alone and inside a transaction, with its index); after the connection dies the new one prepares again
        self.assertEqual((steps["prep-1-value"]["value"], steps["prep-2-value"]["value"]), ("42", "2"))
        self.assertEqual(steps["prep-count-value"]["value"], "1", "the probe query is prepared exactly once")
        for name in ("prep-bad-1", "prep-bad-2"):
            self.assertEqual((steps[name]["kind"], steps[name]["sqlstate"]), ("QUERY", "42703"), steps[name])
        self.assertEqual((steps["prep-bad-txn"]["sqlstate"], steps["prep-bad-txn"]["stmtIndex"]), ("42703", 1))
        self.assertFalse(steps["prep-kill"]["ok"])
        self.assertTrue(steps["prep-after-reconnect"]["ok"], steps["prep-after-reconnect"])
        self.assertEqual(steps["prep-after-reconnect-value"]["value"], "10")
        self.assertEqual(steps["prep-count-after-value"]["value"], "1", "a new connection prepares again")
        # planning fails with 0A000 on every use: each failure re-prepares, and the server keeps no old copy
        self.assertEqual(steps["prep-stale"]["sqlstate"], "0A000", steps["prep-stale"])
        self.assertEqual(steps["prep-stale-count-value"]["value"], "0", "stale statements are deallocated")

    def test_listen_notify(self):
        r = self.run_driver("listen", self.stack.database_url)
        got = {(o["channel"], o["payload"]) for o in r.lines("notify")}
        self.assertIn(("gx_test", "hello"), got)
        self.assertIn(("Other Channel", "quoted"), got, "channel names must be quoted identifiers")

    def _terminate_all(self):
        self.stack.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = 'gx-pgdriver'")

    def _notify_until_seen(self, r, payload, timeout=15.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.stack.psql("SELECT pg_notify('soak', '%s')" % payload)
            if r.wait_for(lambda o: o.get("drv") == "notify" and o.get("payload") == payload, 0.3):
                return True
        return False

    def test_terminate_backend_recovery(self):
        r = Run("soak", self.stack.database_url, "12")
        self.assertTrue(r.wait_for(lambda o: o.get("started")), r.out[-10:])
        self.assertTrue(self._notify_until_seen(r, "before"), "LISTEN works before the fault")
        time.sleep(0.5)
        self._terminate_all()
        t_fault = time.monotonic()
        # queries succeed again soon, and the listener re-subscribed
        self.assertTrue(self._notify_until_seen(r, "after-terminate"), "LISTEN re-subscribes after terminate")
        self.assertLess(time.monotonic() - t_fault, 10)
        rc, err = r.finish(60)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("Sanitizer", err, err)
        soak = [o for o in r.lines("soak") if "ok" in o]
        self.assertTrue(soak[-1]["ok"], soak[-5:])
        tail = soak[-20:]
        self.assertTrue(all(o["ok"] for o in tail), "recovered: the last queries all succeed: %s" % tail)
        for o in soak:
            if not o["ok"]:
                self.assertIn(o["kind"], ("CONNECTION", "UNAVAILABLE"), o)
        self.assertTrue(r.log_lines("warn"), "the lost connections are logged")

    def test_server_restart_recovery(self):
        r = Run("soak", self.stack.database_url, "14")
        self.assertTrue(r.wait_for(lambda o: o.get("started")), r.out[-10:])
        time.sleep(1.0)
        self.stack.stop_pg()
        time.sleep(2.0)
        self.stack.start_pg()
        self.assertTrue(self._notify_until_seen(r, "after-restart", timeout=20), "LISTEN re-subscribes after restart")
        rc, err = r.finish(60)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("Sanitizer", err, err)
        soak = [o for o in r.lines("soak") if "ok" in o]
        failed = [o for o in soak if not o["ok"]]
        self.assertTrue(failed, "queries during the outage must fail")
        for o in failed:
            self.assertIn(o["kind"], ("CONNECTION", "UNAVAILABLE"), o)
        self.assertTrue(any(o["kind"] == "UNAVAILABLE" for o in failed), "down: fail fast as UNAVAILABLE")
        self.assertTrue(all(o["ok"] for o in soak[-20:]), "recovered after restart: %s" % soak[-20:])
        summary = r.lines("soak-summary")[0]
        self.assertGreater(summary["ok"], 50)

    def test_redis_down_then_up(self):
        r = Run("redis", self.stack.redis_url, "10")
        self.assertTrue(r.wait_for(lambda o: o.get("started")), r.out[-10:])
        self.assertTrue(r.wait_for(lambda o: o.get("op") == "get" and o["ok"]), "GET works")
        self.stack.stop_redis()
        self.assertTrue(r.wait_for(lambda o: o.get("op") == "rl" and o["degraded"], 5), "rate limit fails open")
        self.assertTrue(r.wait_for(lambda o: o.get("op") == "get" and not o["ok"] and o["err"], 5))
        time.sleep(1.0)
        self.stack.start_redis()
        n_before = len(r.out)
        rc, err = r.finish(60)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("Sanitizer", err, err)
        later = [o for o in r.lines("redis") if o.get("op") == "get"]
        self.assertTrue(later[-1]["ok"], "recovered: %s" % later[-5:])
        rls = [o for o in r.lines("redis") if o.get("op") == "rl"]
        self.assertTrue(all(o["allowed"] for o in rls), "huge limit: everything allowed (open or degraded)")
        self.assertFalse(rls[-1]["degraded"], "rate limiter back on Redis after recovery")
        self.assertGreater(len(r.out), n_before - 1)

    def test_gcra_burst_limit_refill(self):
        r = self.run_driver("gcra", self.stack.redis_url)
        self.assertEqual(r.lines("gcra-flush"), [{"drv": "gcra-flush", "ok": True}])
        res = r.lines("gcra")
        self.assertEqual(len(res), 7, res)
        for i in range(5):
            self.assertTrue(res[i]["allowed"], res[i])
            self.assertFalse(res[i]["degraded"], "EVALSHA fell back to EVAL after SCRIPT FLUSH: %s" % res[i])
            self.assertEqual(res[i]["remaining"], 4 - i, res[i])
            self.assertEqual(res[i]["limit"], 5)
        self.assertFalse(res[5]["allowed"], res[5])
        self.assertEqual(res[5]["retryAfter"], 1, res[5])
        self.assertEqual(res[5]["remaining"], 0)
        self.assertGreaterEqual(res[5]["reset"], 1)
        self.assertTrue(res[6]["allowed"], "one token refilled after a second: %s" % res[6])
        self.assertEqual(res[6]["remaining"], 0, res[6])


@unittest.skipUnless(os.access(driver_path(), os.X_OK), "pgdriver not built (make all)")
class IdemStoreTest(gxtest.GxTestCase):
    """gx/idem.h against the real "HttpIdempotency" table of migration 0001."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stack.start_pg()
        sql = os.path.join(gxtest.REPO_ROOT, "common", "sql", "0001_init.sql")
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(cls.stack.pg.port),
                        "-U", "postgres", "-d", cls.stack.pg.dbname, "-f", sql], check=True,
                       stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)

    def idem(self, *args):
        r = Run("idem", self.stack.database_url, *args)
        rc, err = r.finish(30)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("Sanitizer", err, err)
        (res,) = r.lines("idem")
        return res

    def test_lifecycle(self):
        key = "t1:user-1:svc-test:key-1"
        a, b = "a" * 64, "b" * 64
        self.assertEqual(self.idem("begin", key, "POST", "/api/v1/x", a)["state"], "NEW")
        self.assertEqual(self.idem("begin", key, "POST", "/api/v1/x", a)["state"], "IN_FLIGHT")
        self.assertEqual(self.idem("begin", key, "POST", "/api/v1/x", b)["state"], "MISMATCH")
        self.assertEqual(self.idem("begin", key, "POST", "/api/v1/y", a)["state"], "MISMATCH")
        body = b'{"commandId":"x"}\n\x00\xff\xfe'
        self.assertTrue(self.idem("complete", key, "201", '{"Content-Type":"application/json"}', body.hex())["ok"])
        rep = self.idem("begin", key, "POST", "/api/v1/x", a)
        self.assertEqual(rep["state"], "REPLAY")
        self.assertEqual(rep["status"], 201)
        self.assertEqual(bytes.fromhex(rep["bodyHex"]), body, "replayed byte for byte")
        self.assertEqual(rep["headers"], {"Content-Type": "application/json"})
        self.assertEqual(self.idem("begin", key, "POST", "/api/v1/x", b)["state"], "MISMATCH")
        row = self.stack.psql('SELECT "tenantId", "callerId", "idempotencyKey", "state" FROM "HttpIdempotency" '
                             'WHERE "callerId" = \'user-1\'')
        self.assertEqual(row, [("t1", "user-1", "svc-test:key-1", "COMPLETE")])
        # other callers' keys are separate records
        self.assertEqual(self.idem("begin", "t1:user-2:svc-test:key-1", "POST", "/api/v1/x", b)["state"], "NEW")
        # expired records are replaced
        self.stack.psql('UPDATE "HttpIdempotency" SET "expiresAt" = now() - interval \'1 second\' '
                        'WHERE "callerId" = \'user-1\'')
        self.assertEqual(self.idem("begin", key, "POST", "/api/v1/x", b)["state"], "NEW")

    def test_abort_and_stale_takeover(self):
        key = "t1:anon:svc-test:key-2"
        h = "c" * 64
        self.assertEqual(self.idem("begin", key, "POST", "/p", h)["state"], "NEW")
        self.assertTrue(self.idem("abort", key)["ok"])
        self.assertEqual(self.idem("begin", key, "POST", "/p", h)["state"], "NEW", "abort frees the key")
        self.assertEqual(self.idem("begin", key, "POST", "/p", h)["state"], "IN_FLIGHT")
        self.stack.psql('UPDATE "HttpIdempotency" SET "updatedAt" = now() - interval \'61 seconds\' '
                        'WHERE "callerId" = \'anon\'')
        self.assertEqual(self.idem("begin", key, "POST", "/p", h)["state"], "NEW", "stale IN_FLIGHT is taken over")
        # completing inside a caller's transaction (the outbox path)
        self.assertTrue(self.idem("txncomplete", key, "202", "{}", b"{}".hex())["ok"])
        rep = self.idem("begin", key, "POST", "/p", h)
        self.assertEqual((rep["state"], rep["status"], rep["bodyHex"]), ("REPLAY", 202, b"{}".hex()))

    def test_unscoped_key(self):
        self.assertEqual(self.idem("begin", "plainkey", "POST", "/p", "d" * 64)["state"], "NEW")
        self.assertEqual(self.stack.psql('SELECT "tenantId", "callerId" FROM "HttpIdempotency" '
                                         'WHERE "idempotencyKey" = \'plainkey\''), [("default", "")])


if __name__ == "__main__":
    unittest.main()

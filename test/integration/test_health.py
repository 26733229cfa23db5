"""Health, metrics and HTTP-contract basics of every daemon binary that is built (design.md §3 and §8).

One test per daemon and check (test_<check>__<daemon>): a daemon that is not built is reported as skipped.
"""

import re
import signal
import time
import unittest
import uuid

import gxtest
from gxtest import API_DAEMONS, DAEMONS, GxTestCase, request
from gxtest.compat import assert_shape
from gxtest.services import start_backing

ERROR_CODE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
HTTP_PHRASE = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
               409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Entity",
               429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


def assert_error_format(tc, r, status):
    """docs/errors.md: {"error": <reason phrase>, "message", "code", "statusCode", "requestId", "details"?}."""
    tc.assertEqual(r.status, status, r)
    ctype = r.headers.get("Content-Type", "")
    tc.assertTrue(ctype.startswith("application/json"), "Content-Type %r" % ctype)
    body = r.json()
    tc.assertIsInstance(body, dict, r.body)
    err = body
    tc.assertEqual(err.get("error"), HTTP_PHRASE.get(status), r.body)
    tc.assertRegex(err.get("code") or "", ERROR_CODE)
    tc.assertIsInstance(err.get("message"), str)
    tc.assertTrue(err["message"], "empty message")
    tc.assertEqual(err.get("statusCode"), status)
    tc.assertTrue(err.get("requestId"), "no requestId in error body")
    tc.assertEqual(err.get("requestId"), r.headers.get("X-Request-Id"))
    if "details" in err:
        tc.assertIsInstance(err["details"], list)


WORKERS = ("outbox-submitter", "projector")


def _start_peer(stack):
    """The workers need the Fabric stand-in and their identities; without a peer they are (rightly) not ready.
    Returns the FABRIC_* environment for them ({} when the stand-in is not built)."""
    if not gxtest.have_binary("gx-fabric-peer"):
        return {}
    from gxtest.chain import Chain
    chain = Chain(stack)
    chain.start_peer()
    return chain.fabric_env()


def _env_for(fabric_env, name):
    return fabric_env if name in WORKERS else None


class HealthTest(GxTestCase):
    """Every built daemon against one migrated PostgreSQL and one Redis."""

    daemons = {}
    start_errors = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not any(gxtest.have_binary(d) for d in DAEMONS):
            raise unittest.SkipTest("no daemon is built in %s" % gxtest.bin_dir())
        start_backing(cls.stack)
        cls.daemons, cls.start_errors = {}, {}
        # The workers need the Fabric stand-in and their identities; without a peer they are (rightly) not ready.
        cls.fabric_env = _start_peer(cls.stack)
        for name in DAEMONS:
            if not gxtest.have_binary(name):
                continue
            try:
                cls.daemons[name] = cls.stack.start_daemon(name, env=_env_for(cls.fabric_env, name))
            except AssertionError as e:
                cls.start_errors[name] = str(e)

    def daemon(self, name):
        if not gxtest.have_binary(name):
            self.skipTest("%s is not built" % name)
        if name in self.start_errors:
            self.fail("%s did not become ready: %s" % (name, self.start_errors[name]))
        return self.daemons[name]

    def check_health(self, name):
        d = self.daemon(name)
        for path in ("/health", "/livez", "/readyz"):
            r = request("GET", d.url + path)
            self.assertEqual(r.status, 200, "%s %s" % (path, r))
            self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"),
                            "%s Content-Type %r" % (path, r.headers.get("Content-Type")))
            self.assertIsInstance(r.json(), dict, "%s body is not a JSON object: %r" % (path, r.body))

    def check_original_health_keys(self, name):
        """The original backend's health, liveness and readiness keys with their JSON types (docs/compat.md)."""
        d = self.daemon(name)
        iso = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"
        h = request("GET", d.url + "/health").json()
        # the original's workers said healthy/unhealthy (always 200), its APIs ok
        self.assertEqual((h["status"], h["service"]), ("ok" if name in API_DAEMONS else "healthy", name))
        self.assertRegex(h["timestamp"], iso)
        breaker = {"state": "string", "successes": "integer", "failures": "integer", "openCount": "integer"}
        if name == "outbox-submitter":
            assert_shape(self, h, {"fabricClientsConnected": "integer", "queueDepth": "integer",
                                   "fabricCircuitBreakers": {"org1-super-admin": breaker, "org1-admin": breaker,
                                                             "org1-partner-api": breaker}}, "/health")
            self.assertEqual(h["fabricClientsConnected"], 3)
            self.assertEqual({b["state"] for b in h["fabricCircuitBreakers"].values()}, {"CLOSED"})
        if name == "projector":
            assert_shape(self, h, {"lastProcessedBlock": "string", "eventCounter": "integer",
                                   "fabricCircuitBreaker": breaker}, "/health")
            self.assertRegex(h["lastProcessedBlock"], r"^\d+$")
        self.assertIsInstance(h["uptime"], (int, float))
        self.assertGreaterEqual(h["uptime"], 0)
        live = request("GET", d.url + "/livez").json()
        self.assertEqual((live["status"], live["service"]), ("alive", name))
        self.assertRegex(live["timestamp"], iso)
        self.assertIsInstance(live["uptime"], (int, float))
        mem = live["memoryUsage"]
        self.assertEqual(set(mem), {"rss", "heapTotal", "heapUsed", "external", "arrayBuffers"})
        for k, v in mem.items():
            self.assertIsInstance(v, int, k)
        self.assertGreater(mem["rss"], 1 << 20)
        ready = request("GET", d.url + "/readyz").json()
        self.assertEqual((ready["status"], ready["service"]), ("ready", name))
        self.assertRegex(ready["timestamp"], iso)
        self.assertEqual(ready["checks"]["database"], {"status": "healthy"})

    def check_metrics(self, name):
        d = self.daemon(name)
        request("GET", d.url + "/health")
        r = request("GET", d.url + "/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/plain"), r.headers.get("Content-Type"))
        text = r.text
        self.assertRegex(text, r"(?m)^# TYPE \w+ (counter|gauge|histogram)$")
        for line in text.splitlines():
            if line and not line.startswith("#"):
                self.assertRegex(line, r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+$", "bad sample line")
        if name in API_DAEMONS:
            # request counts and latency histograms per route and status
            self.assertRegex(text, r"(?m)^# TYPE \w+ histogram$")
            self.assertRegex(text, r'(?m)^\w+_bucket\{.*le="\+Inf".*\} \d+')
            # the original backend's names and label values beside ours (docs/compat.md)
            request("GET", d.url + "/api/v1/commands/%s" % uuid.uuid4())
            self.assertRegex(text + request("GET", d.url + "/metrics").text,
                             r'(?m)^http_http_requests_total\{route="/health",method="GET",status="2XX"\} \d+$')
            text = request("GET", d.url + "/metrics").text
            self.assertRegex(text, r'(?m)^http_http_requests_total\{route="/api/v1/commands/#val",method="GET",'
                                   r'status="4XX"\} \d+$')
            self.assertRegex(text, r'(?m)^http_http_request_duration_seconds_bucket\{route="/health",method="GET",'
                                   r'status="2XX",le="1.5"\} \d+$')
            self.assertNotIn('http_http_requests_total{route="/metrics"', text)
            self.assertRegex(text, r"(?m)^http_process_cpu_user_seconds_total \S+$")
            self.assertRegex(text, r"(?m)^http_process_resident_memory_bytes \d+$")
        # the original's process families, unprefixed, on every daemon
        for fam in ("process_cpu_user_seconds_total", "process_cpu_system_seconds_total", "process_max_fds",
                    "process_start_time_seconds"):
            self.assertRegex(text, r"(?m)^%s \S+$" % fam)
        # the original workers' own families (docs/compat.md)
        own = {"outbox-submitter": ["outbox_queue_depth", "outbox_worker_status",
                                    "outbox_processing_duration_seconds_count"],
               "projector": ["projector_blockchain_height", "projector_lag_blocks", "projector_worker_status",
                             "projector_checkpoints_saved_total", "projector_processing_duration_seconds_count"]}
        for fam in own.get(name, []):
            self.assertRegex(text, r"(?m)^%s \S+$" % fam)

    def check_not_found(self, name):
        d = self.daemon(name)
        r = request("GET", d.url + "/api/v1/no-such-route-for-sure")
        assert_error_format(self, r, 404)

    def check_wrong_method(self, name):
        d = self.daemon(name)
        r = request("DELETE", d.url + "/health")
        assert_error_format(self, r, 405)

    def check_request_id(self, name):
        d = self.daemon(name)
        rid = "harness-%d-%s" % (int(time.time() * 1000), name)
        r = request("GET", d.url + "/health", headers={"X-Request-Id": rid})
        self.assertEqual(r.headers.get("X-Request-Id"), rid)
        r = request("GET", d.url + "/api/v1/no-such-route", headers={"X-Request-Id": rid + "-404"})
        self.assertEqual(r.headers.get("X-Request-Id"), rid + "-404")
        self.assertEqual((r.json() or {}).get("requestId"), rid + "-404")
        generated = request("GET", d.url + "/health").headers.get("X-Request-Id")
        self.assertTrue(generated, "no X-Request-Id generated")
        self.assertNotEqual(generated, request("GET", d.url + "/health").headers.get("X-Request-Id"))
        # the id is in the log lines about that request
        d.wait_for_log(re.escape(rid + "-404"), timeout=5)

    def check_sigterm(self, name):
        self.daemon(name)
        fresh = self.stack.start_daemon(name, env=_env_for(self.fabric_env, name))
        t0 = time.monotonic()
        code = fresh.stop(signal.SIGTERM, timeout=5.0)
        self.assertEqual(code, 0, "exit code %s after SIGTERM; last lines:\n%s" % (code, fresh.log_tail()))
        self.assertLess(time.monotonic() - t0, 5.0)
        with self.assertRaises(OSError):
            request("GET", fresh.url + "/health", timeout=2)


CHECKS = ["health", "metrics", "not_found", "wrong_method", "request_id", "original_health_keys", "sigterm"]


def _make(check, name):
    def test(self):
        getattr(self, "check_" + check)(name)
    return test


for _name in DAEMONS:
    for _check in CHECKS:
        setattr(HealthTest, "test_%s__%s" % (_check, _name.replace("-", "_")), _make(_check, _name))


class ReadyzDependencyTest(GxTestCase):
    """With PostgreSQL stopped every daemon's /readyz answers 503 naming the failing check, and recovers after
    PostgreSQL comes back (reconnect)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.names = [d for d in DAEMONS if gxtest.have_binary(d)]
        if not cls.names:
            raise unittest.SkipTest("no daemon is built in %s" % gxtest.bin_dir())
        start_backing(cls.stack)
        cls.fabric_env = _start_peer(cls.stack)

    def test_readyz_follows_postgres(self):
        started = {}
        for name in self.names:
            d = self.stack.start_daemon(name, env=_env_for(self.fabric_env, name))
            d.expect_errors("")  # database errors are the point of this test
            started[name] = d
        self.stack.stop_pg()
        problems = []
        for name, d in started.items():
            try:
                r = d.wait_ready(timeout=15, want=503)
                text = r.text.lower()
                if not re.search(r"postgres|database|\"db\"|\"pg\"", text):
                    problems.append("%s: 503 body does not name the database check: %s" % (name, r.text[:300]))
                # liveness is not readiness: the process itself is fine
                live = request("GET", d.url + "/livez")
                if live.status != 200:
                    problems.append("%s: /livez %d while only PostgreSQL is down" % (name, live.status))
            except AssertionError as e:
                problems.append(str(e))
        self.stack.start_pg()
        for name, d in started.items():
            try:
                d.wait_ready(timeout=30)
            except AssertionError as e:
                problems.append("after PostgreSQL restart: " + str(e))
        self.assertEqual(problems, [], "\n".join(problems))


class ProjectionLagTest(GxTestCase):
    """/readyz checks.projectionLag as the original reported it (docs/compat.md): unknown before any projector
    checkpoint, healthy with lagMs while nothing on chain waits for the projector (an idle chain is not lag),
    unhealthy with the threshold once a committed command has waited longer; reported only, the API stays ready."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        start_backing(cls.stack)
        cls.d = cls.stack.start_daemon("svc-tax", env={"PROJECTION_LAG_THRESHOLD": "2s"})

    def lag(self):
        r = request("GET", self.d.url + "/readyz")
        self.assertEqual(r.status, 200, r.text)
        return r.json()["checks"]["projectionLag"]

    def test_lag_states(self):
        self.stack.psql('DELETE FROM "ProjectorState"')
        self.assertEqual(self.lag(), {"status": "unknown",
                                      "message": "No projector state found (fresh deployment)"})
        self.stack.psql('INSERT INTO "ProjectorState" ("tenantId", "projectorName", "channel", "lastBlock",'
                        ' "lastEventIndex", "updatedAt") VALUES (\'default\', \'main\', \'gxchannel\', 7, 0,'
                        ' now() - interval \'1 hour\')')
        self.assertEqual(self.lag(), {"status": "healthy", "value": {"lagMs": 0}})
        cid = str(uuid.uuid4())
        self.stack.psql('INSERT INTO "OutboxCommand" ("id", "tenantId", "service", "commandType", "requestId",'
                        ' "payload", "status", "committedAt") VALUES (\'%s\', \'default\', \'test\', \'TRANSFER_TOKENS\','
                        ' \'%s\', \'{}\', \'COMMITTED\', now() - interval \'1 second\')' % (cid, cid))
        lag = self.lag()
        self.assertEqual(lag["status"], "healthy", lag)
        self.assertGreaterEqual(lag["value"]["lagMs"], 1000)
        self.stack.psql('UPDATE "OutboxCommand" SET "committedAt" = now() - interval \'10 seconds\''
                        ' WHERE "id" = \'%s\'' % cid)
        lag = self.lag()
        self.assertEqual((lag["status"], lag["message"], lag["value"]["threshold"]),
                         ("unhealthy", "Projection lag exceeds threshold", 2000), lag)
        self.assertGreaterEqual(lag["value"]["lagMs"], 10000)
        self.stack.psql('UPDATE "OutboxCommand" SET "status" = \'PROJECTED\' WHERE "id" = \'%s\'' % cid)
        self.assertEqual(self.lag()["status"], "healthy")


class StartupWaitTest(GxTestCase):
    """PostgreSQL unreachable at start: by default a daemon waits STARTUP_WAIT, then exits 3 with one fatal line
    naming the database; STARTUP_WAIT=0 starts anyway, stays live and reports the database on /readyz."""

    def dead_url(self):
        return "postgresql://gx@127.0.0.1:%d/gx" % gxtest.free_port()

    def test_exit_3_with_one_line(self):
        for name in ("svc-tax", "svc-identity"):
            d = self.stack.start_daemon(name, env={"DATABASE_URL": self.dead_url(), "STARTUP_WAIT": "1s"},
                                        wait_ready=False)
            d.expect_errors("PostgreSQL is unreachable at start")
            t0 = time.monotonic()
            while d.alive() and time.monotonic() - t0 < 15:
                time.sleep(0.1)
            self.assertFalse(d.alive(), "%s still running after STARTUP_WAIT" % name)
            self.assertEqual(d.popen.returncode, 3, d.log_tail())
            self.assertGreaterEqual(time.monotonic() - t0, 0.9, "it must wait STARTUP_WAIT first")
            fatal = [ln for ln in d.log_text().splitlines() if '"level":"fatal"' in ln]
            self.assertEqual(len(fatal), 1, fatal)
            self.assertRegex(fatal[0], r"PostgreSQL is unreachable at start .*Connection refused")

    def test_zero_keeps_retrying(self):
        d = self.stack.start_daemon("svc-tax", env={"DATABASE_URL": self.dead_url(), "STARTUP_WAIT": "0"},
                                    wait_ready=False)
        d.expect_errors("")
        r = d.wait_ready(timeout=15, path="/livez")
        self.assertEqual(r.status, 200)
        r = d.wait_ready(timeout=15, want=503)
        self.assertEqual(r.json()["checks"]["db"], "unavailable", r.text)
        self.assertTrue(d.alive())


if __name__ == "__main__":
    unittest.main()

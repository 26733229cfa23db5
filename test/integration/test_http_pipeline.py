"""The shared request pipeline (gx/http.h) end to end, through echod (test/integration/echod.c, built as
<build>/<mode>/itest/echod): auth, body checks, params and query, CORS, X-Forwarded-For, strict rate limits,
idempotency replay, client gone mid-request, drain on SIGTERM, Redis down (fail open), drain timeout.

Also the helpers other tests import (import test_http_pipeline as tp): tp.start_echod(stack, ...), tp.ECHOD_TABLE.
"""

import os
import signal
import socket
import subprocess
import threading
import time
import unittest
import uuid

import gxtest
import gxtest.auth as auth
from gxtest import bearer, mint_token, request, sign_raw

ECHOD_TABLE = ("CREATE TABLE IF NOT EXISTS echod_exec (id bigserial PRIMARY KEY, sub text, to_id text, "
               "amount bigint, memo text)")


def echod_path():
    return os.environ.get("GX_ECHOD") or os.path.join(gxtest.bin_dir(), "..", "itest", "echod")


def have_echod():
    return os.access(echod_path(), os.X_OK)


def start_echod(stack, env=None, port=None, wait_ready=True, name="echod"):
    """Start echod with the daemon environment of svc-tax (PORT, DATABASE_URL, REDIS_URL, JWT_SECRET), two HTTP
    threads and DRAIN_DELAY=0 (fast teardown), then env; wait for /readyz 200 unless wait_ready is False. The
    Daemon joins the stack (log checks, teardown)."""
    if not have_echod():
        raise unittest.SkipTest("echod is not built (%s)" % echod_path())
    port = port or gxtest.free_port()
    e = dict({"HTTP_THREADS": "2", "DRAIN_DELAY": "0"}, **(env or {}))
    log = os.path.join(stack.logdir, "%s-%d.log" % (name, port))
    d = gxtest.Daemon([os.path.abspath(echod_path())], stack.daemon_env("svc-tax", port, e), name, log, port)
    stack.procs.append(d)
    if wait_ready:
        d.wait_ready(30)
    return d


def wait_exit(d, timeout=8.0):
    t0 = time.monotonic()
    while d.alive() and time.monotonic() - t0 < timeout:
        time.sleep(0.05)
    return not d.alive()


def redis_cli(stack, *args):
    return subprocess.run(["redis-cli", "-u", stack.redis_url] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=10).stdout.decode()


JSON = {"Content-Type": "application/json"}


class EchodCase(gxtest.GxTestCase):
    """Base of the echod suites (here and in test_hostile.py): skips when echod is not built, else starts PostgreSQL,
    Redis unless REDIS is false, migrates, and creates ECHOD_TABLE when TABLE is true. Subclasses start their echod."""

    REDIS = True
    TABLE = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not have_echod():
            raise unittest.SkipTest("echod is not built (%s)" % echod_path())
        cls.stack.start_pg()
        if cls.REDIS:
            cls.stack.start_redis()
        cls.stack.migrate()
        if cls.TABLE:
            cls.stack.psql(ECHOD_TABLE)


class Pipeline(EchodCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.d = start_echod(cls.stack, env={"RATE_LIMIT_STRICT_PER_MIN": "3", "RATE_LIMIT_STRICT_BURST": "3",
                                            "CORS_ORIGINS": "https://app.example", "TRUSTED_PROXIES": "127.0.0.1"})
        cls.u = cls.d.url
        cls.d.expect_errors("boom")

    def err(self, r, status, code):
        self.assertEqual(r.status, status, r)
        body = r.json()
        self.assertIsNotNone(body, r)
        self.assertEqual(body["code"], code, r)
        self.assertEqual(body["statusCode"], status, r)
        self.assertEqual(body["requestId"], r.headers.get("X-Request-Id"))
        return body

    def test_auth(self):
        r = request("POST", self.u + "/api/v1/echo", json_body={"a": 1})
        e = self.err(r, 401, "UNAUTHORIZED")
        self.assertEqual(e["details"][0]["issue"], "TOKEN_MISSING")
        self.assertIn("WWW-Authenticate", r.headers)
        # the original's texts (docs/compat.md)
        self.assertEqual(e["message"], "No authorization header provided")
        e = self.err(request("POST", self.u + "/api/v1/echo", json_body={}, headers={"Authorization": "Token x"}),
                     401, "UNAUTHORIZED")
        self.assertEqual(e["message"], "Invalid authorization header format. Expected: Bearer <token>")
        tok = mint_token("p1", "USER")
        r = request("POST", self.u + "/api/v1/echo", json_body={"a": 1}, headers=bearer(tok))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["sub"], "p1")
        self.assertEqual(r.json()["a"], 1)
        self.assertEqual(r.headers.get("Location"), "/x/1")
        self.assertIsNotNone(r.headers.get("RateLimit-Limit"))
        e = self.err(request("GET", self.u + "/api/v1/admin", headers=bearer(tok)), 403, "FORBIDDEN")
        self.assertEqual(e["message"], "Insufficient permissions to access this resource")
        r = request("GET", self.u + "/api/v1/admin", headers=bearer(mint_token("p2", "ADMIN")))
        self.assertEqual(r.status, 201, r)
        h, p, s = tok.split(".")
        bad = "%s.%s.%s" % (h, p, s[:10] + ("A" if s[10] != "A" else "B") + s[11:])  # stays canonical base64url
        e = self.err(request("POST", self.u + "/api/v1/echo", json_body={}, headers=bearer(bad)), 401, "UNAUTHORIZED")
        self.assertEqual(e["details"][0]["issue"], "TOKEN_BAD_SIGNATURE")
        self.assertEqual(e["message"], "Invalid or expired token")
        # revoked: the jti is on the Redis denylist
        c = auth.claims("p3", "USER")
        t = sign_raw({"alg": "HS256", "typ": "JWT"}, c)
        r = request("POST", self.u + "/api/v1/echo", json_body={}, headers=bearer(t))
        self.assertEqual(r.status, 201, r)
        redis_cli(self.stack, "SET", "gx:revoked:jti:" + c["jti"], "1")
        e = self.err(request("POST", self.u + "/api/v1/echo", json_body={}, headers=bearer(t)), 401, "UNAUTHORIZED")
        self.assertEqual(e["details"][0]["issue"], "TOKEN_REVOKED")
        # a public route ignores a bad token
        self.assertEqual(request("GET", self.u + "/api/v1/things/x", headers=bearer(bad)).status, 200)

    def test_body(self):
        h = dict(bearer(mint_token("p1")), **JSON)
        self.err(request("POST", self.u + "/api/v1/echo", raw_body="{bad", headers=h), 400, "INVALID_JSON")
        self.err(request("POST", self.u + "/api/v1/echo", raw_body="[1]", headers=h), 400, "INVALID_JSON")
        self.err(request("POST", self.u + "/api/v1/echo", raw_body='{"a":1} x', headers=h), 400, "INVALID_JSON")
        r = request("POST", self.u + "/api/v1/echo", raw_body='{"a":1}\r\n ', headers=h)
        self.assertEqual(r.status, 201, r)
        th = dict(bearer(mint_token("p1")), **{"Content-Type": "text/plain"})
        self.err(request("POST", self.u + "/api/v1/echo", raw_body="{}", headers=th), 415, "UNSUPPORTED_MEDIA_TYPE")
        deep = "[" * 40 + "]" * 40
        self.err(request("POST", self.u + "/api/v1/echo", raw_body='{"a":%s}' % deep, headers=h), 400,
                 "INVALID_JSON")
        self.err(request("POST", self.u + "/api/v1/echo", raw_body=b'{"a":"\xff"}', headers=h), 400, "INVALID_JSON")
        big = '{"a":"' + "x" * (1024 * 1024 + 10) + '"}'
        self.err(request("POST", self.u + "/api/v1/echo", raw_body=big, headers=h), 413, "PAYLOAD_TOO_LARGE")
        self.assertEqual(request("GET", self.u + "/health").status, 200)

    def test_params_query_cors_xff(self):
        r = request("GET", self.u + "/api/v1/things/a%20b?q=x%26y")
        self.assertEqual(r.json()["id"], "a b")
        self.assertEqual(r.json()["q"], "x&y")
        self.assertEqual(r.headers.get("X-Content-Type-Options"), "nosniff")
        self.err(request("GET", self.u + "/api/v1/things/a%2Fb"), 400, "INVALID_PATH")
        self.err(request("GET", self.u + "/api/v1/things/x/"), 404, "NOT_FOUND")
        r = request("DELETE", self.u + "/api/v1/things/x")
        self.err(r, 405, "METHOD_NOT_ALLOWED")
        self.assertIn("GET", r.headers.get("Allow"))
        r = request("GET", self.u + "/api/v1/things/x", headers={"X-Forwarded-For": "10.1.1.1, 127.0.0.1"})
        self.assertEqual(r.json()["ip"], "10.1.1.1")
        r = request("OPTIONS", self.u + "/api/v1/echo",
                    headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
        self.assertEqual(r.status, 204)
        self.assertEqual(r.headers.get("Access-Control-Allow-Origin"), "https://app.example")
        r = request("GET", self.u + "/health", headers={"Origin": "https://evil.example"})
        self.assertIsNone(r.headers.get("Access-Control-Allow-Origin"))
        self.assertEqual(request("HEAD", self.u + "/health").status, 200)
        self.assertEqual(request("GET", self.u + "/openapi.json").json()["openapi"], "3.0.3")
        self.assertEqual(request("GET", self.u + "/api/v1/commands/" + str(uuid.uuid4())).status, 404)

    def test_ratelimit_strict(self):
        codes = []
        for _ in range(6):
            r = request("POST", self.u + "/api/v1/open", json_body={}, headers={"X-Forwarded-For": "10.9.9.9"})
            codes.append(r.status)
            if r.status == 429:
                last = r
        self.assertEqual(codes[:3], [201, 201, 201], codes)
        self.assertIn(429, codes, codes)
        self.assertIsNotNone(last.headers.get("Retry-After"))
        self.assertEqual(last.json()["code"], "RATE_LIMITED")

    def test_idempotency(self):
        h = dict(bearer(mint_token("p9")), **{"Idempotency-Key": "k-" + str(uuid.uuid4())})
        r1 = request("POST", self.u + "/api/v1/echo", json_body={"v": 1}, headers=h)
        r2 = request("POST", self.u + "/api/v1/echo", json_body={"v": 1}, headers=h)
        self.assertEqual(r1.status, 201)
        self.assertEqual(r2.status, 201)
        self.assertEqual(r1.body, r2.body)
        self.assertIsNone(r1.headers.get("Idempotent-Replayed"))
        self.assertEqual(r2.headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(r2.headers.get("Location"), "/x/1")
        self.assertTrue(r2.headers.get("Content-Type").startswith("application/json"))
        self.err(request("POST", self.u + "/api/v1/echo", json_body={"v": 2}, headers=h), 422,
                 "IDEMPOTENCY_KEY_REUSED")
        self.err(request("POST", self.u + "/api/v1/echo", json_body={"v": 1},
                         headers=dict(h, **{"Idempotency-Key": "bad key"})), 400, "INVALID_IDEMPOTENCY_KEY")
        # the record is written before the answer leaves: a client that retries the moment it has the answer
        # gets the replay, never 409 IN_PROGRESS (the record used to be completed after the reply)
        for i in range(25):
            hk = dict(h, **{"Idempotency-Key": "seq-%d-%s" % (i, uuid.uuid4())})
            a = request("POST", self.u + "/api/v1/echo", json_body={"v": i}, headers=hk)
            b = request("POST", self.u + "/api/v1/echo", json_body={"v": i}, headers=hk)
            self.assertEqual((a.status, b.status, b.headers.get("Idempotent-Replayed")), (201, 201, "true"), b.text)
        # another caller with the same key is another scope: runs anew
        r4 = request("POST", self.u + "/api/v1/echo", json_body={"v": 1},
                     headers=dict(h, **bearer(mint_token("p10"))))
        self.assertEqual(r4.status, 201)
        self.assertIsNone(r4.headers.get("Idempotent-Replayed"))
        # 5xx is not stored: a retry runs again
        k = {"Idempotency-Key": "f-" + str(uuid.uuid4())}
        a = request("POST", self.u + "/api/v1/fail", json_body={}, headers=k)
        b = request("POST", self.u + "/api/v1/fail", json_body={}, headers=k)
        self.assertEqual(a.status, 500)
        self.assertEqual(b.status, 500)
        self.assertIsNone(b.headers.get("Idempotent-Replayed"))

    def test_client_gone(self):
        s = socket.create_connection(("127.0.0.1", self.d.port))
        s.sendall(b"GET /api/v1/slow HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        s.close()
        time.sleep(2.5)
        r = request("GET", self.u + "/metrics")
        self.assertRegex(r.text, r'gx_http_requests_total\{route="/api/v1/slow",method="GET",status="200"\} [1-9]')
        self.assertEqual(request("GET", self.u + "/health").status, 200)

    def sigterm_during_slow(self, d, after_kill=None):
        """GET /api/v1/slow on d, SIGTERM 0.3 s into it, run after_kill(); return the slow request's answer once d
        has exited 0."""
        res = {}
        t = threading.Thread(target=lambda: res.setdefault("r", request("GET", d.url + "/api/v1/slow")))
        t.start()
        time.sleep(0.3)
        os.kill(d.pid, signal.SIGTERM)
        if after_kill:
            after_kill()
        t.join()
        self.assertTrue(wait_exit(d, 5))
        self.assertEqual(d.popen.returncode, 0)
        d.stopped_by_test = True
        return res["r"]

    def test_zz_drain(self):
        d = start_echod(self.stack, env={"DRAIN_DELAY": "500ms", "DRAIN_TIMEOUT": "5s"})

        def readyz_503():
            time.sleep(0.2)
            self.assertEqual(request("GET", d.url + "/readyz").status, 503)
        self.assertEqual(self.sigterm_during_slow(d, readyz_503).status, 200)

    def test_zz_drain_timeout_leftover_answered_503(self):
        d = start_echod(self.stack, env={"DRAIN_DELAY": "0", "DRAIN_TIMEOUT": "300ms"})
        d.expect_errors("shut down before")
        r = self.sigterm_during_slow(d)
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json()["code"], "SHUTTING_DOWN")


class Degraded(EchodCase):
    REDIS = False
    TABLE = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.d = start_echod(cls.stack, env={"REDIS_URL": "redis://127.0.0.1:%d" % gxtest.free_port()})
        cls.d.expect_errors("redis")

    def test_redis_down_fails_open(self):
        r = request("GET", self.d.url + "/readyz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["checks"]["redis"], "degraded")
        for _ in range(3):
            r = request("POST", self.d.url + "/api/v1/echo", json_body={}, headers=bearer(mint_token("p1")))
            self.assertEqual(r.status, 201, r)
        m = request("GET", self.d.url + "/metrics").text
        self.assertRegex(m, r'gx_redis_degraded_total\{check="ratelimit"\} [1-9]')
        self.assertRegex(m, r'gx_redis_degraded_total\{check="revocation"\} [1-9]')

    def test_second_signal_exits_at_once(self):
        d = start_echod(self.stack, env={"REDIS_URL": "redis://127.0.0.1:1", "DRAIN_DELAY": "10s"})
        d.expect_errors("redis")
        os.kill(d.pid, signal.SIGTERM)
        time.sleep(0.3)
        self.assertTrue(d.alive())
        os.kill(d.pid, signal.SIGTERM)
        self.assertTrue(wait_exit(d, 3))
        d.stopped_by_test = True


if __name__ == "__main__":
    unittest.main(verbosity=2)

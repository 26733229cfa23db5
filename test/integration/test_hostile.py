"""Hostile input, JWT attacks (RFC 8725), idempotency races, rate limits across replicas and a graceful rollout,
against echod (test/integration/echod.c: the real gx http server and pipeline with a few test routes) and, when its
routes exist, svc-identity.

Every case asserts the answer: a clear 4xx in the one error format (or the documented libevent page where the
server cannot hook in), never a 5xx, and the daemon still answering; the harness fails a test whose daemon log
shows a sanitizer report or an unexpected error line.

Graceful rollout load generator (Replicas.test_sigterm_one_replica_under_load_zero_failures): two echod replicas
on their own ports stand in for the pods of a Kubernetes Service. An "endpoints" thread polls each replica's /readyz
every 50 ms and keeps only the ready ones in rotation, as the endpoints controller does; six client threads send
POST /api/v1/echo round-robin over the replicas in rotation, each on a new connection, and retry on the next replica
only when the connection is refused (the request was never sent, so a retry is safe). Any other outcome but 201
(reset, timeout, 5xx) counts as a failed request. The replica gets SIGTERM with DRAIN_DELAY=1s: /readyz turns 503 at
once, so the endpoints thread routes away long before its listener closes, and in-flight requests finish.
(Same-port SO_REUSEPORT replicas are not used: connections queued on the closing listener would be reset.)

Bodies are checked byte for byte over exactly Content-Length bytes: a \u0000 escape, a raw control character
(inside a string, or outside one other than whitespace) or a trailing NUL is 400 INVALID_JSON (test_nul_in_strings,
test_raw_control_characters); JWT parts follow the same rule (test_nul_in_alg). Slow clients meet a per-request
receive deadline besides the idle timeout (test_slowloris_*, test_deadline_*).
"""

import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import threading
import time
import unittest
import uuid

import gxtest
import gxtest.auth as auth
import test_http_pipeline as tp
from gxtest import bearer, mint_token, request

JSON = {"Content-Type": "application/json"}
OPEN_LIMITS = {"RATE_LIMIT_PER_MIN": "100000", "RATE_LIMIT_BURST": "100000",
               "RATE_LIMIT_STRICT_PER_MIN": "100000", "RATE_LIMIT_STRICT_BURST": "100000"}


def b64(data):
    return auth.b64url(data)


def forge(header, payload, key=None, digest=hashlib.sha256, raw_header=None):
    """A token with any header, signed with HMAC-<digest> over key (default: the test secret)."""
    key = (gxtest.TEST_JWT_SECRET if key is None else key)
    key = key.encode() if isinstance(key, str) else key
    h = raw_header if raw_header is not None else b64(json.dumps(header, separators=(",", ":")).encode())
    p = b64(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(key, ("%s.%s" % (h, p)).encode(), digest).digest()
    return "%s.%s.%s" % (h, p, b64(sig))


def raw_http(port, data, read_timeout=5.0):
    """Send raw bytes, return the first response bytes (b"" when the server closed without answering)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        out = b""
        try:
            while b"\r\n\r\n" not in out:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return out
    finally:
        s.close()


def status_of(raw):
    try:
        return int(raw.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


class HostileBase(tp.EchodCase):
    """One echod (request timeout 2 s, rate limits out of the way) over PostgreSQL and Redis."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.d = tp.start_echod(cls.stack, env=dict(OPEN_LIMITS, REQUEST_TIMEOUT="2s"))
        cls.u = cls.d.url
        cls.h = dict(bearer(mint_token("hostile-user")), **JSON)

    def alive(self):
        r = request("GET", self.u + "/health", timeout=5)
        self.assertEqual(r.status, 200, "daemon stopped answering: %r\n%s" % (r, self.d.log_tail(20)))

    def assert_error(self, r, status=None, code=None):
        """A 4xx in the one error format (design.md §3)."""
        self.assertTrue(400 <= r.status < 500, r)
        if status is not None:
            self.assertEqual(r.status, status, r)
        e = r.json() or {}
        self.assertIsInstance(e.get("error"), str, r)
        self.assertEqual(e["statusCode"], r.status, r)
        self.assertTrue(e["message"], r)
        self.assertEqual(e["requestId"], r.headers.get("X-Request-Id"), r)
        if code is not None:
            self.assertEqual(e["code"], code, r)
        return e

    def post(self, path, body, headers=None):
        raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return request("POST", self.u + path, raw_body=raw, headers=headers or self.h)

    def execs(self, to_id):
        return int(self.stack.psql("SELECT count(*) FROM echod_exec WHERE to_id = '%s'" % to_id)[0][0])


class InputCases:
    """Malformed, oversized and hostile requests (mixed into Hostile)."""

    def test_malformed_json(self):
        bodies = ["{", "}", "{\"a\":}", "{\"a\":1,}", "{'a':1}", "{\"a\":NaN}", "{\"a\":Infinity}",
                  "{\"a\":-Infinity}", "{\"a\":undefined}", "{\"a\":1}{\"b\":2}", "{\"a\":\"\\x41\"}",
                  "{\"a\":\"unterminated}", "{\"a\":tru}", "null", "1", "\"s\"", "[]", "true",
                  "{\"a\":1} trailing", "/*c*/{}"]
        for b in bodies:
            with self.subTest(body=b):
                self.assert_error(self.post("/api/v1/echo", b), 400, "INVALID_JSON")
        for depth in (33, 1000, 100000):
            with self.subTest(depth=depth):
                b = '{"a":' + "[" * depth + "]" * depth + "}"
                self.assert_error(self.post("/api/v1/echo", b), 400, "INVALID_JSON")
        self.assert_error(self.post("/api/v1/echo", '{"a":' + "[" * 50000), 400, "INVALID_JSON")
        self.assert_error(self.post("/api/v1/echo", '{"a":' + '{"b":' * 40 + "1" + "}" * 40 + "}"), 400,
                          "INVALID_JSON")
        # within the limit is fine
        ok = self.post("/api/v1/echo", '{"a":' + "[" * 30 + "]" * 30 + "}")
        self.assertEqual(ok.status, 201, ok)
        for ct in ("text/plain", "application/jsonx", "application/x-www-form-urlencoded", ""):
            with self.subTest(content_type=ct):
                h = dict(self.h, **{"Content-Type": ct})
                self.assert_error(self.post("/api/v1/echo", "{}", h), 415, "UNSUPPORTED_MEDIA_TYPE")
        self.alive()

    def test_huge_bodies(self):
        big = '{"a":"' + "x" * (1024 * 1024) + '"}'
        self.assert_error(self.post("/api/v1/echo", big), 413, "PAYLOAD_TOO_LARGE")
        big = '{"a":"' + "x" * (3 * 1024 * 1024) + '"}'
        self.assert_error(self.post("/api/v1/echo", big), 413, "PAYLOAD_TOO_LARGE")
        # beyond 4 x MAX_BODY_BYTES libevent refuses before reading the body (its own page, documented in http.h)
        head = ("POST /api/v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % (64 * 1024 * 1024)).encode()
        self.assertEqual(status_of(raw_http(self.d.port, head + b'{"a":"')), 413)
        # a body shorter than its Content-Length, then the client goes away
        s = socket.create_connection(("127.0.0.1", self.d.port))
        s.sendall(b"POST /api/v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"a\":")
        s.close()
        # many small members
        many = "{" + ",".join('"k%d":%d' % (i, i) for i in range(40000)) + "}"
        r = self.post("/api/v1/echo", many)
        self.assertEqual(r.status, 201, r)
        self.alive()

    def test_invalid_utf8(self):
        for seq in (b"\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80",
                    b"\xf8\x88\x80\x80\x80", b"\x80", b"\xc3"):
            with self.subTest(seq=seq):
                r = self.post("/api/v1/echo", b'{"a":"x' + seq + b'y"}')
                self.assert_error(r, 400, "INVALID_JSON")
                r = self.post("/api/v1/echo", b'{"k' + seq + b'":1}')
                self.assert_error(r, 400, "INVALID_JSON")
        # escaped lone surrogates are not text either
        for esc in ("\\ud800", "\\udfff", "\\ud800\\u0041"):
            with self.subTest(esc=esc):
                r = self.post("/api/v1/transfers", '{"to":"ab","amount":"1","memo":"%s"}' % esc)
                self.assert_error(r)
        self.alive()

    def test_nul_in_strings(self):
        # cJSON decodes \u0000 into a NUL byte that would end the C string ("a\u0000b" read as "a"): refused
        to = "nul-" + uuid.uuid4().hex[:8]
        for body in ('{"to":"%s\\u0000x","amount":"1"}' % to, '{"to":"%s","amount":"1","memo":"a\\u0000b"}' % to,
                     '{"a\\u0000":1}', '{"a":["x","\\\\\\u0000"]}'):
            with self.subTest(body=body):
                e = self.assert_error(self.post("/api/v1/transfers", body), 400, "INVALID_JSON")
                self.assertIn("u0000", e["message"])
        self.assertEqual(self.execs(to), 0)
        # an escaped backslash followed by the text "u0000" is no NUL: stored verbatim
        memo = "back\\u0000slash"
        r = self.post("/api/v1/transfers", {"to": to, "amount": "1", "memo": memo})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["memo"], memo)
        self.assertEqual(self.execs(to), 1)
        # other escapes of control characters are data, as RFC 8259 says (the route's own checks judge them)
        r = self.post("/api/v1/echo", '{"a":"\\u0001\\t\\n\\u001f"}')
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["a"], "\x01\t\n\x1f")

    def test_raw_control_characters(self):
        # cJSON skips every byte <= 0x20 as whitespace and takes raw control characters inside strings (RFC 8259
        # requires them escaped; a raw NUL truncates the string): only space, tab, CR and LF between tokens pass,
        # and the body is exactly Content-Length bytes (a trailing NUL is not an end of text)
        for body in (b'{"a":1}\x00', b'{"a":1}\r\n\x00', b'{"a":1}\x00\x00\x00', b"\x00{}", b"\x01{}",
                     b'{"a":"\x01"}', b'{"a":"\x00"}', b'{"a":"x\x1fy"}', b'{"a":\x0b1}', b'{"a":"\x00x"}',
                     b'{"a\x00":1}', b'{"a":"\\\x01"}', b'{"a":"tab\there"}', b'{"a":"new\nline"}'):
            with self.subTest(body=body):
                self.assert_error(self.post("/api/v1/echo", body), 400, "INVALID_JSON")
        r = self.post("/api/v1/echo", b' \t\r\n{ "a" :\t1 ,\r\n"b":"c" }\n\t ')
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.json()["a"], r.json()["b"]), (1, "c"))
        self.alive()

    def test_lenient_json_is_harmless(self):
        # cJSON also reads "01", "1." and a UTF-8 BOM; whatever the verdict, never a 5xx and never another value
        for raw in ("01", "1.", "1.0"):
            with self.subTest(raw=raw):
                r = self.post("/api/v1/transfers", '{"to":"lenient","amount":%s}' % raw)
                self.assertIn(r.status, (201, 400), r)
                if r.status == 201:
                    self.assertEqual(r.json()["amount"], "1")
        r = self.post("/api/v1/echo", "\ufeff{\"a\":2}")
        self.assertIn(r.status, (201, 400), r)
        self.assertEqual(r.json().get("a") if r.status == 201 else 2, 2)

    def test_nul_does_not_crash(self):
        # whatever the verdict on NUL, it never crashes or answers 5xx
        for body in (b'{"a\\u0000":1}', b'{"a":"\\u0000"}', b'{"to":"\\u0000","amount":"1"}', b'{"a":"\x00"}',
                     b'{"to":"a","amount":"1\\u0000"}', b'{"to":"a","amount":"1","memo":"\\u0000"}'):
            with self.subTest(body=body):
                r = self.post("/api/v1/transfers", body)
                self.assertLess(r.status, 500, r)
        self.alive()

    def test_overlong_headers_and_urls(self):
        # up to the 64 KiB header limit the pipeline answers; beyond it libevent answers 400 (its own page)
        r = request("GET", self.u + "/api/v1/things/" + "a" * 8000)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["id"], "a" * 8000)
        r = request("GET", self.u + "/api/v1/items/" + "a" * 8000)
        e = self.assert_error(r, 400, "VALIDATION_FAILED")
        self.assertEqual(e["details"][0]["field"], "id")
        for n in (70 * 1024, 1024 * 1024):
            with self.subTest(url=n):
                raw = raw_http(self.d.port, b"GET /api/v1/things/" + b"a" * n + b" HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertIn(status_of(raw), (None, 400, 413, 414, 431), raw[:200])
            with self.subTest(header=n):
                raw = raw_http(self.d.port, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * n + b"\r\n\r\n")
                self.assertIn(status_of(raw), (None, 400, 413, 431), raw[:200])
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(5000))
        raw = raw_http(self.d.port, b"GET /health HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        self.assertIn(status_of(raw), (200, 400, 431), raw[:200])
        # hostile values of headers the pipeline reads
        for hdr in ({"X-Request-Id": "x" * 500}, {"X-Request-Id": "a\tb"}, {"X-Forwarded-For": "1" * 5000},
                    {"X-Forwarded-For": ",,,"}, {"Origin": "o" * 5000}, {"Authorization": "Bearer " + "a" * 20000},
                    {"Idempotency-Key": "k" * 129}, {"Idempotency-Key": "\x7f"}, {"Content-Type": "a" * 5000}):
            with self.subTest(header=list(hdr)[0]):
                r = request("POST", self.u + "/api/v1/open", raw_body="{}", headers=dict(JSON, **hdr))
                self.assertLess(r.status, 500, r)
                self.assertNotEqual(r.headers.get("X-Request-Id"), hdr.get("X-Request-Id"))
        # bad request lines and methods
        for line in (b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                     b"BREW /health HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
                     b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                     b"POST /api/v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
            with self.subTest(line=line[:30]):
                raw = raw_http(self.d.port, line, read_timeout=4)
                st = status_of(raw)
                self.assertTrue(st is None or 400 <= st < 500 or st == 501, raw[:200])
        self.alive()

    def test_slowloris_closed_within_timeout(self):
        # evhttp's REQUEST_TIMEOUT is an idle timeout: a client trickling one header (or body) byte every 300 ms
        # never trips it. The receive deadline (REQUEST_TIMEOUT from the connection opening) closes it unanswered.
        before = self.deadline_count()
        s = socket.create_connection(("127.0.0.1", self.d.port))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: ")
        took = self._closed_after(s, trickle=True, limit=5.0)
        self.assertGreater(took, 1.5)
        self.assertLess(took, 3.0)
        b = socket.create_connection(("127.0.0.1", self.d.port))
        b.sendall(b"POST /api/v1/open HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100000\r\n\r\n{")
        took = self._closed_after(b, trickle=True, limit=5.0)
        self.assertGreater(took, 1.5)
        self.assertLess(took, 3.0)
        self.assertGreaterEqual(self.deadline_count() - before, 2)
        self.alive()

    def deadline_count(self):
        m = request("GET", self.u + "/metrics").text
        for line in m.splitlines():
            if line.startswith("gx_http_request_deadline_total"):
                return float(line.split()[-1])
        return 0.0

    def test_deadline_spares_handler_time_and_keepalive(self):
        # the deadline covers receiving one request: not the handler (GET /api/v1/slow takes 2 s, as long as the
        # timeout), not the response, and it starts again for each request on a kept-alive connection
        c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)
        try:
            t0 = time.monotonic()
            for i in range(6):
                c.request("GET", "/api/v1/things/k%d" % i)
                r = c.getresponse()
                self.assertEqual((r.status, json.loads(r.read())["id"]), (200, "k%d" % i))
                time.sleep(0.6)
            c.request("GET", "/api/v1/slow")
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (200, b'"slow done"'))
            c.request("GET", "/api/v1/things/after")
            r = c.getresponse()
            self.assertEqual((r.status, json.loads(r.read())["id"]), (200, "after"))
            self.assertGreater(time.monotonic() - t0, 5.0)  # well past one REQUEST_TIMEOUT on one connection
        finally:
            c.close()
        # a request trickled in within the timeout is served
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=5)
        try:
            for part in (b"GET /api/v1/things/slowly HTTP/1.1\r\n", b"Host: x\r\n", b"X-A: 1\r\n", b"\r\n"):
                s.sendall(part)
                time.sleep(0.3)
            self.assertEqual(status_of(s.recv(65536)), 200)
        finally:
            s.close()

    def _closed_after(self, s, trickle, limit):
        t0 = time.monotonic()
        s.settimeout(0.3)
        try:
            while time.monotonic() - t0 < limit:
                try:
                    if trickle:
                        s.sendall(b"a")
                    if not s.recv(4096):
                        return time.monotonic() - t0
                except socket.timeout:
                    continue
                except OSError:
                    return time.monotonic() - t0
            return float("inf")
        finally:
            s.close()

    def test_slowloris_idle_closed_and_others_served(self):
        # idle connections and half-sent requests are closed within REQUEST_TIMEOUT (2 s) while 30 slow clients
        # (idle, half headers, trickling headers, trickling body) never stop the server answering others
        socks = []
        for i in range(30):
            s = socket.create_connection(("127.0.0.1", self.d.port))
            if i % 4 == 1:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            elif i % 4 == 2:
                s.sendall(b"GET /health HTTP/1.1\r\nX-A: ")
            elif i % 4 == 3:
                s.sendall(b"POST /api/v1/open HTTP/1.1\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 100000\r\n\r\n{")
            socks.append(s)
        stop = time.monotonic() + 3
        while time.monotonic() < stop:
            for s in socks[2::4] + socks[3::4]:
                try:
                    s.sendall(b"a")
                except OSError:
                    pass
            t0 = time.monotonic()
            r = request("GET", self.u + "/api/v1/things/x", timeout=3)
            self.assertEqual(r.status, 200, r)
            self.assertLess(time.monotonic() - t0, 1.0)
            time.sleep(0.3)
        for s in socks:
            s.close()
        idle = socket.create_connection(("127.0.0.1", self.d.port))
        self.assertLess(self._closed_after(idle, trickle=False, limit=6.0), 3.5)
        half = socket.create_connection(("127.0.0.1", self.d.port))
        half.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        self.assertLess(self._closed_after(half, trickle=False, limit=6.0), 3.5)
        self.alive()

    def test_path_traversal_ids(self):
        cases = {
            "%2e%2e": ("VALIDATION_FAILED", 400), "..": ("VALIDATION_FAILED", 400),
            "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd": ("INVALID_PATH", 400), "..%2f..%2fetc": ("INVALID_PATH", 400),
            "a%00b": ("INVALID_PATH", 400), "%00": ("INVALID_PATH", 400), "a%zz": ("INVALID_PATH", 400),
            "%": ("INVALID_PATH", 400), "%252e%252e": ("VALIDATION_FAILED", 400),
            "%c0%ae%c0%ae": ("VALIDATION_FAILED", 400), "a" * 65: ("VALIDATION_FAILED", 400),
            "%e2%80%ae": ("VALIDATION_FAILED", 400), "a%20b": ("VALIDATION_FAILED", 400),
            "a\\b": ("VALIDATION_FAILED", 400), "~root": ("VALIDATION_FAILED", 400),
        }
        for raw, (code, status) in cases.items():
            with self.subTest(id=raw):
                self.assert_error(request("GET", self.u + "/api/v1/items/" + raw), status, code)
        for path in ("/api/v1/items/../../etc/passwd", "/api/v1/items/a/b", "/api/v1/items/", "/api/v1/items//x",
                     "/api/v1/items/x/", "/api/v1//items/x", "/api/v1/items/x?../../"):
            with self.subTest(path=path):
                r = request("GET", self.u + path)
                self.assertIn(r.status, (400, 404), r)
                self.assert_error(r)
        # a well-formed id with dots, colons and dashes is just not found
        self.assert_error(request("GET", self.u + "/api/v1/items/a.b:c-d_e"), 404, "NOT_FOUND")
        self.alive()

    def test_sql_metacharacters(self):
        for raw in ("1'%20OR%20'1'%3D'1", "x%3BDROP%20TABLE%20echod_exec", "1%22", "%27", "a'--", "$1", "(select)"):
            with self.subTest(id=raw):
                self.assert_error(request("GET", self.u + "/api/v1/items/" + raw), 400, "VALIDATION_FAILED")
        for ok_id in ("1--", "a:b", "x.y", "0-0"):
            with self.subTest(id=ok_id):
                self.assert_error(request("GET", self.u + "/api/v1/items/" + ok_id), 404, "NOT_FOUND")
        bad_to = ["a' OR '1'='1", "x; DROP TABLE echod_exec;--", "\\", "%", "a\"b", "*"]
        for to in bad_to:
            with self.subTest(to=to):
                e = self.assert_error(self.post("/api/v1/transfers", {"to": to, "amount": "1"}), 400,
                                      "VALIDATION_FAILED")
                self.assertEqual(e["details"][0]["field"], "to")
        # metacharacters in free text are data: stored and returned verbatim through parameterised queries
        to = "sql-" + uuid.uuid4().hex[:8]
        memo = "Robert'); DROP TABLE echod_exec;-- \\ % _ $1 \" ; /* */"
        r = self.post("/api/v1/transfers", {"to": to, "amount": "2.5", "memo": memo})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["memo"], memo)
        self.assertEqual(r.json()["amount"], "2.5")
        r = request("GET", self.u + "/api/v1/items/" + to)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["memo"], memo)
        self.assertEqual(self.execs(to), 1)
        self.alive()

    def test_amounts(self):
        bad = [-1, "-1", 0, "0", "0.00000", "NaN", "nan", "Infinity", "-Infinity", "inf", 1e400, "1e400", 1e308,
               "1e5", 18446744073709551616, "184467440737095.51616", "99999999999999999999999", "1.000001",
               0.000001, 1.0000001, "0.000001", True, None, [], {}, [1], "", " 1", "1 ", "1,5", "0x10", "+1",
               ".5", "5.", "1..2", "\u0661\u0662", "\uff11", "92233720368547.75808", 123456789012345678]
        for amount in bad:
            with self.subTest(amount=amount):
                body = '{"to":"amt","amount":%s}' % (json.dumps(amount) if amount != 1e400 else "1e400")
                e = self.assert_error(self.post("/api/v1/transfers", body), 400, "VALIDATION_FAILED")
                self.assertIn("amount", [d["field"] for d in e["details"]])
        for raw in ("NaN", "-NaN", "Infinity", "-1e400", "0x10", "+1", ".5", "-0", "1e-400"):
            with self.subTest(raw=raw):
                self.assert_error(self.post("/api/v1/transfers", '{"to":"amt","amount":%s}' % raw), 400)
        self.assertEqual(self.execs("amt"), 0)
        for amount, want in (("1", "1"), (1.5, "1.5"), ("0.00001", "0.00001"), (12.34567, "12.34567"),
                             ("92233720368547.75807", "92233720368547.75807")):
            with self.subTest(ok=amount):
                r = self.post("/api/v1/transfers", {"to": "amt-ok", "amount": amount})
                self.assertEqual(r.status, 201, r)
                self.assertEqual(r.json()["amount"], want)
        self.alive()

    def test_unicode_names(self):
        bad = ["\u0007bell", "a\u001bb", "tab\there", "new\nline", "\u0085nel", "\u2028", "x\u2029y", "\u007f",
               "   ", "", "n" * 101, "\U0001F642" * 101]
        for memo in bad:
            with self.subTest(memo=memo[:12]):
                e = self.assert_error(self.post("/api/v1/transfers", {"to": "uni", "amount": "1", "memo": memo}),
                                      400, "VALIDATION_FAILED")
                self.assertEqual(e["details"][0]["field"], "memo")
        self.assertEqual(self.execs("uni"), 0)
        for memo in ("Zo\u00eb \u65e5\u672c\u8a9e \U0001F642", "\u0645\u0631\u062d\u0628\u0627", "e\u0301",
                     "\U0001F642" * 100, "a\u200db"):
            with self.subTest(ok=memo[:12]):
                r = self.post("/api/v1/transfers", {"to": "uni-ok", "amount": "1", "memo": memo})
                self.assertEqual(r.status, 201, r)
                self.assertEqual(r.json()["memo"], memo)
        self.alive()


class JwtCases:
    """RFC 8725 attacks on the Bearer token: every one is 401 UNAUTHORIZED with the reason in details."""

    def reason(self, token=None, authorization=None):
        h = dict(JSON)
        h["Authorization"] = authorization if authorization is not None else "Bearer " + token
        r = request("POST", self.u + "/api/v1/echo", raw_body="{}", headers=h)
        e = self.assert_error(r, 401, "UNAUTHORIZED")
        self.assertIn("WWW-Authenticate", r.headers)
        self.assertEqual(e["details"][0]["field"], "authorization")
        return e["details"][0]["issue"]

    def test_control_token_accepted(self):
        r = request("POST", self.u + "/api/v1/echo", raw_body="{}", headers=self.h)
        self.assertEqual(r.status, 201, r)

    def test_alg_confusion(self):
        c = auth.claims("mallory", "SUPER_ADMIN")
        p = b64(json.dumps(c).encode())
        none_h = b64(b'{"alg":"none","typ":"JWT"}')
        self.assertIn(self.reason("%s.%s." % (none_h, p)), ("TOKEN_ALG_NOT_ALLOWED", "TOKEN_MALFORMED"))
        self.assertIn(self.reason("%s.%s" % (none_h, p)), ("TOKEN_MALFORMED",))
        for alg in ("none", "None", "NONE", "HS512", "HS384", "RS256", "ES256", "PS256", "EdDSA", "hs256",
                    "HS256 ", " HS256", ""):
            with self.subTest(alg=alg):
                self.assertEqual(self.reason(forge({"alg": alg, "typ": "JWT"}, c)), "TOKEN_ALG_NOT_ALLOWED")
        self.assertEqual(self.reason(forge({"alg": "HS512"}, c, digest=hashlib.sha512)), "TOKEN_ALG_NOT_ALLOWED")
        for hdr in ({"alg": ["HS256"]}, {"alg": None}, {"typ": "JWT"}, {"alg": 256}):
            with self.subTest(header=hdr):
                self.assertIn(self.reason(forge(hdr, c)), ("TOKEN_ALG_NOT_ALLOWED", "TOKEN_MALFORMED"))
        # header that is not an object, or not JSON at all
        for raw in (b64(b'"HS256"'), b64(b"[]"), b64(b"{"), "!!", ""):
            with self.subTest(raw_header=raw):
                self.assertIn(self.reason(forge(None, c, raw_header=raw)), ("TOKEN_MALFORMED",
                                                                            "TOKEN_ALG_NOT_ALLOWED"))

    def test_nul_in_alg(self):
        # {"alg":"HS256\u0000"} would read as "HS256" (cJSON ends the C string at the NUL): JWT parts go through the
        # body step's text check, so the header is refused before any signature check, as is a NUL in a claim
        self.assertIn(self.reason(forge({"alg": "HS256\u0000"}, auth.claims("m"))),
                      ("TOKEN_ALG_NOT_ALLOWED", "TOKEN_MALFORMED"))
        self.assertEqual(self.reason(forge({"alg": "HS256"}, auth.claims("m\u0000x"))), "TOKEN_MALFORMED")
        c = auth.claims("m", "ADMIN")
        c["role"] = "ADMIN\u0000"
        self.assertEqual(self.reason(forge({"alg": "HS256"}, c)), "TOKEN_MALFORMED")

    def test_crit_and_kid(self):
        c = auth.claims("mallory", "ADMIN")
        self.assertEqual(self.reason(forge({"alg": "HS256", "crit": ["exp"], "exp": 1}, c)), "TOKEN_ALG_NOT_ALLOWED")
        self.assertEqual(self.reason(forge({"alg": "HS256", "crit": []}, c)), "TOKEN_ALG_NOT_ALLOWED")
        # kid is never used to pick a key: a token signed with a key the attacker chose stays invalid
        for kid, key in (("../../../../dev/null", b""), ("' UNION SELECT 'k", b"k"), ("/proc/self/environ", b"x"),
                         ("|cat /etc/passwd", b"a" * 32)):
            with self.subTest(kid=kid):
                self.assertEqual(self.reason(forge({"alg": "HS256", "kid": kid}, c, key=key)), "TOKEN_BAD_SIGNATURE")
        for hdr in ({"alg": "HS256", "jku": "http://evil/jwks"}, {"alg": "HS256", "x5u": "http://evil/c"},
                    {"alg": "HS256", "jwk": {"kty": "oct", "k": b64(b"k" * 32)}}):
            with self.subTest(header=list(hdr)[1]):
                self.assertEqual(self.reason(forge(hdr, c, key=b"k" * 32)), "TOKEN_BAD_SIGNATURE")

    def test_keys_and_claims(self):
        self.assertEqual(self.reason(mint_token("m", key="another-secret-of-enough-length-0123456789")),
                         "TOKEN_BAD_SIGNATURE")
        self.assertEqual(self.reason(mint_token("m", key="")), "TOKEN_BAD_SIGNATURE")
        good = mint_token("m")
        h, p, s = good.split(".")
        # one character changed inside the signature (every middle character carries 6 bits, so the text stays
        # canonical base64url whatever the signature was; the last one carries only 4)
        self.assertEqual(self.reason("%s.%s.%s" % (h, p, s[:10] + ("A" if s[10] != "A" else "B") + s[11:])),
                         "TOKEN_BAD_SIGNATURE")
        # payload swapped under the original signature (privilege escalation attempt)
        evil = b64(json.dumps(auth.claims("m", "SUPER_ADMIN")).encode())
        self.assertEqual(self.reason("%s.%s.%s" % (h, evil, s)), "TOKEN_BAD_SIGNATURE")
        now = int(time.time())
        self.assertEqual(self.reason(mint_token("m", ttl=-120)), "TOKEN_EXPIRED")
        self.assertEqual(self.reason(mint_token("m", nbf=now + 3600)), "TOKEN_NOT_YET_VALID")
        self.assertEqual(self.reason(mint_token("m", iat=now + 3600, exp=now + 7200)), "TOKEN_NOT_YET_VALID")
        self.assertEqual(self.reason(mint_token("m", aud=auth.REFRESH_AUDIENCE, fam=str(uuid.uuid4()))),
                         "TOKEN_WRONG_AUDIENCE")
        self.assertEqual(self.reason(mint_token("m", aud=[auth.REFRESH_AUDIENCE])), "TOKEN_WRONG_AUDIENCE")
        self.assertEqual(self.reason(mint_token("m", iss="evil")), "TOKEN_WRONG_ISSUER")
        self.assertEqual(self.reason(mint_token("m", role="ROOT")), "TOKEN_MALFORMED")
        self.assertEqual(self.reason(mint_token("m", role="admin")), "TOKEN_MALFORMED")
        self.assertEqual(self.reason(mint_token("m", exp=str(now + 900))), "TOKEN_MALFORMED")
        self.assertEqual(self.reason(mint_token("m", exp=10 ** 30)), "TOKEN_MALFORMED")
        self.assertEqual(self.reason(mint_token("s" * 100)), "TOKEN_MALFORMED")
        self.assertEqual(self.reason(mint_token("")), "TOKEN_MISSING_CLAIM")
        c = auth.claims("m")
        del c["jti"]
        self.assertEqual(self.reason(forge({"alg": "HS256"}, c)), "TOKEN_MISSING_CLAIM")
        # over 4 KiB, validly signed
        self.assertEqual(self.reason(mint_token("m", pad="p" * 4200)), "TOKEN_MALFORMED")

    def test_garbage_and_whitespace(self):
        tok = mint_token("m")
        for authz in ("Bearer", "Bearer ", "Bearer  " + tok, "Bearer\t" + tok,
                      "Basic " + b64(b"admin:admin"), "Bearer " + tok + "." + tok, "Bearer a.b", "Bearer ..",
                      "Bearer a.b.c.d", "Bearer " + tok.replace(".", ". "), "Bearer " + tok + "==",
                      "Bearer " + tok.replace("-", "+").replace("_", "/") + "+/", "Bearer \x7f\x01",
                      "Token " + tok, "Bearer " + "a" * 9000):
            with self.subTest(authz=authz[:40]):
                issue = self.reason(authorization=authz)
                self.assertIn(issue, ("TOKEN_MALFORMED", "TOKEN_MISSING", "TOKEN_BAD_SIGNATURE",
                                      "TOKEN_ALG_NOT_ALLOWED"))
        # RFC 7235: the scheme is case-insensitive, and HTTP strips trailing whitespace of a header value
        for authz in ("bearer " + tok, "BEARER " + tok, "Bearer " + tok + " "):
            r = request("POST", self.u + "/api/v1/echo", raw_body="{}", headers=dict(JSON, Authorization=authz))
            self.assertEqual(r.status, 201, r)
        self.alive()

    def test_public_route_ignores_attacks(self):
        for t in (forge({"alg": "none"}, auth.claims("m", "ADMIN")), "x" * 5000):
            r = request("GET", self.u + "/api/v1/things/x", headers=bearer(t))
            self.assertEqual(r.status, 200, r)
        r = request("GET", self.u + "/api/v1/admin", headers=bearer(forge({"alg": "none"}, auth.claims("m", "ADMIN"))))
        self.assert_error(r, 401, "UNAUTHORIZED")


class IdempotencyCases:
    """Idempotency-Key under concurrency (mixed into Hostile)."""

    def fire(self, n, key, body, sub="racer"):
        h = dict(bearer(mint_token(sub)), **JSON, **{"Idempotency-Key": key})
        out = gxtest.concurrently(n, lambda i: request("POST", self.u + "/api/v1/transfers", raw_body=json.dumps(body),
                                                        headers=h, timeout=30))
        return out, h

    def test_same_key_50_connections_one_execution(self):
        to = "race-" + uuid.uuid4().hex[:8]
        body = {"to": to, "amount": "3"}
        key = "race-" + str(uuid.uuid4())
        out, h = self.fire(50, key, body)
        errors = [r for r in out if not isinstance(r, gxtest.Response)]
        self.assertEqual(errors, [])
        by_status = {}
        for r in out:
            by_status.setdefault(r.status, []).append(r)
        self.assertTrue(set(by_status) <= {201, 409}, {k: v[0] for k, v in by_status.items()})
        for r in by_status.get(409, []):
            self.assert_error(r, 409, "IDEMPOTENCY_IN_PROGRESS")
        self.assertIn(201, by_status)
        bodies = {r.body for r in by_status[201]}
        self.assertEqual(len(bodies), 1, "201 answers differ: %r" % bodies)
        self.assertEqual(self.execs(to), 1)
        time.sleep(0.1)
        first = by_status[201][0].body
        r = request("POST", self.u + "/api/v1/transfers", raw_body=json.dumps(body), headers=h)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.body, first)
        self.assertEqual(r.headers.get("Idempotent-Replayed"), "true")
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"))
        self.assert_error(request("POST", self.u + "/api/v1/transfers", raw_body=json.dumps(dict(body, amount="4")),
                                  headers=h), 422, "IDEMPOTENCY_KEY_REUSED")
        self.assertEqual(self.execs(to), 1)

    def test_in_flight_is_409_then_replay(self):
        to = "flight-" + uuid.uuid4().hex[:8]
        body = json.dumps({"to": to, "amount": "1"})
        h = dict(bearer(mint_token("flyer")), **JSON, **{"Idempotency-Key": "fl-" + str(uuid.uuid4())})
        res = {}
        t = threading.Thread(target=lambda: res.setdefault("r", request("POST", self.u + "/api/v1/transfers",
                                                                         raw_body=body, headers=h)))
        t.start()
        time.sleep(0.12)  # the first request is (normally) inside its 300 ms write
        second = request("POST", self.u + "/api/v1/transfers", raw_body=body, headers=h)
        t.join()
        # whichever claimed the key first ran; the other was told it is in progress
        pair = sorted([res["r"], second], key=lambda r: r.status)
        self.assertEqual([r.status for r in pair], [201, 409], pair)
        self.assert_error(pair[1], 409, "IDEMPOTENCY_IN_PROGRESS")
        # the response is stored just after the reply went out: until then a retry is still told 409
        for _ in range(30):
            r = request("POST", self.u + "/api/v1/transfers", raw_body=body, headers=h)
            if r.status != 409:
                break
            time.sleep(0.1)
        self.assertEqual((r.status, r.body, r.headers.get("Idempotent-Replayed")), (201, pair[0].body, "true"))
        self.assertEqual(self.execs(to), 1)

    def test_different_keys_all_execute(self):
        to = "many-" + uuid.uuid4().hex[:8]
        h = dict(bearer(mint_token("many")), **JSON)
        out = []
        threads = [threading.Thread(target=lambda k=k: out.append(request(
            "POST", self.u + "/api/v1/transfers", raw_body=json.dumps({"to": to, "amount": "1"}),
            headers=dict(h, **{"Idempotency-Key": "m-%d-%s" % (k, to)}), timeout=30))) for k in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(r.status for r in out), [201] * 10)
        self.assertEqual(self.execs(to), 10)


class Hostile(InputCases, JwtCases, IdempotencyCases, HostileBase):
    """The three case groups above on one stack (one PostgreSQL, Redis and echod start instead of three)."""


class Replicas(tp.EchodCase):
    """Two echod replicas sharing PostgreSQL and Redis: rate limits, and a rollout under load."""

    TABLE = False

    def test_limit_holds_across_two_replicas(self):
        env = {"RATE_LIMIT_STRICT_PER_MIN": "10", "RATE_LIMIT_STRICT_BURST": "10", "TRUSTED_PROXIES": "127.0.0.1"}
        self.a = tp.start_echod(self.stack, env=env, name="echod-rl-a")
        self.b = tp.start_echod(self.stack, env=env, name="echod-rl-b")
        ip = "10.77.%d.%d" % (os.getpid() % 250, int(time.time()) % 250)
        got = {self.a.url: [], self.b.url: []}
        for i in range(40):
            u = self.a.url if i % 2 == 0 else self.b.url
            r = request("POST", u + "/api/v1/open", json_body={}, headers={"X-Forwarded-For": ip})
            self.assertIn(r.status, (201, 429), r)
            got[u].append(r.status)
        allowed = sum(s == 201 for v in got.values() for s in v)
        # burst 10 shared through Redis (GCRA): about 10 in total, not 10 per replica
        self.assertGreaterEqual(allowed, 10, got)
        self.assertLessEqual(allowed, 12, got)
        for u, statuses in got.items():
            self.assertIn(201, statuses, (u, statuses))
            self.assertIn(429, statuses, (u, statuses))
        for d in (self.a, self.b):
            self.assertEqual(d.stop(), 0)

    def test_sigterm_one_replica_under_load_zero_failures(self):
        env = dict(OPEN_LIMITS, DRAIN_DELAY="1s", DRAIN_TIMEOUT="5s")
        reps = [tp.start_echod(self.stack, env=env, name="echod-a"),
                tp.start_echod(self.stack, env=env, name="echod-b")]
        ready = {d.url: True for d in reps}
        lock = threading.Lock()
        stop = threading.Event()
        stats = {"ok": 0, "retried": 0, "failed": [], "served": {d.url: 0 for d in reps}}
        tok = mint_token("loader")

        def endpoints():
            while not stop.is_set():
                for d in reps:
                    try:
                        st = request("GET", d.url + "/readyz", timeout=1).status == 200
                    except OSError:
                        st = False
                    with lock:
                        ready[d.url] = st
                time.sleep(0.05)

        def client(n):
            i = n
            while not stop.is_set():
                with lock:
                    rotation = [u for u in sorted(ready) if ready[u]]
                if not rotation:
                    time.sleep(0.01)
                    continue
                for attempt in range(len(reps) + 1):
                    u = rotation[(i + attempt) % len(rotation)]
                    try:
                        r = request("POST", u + "/api/v1/echo", json_body={"n": i}, headers=bearer(tok), timeout=10)
                    except ConnectionRefusedError:
                        with lock:
                            stats["retried"] += 1
                        continue
                    except OSError as e:
                        with lock:
                            stats["failed"].append("%s: %r" % (u, e))
                        break
                    with lock:
                        if r.status == 201:
                            stats["ok"] += 1
                            stats["served"][u] += 1
                        else:
                            stats["failed"].append("%s: %d %r" % (u, r.status, r.body[:200]))
                    break
                else:
                    with lock:
                        stats["failed"].append("every replica refused")
                i += 1

        threads = [threading.Thread(target=endpoints)] + [threading.Thread(target=client, args=(k,))
                                                          for k in range(6)]
        for t in threads:
            t.start()
        try:
            time.sleep(1.0)
            with lock:
                before = dict(stats["served"])
            os.kill(reps[0].pid, signal.SIGTERM)
            self.assertTrue(tp.wait_exit(reps[0], 8), "the drained replica did not exit")
            time.sleep(1.0)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(reps[0].popen.returncode, 0)
        reps[0].stopped_by_test = True
        self.assertEqual(stats["failed"], [])
        self.assertGreater(before[reps[0].url], 0, stats)
        self.assertGreater(stats["served"][reps[1].url] - before[reps[1].url], 0, stats)
        self.assertGreater(stats["ok"], 100, stats)
        self.assertTrue(reps[1].alive())


class IdentityHostile(gxtest.GxTestCase):
    """Hostile bodies against svc-identity's own routes (a route answering 404 fails: it must exist)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not gxtest.have_binary("svc-identity"):
            raise unittest.SkipTest("svc-identity is not built")
        cls.stack.start_pg()
        cls.stack.start_redis()
        cls.stack.migrate()
        cls.d = cls.stack.start_daemon("svc-identity", env=dict(OPEN_LIMITS, BCRYPT_COST="4"))

    def assert_routed(self, path):
        r = request("POST", self.d.url + path, json_body={})
        self.assertNotEqual(r.status, 404, "%s is not routed" % path)

    def check(self, path, body):
        raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
        r = request("POST", self.d.url + path, raw_body=raw, headers=JSON)
        self.assertLess(r.status, 500, (path, body if len(str(body)) < 300 else str(body)[:300], r))
        if r.status >= 400:
            e = r.json() or {}
            self.assertIsInstance(e.get("error"), str, r)
            self.assertEqual(e["statusCode"], r.status)
        return r

    def hostile_bodies(self, base):
        yield "{"
        yield '{"a":' + "[" * 100 + "]" * 100 + "}"
        yield b'{"email":"\xff@x.io"}'
        yield '{"email":"a\\u0000@x.io","password":"p\\u0000"}'
        yield '{"email":"x","password":' + '"' + "p" * (2 * 1024 * 1024) + '"}'
        for k in base:
            for v in ("' OR '1'='1", "a'); DROP TABLE \"UserProfile\";--", "\u202e\u0007", "\U0001F642" * 300,
                      "", " ", None, 10 ** 40, ["x"], {"$ne": None}, "x" * 10000, True):
                yield dict(base, **{k: v})

    def test_register_hostile(self):
        self.assert_routed("/api/v1/users")
        base = {"email": "h@example.com", "password": "Corr3ct-Horse-Battery", "firstName": "Zoe",
                "lastName": "Q", "dateOfBirth": "1990-01-01", "countryCode": "DE", "phoneNum": "+4915112345678"}
        for b in self.hostile_bodies(base):
            self.check("/api/v1/users", b)
        self.assertEqual(self.d.get("/health").status, 200)

    def test_login_hostile(self):
        self.assert_routed("/api/v1/auth/login")
        for b in self.hostile_bodies({"email": "h@example.com", "password": "x"}):
            r = self.check("/api/v1/auth/login", b)
            self.assertNotEqual(r.status, 200, b)
        self.assertEqual(self.d.get("/health").status, 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)

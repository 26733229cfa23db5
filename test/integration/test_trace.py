"""Following one request through the workers (design.md §8): a POST with a W3C traceparent and an X-Request-Id is
answered with the same trace id and this hop's span, its command row keeps both ids, and every submitter and
projector log line about the command carries them, while the proposal sent to the peer holds neither. Invalid
traceparent headers start a new trace and are never refused. Log fields that are numbers are JSON numbers."""

import base64
import http.client
import json
import re
import secrets
import uuid

import gxtest
from gxtest.services import NO_LIMITS, ServiceTestCase, wait_projected
from gxtest.sql import q

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def lines(daemon):
    """The daemon's log lines that are JSON objects."""
    out = []
    for ln in daemon.log_text().splitlines():
        try:
            o = json.loads(ln)
        except ValueError:
            continue
        if isinstance(o, dict):
            out.append(o)
    return out


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class TraceTest(ServiceTestCase):
    DAEMON, ENV, CHAIN = "svc-identity", dict(NO_LIMITS, BCRYPT_COST="4"), True

    def register(self, headers):
        body = {"email": "trace.%s@example.com" % uuid.uuid4().hex[:10], "password": "harbour lights 42",
                "firstName": "Trace", "lastName": "Test", "nationalityCountryCode": "IN", "dateOfBirth": "1985-01-02"}
        r = gxtest.request("POST", self.api.url + "/api/v1/users", json_body=body, headers=headers)
        self.assertEqual(r.status, 202, r.text)
        return r

    def answered(self, r):
        m = TRACEPARENT.match(r.headers.get("traceparent") or "")
        self.assertIsNotNone(m, "traceparent answered: %r" % r.headers.get("traceparent"))
        trace, span, flags = m.groups()
        self.assertNotEqual(trace, "0" * 32)
        self.assertNotEqual(span, "0" * 16)
        return trace, span, flags

    def row(self, cid):
        return self.stack.psql('SELECT coalesce("httpRequestId", \'-\'), coalesce("traceId", \'-\') FROM'
                               ' "OutboxCommand" WHERE "id" = \'%s\'' % cid)[0]

    def about(self, daemon, cid, want_msg, timeout=30):
        """The daemon's lines about command cid (its id as commandId or in msg), once one matches want_msg."""
        daemon.wait_for_log(r'"msg":"[^"]*%s[^"]*%s' % (cid, want_msg), timeout=timeout)
        return [o for o in lines(daemon) if o.get("commandId") == cid or cid in o.get("msg", "")]

    def test_request_followed_through_the_workers(self):
        trace, parent, rid = secrets.token_hex(16), secrets.token_hex(8), "trace-test-" + secrets.token_hex(6)
        r = self.register({"traceparent": "00-%s-%s-01" % (trace, parent), "X-Request-Id": rid})
        self.assertEqual(r.headers.get("X-Request-Id"), rid)
        got_trace, span, flags = self.answered(r)
        self.assertEqual(got_trace, trace, "the caller's trace goes on")
        self.assertNotEqual(span, parent, "this hop has its own span")
        self.assertEqual(flags, "01")
        cid = r.json()["commandId"]
        self.assertEqual(self.row(cid), (rid, trace), "the command keeps the request id and the trace id")

        # the API's access line: the ids, the caller's span, numbers as JSON numbers
        acc = [o for o in lines(self.api) if o.get("msg") == "request" and o.get("requestId") == rid]
        self.assertEqual(len(acc), 1, acc)
        a = acc[0]
        self.assertEqual((a.get("traceId"), a.get("spanId"), a.get("parentSpanId")), (trace, span, parent))
        self.assertTrue(is_int(a["status"]) and a["status"] == 202, a)
        self.assertTrue(is_int(a["bytes"]) and a["bytes"] > 0, a)
        self.assertTrue(isinstance(a["durationMs"], (int, float)) and not isinstance(a["durationMs"], bool), a)
        self.assertIsInstance(a["path"], str)

        wait_projected(self.stack, cid, timeout=60)
        sub = self.about(self.chain.submitters[0], cid, "committed")
        prj = self.about(self.chain.projector, cid, "projected")
        for name, found in (("submitter", sub), ("projector", prj)):
            self.assertTrue(found, "%s lines about the command" % name)
            for o in found:
                self.assertEqual((o.get("requestId"), o.get("traceId"), o.get("commandId")), (rid, trace, cid),
                                 "%s line %r" % (name, o))
        committed = [o for o in sub if "committed" in o["msg"]][0]
        self.assertTrue(is_int(committed["block"]) and committed["block"] > 0, committed)
        self.assertTrue(is_int(committed["attempts"]), committed)
        projected = [o for o in prj if "projected" in o["msg"]][0]
        self.assertEqual(projected["block"], committed["block"])
        self.assertEqual(projected["txId"], committed["txId"])

        # nothing about the request goes to the peer: the proposal sent holds neither id
        prop = self.stack.psql('SELECT "payload"->\'_submission\'->>\'proposal\' FROM "OutboxCommand"'
                               ' WHERE "id" = \'%s\'' % cid)[0][0]
        raw = base64.b64decode(prop)
        for needle in (trace.encode(), bytes.fromhex(trace), rid.encode(), span.encode(), parent.encode()):
            self.assertNotIn(needle, raw)

    def test_poison_event_line_carries_the_command_ids(self):
        # CREATE_USER for an account no UserProfile names: its UserCreated event is poison (docs/projector.md)
        cid, account = str(uuid.uuid4()), "ghost-" + secrets.token_hex(4)
        rid, trace = "poison-" + secrets.token_hex(6), secrets.token_hex(16)
        payload = json.dumps({"userId": account, "biometricHash": secrets.token_hex(32), "nationality": "US",
                              "age": 30})
        self.stack.psql('INSERT INTO "OutboxCommand" ("id", "tenantId", "service", "commandType", "requestId",'
                        ' "payload", "aggregateId", "httpRequestId", "traceId") VALUES (%s, \'default\', \'test\','
                        ' \'CREATE_USER\', %s, %s::jsonb, %s, %s, %s); NOTIFY gx_outbox, %s'
                        % (q(cid), q(cid), q(payload), q("wallet:" + account), q(rid), q(trace), q(cid)))
        wait_projected(self.stack, cid, timeout=60)
        self.chain.projector.wait_for_log(r'"msg":"projector: poison event[^"]*", *"requestId":"%s"' % rid,
                                          timeout=30)
        poison = [o for o in lines(self.chain.projector) if "poison event" in o.get("msg", "")
                  and o.get("commandId") == cid]
        self.assertEqual(len(poison), 1, poison)
        p = poison[0]
        self.assertEqual((p["level"], p["requestId"], p["traceId"]), ("warn", rid, trace))
        self.assertTrue(is_int(p["block"]) and is_int(p["index"]), p)
        for o in self.about(self.chain.submitters[0], cid, "committed"):
            self.assertEqual((o.get("requestId"), o.get("traceId")), (rid, trace), o)

    def test_invalid_traceparent_starts_a_new_trace(self):
        tid, pid = secrets.token_hex(16), secrets.token_hex(8)
        bad = ["", "garbage", "00-%s-%s-01-extra" % (tid, pid), "ff-%s-%s-01" % (tid, pid),
               "00-%s-%s-01" % ("0" * 32, pid), "00-%s-%s-01" % (tid, "0" * 16),
               "00-%s-%s-01" % (tid.upper(), pid), "00-%s-%s-0x" % (tid, pid), "00-%s-%s" % (tid, pid)]
        seen = set()
        for value in bad:
            r = gxtest.request("GET", self.api.url + "/livez", headers={"traceparent": value})
            self.assertEqual(r.status, 200, "%r: %s" % (value, r.text))
            trace, span, flags = self.answered(r)
            self.assertNotEqual(trace, tid, value)
            self.assertEqual(flags, "01", value)
            seen.add(trace)
        self.assertEqual(len(seen), len(bad), "each request starts its own trace")
        # a command enqueued under an invalid header keeps the new trace
        r = self.register({"traceparent": "00-%s-%s-01" % ("0" * 32, pid)})
        trace, _, _ = self.answered(r)
        rid = r.headers.get("X-Request-Id")
        self.assertTrue(rid)
        self.assertEqual(self.row(r.json()["commandId"]), (rid, trace))

    def test_two_traceparent_headers_are_invalid(self):
        one, two = ("00-%s-%s-01" % (secrets.token_hex(16), secrets.token_hex(8)) for _ in range(2))
        conn = http.client.HTTPConnection("127.0.0.1", self.api.port, timeout=10)
        try:
            conn.putrequest("GET", "/livez")
            conn.putheader("traceparent", one)
            conn.putheader("traceparent", two)
            conn.endheaders()
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 200)
            m = TRACEPARENT.match(resp.getheader("traceparent") or "")
        finally:
            conn.close()
        self.assertIsNotNone(m)
        self.assertNotIn(m.group(1), (one[3:35], two[3:35]))

    def test_later_version_continues_and_is_answered_as_00(self):
        tid, pid = secrets.token_hex(16), secrets.token_hex(8)
        r = gxtest.request("GET", self.api.url + "/livez", headers={"traceparent": "01-%s-%s-00-future" % (tid, pid)})
        self.assertEqual(r.status, 200)
        trace, span, flags = self.answered(r)
        self.assertEqual((trace, flags), (tid, "00"))
        self.assertNotEqual(span, pid)

    def test_without_traceparent_every_request_gets_a_trace(self):
        a = self.answered(gxtest.request("GET", self.api.url + "/livez"))
        b = self.answered(gxtest.request("GET", self.api.url + "/livez"))
        self.assertNotEqual(a[0], b[0])

    def test_configuration_line_has_typed_values(self):
        c = {}
        for o in lines(self.api):
            if o.get("msg", "").endswith("configuration"):
                c.update(o)
        self.assertTrue(is_int(c["PORT"]), c)
        self.assertEqual(c["BCRYPT_COST"], 4)
        listening = [o for o in lines(self.api) if o.get("msg") == "listening"]
        self.assertTrue(listening and is_int(listening[0]["port"]) and is_int(listening[0]["threads"]), listening)

"""Deferred idempotency claim on an outbox write (POST /api/v1/transfers, route flag GX_ROUTE_OUTBOX_WRITE): the
HttpIdempotency record is written in the same transaction as the OutboxCommand (one commit), racing requests with
one key still create exactly one command and get the stored 202 byte for byte (or 409 / 422), a 4xx without a
command is stored and replayed, and dead records (stale IN_FLIGHT) are taken over while a live one answers 409."""

import hashlib
import json
import threading
import uuid

import gxtest
from gxtest.services import ServiceTestCase
from gxtest.sql import q
from test_tokenomics import seed_user

TRANSFER = "/api/v1/transfers"


class IdemOutboxTest(ServiceTestCase):
    DAEMON = "svc-tokenomics"

    def user(self, **kw):
        pid, _, _ = seed_user(self.stack, **kw)
        return pid, gxtest.mint_token(pid, "USER")

    def commands(self, pid):
        return int(self.stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "commandType" = \'TRANSFER_TOKENS\''
                                   ' AND "payload"->\'_meta\'->>\'createdBy\' = %s' % q(pid))[0][0])

    def record(self, key):
        rows = self.stack.psql('SELECT "state"::text, "statusCode", coalesce("commandId", \'\')'
                               ' FROM "HttpIdempotency" WHERE "idempotencyKey" LIKE %s' % q("%:" + key))
        return rows[0] if rows else None

    def race(self, tok, key, bodies, n):
        out = gxtest.concurrently(n, lambda i: self.call("POST", TRANSFER, tok, bodies[i % len(bodies)],
                                                         {"Idempotency-Key": key}))
        errors = [r for r in out if not isinstance(r, gxtest.Response)]
        self.assertEqual(errors, [])
        return out

    def test_record_commits_with_the_command(self):
        a, tok = self.user(balance=10 ** 12)
        b, _ = self.user()
        key = "one-" + str(uuid.uuid4())
        r = self.call("POST", TRANSFER, tok, {"toUserId": b, "amount": "1"}, {"Idempotency-Key": key})
        res = self.check(r, 202, "POST", TRANSFER)
        self.assertEqual(self.record(key), ("COMPLETE", "202", res["commandId"]))
        # same transaction: the record and the command were created by one transaction id
        same = self.stack.psql('SELECT h.xmin::text = o.xmin::text FROM "HttpIdempotency" h, "OutboxCommand" o'
                               ' WHERE h."idempotencyKey" LIKE %s AND o."id" = %s' % (q("%:" + key),
                                                                                       q(res["commandId"])))
        self.assertEqual(same, [("t",)])
        again = self.call("POST", TRANSFER, tok, {"toUserId": b, "amount": "1"}, {"Idempotency-Key": key})
        self.assertEqual(again.status, 202)
        self.assertEqual(again.body, r.body)
        self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
        self.assertTrue(again.headers.get("Content-Type", "").startswith("application/json"))
        self.assertEqual(self.commands(a), 1)

    def test_no_commit_before_the_outbox_transaction(self):
        # hold inserts into OutboxCommand: while the write waits there, no record of the key may be visible (a
        # claim committed on its own would be)
        a, tok = self.user(balance=10 ** 12)
        b, _ = self.user()
        key = "held-" + str(uuid.uuid4())
        locker = threading.Thread(target=lambda: self.stack.psql(
            'BEGIN; LOCK TABLE "OutboxCommand" IN EXCLUSIVE MODE; SELECT pg_sleep(2); COMMIT'))
        locker.start()
        threading.Event().wait(0.3)
        res = {}
        t = threading.Thread(target=lambda: res.setdefault("r", self.call(
            "POST", TRANSFER, tok, {"toUserId": b, "amount": "1"}, {"Idempotency-Key": key})))
        t.start()
        waiting = False
        for _ in range(30):
            if self.stack.psql('SELECT count(*) FROM pg_locks WHERE relation = \'"OutboxCommand"\'::regclass'
                               ' AND NOT granted') != [("0",)]:
                waiting = True
                break
            threading.Event().wait(0.05)
        self.assertTrue(waiting, "the write never reached the OutboxCommand insert")
        self.assertIsNone(self.record(key))
        t.join()
        locker.join()
        res = self.check(res["r"], 202, "POST", TRANSFER)
        self.assertEqual(self.record(key), ("COMPLETE", "202", res["commandId"]))
        self.assertEqual(self.commands(a), 1)

    def test_same_key_50_connections_one_command(self):
        a, tok = self.user(balance=10 ** 12)
        b, _ = self.user()
        key = "race-" + str(uuid.uuid4())
        out = self.race(tok, key, [{"toUserId": b, "amount": "3"}], 50)
        by_status = {}
        for r in out:
            by_status.setdefault(r.status, []).append(r)
        self.assertTrue(set(by_status) <= {202, 409}, {k: v[0].text[:300] for k, v in by_status.items()})
        for r in by_status.get(409, []):
            self.assertEqual(r.json()["code"], "IDEMPOTENCY_IN_PROGRESS")
        self.assertIn(202, by_status)
        self.assertEqual(len({r.body for r in by_status[202]}), 1)
        self.assertEqual(self.commands(a), 1)
        cid = by_status[202][0].json()["commandId"]
        self.assertEqual(self.record(key), ("COMPLETE", "202", cid))
        again = self.call("POST", TRANSFER, tok, {"toUserId": b, "amount": "3"}, {"Idempotency-Key": key})
        self.assertEqual((again.status, again.body), (202, by_status[202][0].body))
        self.check(self.call("POST", TRANSFER, tok, {"toUserId": b, "amount": "4"}, {"Idempotency-Key": key}),
                   422, "POST", TRANSFER, "IDEMPOTENCY_KEY_REUSED")
        self.assertEqual(self.commands(a), 1)

    def test_same_key_different_bodies_race(self):
        a, tok = self.user(balance=10 ** 12)
        b, _ = self.user()
        key = "mix-" + str(uuid.uuid4())
        out = self.race(tok, key, [{"toUserId": b, "amount": "5"}, {"toUserId": b, "amount": "6"}], 30)
        self.assertEqual(self.commands(a), 1)
        ok = [r for r in out if r.status == 202]
        self.assertTrue(ok)
        self.assertEqual(len({r.body for r in ok}), 1)
        for r in out:
            self.assertIn(r.status, (202, 409, 422), r.text[:300])
            if r.status != 202:
                self.assertIn(r.json()["code"], ("IDEMPOTENCY_IN_PROGRESS", "IDEMPOTENCY_KEY_REUSED"))
        # the losing body always gets 422 once the winner is stored
        won = self.stack.psql('SELECT "payload"->>\'amount\' FROM "OutboxCommand" WHERE "id" = %s'
                              % q(ok[0].json()["commandId"]))[0][0]
        lost = "6" if won.startswith("5") else "5"
        self.check(self.call("POST", TRANSFER, tok, {"toUserId": b, "amount": lost}, {"Idempotency-Key": key}),
                   422, "POST", TRANSFER, "IDEMPOTENCY_KEY_REUSED")

    def test_4xx_without_command_is_stored_and_replayed(self):
        a, tok = self.user(balance=0)
        b, _ = self.user()
        key = "poor-" + str(uuid.uuid4())
        body = {"toUserId": b, "amount": "7"}
        r1 = self.call("POST", TRANSFER, tok, body, {"Idempotency-Key": key})
        self.check(r1, 409, "POST", TRANSFER, "INSUFFICIENT_BALANCE")
        rec = None
        for _ in range(50):  # stored right after the reply
            rec = self.record(key)
            if rec:
                break
            threading.Event().wait(0.05)
        self.assertEqual(rec, ("COMPLETE", "409", ""))
        r2 = self.call("POST", TRANSFER, tok, body, {"Idempotency-Key": key})
        self.assertEqual((r2.status, r2.body), (409, r1.body))
        self.assertEqual(r2.headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(self.commands(a), 0)

    def test_stale_in_flight_taken_over_live_one_409(self):
        a, tok = self.user(balance=10 ** 12)
        b, _ = self.user()
        raw = json.dumps({"toUserId": b, "amount": "2"})
        digest = hashlib.sha256(raw.encode()).hexdigest()
        for stale in (False, True):
            key = ("stale-" if stale else "live-") + str(uuid.uuid4())
            age = "interval '5 minutes'" if stale else "interval '0 seconds'"
            self.stack.psql('INSERT INTO "HttpIdempotency" ("tenantId", "callerId", "idempotencyKey", "method",'
                            ' "path", "bodyHash", "state", "createdAt", "updatedAt") VALUES (\'default\', %s, %s,'
                            ' \'POST\', %s, %s, \'IN_FLIGHT\', now() - %s, now() - %s)'
                            % (q(a), q("svc-tokenomics:" + key), q(TRANSFER), q(digest), age, age))
            self.assertEqual(self.record(key)[0], "IN_FLIGHT")
            r = self.call("POST", TRANSFER, tok, None, {"Idempotency-Key": key, "Content-Type": "application/json"},
                          raw=raw)
            if stale:
                res = self.check(r, 202, "POST", TRANSFER)
                self.assertEqual(self.record(key), ("COMPLETE", "202", res["commandId"]))
            else:
                self.check(r, 409, "POST", TRANSFER, "IDEMPOTENCY_IN_PROGRESS")
                self.assertEqual(self.record(key)[0], "IN_FLIGHT")
        self.assertEqual(self.commands(a), 1)

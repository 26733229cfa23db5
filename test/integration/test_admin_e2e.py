"""svc-admin end to end with the Fabric stand-in, the outbox-submitter and the projector: bootstrap -> initialize
234 countries -> activate a treasury -> change a parameter -> pause -> a user transfer through svc-tokenomics goes
FAILED with CHAINCODE_423 and the pause reason, and its re-queue is refused (NOT_REQUEUEABLE) -> resume -> a transfer
over the balance is refused by the chain (CHAINCODE_409) and cannot be re-queued either -> a transfer whose Submit
keeps failing goes FAILED with FABRIC_UNAVAILABLE, is re-queued and completes once with its own tx id -> appoint an
admin. Every step is read back through svc-admin's own read routes."""

import uuid

import gxtest
from gxtest import openapi as oa
from gxtest.chain import wait_command, wait_sql
from gxtest.services import NO_LIMITS, ServiceTestCase, chain_user
from gxtest.sql import enqueue, q

SUPER = str(uuid.uuid4())


class AdminEndToEndTest(ServiceTestCase):
    DAEMON, CHAIN = "svc-admin", True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tok = cls.stack.start_daemon("svc-tokenomics", env=NO_LIMITS)
        # a submitter that gives up quickly, so a transport failure ends FAILED within the test
        for d in cls.chain.submitters:
            d.stop()
        cls.chain.submitters = []
        cls.chain.start_submitter({"MAX_RETRIES": "2", "BACKOFF_BASE_MS": "50ms", "BACKOFF_MAX_MS": "200ms"})
        cls.super_tok = gxtest.mint_token(SUPER, "SUPER_ADMIN")

    def post(self, path, body=None, token=None, status=202):
        return self.check(self.call("POST", path, token or self.super_tok, body), status, "POST", path)

    def get(self, path, template=None, token=None):
        return self.check(self.call("GET", path, token or self.super_tok), 200, "GET", template or path.split("?")[0])

    def projected(self, cid):
        return wait_command(self.api.url, cid, self.super_tok, want="PROJECTED", timeout=60)

    def onchain_user(self):
        pid = str(uuid.uuid4())
        return chain_user(self.stack, pid, "u-" + pid[:18], "US", "E", "Two", self.projected)

    def transfer_fails(self, tok, to, remark, code):
        """A 1.5-coin transfer to `to` that is accepted and ends FAILED with code: (commandId, its status)."""
        r = gxtest.request("POST", self.tok.url + "/api/v1/transfers", headers=gxtest.bearer(tok),
                           json_body={"toUserId": to, "amount": "1.5", "remark": remark})
        self.assertEqual(r.status, 202, r.text)
        cid = r.json()["commandId"]
        failed = wait_command(self.api.url, cid, tok, want="FAILED", timeout=60)
        self.assertEqual(failed["lastError"]["code"], code)
        return cid, failed

    def test_bootstrap_countries_pause_resume(self):
        st = self.stack
        # bootstrap, once
        self.projected(self.post("/api/v1/bootstrap")["commandId"])
        status = self.get("/api/v1/system/status")
        self.assertEqual((status["isBootstrapped"], status["isPaused"]), (True, False))
        self.post("/api/v1/bootstrap", status=409)

        # all seeded countries but a handful, shares summing to 1 (as numbers with 8 decimals)
        codes = [r[0] for r in st.psql('SELECT "countryCode" FROM "Country" ORDER BY "countryCode"')][:234]
        units, n = 10 ** 8, len(codes)
        shares = [units // n] * n
        shares[codes.index("US")] += units - sum(shares)
        body = {"countriesData": [{"code": c, "name": c, "percentage": s / units} for c, s in zip(codes, shares)]}
        self.projected(self.post("/api/v1/countries/initialize", body)["commandId"])
        self.assertEqual(st.psql('SELECT count(*) FROM "TreasuryAccount"'), [(str(n),)])
        us = self.get("/api/v1/countries/US/stats", "/api/v1/countries/{countryCode}/stats")
        self.assertEqual(us["treasury"]["status"], "INACTIVE")
        self.assertGreater(int(us["treasury"]["balanceQirat"]), 0)
        self.assertTrue(self.get("/api/v1/system/status")["countriesInitialized"])
        self.post("/api/v1/countries/initialize", body, status=409)

        # treasury activation (ADMIN is enough)
        admin_tok = gxtest.mint_token(str(uuid.uuid4()), "ADMIN")
        self.projected(self.post("/api/v1/treasury/activate", {"countryCode": "US"}, token=admin_tok)["commandId"])
        us = self.get("/api/v1/countries/US/stats", "/api/v1/countries/{countryCode}/stats")
        self.assertEqual(us["treasury"]["status"], "ACTIVE")

        # a parameter change reaches the read model
        self.projected(self.post("/api/v1/parameters", {"paramKey": "orgDefaultThreshold",
                                                        "paramValue": "3"})["commandId"])
        self.assertEqual(self.get("/api/v1/parameters/orgDefaultThreshold", "/api/v1/parameters/{paramId}")["value"],
                         "3")

        # two users; genesis for the sender
        a, a_acct = self.onchain_user()
        b, b_acct = self.onchain_user()
        r = gxtest.request("POST", self.tok.url + "/api/v1/genesis", headers=gxtest.bearer(self.super_tok),
                           json_body={"userId": a, "userType": "individual", "countryCode": "US"})
        self.assertEqual(r.status, 202, r.text)
        self.projected(r.json()["commandId"])

        # pause: user transfers fail on chain with 423 and the reason
        reason = "end-to-end maintenance window"
        self.projected(self.post("/api/v1/system/pause", {"reason": reason})["commandId"])
        status = self.get("/api/v1/system/status")
        self.assertEqual((status["isPaused"], status["pauseReason"]), (True, reason))
        a_tok = gxtest.mint_token(a)
        tid, failed = self.transfer_fails(a_tok, b, "during pause", "CHAINCODE_423")
        self.assertIn("system is paused: " + reason, failed["lastError"]["message"])
        listed = self.get("/api/v1/admin/commands?status=FAILED&errorCode=CHAINCODE_423")
        self.assertEqual([c["commandId"] for c in listed["items"]], [tid])

        # a business refusal is final: not re-queueable, not even after the resume
        listed = self.get("/api/v1/admin/commands?status=FAILED")
        self.assertEqual([(c["commandId"], c["requeueable"]) for c in listed["items"]], [(tid, False)])
        rq = "/api/v1/admin/commands/{commandId}/requeue"
        r = self.call("POST", "/api/v1/admin/commands/%s/requeue" % tid, self.super_tok)
        self.assertIn("CHAINCODE_423", self.check(r, 409, "POST", rq, "NOT_REQUEUEABLE")["message"])
        self.projected(self.post("/api/v1/system/resume")["commandId"])
        self.assertFalse(self.get("/api/v1/system/status")["isPaused"])
        r = self.call("POST", "/api/v1/admin/commands/%s/requeue" % tid, self.super_tok)
        self.check(r, 409, "POST", rq, "NOT_REQUEUEABLE")

        # a transfer over the sender's balance, refused by the chain: CHAINCODE_409, refused again on re-queue
        over = enqueue(st, "TRANSFER_TOKENS", {"fromUserId": a_acct, "toUserId": b_acct,
                                               "amount": "900000000000000", "remark": "too much"}, "wallet:" + a_acct)
        wait_sql(st, 'SELECT "status"::text, "errorCode" FROM "OutboxCommand" WHERE "id" = %s' % q(over),
                 [("FAILED", "CHAINCODE_409")], 60)
        self.assertIn("insufficient balance", st.psql('SELECT "error" FROM "OutboxCommand" WHERE "id" = %s'
                                                      % q(over))[0][0])
        r = self.call("POST", "/api/v1/admin/commands/%s/requeue" % over, self.super_tok)
        body = self.check(r, 409, "POST", rq, "NOT_REQUEUEABLE")
        self.assertIn("CHAINCODE_409", body["message"])
        batch = self.check(self.call("POST", "/api/v1/admin/commands/requeue", self.super_tok, {}), 200, "POST",
                           "/api/v1/admin/commands/requeue")
        self.assertEqual(batch["commandIds"], [])
        self.assertEqual(sorted(x["commandId"] for x in batch["skipped"]), sorted([tid, over]))

        # a transfer whose Submit keeps failing: FAILED with FABRIC_UNAVAILABLE, re-queueable; once the peer is
        # healthy the re-queue completes it with the same tx id, applied once
        self.chain.set_faults("unavailable Submit 100\n")
        try:
            flaky, failed = self.transfer_fails(a_tok, b, "peer trouble", "FABRIC_UNAVAILABLE")
        finally:
            self.chain.set_faults("")
        shown = self.get("/api/v1/admin/commands/" + flaky, "/api/v1/admin/commands/{commandId}")
        self.assertTrue(shown["requeueable"])
        old_tx = shown["fabricTxId"]
        r = self.call("POST", "/api/v1/admin/commands/%s/requeue" % flaky, self.super_tok)
        self.check(r, 200, "POST", rq)
        done = wait_command(self.api.url, flaky, a_tok, want="PROJECTED", timeout=60)
        self.assertEqual(done["fabricTxId"], old_tx)
        self.assertEqual(st.psql('SELECT "balanceQirat"::text FROM "Wallet" WHERE "primaryAccountId" = %s'
                                 % q(b_acct)), [("150000",)])
        shown = self.get("/api/v1/admin/commands/" + flaky, "/api/v1/admin/commands/{commandId}")
        self.assertEqual([x["action"] for x in shown["audit"]], ["COMMAND_REQUEUE"])
        self.assertEqual(self.get("/api/v1/admin/commands/" + tid, "/api/v1/admin/commands/{commandId}")["audit"], [])

        # appoint B as admin; the projector raises the role
        self.projected(self.post("/api/v1/admins", {"userId": b})["commandId"])
        self.assertEqual(st.psql('SELECT "role" FROM "UserProfile" WHERE "profileId" = %s' % q(b)), [("ADMIN",)])
        counters = self.get("/api/v1/counters")
        self.assertEqual(counters["commands"]["FAILED"], 2)
        self.assertGreaterEqual(counters["totalTransactions"], 2)

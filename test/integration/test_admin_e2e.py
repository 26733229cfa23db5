"""svc-admin end to end with the Fabric stand-in, the outbox-submitter and the projector: bootstrap -> initialize
234 countries -> activate a treasury -> change a parameter -> pause -> a user transfer through svc-tokenomics goes
FAILED with CHAINCODE_423 and the pause reason -> resume -> the admin re-queues the failed transfer and it
completes -> appoint an admin. Every step is read back through svc-admin's own read routes."""

import uuid

import gxtest
from gxtest import openapi as oa
from gxtest.chain import wait_command
from gxtest.services import NO_LIMITS, ServiceTestCase, chain_user
from gxtest.sql import q

SUPER = str(uuid.uuid4())


class AdminEndToEndTest(ServiceTestCase):
    DAEMON, CHAIN = "svc-admin", True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tok = cls.stack.start_daemon("svc-tokenomics", env=NO_LIMITS)
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
        r = gxtest.request("POST", self.tok.url + "/api/v1/transfers", headers=gxtest.bearer(a_tok),
                           json_body={"toUserId": b, "amount": "1.5", "remark": "during pause"})
        self.assertEqual(r.status, 202, r.text)
        tid = r.json()["commandId"]
        failed = wait_command(self.api.url, tid, a_tok, want="FAILED", timeout=60)
        self.assertEqual(failed["lastError"]["code"], "CHAINCODE_423")
        self.assertIn("system is paused: " + reason, failed["lastError"]["message"])
        listed = self.get("/api/v1/admin/commands?status=FAILED&errorCode=CHAINCODE_423")
        self.assertEqual([c["commandId"] for c in listed["items"]], [tid])

        # resume, then re-queue the failed transfer: a new transaction that now succeeds
        self.projected(self.post("/api/v1/system/resume")["commandId"])
        self.assertFalse(self.get("/api/v1/system/status")["isPaused"])
        old_tx = st.psql('SELECT "fabricTxId" FROM "OutboxCommand" WHERE "id" = %s' % q(tid))[0][0]
        r = gxtest.request("POST", "%s/api/v1/admin/commands/%s/requeue" % (self.api.url, tid),
                           headers=gxtest.bearer(self.super_tok))
        self.assertEqual(r.status, 200, r.text)
        oa.validate(self.doc, "POST", "/api/v1/admin/commands/{commandId}/requeue", 200, r)
        done = wait_command(self.api.url, tid, a_tok, want="PROJECTED", timeout=60)
        self.assertNotEqual(done["fabricTxId"], old_tx)
        self.assertEqual(st.psql('SELECT "balanceQirat"::text FROM "Wallet" WHERE "primaryAccountId" = %s'
                                 % q(b_acct)), [("150000",)])
        shown = self.get("/api/v1/admin/commands/" + tid, "/api/v1/admin/commands/{commandId}")
        self.assertEqual([x["action"] for x in shown["audit"]], ["COMMAND_REQUEUE"])

        # appoint B as admin; the projector raises the role
        self.projected(self.post("/api/v1/admins", {"userId": b})["commandId"])
        self.assertEqual(st.psql('SELECT "role" FROM "UserProfile" WHERE "profileId" = %s' % q(b)), [("ADMIN",)])
        counters = self.get("/api/v1/counters")
        self.assertEqual(counters["commands"]["FAILED"], 0)
        self.assertGreaterEqual(counters["totalTransactions"], 2)

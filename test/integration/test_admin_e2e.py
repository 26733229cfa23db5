"""svc-admin end to end with the Fabric stand-in, the outbox-submitter and the projector: bootstrap -> initialize
234 countries -> activate a treasury -> change a parameter -> pause -> a user transfer through svc-tokenomics goes
FAILED with CHAINCODE_423 and the pause reason -> resume -> the admin re-queues the failed transfer and it
completes -> appoint an admin. Every step is read back through svc-admin's own read routes."""

import hashlib
import json
import unittest
import uuid

import gxtest
from gxtest import openapi as oa
from gxtest.chain import start_chain, wait_command, wait_sql

NO_LIMITS = {"RATE_LIMIT_PER_MIN": "1000000", "RATE_LIMIT_BURST": "1000000"}
SUPER = str(uuid.uuid4())


def q(s):
    return "NULL" if s is None else "'" + str(s).replace("'", "''") + "'"


class AdminEndToEndTest(gxtest.GxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        st = cls.stack
        st.start_pg()
        st.start_redis()
        st.migrate()
        cls.chain = start_chain(st, replicas=1)
        if cls.chain.projector is None:
            raise unittest.SkipTest("projector is not built")
        cls.adm = st.start_daemon("svc-admin", env=NO_LIMITS)
        cls.tok = st.start_daemon("svc-tokenomics", env=NO_LIMITS)
        cls.doc = oa.fetch(cls.adm.url)
        cls.super_tok = gxtest.mint_token(SUPER, "SUPER_ADMIN")

    def post(self, path, body=None, token=None, status=202):
        r = gxtest.request("POST", self.adm.url + path, json_body=body,
                           headers=gxtest.bearer(token or self.super_tok))
        self.assertEqual(r.status, status, r.text)
        oa.validate(self.doc, "POST", path, r.status, r)
        return r.json()

    def get(self, path, template=None, token=None):
        r = gxtest.request("GET", self.adm.url + path, headers=gxtest.bearer(token or self.super_tok))
        self.assertEqual(r.status, 200, r.text)
        oa.validate(self.doc, "GET", template or path.split("?")[0], 200, r)
        return r.json()

    def projected(self, cid):
        return wait_command(self.adm.url, cid, self.super_tok, want="PROJECTED", timeout=60)

    def outbox(self, ctype, payload, aggregate):
        cid = str(uuid.uuid4())
        self.stack.psql('INSERT INTO "OutboxCommand" ("id", "tenantId", "service", "commandType", "requestId",'
                        ' "payload", "aggregateId") VALUES (%s, \'default\', \'test\', %s, %s, %s::jsonb, %s);'
                        ' NOTIFY gx_outbox, %s' % (q(cid), q(ctype), q(cid), q(json.dumps(payload)), q(aggregate),
                                                   q(cid)))
        return cid

    def onchain_user(self):
        pid = str(uuid.uuid4())
        acct = "u-" + pid[:18]
        bio = hashlib.sha256(pid.encode()).hexdigest()
        self.stack.psql('INSERT INTO "UserProfile" ("profileId", "tenantId", "firstName", "lastName", "email",'
                        ' "biometricHash", "passwordHash", "nationalityCountryCode", "status", "fabricUserId") VALUES'
                        " (%s, 'default', 'E', 'Two', %s, %s, 'x', 'US', 'PENDING_VERIFICATION', %s)"
                        % (q(pid), q(pid + "@example.com"), q(bio), q(acct)))
        self.projected(self.outbox("CREATE_USER", {"userId": acct, "biometricHash": bio, "nationality": "US",
                                                   "age": 30}, "wallet:" + acct))
        wait_sql(self.stack, 'SELECT count(*) FROM "Wallet" WHERE "primaryAccountId" = %s' % q(acct), [("1",)])
        return pid, acct

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
        failed = wait_command(self.adm.url, tid, a_tok, want="FAILED", timeout=60)
        self.assertEqual(failed["lastError"]["code"], "CHAINCODE_423")
        self.assertIn("system is paused: " + reason, failed["lastError"]["message"])
        listed = self.get("/api/v1/admin/commands?status=FAILED&errorCode=CHAINCODE_423")
        self.assertEqual([c["commandId"] for c in listed["items"]], [tid])

        # resume, then re-queue the failed transfer: a new transaction that now succeeds
        self.projected(self.post("/api/v1/system/resume")["commandId"])
        self.assertFalse(self.get("/api/v1/system/status")["isPaused"])
        old_tx = st.psql('SELECT "fabricTxId" FROM "OutboxCommand" WHERE "id" = %s' % q(tid))[0][0]
        r = gxtest.request("POST", "%s/api/v1/admin/commands/%s/requeue" % (self.adm.url, tid),
                           headers=gxtest.bearer(self.super_tok))
        self.assertEqual(r.status, 200, r.text)
        oa.validate(self.doc, "POST", "/api/v1/admin/commands/{commandId}/requeue", 200, r)
        done = wait_command(self.adm.url, tid, a_tok, want="PROJECTED", timeout=60)
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

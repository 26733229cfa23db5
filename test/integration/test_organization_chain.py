"""End to end through the Fabric stand-in: an organization is proposed, endorsed by its three stakeholders,
activated, given an authorization rule and funded; a multi-signature transfer is initiated and executed by the
approvals of two stakeholders other than its initiator (four eyes), the balances move in the read models, and
lowering the rule takes a second stakeholder. Users, bootstrap, genesis and the funding transfer are enqueued directly as
OutboxCommand rows (the identity/tokenomics/admin APIs are tested elsewhere); every organization step goes through
svc-organization."""


import gxtest
from gxtest.chain import wait_command
from gxtest.services import ServiceTestCase, chain_user, wait_projected
from gxtest.sql import enqueue, q


class OrganizationChainTest(ServiceTestCase):
    DAEMON, ENV, CHAIN, WITHOUT_PROJECTOR = "svc-organization", None, True, "fail"

    def post(self, path, tok, body=None, template=None):
        res = self.check(self.call("POST", path, tok, body), 202, "POST", template)
        wait_command(self.api.url, res["commandId"], tok, want="PROJECTED")
        return res

    def get(self, path, template):
        return self.check(self.call("GET", path), 200, "GET", template)

    def test_life_cycle(self):
        st = self.stack
        (a, _), (b, _), (c, _), (d, _) = chain_user(st), chain_user(st), chain_user(st), chain_user(st)
        ta, tb, tc, td = gxtest.mint_token(a), gxtest.mint_token(b), gxtest.mint_token(c), gxtest.mint_token(d)
        wait_projected(st, enqueue(st, "BOOTSTRAP_SYSTEM", {}, "system"))
        wait_projected(st, enqueue(st, "DISTRIBUTE_GENESIS", {"userId": a, "userType": "individual",
                                                              "countryCode": "US"}, a))
        # proposed
        res = self.post("/api/v1/organizations", ta, {"orgName": "Chain Co", "orgType": "business",
                                                      "stakeholderIds": [a, b, d]}, "/api/v1/organizations")
        org = res["aggregateId"]
        tpl = "/api/v1/organizations/{orgId}"
        doc = self.get("/api/v1/organizations/" + org, tpl)
        self.assertEqual((doc["status"], doc["orgType"], doc["stakeholderIds"], doc["endorsements"]),
                         ("PROPOSED", "business", [a, b, d], []))
        # endorsed by all three, once each
        self.post("/api/v1/organizations/%s/endorse" % org, ta, None, tpl + "/endorse")
        r = gxtest.request("POST", self.api.url + "/api/v1/organizations/%s/endorse" % org, headers=gxtest.bearer(ta))
        self.assertEqual(r.status, 409, r.text)
        self.assertEqual(r.json()["code"], "ALREADY_ENDORSED")
        self.post("/api/v1/organizations/%s/endorse" % org, tb, None, tpl + "/endorse")
        self.post("/api/v1/organizations/%s/endorse" % org, td, None, tpl + "/endorse")
        self.assertEqual(sorted(self.get("/api/v1/organizations/" + org, tpl)["endorsements"]), sorted([a, b, d]))
        # active
        self.post("/api/v1/organizations/%s/activate" % org, tb, None, tpl + "/activate")
        self.assertEqual(self.get("/api/v1/organizations/" + org, tpl)["status"], "ACTIVE")
        # rule: transfers from 1 coin need two of the three
        self.post("/api/v1/organizations/%s/rules" % org, ta, {"requiredApprovals": 2, "approverIds": [a, b, d],
                                                               "amountThreshold": "1"}, tpl + "/rules")
        self.assertEqual(self.get("/api/v1/organizations/" + org, tpl)["rules"],
                         [{"amountThreshold": "1", "requiredApprovals": 2, "approverIds": [a, b, d]}])
        # fund the organization: 50 coins from a (fee 5,000 Qirat)
        wait_projected(st, enqueue(st, "TRANSFER_TOKENS", {"fromUserId": a, "toUserId": org, "amount": "5000000",
                                                           "remark": "funding"}, "wallet:" + a))
        self.assertEqual(self.get("/api/v1/organizations/" + org, tpl)["balance"], "50")
        # multi-signature transfer of 20 coins to c
        res = self.post("/api/v1/organizations/%s/transactions" % org, ta, {"toUserId": c, "amount": "20",
                                                                            "remark": "supplies"},
                        tpl + "/transactions")
        tx = res["aggregateId"]
        pend = self.get("/api/v1/organizations/%s/transactions/pending" % org, tpl + "/transactions/pending")
        self.assertEqual([(t["pendingTxId"], t["amount"], t["requiredApprovals"], t["approvalCount"])
                          for t in pend["pendingTransactions"]], [(tx, 20, 2, 0)])
        atpl = "/api/v1/transactions/{pendingTxId}/approve"
        r = gxtest.request("POST", self.api.url + "/api/v1/transactions/%s/approve" % tx, headers=gxtest.bearer(tc))
        self.assertEqual(r.status, 403, r.text)
        # four eyes: the initiator never approves (their request is not an approval either)
        r = gxtest.request("POST", self.api.url + "/api/v1/transactions/%s/approve" % tx, headers=gxtest.bearer(ta))
        self.assertEqual((r.status, r.json()["code"]), (403, "SELF_APPROVAL"), r.text)
        self.post("/api/v1/transactions/%s/approve" % tx, tb, None, atpl)
        r = gxtest.request("POST", self.api.url + "/api/v1/transactions/%s/approve" % tx, headers=gxtest.bearer(tb))
        self.assertEqual(r.status, 409, r.text)
        self.assertEqual(r.json()["code"], "ALREADY_APPROVED")
        self.assertEqual(st.psql('SELECT "status", "currentSignatures"::text FROM "MultiSigTransaction" WHERE '
                                 '"txId" = %s' % q(tx)), [("PENDING", "1")])
        self.post("/api/v1/transactions/%s/approve" % tx, td, None, atpl)
        # executed: balances moved (20 coins + fee 2,000 Qirat from the organization)
        self.assertEqual(st.psql('SELECT "status" FROM "MultiSigTransaction" WHERE "txId" = %s' % q(tx)),
                         [("EXECUTED",)])
        self.assertEqual(self.get("/api/v1/organizations/%s/transactions/pending" % org,
                                  tpl + "/transactions/pending")["pendingTransactions"], [])
        self.assertEqual(self.get("/api/v1/organizations/" + org, tpl)["balance"], "29.98")
        self.assertEqual(st.psql('SELECT "balanceQirat"::text FROM "Wallet" WHERE "profileId" = %s' % q(c)),
                         [("2000000",)])
        # lowering the rule takes two stakeholders: a alone is recorded, b's identical rule reaches the chain
        lower = {"requiredApprovals": 1, "approverIds": [a, b, d], "amountThreshold": "1"}
        res = self.check(self.call("POST", "/api/v1/organizations/%s/rules" % org, ta, lower), 202, "POST",
                         tpl + "/rules")
        self.assertEqual(res["status"], "AWAITING_SECOND_STAKEHOLDER")
        self.assertEqual(self.get("/api/v1/organizations/" + org, tpl)["rules"],
                         [{"amountThreshold": "1", "requiredApprovals": 2, "approverIds": [a, b, d]}])
        self.post("/api/v1/organizations/%s/rules" % org, tb, lower, tpl + "/rules")
        self.assertEqual(self.get("/api/v1/organizations/" + org, tpl)["rules"],
                         [{"amountThreshold": "1", "requiredApprovals": 1, "approverIds": [a, b, d]}])

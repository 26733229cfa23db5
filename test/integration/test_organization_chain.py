"""End to end through the Fabric stand-in: an organization is proposed, endorsed by both stakeholders, activated,
given an authorization rule and funded; a multi-signature transfer is initiated and executed by the approvals, and
the balances move in the read models. Users, bootstrap, genesis and the funding transfer are enqueued directly as
OutboxCommand rows (the identity/tokenomics/admin APIs are tested elsewhere); every organization step goes through
svc-organization."""

import hashlib
import json
import uuid

import gxtest
from gxtest import openapi as oa
from gxtest.chain import start_chain, wait_command, wait_sql


def q(v):
    return "NULL" if v is None else "'" + str(v).replace("'", "''") + "'"


def enqueue(stack, ctype, payload, aggregate):
    """Insert one PENDING OutboxCommand (as an API would) and wake the submitter; returns its id."""
    cid = str(uuid.uuid4())
    stack.psql('INSERT INTO "OutboxCommand" ("id", "tenantId", "service", "commandType", "requestId", "payload", '
               '"aggregateId") VALUES (%s, \'default\', \'test\', %s, %s, %s::jsonb, %s)'
               % (q(cid), q(ctype), q(cid), q(json.dumps(payload)), q(aggregate)))
    stack.psql("SELECT pg_notify('gx_outbox', %s)" % q(cid))
    return cid


def projected(stack, cid, timeout=30):
    rows = wait_sql(stack, 'SELECT "status" FROM "OutboxCommand" WHERE "id" = %s' % q(cid),
                    lambda r: r and r[0][0] in ("PROJECTED", "FAILED"), timeout)
    assert rows[0][0] == "PROJECTED", stack.psql('SELECT "status", "errorCode", "error" FROM "OutboxCommand" '
                                                 'WHERE "id" = %s' % q(cid))


def chain_user(stack):
    """A profile registered on chain through CREATE_USER (the projector sets onchainStatus and creates the wallet)."""
    pid = str(uuid.uuid4())
    bio = hashlib.sha256(pid.encode()).hexdigest()
    stack.psql('INSERT INTO "UserProfile" ("profileId", "tenantId", "firstName", "lastName", "email", '
               '"biometricHash", "passwordHash", "fabricUserId") VALUES (%s, \'default\', \'T\', \'U\', %s, %s, '
               '\'x\', %s)' % (q(pid), q(pid + "@example.com"), q(bio), q(pid)))
    projected(stack, enqueue(stack, "CREATE_USER", {"userId": pid, "biometricHash": bio, "nationality": "US",
                                                    "age": 30}, pid))
    return pid


class OrganizationChainTest(gxtest.GxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        st = cls.stack
        st.start_pg()
        st.start_redis()
        st.migrate()
        cls.chain = start_chain(st)
        if cls.chain.projector is None:
            raise AssertionError("the projector is not built")
        cls.api = st.start_daemon("svc-organization")
        cls.doc = oa.fetch(cls.api.url)

    def post(self, path, tok, body=None, template=None):
        r = gxtest.request("POST", self.api.url + path, json_body=body, headers=gxtest.bearer(tok))
        self.assertEqual(r.status, 202, r.text)
        oa.validate(self.doc, "POST", template, 202, r)
        res = r.json()
        wait_command(self.api.url, res["commandId"], tok, want="PROJECTED")
        return res

    def get(self, path, template):
        r = gxtest.request("GET", self.api.url + path)
        self.assertEqual(r.status, 200, r.text)
        oa.validate(self.doc, "GET", template, 200, r)
        return r.json()

    def test_life_cycle(self):
        st = self.stack
        a, b, c = chain_user(st), chain_user(st), chain_user(st)
        ta, tb, tc = gxtest.mint_token(a), gxtest.mint_token(b), gxtest.mint_token(c)
        projected(st, enqueue(st, "BOOTSTRAP_SYSTEM", {}, "system"))
        projected(st, enqueue(st, "DISTRIBUTE_GENESIS", {"userId": a, "userType": "individual", "countryCode": "US"},
                              a))
        # proposed
        res = self.post("/api/v1/organizations", ta, {"orgName": "Chain Co", "orgType": "business",
                                                      "stakeholderIds": [a, b]}, "/api/v1/organizations")
        org = res["aggregateId"]
        tpl = "/api/v1/organizations/{orgId}"
        doc = self.get("/api/v1/organizations/" + org, tpl)
        self.assertEqual((doc["status"], doc["orgType"], doc["stakeholderIds"], doc["endorsements"]),
                         ("PROPOSED", "business", [a, b], []))
        # endorsed by both, once each
        self.post("/api/v1/organizations/%s/endorse" % org, ta, None, tpl + "/endorse")
        r = gxtest.request("POST", self.api.url + "/api/v1/organizations/%s/endorse" % org, headers=gxtest.bearer(ta))
        self.assertEqual(r.status, 409, r.text)
        self.assertEqual(r.json()["error"]["code"], "ALREADY_ENDORSED")
        self.post("/api/v1/organizations/%s/endorse" % org, tb, None, tpl + "/endorse")
        self.assertEqual(sorted(self.get("/api/v1/organizations/" + org, tpl)["endorsements"]), sorted([a, b]))
        # active
        self.post("/api/v1/organizations/%s/activate" % org, tb, None, tpl + "/activate")
        self.assertEqual(self.get("/api/v1/organizations/" + org, tpl)["status"], "ACTIVE")
        # rule: transfers from 1 coin need both
        self.post("/api/v1/organizations/%s/rules" % org, ta, {"requiredApprovals": 2, "approverIds": [a, b],
                                                               "amountThreshold": "1"}, tpl + "/rules")
        self.assertEqual(self.get("/api/v1/organizations/" + org, tpl)["rules"],
                         [{"amountThreshold": "1", "requiredApprovals": 2, "approverIds": [a, b]}])
        # fund the organization: 50 coins from a (fee 5,000 Qirat)
        projected(st, enqueue(st, "TRANSFER_TOKENS", {"fromUserId": a, "toUserId": org, "amount": "5000000",
                                                      "remark": "funding"}, "wallet:" + a))
        self.assertEqual(self.get("/api/v1/organizations/" + org, tpl)["balance"], "50")
        # multi-signature transfer of 20 coins to c
        res = self.post("/api/v1/organizations/%s/transactions" % org, ta, {"toUserId": c, "amount": "20",
                                                                            "remark": "supplies"},
                        tpl + "/transactions")
        tx = res["aggregateId"]
        pend = self.get("/api/v1/organizations/%s/transactions/pending" % org, tpl + "/transactions/pending")
        self.assertEqual([(t["pendingTxId"], t["amount"], t["requiredApprovals"], t["approvalCount"])
                          for t in pend["pendingTransactions"]], [(tx, "20", 2, 0)])
        atpl = "/api/v1/transactions/{pendingTxId}/approve"
        r = gxtest.request("POST", self.api.url + "/api/v1/transactions/%s/approve" % tx, headers=gxtest.bearer(tc))
        self.assertEqual(r.status, 403, r.text)
        self.post("/api/v1/transactions/%s/approve" % tx, ta, None, atpl)
        r = gxtest.request("POST", self.api.url + "/api/v1/transactions/%s/approve" % tx, headers=gxtest.bearer(ta))
        self.assertEqual(r.status, 409, r.text)
        self.assertEqual(r.json()["error"]["code"], "ALREADY_APPROVED")
        self.post("/api/v1/transactions/%s/approve" % tx, tb, None, atpl)
        # executed: balances moved (20 coins + fee 2,000 Qirat from the organization)
        self.assertEqual(st.psql('SELECT "status" FROM "MultiSigTransaction" WHERE "txId" = %s' % q(tx)),
                         [("EXECUTED",)])
        self.assertEqual(self.get("/api/v1/organizations/%s/transactions/pending" % org,
                                  tpl + "/transactions/pending")["pendingTransactions"], [])
        self.assertEqual(self.get("/api/v1/organizations/" + org, tpl)["balance"], "29.98")
        self.assertEqual(st.psql('SELECT "balanceQirat"::text FROM "Wallet" WHERE "profileId" = %s' % q(c)),
                         [("2000000",)])

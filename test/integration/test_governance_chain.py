"""End to end through the Fabric stand-in: a parameter-change proposal is submitted, voted on (a second vote by the
same voter is refused), executed by an admin after its voting window, and the changed parameter is visible in the
SystemParameter table and through svc-admin's parameters endpoint. Users and the short voting window
(UPDATE_SYSTEM_PARAMETER) are enqueued directly as OutboxCommand rows."""

import hashlib
import json
import time
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


class GovernanceChainTest(gxtest.GxTestCase):
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
        cls.api = st.start_daemon("svc-governance")
        cls.admin_api = st.start_daemon("svc-admin")
        cls.doc = oa.fetch(cls.api.url)

    def req(self, method, path, tok, template, status, body=None, wait=True):
        h = gxtest.bearer(tok) if tok else {}
        r = gxtest.request(method, self.api.url + path, json_body=body, headers=h)
        self.assertEqual(r.status, status, r.text)
        oa.validate(self.doc, method, template, status, r)
        res = r.json()
        if status == 202 and wait:
            wait_command(self.api.url, res["commandId"], tok, want="PROJECTED")
        return res

    def test_life_cycle(self):
        st = self.stack
        a, b = chain_user(st), chain_user(st)
        ta, tb = gxtest.mint_token(a), gxtest.mint_token(b)
        admin = gxtest.mint_token(str(uuid.uuid4()), "ADMIN")
        projected(st, enqueue(st, "UPDATE_SYSTEM_PARAMETER", {"paramKey": "governanceVotingPeriodSeconds",
                                                              "paramValue": "6"}, "system"))
        res = self.req("POST", "/api/v1/proposals", ta, "/api/v1/proposals", 202,
                       {"title": "Raise the fee to 25 bps", "proposalType": "PARAMETER_CHANGE",
                        "description": "Fund the fee pool faster; 25 basis points is still far below card fees.",
                        "targetParameter": "transactionFeeBps", "proposedValue": "25"})
        prop = res["aggregateId"]
        one = "/api/v1/proposals/{proposalId}"
        doc = self.req("GET", "/api/v1/proposals/" + prop, None, one, 200)
        self.assertEqual((doc["status"], doc["votingOpen"], doc["targetParameter"], doc["proposedValue"]),
                         ("ACTIVE", True, "transactionFeeBps", "25"))
        self.assertIn(prop, [p["proposalId"] for p in self.req("GET", "/api/v1/proposals", None, "/api/v1/proposals",
                                                               200)["proposals"]])
        # votes: a FOR, b FOR, a second vote by a refused
        va = self.req("POST", "/api/v1/proposals/%s/vote" % prop, ta, one + "/vote", 202, {"vote": "FOR"}, False)
        self.req("POST", "/api/v1/proposals/%s/vote" % prop, ta, one + "/vote", 409, {"vote": "AGAINST"})
        self.req("POST", "/api/v1/proposals/%s/vote" % prop, tb, one + "/vote", 202, {"vote": "FOR"})
        wait_command(self.api.url, va["commandId"], ta, want="PROJECTED")
        doc = self.req("GET", "/api/v1/proposals/" + prop, None, one, 200)
        self.assertEqual((doc["votesFor"], doc["votesAgainst"], doc["votesAbstain"]), (2, 0, 0))
        self.assertEqual(st.psql('SELECT count(*) FROM "ProposalVote" WHERE "proposalId" = %s AND '
                                 '"confirmedAt" IS NOT NULL' % q(prop)), [("2",)])
        self.req("POST", "/api/v1/proposals/%s/vote" % prop, ta, one + "/vote", 409, {"vote": "FOR"})
        # execution waits for the end of the window
        self.req("POST", "/api/v1/proposals/%s/execute" % prop, admin, one + "/execute", 409)
        ends = time.monotonic() + 8
        while self.req("GET", "/api/v1/proposals/" + prop, None, one, 200)["votingOpen"]:
            self.assertLess(time.monotonic(), ends, "the voting window did not end")
            time.sleep(0.2)
        time.sleep(0.5)  # the chain's clock is the transaction time: leave a margin
        self.req("POST", "/api/v1/proposals/%s/execute" % prop, admin, one + "/execute", 202)
        doc = self.req("GET", "/api/v1/proposals/" + prop, None, one, 200)
        self.assertEqual(doc["status"], "EXECUTED")
        self.assertIsNotNone(doc["executedAt"])
        self.assertEqual(st.psql('SELECT "paramValue" FROM "SystemParameter" WHERE "paramKey" = '
                                 '\'transactionFeeBps\''), [("25",)])
        r = gxtest.request("GET", self.admin_api.url + "/api/v1/parameters/transactionFeeBps")
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json()["value"], "25")

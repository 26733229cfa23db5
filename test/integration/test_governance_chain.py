"""End to end through the Fabric stand-in: a parameter-change proposal is submitted, voted on (a second vote by the
same voter is refused), executed by an admin after its voting window, and the changed parameter is visible in the
SystemParameter table and through svc-admin's parameters endpoint. Users and the short voting window
(UPDATE_SYSTEM_PARAMETER) are enqueued directly as OutboxCommand rows."""

import time
import uuid

import gxtest
from gxtest.chain import wait_command
from gxtest.services import ServiceTestCase, chain_user, wait_projected
from gxtest.sql import enqueue, q


class GovernanceChainTest(ServiceTestCase):
    DAEMON, ENV, CHAIN, WITHOUT_PROJECTOR = "svc-governance", None, True, "fail"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin_api = cls.stack.start_daemon("svc-admin")

    def req(self, method, path, tok, template, status, body=None, wait=True):
        res = self.check(self.call(method, path, tok, body), status, method, template)
        if status == 202 and wait:
            wait_command(self.api.url, res["commandId"], tok, want="PROJECTED")
        return res

    def test_life_cycle(self):
        st = self.stack
        (a, _), (b, _) = chain_user(st), chain_user(st)
        ta, tb = gxtest.mint_token(a), gxtest.mint_token(b)
        admin = gxtest.mint_token(str(uuid.uuid4()), "ADMIN")
        wait_projected(st, enqueue(st, "UPDATE_SYSTEM_PARAMETER", {"paramKey": "governanceVotingPeriodSeconds",
                                                                   "paramValue": "6"}, "system"))
        res = self.req("POST", "/api/v1/proposals", ta, "/api/v1/proposals", 202,
                       {"title": "Raise the fee to 25 bps", "proposalType": "PARAMETER_CHANGE",
                        "description": "Fund the fee pool faster; 25 basis points is still far below card fees.",
                        "targetParameter": "transactionFeeBps", "proposedValue": "25"})
        prop = res["aggregateId"]
        one = "/api/v1/proposals/{proposalId}"
        doc = self.req("GET", "/api/v1/proposals/" + prop, None, one, 200)["proposal"]
        self.assertEqual((doc["status"], doc["votingOpen"], doc["targetParameter"], doc["proposedValue"]),
                         ("ACTIVE", True, "transactionFeeBps", "25"))
        self.assertIn(prop, [p["proposalId"] for p in self.req("GET", "/api/v1/proposals", None, "/api/v1/proposals",
                                                               200)["proposals"]])
        # votes: a FOR, b FOR, a second vote by a refused
        va = self.req("POST", "/api/v1/proposals/%s/vote" % prop, ta, one + "/vote", 202, {"vote": "FOR"}, False)
        self.req("POST", "/api/v1/proposals/%s/vote" % prop, ta, one + "/vote", 409, {"vote": "AGAINST"})
        self.req("POST", "/api/v1/proposals/%s/vote" % prop, tb, one + "/vote", 202, {"vote": "FOR"})
        wait_command(self.api.url, va["commandId"], ta, want="PROJECTED")
        doc = self.req("GET", "/api/v1/proposals/" + prop, None, one, 200)["proposal"]
        self.assertEqual((doc["votesFor"], doc["votesAgainst"], doc["votesAbstain"]), (2, 0, 0))
        self.assertEqual(st.psql('SELECT count(*) FROM "ProposalVote" WHERE "proposalId" = %s AND '
                                 '"confirmedAt" IS NOT NULL' % q(prop)), [("2",)])
        self.req("POST", "/api/v1/proposals/%s/vote" % prop, ta, one + "/vote", 409, {"vote": "FOR"})
        # execution waits for the end of the window
        self.req("POST", "/api/v1/proposals/%s/execute" % prop, admin, one + "/execute", 409)
        ends = time.monotonic() + 8
        while self.req("GET", "/api/v1/proposals/" + prop, None, one, 200)["proposal"]["votingOpen"]:
            self.assertLess(time.monotonic(), ends, "the voting window did not end")
            time.sleep(0.2)
        time.sleep(0.5)  # the chain's clock is the transaction time: leave a margin
        self.req("POST", "/api/v1/proposals/%s/execute" % prop, admin, one + "/execute", 202)
        doc = self.req("GET", "/api/v1/proposals/" + prop, None, one, 200)["proposal"]
        self.assertEqual(doc["status"], "EXECUTED")
        self.assertIsNotNone(doc["executedAt"])
        self.assertEqual(st.psql('SELECT "paramValue" FROM "SystemParameter" WHERE "paramKey" = '
                                 '\'transactionFeeBps\''), [("25",)])
        r = gxtest.request("GET", self.admin_api.url + "/api/v1/parameters/transactionFeeBps")
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json()["value"], "25")

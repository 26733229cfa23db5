"""svc-governance as the original backend's clients see it (OP-40..OP-44 of the original's wire format): the bodies
its client sends ({targetParam, newValue, proposerId} without a title; {"vote": true|false}), and the answers
checked key by key and type by type: {"proposal": {proposalId, proposerId, status, forVotes, againstVotes}},
{"proposals": [...]} oldest first, the original's message texts for its failures. Deviations are in
docs/compat.md (svc-governance)."""

import unittest
import uuid

import gxtest
from gxtest.compat import ACCEPTED, assert_original_error, assert_shape
from gxtest.services import ServiceTestCase
from gxtest.sql import outbox_command, seed_profile
from test_governance import seed_proposal

PROPOSAL = {"proposalId": "string", "proposerId": "string", "status": "string", "forVotes": "integer",
            "againstVotes": "integer"}

# The original's 202 texts (OP-40, OP-41, OP-42)
MESSAGES = {"submit": "Proposal submitted. Voting period started.", "vote": "Vote recorded.",
            "execute": "Proposal execution initiated."}


class CompatGovernanceTest(ServiceTestCase):
    DAEMON = "svc-governance"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = gxtest.mint_token(str(uuid.uuid4()), "ADMIN")

    def submit(self, me, body):
        return self.call("POST", "/api/v1/proposals", gxtest.mint_token(me), body)

    def vote(self, pid, voter, body):
        return self.call("POST", "/api/v1/proposals/%s/vote" % pid, gxtest.mint_token(voter), body)

    # --- OP-40 POST /api/v1/proposals --------------------------------------------------------------------
    def test_submit_original_body(self):
        me = seed_profile(self.stack, onchain=True)
        res = self.check(self.submit(me, {"targetParam": "transactionFeeBps", "newValue": "15", "proposerId": me}),
                         202, "POST", "/api/v1/proposals")
        assert_shape(self, res, dict(ACCEPTED, proposalId="string"))
        ctype, payload, agg, _ = outbox_command(self.stack, res["commandId"])
        self.assertEqual((ctype, res["proposalId"], payload["targetParam"], payload["newValue"],
                          payload["proposerId"]), ("SUBMIT_PROPOSAL", agg, "transactionFeeBps", "15", me))

    def test_submit_original_errors(self):
        me = seed_profile(self.stack, onchain=True)
        required = "targetParam, newValue, and proposerId are required"
        for body in ({}, {"newValue": "15", "proposerId": me}, {"targetParam": "transactionFeeBps", "proposerId": me},
                     {"targetParam": "", "newValue": "15", "proposerId": me},
                     {"targetParam": "transactionFeeBps", "newValue": "15", "proposerId": ""}):
            assert_original_error(self, self.submit(me, body), 400, required, "VALIDATION_FAILED")
        other = seed_profile(self.stack, onchain=True)
        assert_original_error(self, self.submit(me, {"targetParam": "transactionFeeBps", "newValue": "15",
                                                     "proposerId": other}),
                              403, "You can only submit proposals as yourself", "FORBIDDEN")
        assert_original_error(self, self.call("POST", "/api/v1/proposals", None, {}), 401)

    # --- OP-41 POST /api/v1/proposals/{proposalId}/vote --------------------------------------------------
    def test_vote_boolean(self):
        me = seed_profile(self.stack, onchain=True)
        pid = seed_proposal(self.stack, me)
        tpl = "/api/v1/proposals/{proposalId}/vote"
        for value, choice in ((True, "FOR"), (False, "AGAINST")):
            voter = seed_profile(self.stack, onchain=True)
            res = self.check(self.vote(pid, voter, {"vote": value}), 202, "POST", tpl)
            assert_shape(self, res, ACCEPTED)
            self.assertEqual(outbox_command(self.stack, res["commandId"])[1],
                             {"proposalId": pid, "voterId": voter, "vote": choice})
        assert_original_error(self, self.vote(pid, me, {}), 400, "proposalId and vote are required",
                              "VALIDATION_FAILED")
        assert_original_error(self, self.vote(pid, me, {"reason": "no vote"}), 400,
                              "proposalId and vote are required", "VALIDATION_FAILED")
        assert_original_error(self, self.vote(str(uuid.uuid4()), me, {"vote": True}), 404, "Proposal not found",
                              "PROPOSAL_NOT_FOUND")

    # --- OP-42 POST /api/v1/proposals/{proposalId}/execute -----------------------------------------------
    def test_execute(self):
        me = seed_profile(self.stack, onchain=True)
        users = int(self.stack.psql('SELECT count(*) FROM "UserProfile" WHERE "onchainStatus" IS NOT NULL')[0][0])
        pid = seed_proposal(self.stack, me, votes=(users, 0, 0), ends="now() - interval '1 second'")
        res = self.check(self.call("POST", "/api/v1/proposals/%s/execute" % pid, self.admin, {}), 202, "POST",
                         "/api/v1/proposals/{proposalId}/execute")
        assert_shape(self, res, ACCEPTED)
        assert_original_error(self, self.call("POST", "/api/v1/proposals/%s/execute" % pid, gxtest.mint_token(me)),
                              403)
        assert_original_error(self, self.call("POST", "/api/v1/proposals/%s/execute" % uuid.uuid4(), self.admin),
                              404, "Proposal not found", "PROPOSAL_NOT_FOUND")

    # --- OP-43 GET /api/v1/proposals/{proposalId} (public) -----------------------------------------------
    def test_get(self):
        me = seed_profile(self.stack, onchain=True)
        pid = seed_proposal(self.stack, me, votes=(3, 1, 0))
        res = self.check(self.call("GET", "/api/v1/proposals/" + pid), 200, "GET", "/api/v1/proposals/{proposalId}")
        assert_shape(self, res, {"proposal": PROPOSAL})
        p = res["proposal"]
        self.assertEqual((p["proposalId"], p["proposerId"], p["status"], p["forVotes"], p["againstVotes"]),
                         (pid, me, "ACTIVE", 3, 1))
        assert_original_error(self, self.call("GET", "/api/v1/proposals/" + str(uuid.uuid4())), 404,
                              "Proposal not found", "PROPOSAL_NOT_FOUND")

    # --- OP-44 GET /api/v1/proposals (public) ------------------------------------------------------------
    def test_list_active_oldest_first(self):
        me = seed_profile(self.stack, onchain=True)
        old = seed_proposal(self.stack, me, votes=(2, 0, 0), created="now() - interval '2 days'")
        new = seed_proposal(self.stack, me, created="now() - interval '1 day'")
        done = seed_proposal(self.stack, me, "EXECUTED")
        res = self.check(self.call("GET", "/api/v1/proposals?limit=100"), 200, "GET", "/api/v1/proposals")
        assert_shape(self, res, {"proposals": [PROPOSAL]})
        ids = [p["proposalId"] for p in res["proposals"]]
        self.assertLess(ids.index(old), ids.index(new))
        self.assertNotIn(done, ids)
        self.assertEqual(res["proposals"][ids.index(old)]["forVotes"], 2)

    # --- the original's 202 texts ------------------------------------------------------------------------
    # The 202 body is made by common/src/outbox.c, which has one text for every command; the original's texts per
    # command type need a table there (reported to the lead). Remove the decorator when it lands.
    def test_accepted_messages(self):
        me = seed_profile(self.stack, onchain=True)
        res = self.submit(me, {"targetParam": "transactionFeeBps", "newValue": "15", "proposerId": me}).json()
        self.assertEqual(res["message"], MESSAGES["submit"])
        pid = seed_proposal(self.stack, me)
        self.assertEqual(self.vote(pid, me, {"vote": True}).json()["message"], MESSAGES["vote"])
        users = int(self.stack.psql('SELECT count(*) FROM "UserProfile" WHERE "onchainStatus" IS NOT NULL')[0][0])
        ended = seed_proposal(self.stack, me, votes=(users, 0, 0), ends="now() - interval '1 second'")
        res = self.call("POST", "/api/v1/proposals/%s/execute" % ended, self.admin).json()
        self.assertEqual(res["message"], MESSAGES["execute"])

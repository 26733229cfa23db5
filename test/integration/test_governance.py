"""svc-governance against real PostgreSQL and Redis: submit (target parameter and value checked against the
parameter table), list (status filter, paging), get (tallies, window), vote (FOR|AGAINST|ABSTAIN, once per voter:
a confirmed vote or one in flight makes a second vote 409, a failed one does not), execute (admin, window over,
quorum and approval) with the exact command payloads of docs/chaincode.md §2 and idempotent retries. Read-model rows
the projector would write are seeded with SQL; every checked response is validated against the live /openapi.json."""

import uuid

import gxtest
from gxtest.services import ServiceTestCase
from gxtest.sql import outbox_command, q, seed_profile

DESC = "Lower the transaction fee so that small everyday payments stay cheap for everyone."


def seed_proposal(stack, proposer, status="ACTIVE", votes=(0, 0, 0), ends="now() + interval '1 day'",
                  created="now()"):
    pid = str(uuid.uuid4())
    stack.psql('INSERT INTO "Proposal" ("proposalId", "tenantId", "title", "description", "proposerId", '
               '"proposalType", "status", "votesFor", "votesAgainst", "votesAbstain", "targetParam", "newValue", '
               '"votingEndsAt", "createdAt", "voters") VALUES (%s, \'default\', \'Lower the fee\', %s, %s, '
               '\'PARAMETER_CHANGE\', %s, %d, %d, %d, \'transactionFeeBps\', \'5\', %s, %s, \'[]\')'
               % (q(pid), q(DESC), q(proposer), q(status), votes[0], votes[1], votes[2], ends, created))
    return pid


class GovernanceTest(ServiceTestCase):
    DAEMON = "svc-governance"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin_id = str(uuid.uuid4())
        cls.admin = gxtest.mint_token(cls.admin_id, "ADMIN")

    def test_document(self):
        self.assert_operations([
            ("POST", "/api/v1/proposals"), ("GET", "/api/v1/proposals"),
            ("GET", "/api/v1/proposals/{proposalId}"), ("POST", "/api/v1/proposals/{proposalId}/vote"),
            ("POST", "/api/v1/proposals/{proposalId}/execute"), ("GET", "/api/v1/commands/{commandId}")
        ])

    # --- submit -------------------------------------------------------------------------------------------
    def test_submit(self):
        me = seed_profile(self.stack, onchain=True)
        body = {"title": "Lower the fee to 5 bps", "description": DESC, "proposalType": "PARAMETER_CHANGE",
                "targetParameter": "transactionFeeBps", "proposedValue": 5}
        res = self.check(self.call("POST", "/api/v1/proposals", gxtest.mint_token(me), body), 202, "POST",
                         "/api/v1/proposals")
        ctype, payload, agg, _ = outbox_command(self.stack, res["commandId"])
        self.assertEqual(ctype, "SUBMIT_PROPOSAL")
        self.assertEqual(payload, {"proposalId": agg, "proposerId": me, "targetParam": "transactionFeeBps",
                                   "newValue": "5", "title": body["title"], "description": DESC})
        self.assertEqual((res["aggregateId"], res["proposalId"]), (agg, agg))
        # the original code's field names are accepted too
        res = self.check(self.call("POST", "/api/v1/proposals", gxtest.mint_token(me),
                                   {"title": "Shorter voting window", "description": DESC,
                                    "targetParam": "governanceVotingPeriodSeconds", "newValue": "86400"}),
                         202, "POST", "/api/v1/proposals")
        self.assertEqual(outbox_command(self.stack, res["commandId"])[1]["newValue"], "86400")

    def test_submit_errors(self):
        me = seed_profile(self.stack, onchain=True)
        tok, p = gxtest.mint_token(me), "/api/v1/proposals"
        r = self.check(self.call("POST", p, tok, {"title": "short", "description": "too short",
                                                  "proposalType": "SYSTEM_UPGRADE", "targetParameter": "nope",
                                                  "proposedValue": "1"}), 400, "POST", p, "VALIDATION_FAILED")
        self.assertEqual({d["field"] for d in r["details"]},
                         {"title", "description", "proposalType", "targetParameter"})
        # the original's body without a title: one is made for the chain
        res = self.check(self.call("POST", p, tok, {"targetParam": "transactionFeeBps", "newValue": "7",
                                                    "proposerId": me}), 202, "POST", p)
        self.assertEqual(outbox_command(self.stack, res["commandId"])[1],
                         {"proposalId": res["proposalId"], "proposerId": me, "targetParam": "transactionFeeBps",
                          "newValue": "7", "title": "Set transactionFeeBps to 7"})
        for value in ("10001", "-1", "007", 1.5, "abc"):
            r = self.check(self.call("POST", p, tok, {"title": "Raise the fee a lot", "description": DESC,
                                                      "targetParameter": "transactionFeeBps",
                                                      "proposedValue": value}), 400, "POST", p, "VALIDATION_FAILED")
            self.assertEqual([d["field"] for d in r["details"]], ["proposedValue"], value)
        other = seed_profile(self.stack, onchain=True)
        self.check(self.call("POST", p, tok, {"title": "Raise the fee a lot", "description": DESC,
                                              "targetParameter": "transactionFeeBps", "proposedValue": "20",
                                              "proposerId": other}), 403, "POST", p, "FORBIDDEN")
        self.check(self.call("POST", p, None, {}), 401, "POST", p, "UNAUTHORIZED")

    # --- reads --------------------------------------------------------------------------------------------
    def test_get_and_list(self):
        me = seed_profile(self.stack, onchain=True)
        a = seed_proposal(self.stack, me, votes=(3, 1, 2), created="now() - interval '1 hour'")
        b = seed_proposal(self.stack, me, "EXECUTED")
        c = seed_proposal(self.stack, me)
        res = self.check(self.call("GET", "/api/v1/proposals/" + a), 200, "GET",
                         "/api/v1/proposals/{proposalId}")["proposal"]
        self.assertEqual((res["votesFor"], res["votesAgainst"], res["votesAbstain"], res["status"], res["votingOpen"],
                          res["targetParameter"], res["proposedValue"]), (3, 1, 2, "ACTIVE", True,
                                                                          "transactionFeeBps", "5"))
        self.assertIsNotNone(res["votingEndsAt"])
        self.check(self.call("GET", "/api/v1/proposals/" + str(uuid.uuid4())), 404, "GET",
                   "/api/v1/proposals/{proposalId}", "PROPOSAL_NOT_FOUND")
        lst = self.check(self.call("GET", "/api/v1/proposals?limit=100"), 200, "GET", "/api/v1/proposals")
        ids = [p["proposalId"] for p in lst["proposals"]]
        self.assertIn(a, ids)
        self.assertNotIn(b, ids)
        self.assertLess(ids.index(a), ids.index(c))  # oldest first, as the original listed them
        self.assertTrue(all(p["status"] == "ACTIVE" for p in lst["proposals"]))
        ex = self.check(self.call("GET", "/api/v1/proposals?status=EXECUTED"), 200, "GET", "/api/v1/proposals")
        self.assertIn(b, [p["proposalId"] for p in ex["proposals"]])
        passed = self.check(self.call("GET", "/api/v1/proposals?status=PASSED"), 200, "GET", "/api/v1/proposals")
        self.assertEqual(passed["proposals"], ex["proposals"])
        allp = self.check(self.call("GET", "/api/v1/proposals?status=ALL&limit=1"), 200, "GET", "/api/v1/proposals")
        self.assertEqual(len(allp["proposals"]), 1)
        self.assertGreaterEqual(allp["total"], 3)
        self.check(self.call("GET", "/api/v1/proposals?status=PASSING"), 400, "GET", "/api/v1/proposals",
                   "VALIDATION_FAILED")

    # --- vote ---------------------------------------------------------------------------------------------
    def test_vote_once(self):
        me, voter = seed_profile(self.stack, onchain=True), seed_profile(self.stack, onchain=True)
        pid = seed_proposal(self.stack, me)
        path, tpl = "/api/v1/proposals/%s/vote" % pid, "/api/v1/proposals/{proposalId}/vote"
        tok = gxtest.mint_token(voter)
        res = self.check(self.call("POST", path, tok, {"vote": "AGAINST", "reason": "too low"}), 202, "POST", tpl)
        self.assertEqual(outbox_command(self.stack, res["commandId"])[:3],
                         ("CAST_VOTE", {"proposalId": pid, "voterId": voter, "vote": "AGAINST"}, pid))
        # in flight: a second vote is refused
        self.check(self.call("POST", path, tok, {"vote": "FOR"}), 409, "POST", tpl, "ALREADY_VOTED")
        # the chain refused it: the voter may vote again
        self.stack.psql('UPDATE "OutboxCommand" SET "status" = \'FAILED\' WHERE "id" = %s' % q(res["commandId"]))
        res = self.check(self.call("POST", path, tok, {"vote": "FOR"}), 202, "POST", tpl)
        self.assertEqual(self.stack.psql('SELECT "vote" FROM "ProposalVote" WHERE "proposalId" = %s AND "voterId" = %s'
                                         % (q(pid), q(voter))), [("FOR",)])
        # confirmed by the projector (its command projected)
        self.stack.psql('UPDATE "OutboxCommand" SET "status" = \'PROJECTED\' WHERE "id" = %s' % q(res["commandId"]))
        self.stack.psql('UPDATE "ProposalVote" SET "confirmedAt" = now() WHERE "proposalId" = %s' % q(pid))
        self.check(self.call("POST", path, tok, {"vote": "ABSTAIN"}), 409, "POST", tpl, "ALREADY_VOTED")

    def test_vote_errors(self):
        me = seed_profile(self.stack, onchain=True)
        tok, tpl = gxtest.mint_token(me), "/api/v1/proposals/{proposalId}/vote"
        pid = seed_proposal(self.stack, me)
        for bad in ({"vote": 1}, {"vote": "yes"}, {"vote": None}, {}, {"vote": "FOR", "reason": "x" * 501}):
            self.check(self.call("POST", "/api/v1/proposals/%s/vote" % pid, tok, bad), 400, "POST", tpl,
                       "VALIDATION_FAILED")
        closed = seed_proposal(self.stack, me, ends="now() - interval '1 second'")
        self.check(self.call("POST", "/api/v1/proposals/%s/vote" % closed, tok, {"vote": "FOR"}), 409, "POST", tpl,
                   "VOTING_CLOSED")
        done = seed_proposal(self.stack, me, "REJECTED")
        self.check(self.call("POST", "/api/v1/proposals/%s/vote" % done, tok, {"vote": "FOR"}), 409, "POST", tpl,
                   "PROPOSAL_NOT_ACTIVE")
        self.check(self.call("POST", "/api/v1/proposals/%s/vote" % uuid.uuid4(), tok, {"vote": "FOR"}), 404, "POST",
                   tpl, "PROPOSAL_NOT_FOUND")
        self.check(self.call("POST", "/api/v1/proposals/%s/vote" % pid,
                             gxtest.mint_token(seed_profile(self.stack, onchain=False)), {"vote": "FOR"}),
                   409, "POST", tpl, "VOTER_NOT_ON_CHAIN")

    def test_vote_idempotent_retry(self):
        me = seed_profile(self.stack, onchain=True)
        pid = seed_proposal(self.stack, me)
        key = {"Idempotency-Key": "vote-" + str(uuid.uuid4())}
        path = "/api/v1/proposals/%s/vote" % pid
        r1 = self.call("POST", path, gxtest.mint_token(me), {"vote": "FOR"}, key)
        r2 = self.call("POST", path, gxtest.mint_token(me), {"vote": "FOR"}, key)
        self.check(r1, 202, "POST", "/api/v1/proposals/{proposalId}/vote")
        self.assertEqual(r1.body, r2.body)
        self.assertEqual(r2.headers.get("Idempotent-Replayed"), "true")

    # --- execute ------------------------------------------------------------------------------------------
    def test_execute(self):
        me = seed_profile(self.stack, onchain=True)
        tpl = "/api/v1/proposals/{proposalId}/execute"
        users = int(self.stack.psql('SELECT count(*) FROM "UserProfile" WHERE "onchainStatus" IS NOT NULL')[0][0])
        ended = "now() - interval '1 second'"
        passed = seed_proposal(self.stack, me, votes=(users, 0, 0), ends=ended)
        self.check(self.call("POST", "/api/v1/proposals/%s/execute" % passed, gxtest.mint_token(me)), 403, "POST",
                   tpl, "FORBIDDEN")
        # four eyes: an admin never executes their own proposal (and nothing is queued)
        r = self.check(self.call("POST", "/api/v1/proposals/%s/execute" % passed, gxtest.mint_token(me, "ADMIN")),
                       403, "POST", tpl, "SELF_APPROVAL")
        self.assertEqual(r["message"], "a proposal cannot be executed by its proposer")
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "commandType" = '
                                         '\'EXECUTE_PROPOSAL\' AND "aggregateId" = %s' % q(passed)), [("0",)])
        res = self.check(self.call("POST", "/api/v1/proposals/%s/execute" % passed, self.admin), 202, "POST", tpl)
        self.assertEqual(outbox_command(self.stack, res["commandId"])[:3],
                         ("EXECUTE_PROPOSAL", {"proposalId": passed, "executedBy": self.admin_id}, passed))
        self.check(self.call("POST", "/api/v1/proposals/%s/execute" % passed, self.admin), 409, "POST", tpl,
                   "EXECUTION_IN_PROGRESS")
        running = seed_proposal(self.stack, me, votes=(users, 0, 0))
        self.check(self.call("POST", "/api/v1/proposals/%s/execute" % running, self.admin), 409, "POST", tpl,
                   "VOTING_NOT_ENDED")
        # 2 of 3 = 66.7 % >= 66 % approval, but quorum of 10 % of the registered users missed when many users exist
        for _ in range(40):
            seed_profile(self.stack, onchain=True)
        no_quorum = seed_proposal(self.stack, me, votes=(2, 1, 0), ends=ended)
        r = self.check(self.call("POST", "/api/v1/proposals/%s/execute" % no_quorum, self.admin), 422, "POST", tpl,
                       "PROPOSAL_NOT_PASSED")
        self.assertIn("quorum", r["message"])
        rejected = seed_proposal(self.stack, me, votes=(10, 10, 0), ends=ended)
        r = self.check(self.call("POST", "/api/v1/proposals/%s/execute" % rejected, self.admin), 422, "POST", tpl,
                       "PROPOSAL_NOT_PASSED")
        self.assertIn("approval", r["message"])
        done = seed_proposal(self.stack, me, "EXECUTED", ends=ended)
        self.check(self.call("POST", "/api/v1/proposals/%s/execute" % done, self.admin), 409, "POST", tpl,
                   "PROPOSAL_NOT_ACTIVE")
        self.check(self.call("POST", "/api/v1/proposals/%s/execute" % uuid.uuid4(), self.admin), 404, "POST", tpl,
                   "PROPOSAL_NOT_FOUND")

"""Four eyes on organizations (docs/security.md, docs/svc-organization.md): a multi-signature approval counts only
from a listed approver of that transaction, never from its initiator, once per approver; a rule that lowers an
ACTIVE organization's defined rule waits for a second, different stakeholder. Read-model rows the projector would
write are seeded with SQL; every checked response is validated against the live /openapi.json."""

import uuid

import gxtest
from gxtest.services import ServiceTestCase
from gxtest.sql import outbox_command, q, seed_user
from test_organization import seed_mstx, seed_org

APPROVE = "/api/v1/transactions/{pendingTxId}/approve"
RULES = "/api/v1/organizations/{orgId}/rules"


class FourEyesTest(ServiceTestCase):
    DAEMON = "svc-organization"

    def commands(self, ctype, aggregate):
        return int(self.stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "commandType" = %s AND '
                                   '"aggregateId" = %s' % (q(ctype), q(aggregate)))[0][0])

    def approve(self, tid, tok, status, code=None):
        return self.check(self.call("POST", "/api/v1/transactions/%s/approve" % tid, tok), status, "POST", APPROVE,
                          code)

    def rule(self, oid, who, body, status=202):
        return self.check(self.call("POST", "/api/v1/organizations/%s/rules" % oid, gxtest.mint_token(who), body),
                          status, "POST", RULES)

    # --- multisig: only a listed approver counts --------------------------------------------------------------
    def test_only_listed_approvers(self):
        a, b, c, d, to = (seed_user(self.stack) for _ in range(5))
        oid = seed_org(self.stack, [a, b, c, d], "ACTIVE", [a, b, c, d], balance=10 ** 8)
        tid = seed_mstx(self.stack, oid, a, to, [a, b, c])
        outsider = str(uuid.uuid4())
        for tok in (gxtest.mint_token(d),                          # a stakeholder who is not listed
                    gxtest.mint_token(d, "ADMIN"),                 # ... even with an admin role
                    gxtest.mint_token(outsider),                   # not a stakeholder
                    gxtest.mint_token(outsider, "ADMIN"),          # an admin who is not an approver
                    gxtest.mint_token(outsider, "SUPER_ADMIN"),
                    gxtest.mint_token(to)):                        # the receiver
            r = self.approve(tid, tok, 403, "FORBIDDEN")
            self.assertEqual(r["message"], "you are not an approver of this transaction")
        self.assertEqual(self.commands("APPROVE_MULTISIG_TX", tid), 0)
        # a listed approver does count, with the exact payload
        res = self.approve(tid, gxtest.mint_token(b), 202)
        self.assertEqual(outbox_command(self.stack, res["commandId"])[:3],
                         ("APPROVE_MULTISIG_TX", {"pendingTxId": tid, "userId": b}, tid))
        # a transaction whose approver list the read model does not hold yet: nobody counts
        bare = seed_mstx(self.stack, oid, a, to, [])
        self.approve(bare, gxtest.mint_token(b), 403, "FORBIDDEN")
        self.assertEqual(self.commands("APPROVE_MULTISIG_TX", bare), 0)

    # --- multisig: never the initiator ------------------------------------------------------------------------
    def test_initiator_cannot_approve(self):
        a, b, c, to = (seed_user(self.stack) for _ in range(4))
        oid = seed_org(self.stack, [a, b, c], "ACTIVE", [a, b, c], balance=10 ** 8)
        tid = seed_mstx(self.stack, oid, a, to, [a, b, c])
        for role in ("USER", "ADMIN", "SUPER_ADMIN"):
            r = self.approve(tid, gxtest.mint_token(a, role), 403, "SELF_APPROVAL")
            self.assertEqual(r["message"], "a transaction cannot be approved by its initiator")
        self.assertEqual(self.commands("APPROVE_MULTISIG_TX", tid), 0)
        # the initiator's request is not an approval: the pending list shows none
        pend = self.check(self.call("GET", "/api/v1/organizations/%s/transactions/pending" % oid), 200, "GET",
                          "/api/v1/organizations/{orgId}/transactions/pending")
        self.assertEqual([(t["initiatorId"], t["approvalCount"], t["approvals"]) for t in pend["pendingTransactions"]],
                         [(a, 0, [])])

    # --- multisig: once per approver --------------------------------------------------------------------------
    def test_second_approval_refused(self):
        a, b, c, to = (seed_user(self.stack) for _ in range(4))
        oid = seed_org(self.stack, [a, b, c], "ACTIVE", [a, b, c], balance=10 ** 8)
        tid = seed_mstx(self.stack, oid, a, to, [a, b, c], required=2)
        first = self.approve(tid, gxtest.mint_token(b), 202)
        # in flight: refused, not counted twice
        self.approve(tid, gxtest.mint_token(b), 409, "ALREADY_APPROVED")
        self.approve(tid, gxtest.mint_token(b, "ADMIN"), 409, "ALREADY_APPROVED")
        self.assertEqual(self.commands("APPROVE_MULTISIG_TX", tid), 1)
        # projected (the read model records it): still refused
        self.stack.psql('UPDATE "OutboxCommand" SET "status" = \'PROJECTED\' WHERE "id" = %s' % q(first["commandId"]))
        self.stack.psql('UPDATE "MultiSigTransaction" SET "approvers" = %s::jsonb, "currentSignatures" = 1 '
                        'WHERE "txId" = %s' % (q('["%s"]' % b), q(tid)))
        self.approve(tid, gxtest.mint_token(b), 409, "ALREADY_APPROVED")
        self.assertEqual(self.commands("APPROVE_MULTISIG_TX", tid), 1)
        # another approver still counts
        self.approve(tid, gxtest.mint_token(c), 202)

    # --- rules: a lowering needs a second stakeholder ---------------------------------------------------------
    def seed_ruled(self):
        a, b, c = (seed_user(self.stack) for _ in range(3))
        rule = [{"amountThreshold": "0", "requiredApprovals": 2, "approverIDs": [a, b, c]}]
        return a, b, c, seed_org(self.stack, [a, b, c], "ACTIVE", [a, b, c], rules=rule)

    def pending_rows(self, oid):
        return self.stack.psql('SELECT "requestedBy", "requiredApprovals", "amountThreshold"::text FROM "RuleChange" '
                               'WHERE "orgId" = %s ORDER BY "createdAt"' % q(oid))

    def test_lowering_waits_for_second_stakeholder(self):
        a, b, c, oid = self.seed_ruled()
        lower = {"requiredApprovals": 1, "approverIds": [a, b, c]}
        res = self.rule(oid, a, lower)
        self.assertEqual(res["status"], "AWAITING_SECOND_STAKEHOLDER")
        self.assertEqual((res["orgId"], res["requestedBy"], res["rule"]),
                         (oid, a, {"amountThreshold": "0", "requiredApprovals": 1, "approverIds": [a, b, c]}))
        self.assertNotIn("commandId", res)
        self.assertEqual(self.commands("DEFINE_AUTH_RULE", oid), 0)
        self.assertEqual(self.pending_rows(oid), [(a, "1", "0")])
        # the same stakeholder again (even as an admin): still waiting, nothing submitted
        self.assertEqual(self.rule(oid, a, lower)["status"], "AWAITING_SECOND_STAKEHOLDER")
        self.check(self.call("POST", "/api/v1/organizations/%s/rules" % oid, gxtest.mint_token(a, "ADMIN"), lower),
                   202, "POST", RULES)
        self.assertEqual(self.commands("DEFINE_AUTH_RULE", oid), 0)
        # a different rule from b does not confirm a's (it is recorded as b's own)
        other = self.rule(oid, b, {"requiredApprovals": 1, "approverIds": [b, c]})
        self.assertEqual((other["status"], other["requestedBy"]), ("AWAITING_SECOND_STAKEHOLDER", b))
        self.assertEqual(self.commands("DEFINE_AUTH_RULE", oid), 0)
        # an outsider cannot confirm
        self.rule(oid, str(uuid.uuid4()), lower, 403)
        # b sends the same rule (approvers in another order): the normal command answer, a's request is used up
        res = self.rule(oid, b, {"rule": {"requiredApprovers": 1, "approverGroup": [c, a, b]}})
        self.assertEqual(res["status"], "ACCEPTED")
        self.assertEqual(outbox_command(self.stack, res["commandId"])[:3],
                         ("DEFINE_AUTH_RULE", {"orgId": oid, "amountThreshold": "0", "requiredApprovals": 1,
                                               "approverIds": [c, a, b]}, oid))
        self.assertEqual(self.pending_rows(oid), [(b, "1", "0")])

    def test_lowering_kinds(self):
        a, b, c, oid = self.seed_ruled()
        for body in ({"requiredApprovals": 1, "approverIds": [a, b, c]},                        # fewer approvals
                     {"requiredApprovals": 2, "approverIds": [a, b]},                           # an approver removed
                     {"requiredApprovals": 2, "approverIds": [a, b], "amountThreshold": "100"},  # ... above 100 coins
                     {"requiredApprovals": 1, "approverIds": [a], "amountThreshold": "5"}):
            self.assertEqual(self.rule(oid, a, body)["status"], "AWAITING_SECOND_STAKEHOLDER", body)
        self.assertEqual(self.commands("DEFINE_AUTH_RULE", oid), 0)
        # raising stays one call: more approvals, the same rule again, a stricter rule above a threshold
        for body in ({"requiredApprovals": 3, "approverIds": [a, b, c]},
                     {"requiredApprovals": 2, "approverIds": [c, b, a]},
                     {"requiredApprovals": 3, "approverIds": [a, b, c], "amountThreshold": "1000"}):
            self.assertEqual(self.rule(oid, a, body)["status"], "ACCEPTED", body)
        self.assertEqual(self.commands("DEFINE_AUTH_RULE", oid), 3)

    def test_added_approver_must_raise(self):
        a, b, c, d = (seed_user(self.stack) for _ in range(4))
        rule = [{"amountThreshold": "0", "requiredApprovals": 2, "approverIDs": [b, c]}]
        oid = seed_org(self.stack, [a, b, c, d], "ACTIVE", [a, b, c, d], rules=rule)
        # a adding themselves at 2 of 3 lets a and b approve without c: a lowering
        self.assertEqual(self.rule(oid, a, {"requiredApprovals": 2, "approverIds": [a, b, c]})["status"],
                         "AWAITING_SECOND_STAKEHOLDER")
        # 3 of 3: every group that can approve could already
        self.assertEqual(self.rule(oid, a, {"requiredApprovals": 3, "approverIds": [a, b, c]})["status"], "ACCEPTED")

    def test_no_defined_rule_is_one_call(self):
        a, b, c = (seed_user(self.stack) for _ in range(3))
        oid = seed_org(self.stack, [a, b, c], "ACTIVE", [a, b, c])
        self.assertEqual(self.rule(oid, a, {"requiredApprovals": 1, "approverIds": [b, c]})["status"], "ACCEPTED")
        # a rule only at 100 coins: a rule below it has nothing defined to lower
        ruled = seed_org(self.stack, [a, b, c], "ACTIVE", [a, b, c],
                         rules=[{"amountThreshold": "10000000", "requiredApprovals": 3, "approverIDs": [a, b, c]}])
        self.assertEqual(self.rule(ruled, a, {"requiredApprovals": 1, "approverIds": [b, c],
                                              "amountThreshold": "99"})["status"], "ACCEPTED")
        self.assertEqual(self.rule(ruled, a, {"requiredApprovals": 1, "approverIds": [b, c],
                                              "amountThreshold": "100"})["status"], "AWAITING_SECOND_STAKEHOLDER")

    def test_pending_change_expires(self):
        a, b, c, oid = self.seed_ruled()
        lower = {"requiredApprovals": 1, "approverIds": [a, b, c]}
        res = self.rule(oid, a, lower)
        self.assertEqual(res["status"], "AWAITING_SECOND_STAKEHOLDER")
        left = self.stack.psql('SELECT round(extract(epoch FROM "expiresAt" - "createdAt"))::text FROM "RuleChange" '
                               'WHERE "orgId" = %s' % q(oid))
        self.assertEqual(left, [("86400",)])
        self.stack.psql('UPDATE "RuleChange" SET "expiresAt" = now() - interval \'1 second\' WHERE "orgId" = %s'
                        % q(oid))
        # expired: b's request does not confirm it but becomes the new first request
        res = self.rule(oid, b, lower)
        self.assertEqual((res["status"], res["requestedBy"]), ("AWAITING_SECOND_STAKEHOLDER", b))
        self.assertEqual(self.commands("DEFINE_AUTH_RULE", oid), 0)
        self.assertEqual(self.rule(oid, c, lower)["status"], "ACCEPTED")
        self.assertEqual(self.commands("DEFINE_AUTH_RULE", oid), 1)

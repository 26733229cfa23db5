"""svc-organization against real PostgreSQL and Redis: every route's success and error paths, stakeholder and
approver checks, once-only endorsement and approval (a command in flight counts), the exact command payloads of
docs/chaincode.md §2 and idempotent retries. Read-model rows the projector would write are seeded with SQL; every
checked response is validated against the live /openapi.json."""

import json
import uuid

import gxtest
from gxtest.services import ServiceTestCase
from gxtest.sql import outbox_command, q, seed_user


def seed_org(stack, stakeholders, status="PROPOSED", endorsers=(), rules=None, balance=0):
    oid = str(uuid.uuid4())
    stack.psql('INSERT INTO "Organization" ("orgId", "tenantId", "orgName", "orgType", "status", "stakeholders", '
               '"endorsers", "authRules", "balanceQirat") VALUES (%s, \'default\', \'Acme Ltd\', \'BUSINESS\', %s, '
               '%s::jsonb, %s::jsonb, %s::jsonb, %d)'
               % (q(oid), q(status), q(json.dumps(list(stakeholders))), q(json.dumps(list(endorsers))),
                  q(json.dumps(rules or [])), balance))
    return oid


def seed_mstx(stack, org, initiator, to, approvers, required=2, approvals=(), amount=500000, status="PENDING"):
    tid = str(uuid.uuid4())
    params = {"toID": to, "amount": str(amount), "remark": "", "approverIDs": list(approvers)}
    stack.psql('INSERT INTO "MultiSigTransaction" ("txId", "tenantId", "orgId", "proposerId", "operation", "params", '
               '"status", "requiredSignatures", "currentSignatures", "approvers", "toId", "amountQirat", "remark") '
               "VALUES (%s, 'default', %s, %s, 'TRANSFER', %s::jsonb, %s, %d, %d, %s::jsonb, %s, %d, 'rent')"
               % (q(tid), q(org), q(initiator), q(json.dumps(params)), q(status), required, len(approvals),
                  q(json.dumps(list(approvals))), q(to), amount))
    return tid


class OrganizationTest(ServiceTestCase):
    DAEMON = "svc-organization"

    def tok(self, pid, role="USER"):
        return gxtest.mint_token(pid, role)

    def test_document(self):
        self.assert_operations([
            ("POST", "/api/v1/organizations"), ("GET", "/api/v1/organizations/{orgId}"),
            ("POST", "/api/v1/organizations/{orgId}/endorse"), ("POST", "/api/v1/organizations/{orgId}/activate"),
            ("POST", "/api/v1/organizations/{orgId}/rules"),
            ("POST", "/api/v1/organizations/{orgId}/transactions"),
            ("GET", "/api/v1/organizations/{orgId}/transactions/pending"),
            ("POST", "/api/v1/transactions/{pendingTxId}/approve"), ("GET", "/health"),
            ("GET", "/api/v1/commands/{commandId}")
        ])

    # --- propose ------------------------------------------------------------------------------------------
    def test_propose_payload_and_generated_id(self):
        a, b = seed_user(self.stack), seed_user(self.stack)
        r = self.call("POST", "/api/v1/organizations", self.tok(a),
                      {"orgName": "Acme Ltd", "orgType": "nonprofit", "stakeholderIds": [a, b]})
        res = self.check(r, 202, "POST", "/api/v1/organizations")
        ctype, payload, agg, svc = outbox_command(self.stack, res["commandId"])
        self.assertEqual(ctype, "PROPOSE_ORGANIZATION")
        self.assertEqual(svc, "svc-organization")
        self.assertEqual(payload, {"orgId": agg, "orgName": "Acme Ltd", "orgType": "NONPROFIT",
                                   "stakeholderIds": [a, b]})
        self.assertEqual((res["aggregateId"], res["orgId"]), (agg, agg))
        uuid.UUID(agg)

    def test_propose_validation_and_permissions(self):
        a, b = seed_user(self.stack), seed_user(self.stack)
        t = self.tok(a)
        path = "/api/v1/organizations"
        r = self.check(self.call("POST", path, t, {"orgName": "A" * 101, "orgType": "club", "stakeholderIds": [a]}),
                       400, "POST", path, "VALIDATION_FAILED")
        fields = {d["field"] for d in r["details"]}
        self.assertEqual(fields, {"orgName", "orgType", "stakeholderIds"})
        r = self.check(self.call("POST", path, t, {"orgId": "SYSTEM_mine", "orgName": "Acme", "orgType": "business",
                                                   "stakeholderIds": [a, a]}), 400, "POST", path, "VALIDATION_FAILED")
        self.assertEqual({d["field"] for d in r["details"]}, {"orgId", "stakeholderIds[1]"})
        r = self.check(self.call("POST", path, t, {"orgName": "Acme", "stakeholderIds": [a, b]}), 400, "POST", path,
                       "VALIDATION_FAILED")
        self.assertEqual(r["message"], "orgId, orgName, orgType, and stakeholderIds are required")
        self.check(self.call("POST", path, t, {"orgName": "Acme", "orgType": "business",
                                               "stakeholderIds": [b, seed_user(self.stack)]}),
                   403, "POST", path, "FORBIDDEN")
        ghost, offchain = str(uuid.uuid4()), seed_user(self.stack, onchain=False)
        r = self.check(self.call("POST", path, t, {"orgName": "Acme", "orgType": "GOVERNMENT",
                                                   "stakeholderIds": [a, ghost, offchain]}),
                       400, "POST", path, "VALIDATION_FAILED")
        self.assertEqual(r["message"], "Some stakeholders not found: " + ghost)
        r = self.check(self.call("POST", path, t, {"orgName": "Acme", "orgType": "GOVERNMENT",
                                                   "stakeholderIds": [a, offchain]}),
                       400, "POST", path, "VALIDATION_FAILED")
        self.assertEqual([(d["field"], d["issue"]) for d in r["details"]],
                         [("stakeholderIds[1]", "user is not registered on chain yet")])
        self.check(self.call("POST", path, None, {"orgName": "Acme", "orgType": "business",
                                                  "stakeholderIds": [a, b]}), 401, "POST", path, "UNAUTHORIZED")

    def test_propose_idempotent_retry(self):
        a, b = seed_user(self.stack), seed_user(self.stack)
        key = {"Idempotency-Key": "org-" + str(uuid.uuid4())}
        body = {"orgName": "Retry Org", "orgType": "business", "stakeholderIds": [a, b]}
        r1 = self.call("POST", "/api/v1/organizations", self.tok(a), body, key)
        r2 = self.call("POST", "/api/v1/organizations", self.tok(a), body, key)
        self.check(r1, 202, "POST", "/api/v1/organizations")
        self.assertEqual(r1.body, r2.body)
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "payload"->>\'orgName\' = '
                                         '\'Retry Org\''), [("1",)])

    # --- get ----------------------------------------------------------------------------------------------
    def test_get(self):
        a, b = seed_user(self.stack), seed_user(self.stack)
        rule = [{"amountThreshold": "150000", "requiredApprovals": 2, "approverIDs": [a, b]}]
        oid = seed_org(self.stack, [a, b], "ACTIVE", [a, b], rule, balance=123456789)
        res = self.check(self.call("GET", "/api/v1/organizations/" + oid), 200, "GET", "/api/v1/organizations/{orgId}")
        self.assertEqual(res["orgId"], oid)
        self.assertEqual(res["orgType"], "business")
        self.assertEqual(res["status"], "ACTIVE")
        self.assertEqual(res["stakeholderIds"], [a, b])
        self.assertEqual(res["endorsements"], [a, b])
        self.assertEqual(res["rules"], [{"amountThreshold": "1.5", "requiredApprovals": 2, "approverIds": [a, b]}])
        self.assertEqual(res["balance"], "1234.56789")
        self.assertEqual(res["organization"], {"orgId": oid, "orgName": "Acme Ltd", "status": "ACTIVE",
                                               "stakeholders": [a, b], "createdAt": res["createdAt"]})
        self.check(self.call("GET", "/api/v1/organizations/" + str(uuid.uuid4())), 404, "GET",
                   "/api/v1/organizations/{orgId}", "ORG_NOT_FOUND")

    # --- endorse / activate -------------------------------------------------------------------------------
    def test_endorse_once(self):
        a, b, c = seed_user(self.stack), seed_user(self.stack), seed_user(self.stack)
        oid = seed_org(self.stack, [a, b], endorsers=[b])
        path, tpl = "/api/v1/organizations/%s/endorse" % oid, "/api/v1/organizations/{orgId}/endorse"
        res = self.check(self.call("POST", path, self.tok(a)), 202, "POST", tpl)
        self.assertEqual(outbox_command(self.stack, res["commandId"])[1:3], ({"orgId": oid, "userId": a}, oid))
        # the first endorsement is in flight: a second one is refused
        self.check(self.call("POST", path, self.tok(a)), 409, "POST", tpl, "ALREADY_ENDORSED")
        # already projected
        self.check(self.call("POST", path, self.tok(b)), 409, "POST", tpl, "ALREADY_ENDORSED")
        self.check(self.call("POST", path, self.tok(c)), 403, "POST", tpl, "FORBIDDEN")
        # a failed endorsement does not count
        self.stack.psql('UPDATE "OutboxCommand" SET "status" = \'FAILED\' WHERE "id" = %s' % q(res["commandId"]))
        self.check(self.call("POST", path, self.tok(a)), 202, "POST", tpl)
        self.check(self.call("POST", "/api/v1/organizations/nope/endorse", self.tok(a)), 404, "POST", tpl,
                   "ORG_NOT_FOUND")
        active = seed_org(self.stack, [a, b], "ACTIVE", [a, b])
        self.check(self.call("POST", "/api/v1/organizations/%s/endorse" % active, self.tok(a)), 409, "POST", tpl,
                   "ORG_NOT_PROPOSED")

    def test_activate(self):
        a, b, c = seed_user(self.stack), seed_user(self.stack), seed_user(self.stack)
        tpl = "/api/v1/organizations/{orgId}/activate"
        half = seed_org(self.stack, [a, b], endorsers=[a])
        self.check(self.call("POST", "/api/v1/organizations/%s/activate" % half, self.tok(a)), 422, "POST", tpl,
                   "NOT_ALL_ENDORSED")
        full = seed_org(self.stack, [a, b], endorsers=[a, b])
        self.check(self.call("POST", "/api/v1/organizations/%s/activate" % full, self.tok(c)), 403, "POST", tpl,
                   "FORBIDDEN")
        res = self.check(self.call("POST", "/api/v1/organizations/%s/activate" % full, self.tok(b)), 202, "POST", tpl)
        self.assertEqual(outbox_command(self.stack, res["commandId"])[:2], ("ACTIVATE_ORGANIZATION", {"orgId": full}))
        self.check(self.call("POST", "/api/v1/organizations/%s/activate" % full, self.tok(str(uuid.uuid4()), "ADMIN")),
                   409, "POST", tpl, "ACTIVATION_IN_PROGRESS")
        active = seed_org(self.stack, [a, b], "ACTIVE", [a, b])
        self.check(self.call("POST", "/api/v1/organizations/%s/activate" % active, self.tok(a)), 409, "POST", tpl,
                   "ORG_NOT_PROPOSED")

    # --- rules --------------------------------------------------------------------------------------------
    def test_rules(self):
        a, b, c, d = (seed_user(self.stack) for _ in range(4))
        oid = seed_org(self.stack, [a, b, c], "ACTIVE", [a, b, c])
        path, tpl = "/api/v1/organizations/%s/rules" % oid, "/api/v1/organizations/{orgId}/rules"
        res = self.check(self.call("POST", path, self.tok(a), {"requiredApprovals": 2, "approverIds": [b, c],
                                                               "amountThreshold": "10.5"}), 202, "POST", tpl)
        self.assertEqual(outbox_command(self.stack, res["commandId"])[:2],
                         ("DEFINE_AUTH_RULE", {"orgId": oid, "amountThreshold": "1050000", "requiredApprovals": 2,
                                               "approverIds": [b, c]}))
        r = self.check(self.call("POST", path, self.tok(a), {"requiredApprovals": 3, "approverIds": [b, c]}),
                       400, "POST", tpl, "VALIDATION_FAILED")
        self.assertEqual(r["details"][0]["field"], "requiredApprovals")
        r = self.check(self.call("POST", path, self.tok(a), {"requiredApprovals": 1, "approverIds": [b, d]}),
                       400, "POST", tpl, "VALIDATION_FAILED")
        self.assertEqual(r["details"], [{"field": "approverIds[1]",
                                                  "issue": "is not a stakeholder of the organization"}])
        self.check(self.call("POST", path, self.tok(d), {"requiredApprovals": 1, "approverIds": [b]}), 403, "POST",
                   tpl, "FORBIDDEN")
        proposed = seed_org(self.stack, [a, b])
        self.check(self.call("POST", "/api/v1/organizations/%s/rules" % proposed, self.tok(a),
                             {"requiredApprovals": 1, "approverIds": [b]}), 409, "POST", tpl, "ORG_NOT_ACTIVE")

    # --- multisig -----------------------------------------------------------------------------------------
    def test_initiate(self):
        a, b, to = seed_user(self.stack), seed_user(self.stack), seed_user(self.stack)
        oid = seed_org(self.stack, [a, b], "ACTIVE", [a, b], balance=10 ** 7)
        path, tpl = "/api/v1/organizations/%s/transactions" % oid, "/api/v1/organizations/{orgId}/transactions"
        res = self.check(self.call("POST", path, self.tok(a), {"toUserId": to, "amount": 12.5, "remark": "rent"}),
                         202, "POST", tpl)
        ctype, payload, agg, _ = outbox_command(self.stack, res["commandId"])
        self.assertEqual(ctype, "INITIATE_MULTISIG_TX")
        self.assertEqual(payload, {"pendingTxId": agg, "orgId": oid, "initiatorId": a, "toUserId": to,
                                   "amount": "1250000", "remark": "rent"})
        self.assertEqual((res["aggregateId"], res["pendingTxId"]), (agg, agg))
        self.check(self.call("POST", path, self.tok(a), {"toUserId": to, "amount": "101"}), 409, "POST", tpl,
                   "INSUFFICIENT_BALANCE")
        self.check(self.call("POST", path, self.tok(to), {"toUserId": a, "amount": "1"}), 403, "POST", tpl,
                   "FORBIDDEN")
        self.check(self.call("POST", path, self.tok(a), {"toUserId": str(uuid.uuid4()), "amount": "1"}), 404, "POST",
                   tpl, "RECEIVER_NOT_FOUND")
        r = self.check(self.call("POST", path, self.tok(a), {"toUserId": to, "amount": "0"}), 400, "POST", tpl,
                       "VALIDATION_FAILED")
        self.assertEqual(r["message"], "Amount must be greater than 0")
        r = self.check(self.call("POST", path, self.tok(a), {"toUserId": to, "amount": "1.000001"}), 400, "POST", tpl,
                       "VALIDATION_FAILED")
        self.assertEqual(r["details"][0]["field"], "amount")
        proposed = seed_org(self.stack, [a, b])
        self.check(self.call("POST", "/api/v1/organizations/%s/transactions" % proposed, self.tok(a),
                             {"toUserId": to, "amount": "1"}), 409, "POST", tpl, "ORG_NOT_ACTIVE")

    def test_approve_once(self):
        a, b, c, e, to = (seed_user(self.stack) for _ in range(5))
        oid = seed_org(self.stack, [a, b, c, e], "ACTIVE", [a, b, c, e], balance=10 ** 7)
        tid = seed_mstx(self.stack, oid, e, to, [a, b], approvals=[b])
        path, tpl = "/api/v1/transactions/%s/approve" % tid, "/api/v1/transactions/{pendingTxId}/approve"
        res = self.check(self.call("POST", path, self.tok(a)), 202, "POST", tpl)
        self.assertEqual(outbox_command(self.stack, res["commandId"])[:3],
                         ("APPROVE_MULTISIG_TX", {"pendingTxId": tid, "userId": a}, tid))
        self.check(self.call("POST", path, self.tok(a)), 409, "POST", tpl, "ALREADY_APPROVED")
        self.check(self.call("POST", path, self.tok(b)), 409, "POST", tpl, "ALREADY_APPROVED")
        self.check(self.call("POST", path, self.tok(c)), 403, "POST", tpl, "FORBIDDEN")
        self.check(self.call("POST", "/api/v1/transactions/%s/approve" % uuid.uuid4(), self.tok(a)), 404, "POST", tpl,
                   "TRANSACTION_NOT_FOUND")
        done = seed_mstx(self.stack, oid, a, to, [a, b], approvals=[a, b], status="EXECUTED")
        self.check(self.call("POST", "/api/v1/transactions/%s/approve" % done, self.tok(a)), 409, "POST", tpl,
                   "TRANSACTION_NOT_PENDING")

    def test_pending_list(self):
        a, b, to = seed_user(self.stack), seed_user(self.stack), seed_user(self.stack)
        oid = seed_org(self.stack, [a, b], "ACTIVE", [a, b])
        t1 = seed_mstx(self.stack, oid, a, to, [a, b], approvals=[a], amount=250000)
        seed_mstx(self.stack, oid, a, to, [a, b], approvals=[a, b], status="EXECUTED")
        t3 = seed_mstx(self.stack, oid, b, to, [a, b])
        tpl = "/api/v1/organizations/{orgId}/transactions/pending"
        res = self.check(self.call("GET", "/api/v1/organizations/%s/transactions/pending" % oid), 200, "GET", tpl)
        self.assertEqual(res["total"], 2)
        self.assertEqual({t["pendingTxId"] for t in res["pendingTransactions"]}, {t1, t3})
        one = [t for t in res["pendingTransactions"] if t["pendingTxId"] == t1][0]
        self.assertEqual((one["amount"], one["approvalCount"], one["requiredApprovals"], one["approvals"],
                          one["status"], one["toUserId"], one["initiatorId"]), (2.5, 1, 2, [a], "PENDING", to, a))
        self.assertEqual((one["amountQirat"], one["txId"]), ("250000", t1))
        page = self.check(self.call("GET", "/api/v1/organizations/%s/transactions/pending?limit=1&offset=1" % oid),
                          200, "GET", tpl)
        self.assertEqual((page["total"], len(page["pendingTransactions"]), page["limit"], page["offset"]), (2, 1, 1, 1))
        empty = self.check(self.call("GET", "/api/v1/organizations/%s/transactions/pending?offset=5" % oid), 200,
                           "GET", tpl)
        self.assertEqual((empty["total"], empty["pendingTransactions"]), (2, []))
        self.check(self.call("GET", "/api/v1/organizations/%s/transactions/pending?limit=0" % oid), 400, "GET", tpl,
                   "VALIDATION_FAILED")
        self.check(self.call("GET", "/api/v1/organizations/%s/transactions/pending" % uuid.uuid4()), 404, "GET", tpl,
                   "ORG_NOT_FOUND")

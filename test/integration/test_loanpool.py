"""svc-loanpool against real PostgreSQL and Redis: apply (self only, bounds from SystemParameter, collateral hash),
approve (admin, only from PENDING_APPROVAL, one in flight), get (borrower or admin), list (self or admin, paging,
status filter) and repay (borrower, ACTIVE, outstanding and balance), with the exact command payloads of
docs/chaincode.md §2 and idempotent retries. Read-model rows the projector would write are seeded with SQL; every
checked response is validated against the live /openapi.json."""

import hashlib
import uuid

import gxtest
from gxtest.services import ServiceTestCase
from gxtest.sql import outbox_command, q, seed_user

HASH = hashlib.sha256(b"deed").hexdigest()


def seed_loan(stack, borrower, status="PENDING_APPROVAL", amount=50000000, repaid=0, applied="now()"):
    lid = str(uuid.uuid4())
    stack.psql('INSERT INTO "Loan" ("loanId", "tenantId", "borrowerId", "collateralHash", "status", "amountQirat", '
               '"repaidQirat", "appliedAt") VALUES (%s, \'default\', %s, %s, %s, %d, %d, %s)'
               % (q(lid), q(borrower), q(HASH), q(status), amount, repaid, applied))
    return lid


class LoanpoolTest(ServiceTestCase):
    DAEMON = "svc-loanpool"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = gxtest.mint_token(str(uuid.uuid4()), "ADMIN")

    def test_document(self):
        self.assert_operations([
            ("POST", "/api/v1/loans"), ("GET", "/api/v1/loans/{loanId}"),
            ("POST", "/api/v1/loans/{loanId}/approve"), ("POST", "/api/v1/loans/{loanId}/repay"),
            ("GET", "/api/v1/users/{borrowerId}/loans"), ("GET", "/api/v1/commands/{commandId}")
        ])

    def test_apply(self):
        me = seed_user(self.stack)
        tok = gxtest.mint_token(me)
        res = self.check(self.call("POST", "/api/v1/loans", tok, {"borrowerId": me, "amount": "500",
                                                                  "collateralHash": HASH}), 202, "POST", "/api/v1/loans")
        ctype, payload, agg, _ = outbox_command(self.stack, res["commandId"])
        self.assertEqual(ctype, "APPLY_FOR_LOAN")
        self.assertEqual(payload, {"loanId": agg, "borrowerId": me, "amount": "50000000", "collateralHash": HASH})
        self.assertEqual((res["aggregateId"], res["loanId"]), (agg, agg))
        uuid.UUID(agg)
        # borrowerId defaults to the caller
        self.check(self.call("POST", "/api/v1/loans", tok, {"amount": 100, "collateralHash": HASH}), 202, "POST",
                   "/api/v1/loans")

    def test_apply_errors(self):
        me = seed_user(self.stack)
        tok = gxtest.mint_token(me)
        p = "/api/v1/loans"
        r = self.check(self.call("POST", p, tok, {"amount": "1.000001", "collateralHash": HASH.upper()}), 400, "POST",
                       p, "VALIDATION_FAILED")
        self.assertEqual({d["field"] for d in r["details"]}, {"amount", "collateralHash"})
        # bounds from the parameters (defaults 100 .. 1,000,000 coins)
        r = self.check(self.call("POST", p, tok, {"amount": "99.99999", "collateralHash": HASH}), 400, "POST", p,
                       "VALIDATION_FAILED")
        self.assertEqual(r["details"], [{"field": "amount", "issue": "must be between 100 and 1000000"}])
        self.stack.psql('UPDATE "SystemParameter" SET "paramValue" = \'20000000\' WHERE "paramKey" = '
                        '\'loanMaximumAmount\'')
        try:
            self.check(self.call("POST", p, tok, {"amount": "200.00001", "collateralHash": HASH}), 400, "POST", p,
                       "VALIDATION_FAILED")
        finally:
            self.stack.psql('UPDATE "SystemParameter" SET "paramValue" = \'100000000000\' WHERE "paramKey" = '
                            '\'loanMaximumAmount\'')
        self.check(self.call("POST", p, tok, {"borrowerId": seed_user(self.stack), "amount": "500",
                                              "collateralHash": HASH}), 403, "POST", p, "FORBIDDEN")
        self.check(self.call("POST", p, gxtest.mint_token(str(uuid.uuid4())), {"amount": "500",
                                                                               "collateralHash": HASH}),
                   400, "POST", p, "BORROWER_NOT_FOUND")
        self.check(self.call("POST", p, gxtest.mint_token(seed_user(self.stack, onchain=False)),
                             {"amount": "500", "collateralHash": HASH}), 409, "POST", p, "BORROWER_NOT_ON_CHAIN")
        self.check(self.call("POST", p, None, {"amount": "500", "collateralHash": HASH}), 401, "POST", p,
                   "UNAUTHORIZED")

    def test_apply_idempotent_retry(self):
        me = seed_user(self.stack)
        tok = gxtest.mint_token(me)
        key = {"Idempotency-Key": "loan-" + str(uuid.uuid4())}
        body = {"amount": "321", "collateralHash": HASH}
        r1 = self.call("POST", "/api/v1/loans", tok, body, key)
        r2 = self.call("POST", "/api/v1/loans", tok, body, key)
        self.check(r1, 202, "POST", "/api/v1/loans")
        self.assertEqual(r1.body, r2.body)
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "payload"->>\'borrowerId\' = %s'
                                         % q(me)), [("1",)])

    def test_get_owner_or_admin(self):
        me, other = seed_user(self.stack), seed_user(self.stack)
        lid = seed_loan(self.stack, me, "ACTIVE", amount=50000000, repaid=12500000)
        tpl = "/api/v1/loans/{loanId}"
        res = self.check(self.call("GET", "/api/v1/loans/" + lid, gxtest.mint_token(me)), 200, "GET", tpl)["loan"]
        self.assertEqual((res["loanId"], res["borrowerId"], res["amount"], res["repaid"], res["outstanding"],
                          res["status"], res["collateralHash"]), (lid, me, 500, 125, 375, "ACTIVE", HASH))
        self.assertEqual((res["amountQirat"], res["repaidQirat"], res["outstandingQirat"]),
                         ("50000000", "12500000", "37500000"))
        self.check(self.call("GET", "/api/v1/loans/" + lid, self.admin), 200, "GET", tpl)
        self.check(self.call("GET", "/api/v1/loans/" + lid, gxtest.mint_token(other)), 403, "GET", tpl, "FORBIDDEN")
        self.check(self.call("GET", "/api/v1/loans/" + str(uuid.uuid4()), gxtest.mint_token(me)), 404, "GET", tpl,
                   "LOAN_NOT_FOUND")

    def test_approve(self):
        me = seed_user(self.stack)
        lid = seed_loan(self.stack, me)
        path, tpl = "/api/v1/loans/%s/approve" % lid, "/api/v1/loans/{loanId}/approve"
        self.check(self.call("POST", path, gxtest.mint_token(me)), 403, "POST", tpl, "FORBIDDEN")
        # four eyes: an admin never approves their own loan (and nothing is queued)
        mine = seed_loan(self.stack, me)
        r = self.check(self.call("POST", "/api/v1/loans/%s/approve" % mine, gxtest.mint_token(me, "ADMIN")), 403,
                       "POST", tpl, "SELF_APPROVAL")
        self.assertEqual(r["message"], "a loan cannot be approved by its borrower")
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "commandType" = \'APPROVE_LOAN\''
                                         ' AND "aggregateId" = %s' % q(mine)), [("0",)])
        # rank: an ADMIN's loan is not decided by another ADMIN, but by a SUPER_ADMIN
        self.stack.psql('UPDATE "UserProfile" SET "role" = \'ADMIN\' WHERE "profileId" = %s' % q(me))
        self.check(self.call("POST", path, gxtest.mint_token(str(uuid.uuid4()), "ADMIN")), 403, "POST", tpl,
                   "RANK_TOO_LOW")
        self.check(self.call("POST", "/api/v1/loans/%s/approve" % mine,
                             gxtest.mint_token(str(uuid.uuid4()), "SUPER_ADMIN")), 202, "POST", tpl)
        self.stack.psql('UPDATE "UserProfile" SET "role" = \'USER\' WHERE "profileId" = %s' % q(me))
        admin_id = str(uuid.uuid4())
        res = self.check(self.call("POST", path, gxtest.mint_token(admin_id, "ADMIN")), 202, "POST", tpl)
        self.assertEqual(outbox_command(self.stack, res["commandId"])[:3],
                         ("APPROVE_LOAN", {"loanId": lid, "approvedBy": admin_id}, lid))
        self.check(self.call("POST", path, self.admin), 409, "POST", tpl, "APPROVAL_IN_PROGRESS")
        # in flight means not yet projected (gx/outbox_store.h GX_OUTBOX_STORE_IN_FLIGHT): once PROJECTED, the read
        # model answers (here it still shows the loan PENDING)
        self.stack.psql('UPDATE "OutboxCommand" SET "status" = \'PROJECTED\' WHERE "id" = %s' % q(res["commandId"]))
        self.check(self.call("POST", path, self.admin), 202, "POST", tpl)
        active = seed_loan(self.stack, me, "ACTIVE")
        self.check(self.call("POST", "/api/v1/loans/%s/approve" % active, self.admin), 400, "POST", tpl,
                   "LOAN_NOT_PENDING")
        self.check(self.call("POST", "/api/v1/loans/%s/approve" % uuid.uuid4(), self.admin), 404, "POST", tpl,
                   "LOAN_NOT_FOUND")

    def test_repay(self):
        me = seed_user(self.stack, balance=30000000)
        tok = gxtest.mint_token(me)
        lid = seed_loan(self.stack, me, "ACTIVE", amount=50000000, repaid=25000000)
        path, tpl = "/api/v1/loans/%s/repay" % lid, "/api/v1/loans/{loanId}/repay"
        res = self.check(self.call("POST", path, tok, {"amount": "100"}), 202, "POST", tpl)
        self.assertEqual(outbox_command(self.stack, res["commandId"])[:3],
                         ("REPAY_LOAN", {"loanId": lid, "borrowerId": me, "amount": "10000000"}, lid))
        # no amount: the whole outstanding (250 coins)
        res = self.check(self.call("POST", path, tok, {}), 202, "POST", tpl)
        self.assertEqual(outbox_command(self.stack, res["commandId"])[1]["amount"], "25000000")
        r = self.check(self.call("POST", path, tok, {"amount": "250.00001"}), 400, "POST", tpl, "VALIDATION_FAILED")
        self.assertEqual(r["details"][0]["field"], "amount")
        self.stack.psql('UPDATE "Wallet" SET "balanceQirat" = 100 WHERE "profileId" = %s' % q(me))
        self.check(self.call("POST", path, tok, {"amount": "1"}), 409, "POST", tpl, "INSUFFICIENT_BALANCE")
        self.check(self.call("POST", path, gxtest.mint_token(seed_user(self.stack)), {}), 403, "POST", tpl,
                   "FORBIDDEN")
        self.check(self.call("POST", path, self.admin, {}), 403, "POST", tpl, "FORBIDDEN")
        pending = seed_loan(self.stack, me)
        self.check(self.call("POST", "/api/v1/loans/%s/repay" % pending, tok, {}), 409, "POST", tpl,
                   "LOAN_NOT_ACTIVE")
        self.check(self.call("POST", "/api/v1/loans/%s/repay" % uuid.uuid4(), tok, {}), 404, "POST", tpl,
                   "LOAN_NOT_FOUND")

    def test_list(self):
        me, other = seed_user(self.stack), seed_user(self.stack)
        l1 = seed_loan(self.stack, me, applied="now() - interval '2 hours'")
        l2 = seed_loan(self.stack, me, "ACTIVE", applied="now() - interval '1 hour'")
        l3 = seed_loan(self.stack, me, "REPAID", repaid=50000000)
        seed_loan(self.stack, other)
        tpl = "/api/v1/users/{borrowerId}/loans"
        res = self.check(self.call("GET", "/api/v1/users/%s/loans" % me, gxtest.mint_token(me)), 200, "GET", tpl)
        self.assertEqual([l["loanId"] for l in res["loans"]], [l3, l2, l1])
        self.assertEqual((res["total"], res["limit"], res["offset"]), (3, 20, 0))
        page = self.check(self.call("GET", "/api/v1/users/%s/loans?limit=1&offset=1" % me, self.admin), 200, "GET",
                          tpl)
        self.assertEqual(([l["loanId"] for l in page["loans"]], page["total"]), ([l2], 3))
        act = self.check(self.call("GET", "/api/v1/users/%s/loans?status=ACTIVE" % me, gxtest.mint_token(me)), 200,
                         "GET", tpl)
        self.assertEqual(([l["loanId"] for l in act["loans"]], act["total"]), ([l2], 1))
        self.check(self.call("GET", "/api/v1/users/%s/loans?status=PENDING" % me, gxtest.mint_token(me)), 400, "GET",
                   tpl, "VALIDATION_FAILED")
        self.check(self.call("GET", "/api/v1/users/%s/loans" % me, gxtest.mint_token(other)), 403, "GET", tpl,
                   "FORBIDDEN")
        empty = self.check(self.call("GET", "/api/v1/users/%s/loans?offset=10" % me, gxtest.mint_token(me)), 200,
                           "GET", tpl)
        self.assertEqual((empty["loans"], empty["total"]), ([], 3))

"""End to end through the Fabric stand-in: a loan is applied for, approved by an admin and disbursed into the
borrower's wallet, then repaid in two parts until REPAID, with the statuses the projector writes visible through
svc-loanpool. The borrower, bootstrap and genesis are enqueued directly as OutboxCommand rows."""

import hashlib
import uuid

import gxtest
from gxtest.chain import wait_command
from gxtest.services import ServiceTestCase, chain_user, wait_projected
from gxtest.sql import enqueue, q


class LoanpoolChainTest(ServiceTestCase):
    DAEMON, ENV, CHAIN, WITHOUT_PROJECTOR = "svc-loanpool", None, True, "fail"

    def req(self, method, path, tok, template, status, body=None):
        res = self.check(self.call(method, path, tok, body), status, method, template)
        if status == 202:
            wait_command(self.api.url, res["commandId"], tok, want="PROJECTED")
        return res

    def balance(self, pid):
        return self.stack.psql('SELECT "balanceQirat"::text FROM "Wallet" WHERE "profileId" = %s' % q(pid))[0][0]

    def test_life_cycle(self):
        st = self.stack
        me, _ = chain_user(st)
        tok, admin = gxtest.mint_token(me), gxtest.mint_token(str(uuid.uuid4()), "ADMIN")
        wait_projected(st, enqueue(st, "BOOTSTRAP_SYSTEM", {}, "system"))
        wait_projected(st, enqueue(st, "DISTRIBUTE_GENESIS", {"userId": me, "userType": "individual",
                                                              "countryCode": "US"}, me))
        self.assertEqual(self.balance(me), "10000000")
        coll = hashlib.sha256(b"house deed").hexdigest()
        res = self.req("POST", "/api/v1/loans", tok, "/api/v1/loans", 202, {"amount": "150", "collateralHash": coll})
        loan = res["aggregateId"]
        one = "/api/v1/loans/{loanId}"
        doc = self.req("GET", "/api/v1/loans/" + loan, tok, one, 200)["loan"]
        self.assertEqual((doc["status"], doc["amount"], doc["outstandingQirat"], doc["collateralHash"]),
                         ("PENDING_APPROVAL", 150, "15000000", coll))
        self.assertNotIn("approvedAt", doc)
        self.req("POST", "/api/v1/loans/%s/repay" % loan, tok, one + "/repay", 409, {})
        # approved and disbursed
        self.req("POST", "/api/v1/loans/%s/approve" % loan, admin, one + "/approve", 202)
        doc = self.req("GET", "/api/v1/loans/" + loan, tok, one, 200)["loan"]
        self.assertEqual((doc["status"], doc["outstanding"]), ("ACTIVE", 150))
        self.assertIsNotNone(doc["disbursedAt"])
        self.assertEqual(self.balance(me), "25000000")
        self.req("POST", "/api/v1/loans/%s/approve" % loan, admin, one + "/approve", 400)
        # repaid in two parts
        self.req("POST", "/api/v1/loans/%s/repay" % loan, tok, one + "/repay", 202, {"amount": "100"})
        doc = self.req("GET", "/api/v1/loans/" + loan, tok, one, 200)["loan"]
        self.assertEqual((doc["status"], doc["outstanding"], doc["repaid"]), ("ACTIVE", 50, 100))
        self.req("POST", "/api/v1/loans/%s/repay" % loan, tok, one + "/repay", 202, {})
        doc = self.req("GET", "/api/v1/loans/" + loan, tok, one, 200)["loan"]
        self.assertEqual((doc["status"], doc["outstanding"]), ("REPAID", 0))
        self.assertIsNotNone(doc["repaidAt"])
        self.assertEqual(self.balance(me), "10000000")
        lst = self.req("GET", "/api/v1/users/%s/loans" % me, tok, "/api/v1/users/{borrowerId}/loans", 200)
        self.assertEqual([(l["loanId"], l["status"]) for l in lst["loans"]], [(loan, "REPAID")])

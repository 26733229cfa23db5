"""svc-tokenomics as the original backend's clients see it (OP-21..OP-27 of the original's wire reference): each
operation with the original's request body, the response checked key by key and JSON type by JSON type against the
original's shape (gxtest.compat), and the original's status and message for the main failure paths. Where we answer
differently on purpose (docs/compat.md, svc-tokenomics section) the test says so and checks our answer."""

import unittest
import uuid

import gxtest
from gxtest.compat import ACCEPTED, assert_original_error, assert_shape
from gxtest.services import ServiceTestCase
from gxtest.sql import q
from test_tokenomics import seed_user

SUPER = str(uuid.uuid4())
ADMIN = str(uuid.uuid4())

# The original's S6 TransactionItem; blockNumber is a number here (the original could only send null, see OP-25).
TRANSACTION_ITEM = {"offTxId": "string", "onChainTxId": ("string", "null"), "walletId": "string", "type": "string",
                    "counterparty": "string", "amount": "number", "fee": "number", "remark": ("string", "null"),
                    "timestamp": "date", "blockNumber": ("integer", "null")}

# The 202 texts of the original (its "message" key).
ORIGINAL_ACCEPTED = {
    "transfer": "Transfer initiated. Check status with command ID.",
    "genesis": "Genesis distribution initiated. Check status with command ID.",
    "freeze": "Wallet freeze initiated.",
    "unfreeze": "Wallet unfreeze initiated.",
}


class TokenomicsCompatTest(ServiceTestCase):
    DAEMON = "svc-tokenomics"

    def user(self, **kw):
        pid, wid, acct = seed_user(self.stack, **kw)
        return pid, wid, acct, gxtest.mint_token(pid, "USER")

    def post(self, path, tok, body, template, status=202):
        r = self.call("POST", path, tok, body)
        self.check(r, status, "POST", template)
        return r

    # --- OP-21 POST /api/v1/transfers --------------------------------------------------------------------------
    def transfer(self, tok, body):
        return self.call("POST", "/api/v1/transfers", tok, body)

    def test_op21_transfer(self):
        a, _, _, ta = self.user(balance=10 ** 9)   # 10,000 coins
        b, _, b_acct, _ = self.user()
        # the original client: fromUserId is the caller, amount a JSON number of coins, remark optional
        for body in ({"fromUserId": a, "toUserId": b, "amount": 12.5, "remark": "rent"},
                     {"fromUserId": a, "toUserId": b, "amount": 3}):
            r = self.transfer(ta, body)
            self.check(r, 202, "POST", "/api/v1/transfers")
            assert_shape(self, r.json(), ACCEPTED)
        payload = self.stack.psql('SELECT "payload"->>\'amount\', "payload"->>\'toUserId\' FROM "OutboxCommand" '
                                  'WHERE "id" = %s' % q(r.json()["commandId"]))
        self.assertEqual(payload, [("300000", b_acct)])   # 3 coins, exact, to the receiver's account
        # and its failures
        a, _, _, ta = self.user(balance=100000)     # 1 coin
        required = "fromUserId, toUserId, and amount are required"
        for body in ({"fromUserId": a, "amount": 1}, {"fromUserId": a, "toUserId": b},
                     {"fromUserId": a, "toUserId": b, "amount": 0}, {}):
            assert_original_error(self, self.transfer(ta, body), 400, required, "VALIDATION_FAILED")
        assert_original_error(self, self.transfer(ta, {"fromUserId": b, "toUserId": a, "amount": 1}), 403,
                              "You can only transfer from your own wallet", "FORBIDDEN")
        for amount in (-5, "-1", "0"):
            assert_original_error(self, self.transfer(ta, {"fromUserId": a, "toUserId": b, "amount": amount}), 400,
                                  "Amount must be greater than 0", "VALIDATION_FAILED")
        # the original's texts; the status is ours (its 400 was the catch-all for every exception), see compat.md
        assert_original_error(self, self.transfer(ta, {"fromUserId": a, "toUserId": b, "amount": 5}), 409,
                              "Insufficient balance. Available: 1, Required: 5", "INSUFFICIENT_BALANCE")
        assert_original_error(self, self.transfer(ta, {"fromUserId": a, "toUserId": str(uuid.uuid4()), "amount": 1}),
                              404, "Receiver wallet not found", "RECEIVER_NOT_FOUND")
        nowallet, _, _ = seed_user(self.stack, wallet=False)
        assert_original_error(self, self.transfer(gxtest.mint_token(nowallet), {"fromUserId": nowallet,
                                                                                 "toUserId": b, "amount": 1}),
                              404, "Sender wallet not found", "WALLET_NOT_FOUND")

    def test_op21_transfer_to_an_organization(self):
        # the original's clients address an organization by its id in toUserId
        a, _, _, ta = self.user(balance=10 ** 9)
        org = "org-" + str(uuid.uuid4())
        self.stack.psql('INSERT INTO "Organization" ("orgId", "tenantId", "orgName", "orgType", "status", '
                        '"stakeholders") VALUES (%s, \'default\', \'Acme\', \'BUSINESS\', \'ACTIVE\', \'[]\')' % q(org))
        r = self.transfer(ta, {"fromUserId": a, "toUserId": org, "amount": 100, "remark": "funding"})
        self.check(r, 202, "POST", "/api/v1/transfers")
        assert_shape(self, r.json(), ACCEPTED)

    # --- OP-22 POST /api/v1/genesis ----------------------------------------------------------------------------
    def test_op22_genesis(self):
        pid, _, _, _ = self.user(nationality="US")
        sup = gxtest.mint_token(SUPER, "SUPER_ADMIN")
        r = self.post("/api/v1/genesis", sup, {"userId": pid, "userType": "individual", "countryCode": "US"},
                      "/api/v1/genesis")
        assert_shape(self, r.json(), ACCEPTED)
        for body in ({"userType": "individual", "countryCode": "US"}, {"userId": pid, "countryCode": "US"},
                     {"userId": pid, "userType": "individual", "countryCode": ""}):
            assert_original_error(self, self.call("POST", "/api/v1/genesis", sup, body), 400,
                                  "userId, userType, and countryCode are required", "VALIDATION_FAILED")
        assert_original_error(self, self.call("POST", "/api/v1/genesis", sup, {
            "userId": str(uuid.uuid4()), "userType": "individual", "countryCode": "US"}), 404, "User not found",
            "USER_NOT_FOUND")
        nowallet, _, _ = seed_user(self.stack, wallet=False, nationality="US")
        assert_original_error(self, self.call("POST", "/api/v1/genesis", sup, {
            "userId": nowallet, "userType": "business", "countryCode": "US"}), 404, "User wallet not found",
            "WALLET_NOT_FOUND")
        assert_original_error(self, self.call("POST", "/api/v1/genesis", gxtest.mint_token(ADMIN, "ADMIN"), {
            "userId": pid, "userType": "individual", "countryCode": "US"}), 403, code="FORBIDDEN")

    # --- OP-23 GET /api/v1/wallets/:profileId/balance ----------------------------------------------------------
    def test_op23_balance(self):
        pid, wid, _, tok = self.user(balance=125050000)    # 1250.5 coins
        r = self.call("GET", "/api/v1/wallets/%s/balance" % pid, tok)
        b = self.check(r, 200, "GET", "/api/v1/wallets/{profileId}/balance")
        assert_shape(self, b, {"balance": {"walletId": "string", "profileId": "string", "balance": "number",
                                           "updatedAt": "date"}})
        self.assertEqual((b["balance"]["walletId"], b["balance"]["profileId"], b["balance"]["balance"]),
                         (wid, pid, 1250.5))
        self.assertIn('"balance":1250.5,', r.text)
        other, _, _, other_tok = self.user()
        assert_original_error(self, self.call("GET", "/api/v1/wallets/%s/balance" % pid, other_tok), 403,
                              "You can only view your own balance", "FORBIDDEN")
        nowallet, _, _ = seed_user(self.stack, wallet=False)
        assert_original_error(self, self.call("GET", "/api/v1/wallets/%s/balance" % nowallet,
                                              gxtest.mint_token(nowallet)), 404, "Wallet not found",
                              "WALLET_NOT_FOUND")

    # --- OP-24 GET /api/v1/treasury/:countryCode/balance -------------------------------------------------------
    def test_op24_treasury(self):
        self.stack.psql('INSERT INTO "TreasuryAccount" ("accountId", "tenantId", "countryCode", "status", '
                        '"balanceQirat") VALUES (\'treasury_KE\', \'default\', \'KE\', \'ACTIVE\', 123456789) '
                        'ON CONFLICT DO NOTHING')
        r = self.call("GET", "/api/v1/treasury/KE/balance")     # public, as in the original
        b = self.check(r, 200, "GET", "/api/v1/treasury/{countryCode}/balance")
        assert_shape(self, b, {"balance": {"countryCode": "string", "balance": "number", "updatedAt": "date"}})
        self.assertEqual((b["balance"]["countryCode"], b["balance"]["balance"]), ("KE", 1234.56789))
        assert_original_error(self, self.call("GET", "/api/v1/treasury/FR/balance"), 404,
                              "Treasury wallet not found for country: FR", "TREASURY_NOT_FOUND")

    # --- OP-25 GET /api/v1/wallets/:profileId/transactions -----------------------------------------------------
    def test_op25_history(self):
        pid, wid, _, tok = self.user()
        # 60 rows, every one with a block number (the original answered 500 for any such row)
        self.stack.psql('INSERT INTO "Transaction" ("tenantId", "onChainTxId", "walletId", "type", "counterparty", '
                        '"remark", "timestamp", "blockNumber", "amountQirat", "feeQirat") '
                        "SELECT 'default', 'tx-' || g || '-' || %s, %s, "
                        "(CASE WHEN g %% 2 = 0 THEN 'SENT' ELSE 'RECEIVED' END)::\"OffChainTxType\", 'peer', "
                        "CASE WHEN g %% 3 = 0 THEN NULL ELSE 'r' END, "
                        "'2025-01-01 00:00:00+00'::timestamptz + g * interval '1 minute', 1000 + g, "
                        "g * 150000, CASE WHEN g %% 2 = 0 THEN 15000 ELSE 0 END FROM generate_series(1, 60) g"
                        % (q(wid), q(wid)))
        r = self.call("GET", "/api/v1/wallets/%s/transactions" % pid, tok)
        b = self.check(r, 200, "GET", "/api/v1/wallets/{profileId}/transactions")
        assert_shape(self, b, {"transactions": [TRANSACTION_ITEM]})
        items = b["transactions"]
        self.assertEqual(len(items), 50)        # the original's default page
        self.assertEqual([t["timestamp"] for t in items], sorted((t["timestamp"] for t in items), reverse=True))
        top = items[0]                          # g = 60: SENT 90 coins, fee 0.15
        self.assertEqual((top["type"], top["amount"], top["fee"], top["remark"], top["blockNumber"], top["walletId"]),
                         ("SENT", 90, 0.15, None, 1060, wid))
        self.assertEqual((items[1]["type"], items[1]["amount"], items[1]["fee"], items[1]["remark"]),
                         ("RECEIVED", 88.5, 0, "r"))
        # the original's paging: limit and offset
        page = self.check(self.call("GET", "/api/v1/wallets/%s/transactions?limit=5&offset=58" % pid, tok), 200,
                          "GET", "/api/v1/wallets/{profileId}/transactions")["transactions"]
        self.assertEqual([t["amount"] for t in page], [3, 1.5])
        other, _, _, other_tok = self.user()
        assert_original_error(self, self.call("GET", "/api/v1/wallets/%s/transactions" % pid, other_tok), 403,
                              "You can only view your own transactions", "FORBIDDEN")
        nowallet, _, _ = seed_user(self.stack, wallet=False)
        assert_original_error(self, self.call("GET", "/api/v1/wallets/%s/transactions" % nowallet,
                                              gxtest.mint_token(nowallet)), 404, "Wallet not found",
                              "WALLET_NOT_FOUND")

    # --- OP-26 / OP-27 freeze, unfreeze ------------------------------------------------------------------------
    def test_op26_op27_freeze_unfreeze(self):
        _, wid, _, tok = self.user()
        admin = gxtest.mint_token(ADMIN, "ADMIN")
        fpath, upath = "/api/v1/wallets/%s/freeze" % wid, "/api/v1/wallets/%s/unfreeze" % wid
        ftmpl, utmpl = "/api/v1/wallets/{walletId}/freeze", "/api/v1/wallets/{walletId}/unfreeze"
        # the original accepted any reason that is not empty
        r = self.post(fpath, admin, {"reason": "fraud"}, ftmpl)
        assert_shape(self, r.json(), ACCEPTED)
        for body in ({}, {"reason": ""}, {"reason": None}):
            assert_original_error(self, self.call("POST", fpath, admin, body), 400, "Reason is required",
                                  "VALIDATION_FAILED")
        missing = str(uuid.uuid4())
        assert_original_error(self, self.call("POST", "/api/v1/wallets/%s/freeze" % missing, admin,
                                              {"reason": "fraud"}), 404, "Wallet not found", "WALLET_NOT_FOUND")
        assert_original_error(self, self.call("POST", fpath, tok, {"reason": "fraud"}), 403, code="FORBIDDEN")
        self.stack.psql('UPDATE "Wallet" SET "isFrozen" = true WHERE "walletId" = %s' % q(wid))
        r = self.post(upath, admin, None, utmpl)
        assert_shape(self, r.json(), ACCEPTED)
        assert_original_error(self, self.call("POST", "/api/v1/wallets/%s/unfreeze" % missing, admin), 404,
                              "Wallet not found", "WALLET_NOT_FOUND")

    # --- the original's 202 texts ------------------------------------------------------------------------------
    def test_accepted_messages(self):
        """The original's 202 text per operation (the outbox module's table)."""
        a, wid, _, ta = self.user(balance=10 ** 9, nationality="US")
        b, _, _, _ = self.user()
        got = {"transfer": self.transfer(ta, {"fromUserId": a, "toUserId": b, "amount": 1}).json()["message"],
               "genesis": self.call("POST", "/api/v1/genesis", gxtest.mint_token(SUPER, "SUPER_ADMIN"), {
                   "userId": a, "userType": "individual", "countryCode": "US"}).json()["message"],
               "freeze": self.call("POST", "/api/v1/wallets/%s/freeze" % wid, gxtest.mint_token(ADMIN, "ADMIN"),
                                   {"reason": "fraud"}).json()["message"]}
        self.stack.psql('UPDATE "Wallet" SET "isFrozen" = true WHERE "walletId" = %s' % q(wid))
        got["unfreeze"] = self.call("POST", "/api/v1/wallets/%s/unfreeze" % wid,
                                    gxtest.mint_token(ADMIN, "ADMIN")).json()["message"]
        self.assertEqual(got, ORIGINAL_ACCEPTED)

"""svc-tax as the original backend's clients see it (OP-45..OP-47 of the original's wire format): the fee quote
with "amount" a JSON integer in Qirat and "fee" a JSON number in Qirat, the original's two 400 texts; velocity-tax
apply with its body {accountId, taxRateBps}; eligibility as {eligible, reason, details?} with the original's
reasons where the case is the same (an unknown account is a 200 saying so). Deviations (admin-only apply,
eligibility behind a token, the fee cap) are in docs/compat.md (svc-tax)."""

import unittest
import uuid

import gxtest
from gxtest.compat import ACCEPTED, OMIT, assert_original_error, assert_shape
from gxtest.services import NO_LIMITS, ServiceTestCase
from gxtest.sql import outbox_command, seed_profile
import test_tokenomics as tk

FEE = "/api/v1/fees/calculate"
ELIG = "/api/v1/velocity-tax/eligibility/{accountId}"
DETAILS = {"currentBalance": "number", "minimumBalance": "number", "balanceInCoins": "number",
           "minimumInCoins": "number"}

# The original's 202 text (OP-46)
MESSAGE = "Velocity tax application initiated."


class CompatTaxTest(ServiceTestCase):
    DAEMON = "svc-tax"
    ENV = dict(NO_LIMITS, FEE_PARAMS_CACHE="0")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = gxtest.mint_token(str(uuid.uuid4()), "ADMIN")

    def fee(self, body):
        return self.call("POST", FEE, body=body)

    def dormant_user(self, balance, days):
        pid, wid, acct = tk.seed_user(self.stack, balance=balance)
        self.stack.psql('UPDATE "Wallet" SET "createdAt" = now() - interval \'%d days\' WHERE "walletId" = \'%s\''
                        % (days, wid))
        return pid, acct, gxtest.mint_token(pid)

    # --- OP-45 POST /api/v1/fees/calculate ---------------------------------------------------------------
    def test_fee_original_units(self):
        # the original's worked example: 20,000,000 Qirat at the default 10 bps -> 20,000 Qirat
        res = self.check(self.fee({"amount": 20000000}), 200, "POST", FEE)
        assert_shape(self, res, {"fee": "integer"})
        self.assertEqual(res["fee"], 20000)
        self.assertEqual((res["feeQirat"], res["amountQirat"]), ("20000", "20000000"))
        # at or below the threshold (1,000,000 Qirat): no fee; 0 is quoted too
        for amount in (0, 1, 1000000):
            self.assertEqual(self.check(self.fee({"amount": amount}), 200, "POST", FEE)["fee"], 0)
        self.assertEqual(self.check(self.fee({"amount": 1000001}), 200, "POST", FEE)["fee"], 1000)
        # transactionType (the original's OpenAPI names it) is accepted
        self.check(self.fee({"amount": 20000000, "transactionType": "TRANSFER"}), 200, "POST", FEE)

    def test_fee_original_errors(self):
        negative = "Transaction amount cannot be negative"
        integer = "Transaction amount must be an integer (Qirat)"
        for amount in (-5, "-5", -0.5):
            assert_original_error(self, self.fee({"amount": amount}), 400, negative, "VALIDATION_FAILED")
        for body in ({}, {"amount": None}, {"amount": "100"}, {"amount": 12.5}, {"amount": True}):
            assert_original_error(self, self.fee(body), 400, integer, "VALIDATION_FAILED")

    # --- OP-46 POST /api/v1/velocity-tax/apply -----------------------------------------------------------
    def test_apply_original_body(self):
        _, acct, tok = self.dormant_user(10 ** 9, 400)
        r = self.call("POST", "/api/v1/velocity-tax/apply", self.admin, {"accountId": acct, "taxRateBps": 300})
        res = self.check(r, 202, "POST", "/api/v1/velocity-tax/apply")
        assert_shape(self, res, ACCEPTED)
        self.assertEqual(outbox_command(self.stack, res["commandId"])[:2], ("APPLY_VELOCITY_TAX", {"accountId": acct}))
        # the rate the caller sends is not used (the velocityTaxRateBps parameter is), but it must be a rate
        r = self.call("POST", "/api/v1/velocity-tax/apply", self.admin, {"accountId": acct, "taxRateBps": "lots"})
        self.check(r, 400, "POST", "/api/v1/velocity-tax/apply", "VALIDATION_FAILED")
        # deviation: admins only (the original let any token apply the tax to any account)
        assert_original_error(self, self.call("POST", "/api/v1/velocity-tax/apply", tok, {"accountId": acct}), 403)
        assert_original_error(self, self.call("POST", "/api/v1/velocity-tax/apply", None, {"accountId": acct}), 401)

    # --- OP-47 GET /api/v1/velocity-tax/eligibility/{accountId} ------------------------------------------
    def eligibility(self, account, token):
        res = self.check(self.call("GET", "/api/v1/velocity-tax/eligibility/" + account, token), 200, "GET", ELIG)
        assert_shape(self, res, {"eligible": "boolean", "reason": "string"})
        return res

    def test_eligibility_original_reasons(self):
        self.stack.psql('INSERT INTO "SystemAccount" ("accountId", "tenantId", "kind", "balanceQirat") VALUES '
                        '(\'SYSTEM_LOAN_POOL\', \'default\', \'SYSTEM\', 5) ON CONFLICT DO NOTHING')
        res = self.eligibility("SYSTEM_LOAN_POOL", self.admin)
        assert_shape(self, res, {"eligible": "boolean", "reason": "string", "details": OMIT})
        self.assertEqual((res["eligible"], res["reason"]),
                         (False, "System pool accounts are exempt from velocity tax"))
        res = self.eligibility("nobody-" + str(uuid.uuid4())[:8], self.admin)
        self.assertEqual((res["eligible"], res["reason"]), (False, "Account does not exist"))
        assert_shape(self, res, {"details": OMIT})
        walletless = seed_profile(self.stack, onchain=True)
        res = self.eligibility(walletless, self.admin)
        self.assertEqual((res["eligible"], res["reason"]), (False, "Wallet not found for account"))
        # the original's example: 12.5 coins
        _, acct, tok = self.dormant_user(1250000, 400)
        res = self.eligibility(acct, tok)
        assert_shape(self, res, {"eligible": "boolean", "reason": "string", "details": DETAILS})
        self.assertEqual((res["eligible"], res["reason"]),
                         (False, "Balance below threshold (12.50 coins < 100 coins)"))
        self.assertEqual(res["details"], {"currentBalance": 1250000, "minimumBalance": 10000000,
                                          "balanceInCoins": 12.5, "minimumInCoins": 100})
        # toFixed(2) rounds the double: 1.005 coins is 1.00499999... -> "1.00"; 0.125 (exact) rounds up
        for qirat, text in ((100500, "1.00"), (12500, "0.13"), (1234567, "12.35")):
            _, acct, tok = self.dormant_user(qirat, 1)
            self.assertEqual(self.eligibility(acct, tok)["reason"],
                             "Balance below threshold (%s coins < 100 coins)" % text)

    def test_eligibility_above_threshold(self):
        # deviation: the original answered eligible false for every account ("not yet implemented"); ours decides
        _, acct, tok = self.dormant_user(10 ** 9, 400)
        res = self.eligibility(acct, tok)
        assert_shape(self, res, {"eligible": "boolean", "reason": "string", "details": DETAILS})
        self.assertEqual((res["eligible"], res["details"]["currentBalance"], res["details"]["balanceInCoins"]),
                         (True, 10 ** 9, 10000))

    # --- the original's 202 text ------------------------------------------------------------------------
    # The 202 body is made by common/src/outbox.c, which has one text for every command; the original's texts per
    # command type need a table there (reported to the lead). Remove the decorator when it lands.
    def test_accepted_message(self):
        _, acct, _ = self.dormant_user(10 ** 9, 400)
        r = self.call("POST", "/api/v1/velocity-tax/apply", self.admin, {"accountId": acct, "taxRateBps": 300})
        self.assertEqual(r.json()["message"], MESSAGE)

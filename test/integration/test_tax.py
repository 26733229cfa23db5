"""svc-tax against real PostgreSQL and Redis: the fee quote by the documented rule (docs/chaincode.md §4) for a
table of amounts and for changed system parameters, the per-worker parameter cache, rate limiting of the public
route, velocity-tax eligibility (balance threshold, dormancy from the history, exempt accounts, object-level
checks) and POST /velocity-tax/apply through the outbox. Every checked response is validated against the live
/openapi.json."""

import json
import time
import uuid

import gxtest
from gxtest.services import NO_LIMITS, ServiceTestCase
from gxtest.sql import outbox_command, q
import test_tokenomics as tk

ADMIN = str(uuid.uuid4())


def fee_rule(amount, bps=10, threshold=1000000, cap=10000000):
    """docs/chaincode.md §4, written independently of the C code: (fee, tier, bps applied)."""
    if amount <= threshold:
        return 0, "EXEMPT", 0
    fee = amount * bps // 10000
    if cap > 0 and fee > cap:
        return cap, "CAPPED", bps
    return fee, "STANDARD", bps


def coins(qirat):
    whole, frac = divmod(qirat, 100000)
    return str(whole) if frac == 0 else ("%d.%05d" % (whole, frac)).rstrip("0")


# amounts in Qirat around every edge of the default parameters, plus the doc's worked examples
AMOUNTS = [1, 99999, 100000, 999999, 1000000, 1000001, 1000009, 1009999, 1010000, 1500000, 9999999, 10000000,
           10000001, 100000000, 123456789, 999999999, 9999999999, 10000000000, 10000009999, 10000010000,
           10000100000, 20000000000, 100000000000000, 18446744073599551615]


class TaxTest(ServiceTestCase):
    DAEMON = "svc-tax"
    ENV = dict(NO_LIMITS, FEE_PARAMS_CACHE="200ms")

    def quote(self, amount, tx_type=None, status=200, code=None, api=None):
        """Quote for amount Qirat: the original's JSON integer "amount", or "amountQirat" beyond 2^53."""
        body = {"amount": amount} if amount < 2 ** 53 else {"amountQirat": str(amount)}
        if tx_type:
            body["transactionType"] = tx_type
        r = self.call("POST", "/api/v1/fees/calculate", body=body, api=api)
        return self.check(r, status, "POST", "/api/v1/fees/calculate", code)

    def set_params(self, **kv):
        for k, v in kv.items():
            self.stack.psql('UPDATE "SystemParameter" SET "paramValue" = %s WHERE "tenantId" = \'default\' AND '
                            '"paramKey" = %s' % (q(v), q(k)))
        time.sleep(0.3)  # past FEE_PARAMS_CACHE

    # --- fees ---------------------------------------------------------------------------------------------
    def test_fee_table_default_parameters(self):
        for a in AMOUNTS:
            fee, tier, bps = fee_rule(a)
            for tx_type in (None, "TRANSFER", "MULTISIG"):
                res = self.quote(a, tx_type)
                self.assertEqual((res["amountQirat"], res["feeQirat"], res["totalQirat"], res["tier"], res["feeBps"]),
                                 (str(a), str(fee), str(a + fee), tier, bps), a)
                self.assertEqual((res["amountCoins"], res["feeCoins"], res["totalCoins"]),
                                 (coins(a), coins(fee), coins(a + fee)))
                # JSON numbers in Qirat, as the original sent "fee" (the nearest double beyond 2^53)
                self.assertEqual((res["amount"], res["fee"], res["total"]),
                                 (int(float(a)), fee, int(float(a + fee))))
                self.assertEqual(res["transactionType"], tx_type or "TRANSFER")
                self.assertEqual(res["feePercentage"], "0.1" if bps else "0")

    def test_fee_doc_examples(self):
        for a, fee, tier in [(1000000, 0, "EXEMPT"), (1000001, 1000, "STANDARD"), (100000000, 100000, "STANDARD"),
                             (10000000000, 10000000, "STANDARD"), (20000000000, 10000000, "CAPPED")]:
            res = self.quote(a)
            self.assertEqual((res["feeQirat"], res["tier"]), (str(fee), tier))

    def fee_body(self, body, status=200, code=None):
        return self.check(self.call("POST", "/api/v1/fees/calculate", body=body), status, "POST",
                          "/api/v1/fees/calculate", code)

    def test_fee_number_and_string_inputs(self):
        self.assertEqual(self.fee_body({"amountCoins": 0.00001})["amountQirat"], "1")
        self.assertEqual(self.fee_body({"amount": 1e9})["feeQirat"], "1000000")   # an integer-valued JSON number
        self.assertEqual(self.fee_body({"amountQirat": "100000000000"})["totalCoins"], "1000100")  # capped fee
        self.assertEqual(self.fee_body({"amountCoins": "12.34567"})["amountQirat"], "1234567")
        self.assertEqual(self.fee_body({"amount": 0})["fee"], 0)   # the original quoted 0 too
        res = self.fee_body({"amount": 5000000, "amountQirat": "5000000", "amountCoins": "50"})
        self.assertEqual((res["fee"], res["feeQirat"]), (5000, "5000"))
        for body in ({"amount": 5000000, "amountQirat": "5000001"}, {"amountQirat": "5", "amountCoins": "5"}):
            r = self.fee_body(body, 400, "VALIDATION_FAILED")
            self.assertEqual(r["details"][0]["issue"][:10], "must equal")

    def test_fee_loan_repayment_is_free(self):
        res = self.quote(50000000, "LOAN_REPAYMENT")
        self.assertEqual((res["fee"], res["totalCoins"], res["tier"], res["feeBps"], res["feePercentage"]),
                         (0, "500", "EXEMPT", 0, "0"))

    def test_fee_validation(self):
        for body in ({}, {"amount": "0"}, {"amount": -5}, {"amount": 1.5}, {"amount": "abc"}, {"amount": None},
                     {"amount": 10, "transactionType": "LOAN"}, {"amount": [1]}, {"amount": 2 ** 53},
                     {"amountQirat": "01"}, {"amountQirat": 5}, {"amountCoins": "1.000001"}, {"amountCoins": -1}):
            r = self.call("POST", "/api/v1/fees/calculate", body=body)
            self.check(r, 400, "POST", "/api/v1/fees/calculate", "VALIDATION_FAILED")
        # amount + fee above the largest u64 Qirat amount
        self.quote(18446744073709551615, status=400, code="VALIDATION_FAILED")

    def test_fee_follows_system_parameters(self):
        try:
            self.set_params(transactionFeeBps="25", transactionFeeThreshold="0", transactionFeeMaxQirat="0")
            for a in AMOUNTS[:-1]:
                fee, tier, bps = fee_rule(a, 25, 0, 0)
                res = self.quote(a)
                self.assertEqual((res["feeQirat"], res["tier"], res["feeBps"]), (str(fee), tier, bps), a)
            self.assertEqual(self.quote(100000)["feePercentage"], "0.25")
            self.set_params(transactionFeeBps="10000")
            res = self.quote(300000)
            self.assertEqual((res["feeCoins"], res["totalCoins"], res["feePercentage"]), ("3", "6", "100"))
        finally:
            self.set_params(transactionFeeBps="10", transactionFeeThreshold="1000000",
                            transactionFeeMaxQirat="10000000")
        self.assertEqual(self.quote(10000000)["feeQirat"], "10000")

    def test_fee_parameters_cached_per_worker(self):
        api = self.stack.start_daemon("svc-tax", env=dict(NO_LIMITS, FEE_PARAMS_CACHE="60s", HTTP_THREADS="1"))
        try:
            self.assertEqual(self.quote(10000000, api=api)["feeQirat"], "10000")
            self.set_params(transactionFeeBps="20")
            self.assertEqual(self.quote(10000000, api=api)["feeQirat"], "10000")   # cached
            self.assertEqual(self.quote(10000000)["feeQirat"], "20000")            # short cache: reloaded
        finally:
            self.set_params(transactionFeeBps="10")
            api.stop()

    def test_fee_invalid_stored_parameter_is_500(self):
        api = self.stack.start_daemon("svc-tax", env=dict(NO_LIMITS, FEE_PARAMS_CACHE="0"))
        api.expect_errors("transactionFeeBps", "system parameter")
        try:
            self.set_params(transactionFeeBps="12.5")
            self.quote(10000000, status=500, code="INTERNAL", api=api)
        finally:
            self.set_params(transactionFeeBps="10")
            api.stop()

    def test_fee_rate_limited(self):
        # a client address of its own (through a trusted proxy) so the other tests' budget is untouched
        api = self.stack.start_daemon("svc-tax", env={"RATE_LIMIT_PER_MIN": "3", "RATE_LIMIT_BURST": "3",
                                                      "TRUSTED_PROXIES": "127.0.0.1"})
        client = {"X-Forwarded-For": "198.51.100.%d" % (uuid.uuid4().int % 250 + 1)}
        try:
            statuses = [self.call("POST", "/api/v1/fees/calculate", body={"amount": 1}, api=api,
                                  headers=client).status for _ in range(8)]
            self.assertIn(429, statuses)
            self.assertEqual(statuses[0], 200)
            r = self.call("POST", "/api/v1/fees/calculate", body={"amount": 1}, api=api, headers=client)
            self.check(r, 429, "POST", "/api/v1/fees/calculate", "RATE_LIMITED")
            self.assertTrue(r.headers.get("Retry-After"))
        finally:
            api.stop()

    # --- velocity tax: eligibility ------------------------------------------------------------------------
    def dormant_user(self, balance, days):
        pid, wid, acct = tk.seed_user(self.stack, balance=balance)
        self.stack.psql('UPDATE "Wallet" SET "createdAt" = now() - interval \'%d days\' WHERE "walletId" = %s'
                        % (days, q(wid)))
        return pid, wid, acct, gxtest.mint_token(pid)

    def history(self, wid, type_, days_ago):
        self.stack.psql('INSERT INTO "Transaction" ("tenantId", "onChainTxId", "walletId", "type", "counterparty", '
                        '"timestamp", "amountQirat") VALUES (\'default\', %s, %s, %s, \'x\', '
                        'now() - interval \'%d days\', 100)' % (q(str(uuid.uuid4())), q(wid), q(type_), days_ago))

    def eligibility(self, account, token, status=200, code=None):
        r = self.call("GET", "/api/v1/velocity-tax/eligibility/%s" % account, token)
        return self.check(r, status, "GET", "/api/v1/velocity-tax/eligibility/{accountId}", code)

    def test_eligible_dormant_user(self):
        pid, wid, acct, tok = self.dormant_user(123456789012, 400)
        self.history(wid, "RECEIVED", 1)          # receiving does not restart the timer
        self.history(wid, "SENT", 380)
        for key in (pid, acct):
            res = self.eligibility(key, tok)
            self.assertEqual((res["accountId"], res["accountType"], res["isEligible"], res["reasonCode"]),
                             (acct, "USER", True, "ELIGIBLE"))
            self.assertEqual((res["dormantDays"], res["dormancyDaysRequired"]), (380, 360))
            self.assertEqual((res["balanceQirat"], res["estimatedTaxQirat"], res["estimatedTax"]),
                             ("123456789012", str(123456789012 * 300 // 10000), "37037.03670"[:-1]))
            self.assertEqual((res["taxRate"], res["taxRateBps"], res["minimumBalance"]), ("3", 300, "100"))
            self.assertTrue(res["lastTransactionDate"].startswith(time.strftime("%Y", time.gmtime(time.time() - 380 * 86400))))

    def test_not_dormant_and_below_minimum(self):
        _, wid, acct, tok = self.dormant_user(10 ** 9, 400)
        for debit in ("SENT", "FEE", "TAX", "LOAN_REPAYMENT"):
            self.history(wid, debit, 359)
            res = self.eligibility(acct, tok)
            self.assertEqual((res["isEligible"], res["reasonCode"], res["dormantDays"]), (False, "NOT_DORMANT", 359))
            self.assertEqual(res["estimatedTaxQirat"], "0")
            self.stack.psql('DELETE FROM "Transaction" WHERE "walletId" = %s' % q(wid))
        _, _, acct, tok = self.dormant_user(10000000 - 1, 400)
        res = self.eligibility(acct, tok)
        self.assertEqual((res["isEligible"], res["reasonCode"]), (False, "BALANCE_BELOW_MINIMUM"))
        self.assertEqual(res["reason"], "Balance below threshold (100.00 coins < 100 coins)")  # toFixed(2)
        self.assertEqual(res["details"], {"currentBalance": 9999999, "minimumBalance": 10000000,
                                          "balanceInCoins": 99.99999, "minimumInCoins": 100})
        self.assertIsNone(res["lastTransactionDate"])
        _, _, acct, tok = self.dormant_user(10000000, 360)
        self.assertEqual(self.eligibility(acct, tok)["reasonCode"], "ELIGIBLE")
        _, _, acct, tok = self.dormant_user(10000000, 0)
        self.assertEqual(self.eligibility(acct, tok)["dormantDays"], 0)

    def test_eligibility_parameters(self):
        _, _, acct, tok = self.dormant_user(10 ** 9, 10)
        self.assertFalse(self.eligibility(acct, tok)["isEligible"])
        try:
            self.set_params(velocityTaxDormancyDays="10", velocityTaxRateBps="150", velocityTaxMinimumBalance="0")
            res = self.eligibility(acct, tok)
            self.assertEqual((res["isEligible"], res["taxRate"], res["estimatedTaxQirat"]), (True, "1.5", "15000000"))
        finally:
            self.set_params(velocityTaxDormancyDays="360", velocityTaxRateBps="300",
                            velocityTaxMinimumBalance="10000000")

    def test_eligibility_access(self):
        pid, _, acct, _ = self.dormant_user(10 ** 9, 400)
        _, _, _, other = self.dormant_user(0, 1)
        self.eligibility(acct, other, 403, "FORBIDDEN")
        self.eligibility(pid, other, 403, "FORBIDDEN")
        self.assertTrue(self.eligibility(acct, gxtest.mint_token(ADMIN, "ADMIN"))["isEligible"])
        self.eligibility(acct, None, 401, "UNAUTHORIZED")
        res = self.eligibility("nobody-" + str(uuid.uuid4())[:8], other)   # a 200, as in the original
        self.assertEqual((res["eligible"], res["reasonCode"], res["reason"]),
                         (False, "ACCOUNT_NOT_FOUND", "Account does not exist"))
        self.eligibility("a..b", other, 400, "VALIDATION_FAILED")

    def test_exempt_accounts(self):
        self.stack.psql('INSERT INTO "SystemAccount" ("accountId", "tenantId", "kind", "balanceQirat") VALUES '
                        '(\'SYSTEM_FEE_POOL\', \'default\', \'SYSTEM\', 999999999999) ON CONFLICT DO NOTHING')
        self.stack.psql('INSERT INTO "TreasuryAccount" ("accountId", "tenantId", "countryCode", "balanceQirat", '
                        '"createdAt") VALUES (\'treasury_DE\', \'default\', \'DE\', 999999999999, now() - '
                        'interval \'900 days\') ON CONFLICT DO NOTHING')
        tok = gxtest.mint_token(str(uuid.uuid4()))
        res = self.eligibility("SYSTEM_FEE_POOL", tok)
        self.assertEqual((res["accountType"], res["isEligible"], res["reasonCode"]), ("SYSTEM", False, "SYSTEM_ACCOUNT"))
        res = self.eligibility("treasury_DE", tok)
        self.assertEqual((res["accountType"], res["isEligible"], res["reasonCode"]),
                         ("TREASURY", False, "TREASURY_ACCOUNT"))

    def org(self, stakeholders, balance, activated_days):
        oid = "org-" + str(uuid.uuid4())[:8]
        self.stack.psql('INSERT INTO "Organization" ("orgId", "tenantId", "orgName", "orgType", "status", '
                        '"stakeholders", "balanceQirat", "activatedAt") VALUES (%s, \'default\', \'Acme\', '
                        '\'BUSINESS\', \'ACTIVE\', %s::jsonb, %d, now() - interval \'%d days\')'
                        % (q(oid), q(json.dumps(stakeholders)), balance, activated_days))
        return oid

    def test_organization(self):
        pid, _, acct, tok = self.dormant_user(0, 1)
        _, _, _, outsider = self.dormant_user(0, 1)
        oid = self.org([acct, "someone-else"], 5 * 10 ** 9, 500)
        res = self.eligibility(oid, tok)
        self.assertEqual((res["accountType"], res["isEligible"], res["dormantDays"]), ("ORG", True, 500))
        self.eligibility(oid, outsider, 403, "FORBIDDEN")
        self.stack.psql('INSERT INTO "MultiSigTransaction" ("txId", "tenantId", "orgId", "proposerId", "operation", '
                        '"params", "status", "requiredSignatures", "executedAt") VALUES (%s, \'default\', %s, %s, '
                        '\'TRANSFER\', \'{}\', \'EXECUTED\', 2, now() - interval \'5 days\')'
                        % (q(str(uuid.uuid4())), q(oid), q(acct)))
        res = self.eligibility(oid, gxtest.mint_token(ADMIN, "ADMIN"))
        self.assertEqual((res["isEligible"], res["reasonCode"], res["dormantDays"]), (False, "NOT_DORMANT", 5))

    # --- velocity tax: apply ------------------------------------------------------------------------------
    def apply(self, body, token, status, code=None, headers=None):
        r = self.call("POST", "/api/v1/velocity-tax/apply", token, body, headers)
        return self.check(r, status, "POST", "/api/v1/velocity-tax/apply", code), r

    def test_apply(self):
        pid, _, acct, tok = self.dormant_user(10 ** 9, 400)
        admin = gxtest.mint_token(ADMIN, "ADMIN")
        self.apply({"accountId": acct}, tok, 403, "FORBIDDEN")
        self.apply({"accountId": acct}, None, 401, "UNAUTHORIZED")
        self.apply({}, admin, 400, "VALIDATION_FAILED")
        self.apply({"accountId": "x y"}, admin, 400, "VALIDATION_FAILED")
        self.apply({"accountId": "missing-" + str(uuid.uuid4())[:8]}, admin, 404, "ACCOUNT_NOT_FOUND")
        key = {"Idempotency-Key": "vt-" + str(uuid.uuid4())}
        res, r1 = self.apply({"accountId": pid}, admin, 202, headers=key)
        _, r2 = self.apply({"accountId": pid}, admin, 202, headers=key)
        self.assertEqual(r1.body, r2.body)
        ctype, payload, agg, svc = outbox_command(self.stack, res["commandId"])
        self.assertEqual((ctype, payload, agg, svc), ("APPLY_VELOCITY_TAX", {"accountId": acct}, "wallet:" + acct,
                                                       "svc-tax"))
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "payload"->>\'accountId\' = %s'
                                         % q(acct)), [("1",)])
        self.assertEqual(self.stack.psql('SELECT "actorId", "action" FROM "AdminAuditLog" WHERE "targetId" = %s'
                                         % q(acct)), [(ADMIN, "VELOCITY_TAX_APPLY")])
        _, _, young, _ = self.dormant_user(10 ** 9, 3)
        err, _ = self.apply({"accountId": young}, admin, 409, "VELOCITY_TAX_NOT_ELIGIBLE")
        self.assertIn("dormant 3 of 360 days", err["message"])
        self.stack.psql('INSERT INTO "SystemAccount" ("accountId", "tenantId", "kind", "balanceQirat") VALUES '
                        '(\'SYSTEM_TAX_POOL\', \'default\', \'SYSTEM\', 10) ON CONFLICT DO NOTHING')
        err, _ = self.apply({"accountId": "SYSTEM_TAX_POOL"}, admin, 409, "VELOCITY_TAX_NOT_ELIGIBLE")
        self.assertIn("System pool accounts are exempt", err["message"])

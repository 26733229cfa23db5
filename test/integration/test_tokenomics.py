"""svc-tokenomics against real PostgreSQL and Redis: every route's success and error paths, object-level checks
(BOLA), exact money handling, the TRANSFER_TOKENS / DISTRIBUTE_GENESIS / FREEZE_WALLET / UNFREEZE_WALLET payloads
(docs/chaincode.md §2) and idempotent retries. Read-model rows the projector would write are seeded with SQL.
Every checked response is validated against the live /openapi.json."""

import uuid

import gxtest
from gxtest.services import ServiceTestCase
from gxtest.sql import outbox_command, q, seed_profile, seed_wallet

ADMIN = str(uuid.uuid4())
SUPER = str(uuid.uuid4())


def seed_user(stack, balance=0, frozen=False, nationality="US", account_id=None, wallet=True):
    """Insert a UserProfile and (when wallet) its Wallet as the projector would; returns (profileId, walletId,
    accountId). balance is in Qirat."""
    pid = str(uuid.uuid4())
    acct = account_id or ("acct-" + pid[:8] + pid[24:])
    seed_profile(stack, pid, account=acct, nationality=nationality)
    wid = seed_wallet(stack, pid, acct, balance, frozen) if wallet else None
    return pid, wid, acct


class TokenomicsTest(ServiceTestCase):
    DAEMON = "svc-tokenomics"

    # --- helpers ------------------------------------------------------------------------------------------
    def user(self, **kw):
        pid, wid, acct = seed_user(self.stack, **kw)
        return pid, wid, acct, gxtest.mint_token(pid, "USER")

    def transfer(self, tok, to, amount, status=202, code=None, **extra):
        body = {"toUserId": to, "amount": amount}
        body.update(extra)
        r = self.call("POST", "/api/v1/transfers", tok, body)
        return self.check(r, status, "POST", "/api/v1/transfers", code)

    def test_document(self):
        self.assert_operations([
            ("POST", "/api/v1/transfers"), ("POST", "/api/v1/genesis"),
            ("GET", "/api/v1/wallets/{profileId}/balance"), ("GET", "/api/v1/wallets/{profileId}/transactions"),
            ("POST", "/api/v1/wallets/{walletId}/freeze"), ("POST", "/api/v1/wallets/{walletId}/unfreeze"),
            ("GET", "/api/v1/treasury/{countryCode}/balance"), ("GET", "/health"), ("GET", "/readyz"),
            ("GET", "/api/v1/commands/{commandId}")
        ])

    # --- balance ------------------------------------------------------------------------------------------
    def test_balance_self_admin_other(self):
        pid, wid, acct, tok = self.user(balance=123456789)
        r = self.call("GET", "/api/v1/wallets/%s/balance" % pid, tok)
        b = self.check(r, 200, "GET", "/api/v1/wallets/{profileId}/balance")
        self.assertEqual((b["walletId"], b["profileId"], b["accountId"]), (wid, pid, acct))
        self.assertEqual((b["balanceQirat"], b["isFrozen"]), ("123456789", False))
        inner = b["balance"]    # the original's object, our keys inside it too
        self.assertEqual((inner["walletId"], inner["profileId"], inner["accountId"], inner["updatedAt"]),
                         (wid, pid, acct, b["updatedAt"]))
        self.assertEqual((inner["balance"], inner["balanceQirat"], inner["isFrozen"]), (1234.56789, "123456789", False))
        r = self.call("GET", "/api/v1/wallets/%s/balance" % pid, gxtest.mint_token(ADMIN, "ADMIN"))
        self.assertEqual(self.check(r, 200, "GET", "/api/v1/wallets/{profileId}/balance")["balance"]["balance"],
                         1234.56789)
        other, _, _, other_tok = self.user()
        r = self.call("GET", "/api/v1/wallets/%s/balance" % pid, other_tok)
        self.check(r, 403, "GET", "/api/v1/wallets/{profileId}/balance", "FORBIDDEN")
        r = self.call("GET", "/api/v1/wallets/%s/balance" % pid)
        self.check(r, 401, "GET", "/api/v1/wallets/{profileId}/balance", "UNAUTHORIZED")

    def test_balance_not_found_and_invalid(self):
        pid, _, _ = seed_user(self.stack, wallet=False)
        r = self.call("GET", "/api/v1/wallets/%s/balance" % pid, gxtest.mint_token(pid))
        self.check(r, 404, "GET", "/api/v1/wallets/{profileId}/balance", "WALLET_NOT_FOUND")
        bad = "a..b"
        r = self.call("GET", "/api/v1/wallets/%s/balance" % bad, gxtest.mint_token(bad))
        self.check(r, 400, "GET", "/api/v1/wallets/{profileId}/balance", "VALIDATION_FAILED")

    def test_balance_extremes_exact(self):
        # the number is the nearest double (as JS Number() of the exact text); the Qirat string stays exact
        for qirat, coins, text in [(0, 0, "0"), (1, 0.00001, "0.00001"), (100000000000000, 1000000000, "1000000000"),
                                   (18446744073709551615, 184467440737095.53, "184467440737095.53")]:
            pid, _, _, tok = self.user(balance=qirat)
            r = self.call("GET", "/api/v1/wallets/%s/balance" % pid, tok)
            b = self.check(r, 200, "GET", "/api/v1/wallets/{profileId}/balance")
            self.assertEqual((b["balance"]["balance"], b["balanceQirat"], b["balance"]["balanceQirat"]),
                             (coins, str(qirat), str(qirat)))
            self.assertIn('"balance":%s,' % text, r.text)

    # --- treasury -----------------------------------------------------------------------------------------
    def test_treasury(self):
        self.stack.psql('INSERT INTO "TreasuryAccount" ("accountId", "tenantId", "countryCode", "status", '
                        '"balanceQirat") VALUES (\'treasury_IN\', \'default\', \'IN\', \'ACTIVE\', 67323835000000000) '
                        'ON CONFLICT DO NOTHING')
        r = self.call("GET", "/api/v1/treasury/IN/balance")
        b = self.check(r, 200, "GET", "/api/v1/treasury/{countryCode}/balance")
        self.assertEqual((b["countryCode"], b["accountId"], b["balanceQirat"]),
                         ("IN", "treasury_IN", "67323835000000000"))
        self.assertEqual((b["balance"]["countryCode"], b["balance"]["balance"], b["balance"]["balanceQirat"],
                          b["balance"]["accountId"], b["balance"]["status"]),
                         ("IN", 673238350000, "67323835000000000", "treasury_IN", "ACTIVE"))
        self.check(self.call("GET", "/api/v1/treasury/FR/balance"), 404, "GET",
                   "/api/v1/treasury/{countryCode}/balance", "TREASURY_NOT_FOUND")
        for bad in ("in", "IND", "I1"):
            self.check(self.call("GET", "/api/v1/treasury/%s/balance" % bad), 400, "GET",
                       "/api/v1/treasury/{countryCode}/balance", "VALIDATION_FAILED")

    # --- transactions -------------------------------------------------------------------------------------
    def seed_history(self, wid, n, ts="2025-01-01 00:00:00+00", step_s=60, type_="RECEIVED"):
        self.stack.psql('INSERT INTO "Transaction" ("offTxId", "tenantId", "onChainTxId", "walletId", "type", '
                        '"counterparty", "remark", "timestamp", "blockNumber", "amountQirat", "feeQirat") '
                        "SELECT 'tx-' || lpad(g::text, 4, '0') || '-' || %s, 'default', 'chain-' || g || '-' || %s, %s, "
                        "%s, 'peer', 'r' || g, %s::timestamptz + (g / 2) * interval '%d seconds', g, g, 0 "
                        "FROM generate_series(1, %d) g" % (q(wid), q(wid), q(wid), q(type_), q(ts), step_s, n))

    def test_transactions_paging_stable_order(self):
        pid, wid, _, tok = self.user()
        self.seed_history(wid, 25)     # pairs share a timestamp: order must still be total and stable
        path = "/api/v1/wallets/%s/transactions" % pid
        tmpl = "/api/v1/wallets/{profileId}/transactions"
        first = self.check(self.call("GET", path, tok), 200, "GET", tmpl)
        self.assertEqual((first["total"], first["limit"], first["offset"], len(first["transactions"])), (25, 50, 0, 25))
        seen = []
        for off in range(0, 25, 7):
            page = self.check(self.call("GET", path + "?limit=7&offset=%d" % off, tok), 200, "GET", tmpl)
            self.assertEqual(page["total"], 25)
            seen += [t["offTxId"] for t in page["transactions"]]
        self.assertEqual(len(seen), 25)
        self.assertEqual(len(set(seen)), 25)
        self.assertEqual(seen, [t["offTxId"] for t in first["transactions"]])
        stamps = [t["timestamp"] for t in first["transactions"]]
        self.assertEqual(stamps, sorted(stamps, reverse=True))
        again = self.check(self.call("GET", path + "?limit=100", tok), 200, "GET", tmpl)
        self.assertEqual([t["offTxId"] for t in again["transactions"]], seen)
        t0 = again["transactions"][0]
        self.assertEqual((t0["type"], t0["amount"], t0["amountQirat"], t0["fee"], t0["blockNumber"]),
                         ("RECEIVED", 0.00024, "24", 0, 24))   # ties on time: ordered by offTxId
        # more than 100 rows per page are served as 100, as the limit in the reply says
        big = self.check(self.call("GET", path + "?limit=500", tok), 200, "GET", tmpl)
        self.assertEqual((big["limit"], len(big["transactions"])), (100, 25))
        self.assertEqual(self.check(self.call("GET", path + "?limit=0000101", tok), 200, "GET", tmpl)["limit"], 100)
        self.assertEqual(self.check(self.call("GET", path + "?limit=007", tok), 200, "GET", tmpl)["limit"], 7)
        beyond = self.check(self.call("GET", path + "?offset=1000", tok), 200, "GET", tmpl)
        self.assertEqual((beyond["transactions"], beyond["total"]), ([], 25))

    def test_transactions_empty_numeric_and_errors(self):
        pid, wid, _, tok = self.user()
        path = "/api/v1/wallets/%s/transactions" % pid
        tmpl = "/api/v1/wallets/{profileId}/transactions"
        empty = self.check(self.call("GET", path, tok), 200, "GET", tmpl)
        self.assertEqual((empty["transactions"], empty["total"]), ([], 0))
        # the largest amounts NUMERIC(20,0) can hold for a u64 chain never produce a 500
        self.stack.psql('INSERT INTO "Transaction" ("tenantId", "onChainTxId", "walletId", "type", "counterparty", '
                        '"timestamp", "amountQirat", "feeQirat") VALUES (\'default\', \'big\', %s, \'SENT\', \'x\', '
                        'now(), 18446744073709551615, 10000000)' % q(wid))
        t = self.check(self.call("GET", path, tok), 200, "GET", tmpl)["transactions"][0]
        self.assertEqual((t["amount"], t["amountQirat"], t["fee"], t["feeQirat"], t["remark"], t["blockNumber"]),
                         (184467440737095.53, "18446744073709551615", 100, "10000000", None, None))
        for qs in ("limit=0", "limit=-5", "limit=abc", "offset=-1", "limit=1.5", "limit="):
            self.check(self.call("GET", path + "?" + qs, tok), 400, "GET", tmpl, "VALIDATION_FAILED")
        _, _, _, other = self.user()
        self.check(self.call("GET", path, other), 403, "GET", tmpl, "FORBIDDEN")
        nowallet, _, _ = seed_user(self.stack, wallet=False)
        self.check(self.call("GET", "/api/v1/wallets/%s/transactions" % nowallet, gxtest.mint_token(nowallet)), 404,
                   "GET", tmpl, "WALLET_NOT_FOUND")
        admin = self.check(self.call("GET", path, gxtest.mint_token(ADMIN, "ADMIN")), 200, "GET", tmpl)
        self.assertEqual(admin["total"], 1)

    # --- transfers ----------------------------------------------------------------------------------------
    def test_transfer_payload_exact(self):
        a, _, a_acct, a_tok = self.user(balance=10 ** 15)
        b, _, b_acct, _ = self.user()
        for amount, qirat in [("0.00001", "1"), (0.00001, "1"), ("1000000000", "100000000000000"),
                              (1e9, "100000000000000"), ("12.5", "1250000"), (3, "300000")]:
            res = self.transfer(a_tok, b, amount, remark="rent")
            self.assertEqual(res["status"], "ACCEPTED")
            ctype, payload, agg, svc = outbox_command(self.stack, res["commandId"])
            self.assertEqual(ctype, "TRANSFER_TOKENS")
            self.assertEqual(payload, {"fromUserId": a_acct, "toUserId": b_acct, "amount": qirat, "remark": "rent"})
            self.assertEqual((agg, svc, res["aggregateId"]), ("wallet:" + a_acct, "svc-tokenomics", "wallet:" + a_acct))
        res = self.transfer(a_tok, b, "1", fromUserId=a)         # an explicit fromUserId equal to the caller is fine
        self.assertEqual(outbox_command(self.stack, res["commandId"])[1]["remark"], "")

    def test_transfer_validation(self):
        a, _, _, tok = self.user(balance=10 ** 12)
        b, _, _, _ = self.user()
        # the original's own checks come first, with its texts
        for body, text in [({"amount": "1"}, "fromUserId, toUserId, and amount are required"),
                           ({"toUserId": b}, "fromUserId, toUserId, and amount are required"),
                           ({"toUserId": b, "amount": 0}, "fromUserId, toUserId, and amount are required"),
                           ({"toUserId": "", "amount": 1}, "fromUserId, toUserId, and amount are required"),
                           ({"toUserId": b, "amount": "0"}, "Amount must be greater than 0"),
                           ({"toUserId": b, "amount": -1}, "Amount must be greater than 0"),
                           ({"toUserId": b, "amount": " -0.5 "}, "Amount must be greater than 0")]:
            err = self.check(self.call("POST", "/api/v1/transfers", tok, body), 400, "POST", "/api/v1/transfers",
                             "VALIDATION_FAILED")
            self.assertEqual(err["message"], text, body)
        cases = [({"toUserId": b, "amount": "0.000001"}, "amount"), ({"toUserId": b, "amount": "1e3"}, "amount"),
                 ({"toUserId": b, "amount": "-x"}, "amount"),
                 ({"toUserId": b, "amount": "1000000000.00001"}, "amount"), ({"toUserId": b, "amount": True}, "amount"),
                 ({"toUserId": a, "amount": "1"}, "toUserId"), ({"toUserId": "x/y", "amount": "1"}, "toUserId"),
                 ({"toUserId": b, "amount": "1", "remark": "r" * 201}, "remark")]
        for body, field in cases:
            r = self.call("POST", "/api/v1/transfers", tok, body)
            err = self.check(r, 400, "POST", "/api/v1/transfers", "VALIDATION_FAILED")
            self.assertIn(field, [d["field"] for d in err["details"]], body)
        r = self.call("POST", "/api/v1/transfers", tok, raw=b"{not json", headers={"Content-Type": "application/json"})
        self.check(r, 400, "POST", "/api/v1/transfers", "INVALID_JSON")
        self.check(self.call("POST", "/api/v1/transfers", None, {"toUserId": b, "amount": "1"}), 401, "POST",
                   "/api/v1/transfers", "UNAUTHORIZED")
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "payload"->\'_meta\'->>'
                                         '\'createdBy\' = %s' % q(a)), [("0",)])

    def test_transfer_sender_is_the_caller(self):
        a, _, _, a_tok = self.user(balance=10 ** 12)
        b, _, _, _ = self.user(balance=10 ** 12)
        c, _, _, _ = self.user()
        self.transfer(a_tok, c, "1", 403, "FORBIDDEN", fromUserId=b)

    def test_transfer_parties(self):
        a, _, _, a_tok = self.user(balance=10 ** 12)
        nowallet, _, _ = seed_user(self.stack, wallet=False)
        self.transfer(a_tok, nowallet, "1", 404, "RECEIVER_NOT_FOUND")
        self.transfer(a_tok, str(uuid.uuid4()), "1", 404, "RECEIVER_NOT_FOUND")
        frozen, _, _, frozen_tok = self.user(balance=10 ** 12, frozen=True)
        self.transfer(a_tok, frozen, "1", 409, "RECEIVER_FROZEN")
        self.transfer(frozen_tok, a, "1", 409, "WALLET_FROZEN")
        self.transfer(gxtest.mint_token(nowallet), a, "1", 404, "WALLET_NOT_FOUND")

    def seed_org(self, status):
        org = str(uuid.uuid4())
        self.stack.psql('INSERT INTO "Organization" ("orgId", "tenantId", "orgName", "orgType", "status", '
                        '"stakeholders") VALUES (%s, \'default\', \'Org\', \'BUSINESS\', %s, \'[]\')'
                        % (q(org), q(status)))
        return org

    def test_transfer_to_organization(self):
        # addressed as the original's clients address it: toUserId = the organization's id (its on-chain account)
        a, _, a_acct, a_tok = self.user(balance=10 ** 12)
        org = self.seed_org("ACTIVE")
        res = self.transfer(a_tok, org, 50, remark="funding")
        self.assertEqual(outbox_command(self.stack, res["commandId"])[:3],
                         ("TRANSFER_TOKENS", {"fromUserId": a_acct, "toUserId": org, "amount": "5000000",
                                              "remark": "funding"}, "wallet:" + a_acct))
        # a proposed organization has no account on chain yet
        err = self.transfer(a_tok, self.seed_org("PROPOSED"), "1", 409, "RECEIVER_NOT_ACTIVE")
        self.assertIn("PROPOSED", err["message"])
        err = self.transfer(a_tok, "org-" + str(uuid.uuid4()), "1", 404, "RECEIVER_NOT_FOUND")
        self.assertEqual(err["message"], "Receiver wallet not found")
        # the balance pre-check is the sender's, as for any transfer
        _, _, _, poor = self.user(balance=100)
        self.transfer(poor, org, "1", 409, "INSUFFICIENT_BALANCE")

    def test_transfer_balance_precheck_includes_fee(self):
        # defaults: 10 bps above 10 coins. 100 coins cost 100.1 coins; 5 coins are exempt.
        b, _, _, _ = self.user()
        _, _, _, tok = self.user(balance=10010000 - 1)
        err = self.transfer(tok, b, "100", 409, "INSUFFICIENT_BALANCE")
        self.assertEqual(err["message"], "Insufficient balance. Available: 100.09999, Required: 100.1")
        _, _, _, tok = self.user(balance=10010000)
        self.transfer(tok, b, "100")
        _, _, _, tok = self.user(balance=500000)
        self.transfer(tok, b, "5")
        self.transfer(tok, b, "5.00001", 409, "INSUFFICIENT_BALANCE")

    def test_transfer_idempotent_retry(self):
        a, _, _, tok = self.user(balance=10 ** 12)
        b, _, _, _ = self.user()
        key = {"Idempotency-Key": "tr-" + str(uuid.uuid4())}
        body = {"toUserId": b, "amount": "2.5"}
        r1 = self.call("POST", "/api/v1/transfers", tok, body, key)
        r2 = self.call("POST", "/api/v1/transfers", tok, body, key)
        self.check(r1, 202, "POST", "/api/v1/transfers")
        self.check(r2, 202, "POST", "/api/v1/transfers")
        self.assertEqual(r1.body, r2.body)
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "commandType" = '
                                         '\'TRANSFER_TOKENS\' AND "payload"->\'_meta\'->>\'createdBy\' = %s' % q(a)),
                         [("1",)])
        r3 = self.call("POST", "/api/v1/transfers", tok, {"toUserId": b, "amount": "3"}, key)
        self.check(r3, 422, "POST", "/api/v1/transfers", "IDEMPOTENCY_KEY_REUSED")

    # --- genesis ------------------------------------------------------------------------------------------
    def genesis(self, body, status, code=None, role="SUPER_ADMIN", headers=None):
        r = self.call("POST", "/api/v1/genesis", gxtest.mint_token(SUPER, role), body, headers)
        return self.check(r, status, "POST", "/api/v1/genesis", code)

    def test_genesis(self):
        pid, wid, acct, _ = self.user(nationality="IN")
        body = {"userId": pid, "userType": "individual", "countryCode": "IN"}
        self.genesis(body, 403, "FORBIDDEN", role="ADMIN")
        self.genesis(body, 403, "FORBIDDEN", role="USER")
        res = self.genesis(body, 202)
        ctype, payload, agg, _ = outbox_command(self.stack, res["commandId"])
        self.assertEqual((ctype, payload, agg),
                         ("DISTRIBUTE_GENESIS", {"userId": acct, "userType": "individual", "countryCode": "IN"},
                          "wallet:" + acct))
        self.assertEqual(self.stack.psql('SELECT "actorId", "action", "targetId" FROM "AdminAuditLog" WHERE '
                                         '"targetId" = %s' % q(wid)), [(SUPER, "GENESIS_DISTRIBUTE", wid)])
        # per user once: a pending command blocks a second request
        self.genesis(body, 409, "GENESIS_ALREADY_DISTRIBUTED")
        # ... but a FAILED one does not
        self.stack.psql('UPDATE "OutboxCommand" SET "status" = \'FAILED\' WHERE "id" = %s' % q(res["commandId"]))
        self.genesis(body, 202)
        # and the read model showing the allocation blocks it too
        pid2, wid2, _, _ = self.user(nationality="IN")
        self.stack.psql('INSERT INTO "Transaction" ("tenantId", "onChainTxId", "walletId", "type", "counterparty", '
                        '"timestamp", "amountQirat") VALUES (\'default\', \'g1\', %s, \'GENESIS\', '
                        '\'SYSTEM_USER_GENESIS_POOL\', now(), 10000000)' % q(wid2))
        self.genesis({"userId": pid2, "userType": "business", "countryCode": "IN"}, 409, "GENESIS_ALREADY_DISTRIBUTED")

    def test_genesis_projected_command_counts(self):
        # genesis happens once per account: a PROJECTED command blocks a second one even when the read model shows no
        # GENESIS row (the once-only rule, not the in-flight one: gx/outbox_store.h GX_OUTBOX_STORE_LIVE)
        pid, _, _, _ = self.user(nationality="IN")
        body = {"userId": pid, "userType": "individual", "countryCode": "IN"}
        res = self.genesis(body, 202)
        self.stack.psql('UPDATE "OutboxCommand" SET "status" = \'PROJECTED\' WHERE "id" = %s' % q(res["commandId"]))
        self.genesis(body, 409, "GENESIS_ALREADY_DISTRIBUTED")

    def test_genesis_errors(self):
        pid, _, _, _ = self.user(nationality="IN")
        self.genesis({"userId": pid, "userType": "individual", "countryCode": "US"}, 400, "VALIDATION_FAILED")
        self.genesis({"userId": pid, "userType": "alien", "countryCode": "IN"}, 400, "VALIDATION_FAILED")
        self.genesis({"userId": pid, "userType": "individual", "countryCode": "in"}, 400, "VALIDATION_FAILED")
        self.genesis({"userType": "individual"}, 400, "VALIDATION_FAILED")
        self.genesis({"userId": str(uuid.uuid4()), "userType": "individual", "countryCode": "IN"}, 404,
                     "USER_NOT_FOUND")
        nowallet, _, _ = seed_user(self.stack, wallet=False, nationality="IN")
        self.genesis({"userId": nowallet, "userType": "individual", "countryCode": "IN"}, 404, "WALLET_NOT_FOUND")
        frozen, _, _, _ = self.user(nationality="IN", frozen=True)
        self.genesis({"userId": frozen, "userType": "government", "countryCode": "IN"}, 409, "WALLET_FROZEN")

    # --- freeze / unfreeze --------------------------------------------------------------------------------
    def test_freeze_unfreeze(self):
        _, wid, acct, tok = self.user()
        admin = gxtest.mint_token(ADMIN, "ADMIN")
        fpath, upath = "/api/v1/wallets/%s/freeze" % wid, "/api/v1/wallets/%s/unfreeze" % wid
        ftmpl, utmpl = "/api/v1/wallets/{walletId}/freeze", "/api/v1/wallets/{walletId}/unfreeze"
        reason = "suspicious activity reported"
        self.check(self.call("POST", fpath, tok, {"reason": reason}), 403, "POST", ftmpl, "FORBIDDEN")
        self.check(self.call("POST", fpath, admin, {"reason": "r" * 501}), 400, "POST", ftmpl, "VALIDATION_FAILED")
        self.check(self.call("POST", fpath, admin, {"reason": 7}), 400, "POST", ftmpl, "VALIDATION_FAILED")
        self.assertEqual(self.check(self.call("POST", fpath, admin, {}), 400, "POST", ftmpl, "VALIDATION_FAILED")
                         ["message"], "Reason is required")
        self.check(self.call("POST", "/api/v1/wallets/%s/freeze" % uuid.uuid4(), admin, {"reason": reason}), 404,
                   "POST", ftmpl, "WALLET_NOT_FOUND")
        self.check(self.call("POST", upath, admin), 409, "POST", utmpl, "WALLET_NOT_FROZEN")
        res = self.check(self.call("POST", fpath, admin, {"reason": reason}), 202, "POST", ftmpl)
        self.assertEqual(outbox_command(self.stack, res["commandId"])[:3],
                         ("FREEZE_WALLET", {"userId": acct, "reason": reason}, "wallet:" + acct))
        self.assertEqual(self.stack.psql('SELECT "actorId", "actorRole", "action" FROM "AdminAuditLog" WHERE '
                                         '"targetId" = %s' % q(wid)), [(ADMIN, "ADMIN", "WALLET_FREEZE")])
        # the projector marks the wallet frozen; then a second freeze is a conflict and unfreeze works
        self.stack.psql('UPDATE "Wallet" SET "isFrozen" = true WHERE "walletId" = %s' % q(wid))
        self.check(self.call("POST", fpath, admin, {"reason": reason}), 409, "POST", ftmpl, "WALLET_ALREADY_FROZEN")
        res = self.check(self.call("POST", upath, gxtest.mint_token(SUPER, "SUPER_ADMIN")), 202, "POST", utmpl)
        self.assertEqual(outbox_command(self.stack, res["commandId"])[:2], ("UNFREEZE_WALLET", {"userId": acct}))
        bal = self.check(self.call("GET", "/api/v1/wallets/%s/balance" % self.stack.psql(
            'SELECT "profileId" FROM "Wallet" WHERE "walletId" = %s' % q(wid))[0][0], admin), 200, "GET",
            "/api/v1/wallets/{profileId}/balance")
        self.assertTrue(bal["isFrozen"])

    def test_freeze_by_rank(self):
        """docs/security.md "Ranks": nobody freezes or unfreezes their own wallet or one of equal or higher rank."""
        ftmpl, utmpl = "/api/v1/wallets/{walletId}/freeze", "/api/v1/wallets/{walletId}/unfreeze"
        body = {"reason": "rank check"}
        wallets, tokens = {}, {}
        for role in ("SUPER_ADMIN", "ADMIN", "ADMIN2", "USER"):
            pid, wid, _ = seed_user(self.stack)
            self.stack.psql('UPDATE "UserProfile" SET "role" = %s WHERE "profileId" = %s' % (q(role[:5] if role ==
                            "ADMIN2" else role), q(pid)))
            wallets[role], tokens[role] = wid, gxtest.mint_token(pid, "ADMIN" if role == "ADMIN2" else role)
        ad, sa = tokens["ADMIN"], tokens["SUPER_ADMIN"]
        self.check(self.call("POST", "/api/v1/wallets/%s/freeze" % wallets["SUPER_ADMIN"], ad, body), 403, "POST",
                   ftmpl, "RANK_TOO_LOW")
        self.check(self.call("POST", "/api/v1/wallets/%s/freeze" % wallets["ADMIN2"], ad, body), 403, "POST",
                   ftmpl, "RANK_TOO_LOW")
        self.check(self.call("POST", "/api/v1/wallets/%s/freeze" % wallets["ADMIN"], ad, body), 403, "POST",
                   ftmpl, "SELF_ACTION")
        self.check(self.call("POST", "/api/v1/wallets/%s/freeze" % wallets["SUPER_ADMIN"], sa, body), 403, "POST",
                   ftmpl, "SELF_ACTION")
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "commandType" = '
                                         "'FREEZE_WALLET' AND \"payload\"->>'reason' = 'rank check'")[0][0], "0")
        self.check(self.call("POST", "/api/v1/wallets/%s/freeze" % wallets["USER"], ad, body), 202, "POST", ftmpl)
        self.check(self.call("POST", "/api/v1/wallets/%s/freeze" % wallets["ADMIN"], sa, body), 202, "POST", ftmpl)
        # a frozen admin cannot unfreeze themselves, nor can a peer; a SUPER_ADMIN can
        self.stack.psql('UPDATE "Wallet" SET "isFrozen" = true WHERE "walletId" = %s' % q(wallets["ADMIN"]))
        self.check(self.call("POST", "/api/v1/wallets/%s/unfreeze" % wallets["ADMIN"], ad), 403, "POST", utmpl,
                   "SELF_ACTION")
        self.check(self.call("POST", "/api/v1/wallets/%s/unfreeze" % wallets["ADMIN"], tokens["ADMIN2"]), 403,
                   "POST", utmpl, "RANK_TOO_LOW")
        self.check(self.call("POST", "/api/v1/wallets/%s/unfreeze" % wallets["ADMIN"], sa), 202, "POST", utmpl)

    def test_command_status_visible_to_creator_only(self):
        a, _, _, tok = self.user(balance=10 ** 12)
        b, _, _, other = self.user()
        res = self.transfer(tok, b, "1")
        r = self.call("GET", "/api/v1/commands/%s" % res["commandId"], tok)
        doc = self.check(r, 200, "GET", "/api/v1/commands/{commandId}")
        self.assertEqual((doc["commandType"], doc["status"]), ("TRANSFER_TOKENS", "PENDING"))
        self.check(self.call("GET", "/api/v1/commands/%s" % res["commandId"], other), 404, "GET",
                   "/api/v1/commands/{commandId}", "COMMAND_NOT_FOUND")

    def test_db_down_is_503(self):
        pid, _, _, tok = self.user()
        self.api.expect_errors("database unavailable")
        self.stack.stop_pg()
        try:
            r = self.call("GET", "/api/v1/wallets/%s/balance" % pid, tok)
            self.check(r, 503, "GET", "/api/v1/wallets/{profileId}/balance", "DB_UNAVAILABLE")
        finally:
            self.stack.start_pg()
            self.api.wait_ready(30)

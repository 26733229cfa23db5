"""End to end with the Fabric stand-in, the outbox-submitter and the projector: bootstrap -> two users created on
chain -> genesis through svc-tokenomics -> transfers (1 Qirat pieces, a STANDARD fee, and a CAPPED fee after the cap
parameter was changed on chain) -> both balances and both history rows exact -> every fee equals svc-tax's quote
and went to SYSTEM_FEE_POOL. Then an organization funded by a transfer (toUserId = its orgId) spends through a
multi-signature transaction of svc-organization. System commands the admin service would write and the users'
CREATE_USER are inserted into the outbox directly."""

import json
import uuid

import gxtest
from gxtest.chain import wait_command, wait_sql
from gxtest.services import NO_LIMITS, ServiceTestCase, chain_user, wait_projected
from gxtest.sql import enqueue, q

SUPER = str(uuid.uuid4())


class TokenomicsEndToEndTest(ServiceTestCase):
    DAEMON, CHAIN = "svc-tokenomics", True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tax = cls.stack.start_daemon("svc-tax", env=dict(NO_LIMITS, FEE_PARAMS_CACHE="0"))

    def projected(self, cid, token=None):
        return wait_command(self.api.url, cid, token, want="PROJECTED", timeout=60)

    def onchain_user(self):
        """A profile plus CREATE_USER; returns (profileId, accountId, token) once the projector made the wallet."""
        pid = str(uuid.uuid4())
        pid, acct = chain_user(self.stack, pid, "u-" + pid[:18], "US", "E", "Two", self.projected)
        return pid, acct, gxtest.mint_token(pid)

    def balance(self, pid, token):
        return self.check(self.call("GET", "/api/v1/wallets/%s/balance" % pid, token), 200, "GET",
                          "/api/v1/wallets/{profileId}/balance")

    def history(self, pid, token):
        return self.check(self.call("GET", "/api/v1/wallets/%s/transactions?limit=100" % pid, token), 200, "GET",
                          "/api/v1/wallets/{profileId}/transactions")

    def quote(self, amount):
        r = gxtest.request("POST", self.tax.url + "/api/v1/fees/calculate", json_body={"amountCoins": amount})
        self.assertEqual(r.status, 200, r.text)
        return r.json()

    def test_genesis_transfer_fees(self):
        st = self.stack
        self.projected(enqueue(st, "BOOTSTRAP_SYSTEM", {}, "system"))
        a, a_acct, a_tok = self.onchain_user()
        b, b_acct, b_tok = self.onchain_user()

        # genesis through the API, once
        r = gxtest.request("POST", self.api.url + "/api/v1/genesis", headers=gxtest.bearer(gxtest.mint_token(SUPER, "SUPER_ADMIN")),
                           json_body={"userId": a, "userType": "individual", "countryCode": "US"})
        self.assertEqual(r.status, 202, r.text)
        self.projected(r.json()["commandId"], gxtest.mint_token(SUPER, "SUPER_ADMIN"))
        self.assertEqual(self.balance(a, a_tok)["balanceQirat"], "10000000")        # genesisTier1Amount
        r = gxtest.request("POST", self.api.url + "/api/v1/genesis", headers=gxtest.bearer(gxtest.mint_token(SUPER, "SUPER_ADMIN")),
                           json_body={"userId": a, "userType": "individual", "countryCode": "US"})
        self.assertEqual((r.status, r.json()["code"]), (409, "GENESIS_ALREADY_DISTRIBUTED"))

        def transfer(amount):
            r = gxtest.request("POST", self.api.url + "/api/v1/transfers", headers=gxtest.bearer(a_tok),
                               json_body={"toUserId": b, "amount": amount, "remark": "e2e"})
            self.assertEqual(r.status, 202, r.text)
            doc = self.projected(r.json()["commandId"], a_tok)
            ev = st.psql('SELECT "payload"::text FROM "EventLog" WHERE "fabricTxId" = %s AND "eventName" = '
                         '\'TransferCompleted\'' % q(doc["fabricTxId"]))
            self.assertEqual(len(ev), 1, ev)
            return doc, json.loads(ev[0][0])

        sent = []
        for amount in ["0.00001", "0.00001", "0.00001", "20"]:
            quote = self.quote(amount)
            doc, ev = transfer(amount)
            self.assertEqual((ev["fromID"], ev["toID"], ev["amount"]), (a_acct, b_acct, quote["amountQirat"]))
            # the fee the chain charged is the fee svc-tax quotes (same rule, same parameters)
            self.assertEqual((ev["fee"], ev["feeTier"], ev["feeAccountID"]),
                             (quote["feeQirat"], quote["tier"], "SYSTEM_FEE_POOL"))
            sent.append((doc["fabricTxId"], int(quote["amountQirat"]), int(quote["feeQirat"])))
        self.assertEqual([s[2] for s in sent], [0, 0, 0, 2000])

        # change the fee cap on chain; the projector mirrors it into SystemParameter, svc-tax follows, the chain caps
        self.projected(enqueue(st, "UPDATE_SYSTEM_PARAMETER", {"paramKey": "transactionFeeMaxQirat",
                                                           "paramValue": "1500"}, "system"))
        wait_sql(st, 'SELECT "paramValue" FROM "SystemParameter" WHERE "tenantId" = \'default\' AND "paramKey" = '
                 '\'transactionFeeMaxQirat\'', [("1500",)])
        quote = self.quote("20")
        self.assertEqual((quote["feeQirat"], quote["tier"]), ("1500", "CAPPED"))
        doc, ev = transfer("20")
        self.assertEqual((ev["fee"], ev["feeTier"]), ("1500", "CAPPED"))
        sent.append((doc["fabricTxId"], 2000000, 1500))

        # balances: exact to the Qirat on both sides
        total_amount = sum(s[1] for s in sent)
        total_fee = sum(s[2] for s in sent)
        self.assertEqual(total_amount, 4000003)
        ab, bb = self.balance(a, a_tok), self.balance(b, b_tok)
        self.assertEqual(ab["balanceQirat"], str(10000000 - total_amount - total_fee))
        self.assertEqual((ab["balance"]["balance"], bb["balance"]["balance"], bb["balanceQirat"]),
                         (59.96497, 40.00003, "4000003"))

        # history: one row per side per transfer, exact amounts, the fee on the sender's row
        ha, hb = self.history(a, a_tok), self.history(b, b_tok)
        self.assertEqual((ha["total"], hb["total"]), (len(sent) + 1, len(sent)))
        a_rows = {t["onChainTxId"]: t for t in ha["transactions"] if t["type"] == "SENT"}
        b_rows = {t["onChainTxId"]: t for t in hb["transactions"]}
        self.assertEqual([t["type"] for t in ha["transactions"]].count("GENESIS"), 1)
        for txid, amount, fee in sent:
            self.assertEqual((a_rows[txid]["amountQirat"], a_rows[txid]["feeQirat"], a_rows[txid]["counterparty"]),
                             (str(amount), str(fee), b_acct))
            self.assertEqual((b_rows[txid]["type"], b_rows[txid]["amountQirat"], b_rows[txid]["feeQirat"],
                              b_rows[txid]["counterparty"], b_rows[txid]["remark"]),
                             ("RECEIVED", str(amount), "0", a_acct, "e2e"))

        # every fee went to the documented account
        self.assertEqual(st.psql('SELECT "balanceQirat"::text FROM "SystemAccount" WHERE "accountId" = '
                                 '\'SYSTEM_FEE_POOL\''), [(str(total_fee),)])

        # the read model says A can no longer afford 60 coins; the API refuses before the chain
        r = gxtest.request("POST", self.api.url + "/api/v1/transfers", headers=gxtest.bearer(a_tok),
                           json_body={"toUserId": b, "amount": "60"})
        self.assertEqual((r.status, r.json()["code"]), (409, "INSUFFICIENT_BALANCE"))


class OrganizationFundingEndToEndTest(ServiceTestCase):
    """An organization is funded by a plain transfer through svc-tokenomics, addressed as the original's clients
    address it (toUserId = the organization's id), and then spends through svc-organization's multi-signature
    transaction: outbox -> submitter -> Fabric stand-in -> projector -> read models, exact to the Qirat on every
    side (sender, organization, receiver, fee pool)."""

    DAEMON, CHAIN, WITHOUT_PROJECTOR = "svc-tokenomics", True, "fail"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.org = cls.stack.start_daemon("svc-organization", env=NO_LIMITS)

    def projected(self, cid, token, api=None):
        return wait_command((api or self.api).url, cid, token, want="PROJECTED", timeout=60)

    def org_post(self, path, tok, body=None):
        r = gxtest.request("POST", self.org.url + path, headers=gxtest.bearer(tok), json_body=body)
        self.assertEqual(r.status, 202, r.text)
        res = r.json()
        self.projected(res["commandId"], tok, self.org)
        return res

    def transfer(self, tok, body, status=202):
        r = self.call("POST", "/api/v1/transfers", tok, body)
        self.check(r, status, "POST", "/api/v1/transfers")
        return r.json()

    def balances(self):
        return self.stack.psql('SELECT (SELECT "balanceQirat"::text FROM "Organization" WHERE "orgId" = %s), '
                               '(SELECT "balanceQirat"::text FROM "SystemAccount" WHERE "accountId" = '
                               '\'SYSTEM_FEE_POOL\')' % q(self.org_id))[0]

    def test_fund_organization_then_multisig(self):
        st = self.stack
        sup = gxtest.mint_token(SUPER, "SUPER_ADMIN")
        wait_projected(st, enqueue(st, "BOOTSTRAP_SYSTEM", {}, "system"))
        (a, _), (b, _), (c, _) = chain_user(st), chain_user(st), chain_user(st)
        ta, tb, tc = gxtest.mint_token(a), gxtest.mint_token(b), gxtest.mint_token(c)
        r = self.call("POST", "/api/v1/genesis", sup, {"userId": a, "userType": "individual", "countryCode": "US"})
        self.projected(self.check(r, 202, "POST", "/api/v1/genesis")["commandId"], sup)

        # an organization of a and b, endorsed and activated through svc-organization
        res = self.org_post("/api/v1/organizations", ta, {"orgName": "Funded Co", "orgType": "business",
                                                          "stakeholderIds": [a, b]})
        self.org_id = org = res["aggregateId"]
        # before activation it has no account on chain: the API says so instead of a command that must fail
        err = self.transfer(ta, {"fromUserId": a, "toUserId": org, "amount": 1}, 409)
        self.assertEqual(err["code"], "RECEIVER_NOT_ACTIVE")
        self.org_post("/api/v1/organizations/%s/endorse" % org, ta)
        self.org_post("/api/v1/organizations/%s/endorse" % org, tb)
        self.org_post("/api/v1/organizations/%s/activate" % org, tb)
        self.org_post("/api/v1/organizations/%s/rules" % org, ta, {"requiredApprovals": 1, "approverIds": [a, b],
                                                                   "amountThreshold": "1"})
        self.assertEqual(self.balances(), ("0", "0"))

        # fund it: the original's body, amount a JSON number of coins; 50 coins cost a 0.05 coin fee (10 bps)
        res = self.transfer(ta, {"fromUserId": a, "toUserId": org, "amount": 50, "remark": "funding"})
        doc = self.projected(res["commandId"], ta)
        self.assertEqual(self.balances(), ("5000000", "5000"))
        bal = self.check(self.call("GET", "/api/v1/wallets/%s/balance" % a, ta), 200, "GET",
                         "/api/v1/wallets/{profileId}/balance")
        self.assertEqual((bal["balance"]["balance"], bal["balanceQirat"]), (49.95, "4995000"))
        hist = self.check(self.call("GET", "/api/v1/wallets/%s/transactions" % a, ta), 200, "GET",
                          "/api/v1/wallets/{profileId}/transactions")["transactions"]
        sent = [t for t in hist if t["onChainTxId"] == doc["fabricTxId"]]
        self.assertEqual([(t["type"], t["counterparty"], t["amount"], t["fee"], t["remark"]) for t in sent],
                         [("SENT", org, 50, 0.05, "funding")])
        self.assertEqual(sent[0]["blockNumber"], doc["blockNumber"])

        # spend 20 coins to c: initiated by b, approved by a (four eyes: never by its initiator); executed then
        res = self.org_post("/api/v1/organizations/%s/transactions" % org, tb, {"toUserId": c, "amount": 20,
                                                                                "remark": "supplies"})
        tx = res["pendingTxId"]
        self.assertEqual(st.psql('SELECT "status" FROM "MultiSigTransaction" WHERE "txId" = %s' % q(tx)),
                         [("PENDING",)])
        self.assertEqual(self.balances(), ("5000000", "5000"))
        self.org_post("/api/v1/transactions/%s/approve" % tx, ta)
        self.assertEqual(st.psql('SELECT "status", "currentSignatures" FROM "MultiSigTransaction" WHERE "txId" = %s'
                                 % q(tx)), [("EXECUTED", "1")])

        # exact on every side: the organization paid 20 coins + 0.02 fee; c got 20; the fee pool has both fees
        self.assertEqual(self.balances(), (str(5000000 - 2000000 - 2000), str(5000 + 2000)))
        bal = self.check(self.call("GET", "/api/v1/wallets/%s/balance" % c, tc), 200, "GET",
                         "/api/v1/wallets/{profileId}/balance")
        self.assertEqual((bal["balance"]["balance"], bal["balanceQirat"]), (20, "2000000"))
        hist = self.check(self.call("GET", "/api/v1/wallets/%s/transactions" % c, tc), 200, "GET",
                          "/api/v1/wallets/{profileId}/transactions")["transactions"]
        self.assertEqual([(t["type"], t["counterparty"], t["amount"], t["amountQirat"], t["fee"]) for t in hist],
                         [("RECEIVED", org, 20, "2000000", 0)])
        self.assertEqual(self.check(self.call("GET", "/api/v1/wallets/%s/balance" % a, ta), 200, "GET",
                                    "/api/v1/wallets/{profileId}/balance")["balanceQirat"], "4995000")
        # every command of the flow reached the read models
        self.assertEqual(st.psql('SELECT "status" FROM "OutboxCommand" WHERE "status" <> \'PROJECTED\''), [])

"""svc-admin against real PostgreSQL and Redis (no chain): every route's roles, validation, 409 rules, idempotent
retry, the outbox rows and audit records it writes, the read shapes computed from seeded read models, and the
outbox operations (list, inspect, re-queue one and by filter). Every checked response is validated against the
live /openapi.json."""

import json
import uuid

import gxtest
from gxtest import openapi as oa
from gxtest.services import ServiceTestCase
from gxtest.sql import q, seed_profile, seed_wallet

SUPER = str(uuid.uuid4())
ADMIN = str(uuid.uuid4())
USER = str(uuid.uuid4())


def hdr(role_sub, role, key=None):
    h = gxtest.bearer(gxtest.mint_token(role_sub, role))
    if key:
        h["Idempotency-Key"] = key
    return h


# Every test starts from a bootstrapped-nothing database: no commands, events, users, treasuries, initialised countries.
RESET_SQL = ('DELETE FROM "OutboxCommand"; DELETE FROM "EventLog"; DELETE FROM "AdminAuditLog";'
             'DELETE FROM "HttpIdempotency"; DELETE FROM "TreasuryAccount"; DELETE FROM "Wallet";'
             'DELETE FROM "UserProfile"; UPDATE "Country" SET "initializedAt" = NULL, "allocationPercentage" = NULL')

class AdminTest(ServiceTestCase):
    DAEMON = "svc-admin"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.codes = [r[0] for r in cls.stack.psql('SELECT "countryCode" FROM "Country" ORDER BY "countryCode"')]

    def setUp(self):
        super().setUp()
        self.stack.psql(RESET_SQL)

    # --- helpers ----------------------------------------------------------------------------------------------
    def call(self, method, path, template=None, body=None, headers=None, status=None):
        """Request path with headers; asserts status when given and validates against template (default path)."""
        r = gxtest.request(method, self.api.url + path, json_body=body, headers=headers)
        if status is not None:
            self.assertEqual(r.status, status, r.text)
        oa.validate(self.doc, method, template or path.split("?")[0], r.status, r)
        return r

    def super_(self, key=None):
        return hdr(SUPER, "SUPER_ADMIN", key)

    def admin(self, key=None):
        return hdr(ADMIN, "ADMIN", key)

    def user(self):
        return hdr(USER, "USER")

    def commands(self, ctype):
        return self.stack.psql('SELECT "id", "payload"::text, "status"::text, "aggregateId" FROM "OutboxCommand"'
                               ' WHERE "commandType" = %s ORDER BY "createdAt"' % q(ctype))

    def audits(self, action):
        return self.stack.psql('SELECT "actorId", "actorRole", "targetType", coalesce("targetId", \'\'),'
                               ' "details"::text FROM "AdminAuditLog" WHERE "action" = %s ORDER BY "createdAt"'
                               % q(action))

    def event(self, name, payload, block):
        self.stack.psql('INSERT INTO "EventLog" ("tenantId", "fabricTxId", "blockNumber", "channel", "chaincode",'
                        ' "eventName", "eventVersion", "payload", "txTimestamp", "eventIndex") VALUES (\'default\', %s,'
                        ' %d, \'gxchannel\', \'gxtv3\', %s, \'1\', %s::jsonb, now(), 0)'
                        % (q(uuid.uuid4().hex), block, q(name), q(json.dumps(payload))))

    def profile(self, pid, role="USER", onchain=True, nationality="IN"):
        seed_profile(self.stack, pid, "u-" + pid[:20], status=None, onchain=onchain, nationality=nationality,
                     first="A", last="B", role=role, bio=uuid.uuid4().hex * 2)

    def assert_error(self, r, status, code, field=None):
        self.assertEqual(r.status, status, r.text)
        self.assertEqual(r.json()["code"], code, r.text)
        if field:
            self.assertIn(field, [d["field"] for d in r.json().get("details", [])], r.text)

    def countries_body(self, n=234):
        """n seeded countries with fractions (8 decimals, as numbers) summing to exactly 1, like countries-init."""
        codes = self.codes[:n]
        share = [1] * n
        units = 10 ** 8
        base = units // n
        entries = []
        for i, c in enumerate(codes):
            v = base + (units - base * n if i == 0 else 0)
            entries.append({"code": c, "name": "Country " + c, "percentage": v / units})
            share[i] = v
        self.assertEqual(sum(share), units)
        return {"countriesData": entries}

    # --- auth -------------------------------------------------------------------------------------------------
    def test_roles(self):
        writes = ["/api/v1/bootstrap", "/api/v1/system/pause", "/api/v1/system/resume", "/api/v1/countries/initialize",
                  "/api/v1/parameters", "/api/v1/admins"]
        for path in writes:
            self.assert_error(self.call("POST", path, body={}), 401, "UNAUTHORIZED")
            self.assert_error(self.call("POST", path, body={}, headers=self.user()), 403, "FORBIDDEN")
            self.assert_error(self.call("POST", path, body={}, headers=self.admin()), 403, "FORBIDDEN")
        for path, tmpl in [("/api/v1/treasury/activate", None), ("/api/v1/admin/commands/requeue", None),
                           ("/api/v1/admin/commands/x/requeue", "/api/v1/admin/commands/{commandId}/requeue")]:
            self.assert_error(self.call("POST", path, tmpl, body={}), 401, "UNAUTHORIZED")
            self.assert_error(self.call("POST", path, tmpl, body={}, headers=self.user()), 403, "FORBIDDEN")
        for path, tmpl in [("/api/v1/counters", None), ("/api/v1/admin/commands", None),
                           ("/api/v1/admin/commands/x", "/api/v1/admin/commands/{commandId}")]:
            self.assert_error(self.call("GET", path, tmpl), 401, "UNAUTHORIZED")
            self.assert_error(self.call("GET", path, tmpl, headers=self.user()), 403, "FORBIDDEN")
            self.assertNotIn(self.call("GET", path, tmpl, headers=self.admin()).status, (401, 403))
        for path in ["/api/v1/system/status", "/api/v1/countries", "/api/v1/parameters"]:
            self.call("GET", path, status=200)
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "OutboxCommand"'), [("0",)])

    # --- bootstrap ----------------------------------------------------------------------------------------------
    def test_bootstrap_once_and_idempotent(self):
        key = str(uuid.uuid4())
        r1 = self.call("POST", "/api/v1/bootstrap", headers=self.super_(key), status=202)
        body = r1.json()
        self.assertEqual(body["status"], "ACCEPTED")
        r2 = self.call("POST", "/api/v1/bootstrap", headers=self.super_(key), status=202)
        self.assertEqual(r2.body, r1.body)
        self.assertEqual(r2.headers.get("Idempotent-Replayed"), "true")
        rows = self.commands("BOOTSTRAP_SYSTEM")
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][0], body["commandId"])
        self.assertEqual(rows[0][3], "system")
        self.assertEqual({k: v for k, v in json.loads(rows[0][1]).items() if k != "_meta"}, {})
        self.assertEqual(self.audits("SYSTEM_BOOTSTRAP"), [(SUPER, "SUPER_ADMIN", "SYSTEM", "", "{}")])
        # a second bootstrap (new key) is refused while the first is pending ...
        self.assert_error(self.call("POST", "/api/v1/bootstrap", headers=self.super_()), 409,
                          "SYSTEM_ALREADY_BOOTSTRAPPED")
        # ... allowed again once it FAILED ...
        self.stack.psql('UPDATE "OutboxCommand" SET "status" = \'FAILED\'')
        self.call("POST", "/api/v1/bootstrap", headers=self.super_(), status=202)
        # ... and refused when the read model says bootstrapped even without a command
        self.stack.psql('DELETE FROM "OutboxCommand"')
        self.event("SystemBootstrapped", {"totalSupply": "1"}, 1)
        self.assert_error(self.call("POST", "/api/v1/bootstrap", headers=self.super_()), 409,
                          "SYSTEM_ALREADY_BOOTSTRAPPED")
        st = self.call("GET", "/api/v1/system/status", status=200).json()
        self.assertTrue(st["isBootstrapped"])
        self.assertIsNotNone(st["bootstrappedAt"])

    # --- pause / resume / status ------------------------------------------------------------------------------
    def test_pause_resume(self):
        self.assert_error(self.call("POST", "/api/v1/system/pause", body={}, headers=self.super_()), 400,
                          "VALIDATION_FAILED", "reason")
        self.assert_error(self.call("POST", "/api/v1/system/pause", body={"reason": "short"}, headers=self.super_()),
                          400, "VALIDATION_FAILED", "reason")
        self.assert_error(self.call("POST", "/api/v1/system/resume", headers=self.super_()), 409, "SYSTEM_NOT_PAUSED")
        st = self.call("GET", "/api/v1/system/status", status=200).json()
        self.assertEqual((st["isPaused"], st["pauseReason"], st["lastUpdated"], st["pendingChange"]),
                         (False, None, None, None))
        reason = "scheduled maintenance window"
        r = self.call("POST", "/api/v1/system/pause", body={"reason": reason}, headers=self.super_(), status=202)
        rows = self.commands("PAUSE_SYSTEM")
        self.assertEqual(rows[0][0], r.json()["commandId"])
        self.assertEqual(json.loads(rows[0][1])["reason"], reason)
        self.assertEqual(len(self.audits("SYSTEM_PAUSE")), 1)
        self.assert_error(self.call("POST", "/api/v1/system/pause", body={"reason": reason}, headers=self.super_()),
                          409, "SYSTEM_ALREADY_PAUSED")
        st = self.call("GET", "/api/v1/system/status", status=200).json()
        self.assertEqual((st["isPaused"], st["pendingChange"]), (False, "PAUSE_SYSTEM"))
        # the projector applied it: status from the event, no pending change
        self.stack.psql('UPDATE "OutboxCommand" SET "status" = \'PROJECTED\'')
        self.event("SystemPaused", {"reason": reason, "pausedAtMs": 1}, 5)
        st = self.call("GET", "/api/v1/system/status", status=200).json()
        self.assertEqual((st["isPaused"], st["pauseReason"], st["pendingChange"]), (True, reason, None))
        self.assertIsNotNone(st["lastUpdated"])
        self.assert_error(self.call("POST", "/api/v1/system/pause", body={"reason": reason}, headers=self.super_()),
                          409, "SYSTEM_ALREADY_PAUSED")
        self.call("POST", "/api/v1/system/resume", headers=self.super_(), status=202)
        self.assert_error(self.call("POST", "/api/v1/system/resume", headers=self.super_()), 409, "SYSTEM_NOT_PAUSED")
        self.assertEqual(len(self.commands("RESUME_SYSTEM")), 1)
        self.stack.psql('UPDATE "OutboxCommand" SET "status" = \'PROJECTED\'')
        self.event("SystemResumed", {"resumedAtMs": 2}, 6)
        st = self.call("GET", "/api/v1/system/status", status=200).json()
        self.assertEqual((st["isPaused"], st["pauseReason"]), (False, None))

    # --- countries ----------------------------------------------------------------------------------------------
    def test_countries_initialize(self):
        body = self.countries_body()
        self.assert_error(self.call("POST", "/api/v1/countries/initialize", body=body, headers=self.super_()), 409,
                          "SYSTEM_NOT_BOOTSTRAPPED")
        self.event("SystemBootstrapped", {"totalSupply": "1"}, 1)
        bad = [({"countriesData": []}, "countriesData"),
               ({"countriesData": "IN"}, "countriesData"),
               ({"countriesData": [{"code": "ZZ", "percentage": 1}]}, "countriesData[0].code"),
               ({"countriesData": [{"code": "in", "percentage": 1}]}, "countriesData[0].code"),
               ({"countriesData": [{"code": "IN", "percentage": 0.5}, {"countryCode": "IN", "percentage": 0.5}]},
                "countriesData[1].code"),
               ({"countriesData": [{"code": "IN", "percentage": 0.5}, {"code": "CN", "percentage": 0.4}]},
                "countriesData"),
               ({"countriesData": [{"code": "IN", "percentage": "0.1234567891"}]}, "countriesData[0].percentage"),
               ({"countriesData": [{"code": "IN", "percentage": 1.5}]}, "countriesData[0].percentage"),
               ({"countriesData": [{"code": "IN", "percentage": "1", "name": ""}]}, "countriesData[0].name")]
        for b, field in bad:
            self.assert_error(self.call("POST", "/api/v1/countries/initialize", body=b, headers=self.super_()), 400,
                              "VALIDATION_FAILED", field)
        # XK is a valid shape but no ISO 3166-1 row: unknown
        if "XK" not in self.codes:
            self.assert_error(self.call("POST", "/api/v1/countries/initialize", headers=self.super_(),
                                        body={"countriesData": [{"code": "XK", "percentage": "1"}]}),
                              400, "VALIDATION_FAILED", "countriesData[0].code")
        self.assertEqual(self.commands("INITIALIZE_COUNTRY_DATA"), [])
        # within tolerance (1.00005) is accepted; strings are exact
        small = {"countriesData": [{"code": "IN", "percentage": "0.60005"}, {"countryCode": "CN", "percentage": 0.4}]}
        key = str(uuid.uuid4())
        r = self.call("POST", "/api/v1/countries/initialize", body=small, headers=self.super_(key), status=202)
        again = self.call("POST", "/api/v1/countries/initialize", body=small, headers=self.super_(key), status=202)
        self.assertEqual(again.body, r.body)
        rows = self.commands("INITIALIZE_COUNTRY_DATA")
        self.assertEqual(len(rows), 1)
        self.assertEqual(json.loads(rows[0][1])["countriesData"],
                         [{"countryCode": "IN", "percentage": "0.600050000"},
                          {"countryCode": "CN", "percentage": "0.400000000"}])
        self.assertEqual(len(self.audits("COUNTRIES_INITIALIZE")), 1)
        self.assert_error(self.call("POST", "/api/v1/countries/initialize", body=body, headers=self.super_()), 409,
                          "COUNTRIES_ALREADY_INITIALIZED")
        # the full 234-entry shape goes through once the first attempt FAILED
        self.stack.psql('UPDATE "OutboxCommand" SET "status" = \'FAILED\'')
        self.call("POST", "/api/v1/countries/initialize", body=body, headers=self.super_(), status=202)
        rows = self.commands("INITIALIZE_COUNTRY_DATA")
        data = json.loads(rows[-1][1])["countriesData"]
        self.assertEqual(len(data), 234)
        self.assertEqual(sum(int(e["percentage"].replace(".", "")) for e in data), 10 ** 9)
        # tolerance: 0.0001 either side
        over = {"countriesData": [{"code": "IN", "percentage": "0.600101"}, {"code": "CN", "percentage": "0.4"}]}
        self.stack.psql('DELETE FROM "OutboxCommand"')
        self.assert_error(self.call("POST", "/api/v1/countries/initialize", body=over, headers=self.super_()), 400,
                          "VALIDATION_FAILED", "countriesData")

    def test_countries_reads(self):
        r = self.call("GET", "/api/v1/countries", status=200).json()
        self.assertEqual(r["total"], len(self.codes))
        self.assertEqual([c["code"] for c in r["countries"]], self.codes)
        r = self.call("GET", "/api/v1/countries?limit=2&offset=1", status=200).json()
        self.assertEqual(([c["code"] for c in r["countries"]], r["limit"], r["offset"]), (self.codes[1:3], 2, 1))
        self.assert_error(self.call("GET", "/api/v1/countries?limit=0"), 400, "VALIDATION_FAILED", "limit")
        # stats from seeded read models: 2 users of IN with wallets, 1 of CN, and the IN treasury
        a, b, c = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
        self.profile(a)
        self.profile(b)
        self.profile(c, nationality="CN")
        for pid, bal in ((a, 150000), (b, 1), (c, 999)):
            seed_wallet(self.stack, pid, "u-" + pid[:20], bal)
        self.stack.psql('INSERT INTO "TreasuryAccount" ("accountId", "tenantId", "countryCode", "status",'
                        ' "balanceQirat") VALUES (\'treasury_IN\', \'default\', \'IN\', \'INACTIVE\', 12345678)')
        self.stack.psql('UPDATE "Country" SET "allocationPercentage" = 0.13464767, "initializedAt" = now()'
                        ' WHERE "countryCode" = \'IN\'')
        s = self.call("GET", "/api/v1/countries/IN/stats", "/api/v1/countries/{countryCode}/stats", status=200).json()
        self.assertEqual((s["userCount"], s["walletBalance"], s["walletBalanceQirat"]), (2, "1.50001", "150001"))
        self.assertEqual(s["treasury"]["balanceQirat"], "12345678")
        self.assertEqual(s["treasury"]["status"], "INACTIVE")
        self.assertEqual(s["totalSupplyQirat"], str(150001 + 12345678))
        self.assertEqual(s["allocationPercentage"], "0.1346476700")
        s = self.call("GET", "/api/v1/countries/US/stats", "/api/v1/countries/{countryCode}/stats", status=200).json()
        self.assertEqual((s["userCount"], s["treasury"], s["totalSupplyQirat"]), (0, None, "0"))
        r = self.call("GET", "/api/v1/countries?limit=300", status=200).json()
        self.assertEqual([x["treasuryStatus"] for x in r["countries"] if x["code"] == "IN"], ["INACTIVE"])
        self.assert_error(self.call("GET", "/api/v1/countries/XQ/stats", "/api/v1/countries/{countryCode}/stats"),
                          404, "COUNTRY_NOT_FOUND")
        self.assert_error(self.call("GET", "/api/v1/countries/usa/stats", "/api/v1/countries/{countryCode}/stats"),
                          404, "COUNTRY_NOT_FOUND")
        # counters see the same rows
        cnt = self.call("GET", "/api/v1/counters", headers=self.admin(), status=200).json()
        self.assertEqual((cnt["totalUsers"], cnt["totalWallets"], cnt["totalSupplyQirat"]),
                         (3, 3, str(150000 + 1 + 999 + 12345678)))
        self.assertEqual(cnt["commands"]["FAILED"], 0)

    def test_treasury_activate(self):
        path = "/api/v1/treasury/activate"
        self.assert_error(self.call("POST", path, body={"countryCode": "India"}, headers=self.admin()), 400,
                          "VALIDATION_FAILED", "countryCode")
        self.assert_error(self.call("POST", path, body={"countryCode": "XQ"}, headers=self.admin()), 404,
                          "COUNTRY_NOT_FOUND")
        self.assert_error(self.call("POST", path, body={"countryCode": "IN"}, headers=self.admin()), 409,
                          "COUNTRY_NOT_INITIALIZED")
        self.stack.psql('INSERT INTO "TreasuryAccount" ("accountId", "tenantId", "countryCode", "status",'
                        ' "balanceQirat") VALUES (\'treasury_IN\', \'default\', \'IN\', \'INACTIVE\', 5)')
        r = self.call("POST", path, body={"countryCode": "IN"}, headers=self.admin(), status=202)
        rows = self.commands("ACTIVATE_TREASURY")
        self.assertEqual((rows[0][0], json.loads(rows[0][1])["countryCode"]), (r.json()["commandId"], "IN"))
        self.assertEqual(self.audits("TREASURY_ACTIVATE")[0][:4], (ADMIN, "ADMIN", "COUNTRY", "IN"))
        self.assert_error(self.call("POST", path, body={"countryCode": "IN"}, headers=self.admin()), 409,
                          "TREASURY_ALREADY_ACTIVE")
        self.stack.psql('DELETE FROM "OutboxCommand"; UPDATE "TreasuryAccount" SET "status" = \'ACTIVE\'')
        self.assert_error(self.call("POST", path, body={"countryCode": "IN"}, headers=self.admin()), 409,
                          "TREASURY_ALREADY_ACTIVE")

    # --- parameters -----------------------------------------------------------------------------------------
    def test_parameters(self):
        lst = self.call("GET", "/api/v1/parameters?limit=100", status=200).json()
        keys = [p["paramId"] for p in lst["items"]]
        self.assertEqual(lst["total"], len(keys))
        self.assertIn("transactionFeeBps", keys)
        self.assertEqual(keys, sorted(keys))
        one = self.call("GET", "/api/v1/parameters/transactionFeeBps", "/api/v1/parameters/{paramId}",
                        status=200).json()
        self.assertEqual(one["value"], "10")
        self.assert_error(self.call("GET", "/api/v1/parameters/noSuchThing", "/api/v1/parameters/{paramId}"), 404,
                          "PARAMETER_NOT_FOUND")
        bad = [({"paramKey": "noSuchThing", "paramValue": "1"}, "paramKey"),
               ({"paramKey": "transactionFeeBps", "paramValue": "10001"}, "paramValue"),
               ({"paramKey": "transactionFeeBps", "paramValue": "010"}, "paramValue"),
               ({"paramKey": "transactionFeeBps", "paramValue": "-1"}, "paramValue"),
               ({"paramKey": "transactionFeeBps", "paramValue": 1.5}, "paramValue"),
               ({"paramKey": "orgDefaultThreshold", "paramValue": "0"}, "paramValue"),
               ({"paramValue": "1"}, "paramKey"),
               ({"paramKey": "transactionFeeBps"}, "paramValue")]
        for b, field in bad:
            self.assert_error(self.call("POST", "/api/v1/parameters", body=b, headers=self.super_()), 400,
                              "VALIDATION_FAILED", field)
        self.call("POST", "/api/v1/parameters", body={"paramKey": "transactionFeeBps", "paramValue": "25"},
                  headers=self.super_(), status=202)
        self.call("POST", "/api/v1/parameters", body={"paramId": "governanceQuorumPercentage", "newValue": 20},
                  headers=self.super_(), status=202)
        rows = [json.loads(r[1]) for r in self.commands("UPDATE_SYSTEM_PARAMETER")]
        self.assertEqual([(p["paramKey"], p["paramValue"]) for p in rows],
                         [("transactionFeeBps", "25"), ("governanceQuorumPercentage", "20")])
        self.assertEqual([a[3] for a in self.audits("PARAMETER_UPDATE")],
                         ["transactionFeeBps", "governanceQuorumPercentage"])

    # --- admins -------------------------------------------------------------------------------------------------
    def test_appoint_admin(self):
        self.assert_error(self.call("POST", "/api/v1/admins", body={}, headers=self.super_()), 400,
                          "VALIDATION_FAILED", "userId")
        self.assert_error(self.call("POST", "/api/v1/admins", body={"userId": "a/b"}, headers=self.super_()), 400,
                          "VALIDATION_FAILED", "userId")
        self.assert_error(self.call("POST", "/api/v1/admins", body={"userId": str(uuid.uuid4())},
                                    headers=self.super_()), 404, "USER_NOT_FOUND")
        u, off, adm = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
        self.profile(u)
        self.profile(off, onchain=False)
        self.profile(adm, role="ADMIN")
        self.assert_error(self.call("POST", "/api/v1/admins", body={"userId": off}, headers=self.super_()), 409,
                          "USER_NOT_ON_CHAIN")
        self.assert_error(self.call("POST", "/api/v1/admins", body={"newAdminId": adm}, headers=self.super_()), 409,
                          "ALREADY_ADMIN")
        # rank: a SUPER_ADMIN appoints neither themselves nor another SUPER_ADMIN (a demotion)
        sa2 = str(uuid.uuid4())
        self.profile(sa2, role="SUPER_ADMIN")
        self.profile(SUPER, role="SUPER_ADMIN")
        self.assert_error(self.call("POST", "/api/v1/admins", body={"userId": sa2}, headers=self.super_()), 403,
                          "RANK_TOO_LOW")
        self.assert_error(self.call("POST", "/api/v1/admins", body={"userId": SUPER}, headers=self.super_()), 403,
                          "SELF_ACTION")
        self.assertEqual(self.commands("APPOINT_ADMIN"), [])
        self.call("POST", "/api/v1/admins", body={"newAdminId": u}, headers=self.super_(), status=202)
        rows = self.commands("APPOINT_ADMIN")
        self.assertEqual(json.loads(rows[0][1])["userId"], "u-" + u[:20])
        self.assertEqual(self.audits("ADMIN_APPOINT")[0][2:4], ("USER", u))
        self.assert_error(self.call("POST", "/api/v1/admins", body={"userId": u}, headers=self.super_()), 409,
                          "ALREADY_ADMIN")

    # --- outbox operations ------------------------------------------------------------------------------------
    def seed_command(self, ctype, status, error_code=None, age_s=0, tx="tx-old"):
        cid = str(uuid.uuid4())
        self.stack.psql('INSERT INTO "OutboxCommand" ("id", "tenantId", "service", "commandType", "requestId",'
                        ' "payload", "status", "attempts", "errorCode", "error", "fabricTxId", "createdAt",'
                        ' "aggregateId") VALUES (%s, \'default\', \'svc-test\', %s, %s, %s, %s, 3, %s, %s,'
                        ' %s, now() - %d * interval \'1 second\', \'system\')'
                        % (q(cid), q(ctype), q(cid), q('{"x":1,"_submission":{"txId":"tx-old"}}'), q(status),
                           q(error_code),
                           q("system is paused: test" if error_code else None), q(tx), age_s))
        return cid

    def test_commands_list_show(self):
        f1 = self.seed_command("TRANSFER_TOKENS", "FAILED", "CHAINCODE_423", age_s=3600)
        f2 = self.seed_command("TRANSFER_TOKENS", "FAILED", "CHAINCODE_409", age_s=60)
        p1 = self.seed_command("PAUSE_SYSTEM", "PENDING")
        r = self.call("GET", "/api/v1/admin/commands", headers=self.admin(), status=200).json()
        self.assertEqual([i["commandId"] for i in r["items"]], [p1, f2, f1])
        # business refusals and commands that are not FAILED are not re-queueable; a transport failure is
        self.assertEqual([i["requeueable"] for i in r["items"]], [False, False, False])
        t1 = self.seed_command("TRANSFER_TOKENS", "FAILED", "FABRIC_DEADLINE_EXCEEDED", age_s=7200)
        r = self.call("GET", "/api/v1/admin/commands?status=FAILED", headers=self.admin(), status=200).json()
        self.assertEqual({i["commandId"]: i["requeueable"] for i in r["items"]}, {f2: False, f1: False, t1: True})
        self.assertTrue(self.call("GET", "/api/v1/admin/commands/" + t1, "/api/v1/admin/commands/{commandId}",
                                  headers=self.admin(), status=200).json()["requeueable"])
        self.stack.psql('DELETE FROM "OutboxCommand" WHERE "id" = %s' % q(t1))
        self.assertEqual((r["total"], r["limit"], r["offset"]), (3, 20, 0))
        r = self.call("GET", "/api/v1/admin/commands?status=FAILED&limit=1", headers=self.admin(), status=200).json()
        self.assertEqual(([i["commandId"] for i in r["items"]], r["total"]), ([f2], 2))
        r = self.call("GET", "/api/v1/admin/commands?status=FAILED&olderThanSeconds=600", headers=self.admin(),
                      status=200).json()
        self.assertEqual([i["commandId"] for i in r["items"]], [f1])
        r = self.call("GET", "/api/v1/admin/commands?type=PAUSE_SYSTEM", headers=self.admin(), status=200).json()
        self.assertEqual([i["commandId"] for i in r["items"]], [p1])
        r = self.call("GET", "/api/v1/admin/commands?errorCode=CHAINCODE_409&newerThanSeconds=600",
                      headers=self.admin(), status=200).json()
        self.assertEqual([i["commandId"] for i in r["items"]], [f2])
        for qs, field in (("status=BROKEN", "status"), ("type=a;b", "type"), ("olderThanSeconds=-1", "olderThanSeconds"),
                          ("limit=101", "limit")):
            self.assert_error(self.call("GET", "/api/v1/admin/commands?" + qs, "/api/v1/admin/commands",
                                        headers=self.admin()), 400, "VALIDATION_FAILED", field)
        d = self.call("GET", "/api/v1/admin/commands/" + f1, "/api/v1/admin/commands/{commandId}",
                      headers=self.admin(), status=200).json()
        self.assertEqual((d["status"], d["errorCode"], d["payload"]["x"], d["fabricTxId"], d["audit"],
                          d["requeueable"]), ("FAILED", "CHAINCODE_423", 1, "tx-old", [], False))
        self.assert_error(self.call("GET", "/api/v1/admin/commands/" + str(uuid.uuid4()),
                                    "/api/v1/admin/commands/{commandId}", headers=self.admin()), 404,
                          "COMMAND_NOT_FOUND")
        cnt = self.call("GET", "/api/v1/counters", headers=self.admin(), status=200).json()
        self.assertEqual((cnt["commands"]["FAILED"], cnt["commands"]["PENDING"], cnt["commands"]["PROJECTED"]),
                         (2, 1, 0))

    def test_requeue_one(self):
        f1 = self.seed_command("TRANSFER_TOKENS", "FAILED", "FABRIC_UNAVAILABLE")
        p1 = self.seed_command("TRANSFER_TOKENS", "PENDING")
        tmpl = "/api/v1/admin/commands/{commandId}/requeue"
        key = str(uuid.uuid4())
        r = self.call("POST", "/api/v1/admin/commands/%s/requeue" % f1, tmpl, headers=self.admin(key), status=200)
        self.assertEqual(r.json(), {"commandId": f1, "status": "PENDING", "previousStatus": "FAILED", "attempts": 0})
        row = self.stack.psql('SELECT "status", "attempts", coalesce("errorCode", \'-\'), coalesce("error", \'-\'),'
                              ' coalesce("fabricTxId", \'-\'), "nextAttemptAt" <= now() FROM "OutboxCommand"'
                              ' WHERE "id" = %s' % q(f1))
        self.assertEqual(row, [("PENDING", "0", "-", "-", "tx-old", "t")])
        # the tx id and the stored signed proposal stay: the submitter re-sends the same transaction, so an earlier
        # copy that reached the orderer takes effect once
        self.assertEqual(self.stack.psql('SELECT "payload"->\'_submission\'->>\'txId\', "payload"->>\'x\''
                                         ' FROM "OutboxCommand" WHERE "id" = %s' % q(f1)), [("tx-old", "1")])
        audit = self.audits("COMMAND_REQUEUE")
        self.assertEqual(audit[0][:4], (ADMIN, "ADMIN", "COMMAND", f1))
        self.assertEqual(json.loads(audit[0][4])["previousErrorCode"], "FABRIC_UNAVAILABLE")
        self.assertNotIn("batchFilter", json.loads(audit[0][4]))
        # the same key replays the stored answer without a second audit row
        again = self.call("POST", "/api/v1/admin/commands/%s/requeue" % f1, tmpl, headers=self.admin(key), status=200)
        self.assertEqual(again.body, r.body)
        self.assertEqual(len(self.audits("COMMAND_REQUEUE")), 1)
        # without the key: it is PENDING now
        self.assert_error(self.call("POST", "/api/v1/admin/commands/%s/requeue" % f1, tmpl, headers=self.admin()),
                          409, "COMMAND_NOT_FAILED")
        self.assert_error(self.call("POST", "/api/v1/admin/commands/%s/requeue" % p1, tmpl, headers=self.admin()),
                          409, "COMMAND_NOT_FAILED")
        self.assert_error(self.call("POST", "/api/v1/admin/commands/%s/requeue" % uuid.uuid4(), tmpl,
                                    headers=self.admin()), 404, "COMMAND_NOT_FOUND")
        d = self.call("GET", "/api/v1/admin/commands/" + f1, "/api/v1/admin/commands/{commandId}",
                      headers=self.admin(), status=200).json()
        self.assertEqual([a["action"] for a in d["audit"]], ["COMMAND_REQUEUE"])

    def test_requeue_refuses_final_failures(self):
        tmpl = "/api/v1/admin/commands/{commandId}/requeue"
        for code in ("CHAINCODE_409", "CHAINCODE_423", "CHAINCODE_400", "CHAINCODE_403", "CHAINCODE_404",
                     "MAPPING_ERROR", "FABRIC_PERMISSION_DENIED", "FABRIC_INVALID_ARGUMENT",
                     "TX_ENDORSEMENT_POLICY_FAILURE", "SOMETHING_NEW", None):
            cid = self.seed_command("TRANSFER_TOKENS", "FAILED", code)
            r = self.call("POST", "/api/v1/admin/commands/%s/requeue" % cid, tmpl, headers=self.admin())
            self.assert_error(r, 409, "NOT_REQUEUEABLE")
            self.assertIn(code or "no error code", r.json()["message"])
            if code and code.startswith("CHAINCODE_"):
                self.assertIn("business refusal", r.json()["message"])
            self.assertEqual(self.stack.psql('SELECT "status", coalesce("errorCode", \'-\'), "fabricTxId"'
                                             ' FROM "OutboxCommand" WHERE "id" = %s' % q(cid)),
                             [("FAILED", code or "-", "tx-old")])
        self.assertEqual(self.audits("COMMAND_REQUEUE"), [])
        # every retryable failure is re-queued
        for code in ("FABRIC_UNAVAILABLE", "FABRIC_DEADLINE_EXCEEDED", "FABRIC_RESOURCE_EXHAUSTED", "FABRIC_CANCELLED",
                     "FABRIC_INTERNAL", "FABRIC_UNKNOWN", "FABRIC_ABORTED", "FABRIC_PROTOCOL", "FABRIC_LOCAL",
                     "TX_MVCC_READ_CONFLICT", "TX_PHANTOM_READ_CONFLICT"):
            cid = self.seed_command("TRANSFER_TOKENS", "FAILED", code)
            self.call("POST", "/api/v1/admin/commands/%s/requeue" % cid, tmpl, headers=self.admin(), status=200)
        self.assertEqual(len(self.audits("COMMAND_REQUEUE")), 11)

    def test_requeue_batch(self):
        old = [self.seed_command("TRANSFER_TOKENS", "FAILED", "FABRIC_DEADLINE_EXCEEDED", age_s=100 + 100 * i)
               for i in range(3)]
        other = self.seed_command("TRANSFER_TOKENS", "FAILED", "TX_MVCC_READ_CONFLICT", age_s=50)
        new = self.seed_command("PAUSE_SYSTEM", "FAILED", "FABRIC_DEADLINE_EXCEEDED", age_s=1)
        refused = self.seed_command("TRANSFER_TOKENS", "FAILED", "CHAINCODE_409", age_s=1000)
        paused = self.seed_command("TRANSFER_TOKENS", "FAILED", "CHAINCODE_423", age_s=40)
        path = "/api/v1/admin/commands/requeue"
        for b, field in (({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"commandType": "x y"}, "commandType"),
                         ({"olderThanSeconds": "10"}, "olderThanSeconds")):
            self.assert_error(self.call("POST", path, body=b, headers=self.admin()), 400, "VALIDATION_FAILED", field)
        r = self.call("POST", path, body={"errorCode": "FABRIC_DEADLINE_EXCEEDED", "olderThanSeconds": 30, "limit": 2},
                      headers=self.admin(), status=200).json()
        # oldest first, at most 2
        self.assertEqual(r, {"requeued": 2, "commandIds": [old[2], old[1]], "skipped": []})
        r = self.call("POST", path, body={"commandType": "TRANSFER_TOKENS", "errorCode": "FABRIC_DEADLINE_EXCEEDED"},
                      headers=self.admin(), status=200).json()
        self.assertEqual(r, {"requeued": 1, "commandIds": [old[0]], "skipped": []})
        # a filter naming a business refusal re-queues nothing and says why
        r = self.call("POST", path, body={"errorCode": "CHAINCODE_409"}, headers=self.admin(), status=200).json()
        self.assertEqual((r["requeued"], r["commandIds"]), (0, []))
        self.assertEqual([(x["commandId"], x["errorCode"]) for x in r["skipped"]], [(refused, "CHAINCODE_409")])
        self.assertIn("business refusal", r["skipped"][0]["reason"])
        audit = self.audits("COMMAND_REQUEUE")
        self.assertEqual(sorted(a[3] for a in audit), sorted(old))
        self.assertEqual(json.loads(audit[0][4])["batchFilter"]["errorCode"], "FABRIC_DEADLINE_EXCEEDED")
        # no filter: the re-queueable ones go, the refusals stay FAILED and are listed, oldest first
        r = self.call("POST", path, body={}, headers=self.admin(), status=200).json()
        self.assertEqual(r["commandIds"], [other, new])
        self.assertEqual([(x["commandId"], x["errorCode"]) for x in r["skipped"]],
                         [(refused, "CHAINCODE_409"), (paused, "CHAINCODE_423")])
        left = self.stack.psql('SELECT "id" FROM "OutboxCommand" WHERE "status" = \'FAILED\'')
        self.assertEqual(sorted(x[0] for x in left), sorted([refused, paused]))
        r = self.call("POST", path, body={"limit": 1}, headers=self.admin(), status=200).json()
        self.assertEqual((r["requeued"], r["commandIds"], [x["commandId"] for x in r["skipped"]]), (0, [], [refused]))
        self.assertEqual(len(self.audits("COMMAND_REQUEUE")), 5)

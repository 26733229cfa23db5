"""svc-admin as the original backend's clients see it (docs/compat.md, OP-09..OP-20 of the original's wire format):
each operation with the request body the original client sent, and the answer read key by key and JSON type by
JSON type as that client reads it (gxtest.compat), including the original's error answers (status and message).
Our own keys beside the original's are checked by test_admin.py; every response here is also validated against
the live /openapi.json."""

import json
import unittest
import uuid

import gxtest
from gxtest.compat import ACCEPTED, assert_original_error, assert_shape
from gxtest.services import ServiceTestCase
from gxtest.sql import q, seed_profile, seed_wallet
from test_admin import RESET_SQL

SUPER = str(uuid.uuid4())
ADMIN = str(uuid.uuid4())
USER = str(uuid.uuid4())

# The original's shapes (S4, S5) and the 202 texts of its seven writes.
PARAM_ROW = {"tenantId": "string", "paramKey": "string", "paramValue": "string", "updatedAt": "date"}
COUNTRY_ROW = {"countryCode": "string", "countryName": "string", "region": ("string", "null")}
ORIGINAL_202 = {
    "/api/v1/bootstrap": "System bootstrap initiated.",
    "/api/v1/countries/initialize": "Country data initialization initiated.",
    "/api/v1/parameters": "System parameter update initiated.",
    "/api/v1/system/pause": "System pause initiated.",
    "/api/v1/system/resume": "System resume initiated.",
    "/api/v1/admins": "Admin appointment initiated.",
    "/api/v1/treasury/activate": "Treasury activation initiated.",
}


class CompatAdminTest(ServiceTestCase):
    DAEMON = "svc-admin"

    def setUp(self):
        super().setUp()
        self.stack.psql(RESET_SQL)

    # --- helpers ----------------------------------------------------------------------------------------------
    def get(self, path, template=None, token=None, status=200):
        r = self.call("GET", path, token)
        self.check(r, status, "GET", template or path)
        return r

    def write(self, path, body=None, token=None):
        """The original client's write with a SUPER_ADMIN token (the only role its guards let through): 202 with
        the original's keys."""
        r = self.call("POST", path, token or gxtest.mint_token(SUPER, "SUPER_ADMIN"), body=body)
        b = self.check(r, 202, "POST", path)
        assert_shape(self, b, ACCEPTED)
        return b

    def event(self, name, payload, block):
        """What the projector keeps for a system event."""
        self.stack.psql('INSERT INTO "EventLog" ("tenantId", "fabricTxId", "blockNumber", "channel", "chaincode",'
                        ' "eventName", "eventVersion", "payload", "txTimestamp", "eventIndex") VALUES (\'default\', %s,'
                        ' %d, \'gxchannel\', \'gxtv3\', %s, \'1\', %s::jsonb, now(), 0)'
                        % (q(uuid.uuid4().hex), block, q(name), q(json.dumps(payload))))

    def projected(self):
        self.stack.psql('UPDATE "OutboxCommand" SET "status" = \'PROJECTED\'')

    def status_row(self):
        b = self.get("/api/v1/system/status").json()
        assert_shape(self, b, {"status": PARAM_ROW})
        self.assertEqual((b["status"]["tenantId"], b["status"]["paramKey"]), ("default", "SYSTEM_STATUS"))
        return b["status"]

    # --- OP-09, OP-12, OP-13, OP-16: bootstrap, pause, resume, status -----------------------------------------
    def test_op16_status_and_the_writes_that_change_it(self):
        # before anything happened the original had no row (500); we answer the state: ACTIVE
        self.assertEqual(self.status_row()["paramValue"], "ACTIVE")
        self.write("/api/v1/bootstrap", {})
        self.projected()
        self.event("SystemBootstrapped", {"totalSupply": "1"}, 1)
        self.assertEqual(self.status_row()["paramValue"], "ACTIVE")
        self.write("/api/v1/system/pause", {"reason": "scheduled maintenance window"})
        self.projected()
        self.event("SystemPaused", {"reason": "scheduled maintenance window", "pausedAtMs": 1}, 2)
        row = self.status_row()
        self.assertEqual(row["paramValue"], "PAUSED")
        self.write("/api/v1/system/resume")
        self.assertEqual(self.status_row()["paramValue"], "PAUSED")  # the projected state until the event
        self.projected()
        self.event("SystemResumed", {"resumedAtMs": 2}, 3)
        after = self.status_row()
        self.assertEqual(after["paramValue"], "ACTIVE")
        self.assertGreaterEqual(after["updatedAt"], row["updatedAt"])

    # --- OP-10, OP-19: countries -------------------------------------------------------------------------------
    def test_op19_countries(self):
        b = self.get("/api/v1/countries").json()
        assert_shape(self, b, {"countries": [COUNTRY_ROW]})
        codes = [c["countryCode"] for c in b["countries"]]
        self.assertEqual(codes, sorted(codes))  # every row, by countryCode
        n = self.stack.psql('SELECT count(*) FROM "Country"')[0][0]
        self.assertEqual(len(codes), int(n))
        db = dict(self.stack.psql('SELECT "countryCode", "countryName" FROM "Country"'))
        self.assertEqual({c["countryCode"]: c["countryName"] for c in b["countries"]}, db)

    def test_op10_countries_initialize(self):
        self.write("/api/v1/bootstrap", {})
        body = {"countriesData": [{"code": "MY", "name": "Malaysia", "percentage": 0.6},
                                  {"code": "IN", "name": "India", "percentage": 0.4}]}
        self.write("/api/v1/countries/initialize", body)
        rows = self.stack.psql('SELECT "payload"::text FROM "OutboxCommand"'
                               ' WHERE "commandType" = \'INITIALIZE_COUNTRY_DATA\'')
        self.assertEqual([(c["countryCode"], c["percentage"]) for c in json.loads(rows[0][0])["countriesData"]],
                         [("MY", "0.600000000"), ("IN", "0.400000000")])
        # the original client then lists the countries
        assert_shape(self, self.get("/api/v1/countries").json(), {"countries": [COUNTRY_ROW]})

    # --- OP-18: country stats ----------------------------------------------------------------------------------
    def test_op18_country_stats(self):
        t = "/api/v1/countries/{countryCode}/stats"
        b = self.get("/api/v1/countries/MY/stats", t).json()
        assert_shape(self, b, {"stats": COUNTRY_ROW})
        name, region = self.stack.psql('SELECT "countryName", coalesce("region", \'\') FROM "Country"'
                                       ' WHERE "countryCode" = \'MY\'')[0]
        self.assertEqual(b["stats"], {"countryCode": "MY", "countryName": name, "region": region or None})
        for code in ("XQ", "my", "MYS"):
            assert_original_error(self, self.get("/api/v1/countries/%s/stats" % code, t, status=404), 404,
                                  "Country stats not found", "COUNTRY_NOT_FOUND")

    # --- OP-15: treasury activation, read back through OP-18 ---------------------------------------------------
    def test_op15_treasury_activate(self):
        self.stack.psql('INSERT INTO "TreasuryAccount" ("accountId", "tenantId", "countryCode", "status",'
                        ' "balanceQirat") VALUES (\'treasury_MY\', \'default\', \'MY\', \'INACTIVE\', 0)')
        self.write("/api/v1/treasury/activate", {"countryCode": "MY"})
        rows = self.stack.psql('SELECT "payload"->>\'countryCode\' FROM "OutboxCommand"'
                               ' WHERE "commandType" = \'ACTIVATE_TREASURY\'')
        self.assertEqual(rows, [("MY",)])
        b = self.get("/api/v1/countries/MY/stats", "/api/v1/countries/{countryCode}/stats").json()
        assert_shape(self, b, {"stats": COUNTRY_ROW})

    # --- OP-11, OP-17: parameters ------------------------------------------------------------------------------
    def test_op11_op17_parameters(self):
        t = "/api/v1/parameters/{paramId}"
        b = self.get("/api/v1/parameters/transactionFeeBps", t).json()
        assert_shape(self, b, {"parameter": PARAM_ROW})
        self.assertEqual((b["parameter"]["tenantId"], b["parameter"]["paramKey"], b["parameter"]["paramValue"]),
                         ("default", "transactionFeeBps", "10"))
        # the original's body: paramId and newValue
        self.write("/api/v1/parameters", {"paramId": "transactionFeeBps", "newValue": "25"})
        rows = self.stack.psql('SELECT "payload"->>\'paramKey\', "payload"->>\'paramValue\' FROM "OutboxCommand"'
                               ' WHERE "commandType" = \'UPDATE_SYSTEM_PARAMETER\'')
        self.assertEqual(rows, [("transactionFeeBps", "25")])
        # the projector applied it: the raw row shows the new value
        self.stack.psql('UPDATE "SystemParameter" SET "paramValue" = \'25\', "updatedAt" = now()'
                        ' WHERE "paramKey" = \'transactionFeeBps\'')
        self.assertEqual(self.get("/api/v1/parameters/transactionFeeBps", t).json()["parameter"]["paramValue"], "25")
        for name in ("noSuchThing", "has%20space"):
            assert_original_error(self, self.get("/api/v1/parameters/" + name, t, status=404), 404,
                                  "System parameter not found", "PARAMETER_NOT_FOUND")

    # --- OP-14: admins -----------------------------------------------------------------------------------------
    def test_op14_admins(self):
        pid = str(uuid.uuid4())
        seed_profile(self.stack, pid, "u-" + pid[:20], status=None, onchain=True, first="A", last="B")
        self.write("/api/v1/admins", {"newAdminId": pid})
        rows = self.stack.psql('SELECT "payload"->>\'userId\' FROM "OutboxCommand"'
                               ' WHERE "commandType" = \'APPOINT_ADMIN\'')
        self.assertEqual(rows, [("u-" + pid[:20],)])
        # the admin list the original client reads afterwards counts users
        c = self.get("/api/v1/counters", token=gxtest.mint_token(ADMIN, "ADMIN")).json()["counters"]
        self.assertEqual(c["totalUsers"], 1)

    # --- OP-20: counters ---------------------------------------------------------------------------------------
    def test_op20_counters(self):
        pid = str(uuid.uuid4())
        seed_profile(self.stack, pid, status=None, first="A", last="B")
        seed_wallet(self.stack, pid, None, 150000)
        b = self.get("/api/v1/counters", token=gxtest.mint_token(ADMIN, "ADMIN")).json()
        assert_shape(self, b, {"counters": dict(PARAM_ROW, totalSupply="number", totalUsers="integer",
                                                 totalOrganizations="integer")})
        c = b["counters"]
        self.assertEqual((c["tenantId"], c["paramKey"]), ("default", "GLOBAL_COUNTERS"))
        self.assertEqual((c["totalSupply"], c["totalUsers"], c["totalOrganizations"]), (1.5, 1, 0))
        self.assertEqual(json.loads(c["paramValue"]), {"totalSupply": 1.5, "totalUsers": 1, "totalOrganizations": 0})
        # deviation: counters need an ADMIN token (the original's were public)
        assert_original_error(self, self.get("/api/v1/counters", status=401), 401)

    # --- auth of the writes ------------------------------------------------------------------------------------
    def test_writes_refuse_without_super_admin(self):
        user = gxtest.mint_token(USER, "USER")
        for path in ORIGINAL_202:
            assert_original_error(self, self.check_raw("POST", path, None, 401), 401)
            assert_original_error(self, self.check_raw("POST", path, user, 403), 403)
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "OutboxCommand"'), [("0",)])

    def check_raw(self, method, path, token, status):
        r = self.call(method, path, token, body={})
        self.check(r, status, method, path)
        return r

    def test_accepted_messages(self):
        self.stack.psql('INSERT INTO "TreasuryAccount" ("accountId", "tenantId", "countryCode", "status",'
                        ' "balanceQirat") VALUES (\'treasury_MY\', \'default\', \'MY\', \'INACTIVE\', 0)')
        pid = str(uuid.uuid4())
        seed_profile(self.stack, pid, "u-" + pid[:20], status=None, onchain=True, first="A", last="B")
        bodies = {"/api/v1/countries/initialize": {"countriesData": [{"code": "MY", "name": "Malaysia",
                                                                      "percentage": 1}]},
                  "/api/v1/parameters": {"paramId": "transactionFeeBps", "newValue": "25"},
                  "/api/v1/system/pause": {"reason": "scheduled maintenance window"},
                  "/api/v1/admins": {"newAdminId": pid},
                  "/api/v1/treasury/activate": {"countryCode": "MY"}}
        for path in ("/api/v1/bootstrap", "/api/v1/countries/initialize", "/api/v1/parameters",
                     "/api/v1/system/pause", "/api/v1/admins", "/api/v1/treasury/activate"):
            self.assertEqual(self.write(path, bodies.get(path, {}))["message"], ORIGINAL_202[path], path)
            if path == "/api/v1/system/pause":
                self.projected()
                self.event("SystemPaused", {"reason": "x", "pausedAtMs": 1}, 2)
        self.assertEqual(self.write("/api/v1/system/resume")["message"], ORIGINAL_202["/api/v1/system/resume"])


if __name__ == "__main__":
    unittest.main()

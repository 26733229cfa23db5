"""Partner API keys (issue 25, docs/partners.md): an ADMIN creates a scoped key in svc-admin (shown once, stored as
a hash), any API authenticates X-API-Key as PARTNER_API with exactly those scopes; bad, expired and revoked keys are
401, a scope miss 403 INSUFFICIENT_SCOPE; rotation with overlap; revocation on every replica within a second (Redis
marker, the database as truth, also while Redis is down); per-key rate limits; an audit row per use; gxctl
create/revoke for break-glass."""

import hashlib
import json
import re
import time
import uuid

import gxtest
from gxtest.services import NO_LIMITS, ServiceTestCase
from gxtest.sql import q, seed_user

KEYS = "/api/v1/partner-keys"
ROTATE = KEYS + "/{keyId}/rotate"
REVOKE = KEYS + "/{keyId}/revoke"
COUNTRIES = "/api/v1/countries"
PARAMETERS = "/api/v1/parameters"
KEY_RE = re.compile(r"^gxk_([0-9a-f]{32})_([0-9a-f]{64})$")
# a revocation must reach every replica within this (docs/partners.md "Revocation")
PROPAGATION_S = 1.0


def key_header(key):
    return {"X-API-Key": key}


class PartnerKeyBase(ServiceTestCase):
    DAEMON = "svc-admin"
    ENV = NO_LIMITS

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin_id = str(uuid.uuid4())
        cls.admin = gxtest.mint_token(cls.admin_id, role="ADMIN")
        # the second replica of the same service (another process, another port, the same database and Redis)
        cls.api2 = cls.stack.start_daemon("svc-admin", env=cls.ENV)

    def create(self, scopes=("countries.list",), status=201, **extra):
        body = dict({"name": "partner " + uuid.uuid4().hex[:6], "scopes": list(scopes)}, **extra)
        r = self.call("POST", KEYS, self.admin, body=body)
        j = self.check(r, status, "POST", KEYS)
        return j

    def use(self, key, path=COUNTRIES, api=None, method="GET", body=None):
        return self.call(method, path, headers=key_header(key), api=api, body=body)

    def refused(self, r, issue, status=401, code="UNAUTHORIZED"):
        self.assertEqual(r.status, status, r.text)
        j = r.json()
        self.assertEqual(j["code"], code, r.text)
        self.assertEqual(j["statusCode"], status)
        self.assertTrue(j["requestId"])
        self.assertEqual(j["details"][0]["issue"], issue, r.text)
        return j

    def until(self, fn, timeout, what):
        """Poll fn() until true; returns the seconds it took (fails after timeout)."""
        t0 = time.monotonic()
        while not fn():
            if time.monotonic() - t0 > timeout:
                self.fail("%s: not within %.1f s" % (what, timeout))
            time.sleep(0.02)
        return time.monotonic() - t0

    def audit(self, key_id):
        rows = self.stack.psql('SELECT "targetId", "details"::text FROM "AdminAuditLog" WHERE "actorId" = %s AND '
                               '"action" = \'PARTNER_KEY_USE\' ORDER BY "createdAt", "id"' % q(key_id))
        return [(t, json.loads(d)) for t, d in rows]


class PartnerKeyTest(PartnerKeyBase):

    def test_create_is_shown_once_and_stored_as_a_hash(self):
        j = self.create(scopes=["countries.list", "parameters.get"], rateLimitPerMinute=120, expiresInSeconds=3600)
        m = KEY_RE.match(j["apiKey"])
        self.assertIsNotNone(m, j)
        self.assertEqual(m.group(1), j["id"])
        self.assertEqual(j["scopes"], ["countries.list", "parameters.get"])
        self.assertEqual(j["rateLimitPerMinute"], 120)
        self.assertEqual(j["status"], "ACTIVE")
        self.assertEqual(j["createdBy"], self.admin_id)
        row = self.stack.psql('SELECT "secretHash", "scopes"::text, "expiresAt" > now() + interval \'3590 s\' '
                              'FROM "PartnerApiKey" WHERE "id" = %s' % q(j["id"]))
        self.assertEqual(row, [(hashlib.sha256(m.group(2).encode()).hexdigest(), "{countries.list,parameters.get}",
                                "t")])
        # the secret is nowhere in the database
        dump = self.stack.psql('SELECT row_to_json(k)::text FROM "PartnerApiKey" k') + \
            self.stack.psql('SELECT row_to_json(a)::text FROM "AdminAuditLog" a')
        self.assertNotIn(m.group(2), repr(dump))
        # the listing has no secret either
        lst = self.check(self.call("GET", KEYS + "?limit=200", self.admin), 200, "GET", KEYS)
        mine = [k for k in lst["keys"] if k["id"] == j["id"]]
        self.assertEqual(len(mine), 1)
        self.assertNotIn("apiKey", mine[0])
        self.assertNotIn(m.group(2), json.dumps(lst))
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "AdminAuditLog" WHERE "action" = '
                                         '\'PARTNER_KEY_CREATE\' AND "targetId" = %s AND "actorId" = %s'
                                         % (q(j["id"]), q(self.admin_id))), [("1",)])

    def test_use_scope_miss_and_audit(self):
        j = self.create(scopes=["countries.list"])
        r = self.use(j["apiKey"])
        self.check(r, 200, "GET", COUNTRIES)
        # a public route the key has no scope for: 403, although the route needs no credential at all
        e = self.refused(self.use(j["apiKey"], PARAMETERS), "parameters.list", 403, "INSUFFICIENT_SCOPE")
        self.refused(self.use(j["apiKey"], PARAMETERS, api=self.api2), "parameters.list", 403, "INSUFFICIENT_SCOPE")
        self.assertIn("parameters.list", e["message"])
        # an admin route is no partner operation at all
        self.refused(self.use(j["apiKey"], KEYS), "NOT_A_PARTNER_OPERATION", 403, "INSUFFICIENT_SCOPE")
        # each use leaves its row: key id, operation, outcome
        self.until(lambda: len(self.audit(j["id"])) == 4, 5, "four audit rows")
        rows = self.audit(j["id"])
        # written after each answer, from two replicas: compared as a set of rows, not in order
        self.assertEqual(sorted((t, d["outcome"], d["status"], d["method"]) for t, d in rows),
                         sorted([("countries.list", "ALLOWED", 200, "GET"),
                                 ("parameters.list", "INSUFFICIENT_SCOPE", 403, "GET"),
                                 ("parameters.list", "INSUFFICIENT_SCOPE", 403, "GET"),
                                 ("GET /api/v1/partner-keys", "INSUFFICIENT_SCOPE", 403, "GET")]))
        self.assertEqual(self.stack.psql('SELECT DISTINCT "actorRole" FROM "AdminAuditLog" WHERE "actorId" = %s'
                                         % q(j["id"])), [("PARTNER_API",)])

    def test_bad_keys_are_401(self):
        j = self.create()
        kid, secret = KEY_RE.match(j["apiKey"]).groups()
        self.refused(self.use("not-a-key"), "API_KEY_MALFORMED")
        self.refused(self.use(j["apiKey"].upper()), "API_KEY_MALFORMED")
        self.refused(self.use("gxk_%s_%s" % (uuid.uuid4().hex, secret)), "API_KEY_INVALID")
        wrong = "gxk_%s_%s" % (kid, hashlib.sha256(b"x").hexdigest())
        r = self.use(wrong)
        self.refused(r, "API_KEY_INVALID")
        self.assertIn("ApiKey", r.headers.get("WWW-Authenticate", ""))
        # a key and a token together are refused, whichever would have worked
        r = self.call("GET", COUNTRIES, self.admin, headers=key_header(j["apiKey"]))
        self.refused(r, "CREDENTIALS_CONFLICT")
        self.check(self.use(j["apiKey"]), 200, "GET", COUNTRIES)
        self.until(lambda: [d["outcome"] for _, d in self.audit(kid)].count("API_KEY_INVALID") == 1, 5,
                   "the wrong secret audited")

    def test_expiry(self):
        j = self.create(expiresInSeconds=2)
        self.check(self.use(j["apiKey"]), 200, "GET", COUNTRIES)
        time.sleep(2.2)
        self.refused(self.use(j["apiKey"]), "API_KEY_EXPIRED")
        self.refused(self.use(j["apiKey"], api=self.api2), "API_KEY_EXPIRED")
        lst = self.call("GET", KEYS + "?limit=200", self.admin).json()
        self.assertEqual([k["status"] for k in lst["keys"] if k["id"] == j["id"]], ["EXPIRED"])

    def test_rotation_overlap(self):
        old = self.create(scopes=["countries.list", "parameters.list"], rateLimitPerMinute=77)
        r = self.call("POST", ROTATE.format(keyId=old["id"]), self.admin, body={"overlapSeconds": 2})
        new = self.check(r, 201, "POST", ROTATE)
        self.assertNotEqual(new["id"], old["id"])
        self.assertNotEqual(new["apiKey"], old["apiKey"])
        self.assertEqual(new["rotatedFrom"], old["id"])
        self.assertEqual((new["name"], new["scopes"], new["rateLimitPerMinute"]),
                         (old["name"], old["scopes"], old["rateLimitPerMinute"]))
        self.assertEqual(new["previous"]["id"], old["id"])
        self.assertLess(new["previous"]["expiresAt"], old["expiresAt"])
        # during the overlap both keys work, on both replicas
        for api in (self.api, self.api2):
            for k in (old, new):
                self.check(self.use(k["apiKey"], PARAMETERS, api=api), 200, "GET", PARAMETERS)
        time.sleep(2.2)
        for api in (self.api, self.api2):
            self.refused(self.use(old["apiKey"], api=api), "API_KEY_EXPIRED")
            self.check(self.use(new["apiKey"], api=api), 200, "GET", COUNTRIES)
        # an expired or revoked key cannot be rotated; an unknown one is 404
        self.check(self.call("POST", ROTATE.format(keyId=old["id"]), self.admin, body={}), 409, "POST", ROTATE,
                   "PARTNER_KEY_INACTIVE")
        self.check(self.call("POST", ROTATE.format(keyId=uuid.uuid4().hex), self.admin, body={}), 404, "POST",
                   ROTATE, "PARTNER_KEY_NOT_FOUND")
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "AdminAuditLog" WHERE "action" = '
                                         '\'PARTNER_KEY_ROTATE\' AND "targetId" = %s' % q(new["id"])), [("1",)])

    def test_revocation_reaches_both_replicas_within_a_second(self):
        j = self.create()
        # warm every worker thread's cache of both replicas
        for _ in range(8):
            for api in (self.api, self.api2):
                self.check(self.use(j["apiKey"], api=api), 200, "GET", COUNTRIES)
        r = self.call("POST", REVOKE.format(keyId=j["id"]), self.admin, body={})
        k = self.check(r, 200, "POST", REVOKE)
        self.assertEqual(k["status"], "REVOKED")
        t0 = time.monotonic()
        for _ in range(8):
            for api in (self.api, self.api2):
                self.refused(self.use(j["apiKey"], api=api), "API_KEY_REVOKED")
        self.assertLess(time.monotonic() - t0, 5)
        # revoking again keeps the first time
        again = self.check(self.call("POST", REVOKE.format(keyId=j["id"]), self.admin, body={}), 200, "POST",
                           REVOKE)
        self.assertEqual(again["revokedAt"], k["revokedAt"])
        self.check(self.call("POST", REVOKE.format(keyId=uuid.uuid4().hex), self.admin, body={}), 404, "POST",
                   REVOKE, "PARTNER_KEY_NOT_FOUND")

    def test_revocation_without_the_marker_still_within_a_second(self):
        """The database is the truth: a revocation that never reached Redis (written straight into the table, as
        when Redis was down at the time) is refused by every replica within a second."""
        j = self.create()
        for _ in range(8):
            for api in (self.api, self.api2):
                self.check(self.use(j["apiKey"], api=api), 200, "GET", COUNTRIES)
        self.stack.psql('UPDATE "PartnerApiKey" SET "revokedAt" = now() WHERE "id" = %s' % q(j["id"]))
        t0 = time.monotonic()

        def refused_everywhere():
            return all(self.use(j["apiKey"], api=api).status == 401 for api in (self.api, self.api2) for _ in range(4))
        took = self.until(refused_everywhere, PROPAGATION_S + 0.5, "revocation from the database")
        print("revocation without the marker: refused everywhere after %.3f s" % took)
        self.assertLess(took, PROPAGATION_S + 0.5)
        self.assertLess(time.monotonic() - t0, PROPAGATION_S + 1.0)

    def test_rate_limit_per_key(self):
        j = self.create(rateLimitPerMinute=3)
        other = self.create(rateLimitPerMinute=3)
        for i in range(3):
            r = self.use(j["apiKey"], api=(self.api, self.api2)[i % 2])
            self.check(r, 200, "GET", COUNTRIES)
            self.assertEqual(r.headers.get("RateLimit-Limit"), "3")
        r = self.use(j["apiKey"], api=self.api2)
        self.check(r, 429, "GET", COUNTRIES, "RATE_LIMITED")
        self.assertTrue(int(r.headers["Retry-After"]) >= 1)
        # the limit is the key's own: another key from the same address is not affected
        self.check(self.use(other["apiKey"]), 200, "GET", COUNTRIES)
        self.until(lambda: [d["outcome"] for _, d in self.audit(j["id"])].count("RATE_LIMITED") == 1, 5,
                   "the refused use audited")

    def test_validation_and_roles(self):
        self.check(self.call("POST", KEYS, self.admin, body={"name": "x", "scopes": ["nope.never"]}), 400, "POST",
                   KEYS, "VALIDATION_FAILED")
        self.check(self.call("POST", KEYS, self.admin, body={"name": "x", "scopes": []}), 400, "POST", KEYS,
                   "VALIDATION_FAILED")
        self.check(self.call("POST", KEYS, self.admin,
                             body={"name": "x", "scopes": ["countries.list", "countries.list"]}), 400, "POST", KEYS,
                   "VALIDATION_FAILED")
        self.check(self.call("POST", KEYS, self.admin, body={"name": "x", "scopes": ["countries.list"],
                                                             "rateLimitPerMinute": 0}), 400, "POST", KEYS,
                   "VALIDATION_FAILED")
        self.check(self.call("POST", KEYS, self.admin, body={"name": "x", "scopes": ["countries.list"],
                                                             "profileId": str(uuid.uuid4())}), 404, "POST", KEYS,
                   "USER_NOT_FOUND")
        user = gxtest.mint_token(str(uuid.uuid4()))
        self.check(self.call("POST", KEYS, user, body={"name": "x", "scopes": ["countries.list"]}), 403, "POST", KEYS,
                   "FORBIDDEN")
        self.check(self.call("GET", KEYS), 401, "GET", KEYS, "UNAUTHORIZED")

    def test_openapi_declares_the_key(self):
        scheme = self.doc["components"]["securitySchemes"]["partnerKey"]
        self.assertEqual((scheme["type"], scheme["in"], scheme["name"]), ("apiKey", "header", "X-API-Key"))
        for m, p, op in [("post", KEYS, "createPartnerKey"), ("get", KEYS, "listPartnerKeys"),
                         ("post", ROTATE, "rotatePartnerKey"), ("post", REVOKE, "revokePartnerKey")]:
            o = self.doc["paths"][p][m]
            self.assertEqual(o["operationId"], op)
            self.assertEqual(o["security"], [{"bearerAuth": []}])
        for name in ("svc-identity", "svc-tokenomics", "svc-organization", "svc-loanpool", "svc-governance",
                     "svc-tax"):
            with open("%s/%s/openapi.json" % (gxtest.REPO_ROOT, name)) as f:
                doc = json.load(f)
            self.assertEqual(doc["components"]["securitySchemes"]["partnerKey"]["name"], "X-API-Key", name)


class PartnerKeyOtherApiTest(PartnerKeyBase):
    """A key bound to a profile, on another API: the caller is that profile as PARTNER_API."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tok = cls.stack.start_daemon("svc-tokenomics", env=cls.ENV)

    def test_profile_key_reads_its_own_wallet_only(self):
        me = seed_user(self.stack, balance=1500)
        other = seed_user(self.stack, balance=10)
        j = self.create(scopes=["wallets.balance"], profileId=me)
        self.assertEqual(j["profileId"], me)
        r = self.use(j["apiKey"], "/api/v1/wallets/%s/balance" % me, api=self.tok)
        self.assertEqual(r.status, 200, r.text)
        # the object-level check applies: PARTNER_API reaches only its own profile
        r = self.use(j["apiKey"], "/api/v1/wallets/%s/balance" % other, api=self.tok)
        self.assertEqual(r.status, 403, r.text)
        self.assertEqual(r.json()["code"], "FORBIDDEN")
        # no scope for the transaction history
        self.refused(self.use(j["apiKey"], "/api/v1/wallets/%s/transactions" % me, api=self.tok),
                     "wallets.transactions", 403, "INSUFFICIENT_SCOPE")


class PartnerScopeTableTest(ServiceTestCase):
    """Every scope of gx_apikey_scopes names a route its API serves to PARTNER_API: each API logs the scopes that do
    not when it starts (common/src/api.c), and none may."""

    def test_every_api_serves_its_scopes(self):
        for name in gxtest.API_DAEMONS:
            d = self.stack.start_daemon(name, env=NO_LIMITS)
            self.assertNotIn("partner scope", d.log_text(), name)


class PartnerKeyRedisDownTest(PartnerKeyBase):
    """Redis down: keys still work from PostgreSQL, revocation still holds on every replica within a second (fail
    closed), the per-key limit fails open (counted). PostgreSQL down as well: a key not cached is 503."""

    def test_redis_down(self):
        live = self.create(rateLimitPerMinute=2)
        gone = self.create()
        self.check(self.call("POST", REVOKE.format(keyId=gone["id"]), self.admin, body={}), 200, "POST", REVOKE)
        self.stack.stop_redis()
        try:
            # revoked while Redis was up: still refused (from the database) without the marker
            for _ in range(4):
                for api in (self.api, self.api2):
                    self.refused(self.use(gone["apiKey"], api=api), "API_KEY_REVOKED")
            # the limit fails open: more than 2 uses pass
            for _ in range(4):
                for api in (self.api, self.api2):
                    self.check(self.use(live["apiKey"], api=api), 200, "GET", COUNTRIES)
            metrics = gxtest.request("GET", self.api.url + "/metrics").text
            self.assertRegex(metrics, r'gx_redis_degraded_total\{check="apikey"\} [1-9]')
            # revoked while Redis is down (the marker cannot be written): every replica within a second
            self.check(self.call("POST", REVOKE.format(keyId=live["id"]), self.admin, body={}), 200, "POST",
                       REVOKE)

            def refused_everywhere():
                return all(self.use(live["apiKey"], api=api).status == 401
                           for api in (self.api, self.api2) for _ in range(4))
            took = self.until(refused_everywhere, PROPAGATION_S + 0.5, "revocation while Redis is down")
            print("revocation while Redis is down: refused everywhere after %.3f s" % took)
            # PostgreSQL down too: a key no worker has cached cannot be judged: 503, never admitted
            fresh = self.create()
            self.api2.expect_errors("database unavailable")
            self.stack.stop_pg()
            try:
                r = self.use(fresh["apiKey"], api=self.api2)
                self.assertEqual(r.status, 503, r.text)
                self.assertEqual(r.json()["code"], "DB_UNAVAILABLE")
            finally:
                self.stack.start_pg()
        finally:
            self.stack.start_redis()
        self.until(lambda: self.use(self.create()["apiKey"]).status == 200, 20, "back to normal")


class PartnerKeyGxctlTest(PartnerKeyBase):
    """gxctl partner-key create and revoke (break-glass: no token, no svc-admin)."""

    def test_gxctl_create_and_revoke(self):
        out = self.stack.gxctl("partner-key", "create", "--name", "break glass", "--scopes",
                               "countries.list,parameters.list", "--rate", "50", "--expires-in", "600").stdout
        line = [ln for ln in out.splitlines() if ln.startswith("{")][-1]
        j = json.loads(line)
        self.assertTrue(KEY_RE.match(j["apiKey"]), j)
        self.assertEqual(j["scopes"], ["countries.list", "parameters.list"])
        self.assertEqual(j["rateLimitPerMinute"], 50)
        self.assertTrue(j["createdBy"].startswith("gxctl:"))
        for api in (self.api, self.api2):
            self.check(self.use(j["apiKey"], PARAMETERS, api=api), 200, "GET", PARAMETERS)
        out = self.stack.gxctl("partner-key", "revoke", j["id"]).stdout
        self.assertEqual(json.loads([ln for ln in out.splitlines() if ln.startswith("{")][-1])["status"], "REVOKED")

        def refused_everywhere():
            return all(self.use(j["apiKey"], api=api).status == 401 for api in (self.api, self.api2) for _ in range(4))
        self.until(refused_everywhere, PROPAGATION_S + 0.5, "gxctl revocation")
        self.refused(self.use(j["apiKey"]), "API_KEY_REVOKED")
        self.assertEqual(self.stack.psql('SELECT "action", "actorRole" FROM "AdminAuditLog" WHERE "targetId" = %s '
                                         'AND "action" LIKE \'PARTNER_KEY_%%\' AND "action" <> \'PARTNER_KEY_USE\' '
                                         'ORDER BY "createdAt"' % q(j["id"])),
                         [("PARTNER_KEY_CREATE", "OPERATOR"), ("PARTNER_KEY_REVOKE", "OPERATOR")])
        # bad arguments: exit 2; an unknown key: exit 1
        r = self.stack.gxctl("partner-key", "create", "--name", "x", "--scopes", "nope", check=False)
        self.assertEqual(r.returncode, 2, r.stdout)
        r = self.stack.gxctl("partner-key", "revoke", uuid.uuid4().hex, check=False)
        self.assertEqual(r.returncode, 1, r.stdout)

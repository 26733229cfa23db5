"""svc-identity against real PostgreSQL and Redis: registration, login, token rotation/revocation, profiles, KYC,
command status. Every checked response is also validated against the live /openapi.json."""

import base64
import json
import threading
import time
import uuid

import gxtest
from gxtest import openapi as oa
from gxtest.services import ServiceTestCase

USERS = "/api/v1/users"
USER = "/api/v1/users/{id}"
KYC = "/api/v1/users/{id}/kyc"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
COMMAND = "/api/v1/commands/{commandId}"
PASSWORD = "correct horse 1"


def claims_of(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def new_email(tag="user"):
    return "%s.%s@Example.COM" % (tag, uuid.uuid4().hex[:10])


def reg_body(email=None, **over):
    b = {"email": email or new_email(), "password": PASSWORD, "firstName": "Ada", "lastName": "Lovelace",
         "nationalityCountryCode": "AE", "dateOfBirth": "1990-05-17"}
    b.update(over)
    return {k: v for k, v in b.items() if v is not None}


class IdentityBase(ServiceTestCase):
    DAEMON, REFRESH_DOC = "svc-identity", True
    ENV = {"BCRYPT_COST": "4", "RATE_LIMIT_STRICT_PER_MIN": "100000", "RATE_LIMIT_STRICT_BURST": "100000",
           "RATE_LIMIT_PER_MIN": "100000", "RATE_LIMIT_BURST": "100000"}

    def call(self, method, template, path=None, body=None, token=None, headers=None, status=None, **params):
        """Request template (filled from params) or path; asserts status when given; validates against template."""
        h = dict(headers or {})
        if token:
            h.update(gxtest.bearer(token))
        url = self.api.url + (path or template.format(**params))
        r = gxtest.request(method, url, json_body=body, headers=h)
        if status is not None:
            self.assertEqual(r.status, status, r.text)
        oa.validate(self.doc, method, template, r.status, r)
        return r

    def err(self, r, status, code):
        self.assertEqual(r.status, status, r.text)
        self.assertEqual(r.json()["code"], code, r.text)
        return r.json()

    def register(self, **over):
        body = reg_body(**over)
        r = self.call("POST", USERS, body=body, status=202)
        return body, r.json()

    def login(self, email, password=PASSWORD, status=200, headers=None):
        return self.call("POST", LOGIN, body={"email": email, "password": password}, status=status, headers=headers)

    def user_with_tokens(self):
        body, acc = self.register()
        j = self.login(body["email"]).json()
        return acc["aggregateId"], body, j


class IdentityTest(IdentityBase):

    # ---- registration -------------------------------------------------------------------------------------

    def test_register_writes_profile_and_create_user_command(self):
        body, acc = self.register(phoneNum="+971501234567", identityNum="784-1990-1234567-1")
        pid = acc["aggregateId"]
        self.assertEqual(acc["status"], "ACCEPTED")
        row = self.stack.psql('SELECT "email", "status", "role", substr("passwordHash", 1, 7), "fabricUserId", '
                              '"nationalityCountryCode", "dateOfBirth", "biometricHash" FROM "UserProfile" '
                              "WHERE \"profileId\" = '%s'" % pid)
        self.assertEqual(len(row), 1)
        email, status, role, prefix, fabric_id, nat, dob, bio = row[0]
        self.assertEqual(email, body["email"].lower())
        self.assertEqual((status, role, prefix, fabric_id, nat, dob), ("PENDING_VERIFICATION", "USER", "$2b$04$",
                                                                       pid, "AE", "1990-05-17"))
        cmd = self.stack.psql('SELECT "commandType", "payload"::text, "aggregateId", "status" FROM "OutboxCommand" '
                              "WHERE \"id\" = '%s'" % acc["commandId"])
        self.assertEqual(len(cmd), 1)
        ctype, payload, agg, cstatus = cmd[0]
        payload = json.loads(payload)
        self.assertEqual((ctype, agg, cstatus), ("CREATE_USER", pid, "PENDING"))
        self.assertEqual(set(payload) - {"_meta"}, {"userId", "biometricHash", "nationality", "age"})
        self.assertEqual(payload["userId"], pid)
        self.assertEqual(payload["biometricHash"], bio)
        self.assertRegex(bio, "^[0-9a-f]{64}$")
        self.assertEqual(payload["nationality"], "AE")
        today = time.gmtime()
        self.assertEqual(payload["age"], today.tm_year - 1990 - (1 if (today.tm_mon, today.tm_mday) < (5, 17) else 0))
        self.assertNotIn("example", json.dumps(payload).lower())  # no PII on chain

    def test_register_client_biometric_hash_is_used_and_unique(self):
        bio = "AB" * 32
        _, acc = self.register(biometricHash=bio)
        row = self.stack.psql("SELECT \"biometricHash\" FROM \"UserProfile\" WHERE \"profileId\" = '%s'" % acc["aggregateId"])
        self.assertEqual(row[0][0], bio.lower())
        r = self.call("POST", USERS, body=reg_body(biometricHash=bio))
        self.err(r, 409, "BIOMETRIC_TAKEN")

    def test_register_validation(self):
        # the original's checks first, with its texts
        e = self.err(self.call("POST", USERS, body={}), 400, "VALIDATION_FAILED")
        self.assertEqual(e["message"], "Email, password, firstName, and lastName are required")
        e = self.err(self.call("POST", USERS, body=reg_body(email="not-an-email", password="short")), 400,
                     "VALIDATION_FAILED")
        self.assertEqual(e["message"], "Invalid email format")
        e = self.err(self.call("POST", USERS, body=reg_body(password="short")), 400, "VALIDATION_FAILED")
        self.assertEqual(e["message"], "Password must be at least 8 characters long")
        # then ours, every issue at once
        bad = reg_body(firstName="x" * 51, phoneNum="0501234", nationalityCountryCode="ae",
                       dateOfBirth="2999-01-01", identityNum=5)
        e = self.err(self.call("POST", USERS, body=bad), 400, "VALIDATION_FAILED")
        fields = {d["field"] for d in e["details"]}
        self.assertEqual(fields, {"firstName", "phoneNum", "nationalityCountryCode", "dateOfBirth", "identityNum"})
        e = self.err(self.call("POST", USERS, body=reg_body(password="p" * 73)), 400, "VALIDATION_FAILED")
        self.assertEqual([d["field"] for d in e["details"]], ["password"])
        e = self.err(self.call("POST", USERS, body=reg_body(dateOfBirth="1990-02-30")), 400, "VALIDATION_FAILED")
        self.assertEqual([d["field"] for d in e["details"]], ["dateOfBirth"])
        e = self.err(self.call("POST", USERS, body=reg_body(biometricHash="xyz")), 400, "VALIDATION_FAILED")
        self.assertEqual([d["field"] for d in e["details"]], ["biometricHash"])

    def test_register_unknown_country_writes_nothing(self):
        email = new_email("zz")
        self.err(self.call("POST", USERS, body=reg_body(email=email, nationalityCountryCode="ZZ")), 400,
                 "UNKNOWN_COUNTRY")
        self.assertEqual(self.stack.psql("SELECT count(*) FROM \"UserProfile\" WHERE \"email\" = '%s'"
                                         % email.lower()), [("0",)])

    def test_register_duplicate_email_case_insensitive(self):
        body, _ = self.register()
        before = self.stack.psql('SELECT count(*) FROM "OutboxCommand"')[0][0]
        r = self.call("POST", USERS, body=reg_body(email=body["email"].upper()))
        e = self.err(r, 400, "EMAIL_TAKEN")  # the original's status and text
        self.assertEqual(e["message"], "User with this email already exists")
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "OutboxCommand"')[0][0], before)

    def test_register_idempotent_retry(self):
        body = reg_body()
        key = {"Idempotency-Key": "reg-" + uuid.uuid4().hex}
        r1 = self.call("POST", USERS, body=body, headers=key, status=202)
        r2 = self.call("POST", USERS, body=body, headers=key, status=202)
        self.assertEqual(r1.body, r2.body)
        self.assertEqual(r2.headers.get("Idempotent-Replayed"), "true")
        n = self.stack.psql("SELECT count(*) FROM \"UserProfile\" WHERE \"email\" = '%s'" % body["email"].lower())
        self.assertEqual(n, [("1",)])
        n = self.stack.psql("SELECT count(*) FROM \"OutboxCommand\" WHERE \"payload\"->>'userId' = '%s'"
                            % r1.json()["aggregateId"])
        self.assertEqual(n, [("1",)])
        r3 = self.call("POST", USERS, body=dict(body, firstName="Other"), headers=key)
        self.err(r3, 422, "IDEMPOTENCY_KEY_REUSED")

    # ---- login and tokens ---------------------------------------------------------------------------------

    def test_login_issues_tokens_with_role_and_audiences(self):
        body, acc = self.register()
        pid = acc["aggregateId"]
        self.stack.psql("UPDATE \"UserProfile\" SET \"role\" = 'ADMIN' WHERE \"profileId\" = '%s'" % pid)
        j = self.login(body["email"].upper()).json()
        self.assertEqual(j["user"]["profileId"], pid)
        self.assertEqual(j["user"]["email"], body["email"].lower())
        self.assertNotIn("passwordHash", j["user"])
        a, r = claims_of(j["accessToken"]), claims_of(j["refreshToken"])
        self.assertEqual((a["sub"], a["role"], a["aud"], a["iss"]), (pid, "ADMIN", "gx-api", "gx-backend"))
        self.assertEqual(a["exp"] - a["iat"], 900)
        self.assertNotIn("fam", a)
        self.assertEqual((r["sub"], r["aud"]), (pid, "gx-refresh"))
        self.assertEqual(r["exp"] - r["iat"], 7 * 24 * 3600)
        uuid.UUID(a["jti"]), uuid.UUID(r["jti"]), uuid.UUID(r["fam"])
        stored = self.stack.psql("SELECT \"familyId\", \"profileId\", \"revoked\" FROM \"RefreshToken\" "
                                 "WHERE \"jti\" = '%s'" % r["jti"])
        self.assertEqual(stored, [(r["fam"], pid, "f")])
        # the access token works on a protected route
        self.call("GET", USER, id=pid, token=j["accessToken"], status=200)

    def test_login_wrong_password_and_unknown_email_look_the_same(self):
        body, _ = self.register()
        e1 = self.err(self.login(body["email"], "wrong password", status=401), 401, "INVALID_CREDENTIALS")
        e2 = self.err(self.login(new_email("nobody"), "wrong password", status=401), 401, "INVALID_CREDENTIALS")
        self.assertEqual(e1["message"], e2["message"])
        self.err(self.call("POST", LOGIN, body={"email": body["email"]}), 400, "VALIDATION_FAILED")

    def test_login_inactive_account(self):
        body, acc = self.register()
        self.stack.psql("UPDATE \"UserProfile\" SET \"status\" = 'SUSPENDED' WHERE \"profileId\" = '%s'"
                        % acc["aggregateId"])
        e = self.err(self.login(body["email"], status=401), 401, "ACCOUNT_INACTIVE")
        self.assertEqual(e["message"], "Account is inactive. Please contact support.")
        self.err(self.login(body["email"], "wrong password", status=401), 401, "INVALID_CREDENTIALS")

    def refresh(self, token):
        return self.call("POST", REFRESH, body={"refreshToken": token})

    def age_rotation(self, token, seconds=3600):
        """Move the rotation of token back in time, out of the REFRESH_REUSE_GRACE window."""
        self.stack.psql("UPDATE \"RefreshToken\" SET \"rotatedAt\" = \"rotatedAt\" - interval '%d seconds' "
                        "WHERE \"jti\" = '%s'" % (seconds, claims_of(token)["jti"]))

    def family_revoked(self, token):
        rows = self.stack.psql("SELECT \"revoked\" FROM \"RefreshToken\" WHERE \"familyId\" = '%s'"
                               % claims_of(token)["fam"])
        return sorted({r[0] for r in rows})

    def test_refresh_rotates_and_reuse_revokes_family(self):
        pid, _, j = self.user_with_tokens()
        r1 = self.call("POST", REFRESH, body={"refreshToken": j["refreshToken"]}, status=200).json()
        c_old, c_new = claims_of(j["refreshToken"]), claims_of(r1["refreshToken"])
        self.assertEqual(c_new["fam"], c_old["fam"])
        self.assertNotEqual(c_new["jti"], c_old["jti"])
        self.assertEqual(claims_of(r1["accessToken"])["sub"], pid)
        self.call("GET", USER, id=pid, token=r1["accessToken"], status=200)
        # the client stores and uses the successor: it rotates, so reuse detection applies to it from now on
        r2 = self.refresh(r1["refreshToken"]).json()
        # r1 presented again after the grace window: a reuse, the whole family dies
        self.age_rotation(r1["refreshToken"])
        e = self.err(self.refresh(r1["refreshToken"]), 401, "TOKEN_REUSED")
        self.assertEqual(e["message"], "Invalid or expired refresh token")
        self.err(self.refresh(r2["refreshToken"]), 401, "TOKEN_REVOKED")
        self.err(self.refresh(j["refreshToken"]), 401, "TOKEN_REVOKED")
        self.assertEqual(self.family_revoked(j["refreshToken"]), ["t"])
        self.assertEqual(len(self.stack.psql("SELECT 1 FROM \"RefreshToken\" WHERE \"familyId\" = '%s'"
                                             % c_old["fam"])), 3)

    def test_refresh_retry_within_grace_gets_the_same_pair(self):
        pid, _, j = self.user_with_tokens()
        r1 = self.refresh(j["refreshToken"]).json()
        again = self.refresh(j["refreshToken"])
        self.assertEqual(again.status, 200, again.text)
        self.assertEqual(again.json(), r1)  # byte for byte the same successor pair
        self.assertEqual(self.family_revoked(j["refreshToken"]), ["f"])
        n = self.stack.psql("SELECT count(*) FROM \"RefreshToken\" WHERE \"familyId\" = '%s'"
                            % claims_of(j["refreshToken"])["fam"])
        self.assertEqual(n, [("2",)])
        # the successor still works and rotates normally
        r2 = self.refresh(r1["refreshToken"]).json()
        self.assertNotEqual(claims_of(r2["refreshToken"])["jti"], claims_of(r1["refreshToken"])["jti"])
        self.call("GET", USER, id=pid, token=r2["accessToken"], status=200)

    def test_refresh_parallel_requests_share_one_successor(self):
        _, _, j = self.user_with_tokens()
        out = []

        def go():
            out.append(self.refresh(j["refreshToken"]))
        ts = [threading.Thread(target=go) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual([r.status for r in out], [200] * 4, [r.text for r in out])
        self.assertEqual(len({r.json()["refreshToken"] for r in out}), 1)
        self.assertEqual(self.family_revoked(j["refreshToken"]), ["f"])

    def test_refresh_grandparent_always_revokes(self):
        _, _, j = self.user_with_tokens()
        r1 = self.refresh(j["refreshToken"]).json()
        self.refresh(r1["refreshToken"])
        # within the grace window of its own rotation, but its successor was already used
        self.err(self.refresh(j["refreshToken"]), 401, "TOKEN_REUSED")
        self.assertEqual(self.family_revoked(j["refreshToken"]), ["t"])

    def test_refresh_after_grace_by_a_rotating_client_revokes(self):
        _, _, j = self.user_with_tokens()
        r1 = self.refresh(j["refreshToken"]).json()
        r2 = self.refresh(r1["refreshToken"]).json()
        self.age_rotation(r1["refreshToken"], 31)  # just past the default 30 s window
        self.err(self.refresh(r1["refreshToken"]), 401, "TOKEN_REUSED")
        self.assertEqual(self.family_revoked(j["refreshToken"]), ["t"])

    def test_refresh_client_that_never_stores_rotated_tokens_stays_signed_in(self):
        pid, _, j = self.user_with_tokens()
        first = self.refresh(j["refreshToken"]).json()
        for _ in range(3):
            # the original's client: always its login token, long after the window
            self.age_rotation(j["refreshToken"])
            r = self.refresh(j["refreshToken"])
            self.assertEqual(r.status, 200, r.text)
            b = r.json()
            self.assertEqual(b["refreshToken"], first["refreshToken"])  # the same successor, no new rows
            self.call("GET", USER, id=pid, token=b["accessToken"], status=200)
        self.assertEqual(self.family_revoked(j["refreshToken"]), ["f"])
        n = self.stack.psql("SELECT count(*) FROM \"RefreshToken\" WHERE \"familyId\" = '%s'"
                            % claims_of(j["refreshToken"])["fam"])
        self.assertEqual(n, [("2",)])
        # once the successor is used the client has shown it rotates: the login token is then a reuse
        self.refresh(first["refreshToken"])
        self.err(self.refresh(j["refreshToken"]), 401, "TOKEN_REUSED")
        self.assertEqual(self.family_revoked(j["refreshToken"]), ["t"])

    def test_refresh_of_inactive_account(self):
        _, body, j = self.user_with_tokens()
        pid = claims_of(j["accessToken"])["sub"]
        self.stack.psql("UPDATE \"UserProfile\" SET \"status\" = 'SUSPENDED' WHERE \"profileId\" = '%s'" % pid)
        e = self.err(self.refresh(j["refreshToken"]), 401, "ACCOUNT_INACTIVE")
        self.assertEqual(e["message"], "Invalid or expired refresh token")
        # nothing was rotated: reactivated, the token still works
        self.stack.psql("UPDATE \"UserProfile\" SET \"status\" = 'PENDING_VERIFICATION' WHERE \"profileId\" = '%s'"
                        % pid)
        self.call("POST", REFRESH, body={"refreshToken": j["refreshToken"]}, status=200)

    def test_refresh_rejects_access_tokens_and_garbage(self):
        pid, _, j = self.user_with_tokens()
        self.err(self.call("POST", REFRESH, body={"refreshToken": j["accessToken"]}), 401, "INVALID_REFRESH_TOKEN")
        self.err(self.call("POST", REFRESH, body={"refreshToken": "a.b.c"}), 401, "INVALID_REFRESH_TOKEN")
        self.err(self.call("POST", REFRESH, body={}), 400, "VALIDATION_FAILED")
        forged = gxtest.mint_token(pid, "USER", aud="gx-refresh", fam=str(uuid.uuid4()), ttl=3600)
        self.err(self.call("POST", REFRESH, body={"refreshToken": forged}), 401, "INVALID_REFRESH_TOKEN")

    def test_token_tampering_is_refused(self):
        pid, _, j = self.user_with_tokens()
        c = claims_of(j["accessToken"])
        none_tok = gxtest.sign_raw({"alg": "none", "typ": "JWT"}, c).rsplit(".", 1)[0] + "."
        cases = {
            "alg none": none_tok,
            "wrong key": gxtest.mint_token(pid, "USER", key="k" * 48),
            "expired": gxtest.mint_token(pid, "USER", ttl=-3600),
            "refresh as access": j["refreshToken"],
            "tampered payload": j["accessToken"].split(".")[0] + "." +
            base64.urlsafe_b64encode(json.dumps(dict(c, role="SUPER_ADMIN")).encode()).rstrip(b"=").decode() +
            "." + j["accessToken"].split(".")[2],
        }
        for name, tok in cases.items():
            with self.subTest(name):
                self.err(self.call("GET", USER, id=pid, token=tok), 401, "UNAUTHORIZED")
        self.err(self.call("GET", USER, id=pid), 401, "UNAUTHORIZED")

    def test_logout_revokes_family_and_access_token(self):
        pid, _, j = self.user_with_tokens()
        r = self.call("POST", LOGOUT, body={"refreshToken": j["refreshToken"]}, token=j["accessToken"], status=200)
        self.assertEqual(r.json(), {"message": "Logout successful", "accessTokenRevoked": True})
        e = self.err(self.call("GET", USER, id=pid, token=j["accessToken"]), 401, "UNAUTHORIZED")
        self.assertIn("TOKEN_REVOKED", json.dumps(e))
        self.err(self.call("POST", REFRESH, body={"refreshToken": j["refreshToken"]}), 401, "TOKEN_REVOKED")
        # logging out again is harmless; without an access token nothing is denylisted
        r = self.call("POST", LOGOUT, body={"refreshToken": j["refreshToken"]}, status=200)
        self.assertFalse(r.json()["accessTokenRevoked"])
        self.err(self.call("POST", LOGOUT, body={"refreshToken": "junk"}), 401, "INVALID_REFRESH_TOKEN")
        self.err(self.call("POST", LOGOUT, body={}), 400, "VALIDATION_FAILED")
        # a fresh login still works
        self.login(_["email"])

    # ---- profiles -----------------------------------------------------------------------------------------

    def test_get_profile_self_admin_and_bola(self):
        a_id, a_body, a = self.user_with_tokens()
        b_id, _, b = self.user_with_tokens()
        p = self.call("GET", USER, id=a_id, token=a["accessToken"], status=200).json()
        self.assertEqual((p["profileId"], p["email"], p["status"], p["kycStatus"], p["onchainStatus"]),
                         (a_id, a_body["email"].lower(), "PENDING_VERIFICATION", None, None))
        self.err(self.call("GET", USER, id=b_id, token=a["accessToken"]), 403, "FORBIDDEN")
        admin = gxtest.mint_token(str(uuid.uuid4()), "ADMIN")
        self.assertEqual(self.call("GET", USER, id=b_id, token=admin, status=200).json()["profileId"], b_id)
        self.err(self.call("GET", USER, id=str(uuid.uuid4()), token=admin), 404, "NOT_FOUND")
        self.err(self.call("GET", USER, id="not-a-uuid", token=admin), 404, "NOT_FOUND")
        self.err(self.call("GET", USER, id="not-a-uuid", token=a["accessToken"]), 403, "FORBIDDEN")

    def test_patch_profile(self):
        a_id, a_body, a = self.user_with_tokens()
        b_id, b_body, b = self.user_with_tokens()
        tok = a["accessToken"]
        p = self.call("PATCH", USER, id=a_id, token=tok, body={"firstName": "Grace", "phoneNum": "+14155550123"},
                      status=200).json()
        self.assertEqual((p["firstName"], p["lastName"], p["phoneNum"]), ("Grace", "Lovelace", "+14155550123"))
        self.assertEqual(self.call("GET", USER, id=a_id, token=tok, status=200).json()["firstName"], "Grace")
        self.err(self.call("PATCH", USER, id=a_id, token=tok, body={}), 400, "VALIDATION_FAILED")
        e = self.err(self.call("PATCH", USER, id=a_id, token=tok, body={"role": "ADMIN", "lastName": ""}), 400,
                     "VALIDATION_FAILED")
        self.assertEqual(e["message"], "At least one field must be provided for update")
        e = self.err(self.call("PATCH", USER, id=a_id, token=tok, body={"firstName": "Grace", "lastName": ""}), 400,
                     "VALIDATION_FAILED")
        self.assertEqual({d["field"] for d in e["details"]}, {"lastName"})
        # keys the original ignored are ignored: never a way to change role or nationality
        p = self.call("PATCH", USER, id=a_id, token=tok, status=200,
                      body={"firstName": "Grace", "role": "ADMIN", "nationalityCountryCode": "US"}).json()
        self.assertEqual((p["role"], p["nationalityCountryCode"]), ("USER", "AE"))
        # null or "" clears phoneNum
        p = self.call("PATCH", USER, id=a_id, token=tok, body={"firstName": "Grace", "phoneNum": None},
                      status=200).json()
        self.assertIsNone(p["profile"]["phoneNum"])
        self.call("PATCH", USER, id=a_id, token=tok, body={"phoneNum": "+14155550123"}, status=200)
        self.err(self.call("PATCH", USER, id=b_id, token=tok, body={"firstName": "Mallory"}), 403, "FORBIDDEN")
        self.err(self.call("PATCH", USER, id=b_id, token=b["accessToken"], body={"phoneNum": "+14155550123"}), 409,
                 "PHONE_TAKEN")
        self.err(self.call("PATCH", USER, id=b_id, token=b["accessToken"], body={"email": a_body["email"].upper()}),
                 400, "EMAIL_TAKEN")
        admin = gxtest.mint_token(str(uuid.uuid4()), "ADMIN")
        self.call("PATCH", USER, id=b_id, token=admin, body={"lastName": "Hopper"}, status=200)
        self.err(self.call("PATCH", USER, id=str(uuid.uuid4()), token=admin, body={"lastName": "X"}), 404, "NOT_FOUND")

    def test_patch_password_revokes_sessions(self):
        a_id, a_body, a = self.user_with_tokens()
        self.call("PATCH", USER, id=a_id, token=a["accessToken"], status=200,
                  body={"password": "a new password 2", "currentPassword": PASSWORD})
        self.err(self.login(a_body["email"], status=401), 401, "INVALID_CREDENTIALS")
        b = self.login(a_body["email"], "a new password 2").json()
        self.err(self.call("POST", REFRESH, body={"refreshToken": a["refreshToken"]}), 401, "TOKEN_REVOKED")
        self.err(self.call("PATCH", USER, id=a_id, token=b["accessToken"], body={"password": "short"}), 400,
                 "VALIDATION_FAILED")

    # ---- KYC ----------------------------------------------------------------------------------------------

    def test_kyc(self):
        a_id, _, a = self.user_with_tokens()
        b_id, _, b = self.user_with_tokens()
        tok = a["accessToken"]
        self.assertEqual(self.call("GET", KYC, id=a_id, token=tok, status=200).json(), {"kycStatus": None})
        e = self.err(self.call("POST", KYC, id=a_id, token=tok, body={"evidenceHash": "abc", "evidenceSize": 0,
                                                                      "evidenceMime": "text/html"}),
                     400, "VALIDATION_FAILED")
        self.assertEqual(e["message"], "Evidence hash, size, and MIME type are required")
        e = self.err(self.call("POST", KYC, id=a_id, token=tok, body={"evidenceHash": "abc", "evidenceSize": -1,
                                                                      "evidenceMime": "text/html"}),
                     400, "VALIDATION_FAILED")
        self.assertEqual({d["field"] for d in e["details"]}, {"evidenceHash", "evidenceSize", "evidenceMime"})
        self.err(self.call("POST", KYC, id=a_id, token=tok, body={"evidenceHash": "a" * 64,
                                                                  "evidenceSize": 10485761,
                                                                  "evidenceMime": "image/png"}),
                 400, "VALIDATION_FAILED")
        ev = {"evidenceHash": "AB" * 32, "evidenceSize": 123456, "evidenceMime": "application/pdf"}
        k = self.call("POST", KYC, id=a_id, token=tok, body=ev, status=201).json()
        self.assertEqual((k["profileId"], k["status"], k["evidenceHash"], k["evidenceSize"]),
                         (a_id, "PENDING", "ab" * 32, 123456))
        self.err(self.call("POST", KYC, id=a_id, token=tok, body=ev), 409, "KYC_PENDING")
        g = self.call("GET", KYC, id=a_id, token=tok, status=200).json()
        self.assertEqual(g["kycId"], k["kycId"])
        self.assertEqual(self.call("GET", USER, id=a_id, token=tok, status=200).json()["kycStatus"], "PENDING")
        self.err(self.call("GET", KYC, id=a_id, token=b["accessToken"]), 403, "FORBIDDEN")
        self.err(self.call("POST", KYC, id=a_id, token=b["accessToken"], body=ev), 403, "FORBIDDEN")
        self.stack.psql("UPDATE \"KYCVerification\" SET \"status\" = 'APPROVED', \"verifiedAt\" = now() "
                        "WHERE \"kycId\" = '%s'" % k["kycId"])
        self.err(self.call("POST", KYC, id=a_id, token=tok, body=ev), 409, "KYC_ALREADY_APPROVED")
        g = self.call("GET", KYC, id=a_id, token=tok, status=200).json()
        self.assertEqual(g["status"], "APPROVED")
        self.assertIsNotNone(g["verifiedAt"])
        admin = gxtest.mint_token(str(uuid.uuid4()), "ADMIN")
        self.err(self.call("POST", KYC, id=str(uuid.uuid4()), token=admin, body=ev), 404, "NOT_FOUND")

    # ---- command status and Prefer: wait ---------------------------------------------------------------------

    def test_command_status_and_prefer_wait(self):
        _, acc = self.register()
        cid = acc["commandId"]
        s = self.call("GET", COMMAND, commandId=cid, status=200).json()
        self.assertEqual((s["commandId"], s["commandType"], s["status"], s["aggregateId"]),
                         (cid, "CREATE_USER", "PENDING", acc["aggregateId"]))
        self.err(self.call("GET", COMMAND, commandId=str(uuid.uuid4())), 404, "COMMAND_NOT_FOUND")

        # COMMITTED is not the end of a wait (the read models do not show it yet): PROJECTED is
        def commit_later():
            time.sleep(0.5)
            self.stack.psql("UPDATE \"OutboxCommand\" SET \"status\" = 'COMMITTED', \"fabricTxId\" = 'tx1', "
                            "\"commitBlock\" = 7, \"committedAt\" = now() WHERE \"id\" = '%s'; "
                            "SELECT pg_notify('gx_command_status', '%s')" % (cid, cid))
            time.sleep(1.5)
            self.stack.psql("UPDATE \"OutboxCommand\" SET \"status\" = 'PROJECTED', \"projectedAt\" = now() "
                            "WHERE \"id\" = '%s'; SELECT pg_notify('gx_command_status', '%s')" % (cid, cid))
        t = threading.Thread(target=commit_later)
        start = time.monotonic()
        t.start()
        r = self.call("GET", COMMAND, commandId=cid, headers={"Prefer": "wait=10"}, status=200)
        t.join()
        self.assertGreater(time.monotonic() - start, 1.8)
        self.assertLess(time.monotonic() - start, 8)
        self.assertEqual((r.json()["status"], r.json()["blockNumber"]), ("PROJECTED", 7))
        self.assertIn("wait", r.headers.get("Preference-Applied", ""))

    def test_openapi_document_lists_every_route(self):
        oa.check_document(self.doc)
        ops = {(m, p) for m, p, _ in oa.operations(self.doc)}
        for route in [("POST", LOGIN), ("POST", REFRESH), ("POST", LOGOUT), ("POST", USERS), ("GET", USER),
                      ("PATCH", USER), ("POST", KYC), ("GET", KYC), ("GET", COMMAND), ("GET", "/health"),
                      ("GET", "/readyz"), ("GET", "/livez"), ("GET", "/metrics"), ("GET", "/openapi.json")]:
            self.assertIn(route, ops)
        for path in ("/health", "/readyz", "/livez"):
            self.call("GET", path, status=200)


class RankTest(IdentityBase):
    """The rank model (docs/security.md "Ranks") on the identity routes that change another profile."""

    def account(self, role):
        """A registered profile raised to role, its login body and a token of its own."""
        body, acc = self.register()
        pid = acc["aggregateId"]
        self.stack.psql("UPDATE \"UserProfile\" SET \"role\" = '%s' WHERE \"profileId\" = '%s'" % (role, pid))
        return pid, body, gxtest.mint_token(pid, role)

    def test_patch_by_rank(self):
        sa_id, sa_body, sa = self.account("SUPER_ADMIN")
        sa2_id, _, _ = self.account("SUPER_ADMIN")
        ad_id, _, ad = self.account("ADMIN")
        ad2_id, _, _ = self.account("ADMIN")
        us_id, _, us = self.account("USER")
        # an ADMIN cannot take over the SUPER_ADMIN: refused, and the old password still logs in
        e = self.err(self.call("PATCH", USER, id=sa_id, token=ad, body={"password": "taken over 123"}), 403,
                     "RANK_TOO_LOW")
        self.assertIn("SUPER_ADMIN", e["message"])
        self.err(self.login(sa_body["email"], "taken over 123", status=401), 401, "INVALID_CREDENTIALS")
        self.assertEqual(self.login(sa_body["email"]).json()["user"]["role"], "SUPER_ADMIN")
        self.err(self.call("PATCH", USER, id=sa_id, token=ad, body={"email": new_email("x")}), 403, "RANK_TOO_LOW")
        self.err(self.call("PATCH", USER, id=ad2_id, token=ad, body={"lastName": "X"}), 403, "RANK_TOO_LOW")
        self.err(self.call("PATCH", USER, id=sa2_id, token=sa, body={"lastName": "X"}), 403, "RANK_TOO_LOW")
        self.err(self.call("PATCH", USER, id=sa_id, token=us, body={"lastName": "X"}), 403, "FORBIDDEN")
        rows = self.stack.psql("SELECT count(*) FROM \"UserProfile\" WHERE \"lastName\" = 'X'")
        self.assertEqual(rows[0][0], "0")
        # higher on lower, and everyone on themselves
        self.call("PATCH", USER, id=us_id, token=ad, body={"lastName": "Hopper"}, status=200)
        self.call("PATCH", USER, id=ad_id, token=sa, body={"lastName": "Hopper"}, status=200)
        self.call("PATCH", USER, id=ad_id, token=ad, body={"firstName": "Self"}, status=200)
        self.call("PATCH", USER, id=sa_id, token=sa, body={"firstName": "Self"}, status=200)
        self.err(self.call("PATCH", USER, id=str(uuid.uuid4()), token=ad, body={"lastName": "X"}), 404, "NOT_FOUND")

    def test_kyc_submit_by_rank(self):
        ev = {"evidenceHash": "cd" * 32, "evidenceSize": 2048, "evidenceMime": "image/png"}
        sa_id, _, sa = self.account("SUPER_ADMIN")
        ad_id, _, ad = self.account("ADMIN")
        ad2_id, _, _ = self.account("ADMIN")
        us_id, _, _ = self.account("USER")
        self.err(self.call("POST", KYC, id=sa_id, token=ad, body=ev), 403, "RANK_TOO_LOW")
        self.err(self.call("POST", KYC, id=ad2_id, token=ad, body=ev), 403, "RANK_TOO_LOW")
        self.assertEqual(self.stack.psql("SELECT count(*) FROM \"KYCVerification\" WHERE \"profileId\" IN ('%s', '%s')"
                                         % (sa_id, ad2_id))[0][0], "0")
        k = self.call("POST", KYC, id=us_id, token=ad, body=ev, status=201).json()
        self.assertEqual(self.stack.psql("SELECT \"submittedBy\" FROM \"KYCVerification\" WHERE \"kycId\" = '%s'"
                                         % k["kycId"])[0][0], ad_id)
        self.call("POST", KYC, id=ad_id, token=sa, body=ev, status=201)
        self.err(self.call("POST", KYC, id=str(uuid.uuid4()), token=ad, body=ev), 404, "NOT_FOUND")

    def test_kyc_review(self):
        ev = {"evidenceHash": "ef" * 32, "evidenceSize": 4096, "evidenceMime": "application/pdf"}
        review = "/api/v1/users/{id}/kyc/{kycId}/review"
        sa_id, _, sa = self.account("SUPER_ADMIN")
        ad_id, _, ad = self.account("ADMIN")
        ad2_id, _, ad2 = self.account("ADMIN")
        us_id, _, us = self.account("USER")
        # the user's own submission: decided by an admin, never by the user
        k = self.call("POST", KYC, id=us_id, token=us, body=ev, status=201).json()
        self.err(self.call("POST", review, id=us_id, kycId=k["kycId"], token=us, body={"decision": "APPROVED"}), 403,
                 "FORBIDDEN")
        e = self.err(self.call("POST", review, id=us_id, kycId=k["kycId"], token=ad, body={"decision": "MAYBE"}), 400,
                     "VALIDATION_FAILED")
        self.assertEqual({d["field"] for d in e["details"]}, {"decision"})
        e = self.err(self.call("POST", review, id=us_id, kycId=k["kycId"], token=ad, body={"decision": "REJECTED"}),
                     400, "VALIDATION_FAILED")
        self.assertEqual({d["field"] for d in e["details"]}, {"reason"})
        self.err(self.call("POST", review, id=ad_id, kycId=k["kycId"], token=ad, body={"decision": "APPROVED"}), 404,
                 "NOT_FOUND")
        r = self.call("POST", review, id=us_id, kycId=k["kycId"], token=ad, body={"decision": "APPROVED"},
                      status=200).json()
        self.assertEqual((r["kycRecord"]["status"], r["kycId"]), ("APPROVED", k["kycId"]))
        self.assertIsNotNone(r["verifiedAt"])
        self.assertEqual(json.loads(r["verifierDetails"])["reviewerId"], ad_id)
        self.assertEqual(self.call("GET", USER, id=us_id, token=us, status=200).json()["kycStatus"], "APPROVED")
        audit = self.stack.psql("SELECT \"actorId\", \"actorRole\", \"details\"->>'decision' FROM \"AdminAuditLog\""
                                " WHERE \"action\" = 'KYC_REVIEW' AND \"targetId\" = '%s'" % us_id)
        self.assertEqual(audit, [(ad_id, "ADMIN", "APPROVED")])
        self.err(self.call("POST", review, id=us_id, kycId=k["kycId"], token=ad2, body={"decision": "REJECTED",
                                                                                      "reason": "late"}),
                 409, "KYC_NOT_PENDING")
        # four eyes: an admin decides neither on their own KYC nor on one they submitted for someone else
        own = self.call("POST", KYC, id=ad_id, token=ad, body=ev, status=201).json()
        self.err(self.call("POST", review, id=ad_id, kycId=own["kycId"], token=ad, body={"decision": "APPROVED"}),
                 403, "SELF_APPROVAL")
        u2_id, _, _ = self.account("USER")
        theirs = self.call("POST", KYC, id=u2_id, token=ad, body=ev, status=201).json()
        self.err(self.call("POST", review, id=u2_id, kycId=theirs["kycId"], token=ad, body={"decision": "APPROVED"}),
                 403, "SELF_APPROVAL")
        self.call("POST", review, id=u2_id, kycId=theirs["kycId"], token=ad2,
                  body={"decision": "REJECTED", "reason": "blurred scan"}, status=200)
        # rank: another ADMIN's KYC goes to a SUPER_ADMIN
        self.err(self.call("POST", review, id=ad_id, kycId=own["kycId"], token=ad2, body={"decision": "APPROVED"}),
                 403, "RANK_TOO_LOW")
        self.call("POST", review, id=ad_id, kycId=own["kycId"], token=sa, body={"decision": "APPROVED"}, status=200)
        self.assertEqual(self.stack.psql("SELECT count(*) FROM \"KYCVerification\" WHERE \"reviewedBy\" = '%s'"
                                         % sa_id)[0][0], "1")

    def test_onchain_by_rank(self):
        onchain = "/api/v1/users/{id}/onchain"
        ad_id, _, ad = self.account("ADMIN")
        ids = {}
        for role in ("SUPER_ADMIN", "ADMIN", "USER"):
            _, acc = self.register(dateOfBirth=None)
            ids[role] = acc["aggregateId"]
            self.stack.psql("UPDATE \"UserProfile\" SET \"role\" = '%s' WHERE \"profileId\" = '%s'"
                            % (role, ids[role]))
        body = {"dateOfBirth": "1990-05-17"}
        self.err(self.call("POST", onchain, id=ids["SUPER_ADMIN"], token=ad, body=body), 403, "RANK_TOO_LOW")
        self.err(self.call("POST", onchain, id=ids["ADMIN"], token=ad, body=body), 403, "RANK_TOO_LOW")
        self.call("POST", onchain, id=ids["USER"], token=ad, body=body, status=202)
        self.call("POST", onchain, id=ids["ADMIN"], token=gxtest.mint_token(ids["ADMIN"], "ADMIN"), body=body,
                  status=202)


class IdentityLimitsTest(IdentityBase):
    """Strict rate limits and login lockout, each test from its own client IP (X-Forwarded-For from a trusted
    proxy); a higher bcrypt cost for the timing check."""

    ENV = dict(IdentityBase.ENV, BCRYPT_COST="10", RATE_LIMIT_STRICT_PER_MIN="5", RATE_LIMIT_STRICT_BURST="5",
               TRUSTED_PROXIES="127.0.0.1", LOGIN_MAX_FAILURES="3", LOGIN_LOCKOUT="60s")

    _ip = 10

    def ip(self):
        IdentityLimitsTest._ip += 1
        return {"X-Forwarded-For": "203.0.113.%d" % IdentityLimitsTest._ip}

    def test_strict_rate_limit_on_login(self):
        ip = self.ip()
        statuses = []
        for _ in range(8):
            # a new email each time, so the per-account lockout never triggers first
            r = self.call("POST", LOGIN, body={"email": new_email("rl"), "password": "whatever1"}, headers=ip)
            statuses.append(r.status)
            if r.status == 429:
                break
        self.assertEqual(statuses[-1], 429, statuses)
        self.assertEqual(r.json()["code"], "RATE_LIMITED")
        self.assertTrue(int(r.headers["Retry-After"]) >= 1)
        self.assertIn("RateLimit-Limit", r.headers)
        self.assertIn("RateLimit-Remaining", r.headers)
        # another client is not affected
        self.assertNotEqual(self.call("POST", LOGIN, body={"email": "rl@example.com", "password": "x"},
                                      headers=self.ip()).status, 429)

    def test_lockout_same_for_known_and_unknown_email(self):
        ip = self.ip()
        body = reg_body()
        self.call("POST", USERS, body=body, headers=self.ip(), status=202)
        for email in (body["email"], new_email("ghost")):
            with self.subTest(email=email):
                ip = self.ip()
                for _ in range(3):
                    self.err(self.login(email, "bad password", status=401, headers=ip), 401, "INVALID_CREDENTIALS")
                r = self.login(email, PASSWORD, status=429, headers=ip)
                self.err(r, 429, "LOGIN_LOCKED")
                self.assertTrue(1 <= int(r.headers["Retry-After"]) <= 60)
        # the lock is per (email, IP): the right password from elsewhere works
        self.login(body["email"], headers=self.ip())

    def test_unknown_email_costs_like_a_wrong_password(self):
        body = reg_body()
        self.call("POST", USERS, body=body, headers=self.ip(), status=202)

        def timed(email):
            t = []
            for _ in range(3):
                start = time.monotonic()
                self.login(email, "bad password", status=401, headers=self.ip())
                t.append(time.monotonic() - start)
            return sorted(t)[1]
        known, unknown = timed(body["email"]), timed(new_email("ghost"))
        # cost 10 is tens of ms: an unknown email that skipped bcrypt would answer in ~1 ms
        self.assertGreater(unknown, known / 3, (known, unknown))
        self.assertGreater(unknown, 0.01, (known, unknown))

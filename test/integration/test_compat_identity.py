"""svc-identity played by the original backend's client (OP-01..OP-08 of the wire reference): the original's request
bodies, and every response checked key by key and JSON type by JSON type against the original's shapes
(gxtest.compat), plus its error answers (status and message) on the main failure paths. Responses are also
validated against the live /openapi.json."""

import time
import uuid

import gxtest
from gxtest.auth import sign_raw
from gxtest.compat import ACCEPTED, OMIT, assert_original_error, assert_shape

from test_identity import IdentityBase, claims_of, new_email

USERS = "/api/v1/users"
USER = "/api/v1/users/{id}"
KYC = "/api/v1/users/{id}/kyc"
ONCHAIN = "/api/v1/users/{id}/onchain"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"

NULLABLE_STR = ("string", "null")
# S1 UserProfile: all 10 keys; passwordHash, biometricHash, tenantId and deletedAt never sent
S1 = {"profileId": "string", "email": NULLABLE_STR, "firstName": "string", "lastName": "string",
      "phoneNum": NULLABLE_STR, "identityNum": NULLABLE_STR, "status": "string",
      "nationalityCountryCode": NULLABLE_STR, "createdAt": "date", "updatedAt": "date",
      "passwordHash": OMIT, "biometricHash": OMIT, "tenantId": OMIT, "deletedAt": OMIT}
S1_KEYS = ["profileId", "email", "firstName", "lastName", "phoneNum", "identityNum", "status",
           "nationalityCountryCode", "createdAt", "updatedAt"]
S1_STATUSES = {"PENDING_VERIFICATION", "VERIFIED", "REJECTED", "SUSPENDED", "CLOSED"}
# S2 KYCRecord: all 10 keys
S2 = {"kycId": "string", "profileId": "string", "status": "string", "evidenceHash": NULLABLE_STR,
      "evidenceSize": ("integer", "null"), "evidenceMime": NULLABLE_STR, "verifiedAt": ("date", "null"),
      "verifierDetails": NULLABLE_STR, "createdAt": "date", "updatedAt": "date"}

PASSWORD = "s3cret-password"
EVIDENCE = {"evidenceHash": "ab" * 32, "evidenceSize": 2048, "evidenceMime": "application/pdf"}


def original_register_body(email=None):
    """What the original's client sends: the four required fields and the optional ones it knows (no dateOfBirth)."""
    return {"email": email or new_email("orig"), "password": PASSWORD, "firstName": "Ada", "lastName": "Lovelace",
            "phoneNum": "", "identityNum": "", "nationalityCountryCode": "AE"}


def original_token(profile_id, aud="gx-api", ttl=86400, **over):
    """A token as the original backend issued it (same secret): its claims, in its order, no role, jti or tenant."""
    now = int(time.time())
    c = {"profileId": profile_id, "email": "a@b.co", "status": "PENDING_VERIFICATION", "iat": now, "exp": now + ttl,
         "aud": aud, "iss": "gx-identity-service"}
    c.update(over)
    return sign_raw({"alg": "HS256", "typ": "JWT"}, {k: v for k, v in c.items() if v is not None})


class IdentityCompatTest(IdentityBase):

    def test_original_tokens_refused_without_a_cut_over(self):
        pid, _ = self.orig_user()
        e = self.err(self.call("GET", USER, id=pid, token=original_token(pid)), 401, "UNAUTHORIZED")
        self.assertEqual(e["message"], "Invalid or expired token")
        self.err(self.call("POST", REFRESH, body={"refreshToken": original_token(pid, "gx-api-refresh")}),
                 401, "INVALID_REFRESH_TOKEN")

    def orig_user(self):
        """Register and log in exactly as the original client does; returns (profileId, login body)."""
        body = original_register_body()
        self.call("POST", USERS, body=body, status=202)
        j = self.call("POST", LOGIN, body={"email": body["email"], "password": PASSWORD}, status=200).json()
        return j["user"]["profileId"], j

    # ---- a profile the original's client registered, brought on chain later -------------------------------------
    def test_onchain_registration_after_the_original_body(self):
        pid, login = self.orig_user()
        tok = login["accessToken"]
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "aggregateId" = \'%s\'' % pid),
                         [("0",)])
        # the date of birth is what the original's client never sent
        e = self.err(self.call("POST", ONCHAIN, id=pid, body={}, token=tok), 400, "VALIDATION_FAILED")
        self.assertEqual([d["field"] for d in e["details"]], ["dateOfBirth"])
        # the stored nationality cannot be changed on the way
        e = self.err(self.call("POST", ONCHAIN, id=pid, token=tok,
                               body={"nationalityCountryCode": "US", "dateOfBirth": "1990-05-17"}),
                     400, "VALIDATION_FAILED")
        self.assertEqual([d["field"] for d in e["details"]], ["nationalityCountryCode"])
        # someone else's profile
        other, _ = self.orig_user()
        self.err(self.call("POST", ONCHAIN, id=other, body={"dateOfBirth": "1990-05-17"}, token=tok),
                 403, "FORBIDDEN")
        b = self.call("POST", ONCHAIN, id=pid, body={"dateOfBirth": "1990-05-17"}, token=tok, status=202).json()
        assert_shape(self, b, ACCEPTED)
        self.assertEqual(b["message"], "User registration initiated. Check status with command ID.")
        rows = self.stack.psql('SELECT "commandType", "payload"->>\'userId\', "payload"->>\'nationality\','
                               ' ("payload"->>\'age\')::int >= 35, length("payload"->>\'biometricHash\')'
                               ' FROM "OutboxCommand" WHERE "id" = \'%s\'' % b["commandId"])
        self.assertEqual(rows, [("CREATE_USER", pid, "AE", "t", "64")])
        self.assertEqual(self.stack.psql('SELECT to_char("dateOfBirth", \'YYYY-MM-DD\') FROM "UserProfile"'
                                         ' WHERE "profileId" = \'%s\'' % pid), [("1990-05-17",)])
        # once queued (or on chain), a second one is refused
        self.err(self.call("POST", ONCHAIN, id=pid, body={"dateOfBirth": "1990-05-17"}, token=tok),
                 409, "ALREADY_ON_CHAIN")
        # a failed registration may be tried again
        self.stack.psql('UPDATE "OutboxCommand" SET "status" = \'FAILED\' WHERE "id" = \'%s\'' % b["commandId"])
        self.call("POST", ONCHAIN, id=pid, body={}, token=tok, status=202)

    # ---- OP-04 POST /api/v1/users ---------------------------------------------------------------------------

    def test_op04_register_with_the_original_body(self):
        body = original_register_body()
        r = self.call("POST", USERS, body=body, status=202)
        b = r.json()
        # without dateOfBirth the chaincode cannot register the user yet: the profile alone, no command
        assert_shape(self, b, {"commandId": ("string", "null"), "message": "string"})
        self.assertEqual(b["status"], "PROFILE_CREATED")
        row = self.stack.psql("SELECT \"email\", \"phoneNum\" IS NULL, \"identityNum\" IS NULL, "
                              "\"nationalityCountryCode\", \"dateOfBirth\" IS NULL FROM \"UserProfile\" "
                              "WHERE \"profileId\" = '%s'" % b["aggregateId"])
        self.assertEqual(row, [(body["email"].lower(), "t", "t", "AE", "t")])
        self.assertEqual(self.stack.psql("SELECT count(*) FROM \"OutboxCommand\" WHERE \"aggregateId\" = '%s'"
                                         % b["aggregateId"]), [("0",)])
        # only the four required fields, as the original required
        minimal = {k: body[k] for k in ("email", "password", "firstName", "lastName")}
        minimal["email"] = new_email("min")
        self.call("POST", USERS, body=minimal, status=202)
        # with the on-chain fields too: the CREATE_USER command, the original's Accepted shape
        full = dict(original_register_body(), dateOfBirth="1990-05-17")
        b = self.call("POST", USERS, body=full, status=202).json()
        assert_shape(self, b, ACCEPTED)
        self.assertEqual(b["status"], "ACCEPTED")

    def test_op04_register_errors(self):
        r = self.call("POST", USERS, body={"email": new_email(), "password": PASSWORD, "firstName": "A"})
        assert_original_error(self, r, 400, "Email, password, firstName, and lastName are required")
        r = self.call("POST", USERS, body=dict(original_register_body(), lastName=""))
        assert_original_error(self, r, 400, "Email, password, firstName, and lastName are required")
        r = self.call("POST", USERS, body=dict(original_register_body(), email="no at sign"))
        assert_original_error(self, r, 400, "Invalid email format")
        r = self.call("POST", USERS, body=dict(original_register_body(), password="short"))
        assert_original_error(self, r, 400, "Password must be at least 8 characters long")
        body = original_register_body()
        self.call("POST", USERS, body=body, status=202)
        r = self.call("POST", USERS, body=dict(body, email=body["email"].upper()))
        assert_original_error(self, r, 400, "User with this email already exists", "EMAIL_TAKEN")

    # ---- OP-01 POST /api/v1/auth/login ----------------------------------------------------------------------

    def test_op01_login(self):
        body = original_register_body()
        self.call("POST", USERS, body=body, status=202)
        j = self.call("POST", LOGIN, body={"email": body["email"].upper(), "password": PASSWORD}, status=200).json()
        assert_shape(self, j, {"accessToken": "string", "refreshToken": "string", "user": S1})
        self.assertEqual(list(j["user"])[:10], S1_KEYS)
        self.assertIn(j["user"]["status"], S1_STATUSES)
        self.assertEqual(j["user"]["email"], body["email"].lower())
        self.assertEqual(claims_of(j["accessToken"])["sub"], j["user"]["profileId"])
        # the original's claim name, for clients that decode their token
        self.assertEqual(claims_of(j["accessToken"])["profileId"], j["user"]["profileId"])
        self.assertEqual(claims_of(j["refreshToken"])["profileId"], j["user"]["profileId"])

    def test_op01_login_errors(self):
        body = original_register_body()
        self.call("POST", USERS, body=body, status=202)
        for bad in ({}, {"email": body["email"]}, {"email": "", "password": PASSWORD}):
            with self.subTest(bad=bad):
                assert_original_error(self, self.call("POST", LOGIN, body=bad), 400, "Email and password are required")
        r = self.call("POST", LOGIN, body={"email": body["email"], "password": "wrong password"})
        assert_original_error(self, r, 401, "Invalid email or password")
        r = self.call("POST", LOGIN, body={"email": new_email("nobody"), "password": PASSWORD})
        assert_original_error(self, r, 401, "Invalid email or password")
        self.stack.psql("UPDATE \"UserProfile\" SET \"status\" = 'SUSPENDED' WHERE \"email\" = '%s'"
                        % body["email"].lower())
        r = self.call("POST", LOGIN, body={"email": body["email"], "password": PASSWORD})
        assert_original_error(self, r, 401, "Account is inactive. Please contact support.", "ACCOUNT_INACTIVE")

    # ---- OP-02 POST /api/v1/auth/refresh --------------------------------------------------------------------

    def test_op02_refresh_with_the_login_token_again_and_again(self):
        """The original never rotated: its client keeps presenting the login token and reads only accessToken."""
        pid, j = self.orig_user()
        for i in range(4):
            r = self.call("POST", REFRESH, body={"refreshToken": j["refreshToken"]}, status=200)
            b = r.json()
            assert_shape(self, b, {"accessToken": "string"})
            self.call("GET", USER, id=pid, token=b["accessToken"], status=200)
            if i == 1:  # later refreshes come long after the grace window
                self.stack.psql("UPDATE \"RefreshToken\" SET \"rotatedAt\" = now() - interval '1 hour' "
                                "WHERE \"jti\" = '%s'" % claims_of(j["refreshToken"])["jti"])

    def test_op02_refresh_errors(self):
        _, j = self.orig_user()
        for bad in ({}, {"refreshToken": ""}, {"refreshToken": None}):
            with self.subTest(bad=bad):
                assert_original_error(self, self.call("POST", REFRESH, body=bad), 400, "Refresh token is required")
        for tok in ("garbage", gxtest.mint_token(str(uuid.uuid4()), "USER", aud="gx-refresh", fam=str(uuid.uuid4()))):
            assert_original_error(self, self.call("POST", REFRESH, body={"refreshToken": tok}), 401,
                                  "Invalid or expired refresh token")
        self.call("POST", LOGOUT, body={"refreshToken": j["refreshToken"]}, status=200)
        assert_original_error(self, self.call("POST", REFRESH, body={"refreshToken": j["refreshToken"]}), 401,
                              "Invalid or expired refresh token")

    # ---- OP-03 POST /api/v1/auth/logout ---------------------------------------------------------------------

    def test_op03_logout(self):
        _, j = self.orig_user()
        b = self.call("POST", LOGOUT, body={"refreshToken": j["refreshToken"]}, status=200).json()
        assert_shape(self, b, {"message": "string"})
        self.assertEqual(b["message"], "Logout successful")
        # logging out twice, or with a token that expired meanwhile, still succeeds
        self.call("POST", LOGOUT, body={"refreshToken": j["refreshToken"]}, status=200)
        expired = gxtest.mint_token(claims_of(j["refreshToken"])["sub"], "USER", aud="gx-refresh",
                                    fam=claims_of(j["refreshToken"])["fam"], ttl=-60)
        self.assertEqual(self.call("POST", LOGOUT, body={"refreshToken": expired}, status=200).json()["message"],
                         "Logout successful")
        assert_original_error(self, self.call("POST", LOGOUT, body={}), 400, "Refresh token is required")

    # ---- OP-05 GET /api/v1/users/:id ------------------------------------------------------------------------

    def test_op05_get_user(self):
        pid, j = self.orig_user()
        b = self.call("GET", USER, id=pid, token=j["accessToken"], status=200).json()
        assert_shape(self, b, {"user": S1})
        self.assertEqual(list(b["user"])[:10], S1_KEYS)
        self.assertEqual(b["user"]["profileId"], pid)
        other, _ = self.orig_user()
        assert_original_error(self, self.call("GET", USER, id=other, token=j["accessToken"]), 403,
                              "You can only view your own profile")
        admin = gxtest.mint_token(str(uuid.uuid4()), "ADMIN")
        assert_original_error(self, self.call("GET", USER, id=str(uuid.uuid4()), token=admin), 404, "User not found")
        assert_original_error(self, self.call("GET", USER, id=pid), 401)

    # ---- OP-06 PATCH /api/v1/users/:id ----------------------------------------------------------------------

    def test_op06_patch_user(self):
        pid, j = self.orig_user()
        tok = j["accessToken"]
        b = self.call("PATCH", USER, id=pid, token=tok, status=200,
                      body={"firstName": "Grace", "phoneNum": "+14155550123", "nationalityCountryCode": "US"}).json()
        assert_shape(self, b, {"profile": S1})
        self.assertEqual((b["profile"]["firstName"], b["profile"]["phoneNum"], b["profile"]["nationalityCountryCode"]),
                         ("Grace", "+14155550123", "AE"))  # nationalityCountryCode ignored, as by the original
        b = self.call("PATCH", USER, id=pid, token=tok, body={"lastName": "Hopper", "phoneNum": None},
                      status=200).json()
        self.assertIsNone(b["profile"]["phoneNum"])
        for bad in ({}, {"firstName": ""}, {"phoneNum": None}, {"nationalityCountryCode": "US"}):
            with self.subTest(bad=bad):
                assert_original_error(self, self.call("PATCH", USER, id=pid, token=tok, body=bad), 400,
                                      "At least one field must be provided for update")
        other, _ = self.orig_user()
        assert_original_error(self, self.call("PATCH", USER, id=other, token=tok, body={"firstName": "M"}), 403,
                              "You can only update your own profile")

    # ---- OP-07 POST /api/v1/users/:id/kyc -------------------------------------------------------------------

    def test_op07_submit_kyc(self):
        pid, j = self.orig_user()
        tok = j["accessToken"]
        r = self.call("POST", KYC, id=pid, token=tok, body=EVIDENCE, status=201)
        b = r.json()
        assert_shape(self, b, {"kycRecord": S2})
        rec = b["kycRecord"]
        self.assertEqual((rec["profileId"], rec["status"], rec["evidenceSize"], rec["verifiedAt"]),
                         (pid, "PENDING", 2048, None))
        uuid.UUID(rec["kycId"])
        self.stack.psql("UPDATE \"KYCVerification\" SET \"status\" = 'APPROVED' WHERE \"kycId\" = '%s'" % rec["kycId"])
        assert_original_error(self, self.call("POST", KYC, id=pid, token=tok, body=EVIDENCE), 409,
                              "KYC already approved")
        for field in EVIDENCE:
            with self.subTest(missing=field):
                bad = {k: v for k, v in EVIDENCE.items() if k != field}
                assert_original_error(self, self.call("POST", KYC, id=pid, token=tok, body=bad), 400,
                                      "Evidence hash, size, and MIME type are required")
        assert_original_error(self, self.call("POST", KYC, id=pid, token=tok, body=dict(EVIDENCE, evidenceSize=0)),
                              400, "Evidence hash, size, and MIME type are required")
        other, _ = self.orig_user()
        assert_original_error(self, self.call("POST", KYC, id=other, token=tok, body=EVIDENCE), 403,
                              "You can only submit KYC for your own account")
        admin = gxtest.mint_token(str(uuid.uuid4()), "ADMIN")
        assert_original_error(self, self.call("POST", KYC, id=str(uuid.uuid4()), token=admin, body=EVIDENCE), 404,
                              "User not found")

    # ---- OP-08 GET /api/v1/users/:id/kyc --------------------------------------------------------------------

    def test_op08_kyc_status(self):
        pid, j = self.orig_user()
        tok = j["accessToken"]
        b = self.call("GET", KYC, id=pid, token=tok, status=200).json()
        self.assertEqual(b, {"kycStatus": None})
        rec = self.call("POST", KYC, id=pid, token=tok, body=EVIDENCE, status=201).json()["kycRecord"]
        b = self.call("GET", KYC, id=pid, token=tok, status=200).json()
        assert_shape(self, b, {"kycStatus": S2})
        self.assertEqual(b["kycStatus"]["kycId"], rec["kycId"])
        other, _ = self.orig_user()
        assert_original_error(self, self.call("GET", KYC, id=other, token=tok), 403,
                              "You can only view your own KYC status")
        admin = gxtest.mint_token(str(uuid.uuid4()), "ADMIN")
        self.assertEqual(self.call("GET", KYC, id=str(uuid.uuid4()), token=admin, status=200).json(),
                         {"kycStatus": None})


class OriginalTokensCutOverTest(IdentityBase):
    """ORIGINAL_TOKENS_UNTIL: tokens the original backend issued keep their users signed in during the switch."""
    ENV = dict(IdentityBase.ENV, ORIGINAL_TOKENS_UNTIL=str(int(time.time()) + 3600))

    def orig_user(self):
        body = original_register_body()
        return self.call("POST", USERS, body=body, status=202).json()["aggregateId"]

    def test_access_token(self):
        pid, other = self.orig_user(), self.orig_user()
        tok = original_token(pid)
        b = self.call("GET", USER, id=pid, token=tok, status=200).json()
        self.assertEqual(b["user"]["profileId"], pid)
        # a USER: no one else's profile, no admin routes
        self.err(self.call("GET", USER, id=other, token=tok), 403, "FORBIDDEN")
        # what the original itself accepted and we do not: no exp, a refresh token as an access token, another
        # issuer, another key
        for bad in (original_token(pid, exp=None), original_token(pid, "gx-api-refresh"),
                    original_token(pid, iss="someone"), original_token(pid, ttl=-120)):
            self.err(self.call("GET", USER, id=pid, token=bad), 401, "UNAUTHORIZED")

    def test_refresh_and_logout(self):
        pid = self.orig_user()
        rt = original_token(pid, "gx-api-refresh", ttl=7 * 86400)
        first = self.call("POST", REFRESH, body={"refreshToken": rt}, status=200).json()
        assert_shape(self, first, {"accessToken": "string", "refreshToken": "string"})
        self.assertEqual(claims_of(first["accessToken"])["sub"], pid)
        self.call("GET", USER, id=pid, token=first["accessToken"], status=200)
        # the original client sends the same token again (it never rotated): signed in, the same successor
        again = self.call("POST", REFRESH, body={"refreshToken": rt}, status=200).json()
        self.assertEqual(again["refreshToken"], first["refreshToken"])
        self.assertEqual(self.stack.psql('SELECT count(DISTINCT "familyId") FROM "RefreshToken"'
                                         ' WHERE "profileId" = \'%s\'' % pid), [("1",)])
        # logout with the original token ends the adopted family: neither it nor the successor refreshes again
        self.call("POST", LOGOUT, body={"refreshToken": rt}, status=200)
        self.err(self.call("POST", REFRESH, body={"refreshToken": rt}), 401, "TOKEN_REVOKED")
        self.err(self.call("POST", REFRESH, body={"refreshToken": first["refreshToken"]}), 401, "TOKEN_REVOKED")

    def test_logout_before_any_refresh(self):
        pid = self.orig_user()
        rt = original_token(pid, "gx-api-refresh", ttl=7 * 86400)
        self.call("POST", LOGOUT, body={"refreshToken": rt}, status=200)
        self.err(self.call("POST", REFRESH, body={"refreshToken": rt}), 401, "TOKEN_REVOKED")

    def test_unknown_profile(self):
        self.err(self.call("POST", REFRESH, body={"refreshToken": original_token(str(uuid.uuid4()),
                                                                                 "gx-api-refresh")}),
                 401, "INVALID_REFRESH_TOKEN")

"""Credential changes (issue 18, docs/security.md "Credentials"): the current password for a change, the admin's
audited reset with a forced change, every token of the profile revoked by its token epoch (Redis, PostgreSQL when
Redis is down), the strict limiter for email/phone/password changes, one bcrypt job per account, password quality
(cracklib, names, email)."""

import threading
import uuid

import gxtest
from test_identity import IdentityBase, LOGIN, REFRESH, USER, USERS, KYC, PASSWORD, claims_of, reg_body

RESET = "/api/v1/users/{id}/password-reset"
NEW_PASSWORD = "a new password 2"


def revoked(testcase, r):
    testcase.assertEqual(r.status, 401, r.text)
    testcase.assertEqual(r.json()["details"][0]["issue"], "TOKEN_REVOKED", r.text)


class CredentialsBase(IdentityBase):

    def account(self, role="USER"):
        """A registered profile with role, its registration body and the login answer."""
        body, acc = self.register()
        pid = acc["aggregateId"]
        if role != "USER":
            self.stack.psql("UPDATE \"UserProfile\" SET \"role\" = '%s' WHERE \"profileId\" = '%s'" % (role, pid))
        return pid, body, self.login(body["email"]).json()

    def change(self, pid, token, new, current=PASSWORD, status=None):
        body = {"password": new}
        if current is not None:
            body["currentPassword"] = current
        return self.call("PATCH", USER, id=pid, token=token, body=body, status=status)


class PasswordChangeTest(CredentialsBase):

    def test_change_needs_the_current_password(self):
        pid, body, j = self.account()
        tok = j["accessToken"]
        e = self.err(self.change(pid, tok, NEW_PASSWORD, current=None), 400, "VALIDATION_FAILED")
        self.assertEqual([d["field"] for d in e["details"]], ["currentPassword"])
        self.err(self.change(pid, tok, NEW_PASSWORD, current="not my password"), 403, "CURRENT_PASSWORD_INVALID")
        # nothing changed: the old password still logs in, the token still works
        self.login(body["email"])
        self.call("GET", USER, id=pid, token=tok, status=200)
        self.change(pid, tok, NEW_PASSWORD, status=200)
        self.err(self.login(body["email"], status=401), 401, "INVALID_CREDENTIALS")
        self.assertFalse(self.login(body["email"], NEW_PASSWORD).json()["mustChangePassword"])

    def test_change_revokes_every_access_token_at_once(self):
        pid, body, j = self.account()
        other = self.login(body["email"]).json()  # a second session, e.g. a stolen token
        self.change(pid, j["accessToken"], NEW_PASSWORD, status=200)
        for tok in (j["accessToken"], other["accessToken"]):
            revoked(self, self.call("GET", USER, id=pid, token=tok))
        for ref in (j["refreshToken"], other["refreshToken"]):
            self.err(self.call("POST", REFRESH, body={"refreshToken": ref}), 401, "TOKEN_REVOKED")
        self.assertEqual(self.stack.psql("SELECT count(*) FROM \"UserProfile\" WHERE \"profileId\" = '%s' AND "
                                         "\"tokensValidAfter\" IS NOT NULL" % pid)[0][0], "1")
        # a login right after the change (the same second) gets tokens that work, refreshed ones too
        fresh = self.login(body["email"], NEW_PASSWORD).json()
        self.call("GET", USER, id=pid, token=fresh["accessToken"], status=200)
        again = self.call("POST", REFRESH, body={"refreshToken": fresh["refreshToken"]}, status=200).json()
        self.call("GET", USER, id=pid, token=again["accessToken"], status=200)

    def test_admin_does_not_change_a_password_through_patch(self):
        us_id, us_body, _ = self.account()
        _, _, ad = self.account("ADMIN")
        self.err(self.call("PATCH", USER, id=us_id, token=ad["accessToken"], body={"password": "taken over 123"}),
                 403, "FORBIDDEN")
        self.login(us_body["email"])
        # other fields of a lower account stay an admin's to change
        self.call("PATCH", USER, id=us_id, token=ad["accessToken"], body={"lastName": "Hopper"}, status=200)


class PasswordResetTest(CredentialsBase):

    def test_reset_by_rank(self):
        sa_id, _, sa = self.account("SUPER_ADMIN")
        ad_id, _, ad = self.account("ADMIN")
        ad2_id, _, _ = self.account("ADMIN")
        us_id, _, us = self.account()
        self.err(self.call("POST", RESET, id=sa_id, token=ad["accessToken"], body={}), 403, "RANK_TOO_LOW")
        self.err(self.call("POST", RESET, id=ad2_id, token=ad["accessToken"], body={}), 403, "RANK_TOO_LOW")
        self.err(self.call("POST", RESET, id=ad_id, token=ad["accessToken"], body={}), 403, "SELF_ACTION")
        self.err(self.call("POST", RESET, id=ad_id, token=us["accessToken"], body={}), 403, "FORBIDDEN")
        self.err(self.call("POST", RESET, id=str(uuid.uuid4()), token=ad["accessToken"], body={}), 404, "NOT_FOUND")
        self.call("POST", RESET, id=us_id, token=ad["accessToken"], body={}, status=200)
        self.call("POST", RESET, id=ad_id, token=sa["accessToken"], body={}, status=200)
        revoked(self, self.call("POST", RESET, id=us_id, token=ad["accessToken"], body={}))

    def test_reset_is_audited_revokes_and_forces_a_change(self):
        us_id, us_body, us = self.account()
        ad_id, _, ad = self.account("ADMIN")
        r = self.call("POST", RESET, id=us_id, token=ad["accessToken"], body=None, status=200).json()
        temp = r["temporaryPassword"]
        self.assertTrue(r["mustChangePassword"])
        self.assertGreaterEqual(len(temp), 16)
        rows = self.stack.psql("SELECT \"actorId\", \"actorRole\", \"targetId\", \"details\"->>'generated', "
                               "\"createdAt\" IS NOT NULL FROM \"AdminAuditLog\" WHERE \"action\" = 'PASSWORD_RESET' "
                               "AND \"targetId\" = '%s'" % us_id)
        self.assertEqual([list(r) for r in rows], [[ad_id, "ADMIN", us_id, "true", "t"]])
        # every token of the account ends; the old password no longer logs in
        revoked(self, self.call("GET", USER, id=us_id, token=us["accessToken"]))
        self.err(self.call("POST", REFRESH, body={"refreshToken": us["refreshToken"]}), 401, "TOKEN_REVOKED")
        self.err(self.login(us_body["email"], status=401), 401, "INVALID_CREDENTIALS")
        # the temporary password logs in, but only the password change is open
        j = self.login(us_body["email"], temp).json()
        self.assertTrue(j["mustChangePassword"])
        tok = j["accessToken"]
        self.assertIs(claims_of(tok).get("pwc"), True)
        self.call("GET", USER, id=us_id, token=tok, status=200)
        kyc = {"evidenceHash": "ab" * 32, "evidenceSize": 1000, "evidenceMime": "image/png"}
        self.err(self.call("POST", KYC, id=us_id, token=tok, body=kyc), 403, "PASSWORD_CHANGE_REQUIRED")
        self.err(self.call("PATCH", USER, id=us_id, token=tok, body={"firstName": "Eve"}), 403,
                 "PASSWORD_CHANGE_REQUIRED")
        refreshed = self.call("POST", REFRESH, body={"refreshToken": j["refreshToken"]}, status=200).json()
        self.assertIs(claims_of(refreshed["accessToken"]).get("pwc"), True)
        self.change(us_id, tok, NEW_PASSWORD, current=temp, status=200)
        revoked(self, self.call("GET", USER, id=us_id, token=tok))
        j = self.login(us_body["email"], NEW_PASSWORD).json()
        self.assertFalse(j["mustChangePassword"])
        self.assertNotIn("pwc", claims_of(j["accessToken"]))
        self.call("POST", KYC, id=us_id, token=j["accessToken"], body=kyc, status=201)

    def test_reset_with_a_given_password(self):
        us_id, us_body, _ = self.account()
        _, _, ad = self.account("ADMIN")
        self.err(self.call("POST", RESET, id=us_id, token=ad["accessToken"], body={"temporaryPassword": "password"}),
                 400, "WEAK_PASSWORD")
        r = self.call("POST", RESET, id=us_id, token=ad["accessToken"], body={"temporaryPassword": "Tempo-rary-8812"},
                      status=200).json()
        self.assertIsNone(r["temporaryPassword"])
        self.assertTrue(self.login(us_body["email"], "Tempo-rary-8812").json()["mustChangePassword"])


class EpochFallbackTest(CredentialsBase):
    """Redis down: the token epoch comes from PostgreSQL."""

    def test_revocation_holds_while_redis_is_down(self):
        pid, body, j = self.account()
        keep = self.login(body["email"]).json()
        self.stack.stop_redis()
        try:
            # the change itself while Redis is down: only PostgreSQL knows the epoch
            self.change(pid, keep["accessToken"], NEW_PASSWORD, status=200)
            revoked(self, self.call("GET", USER, id=pid, token=j["accessToken"]))
            fresh = self.login(body["email"], NEW_PASSWORD).json()
            self.call("GET", USER, id=pid, token=fresh["accessToken"], status=200)
        finally:
            self.stack.start_redis()
        # Redis is back (empty): the next login writes the epoch to Redis again
        fresh = self.login(body["email"], NEW_PASSWORD).json()
        self.call("GET", USER, id=pid, token=fresh["accessToken"], status=200)
        revoked(self, self.call("GET", USER, id=pid, token=j["accessToken"]))


class CredentialLimitsTest(CredentialsBase):
    """The strict limiter for email, phoneNum and password changes."""

    ENV = dict(IdentityBase.ENV, RATE_LIMIT_STRICT_PER_MIN="3", RATE_LIMIT_STRICT_BURST="3",
               TRUSTED_PROXIES="127.0.0.1")

    _ip = 10

    def ip(self):
        CredentialLimitsTest._ip += 1
        return {"X-Forwarded-For": "198.51.100.%d" % CredentialLimitsTest._ip}

    def account(self, role="USER"):
        # registration and login are strict too: each from its own address
        body = reg_body()
        acc = self.call("POST", USERS, body=body, headers=self.ip(), status=202).json()
        j = self.call("POST", LOGIN, body={"email": body["email"], "password": PASSWORD}, headers=self.ip(),
                      status=200).json()
        return acc["aggregateId"], body, j

    def test_email_and_phone_probes_run_on_the_strict_limiter(self):
        a_id, a_body, a = self.account()
        b_id, _, b = self.account()
        ip = self.ip()
        statuses = []
        for _ in range(8):
            r = self.call("PATCH", USER, id=b_id, token=b["accessToken"], body={"email": a_body["email"]}, headers=ip)
            statuses.append(r.status)
            if r.status == 429:
                break
        self.assertEqual(statuses[0], 400, statuses)  # EMAIL_TAKEN: the probe itself
        self.assertEqual(statuses[-1], 429, statuses)
        self.assertEqual(r.json()["code"], "RATE_LIMITED")
        r = self.call("PATCH", USER, id=b_id, token=b["accessToken"], body={"phoneNum": "+14155550199"},
                      headers=self.ip())
        self.err(r, 429, "RATE_LIMITED")  # the same user's strict bucket
        # other fields stay on the ordinary limiter
        for _ in range(8):
            self.call("PATCH", USER, id=b_id, token=b["accessToken"], body={"firstName": "Grace"}, headers=self.ip(),
                      status=200)

class HashIsolationTest(CredentialsBase):
    """One bcrypt job per account: a slow cost and two threads, so concurrent requests overlap."""

    ENV = dict(IdentityBase.ENV, TRUSTED_PROXIES="127.0.0.1", BCRYPT_COST="12", BCRYPT_THREADS="2")

    def test_second_concurrent_hash_of_one_account_is_refused(self):
        self.api.expected_errors.append("another password operation of this account is in progress")
        pid, body, j = self.account()
        _, other_body, _ = self.account()
        n = 6
        barrier = threading.Barrier(n + 1)
        results = []

        def change(i):
            headers = dict(gxtest.bearer(j["accessToken"]), **{"X-Forwarded-For": "192.0.2.%d" % (i + 1)})
            body = {"password": "parallel change %d" % i, "currentPassword": PASSWORD}
            barrier.wait()
            results.append(gxtest.request("PATCH", self.api.url + USER.format(id=pid), json_body=body,
                                          headers=headers))

        def other_login():
            barrier.wait()
            results.append(("other", gxtest.request("POST", self.api.url + LOGIN,
                                                    json_body={"email": other_body["email"], "password": PASSWORD},
                                                    headers={"X-Forwarded-For": "192.0.2.99"})))

        threads = [threading.Thread(target=change, args=(i,)) for i in range(n)]
        threads.append(threading.Thread(target=other_login))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        other = [r for r in results if isinstance(r, tuple)][0][1]
        changes = [r for r in results if not isinstance(r, tuple)]
        busy = [r for r in changes if r.status == 503]
        self.assertTrue(busy, [r.status for r in changes])
        for r in busy:
            self.assertEqual(r.json()["code"], "BUSY")
            self.assertGreaterEqual(int(r.headers["Retry-After"]), 1)
            self.assertIn("this account", r.json()["message"])
        self.assertEqual(other.status, 200, other.text)  # another account is not refused


class PasswordQualityTest(CredentialsBase):

    def test_registration_refuses_weak_passwords(self):
        for pw, reason in (("12345678", "simplistic"), ("password", "dictionary word"),
                           ("aaaaaaaa", "DIFFERENT characters"), ("Lovelace-2024x", "last name"),
                           ("my-ada-password-9", "first name")):
            e = self.err(self.call("POST", USERS, body=dict(self.reg(), password=pw)), 400,
                         "WEAK_PASSWORD")
            self.assertIn(reason, e["message"], pw)
        email = "grace.hopper.%s@example.com" % uuid.uuid4().hex[:6]
        e = self.err(self.call("POST", USERS, body=dict(self.reg(), email=email,
                                                                    password="x" + email.split("@")[0] + "!")),
                     400, "WEAK_PASSWORD")
        self.assertIn("local part", e["message"])
        # the length rule stays a validation failure
        self.err(self.call("POST", USERS, body=dict(self.reg(), password="a" * 73)), 400,
                 "VALIDATION_FAILED")
        self.call("POST", USERS, body=self.reg(), status=202)

    def reg(self):
        return reg_body()

    def test_change_refuses_weak_passwords(self):
        pid, body, j = self.account()
        e = self.err(self.change(pid, j["accessToken"], "password"), 400, "WEAK_PASSWORD")
        self.assertIn("dictionary", e["message"])
        self.err(self.change(pid, j["accessToken"], "Lovelace#77"), 400, "WEAK_PASSWORD")
        # a new last name in the same body counts
        r = self.call("PATCH", USER, id=pid, token=j["accessToken"],
                      body={"lastName": "Zyxwvu", "password": "zyxwvu-9137", "currentPassword": PASSWORD})
        self.err(r, 400, "WEAK_PASSWORD")
        self.login(body["email"])  # unchanged

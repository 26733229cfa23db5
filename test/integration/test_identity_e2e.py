"""svc-identity end to end with the Fabric stand-in: register -> CREATE_USER committed -> UserCreated projected ->
the profile shows the on-chain status and a wallet exists. Skips when the peer, submitter or projector is not
built."""

import uuid

import gxtest
from gxtest import openapi as oa
from gxtest.chain import wait_command, wait_sql
from gxtest.services import ServiceTestCase


class IdentityEndToEndTest(ServiceTestCase):
    DAEMON, ENV, CHAIN, REFRESH_DOC = "svc-identity", {"BCRYPT_COST": "4"}, True, True

    def test_register_commit_project(self):
        body = {"email": "e2e.%s@example.com" % uuid.uuid4().hex[:8], "password": "e2e password 1",
                "firstName": "End", "lastName": "ToEnd", "nationalityCountryCode": "IN", "dateOfBirth": "1985-01-02"}
        r = gxtest.request("POST", self.api.url + "/api/v1/users", json_body=body)
        self.assertEqual(r.status, 202, r.text)
        oa.validate(self.doc, "POST", "/api/v1/users", 202, r)
        acc = r.json()
        pid = acc["aggregateId"]
        # the user can log in at once, before the chain has seen it
        r = gxtest.request("POST", self.api.url + "/api/v1/auth/login",
                           json_body={"email": body["email"], "password": body["password"]})
        self.assertEqual(r.status, 200, r.text)
        token = r.json()["accessToken"]
        doc = wait_command(self.api.url, acc["commandId"], token, want=("PROJECTED",), timeout=60)
        self.assertEqual(doc["commandType"], "CREATE_USER")
        self.assertIsNotNone(doc["fabricTxId"])
        oa.validate(self.doc, "GET", "/api/v1/commands/{commandId}", 200, doc)
        wait_sql(self.stack, "SELECT count(*) FROM \"Wallet\" WHERE \"profileId\" = '%s'" % pid, [("1",)])
        r = gxtest.request("GET", self.api.url + "/api/v1/users/" + pid, headers=gxtest.bearer(token))
        self.assertEqual(r.status, 200, r.text)
        oa.validate(self.doc, "GET", "/api/v1/users/{id}", 200, r)
        p = r.json()
        self.assertEqual(p["fabricUserId"], pid)
        self.assertEqual(p["onchainStatus"], "ACTIVE")
        self.assertEqual(p["status"], "ACTIVE")

"""The operator verbs of gxctl against a real PostgreSQL: create-super-admin (password from stdin or a file, bcrypt,
role SUPER_ADMIN, duplicate refused), commands list|show|requeue (audited, FAILED only), projector rebuild (needs
--yes; clears exactly the documented tables in one transaction) and token mint (verifiable HS256 token, refused in
production). Also --help and the exit codes 0/1/2 of every verb. The minted token and the new super admin are
checked against a running svc-admin."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import uuid

import gxtest
from gxtest.services import ServiceTestCase
from gxtest.sql import q
from gxtest.stack import _base_env

PASSWORD = "correct horse battery staple"


class GxctlAdminTest(ServiceTestCase):
    DAEMON, ENV = "svc-admin", None

    def run_gxctl(self, *args, stdin=None, env=None):
        """Run gxctl with DATABASE_URL and optional stdin bytes; returns (exit code, stdout, stderr)."""
        e = _base_env({"DATABASE_URL": self.stack.database_url, "LOG_LEVEL": "warn"})
        e.update(env or {})
        r = subprocess.run([os.path.join(gxtest.bin_dir(), "gxctl")] + list(args), input=stdin, env=e,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    # --- help and usage -----------------------------------------------------------------------------------------
    def test_help_and_usage(self):
        for verb in ("create-super-admin", "commands", "projector", "token"):
            rc, out, _ = self.run_gxctl(verb, "--help")
            self.assertEqual(rc, 0, verb)
            self.assertIn("usage: gxctl " + verb, out)
        rc, out, _ = self.run_gxctl("--help")
        for verb in ("create-super-admin", "commands", "projector", "token", "--version"):
            self.assertIn(verb, out)
        # the daemons' --version line: "<name> <version>", exit 0
        rc, out, err = self.run_gxctl("--version")
        self.assertEqual((rc, err), (0, ""), out)
        self.assertRegex(out, r"^gxctl \d+\.\d+\.\d+\S*\n$")
        if gxtest.have_binary("svc-tax"):
            daemon = subprocess.run([os.path.join(gxtest.bin_dir(), "svc-tax"), "--version"], stdout=subprocess.PIPE,
                                    timeout=30).stdout.decode()
            self.assertEqual(out.split(" ", 1)[1], daemon.split(" ", 1)[1])
        for args in (("create-super-admin",), ("create-super-admin", "--email"), ("commands",),
                     ("commands", "frob"), ("commands", "requeue"), ("commands", "list", "--limit", "0"),
                     ("commands", "requeue", "x", "--failed"), ("projector",), ("projector", "rebuild"),
                     ("token",), ("token", "mint", "--sub", "a"), ("token", "mint", "--sub", "a", "--role", "KING")):
            rc, out, err = self.run_gxctl(*args, stdin=b"")
            self.assertEqual(rc, 2, "%s -> %d %s %s" % (args, rc, out, err))
            self.assertTrue(err.strip(), args)
            self.assertLessEqual(len(err.strip().splitlines()), 30, args)

    # --- create-super-admin -----------------------------------------------------------------------------------
    def login_hash(self, email):
        rows = self.stack.psql('SELECT "role", "status", "passwordHash", "firstName" FROM "UserProfile"'
                               ' WHERE "email" = %s' % q(email))
        return rows

    def test_create_super_admin_stdin_and_file(self):
        email = "Root-%s@Example.com" % uuid.uuid4().hex[:8]
        rc, out, err = self.run_gxctl("create-super-admin", "--email", email, stdin=(PASSWORD + "\n").encode())
        self.assertEqual(rc, 0, err)
        self.assertIn("created SUPER_ADMIN", out)
        rows = self.login_hash(email.lower())
        self.assertEqual(len(rows), 1)
        role, status, phash, first = rows[0]
        self.assertEqual((role, status, first), ("SUPER_ADMIN", "VERIFIED", "Super"))
        self.assertTrue(phash.startswith("$2b$12$"), phash)
        self.assertNotIn(PASSWORD, phash)
        audit = self.stack.psql('SELECT "actorRole", "action" FROM "AdminAuditLog" WHERE "details"->>\'email\' = %s'
                                % q(email.lower()))
        self.assertEqual(audit, [("OPERATOR", "SUPER_ADMIN_CREATE")])
        # the same email again (any case) fails with exit 1 and one line
        rc, out, err = self.run_gxctl("create-super-admin", "--email", email.upper(), stdin=(PASSWORD + "\n").encode())
        self.assertEqual(rc, 1)
        self.assertIn("already exists", err)
        # from a file, with names
        pwfile = os.path.join(self.stack.root, "pw.txt")
        with open(pwfile, "w") as f:
            f.write(PASSWORD + "\r\n")
        email2 = "ops-%s@example.com" % uuid.uuid4().hex[:8]
        rc, out, err = self.run_gxctl("create-super-admin", "--email", email2, "--password-file", pwfile,
                                      "--first-name", "Ada", "--last-name", "Ops")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.login_hash(email2)[0][0::3], ("SUPER_ADMIN", "Ada"))
        # bad inputs
        self.assertEqual(self.run_gxctl("create-super-admin", "--email", "nope", stdin=b"x" * 12 + b"\n")[0], 2)
        self.assertEqual(self.run_gxctl("create-super-admin", "--email", "a@example.com", stdin=b"short\n")[0], 2)
        self.assertEqual(self.run_gxctl("create-super-admin", "--email", "b@example.com", stdin=b"")[0], 2)
        # the password policy of the APIs: a dictionary word, or one containing the email or a name
        for pw in (b"password\n", b"12345678\n", b"aaaaaaaa\n", b"Zx-nightowl-2024\n"):
            rc, _, err = self.run_gxctl("create-super-admin", "--email", "nightowl@example.com", stdin=pw)
            self.assertEqual(rc, 2, (pw, err))
            self.assertIn("the password", err)
        self.assertEqual(self.run_gxctl("create-super-admin", "--email", "c@example.com", "--password-file",
                                        "/nonexistent/pw")[0], 1)
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "UserProfile" WHERE "email" LIKE \'_@example.com\''
                                         ' OR "email" = \'nightowl@example.com\''),
                         [("0",)])

    def test_create_super_admin_db_down_config(self):
        rc, _, err = self.run_gxctl("create-super-admin", "--email", "d@example.com", stdin=(PASSWORD + "\n").encode(),
                                    env={"DATABASE_URL": "mysql://nope"})
        self.assertEqual(rc, 2, err)

    # --- token mint ---------------------------------------------------------------------------------------------
    def test_token_mint(self):
        env = {"JWT_SECRET": gxtest.TEST_JWT_SECRET}
        sub = str(uuid.uuid4())
        rc, out, err = self.run_gxctl("token", "mint", "--sub", sub, "--role", "ADMIN", "--ttl", "120", env=env)
        self.assertEqual(rc, 0, err)
        tok = out.strip()
        h, p, s = tok.split(".")
        key = gxtest.TEST_JWT_SECRET.encode() if isinstance(gxtest.TEST_JWT_SECRET, str) else gxtest.TEST_JWT_SECRET
        want = base64.urlsafe_b64encode(hmac.new(key, (h + "." + p).encode(), hashlib.sha256).digest()).rstrip(b"=")
        self.assertEqual(s.encode(), want)
        claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
        self.assertEqual((claims["sub"], claims["role"], claims["aud"], claims["tenantId"]),
                         (sub, "ADMIN", "gx-api", "default"))
        self.assertEqual(claims["exp"] - claims["iat"], 120)
        # the running API accepts it (ADMIN route), and refuses it on a SUPER_ADMIN route
        r = gxtest.request("GET", self.api.url + "/api/v1/counters", headers=gxtest.bearer(tok))
        self.assertEqual(r.status, 200, r.text)
        r = gxtest.request("POST", self.api.url + "/api/v1/system/resume", headers=gxtest.bearer(tok))
        self.assertEqual(r.status, 403, r.text)
        rc, out, err = self.run_gxctl("token", "mint", "--sub", sub, "--role", "ADMIN",
                                      env=dict(env, GX_ENV="production"))
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("production", err)
        self.assertEqual(self.run_gxctl("token", "mint", "--sub", sub, "--role", "USER", env={"JWT_SECRET": "short"})[0],
                         2)
        self.assertEqual(self.run_gxctl("token", "mint", "--sub", sub, "--role", "USER", "--ttl", "0", env=env)[0], 2)

    # --- commands -------------------------------------------------------------------------------------------------
    def seed(self, status, error_code=None, ctype="TRANSFER_TOKENS"):
        cid = str(uuid.uuid4())
        self.stack.psql('INSERT INTO "OutboxCommand" ("id", "tenantId", "service", "commandType", "requestId",'
                        ' "payload", "status", "attempts", "errorCode", "error", "fabricTxId", "aggregateId")'
                        ' VALUES (%s, \'default\', \'svc-test\', %s, %s, \'{}\', %s, 4, %s, %s, \'tx-1\', \'system\')'
                        % (q(cid), q(ctype), q(cid), q(status), q(error_code),
                           q("boom" if error_code else None)))
        return cid

    def test_commands_verbs(self):
        self.stack.psql('DELETE FROM "OutboxCommand"; DELETE FROM "AdminAuditLog" WHERE "action" = \'COMMAND_REQUEUE\'')
        f1, f2, f3 = self.seed("FAILED", "FABRIC_UNAVAILABLE"), self.seed("FAILED", "FABRIC_DEADLINE_EXCEEDED"), \
            self.seed("FAILED", "TX_MVCC_READ_CONFLICT", "PAUSE_SYSTEM")
        ok = self.seed("PROJECTED")
        rc, out, err = self.run_gxctl("commands", "list", "--status", "FAILED")
        self.assertEqual(rc, 0, err)
        for cid in (f1, f2, f3):
            self.assertIn(cid, out)
        self.assertNotIn(ok, out)
        self.assertIn("(3 commands)", out)
        rc, out, _ = self.run_gxctl("commands", "list", "--type", "PAUSE_SYSTEM")
        self.assertIn(f3, out)
        self.assertNotIn(f1, out)
        rc, out, _ = self.run_gxctl("commands", "show", f1)
        self.assertEqual(rc, 0)
        doc = json.loads(out)
        self.assertEqual((doc["id"], doc["status"], doc["errorCode"]), (f1, "FAILED", "FABRIC_UNAVAILABLE"))
        self.assertEqual(self.run_gxctl("commands", "show", str(uuid.uuid4()))[0], 1)
        # by id: one FAILED and one not -> the FAILED one is re-queued, exit 1 names the other
        rc, out, err = self.run_gxctl("commands", "requeue", f1, ok)
        self.assertEqual(rc, 1)
        self.assertIn("requeued " + f1, out)
        self.assertIn(ok, err)
        row = self.stack.psql('SELECT "status", "attempts", coalesce("fabricTxId", \'-\'), coalesce("errorCode", \'-\')'
                              ' FROM "OutboxCommand" WHERE "id" = %s' % q(f1))
        self.assertEqual(row, [("PENDING", "0", "tx-1", "-")])
        # by filter
        rc, out, err = self.run_gxctl("commands", "requeue", "--failed", "--error-code", "FABRIC_DEADLINE_EXCEEDED")
        self.assertEqual(rc, 0, err)
        self.assertIn("requeued " + f2, out)
        self.assertNotIn(f3, out)
        audit = self.stack.psql('SELECT "targetId", "actorRole", "actorId" LIKE \'gxctl:%%\' FROM "AdminAuditLog"'
                                ' WHERE "action" = \'COMMAND_REQUEUE\' ORDER BY "createdAt"')
        self.assertEqual([a[0] for a in audit], [f1, f2])
        self.assertEqual({a[1:] for a in audit}, {("OPERATOR", "t")})
        rc, out, _ = self.run_gxctl("commands", "requeue", "--failed")
        self.assertIn("requeued " + f3, out)
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "status" = \'FAILED\''),
                         [("0",)])

    def test_commands_requeue_refuses_business_refusals(self):
        self.stack.psql('DELETE FROM "OutboxCommand"; DELETE FROM "AdminAuditLog" WHERE "action" = \'COMMAND_REQUEUE\'')
        funds, paused = self.seed("FAILED", "CHAINCODE_409"), self.seed("FAILED", "CHAINCODE_423")
        retry = self.seed("FAILED", "FABRIC_DEADLINE_EXCEEDED")
        # the list says which may be re-queued (column RQ)
        rc, out, err = self.run_gxctl("commands", "list", "--status", "FAILED")
        self.assertEqual(rc, 0, err)
        self.assertIn("RQ", out.splitlines()[0])
        flags = {line.split()[0]: line.split()[5] for line in out.splitlines()[1:-1]}
        self.assertEqual(flags, {funds: "no", paused: "no", retry: "yes"})
        # by id: refused with the stored code, exit 1; the row stays FAILED, no audit record
        rc, out, err = self.run_gxctl("commands", "requeue", funds)
        self.assertEqual(rc, 1, out + err)
        self.assertIn(funds, err)
        self.assertIn("NOT_REQUEUEABLE", err)
        self.assertIn("CHAINCODE_409", err)
        self.assertNotIn("requeued " + funds, out)
        # mixed: the retryable one goes, the refusal is named, exit 1
        rc, out, err = self.run_gxctl("commands", "requeue", paused, retry)
        self.assertEqual(rc, 1)
        self.assertIn("requeued " + retry, out)
        self.assertIn("CHAINCODE_423", err)
        # by filter: nothing left to re-queue, the refusals are listed as skipped
        rc, out, err = self.run_gxctl("commands", "requeue", "--failed")
        self.assertEqual(rc, 0, err)
        self.assertIn("(0 commands re-queued)", out)
        skipped = [line.split()[1] for line in out.splitlines() if line.startswith("skipped")]
        self.assertEqual(sorted(skipped), sorted([funds, paused]))
        self.assertEqual(self.stack.psql('SELECT "id" FROM "OutboxCommand" WHERE "status" = \'FAILED\' ORDER BY "id"'),
                         sorted([(funds,), (paused,)]))
        audit = self.stack.psql('SELECT "targetId" FROM "AdminAuditLog" WHERE "action" = \'COMMAND_REQUEUE\'')
        self.assertEqual(audit, [(retry,)])

    # --- projector rebuild ------------------------------------------------------------------------------------
    def test_projector_rebuild(self):
        st = self.stack
        pid = str(uuid.uuid4())
        st.psql('INSERT INTO "ProjectorState" ("tenantId", "projectorName", "channel", "lastBlock", "lastEventIndex")'
                " VALUES ('default', 'projector', 'gxchannel', 42, 0)")
        st.psql('INSERT INTO "EventLog" ("tenantId", "fabricTxId", "blockNumber", "channel", "chaincode", "eventName",'
                " \"eventVersion\", \"payload\", \"txTimestamp\") VALUES ('default', 't', 1, 'gxchannel', 'gxtv3',"
                " 'SystemPaused', '1', '{}', now())")
        st.psql('INSERT INTO "TreasuryAccount" ("accountId", "tenantId", "countryCode", "balanceQirat") VALUES'
                " ('treasury_IN', 'default', 'IN', 5) ON CONFLICT DO NOTHING")
        st.psql('INSERT INTO "UserProfile" ("profileId", "tenantId", "firstName", "lastName", "biometricHash",'
                ' "passwordHash", "onchainStatus") VALUES (%s, \'default\', \'a\', \'b\', %s, \'x\', \'ACTIVE\')'
                % (q(pid), q(hashlib.sha256(pid.encode()).hexdigest())))
        st.psql('INSERT INTO "Wallet" ("tenantId", "profileId", "primaryAccountId", "walletName", "balanceQirat",'
                ' "isFrozen") VALUES (\'default\', %s, %s, \'w\', 77, true)' % (q(pid), q("acct-" + pid[:8])))
        proj = self.seed("PROJECTED")
        params_before = st.psql('SELECT count(*) FROM "SystemParameter"')
        self.assertEqual(self.run_gxctl("projector", "rebuild")[0], 2)
        self.assertEqual(st.psql('SELECT count(*) FROM "ProjectorState"'), [("1",)])
        rc, out, err = self.run_gxctl("projector", "rebuild", "--yes")
        self.assertEqual(rc, 0, err)
        for table in ("ProjectorState", "EventLog", "TreasuryAccount", "Transaction", "SystemAccount"):
            self.assertEqual(st.psql('SELECT count(*) FROM "%s"' % table), [("0",)], table)
        self.assertEqual(st.psql('SELECT "balanceQirat"::text, "isFrozen" FROM "Wallet" WHERE "profileId" = %s' % q(pid)),
                         [("0", "f")])
        self.assertEqual(st.psql('SELECT coalesce("onchainStatus", \'-\') FROM "UserProfile" WHERE "profileId" = %s'
                                 % q(pid)), [("-",)])
        self.assertEqual(st.psql('SELECT "status" FROM "OutboxCommand" WHERE "id" = %s' % q(proj)), [("COMMITTED",)])
        self.assertEqual(st.psql('SELECT count(*) FROM "SystemParameter"'), params_before)
        self.assertEqual(st.psql('SELECT count(*) FROM "AdminAuditLog" WHERE "action" = \'PROJECTOR_REBUILD\''),
                         [("1",)])

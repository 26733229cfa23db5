"""Schema migrations and seed data through `gxctl`, against a throwaway PostgreSQL 15.

Each test works in its own database of one cluster: apply on an empty database, re-run as a no-op, refusal of a
changed file, concurrent runs, adoption of a database made by the original's Prisma migration, seed idempotency,
status output and the CLI's exit codes.
"""

import glob
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import gxtest  # noqa: E402

SQL_DIR = os.path.join(gxtest.REPO_ROOT, "common", "sql")
MIGRATIONS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(SQL_DIR, "[0-9][0-9][0-9][0-9]_*.sql")))
VERSIONS = [int(m[:4]) for m in MIGRATIONS]

# A database as the original's Prisma migration left it (a representative subset: the tables 0002 must convert,
# with the original's types, no id/updatedAt defaults, the 2-value CommandType and the old unique keys).
PRISMA_DDL = r"""
CREATE TABLE "_prisma_migrations" (id VARCHAR(36) PRIMARY KEY, migration_name VARCHAR(255) NOT NULL);
CREATE TYPE "OutboxStatus" AS ENUM ('PENDING', 'LOCKED', 'SUBMITTED', 'COMMITTED', 'FAILED');
CREATE TYPE "CommandType" AS ENUM ('CREATE_USER', 'TRANSFER_TOKENS');
CREATE TYPE "UserProfileStatus" AS ENUM ('PENDING_VERIFICATION', 'VERIFIED', 'REJECTED', 'SUSPENDED', 'CLOSED');
CREATE TYPE "OffChainTxType" AS ENUM ('MINT', 'SENT', 'RECEIVED', 'TAX', 'LOAN_DISBURSEMENT', 'LOAN_REPAYMENT');
CREATE TABLE "OutboxCommand" (
    "id" TEXT NOT NULL, "tenantId" TEXT NOT NULL, "service" TEXT NOT NULL, "commandType" "CommandType" NOT NULL,
    "requestId" TEXT NOT NULL, "payload" JSONB NOT NULL, "status" "OutboxStatus" NOT NULL DEFAULT 'PENDING',
    "attempts" INTEGER NOT NULL DEFAULT 0, "lockedBy" TEXT, "lockedAt" TIMESTAMPTZ(3), "submittedAt" TIMESTAMPTZ(3),
    "fabricTxId" TEXT, "commitBlock" BIGINT, "errorCode" TEXT, "error" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "OutboxCommand_pkey" PRIMARY KEY ("id"));
CREATE UNIQUE INDEX "OutboxCommand_tenantId_requestId_key" ON "OutboxCommand"("tenantId", "requestId");
CREATE INDEX "OutboxCommand_status_createdAt_idx" ON "OutboxCommand"("status", "createdAt");
CREATE TABLE "HttpIdempotency" (
    "tenantId" TEXT NOT NULL, "method" TEXT NOT NULL, "path" TEXT NOT NULL, "bodyHash" TEXT NOT NULL,
    "responseBody" JSONB NOT NULL, "responseHeaders" JSONB, "statusCode" INTEGER NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "ttlExpiresAt" TIMESTAMPTZ(3),
    CONSTRAINT "HttpIdempotency_pkey" PRIMARY KEY ("tenantId", "method", "path", "bodyHash"));
CREATE TABLE "Country" ("countryCode" CHAR(2) NOT NULL, "countryName" TEXT NOT NULL, "region" TEXT,
    CONSTRAINT "Country_pkey" PRIMARY KEY ("countryCode"));
CREATE TABLE "UserProfile" (
    "profileId" TEXT NOT NULL, "tenantId" TEXT NOT NULL, "firstName" TEXT NOT NULL, "lastName" TEXT NOT NULL,
    "email" TEXT, "phoneNum" TEXT, "identityNum" TEXT, "biometricHash" TEXT NOT NULL, "passwordHash" TEXT NOT NULL,
    "nationalityCountryCode" CHAR(2), "status" "UserProfileStatus" NOT NULL DEFAULT 'PENDING_VERIFICATION',
    "deletedAt" TIMESTAMPTZ(3), "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL, CONSTRAINT "UserProfile_pkey" PRIMARY KEY ("profileId"));
CREATE UNIQUE INDEX "UserProfile_email_key" ON "UserProfile"("email");
CREATE UNIQUE INDEX "UserProfile_biometricHash_key" ON "UserProfile"("biometricHash");
ALTER TABLE "UserProfile" ADD CONSTRAINT "UserProfile_nationalityCountryCode_fkey" FOREIGN KEY
    ("nationalityCountryCode") REFERENCES "Country"("countryCode") ON DELETE SET NULL ON UPDATE CASCADE;
CREATE TABLE "Wallet" (
    "walletId" TEXT NOT NULL, "tenantId" TEXT NOT NULL, "profileId" TEXT NOT NULL, "primaryAccountId" TEXT NOT NULL,
    "walletName" TEXT NOT NULL, "cachedBalance" DECIMAL(36,9) NOT NULL DEFAULT 0, "deletedAt" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "Wallet_pkey" PRIMARY KEY ("walletId"));
ALTER TABLE "Wallet" ADD CONSTRAINT "Wallet_profileId_fkey" FOREIGN KEY ("profileId")
    REFERENCES "UserProfile"("profileId") ON DELETE CASCADE ON UPDATE CASCADE;
CREATE TABLE "Transaction" (
    "offTxId" TEXT NOT NULL, "tenantId" TEXT NOT NULL, "onChainTxId" TEXT, "walletId" TEXT NOT NULL,
    "type" "OffChainTxType" NOT NULL, "counterparty" TEXT NOT NULL, "amount" DECIMAL(36,9) NOT NULL,
    "fee" DECIMAL(36,9) NOT NULL DEFAULT 0, "remark" TEXT, "timestamp" TIMESTAMPTZ(3) NOT NULL, "blockNumber" BIGINT,
    CONSTRAINT "Transaction_pkey" PRIMARY KEY ("offTxId"));
CREATE UNIQUE INDEX "Transaction_tenantId_onChainTxId_key" ON "Transaction"("tenantId", "onChainTxId");
ALTER TABLE "Transaction" ADD CONSTRAINT "Transaction_walletId_fkey" FOREIGN KEY ("walletId")
    REFERENCES "Wallet"("walletId") ON DELETE CASCADE ON UPDATE CASCADE;
CREATE TABLE "FamilyRelationship" ("relationshipId" TEXT PRIMARY KEY);

INSERT INTO "Country" VALUES ('DE', 'Germany', 'Europe');
INSERT INTO "UserProfile" ("profileId", "tenantId", "firstName", "lastName", "email", "biometricHash",
    "passwordHash", "nationalityCountryCode", "updatedAt")
    VALUES ('p1', 'default', 'Ada', 'L', 'ada@example.com', 'bio1', '$2a$12$x', 'DE', now());
INSERT INTO "Wallet" VALUES ('w1', 'default', 'p1', 'acc1', 'Primary', 12.5, NULL, now(), now());
INSERT INTO "Transaction" VALUES ('t1', 'default', 'tx1', 'w1', 'RECEIVED', 'p2', 3.25, 0.01, NULL, now(), 7);
INSERT INTO "OutboxCommand" ("id", "tenantId", "service", "commandType", "requestId", "payload", "updatedAt")
    VALUES ('c1', 'default', 'svc-identity', 'CREATE_USER', 'r1', '{}', now());
"""

# Catalog facts that must agree between a fresh and an adopted database, for the tables a fresh one has.
CATALOG_SQL = {
    "columns": """
        SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' nn=' || a.attnotnull
               || ' gen=' || a.attgenerated::text || ' def=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND c.relname <> '_gx_migrations'""",
    "indexes": """
        SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_gx_migrations'""",
    "constraints": """
        SELECT c.relname || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
        WHERE c.relname <> '_gx_migrations'""",
    "enums": """
        SELECT t.typname || ': ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
        FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname""",
}


class MigrateTest(gxtest.GxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not gxtest.have_binary("gxctl"):
            raise unittest.SkipTest("gxctl is not built in %s" % gxtest.bin_dir())
        cls.stack.start_pg()
        cls.ndb = 0

    # --- helpers -------------------------------------------------------------------------------------------------
    def newdb(self):
        type(self).ndb += 1
        name = "m%d" % self.ndb
        self.stack.pg.psql("CREATE DATABASE %s" % name, db="postgres")
        return name

    def url(self, db):
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.stack.pg.port, db)

    def gx(self, db, *args, check=True, env=None):
        e = {"DATABASE_URL": self.url(db)}
        e.update(env or {})
        return self.stack.gxctl(*args, env=e, check=check)

    def q(self, db, sql):
        return self.stack.pg.psql(sql, db=db)

    def applied(self, db):
        return [(int(v), n) for v, n in self.q(db, 'SELECT version, name FROM "_gx_migrations" ORDER BY version')]

    def catalog(self, db, tables=None):
        out = {}
        for key, sql in CATALOG_SQL.items():
            rows = {r[0] for r in self.q(db, sql)}
            if tables is not None and key != "enums":
                rows = {r for r in rows if self._table_of(key, r) in tables}
            out[key] = rows
        return out

    @staticmethod
    def _table_of(key, row):
        if key == "indexes":
            return re.search(r' ON public\."?([^" ]+)"? ', row).group(1)
        return re.match(r'([^ .]+)', row).group(1)

    # --- tests ---------------------------------------------------------------------------------------------------
    def test_fresh_apply_then_rerun_is_noop(self):
        db = self.newdb()
        r = self.gx(db, "migrate", "up")
        self.assertIn("applied migration 0001_init.sql", r.stdout)
        self.assertEqual(self.applied(db), list(zip(VERSIONS, MIGRATIONS)))
        tables = {t for (t,) in self.q(db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        for t in ("OutboxCommand", "HttpIdempotency", "ProjectorState", "EventLog", "EventDLQ", "UserProfile",
                  "KYCVerification", "Wallet", "Transaction", "Organization", "MultiSigTransaction", "Loan",
                  "Proposal", "ProposalVote", "SystemParameter", "Country", "RefreshToken", "AdminAuditLog",
                  "TreasuryAccount", "UserSession", "_gx_migrations"):
            self.assertIn(t, tables)
        commands = {v for (v,) in self.q(db, "SELECT unnest(enum_range(NULL::\"CommandType\"))::text")}
        for c in ("CREATE_USER", "INITIALIZE_COUNTRY_DATA", "CAST_VOTE", "REPAY_LOAN", "MINT",
                  "UPDATE_SYSTEM_PARAMETER", "APPLY_VELOCITY_TAX"):
            self.assertIn(c, commands)
        self.assertIn(("PROJECTED",), self.q(db, "SELECT unnest(enum_range(NULL::\"OutboxStatus\"))::text"))

        before = self.q(db, 'SELECT version, "appliedAt", checksum FROM "_gx_migrations" ORDER BY version')
        schema_before = self.catalog(db)
        r = self.gx(db, "migrate", "up")
        self.assertIn("nothing to apply", r.stdout)
        self.assertNotIn("applied migration", r.stdout)
        self.assertEqual(before, self.q(db, 'SELECT version, "appliedAt", checksum FROM "_gx_migrations" '
                                            'ORDER BY version'))
        self.assertEqual(schema_before, self.catalog(db))

    def test_defaults_money_and_keys(self):
        db = self.newdb()
        self.gx(db, "migrate", "up")
        self.q(db, """
            INSERT INTO "UserProfile" ("tenantId", "firstName", "lastName", "email", "biometricHash", "passwordHash")
            VALUES ('default', 'A', 'B', 'a@example.com', 'h1', 'x');""")
        (pid, upd), = self.q(db, 'SELECT "profileId", "updatedAt" IS NOT NULL FROM "UserProfile"')
        self.assertRegex(pid, r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        self.assertEqual(upd, "t")
        with self.assertRaises(AssertionError):  # emails are unique case-insensitively
            self.q(db, """INSERT INTO "UserProfile" ("tenantId", "firstName", "lastName", "email", "biometricHash",
                "passwordHash") VALUES ('default', 'A', 'B', 'A@Example.com', 'h2', 'x')""")
        # balances: exact Qirat, coins derived and read-only; u64 range fits
        self.q(db, """INSERT INTO "Wallet" ("walletId", "tenantId", "profileId", "primaryAccountId", "walletName",
            "balanceQirat") VALUES ('w1', 'default', '%s', 'acc1', 'P', 18446744073709551615),
            ('w2', 'default', '%s', 'acc2', 'P', 1)""" % (pid, pid))
        self.assertEqual(self.q(db, 'SELECT "cachedBalance"::text FROM "Wallet" ORDER BY "walletId"'),
                         [("184467440737095.516150000",), ("0.000010000",)])
        with self.assertRaises(AssertionError):
            self.q(db, 'UPDATE "Wallet" SET "cachedBalance" = 1')
        with self.assertRaises(AssertionError):
            self.q(db, 'UPDATE "Wallet" SET "balanceQirat" = -1')
        # one history row per wallet side of a transaction, never two for the same side
        self.q(db, """INSERT INTO "Transaction" ("tenantId", "onChainTxId", "walletId", "type", "counterparty",
            "timestamp", "amountQirat", "feeQirat") VALUES
            ('default', 'tx1', 'w1', 'SENT', 'w2', now(), 100000, 50),
            ('default', 'tx1', 'w2', 'RECEIVED', 'w1', now(), 100000, 0)""")
        self.assertEqual(self.q(db, 'SELECT amount::text, fee::text FROM "Transaction" WHERE "walletId" = \'w1\''),
                         [("1.000000000", "0.000500000")])
        with self.assertRaises(AssertionError):
            self.q(db, """INSERT INTO "Transaction" ("tenantId", "onChainTxId", "walletId", "type", "counterparty",
                "timestamp", "amountQirat") VALUES ('default', 'tx1', 'w1', 'SENT', 'w2', now(), 1)""")
        # outbox rows get an id, a next-attempt time and PENDING
        self.q(db, """INSERT INTO "OutboxCommand" ("tenantId", "service", "commandType", "requestId", "payload")
            VALUES ('default', 'svc-admin', 'INITIALIZE_COUNTRY_DATA', 'r1', '{}')""")
        self.assertEqual(self.q(db, 'SELECT status, "nextAttemptAt" IS NOT NULL, length(id) FROM "OutboxCommand"'),
                         [("PENDING", "t", "36")])
        # one vote per proposal and voter; treasury ids are treasury_<CC>
        self.q(db, """INSERT INTO "Proposal" ("proposalId", "tenantId", "proposerId", "proposalType", "status")
            VALUES ('pr1', 'default', 'u1', 'PARAMETER', 'ACTIVE');
            INSERT INTO "ProposalVote" ("tenantId", "proposalId", "voterId", "vote") VALUES
            ('default', 'pr1', 'u1', 'FOR')""")
        with self.assertRaises(AssertionError):
            self.q(db, """INSERT INTO "ProposalVote" ("tenantId", "proposalId", "voterId", "vote")
                VALUES ('default', 'pr1', 'u1', 'AGAINST')""")
        self.q(db, """INSERT INTO "TreasuryAccount" ("accountId", "tenantId", "countryCode")
            VALUES ('treasury_DE', 'default', 'DE')""")
        with self.assertRaises(AssertionError):
            self.q(db, """INSERT INTO "TreasuryAccount" ("accountId", "tenantId", "countryCode")
                VALUES ('treasury-FR', 'default', 'FR')""")

    def test_changed_file_is_refused(self):
        db = self.newdb()
        self.gx(db, "migrate", "up")
        self.q(db, "UPDATE \"_gx_migrations\" SET checksum = repeat('0', 64) WHERE version = 1")
        r = self.gx(db, "migrate", "up", check=False)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("0001_init.sql", r.stdout)
        self.assertIn("changed after it was applied", r.stdout)
        r = self.gx(db, "migrate", "status", check=False)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertRegex(r.stdout, r"0001\s+0001_init.sql\s+\S+\s+CHANGED")
        # the lock was released: once the record is right again, up works
        self.q(db, "DELETE FROM \"_gx_migrations\" WHERE version = 1")
        r = self.gx(db, "migrate", "up", check=False)
        self.assertEqual(r.returncode, 1)  # 0001 would now run again on existing types: refused by PostgreSQL
        self.assertIn("migration 0001_init.sql failed, rolled back", r.stdout)

    def test_concurrent_runs_do_not_collide(self):
        db = self.newdb()
        env = dict(os.environ, DATABASE_URL=self.url(db), LOG_LEVEL="info")
        for k in [k for k in env if k.startswith("PG")]:
            del env[k]
        exe = os.path.join(gxtest.bin_dir(), "gxctl")
        procs = [subprocess.Popen([exe, "migrate", "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL) for _ in range(4)]
        outs = [p.communicate(timeout=120)[0].decode() for p in procs]
        for p, out in zip(procs, outs):
            self.assertEqual(p.returncode, 0, out)
            self.assertNotIn('"level":"error"', out)
        self.assertEqual(self.applied(db), list(zip(VERSIONS, MIGRATIONS)))
        # exactly one run applied each file
        total = sum(len(re.findall(r"applied migration ", out)) for out in outs)
        self.assertEqual(total, len(MIGRATIONS))

    def test_adopt_prisma_database(self):
        fresh = self.newdb()
        self.gx(fresh, "migrate", "up")
        db = self.newdb()
        self.q(db, PRISMA_DDL)
        r = self.gx(db, "migrate", "up")
        self.assertIn("recorded as baseline", r.stdout)
        self.assertNotIn("applied migration 0001_init.sql", r.stdout)
        self.assertIn("applied migration 0002_adopt_prisma.sql", r.stdout)
        self.assertEqual([v for v, _ in self.applied(db)], VERSIONS)
        self.assertEqual(self.q(db, 'SELECT baseline FROM "_gx_migrations" WHERE version = 1'), [("t",)])
        # data kept and converted to Qirat
        self.assertEqual(self.q(db, 'SELECT "balanceQirat"::text, "cachedBalance"::text FROM "Wallet"'),
                         [("1250000", "12.500000000")])
        self.assertEqual(self.q(db, 'SELECT "amountQirat"::text, "feeQirat"::text FROM "Transaction"'),
                         [("325000", "1000")])
        self.assertEqual(self.q(db, 'SELECT id, status, "nextAttemptAt" IS NOT NULL FROM "OutboxCommand"'),
                         [("c1", "PENDING", "t")])
        self.assertEqual(self.q(db, 'SELECT role FROM "UserProfile"'), [("USER",)])
        # the original's other tables are left alone
        self.assertEqual(self.q(db, "SELECT to_regclass('\"FamilyRelationship\"') IS NOT NULL"), [("t",)])
        # same schema as a fresh database for every table, index, constraint and enum 0001 creates
        want = self.catalog(fresh)
        tables = {self._table_of("columns", c) for c in want["columns"]}
        got = self.catalog(db, tables)
        for key in ("columns", "indexes", "constraints"):
            self.assertEqual(sorted(want[key] - got[key]), [], "%s missing after adoption" % key)
            self.assertEqual(sorted(got[key] - want[key]), [], "%s extra after adoption" % key)
        self.assertEqual(sorted(want["enums"] - got["enums"]), [])
        # and it stays put
        r = self.gx(db, "migrate", "up")
        self.assertIn("nothing to apply", r.stdout)

    def test_adoption_migration_is_noop_on_fresh_schema(self):
        db = self.newdb()
        psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.stack.pg.port),
                "-U", "postgres", "-d", db]
        dump = ["pg_dump", "-s", "-h", "127.0.0.1", "-p", str(self.stack.pg.port), "-U", "postgres", db]

        def schema():
            out = subprocess.run(dump, check=True, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL).stdout.decode()
            return [l for l in out.splitlines() if not l.startswith(("\\restrict", "\\unrestrict"))]

        subprocess.run(psql + ["-1", "-f", os.path.join(SQL_DIR, "0001_init.sql")], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = schema()
        subprocess.run(psql + ["-1", "-f", os.path.join(SQL_DIR, "0002_adopt_prisma.sql")], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.assertEqual(before, schema())

    def test_seed_is_idempotent(self):
        db = self.newdb()
        r = self.gx(db, "seed", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("schema behind: at 0", r.stdout)
        self.gx(db, "migrate", "up")
        r = self.gx(db, "seed")
        self.assertIn("countries: 249 inserted, 0 updated, 0 unchanged", r.stdout)
        self.assertEqual(self.q(db, 'SELECT count(*) FROM "Country"'), [("249",)])
        self.assertEqual(self.q(db, 'SELECT "countryName", alpha3, "numericCode" FROM "Country" '
                                    "WHERE \"countryCode\" = 'DE'"), [("Germany", "DEU", "276")])
        # operator edits survive, missing codes are filled in
        self.q(db, """UPDATE "Country" SET "countryName" = 'Deutschland', region = 'Europe', alpha3 = NULL
            WHERE "countryCode" = 'DE'""")
        r = self.gx(db, "seed")
        self.assertIn("countries: 0 inserted, 1 updated, 248 unchanged", r.stdout)
        self.assertEqual(self.q(db, 'SELECT "countryName", region, alpha3 FROM "Country" '
                                    "WHERE \"countryCode\" = 'DE'"), [("Deutschland", "Europe", "DEU")])
        self.assertEqual(self.q(db, 'SELECT count(*) FROM "Country"'), [("249",)])

    def test_seed_source_file(self):
        db = self.newdb()
        self.gx(db, "migrate", "up")
        path = os.path.join(self.stack.root, "iso.json")
        with open(path, "w") as f:
            f.write('{"3166-1": [{"alpha_2": "XK", "alpha_3": "XKX", "name": "Kosovo"}]}')
        r = self.gx(db, "seed", env={"GX_ISO3166_JSON": path})
        self.assertIn("countries: 1 inserted", r.stdout)
        with open(path, "w") as f:
            f.write('{"3166-1": [{"alpha_2": "x1", "name": "Bad"}]}')
        r = self.gx(db, "seed", env={"GX_ISO3166_JSON": path}, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad ISO 3166-1 entry", r.stdout)
        r = self.gx(db, "seed", env={"GX_ISO3166_JSON": path + ".missing"}, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot open", r.stdout)
        self.assertEqual(self.q(db, 'SELECT "countryCode" FROM "Country"'), [("XK",)])

    def test_status_output(self):
        db = self.newdb()
        r = self.gx(db, "migrate", "status")
        for m in MIGRATIONS:
            self.assertRegex(r.stdout, r"%04d\s+%s\s+pending\s+-" % (int(m[:4]), re.escape(m)))
        self.assertIn("schema at version 0, this binary needs %d: %d pending, 0 changed"
                      % (VERSIONS[-1], len(MIGRATIONS)), r.stdout)
        self.gx(db, "migrate", "up")
        r = self.gx(db, "migrate", "status")
        for m in MIGRATIONS:
            self.assertRegex(r.stdout, r"%04d\s+%s\s+\d{4}-\d\d-\d\dT\S+Z\s+ok" % (int(m[:4]), re.escape(m)))
        self.assertIn("schema at version %d, this binary needs %d: 0 pending, 0 changed"
                      % (VERSIONS[-1], VERSIONS[-1]), r.stdout)

    def test_cli_usage_and_exit_codes(self):
        db = self.newdb()
        self.assertEqual(self.gx(db, check=False).returncode, 2)
        self.assertEqual(self.gx(db, "frobnicate", check=False).returncode, 2)
        self.assertEqual(self.gx(db, "migrate", check=False).returncode, 2)
        self.assertEqual(self.gx(db, "migrate", "sideways", check=False).returncode, 2)
        self.assertEqual(self.gx(db, "seed", "extra", check=False).returncode, 2)
        r = self.gx(db, "--help")
        self.assertIn("migrate", r.stdout)
        self.assertIn("seed", r.stdout)
        r = self.gx(db, "migrate", "--help")
        self.assertIn("migrate up", r.stdout)
        self.assertIn("migrate status", r.stdout)
        self.assertIn("gxctl seed", self.gx(db, "seed", "--help").stdout)
        r = self.gx(db, "migrate", "up", check=False, env={"DATABASE_URL": "mysql://u@h/db"})
        self.assertEqual(r.returncode, 2, r.stdout)
        r = self.gx(db, "migrate", "up", check=False,
                    env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:%d/x" % gxtest.free_port()})
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("connect", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)

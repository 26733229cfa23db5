"""gxctl reconcile against real PostgreSQL, the Fabric stand-in and a running projector (docs/reconcile.md): clean
after a demo-like chain (genesis, transfers, freeze, organization with a multi-signature payment, loan, proposals
with votes, parameters), paged; a hand-edited balance, a deleted wallet-history row and an event the projector
skipped (checkpoint moved past it) are each reported with the ledger's and the read model's figures; --repair makes
it clean again; exit codes 0/1/2/3. The chain is driven with the C Fabric client as in test_projector."""

import json
import threading
import time
import uuid

import gxtest
from gxtest import openapi as oa
from test_projector import USERS, ProjectorTestBase, WAIT, scenario, scenario_tail, tx

FAST = ("--recheck-rounds", "1", "--recheck-interval-ms", "200")


class ReconcileTest(ProjectorTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.seed_profiles(USERS)
        res = cls.drive(scenario())
        time.sleep(3.2)  # the voting window is 3 s
        res2 = cls.drive(scenario_tail())
        cls.top = max(cls.max_block(res), cls.max_block(res2))
        cls.proj = cls.start_projector()

    def setUp(self):
        self.wait_block(self.top)

    def reconcile(self, *args, rc=0, env=None):
        """gxctl reconcile --json ...: (exit code, the reports printed, in order)."""
        e = self.chain.fabric_env()
        e.update(env or {})
        r = self.stack.gxctl("reconcile", "--json", *args, env=e, check=False)
        if rc is not None:
            self.assertEqual(r.returncode, rc, r.stdout[-4000:])
        else:
            self.assertIn(r.returncode, (0, 4), r.stdout[-4000:])
        self.assertNotIn("Sanitizer", r.stdout)
        self.assertNotIn("runtime error", r.stdout)
        reports = []
        for line in r.stdout.splitlines():
            if line.startswith("{") and '"outcome"' in line:
                reports.append(json.loads(line))
        return r, reports

    def balance(self, acct):
        out = self.drive([dict(tx("TokenomicsContract:GetBalance", acct), eval=True)])
        return out[1]["payload"]["balance"]

    def last_block_of(self, key):
        rows = self.stack.psql('SELECT max("blockNumber") FROM "EventLog" WHERE strpos("payload"::text, \'"%s"\') > 0'
                               % key)
        return int(rows[0][0])

    def diffs(self, rep, key):
        return sorted((d["entity"], d["field"], d["ledger"], d["readModel"]) for d in rep["differences"]
                      if d["key"] == key)

    def test_01_clean_after_demo(self):
        _, [rep] = self.reconcile(*FAST)
        self.assertEqual((rep["outcome"], rep["differenceCount"], rep["inFlightCount"]), ("clean", 0, 0), rep)
        c = rep["counts"]
        # 5 users + ghost, org1, 5 pools, 2 treasuries on the ledger; ghost has no wallet
        self.assertEqual(c["account"]["ledger"], 13)
        self.assertEqual(c["account"]["readModel"], 12)
        self.assertEqual((c["organization"]["ledger"], c["multisig"]["ledger"], c["loan"]["ledger"],
                          c["proposal"]["ledger"]), (1, 1, 1, 2))
        self.assertEqual(c["organization"], {"ledger": 1, "readModel": 1})
        self.assertEqual(c["proposal"], {"ledger": 2, "readModel": 2})
        self.assertEqual(c["parameter"]["ledger"], 19)
        # paged: 2 records per Evaluate means more calls, same answer
        _, [small] = self.reconcile("--page-size", "2", "--db-page-size", "3", *FAST)
        self.assertEqual(small["outcome"], "clean")
        self.assertGreater(small["ledgerCalls"], rep["ledgerCalls"] + 5)
        self.assertGreater(small["dbPages"], rep["dbPages"] + 3)

    def test_02_edited_balance(self):
        ledger = self.balance("u2")
        self.stack.psql('UPDATE "Wallet" SET "balanceQirat" = "balanceQirat" + 12345 WHERE "primaryAccountId" = \'u2\'')
        _, [rep] = self.reconcile(*FAST, rc=3)
        self.assertEqual(rep["outcome"], "differences")
        self.assertEqual(self.diffs(rep, "u2"), [("account", "balance", ledger, str(int(ledger) + 12345))])
        [d] = [d for d in rep["differences"] if d["key"] == "u2"]
        self.assertEqual(d["lastBlock"], self.last_block_of("u2"))

    def test_03_deleted_history_row(self):
        ledger = self.balance("u3")
        rows = self.stack.psql('DELETE FROM "Transaction" t USING "Wallet" w WHERE t."walletId" = w."walletId"'
                               ' AND w."primaryAccountId" = \'u3\' AND t."type" = \'RECEIVED\' RETURNING t."amountQirat"')
        self.assertEqual(rows, [("1000000",)])  # the executed multi-signature payment from org1
        _, [rep] = self.reconcile(*FAST, rc=3)
        self.assertEqual(self.diffs(rep, "u3"), [("account", "history", ledger, str(int(ledger) - 1000000))])

    def test_04_skipped_event(self):
        for d in self.projectors:
            d.stop()
        self.projectors.clear()
        before = {a: self.balance(a) for a in ("u1", "u4")}
        out = self.drive([tx("TokenomicsContract:Transfer", "u1", "u4", "100000", "skipped"), WAIT])
        block = self.max_block(out)
        # the projector's checkpoint moves past the block without applying it
        self.stack.psql('UPDATE "ProjectorState" SET "lastBlock" = %d' % block)
        self.__class__.proj = self.start_projector()
        time.sleep(0.5)
        _, [rep] = self.reconcile(*FAST, rc=3)
        self.assertEqual(rep["checkpoint"], block)
        u1, u4 = str(int(before["u1"]) - 100000), str(int(before["u4"]) + 100000)
        self.assertEqual(self.diffs(rep, "u1"), [("account", "balance", u1, before["u1"]),
                                                 ("account", "history", u1, before["u1"])])
        self.assertEqual(self.diffs(rep, "u4"), [("account", "balance", u4, before["u4"]),
                                                 ("account", "history", u4, before["u4"])])
        for d in rep["differences"]:
            if d["key"] in ("u1", "u4"):
                self.assertLess(d["lastBlock"], block)  # the skipped block is not in the EventLog

    def test_05_repair(self):
        r, reps = self.reconcile("--repair", "--yes", *FAST, rc=0)
        self.assertEqual([x["outcome"] for x in reps], ["differences", "clean"], r.stdout)
        self.assertGreaterEqual(reps[0]["differenceCount"], 5)  # u2; u3; u1 and u4, balance and history each
        audit = self.stack.psql('SELECT "action", "details"->>\'reason\' FROM "AdminAuditLog"'
                                ' WHERE "action" = \'PROJECTOR_REBUILD\'')
        self.assertEqual(audit, [("PROJECTOR_REBUILD", "reconcile")])
        _, [rep] = self.reconcile(*FAST)
        self.assertEqual(rep["outcome"], "clean")

    def test_00_paged_reads_evaluate_only(self):
        """The stand-in serves the paged reads to Evaluate and refuses to endorse them (read-only, as in Fabric)."""
        out = self.drive([dict(tx("TokenomicsContract:ListAccounts", "2", ""), eval=True),
                          dict(tx("TokenomicsContract:ListAccounts", "1000", "SYSTEM_TAX_POOL"), eval=True)])
        page = out[1]["payload"]
        self.assertEqual([r["accountID"] for r in page["records"]], ["SYSTEM_FEE_POOL", "SYSTEM_GOVT_GENESIS_POOL"])
        self.assertEqual((page["fetchedRecordsCount"], page["bookmark"]), (2, "SYSTEM_LOAN_POOL"))
        self.assertEqual(out[2]["payload"]["records"][0]["accountID"], "SYSTEM_TAX_POOL")
        self.assertEqual(out[2]["payload"]["bookmark"], "")
        bad = self.drive([tx("TokenomicsContract:ListAccounts", "2", "")], check=False)
        self.assertFalse(bad[1].get("ok"), bad)
        self.assertIn("read-only", json.dumps(bad[1]))

    def test_06_exit_codes(self):
        self.reconcile("--page-size", "0", rc=2)
        self.reconcile("--page-size", "1001", rc=2)
        self.reconcile("--repair", rc=2)  # destructive: needs --yes
        self.reconcile("--bogus", "1", rc=2)
        r, _ = self.reconcile(rc=1, env={"FABRIC_PEER_ENDPOINT": "127.0.0.1:1"})
        self.assertIn("could not run", r.stdout)
        r, _ = self.reconcile(rc=1, env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
        r = self.stack.gxctl("reconcile", "--help")
        self.assertIn("3 differences found", r.stdout)

    def test_07_live_writes_are_not_differences(self):
        """Transfers keep committing while the run reads: no false difference (re-checked or in flight), and the
        writers are never blocked (every transfer commits)."""
        lines = []
        for i in range(80):
            lines += [tx("TokenomicsContract:Transfer", "u2", "u3", "1000", "live %d" % i), WAIT]
        results = {}
        t = threading.Thread(target=lambda: results.update(self.drive(lines)))
        t.start()
        try:
            time.sleep(0.3)
            # slow ledger reads (2 calls/s): the accounts page is seconds older than the snapshot
            _, [rep] = self.reconcile("--peer-rate", "2", "--recheck-rounds", "3", "--recheck-interval-ms", "500",
                                      rc=None)
        finally:
            t.join(120)
        self.assertEqual(rep["differenceCount"], 0, rep)
        # the run did see the moving accounts (u2, u3: balance and history) and settled them
        self.assertGreater(rep["resolvedOnRecheck"] + rep["inFlightCount"], 0, rep)
        self.assertIn(rep["outcome"], ("clean", "in_flight"))
        self.assertEqual(len([o for o in results.values() if o.get("ok") and "tx" in o]), 80)
        self.wait_block(self.max_block(results))
        _, [after] = self.reconcile(*FAST)
        self.assertEqual(after["outcome"], "clean", after)


class ReconcileAdminTest(ProjectorTestBase):
    """svc-admin's background runs: POST -> 202 with a runId, 409 while one runs (also from another replica),
    GET -> status and report, the repair (SUPER_ADMIN only), the gx_reconcile_* metrics, 503 when the replica has
    no Fabric identity."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stack.start_redis()
        cls.seed_profiles(USERS)
        res = cls.drive(scenario())
        cls.top = cls.max_block(res)
        cls.start_projector()
        env = cls.chain.fabric_env()
        # slow enough that a run lasts a while (about 8 Evaluate calls at 4/s)
        env.update({"RECONCILE_PEER_RATE": "4", "RECONCILE_RECHECK_ROUNDS": "1", "RECONCILE_RECHECK_INTERVAL": "200ms"})
        cls.a = cls.stack.start_daemon("svc-admin", env=env)
        cls.b = cls.stack.start_daemon("svc-admin", env=env)
        # no Fabric identity: the rest of svc-admin still works, and its gauges follow the newest run of anyone
        cls.bare = cls.stack.start_daemon("svc-admin", env={"RECONCILE_METRICS_INTERVAL": "300ms"})
        cls.bare.expect_errors("RECONCILE_UNAVAILABLE")  # a 5xx is logged at error level
        cls.doc = oa.fetch(cls.a.url)
        cls.admin = gxtest.mint_token(str(uuid.uuid4()), "ADMIN")
        cls.super = gxtest.mint_token(str(uuid.uuid4()), "SUPER_ADMIN")

    def call(self, d, method, path, token, body=None, status=None, template=None, code=None):
        r = gxtest.request(method, d.url + path, headers=gxtest.bearer(token) if token else {}, json_body=body)
        if status is not None:
            self.assertEqual(r.status, status, r.text)
        oa.validate(self.doc, method, template or path, r.status, r)
        if code:
            self.assertEqual(r.json()["code"], code)
        return r.json()

    def wait_run(self, run_id, timeout=90):
        deadline = time.monotonic() + timeout
        while True:
            run = self.call(self.a, "GET", "/api/v1/admin/reconcile/" + run_id, self.admin, status=200,
                            template="/api/v1/admin/reconcile/{runId}")
            if run["status"] != "RUNNING":
                return run
            self.assertLess(time.monotonic(), deadline, run)
            time.sleep(0.2)

    def metric(self, d, name):
        body = gxtest.request("GET", d.url + "/metrics").text
        for line in body.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def test_runs(self):
        self.wait_block(self.top)
        start = "/api/v1/admin/reconcile"
        run = self.call(self.a, "POST", start, self.admin, status=202)
        self.assertEqual((run["status"], run["repair"]), ("RUNNING", False))
        # one at a time: on this replica and on the other one (the database decides)
        self.call(self.a, "POST", start, self.admin, status=409, code="RECONCILE_RUNNING")
        self.call(self.b, "POST", start, self.admin, status=409, code="RECONCILE_RUNNING")
        done = self.wait_run(run["runId"])
        self.assertEqual((done["status"], done["outcome"], done["differenceCount"]), ("DONE", "clean", 0), done)
        self.assertEqual(done["report"]["counts"]["account"]["ledger"], 13)
        self.assertEqual(self.metric(self.a, "gx_reconcile_differences"), 0)
        self.assertGreater(self.metric(self.a, "gx_reconcile_last_run_timestamp_seconds"), time.time() - 120)
        self.assertEqual(self.metric(self.a, 'gx_reconcile_runs_total{outcome="clean"}'), 1)

        # a hand-edited balance: reported with both figures, the metric follows
        self.stack.psql('UPDATE "Wallet" SET "balanceQirat" = "balanceQirat" + 7 WHERE "primaryAccountId" = \'u1\'')
        run = self.call(self.b, "POST", start, self.admin, status=202)
        done = self.wait_run(run["runId"])
        self.assertEqual((done["outcome"], done["differenceCount"]), ("differences", 1), done)
        [d] = done["report"]["differences"]
        self.assertEqual((d["entity"], d["key"], d["field"]), ("account", "u1", "balance"))
        self.assertEqual(int(d["readModel"]) - int(d["ledger"]), 7)
        self.assertEqual(self.metric(self.b, "gx_reconcile_differences"), 1)

        # the repair rebuilds the projection: SUPER_ADMIN only
        self.call(self.a, "POST", start, self.admin, {"repair": True}, status=403, code="FORBIDDEN")
        self.call(self.a, "POST", start, self.admin, {"repair": "yes"}, status=400, code="VALIDATION_FAILED")
        run = self.call(self.a, "POST", start, self.super, {"repair": True}, status=202)
        self.assertTrue(run["repair"])
        done = self.wait_run(run["runId"], timeout=180)
        self.assertEqual((done["status"], done["repaired"], done["outcome"]), ("DONE", True, "clean"), done)
        self.assertEqual(self.metric(self.a, "gx_reconcile_differences"), 0)

    def test_errors(self):
        self.call(self.a, "GET", "/api/v1/admin/reconcile/" + str(uuid.uuid4()), self.admin, status=404,
                  template="/api/v1/admin/reconcile/{runId}", code="RUN_NOT_FOUND")
        self.call(self.a, "POST", "/api/v1/admin/reconcile", None, status=401)
        self.call(self.a, "POST", "/api/v1/admin/reconcile", gxtest.mint_token(str(uuid.uuid4())), status=403)
        self.call(self.bare, "POST", "/api/v1/admin/reconcile", self.admin, status=503, code="RECONCILE_UNAVAILABLE")

    def test_zz_gauges_follow_gxctl_runs(self):
        """A run of gxctl is recorded too; every replica's gauges show the newest finished run within an interval."""
        self.wait_block(self.top)
        self.stack.psql('UPDATE "Wallet" SET "balanceQirat" = "balanceQirat" + 3 WHERE "primaryAccountId" = \'u3\'')
        e = self.chain.fabric_env()
        r = self.stack.gxctl("reconcile", "--recheck-rounds", "0", env=e, check=False)
        self.assertEqual(r.returncode, 3, r.stdout)
        self.assertIn("DIFFERENCE account u3 balance", r.stdout)
        deadline = time.monotonic() + 10
        while self.metric(self.bare, "gx_reconcile_differences") != 1:
            self.assertLess(time.monotonic(), deadline, "the bare replica's gauge did not follow")
            time.sleep(0.1)
        self.assertGreater(self.metric(self.bare, "gx_reconcile_last_run_timestamp_seconds"), time.time() - 60)
        rows = self.stack.psql('SELECT "status", "outcome", "differenceCount", "requestedBy" LIKE \'gxctl:%\''
                               ' FROM "ReconcileRun" ORDER BY "finishedAt" DESC LIMIT 1')
        self.assertEqual(rows, [("DONE", "differences", "1", "t")])

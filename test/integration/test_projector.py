"""projector against real PostgreSQL and the Fabric stand-in: every chaincode event type projected into the read
models (balances equal the chain's), poison event -> EventDLQ and the stream moves on, OutboxCommand PROJECTED +
NOTIFY, duplicate delivery has no effect, kill -9 mid-block then restart equals a clean replay on a fresh database,
`projector rebuild` replays to the same read models, and a standby replica takes over.

The chain is driven with the C Fabric client (itest/projector_chain, see its header)."""

import json
import os
import re
import subprocess
import time
import unittest

import gxtest
from gxtest.chain import Chain
from gxtest.services import start_backing
from gxtest.sql import q as sql_q

HEX64 = "ab" * 32
USERS = ["u1", "u2", "u3", "u4"]


def driver_path():
    return os.path.join(os.path.dirname(gxtest.bin_dir()), "itest", "projector_chain")


def tx(fn, *args, who="partner"):
    return {"as": who, "fn": fn, "args": [str(a) for a in args]}


WAIT = {"wait": True}


# (Empty string arguments are avoided: the stand-in's ASan build trips on them, see the projector report.)
# Table dumps compared between runs: natural keys and values only (generated ids and wall-clock columns differ;
# event times the chain does not carry are also left out, see docs/projector.md).
DUMPS = {
    "Wallet": 'SELECT "primaryAccountId", "balanceQirat", "isFrozen", coalesce("frozenReason", \'\') FROM "Wallet"'
              ' ORDER BY 1',
    "Transaction": 'SELECT t."onChainTxId", w."primaryAccountId", t."type", t."counterparty", coalesce(t."remark", \'\'),'
                   ' t."blockNumber", t."amountQirat", t."feeQirat" FROM "Transaction" t JOIN "Wallet" w'
                   ' USING ("walletId") ORDER BY 1, 2, 3',
    "Organization": 'SELECT "orgId", "orgName", "orgType", "status", "stakeholders"::text, "endorsers"::text,'
                    ' "authRules"::text, "activatedAt", "balanceQirat" FROM "Organization" ORDER BY 1',
    "MultiSigTransaction": 'SELECT "txId", "orgId", "proposerId", "params"::text, "status", "requiredSignatures",'
                           ' "currentSignatures", "approvers"::text, "toId", "amountQirat", "remark"'
                           ' FROM "MultiSigTransaction" ORDER BY 1',
    "Loan": 'SELECT "loanId", "borrowerId", "collateralHash", "appliedAt", "status", "approvedBy", "amountQirat",'
            ' "repaidQirat" FROM "Loan" ORDER BY 1',
    "Proposal": 'SELECT "proposalId", "title", "description", "proposerId", "proposalType", "status", "votesFor",'
                ' "votesAgainst", "votesAbstain", "voters"::text, "executedAt", "targetParam", "newValue",'
                ' "votingEndsAt", "createdAt" FROM "Proposal" ORDER BY 1',
    "ProposalVote": 'SELECT "proposalId", "voterId", "vote", "fabricTxId" FROM "ProposalVote" ORDER BY 1, 2',
    "SystemAccount": 'SELECT "accountId", "kind", "balanceQirat" FROM "SystemAccount" ORDER BY 1',
    "TreasuryAccount": 'SELECT "accountId", "countryCode", "status", "balanceQirat", "fabricTxId"'
                       ' FROM "TreasuryAccount" ORDER BY 1',
    "SystemParameter": 'SELECT "paramKey", "paramValue" FROM "SystemParameter" ORDER BY 1',
    "Country": 'SELECT "countryCode", "allocationPercentage" FROM "Country" WHERE "allocationPercentage" IS NOT NULL'
               ' ORDER BY 1',
    "UserProfile": 'SELECT "fabricUserId", "status", coalesce("onchainStatus", \'\'), "role" FROM "UserProfile"'
                   ' ORDER BY 1',
    "EventLog": 'SELECT "fabricTxId", "blockNumber", "eventIndex", "eventName", "payload"::text FROM "EventLog"'
                ' ORDER BY 2, 3',
    "EventDLQ": 'SELECT "blockNumber", "eventIndex", "eventName", "reason" FROM "EventDLQ" ORDER BY 1, 2',
}


class ProjectorTestBase(gxtest.GxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for b in ("projector", "gx-fabric-peer", "gxctl"):
            if not gxtest.have_binary(b):
                raise unittest.SkipTest("%s is not built" % b)
        if not os.access(driver_path(), os.X_OK):
            raise unittest.SkipTest("itest/projector_chain is not built")
        st = cls.stack
        start_backing(st, redis=False)
        cls.chain = Chain(st, peer_args=("--block-timeout-ms", "50"))
        cls.chain.start_peer()
        cls.projectors = []

    # --- helpers --------------------------------------------------------------------------------------------
    @classmethod
    def drive(cls, lines, check=True, window=1000):
        """Run the C driver over lines; returns the result objects indexed by input line (1-based)."""
        text = "".join(json.dumps(l) + "\n" for l in lines)
        r = subprocess.run([driver_path(), cls.chain.addr, cls.chain.ca_dir, str(window)], input=text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
        out = {}
        for line in r.stdout.decode().splitlines():
            o = json.loads(line)
            if "i" in o:
                out[o["i"]] = o
        if check:
            failed = [o for o in out.values() if not o.get("ok")]
            if failed or r.returncode != 0:
                raise AssertionError("driver failures: %s\n%s" % (failed[:5], r.stderr.decode()[-2000:]))
        return out

    @classmethod
    def seed_profiles(cls, users, db=None):
        values = ",".join("('p-%s', 'default', 'F', 'L', '%s@example.test', '%064x', 'x', 'US', '%s')"
                          % (u, u, i + 1, u) for i, u in enumerate(users))
        sql = ('INSERT INTO "UserProfile" ("profileId", "tenantId", "firstName", "lastName", "email", "biometricHash",'
               ' "passwordHash", "nationalityCountryCode", "fabricUserId") VALUES %s ON CONFLICT DO NOTHING' % values)
        if db:
            cls.stack.pg.psql(sql, db=db)
        else:
            cls.stack.psql(sql)

    @classmethod
    def start_projector(cls, env=None, wait_ready=True):
        e = cls.chain.fabric_env()
        e.update({"LOG_LEVEL": "info", "STANDBY_POLL_MS": "200ms", "RECONNECT_MAX_MS": "1s"})
        e.update(env or {})
        d = cls.stack.start_daemon("projector", env=e, wait_ready=wait_ready)
        cls.projectors.append(d)
        return d

    def last_block(self, db=None):
        rows = self.stack.pg.psql('SELECT "lastBlock" FROM "ProjectorState"', db=db)
        return int(rows[0][0]) if rows else -1

    def wait_block(self, block, db=None, timeout=60):
        deadline = time.monotonic() + timeout
        while self.last_block(db) < block:
            if time.monotonic() > deadline:
                raise AssertionError("projector did not reach block %d (at %d)" % (block, self.last_block(db)))
            time.sleep(0.05)

    def dump(self, db=None, skip=()):
        return {k: self.stack.pg.psql(sql, db=db) for k, sql in DUMPS.items() if k not in skip}

    def assertDumpsEqual(self, a, b):
        for k in a:
            self.assertEqual(a[k], b[k], "table %s differs" % k)

    def erase_mark(self):
        """Before a rebuild: (database time, offTxIds of every Transaction row) for assertErased."""
        t_db = self.stack.psql("SELECT clock_timestamp()")[0][0]
        return t_db, [r[0] for r in self.stack.psql('SELECT "offTxId" FROM "Transaction"')]

    def assertErased(self, mark):
        """The rebuild erased every row present at erase_mark(): a running projector may already be replaying, so
        rows written since are allowed, rows from before are not."""
        t_db, old = mark
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "EventLog" WHERE "ingestedAt" <= %s' % sql_q(t_db)),
                         [("0",)])
        if old:
            self.assertEqual(self.stack.psql('SELECT count(*) FROM "Transaction" WHERE "offTxId" IN (%s)'
                                             % ",".join(sql_q(i) for i in old)), [("0",)])

    @staticmethod
    def max_block(results):
        return max(o.get("block", 0) for o in results.values())

    def metric(self, d, name):
        body = d.get("/metrics").body.decode()
        m = re.search(r"^%s(?:\{[^}]*\})? ([0-9.e+-]+)$" % re.escape(name), body, re.M)
        return float(m.group(1)) if m else None


def scenario():
    """Transactions producing every event of docs/chaincode.md §8 (plus a poison UserCreated for 'ghost', who has no
    UserProfile). Returns the list of driver lines."""
    L = [tx("AdminContract:BootstrapSystem", who="super-admin"), WAIT]
    L += [tx("AdminContract:UpdateSystemParameter", "governanceVotingPeriodSeconds", "3", who="super-admin"), WAIT,
          tx("AdminContract:UpdateSystemParameter", "velocityTaxDormancyDays", "0", who="super-admin"), WAIT,
          tx("AdminContract:UpdateSystemParameter", "velocityTaxMinimumBalance", "0", who="super-admin"), WAIT]
    for i, u in enumerate(USERS + ["ghost"]):
        L += [tx("IdentityContract:CreateUser", u, "%064x" % (i + 100), "US", "30"), WAIT]
    L += [tx("AdminContract:InitializeCountryData",
             json.dumps([{"countryCode": "US", "ppb": 600000000}, {"countryCode": "IN", "ppb": 400000000}]),
             who="super-admin"), WAIT]
    for u, t in (("u1", "individual"), ("u2", "business"), ("u3", "government")):
        L += [tx("TokenomicsContract:DistributeGenesis", u, t, "US", who="admin"), WAIT]
    L += [tx("TokenomicsContract:Transfer", "u1", "u2", "500000", "hello"),
          tx("TokenomicsContract:Transfer", "u3", "u4", "2000000", "rent"), WAIT]
    L += [tx("TokenomicsContract:FreezeWallet", "u4", "under review", who="admin"), WAIT,
          tx("TokenomicsContract:UnfreezeWallet", "u4", who="admin"), WAIT]
    L += [tx("OrganizationContract:ProposeOrganization", "org1", "Acme", "BUSINESS", json.dumps(["u1", "u2"])), WAIT,
          tx("OrganizationContract:EndorseMembership", "org1", "u1"), WAIT,
          tx("OrganizationContract:EndorseMembership", "org1", "u2"), WAIT,
          tx("OrganizationContract:ActivateOrganization", "org1"), WAIT,
          tx("OrganizationContract:DefineAuthRule", "org1",
             json.dumps({"amountThreshold": "0", "requiredApprovals": 2, "approverIDs": ["u1", "u2"]})), WAIT,
          tx("TokenomicsContract:Transfer", "u1", "org1", "3000000", "funding"), WAIT,
          tx("OrganizationContract:InitiateMultiSigTx", "mt1", "org1", "u1", "u3", "1000000", "pay"), WAIT,
          tx("OrganizationContract:ApproveMultiSigTx", "mt1", "u1"), WAIT,
          tx("OrganizationContract:ApproveMultiSigTx", "mt1", "u2"), WAIT]
    L += [tx("LoanPoolContract:ApplyForLoan", "loan1", "u4", "20000000", HEX64), WAIT,
          tx("LoanPoolContract:ApproveLoan", "loan1", "admin-1", who="admin"), WAIT,
          tx("LoanPoolContract:RepayLoan", "loan1", "u4", "5000000"), WAIT,
          tx("LoanPoolContract:RepayLoan", "loan1", "u4", "15000000"), WAIT]
    L += [tx("GovernanceContract:SubmitProposal", "p1", "u1", "transactionFeeBps", "20", "Raise fee", "why"),
          tx("GovernanceContract:SubmitProposal", "p2", "u2", "orgDefaultThreshold", "3", "More approvals", "no"), WAIT]
    L += [tx("GovernanceContract:CastVote", "p1", v, "FOR") for v in ("u1", "u2", "u3")]
    L += [tx("GovernanceContract:CastVote", "p2", "u4", "AGAINST"), WAIT]
    return L


def scenario_tail():
    return [tx("GovernanceContract:ExecuteProposal", "p1", "admin-1", who="admin"),
            tx("GovernanceContract:ExecuteProposal", "p2", "admin-1", who="admin"), WAIT,
            tx("AdminContract:PauseSystem", "maintenance", who="super-admin"), WAIT,
            tx("AdminContract:ResumeSystem", who="super-admin"), WAIT,
            tx("AdminContract:AppointAdmin", "u4", who="super-admin"), WAIT,
            tx("AdminContract:ActivateTreasuryAccount", "US", who="admin"), WAIT,
            tx("TaxAndFeeContract:ApplyVelocityTax", "u4", who="admin"), WAIT]


class ProjectorEventsTest(ProjectorTestBase):
    """One chain with every event type, projected by one replica; then rebuild, duplicates, standby takeover."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.seed_profiles(USERS)
        cls.res = cls.drive(scenario())
        time.sleep(3.2)  # the voting window is 3 s
        cls.res2 = cls.drive(scenario_tail())
        cls.top = max(cls.max_block(cls.res), cls.max_block(cls.res2))
        cls.p1 = cls.start_projector()

    def test_01_every_event_projected(self):
        self.wait_block(self.top)
        names = {r[0] for r in self.stack.psql('SELECT DISTINCT "eventName" FROM "EventLog"')}
        expected = {"UserCreated", "TransferCompleted", "GenesisDistributed", "WalletFrozen", "WalletUnfrozen",
                    "OrganizationProposed", "MembershipEndorsed", "OrganizationActivated", "AuthRuleDefined",
                    "MultiSigTxInitiated", "MultiSigTxApproved", "MultiSigTxExecuted", "LoanApplicationReceived",
                    "LoanApproved", "LoanRepaid", "ProposalSubmitted", "VoteCast", "ProposalExecuted",
                    "ProposalRejected", "SystemBootstrapped", "CountryDataInitialized", "SystemParameterUpdated",
                    "SystemPaused", "SystemResumed", "AdminAppointed", "TreasuryActivated", "VelocityTaxApplied"}
        self.assertEqual(names, expected)
        n_tx = len([o for o in list(self.res.values()) + list(self.res2.values()) if "tx" in o])
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "EventLog"'), [(str(n_tx),)])

    def test_02_balances_equal_chain(self):
        self.wait_block(self.top)
        accounts = USERS + ["org1", "SYSTEM_USER_GENESIS_POOL", "SYSTEM_GOVT_GENESIS_POOL", "SYSTEM_LOAN_POOL",
                            "SYSTEM_FEE_POOL", "SYSTEM_TAX_POOL", "treasury_US", "treasury_IN"]
        out = self.drive([dict(tx("TokenomicsContract:GetBalance", a), eval=True) for a in accounts])
        chain = {o["payload"]["accountID"]: o["payload"]["balance"] for o in out.values()}
        rows = self.stack.psql('SELECT "primaryAccountId", "balanceQirat" FROM "Wallet" UNION ALL'
                               ' SELECT "orgId", "balanceQirat" FROM "Organization" UNION ALL'
                               ' SELECT "accountId", "balanceQirat" FROM "SystemAccount" UNION ALL'
                               ' SELECT "accountId", "balanceQirat" FROM "TreasuryAccount"')
        projected = dict(rows)
        for a in accounts:
            self.assertEqual(projected.get(a), chain[a], "balance of %s" % a)
        self.assertNotIn("ghost", projected)

    def test_03_read_models(self):
        self.wait_block(self.top)
        q = self.stack.psql
        # one Transaction row per wallet side, with the fee on the sender's row
        self.assertEqual(q('SELECT w."primaryAccountId", t."type", t."amountQirat", t."feeQirat", t."counterparty",'
                           ' coalesce(t."remark", \'\') FROM "Transaction" t JOIN "Wallet" w USING ("walletId")'
                           ' WHERE t."type" IN (\'SENT\', \'RECEIVED\') AND t."counterparty" <> \'org1\''
                           ' AND w."primaryAccountId" <> \'u1\' OR (w."primaryAccountId" = \'u1\' AND t."counterparty" = \'u2\')'
                           ' ORDER BY 1, 2'),
                         [("u1", "SENT", "500000", "0", "u2", "hello"), ("u2", "RECEIVED", "500000", "0", "u1", "hello"),
                          ("u3", "SENT", "2000000", "2000", "u4", "rent"),
                          ("u4", "RECEIVED", "2000000", "0", "u3", "rent")])
        self.assertEqual(q('SELECT count(*) FROM "Transaction" GROUP BY "onChainTxId", "walletId", "type"'
                           ' HAVING count(*) > 1'), [])
        types = dict(q('SELECT "type", count(*) FROM "Transaction" GROUP BY 1'))
        self.assertEqual(types, {"SENT": "3", "RECEIVED": "3", "LOAN_DISBURSEMENT": "1", "LOAN_REPAYMENT": "2",
                                 "GENESIS": "3", "TAX": "1"})
        self.assertEqual(q('SELECT "isFrozen", coalesce("frozenReason", \'\') FROM "Wallet"'
                           ' WHERE "primaryAccountId" = \'u4\''), [("f", "")])
        self.assertEqual(q('SELECT "fabricUserId", "status", "onchainStatus", "role" FROM "UserProfile" ORDER BY 1'),
                         [("u1", "ACTIVE", "ACTIVE", "USER"), ("u2", "ACTIVE", "ACTIVE", "USER"),
                          ("u3", "ACTIVE", "ACTIVE", "USER"), ("u4", "ACTIVE", "ACTIVE", "ADMIN")])
        self.assertEqual(q('SELECT "status", "stakeholders"::text, "endorsers"::text, "authRules"::text,'
                           ' "activatedAt" IS NOT NULL FROM "Organization"'),
                         [("ACTIVE", '["u1", "u2"]', '["u1", "u2"]',
                           '[{"approverIDs": ["u1", "u2"], "amountThreshold": "0", "requiredApprovals": 2}]', "t")])
        self.assertEqual(q('SELECT "txId", "status", "requiredSignatures", "currentSignatures", "approvers"::text,'
                           ' "toId", "amountQirat", "executedAt" IS NOT NULL FROM "MultiSigTransaction"'),
                         [("mt1", "EXECUTED", "2", "2", '["u1", "u2"]', "u3", "1000000", "t")])
        self.assertEqual(q('SELECT "status", "amountQirat", "repaidQirat", "approvedBy", "repaidAt" IS NOT NULL'
                           ' FROM "Loan"'), [("REPAID", "20000000", "20000000", "admin-1", "t")])
        props = [r[:4] + (sorted(json.loads(r[4])),) for r in q('SELECT "proposalId", "status", "votesFor",'
                                                                 ' "votesAgainst", "voters"::text FROM "Proposal"'
                                                                 ' ORDER BY 1')]
        self.assertEqual(props, [("p1", "EXECUTED", "3", "0", ["u1", "u2", "u3"]),
                                 ("p2", "REJECTED", "0", "1", ["u4"])])
        self.assertEqual(q('SELECT "proposalId", "voterId", "vote", "confirmedAt" IS NOT NULL FROM "ProposalVote"'
                           ' ORDER BY 1, 2'),
                         [("p1", "u1", "FOR", "t"), ("p1", "u2", "FOR", "t"), ("p1", "u3", "FOR", "t"),
                          ("p2", "u4", "AGAINST", "t")])
        params = dict(q('SELECT "paramKey", "paramValue" FROM "SystemParameter"'))
        self.assertEqual(params["transactionFeeBps"], "20")           # executed proposal
        self.assertEqual(params["orgDefaultThreshold"], "2")          # rejected proposal: unchanged
        self.assertEqual(params["governanceVotingPeriodSeconds"], "3")  # SystemParameterUpdated
        self.assertEqual(q('SELECT "countryCode", "status" FROM "TreasuryAccount" ORDER BY 1'),
                         [("IN", "INACTIVE"), ("US", "ACTIVE")])
        self.assertEqual(q('SELECT "countryCode", "allocationPercentage" FROM "Country"'
                           ' WHERE "countryCode" IN (\'US\', \'IN\') ORDER BY 1'),
                         [("IN", "0.4000000000"), ("US", "0.6000000000")])
        self.assertEqual(q('SELECT "eventName" FROM "EventLog" WHERE "eventName" LIKE \'System%ed\''
                           ' AND "eventName" <> \'SystemBootstrapped\' ORDER BY "blockNumber" DESC LIMIT 1'),
                         [("SystemResumed",)])

    def test_04_poison_event_to_dlq_and_stream_moves_on(self):
        self.wait_block(self.top)
        rows = self.stack.psql('SELECT "eventName", "reason", "rawPayload"->>\'userID\', "blockNumber"'
                               ' FROM "EventDLQ"')
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][0], "UserCreated")
        self.assertIn("fabricUserId", rows[0][1])
        self.assertEqual(rows[0][2], "ghost")
        self.assertLess(int(rows[0][3]), self.top)  # later blocks were applied after it
        self.assertEqual(self.metric(self.p1, "gx_projector_dlq_total"), 1.0)
        body = self.p1.get("/metrics").body.decode()
        self.assertIn('gx_projector_events_total{event="UserCreated",outcome="dlq"} 1', body)
        self.assertIn('gx_projector_events_total{event="UserCreated",outcome="applied"} 4', body)
        # the original projector's names beside ours (docs/compat.md)
        self.assertIn('projector_events_processed_total{event_name="UserCreated",status="processing_failed"} 1', body)
        self.assertIn('projector_events_processed_total{event_name="UserCreated",status="success"} 4', body)
        self.assertGreaterEqual(self.metric(self.p1, "projector_checkpoints_saved_total"), float(self.top) - 2)
        self.assertEqual(self.metric(self.p1, "projector_blockchain_height"), float(self.top))
        self.assertEqual(self.metric(self.p1, "projector_lag_blocks"), 0.0)
        self.assertEqual(self.metric(self.p1, "projector_worker_status"), 1.0)
        self.assertRegex(body, r'(?m)^projector_processing_duration_seconds_bucket\{le="0.05"\} \d+$')
        self.assertEqual(self.metric(self.p1, "gx_projector_last_block"), float(self.top))
        self.assertEqual(self.metric(self.p1, "gx_projector_blocks_behind"), 0.0)

    def test_05_duplicate_delivery_has_no_effect(self):
        self.wait_block(self.top)
        before = self.dump(skip=("EventLog", "SystemParameter"))
        # lose the checkpoint: the projector notices (within a second, or at the next block) and replays from block 3
        self.stack.psql('UPDATE "ProjectorState" SET "lastBlock" = 2')
        out = self.drive([tx("AdminContract:UpdateSystemParameter", "loanMinimumAmount", "10000001",
                             who="super-admin")])
        self.wait_block(self.max_block(out))
        after = self.dump(skip=("EventLog", "SystemParameter"))
        self.assertDumpsEqual(before, after)
        self.assertEqual(self.stack.psql('SELECT "paramValue" FROM "SystemParameter"'
                                         ' WHERE "paramKey" = \'loanMinimumAmount\''), [("10000001",)])
        type(self).top = self.max_block(out)

    def test_06_outbox_projected_and_notified_on_rebuild(self):
        self.wait_block(self.top)
        before = self.dump()
        txid = self.stack.psql('SELECT "fabricTxId" FROM "EventLog" WHERE "eventName" = \'LoanApproved\'')[0][0]
        self.stack.psql('INSERT INTO "OutboxCommand" ("id", "tenantId", "service", "commandType", "requestId",'
                        ' "payload", "status", "fabricTxId") VALUES (\'cmd-1\', \'default\', \'svc-loanpool\','
                        ' \'APPROVE_LOAN\', \'r-1\', \'{}\', \'COMMITTED\', \'%s\')' % txid)
        listen = subprocess.Popen(["psql", "-X", "-h", "127.0.0.1", "-p", str(self.stack.pg.port), "-U", "postgres",
                                   "-d", "gx_protocol"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        listen.stdin.write("LISTEN gx_command_status;\n")
        listen.stdin.flush()
        time.sleep(0.3)
        mark = self.erase_mark()
        rebuild = subprocess.run([os.path.join(gxtest.bin_dir(), "projector"), "rebuild"],
                                 env=dict(os.environ, DATABASE_URL=self.stack.database_url),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(rebuild.returncode, 0, rebuild.stdout)
        self.assertErased(mark)
        # the running projector sees the checkpoint gone (within a second, or at the next block) and replays from 0
        out = self.drive([tx("AdminContract:UpdateSystemParameter", "loanMinimumAmount", "10000002",
                             who="super-admin")])
        self.wait_block(self.max_block(out))
        for _ in range(10):
            listen.stdin.write("SELECT 1;\n")
            listen.stdin.flush()
            time.sleep(0.1)
        listen.stdin.close()
        text = listen.stdout.read()
        listen.wait(10)
        self.assertIn('payload "cmd-1"', text)
        self.assertEqual(self.stack.psql('SELECT "status", "projectedAt" IS NOT NULL, "commitBlock" IS NOT NULL'
                                         ' FROM "OutboxCommand" WHERE "id" = \'cmd-1\''), [("PROJECTED", "t", "t")])
        after = self.dump()
        for k in before:
            if k in ("EventLog", "SystemParameter"):
                continue
            self.assertEqual(before[k], after[k], "table %s differs after rebuild" % k)
        type(self).top = self.max_block(out)

    def test_06a_gxctl_rebuild_noticed_while_idle(self):
        # no block arrives during this test: the running projector must notice the rebuild by itself
        self.wait_block(self.top)
        before = self.dump()
        pid = self.p1.pid
        height = self.metric(self.p1, "gx_projector_chain_height")
        self.assertEqual(height, float(self.top))
        mark = self.erase_mark()
        t0 = time.monotonic()
        self.stack.gxctl("projector", "rebuild", "--yes")
        self.assertErased(mark)
        deadline = t0 + 10
        noticed = None
        while self.last_block() < self.top:
            if noticed is None and self.stack.psql('SELECT count(*) > 0 FROM "EventLog"') == [("t",)]:
                noticed = time.monotonic() - t0
            self.assertLess(time.monotonic(), deadline, "idle projector did not replay within 10 s of the rebuild"
                            " (checkpoint at %d)" % self.last_block())
            time.sleep(0.05)
        took = time.monotonic() - t0
        print("rebuild noticed by the idle projector after %.2f s, replayed %d blocks in %.2f s"
              % (noticed if noticed is not None else took, self.top, took))
        self.assertTrue(self.p1.alive())
        self.assertEqual(self.p1.pid, pid)
        self.p1.wait_for_log(r"checkpoint moved from block %d to -1" % self.top, timeout=5)
        self.assertEqual(self.metric(self.p1, "gx_projector_chain_height"), height)  # no new block was needed
        self.assertErased(mark)
        self.assertDumpsEqual(before, self.dump())
        self.assertEqual(self.metric(self.p1, "gx_projector_last_block"), float(self.top))

    def test_07_readyz_and_standby_takeover(self):
        self.wait_block(self.top)
        p2 = self.start_projector()
        r = p2.get("/readyz")
        self.assertEqual(r.status, 200)
        time.sleep(0.5)
        self.assertEqual(self.metric(p2, "gx_projector_active"), 0.0)
        self.assertEqual(self.metric(self.p1, "gx_projector_active"), 1.0)
        self.p1.kill9()
        t0 = time.monotonic()
        deadline = t0 + 10
        while self.metric(p2, "gx_projector_active") != 1.0:
            self.assertLess(time.monotonic(), deadline, "standby did not take over")
            time.sleep(0.05)
        took = time.monotonic() - t0
        self.assertLess(took, 5.0)
        out = self.drive([tx("TokenomicsContract:Transfer", "u2", "u1", "1000", "after takeover")])
        self.wait_block(self.max_block(out))
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "Transaction" WHERE "remark" = \'after takeover\''),
                         [("2",)])
        self.assertEqual(p2.get("/readyz").status, 200)


class ProjectorCrashTest(ProjectorTestBase):
    """kill -9 in the middle of applying blocks, restart: the read models equal a clean replay on a fresh database."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        users = ["c%d" % i for i in range(40)]
        cls.users = users
        cls.seed_profiles(users)
        L = [tx("AdminContract:BootstrapSystem", who="super-admin"), WAIT]
        for i, u in enumerate(users):
            L += [tx("IdentityContract:CreateUser", u, "%064x" % (i + 1000), "US", "40")]
        L += [WAIT]
        for u in users:
            L += [tx("TokenomicsContract:DistributeGenesis", u, "individual", "US", who="admin")]
        L += [WAIT]
        half = len(users) // 2
        for w in range(60):
            for i in range(half):
                L += [tx("TokenomicsContract:Transfer", users[i], users[half + (i + w) % half], str(10 + w), "w%d" % w)]
            L += [WAIT]
        cls.res = cls.drive(L)
        cls.top = cls.max_block(cls.res)

    def test_kill9_mid_block_then_restart_equals_clean_replay(self):
        fresh = "gx_fresh"
        p = self.start_projector()
        # kill while it is catching up (blocks are applied one transaction each)
        deadline = time.monotonic() + 30
        while self.last_block() < 5:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.005)
        p.kill9()
        self.assertLess(self.last_block(), self.top, "the projector finished before it could be killed")
        p = self.start_projector()
        self.wait_block(self.top)
        # a fresh projector on a fresh database replays the same chain from block 0
        self.stack.pg.psql("CREATE DATABASE %s" % fresh, db="postgres")
        url = re.sub(r"/gx_protocol(\?|$)", r"/%s\1" % fresh, self.stack.database_url)
        self.stack.gxctl("migrate", "up", env={"DATABASE_URL": url})
        self.stack.gxctl("seed", env={"DATABASE_URL": url})
        self.seed_profiles(self.users, db=fresh)
        self.start_projector(env={"DATABASE_URL": url, "LOCK_KEY": "99"})
        self.wait_block(self.top, db=fresh)
        a, b = self.dump(), self.dump(db=fresh)
        self.assertGreater(len(a["Transaction"]), 1000)
        self.assertDumpsEqual(a, b)


if __name__ == "__main__":
    unittest.main()

"""outbox-submitter against real PostgreSQL and the Fabric peer stand-in (issue 4): every command type end to end,
mapping and chaincode failures, retries of a failed peer, lease takeover after kill -9, two replicas, drain."""

import json
import os
import re
import signal
import time
import unittest
import uuid

import gxtest
from gxtest.chain import evaluate, have_node_client, node_client, start_chain, wait_sql
from gxtest.services import start_backing
from gxtest.sql import enqueue, q, sha256_hex as sha

OPEN = "('PENDING', 'LOCKED', 'SUBMITTED')"


def mapped_command_types():
    """Every commandType of the one mapping table (gx_chaincode_command_types in common/src/chaincode.c)."""
    with open(os.path.join(gxtest.REPO_ROOT, "common", "src", "chaincode.c")) as f:
        src = f.read()
    body = re.search(r"gx_chaincode_command_types\[\] = \{(.*?)\};", src, re.S).group(1)
    return re.findall(r'"([A-Z_]+)"', body)


def row(stack, cid):
    cols = ["status", "attempts", "fabricTxId", "commitBlock", "errorCode", "error", "lockedBy", "submittedAt",
            "committedAt"]
    r = stack.psql('SELECT %s FROM "OutboxCommand" WHERE "id" = %s' % (", ".join('"%s"' % c for c in cols), q(cid)))
    return dict(zip(cols, r[0]))


def wait_final(stack, cid, timeout=30):
    """Wait until the command is COMMITTED/PROJECTED or FAILED; return its row."""
    wait_sql(stack, 'SELECT count(*) FROM "OutboxCommand" WHERE "id" = %s AND "status" IN'
             " ('COMMITTED', 'PROJECTED', 'FAILED')" % q(cid), [("1",)], timeout)
    return row(stack, cid)


class SubmitterCase(gxtest.GxTestCase):
    replicas = 1
    peer_args = ()
    submitter_env = None
    borrower = None  # set to a user id to have it created before the tests (bulk_loans needs one)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not gxtest.have_binary("outbox-submitter") or not gxtest.have_binary("gx-fabric-peer"):
            raise unittest.SkipTest("outbox-submitter or gx-fabric-peer is not built")
        start_backing(cls.stack, redis=False)
        cls.chain = start_chain(cls.stack, replicas=cls.replicas, peer_args=cls.peer_args, projector=False,
                                submitter_env=cls.submitter_env)
        if cls.borrower:
            make_borrower(cls.stack, cls.borrower)

    def committed(self, ctype, payload, aggregate=None, timeout=30):
        cid = enqueue(self.stack, ctype, payload, aggregate)
        r = wait_final(self.stack, cid, timeout)
        self.assertEqual(r["status"], "COMMITTED", "%s %s: %r" % (ctype, json.dumps(payload), r))
        self.assertRegex(r["fabricTxId"], r"^[0-9a-f]{64}$")
        self.assertGreaterEqual(int(r["commitBlock"]), 1)
        self.assertTrue(r["submittedAt"] and r["committedAt"])
        self.assertEqual(r["lockedBy"], "")
        return r

    def failed(self, ctype, payload, code, message_pattern, aggregate=None):
        cid = enqueue(self.stack, ctype, payload, aggregate)
        r = wait_final(self.stack, cid)
        self.assertEqual(r["status"], "FAILED", r)
        self.assertEqual(r["errorCode"], code, r)
        self.assertRegex(r["error"], message_pattern)
        return r


VOTING_S = 20  # governance voting window of EveryCommandTest's proposal


class EveryCommandTest(SubmitterCase):
    """Each mapped command type, in an order that makes every one succeed on the stand-in."""

    def test_every_command_type(self):
        ok = self.committed
        a, b, c = "alice-%s" % uuid.uuid4().hex[:8], "bob-%s" % uuid.uuid4().hex[:8], "carol-%s" % uuid.uuid4().hex[:8]
        org, ptx, loan, prop = ("org-" + uuid.uuid4().hex[:8], "ptx-" + uuid.uuid4().hex[:8],
                                "loan-" + uuid.uuid4().hex[:8], "prop-" + uuid.uuid4().hex[:8])
        seen = set()

        def run(ctype, payload, agg):
            seen.add(ctype)
            return ok(ctype, payload, agg)

        run("BOOTSTRAP_SYSTEM", {}, "system")
        run("INITIALIZE_COUNTRY_DATA", {"countriesData": [{"countryCode": "IN", "percentage": "0.6"},
                                                          {"countryCode": "US", "percentage": "0.4"}]}, "system")
        run("ACTIVATE_TREASURY", {"countryCode": "IN"}, "system")
        for u in (a, b, c):
            run("CREATE_USER", {"userId": u, "biometricHash": sha(u), "nationality": "IN", "age": 30}, "wallet:" + u)
            run("DISTRIBUTE_GENESIS", {"userId": u, "userType": "individual", "countryCode": "IN"}, "wallet:" + u)
        # the proposal is submitted and voted on early, with a voting window long enough that no load can close it
        # before the vote; the commands in between use up most of the window before EXECUTE_PROPOSAL
        run("UPDATE_SYSTEM_PARAMETER", {"paramKey": "governanceVotingPeriodSeconds", "paramValue": str(VOTING_S)},
            "system")
        submitted = run("SUBMIT_PROPOSAL", {"proposalId": prop, "proposerId": a,
                                            "targetParam": "velocityTaxDormancyDays", "newValue": "200", "title": "t",
                                            "description": "d"}, "proposal:" + prop)
        run("CAST_VOTE", {"proposalId": prop, "voterId": b, "vote": "FOR"}, "proposal:" + prop)
        run("TRANSFER_TOKENS", {"fromUserId": a, "toUserId": b, "amount": "100000", "remark": "hi"}, "wallet:" + a)
        run("FREEZE_WALLET", {"userId": c, "reason": "test"}, "wallet:" + c)
        run("UNFREEZE_WALLET", {"userId": c}, "wallet:" + c)
        run("PROPOSE_ORGANIZATION", {"orgId": org, "orgName": "Org", "orgType": "BUSINESS",
                                     "stakeholderIds": [a, b]}, "org:" + org)
        run("ENDORSE_MEMBERSHIP", {"orgId": org, "userId": a}, "org:" + org)
        run("ENDORSE_MEMBERSHIP", {"orgId": org, "userId": b}, "org:" + org)
        run("ACTIVATE_ORGANIZATION", {"orgId": org}, "org:" + org)
        run("DEFINE_AUTH_RULE", {"orgId": org, "amountThreshold": "0", "requiredApprovals": 1,
                                 "approverIds": [a, b]}, "org:" + org)
        # fund the org account (its id is the org id), then a 1-of-2 multisig payment executes on approval
        run("TRANSFER_TOKENS", {"fromUserId": a, "toUserId": org, "amount": "500000"}, "wallet:" + a)
        run("INITIATE_MULTISIG_TX", {"pendingTxId": ptx, "orgId": org, "initiatorId": a, "toUserId": c,
                                     "amount": "1000", "remark": "pay"}, "org:" + org)
        run("APPROVE_MULTISIG_TX", {"pendingTxId": ptx, "userId": b}, "multisig:" + ptx)
        run("APPLY_FOR_LOAN", {"loanId": loan, "borrowerId": a, "amount": "10000000", "collateralHash": sha(loan)},
            "loan:" + loan)
        run("APPROVE_LOAN", {"loanId": loan, "approvedBy": "admin"}, "loan:" + loan)
        run("REPAY_LOAN", {"loanId": loan, "borrowerId": a, "amount": "10000000"}, "loan:" + loan)
        # the window opened at the SUBMIT_PROPOSAL proposal's timestamp, which precedes its committedAt (same clock)
        wait_sql(self.stack, "SELECT now() > %s::timestamptz + interval '%d seconds' + interval '500 ms'"
                 % (q(submitted["committedAt"]), VOTING_S), [("t",)], timeout=VOTING_S + 30)
        run("EXECUTE_PROPOSAL", {"proposalId": prop, "executedBy": "admin"}, "proposal:" + prop)
        run("UPDATE_SYSTEM_PARAMETER", {"paramKey": "velocityTaxDormancyDays", "paramValue": "0"}, "system")
        run("APPLY_VELOCITY_TAX", {"accountId": c}, "wallet:" + c)
        run("APPOINT_ADMIN", {"userId": b}, "system")
        run("PAUSE_SYSTEM", {"reason": "maintenance"}, "system")
        run("RESUME_SYSTEM", {}, "system")
        mapped = set(mapped_command_types())
        self.assertEqual(seen, mapped, "not exercised: %s" % sorted(mapped - seen))
        if have_node_client():
            # the chain state agrees: a's genesis minus two transfers (fees apply above the threshold only)
            bal = evaluate(self.chain, "TokenomicsContract:GetBalance", b)
            self.assertEqual(bal["balance"], str(10000000 + 100000))
            st = evaluate(self.chain, "AdminContract:GetSystemStatus")
            self.assertTrue(st["bootstrapped"])
            self.assertFalse(st["paused"])


def bulk_loans(stack, n, prefix, borrower):
    """Enqueue n APPLY_FOR_LOAN commands of one borrower in one statement, one loan aggregate each. Loan
    applications write only their own loan key, so they never conflict with each other (CREATE_USER would: every
    user creation increments the chain's user count, which allows one per block)."""
    stack.psql('INSERT INTO "OutboxCommand" ("tenantId", "service", "commandType", "requestId", "payload",'
               ' "aggregateId") SELECT \'default\', \'test\', \'APPLY_FOR_LOAN\', %s || i,'
               ' jsonb_build_object(\'loanId\', %s || i, \'borrowerId\', %s, \'amount\', \'10000000\','
               ' \'collateralHash\', encode(sha256((%s || i)::bytea), \'hex\')), \'loan:\' || %s || i'
               ' FROM generate_series(1, %d) i; NOTIFY gx_outbox'
               % (q(prefix), q(prefix), q(borrower), q(prefix), q(prefix), n))
    return ["%s%d" % (prefix, i) for i in range(1, n + 1)]


def make_borrower(stack, name):
    cid = enqueue(stack, "CREATE_USER", {"userId": name, "biometricHash": sha(name), "nationality": "IN",
                                         "age": 40}, "wallet:" + name)
    r = wait_final(stack, cid)
    assert r["status"] == "COMMITTED", r
    return name


def metric(daemon, name, labels=""):
    """Value of one sample of daemon's /metrics (0 when absent)."""
    text = daemon.get("/metrics").text
    m = re.search(r"(?m)^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text)
    return float(m.group(1)) if m else 0.0


def assert_once_on_chain(tc, chain, event, cids_sql_where):
    """Every command's fabricTxId carries exactly one event of type event on the chain, and no other event of
    that type exists: nothing applied twice, nothing lost (reference Node client reads the event stream)."""
    rows = tc.stack.psql('SELECT "fabricTxId" FROM "OutboxCommand" WHERE %s' % cids_sql_where)
    txids = [r[0] for r in rows]
    tc.assertEqual(len(set(txids)), len(txids), "a tx id is shared by two commands")
    if not have_node_client():
        return
    # read every event of the chain: bounded by the number of valid transactions so far
    total = int(tc.stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "status" IN (\'COMMITTED\', \'PROJECTED\')')[0][0])
    out = node_client(chain, "events", "0", str(total), timeout=300)
    evs = [e for e in out["events"] if e["name"] == event]
    seen = [e["txId"] for e in evs]
    tc.assertEqual(len(seen), len(set(seen)), "an event tx id appears twice")
    tc.assertEqual(sorted(seen), sorted(txids))


class FailureTest(SubmitterCase):
    """Mapping, chaincode and transport failures."""

    submitter_env = {"MAX_RETRIES": "3", "BACKOFF_BASE_MS": "50ms", "BACKOFF_MAX_MS": "200ms"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cid = enqueue(cls.stack, "BOOTSTRAP_SYSTEM", {}, "system")
        assert wait_final(cls.stack, cid)["status"] == "COMMITTED"

    def setUp(self):
        self.chain.set_faults("")

    def test_unmappable_payload_fails_once_with_mapping_error(self):
        r = self.failed("TRANSFER_TOKENS", {"fromUserId": "a", "toUserId": "b", "amount": 12}, "MAPPING_ERROR",
                        r"TRANSFER_TOKENS payload: field 'amount'")
        self.assertEqual(r["attempts"], "0")
        self.assertEqual(r["fabricTxId"], "")
        self.failed("MINT", {"amount": "1"}, "MAPPING_ERROR", r"unknown command type")
        # a payload that is not an object at all
        self.failed("CREATE_USER", [], "MAPPING_ERROR", r"CREATE_USER payload")

    def test_chaincode_error_is_permanent_with_peer_message(self):
        r = self.failed("TRANSFER_TOKENS", {"fromUserId": "nobody-1", "toUserId": "nobody-2", "amount": "5"},
                        "CHAINCODE_404", r"^account not found: nobody-1$", "wallet:nobody-1")
        self.assertEqual(r["attempts"], "1")
        self.failed("CREATE_USER", {"userId": "u-bad-hash", "biometricHash": "xyz", "nationality": "IN", "age": 3},
                    "CHAINCODE_400", r"biometricHash must be 64 lower-case hex")

    def test_retries_exhausted_fail_with_reason(self):
        self.chain.set_faults("unavailable Submit 100\n")
        r = self.failed("CREATE_USER", {"userId": "u-ex", "biometricHash": sha("u-ex"), "nationality": "IN",
                                        "age": 3}, "FABRIC_UNAVAILABLE", r"^gave up after 3 attempts: UNAVAILABLE",
                        "wallet:u-ex")
        self.assertEqual(r["attempts"], "3")

    def test_unknown_outcome_keeps_tx_id(self):
        # the first CommitStatus fails after the transaction was ordered: only CommitStatus follows (or the events
        # stream shows it), never a second Endorse/Submit; the command ends COMMITTED with its first tx id, once
        self.chain.set_faults("unavailable CommitStatus 1\n")
        cid = enqueue(self.stack, "CREATE_USER", {"userId": "u-unk", "biometricHash": sha("u-unk"),
                                                  "nationality": "IN", "age": 3}, "wallet:u-unk")
        r = wait_final(self.stack, cid)
        self.assertEqual(r["status"], "COMMITTED", r)
        self.assertEqual(r["attempts"], "1")
        sub = self.stack.psql('SELECT "payload"->\'_submission\'->>\'txId\' FROM "OutboxCommand" WHERE "id" = %s'
                              % q(cid))[0][0]
        self.assertEqual(sub, r["fabricTxId"])
        if have_node_client():
            out = node_client(self.chain, "events", "0", "200")
            mine = [e for e in out["events"] if e["name"] == "UserCreated"
                    and json.loads(e["payload"])["userID"] == "u-unk"]
            self.assertEqual(len(mine), 1, mine)
            self.assertEqual(mine[0]["txId"], r["fabricTxId"])

    def test_transient_endorse_errors_are_retried(self):
        self.chain.set_faults("too_many Endorse 2\n")
        r = self.committed("CREATE_USER", {"userId": "u-tm", "biometricHash": sha("u-tm"), "nationality": "IN",
                                           "age": 3}, "wallet:u-tm")
        self.assertEqual(r["attempts"], "3")


def enqueue_many(stack, commands):
    """Insert [(commandType, payload, aggregateId)] as PENDING commands in one statement (one NOTIFY), so a running
    submitter claims them together. createdAt increases in list order (1 ms apart), which is the order the
    submitter keeps per aggregate. Returns the command ids in list order."""
    ids = [str(uuid.uuid4()) for _ in commands]
    rows = ",".join("(%s, %d, %s, %s::jsonb, %s)" % (q(cid), i, q(ct), q(json.dumps(pl)), q(agg))
                    for i, (cid, (ct, pl, agg)) in enumerate(zip(ids, commands)))
    stack.psql('INSERT INTO "OutboxCommand" ("id", "tenantId", "service", "commandType", "requestId", "payload",'
               ' "aggregateId", "createdAt") SELECT v.id, \'default\', \'test\', v.ct::"CommandType", v.id, v.pl,'
               ' v.agg, now() - interval \'1 second\' + v.i * interval \'1 millisecond\''
               ' FROM (VALUES %s) v(id, i, ct, pl, agg); NOTIFY gx_outbox' % rows)
    return ids


class OrderingTest(SubmitterCase):
    """At most one command per aggregate in flight: dependent commands enqueued together apply in order."""

    # Blocks are cut at 8 transactions (or after 1.5 s): the 8 CREATE_USERs claimed together all land in one block,
    # endorsed against the same user count, so 7 of them conflict whatever the machine's load
    peer_args = ("--block-size", "8", "--block-timeout-ms", "1500")

    def test_per_aggregate_order_and_mvcc_reendorse(self):
        cid = enqueue(self.stack, "BOOTSTRAP_SYSTEM", {}, "system")
        self.assertEqual(wait_final(self.stack, cid)["status"], "COMMITTED")
        cmds = []
        users = ["ord-%d" % i for i in range(8)]
        for u in users:
            # each wallet's three commands only succeed in this order
            cmds.append(("CREATE_USER", {"userId": u, "biometricHash": sha(u), "nationality": "IN", "age": 20},
                         "wallet:" + u))
            cmds.append(("DISTRIBUTE_GENESIS", {"userId": u, "userType": "individual", "countryCode": "IN"},
                         "wallet:" + u))
            cmds.append(("FREEZE_WALLET", {"userId": u, "reason": "r"}, "wallet:" + u))
        ids = enqueue_many(self.stack, cmds)
        rows = [wait_final(self.stack, c, timeout=120) for c in ids]
        self.assertEqual([r["status"] for r in rows], ["COMMITTED"] * len(ids), rows)
        for i in range(0, len(rows), 3):
            blocks = [int(r["commitBlock"]) for r in rows[i:i + 3]]
            self.assertEqual(blocks, sorted(set(blocks)), "one wallet's commands shared or reordered blocks")
        # one user creation per block: 7 of the first block's 8 conflicted and were re-endorsed, not failed
        creates = sorted(int(r["commitBlock"]) for r in rows[0::3])
        self.assertEqual(len(set(creates)), len(users), creates)
        d = self.chain.submitters[0]
        conflicts = metric(d, "gx_outbox_processed_total", '{outcome="conflict"}')
        print("MVCC conflicts re-endorsed: %d" % conflicts)
        self.assertGreaterEqual(conflicts, len(users) - 1)
        self.assertEqual(metric(d, "gx_outbox_processed_total", '{outcome="failed"}'), 0)
        self.assertTrue(self.chain.peer.wait_for_log(r"committed block \d+: 8 transactions, 1 valid", timeout=1))


class PeerOutageTest(SubmitterCase):
    """Peer down: /readyz 503 naming the peer, nothing fails; peer back: the backlog drains."""

    borrower = "borrower-1"

    def test_peer_down_then_up(self):
        d = self.chain.submitters[0]
        d.expect_errors("")  # connection errors are the point
        self.chain.stop_peer()
        r = d.wait_ready(timeout=15, want=503)
        self.assertIn("peer", r.text)
        users = bulk_loans(self.stack, 200, "po-", self.borrower)
        time.sleep(2)
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "status" = \'FAILED\''),
                         [("0",)])
        self.chain.start_peer()
        d.wait_ready(timeout=20)
        wait_sql(self.stack, 'SELECT count(*) FROM "OutboxCommand" WHERE "status" = \'COMMITTED\'',
                 [(str(len(users) + 1),)], timeout=60)
        assert_once_on_chain(self, self.chain, "LoanApplicationReceived", "\"commandType\" = 'APPLY_FOR_LOAN'")


class TwoReplicasTest(SubmitterCase):
    """Two replicas share thousands of commands: each is submitted exactly once."""

    borrower = "borrower-1"

    replicas = 2

    def test_thousands_exactly_once(self):
        n = 3000
        bulk_loans(self.stack, n, "rep-", self.borrower)
        wait_sql(self.stack, 'SELECT count(*) FROM "OutboxCommand" WHERE "status" = \'COMMITTED\'', [(str(n + 1),)],
                 timeout=180)
        per = [metric(d, "gx_outbox_processed_total", '{outcome="committed"}') for d in self.chain.submitters]
        self.assertEqual(sum(per), n + 1, per)
        # the original submitter's names beside ours (docs/compat.md)
        orig = [metric(d, "outbox_commands_processed_total", '{status="success"}') for d in self.chain.submitters]
        self.assertEqual(orig, per)
        self.assertEqual([metric(d, "outbox_worker_status", "") for d in self.chain.submitters],
                         [1.0] * len(per))
        self.assertTrue(all(p > 0 for p in per), "one replica did nothing: %r" % per)
        self.assertEqual(self.stack.psql('SELECT count(DISTINCT "fabricTxId") FROM "OutboxCommand"'), [(str(n + 1),)])
        assert_once_on_chain(self, self.chain, "LoanApplicationReceived", "\"commandType\" = 'APPLY_FOR_LOAN'")


class KillTest(SubmitterCase):
    """kill -9 of a replica mid-batch: its leases expire, the other replica takes over; nothing lost or doubled."""

    borrower = "borrower-1"

    replicas = 2
    submitter_env = {"LEASE_MS": "2s"}
    peer_args = ("--block-timeout-ms", "400")

    def test_kill9_mid_batch(self):
        n = 2000
        bulk_loans(self.stack, n, "k9-", self.borrower)
        victim = self.chain.submitters[0]
        wait_sql(self.stack, 'SELECT count(*) > 0 FROM "OutboxCommand" WHERE "status" = \'SUBMITTED\''
                 ' AND "lockedBy" = \'submitter-1\'', [("t",)], timeout=30)
        victim.kill9()
        held = int(self.stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "lockedBy" = \'submitter-1\'')[0][0])
        wait_sql(self.stack, 'SELECT count(*) FROM "OutboxCommand" WHERE "status" = \'COMMITTED\'', [(str(n + 1),)],
                 timeout=180)
        self.assertEqual(self.stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "status" <> \'COMMITTED\''),
                         [("0",)])
        print("kill -9 left %d leased commands to take over" % held)
        assert_once_on_chain(self, self.chain, "LoanApplicationReceived", "\"commandType\" = 'APPLY_FOR_LOAN'")


class DrainTest(SubmitterCase):
    """SIGTERM with commands in flight: exit 0 within the deadline, unfinished work released with its tx id."""

    borrower = "borrower-1"

    submitter_env = {"DRAIN_TIMEOUT": "1s"}

    def test_sigterm_releases_in_flight(self):
        d = self.chain.submitters[0]
        d.expect_errors("")  # the peer restarts under it
        # blocks are now cut only after 20 s: the 50 commands stay in flight
        self.chain.stop_peer()
        self.chain.peer_args = ["--block-timeout-ms", "20000", "--block-size", "100000"]
        self.chain.start_peer()
        d.wait_ready(timeout=20)
        bulk_loans(self.stack, 50, "dr-", self.borrower)
        wait_sql(self.stack, 'SELECT count(*) FROM "OutboxCommand" WHERE "status" = \'SUBMITTED\'', [("50",)],
                 timeout=30)
        before = dict(self.stack.psql('SELECT "id", "fabricTxId" FROM "OutboxCommand" ORDER BY 1'))
        t0 = time.monotonic()
        self.assertEqual(d.stop(signal.SIGTERM, timeout=5.0), 0, d.log_tail())
        self.assertLess(time.monotonic() - t0, 5.0)
        self.assertEqual(self.stack.psql('SELECT "status", count(*), count("lockedBy") FROM "OutboxCommand"'
                                         ' GROUP BY 1 ORDER BY 1'), [("PENDING", "50", "0"), ("COMMITTED", "1", "0")])
        # a new replica sends the same proposals: same tx ids, each committed once
        self.chain.stop_peer()
        self.chain.peer_args = ["--block-timeout-ms", "200"]
        self.chain.start_peer()
        self.chain.start_submitter()
        wait_sql(self.stack, 'SELECT count(*) FROM "OutboxCommand" WHERE "status" = \'COMMITTED\'', [("51",)],
                 timeout=60)
        after = dict(self.stack.psql('SELECT "id", "fabricTxId" FROM "OutboxCommand" ORDER BY 1'))
        self.assertEqual(before, after)


if __name__ == "__main__":
    unittest.main()

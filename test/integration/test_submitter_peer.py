"""outbox-submitter against a real peer's behaviour (issue 21, docs/outbox-submitter.md): after a successful Submit
only CommitStatus follows until the outcome is known; FAILED_PRECONDITION from Endorse (no endorsement plan: another
organization's peers down) is retried with backoff and a cap; while the peer answers FAILED_PRECONDITION for the
configured channel and chaincode the submitter is not ready, names the settings, says so in a metric and a log line,
and burns no command."""

import time
import unittest

import gxtest
from gxtest.chain import start_chain, wait_sql
from gxtest.faults import wait_until
from gxtest.services import start_backing
from gxtest.sql import enqueue, q, sha256_hex as sha


def user(name):
    return {"userId": name, "biometricHash": sha(name), "nationality": "IN", "age": 30}


def row(stack, cid):
    cols = ["status", "attempts", "errorCode", "error"]
    r = stack.psql('SELECT %s FROM "OutboxCommand" WHERE "id" = %s' % (", ".join('"%s"' % c for c in cols), q(cid)))
    return dict(zip(cols, r[0]))


def metric(daemon, name):
    for line in daemon.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


class ChainCase(gxtest.GxTestCase):
    """PostgreSQL, the stand-in and no worker yet (the tests start their submitters)."""
    replicas, projector, peer_args = 0, False, ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not gxtest.have_binary("outbox-submitter") or not gxtest.have_binary("gx-fabric-peer"):
            raise unittest.SkipTest("outbox-submitter or gx-fabric-peer is not built")
        start_backing(cls.stack, redis=False)
        cls.chain = start_chain(cls.stack, replicas=cls.replicas, projector=cls.projector, peer_args=cls.peer_args)


class PeerBehaviourTest(ChainCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sub = cls.chain.start_submitter({"BACKOFF_BASE_MS": "200ms", "BACKOFF_MAX_MS": "1s", "MAX_RETRIES": "5"})

    def setUp(self):
        self.chain.set_faults("")

    def test_only_commit_status_after_submit(self):
        # the events stream is down, so CommitStatus is asked, and the first two fail: the transaction was ordered,
        # it must not be endorsed or sent again
        self.chain.set_faults("drop_events\nunavailable ChaincodeEvents 100000\nunavailable CommitStatus 2\n")
        cid = enqueue(self.stack, "CREATE_USER", user("cs-a"), "wallet:cs-a")
        wait_sql(self.stack, 'SELECT "status"::text FROM "OutboxCommand" WHERE "id" = %s' % q(cid), [("COMMITTED",)],
                 30)
        r = row(self.stack, cid)
        self.assertEqual(r["attempts"], "1", r)  # one claim, one Endorse, one Submit
        self.sub.wait_for_log(r"command %s: tx \w+ submitted, commit status unknown \(UNAVAILABLE" % cid, 5)

    def test_endorse_failed_precondition_is_retried(self):
        self.chain.set_faults("no_plan Endorse 2\n")
        cid = enqueue(self.stack, "CREATE_USER", user("fp-a"), "wallet:fp-a")
        wait_sql(self.stack, 'SELECT "status"::text FROM "OutboxCommand" WHERE "id" = %s' % q(cid), [("COMMITTED",)],
                 30)
        self.assertEqual(row(self.stack, cid)["attempts"], "3")

    def test_endorse_failed_precondition_gives_up_with_reason(self):
        self.chain.set_faults("no_plan Endorse 100\n")
        cid = enqueue(self.stack, "CREATE_USER", user("fp-b"), "wallet:fp-b")
        wait_sql(self.stack, 'SELECT "status"::text FROM "OutboxCommand" WHERE "id" = %s' % q(cid), [("FAILED",)], 60)
        r = row(self.stack, cid)
        self.assertEqual((r["attempts"], r["errorCode"]), ("5", "FABRIC_FAILED_PRECONDITION"), r)
        self.assertRegex(r["error"], r"^gave up after 5 attempts: FAILED_PRECONDITION: no peers available")
        self.chain.set_faults("")
        self.sub.wait_ready(timeout=20)

    def test_no_endorsers_for_channel_not_ready_and_burns_nothing(self):
        d = self.sub
        d.expect_errors("not served by the peer")
        self.chain.set_faults("no_plan Evaluate 100000\n")
        want = "FABRIC_CHANNEL 'gxchannel' / FABRIC_CHAINCODE 'gxtv3' not served by the peer"
        wait_until(lambda: (lambda r: r.status == 503 and want in r.text)(d.get("/readyz")), 20,
                   what="/readyz naming the settings")
        self.assertEqual(metric(d, "gx_outbox_peer_no_endorsers"), 1.0)
        d.wait_for_log(want + r".*not claiming until the peer serves them", 5)
        cid = enqueue(self.stack, "CREATE_USER", user("np-a"), "wallet:np-a")
        time.sleep(3)
        self.assertEqual(row(self.stack, cid)["status"], "PENDING")
        self.assertEqual(row(self.stack, cid)["attempts"], "0")
        self.chain.set_faults("")
        wait_sql(self.stack, 'SELECT "status"::text FROM "OutboxCommand" WHERE "id" = %s' % q(cid), [("COMMITTED",)],
                 30)
        d.wait_ready(timeout=10)
        self.assertEqual(metric(d, "gx_outbox_peer_no_endorsers"), 0.0)
        d.wait_for_log(r"the peer serves FABRIC_CHANNEL 'gxchannel' / FABRIC_CHAINCODE 'gxtv3' again", 5)


if __name__ == "__main__":
    unittest.main()


class BurstTest(ChainCase):
    """2,000 commands at once against the stand-in with its Gateway concurrency limit (500, as a Fabric 2.5 peer)
    and a production-like 2 s block cut: no call refused, no transaction sent twice, every command COMMITTED then
    PROJECTED, the commits learnt from the events stream, never more than FABRIC_MAX_CALLS calls held."""
    replicas, projector, peer_args = 1, True, ("--block-timeout-ms", "2000")

    def test_burst_within_the_peer_limit(self):
        from test_submitter import bulk_loans
        st, d = self.stack, self.chain.submitters[0]
        b = enqueue(st, "CREATE_USER", user("burst-borrower"), "wallet:burst-borrower")
        wait_sql(st, 'SELECT "status"::text FROM "OutboxCommand" WHERE "id" = %s' % q(b), [("PROJECTED",)], 30)
        n = 2000
        bulk_loans(st, n, "b-", "burst-borrower")
        wait_sql(st, 'SELECT count(*) FROM "OutboxCommand" WHERE "commandType" = \'APPLY_FOR_LOAN\' AND "status"'
                 " IN ('COMMITTED', 'PROJECTED')", [(str(n),)], timeout=240)
        wait_sql(st, 'SELECT count(*) FROM "OutboxCommand" WHERE "status" = \'PROJECTED\'', [(str(n + 1),)],
                 timeout=120)
        self.assertEqual(st.psql('SELECT count(*), count(DISTINCT "fabricTxId"), max("attempts") FROM '
                                 '"OutboxCommand" WHERE "commandType" = \'APPLY_FOR_LOAN\''),
                         [(str(n), str(n), "1")])
        self.assertEqual(metric(d, 'gx_outbox_processed_total{outcome="retry"}') or 0.0, 0.0)
        peak = metric(d, "gx_outbox_fabric_calls_peak")
        self.assertLessEqual(peak, 400 + 2)  # the budget, plus the probe and the stream
        events = metric(d, 'gx_outbox_commits_learnt_total{source="events"}') or 0.0
        self.assertGreater(events, n * 0.9, "most commits should come from the events stream")
        time.sleep(1.5)  # the stand-in rewrites its counters every second
        stats = self.chain.peer_stats()
        self.assertEqual(stats["refused"], 0, stats)
        self.assertLessEqual(stats["peak"], stats["limit"], stats)
        print("burst of %d: peak %d Gateway calls held (peer: peak %d of %d, %d refused), %d commits learnt from the "
              "events stream" % (n, peak, stats["peak"], stats["limit"], stats["refused"], events))


class MisconfiguredTest(ChainCase):
    """A FABRIC_CHANNEL or FABRIC_CHAINCODE the peer does not serve (the stand-in answers as a Fabric 2.5 peer
    does): /readyz 503 naming the setting, the metric, one error line, and no command burned."""

    def check(self, env, want):
        d = self.chain.start_submitter(env, wait_ready=False)
        d.expect_errors("not served by the peer")
        def named():
            try:
                r = d.get("/readyz")
            except OSError:
                return False  # not listening yet
            return r.status == 503 and want in r.text
        wait_until(named, 20, what="/readyz naming the setting")
        self.assertEqual(metric(d, "gx_outbox_peer_no_endorsers"), 1.0)
        cid = enqueue(self.stack, "CREATE_USER", user("mc-" + want[-8:]), "wallet:mc-" + want[-8:])
        time.sleep(2)
        self.assertEqual((row(self.stack, cid)["status"], row(self.stack, cid)["attempts"]), ("PENDING", "0"))
        d.stop()
        self.chain.submitters.remove(d)
        self.stack.psql('DELETE FROM "OutboxCommand" WHERE "id" = %s' % q(cid))

    def test_unknown_channel(self):
        self.check({"FABRIC_CHANNEL": "nochannel"}, "FABRIC_CHANNEL 'nochannel' / FABRIC_CHAINCODE 'gxtv3'")

    def test_unknown_chaincode(self):
        self.check({"FABRIC_CHAINCODE": "nocc"}, "FABRIC_CHANNEL 'gxchannel' / FABRIC_CHAINCODE 'nocc'")

"""Worker faults under production settings (durable PostgreSQL, 2 s blocks, two projectors), each under a load of
transfers between random pairs with fees, each ending with the shared checker (gxtest.faults.check_final). Commands
that must be taken over are held at the stand-in's endorsement (peer fault rule) so they are surely not on chain.

1. kill -9 of a submitter running with the default WORKER_ID and a long lease (60 s), restarted as a pod restarts
   it: its successor must settle the commands it had in flight within seconds, not after the lease (issue 20,
   finding 3).
2. SIGSTOP of a submitter past its lease (the default LEASE_MS): the other replica takes its commands over once the
   lease runs out, not before; after SIGCONT the stopped one holds nothing and works again.
3. SIGSTOP of the active projector (6 s), then SIGCONT: projection resumes and the backlog is projected.
4. The lost commit acknowledgement (finding 1): a submitter whose PostgreSQL connection goes through
   gxtest.pgproxy, which lets a claim's COMMIT reach the database but drops its answer and cuts the connection
   while other commands are in flight; the claimed rows must be settled after the reconnect (long lease: only the
   reconciliation on reconnect can free them in time), not left SUBMITTED with their lease renewed for good.
5. Rounds of non-conflicting transfers (many valid per block) while the submitters mark rows COMMITTED and the
   projector marks the same rows PROJECTED: no "deadlock detected" (finding 2).
"""

import re
import time
import unittest

from gxtest import faults
from gxtest.chain import start_chain
from gxtest.pgproxy import PgAckDropProxy

# the offered load stays below what 2 s blocks commit (transfers sharing a wallet or the fee pool conflict: a few
# valid per block), so a takeover is measured against a short queue
USERS = faults.by_profile(8, 16)
THREADS = faults.by_profile(2, 4)
AMOUNTS = ["0.5", "1", "2.5", "10.5", "0.75", "3"]
# test 5: disjoint pairs sending at once, one round per block
BURST_USERS = faults.by_profile(24, 48)
BURST_ROUNDS = faults.by_profile(8, 30)
RUN_S = faults.by_profile(4.0, 20.0)
TAKEOVER_LIMIT_S = 15.0
LONG_LEASE = "60s"   # where only the fix under test, not the lease running out, may settle the rows in time


class WorkerFaultTest(faults.FaultTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        st = cls.stack
        cls.chain = ch = start_chain(st, replicas=1, submitter_env={"WORKER_ID": "setup"})
        if ch.projector is None:
            raise unittest.SkipTest("projector is not built")
        cls.projectors = [ch.projector, st.start_daemon("projector", env=ch.fabric_env())]
        cls.api = st.start_daemon("svc-tokenomics", env=faults.NO_LIMITS)
        users = faults.fund_users(st, cls.api, USERS + BURST_USERS, timeout=180)
        cls.users, cls.burst = users[:USERS], users[USERS:]
        ch.submitters.pop().stop(timeout=30)
        faults.production_blocks(ch)
        cls.log_from = faults.deadlock_canary(st)
        cls.supply0 = faults.supply(st)
        cls.ids = {}          # every transfer command answered 202 in this class (ordered)
        for p in st.procs:
            p.expect_errors("")   # they log the faults they see; sanitizer reports still fail the test

    def setUp(self):
        super().setUp()
        self.load = None
        self.ids0 = len(self.ids)

    def start_submitter(self, env):
        d = self.chain.start_submitter(env, timeout=60)
        d.expect_errors("")
        self.addCleanup(self.stop_submitter, d)
        return d

    def stop_submitter(self, d):
        if d in self.chain.submitters:
            self.chain.submitters.remove(d)
        if d.alive():
            faults.resume(d)
            d.stop(timeout=30)

    def start_load(self):
        self.load = faults.TransferLoad(self.api.url, self.users, threads=THREADS, amounts=AMOUNTS, retry_for=60,
                                        pace=1.5).start()
        self.addCleanup(self.collect, self.load)
        return self.load

    def collect(self, load):
        """Stop load and add its 202s to the class's commands (also when the test failed: later checks need them)."""
        load.stop()
        for c in load.accepted.values():
            self.ids[c] = True

    def finish(self, section, every_wallet=False):
        """Stop the load, then the shared checker over every command of the class so far (the ledger compared for
        the load's wallets and the system accounts; every wallet when every_wallet)."""
        load = self.load
        if load is not None:
            self.collect(load)
            self.assertEqual(load.conflicts, [], "a retried key got a second commandId")
            self.assertGreater(len(load.accepted), 0, load.outcomes)
        daemons = [self.api] + self.chain.submitters + self.projectors
        figs = faults.check_final(self, self.stack, self.chain, list(self.ids), self.supply0, daemons,
                                  pg_log_from=self.log_from, timeout=180,
                                  ledger_accounts=None if every_wallet else [u.acct for u in self.users])
        faults.record("worker faults", "%s: requests accepted, final states" % section,
                      "%d; %s" % (len(self.ids) - self.ids0, figs["final states"]))
        faults.record("worker faults", "deadlocks in the PostgreSQL log", figs["deadlocks in the PostgreSQL log"])

    def held(self, exclude=(), only=None, since=None, timeout=60):
        """Wait until a submitter holds rows (claimed after the database time since, when given); returns
        (worker id, [command ids]) of the first one seen."""
        def rows():
            cond = '"lockedBy" = %s' % faults.q(only) if only else '"lockedBy" NOT IN (%s)' % ",".join(
                faults.q(w) for w in exclude or ("",))
            if since:
                cond += ' AND "lockedAt" > %s' % faults.q(since)
            r = self.stack.psql('SELECT "lockedBy", "id" FROM "OutboxCommand" WHERE "status" IN (\'LOCKED\', '
                                '\'SUBMITTED\') AND %s' % cond)
            return r or None
        r, _ = faults.wait_until(rows, timeout, 0.05, "a submitter holding commands")
        wid = r[0][0]
        return wid, [c for w, c in r if w == wid]

    def hold_endorsements(self):
        """Make every endorsement wait 5 s at the stand-in from now on: the commands claimed meanwhile are in flight
        and not on chain (a replica that dies or stops now never submits them; only a takeover settles them).
        Returns the database time the rule took effect."""
        self.chain.set_faults("delay Endorse 100000 5000\n")
        self.addCleanup(self.chain.set_faults, "")
        time.sleep(0.3)   # the stand-in re-reads its control file when it changes
        return self.stack.psql("SELECT now()::text")[0][0]

    def test_1_kill9_default_worker_id(self):
        st = self.stack
        env = {"WORKER_ID": None, "LEASE_MS": LONG_LEASE}          # the default identity, as in a pod
        self.start_submitter(env)
        self.start_submitter({"WORKER_ID": "sub-b", "LEASE_MS": LONG_LEASE})
        victim = self.chain.submitters[0]
        self.start_load()
        time.sleep(RUN_S / 2)
        since = self.hold_endorsements()
        wid, ids = self.held(exclude=("sub-b",), since=since)
        victim.kill9()
        t0 = time.monotonic()
        self.chain.set_faults("")
        self.chain.submitters.remove(victim)
        successor = self.start_submitter(env)
        self.chain.submitters.remove(successor)
        self.chain.submitters.insert(0, successor)
        try:
            faults.final_within(st, ids, TAKEOVER_LIMIT_S + 30)
        finally:
            took = time.monotonic() - t0
            faults.record("worker faults", "kill -9 of a submitter restarted in its pod (default WORKER_ID, LEASE_MS "
                          "%s): seconds until its %d unsent commands were committed" % (LONG_LEASE, len(ids)),
                          round(took, 2))
        self.assertLessEqual(took, TAKEOVER_LIMIT_S, "the successor of %s waited for the lease" % wid)
        time.sleep(RUN_S / 2)
        self.finish("kill -9 of a submitter")

    def test_2_sigstop_past_lease(self):
        """The production lease (the submitter's default LEASE_MS): a replica that stops answering (SIGSTOP: a
        lost node, a partition) loses its rows to the other one once the lease runs out."""
        st = self.stack
        c = self.start_submitter({"WORKER_ID": "sub-c"})
        self.start_submitter({"WORKER_ID": "sub-d"})
        # the configuration line at start: "LEASE_MS":6000 (milliseconds)
        lease_s = int(re.search(r'"LEASE_MS":"?(\d+)', c.log_text()).group(1)) / 1000.0
        self.start_load()
        time.sleep(RUN_S / 2)
        since = self.hold_endorsements()
        _, ids = self.held(only="sub-c", since=since)
        faults.pause(c)
        t0 = time.monotonic()
        self.chain.set_faults("")
        try:
            faults.final_within(st, ids, lease_s + 30)
            took = time.monotonic() - t0
            faults.record("worker faults", "SIGSTOP of a submitter past its lease (default LEASE_MS %g s): seconds "
                          "until the other replica committed its %d unsent commands" % (lease_s, len(ids)),
                          round(took, 2))
            faults.record("worker faults", "SIGSTOP of a submitter: seconds from the end of its lease until its "
                          "commands were committed by the other replica", round(took - lease_s, 2))
            self.assertGreaterEqual(took, lease_s - 1, "taken over before the lease ran out")
            # after the lease: the other replica's next claim (POLL_INTERVAL_MS 1 s), the stored proposal sent
            # again, its block (2 s), MVCC re-endorsements behind the load's transfers
            self.assertLessEqual(took, lease_s + 15)
            time.sleep(max(0.0, 2.5 * lease_s - (time.monotonic() - t0)))
            # nothing is leased to the stopped replica any more
            self.assertEqual(faults.leased_by(st, "sub-c"), {})
        finally:
            faults.resume(c)
        t1 = time.monotonic()
        c.wait_ready(60)
        # the woken replica takes work again
        faults.wait_until(lambda: st.psql('SELECT count(*) FROM "OutboxCommand" WHERE "lockedBy" = \'sub-c\' AND '
                                          '"lockedAt" > now() - interval \'1 second\' * %f'
                                          % (time.monotonic() - t1 + 1)) != [("0",)], 60, 0.1,
                          "sub-c claims again after SIGCONT")
        time.sleep(RUN_S / 2)
        self.finish("SIGSTOP of a submitter")

    def test_3_sigstop_projector(self):
        st = self.stack
        self.start_submitter({"WORKER_ID": "sub-e"})
        self.start_load()
        time.sleep(RUN_S / 2)
        active = [p for p in self.projectors if faults.projector_active(p) == 1]
        self.assertEqual(len(active), 1, "one active projector")
        standby = [p for p in self.projectors if p is not active[0]][0]
        faults.pause(active[0])
        try:
            time.sleep(6)
            took_over = faults.projector_active(standby) == 1
            pending = [c for c in self.load.accepted.values()]
        finally:
            faults.resume(active[0])
        t0 = time.monotonic()
        _, s = faults.settle(st, pending, want=("PROJECTED", "FAILED"), timeout=60)
        faults.record("worker faults", "SIGSTOP of the active projector for 6 s: the standby took over", took_over)
        faults.record("worker faults", "SIGSTOP of the active projector: seconds after SIGCONT until the %d "
                      "commands accepted so far are projected" % len(pending), round(time.monotonic() - t0, 2))
        self.assertEqual(sum(faults.projector_active(p) == 1 for p in self.projectors), 1, "one active projector")
        time.sleep(RUN_S / 2)
        self.finish("SIGSTOP of the projector")

    def test_4_lost_commit_ack(self):
        st = self.stack
        proxy = ClaimAckDropProxy(st.pg.port).start()
        self.addCleanup(proxy.close)
        env = {"LEASE_MS": LONG_LEASE}
        d = self.start_submitter(dict(env, WORKER_ID="sub-f", DATABASE_URL=proxy.url(st.pg.dbname)))
        self.start_submitter(dict(env, WORKER_ID="sub-g"))
        self.start_load()
        time.sleep(RUN_S / 2)
        # while sub-f has commands in flight (2 s blocks: each waits for its commit), the answer to the COMMIT of
        # its next claim that took rows is dropped and the connection cut: the rows are SUBMITTED under sub-f in
        # the database, and sub-f does not know it claimed them
        def leases():   # {id: lockedAt} of the rows in flight under sub-f
            return dict(st.psql('SELECT "id", "lockedAt"::text FROM "OutboxCommand" WHERE "lockedBy" = \'sub-f\' '
                                'AND "status" IN (\'LOCKED\', \'SUBMITTED\')'))
        # commits are learnt from the events stream within a block, so the window is kept open on purpose: every
        # endorsement waits 5 s at the stand-in until the cut, and sub-f surely has other commands in flight
        self.hold_endorsements()
        for attempt in range(5):
            self.held(only="sub-f")
            before = set(leases())
            proxy.arm(b"sub_persist")
            self.assertTrue(proxy.dropped.wait(60), "no claim of sub-f committed through the proxy")
            t0 = time.monotonic()
            at_cut = leases()
            if set(at_cut) - before and len(at_cut) >= 2:
                self.chain.set_faults("")
                break
        else:
            self.fail("never caught a claim of sub-f with other commands in flight")
        ids = list(at_cut)
        # released or settled: no row is still leased under sub-f from the claim it held at the cut (a renewal
        # moves only leaseUntil; a release, a new claim, a re-endorsement or a commit changes lockedAt or status)
        try:
            faults.wait_until(lambda: not set(at_cut.items()) & set(leases().items()), TAKEOVER_LIMIT_S + 30, 0.1,
                              "every row leased under sub-f at the cut released or settled")
        finally:
            released = time.monotonic() - t0
            faults.record("worker faults", "lost COMMIT answer of a claim (LEASE_MS %s): seconds until the %d rows "
                          "leased under the submitter at the cut were released or settled" % (LONG_LEASE, len(ids)),
                          round(released, 2))
        self.assertLessEqual(released, TAKEOVER_LIMIT_S, "rows of the lost claim kept their lease")
        faults.final_within(st, ids, TAKEOVER_LIMIT_S + 30)
        faults.record("worker faults", "lost COMMIT answer of a claim: seconds until those rows were committed",
                      round(time.monotonic() - t0, 2))
        self.assertTrue(d.alive())
        time.sleep(RUN_S / 2)
        self.finish("lost COMMIT answer")

    def test_5_commit_and_projection_race(self):
        """Rounds of transfers between disjoint pairs, sent at once (no shared wallet, no fee: all valid in one
        block), through two submitters and two projectors: the submitters mark a block's rows COMMITTED while the
        active projector marks the same rows PROJECTED (finding 2: they locked them in different orders). No
        deadlock in the PostgreSQL log, every command final; the ledger is compared for every wallet."""
        st = self.stack
        self.start_submitter({"WORKER_ID": "sub-h"})
        self.start_submitter({"WORKER_ID": "sub-i"})
        pairs = [(self.burst[2 * i], self.burst[2 * i + 1]) for i in range(len(self.burst) // 2)]
        valid = re.compile(r"committed block \d+: (\d+) transactions, (\d+) valid")
        log0 = len(self.chain.peer.log_text())
        for r in range(BURST_ROUNDS):
            answers = faults.at_once(len(pairs), lambda i: faults.post_transfer(
                self.api.url, pairs[i][r % 2], pairs[i][1 - r % 2], "1", key="burst-%d-%d" % (r, i)))
            self.assertEqual([a for a, _ in answers], [202] * len(pairs), answers)
            for _, doc in answers:
                self.ids[doc["commandId"]] = True
            time.sleep(2.0)
        blocks = [(int(a), int(b)) for a, b in valid.findall(self.chain.peer.log_text()[log0:])]
        faults.record("worker faults", "commit/projection race: rounds x disjoint transfers, largest block (valid "
                      "transactions)", "%d x %d, %d" % (BURST_ROUNDS, len(pairs), max(b for _, b in blocks)))
        self.finish("commit/projection race", every_wallet=True)


class ClaimAckDropProxy(PgAckDropProxy):
    """gxtest.pgproxy's proxy, armed for a claim only: the COMMIT whose answer is dropped must end a transaction
    that ran the claim statement (sub_claim) and then persisted rows (sub_persist), not a re-endorsement's
    persist or an empty claim."""

    def _up(self, conn):
        # libpq writes each statement's messages at once: a statement name is never split between two reads
        claim = False
        try:
            while True:
                data = conn["c"].recv(65536)
                if not data:
                    break
                with self.lock:
                    armed = self.pattern is not None
                if b"sub_claim" in data:
                    claim = True
                elif armed and claim and b"sub_persist" in data:
                    conn["seen"] = True
                if b"COMMIT" in data or b"ROLLBACK" in data:
                    claim = False
                conn["s"].sendall(data)
        except OSError:
            pass
        self._cut(conn)

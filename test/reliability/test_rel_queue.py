"""Queue health: outbox claim throughput while another transaction holds an old snapshot (REPEATABLE READ, open for
several seconds), the dead tuples it pins in "OutboxCommand" (pg_stat_user_tables; VACUUM cannot remove them), and
recovery once it ends (VACUUM removes them, throughput back)."""

import subprocess
import time

from gxtest import faults
from gxtest.chain import start_chain
from gxtest.faults import q

BATCH = 80


class QueueHealthTest(faults.FaultTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        st = cls.stack
        # autovacuum would blur the figures; the test vacuums explicitly
        st.psql('ALTER TABLE "OutboxCommand" SET (autovacuum_enabled = false)')
        cls.chain = start_chain(st, replicas=1, projector=False, submitter_env={"POLL_INTERVAL_MS": "200"})
        boot = faults.outbox(st, "BOOTSTRAP_SYSTEM", {})
        faults.settle(st, [boot], want=("COMMITTED",), timeout=30)
        cls.chain.submitters[0].expect_errors("biometricHash")   # the permanent failures below
        cls.round = 0

    def enqueue_and_drain(self, label):
        """Enqueue BATCH CREATE_USER commands (distinct aggregates) in one statement; return commands/second until
        all are settled. Their biometricHash is not hex, so the chaincode refuses each at endorsement and the
        submitter fails it permanently: every command still goes claim -> SUBMITTED -> endorse -> FAILED (about the
        row versions of a success), without the block-by-block serialisation of CreateUser's shared user counter
        (an MVCC conflict per block) hiding the queue's own throughput."""
        st = self.stack
        type(self).round += 1
        tag = "q%d" % self.round
        t0 = time.monotonic()
        st.psql('INSERT INTO "OutboxCommand" ("tenantId", "service", "commandType", "requestId", "payload", '
                '"aggregateId") SELECT \'default\', \'test\', \'CREATE_USER\', %s || i, jsonb_build_object(\'userId\', '
                '%s || i, \'biometricHash\', %s || i, \'nationality\', \'US\', '
                '\'age\', 30), \'wallet:\' || %s || i FROM generate_series(1, %d) AS i; NOTIFY gx_outbox'
                % (q(tag + "-"), q(tag + "-"), q(tag + "-"), q(tag + "-"), BATCH))
        settled = ('SELECT count(*) FROM "OutboxCommand" WHERE "requestId" LIKE %s AND "status" = \'FAILED\' AND '
                   '"error" LIKE \'%%biometricHash%%\'' % q(tag + "-%"))
        faults.wait_until(lambda: st.psql(settled) == [(str(BATCH),)], 60, 0.1,
                          "%s: %d commands settled" % (label, BATCH))
        rate = BATCH / (time.monotonic() - t0)
        faults.record("queue health", "%s: commands/s (%d CREATE_USER)" % (label, BATCH), round(rate, 1))
        return rate

    def dead_tuples(self):
        st = self.stack
        time.sleep(1.1)   # backends flush their table statistics at most once a second
        return int(st.psql('SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = \'OutboxCommand\'')[0][0])

    def vacuum(self):
        self.stack.psql('VACUUM "OutboxCommand"')
        return self.dead_tuples()

    def test_old_snapshot(self):
        st = self.stack
        base = self.enqueue_and_drain("baseline")
        self.vacuum()
        # a reporting transaction takes its snapshot and stays open
        holder = subprocess.Popen(["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(st.pg.port), "-U", "postgres",
                                   "-d", st.pg.dbname], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(lambda: holder.poll() is None and holder.kill())
        holder.stdin.write('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM "OutboxCommand";\n')
        holder.stdin.flush()
        faults.wait_until(lambda: st.psql("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in "
                                          "transaction' AND backend_xmin IS NOT NULL") == [("1",)], 10, 0.1,
                          "the snapshot holder is idle in transaction")
        t_hold = time.monotonic()
        held = self.enqueue_and_drain("while an old snapshot is held")
        pinned = self.vacuum()
        held_s = time.monotonic() - t_hold
        holder.stdin.write("COMMIT;\n\\q\n")
        holder.stdin.close()
        holder.wait(10)
        after_vacuum = self.vacuum()
        after = self.enqueue_and_drain("after the snapshot ended")

        # every claim, send and settle leaves a dead version the old snapshot keeps: VACUUM cannot remove them
        self.assertGreaterEqual(pinned, BATCH, "dead tuples pinned by the snapshot")
        self.assertLess(after_vacuum, pinned // 10, "VACUUM removes them once the snapshot ends")
        # claiming keeps working under the pinned snapshot (no stall); record how much slower it was
        self.assertGreater(held, base / 4.0, "claim throughput collapsed under an old snapshot")
        self.assertGreater(after, base / 4.0)
        self.assertEqual(st.psql('SELECT "status"::text, count(*) FROM "OutboxCommand" GROUP BY 1 ORDER BY 1'),
                         [("COMMITTED", "1"), ("FAILED", str(3 * BATCH))])
        for k, v in (("snapshot held (s)", round(held_s, 1)),
                     ("dead tuples in OutboxCommand while held, after VACUUM", pinned),
                     ("dead tuples after the snapshot ended and VACUUM", after_vacuum),
                     ("throughput while held vs baseline", "%.0f%%" % (100.0 * held / base)),
                     ("throughput after vs baseline", "%.0f%%" % (100.0 * after / base))):
            faults.record("queue health", k, v)

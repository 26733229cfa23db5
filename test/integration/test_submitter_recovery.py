"""outbox-submitter recovering by itself (issue 20): a claim whose COMMIT answer is lost is released at the
reconnect even while other commands are in flight; the default worker name survives a restart, so a restarted
process takes its predecessor's commands over at once; two live processes never share a name; and every statement
that changes several "OutboxCommand" rows, in the submitter and in the projector, locks them in "id" order
(docs/outbox-submitter.md, design.md §7)."""

import json
import os
import socket
import subprocess
import time
import unittest
import uuid

import gxtest
from gxtest.chain import wait_sql
from gxtest.faults import wait_until
from gxtest.pgproxy import PgAckDropProxy
from gxtest.sql import enqueue, q
from test_submitter_peer import ChainCase, user


def status(stack, cid):
    return stack.psql('SELECT "status"::text, coalesce("lockedBy", \'\') FROM "OutboxCommand" WHERE "id" = %s'
                      % q(cid))[0]


def wait_status(stack, cid, want, timeout):
    """Seconds until the command reaches status want (AssertionError with its row on timeout)."""
    t0 = time.monotonic()
    wait_sql(stack, 'SELECT "status"::text FROM "OutboxCommand" WHERE "id" = %s' % q(cid), [(want,)], timeout)
    return time.monotonic() - t0


class RecoveryCase(ChainCase):
    """PostgreSQL, the stand-in and no worker yet (the tests start their submitters)."""

    def setUp(self):
        self.chain.set_faults("")


class LostCommitAckTest(RecoveryCase):
    """The claim's COMMIT succeeds in PostgreSQL, its answer is lost with the connection, and the submitter holds
    another command in flight at the reconnect: the orphaned row must be released then, not renewed for good."""

    def test_lost_claim_ack_released_at_reconnect(self):
        st = self.stack
        proxy = PgAckDropProxy(st.pg.port).start()
        self.addCleanup(proxy.close)
        # a long lease: only the reconnect can free the row within the test's bound
        d = self.chain.start_submitter({"DATABASE_URL": proxy.url(st.pg.dbname), "LEASE_MS": "30s"})
        d.expect_errors("COMMIT failed: server closed the connection unexpectedly")
        # command A waits 8 s in Submit: it is in flight across the cut
        self.chain.set_faults("delay Submit 1 8000\n")
        a = enqueue(st, "CREATE_USER", user("ack-a"), "wallet:ack-a")
        wait_sql(st, 'SELECT "status"::text FROM "OutboxCommand" WHERE "id" = %s' % q(a), [("SUBMITTED",)], 20)
        time.sleep(0.5)  # A's Submit is now the delayed call
        proxy.arm(b"sub_persist")
        b = enqueue(st, "CREATE_USER", user("ack-b"), "wallet:ack-b")
        self.assertTrue(proxy.dropped.wait(20), "the claim of B never committed through the proxy")
        # B is SUBMITTED in the database under this worker, which does not know it claimed it
        self.assertEqual(status(st, b), ("SUBMITTED", "submitter-1"))
        self.assertEqual(status(st, a)[0], "SUBMITTED")
        waited = wait_status(st, b, "COMMITTED", 12)
        wait_status(st, a, "COMMITTED", 20)
        self.assertRegex(d.log_text(), r"released 1 commands leased under worker submitter-1 that this process "
                                       r"does not hold")
        print("lost claim acknowledgement: B committed %.1f s after the cut (lease 30 s)" % waited)
        self.assertEqual(st.psql('SELECT count(*) FROM "OutboxCommand" WHERE "lockedBy" IS NOT NULL'), [("0",)])
        d.stop()
        self.chain.submitters.remove(d)


class RenewHeldOnlyTest(RecoveryCase):
    """A row leased under the worker's name that the process does not hold is not renewed: its lease runs out
    and it is taken over even without a reconnect."""

    def test_unheld_row_lease_runs_out(self):
        st = self.stack
        d = self.chain.start_submitter({"LEASE_MS": "3s"})
        self.chain.set_faults("delay Submit 1 9000\n")
        a = enqueue(st, "CREATE_USER", user("renew-a"), "wallet:renew-a")
        wait_sql(st, 'SELECT "status"::text FROM "OutboxCommand" WHERE "id" = %s' % q(a), [("SUBMITTED",)], 20)
        # a row this process never claimed, leased under its name (as a lost claim answer leaves it): written
        # SUBMITTED at once, so the running submitter never sees it PENDING
        b = str(uuid.uuid4())
        st.psql('INSERT INTO "OutboxCommand" ("id", "tenantId", "service", "commandType", "requestId", "payload",'
                ' "aggregateId", "status", "lockedBy", "lockedAt", "leaseUntil") VALUES (%s, \'default\', \'test\','
                ' \'CREATE_USER\', %s, %s::jsonb, \'wallet:renew-b\', \'SUBMITTED\', \'submitter-1\', now(),'
                " now() + interval '3 seconds')" % (q(b), q(b), q(json.dumps(user("renew-b")))))
        t0 = time.monotonic()
        wait_status(st, b, "COMMITTED", 15)
        # taken over after its lease (not renewed), well before A's delayed commit lets the loop go idle
        self.assertLess(time.monotonic() - t0, 8.5)
        wait_status(st, a, "COMMITTED", 20)
        d.stop()
        self.chain.submitters.remove(d)


class StableNameTest(RecoveryCase):
    """The default worker name is the host name: a process restarted after kill -9 takes its predecessor's
    commands over at once, not after the lease; a second live process takes <host>-2; a configured name held by a
    live process is not ready until it is free."""

    def test_restart_takes_over_at_once(self):
        st, host = self.stack, socket.gethostname()
        env = {"WORKER_ID": None, "LEASE_MS": "30s"}
        d = self.chain.start_submitter(env)
        self.chain.set_faults("delay Submit 1 60000\n")
        a = enqueue(st, "CREATE_USER", user("name-a"), "wallet:name-a")
        wait_sql(st, 'SELECT "status"::text, "lockedBy" FROM "OutboxCommand" WHERE "id" = %s' % q(a),
                 [("SUBMITTED", host)], 20)
        tx = st.psql('SELECT "fabricTxId" FROM "OutboxCommand" WHERE "id" = %s' % q(a))[0][0]
        time.sleep(1.0)  # past Endorse: the delayed Submit is this process's
        d.kill9()
        self.chain.submitters.remove(d)
        t0 = time.monotonic()
        d2 = self.chain.start_submitter(env)
        waited = wait_status(st, a, "COMMITTED", 10)
        print("restart after kill -9: command committed %.1f s after the restart (lease 30 s)"
              % (time.monotonic() - t0))
        self.assertLess(waited, 10)
        # the same transaction, sent again
        self.assertEqual(st.psql('SELECT "fabricTxId" FROM "OutboxCommand" WHERE "id" = %s' % q(a)), [(tx,)])
        self.assertRegex(d2.log_text(), r"released 1 commands leased under worker %s that this process" % host)
        d2.stop()
        self.chain.submitters.remove(d2)

    def test_two_live_processes_never_share_a_name(self):
        st, host = self.stack, socket.gethostname()
        first = self.chain.start_submitter({"WORKER_ID": None})
        second = self.chain.start_submitter({"WORKER_ID": None})
        second.wait_for_log(r"worker name %s is held by another live process; this one is now %s-2"
                            % (host, host), timeout=10)
        held = st.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")
        self.assertEqual(held, [("2",)])
        # both claim, each under its own name
        cids = [enqueue(st, "CREATE_USER", user("two-%d" % i), "wallet:two-%d" % i) for i in range(20)]
        wait_sql(st, 'SELECT count(*) FROM "OutboxCommand" WHERE "status" = \'COMMITTED\' AND "id" IN (%s)'
                 % ",".join(q(c) for c in cids), [("20",)], 60)
        # a configured name that a live process holds: not ready, claims nothing, until the holder is gone
        third = self.chain.start_submitter({"WORKER_ID": host}, wait_ready=False)
        third.expect_errors("is held by another live submitter")
        third.wait_for_log("WORKER_ID %s is held by another live submitter; not claiming" % host, timeout=15)
        want = "WORKER_ID %s is held by another live submitter" % host
        r, _ = wait_until(lambda: (lambda r: r if r.status == 503 and want in r.text else None)(third.get("/readyz")),
                          15, what="/readyz naming the held name")
        time.sleep(1)
        self.assertEqual(third.get("/readyz").status, 503)
        self.assertEqual(st.psql('SELECT count(*) FROM "OutboxCommand" WHERE "lockedBy" = %s' % q(host)), [("0",)])
        first.stop()
        self.chain.submitters.remove(first)
        third.wait_ready(timeout=20)
        for d in (second, third):
            d.stop()
            self.chain.submitters.remove(d)


class LockOrderTest(RecoveryCase):
    """Each multi-row statement on "OutboxCommand" of both workers takes its row locks in "id" order: blocked on
    the lowest id, it holds no other row yet. The rows are laid out so that the physical order, the tx id order and
    the parameter order all put the lowest id last, so any other order is caught."""

    # name -> (parameters as SQL literals, a function of the ids in parameter order and their tx ids)
    STATEMENTS = {
        "sub_commit": lambda ids, txs: ["'{%s}'" % ",".join(ids), "'{%s}'" % ",".join("7" for _ in ids)],
        "sub_retry": lambda ids, txs: ["'lk-worker'", "'{%s}'" % ",".join(ids), "'{%s}'" % ",".join("0" for _ in ids),
                                       "'{%s}'" % ",".join("C" for _ in ids), "'{%s}'" % ",".join("m" for _ in ids),
                                       "'{%s}'" % ",".join("0" for _ in ids)],
        "sub_fail": lambda ids, txs: ["'lk-worker'", "'{%s}'" % ",".join(ids), "'{%s}'" % ",".join("C" for _ in ids),
                                      "'{%s}'" % ",".join("m" for _ in ids), "false"],
        "sub_persist": lambda ids, txs: ["'lk-worker'", "6000", "'{%s}'" % ",".join(ids), "'{%s}'" % ",".join(txs),
                                         "'{%s}'" % ",".join("NULL" for _ in ids),
                                         "'{%s}'" % ",".join("NULL" for _ in ids),
                                         "'{%s}'" % ",".join("0" for _ in ids), "false"],
        "sub_renew": lambda ids, txs: ["'lk-worker'", "6000", "'{%s}'" % ",".join(ids)],
        "sub_release": lambda ids, txs: ["'lk-worker'", "'{}'"],
        "prj_outbox": lambda ids, txs: ["'{%s}'" % ",".join(txs), "7"],
    }

    def sql_of(self, name):
        tool = os.path.join(gxtest.bin_dir(), "..", "itest", "outbox_sql")
        return subprocess.run([tool, name], check=True, stdout=subprocess.PIPE).stdout.decode()

    def psql_bg(self, sql):
        """A psql session reading statements from a pipe (stays open until its stdin closes)."""
        pg = self.stack.pg
        argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(pg.port), "-U",
                "postgres", "-d", pg.dbname]
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        p.stdin.write(sql.encode())
        p.stdin.flush()
        return p

    def layout(self, tag, n=6):
        """n leased rows inserted so that the lowest id comes last physically, by tx id and in parameter order."""
        ids = ["%s-%d" % (tag, n - i) for i in range(n)]          # tag-6 .. tag-1: the lowest id last
        txs = ["%s-tx-%d" % (tag, i) for i in range(n)]           # ascending: the lowest id has the highest tx id
        for cid, tx in zip(ids, txs):
            self.stack.psql('INSERT INTO "OutboxCommand" ("id", "tenantId", "service", "commandType", "requestId",'
                            ' "payload", "status", "lockedBy", "leaseUntil", "fabricTxId") VALUES (%s, \'default\','
                            ' \'test\', \'CREATE_USER\', %s, \'{}\', \'SUBMITTED\', \'lk-worker\','
                            " now() + interval '1 hour', %s)" % (q(cid), q(cid), q(tx)))
        return ids, txs

    def test_every_multi_row_statement_locks_in_id_order(self):
        st = self.stack
        for name, params in self.STATEMENTS.items():
            with self.subTest(statement=name):
                ids, txs = self.layout(name.replace("_", ""))
                lowest = min(ids)
                holder = self.psql_bg("BEGIN; SELECT 1 FROM \"OutboxCommand\" WHERE \"id\" = %s FOR UPDATE;\n"
                                      % q(lowest))
                wait_sql(st, "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE "
                         "a.state = 'idle in transaction' AND l.locktype = 'transactionid'", [("1",)], 10)
                stmt = self.psql_bg("PREPARE s AS %s;\nEXECUTE s(%s);\n" % (self.sql_of(name),
                                                                          ", ".join(params(ids, txs))))
                try:
                    wait_sql(st, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
                             "query LIKE 'EXECUTE s%'", [("1",)], 10)
                    free = st.psql('SELECT count(*) FROM (SELECT "id" FROM "OutboxCommand" WHERE "id" IN (%s)'
                                   ' FOR UPDATE SKIP LOCKED) f' % ",".join(q(i) for i in ids if i != lowest))
                    self.assertEqual(free, [(str(len(ids) - 1),)],
                                     "%s held other rows while waiting for the lowest id" % name)
                finally:
                    holder.stdin.write(b"COMMIT;\n")
                    holder.stdin.close()
                    holder.wait(10)
                    stmt.stdin.close()
                    stmt.wait(20)
                    out = stmt.stdout.read().decode()
                self.assertEqual(stmt.returncode, 0, out)


if __name__ == "__main__":
    unittest.main()

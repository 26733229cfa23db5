"""Crash safety: under a steady load of transfers, kill -9 random daemons (svc-tokenomics, outbox-submitter,
projector, the Fabric stand-in) again and again and restart them. Afterwards every accepted command (every 202) is
PROJECTED or FAILED with a reason, none is on chain twice (tx ids unique, one TransferCompleted event per accepted
request), total supply is conserved and the read models equal a clean replay (gxctl projector rebuild)."""

import os
import random
import time

from gxtest import faults
from gxtest.chain import wait_sql

CHAOS_SECONDS = float(os.environ.get("GX_REL_CHAOS_SECONDS", "20"))
WORKER_ENV = faults.worker_env(3000, 5000)


class CrashSafetyTest(faults.FaultTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        st = cls.stack
        cls.chain = faults.start_full_chain(st, WORKER_ENV)
        cls.api = cls._start_api()
        cls.users = faults.fund_users(st, cls.api, 8)

    @classmethod
    def _start_api(cls, port=None):
        d = cls.stack.start_daemon("svc-tokenomics", env=faults.NO_LIMITS, port=port)
        # restarts race with in-flight requests and a killed peer; the errors they log are part of the test
        d.expect_errors("")
        return d

    def kill_and_restart(self, victim):
        ch = self.chain
        if victim == "svc-tokenomics":
            port = self.api.port
            self.api.kill9()
            time.sleep(0.2)
            type(self).api = self._start_api(port)
        elif victim == "outbox-submitter":
            old = ch.submitters.pop()
            old.kill9()
            time.sleep(0.2)
            ch.start_submitter(WORKER_ENV).expect_errors("")
        elif victim == "projector":
            ch.projector.kill9()
            time.sleep(0.2)
            ch.start_projector().expect_errors("")
        else:
            ch.stop_peer(kill=True)
            time.sleep(0.2)
            ch.start_peer()

    def test_kill9_under_load(self):
        st, ch = self.stack, self.chain
        for p in st.procs:
            p.expect_errors("")      # every daemon sees its peers die; sanitizer reports still fail the test
        supply0 = faults.supply(st)
        self.assertGreater(supply0, 0)
        load = faults.TransferLoad(self.api.url, self.users, threads=4, amount="0.01", retry_for=20, pace=0.5,
                                   disjoint=True).start()
        rnd = random.Random(11)
        victims = ["svc-tokenomics", "outbox-submitter", "projector", "gx-fabric-peer"]
        kills = {v: 0 for v in victims}
        t0 = time.monotonic()
        order = []
        while time.monotonic() - t0 < CHAOS_SECONDS:
            time.sleep(rnd.uniform(1.0, 2.5))
            # every victim at least once, then at random
            v = victims[len(order)] if len(order) < len(victims) else rnd.choice(victims)
            order.append(v)
            self.kill_and_restart(v)
            kills[v] += 1
        load.stop()
        chaos = time.monotonic() - t0
        accepted = dict(load.accepted)
        self.assertEqual(load.conflicts, [], "a retried key got a second commandId")
        self.assertGreaterEqual(len(accepted), 20, "too little load got through: %r" % load.outcomes)

        # every 202 reaches a final state; transfers end PROJECTED (or FAILED with a reason)
        status, settle_s = faults.settle(st, accepted.values(), want=("PROJECTED", "FAILED"), timeout=90)
        counts = {}
        for s in status.values():
            counts[s] = counts.get(s, 0) + 1
        faults.record("crash safety", "requests accepted (202)", len(accepted))
        faults.record("crash safety", "seconds to settle after the last kill", round(settle_s, 1))
        failed = st.psql('SELECT "id", COALESCE("errorCode", \'\'), COALESCE("error", \'\') FROM "OutboxCommand" '
                         'WHERE "status" = \'FAILED\'')
        for cid, code, msg in failed:
            self.assertTrue(code and msg, "FAILED command %s without a reason" % cid)
        self.assertEqual(st.psql('SELECT count(*) FROM "OutboxCommand" WHERE "status" IN (\'PENDING\', \'LOCKED\', '
                                 '\'SUBMITTED\', \'COMMITTED\')'), [("0",)])

        # none twice on chain: unique tx ids, one event per accepted request (its remark is the request's key)
        self.assertEqual(st.psql('SELECT "fabricTxId" FROM "OutboxCommand" WHERE "fabricTxId" IS NOT NULL '
                                 'GROUP BY 1 HAVING count(*) > 1'), [])
        self.assertEqual(st.psql('SELECT "fabricTxId" FROM "EventLog" GROUP BY "fabricTxId", "eventIndex" '
                                 'HAVING count(*) > 1'), [])
        per_key = dict(st.psql('SELECT "payload"->>\'remark\', count(*) FROM "EventLog" WHERE "eventName" = '
                               '\'TransferCompleted\' GROUP BY 1'))
        self.assertEqual([k for k, n in per_key.items() if n != "1"], [], "a request applied twice")
        projected_keys = {k for k, c in accepted.items() if status[c] == "PROJECTED"}
        self.assertEqual({k for k in projected_keys if k not in per_key}, set(), "projected without an event")
        self.assertEqual({k for k, c in accepted.items() if status[c] == "FAILED" and k in per_key}, set())
        # every event's tx is the tx id its command recorded
        orphans = st.psql('SELECT e."fabricTxId" FROM "EventLog" e WHERE e."eventName" = \'TransferCompleted\' AND '
                          'NOT EXISTS (SELECT 1 FROM "OutboxCommand" o WHERE o."fabricTxId" = e."fabricTxId")')
        self.assertEqual(orphans, [])

        # total supply conserved; read models equal a clean replay of the chain: erase the read models (gxctl
        # projector rebuild) under the running, idle projector, which notices by itself and replays every block from 0
        self.assertEqual(faults.supply(st), supply0)
        before = faults.balances(st)
        events_before = st.psql('SELECT count(*) FROM "EventLog"')
        rows_before = st.psql('SELECT count(*) FROM "Transaction"')
        height = int(st.psql('SELECT "lastBlock" FROM "ProjectorState"')[0][0])
        projector_pid = ch.projector.pid
        t_rebuild = st.psql("SELECT clock_timestamp()")[0][0]
        t1 = time.monotonic()
        st.gxctl("projector", "rebuild", "--yes")
        # every EventLog row present now was written by the replay (the projector may already be replaying)
        self.assertEqual(st.psql('SELECT count(*) FROM "EventLog" WHERE "ingestedAt" <= %s' % faults.q(t_rebuild)),
                         [("0",)])
        wait_sql(st, 'SELECT count(*) FROM "OutboxCommand" WHERE "status" = \'COMMITTED\'', [("0",)], timeout=60)
        wait_sql(st, 'SELECT "lastBlock" FROM "ProjectorState"', lambda rows: rows and int(rows[0][0]) >= height,
                 timeout=60)
        replay_s = time.monotonic() - t1
        self.assertTrue(ch.projector.alive())
        self.assertEqual(ch.projector.pid, projector_pid, "the projector was restarted")
        self.assertEqual(st.psql('SELECT count(*) FROM "EventLog" WHERE "ingestedAt" <= %s' % faults.q(t_rebuild)),
                         [("0",)])
        self.assertEqual(st.psql('SELECT count(*) FROM "EventLog"'), events_before)
        self.assertEqual(st.psql('SELECT count(*) FROM "Transaction"'), rows_before)
        self.assertEqual(faults.balances(st), before)
        self.assertEqual(faults.supply(st), supply0)

        fig = {"chaos seconds": round(chaos, 1), "kills": sum(kills.values()),
               "kills per daemon": ", ".join("%s %d" % kv for kv in sorted(kills.items())),
               "requests accepted (202)": len(accepted),
               "final states": ", ".join("%s %d" % kv for kv in sorted(counts.items())),
               "client outcomes": ", ".join("%s %d" % kv for kv in sorted(load.outcomes.items())),
               "seconds to settle after the last kill": round(settle_s, 1),
               "chain events (EventLog rows)": int(events_before[0][0]), "requests applied twice": 0,
               "blocks replayed": height, "replay seconds (projector rebuild)": round(replay_s, 1),
               "supply (Qirat) before = after = replay": supply0,
               "max accept latency s": round(max(load.latencies), 2)}
        for k, v in fig.items():
            faults.record("crash safety", k, v)

"""Crash safety under production settings: PostgreSQL durable (fsync, synchronous_commit, full_page_writes on), the
stand-in's real 2 s block timeout, two outbox-submitters and two projectors (one active, one standby), one
svc-tokenomics. While many senders post transfers between random pairs (MVCC conflicts on shared wallets and on the
fee pool; some amounts above the fee threshold), an overdraft group tries to spend more than it has, and same-key
and keyless requests race, the test kills with SIGKILL, again and again: the postmaster with every backend (then
restarts it on the same data dir and port: crash recovery), the stand-in, a submitter (restarted under its
WORKER_ID, as a pod restart), the active projector and the API. At the end the shared checker
(gxtest.faults.check_final) proves every 202 final, supply and fees conserved, balances equal to their replay and
to the ledger, no duplicate, every daemon ready and no deadlock in the PostgreSQL log; then the read models are
erased (gxctl projector rebuild) and replayed from block 0 to the same balances."""

import os
import random
import time
import unittest

from gxtest import faults
from gxtest.chain import start_chain, wait_sql

CHAOS_SECONDS = float(os.environ.get("GX_REL_CHAOS_SECONDS") or faults.by_profile(25, 150))
USERS = faults.by_profile(12, 24)
THREADS = faults.by_profile(4, 6)
PACE_S = faults.by_profile(1.5, 2.0)
# amounts in coins; 10.5 is above transactionFeeThreshold (10 coins) and pays 10 bps to SYSTEM_FEE_POOL. Every fee
# moves the pool, so two fee-paying transfers in one block conflict: one in eight keeps them within what 2 s blocks
# commit
AMOUNTS = ["0.5", "1", "2.5", "4", "10.5", "0.75", "3", "1.5"]
# production defaults (docs/outbox-submitter.md) except the identity, which a pod keeps across restarts
SUBMITTER_ENV = {}


class CrashSafetyTest(faults.FaultTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        st = cls.stack
        cls.chain = start_chain(st, replicas=2, submitter_env=SUBMITTER_ENV)
        if cls.chain.projector is None:
            raise unittest.SkipTest("projector is not built")
        cls.projectors = [cls.chain.projector, cls._start_projector()]
        cls.api = cls._start_api()
        cls.users = faults.fund_users(st, cls.api, USERS + 2, timeout=180)
        cls.over = cls.users[-2:]            # the overdraft group: no other transfer touches them
        cls.users = cls.users[:-2]
        faults.production_blocks(cls.chain)

    @classmethod
    def _start_projector(cls):
        d = cls.stack.start_daemon("projector", env=cls.chain.fabric_env())
        return d

    @classmethod
    def _start_api(cls, port=None):
        d = cls.stack.start_daemon("svc-tokenomics", env=faults.NO_LIMITS, port=port, timeout=60)
        # restarts race with in-flight requests and a killed database or peer; the errors they log are part of the
        # test (sanitizer reports still fail it)
        d.expect_errors("")
        return d

    def daemons(self):
        return [self.api] + self.chain.submitters + self.projectors

    def kill_and_restart(self, victim):
        st, ch = self.stack, self.chain
        t0 = time.monotonic()
        if victim == "postmaster":
            st.pg.kill9()
            time.sleep(0.5)
            st.pg.start(timeout=120)
            faults.record("crash safety", "postmaster SIGKILL: crash recovery until pg_isready (s, last)",
                          round(time.monotonic() - t0, 2))
            for d in self.daemons():
                faults.wait_until(lambda: faults._ready(d), 60, 0.1, "%s ready after the crash" % d.name)
            self.recoveries.append(time.monotonic() - t0)
        elif victim == "svc-tokenomics":
            port = self.api.port
            self.api.kill9()
            time.sleep(0.2)
            type(self).api = self._start_api(port)
        elif victim == "outbox-submitter":
            i = self.rnd.randrange(len(ch.submitters))
            old = ch.submitters.pop(i)
            wid = self.worker_ids[old.pid]
            old.kill9()
            time.sleep(0.2)
            d = ch.start_submitter(dict(SUBMITTER_ENV, WORKER_ID=wid), timeout=60)
            d.expect_errors("")
            self.worker_ids[d.pid] = wid
        elif victim == "projector":
            active = [p for p in self.projectors if faults.projector_active(p) == 1] or self.projectors[:1]
            p = active[0]
            self.projectors.remove(p)
            p.kill9()
            time.sleep(0.2)
            n = self._start_projector()
            n.expect_errors("")
            self.projectors.append(n)
        else:
            ch.stop_peer(kill=True)
            time.sleep(0.5)
            ch.start_peer()

    def test_kill9_under_load(self):
        st, ch = self.stack, self.chain
        for p in st.procs:
            p.expect_errors("")
        self.worker_ids = {d.pid: "submitter-%d" % (i + 1) for i, d in enumerate(ch.submitters)}
        self.recoveries = []
        log_from = faults.deadlock_canary(st)
        supply0 = faults.supply(st)
        self.assertGreater(supply0, 0)
        self.rnd = rnd = random.Random(20)
        self.load = load = faults.TransferLoad(self.api.url, self.users, threads=THREADS, amounts=AMOUNTS,
                                               retry_for=60, pace=PACE_S).start()
        # the overdraft group: 3 concurrent transfers of 45 coins each from 100 coins: two fit (2 x 45.045), the
        # chain refuses the third; the same-key and keyless races
        over, over_other = faults.overdraft_burst(self.api.url, self.over, self.users[0], "45", n=3)
        key, same = faults.same_key_burst(self.api.url, self.users[1], self.users[2], n=8)
        keyless = faults.keyless_burst(self.api.url, self.users[3], self.users[4], n=8)
        victims = ["postmaster", "gx-fabric-peer", "outbox-submitter", "projector", "svc-tokenomics"]
        kills = {v: 0 for v in victims}
        order = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < CHAOS_SECONDS:
            time.sleep(rnd.uniform(2.0, 4.0))
            v = victims[len(order)] if len(order) < len(victims) else rnd.choice(victims)
            order.append(v)
            self.kill_and_restart(v)
            kills[v] += 1
        load.stop()
        chaos = time.monotonic() - t0

        # the races: one command for the shared key, one per keyless request, the overdraft refused on chain
        self.assertEqual(over_other, [], "overdraft requests refused before the chain")
        self.assertEqual({s for s, _ in same} - {202, 409}, set(), same)
        same_ids = {c for s, c in same if s == 202}
        self.assertEqual(len(same_ids), 1, "one command for one Idempotency-Key: %r" % same)
        self.assertEqual([c for s, c in same if s == 409], ["IDEMPOTENCY_IN_PROGRESS"] * sum(s == 409 for s, _ in same))
        self.assertEqual(st.psql('SELECT count(*) FROM "OutboxCommand" WHERE "payload"->>\'remark\' = %s'
                                 % faults.q(key)), [("1",)])
        self.assertEqual([s for s, _ in keyless], [202] * 8, keyless)
        self.assertEqual(len({c for _, c in keyless}), 8, "each keyless request is its own command")
        self.assertEqual(load.conflicts, [], "a retried key got a second commandId")
        self.assertGreaterEqual(len(load.accepted), 20, "too little load got through: %r" % load.outcomes)
        ids = list(load.accepted.values()) + [c for v in over.values() for c in v] + list(same_ids) + \
            [c for _, c in keyless]
        figs = faults.check_final(self, st, ch, ids, supply0, self.daemons(), pg_log_from=log_from,
                                  timeout=faults.by_profile(240, 600),
                                  section="crash safety")
        for acct, cids in over.items():
            rows = st.psql('SELECT "status"::text, COALESCE("errorCode", \'\'), COALESCE("error", \'\') FROM '
                           '"OutboxCommand" WHERE "id" IN (%s) ORDER BY 1' % ",".join(faults.q(c) for c in cids))
            self.assertEqual([r[0] for r in rows], ["FAILED", "PROJECTED", "PROJECTED"], rows)
            self.assertEqual(rows[0][1], "CHAINCODE_409", rows)
            self.assertIn("insufficient balance", rows[0][2])
        self.assertEqual(st.psql('SELECT "balanceQirat"::text FROM "Wallet" WHERE "primaryAccountId" IN (%s)'
                                 % ",".join(faults.q(u.acct) for u in self.over)),
                         [(str(faults.GENESIS_QIRAT - 2 * 4504500),)] * 2, "overdraft senders keep 100 - 2 x 45.045")
        self.assertEqual(sum(faults.projector_active(p) == 1 for p in self.projectors), 1, "one active projector")

        # read models equal a clean replay of the chain (gxctl projector rebuild under the running projectors)
        before = faults.balances(st)
        rows_before = st.psql('SELECT count(*) FROM "Transaction"')
        height = int(st.psql('SELECT "lastBlock" FROM "ProjectorState"')[0][0])
        t1 = time.monotonic()
        st.gxctl("projector", "rebuild", "--yes")
        wait_sql(st, 'SELECT "lastBlock" FROM "ProjectorState"', lambda rows: rows and int(rows[0][0]) >= height,
                 timeout=120)
        wait_sql(st, 'SELECT count(*) FROM "Transaction"', rows_before, timeout=60)
        replay_s = time.monotonic() - t1
        self.assertEqual(faults.balances(st), before)
        self.assertEqual(faults.supply(st), supply0)

        outcomes = ", ".join("%s %d" % kv for kv in sorted(load.outcomes.items()))
        fig = {"chaos seconds": round(chaos, 1), "kills": sum(kills.values()),
               "kills per process": ", ".join("%s %d" % kv for kv in sorted(kills.items())),
               "requests accepted (202)": len(ids), "client outcomes (load)": outcomes,
               "postmaster SIGKILL: seconds until every daemon is ready again (max)":
                   round(max(self.recoveries), 1) if self.recoveries else "-",
               "blocks replayed": height, "replay seconds (projector rebuild)": round(replay_s, 1),
               "supply (Qirat) before = after = replay": supply0,
               "overdraft group": "%d senders x 3 x 45 coins from 100: 2 PROJECTED + 1 FAILED CHAINCODE_409 each"
                                  % len(self.over),
               "same-key race": "8 requests, 1 command (%d x 202, %d x 409 IDEMPOTENCY_IN_PROGRESS)"
                                % (sum(s == 202 for s, _ in same), sum(s == 409 for s, _ in same)),
               "keyless race": "8 requests, 8 commands",
               "max accept latency s": round(max(load.latencies), 2)}
        fig.update(figs)
        for k, v in fig.items():
            faults.record("crash safety", k, v)

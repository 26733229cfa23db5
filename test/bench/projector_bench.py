#!/usr/bin/python3
"""Benchmark (not a test): projector catch-up throughput and projection lag against real PostgreSQL and the Fabric
stand-in (blocks of at most 500 transactions).

    test/bench/projector_bench.py [--loans 100000] [--senders 200] [--waves 100] [--rate 1000] [--lag-seconds 20]
                                  [--out bench/results/projector.json]

Catch-up: the chain is filled while no projector runs, then the projector starts and the clock runs until its
checkpoint reaches the last block. Two workloads, measured separately (a fresh database each):
  * loans:     N LoanApplicationReceived events (ApplyForLoan writes only its own key, so any number fit in one
               block; 2 s cut timeout as in production); one read-model statement per event.
  * transfers: senders x waves TransferCompleted events between distinct user pairs (3 balance statements + 2
               Transaction rows per event), after CreateUser / genesis / funding transfers; 50 ms cut timeout (the
               setup creates users one block at a time), one wave of `senders` transfers per block.
Lag: with the projector running, ApplyForLoan at a fixed rate (--rate per second, in 100 ms waves) for --lag-seconds;
per event, lag = EventLog."ingestedAt" (set just before the block's COMMIT) minus the time the peer logged the commit
of that block, and end-to-end = ingestedAt minus the time the client sent the proposal. Both on this host's clock.
Uses $GX_BIN_DIR (default build/release/bin) and the driver itest/projector_chain next to it; writes one JSON
document.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import gxtest  # noqa: E402
from gxtest.chain import Chain  # noqa: E402

HEX64 = "cd" * 32


def tx(fn, *args, who="partner"):
    return {"as": who, "fn": fn, "args": [str(a) for a in args]}


def drive(chain, lines, window=2000):
    driver = os.path.join(os.path.dirname(gxtest.bin_dir()), "itest", "projector_chain")
    text = "".join(json.dumps(l) + "\n" for l in lines)
    r = subprocess.run([driver, chain.addr, chain.ca_dir, str(window)], input=text.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=7200)
    out = [json.loads(l) for l in r.stdout.decode().splitlines()]
    failed = [o for o in out if "i" in o and not o.get("ok")]
    if failed:
        raise SystemExit("driver failures (%d): %s" % (len(failed), failed[:3]))
    return [o for o in out if "tx" in o]


def seed_profiles(stack, users):
    for at in range(0, len(users), 500):
        part = users[at:at + 500]
        values = ",".join("('p-%s', 'default', 'F', 'L', '%s@bench.test', '%064x', 'x', '%s')"
                          % (u, u, at + i + 1, u) for i, u in enumerate(part))
        stack.psql('INSERT INTO "UserProfile" ("profileId", "tenantId", "firstName", "lastName", "email",'
                   ' "biometricHash", "passwordHash", "fabricUserId") VALUES ' + values)


def new_env(name, block_timeout_ms=50):
    st = gxtest.Stack(name)
    st.start_pg()
    st.migrate()
    chain = Chain(st, peer_args=("--block-timeout-ms", str(block_timeout_ms), "--block-size", "500"))
    chain.start_peer()
    return st, chain


def start_projector(st, chain):
    e = chain.fabric_env()
    e.update({"LOG_LEVEL": "warn"})
    return st.start_daemon("projector", env=e, wait_ready=False)


def last_block(st):
    rows = st.psql('SELECT "lastBlock" FROM "ProjectorState"')
    return int(rows[0][0]) if rows else -1


def apply_stats(d):
    """Mean block apply time (ms) and block count from the projector's histogram."""
    body = d.get("/metrics").body.decode()
    sm = re.search(r"^gx_projector_block_apply_seconds_sum ([0-9.e+-]+)$", body, re.M)
    ct = re.search(r"^gx_projector_block_apply_seconds_count ([0-9.e+-]+)$", body, re.M)
    if not sm or not ct or float(ct.group(1)) == 0:
        return {}
    return {"blocks_applied": int(float(ct.group(1))),
            "mean_block_apply_ms": round(float(sm.group(1)) * 1000 / float(ct.group(1)), 2)}


def catch_up(st, chain, top):
    t0 = time.monotonic()
    d = start_projector(st, chain)
    while last_block(st) < top:
        if time.monotonic() - t0 > 3600:
            raise SystemExit("catch-up did not finish within an hour")
        time.sleep(0.02)
    secs = time.monotonic() - t0
    events = int(st.psql('SELECT count(*) FROM "EventLog"')[0][0])
    blocks = int(st.psql('SELECT count(DISTINCT "blockNumber") FROM "EventLog"')[0][0])
    out = {"events": events, "blocks": blocks, "seconds": round(secs, 2), "events_per_second": round(events / secs, 1)}
    out.update(apply_stats(d))
    return out


def bench_loans(n):
    st, chain = new_env("bench-projector-loans", block_timeout_ms=2000)  # production-like: 500 tx or 2 s
    try:
        seed_profiles(st, ["b0"])
        drive(chain, [tx("IdentityContract:CreateUser", "b0", "%064x" % 7, "US", "30"), {"wait": True}])
        t0 = time.monotonic()
        res = drive(chain, [tx("LoanPoolContract:ApplyForLoan", "L%d" % i, "b0", "10000000", HEX64)
                            for i in range(n)])
        fill = time.monotonic() - t0
        top = max(o["block"] for o in res)
        out = catch_up(st, chain, top)
        out.update({"workload": "LoanApplicationReceived", "chain_fill_seconds": round(fill, 1)})
        return out
    finally:
        st.close(check=False)


def bench_transfers(senders, waves):
    st, chain = new_env("bench-projector-transfers")
    try:
        users = ["s%d" % i for i in range(2 * senders)]
        seed_profiles(st, users)
        setup = [tx("AdminContract:BootstrapSystem", who="super-admin"), {"wait": True}]
        setup += [tx("IdentityContract:CreateUser", u, "%064x" % (i + 1), "US", "30") for i, u in enumerate(users)]
        drive(chain, setup, window=1)  # CreateUser updates the user count: one at a time
        fund = [tx("TokenomicsContract:DistributeGenesis", users[0], "government", "US", who="admin"), {"wait": True}]
        funded, level = 1, 0
        while funded < len(users):  # doubling tree of fee-exempt transfers between distinct pairs
            amount = 1000000 >> level
            for i in range(min(funded, len(users) - funded)):
                fund.append(tx("TokenomicsContract:Transfer", users[i], users[funded + i], amount, "fund"))
            fund.append({"wait": True})
            funded, level = funded * 2, level + 1
        drive(chain, fund)
        lines = []
        for w in range(waves):
            for i in range(senders):
                lines.append(tx("TokenomicsContract:Transfer", users[i], users[senders + (i + w) % senders], 1, "b"))
            lines.append({"wait": True})
        t0 = time.monotonic()
        res = drive(chain, lines)
        fill = time.monotonic() - t0
        top = max(o["block"] for o in res)
        out = catch_up(st, chain, top)
        out.update({"workload": "TransferCompleted (plus %d setup events)" % (len(users) * 2 + 1),
                    "transfers": len(res), "chain_fill_seconds": round(fill, 1)})
        return out
    finally:
        st.close(check=False)


def peer_commit_times(chain):
    """Block number -> wall ms of the peer's "committed block N" log line (same host clock as PostgreSQL)."""
    out = {}
    for line in chain.peer.log_text().splitlines():
        m = re.search(r'"ts":"([^"]+)".*"msg":"committed block (\d+):', line)
        if m:
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
            out[int(m.group(2))] = int(t.timestamp() * 1000)
    return out


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100.0 * len(v)))]


def bench_lag(rate, seconds):
    st, chain = new_env("bench-projector-lag")
    try:
        seed_profiles(st, ["b0"])
        drive(chain, [tx("IdentityContract:CreateUser", "b0", "%064x" % 7, "US", "30"), {"wait": True}])
        d = start_projector(st, chain)
        time.sleep(1)
        per_wave = max(1, rate // 10)
        lines = []
        for w in range(seconds * 10):
            lines.append({"pace_ms": 100})
            lines += [tx("LoanPoolContract:ApplyForLoan", "G%d-%d" % (w, i), "b0", "10000000", HEX64)
                      for i in range(per_wave)]
        t0 = time.monotonic()
        res = drive(chain, lines, window=5000)
        dur = time.monotonic() - t0
        top = max(o["block"] for o in res)
        while last_block(st) < top:
            time.sleep(0.05)
        ing = dict(st.psql('SELECT "fabricTxId", (extract(epoch FROM "ingestedAt") * 1000)::bigint FROM "EventLog"'
                           ' WHERE "eventName" = \'LoanApplicationReceived\''))
        committed = peer_commit_times(chain)
        lag = [int(ing[o["tx"]]) - committed[o["block"]] for o in res if o["tx"] in ing and o["block"] in committed]
        e2e = [int(ing[o["tx"]]) - o["t0"] for o in res if o["tx"] in ing]
        stats = apply_stats(d)
        return {"target_rate": rate, "achieved_rate": round(len(res) / dur, 1), "events": len(lag), **stats,
                "lag_after_peer_commit_ms": {"p50": pct(lag, 50), "p99": pct(lag, 99), "max": max(lag)},
                "end_to_end_from_proposal_ms": {"p50": pct(e2e, 50), "p99": pct(e2e, 99), "max": max(e2e)}}
    finally:
        st.close(check=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loans", type=int, default=100000)
    ap.add_argument("--senders", type=int, default=200)
    ap.add_argument("--waves", type=int, default=100)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--lag-seconds", type=int, default=20)
    ap.add_argument("--only", choices=("loans", "transfers", "lag"), help="run one part only")
    ap.add_argument("--out", default=os.path.join(gxtest.REPO_ROOT, "bench", "results", "projector.json"))
    a = ap.parse_args()
    result = {"benchmark": "projector", "cpus": os.cpu_count(), "machine": platform.machine(),
              "bin_dir": os.path.basename(os.path.dirname(gxtest.bin_dir())), "when": int(time.time())}
    if a.only in (None, "loans"):
        print("catch-up: %d loan applications" % a.loans, flush=True)
        result["catchup_loans"] = bench_loans(a.loans)
        print(json.dumps(result["catchup_loans"]), flush=True)
    if a.only in (None, "transfers"):
        print("catch-up: %d transfers" % (a.senders * a.waves), flush=True)
        result["catchup_transfers"] = bench_transfers(a.senders, a.waves)
        print(json.dumps(result["catchup_transfers"]), flush=True)
    if a.only in (None, "lag"):
        print("lag at %d events/s for %d s" % (a.rate, a.lag_seconds), flush=True)
        result["lag"] = bench_lag(a.rate, a.lag_seconds)
        print(json.dumps(result["lag"]), flush=True)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print("wrote %s" % a.out)


if __name__ == "__main__":
    main()

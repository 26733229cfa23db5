#!/usr/bin/python3
"""Benchmark (not a test): outbox-submitter throughput from a pre-filled outbox to COMMITTED on the Fabric stand-in
with production-like blocks (500 transactions or 2 s), 20-30 ms endorse latency and the Gateway concurrency limit
of 500, with 1 and with 2 replicas; the peer's peak concurrent calls and refusals are recorded per run.

    test/bench/submitter_bench.py [--rows N] [--replicas 1,2] [--out bench/results/submitter.json]

The workload is APPLY_FOR_LOAN of one borrower (one loan aggregate per command): loan applications write only their
own key, so the rate measures the submitter and the peer, not MVCC retries of a hot key. For each replica count a
fresh batch of N rows is inserted while no submitter runs, then the replicas are started and the clock runs until
every row is COMMITTED. Uses $GX_BIN_DIR (default build/release/bin); writes one JSON document.
"""

import argparse
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import gxtest  # noqa: E402
from gxtest.chain import start_chain, wait_sql  # noqa: E402
from test_submitter import bulk_loans, make_borrower  # noqa: E402


def count(stack, prefix, status):
    return int(stack.psql('SELECT count(*) FROM "OutboxCommand" WHERE "requestId" LIKE \'%s%%\' AND "status" = \'%s\''
                          % (prefix, status))[0][0])


def run_once(stack, chain, rows, replicas, env, tag):
    prefix = "bench-%s-" % tag
    bulk_loans(stack, rows, prefix, "bench-borrower")
    t0 = time.monotonic()
    for _ in range(replicas):
        chain.start_submitter(env=env, wait_ready=False)
    last_report = t0
    while True:
        done = count(stack, prefix, "COMMITTED")
        failed = count(stack, prefix, "FAILED")
        now = time.monotonic()
        if done + failed >= rows:
            break
        if now - last_report >= 5:
            print("  %d replicas: %d/%d committed after %.1f s" % (replicas, done, rows, now - t0), flush=True)
            last_report = now
        if now - t0 > 1800:
            raise SystemExit("benchmark did not finish within 30 minutes")
        time.sleep(0.2)
    elapsed = time.monotonic() - t0
    for d in chain.submitters:
        d.stop()
    chain.submitters = []
    return {"replicas": replicas, "rows": rows, "committed": done, "failed": failed, "seconds": round(elapsed, 2),
            "commands_per_second": round(done / elapsed, 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--replicas", default="1,2")
    ap.add_argument("--max-in-flight", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--out", default=os.path.join(gxtest.REPO_ROOT, "bench", "results", "submitter.json"))
    args = ap.parse_args()
    for b in ("outbox-submitter", "gx-fabric-peer", "gxctl"):
        if not gxtest.have_binary(b):
            raise SystemExit("%s is not built in %s" % (b, gxtest.bin_dir()))
    stack = gxtest.Stack("submitter-bench")
    results = []
    try:
        stack.start_pg()
        stack.migrate()
        chain = start_chain(stack, replicas=0, projector=False,
                            peer_args=("--block-size", "500", "--block-timeout-ms", "2000", "--endorse-latency-ms", "20",
                                       "--endorse-jitter-ms", "10"))
        env = {"LOG_LEVEL": "warn", "MAX_IN_FLIGHT": str(args.max_in_flight), "BATCH_SIZE": str(args.batch_size)}
        chain.start_submitter(env=env)
        make_borrower(stack, "bench-borrower")
        chain.submitters[0].stop()
        chain.submitters = []
        for i, r in enumerate(int(x) for x in args.replicas.split(",")):
            print("outbox-submitter bench: %d rows, %d replica(s)" % (args.rows, r), flush=True)
            res = run_once(stack, chain, args.rows, r, env, "%d-%d" % (i, r))
            time.sleep(1.5)  # the peer rewrites its counters every second
            res["peer_gateway_since_start"] = chain.peer_stats()
            print("  -> %.1f commands/s (%.1f s), peer Gateway counters %s" % (
                res["commands_per_second"], res["seconds"], res["peer_gateway_since_start"]), flush=True)
            results.append(res)
    finally:
        stack.close(check=False)
    doc = {
        "benchmark": "outbox-submitter",
        "workload": "APPLY_FOR_LOAN, one aggregate per command, pre-filled outbox to COMMITTED",
        "peer": {"binary": "gx-fabric-peer", "block_size": 500, "block_timeout_ms": 2000, "endorse_latency_ms": 20,
                 "endorse_jitter_ms": 10, "gateway_concurrency": 500},
        "submitter": {"MAX_IN_FLIGHT": args.max_in_flight, "BATCH_SIZE": args.batch_size},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print("wrote %s" % args.out)


if __name__ == "__main__":
    main()

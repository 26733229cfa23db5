#!/usr/bin/python3
"""Render docs/reliability-report.md from one run of test/suites/reliability.sh.

    report.py FIGURES_DIR TEST_OUTPUT SECONDS BIN_DIR > docs/reliability-report.md

FIGURES_DIR holds what the tests recorded with gxtest.faults.record() (one JSON file per test process);
TEST_OUTPUT is runtests.py's output (its
per-test "... ok/FAIL/ERROR" lines and the final "N passed, N failed" line)."""

import json
import os
import re
import sys

SECTIONS = [
    ("crash safety", "Crash safety (kill -9 under load, production settings)",
     "PostgreSQL durable (fsync, synchronous_commit, full_page_writes on), the stand-in's 2 s block timeout, two "
     "outbox-submitters and two projectors. The postmaster with its backends (restarted on the same data dir and "
     "port: crash recovery), the stand-in, a submitter (restarted under its WORKER_ID), the active projector and "
     "svc-tokenomics are killed with SIGKILL at random while threads post transfers between random pairs (MVCC "
     "conflicts on shared wallets and the fee pool, amounts with and without fees; each request retried with its "
     "Idempotency-Key), an overdraft group spends more than it has and same-key and keyless requests race. The "
     "shared checker then asserts: every 202 PROJECTED or FAILED with a reason, supply conserved, wallets plus "
     "fees equal the genesis received, each balance equals the replay of its transaction rows and the ledger "
     "(GetBalance through the official Node client), no duplicate (tx ids, events, one SENT/RECEIVED row per "
     "transfer), every daemon ready, no \"deadlock detected\" in the PostgreSQL log (a deliberate deadlock first "
     "proves the log shows them); the read models then equal a replay from block 0."),
    ("worker faults", "Worker faults (takeover and recovery)",
     "Production settings as above (two projectors, one active), under a load of transfers, each case ending with "
     "the shared checker. The commands to be taken over are held at the stand-in's endorsement, so they are surely "
     "not on chain. kill -9 of a submitter with the default WORKER_ID and a 60 s lease, restarted as a pod "
     "restarts (its successor must settle them within 15 s, asserted); SIGSTOP of a submitter past its lease (the "
     "default LEASE_MS: taken over after the lease, within lease + 15 s, asserted) and SIGCONT; SIGSTOP of the "
     "active projector for 6 s and SIGCONT; a claim's COMMIT whose answer is lost (a proxy between the submitter "
     "and PostgreSQL drops it and cuts the connection) while the submitter has other commands in flight, 60 s "
     "lease (settled within 15 s, asserted); rounds of transfers between disjoint pairs (all valid in one block) "
     "while the submitters mark rows COMMITTED and the projector marks them PROJECTED (no deadlock, asserted)."),
    ("dependency faults", "Dependency faults",
     "PostgreSQL restarted, every PostgreSQL connection terminated, Redis stopped, the stand-in paused "
     "(SIGSTOP) and stopped. Recovery = from the end of the fault until a new write is accepted and projected "
     "(limit 10 s, asserted); no lease may be left behind."),
    ("graceful rollout", "Graceful rollout",
     "Two svc-tokenomics replicas behind a round-robin proxy that follows /readyz (as a Kubernetes Service "
     "does); each replica in turn gets SIGTERM and a successor while reads and writes run. Zero failed "
     "requests asserted."),
    ("rate limit across replicas", "Rate limit across replicas",
     "One client alternating between two replicas sharing Redis; allowed requests must stay within burst + "
     "rate x elapsed."),
    ("queue health", "Queue health under an old snapshot",
     "Outbox claim throughput with a REPEATABLE READ transaction holding its snapshot; dead tuples in "
     "\"OutboxCommand\" that VACUUM cannot remove while it is open, and after it ends."),
    ("shutdown", "Shutdown", "Slowest SIGTERM-to-exit of any process at the end of a test class."),
]


# The scenarios of test_rel_workers.py run once against the code before the fixes of issue 20 (main at e282500,
# ASan build, short profile): what each finding looked like. Kept as measured; not produced by this run.
BEFORE_FIXES = [
    ("kill -9 of a submitter with the default WORKER_ID (then `<hostname>-<pid>`), restarted at once, 60 s lease",
     "FAIL: after 45 s its unsent command was still SUBMITTED under the dead process's name, 14.7 s of lease left: "
     "the successor (a new name) could not release it, so it waited the full lease"),
    ("lost COMMIT answer of a claim while other commands were in flight, 60 s lease",
     "FAIL: after 45 s the claimed row was still SUBMITTED under the live submitter with 42.7 s of lease left: "
     "renewed for good by the process that did not know it held it"),
    ("rounds of non-conflicting transfers, two submitters and two projectors (8 rounds x 12 transfers)",
     "FAIL: 1 \"deadlock detected\" in 62 s between the submitter's COMMITTED update and the projector's PROJECTED "
     "update of the same rows"),
    ("SIGSTOP of a submitter past its lease (default LEASE_MS, then 60 s)",
     "pass, taken over after 63.5 s (the default lease)"),
    ("crash safety (kill -9 of postmaster, stand-in, submitter, projector, API under load)",
     "pass (0 deadlocks in that run; 79 commands final, supply conserved, ledger = read model)"),
]


def fmt(v):
    if isinstance(v, float):
        return ("%.2f" % v).rstrip("0").rstrip(".")
    return str(v)


def main(argv):
    figures_dir, output_path, seconds, bin_dir = argv[1:5]
    figures = {}
    names = sorted(os.listdir(figures_dir)) if os.path.isdir(figures_dir) else []
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(figures_dir, name)) as f:
                part = json.load(f)
        except (OSError, ValueError):
            continue
        for section, figs in part.items():
            merged = figures.setdefault(section, {})
            for k, v in figs.items():
                # several processes report the slowest exit: keep the largest
                merged[k] = max(merged[k], v) if k in merged and isinstance(v, (int, float)) else v
    try:
        with open(output_path, errors="replace") as f:
            output = f.read()
    except OSError:
        output = ""
    results = re.findall(r"^(\w+) \((\S+)\) \.\.\. (.*)$", output, re.M)
    files = re.findall(r"^# (test_\S+\.py): (\d+ passed, \d+ failed) \((\d+) s\)$", output, re.M)
    summary = re.findall(r"^\d+ passed, \d+ failed.*$", output, re.M)
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    where = os.path.abspath(bin_dir)
    where = "`%s`" % os.path.relpath(where, repo) if where.startswith(repo + os.sep) else "GX_BIN_DIR"
    out = ["# Reliability report", "",
           "Generated by `make reliability` (test/suites/reliability.sh, also run by `make test`); do not edit by "
           "hand. Figures come from one run against the binaries in %s on the machine that ran it, so timings vary "
           "from run to run; the assertions (counts, limits) are in test/reliability/." % where,
           "",
           "Result: **%s** in %s s (profile %s)." % (summary[-1] if summary else "no result line", seconds,
                                                     os.environ.get("GX_REL_PROFILE", "short")), "",
           "| test | result |", "|---|---|"]
    for name, where, res in results:
        parts = where.split(".")
        cls = parts[-2] if name != "tearDownClass" and len(parts) >= 2 else parts[-1]
        out.append("| %s.%s | %s |" % (cls, name, res.strip()[:80] or "(see the suite output)"))
    if files:
        out += ["", "| file | result | seconds |", "|---|---|---|"]
        out += ["| %s | %s | %s |" % f for f in files]
    for key, title, text in SECTIONS:
        figs = figures.get(key)
        if not figs:
            continue
        out += ["", "## " + title, "", text, "", "| figure | value |", "|---|---|"]
        for k in sorted(figs):
            out.append("| %s | %s |" % (k, fmt(figs[k]).replace("|", "/")))
    out += ["", "## Issue 20: the same scenarios before its fixes", "",
            "The worker scenarios run once against the code before the fixes of issue 20 (main at e282500, ASan, "
            "short profile), as measured then; the figures above are this run's.", "",
            "| scenario | before the fixes |", "|---|---|"]
    out += ["| %s | %s |" % row for row in BEFORE_FIXES]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

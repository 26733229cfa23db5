#!/usr/bin/python3
"""Render bench/REPORT.md and the gnuplot SVG plots in bench/plots/ from one benchmark result of test/bench/run.py.

    test/bench/report.py [bench/results/<date>.json]      (default: the newest dated file)

The goals of issue 12 are checked against the figures; test/bench/analysis.md (hand-written: where the time goes
and what would fix it) is appended, followed by the perf profile tables when the run had them.
"""

import glob
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BENCH = os.path.join(ROOT, "bench")
PLOTS = os.path.join(BENCH, "plots")
MIB = 1024.0


def latest():
    files = sorted(glob.glob(os.path.join(BENCH, "results", "[0-9][0-9][0-9][0-9]-*.json")))
    if not files:
        raise SystemExit("no bench/results/<date>.json yet: run make bench")
    return files[-1]


def at(runs, conns):
    for r in runs:
        if r["connections"] == conns:
            return r
    return None


def goals(doc):
    """Rows (goal, measured text, met) for the issue's goals; a part that was not run gives 'not measured'."""
    rows = []
    http = doc.get("http", {})
    if http:
        bal = max(http["balance"], key=lambda r: r["rps"])
        rows.append(("read GET (wallet balance) >= 20,000 req/s", "%.0f req/s (%d conns)" % (bal["rps"],
                     bal["connections"]), bal["rps"] >= 20000 and bal["non_2xx_or_errors"] == 0))
        post = max(http["transfers"], key=lambda r: r["rps"])
        rows.append(("write POST /transfers >= 8,000 accepted/s, synchronous commit",
                     "%.0f req/s (%d conns, %d errors)" % (post["rps"], post["connections"],
                                                          post["non_2xx_or_errors"]),
                     post["rps"] >= 8000 and post["non_2xx_or_errors"] == 0))
        b50 = at(http["balance"], 50)
        if b50:
            rows.append(("read p99 <= 5 ms at 50 connections", "p99 %.2f ms (p50 %.2f ms)" % (
                b50["latency_us"]["p99"] / 1000.0, b50["latency_us"]["p50"] / 1000.0),
                b50["latency_us"]["p99"] <= 5000))
    else:
        rows.append(("HTTP goals", "not measured", None))
    iso = doc.get("hash_isolation")
    if iso and iso.get("p99_ratio") is not None:
        rows.append(("another account's login p99 <= 2x idle while one account hammers password changes",
                     "%.1f ms vs %.1f ms idle (x%.2f)" % (iso["loaded_p99_ms"], iso["idle_p99_ms"], iso["p99_ratio"]),
                     iso["p99_ratio"] <= 2.0))
    else:
        rows.append(("hash isolation goal", "not measured", None))
    pipe = doc.get("pipeline")
    if pipe:
        best = max(pipe, key=lambda p: p["projected_per_second"])
        lag = best["projection_lag_ms"]["p99"]
        rows.append(("end to end >= 2,000 transfers/s with projection lag p99 <= 1 s",
                     "%.0f projected/s (offered %s), lag p99 %s ms, e2e p99 %s ms" % (
                         best["projected_per_second"], best["offered_rate"], lag, best["end_to_end_ms"]["p99"]),
                     best["projected_per_second"] >= 2000 and lag is not None and lag <= 1000))
    else:
        rows.append(("end-to-end goal", "not measured", None))
    fp = doc.get("footprint")
    if fp:
        apis = {n: v for n, v in fp["rss_idle_kib"].items() if n.startswith("svc-")}
        worst = max(apis, key=apis.get)
        rows.append(("API daemon RSS <= 16 MiB idle", "max %.1f MiB (%s)" % (apis[worst] / MIB, worst),
                     apis[worst] <= 16 * 1024))
    return rows


def gnuplot(script):
    r = subprocess.run(["gnuplot"], input=script.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise SystemExit("gnuplot failed: %s" % r.stderr.decode()[-2000:])


def plots(doc, tmp):
    os.makedirs(PLOTS, exist_ok=True)
    made = []
    term = 'set terminal svg size 720,420 dynamic font "sans,12" background "white"\n'
    http = doc.get("http")
    if http:
        names = list(http)
        for n in names:
            with open(os.path.join(tmp, n + ".dat"), "w") as f:
                for r in http[n]:
                    f.write("%d %.1f %.3f %.3f\n" % (r["connections"], r["rps"], r["latency_us"]["p50"] / 1000.0,
                                                     r["latency_us"]["p99"] / 1000.0))
        tp = os.path.join(PLOTS, "http_throughput.svg")
        gnuplot(term + 'set output "%s"\nset title "svc-tokenomics throughput (wrk, same host)"\n'
                'set logscale x 2\nset xlabel "connections"\nset ylabel "requests/s"\nset grid\n'
                'set key top left\nset yrange [0:*]\nplot %s\n' % (tp, ", ".join(
                    '"%s" using 1:2 with linespoints lw 2 title "%s"' % (os.path.join(tmp, n + ".dat"), n)
                    for n in names)))
        lt = os.path.join(PLOTS, "http_latency.svg")
        gnuplot(term + 'set output "%s"\nset title "svc-tokenomics latency (p50 solid, p99 dashed)"\n'
                'set logscale x 2\nset logscale y\nset xlabel "connections"\nset ylabel "ms"\nset grid\n'
                'set key top left\nplot %s\n' % (lt, ", ".join(
                    '"%s" using 1:3 with linespoints lw 2 lc %d title "%s p50", '
                    '"%s" using 1:4 with linespoints lw 2 dt 2 lc %d title "%s p99"'
                    % (os.path.join(tmp, n + ".dat"), i + 1, n, os.path.join(tmp, n + ".dat"), i + 1, n)
                    for i, n in enumerate(names))))
        made += [tp, lt]
    pipe = doc.get("pipeline")
    if pipe:
        dat = os.path.join(tmp, "pipe.dat")
        with open(dat, "w") as f:
            for p in pipe:
                e, g = p["end_to_end_ms"], p["projection_lag_ms"]
                f.write('"%s" %.1f %.1f %s %s %s\n' % (p["offered_rate"], p["accepted_per_second"],
                                                      p["projected_per_second"], e["p50"] or 0, e["p99"] or 0,
                                                      g["p99"] or 0))
        pt = os.path.join(PLOTS, "pipeline_throughput.svg")
        gnuplot(term + 'set output "%s"\nset title "transfers: accepted (202) vs projected per second"\n'
                'set style data histogram\nset style histogram cluster gap 1\nset style fill solid 0.7\n'
                'set xlabel "offered rate (per second)"\nset ylabel "transfers/s"\nset grid ytics\n'
                'set yrange [0:*]\nplot "%s" using 2:xtic(1) title "accepted (202)", '
                '"" using 3 title "projected"\n' % (pt, dat))
        pl = os.path.join(PLOTS, "pipeline_latency.svg")
        gnuplot(term + 'set output "%s"\nset title "202 -> PROJECTED latency and projection lag"\n'
                'set style data histogram\nset style histogram cluster gap 1\nset style fill solid 0.7\n'
                'set logscale y\nset xlabel "offered rate (per second)"\nset ylabel "ms"\nset grid ytics\n'
                'plot "%s" using 4:xtic(1) title "end to end p50", "" using 5 title "end to end p99", '
                '"" using 6 title "lag after commit p99"\n' % (pl, dat))
        made += [pt, pl]
    return made


def fmt_ms(us):
    return "%.2f" % (us / 1000.0)


def render(doc, src, made):
    L = []
    m = doc["machine"]
    L += ["# gx-backend benchmarks", "",
          "Generated by `test/bench/report.py` from `%s` (run %s, %d CPUs, load average at start %s)."
          % (os.path.relpath(src, ROOT), doc["date"], m["cpus"], ", ".join("%.1f" % x for x in m["loadavg_at_start"])),
          "Reproduce with `make bench` (release build, then `test/bench/run.py`; about %d s here)."
          % doc.get("wall_seconds", 0), "",
          "Load generator (wrk) and every server share the same 2 cores, so the figures are a lower bound; "
          "on a shared machine they are also noisy. PostgreSQL runs with its default durability (fsync, "
          "synchronous_commit and full_page_writes on); the API daemons run with `LOG_LEVEL=warn` and the Redis "
          "rate limiter on (limits set high enough not to trip).", "",
          "## Goals", "", "| goal | measured | result |", "|---|---|---|"]
    for g, v, ok in goals(doc):
        L.append("| %s | %s | %s |" % (g, v, "not run" if ok is None else ("met" if ok else "**missed**")))
    http = doc.get("http")
    if http:
        L += ["", "## HTTP (svc-tokenomics)", "",
              "`wrk -t2 -cN -d%ds` per row; CPU is utime+stime from `/proc/<pid>/stat` over the run divided by "
              "the requests, for the daemon and for PostgreSQL (postmaster and every backend, reaped ones included) plus "
              "Redis. RSS is the daemon's peak during the run."
              % doc["setup"]["wrk_seconds"], "",
              "| endpoint | conns | req/s | p50 ms | p99 ms | p99.9 ms | daemon CPU us/req | PostgreSQL + Redis CPU us/req "
              "| RSS MiB | errors |", "|---|---|---|---|---|---|---|---|---|---|"]
        for n, runs in http.items():
            for r in runs:
                lu = r["latency_us"]
                L.append("| %s | %d | %.0f | %s | %s | %s | %.1f | %s | %.1f | %d |" % (
                    n, r["connections"], r["rps"], fmt_ms(lu["p50"]), fmt_ms(lu["p99"]), fmt_ms(lu["p999"]),
                    r["daemon_cpu_us_per_req"], "%.1f + %.1f" % (r.get("postgresql_cpu_us_per_req", 0),
                                                                 r.get("redis_cpu_us_per_req", 0)),
                    r["daemon_rss_peak_kib"] / MIB,
                    r["non_2xx_or_errors"]))
        nl = doc.get("http_balance_no_rate_limit")
        if nl:
            L += ["", "Balance GET at 50 connections with `RATE_LIMIT_PER_MIN=0` (no Redis call per request): "
                  "%.0f req/s, p99 %s ms, daemon CPU %.1f us/req, PostgreSQL + Redis %.1f us/req." % (
                      nl["rps"], fmt_ms(nl["latency_us"]["p99"]), nl["daemon_cpu_us_per_req"],
                      nl["backend_cpu_us_per_req"])]
    ident = doc.get("identity")
    if ident:
        L += ["", "## HTTP (svc-identity)", "",
              "Login at the production bcrypt cost %d (each login verifies one hash; a core does a few per second by "
              "design) and the caller's own profile `GET /users/{id}`." % ident["bcrypt_cost"], "",
              "| endpoint | conns | req/s | p50 ms | p99 ms | daemon CPU us/req | RSS MiB | errors |",
              "|---|---|---|---|---|---|---|---|"]
        for n in ("get_user", "login"):
            for r in ident.get(n, []):
                lu = r["latency_us"]
                L.append("| %s | %d | %.0f | %s | %s | %.1f | %.1f | %d |" % (
                    n, r["connections"], r["rps"], fmt_ms(lu["p50"]), fmt_ms(lu["p99"]), r["daemon_cpu_us_per_req"],
                    r["daemon_rss_peak_kib"] / MIB, r["non_2xx_or_errors"]))
    iso = doc.get("hash_isolation")
    if iso:
        L += ["", "Hash isolation: one account logs in, one request at a time, idle (%d logins) and while another "
              "account hammers `PATCH /users/{id}` password changes from %d clients (%d logins); p50/p99 %.1f/%.1f ms "
              "idle, %.1f/%.1f ms under the hammer; the hammer's answers by status: %s (503 `BUSY`: at most one "
              "bcrypt job per account)." % (iso["idle_logins"], iso["hammer_threads"], iso["loaded_logins"],
                                            iso["idle_p50_ms"], iso["idle_p99_ms"], iso["loaded_p50_ms"],
                                            iso["loaded_p99_ms"], ", ".join("%s: %d" % kv for kv in
                                                                           sorted(iso["hammer_statuses"].items())))]
    pipe = doc.get("pipeline")
    if pipe:
        s = doc["setup"]
        L += ["", "## Pipeline: POST /transfers -> outbox -> submitter -> peer -> projector", "",
              "%d sender/receiver pairs (distinct wallets, so no MVCC conflicts between them), 50 connections "
              "paced by wrk's `delay()`; peer blocks of %d transactions or %d ms. End to end is "
              "`projectedAt - createdAt` of each command (202 to visible in the read model), lag is "
              "`projectedAt` minus the peer's log time of the commit of the command's block; projected/s is the "
              "phase's projected commands over first 202 to last projection. *Outbox wait* is "
              "`submittedAt - createdAt`, *submit->commit* is `committedAt - submittedAt` (endorse, order, block cut, "
              "commit as the submitter saw it); *attempts* is the mean submission attempts." % (
                  s["pipeline_pairs"], s["peer"]["block_size"], s["peer"]["block_timeout_ms"]), "",
              "| offered/s | s | accepted/s | projected/s | e2e p50 ms | e2e p99 ms | lag p50 ms | lag p99 ms "
              "| outbox wait p50 ms | submit->commit p50 ms | attempts | unfinished | statuses |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for p in pipe:
            e, g = p["end_to_end_ms"], p["projection_lag_ms"]
            L.append("| %s | %d | %.0f | %.0f | %s | %s | %s | %s | %s | %s | %s | %d | %s |" % (
                p["offered_rate"], p["seconds"], p["accepted_per_second"], p["projected_per_second"], e["p50"],
                e["p99"], g["p50"], g["p99"], p.get("outbox_wait_ms", {}).get("p50"),
                p.get("submit_to_commit_ms", {}).get("p50"), p.get("mean_attempts"), p["unfinished_after_drain"],
                ", ".join("%s %d" % kv for kv in sorted(p["by_status"].items()))))
        cpu = [p for p in pipe if p.get("cpu_us_per_transfer")]
        if cpu:
            names = list(cpu[0]["cpu_us_per_transfer"])
            L += ["", "CPU per projected transfer (us, utime+stime over the phase and its drain divided by the "
                  "projected commands; includes idle polling, so low rates overstate it). Two cores give 2,000,000 "
                  "us/s, so the sum bounds the end-to-end rate on this machine:", "",
                  "| offered/s | " + " | ".join(names) + " | sum | bound/s |",
                  "|---|" + "---|" * (len(names) + 2)]
            for p in cpu:
                c = p["cpu_us_per_transfer"]
                tot = sum(c.values())
                L.append("| %s | %s | %.0f | %.0f |" % (p["offered_rate"], " | ".join("%.0f" % c[n] for n in names),
                                                       tot, 2e6 / tot if tot else 0))
    fp = doc.get("footprint")
    if fp:
        L += ["", "## Footprint", "", "| daemon | exec -> /readyz 200 ms | RSS idle MiB | RSS under load MiB |",
              "|---|---|---|---|"]
        for n, v in fp["rss_idle_kib"].items():
            ld = fp["rss_load_kib"].get(n)
            L.append("| %s | %s | %.1f | %s |" % (n, fp["ready_ms"].get(n, "-"), v / MIB,
                                                 "%.1f" % (ld / MIB) if ld else "-"))
        L += ["", "Under load: svc-tokenomics during the HTTP runs and the pipeline, the workers and the peer during "
              "the pipeline; the other APIs are idle throughout. Image sizes are not measured: the benchmark builds no "
              "images (`make images` needs buildah or podman)."]
    if made:
        L += ["", "## Plots", ""] + ["![%s](plots/%s)" % (os.path.basename(p)[:-4], os.path.basename(p))
                                     for p in made]
    ana = os.path.join(HERE, "analysis.md")
    if os.path.exists(ana):
        with open(ana) as f:
            L += ["", f.read().rstrip()]
    prof = doc.get("profile")
    if prof:
        L += ["", "## perf profile: svc-tokenomics, PostgreSQL and Redis (self time, 50 connections)", ""]
        if "skipped" in prof:
            L.append("Skipped: %s" % prof["skipped"])
        for n, p in prof.items():
            if n == "skipped" or not isinstance(p, dict):
                continue
            L += ["", "**%s** (samples by process: %s)" % (n, ", ".join(
                "%s %.1f%%" % kv for kv in sorted(p["process_share_pct"].items(), key=lambda kv: -kv[1]))), "",
                "| self % | process | object | symbol |", "|---|---|---|---|"]
            L += ["| %.1f | %s | %s | `%s` |" % (t["self_pct"], t["comm"], t["dso"], t["symbol"])
                  for t in p["top"][:15]]
    return "\n".join(L) + "\n"


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else latest()
    with open(src) as f:
        doc = json.load(f)
    with tempfile.TemporaryDirectory() as tmp:
        made = plots(doc, tmp)
    out = os.path.join(BENCH, "REPORT.md")
    with open(out, "w") as f:
        f.write(render(doc, src, made))
    print("wrote %s and %d plots" % (os.path.relpath(out, ROOT), len(made)))
    for g, v, ok in goals(doc):
        print("  %-70s %-60s %s" % (g, v, "not run" if ok is None else ("met" if ok else "MISSED")))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Collect what the built daemons really do, for the k8s lint (test/k8s/lint.mjs) to check the manifests against.

    test/k8s/facts.py OUT.json [--no-live]

Writes one JSON object:
  table    the daemon/port table parsed from the C source (gx_daemons[] in common/src/api.c)
  help     per binary (nine daemons and gxctl): the environment variables its --help lists, with defaults
  live     per daemon, from a real run against throwaway PostgreSQL, Redis and the Fabric peer stand-in (gxtest,
           gxtest.chain): the HTTP status of each
           probe path, the metric names its /metrics exports (and those it declares without a sample yet) and
           its resident memory after the probes
  missing  binaries that are not built (the lint fails every check that needed them)
  errors   anything that went wrong while collecting (the lint reports each as a failure)
Binaries come from GX_BIN_DIR (default build/release/bin). Python 3 stdlib only.
"""

import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import gxtest  # noqa: E402
from gxtest.chain import Chain  # noqa: E402

PROBE_PATHS = ["/health", "/livez", "/readyz", "/metrics"]
# libpq reads these itself (the daemons' --help says "or libpq PG* variables")
LIBPQ_ENV = ["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGPASSFILE", "PGSERVICE",
             "PGOPTIONS", "PGAPPNAME", "PGSSLMODE", "PGSSLCERT", "PGSSLKEY", "PGSSLROOTCERT", "PGSSLCRL",
             "PGREQUIRESSL", "PGCONNECT_TIMEOUT", "PGTARGETSESSIONATTRS", "PGTZ"]

# NAME  TYPE (may hold one space, "string(1..64 bytes)")  DEFAULT (may be empty)  REQUIRED  DESCRIPTION
ROW = re.compile(r"^([A-Z][A-Z0-9_]*)\s+(\S+(?: \S+\))?)\s+(?:(\S+)\s+)?(yes|no)\s")


def parse_table(src):
    """gx_daemons[] rows: {"name", port, metrics_port}."""
    m = re.search(r"gx_daemons\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
    if not m:
        return None
    rows = re.findall(r'\{\s*"([a-z-]+)"\s*,\s*(\d+)\s*,\s*(\d+)\s*\}', m.group(1))
    return [{"name": n, "port": int(p), "metricsPort": int(mp)} for n, p, mp in rows]


def expand_mentions(text):
    """Variables a --help text names in prose: DATABASE_HOST/PORT/NAME/... lists and libpq's PG* variables."""
    names = set()
    for m in re.finditer(r"\b([A-Z][A-Z0-9]*_)([A-Z0-9]+)((?:/[A-Z0-9]+)+)", text):
        prefix = m.group(1)
        names.add(prefix + m.group(2))
        names.update(prefix + s for s in m.group(3).split("/") if s)
    for m in re.finditer(r"\b([A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9])\b", text):
        names.add(m.group(1))
    if re.search(r"\bPG\*", text):
        names.update(LIBPQ_ENV)
    return names


def parse_help(text):
    """{"vars": {NAME: {"type", "default", "required"}}, "mentioned": [...]} from a --help output."""
    out = {}
    for line in text.splitlines():
        m = ROW.match(line)
        if m and m.group(1) != "NAME":
            out[m.group(1)] = {"type": m.group(2), "default": m.group(3), "required": m.group(4) == "yes"}
    return {"vars": out, "mentioned": sorted(expand_mentions(text) - set(out))}


def run_help(path, args):
    r = subprocess.run([path] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError("%s %s exited %d" % (os.path.basename(path), " ".join(args), r.returncode))
    return r.stdout.decode("utf-8", "replace")


def metric_names(text):
    names = set()
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            names.add(m.group(1))
            if m.group(2) in ("histogram", "summary"):
                names.update(m.group(1) + s for s in ("_bucket", "_sum", "_count"))
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)[ {]", line)
        if m:
            names.add(m.group(1))
    return sorted(names)


def unsampled_names(text):
    """Families /metrics declares (# TYPE) without a single sample yet, e.g. a labelled counter nothing has
    incremented: a dashboard panel over one of them shows "No data" unless its query falls back to 0."""
    declared = {}
    sampled = set()
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            declared[m.group(1)] = m.group(2)
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)[ {]", line)
        if m:
            sampled.add(m.group(1))
    out = set()
    for name, kind in declared.items():
        parts = [name + s for s in ("_bucket", "_sum", "_count")] if kind in ("histogram", "summary") else [name]
        if not any(p in sampled for p in parts + [name]):
            out.update(parts + [name])
    return sorted(out)


def collect_live(facts):
    st = gxtest.Stack("k8s-facts")
    try:
        st.start_pg()
        st.start_redis()
        st.migrate()
        fabric = {}
        if gxtest.have_binary("gx-fabric-peer"):
            # the workers talk to the peer stand-in over TLS, as in the cluster
            chain = Chain(st, tls=True)
            chain.start_peer()
            fabric = chain.fabric_env()
        else:
            facts["errors"].append("gx-fabric-peer is not built: the workers cannot be run against a peer")
        for name in gxtest.DAEMONS:
            if name in facts["missing"]:
                continue
            env = {"LOG_LEVEL": "info"}
            if name in gxtest.WORKER_DAEMONS:
                env.update(fabric, WORKER_ID="k8s-facts")
            d = st.start_daemon(name, env=env, wait_ready=False)
            entry = {"probes": {}, "metrics": [], "unsampled": [], "rssBytes": None}
            facts["live"][name] = entry
            try:
                d.wait_ready(30.0)
            except AssertionError as e:
                facts["errors"].append("%s did not become ready: %s" % (name, str(e).splitlines()[0]))
            gxtest.request("GET", d.url + "/no-such-path-k8s-facts")
            for p in PROBE_PATHS:
                entry["probes"][p] = gxtest.request("GET", d.url + p).status
            r = gxtest.request("GET", d.url + "/metrics")
            entry["metrics"] = metric_names(r.text)
            entry["unsampled"] = unsampled_names(r.text)
            m = re.search(r"^process_resident_memory_bytes (\S+)", r.text, re.M)
            entry["rssBytes"] = float(m.group(1)) if m else None
        problems = st.check_logs()
        facts["errors"].extend("log: " + p for p in problems)
    finally:
        facts["errors"].extend("teardown: " + p for p in st.close())


def main():
    if len(sys.argv) < 2:
        print("usage: facts.py OUT.json [--no-live]", file=sys.stderr)
        return 2
    live = "--no-live" not in sys.argv[2:]
    bindir = gxtest.bin_dir()
    facts = {"binDir": bindir, "table": None, "help": {}, "live": {}, "missing": [], "errors": []}
    with open(os.path.join(gxtest.REPO_ROOT, "common", "src", "api.c")) as f:
        facts["table"] = parse_table(f.read())
    if not facts["table"]:
        facts["errors"].append("gx_daemons[] not found in common/src/api.c")
    for name in gxtest.DAEMONS + ["gxctl"]:
        path = os.path.join(bindir, name)
        if not os.access(path, os.X_OK):
            facts["missing"].append(name)
            continue
        try:
            text = run_help(path, ["--help"])
            if name == "gxctl":
                for verb in ("migrate", "seed"):
                    text += "\n" + run_help(path, [verb, "--help"])
            facts["help"][name] = parse_help(text)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            facts["errors"].append(str(e))
    if live:
        try:
            collect_live(facts)
        except Exception as e:  # a dependency that would not start: reported by the lint as a failure
            facts["errors"].append("live collection failed: %s: %s" % (type(e).__name__, e))
    with open(sys.argv[1], "w") as f:
        json.dump(facts, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

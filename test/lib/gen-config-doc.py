#!/usr/bin/python3
"""Writes docs/configuration.md from the daemons' own --help output, so the document cannot drift from the tables
the daemons parse (common/src/cfg.c prints them). test/integration/test_docs.py regenerates it and compares.

    test/lib/gen-config-doc.py [--bin-dir DIR] [--out FILE | --check FILE]

DIR defaults to $GX_BIN_DIR, else build/release/bin. --out writes (default docs/configuration.md), --check compares
and exits 1 when the file is stale. Exit 2 when a daemon is missing or its --help cannot be parsed."""

import argparse
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
API_DAEMONS = ["svc-identity", "svc-admin", "svc-tokenomics", "svc-organization", "svc-loanpool",
               "svc-governance", "svc-tax"]
WORKER_DAEMONS = ["outbox-submitter", "projector"]
DAEMONS = API_DAEMONS + WORKER_DAEMONS
HEADER = re.compile(r"^NAME\s+TYPE\s+DEFAULT\s+REQUIRED\s+DESCRIPTION\s*$")
TITLE = re.compile(r"^(\S+) is configured by environment variables:\s*$")


class ParseError(Exception):
    pass


def run_help(bin_dir, name):
    path = os.path.join(bin_dir, name)
    if not os.access(path, os.X_OK):
        raise ParseError("%s is not built (%s)" % (name, path))
    # an empty environment (but the sanitizers' options): the table shows the built-in defaults, never this
    # machine's settings
    env = {k: v for k, v in os.environ.items() if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")}
    env["PATH"] = "/usr/bin:/bin"
    p = subprocess.run([path, "--help"], env=env, capture_output=True, text=True, timeout=20)
    if p.returncode != 0:
        raise ParseError("%s --help exited %d: %s" % (name, p.returncode, p.stderr.strip()[:200]))
    return p.stdout


def parse_row(line, cols):
    """One table row. Columns are aligned to the header, but a long TYPE pushes the rest right, and DEFAULT may be
    empty: the REQUIRED column (yes|no) is found after NAME and TYPE."""
    m = re.match(r"(\S+)\s+(\S*?\([^)]*\)\S*|\S+)\s+", line)   # a TYPE may hold a space: string(1..64 bytes)
    if not m:
        raise ParseError("cannot parse row: %r" % line)
    name, typ = m.group(1), m.group(2)
    rest = line[m.end():]
    default = ""
    # aligned rows: an empty DEFAULT puts REQUIRED right after TYPE; a TYPE wider than its column shifts the rest
    # right, and then a DEFAULT is present unless yes|no comes next
    d = re.match(r"(\S+)\s+(?=(?:yes|no)\s)", rest)
    if m.end() != cols["REQUIRED"] and d:
        default, rest = d.group(1), rest[d.end():]
        if default == "-":
            default = ""
    r = re.match(r"(yes|no)\s+(.*)$", rest)
    if not r:
        raise ParseError("no REQUIRED yes|no in row: %r" % line)
    desc = r.group(2).strip()
    secret = desc.endswith("(secret)")
    if secret:
        desc = desc[:-len("(secret)")].rstrip()
    return {"name": name, "type": typ, "default": default, "required": r.group(1) == "yes", "secret": secret,
            "description": desc}


def parse_help(name, text):
    """Returns (version line, [table rows...]) where each table is a list of row dicts."""
    lines = text.splitlines()
    version = lines[0].strip() if lines else ""
    tables = []
    cols = None
    rows = None
    for line in lines[1:]:
        if TITLE.match(line):
            if TITLE.match(line).group(1) != name:
                raise ParseError("%s --help names %s" % (name, TITLE.match(line).group(1)))
            rows = []
            tables.append(rows)
            cols = None
            continue
        if HEADER.match(line):
            if rows is None:
                raise ParseError("%s --help: a table header before its title" % name)
            cols = {w: line.index(w) for w in ("NAME", "TYPE", "DEFAULT", "REQUIRED", "DESCRIPTION")}
            continue
        if not line.strip() or cols is None:
            continue
        rows.append(parse_row(line, cols))
    if not tables or not any(tables):
        raise ParseError("%s --help has no configuration table" % name)
    return version, tables


def cell(s):
    return s.replace("|", "\\|")


def code(s):
    return "`%s`" % s.replace("|", "\\|") if s else "–"


def table(rows, port_note=None):
    out = ["| variable | type | default | required | secret | description |", "|---|---|---|---|---|---|"]
    for r in rows:
        default = code(r["default"])
        if port_note and r["name"] == "PORT":
            default = port_note
        if r["secret"] and r["default"] == "***":
            default = "(set, masked)"
        out.append("| `%s` | %s | %s | %s | %s | %s |" % (
            r["name"], code(r["type"]), default, "**yes**" if r["required"] else "no",
            "yes" if r["secret"] else "no", cell(r["description"])))
    return out


def strip_port(rows):
    return [dict(r, default="") if r["name"] == "PORT" else r for r in rows]


def render(helps):
    parsed = {n: parse_help(n, helps[n]) for n in DAEMONS}
    out = [
        "# Configuration",
        "",
        "<!-- Generated by test/lib/gen-config-doc.py from each daemon's `--help`; do not edit by hand.",
        "     test/integration/test_docs.py fails when this file is stale: run the script after changing a table. -->",
        "",
        "Every daemon is configured by environment variables only ([design §8](design.md#8-logs-and-configuration)). Each daemon prints these tables "
        "with `--help`,",
        "parses them at start, logs the effective values with secrets masked, and exits with code 2 and one line "
        "naming the",
        "variable when a value is invalid or a required one is missing. Durations accept `ms`, `s`, `m`, `h` "
        "suffixes (a bare",
        "number is milliseconds); the range is given in milliseconds. A **secret** is never logged or printed "
        "(`***`).",
        "",
        "When PostgreSQL does not answer at start, a daemon retries for `STARTUP_WAIT` (default 30 s), then exits "
        "with code 3",
        "and one line naming the database and its last error; `STARTUP_WAIT=0` starts anyway and keeps retrying "
        "(`/readyz`",
        "answers 503 until the database is back). Redis and the Fabric peer are always retried: the APIs run degraded "
        "without",
        "Redis and the workers report the peer on `/readyz`.",
        "",
        "`DATABASE_URL` is not marked required because the libpq `PG*` variables or `DATABASE_HOST`, "
        "`DATABASE_PORT`,",
        "`DATABASE_NAME`, `DATABASE_USER`, `DATABASE_PASSWORD` may be used instead; one of them must lead to the "
        "database.",
        "",
        "`DOCS_ASSETS` is the directory of the Swagger UI files the `/docs` page of every API loads (read once at "
        "start):",
        "`make up` installs them into `build/docs-assets` (`make docs-assets`), the image into "
        "`/usr/share/gx-backend/docs`.",
        "Without them `/docs` answers 503 `DOCS_UNAVAILABLE` ([errors.md](errors.md)).",
        "",
        "Contents: [every API daemon](#every-api-daemon) · " + " · ".join(
            "[%s](#%s)" % (n, n) for n in DAEMONS),
        "",
    ]
    # the shared table of the seven APIs, printed once when it is the same everywhere but for PORT's default
    shared = parsed[API_DAEMONS[0]][1][0]
    same = all(strip_port(parsed[n][1][0]) == strip_port(shared) for n in API_DAEMONS)
    if same:
        out += ["## Every API daemon", "",
                "The seven API daemons share this table (`gx/api.h`); `PORT`'s default is the daemon's port "
                "([design §1](design.md#1-ports-and-names)).", ""]
        out += table(shared, port_note="per daemon")
        out.append("")
    for n in DAEMONS:
        version, tables = parsed[n]
        out += ["## %s" % n, "", "`%s --version`: `%s`." % (n, version)]
        rest = tables
        if n in API_DAEMONS and same:
            port = next((r["default"] for r in tables[0] if r["name"] == "PORT"), "?")
            out.append("The [shared API table](#every-api-daemon) with `PORT` default `%s`%s" % (
                port, ", plus:" if any(tables[1:]) else "; no variables of its own."))
            rest = tables[1:]
        out.append("")
        for i, t in enumerate(rest):
            if t:
                if i > 0:
                    out += ["Its own variables:", ""]
                out += table(t)
                out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin-dir", default=os.environ.get("GX_BIN_DIR") or os.path.join(REPO, "build/release/bin"))
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--out", default=os.path.join(REPO, "docs/configuration.md"))
    g.add_argument("--check", metavar="FILE")
    a = ap.parse_args()
    try:
        text = render({n: run_help(a.bin_dir, n) for n in DAEMONS})
    except (ParseError, OSError, subprocess.SubprocessError) as e:
        print("gen-config-doc: %s" % e, file=sys.stderr)
        return 2
    if a.check:
        with open(a.check, encoding="utf-8") as f:
            if f.read() != text:
                print("gen-config-doc: %s is stale; run test/lib/gen-config-doc.py" % a.check, file=sys.stderr)
                return 1
        return 0
    with open(a.out + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(a.out + ".tmp", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

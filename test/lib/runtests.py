#!/usr/bin/python3
"""Run the integration tests: every test/integration/test_*.py, or the files / test ids named on the command line.

    test/lib/runtests.py                                   # all, GX_TEST_JOBS files at a time (default 3)
    test/lib/runtests.py test_health.py                    # one file (path or bare name)
    test/lib/runtests.py test_health.HealthTest.test_livez # one test (unittest dotted name)

Every test file brings up its own throwaway stack (temp dir, free ports), so whole files run in parallel as separate
processes; each file's output is printed in one piece when it ends, followed by its duration. A file that runs longer
than GX_TEST_FILE_TIMEOUT seconds (default 600) is killed and counted as one failure.
Prints unittest's verbose per-test lines, then as the very last line "N passed, N failed" (", N skipped" when any).
Exit status 1 when anything failed or errored (including class setup/teardown), else 0.
"""

import os
import re
import subprocess
import sys
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
INTEGRATION = os.path.join(REPO, "test", "integration")
sys.path.insert(0, HERE)
sys.path.insert(0, INTEGRATION)


def load(names):
    loader = unittest.TestLoader()
    if not names:
        if not os.path.isdir(INTEGRATION):
            return unittest.TestSuite()
        return loader.discover(INTEGRATION, pattern="test_*.py", top_level_dir=INTEGRATION)
    suite = unittest.TestSuite()
    for name in names:
        base = os.path.basename(name)
        if base.endswith(".py"):
            name = base[:-3]
        try:
            suite.addTests(loader.loadTestsFromName(name))
        except Exception as e:  # noqa: BLE001 - reported as a failing test, not a crash
            suite.addTest(_failing(name, e))
    return suite


def _failing(name, exc):
    def load_error():
        raise AssertionError("cannot load %s: %s: %s" % (name, type(exc).__name__, exc))
    return unittest.FunctionTestCase(load_error, description="load " + name)


COUNTS = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$")


def run_file(path, timeout):
    """Run one test file in a child runtests.py; returns (output text, passed, failed, skipped, seconds)."""
    t0 = time.monotonic()
    try:
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout)
        out = r.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        out += "\nnot ok - %s: killed after %d s\n" % (os.path.basename(path), timeout)
        return out, 0, 1, 0, time.monotonic() - t0
    lines = out.rstrip().splitlines()
    m = COUNTS.match(lines[-1]) if lines else None
    if not m:
        return out + "\nnot ok - %s: exit status %d and no summary line\n" % (os.path.basename(path), r.returncode), \
            0, 1, 0, time.monotonic() - t0
    p, f, sk = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if r.returncode != 0 and f == 0:
        f = 1
    return "\n".join(lines[:-1]) + "\n", p, f, sk, time.monotonic() - t0


def main_parallel(files):
    jobs = max(1, int(os.environ.get("GX_TEST_JOBS", "3")))
    timeout = int(os.environ.get("GX_TEST_FILE_TIMEOUT", "600"))
    # longest files first so the pool ends together
    files = sorted(files, key=lambda f: -os.path.getsize(f))
    totals = [0, 0, 0]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [(f, pool.submit(run_file, f, timeout)) for f in files]
        done = set()
        while len(done) < len(futures):
            for f, fut in futures:
                if f in done or not fut.done():
                    continue
                done.add(f)
                out, p, fl, sk, secs = fut.result()
                sys.stdout.write("---- %s\n%s# %s: %d passed, %d failed (%.0f s)\n"
                                 % (os.path.basename(f), out, os.path.basename(f), p, fl, secs))
                sys.stdout.flush()
                totals[0] += p
                totals[1] += fl
                totals[2] += sk
            time.sleep(0.2)
    line = "%d passed, %d failed" % (totals[0], totals[1])
    if totals[2]:
        line += ", %d skipped" % totals[2]
    print(line, flush=True)
    return 1 if totals[1] else 0


def main(argv):
    if argv[:1] == ["--one"]:
        argv = argv[1:]
    elif not argv or all(a.endswith(".py") for a in argv):
        files = argv or sorted(os.path.join(INTEGRATION, f) for f in os.listdir(INTEGRATION)
                               if f.startswith("test_") and f.endswith(".py"))
        files = [f if os.path.exists(f) else os.path.join(INTEGRATION, os.path.basename(f)) for f in files]
        if len(files) > 1:
            return main_parallel(files)
    suite = load(argv)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2)
    result = runner.run(suite)
    sys.stdout.flush()
    bad = result.failures + result.errors + [(t, "unexpected success") for t in result.unexpectedSuccesses]
    failed_tests = {id(t) for t, _ in bad if isinstance(t, unittest.TestCase)}
    skipped_tests = {id(t) for t, _ in result.skipped if isinstance(t, unittest.TestCase)}
    passed = result.testsRun - len(failed_tests) - len(skipped_tests - failed_tests)
    failed = len(failed_tests) + sum(1 for t, _ in bad if not isinstance(t, unittest.TestCase))
    line = "%d passed, %d failed" % (max(passed, 0), failed)
    if result.skipped:
        line += ", %d skipped" % len(result.skipped)
    print(line, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

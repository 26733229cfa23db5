#!/usr/bin/python3
"""Run the integration tests: every test/integration/test_*.py, or the files / test ids named on the command line.

    test/lib/runtests.py                                   # all
    test/lib/runtests.py test_health.py                    # one file (path or bare name)
    test/lib/runtests.py test_health.HealthTest.test_livez # one test (unittest dotted name)

Prints unittest's verbose per-test lines, then as the very last line "N passed, N failed" (", N skipped" when any).
Exit status 1 when anything failed or errored (including class setup/teardown), else 0.
"""

import os
import sys
import unittest

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


def main(argv):
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

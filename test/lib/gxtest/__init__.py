"""gxtest: the integration-test library of gx-backend (Python 3 stdlib only).

    import gxtest

    class MyTest(gxtest.GxTestCase):
        @classmethod
        def setUpClass(cls):
            super().setUpClass()              # creates cls.stack
            cls.stack.start_pg(); cls.stack.start_redis(); cls.stack.migrate()
            cls.api = cls.stack.start_daemon("svc-identity")

        def test_health(self):
            r = gxtest.request("GET", self.api.url + "/health")
            self.assertEqual(r.status, 200)

After every test the logs of the stack's processes are checked (sanitizer reports, unexpected error-level lines);
tearDownClass stops everything and checks again. Declare expected error lines with daemon.expect_errors("...").
Shared fixtures of the service tests (a migrated stack with one API daemon, the end-to-end chain, users on chain)
are in gxtest.services; SQL literals, outbox rows and seeded read-model rows in gxtest.sql.
See test/README.md.
"""

import unittest

from .auth import bearer, mint_token, sign_raw
from .http import Headers, Response, concurrently, free_port, request
from .stack import (API_DAEMONS, DAEMONS, DEFAULT_PORTS, REPO_ROOT, TEST_JWT_SECRET, WORKER_DAEMONS, Daemon,
                    Postgres, Process, Redis, Stack, bin_dir, have_binary)

__all__ = ["concurrently", "bearer", "mint_token", "sign_raw", "API_DAEMONS", "DAEMONS", "DEFAULT_PORTS", "REPO_ROOT", "TEST_JWT_SECRET", "WORKER_DAEMONS", "Daemon",
           "GxTestCase", "Headers", "Postgres", "Process", "Redis", "Response", "Stack", "bin_dir", "free_port",
           "have_binary", "request"]


class GxTestCase(unittest.TestCase):
    """TestCase owning one Stack per class (cls.stack). Subclasses overriding setUpClass/tearDownClass/tearDown
    must call super(). A log violation fails the test during which it appeared, or the class at teardown."""

    stack = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stack = Stack(cls.__name__)
        # If a subclass's setUpClass fails after this, unittest skips tearDownClass: make sure we still clean up.
        cls.addClassCleanup(cls._close_stack_quietly)

    @classmethod
    def _close_stack_quietly(cls):
        if cls.stack is not None and not cls.stack.closed:
            cls.stack.close(check=False)

    @classmethod
    def tearDownClass(cls):
        problems = cls.stack.close() if cls.stack is not None else []
        super().tearDownClass()
        if problems:
            raise AssertionError("problems at teardown of %s:\n  %s" % (cls.__name__, "\n  ".join(problems)))

    def tearDown(self):
        problems = self.stack.check_logs() if self.stack is not None else []
        super().tearDown()
        if problems:
            self.fail("log problems during this test:\n  " + "\n  ".join(problems))

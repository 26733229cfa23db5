"""A second copy of a daemon on a port another process already serves (design.md §8): its SO_REUSEPORT listeners
would silently share the port, so it exits 1 with one error line saying so; SHARE_PORT=true (a zero-downtime
restart on one host) lets it start and serve next to the first. Checked on an API and on a worker's health and
metrics server."""

import time
import unittest

import gxtest
from gxtest import GxTestCase
from gxtest.services import start_backing

MESSAGE = "already served by another process"
WORKERS = ("outbox-submitter", "projector")


class SharePortTest(GxTestCase):
    """One migrated PostgreSQL, one Redis and (when built) the Fabric stand-in for the worker."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        start_backing(cls.stack)
        cls.fabric_env = {}
        if gxtest.have_binary("gx-fabric-peer"):
            from gxtest.chain import Chain
            chain = Chain(cls.stack)
            chain.start_peer()
            cls.fabric_env = chain.fabric_env()

    def start(self, name, port=None, env=None):
        """Start name (on port, default a free one) without waiting; returns the Daemon."""
        e = dict(self.fabric_env) if name in WORKERS else {}
        e.update(env or {})
        return self.stack.start_daemon(name, env=e, port=port, wait_ready=False)

    def wait_exit(self, d, timeout=20.0):
        deadline = time.monotonic() + timeout
        while d.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertFalse(d.alive(), "%s still running on a port another process serves; last lines:\n%s"
                         % (d.name, d.log_tail()))
        return d.popen.returncode

    def check_daemon(self, name):
        if not gxtest.have_binary(name):
            raise unittest.SkipTest("%s is not built in %s" % (name, gxtest.bin_dir()))
        first = self.start(name)
        first.wait_ready(path="/livez")

        second = self.start(name, port=first.port)
        second.expect_errors(MESSAGE)
        self.assertEqual(self.wait_exit(second), 1, second.log_tail())
        lines = [ln for ln in second.log_text().splitlines() if MESSAGE in ln]
        self.assertEqual(len(lines), 1, second.log_tail())
        self.assertIn('"level":"error"', lines[0])
        self.assertIn("port %d " % first.port, lines[0])
        self.assertIn("SHARE_PORT", lines[0])
        self.assertNotIn('"msg":"listening"', second.log_text())
        self.assertEqual(first.get("/livez").status, 200)

        shared = self.start(name, port=first.port, env={"SHARE_PORT": "true"})
        shared.wait_for_log(r'"msg":"listening"', timeout=20)
        self.assertTrue(shared.alive(), shared.log_tail())
        self.assertNotIn(MESSAGE, shared.log_text())
        self.assertEqual(shared.stop(), 0, shared.log_tail())
        self.assertEqual(first.get("/livez").status, 200)
        self.assertEqual(first.stop(), 0, first.log_tail())

        # the port free again (the first copy gone): a plain start binds it
        again = self.start(name, port=first.port)
        again.wait_ready(path="/livez")
        self.assertEqual(again.stop(), 0, again.log_tail())

    def test_api(self):
        self.check_daemon("svc-tax")

    def test_worker_metrics_server(self):
        self.check_daemon("projector")


if __name__ == "__main__":
    unittest.main()

"""The Fabric side of a test stack: the peer stand-in (bin/gx-fabric-peer) with a dev CA, outbox-submitter
replicas and the projector, all wired with the FABRIC_* environment the workers read.

    import gxtest
    from gxtest.chain import start_chain, wait_command, wait_sql

    st = self.stack; st.start_pg(); st.start_redis(); st.migrate()
    chain = start_chain(st, replicas=1)          # peer + 1 submitter + projector (when built)
    ...
    doc = wait_command(api.url, command_id, token)  # polls GET /api/v1/commands/{id} until COMMITTED/PROJECTED
    wait_sql(st, 'SELECT count(*) FROM "OutboxCommand" WHERE status = \\'PENDING\\'', [("0",)])

Call start_chain after the database is migrated (the workers' /readyz checks the schema). The peer listens on a
port chosen up front, so chain.stop_peer() / chain.start_peer() simulate a peer outage on the same address.
"""

import json
import os
import re
import shutil
import subprocess
import time
import unittest

from .http import free_port, request
from .stack import REPO_ROOT, bin_dir, have_binary

__all__ = ["Chain", "start_chain", "wait_command", "wait_sql", "MKDEVCA", "have_node_client", "node_client", "evaluate"]

MKDEVCA = os.path.join(REPO_ROOT, "test", "fabric-peer", "mkdevca.sh")
# The tests' stand-in: a real peer's limits (Gateway concurrency 500, contractapi errors) with a short endorse
# latency and a 200 ms block timeout, so the suite stays fast yet no call answers instantly. peer_args come after
# these and override them (e.g. ("--endorse-latency-ms", "20", "--block-timeout-ms", "2000") for make up's values).
ENDORSE_LATENCY_MS = 10
ENDORSE_JITTER_MS = 5
_LISTENING = re.compile(r'"msg":"listening","port":"?(\d+)"?')


class Chain:
    """The running chain side of one stack.

    peer        the gx-fabric-peer Process (None while stopped)
    addr        "127.0.0.1:<port>" of the peer (stable across stop_peer/start_peer)
    submitters  list of outbox-submitter Daemons
    projector   the projector Daemon, or None when it is not built (or start_chain(projector=False))
    ca_dir      the dev CA directory made by mkdevca.sh (ca/, users/<name>/{cert,key}.pem, tlsca/, ...)
    ledger_dir  the peer's ledger directory
    fault_file  the peer's fault-injection control file (set_faults())
    stats_file  the peer's Gateway counters (peer_stats())
    """

    def __init__(self, stack, peer_args=(), tls=False):
        self.stack = stack
        self.ca_dir = os.path.join(stack.root, "devca")
        self.ledger_dir = os.path.join(stack.root, "peer-ledger")
        self.fault_file = os.path.join(stack.root, "peer-faults")
        self.stats_file = os.path.join(stack.root, "peer-stats.json")
        self.port = free_port()
        self.addr = "127.0.0.1:%d" % self.port
        self.peer_args = list(peer_args)
        self.tls = tls
        self.peer = None
        self.submitters = []
        self.projector = None
        r = subprocess.run([MKDEVCA, self.ca_dir], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("mkdevca.sh failed:\n" + r.stdout.decode("utf-8", "replace")[-3000:])
        os.makedirs(self.ledger_dir, exist_ok=True)

    def user_dir(self, name):
        """Directory of a dev identity: "super-admin", "admin" or "partner-api"."""
        return os.path.join(self.ca_dir, "users", name)

    # --- peer ----------------------------------------------------------------------------------------------
    def start_peer(self, timeout=30.0):
        """Start (or restart) the peer on self.port with the same ledger; wait until it listens."""
        if self.peer is not None and self.peer.alive():
            return self.peer
        argv = [os.path.join(bin_dir(), "gx-fabric-peer"), "--listen", self.addr, "--ledger-dir", self.ledger_dir,
                "--ca-cert", os.path.join(self.ca_dir, "ca", "ca.crt"),
                "--peer-cert", os.path.join(self.ca_dir, "peer", "msp", "cert.pem"),
                "--peer-key", os.path.join(self.ca_dir, "peer", "msp", "key.pem"),
                "--block-timeout-ms", "200", "--endorse-latency-ms", str(ENDORSE_LATENCY_MS),
                "--endorse-jitter-ms", str(ENDORSE_JITTER_MS), "--fault-file", self.fault_file,
                "--stats-file", self.stats_file]
        if self.tls:
            argv += ["--tls-cert", os.path.join(self.ca_dir, "peer", "tls", "server.crt"),
                     "--tls-key", os.path.join(self.ca_dir, "peer", "tls", "server.key")]
        argv += self.peer_args
        self.peer = self.stack.start_process(argv, name="gx-fabric-peer")
        self.peer.wait_for_log(_LISTENING.pattern, timeout=timeout)
        return self.peer

    def set_faults(self, text):
        """Replace the peer's fault-injection rules (see test/fabric-peer/peer_fault.h), e.g.
        "unavailable Submit 3\n"; "" clears them."""
        tmp = self.fault_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.fault_file)

    def peer_stats(self):
        """The peer's Gateway counters, rewritten every second and at exit: {"limit", "active", "peak" (most
        concurrent calls), "calls" (admitted), "refused" (answered "too many requests")}; counts since the peer
        started. None before the first write."""
        try:
            with open(self.stats_file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def stop_peer(self, kill=False):
        """Stop the peer (SIGTERM, or SIGKILL when kill). The ledger stays for start_peer()."""
        if self.peer is None:
            return
        if kill:
            self.peer.kill9()
        elif self.peer.alive():
            self.peer.stop()
        self.peer = None

    # --- workers -------------------------------------------------------------------------------------------
    def fabric_env(self):
        """The FABRIC_* variables both workers read."""
        users = os.path.join(self.ca_dir, "users")
        env = {
            "FABRIC_PEER_ENDPOINT": self.addr,
            "FABRIC_MSP_ID": "Org1MSP",
            "FABRIC_CHANNEL": "gxchannel",
            "FABRIC_CHAINCODE": "gxtv3",
            "FABRIC_TLS_CA_FILE": os.path.join(self.ca_dir, "tlsca", "ca.crt") if self.tls else "",
            "FABRIC_TLS_SERVER_NAME": "localhost" if self.tls else "",
            "FABRIC_CERT_SUPER_ADMIN": os.path.join(users, "super-admin", "cert.pem"),
            "FABRIC_KEY_SUPER_ADMIN": os.path.join(users, "super-admin", "key.pem"),
            "FABRIC_CERT_ADMIN": os.path.join(users, "admin", "cert.pem"),
            "FABRIC_KEY_ADMIN": os.path.join(users, "admin", "key.pem"),
            "FABRIC_CERT_PARTNER": os.path.join(users, "partner-api", "cert.pem"),
            "FABRIC_KEY_PARTNER": os.path.join(users, "partner-api", "key.pem"),
        }
        return env

    def start_submitter(self, env=None, wait_ready=True, timeout=30.0):
        """Start one more outbox-submitter replica (WORKER_ID submitter-<n>). env overrides (None removes)."""
        e = self.fabric_env()
        e["WORKER_ID"] = "submitter-%d" % (len(self.submitters) + 1)
        e.update(env or {})
        d = self.stack.start_daemon("outbox-submitter", env=e, wait_ready=wait_ready, timeout=timeout)
        self.submitters.append(d)
        return d

    def start_projector(self, env=None, wait_ready=True, timeout=30.0):
        """Start the projector when it is built (returns None otherwise)."""
        if not have_binary("projector"):
            return None
        e = self.fabric_env()
        e.update(env or {})
        self.projector = self.stack.start_daemon("projector", env=e, wait_ready=wait_ready, timeout=timeout)
        return self.projector


def start_chain(stack, replicas=1, peer_args=(), projector=True, submitter_env=None, projector_env=None, tls=False):
    """Create the dev CA in the stack's temp dir, start the peer stand-in on a free port (peer_args appended to its
    command line; the block cut timeout defaults to 200 ms and the endorse latency to 10-15 ms here, e.g.
    ("--block-timeout-ms", "2000") restores the production-like 2 s), then `replicas` outbox-submitters and the projector (when
    built and projector is true), each waited for /readyz. Skips the test when the peer or submitter is not built.
    Returns a Chain."""
    if not have_binary("gx-fabric-peer"):
        raise unittest.SkipTest("gx-fabric-peer is not built in %s" % bin_dir())
    if replicas and not have_binary("outbox-submitter"):
        raise unittest.SkipTest("outbox-submitter is not built in %s" % bin_dir())
    chain = Chain(stack, peer_args, tls)
    chain.start_peer()
    for _ in range(replicas):
        chain.start_submitter(submitter_env)
    if projector:
        chain.start_projector(projector_env)
    return chain


def wait_command(api_url, command_id, token, want=("COMMITTED", "PROJECTED"), timeout=30):
    """Poll GET <api_url>/api/v1/commands/<command_id> (Bearer token; None = anonymous) until its status is in want.
    Returns the status document. Raises AssertionError when it ends FAILED (unless wanted) or on timeout."""
    if isinstance(want, str):
        want = (want,)
    headers = {"Authorization": "Bearer " + token} if token else {}
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            r = request("GET", "%s/api/v1/commands/%s" % (api_url, command_id), headers=headers, timeout=5)
            if r.status == 200:
                last = r.json()
                if last.get("status") in want:
                    return last
                if last.get("status") == "FAILED":
                    raise AssertionError("command %s FAILED: %s" % (command_id, json.dumps(last)))
            else:
                last = "%d %s" % (r.status, r.body[:300].decode("utf-8", "replace"))
        except OSError as e:
            last = str(e)
        if time.monotonic() > deadline:
            raise AssertionError("command %s not in %s within %ss; last: %s" % (command_id, want, timeout, last))
        time.sleep(0.1)


def wait_sql(stack, sql, expected, timeout=30):
    """Run sql until its rows (list of tuples of strings, see Postgres.psql) equal expected, or expected(rows) is
    true when it is callable. Returns the rows; raises AssertionError with the last rows on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        rows = stack.psql(sql)
        ok = expected(rows) if callable(expected) else rows == [tuple(r) for r in expected]
        if ok:
            return rows
        if time.monotonic() > deadline:
            raise AssertionError("SQL did not reach the expected result within %ss\nSQL: %s\nexpected: %r\nlast: %r"
                                 % (timeout, sql, expected, rows))
        time.sleep(0.1)


CONFORMANCE = os.path.join(REPO_ROOT, "test", "conformance")


def have_node_client():
    """True when the official Node Fabric client of test/conformance can run (node and its node_modules)."""
    return bool(shutil.which("node")) and os.path.isdir(os.path.join(CONFORMANCE, "node_modules"))


def node_client(chain, *args, identity="partner-api", timeout=120):
    """Run test/conformance/client.mjs against the chain's peer (a reference client, independent of our C one):
    e.g. node_client(chain, "evaluate", "TokenomicsContract:GetBalance", "alice") -> {"result": "..."};
    node_client(chain, "events", "0", "10") -> {"events": [{block, txId, name, payload}]}. Skips without node."""
    if not have_node_client():
        raise unittest.SkipTest("node or test/conformance/node_modules is missing")
    # another test file may be running npm ci right now (files run in parallel): ensure-deps.sh waits for it under
    # its lock and is a no-op when node_modules matches the lock file
    subprocess.run([os.path.join(CONFORMANCE, "ensure-deps.sh")], check=True, timeout=600,
                   stdin=subprocess.DEVNULL)
    env = dict(os.environ, PEER_ADDR=chain.addr, DEVCA=chain.ca_dir, IDENTITY=identity)
    r = subprocess.run(["node", os.path.join(CONFORMANCE, "client.mjs")] + [str(a) for a in args], env=env,
                       cwd=CONFORMANCE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError("node client failed (%d): %s" % (r.returncode, r.stderr.decode()[-2000:]))
    return json.loads(r.stdout.decode().strip().splitlines()[-1])


def evaluate(chain, function, *args):
    """Evaluate a chaincode query with the reference client; returns the decoded JSON result."""
    out = node_client(chain, "evaluate", function, *args)
    if "error" in out:
        raise AssertionError("evaluate %s%r failed: %s" % (function, args, json.dumps(out["error"])))
    return json.loads(out["result"])

"""Fabric peer stand-in (bin/gx-fabric-peer) driven by the official Node client (@hyperledger/fabric-gateway):
the Fabric-like answers to bad signatures, high-S, unknown identities, wrong roles, duplicate tx ids and MVCC
conflicts; restart keeps history; events replay from block 0; fault injection."""

import json
import os
import re
import shutil
import signal
import subprocess
import unittest

import gxtest

REPO = gxtest.REPO_ROOT
CONFORMANCE = os.path.join(REPO, "test", "conformance")
MKDEVCA = os.path.join(REPO, "test", "fabric-peer", "mkdevca.sh")

GRPC_UNKNOWN, GRPC_ABORTED, GRPC_UNAVAILABLE = 2, 10, 14
VALID, MVCC_READ_CONFLICT = 0, 11


class FabricPeerTest(gxtest.GxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not gxtest.have_binary("gx-fabric-peer"):
            raise unittest.SkipTest("gx-fabric-peer is not built")
        if not shutil.which("node"):
            raise unittest.SkipTest("node is not installed")
        subprocess.run([os.path.join(CONFORMANCE, "ensure-deps.sh")], check=True, timeout=600)
        root = cls.stack.root
        cls.devca = os.path.join(root, "devca")
        cls.otherca = os.path.join(root, "otherca")
        subprocess.run([MKDEVCA, cls.devca], check=True, timeout=120)
        subprocess.run([MKDEVCA, cls.otherca], check=True, timeout=120)
        cls.ledger = os.path.join(root, "ledger")
        cls.fault_file = os.path.join(root, "faults")
        cls.start_peer()
        cls.boot = cls.node("submit", "AdminContract:BootstrapSystem", identity="super-admin")

    @classmethod
    def start_peer(cls):
        argv = [os.path.join(gxtest.bin_dir(), "gx-fabric-peer"), "--listen", "127.0.0.1:0", "--ledger-dir",
                cls.ledger, "--ca-cert", os.path.join(cls.devca, "ca", "ca.crt"), "--block-timeout-ms", "150",
                "--fault-file", cls.fault_file]
        cls.peer = cls.stack.start_process(argv, name="gx-fabric-peer")
        m = cls.peer.wait_for_log(r'"msg":"listening","port":"?(\d+)"?', timeout=30)
        # the log keeps earlier runs' lines: take the last "listening" line
        cls.addr = "127.0.0.1:%s" % re.findall(r'"msg":"listening","port":"?(\d+)"?', cls.peer.log_text())[-1]

    @classmethod
    def node(cls, *args, identity="admin", env=None, timeout=120):
        e = dict(os.environ, PEER_ADDR=cls.addr, DEVCA=cls.devca, IDENTITY=identity)
        e.update(env or {})
        r = subprocess.run(["node", os.path.join(CONFORMANCE, "client.mjs")] + list(args), env=e, cwd=CONFORMANCE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError("node client failed (%d): %s" % (r.returncode, r.stderr.decode()[-2000:]))
        return json.loads(r.stdout.decode().strip().splitlines()[-1])

    def set_faults(self, text):
        tmp = self.fault_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.fault_file)

    def assertEndorseRejected(self, out, code, detail_pattern):
        self.assertIn("error", out, out)
        self.assertEqual(out["error"]["code"], code, out)
        self.assertTrue(any(re.search(detail_pattern, d["message"]) for d in out["error"]["details"]), out)
        for d in out["error"]["details"]:
            self.assertEqual(d["mspId"], "Org1MSP")
            self.assertEqual(d["address"], self.addr)

    def test_bootstrap_committed_with_event(self):
        self.assertEqual(self.boot.get("code"), VALID, self.boot)
        self.assertGreaterEqual(self.boot["block"], 1)
        out = self.node("events", "0", "1")
        self.assertEqual(out["events"][0]["name"], "SystemBootstrapped", out)
        self.assertEqual(out["events"][0]["txId"], self.boot["txId"])
        self.assertEqual(out["events"][0]["block"], self.boot["block"])
        self.assertIn("totalSupply", json.loads(out["events"][0]["payload"]))

    def test_evaluate(self):
        out = self.node("evaluate", "AdminContract:GetSystemStatus", identity="partner-api")
        self.assertTrue(json.loads(out["result"])["bootstrapped"], out)

    def test_wrong_role(self):
        out = self.node("submit", "AdminContract:PauseSystem", "maintenance", identity="admin")
        self.assertEndorseRejected(out, GRPC_ABORTED, r"^chaincode response 403, ")

    def test_chaincode_error_on_evaluate(self):
        out = self.node("evaluate", "AdminContract:GetCountry", "ZZ")
        self.assertEqual(out["error"]["code"], GRPC_UNKNOWN, out)
        self.assertRegex(out["error"]["details"][0]["message"], r"^chaincode response 4\d\d, ")

    def test_wrong_signature(self):
        out = self.node("endorse-bad", "wrong", "AdminContract:GetSystemStatus")
        self.assertEndorseRejected(out, GRPC_ABORTED, r"signature is not valid$")

    def test_high_s_signature(self):
        out = self.node("endorse-bad", "highs", "AdminContract:GetSystemStatus")
        self.assertEndorseRejected(out, GRPC_ABORTED, r"invalid S, must be smaller than half the order")

    def test_unknown_identity(self):
        out = self.node("submit", "AdminContract:GetSystemStatus",
                        identity=os.path.join(self.otherca, "users", "super-admin"))
        self.assertEndorseRejected(out, GRPC_ABORTED, r"does not chain to the MSP's CA")

    def test_duplicate_txid(self):
        out = self.node("duplicate", "AdminContract:UpdateSystemParameter", "velocityTaxDormancyDays", "300",
                        identity="super-admin")
        self.assertEqual(out["first"]["code"], VALID, out)
        self.assertEndorseRejected(out, GRPC_ABORTED, r"^duplicate transaction found \[%s\]" % out["first"]["txId"])
        # the same signed envelope ordered twice: the later copy is DUPLICATE_TXID, CommitStatus reports the first
        out = self.node("resubmit", "AdminContract:UpdateSystemParameter", "velocityTaxDormancyDays", "310",
                        identity="super-admin")
        self.assertEqual(out["first"], out["second"], out)
        self.assertEqual(out["first"]["code"], VALID, out)

    def test_mvcc_conflict(self):
        out = self.node("mvcc", "AdminContract:UpdateSystemParameter", "transactionFeeBps", "25",
                        identity="super-admin")
        codes = sorted(r["code"] for r in out["results"])
        self.assertEqual(codes, [VALID, MVCC_READ_CONFLICT], out)

    def test_fault_injection(self):
        self.set_faults("unavailable Evaluate 1\n")
        out = self.node("evaluate", "AdminContract:GetSystemStatus")
        self.assertEqual(out["error"]["code"], GRPC_UNAVAILABLE, out)
        self.assertIn("result", self.node("evaluate", "AdminContract:GetSystemStatus"))
        self.set_faults("too_many * 1\n")
        out = self.node("evaluate", "AdminContract:GetSystemStatus")
        self.assertEqual(out["error"]["code"], GRPC_UNKNOWN, out)
        self.assertIn("too many requests for /gateway.Gateway", out["error"]["message"])
        self.set_faults("")

    def test_zz_restart_keeps_history(self):
        before = self.node("events", "0", "1")
        self.assertEqual(self.peer.stop(signal.SIGTERM, 10.0), 0)
        type(self).start_peer()
        after = self.node("events", "0", "1")
        self.assertEqual(after["events"], before["events"])
        out = self.node("submit", "AdminContract:BootstrapSystem", identity="super-admin")
        self.assertEndorseRejected(out, GRPC_ABORTED, r"^chaincode response 409, ")
        out = self.node("submit", "AdminContract:UpdateSystemParameter", "transactionFeeBps", "15",
                        identity="super-admin")
        self.assertEqual(out["code"], VALID, out)
        self.assertGreater(out["block"], self.boot["block"])


if __name__ == "__main__":
    unittest.main()

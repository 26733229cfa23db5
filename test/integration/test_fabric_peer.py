"""Fabric peer stand-in (bin/gx-fabric-peer) driven by the official Node client (@hyperledger/fabric-gateway):
the Fabric-like answers to bad signatures, high-S, unknown identities, wrong roles, duplicate tx ids and MVCC
conflicts; restart keeps history; events replay from block 0; fault injection. The defaults of a Fabric 2.5 peer:
the Gateway concurrency limit and its refusal, endorse latency, contractapi chaincode errors (status 500), the
gateway's answers for an unknown channel or chaincode, and ECDSA endorsements by the peer identity of the dev CA."""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import gxtest

REPO = gxtest.REPO_ROOT
CONFORMANCE = os.path.join(REPO, "test", "conformance")
MKDEVCA = os.path.join(REPO, "test", "fabric-peer", "mkdevca.sh")

GRPC_UNKNOWN, GRPC_PERMISSION_DENIED, GRPC_FAILED_PRECONDITION, GRPC_ABORTED, GRPC_UNAVAILABLE = 2, 7, 9, 10, 14
VALID, ENDORSEMENT_POLICY_FAILURE, MVCC_READ_CONFLICT = 0, 10, 11
ENDORSE_FAILED = "10 ABORTED: failed to endorse transaction, see attached details for more info"
P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551


def der_ints(der):
    """(r, s) of a DER ECDSA signature SEQUENCE { INTEGER r, INTEGER s } (short lengths, as P-256 has)."""
    assert der[0] == 0x30 and der[1] == len(der) - 2, der.hex()
    out, i = [], 2
    for _ in range(2):
        assert der[i] == 0x02, der.hex()
        n = der[i + 1]
        out.append(int.from_bytes(der[i + 2:i + 2 + n], "big"))
        i += 2 + n
    assert i == len(der), der.hex()
    return out


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

    @classmethod
    def start_extra_peer(cls, name, *args):
        """Another stand-in on a free port with its own ledger and the given options; stopped at test end."""
        ledger = tempfile.mkdtemp(prefix=name, dir=cls.stack.root)
        argv = [os.path.join(gxtest.bin_dir(), "gx-fabric-peer"), "--listen", "127.0.0.1:0", "--ledger-dir", ledger,
                "--ca-cert", os.path.join(cls.devca, "ca", "ca.crt"), "--block-timeout-ms", "150"] + list(args)
        proc = cls.stack.start_process(argv, name=name)
        m = proc.wait_for_log(r'"msg":"listening","port":"?(\d+)"?', timeout=30)
        return proc, "127.0.0.1:%s" % m.group(1)

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
        # a Go contractapi chaincode answers every error with status 500; the message is the only signal
        out = self.node("submit", "AdminContract:PauseSystem", "maintenance", identity="admin")
        self.assertEndorseRejected(out, GRPC_ABORTED, r"^chaincode response 500, AdminContract:PauseSystem requires "
                                   r"role gx_super_admin, caller has 'gx_admin'$")
        self.assertEqual(out["error"]["message"], ENDORSE_FAILED)
        self.assertEqual(len(out["error"]["details"]), 1, out)

    def test_chaincode_error_on_evaluate(self):
        out = self.node("evaluate", "AdminContract:GetCountry", "ZZ")
        self.assertEqual(out["error"]["code"], GRPC_UNKNOWN, out)
        detail = "chaincode response 500, country not initialized: ZZ"
        self.assertEqual(out["error"]["message"], "2 UNKNOWN: evaluate call to endorser returned error: " + detail)
        self.assertEqual(out["error"]["details"], [{"address": self.addr, "mspId": "Org1MSP", "message": detail}])

    def test_error_status_http_option(self):
        proc, addr = self.start_extra_peer("peer-http", "--error-status", "http")
        out = self.node("submit", "AdminContract:PauseSystem", "maintenance", identity="admin",
                        env={"PEER_ADDR": addr})
        self.assertEqual(out["error"]["message"], ENDORSE_FAILED, out)
        self.assertRegex(out["error"]["details"][0]["message"], r"^chaincode response 403, AdminContract:PauseSystem")
        out = self.node("evaluate", "AdminContract:GetCountry", "ZZ", env={"PEER_ADDR": addr})
        self.assertEqual(out["error"]["details"][0]["message"], "chaincode response 404, country not initialized: ZZ")
        self.assertEqual(proc.stop(signal.SIGTERM, 10.0), 0)

    def test_unknown_chaincode_and_channel(self):
        # the gateway cannot plan an endorsement: FAILED_PRECONDITION with the planner's message, no details
        out = self.node("submit", "AdminContract:GetSystemStatus", env={"PEER_CHAINCODE": "gxtv9"})
        self.assertEqual(out["error"]["code"], GRPC_FAILED_PRECONDITION, out)
        self.assertEqual(out["error"]["message"], "9 FAILED_PRECONDITION: no combination of peers can be derived which "
                         "satisfy the endorsement policy: No metadata was found for chaincode gxtv9 in channel gxchannel")
        self.assertEqual(out["error"]["details"], [])
        out = self.node("submit", "AdminContract:GetSystemStatus", env={"PEER_CHANNEL": "otherchannel"})
        self.assertEqual(out["error"]["code"], GRPC_FAILED_PRECONDITION, out)
        self.assertTrue(out["error"]["message"].endswith("No metadata was found for chaincode gxtv3 in channel "
                                                         "otherchannel"), out)
        out = self.node("evaluate", "AdminContract:GetSystemStatus", env={"PEER_CHAINCODE": "gxtv9"})
        self.assertEqual(out["error"]["code"], GRPC_FAILED_PRECONDITION, out)
        self.assertEqual(out["error"]["message"],
                         "9 FAILED_PRECONDITION: no peers available to evaluate chaincode gxtv9 in channel gxchannel")
        # Evaluate first asks for the channel's configuration, CommitStatus/ChaincodeEvents for its policy manager
        out = self.node("evaluate", "AdminContract:GetSystemStatus", env={"PEER_CHANNEL": "otherchannel"})
        self.assertEqual(out["error"]["code"], GRPC_UNAVAILABLE, out)
        self.assertEqual(out["error"]["message"], "14 UNAVAILABLE: failed to get config for channel [otherchannel]: "
                         "could not get last config for channel otherchannel")
        out = self.node("events", "0", "1", env={"PEER_CHANNEL": "otherchannel"})
        self.assertEqual(out["error"]["code"], GRPC_PERMISSION_DENIED, out)
        self.assertIn("Failed to get policy manager for channel [otherchannel]", out["error"]["message"])

    def test_endorsement_signed_by_peer_identity(self):
        out = self.node("endorsement", "AdminContract:GetSystemStatus")
        self.assertEqual(out["count"], 1, out)
        self.assertEqual(out["mspId"], "Org1MSP")
        with open(os.path.join(self.devca, "peer", "msp", "cert.pem")) as f:
            self.assertEqual(out["cert"], f.read())
        work = tempfile.mkdtemp(dir=self.stack.root)
        cert, pub, msg, sig = (os.path.join(work, n) for n in ("cert.pem", "pub.pem", "msg.bin", "sig.der"))
        with open(cert, "w") as f:
            f.write(out["cert"])
        with open(msg, "wb") as f:
            f.write(bytes.fromhex(out["prp"]) + bytes.fromhex(out["endorser"]))
        with open(sig, "wb") as f:
            f.write(bytes.fromhex(out["signature"]))
        subprocess.run(["openssl", "verify", "-CAfile", os.path.join(self.devca, "ca", "ca.crt"), cert], check=True,
                       stdout=subprocess.DEVNULL, timeout=30)
        subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout", "-out", pub], check=True, timeout=30)
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig, msg],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout)
        subj = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-subject"], stdout=subprocess.PIPE,
                              check=True, timeout=30).stdout.decode()
        self.assertIn("OU = peer", subj)
        _, s_val = der_ints(bytes.fromhex(out["signature"]))
        self.assertLessEqual(s_val, P256_N // 2, "endorsement signature is not low-S")

    def test_bad_endorsement_fails_at_commit(self):
        # high-S twin of the peer's signature, a signature by another key, and the client posing as endorser
        for mode in ("highs", "wrong", "client"):
            out = self.node("bad-endorsement", mode, "AdminContract:UpdateSystemParameter", "transactionFeeBps", "17",
                            identity="super-admin")
            self.assertEqual(out.get("code"), ENDORSEMENT_POLICY_FAILURE, (mode, out))

    def test_concurrency_limit(self):
        stats = os.path.join(self.stack.root, "limit-stats.json")
        proc, addr = self.start_extra_peer("peer-limit", "--gateway-concurrency", "3", "--endorse-latency-ms", "400",
                                           "--stats-file", stats)
        self.assertRegex(proc.log_text(), r'"gatewayConcurrency":"?3"?[,}]')
        out = self.node("flood", "12", "AdminContract:GetSystemStatus", env={"PEER_ADDR": addr})
        ok = [r for r in out["results"] if r.get("ok")]
        refused = [r["error"] for r in out["results"] if "error" in r]
        self.assertGreaterEqual(len(ok), 3, out)
        self.assertGreaterEqual(len(refused), 6, out)
        for e in refused:  # the real peer's interceptor: a plain error (UNKNOWN), no details
            self.assertEqual(e["code"], GRPC_UNKNOWN, e)
            self.assertEqual(e["message"], "2 UNKNOWN: too many requests for /gateway.Gateway, exceeding concurrency "
                             "limit (3)")
            self.assertEqual(e["details"], [])
        # the admitted calls took the configured endorse latency
        self.assertTrue(all(r["ms"] >= 400 for r in ok), ok)
        # open event streams hold a slot each, as on the real peer
        out = self.node("streams-then-evaluate", "3", "AdminContract:GetSystemStatus", env={"PEER_ADDR": addr})
        self.assertIn("too many requests for /gateway.Gateway", out["during"].get("error", {}).get("message", ""), out)
        self.assertTrue(out["after"].get("ok"), out)
        deadline = time.monotonic() + 5
        while True:
            with open(stats) as f:
                st = json.load(f)
            if st["refused"] >= len(refused) + 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(st["limit"], 3)
        self.assertEqual(st["peak"], 3, st)
        self.assertEqual(st["refused"], len(refused) + 1, st)
        self.assertEqual(proc.stop(signal.SIGTERM, 10.0), 0)
        self.assertRegex(proc.log_text(), r'"msg":"gateway concurrency".*"peak":"?3"?[,}]')
        self.assertIn("too many requests for /gateway.Gateway, exceeding concurrency limit (3)", proc.log_text())

    def test_default_limit_and_latency(self):
        self.assertRegex(self.peer.log_text(), r'"gatewayConcurrency":"?500"?[,}]')
        out = self.node("evaluate", "AdminContract:GetSystemStatus")
        self.assertLess(out["ms"], 400, out)  # no endorse latency unless configured

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
        self.assertEndorseRejected(out, GRPC_ABORTED, r"^chaincode response 500, system already bootstrapped$")
        out = self.node("submit", "AdminContract:UpdateSystemParameter", "transactionFeeBps", "15",
                        identity="super-admin")
        self.assertEqual(out["code"], VALID, out)
        self.assertGreater(out["block"], self.boot["block"])


if __name__ == "__main__":
    unittest.main()

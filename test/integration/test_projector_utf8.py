"""projector: a chaincode event whose payload is not well-formed UTF-8 (RFC 3629) goes to EventDLQ as "payload is not
valid UTF-8 text" and the stream moves on. The cases are the ones a lax checker lets through: an overlong sequence and
a UTF-16 surrogate, carried in the reason of WalletFrozen (the stand-in chaincode copies it byte for byte).

The driver lines are written as bytes: a JSON encoder cannot spell these sequences."""

import json
import subprocess

import test_projector as tp

BAD = {
    "@OVERLONG@": b"\xe0\x80\xaf",   # '/' in three bytes
    "@SURROGATE@": b"\xed\xa0\x80",  # U+D800
}


class ProjectorUtf8Test(tp.ProjectorTestBase):
    @classmethod
    def drive_bytes(cls, lines):
        """Like drive(), with the BAD placeholders replaced by their raw bytes."""
        data = "".join(json.dumps(l) + "\n" for l in lines).encode()
        for k, v in BAD.items():
            data = data.replace(k.encode(), v)
        r = subprocess.run([tp.driver_path(), cls.chain.addr, cls.chain.ca_dir, "1000"], input=data,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
        out = [json.loads(l) for l in r.stdout.decode().splitlines()]
        failed = [o for o in out if "i" in o and not o.get("ok")]
        if failed or r.returncode != 0:
            raise AssertionError("driver failures: %s\n%s" % (failed[:5], r.stderr.decode()[-2000:]))
        return max(o.get("block", 0) for o in out if "i" in o)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.seed_profiles(["u1"])
        L = [tp.tx("AdminContract:BootstrapSystem", who="super-admin"), tp.WAIT,
             tp.tx("IdentityContract:CreateUser", "u1", "%064x" % 100, "US", "30"), tp.WAIT]
        for bad in BAD:
            L += [tp.tx("TokenomicsContract:FreezeWallet", "u1", "bad " + bad, who="admin"), tp.WAIT,
                  tp.tx("TokenomicsContract:UnfreezeWallet", "u1", who="admin"), tp.WAIT]
        L += [tp.tx("TokenomicsContract:FreezeWallet", "u1", "fine", who="admin"), tp.WAIT]
        cls.top = cls.drive_bytes(L)
        cls.p1 = cls.start_projector()

    def test_malformed_utf8_payloads_to_dlq_and_stream_moves_on(self):
        self.wait_block(self.top)
        rows = self.stack.psql('SELECT "eventName", "reason" FROM "EventDLQ" ORDER BY "blockNumber"')
        self.assertEqual(rows, [("WalletFrozen", "WalletFrozen: payload is not valid UTF-8 text")] * 2)
        self.assertEqual(self.stack.psql('SELECT "isFrozen", "frozenReason" FROM "Wallet"'
                                         ' WHERE "primaryAccountId" = \'u1\''), [("t", "fine")])
        self.assertEqual(self.metric(self.p1, "gx_projector_dlq_total"), 2.0)

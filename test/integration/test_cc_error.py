"""Chaincode refusals classified by their message (issue 21, gx/cc_error.h, docs/chaincode.md §1.2): a Go
contractapi chaincode answers status 500 for every refusal, so the submitter reads the class from the message.
Every message the stand-in's chaincode can produce (each cc_fail call in test/fabric-peer, its status the contract's
class) is instantiated and must classify to that status when carried with 500; unknown messages keep the status."""

import glob
import os
import re
import subprocess
import unittest

import gxtest

STATUS = {"CC_BAD": 400, "CC_FORBIDDEN": 403, "CC_NOT_FOUND": 404, "CC_CONFLICT": 409, "CC_PAUSED": 423}
SAMPLE = {"s": "Obj-1", "d": "3", "zu": "7", "llu": "1250", "lld": "12"}


def stand_in_messages():
    """(status, message) for every cc_fail(ctx, CC_X, "format" ...) in the stand-in's chaincode."""
    out = set()
    for path in glob.glob(os.path.join(gxtest.REPO_ROOT, "test", "fabric-peer", "cc_*.c")):
        with open(path) as f:
            src = f.read()
        for m in re.finditer(r'cc_fail\(\s*\w+,\s*(CC_[A-Z_]+),\s*((?:"(?:[^"\\]|\\.)*"\s*)+)', src):
            fmt = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2))).replace('\\"', '"')
            msg = re.sub(r"%(s|d|zu|llu|lld)", lambda x: SAMPLE[x.group(1)], fmt).replace("%%", "%")
            out.add((STATUS[m.group(1)], msg))
    return sorted(out)


def classify(messages):
    tool = os.path.join(gxtest.bin_dir(), "..", "itest", "cc_class")
    r = subprocess.run([tool], input="".join(m + "\n" for m in messages).encode(), stdout=subprocess.PIPE,
                       check=True)
    return [int(line.split("\t", 1)[0]) for line in r.stdout.decode().splitlines()]


class ClassifyTest(unittest.TestCase):
    def test_every_stand_in_message_keeps_its_class(self):
        pairs = stand_in_messages()
        self.assertGreater(len(pairs), 60, "the stand-in's cc_fail calls were not found")
        got = classify([m for _, m in pairs])
        wrong = [(want, g, m) for (want, m), g in zip(pairs, got) if want != g]
        self.assertEqual(wrong, [], "messages classified into another class than their contract status")

    def test_unknown_message_keeps_the_status(self):
        self.assertEqual(classify(["something the contract never says", ""]), [500, 500])

    def test_documented_examples(self):
        doc = open(os.path.join(gxtest.REPO_ROOT, "docs", "chaincode.md")).read()
        rows = re.findall(r"^\| (400|403|404|409|423) \| [^|]+ \| (.+) \|$", doc, re.M)
        self.assertEqual(len(rows), 5)
        for status, examples in rows:
            msgs = [e.replace("X:Y", "A:B") for e in re.findall(r"`([^`]+)`", examples)]
            with self.subTest(status=status):
                self.assertEqual(classify(msgs), [int(status)] * len(msgs), msgs)


if __name__ == "__main__":
    unittest.main()

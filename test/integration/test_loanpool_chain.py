"""End to end through the Fabric stand-in: a loan is applied for, approved by an admin and disbursed into the
borrower's wallet, then repaid in two parts until REPAID, with the statuses the projector writes visible through
svc-loanpool. The borrower, bootstrap and genesis are enqueued directly as OutboxCommand rows."""

import hashlib
import json
import uuid

import gxtest
from gxtest import openapi as oa
from gxtest.chain import start_chain, wait_command, wait_sql


def q(v):
    return "NULL" if v is None else "'" + str(v).replace("'", "''") + "'"


def enqueue(stack, ctype, payload, aggregate):
    """Insert one PENDING OutboxCommand (as an API would) and wake the submitter; returns its id."""
    cid = str(uuid.uuid4())
    stack.psql('INSERT INTO "OutboxCommand" ("id", "tenantId", "service", "commandType", "requestId", "payload", '
               '"aggregateId") VALUES (%s, \'default\', \'test\', %s, %s, %s::jsonb, %s)'
               % (q(cid), q(ctype), q(cid), q(json.dumps(payload)), q(aggregate)))
    stack.psql("SELECT pg_notify('gx_outbox', %s)" % q(cid))
    return cid


def projected(stack, cid, timeout=30):
    rows = wait_sql(stack, 'SELECT "status" FROM "OutboxCommand" WHERE "id" = %s' % q(cid),
                    lambda r: r and r[0][0] in ("PROJECTED", "FAILED"), timeout)
    assert rows[0][0] == "PROJECTED", stack.psql('SELECT "status", "errorCode", "error" FROM "OutboxCommand" '
                                                 'WHERE "id" = %s' % q(cid))


def chain_user(stack):
    """A profile registered on chain through CREATE_USER (the projector sets onchainStatus and creates the wallet)."""
    pid = str(uuid.uuid4())
    bio = hashlib.sha256(pid.encode()).hexdigest()
    stack.psql('INSERT INTO "UserProfile" ("profileId", "tenantId", "firstName", "lastName", "email", '
               '"biometricHash", "passwordHash", "fabricUserId") VALUES (%s, \'default\', \'T\', \'U\', %s, %s, '
               '\'x\', %s)' % (q(pid), q(pid + "@example.com"), q(bio), q(pid)))
    projected(stack, enqueue(stack, "CREATE_USER", {"userId": pid, "biometricHash": bio, "nationality": "US",
                                                    "age": 30}, pid))
    return pid


class LoanpoolChainTest(gxtest.GxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        st = cls.stack
        st.start_pg()
        st.start_redis()
        st.migrate()
        cls.chain = start_chain(st)
        if cls.chain.projector is None:
            raise AssertionError("the projector is not built")
        cls.api = st.start_daemon("svc-loanpool")
        cls.doc = oa.fetch(cls.api.url)

    def req(self, method, path, tok, template, status, body=None):
        r = gxtest.request(method, self.api.url + path, json_body=body, headers=gxtest.bearer(tok))
        self.assertEqual(r.status, status, r.text)
        oa.validate(self.doc, method, template, status, r)
        res = r.json()
        if status == 202:
            wait_command(self.api.url, res["commandId"], tok, want="PROJECTED")
        return res

    def balance(self, pid):
        return self.stack.psql('SELECT "balanceQirat"::text FROM "Wallet" WHERE "profileId" = %s' % q(pid))[0][0]

    def test_life_cycle(self):
        st = self.stack
        me = chain_user(st)
        tok, admin = gxtest.mint_token(me), gxtest.mint_token(str(uuid.uuid4()), "ADMIN")
        projected(st, enqueue(st, "BOOTSTRAP_SYSTEM", {}, "system"))
        projected(st, enqueue(st, "DISTRIBUTE_GENESIS", {"userId": me, "userType": "individual", "countryCode": "US"},
                              me))
        self.assertEqual(self.balance(me), "10000000")
        coll = hashlib.sha256(b"house deed").hexdigest()
        res = self.req("POST", "/api/v1/loans", tok, "/api/v1/loans", 202, {"amount": "150", "collateralHash": coll})
        loan = res["aggregateId"]
        one = "/api/v1/loans/{loanId}"
        doc = self.req("GET", "/api/v1/loans/" + loan, tok, one, 200)
        self.assertEqual((doc["status"], doc["amount"], doc["outstanding"], doc["collateralHash"]),
                         ("PENDING_APPROVAL", "150", "150", coll))
        self.req("POST", "/api/v1/loans/%s/repay" % loan, tok, one + "/repay", 409, {})
        # approved and disbursed
        self.req("POST", "/api/v1/loans/%s/approve" % loan, admin, one + "/approve", 202)
        doc = self.req("GET", "/api/v1/loans/" + loan, tok, one, 200)
        self.assertEqual((doc["status"], doc["outstanding"]), ("ACTIVE", "150"))
        self.assertIsNotNone(doc["disbursedAt"])
        self.assertEqual(self.balance(me), "25000000")
        self.req("POST", "/api/v1/loans/%s/approve" % loan, admin, one + "/approve", 409)
        # repaid in two parts
        self.req("POST", "/api/v1/loans/%s/repay" % loan, tok, one + "/repay", 202, {"amount": "100"})
        doc = self.req("GET", "/api/v1/loans/" + loan, tok, one, 200)
        self.assertEqual((doc["status"], doc["outstanding"], doc["repaid"]), ("ACTIVE", "50", "100"))
        self.req("POST", "/api/v1/loans/%s/repay" % loan, tok, one + "/repay", 202, {})
        doc = self.req("GET", "/api/v1/loans/" + loan, tok, one, 200)
        self.assertEqual((doc["status"], doc["outstanding"]), ("REPAID", "0"))
        self.assertIsNotNone(doc["repaidAt"])
        self.assertEqual(self.balance(me), "10000000")
        lst = self.req("GET", "/api/v1/users/%s/loans" % me, tok, "/api/v1/users/{borrowerId}/loans", 200)
        self.assertEqual([(l["loanId"], l["status"]) for l in lst["loans"]], [(loan, "REPAID")])

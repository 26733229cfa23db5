"""Shared fixtures of the service tests: a stack with a migrated, seeded database and one API daemon under test
(ServiceTestCase), the end-to-end chain (peer stand-in, submitter, projector), users registered on chain, and the
request helpers that check every response against the daemon's live OpenAPI document.

    from gxtest.services import NO_LIMITS, ServiceTestCase, chain_user, wait_projected

    class LoanTest(ServiceTestCase):
        DAEMON = "svc-loanpool"              # cls.api, cls.doc (its /openapi.json)
        CHAIN = True                         # cls.chain: peer + 1 submitter + projector (after migrate)

        def test_x(self):
            me = chain_user(self.stack)       # UserProfile + CREATE_USER projected (wallet exists)
            r = self.call("GET", "/api/v1/loans/x", gxtest.mint_token(me))
            self.check(r, 404, "GET", "/api/v1/loans/{loanId}", "NOT_FOUND")
"""

import unittest

from . import GxTestCase, openapi as oa
from .auth import bearer
from .chain import start_chain, wait_sql
from .http import request
from .sql import enqueue, q, seed_profile, sha256_hex

__all__ = ["NO_LIMITS", "ServiceTestCase", "start_backing", "start_e2e_chain", "wait_projected", "chain_user"]

# The service tests send hundreds of requests from one IP; the rate limits have their own tests.
NO_LIMITS = {"RATE_LIMIT_PER_MIN": "1000000", "RATE_LIMIT_BURST": "1000000"}


def start_backing(stack, redis=True):
    """PostgreSQL (and Redis), then `gxctl migrate up` + `gxctl seed` (countries, system parameters)."""
    stack.start_pg()
    if redis:
        stack.start_redis()
    stack.migrate()


def start_e2e_chain(stack, without_projector="skip", **kw):
    """start_chain(stack, **kw) for an end-to-end test, which needs the projector: without it the test class is
    skipped (without_projector="skip") or fails ("fail")."""
    chain = start_chain(stack, **kw)
    if chain.projector is None:
        if without_projector == "skip":
            raise unittest.SkipTest("projector is not built")
        raise AssertionError("the projector is not built")
    return chain


def wait_projected(stack, cid, timeout=30):
    """Wait (in SQL) until the OutboxCommand cid is PROJECTED or FAILED; fails with its error when FAILED."""
    rows = wait_sql(stack, 'SELECT "status" FROM "OutboxCommand" WHERE "id" = %s' % q(cid),
                    lambda r: r and r[0][0] in ("PROJECTED", "FAILED"), timeout)
    assert rows[0][0] == "PROJECTED", stack.psql('SELECT "status", "errorCode", "error" FROM "OutboxCommand" '
                                                 'WHERE "id" = %s' % q(cid))


def chain_user(stack, pid=None, account=None, nationality=None, first="T", last="U", wait=None):
    """A profile (pid, default a new UUID) registered on chain through CREATE_USER (status PENDING_VERIFICATION
    until the projector sets onchainStatus and creates the wallet). account is the on-chain userID (default the
    profileId). The command is waited for with wait(cid) (default wait_projected), then the Wallet row. Returns
    (profileId, account)."""
    pid = seed_profile(stack, pid, status="PENDING_VERIFICATION", nationality=nationality, first=first, last=last,
                       account=account)
    account = account or pid
    cid = enqueue(stack, "CREATE_USER", {"userId": account, "biometricHash": sha256_hex(pid), "nationality": "US",
                                         "age": 30}, "wallet:" + account)
    (wait or (lambda c: wait_projected(stack, c)))(cid)
    wait_sql(stack, 'SELECT count(*) FROM "Wallet" WHERE "primaryAccountId" = %s' % q(account), [("1",)])
    return pid, account


class ServiceTestCase(GxTestCase):
    """One stack per class: PostgreSQL, Redis, migrated and seeded database, the chain when CHAIN (start_e2e_chain
    with WITHOUT_PROJECTOR), then DAEMON with ENV as cls.api and its OpenAPI document as cls.doc. Subclasses start
    further daemons in their own setUpClass after super()."""

    DAEMON = None
    ENV = NO_LIMITS
    CHAIN = False
    WITHOUT_PROJECTOR = "skip"
    REFRESH_DOC = False
    api = doc = chain = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        start_backing(cls.stack)
        if cls.CHAIN:
            cls.chain = start_e2e_chain(cls.stack, cls.WITHOUT_PROJECTOR)
        if cls.DAEMON:
            cls.api = cls.stack.start_daemon(cls.DAEMON, env=cls.ENV)
            cls.doc = oa.fetch(cls.api.url, refresh=cls.REFRESH_DOC)

    # --- requests -----------------------------------------------------------------------------------------
    def call(self, method, path, token=None, body=None, headers=None, raw=None, api=None):
        """Request path on api (default the daemon under test), with a Bearer token when given."""
        h = dict(headers or {})
        if token:
            h.update(bearer(token))
        return request(method, (api or self.api).url + path, json_body=body, headers=h, raw_body=raw)

    def check(self, r, status, method, template, code=None):
        """Assert the status (and the error code), validate r against the document; returns the JSON body."""
        self.assertEqual(r.status, status, r.text[:500])
        oa.validate(self.doc, method, template, status, r)
        if code:
            self.assertEqual(r.json()["code"], code, r.text)
        return r.json()

    def assert_operations(self, ops):
        """The document is well formed and has every (method, path template) of ops."""
        oa.check_document(self.doc)
        have = {(m, p) for m, p, _ in oa.operations(self.doc)}
        for op in ops:
            self.assertIn(op, have)

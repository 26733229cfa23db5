"""SQL helpers of the integration tests: literals, outbox commands written the way the APIs write them, and the
read-model rows (UserProfile, Wallet) the identity service and the projector would leave behind.

    from gxtest.sql import q, enqueue, outbox_command, seed_profile, seed_wallet

    cid = enqueue(stack, "BOOTSTRAP_SYSTEM", {}, "system")         # PENDING row + NOTIFY gx_outbox
    ctype, payload, aggregate, service = outbox_command(stack, cid)  # payload without "_meta"
    pid = seed_profile(stack, onchain=True); seed_wallet(stack, pid, balance=500)

Every function takes a Stack (for Stack.psql) and returns plain Python values; nothing here is asserted.
"""

import hashlib
import json
import uuid

__all__ = ["q", "enqueue", "outbox_command", "seed_profile", "seed_wallet", "seed_user", "sha256_hex"]


def q(v):
    """SQL literal of v (None -> NULL)."""
    return "NULL" if v is None else "'" + str(v).replace("'", "''") + "'"


def sha256_hex(s):
    return hashlib.sha256(s.encode()).hexdigest()


def enqueue(stack, ctype, payload, aggregate=None):
    """Insert one PENDING OutboxCommand (service 'test', requestId = id) as an API would, and NOTIFY gx_outbox
    so a running submitter picks it up at once. Returns the command id."""
    cid = str(uuid.uuid4())
    stack.psql('INSERT INTO "OutboxCommand" ("id", "tenantId", "service", "commandType", "requestId", "payload",'
               ' "aggregateId") VALUES (%s, \'default\', \'test\', %s, %s, %s::jsonb, %s); NOTIFY gx_outbox, %s'
               % (q(cid), q(ctype), q(cid), q(json.dumps(payload)), q(aggregate), q(cid)))
    return cid


def outbox_command(stack, command_id):
    """(commandType, payload without _meta, aggregateId or "", service) of one OutboxCommand row."""
    rows = stack.psql('SELECT "commandType", "payload"::text, coalesce("aggregateId", \'\'), "service" '
                      'FROM "OutboxCommand" WHERE "id" = %s' % q(command_id))
    assert len(rows) == 1, rows
    payload = json.loads(rows[0][1])
    payload.pop("_meta", None)
    return rows[0][0], payload, rows[0][2], rows[0][3]


def seed_profile(stack, pid=None, account=None, status="ACTIVE", onchain=None, nationality=None, first="T",
                 last="User", role=None, bio=None):
    """Insert a UserProfile (email <pid>@example.com, passwordHash 'x'). account is its fabricUserId (default the
    profileId); onchain true sets onchainStatus ACTIVE; status, role and nationality None keep the column
    defaults/NULL; bio defaults to sha256(profileId). Returns the profileId."""
    pid = pid or str(uuid.uuid4())
    cols = {"profileId": pid, "tenantId": "default", "firstName": first, "lastName": last,
            "email": pid + "@example.com", "biometricHash": bio or sha256_hex(pid), "passwordHash": "x",
            "nationalityCountryCode": nationality, "status": status, "role": role,
            "fabricUserId": account or pid, "onchainStatus": "ACTIVE" if onchain else None}
    cols = {k: v for k, v in cols.items() if v is not None}
    stack.psql('INSERT INTO "UserProfile" (%s) VALUES (%s)'
               % (", ".join('"%s"' % k for k in cols), ", ".join(q(v) for v in cols.values())))
    return pid


def seed_wallet(stack, pid, account=None, balance=0, frozen=False):
    """Insert the primary Wallet of pid (primaryAccountId = account, default the profileId; balance in Qirat) as the
    projector would. Returns the walletId."""
    wid = str(uuid.uuid4())
    stack.psql('INSERT INTO "Wallet" ("walletId", "tenantId", "profileId", "primaryAccountId", "walletName", '
               '"balanceQirat", "isFrozen") VALUES (%s, \'default\', %s, %s, \'Primary Wallet\', %d, %s)'
               % (q(wid), q(pid), q(account or pid), int(balance), "true" if frozen else "false"))
    return wid


def seed_user(stack, onchain=True, balance=0):
    """An ACTIVE profile (on chain unless onchain is false) with its Wallet holding balance Qirat; the on-chain id
    and the wallet's account are the profileId. Returns the profileId."""
    pid = seed_profile(stack, onchain=onchain)
    seed_wallet(stack, pid, balance=balance)
    return pid

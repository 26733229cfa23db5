"""Test-side JWT minting (HS256, stdlib hmac) matching design.md §4 and common/include/gx/jwt.h.

    tok = gxtest.mint_token("profile-id", "ADMIN")            # access token for the test JWT secret
    hdr = gxtest.bearer(tok)                                   # {"Authorization": "Bearer ..."}

Tests also use it to build hostile tokens (alg none, wrong key, expired) by passing overrides.
"""

import base64
import hashlib
import hmac
import json
import time
import uuid

from .stack import TEST_JWT_SECRET

ACCESS_AUDIENCE = "gx-api"
REFRESH_AUDIENCE = "gx-refresh"
ISSUER = "gx-backend"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_raw(header, payload, key=None):
    """Sign arbitrary header/payload dicts with HS256 (key defaults to the test secret)."""
    key = TEST_JWT_SECRET if key is None else key
    if isinstance(key, str):
        key = key.encode()
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(key, ("%s.%s" % (h, p)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (h, p, b64url(sig))


def claims(sub, role="USER", ttl=900, aud=ACCESS_AUDIENCE, tenant="default", **extra):
    now = int(time.time())
    c = {"sub": sub, "role": role, "tenantId": tenant, "jti": str(uuid.uuid4()), "iss": ISSUER, "aud": aud,
         "iat": now, "exp": now + ttl}
    c.update(extra)
    return c


def mint_token(sub, role="USER", ttl=900, key=None, header=None, **extra):
    """An access token for sub with role; override any claim with keyword arguments."""
    return sign_raw(header or {"alg": "HS256", "typ": "JWT"}, claims(sub, role, ttl, **extra), key)


def bearer(token):
    return {"Authorization": "Bearer " + token}

"""Checks a response the way an original client reads it: the original backend's shapes (docs/compat.md), key by
key and JSON type by JSON type. A shape is a dict of key -> type spec; extra keys in the response are allowed (our
bodies are a superset), missing keys and wrong types fail.

Type specs: "string", "number" (int or float, never bool), "integer", "boolean", "null", "object", "array",
"date" (ISO-8601 UTC with milliseconds, as JS Date JSON), a tuple of specs (any of them), a dict (a nested shape),
a list of one spec (an array whose every item matches it), or OMIT (the key must be absent)."""

import re

OMIT = object()
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _is(value, spec):
    if spec == "string":
        return isinstance(value, str)
    if spec == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if spec == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if spec == "boolean":
        return isinstance(value, bool)
    if spec == "null":
        return value is None
    if spec == "object":
        return isinstance(value, dict)
    if spec == "array":
        return isinstance(value, list)
    if spec == "date":
        return isinstance(value, str) and DATE_RE.match(value) is not None
    raise ValueError("unknown type spec %r" % (spec,))


def problems(value, spec, where="$"):
    """Every mismatch of value against spec, as 'path: text' lines (empty when it matches)."""
    if isinstance(spec, tuple):
        for s in spec:
            if not problems(value, s, where):
                return []
        return ["%s: %r is none of %r" % (where, value, spec)]
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return ["%s: expected an object, got %r" % (where, value)]
        out = []
        for k, s in spec.items():
            if s is OMIT:
                if k in value:
                    out.append("%s.%s: must be absent, got %r" % (where, k, value[k]))
            elif k not in value:
                out.append("%s.%s: missing" % (where, k))
            else:
                out.extend(problems(value[k], s, "%s.%s" % (where, k)))
        return out
    if isinstance(spec, list):
        if not isinstance(value, list):
            return ["%s: expected an array, got %r" % (where, value)]
        out = []
        for i, item in enumerate(value):
            out.extend(problems(item, spec[0], "%s[%d]" % (where, i)))
        return out
    if not _is(value, spec):
        return ["%s: expected %s, got %r" % (where, spec, value)]
    return []


def assert_shape(tc, value, spec, what="response"):
    """Fails the test case tc with every mismatch at once."""
    p = problems(value, spec)
    tc.assertEqual(p, [], "%s does not have the original's shape:\n  %s" % (what, "\n  ".join(p)))


def assert_original_error(tc, r, status, message=None, code=None):
    """The original's flat error: status, "error" the reason phrase, "message" a string (equal to message if
    given); our code when given."""
    tc.assertEqual(r.status, status, r.text)
    b = r.json()
    assert_shape(tc, b, {"error": "string", "message": "string", "code": "string", "statusCode": "integer"},
                 "error body")
    tc.assertEqual(b["statusCode"], status)
    if message is not None:
        tc.assertEqual(b["message"], message)
    if code is not None:
        tc.assertEqual(b["code"], code)
    return b


# The original's ACCEPTED body: commandId and message, both strings.
ACCEPTED = {"commandId": "string", "message": "string"}

# The original's 401/403 texts (shared pipeline, every API).
NO_AUTH_HEADER = "No authorization header provided"
BAD_AUTH_HEADER = "Invalid authorization header format. Expected: Bearer <token>"
BAD_TOKEN = "Invalid or expired token"
LOW_ROLE = "Insufficient permissions to access this resource"

"""Check live JSON responses against a service's OpenAPI 3.0 document (stdlib only).

    import gxtest.openapi as oa
    doc = oa.fetch(api.url)                                     # GET /openapi.json, parsed (cached per URL)
    r = gxtest.request("GET", api.url + "/api/v1/users/" + pid, headers=...)
    oa.validate(doc, "GET", "/api/v1/users/{id}", r.status, r)  # raises AssertionError on mismatch

validate() looks up paths[path_template][method].responses[status] (falling back to "4XX"-style ranges and then to
"default"), takes its application/json schema and checks the body against it. It understands the subset of
OpenAPI 3.0 schemas this project uses: $ref to local components, type, nullable, properties, required,
additionalProperties (false, true or a schema), items, enum, format (date-time, date, uuid, email; loosely),
oneOf/anyOf/allOf, minimum/maximum (with the 3.0 boolean exclusiveMinimum/exclusiveMaximum), minLength/maxLength,
pattern, minItems/maxItems. A failure names the operation and the JSON path, e.g.
    GET /api/v1/users/{id} 200: $.kycStatus: 'BOGUS' is not one of ['NONE', 'PENDING', ...]

check_document(doc) is a structural sanity check of a whole document (version, every $ref resolves, every operation
documents at least one response, JSON responses carry a schema).
"""

import json
import re
import urllib.parse

__all__ = ["fetch", "validate", "validate_schema", "check_document", "operations"]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_cache = {}

# Loose format checks: good enough to catch a wrong field, not a full RFC parser.
_FORMATS = {
    "date-time": re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "uuid": re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
    "email": re.compile(r"^[^@\s]+@[^@\s]+$"),
}


def fetch(base_url, refresh=False):
    """GET <base_url>/openapi.json and return the parsed document (cached per base URL unless refresh)."""
    from .http import request
    base = base_url.rstrip("/")
    if refresh or base not in _cache:
        r = request("GET", base + "/openapi.json")
        if r.status != 200:
            raise AssertionError("GET %s/openapi.json: status %d: %s" % (base, r.status, r.text[:300]))
        doc = r.json()
        if not isinstance(doc, dict):
            raise AssertionError("GET %s/openapi.json: body is not a JSON object" % base)
        _cache[base] = doc
    return _cache[base]


def operations(doc):
    """Yield (METHOD, path_template, operation dict) for every operation of the document."""
    for path, item in sorted((doc.get("paths") or {}).items()):
        if not isinstance(item, dict):
            continue
        for m in _METHODS:
            if isinstance(item.get(m), dict):
                yield m.upper(), path, item[m]


def _resolve(doc, ref):
    if not isinstance(ref, str) or not ref.startswith("#/"):
        raise AssertionError("unsupported $ref %r (only local '#/...' references)" % (ref,))
    node = doc
    for part in ref[2:].split("/"):
        part = urllib.parse.unquote(part).replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise AssertionError("$ref %s does not resolve" % ref)
        node = node[part]
    return node


def _deref(doc, node, seen=None):
    """Follow a chain of $ref objects; raise on a cycle of pure references."""
    seen = set() if seen is None else seen
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise AssertionError("$ref cycle at %s" % ref)
        seen.add(ref)
        node = _resolve(doc, ref)
    return node


# JSON type name of a Python value; bool before int (bool is an int subclass)
_TYPE_NAMES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"),
               (dict, "object"))


def _tname(v):
    if v is None:
        return "null"
    for py_type, name in _TYPE_NAMES:
        if isinstance(v, py_type):
            return name
    return type(v).__name__


def _short(v):
    s = json.dumps(v) if not isinstance(v, (bytes, bytearray)) else repr(v)
    return s if len(s) <= 80 else s[:77] + "..."


def _type_ok(t, v):
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "integer":
        return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    raise AssertionError("unknown schema type %r" % (t,))


def _fail(where, msg):
    raise AssertionError("%s: %s" % (where, msg))


def _check(doc, schema, v, where, depth=0):
    if depth > 64:
        _fail(where, "schema nesting too deep (recursive $ref?)")
    schema = _deref(doc, schema)
    if schema is True or schema == {} or schema is None:
        return
    if schema is False:
        _fail(where, "no value is allowed here")
    if not isinstance(schema, dict):
        _fail(where, "malformed schema %r" % (schema,))

    if v is None:
        if schema.get("nullable") is True or schema.get("type") == "null":
            return
        # A composition may allow null through one of its branches; otherwise null is a type error.
        if not any(k in schema for k in ("oneOf", "anyOf", "allOf")) or "type" in schema:
            _fail(where, "null is not allowed (schema is not nullable)")

    t = schema.get("type")
    if t is not None and v is not None:
        types = t if isinstance(t, list) else [t]
        if not any(_type_ok(x, v) for x in types):
            _fail(where, "expected %s, got %s %s" % ("/".join(types), _tname(v), _short(v)))

    if "enum" in schema and v not in schema["enum"]:
        if not (v is None and schema.get("nullable") is True):
            _fail(where, "%s is not one of %s" % (_short(v), schema["enum"]))

    if isinstance(v, str):
        if "minLength" in schema and len(v) < schema["minLength"]:
            _fail(where, "string of length %d is shorter than minLength %d" % (len(v), schema["minLength"]))
        if "maxLength" in schema and len(v) > schema["maxLength"]:
            _fail(where, "string of length %d is longer than maxLength %d" % (len(v), schema["maxLength"]))
        if "pattern" in schema and not re.search(schema["pattern"], v):
            _fail(where, "%s does not match pattern %s" % (_short(v), schema["pattern"]))
        fmt = schema.get("format")
        if fmt in _FORMATS and not _FORMATS[fmt].match(v):
            _fail(where, "%s is not a valid %s" % (_short(v), fmt))

    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in schema:
            lo = schema["minimum"]
            if v < lo or (schema.get("exclusiveMinimum") is True and v == lo):
                _fail(where, "%s is below the minimum %s" % (v, lo))
        if "maximum" in schema:
            hi = schema["maximum"]
            if v > hi or (schema.get("exclusiveMaximum") is True and v == hi):
                _fail(where, "%s is above the maximum %s" % (v, hi))

    if isinstance(v, list):
        if "minItems" in schema and len(v) < schema["minItems"]:
            _fail(where, "array has %d items, fewer than minItems %d" % (len(v), schema["minItems"]))
        if "maxItems" in schema and len(v) > schema["maxItems"]:
            _fail(where, "array has %d items, more than maxItems %d" % (len(v), schema["maxItems"]))
        if "items" in schema:
            for i, item in enumerate(v):
                _check(doc, schema["items"], item, "%s[%d]" % (where, i), depth + 1)

    if isinstance(v, dict):
        props = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in v:
                _fail(where, "required property %r is missing (has %s)" % (name, sorted(v)))
        extra = schema.get("additionalProperties", True)
        for name, val in v.items():
            sub = "%s.%s" % (where, name)
            if name in props:
                _check(doc, props[name], val, sub, depth + 1)
            elif extra is False:
                _fail(where, "property %r is not allowed (additionalProperties is false; allowed: %s)"
                      % (name, sorted(props)))
            elif isinstance(extra, dict):
                _check(doc, extra, val, sub, depth + 1)

    if "allOf" in schema:
        for i, s in enumerate(schema["allOf"]):
            try:
                _check(doc, s, v, where, depth + 1)
            except AssertionError as e:
                _fail(where, "allOf[%d] fails: %s" % (i, e))
    if "anyOf" in schema:
        errs = []
        for s in schema["anyOf"]:
            try:
                _check(doc, s, v, where, depth + 1)
                break
            except AssertionError as e:
                errs.append(str(e))
        else:
            _fail(where, "matches none of anyOf: [%s]" % "; ".join(errs))
    if "oneOf" in schema:
        errs, ok = [], 0
        for s in schema["oneOf"]:
            try:
                _check(doc, s, v, where, depth + 1)
                ok += 1
            except AssertionError as e:
                errs.append(str(e))
        if ok == 0:
            _fail(where, "matches none of oneOf: [%s]" % "; ".join(errs))
        if ok > 1:
            _fail(where, "matches %d branches of oneOf, exactly one expected" % ok)


def validate_schema(doc, schema, value, where="$"):
    """Check value against schema (which may be or contain $refs into doc); AssertionError on the first mismatch."""
    _check(doc, schema, value, where)


def _response_for(op, status, label):
    responses = op.get("responses") or {}
    s = str(status)
    for key in (s, s[0] + "XX", s[0] + "xx", "default"):
        if key in responses:
            return responses[key]
    raise AssertionError("%s: status %s is not documented (documented: %s)" % (label, s, sorted(responses)))


def _json_media(content):
    for ctype, media in content.items():
        base = ctype.split(";")[0].strip().lower()
        if base == "application/json" or base.endswith("+json"):
            return media
    return None


def validate(doc, method, path_template, status, body):
    """Validate one response against the document.

    doc: the parsed OpenAPI document (see fetch()). method: "GET", ...; path_template: the key under "paths"
    exactly as written there ("/api/v1/users/{id}"); status: the int status; body: the parsed JSON value, raw
    bytes/str JSON text, or a gxtest Response (its JSON body is used). Raises AssertionError naming the operation
    and the JSON path of the first mismatch. A response documented without content must have an empty body.
    """
    label = "%s %s %s" % (method.upper(), path_template, status)
    if hasattr(body, "body") and hasattr(body, "status"):
        body = body.body
    paths = doc.get("paths") or {}
    if path_template not in paths:
        raise AssertionError("%s: path is not in the document (paths: %s)" % (label, sorted(paths)))
    item = _deref(doc, paths[path_template])
    op = item.get(method.lower()) if isinstance(item, dict) else None
    if not isinstance(op, dict):
        raise AssertionError("%s: method is not documented for this path" % label)
    resp = _deref(doc, _response_for(op, status, label))
    content = resp.get("content") or {}
    raw = isinstance(body, (bytes, bytearray, str))
    if raw and not isinstance(body, str):
        body = bytes(body).decode("utf-8", "replace")
    if not content:
        if body not in (None, ""):
            raise AssertionError("%s: documented without a body, but got %r" % (label, str(body)[:80]))
        return
    media = _json_media(content)
    if media is None:
        return  # a non-JSON body (e.g. text/plain metrics) is not checked here
    if raw:
        try:
            body = json.loads(body)
        except ValueError as e:
            raise AssertionError("%s: body is not JSON (%s): %r" % (label, e, body[:120]))
    if "schema" not in media:
        raise AssertionError("%s: JSON response without a schema in the document" % label)
    _check(doc, media["schema"], body, label + ": $")


def _walk_refs(doc, node, where, problems):
    if isinstance(node, dict):
        if "$ref" in node:
            try:
                _resolve(doc, node["$ref"])
            except AssertionError as e:
                problems.append("%s: %s" % (where, e))
        for k, v in node.items():
            _walk_refs(doc, v, "%s/%s" % (where, k), problems)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _walk_refs(doc, v, "%s/%d" % (where, i), problems)


def check_document(doc):
    """Structural checks of a whole document; raises AssertionError listing every problem found."""
    problems = []
    if not isinstance(doc, dict):
        raise AssertionError("OpenAPI document is not a JSON object")
    if not str(doc.get("openapi", "")).startswith("3.0"):
        problems.append("openapi version is %r, expected 3.0.x" % (doc.get("openapi"),))
    info = doc.get("info")
    if not isinstance(info, dict) or "title" not in info or "version" not in info:
        problems.append("info.title and info.version are required")
    if not isinstance(doc.get("paths"), dict) or not doc["paths"]:
        problems.append("paths is empty")
    _walk_refs(doc, doc, "#", problems)
    for m, path, op in operations(doc):
        responses = op.get("responses")
        if not isinstance(responses, dict) or not responses:
            problems.append("%s %s: no responses documented" % (m, path))
            continue
        for code, resp in responses.items():
            try:
                resp = _deref(doc, resp)
            except AssertionError as e:
                problems.append("%s %s %s: %s" % (m, path, code, e))
                continue
            media = _json_media(resp.get("content") or {})
            if media is not None and "schema" not in media:
                problems.append("%s %s %s: JSON response without a schema" % (m, path, code))
        for name in re.findall(r"\{([^}]+)\}", path):
            params = [_deref(doc, p) for p in (op.get("parameters") or []) +
                      ((doc["paths"][path] or {}).get("parameters") or [])]
            if not any(p.get("in") == "path" and p.get("name") == name for p in params if isinstance(p, dict)):
                problems.append("%s %s: path parameter {%s} is not declared" % (m, path, name))
    if problems:
        raise AssertionError("OpenAPI document problems:\n  " + "\n  ".join(problems))

"""Unit test of gxtest.openapi (the response validator every service test uses); needs no stack."""

import unittest

from gxtest import openapi as oa

DOC = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {
        "/things/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {"responses": {
                "200": {"description": "ok", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Thing"}}}},
                "4XX": {"$ref": "#/components/responses/Error"},
            }},
            "delete": {"responses": {"204": {"description": "gone"},
                                     "default": {"$ref": "#/components/responses/Error"}}},
        },
        "/things": {"get": {"responses": {"200": {"description": "list", "content": {
            "application/json; charset=utf-8": {"schema": {
                "type": "object", "required": ["items", "total"], "additionalProperties": False,
                "properties": {"items": {"type": "array", "maxItems": 3,
                                         "items": {"$ref": "#/components/schemas/Thing"}},
                               "total": {"type": "integer", "minimum": 0}}}}}}}}},
    },
    "components": {
        "schemas": {
            "Thing": {"type": "object", "required": ["id", "name", "kind"], "additionalProperties": False,
                      "properties": {
                          "id": {"type": "string", "format": "uuid"},
                          "name": {"type": "string", "minLength": 1, "maxLength": 5},
                          "kind": {"type": "string", "enum": ["A", "B"]},
                          "code": {"type": "string", "pattern": "^[A-Z]{2}$"},
                          "at": {"type": "string", "format": "date-time"},
                          "email": {"type": "string", "format": "email"},
                          "count": {"type": "integer", "minimum": 1, "maximum": 10, "exclusiveMaximum": True},
                          "note": {"type": "string", "nullable": True},
                          "amount": {"oneOf": [{"type": "string", "pattern": "^[0-9]+$"}, {"type": "integer"}]},
                          "tag": {"anyOf": [{"type": "boolean"}, {"type": "string", "maxLength": 2}]},
                          "both": {"allOf": [{"type": "object", "required": ["a"]},
                                             {"type": "object", "required": ["b"]}]},
                          "meta": {"type": "object", "additionalProperties": {"type": "number"}},
                      }},
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "statusCode"],
                "properties": {"code": {"type": "string", "pattern": "^[A-Z_]+$"},
                               "statusCode": {"type": "integer"}}}}},
        },
        "responses": {"Error": {"description": "error", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"}}}}},
    },
}

GOOD = {"id": "0b1e9c3e-8f7a-4c2d-9e1f-1234567890ab", "name": "abc", "kind": "A"}


class OpenApiValidatorTest(unittest.TestCase):
    def ok(self, body, method="GET", path="/things/{id}", status=200):
        oa.validate(DOC, method, path, status, body)

    def bad(self, body, fragment, method="GET", path="/things/{id}", status=200):
        with self.assertRaises(AssertionError) as cm:
            oa.validate(DOC, method, path, status, body)
        self.assertIn(fragment, str(cm.exception))
        return str(cm.exception)

    def test_document_is_sane(self):
        oa.check_document(DOC)

    def test_check_document_finds_problems(self):
        broken = {"openapi": "2.0", "info": {}, "paths": {
            "/x/{id}": {"get": {"responses": {"200": {"description": "d", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Missing"}}}}}}},
            "/y": {"post": {}}}}
        with self.assertRaises(AssertionError) as cm:
            oa.check_document(broken)
        msg = str(cm.exception)
        for frag in ("openapi version", "info.title", "Missing", "POST /y: no responses", "{id} is not declared"):
            self.assertIn(frag, msg)

    def test_good_bodies(self):
        self.ok(dict(GOOD))
        self.ok(dict(GOOD, code="AE", at="2024-05-01T10:00:00.123Z", email="a@b.c", count=9, note=None,
                     amount="12", tag=True, both={"a": 1, "b": 2}, meta={"x": 1.5, "y": 2}))
        self.ok(dict(GOOD, amount=12, tag="ab"))
        self.ok(b'{"id":"0b1e9c3e-8f7a-4c2d-9e1f-1234567890ab","name":"x","kind":"B"}')
        self.ok({"items": [GOOD, GOOD], "total": 2}, path="/things")

    def test_type_errors_name_the_path(self):
        msg = self.bad({"items": [GOOD, dict(GOOD, name=5)], "total": 2}, "$.items[1].name", path="/things")
        self.assertIn("expected string, got integer 5", msg)
        self.assertIn("GET /things 200", msg)
        self.bad({"items": [], "total": True}, "$.total: expected integer, got boolean", path="/things")
        self.bad({"items": [], "total": 1.5}, "expected integer", path="/things")
        self.bad([GOOD], "$: expected object, got array")

    def test_required_and_additional(self):
        self.bad({"id": GOOD["id"], "name": "a"}, "required property 'kind' is missing")
        self.bad(dict(GOOD, extra=1), "property 'extra' is not allowed")
        self.bad(dict(GOOD, meta={"x": "no"}), "$.meta.x: expected number")

    def test_enum_pattern_lengths_formats(self):
        self.bad(dict(GOOD, kind="C"), "'C'".replace("'", '"') + " is not one of ['A', 'B']")
        self.bad(dict(GOOD, code="ae"), "does not match pattern")
        self.bad(dict(GOOD, name=""), "shorter than minLength 1")
        self.bad(dict(GOOD, name="abcdef"), "longer than maxLength 5")
        self.bad(dict(GOOD, id="not-a-uuid"), "is not a valid uuid")
        self.bad(dict(GOOD, at="yesterday"), "is not a valid date-time")
        self.bad(dict(GOOD, email="nobody"), "is not a valid email")

    def test_numbers_and_null(self):
        self.bad(dict(GOOD, count=0), "below the minimum 1")
        self.bad(dict(GOOD, count=10), "above the maximum 10")
        self.bad(dict(GOOD, name=None), "$.name: null is not allowed")
        self.bad({"items": [GOOD] * 4, "total": 4}, "more than maxItems 3", path="/things")

    def test_compositions(self):
        self.bad(dict(GOOD, amount="1.5"), "matches none of oneOf")
        self.bad(dict(GOOD, tag="abc"), "matches none of anyOf")
        self.bad(dict(GOOD, both={"a": 1}), "allOf[1] fails")
        overlap = {"openapi": "3.0.0", "paths": {"/o": {"get": {"responses": {"200": {"description": "d", "content": {
            "application/json": {"schema": {"oneOf": [{"type": "integer"}, {"type": "number"}]}}}}}}}}}
        with self.assertRaises(AssertionError) as cm:
            oa.validate(overlap, "GET", "/o", 200, 3)
        self.assertIn("exactly one expected", str(cm.exception))
        oa.validate(overlap, "GET", "/o", 200, 3.5)

    def test_status_lookup(self):
        err = {"error": {"code": "NOT_FOUND", "statusCode": 404}}
        self.ok(err, status=404)                                  # via 4XX
        self.bad({"error": {"code": "x", "statusCode": 404}}, "$.error.code", status=404)
        self.bad(err, "status 500 is not documented", status=500)
        oa.validate(DOC, "DELETE", "/things/{id}", 500, err)      # via default
        oa.validate(DOC, "DELETE", "/things/{id}", 204, b"")
        self.bad(b"{}", "documented without a body", method="DELETE", status=204)

    def test_unknown_path_method_and_non_json(self):
        self.bad(GOOD, "path is not in the document", path="/nope")
        self.bad(GOOD, "method is not documented", method="PUT")
        self.bad(b"<html>", "body is not JSON")

    def test_response_object(self):
        class R:
            status = 200
            body = b'{"id":"0b1e9c3e-8f7a-4c2d-9e1f-1234567890ab","name":"toolong","kind":"A"}'
        self.bad(R(), "maxLength")


if __name__ == "__main__":
    unittest.main()

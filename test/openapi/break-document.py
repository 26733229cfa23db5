"""Self-test helper of test/suites/openapi.sh: write broken copies of a good document, one fault each, so the
suite can show check-document.mjs finds every kind of fault it promises to find.
    usage: python3 break-document.py GOOD.json OUTDIR     -> OUTDIR/<fault>.json, one per line on stdout
"""
import json
import sys

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def ops(doc):
    for path, item in doc["paths"].items():
        for m in METHODS:
            if m in item:
                yield path, m, item[m]


def first(doc, public):
    return next(op for _, _, op in ops(doc) if (op.get("security") == []) == public)


def empty_required(doc):       # swagger-parser: `required` must have at least one item (the bug svc-admin had)
    next(s for s in doc["components"]["schemas"].values() if s.get("type") == "object")["required"] = []


def no_operation_id(doc):
    del first(doc, False)["operationId"]


def duplicate_operation_id(doc):
    a, b = [op for _, _, op in ops(doc)][:2]
    b["operationId"] = a["operationId"]


def snake_case_operation_id(doc):
    first(doc, True)["operationId"] = "get_health_status"


def renamed_operation_id(doc):  # still camelCase and unique, but not what operation-ids.txt has
    op = first(doc, True)
    op["operationId"] = op["operationId"] + "Renamed"


def public_without_security(doc):  # redocly security-defined, and our explicit-security rule
    del first(doc, True)["security"]


def nullable_without_type(doc):   # redocly nullable-type-sibling (the other bug the documents had)
    doc["components"]["schemas"]["BrokenNullable"] = {"nullable": True, "allOf": [{"type": "string"}]}
    first(doc, False)["responses"]["200" if "200" in first(doc, False)["responses"] else "202"] = {
        "description": "x", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BrokenNullable"}}}}


def dangling_ref(doc):
    first(doc, True)["responses"]["200"]["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/Nope"}


FAULTS = [empty_required, no_operation_id, duplicate_operation_id, snake_case_operation_id, renamed_operation_id,
          public_without_security, nullable_without_type, dangling_ref]

good, outdir = sys.argv[1], sys.argv[2]
for fault in FAULTS:
    with open(good, encoding="utf-8") as f:
        doc = json.load(f)
    fault(doc)
    path = "%s/%s.json" % (outdir, fault.__name__)
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print(fault.__name__)

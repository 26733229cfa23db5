"""GET /docs (the API reference page, common/src/api_docs.c) and the promises the seven OpenAPI documents make about
authentication, against real daemons.

DocsPageTest: a daemon whose DOCS_ASSETS holds stand-in Swagger UI files serves the page with its
Content-Security-Policy and cache headers, the files byte for byte with ETag/304, and 404 for any other name; a daemon
whose DOCS_ASSETS lacks them answers 503 DOCS_UNAVAILABLE in the one error body and stays ready. The real Swagger UI
in a real browser is test/suites/openapi.sh.

DocumentSecurityTest: for every operation of every live document, a request without a token is refused with
401 TOKEN_MISSING exactly when the document says the operation needs one (a non-empty `security`), and every answer
is one the document lists."""

import hashlib
import os
import re
import shutil
import tempfile
import unittest
import urllib.parse

import gxtest
from gxtest import openapi as oa
from gxtest.http import request
from gxtest.services import NO_LIMITS, start_backing

PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
BUNDLE = b"/* stand-in Swagger UI bundle */ window.SwaggerUIBundle = function () {};\n"
CSS = b"/* stand-in Swagger UI stylesheet */ body { margin: 0 }\n"


def etag(data):
    return '"%s"' % hashlib.sha256(data).hexdigest()[:16]


class DocsPageTest(gxtest.GxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        start_backing(cls.stack)
        cls.assets = tempfile.mkdtemp(prefix="gx-docs-assets-")
        cls.addClassCleanup(shutil.rmtree, cls.assets, True)
        for name, data in (("swagger-ui-bundle.js", BUNDLE), ("swagger-ui.css", CSS)):
            with open(os.path.join(cls.assets, name), "wb") as f:
                f.write(data)
        cls.api = cls.stack.start_daemon("svc-tax", env=dict(NO_LIMITS, DOCS_ASSETS=cls.assets))
        cls.doc = oa.fetch(cls.api.url)
        # only the stylesheet: the bundle is missing
        cls.half = tempfile.mkdtemp(prefix="gx-docs-half-")
        with open(os.path.join(cls.half, "swagger-ui.css"), "wb") as f:
            f.write(CSS)
        cls.addClassCleanup(shutil.rmtree, cls.half, True)
        cls.bare = cls.stack.start_daemon("svc-admin", env=dict(NO_LIMITS, DOCS_ASSETS=cls.half))
        cls.bare.expect_errors("DOCS_UNAVAILABLE")
        cls.bare_doc = oa.fetch(cls.bare.url)

    def get(self, path, api=None, **headers):
        return request("GET", (api or self.api).url + path, headers=headers)

    def test_page_headers_and_links(self):
        r = self.get("/docs")
        self.assertEqual(r.status, 200, r.text[:300])
        oa.validate(self.doc, "GET", "/docs", 200, r)
        self.assertEqual(r.headers["Content-Type"], "text/html; charset=utf-8")
        # exactly one policy, the page's, not the default every answer starts with
        self.assertEqual(r.headers.get_all("Content-Security-Policy"), [PAGE_CSP])
        self.assertEqual(r.headers.get_all("Cache-Control"), ["no-cache"])
        self.assertEqual(r.headers["X-Frame-Options"], "DENY")
        self.assertEqual(r.headers["ETag"], etag(r.body))
        page = r.text
        self.assertIn("<title>svc-tax API reference</title>", page)
        links = re.findall(r'(?:src|href)="([^"]+)"', page)
        self.assertEqual(sorted(links), sorted([
            "data:,", "docs/swagger-ui.css?v=" + etag(CSS)[1:9], "docs/swagger-ui-bundle.js?v=" + etag(BUNDLE)[1:9],
            "docs/docs.js?v=" + etag(self.get("/docs/docs.js").body)[1:9]]))
        # every link of the page resolves (relative to /docs) to a file this daemon serves
        for link in (x for x in links if not x.startswith("data:")):
            url = urllib.parse.urljoin(self.api.url + "/docs", link)
            self.assertEqual(request("GET", url).status, 200, url)
        self.assertNotIn("<script>", page, "no inline script: the policy would block it")

    def test_page_revalidates_with_its_etag(self):
        r = self.get("/docs")
        again = self.get("/docs", **{"If-None-Match": r.headers["ETag"]})
        self.assertEqual((again.status, again.body), (304, b""))
        oa.validate(self.doc, "GET", "/docs", 304, again)
        self.assertEqual(again.headers["ETag"], r.headers["ETag"])
        self.assertEqual(again.headers.get_all("Content-Security-Policy"), [PAGE_CSP])

    def test_assets_byte_for_byte_with_cache_headers(self):
        for name, data, ctype in (("swagger-ui-bundle.js", BUNDLE, "text/javascript; charset=utf-8"),
                                  ("swagger-ui.css", CSS, "text/css; charset=utf-8")):
            r = self.get("/docs/" + name + "?v=" + etag(data)[1:9])
            self.assertEqual((r.status, r.body), (200, data), name)
            oa.validate(self.doc, "GET", "/docs/{asset}", 200, r)
            self.assertEqual(r.headers["Content-Type"], ctype)
            self.assertEqual(r.headers.get_all("Cache-Control"), ["public, max-age=86400"])
            self.assertEqual(r.headers["ETag"], etag(data))
            self.assertEqual(r.headers["X-Content-Type-Options"], "nosniff")
            not_modified = self.get("/docs/" + name, **{"If-None-Match": 'W/"x", ' + etag(data)})
            self.assertEqual((not_modified.status, not_modified.body), (304, b""), name)
            changed = self.get("/docs/" + name, **{"If-None-Match": '"0123456789abcdef"'})
            self.assertEqual((changed.status, changed.body), (200, data), name)

    def test_start_script_loads_this_services_document(self):
        r = self.get("/docs/docs.js")
        self.assertEqual(r.status, 200)
        self.assertIn('url: "openapi.json"', r.text)
        self.assertIn("validatorUrl: null", r.text)
        self.assertIn("queryConfigEnabled: false", r.text)

    def test_other_names_are_404(self):
        for path in ("/docs/index.html", "/docs/swagger-ui-bundle.js.map", "/docs/..%2Fopenapi.json",
                     "/docs/%2e%2e%2fetc%2fpasswd", "/docs/LICENSE"):
            r = self.get(path)
            self.assertIn(r.status, (400, 404), path)
            self.assertEqual(r.json()["statusCode"], r.status)
            if r.status == 404:
                oa.validate(self.doc, "GET", "/docs/{asset}", 404, r)

    def test_missing_assets_answer_503_and_the_daemon_stays_ready(self):
        for path, template in (("/docs", "/docs"), ("/docs/swagger-ui-bundle.js", "/docs/{asset}"),
                               ("/docs/swagger-ui.css", "/docs/{asset}"), ("/docs/docs.js", "/docs/{asset}")):
            r = self.get(path, api=self.bare)
            self.assertEqual(r.status, 503, path)
            oa.validate(self.bare_doc, "GET", template, 503, r)
            body = r.json()
            self.assertEqual((body["code"], body["error"]), ("DOCS_UNAVAILABLE", "Service Unavailable"))
            self.assertIn("/openapi.json", body["message"])
            self.assertNotIn(self.half, body["message"], "no server path in an answer")
            self.assertEqual(r.headers.get_all("Content-Security-Policy"), ["default-src 'none'; frame-ancestors 'none'"])
        self.assertEqual(self.get("/readyz", api=self.bare).status, 200)
        self.assertEqual(self.get("/openapi.json", api=self.bare).status, 200)
        # the startup log names the file that is missing
        self.bare.wait_for_log(r'"level":"warn".*cannot open %s/swagger-ui-bundle\.js' % re.escape(self.half))

    def test_shared_routes_answer_the_documented_400(self):
        for path in ("/health", "/livez", "/readyz", "/metrics", "/openapi.json", "/docs"):
            r = self.get(path + "?novalue")
            self.assertEqual(r.status, 400, path)
            oa.validate(self.doc, "GET", path, 400, r)
            self.assertEqual(r.json()["code"], "INVALID_QUERY")


# a value for a path parameter: the first of its enum, else one no row has
def _param_value(param):
    enum = (param.get("schema") or {}).get("enum")
    return urllib.parse.quote(str(enum[0]), safe="") if enum else "00000000-0000-4000-8000-00000000dead"


class DocumentSecurityTest(gxtest.GxTestCase):
    """Each documented operation, asked without a token: 401 TOKEN_MISSING exactly where `security` is non-empty."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        start_backing(cls.stack)
        cls.apis = {}
        for name in gxtest.API_DAEMONS:
            if not gxtest.have_binary(name):
                raise unittest.SkipTest("%s is not built" % name)
            d = cls.stack.start_daemon(name, env=dict(NO_LIMITS, DOCS_ASSETS=""))
            d.expect_errors("DOCS_UNAVAILABLE")
            cls.apis[name] = (d, oa.fetch(d.url))

    def test_401_exactly_where_the_document_asks_for_a_token(self):
        checked, wrong = 0, []
        for name, (api, doc) in sorted(self.apis.items()):
            for method, template, op in oa.operations(doc):
                self.assertIn("security", op, "%s %s %s: no explicit security" % (name, method, template))
                item = doc["paths"][template]
                params = {p["name"]: p for p in (item.get("parameters") or []) + (op.get("parameters") or [])
                          if isinstance(p, dict) and p.get("in") == "path"}
                path = re.sub(r"\{([^}]+)\}", lambda m: _param_value(params.get(m.group(1), {})), template)
                body = {} if method in ("POST", "PUT", "PATCH") else None
                r = request(method, api.url + path, json_body=body)
                refused = r.status == 401 and any(d.get("issue") == "TOKEN_MISSING"
                                                   for d in (r.json() or {}).get("details") or [])
                if refused != bool(op["security"]):
                    wrong.append("%s %s %s: security %s, answered %d %s" % (
                        name, method, template, op["security"], r.status, r.text[:120]))
                else:
                    try:
                        oa.validate(doc, method, template, r.status, r)
                    except AssertionError as e:
                        wrong.append("%s: %s" % (name, e))
                checked += 1
        self.assertEqual(wrong, [])
        # seven documents of more than ten operations each: an empty walk would prove nothing
        self.assertGreater(checked, 90)

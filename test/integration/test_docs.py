"""The documentation stays true: docs/configuration.md is what test/lib/gen-config-doc.py makes from the daemons'
own --help today; every relative link of README.md and docs/*.md reaches an existing file (and heading, for
#anchors into Markdown files); docs/errors.md lists exactly the error codes the C sources answer, each with the
status the sources use; every "design.md §N" cited in the repository names a section of docs/design.md, and no
tracked file cites a document from outside the repository."""

import glob
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import unittest

import gxtest

REPO = gxtest.REPO_ROOT
GEN = os.path.join(REPO, "test", "lib", "gen-config-doc.py")
ERRORS_MD = os.path.join(REPO, "docs", "errors.md")
# where the HTTP answers are made: the shared pipeline and the seven APIs (the workers answer only health/metrics)
C_DIRS = ["common/src"] + ["svc-" + s for s in ("identity", "admin", "tokenomics", "organization", "loanpool",
                                               "governance", "tax")]
# An error code in C is an UPPER_SNAKE literal right after an HTTP status: gx_reply_error(req, 404, "X", ...),
# reply_error_details(req, 503, "X", ...), gx_http_error_body(401, "X", ...), and the conflict tables
# { "constraint", 409, "X", "message" } of gx_outbox_submit; or the literal passed as the `code` parameter of a
# helper that answers gx_reply_error(req, <status>, code, ...) itself (e.g. gx_svc_found: 404).
C_CODE = re.compile(r'\b([45]\d\d)\s*,\s*"([A-Z][A-Z0-9_]*)"')
C_HELPER = re.compile(r"\b(\w+)\s*\(([^;{}()]*\bconst\s+char\s*\*\s*code\b[^;{}()]*)\)\s*(?:GX_\w+\([^)]*\)\s*)?\{")
C_HELPER_REPLY = re.compile(r"gx_reply_error\s*\(\s*\w+\s*,\s*([45]\d\d)\s*,\s*code\b")
C_TOKENS = re.compile(r'("(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\')|/\*.*?\*/|//[^\n]*', re.S)
DOC_ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|\s*(\d{3})\s*\|")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
DESIGN_MD = os.path.join(REPO, "docs", "design.md")
# A numbered section heading of docs/design.md: "## 3. HTTP contract" (or "### 3.1 ..." should one be added).
DESIGN_HEADING = re.compile(r"^(#{2,3}) (\d+(?:\.\d+)*)\.? (.+?)\s*$")
# A citation "design.md §3", "design.md §3 and §7", also across a comment's line break ("design.md\n * §3").
SEC = r"§\s*(\d+(?:\.\d+)*)"
CITE_GAP = r"(?:\s|[*#]|//|--)*"
DESIGN_CITE = re.compile(r"design\.md" + CITE_GAP + SEC + r"((?:" + CITE_GAP + r"(?:,|and|or|/)" + CITE_GAP + SEC
                         + r")*)")
DESIGN_MORE = re.compile(SEC)
# A Markdown link to a design section by its number: [design §4](design.md#4-auth), also from README (docs/...).
DESIGN_LINK = re.compile(r"\[design " + SEC + r"\]\(((?:[^)#\s]*/)?design\.md)#([^)\s]+)\)")
# Citations of documents that are not in this repository: the product brief the design's numbering came from
# ("decisions", its sections) and anything under a shared directory beside the checkout or on a build machine.
OUTSIDE = [
    (re.compile(r"\bdecisions(?:\.md)?" + CITE_GAP + "§", re.I), "cites the product brief's sections"),
    (re.compile(r"\bdecisions\.md\b", re.I), "cites the product brief"),
    (re.compile(r"(?:\.\./)+shared\b"), "cites a file outside the repository"),
    (re.compile(r"(?<![\w.])/w[o]rk/"), "cites a machine path"),
    (re.compile(r"\bshared/(?:spec|reference|data)/"), "cites a file outside the repository"),
    (re.compile(r"\boriginal-(?:system|wire)\.md\b"), "cites a reference file outside the repository"),
    (re.compile(r"\bstyle anchors\b", re.I), "cites a style guide outside the repository"),
]
# Tracked files not read as text: fuzz corpora and plots
NOT_TEXT = re.compile(r"^(test/fuzz/corpus/|bench/plots/)|\.(svg|png|jpg|gz)$")


def load_gen():
    spec = importlib.util.spec_from_file_location("gen_config_doc", GEN)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def strip_comments(text):
    """C text without comments (string literals kept: "*/*" is no comment)."""
    return C_TOKENS.sub(lambda m: m.group(1) or " ", text)


def source_texts():
    texts = {}
    for d in C_DIRS:
        for path in sorted(glob.glob(os.path.join(REPO, d, "*.c"))):
            with open(path, encoding="utf-8") as f:
                texts[os.path.relpath(path, REPO)] = strip_comments(f.read())
    return texts


def body_of(text, start):
    """The brace-balanced block that opens at text[start] == '{'."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start:i + 1]
    return text[start:]


def source_codes(texts=None):
    """{code: {status, ...}} over the C sources."""
    texts = texts if texts is not None else source_texts()
    codes = {}
    helpers = {}  # helper function name -> the status it answers with its `code` parameter
    for text in texts.values():
        for m in C_CODE.finditer(text):
            codes.setdefault(m.group(2), set()).add(int(m.group(1)))
        for m in C_HELPER.finditer(text):
            r = C_HELPER_REPLY.search(body_of(text, m.end() - 1))
            if r and m.group(1) != "gx_reply_error":
                helpers[m.group(1)] = int(r.group(1))
    for name, status in helpers.items():
        call = re.compile(r"\b%s\s*\([^;]*?\"([A-Z][A-Z0-9_]*)\"" % re.escape(name))
        for text in texts.values():
            for m in call.finditer(text):
                codes.setdefault(m.group(1), set()).add(status)
    return codes


def doc_codes(path=ERRORS_MD):
    """{code: status} from the table rows of docs/errors.md; a code listed twice is an error."""
    codes, dupes = {}, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = DOC_ROW.match(line)
            if m:
                if m.group(1) in codes:
                    dupes.append(m.group(1))
                codes[m.group(1)] = int(m.group(2))
    return codes, dupes


def slug(heading):
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes."""
    h = re.sub(r"[`*_]", "", heading.strip().lower())
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")


def anchors(path):
    out = set()
    fence = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("```"):
                fence = not fence
            elif not fence and line.startswith("#"):
                out.add(slug(line.lstrip("#")))
    return out


def broken_links(paths):
    """[(file, target, why)] for relative links that do not resolve."""
    bad = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r"```.*?```", "", text, flags=re.S)   # no links inside code blocks
        for target in LINK.findall(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # http:, https:, mailto: — nothing here reaches the network
            file_part, _, frag = target.partition("#")
            dest = path if not file_part else os.path.normpath(os.path.join(os.path.dirname(path), file_part))
            rel = os.path.relpath(path, REPO)
            if not dest.startswith(REPO + os.sep):
                bad.append((rel, target, "points outside the repository"))
            elif not os.path.exists(dest):
                bad.append((rel, target, "no such file"))
            elif frag and dest.endswith(".md") and frag not in anchors(dest):
                bad.append((rel, target, "no heading #%s" % frag))
    return bad


def doc_files():
    return [os.path.join(REPO, "README.md")] + sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))


def design_sections(path=DESIGN_MD):
    """{number: anchor} of the numbered headings of docs/design.md ({} when the file does not exist)."""
    out = {}
    if not os.path.exists(path):
        return out
    fence = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("```"):
                fence = not fence
            m = DESIGN_HEADING.match(line) if not fence else None
            if m:
                out[m.group(2)] = slug(line.lstrip("#"))
    return out


def tracked_files():
    """Repository-relative paths of the tracked files (git ls-files; without git, the tree minus build output)."""
    try:
        p = subprocess.run(["git", "-C", REPO, "ls-files", "-z"], capture_output=True, timeout=60)
        if p.returncode == 0 and p.stdout:
            return sorted(f for f in p.stdout.decode("utf-8", "replace").split("\0") if f)
    except OSError:
        pass
    out = []
    for root, dirs, files in os.walk(REPO):
        rel = os.path.relpath(root, REPO)
        dirs[:] = [d for d in dirs if d not in (".git", "run", "node_modules", "__pycache__")
                   and not (rel == "." and d.startswith("build"))]
        out += [os.path.normpath(os.path.join(rel, f)) for f in files]
    return sorted(out)


def tracked_texts():
    """{path: text} of the tracked text files."""
    texts = {}
    for rel in tracked_files():
        if NOT_TEXT.search(rel):
            continue
        try:
            with open(os.path.join(REPO, rel), encoding="utf-8") as f:
                texts[rel] = f.read()
        except (OSError, UnicodeDecodeError):
            continue
    return texts


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def design_citations(texts):
    """[(path, line, section)] of every "design.md §N" in texts ({path: text})."""
    out = []
    for rel, text in texts.items():
        for m in DESIGN_CITE.finditer(text):
            nums = [m.group(1)] + DESIGN_MORE.findall(m.group(2) or "")
            out += [(rel, line_of(text, m.start()), n) for n in nums]
    return out


def bad_design_links(texts, sections):
    """[(path, line, section, target)] of [design §N](design.md#anchor) links whose anchor is not section N's."""
    bad = []
    for rel, text in texts.items():
        for m in DESIGN_LINK.finditer(text):
            if sections.get(m.group(1)) != m.group(3):
                bad.append((rel, line_of(text, m.start()), m.group(1), m.group(2) + "#" + m.group(3)))
    return bad


def outside_citations(texts):
    """[(path, line, why, text)] of citations of documents outside the repository."""
    bad = []
    for rel, text in texts.items():
        for rx, why in OUTSIDE:
            for m in rx.finditer(text):
                bad.append((rel, line_of(text, m.start()), why, m.group(0)))
    return sorted(bad)


def c_daemon_table():
    """{name: (port, metrics_port)} of gx_daemons[] in common/src/api.c."""
    with open(os.path.join(REPO, "common", "src", "api.c"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"gx_daemons\[\]\s*=\s*\{(.*?)\n\};", text, re.S)
    body = m.group(1) if m else ""
    return {n: (int(p), int(mp)) for n, p, mp in re.findall(r'\{\s*"([\w-]+)"\s*,\s*(\d+)\s*,\s*(\d+)\s*\}', body)}


def design_port_table(path=DESIGN_MD):
    """{name: (port or 0, nodePort or 0, metrics port)} from the table of docs/design.md §1."""
    rows = {}
    if not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8") as f:
        text = f.read()
    sec = re.search(r"^## 1\. .*?(?=^## )", text, re.S | re.M)
    for m in re.finditer(r"^\|\s*([a-z][\w-]*)\s*\|\s*(\d+|–)\s*\|\s*(\d+|–)\s*\|\s*(\d+)\s*\|\s*$",
                         sec.group(0) if sec else "", re.M):
        port, node_port = (0 if v == "–" else int(v) for v in m.group(2, 3))
        rows[m.group(1)] = (port, node_port, int(m.group(4)))
    return rows


class ConfigurationDocTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = [d for d in gxtest.DAEMONS if not gxtest.have_binary(d)]
        if missing:
            raise unittest.SkipTest("not built: %s" % " ".join(missing))
        cls.gen = load_gen()
        cls.helps = {d: cls.gen.run_help(gxtest.bin_dir(), d) for d in gxtest.DAEMONS}

    def test_configuration_md_is_current(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "configuration.md")
            p = subprocess.run([sys.executable, GEN, "--bin-dir", gxtest.bin_dir(), "--out", out],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(out, encoding="utf-8") as f:
                fresh = f.read()
        with open(os.path.join(REPO, "docs", "configuration.md"), encoding="utf-8") as f:
            committed = f.read()
        if fresh != committed:
            import difflib
            diff = "".join(list(difflib.unified_diff(committed.splitlines(True), fresh.splitlines(True),
                                                     "docs/configuration.md", "--help today"))[:60])
            self.fail("docs/configuration.md is stale; run test/lib/gen-config-doc.py\n" + diff)
        p = subprocess.run([sys.executable, GEN, "--bin-dir", gxtest.bin_dir(), "--check",
                            os.path.join(REPO, "docs", "configuration.md")], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_every_help_row_is_parsed(self):
        """Each daemon's table rows become document rows: none dropped, the design.md §1 ports, the secrets."""
        for d in gxtest.DAEMONS:
            version, tables = self.gen.parse_help(d, self.helps[d])
            self.assertRegex(version, r"^%s \d+\.\d+\.\d+" % re.escape(d))
            rows = {r["name"]: r for t in tables for r in t}
            # one parsed row per non-blank line below each header
            listed = [ln.split()[0] for ln in self.helps[d].splitlines()
                      if re.match(r"^[A-Z][A-Z0-9_]+\s", ln) and not ln.startswith("NAME ")]
            self.assertEqual(sorted(rows), sorted(listed), d)
            port_key = "PORT" if d in gxtest.API_DAEMONS else "METRICS_PORT"
            self.assertEqual(rows[port_key]["default"], str(gxtest.DEFAULT_PORTS[d]), d)
            self.assertTrue(rows["DATABASE_URL"]["secret"], d)
            for r in rows.values():
                self.assertRegex(r["type"], r"^(int|string|duration|bool)\b|\|", (d, r))
                self.assertTrue(r["description"], (d, r))
            if d in gxtest.API_DAEMONS:
                self.assertTrue(rows["JWT_SECRET"]["required"] and rows["JWT_SECRET"]["secret"], d)
        sub = {r["name"]: r for t in self.gen.parse_help("outbox-submitter", self.helps["outbox-submitter"])[1]
               for r in t}
        self.assertTrue(sub["FABRIC_CERT_SUPER_ADMIN"]["required"])
        self.assertEqual(sub["FABRIC_CHANNEL"]["default"], "gxchannel")

    def test_parser_refuses_garbage(self):
        with self.assertRaises(self.gen.ParseError):
            self.gen.parse_help("svc-tax", "svc-tax 0.1.0\nusage: svc-tax\n")
        with self.assertRaises(self.gen.ParseError):
            self.gen.parse_help("svc-tax", self.helps["svc-tax"].replace(" no ", " maybe "))


class LinksTest(unittest.TestCase):
    def test_every_relative_link_resolves(self):
        bad = broken_links(doc_files())
        self.assertEqual(bad, [], "\n".join("%s: (%s) %s" % b for b in bad))

    def test_checker_sees_a_broken_link(self):
        with tempfile.NamedTemporaryFile("w", suffix=".md", dir=os.path.join(REPO, "docs"), delete=False) as f:
            f.write("[ok](errors.md) [gone](no-such-file.md) [bad anchor](errors.md#no-such-heading) "
                    "[ext](https://example.invalid/x)\n```\n[in code](nowhere.md)\n```\n")
        try:
            bad = broken_links([f.name])
        finally:
            os.unlink(f.name)
        self.assertEqual([b[1] for b in bad], ["no-such-file.md", "errors.md#no-such-heading"])

    def test_readme_names_the_required_documents(self):
        with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
            text = f.read()
        targets = set(LINK.findall(text))
        for want in ["docs/errors.md", "docs/configuration.md", "k8s/README.md", "docs/reliability-report.md",
                     "bench/REPORT.md", "test/README.md"] + ["%s/openapi.json" % d for d in gxtest.API_DAEMONS]:
            self.assertIn(want, targets)
        self.assertNotRegex(text, r"/(work|home|root|tmp)/", "README has a machine path")


class DesignDocTest(unittest.TestCase):
    """docs/design.md is the one design document: its sections are the ones the code cites, and nothing cites a
    document the repository does not have."""

    @classmethod
    def setUpClass(cls):
        cls.sections = design_sections()
        cls.texts = tracked_texts()

    def test_the_nine_sections(self):
        self.assertTrue(os.path.exists(DESIGN_MD), "docs/design.md is missing")
        top = [n for n in self.sections if "." not in n]
        self.assertEqual(top, [str(i) for i in range(1, 10)], "docs/design.md: '## 1. ...' .. '## 9. ...' in order")

    def test_every_citation_names_a_section(self):
        cites = design_citations(self.texts)
        # the repository cites the design in its sources, manifests and tests: an empty scan would prove nothing
        self.assertGreater(len(cites), 50)
        self.assertGreater(len({c[0] for c in cites}), 20)
        bad = [c for c in cites if c[2] not in self.sections]
        self.assertEqual(bad, [], "\n".join("%s:%d: design.md §%s is no section of docs/design.md" % c for c in bad))

    def test_design_links_point_at_their_section(self):
        links = sum(len(DESIGN_LINK.findall(t)) for p, t in self.texts.items() if p.endswith(".md"))
        self.assertGreater(links, 0, "no [design §N](design.md#...) link in the documentation")
        bad = bad_design_links(self.texts, self.sections)
        self.assertEqual(bad, [], "\n".join("%s:%d: [design §%s](%s) is not that section's anchor" % b for b in bad))

    def test_nothing_cites_a_document_outside_the_repository(self):
        bad = outside_citations(self.texts)
        self.assertEqual(bad, [], "\n".join("%s:%d: %s: %r" % b for b in bad))

    def test_checker_sees_bad_citations(self):
        sections = {"1": "1-ports-and-names", "4": "4-auth"}
        sample = {"x.c": "/* design.md §1 and §4; design.md\n * " + "§12 */\n",
                  "y.md": "[design §4](design.md#4-auth) [design " + "§1](design.md#4-auth) "
                          "see design.md §" + "4.2\n",
                  "z.h": "/* as decisions " + "§3 says; " + "../" + "shared/" + "spec/x.md; " + "/" + "work/x */\n"}
        self.assertEqual(sorted((p, n) for p, _, n in design_citations(sample)),
                         [("x.c", "1"), ("x.c", "12"), ("x.c", "4"), ("y.md", "4.2")])
        self.assertEqual([b[:3] for b in bad_design_links(sample, sections)], [("y.md", 1, "1")])
        self.assertEqual(sorted({b[0] for b in outside_citations(sample)}), ["z.h"])
        self.assertEqual(len(outside_citations(sample)), 4)

    def test_port_table_is_gx_daemons(self):
        table = design_port_table()
        c_table = c_daemon_table()
        self.assertEqual(len(c_table), 9, "gx_daemons[] not found in common/src/api.c")
        self.assertEqual(list(table), list(c_table), "docs/design.md §1 lists the daemons of gx_daemons[], in order")
        for name, (port, node_port, metrics) in table.items():
            self.assertEqual((port, metrics), c_table[name], name)
            self.assertEqual(metrics, gxtest.DEFAULT_PORTS[name], name)
            svc = os.path.join(REPO, "k8s", "base", name, "service.yaml")
            with open(svc, encoding="utf-8") as f:
                found = re.findall(r"^\s*nodePort:\s*(\d+)\s*$", f.read(), re.M)
            self.assertEqual([int(n) for n in found], [node_port] if node_port else [], svc)

    def test_readme_links_the_design(self):
        with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
            self.assertIn("docs/design.md", set(LINK.findall(f.read())))


class ErrorCodesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.src = source_codes()
        cls.doc, cls.dupes = doc_codes()

    def test_sources_are_found(self):
        # the grep must see the pipeline's codes; an empty or tiny set would make the other tests vacuous
        for code in ("VALIDATION_FAILED", "NOT_FOUND", "METHOD_NOT_ALLOWED", "PAYLOAD_TOO_LARGE", "RATE_LIMITED",
                     "UNAUTHORIZED", "FORBIDDEN", "DB_UNAVAILABLE", "INTERNAL", "EMAIL_TAKEN"):
            self.assertIn(code, self.src)
        self.assertGreater(len(self.src), 40)

    def test_extractor_on_known_shapes(self):
        text = strip_comments('''
            /* gx_reply_error(req, 418, "IN_A_COMMENT", "x"); */ static const char *a = "*/*";
            void f(struct gx_req *req) { gx_reply_error(req, 404,
                "SPLIT_LINES", "m"); }
            static const struct gx_conflict c[] = { { "T_key", 409, "FROM_TABLE", "m" } };
            bool h(struct gx_req *req, const PGresult *res, const char *code, const char *fmt, ...)
            { if (!res) { gx_reply_error(req, 410, code, "%s", fmt); return false; } return true; }
            void g(struct gx_req *req) { if (!h(req, res, "VIA_HELPER", "gone %s", id)) return; }
            // gx_reply_error(req, 400, "LINE_COMMENT", "x");
        ''')
        self.assertEqual(source_codes({"x.c": text}),
                         {"SPLIT_LINES": {404}, "FROM_TABLE": {409}, "VIA_HELPER": {410}})

    def test_no_code_listed_twice(self):
        self.assertEqual(self.dupes, [])

    def test_every_source_code_is_documented(self):
        missing = sorted(set(self.src) - set(self.doc))
        self.assertEqual(missing, [], "answered in C but not in docs/errors.md")

    def test_every_documented_code_is_used(self):
        unused = sorted(set(self.doc) - set(self.src))
        self.assertEqual(unused, [], "in docs/errors.md but answered nowhere in the C sources")

    def test_statuses_agree(self):
        wrong = {c: (s, sorted(self.src[c])) for c, s in self.doc.items() if c in self.src and self.src[c] != {s}}
        self.assertEqual(wrong, {}, "code: (status in docs/errors.md, statuses in the C sources)")

    def test_the_one_format_is_documented(self):
        with open(ERRORS_MD, encoding="utf-8") as f:
            text = f.read()
        for field in ('"error"', '"code"', '"message"', '"statusCode"', '"requestId"', '"details"', '"field"',
                      '"issue"'):
            self.assertIn(field, text)


if __name__ == "__main__":
    unittest.main()

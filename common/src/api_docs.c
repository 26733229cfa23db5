/* GET /docs on every API: an interactive reference (Swagger UI) of the daemon's own OpenAPI document, and the files
 * the page loads from /docs/{asset}. The page and its start script are made here; the Swagger UI bundle and its
 * stylesheet come from the swagger-ui-dist npm package, installed into the DOCS_ASSETS directory (common/docs-ui,
 * docs/configuration.md) and read once at startup. Without them /docs answers 503 DOCS_UNAVAILABLE. Each answer
 * carries an ETag (a request with a matching If-None-Match gets 304) and its Cache-Control; the page carries the
 * Content-Security-Policy that allows exactly what it loads. */
#include "api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/sha256.h>

#include "gx/log.h"
#include "gx/util.h"

#define ASSET_MAX_BYTES (16 * 1024 * 1024)
#define CACHE_PAGE "no-cache"
#define CACHE_ASSET "public, max-age=86400"

/* Only what the page loads: scripts and styles from this origin, the stylesheet's data: images, fetch() of the
 * document and of "Try it out" requests to this origin. */
#define PAGE_CSP \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* The page's start script (ours): Swagger UI on this service's document, nothing loaded from elsewhere (no
 * validator badge, no ?url= or ?configUrl= from the address bar). */
static const char start_js[] =
	"/* Starts Swagger UI on this service's own OpenAPI document. */\n"
	"window.ui = SwaggerUIBundle({\n"
	"\turl: \"openapi.json\",\n"
	"\tdom_id: \"#swagger-ui\",\n"
	"\tdeepLinking: true,\n"
	"\tqueryConfigEnabled: false,\n"
	"\tvalidatorUrl: null,\n"
	"\tpresets: [SwaggerUIBundle.presets.apis],\n"
	"\tlayout: \"BaseLayout\"\n"
	"});\n";

struct docs_file {
	const char *name; /* under /docs/ and in DOCS_ASSETS */
	const char *ctype;
	char *body; /* owned; NULL until loaded */
	size_t len;
	char etag[24]; /* "<16 hex digits of the SHA-256>" with the quotes */
};

enum { F_BUNDLE, F_CSS, F_START, F_COUNT };

static struct {
	bool ready;
	struct docs_file files[F_COUNT];
	struct docs_file page;
} docs = {
	.files = {
		[F_BUNDLE] = { "swagger-ui-bundle.js", "text/javascript; charset=utf-8", NULL, 0, "" },
		[F_CSS] = { "swagger-ui.css", "text/css; charset=utf-8", NULL, 0, "" },
		[F_START] = { "docs.js", "text/javascript; charset=utf-8", NULL, 0, "" },
	},
	.page = { "", "text/html; charset=utf-8", NULL, 0, "" },
};

static int set_etag(struct docs_file *f)
{
	unsigned char h[32];
	char hex[65];

	if (mbedtls_sha256_ret((const unsigned char *)f->body, f->len, h, 0) != 0) {
		gx_log_error("docs: SHA-256 of %s failed", f->name);
		return -1;
	}
	gx_hex_encode(h, 8, hex);
	snprintf(f->etag, sizeof(f->etag), "\"%.16s\"", hex);
	return 0;
}

/* Read dir/name into f. Returns 0, or -1 with the reason logged once. */
static int read_asset(const char *dir, struct docs_file *f)
{
	char *path = gx_xasprintf("%s/%s", dir, f->name);
	FILE *fp = fopen(path, "rb");
	long size;
	int rc = -1;

	if (!fp) {
		gx_log_warn("docs: cannot open %s (%s): /docs answers 503 (DOCS_ASSETS, docs/configuration.md)", path,
			    strerror(errno));
		goto out;
	}
	if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0) {
		gx_log_warn("docs: cannot read %s (%s): /docs answers 503", path, strerror(errno));
		goto out;
	}
	if (size == 0 || size > ASSET_MAX_BYTES) {
		gx_log_warn("docs: %s has %ld bytes (1..%d expected): /docs answers 503", path, size, ASSET_MAX_BYTES);
		goto out;
	}
	f->body = gx_xmalloc((size_t)size);
	f->len = fread(f->body, 1, (size_t)size, fp);
	if (f->len != (size_t)size) {
		gx_log_warn("docs: short read of %s: /docs answers 503", path);
		goto out;
	}
	rc = set_etag(f);
out:
	if (fp)
		fclose(fp);
	free(path);
	return rc;
}

static void make_page(const char *service)
{
	struct docs_file *b = &docs.files[F_BUNDLE], *c = &docs.files[F_CSS], *s = &docs.files[F_START];

	/* relative links, so the page also works behind a path prefix; ?v= changes with the file (cache busting) */
	docs.page.body = gx_xasprintf(
		"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		"<title>%s API reference</title>\n<link rel=\"icon\" href=\"data:,\">\n"
		"<link rel=\"stylesheet\" href=\"docs/%s?v=%.8s\">\n</head>\n<body>\n"
		"<div id=\"swagger-ui\"></div>\n"
		"<script src=\"docs/%s?v=%.8s\"></script>\n"
		"<script src=\"docs/%s?v=%.8s\"></script>\n</body>\n</html>\n",
		service, c->name, c->etag + 1, b->name, b->etag + 1, s->name, s->etag + 1);
	docs.page.len = strlen(docs.page.body);
	set_etag(&docs.page);
}

int gx_api_docs_load(const char *dir, const char *service)
{
	struct docs_file *s = &docs.files[F_START];

	gx_api_docs_free();
	s->body = gx_xstrdup(start_js);
	s->len = strlen(start_js);
	if (set_etag(s) < 0)
		return -1;
	if (!dir || !*dir) {
		gx_log_info("docs: DOCS_ASSETS is empty: /docs answers 503");
		return -1;
	}
	if (read_asset(dir, &docs.files[F_BUNDLE]) < 0 || read_asset(dir, &docs.files[F_CSS]) < 0)
		return -1;
	make_page(service);
	docs.ready = true;
	return 0;
}

void gx_api_docs_free(void)
{
	for (size_t i = 0; i < F_COUNT; i++) {
		free(docs.files[i].body);
		docs.files[i].body = NULL;
		docs.files[i].len = 0;
	}
	free(docs.page.body);
	docs.page.body = NULL;
	docs.ready = false;
}

/* An If-None-Match list (or "*") that names etag. */
static bool etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);
	const char *p;

	if (!inm)
		return false;
	if (strcmp(inm, "*") == 0)
		return true;
	for (p = strstr(inm, etag); p; p = strstr(p + 1, etag))
		if (p[n] == '\0' || p[n] == ',' || p[n] == ' ')
			return true;
	return false;
}

static void serve(struct gx_req *req, const struct docs_file *f, const char *cache)
{
	gx_reply_header(req, "Cache-Control", cache);
	gx_reply_header(req, "ETag", f->etag);
	if (etag_matches(gx_req_header(req, "If-None-Match"), f->etag)) {
		gx_reply_raw(req, 304, NULL, NULL, 0);
		return;
	}
	gx_reply_raw(req, 200, f->ctype, f->body, f->len);
}

static void reply_unavailable(struct gx_req *req)
{
	gx_reply_error(req, 503, "DOCS_UNAVAILABLE",
		       "the API reference page is not installed on this server (DOCS_ASSETS; the daemon's startup log "
		       "says what is missing); the document itself is at /openapi.json");
}

void gx_api_h_docs(struct gx_req *req)
{
	if (!docs.ready) {
		reply_unavailable(req);
		return;
	}
	gx_reply_header(req, "Content-Security-Policy", PAGE_CSP);
	serve(req, &docs.page, CACHE_PAGE);
}

void gx_api_h_docs_asset(struct gx_req *req)
{
	const char *name = gx_req_param(req, "asset");

	for (size_t i = 0; name && i < F_COUNT; i++) {
		if (strcmp(docs.files[i].name, name) != 0)
			continue;
		if (!docs.ready) {
			reply_unavailable(req);
			return;
		}
		serve(req, &docs.files[i], CACHE_ASSET);
		return;
	}
	gx_reply_error(req, 404, "NOT_FOUND", "no such file of the API reference page");
}

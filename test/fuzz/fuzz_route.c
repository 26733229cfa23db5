/* libFuzzer target for the http route matcher (http_int.h, the table every API daemon compiles) and path
 * percent-decoding. Byte 0 picks the method, the rest is the raw request path. Checks the matcher's promises: a
 * match names a route of the table with one decoded value per {param}, none holding '/' or NUL; a 405 lists the
 * allowed methods. */
#include "fuzz.h"
#include "../../common/src/http_int.h"

static struct gx_http_router *router;

static void h(struct gx_req *req)
{
	(void)req;
}

static const struct gx_route routes[] = {
	{ "GET", "/health", h, GX_AUTH_PUBLIC, 0 },
	{ "GET", "/api/v1/users/me", h, GX_AUTH_USER, 0 },
	{ "GET", "/api/v1/users/{id}", h, GX_AUTH_USER, 0 },
	{ "PATCH", "/api/v1/users/{id}", h, GX_AUTH_USER, 0 },
	{ "POST", "/api/v1/users/{id}/kyc", h, GX_AUTH_USER, 0 },
	{ "GET", "/api/v1/wallets/{walletId}/transactions/{txId}", h, GX_AUTH_USER, 0 },
	{ "DELETE", "/api/v1/wallets/{walletId}", h, GX_AUTH_USER, 0 },
	{ "POST", "/api/v1/transfers", h, GX_AUTH_USER, 0 },
	{ "PUT", "/api/v1/a/{x}/b/{y}/c/{z}", h, GX_AUTH_PUBLIC, 0 },
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	router = gx_http_router_new(routes, sizeof(routes) / sizeof(routes[0]));
	if (!router)
		abort();
	return 0;
}

static size_t nparams_of(const char *path)
{
	size_t n = 0;

	for (; *path; path++)
		n += *path == '{';
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW" };
	struct gx_http_match m;
	char *path, *dec;

	if (size < 1 || !(path = fuzz_cstr(data + 1, size - 1)))
		return 0;

	dec = gx_http_pct_decode(path, size - 1);
	if (dec) {
		if (strlen(dec) > size - 1)
			abort();
		sink += strlen(dec);
		free(dec);
	}

	memset(&m, 0, sizeof(m));
	switch (gx_http_router_match(router, methods[data[0] % 8], path, &m)) {
	case GX_HTTP_MATCH_OK:
		if (!m.route || m.route < routes || m.route >= routes + sizeof(routes) / sizeof(routes[0]))
			abort();
		if (m.nparams != nparams_of(m.route->path))
			abort();
		for (size_t i = 0; i < m.nparams; i++) {
			if (!m.names[i] || !m.values[i] || strchr(m.values[i], '/'))
				abort();
			sink += strlen(m.values[i]);
		}
		break;
	case GX_HTTP_MATCH_BAD_METHOD:
		if (m.allow[0] == '\0')
			abort();
		break;
	default:
		break;
	}
	gx_http_match_release(&m);
	free(path);
	return 0;
}

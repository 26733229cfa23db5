/* svc-identity daemon (:3001): registration, login, tokens, users and KYC.
 * Wiring only: configuration rows, service state (bcrypt pool), per-worker completion queues; serving, shared
 * routes and drain come from gx_api_main.
 */
#include "identity.h"

#include "gx/cfg.h"
#include "gx/log.h"
#include "gx/password.h"
#include "gx/util.h"

#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#define OFF(f) offsetof(struct idy_cfg, f)

static struct idy_cfg cfg;

static const struct gx_cfg_key idy_keys[] = {
	{ "BCRYPT_COST", GX_CFG_INT, "12", GX_PASSWORD_MIN_COST, GX_PASSWORD_MAX_COST, OFF(bcrypt_cost), 0, NULL,
	  "bcrypt cost of new password hashes (and of the unknown-email dummy verify)" },
	{ "BCRYPT_THREADS", GX_CFG_INT, "0", 0, 256, OFF(bcrypt_threads), 0, NULL,
	  "bcrypt worker threads, 0 = number of CPUs" },
	{ "BCRYPT_QUEUE", GX_CFG_INT, "1024", 1, 1000000, OFF(bcrypt_queue), 0, NULL,
	  "password operations waiting for a bcrypt thread before 503 BUSY" },
	{ "LOGIN_MAX_FAILURES", GX_CFG_INT, "5", 1, 1000, OFF(login_max_failures), 0, NULL,
	  "failed logins per email and client IP before the pair is locked" },
	{ "LOGIN_LOCKOUT", GX_CFG_MS, "15m", 1000, 86400000, OFF(login_lockout_ms), 0, NULL,
	  "window in which failures count, and how long a lock lasts" },
	{ "REFRESH_REUSE_GRACE", GX_CFG_MS, "30s", 0, 300000, OFF(refresh_grace_ms), 0, NULL,
	  "presenting the refresh token just rotated this soon after gets the same successor pair, not a reuse "
	  "revocation (0 = off)" },
	{ "PASSWORD_DICTIONARY", GX_CFG_STR, GX_PASSWORD_DICT_DEFAULT, 0, 0, OFF(password_dict), 0, NULL,
	  "cracklib's packed dictionary (path without .pwd/.pwi/.hwm) that new passwords are checked against" },
};

static int idy_init(const struct gx_api_config *shared, void *cfgp, void **appp)
{
	const struct idy_cfg *c = cfgp;
	struct idy_app *app;
	long threads = c->bcrypt_threads;

	if (threads <= 0) {
		threads = sysconf(_SC_NPROCESSORS_ONLN);
		if (threads <= 0)
			threads = 1;
	}
	/* the dummy hash for unknown emails costs what a real verify costs */
	if (gx_password_burn_init((int)c->bcrypt_cost) < 0 || gx_password_dict_init(c->password_dict) < 0)
		return -1;
	app = gx_xcalloc(1, sizeof(*app));
	app->cfg = c;
	app->shared = shared;
	app->pool = idy_hashpool_new((int)threads, (int)c->bcrypt_queue);
	if (!app->pool) {
		free(app);
		return -1;
	}
	gx_log_info("bcrypt pool: %ld threads, cost %lld", threads, c->bcrypt_cost);
	*appp = app;
	return 0;
}

static void idy_fini(void *appp)
{
	struct idy_app *app = appp;

	if (!app)
		return;
	idy_hashpool_free(app->pool);
	free(app);
}

static void *idy_worker_init(void *appp, struct event_base *base, struct gx_pg_pool *pg GX_UNUSED,
			     struct gx_redis *redis GX_UNUSED)
{
	struct idy_app *app = appp;

	return idy_hashq_new(app->pool, base);
}

static void idy_worker_free(void *state)
{
	idy_hashq_free(state);
}

int main(int argc, char **argv)
{
	const struct gx_api_service svc = {
		.name = "svc-identity",
		.routes = idy_routes,
		.nroutes = idy_nroutes,
		.openapi_json = gx_openapi_doc,
		.keys = idy_keys,
		.nkeys = GX_ARRAY_LEN(idy_keys),
		.cfg = &cfg,
		.init = idy_init,
		.fini = idy_fini,
		.worker_init = idy_worker_init,
		.worker_free = idy_worker_free,
	};

	return gx_api_main(argc, argv, &svc);
}

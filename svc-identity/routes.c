/* svc-identity route table (shared health, metrics, OpenAPI and command-status routes are added by gx_api_main). */
#include "identity.h"

#define AUTH_FLAGS (GX_ROUTE_STRICT_RL | GX_ROUTE_NO_IDEMP)

const struct gx_route idy_routes[] = {
	{ "POST", "/api/v1/auth/login", idy_auth_login, GX_AUTH_PUBLIC, AUTH_FLAGS },
	{ "POST", "/api/v1/auth/refresh", idy_auth_refresh, GX_AUTH_PUBLIC, GX_ROUTE_NO_IDEMP },
	{ "POST", "/api/v1/auth/logout", idy_auth_logout, GX_AUTH_PUBLIC, GX_ROUTE_NO_IDEMP | GX_ROUTE_PWC_OK },
	{ "POST", "/api/v1/users", idy_users_create, GX_AUTH_PUBLIC, GX_ROUTE_STRICT_RL },
	{ "GET", "/api/v1/users/{id}", idy_users_get, GX_AUTH_USER, GX_ROUTE_PWC_OK },
	/* email, phoneNum or password in the body: the strict limiter (enumeration, credential changes) */
	{ "PATCH", "/api/v1/users/{id}", idy_users_patch, GX_AUTH_USER,
	  GX_ROUTE_STRICT_RL_CREDENTIALS | GX_ROUTE_PWC_OK },
	/* the response may hold a generated password: never stored for replay */
	{ "POST", "/api/v1/users/{id}/password-reset", idy_users_password_reset, GX_AUTH_ADMIN,
	  GX_ROUTE_STRICT_RL | GX_ROUTE_NO_IDEMP },
	{ "POST", "/api/v1/users/{id}/kyc", idy_kyc_submit, GX_AUTH_USER, 0 },
	{ "GET", "/api/v1/users/{id}/kyc", idy_kyc_get, GX_AUTH_USER, 0 },
	{ "POST", "/api/v1/users/{id}/kyc/{kycId}/review", idy_kyc_review, GX_AUTH_ADMIN, 0 },
	{ "POST", "/api/v1/users/{id}/onchain", idy_users_onchain, GX_AUTH_USER, 0 },
};

const size_t idy_nroutes = GX_ARRAY_LEN(idy_routes);

/* Unit tests for gx/api.h: the daemon table and the tenant tools read (gx_api_tenant_env, the TENANT_ID row's
 * default). */
#include <stdlib.h>

#include "gx/api.h"
#include "gx_test.h"

GX_TEST(daemon_table)
{
	const struct gx_daemon_info *d = gx_daemon_lookup("svc-tax");

	GX_CHECK(gx_daemons_len == 9);
	GX_CHECK(d && d->port == 3007 && d->metrics_port == 3007);
	d = gx_daemon_lookup("projector");
	GX_CHECK(d && d->port == 0 && d->metrics_port == 9091);
	GX_CHECK(!gx_daemon_lookup("svc-nope"));
	GX_CHECK(!gx_daemon_lookup(NULL));
}

GX_TEST(tenant_env)
{
	unsetenv("TENANT_ID");
	GX_CHECK_STR(gx_api_tenant_env(), "default");
	GX_CHECK_STR(gx_api_tenant_env(), GX_API_TENANT_DEFAULT);
	setenv("TENANT_ID", "", 1);
	GX_CHECK_STR(gx_api_tenant_env(), "default");
	setenv("TENANT_ID", "acme", 1);
	GX_CHECK_STR(gx_api_tenant_env(), "acme");
	unsetenv("TENANT_ID");
}

int main(void)
{
	GX_RUN(daemon_table);
	GX_RUN(tenant_env);
	return gx_test_done();
}

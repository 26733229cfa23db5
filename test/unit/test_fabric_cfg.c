/* Unit tests for gx_fabric_cfg: the one FABRIC_* table both workers load, with the submitter's three identities or
 * the projector's partner one, and the limits chosen where the two former copies differed. */
#include <stdlib.h>
#include <string.h>

#include "gx/fabric_cfg.h"
#include "gx_test.h"

struct wcfg {
	long long own;
	struct gx_fabric_cfg fabric;
};

static void clear_env(const struct gx_cfg_key *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		unsetenv(k[i].name);
}

GX_TEST(rows_per_identity_choice)
{
	struct gx_cfg_key all[GX_FABRIC_CFG_MAX_ROWS], partner[GX_FABRIC_CFG_MAX_ROWS];
	size_t na = gx_fabric_cfg_rows(all, offsetof(struct wcfg, fabric), GX_FABRIC_CFG_ALL_IDS);
	size_t np = gx_fabric_cfg_rows(partner, offsetof(struct wcfg, fabric), GX_FABRIC_CFG_PARTNER_ONLY);

	GX_CHECK(na == 14);
	GX_CHECK(np == 10);
	GX_CHECK_STR(all[0].name, "FABRIC_PEER_ENDPOINT");
	GX_CHECK(all[0].offset == offsetof(struct wcfg, fabric.peer_endpoint));
	GX_CHECK_STR(all[8].name, "FABRIC_CERT_SUPER_ADMIN");
	GX_CHECK_STR(partner[8].name, "FABRIC_CERT_PARTNER");
	GX_CHECK_STR(partner[9].name, "FABRIC_KEY_PARTNER");
	GX_CHECK(partner[9].offset == offsetof(struct wcfg, fabric.key[GX_FABRIC_CFG_PARTNER]));
	/* the shared rows are the same for both workers */
	for (size_t i = 0; i < 8; i++) {
		GX_CHECK_STR(all[i].name, partner[i].name);
		GX_CHECK(all[i].min == partner[i].min && all[i].max == partner[i].max);
		GX_CHECK((all[i].def == NULL) == (partner[i].def == NULL));
	}
}

GX_TEST(partner_only_loads_with_defaults_and_stricter_limits)
{
	struct gx_cfg_key k[GX_FABRIC_CFG_MAX_ROWS];
	size_t n = gx_fabric_cfg_rows(k, offsetof(struct wcfg, fabric), GX_FABRIC_CFG_PARTNER_ONLY);
	struct wcfg c;
	char err[512];
	char longname[66];

	clear_env(k, n);
	setenv("FABRIC_CERT_PARTNER", "/tmp/cert.pem", 1);
	setenv("FABRIC_KEY_PARTNER", "/tmp/key.pem", 1);
	GX_CHECK(gx_cfg_load(k, n, &c, err, sizeof(err)) == 0);
	GX_CHECK_STR(c.fabric.peer_endpoint, "127.0.0.1:7051");
	GX_CHECK_STR(c.fabric.channel, "gxchannel");
	GX_CHECK_STR(c.fabric.tls_ca_file, "");
	GX_CHECK_STR(c.fabric.cert[GX_FABRIC_CFG_PARTNER], "/tmp/cert.pem");
	gx_cfg_free(k, n, &c);
	/* the projector's copy allowed 128 bytes; the shared table keeps the submitter's 64 */
	memset(longname, 'c', 65);
	longname[65] = '\0';
	setenv("FABRIC_CHANNEL", longname, 1);
	GX_CHECK(gx_cfg_load(k, n, &c, err, sizeof(err)) == -1);
	GX_CHECK(strstr(err, "FABRIC_CHANNEL") != NULL);
	clear_env(k, n);
}

GX_TEST(all_ids_require_every_identity)
{
	struct gx_cfg_key k[GX_FABRIC_CFG_MAX_ROWS];
	size_t n = gx_fabric_cfg_rows(k, offsetof(struct wcfg, fabric), GX_FABRIC_CFG_ALL_IDS);
	struct wcfg c;
	char err[512];

	clear_env(k, n);
	setenv("FABRIC_CERT_PARTNER", "/tmp/cert.pem", 1);
	setenv("FABRIC_KEY_PARTNER", "/tmp/key.pem", 1);
	GX_CHECK(gx_cfg_load(k, n, &c, err, sizeof(err)) == -1);
	GX_CHECK(strstr(err, "FABRIC_CERT_SUPER_ADMIN") != NULL);
	GX_CHECK(strstr(err, "FABRIC_KEY_ADMIN") != NULL);
	clear_env(k, n);
}

int main(void)
{
	GX_RUN(rows_per_identity_choice);
	GX_RUN(partner_only_loads_with_defaults_and_stricter_limits);
	GX_RUN(all_ids_require_every_identity);
	return gx_test_done();
}

/* The Fabric configuration rows shared by the outbox-submitter and the projector (gx/fabric_cfg.h). */
#include "gx/fabric_cfg.h"

#include <stdbool.h>

#include "gx/util.h"

#define OFF(f) offsetof(struct gx_fabric_cfg, f)
#define REQ GX_CFG_REQUIRED
#define PATH_MAX_LEN 4096

static const struct gx_cfg_key common_rows[] = {
	{ "FABRIC_PEER_ENDPOINT", GX_CFG_STR, "127.0.0.1:7051", 3, 255, OFF(peer_endpoint), 0, NULL,
	  "Fabric Gateway peer host:port" },
	{ "FABRIC_TLS_CA_FILE", GX_CFG_STR, NULL, 0, PATH_MAX_LEN, OFF(tls_ca_file), 0, NULL,
	  "PEM CA of the peer's TLS certificate; unset = plaintext" },
	{ "FABRIC_TLS_CERT_FILE", GX_CFG_STR, NULL, 0, PATH_MAX_LEN, OFF(tls_cert_file), 0, NULL,
	  "client TLS certificate (mutual TLS)" },
	{ "FABRIC_TLS_KEY_FILE", GX_CFG_STR, NULL, 0, PATH_MAX_LEN, OFF(tls_key_file), 0, NULL,
	  "client TLS key (mutual TLS)" },
	{ "FABRIC_TLS_SERVER_NAME", GX_CFG_STR, NULL, 0, 255, OFF(tls_server_name), 0, NULL,
	  "expected TLS server name of the peer; unset = the endpoint host" },
	{ "FABRIC_MSP_ID", GX_CFG_STR, "Org1MSP", 1, 64, OFF(msp_id), 0, NULL, "MSP id of the client identities" },
	{ "FABRIC_CHANNEL", GX_CFG_STR, "gxchannel", 1, 64, OFF(channel), 0, NULL, "channel name" },
	{ "FABRIC_CHAINCODE", GX_CFG_STR, "gxtv3", 1, 64, OFF(chaincode), 0, NULL, "chaincode name" },
};

/* Two rows (certificate, key) per identity, in GX_FABRIC_CFG_NIDS order. */
static const struct gx_cfg_key id_rows[2 * GX_FABRIC_CFG_NIDS] = {
	{ "FABRIC_CERT_SUPER_ADMIN", GX_CFG_STR, NULL, 1, PATH_MAX_LEN, OFF(cert[0]), REQ, NULL,
	  "PEM certificate with gxc_role=gx_super_admin" },
	{ "FABRIC_KEY_SUPER_ADMIN", GX_CFG_STR, NULL, 1, PATH_MAX_LEN, OFF(key[0]), REQ, NULL, "its PEM private key" },
	{ "FABRIC_CERT_ADMIN", GX_CFG_STR, NULL, 1, PATH_MAX_LEN, OFF(cert[1]), REQ, NULL,
	  "PEM certificate with gxc_role=gx_admin" },
	{ "FABRIC_KEY_ADMIN", GX_CFG_STR, NULL, 1, PATH_MAX_LEN, OFF(key[1]), REQ, NULL, "its PEM private key" },
	{ "FABRIC_CERT_PARTNER", GX_CFG_STR, NULL, 1, PATH_MAX_LEN, OFF(cert[2]), REQ, NULL,
	  "PEM certificate with gxc_role=gx_partner_api" },
	{ "FABRIC_KEY_PARTNER", GX_CFG_STR, NULL, 1, PATH_MAX_LEN, OFF(key[2]), REQ, NULL, "its PEM private key" },
};

static void put(struct gx_cfg_key *out, size_t *n, const struct gx_cfg_key *row, size_t base)
{
	out[*n] = *row;
	out[*n].offset += base;
	(*n)++;
}

size_t gx_fabric_cfg_rows(struct gx_cfg_key *out, size_t base, enum gx_fabric_cfg_ids ids)
{
	size_t n = 0;

	for (size_t i = 0; i < GX_ARRAY_LEN(common_rows); i++)
		put(out, &n, &common_rows[i], base);
	for (size_t i = 0; i < GX_FABRIC_CFG_NIDS; i++) {
		if (ids == GX_FABRIC_CFG_PARTNER_ONLY && i != GX_FABRIC_CFG_PARTNER)
			continue;
		put(out, &n, &id_rows[2 * i], base);
		put(out, &n, &id_rows[2 * i + 1], base);
	}
	return n;
}

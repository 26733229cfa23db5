/* The Fabric configuration rows both workers load (docs/configuration.md): peer endpoint, TLS, MSP id, channel,
 * chaincode and the client identities, with one set of defaults, limits and help text. A worker embeds struct
 * gx_fabric_cfg in its own configuration struct and builds its gx_cfg table from these rows followed by its own:
 *
 *   struct prj_cfg { struct gx_fabric_cfg fabric; char *name; ... };
 *   static struct gx_cfg_key keys[GX_FABRIC_CFG_MAX_ROWS + NOWN];
 *   size_t n = gx_fabric_cfg_rows(keys, offsetof(struct prj_cfg, fabric), GX_FABRIC_CFG_PARTNER_ONLY);
 *   memcpy(keys + n, own_rows, sizeof(own_rows));
 */
#ifndef GX_FABRIC_CFG_H
#define GX_FABRIC_CFG_H

#include <stddef.h>

#include "gx/cfg.h"

/* The client identities, in the order of enum gx_cc_identity. */
#define GX_FABRIC_CFG_NIDS 3
#define GX_FABRIC_CFG_PARTNER 2

/* Loaded by the rows below; strings never NULL once loaded ("" = unset where a row is optional). */
struct gx_fabric_cfg {
	char *peer_endpoint;            /* FABRIC_PEER_ENDPOINT host:port */
	char *tls_ca_file;              /* FABRIC_TLS_CA_FILE; "" = plaintext */
	char *tls_cert_file;            /* FABRIC_TLS_CERT_FILE (mTLS) */
	char *tls_key_file;             /* FABRIC_TLS_KEY_FILE */
	char *tls_server_name;          /* FABRIC_TLS_SERVER_NAME; "" = the endpoint host */
	char *msp_id;                   /* FABRIC_MSP_ID */
	char *channel;                  /* FABRIC_CHANNEL */
	char *chaincode;                /* FABRIC_CHAINCODE */
	char *cert[GX_FABRIC_CFG_NIDS]; /* FABRIC_CERT_SUPER_ADMIN, FABRIC_CERT_ADMIN, FABRIC_CERT_PARTNER (paths) */
	char *key[GX_FABRIC_CFG_NIDS];  /* FABRIC_KEY_SUPER_ADMIN, FABRIC_KEY_ADMIN, FABRIC_KEY_PARTNER (paths) */
};

/* Which identities a worker needs: all three (the submitter signs as each) or the partner one (the projector reads
 * the event stream with it). An identity left out is not loaded and its fields stay NULL. */
enum gx_fabric_cfg_ids {
	GX_FABRIC_CFG_ALL_IDS,
	GX_FABRIC_CFG_PARTNER_ONLY,
};

/* Most rows gx_fabric_cfg_rows() writes. */
#define GX_FABRIC_CFG_MAX_ROWS 14

/* Write the Fabric rows into out (room for GX_FABRIC_CFG_MAX_ROWS), their offsets shifted by base (offsetof the
 * embedded struct gx_fabric_cfg in the worker's struct). Returns the number of rows written. */
size_t gx_fabric_cfg_rows(struct gx_cfg_key *out, size_t base, enum gx_fabric_cfg_ids ids);

#endif

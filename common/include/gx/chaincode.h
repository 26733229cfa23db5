/* The one mapping from outbox commandType to a chaincode call (docs/chaincode.md is its prose form).
 *
 * gx_chaincode_map() turns an OutboxCommand (commandType + JSON payload) into the Fabric call the submitter makes:
 * "Contract:Function", its ordered string arguments, the client identity that submits it, and the aggregate key
 * that serialises commands in the submitter (at most one in flight per aggregate). It checks presence and JSON type
 * of every field it uses and never crashes on a malformed payload; value rules (amount > 0, ISO codes, vote words,
 * ...) are the chaincode's. A failure is permanent: the command can never be mapped, so it must not be retried.
 * Unknown payload fields are ignored. Also lists every commandType and every chaincode event name.
 */
#ifndef GX_CHAINCODE_H
#define GX_CHAINCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#define GX_CHAINCODE_CHANNEL "gxchannel"
#define GX_CHAINCODE_NAME "gxtv3"
#define GX_CHAINCODE_MAX_ARGS 6

/* Which client certificate submits a command; the certificate carries gxc_role. */
enum gx_cc_identity {
	GX_CC_ID_SUPER_ADMIN, /* gxc_role=gx_super_admin */
	GX_CC_ID_ADMIN,       /* gxc_role=gx_admin */
	GX_CC_ID_PARTNER,     /* gxc_role=gx_partner_api */
};

/* A mapped call. All strings are owned by the struct; release with gx_cc_call_release(). */
struct gx_cc_call {
	char *function;                    /* "Contract:Function", e.g. "TokenomicsContract:Transfer" */
	char *argv[GX_CHAINCODE_MAX_ARGS]; /* argc arguments, in order */
	size_t argc;
	enum gx_cc_identity identity;
	char *aggregate; /* e.g. "wallet:<userId>", "org:<orgId>", "system" */
};

/* Map one command. payload is borrowed (NULL is treated like a non-object). On success fills *out (caller releases)
 * and returns 0. On failure returns -1, leaves *out empty (safe to release) and writes a one-line reason to err
 * (e.g. "TRANSFER_TOKENS payload: field 'amount' must be a decimal string of integer Qirat"). Failures are input
 * errors and are not logged. Thread-safe. */
int gx_chaincode_map(const char *command_type, const cJSON *payload, struct gx_cc_call *out, char *err, size_t errlen);

/* Free what gx_chaincode_map() stored and zero *c. NULL-safe, idempotent. */
void gx_cc_call_release(struct gx_cc_call *c);

/* True when command_type has a mapping. */
bool gx_chaincode_known_command(const char *command_type);

/* The gxc_role value of an identity ("gx_super_admin", "gx_admin", "gx_partner_api"); static string. */
const char *gx_chaincode_identity_role(enum gx_cc_identity id);

/* Every mapped commandType, NULL-terminated (static). */
extern const char *const gx_chaincode_command_types[];

/* Every chaincode event name the chaincode emits, NULL-terminated (static). */
extern const char *const gx_chaincode_event_names[];

/* True when name is in gx_chaincode_event_names. */
bool gx_chaincode_known_event(const char *name);

#endif

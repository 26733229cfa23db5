/* Membership checks of the Fabric peer stand-in: decode a creator (msp.SerializedIdentity), check its MSP id and
 * that its X.509 certificate chains to the configured CA, read the Fabric CA attribute gxc_role, and verify an ECDSA
 * P-256 / SHA-256 DER signature made by it, rejecting high-S signatures as Fabric's verifier does.
 * Parsed identities are cached by the exact creator bytes. All functions are thread-safe.
 */
#ifndef PEER_MSP_H
#define PEER_MSP_H

#include <stddef.h>

enum peer_msp_result {
	PEER_MSP_OK,
	PEER_MSP_MALFORMED,     /* creator bytes are not a SerializedIdentity with a PEM certificate */
	PEER_MSP_UNKNOWN_ORG,   /* mspid is not ours */
	PEER_MSP_UNTRUSTED,     /* certificate does not chain to the CA, or is expired / not yet valid */
	PEER_MSP_BAD_SIGNATURE, /* signature malformed or does not verify */
	PEER_MSP_HIGH_S,        /* s > n/2 */
};

struct peer_msp;

/* What a verified creator is; strings borrowed from the msp's cache, valid until peer_msp_free(). */
struct peer_msp_ident {
	const char *msp_id;
	const char *role;    /* value of the gxc_role attribute, "" when absent */
	const char *subject; /* certificate subject, for logs */
};

/* Load the CA certificate(s) from ca_path (PEM). msp_id is copied. NULL (logged) on failure. Caller owns the
 * result; free with peer_msp_free(). */
struct peer_msp *peer_msp_new(const char *ca_path, const char *msp_id);
void peer_msp_free(struct peer_msp *m);

/* Check the creator and the signature over SHA-256(msg). On PEER_MSP_OK fills *out. Rejections are not logged
 * here (they are the client's errors); use peer_msp_result_str() for a message. */
enum peer_msp_result peer_msp_verify(struct peer_msp *m, const void *creator, size_t creator_len, const void *msg,
				     size_t msg_len, const void *sig, size_t sig_len, struct peer_msp_ident *out);

/* Check only the creator (no signature), e.g. for an identity named inside a request. */
enum peer_msp_result peer_msp_check_creator(struct peer_msp *m, const void *creator, size_t creator_len,
					    struct peer_msp_ident *out);

/* Fabric-like text for a rejection (static string). */
const char *peer_msp_result_str(enum peer_msp_result r);

#endif

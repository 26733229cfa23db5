/* The stand-in peer's own signing identity: an X.509 certificate and P-256 key issued by the MSP CA (mkdevca.sh
 * writes them to <devca>/peer/msp/), used to sign endorsements as a Fabric endorser does: ECDSA-SHA256 over
 * proposal response payload || endorser, DER encoded, s normalised to the lower half of the order (low-S).
 * The signer owns its key and a few signing contexts, each behind its own lock, so concurrent Endorse calls sign in
 * parallel. Thread-safe after peer_sign_new().
 */
#ifndef PEER_SIGN_H
#define PEER_SIGN_H

#include <stddef.h>

#include "peer_msp.h"

/* Upper bound of a DER ECDSA P-256 signature. */
#define PEER_SIGN_MAX 72

struct peer_sign;

/* Load cert_path (PEM) and key_path (PEM, PKCS#8 or SEC1); check that the key is P-256, matches the certificate,
 * and that the identity is a valid member of msp (msp_id, chains to the CA). NULL (logged) on failure. Caller owns
 * the result; free with peer_sign_free(). */
struct peer_sign *peer_sign_new(struct peer_msp *msp, const char *msp_id, const char *cert_path, const char *key_path);
void peer_sign_free(struct peer_sign *s);

/* The serialized msp.SerializedIdentity{msp_id, PEM certificate} (borrowed, valid until peer_sign_free()). */
const unsigned char *peer_sign_identity(const struct peer_sign *s, size_t *len);

/* Sign SHA-256(a || b) into sig (PEER_SIGN_MAX bytes); *sig_len gets the DER length. Returns 0, or -1 (logged). */
int peer_sign_sign(struct peer_sign *s, const void *a, size_t alen, const void *b, size_t blen,
		   unsigned char sig[PEER_SIGN_MAX], size_t *sig_len);

#endif

/* Fabric client identity: MSP id, X.509 certificate (PEM) and EC P-256 private key; ECDSA signing and verification
 * the way Fabric wants it (SHA-256 digest, DER SEQUENCE{r, s}, low-S), nonces and transaction ids.
 *
 *   struct gx_fabric_id *id = gx_fabric_id_load("Org1MSP", "cert.pem", "key.pem");
 *   unsigned char sig[GX_FABRIC_SIG_MAX];
 *   size_t sig_len;
 *   if (!id || gx_fabric_id_sign(id, msg, msg_len, sig, &sig_len) < 0)
 *           ...
 *   gx_fabric_id_free(id);
 *
 * An identity is thread-safe: nonces come from one CTR-DRBG behind a mutex; signatures are made by libcrypto
 * (its own thread-safe RNG) with a key that is read-only after loading.
 */
#ifndef GX_FABRIC_ID_H
#define GX_FABRIC_ID_H

#include <stdbool.h>
#include <stddef.h>

#include "gx/util.h"

/* Largest DER ECDSA P-256 signature: SEQUENCE header (2) + two INTEGERs of at most 33 bytes each with headers. */
#define GX_FABRIC_SIG_MAX 72
/* Nonce length used by the official Fabric clients. */
#define GX_FABRIC_NONCE_LEN 24
/* A transaction id: 64 lower-case hex characters plus NUL. */
#define GX_FABRIC_TXID_SIZE 65

struct gx_fabric_id;

/* Load an identity from PEM files. The certificate file's bytes are used verbatim as SerializedIdentity.id_bytes
 * (what the Node client does). The key may be PKCS#8 ("PRIVATE KEY") or SEC1 ("EC PRIVATE KEY"), unencrypted, on
 * curve P-256, and must match the certificate. Returns NULL (logged) on any failure. Caller owns the result; free
 * with gx_fabric_id_free(). Arguments are borrowed. */
struct gx_fabric_id *gx_fabric_id_load(const char *msp_id, const char *cert_path, const char *key_path) GX_MUSTCHECK;

/* Same as gx_fabric_id_load() from PEM text in memory (need not be NUL-terminated; lengths exclude any NUL). */
struct gx_fabric_id *gx_fabric_id_new(const char *msp_id, const char *cert_pem, size_t cert_len, const char *key_pem,
				      size_t key_len) GX_MUSTCHECK;

/* Free an identity; NULL is a no-op. */
void gx_fabric_id_free(struct gx_fabric_id *id);

/* The MSP id (borrowed, valid while id lives). */
const char *gx_fabric_id_msp_id(const struct gx_fabric_id *id);

/* The serialized msp.SerializedIdentity{mspid, id_bytes = certificate PEM} used as "creator" and "identity" in
 * every request (borrowed, valid while id lives); *len receives its length. */
const unsigned char *gx_fabric_id_creator(const struct gx_fabric_id *id, size_t *len);

/* Sign msg: ECDSA P-256 over SHA-256(msg), s normalised to s <= n/2, DER-encoded into sig (GX_FABRIC_SIG_MAX
 * bytes); *sig_len receives the length. Returns 0, or -1 (logged). */
int gx_fabric_id_sign(struct gx_fabric_id *id, const void *msg, size_t msg_len, unsigned char *sig,
		      size_t *sig_len) GX_MUSTCHECK;

/* Fill out with GX_FABRIC_NONCE_LEN bytes from the identity's CSPRNG. Returns 0, or -1 (logged). */
int gx_fabric_id_nonce(struct gx_fabric_id *id, unsigned char *out) GX_MUSTCHECK;

/* Transaction id rule: lower-case hex(SHA-256(nonce || creator)) into out (GX_FABRIC_TXID_SIZE bytes). */
void gx_fabric_id_txid(const unsigned char *nonce, size_t nonce_len, const unsigned char *creator, size_t creator_len,
		       char *out);

/* Verify a DER ECDSA signature over SHA-256(msg) with the public key of a PEM (or DER) certificate, as Fabric's
 * verifier does: rejects malformed DER, r or s not in [1, n-1], high S (s > n/2), non-P-256 keys. Returns true when
 * valid. On false, *why (if not NULL) points to a static reason string. Nothing is logged. */
bool gx_fabric_id_verify(const unsigned char *cert, size_t cert_len, const void *msg, size_t msg_len,
			 const unsigned char *sig, size_t sig_len, const char **why);

/* Test aid: rewrite a DER P-256 signature with s replaced by n - s (turns a low-S signature into the equivalent
 * high-S one and back). out holds GX_FABRIC_SIG_MAX bytes. Returns 0, or -1 (logged) if sig is not valid DER. */
int gx_fabric_id_sig_negate_s(const unsigned char *sig, size_t sig_len, unsigned char *out, size_t *out_len);

#endif

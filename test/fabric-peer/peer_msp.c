/* Creator identity and signature checks for the Fabric peer stand-in: X.509 with mbedTLS, the ECDSA verification
 * itself with OpenSSL's libcrypto (several times faster than mbedTLS's P-256; three checks per transaction). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mbedtls/asn1.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "gx/log.h"
#include "gx/util.h"
#include "msp/identities.pb-c.h"
#include "peer_msp.h"

/* Fabric CA attribute extension OID 1.2.3.4.5.6.7.8.1, DER content octets. */
static const unsigned char ATTR_OID[] = { 0x2a, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01 };

struct msp_entry {
	unsigned char key[32]; /* SHA-256 of the creator bytes */
	enum peer_msp_result result;
	mbedtls_x509_crt crt;
	EVP_PKEY *pub;      /* the certificate's public key for libcrypto (read-only once filled) */
	mbedtls_mpi half_n; /* n/2 of P-256, for the low-S rule */
	char *msp_id;
	char *role;
	char *subject;
	struct msp_entry *next;
};

struct peer_msp {
	mbedtls_x509_crt ca;
	char *msp_id;
	pthread_mutex_t lock;
	struct msp_entry *cache; /* never shrinks: a test peer sees a handful of identities */
};

struct peer_msp *peer_msp_new(const char *ca_path, const char *msp_id)
{
	struct peer_msp *m = gx_xcalloc(1, sizeof(*m));
	int rc;

	mbedtls_x509_crt_init(&m->ca);
	rc = mbedtls_x509_crt_parse_file(&m->ca, ca_path);
	if (rc != 0) {
		gx_log_error("cannot load CA certificate '%s': mbedtls error -0x%04x", ca_path, (unsigned)-rc);
		mbedtls_x509_crt_free(&m->ca);
		free(m);
		return NULL;
	}
	m->msp_id = gx_xstrdup(msp_id);
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

void peer_msp_free(struct peer_msp *m)
{
	if (!m)
		return;
	for (struct msp_entry *e = m->cache, *n; e; e = n) {
		n = e->next;
		mbedtls_x509_crt_free(&e->crt);
		EVP_PKEY_free(e->pub);
		mbedtls_mpi_free(&e->half_n);
		free(e->msp_id);
		free(e->role);
		free(e->subject);
		free(e);
	}
	mbedtls_x509_crt_free(&m->ca);
	pthread_mutex_destroy(&m->lock);
	free(m->msp_id);
	free(m);
}

const char *peer_msp_result_str(enum peer_msp_result r)
{
	switch (r) {
	case PEER_MSP_OK:
		return "ok";
	case PEER_MSP_MALFORMED:
		return "creator is malformed: expected a serialized identity with a PEM certificate";
	case PEER_MSP_UNKNOWN_ORG:
		return "access denied: creator org unknown, MSP id is not a member of the channel";
	case PEER_MSP_UNTRUSTED:
		return "access denied: creator certificate is not valid: it does not chain to the MSP's CA or is expired";
	case PEER_MSP_BAD_SIGNATURE:
		return "the creator's signature is not valid";
	case PEER_MSP_HIGH_S:
		return "the creator's signature is not valid: invalid S, must be smaller than half the order";
	}
	return "unknown identity error";
}

/* Walk the certificate's extensions for the Fabric attribute one and return its gxc_role (heap) or "" copy. */
static char *cert_role(const mbedtls_x509_crt *crt)
{
	unsigned char *p = crt->v3_ext.p, *end = p + crt->v3_ext.len, *ext_end, *val;
	size_t len;
	char *role = NULL;

	if (!p || crt->v3_ext.len == 0)
		return gx_xstrdup("");
	if (*p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3) &&
	    mbedtls_asn1_get_tag(&p, end, &len, *p) != 0)
		return gx_xstrdup("");
	if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
		return gx_xstrdup("");
	end = p + len;
	while (p < end && !role) {
		int crit = 0;

		if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
			break;
		ext_end = p + len;
		if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OID) != 0)
			break;
		if (len != sizeof(ATTR_OID) || memcmp(p, ATTR_OID, len) != 0) {
			p = ext_end;
			continue;
		}
		p += len;
		(void)mbedtls_asn1_get_bool(&p, ext_end, &crit);
		if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0)
			break;
		val = p;
		cJSON *doc = cJSON_ParseWithLength((const char *)val, len);
		cJSON *attrs = cJSON_GetObjectItemCaseSensitive(doc, "attrs");
		cJSON *r = cJSON_GetObjectItemCaseSensitive(attrs, "gxc_role");
		if (cJSON_IsString(r))
			role = gx_xstrdup(r->valuestring);
		cJSON_Delete(doc);
		p = ext_end;
	}
	return role ? role : gx_xstrdup("");
}

/* Parse and check a creator; fills a new cache entry (caller inserts it). */
static void entry_fill(struct peer_msp *m, struct msp_entry *e, const void *creator, size_t creator_len)
{
	Msp__SerializedIdentity *si = msp__serialized_identity__unpack(NULL, creator_len, creator);
	char *pem = NULL;
	uint32_t flags = 0;
	char subj[512];
	unsigned char der[256];
	const unsigned char *dp;
	int dl;

	mbedtls_x509_crt_init(&e->crt);
	mbedtls_mpi_init(&e->half_n);
	e->role = gx_xstrdup("");
	e->subject = gx_xstrdup("");
	e->msp_id = gx_xstrdup(si && si->mspid ? si->mspid : "");
	if (!si || si->id_bytes.len == 0) {
		e->result = PEER_MSP_MALFORMED;
		goto out;
	}
	pem = gx_xmalloc(si->id_bytes.len + 1);
	memcpy(pem, si->id_bytes.data, si->id_bytes.len);
	pem[si->id_bytes.len] = '\0';
	if (mbedtls_x509_crt_parse(&e->crt, (const unsigned char *)pem, si->id_bytes.len + 1) != 0 ||
	    !mbedtls_pk_can_do(&e->crt.pk, MBEDTLS_PK_ECKEY) ||
	    mbedtls_pk_ec(e->crt.pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
		e->result = PEER_MSP_MALFORMED;
		goto out;
	}
	if (strcmp(si->mspid, m->msp_id) != 0) {
		e->result = PEER_MSP_UNKNOWN_ORG;
		goto out;
	}
	if (mbedtls_x509_crt_verify(&e->crt, &m->ca, NULL, NULL, &flags, NULL, NULL) != 0) {
		e->result = PEER_MSP_UNTRUSTED;
		goto out;
	}
	if (mbedtls_x509_dn_gets(subj, sizeof(subj), &e->crt.subject) > 0) {
		free(e->subject);
		e->subject = gx_xstrdup(subj);
	}
	dl = mbedtls_pk_write_pubkey_der(&e->crt.pk, der, sizeof(der));
	dp = der + sizeof(der) - (dl > 0 ? dl : 0);
	if (dl <= 0 || !(e->pub = d2i_PUBKEY(NULL, &dp, dl)) ||
	    mbedtls_mpi_copy(&e->half_n, &mbedtls_pk_ec(e->crt.pk)->grp.N) != 0 ||
	    mbedtls_mpi_shift_r(&e->half_n, 1) != 0) {
		e->result = PEER_MSP_MALFORMED;
		goto out;
	}
	free(e->role);
	e->role = cert_role(&e->crt);
	e->result = PEER_MSP_OK;
out:
	free(pem);
	msp__serialized_identity__free_unpacked(si, NULL);
}

static struct msp_entry *lookup(struct peer_msp *m, const void *creator, size_t creator_len)
{
	unsigned char key[32];
	struct msp_entry *e;

	mbedtls_sha256_ret(creator, creator_len, key, 0);
	pthread_mutex_lock(&m->lock);
	for (e = m->cache; e; e = e->next)
		if (memcmp(e->key, key, 32) == 0)
			break;
	if (!e) {
		e = gx_xcalloc(1, sizeof(*e));
		memcpy(e->key, key, 32);
		entry_fill(m, e, creator, creator_len);
		e->next = m->cache;
		m->cache = e;
	}
	pthread_mutex_unlock(&m->lock);
	return e;
}

enum peer_msp_result peer_msp_check_creator(struct peer_msp *m, const void *creator, size_t creator_len,
					    struct peer_msp_ident *out)
{
	struct msp_entry *e;

	if (!creator || creator_len == 0)
		return PEER_MSP_MALFORMED;
	e = lookup(m, creator, creator_len);
	if (e->result == PEER_MSP_OK && out) {
		out->msp_id = e->msp_id;
		out->role = e->role;
		out->subject = e->subject;
	}
	return e->result;
}

/* DER SEQUENCE{INTEGER r, INTEGER s} with 0 < r, 0 < s <= n/2, then ECDSA verify of the digest (libcrypto also
 * rejects r or s >= n and non-canonical DER). */
static enum peer_msp_result verify_sig(const struct msp_entry *e, const unsigned char hash[32],
				       const unsigned char *sig, size_t sig_len)
{
	unsigned char *p = (unsigned char *)sig, *end = p + sig_len;
	EVP_PKEY_CTX *ctx = NULL;
	mbedtls_mpi r, s;
	size_t len;
	enum peer_msp_result res = PEER_MSP_BAD_SIGNATURE;

	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 ||
	    p + len != end || mbedtls_asn1_get_mpi(&p, end, &r) != 0 || mbedtls_asn1_get_mpi(&p, end, &s) != 0 ||
	    p != end)
		goto out;
	if (mbedtls_mpi_cmp_int(&r, 0) <= 0 || mbedtls_mpi_cmp_int(&s, 0) <= 0)
		goto out;
	if (mbedtls_mpi_cmp_mpi(&s, &e->half_n) > 0) {
		res = PEER_MSP_HIGH_S;
		goto out;
	}
	ctx = EVP_PKEY_CTX_new(e->pub, NULL);
	if (ctx && EVP_PKEY_verify_init(ctx) > 0 && EVP_PKEY_verify(ctx, sig, sig_len, hash, 32) == 1)
		res = PEER_MSP_OK;
	else
		ERR_clear_error();
out:
	EVP_PKEY_CTX_free(ctx);
	mbedtls_mpi_free(&s);
	mbedtls_mpi_free(&r);
	return res;
}

enum peer_msp_result peer_msp_verify(struct peer_msp *m, const void *creator, size_t creator_len, const void *msg,
				     size_t msg_len, const void *sig, size_t sig_len, struct peer_msp_ident *out)
{
	unsigned char hash[32];
	struct msp_entry *e;
	enum peer_msp_result res;

	if (!creator || creator_len == 0)
		return PEER_MSP_MALFORMED;
	e = lookup(m, creator, creator_len);
	if (e->result != PEER_MSP_OK)
		return e->result;
	if (!sig || sig_len == 0)
		return PEER_MSP_BAD_SIGNATURE;
	mbedtls_sha256_ret(msg, msg_len, hash, 0);
	res = verify_sig(e, hash, sig, sig_len);
	if (res == PEER_MSP_OK && out) {
		out->msp_id = e->msp_id;
		out->role = e->role;
		out->subject = e->subject;
	}
	return res;
}

/* Fabric identity: PEM loading, serialized creator, low-S ECDSA P-256 signing and verification, nonces, tx ids.
 * Keys and certificates are parsed with mbedTLS; the ECDSA signature itself is made by OpenSSL's libcrypto, whose
 * P-256 code is an order of magnitude faster than mbedTLS's (three signatures per submitted transaction). */
#include "gx/fabric_id.h"
#include "gx/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "msp/identities.pb-c.h"

/* PEM files are small; refuse anything absurd rather than reading it. */
#define PEM_FILE_MAX (1024 * 1024)

struct gx_fabric_id {
	char *msp_id;
	unsigned char *creator;
	size_t creator_len;
	mbedtls_pk_context key;
	EVP_PKEY *sign_key;   /* the same private key for libcrypto (read-only after load: safe from any thread) */
	pthread_mutex_t lock; /* guards drbg */
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

static const char *mbed_strerror(int rc, char *buf, size_t n)
{
	mbedtls_strerror(rc, buf, n);
	return buf;
}

/* Read a whole file into a NUL-terminated heap buffer (caller frees). Returns NULL (logged) on failure. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;

	if (!f) {
		gx_log_error("cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	buf = gx_xmalloc(PEM_FILE_MAX + 1);
	n = fread(buf, 1, PEM_FILE_MAX + 1, f);
	if (ferror(f)) {
		gx_log_error("cannot read '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (n > PEM_FILE_MAX) {
		gx_log_error("'%s' is larger than %d bytes", path, PEM_FILE_MAX);
		goto fail;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

struct gx_fabric_id *gx_fabric_id_load(const char *msp_id, const char *cert_path, const char *key_path)
{
	struct gx_fabric_id *id = NULL;
	char *cert = NULL, *key = NULL;
	size_t cert_len = 0, key_len = 0;

	cert = read_file(cert_path, &cert_len);
	if (!cert)
		goto out;
	key = read_file(key_path, &key_len);
	if (!key)
		goto out;
	id = gx_fabric_id_new(msp_id, cert, cert_len, key, key_len);
out:
	free(cert);
	if (key) {
		mbedtls_platform_zeroize(key, key_len);
		free(key);
	}
	return id;
}

/* Pack msp.SerializedIdentity{mspid, id_bytes = pem}. */
static unsigned char *make_creator(const char *msp_id, const char *pem, size_t pem_len, size_t *len)
{
	Msp__SerializedIdentity si = MSP__SERIALIZED_IDENTITY__INIT;
	unsigned char *buf;

	si.mspid = (char *)msp_id;
	si.id_bytes.data = (uint8_t *)pem;
	si.id_bytes.len = pem_len;
	*len = msp__serialized_identity__get_packed_size(&si);
	buf = gx_xmalloc(*len);
	msp__serialized_identity__pack(&si, buf);
	return buf;
}

/* Parse the certificate and key, check both are P-256 and belong together. */
static int parse_keys(struct gx_fabric_id *id, const char *cert_pem, size_t cert_len, const char *key_pem,
		      size_t key_len)
{
	mbedtls_x509_crt crt;
	unsigned char *kbuf = NULL, *cbuf = NULL;
	BIO *bio = NULL;
	char err[128];
	int rc, ret = -1;

	mbedtls_x509_crt_init(&crt);
	/* mbedTLS wants PEM input NUL-terminated with the NUL counted in the length. */
	cbuf = gx_xmalloc(cert_len + 1);
	memcpy(cbuf, cert_pem, cert_len);
	cbuf[cert_len] = '\0';
	kbuf = gx_xmalloc(key_len + 1);
	memcpy(kbuf, key_pem, key_len);
	kbuf[key_len] = '\0';

	rc = mbedtls_x509_crt_parse(&crt, cbuf, cert_len + 1);
	if (rc != 0) {
		gx_log_error("cannot parse certificate of '%s': %s", id->msp_id, mbed_strerror(rc, err, sizeof(err)));
		goto out;
	}
	rc = mbedtls_pk_parse_key(&id->key, kbuf, key_len + 1, NULL, 0);
	if (rc != 0) {
		gx_log_error("cannot parse private key of '%s': %s", id->msp_id, mbed_strerror(rc, err, sizeof(err)));
		goto out;
	}
	if (!mbedtls_pk_can_do(&id->key, MBEDTLS_PK_ECKEY) ||
	    mbedtls_pk_ec(id->key)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
		gx_log_error("private key of '%s' is not an EC P-256 key", id->msp_id);
		goto out;
	}
	rc = mbedtls_pk_check_pair(&crt.pk, &id->key);
	if (rc != 0) {
		gx_log_error("private key of '%s' does not match its certificate: %s", id->msp_id,
			     mbed_strerror(rc, err, sizeof(err)));
		goto out;
	}
	bio = BIO_new_mem_buf(kbuf, (int)key_len);
	id->sign_key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	if (!id->sign_key || EVP_PKEY_get_base_id(id->sign_key) != EVP_PKEY_EC) {
		gx_log_error("libcrypto cannot load the private key of '%s'", id->msp_id);
		goto out;
	}
	ret = 0;
out:
	BIO_free(bio);
	mbedtls_x509_crt_free(&crt);
	mbedtls_platform_zeroize(kbuf, key_len + 1);
	free(kbuf);
	free(cbuf);
	return ret;
}

struct gx_fabric_id *gx_fabric_id_new(const char *msp_id, const char *cert_pem, size_t cert_len, const char *key_pem,
				      size_t key_len)
{
	static const char pers[] = "gx-fabric-id";
	struct gx_fabric_id *id;
	char err[128];
	int rc;

	if (!msp_id || !*msp_id) {
		gx_log_error("fabric identity needs a non-empty MSP id");
		return NULL;
	}
	id = gx_xcalloc(1, sizeof(*id));
	id->msp_id = gx_xstrdup(msp_id);
	mbedtls_pk_init(&id->key);
	mbedtls_entropy_init(&id->entropy);
	mbedtls_ctr_drbg_init(&id->drbg);
	pthread_mutex_init(&id->lock, NULL);
	if (parse_keys(id, cert_pem, cert_len, key_pem, key_len) < 0)
		goto fail;
	rc = mbedtls_ctr_drbg_seed(&id->drbg, mbedtls_entropy_func, &id->entropy, (const unsigned char *)pers,
				   sizeof(pers) - 1);
	if (rc != 0) {
		gx_log_error("mbedtls_ctr_drbg_seed failed: %s", mbed_strerror(rc, err, sizeof(err)));
		goto fail;
	}
	mbedtls_ctr_drbg_set_prediction_resistance(&id->drbg, MBEDTLS_CTR_DRBG_PR_OFF);
	id->creator = make_creator(msp_id, cert_pem, cert_len, &id->creator_len);
	return id;
fail:
	gx_fabric_id_free(id);
	return NULL;
}

void gx_fabric_id_free(struct gx_fabric_id *id)
{
	if (!id)
		return;
	mbedtls_pk_free(&id->key);
	EVP_PKEY_free(id->sign_key);
	mbedtls_ctr_drbg_free(&id->drbg);
	mbedtls_entropy_free(&id->entropy);
	pthread_mutex_destroy(&id->lock);
	free(id->creator);
	free(id->msp_id);
	free(id);
}

const char *gx_fabric_id_msp_id(const struct gx_fabric_id *id)
{
	return id->msp_id;
}

const unsigned char *gx_fabric_id_creator(const struct gx_fabric_id *id, size_t *len)
{
	*len = id->creator_len;
	return id->creator;
}

/* DER SEQUENCE{INTEGER r, INTEGER s} into out (GX_FABRIC_SIG_MAX). mbedTLS writes ASN.1 backwards from the end. */
static int der_encode(const mbedtls_mpi *r, const mbedtls_mpi *s, unsigned char *out, size_t *out_len)
{
	unsigned char buf[GX_FABRIC_SIG_MAX + 8];
	unsigned char *p = buf + sizeof(buf);
	int n, len = 0;

	if ((n = mbedtls_asn1_write_mpi(&p, buf, s)) < 0)
		goto fail;
	len += n;
	if ((n = mbedtls_asn1_write_mpi(&p, buf, r)) < 0)
		goto fail;
	len += n;
	if ((n = mbedtls_asn1_write_len(&p, buf, (size_t)len)) < 0)
		goto fail;
	len += n;
	if ((n = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0)
		goto fail;
	len += n;
	if (len > GX_FABRIC_SIG_MAX)
		goto fail;
	memcpy(out, p, (size_t)len);
	*out_len = (size_t)len;
	return 0;
fail:
	gx_log_error("cannot DER-encode ECDSA signature");
	return -1;
}

/* Parse DER SEQUENCE{INTEGER r, INTEGER s} with nothing trailing. Returns 0 or -1 (not logged). */
static int der_decode(const unsigned char *sig, size_t sig_len, mbedtls_mpi *r, mbedtls_mpi *s)
{
	unsigned char *p = (unsigned char *)sig;
	const unsigned char *end = sig + sig_len;
	size_t len;

	if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
		return -1;
	if (p + len != end)
		return -1;
	if (mbedtls_asn1_get_mpi(&p, end, r) != 0 || mbedtls_asn1_get_mpi(&p, end, s) != 0)
		return -1;
	return p == end ? 0 : -1;
}

/* s := n - s when s > n/2. */
static int normalise_low_s(const mbedtls_ecp_group *grp, mbedtls_mpi *s)
{
	mbedtls_mpi half;
	int rc = 0;

	mbedtls_mpi_init(&half);
	if (mbedtls_mpi_copy(&half, &grp->N) != 0 || mbedtls_mpi_shift_r(&half, 1) != 0) {
		rc = -1;
		goto out;
	}
	if (mbedtls_mpi_cmp_mpi(s, &half) > 0 && mbedtls_mpi_sub_mpi(s, &grp->N, s) != 0)
		rc = -1;
out:
	mbedtls_mpi_free(&half);
	return rc;
}

int gx_fabric_id_sign(struct gx_fabric_id *id, const void *msg, size_t msg_len, unsigned char *sig, size_t *sig_len)
{
	mbedtls_ecp_keypair *kp = mbedtls_pk_ec(id->key);
	unsigned char hash[32], der[GX_FABRIC_SIG_MAX + 8];
	size_t der_len = sizeof(der);
	EVP_PKEY_CTX *ctx = NULL;
	mbedtls_mpi r, s;
	char err[128];
	int rc, ret = -1;

	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	rc = mbedtls_sha256_ret(msg, msg_len, hash, 0);
	if (rc != 0) {
		gx_log_error("mbedtls_sha256_ret failed: %s", mbed_strerror(rc, err, sizeof(err)));
		goto out;
	}
	/* EVP_PKEY_sign on an EC key signs the given digest as is; the result is DER SEQUENCE{r, s} */
	ctx = EVP_PKEY_CTX_new(id->sign_key, NULL);
	if (!ctx || EVP_PKEY_sign_init(ctx) <= 0 || EVP_PKEY_sign(ctx, der, &der_len, hash, sizeof(hash)) <= 0) {
		ERR_clear_error();
		gx_log_error("ECDSA signing with libcrypto failed");
		goto out;
	}
	if (der_decode(der, der_len, &r, &s) < 0 || normalise_low_s(&kp->grp, &s) < 0) {
		gx_log_error("cannot normalise ECDSA signature to low S");
		goto out;
	}
	ret = der_encode(&r, &s, sig, sig_len);
out:
	EVP_PKEY_CTX_free(ctx);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	return ret;
}

int gx_fabric_id_nonce(struct gx_fabric_id *id, unsigned char *out)
{
	char err[128];
	int rc;

	pthread_mutex_lock(&id->lock);
	rc = mbedtls_ctr_drbg_random(&id->drbg, out, GX_FABRIC_NONCE_LEN);
	pthread_mutex_unlock(&id->lock);
	if (rc != 0) {
		gx_log_error("mbedtls_ctr_drbg_random failed: %s", mbed_strerror(rc, err, sizeof(err)));
		return -1;
	}
	return 0;
}

void gx_fabric_id_txid(const unsigned char *nonce, size_t nonce_len, const unsigned char *creator, size_t creator_len,
		       char *out)
{
	mbedtls_sha256_context ctx;
	unsigned char hash[32];

	mbedtls_sha256_init(&ctx);
	/* SHA-256 over memory cannot fail in the software implementation; results are checked anyway. */
	if (mbedtls_sha256_starts_ret(&ctx, 0) != 0 || mbedtls_sha256_update_ret(&ctx, nonce, nonce_len) != 0 ||
	    mbedtls_sha256_update_ret(&ctx, creator, creator_len) != 0 || mbedtls_sha256_finish_ret(&ctx, hash) != 0)
		abort();
	mbedtls_sha256_free(&ctx);
	gx_hex_encode(hash, sizeof(hash), out);
}

bool gx_fabric_id_verify(const unsigned char *cert, size_t cert_len, const void *msg, size_t msg_len,
			 const unsigned char *sig, size_t sig_len, const char **why)
{
	mbedtls_x509_crt crt;
	mbedtls_ecp_keypair *kp;
	mbedtls_mpi r, s, half;
	unsigned char hash[32], *buf;
	const char *reason = NULL;

	mbedtls_x509_crt_init(&crt);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	mbedtls_mpi_init(&half);
	buf = gx_xmalloc(cert_len + 1);
	memcpy(buf, cert, cert_len);
	buf[cert_len] = '\0';
	if (mbedtls_x509_crt_parse(&crt, buf, cert_len + 1) != 0 &&
	    mbedtls_x509_crt_parse_der(&crt, buf, cert_len) != 0) {
		reason = "cannot parse certificate";
		goto out;
	}
	if (!mbedtls_pk_can_do(&crt.pk, MBEDTLS_PK_ECKEY) ||
	    mbedtls_pk_ec(crt.pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
		reason = "certificate key is not EC P-256";
		goto out;
	}
	kp = mbedtls_pk_ec(crt.pk);
	if (der_decode(sig, sig_len, &r, &s) < 0) {
		reason = "signature is not DER SEQUENCE{r, s}";
		goto out;
	}
	if (mbedtls_mpi_cmp_int(&r, 0) <= 0 || mbedtls_mpi_cmp_int(&s, 0) <= 0 ||
	    mbedtls_mpi_cmp_mpi(&r, &kp->grp.N) >= 0 || mbedtls_mpi_cmp_mpi(&s, &kp->grp.N) >= 0) {
		reason = "signature r or s out of range";
		goto out;
	}
	if (mbedtls_mpi_copy(&half, &kp->grp.N) != 0 || mbedtls_mpi_shift_r(&half, 1) != 0) {
		reason = "out of memory";
		goto out;
	}
	if (mbedtls_mpi_cmp_mpi(&s, &half) > 0) {
		reason = "invalid S: must be smaller than half the order";
		goto out;
	}
	if (mbedtls_sha256_ret(msg, msg_len, hash, 0) != 0 ||
	    mbedtls_ecdsa_verify(&kp->grp, hash, sizeof(hash), &kp->Q, &r, &s) != 0) {
		reason = "signature does not verify";
		goto out;
	}
out:
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	mbedtls_mpi_free(&half);
	mbedtls_x509_crt_free(&crt);
	free(buf);
	if (why)
		*why = reason;
	return reason == NULL;
}

int gx_fabric_id_sig_negate_s(const unsigned char *sig, size_t sig_len, unsigned char *out, size_t *out_len)
{
	mbedtls_ecp_group grp;
	mbedtls_mpi r, s;
	int ret = -1;

	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	if (der_decode(sig, sig_len, &r, &s) < 0) {
		gx_log_error("signature is not DER SEQUENCE{r, s}");
		goto out;
	}
	if (mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) != 0 || mbedtls_mpi_sub_mpi(&s, &grp.N, &s) != 0) {
		gx_log_error("cannot negate signature S");
		goto out;
	}
	ret = der_encode(&r, &s, out, out_len);
out:
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	mbedtls_ecp_group_free(&grp);
	return ret;
}

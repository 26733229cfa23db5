/* Endorsement signatures of the Fabric peer stand-in with mbedTLS (see peer_sign.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "gx/log.h"
#include "gx/rand.h"
#include "gx/util.h"
#include "msp/identities.pb-c.h"
#include "peer_sign.h"

/* Signing contexts: an mbedTLS group caches its base-point table after the first use, so each slot keeps its own. */
#define SLOTS 4

struct slot {
	pthread_mutex_t lock;
	mbedtls_ecp_group grp;
};

struct peer_sign {
	mbedtls_pk_context key;
	mbedtls_mpi half_n;
	unsigned char *identity; /* serialized SerializedIdentity */
	size_t identity_len;
	atomic_uint next; /* round-robin slot choice */
	struct slot slots[SLOTS];
};

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto fail;
	buf = gx_xmalloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		goto fail;
	buf[n] = '\0';
	*len = (size_t)n;
	fclose(f);
	return buf;
fail:
	gx_log_error("cannot read '%s'", path);
	if (f)
		fclose(f);
	free(buf);
	return NULL;
}

static int rng(void *ctx, unsigned char *out, size_t n)
{
	(void)ctx;
	return gx_rand_bytes(out, n) == 0 ? 0 : -1;
}

struct peer_sign *peer_sign_new(struct peer_msp *msp, const char *msp_id, const char *cert_path, const char *key_path)
{
	struct peer_sign *s = gx_xcalloc(1, sizeof(*s));
	Msp__SerializedIdentity si = MSP__SERIALIZED_IDENTITY__INIT;
	mbedtls_x509_crt crt;
	size_t pem_len = 0;
	char *pem = NULL;
	enum peer_msp_result mr;
	int rc, nslots = 0;

	mbedtls_x509_crt_init(&crt);
	mbedtls_pk_init(&s->key);
	mbedtls_mpi_init(&s->half_n);
	pem = read_file(cert_path, &pem_len);
	if (!pem)
		goto fail;
	rc = mbedtls_x509_crt_parse(&crt, (const unsigned char *)pem, pem_len + 1);
	if (rc != 0) {
		gx_log_error("cannot parse peer certificate '%s': mbedtls error -0x%04x", cert_path, (unsigned)-rc);
		goto fail;
	}
	rc = mbedtls_pk_parse_keyfile(&s->key, key_path, NULL);
	if (rc != 0) {
		gx_log_error("cannot load peer key '%s': mbedtls error -0x%04x", key_path, (unsigned)-rc);
		goto fail;
	}
	if (!mbedtls_pk_can_do(&s->key, MBEDTLS_PK_ECKEY) ||
	    mbedtls_pk_ec(s->key)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
		gx_log_error("peer key '%s' is not an EC P-256 key", key_path);
		goto fail;
	}
	if (mbedtls_pk_check_pair(&crt.pk, &s->key) != 0) {
		gx_log_error("peer key '%s' does not match the certificate '%s'", key_path, cert_path);
		goto fail;
	}
	si.mspid = (char *)msp_id;
	si.id_bytes.data = (unsigned char *)pem;
	si.id_bytes.len = pem_len;
	s->identity_len = msp__serialized_identity__get_packed_size(&si);
	s->identity = gx_xmalloc(s->identity_len + 1);
	msp__serialized_identity__pack(&si, s->identity);
	mr = peer_msp_check_creator(msp, s->identity, s->identity_len, NULL);
	if (mr != PEER_MSP_OK) {
		gx_log_error("peer certificate '%s' is not a valid %s identity: %s", cert_path, msp_id,
			     peer_msp_result_str(mr));
		goto fail;
	}
	if (mbedtls_mpi_copy(&s->half_n, &mbedtls_pk_ec(s->key)->grp.N) != 0 || mbedtls_mpi_shift_r(&s->half_n, 1) != 0)
		goto fail;
	for (; nslots < SLOTS; nslots++) {
		mbedtls_ecp_group_init(&s->slots[nslots].grp);
		if (mbedtls_ecp_group_load(&s->slots[nslots].grp, MBEDTLS_ECP_DP_SECP256R1) != 0) {
			mbedtls_ecp_group_free(&s->slots[nslots].grp);
			gx_log_error("cannot load the P-256 group");
			goto fail;
		}
		pthread_mutex_init(&s->slots[nslots].lock, NULL);
	}
	mbedtls_x509_crt_free(&crt);
	free(pem);
	return s;
fail:
	for (int i = 0; i < nslots; i++) {
		mbedtls_ecp_group_free(&s->slots[i].grp);
		pthread_mutex_destroy(&s->slots[i].lock);
	}
	mbedtls_x509_crt_free(&crt);
	mbedtls_pk_free(&s->key);
	mbedtls_mpi_free(&s->half_n);
	free(s->identity);
	free(pem);
	free(s);
	return NULL;
}

void peer_sign_free(struct peer_sign *s)
{
	if (!s)
		return;
	for (int i = 0; i < SLOTS; i++) {
		mbedtls_ecp_group_free(&s->slots[i].grp);
		pthread_mutex_destroy(&s->slots[i].lock);
	}
	mbedtls_pk_free(&s->key);
	mbedtls_mpi_free(&s->half_n);
	free(s->identity);
	free(s);
}

const unsigned char *peer_sign_identity(const struct peer_sign *s, size_t *len)
{
	*len = s->identity_len;
	return s->identity;
}

/* DER SEQUENCE { INTEGER r, INTEGER s } into sig. Returns 0, or -1 when it does not fit. */
static int der_encode(const mbedtls_mpi *r, const mbedtls_mpi *sv, unsigned char sig[PEER_SIGN_MAX], size_t *sig_len)
{
	unsigned char buf[PEER_SIGN_MAX + 8], *p = buf + sizeof(buf);
	int len = 0, k;

	if ((k = mbedtls_asn1_write_mpi(&p, buf, sv)) < 0)
		return -1;
	len += k;
	if ((k = mbedtls_asn1_write_mpi(&p, buf, r)) < 0)
		return -1;
	len += k;
	if ((k = mbedtls_asn1_write_len(&p, buf, (size_t)len)) < 0)
		return -1;
	len += k;
	if ((k = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0)
		return -1;
	len += k;
	if (len > PEER_SIGN_MAX)
		return -1;
	memcpy(sig, p, (size_t)len);
	*sig_len = (size_t)len;
	return 0;
}

int peer_sign_sign(struct peer_sign *s, const void *a, size_t alen, const void *b, size_t blen,
		   unsigned char sig[PEER_SIGN_MAX], size_t *sig_len)
{
	struct slot *sl = &s->slots[atomic_fetch_add(&s->next, 1) % SLOTS];
	unsigned char hash[32];
	mbedtls_sha256_context sh;
	mbedtls_mpi r, sv, n_minus_s;
	int rc = -1, k;

	mbedtls_sha256_init(&sh);
	mbedtls_sha256_starts_ret(&sh, 0);
	mbedtls_sha256_update_ret(&sh, a, alen);
	mbedtls_sha256_update_ret(&sh, b, blen);
	mbedtls_sha256_finish_ret(&sh, hash);
	mbedtls_sha256_free(&sh);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&sv);
	mbedtls_mpi_init(&n_minus_s);
	pthread_mutex_lock(&sl->lock);
	k = mbedtls_ecdsa_sign(&sl->grp, &r, &sv, &mbedtls_pk_ec(s->key)->d, hash, sizeof(hash), rng, NULL);
	if (k == 0 && mbedtls_mpi_cmp_mpi(&sv, &s->half_n) > 0) { /* low-S, as Fabric signers do */
		k = mbedtls_mpi_sub_mpi(&n_minus_s, &sl->grp.N, &sv);
		if (k == 0)
			k = mbedtls_mpi_copy(&sv, &n_minus_s);
	}
	pthread_mutex_unlock(&sl->lock);
	if (k != 0)
		gx_log_error("ECDSA signing failed: mbedtls error -0x%04x", (unsigned)(k < 0 ? -k : k));
	else if (der_encode(&r, &sv, sig, sig_len) < 0)
		gx_log_error("cannot DER-encode the endorsement signature");
	else
		rc = 0;
	mbedtls_mpi_free(&n_minus_s);
	mbedtls_mpi_free(&sv);
	mbedtls_mpi_free(&r);
	return rc;
}

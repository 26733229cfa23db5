/* Unit tests for gx/fabric_id: PEM loading (PKCS#8, SEC1, failures), creator bytes, low-S signing, verification
 * (including high-S rejection) and the tx id rule. Keys and certificates are generated with openssl into /tmp. */
#include "gx/fabric_id.h"
#include "gx/log.h"
#include "gx_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/asn1.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "msp/identities.pb-c.h"

static char dir[64];

static char *path(const char *name)
{
	static char buf[8][256];
	static int i;
	char *p = buf[i++ % 8];
	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

/* Run script in directory d. */
static int sh(const char *script, const char *d)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "cd '%s' && %s", d, script);
	return system(cmd);
}

static char *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	char *buf = calloc(1, 65536);
	*len = f ? fread(buf, 1, 65535, f) : 0;
	if (f)
		fclose(f);
	return buf;
}

static int make_keys(void)
{
	snprintf(dir, sizeof(dir), "/tmp/gx-fabric-id-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	/* key.pem: PKCS#8 P-256; sec1.pem: same key as SEC1; cert.pem: self-signed; other.pem: a second key;
	 * rsa.pem + rsacert.pem: RSA identity */
	return sh(
		"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem 2>/dev/null && "
		"openssl ec -in key.pem -out sec1.pem 2>/dev/null && "
		"openssl req -new -x509 -key key.pem -out cert.pem -days 2 -subj /CN=user1 2>/dev/null && "
		"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.pem 2>/dev/null && "
		"openssl req -new -x509 -key other.pem -out othercert.pem -days 2 -subj /CN=user2 2>/dev/null && "
		"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem 2>/dev/null && "
		"openssl req -new -x509 -key rsa.pem -out rsacert.pem -days 2 -subj /CN=rsa 2>/dev/null && "
		"echo garbage > garbage.pem",
		dir);
}

GX_TEST(loads_pkcs8_and_sec1)
{
	struct gx_fabric_id *a = gx_fabric_id_load("Org1MSP", path("cert.pem"), path("key.pem"));
	struct gx_fabric_id *b = gx_fabric_id_load("Org1MSP", path("cert.pem"), path("sec1.pem"));
	GX_CHECK(a != NULL);
	GX_CHECK(b != NULL);
	if (a)
		GX_CHECK_STR(gx_fabric_id_msp_id(a), "Org1MSP");
	gx_fabric_id_free(a);
	gx_fabric_id_free(b);
}

GX_TEST(load_errors)
{
	GX_CHECK(gx_fabric_id_load("Org1MSP", path("missing.pem"), path("key.pem")) == NULL);
	GX_CHECK(gx_fabric_id_load("Org1MSP", path("cert.pem"), path("missing.pem")) == NULL);
	GX_CHECK(gx_fabric_id_load("Org1MSP", path("garbage.pem"), path("key.pem")) == NULL);
	GX_CHECK(gx_fabric_id_load("Org1MSP", path("cert.pem"), path("garbage.pem")) == NULL);
	/* key of another certificate */
	GX_CHECK(gx_fabric_id_load("Org1MSP", path("cert.pem"), path("other.pem")) == NULL);
	/* RSA identity */
	GX_CHECK(gx_fabric_id_load("Org1MSP", path("rsacert.pem"), path("rsa.pem")) == NULL);
	/* no MSP id */
	GX_CHECK(gx_fabric_id_load("", path("cert.pem"), path("key.pem")) == NULL);
}

GX_TEST(creator_is_serialized_identity_with_pem_bytes)
{
	struct gx_fabric_id *id = gx_fabric_id_load("Org1MSP", path("cert.pem"), path("key.pem"));
	Msp__SerializedIdentity *si;
	const unsigned char *cr;
	size_t len, pem_len;
	char *pem = slurp(path("cert.pem"), &pem_len);

	GX_CHECK(id != NULL);
	if (!id)
		goto out;
	cr = gx_fabric_id_creator(id, &len);
	si = msp__serialized_identity__unpack(NULL, len, cr);
	GX_CHECK(si != NULL);
	if (si) {
		GX_CHECK_STR(si->mspid, "Org1MSP");
		GX_CHECK(si->id_bytes.len == pem_len && memcmp(si->id_bytes.data, pem, pem_len) == 0);
		msp__serialized_identity__free_unpacked(si, NULL);
	}
out:
	free(pem);
	gx_fabric_id_free(id);
}

/* Decode DER SEQUENCE{r, s} and return s compared with n/2 (>0: high). */
static int s_vs_half(const unsigned char *sig, size_t len)
{
	mbedtls_ecp_group grp;
	mbedtls_mpi r, s, half;
	unsigned char *p = (unsigned char *)sig;
	size_t l;
	int cmp = 99;

	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	mbedtls_mpi_init(&half);
	mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
	mbedtls_mpi_copy(&half, &grp.N);
	mbedtls_mpi_shift_r(&half, 1);
	if (mbedtls_asn1_get_tag(&p, sig + len, &l, 0x30) == 0 && mbedtls_asn1_get_mpi(&p, sig + len, &r) == 0 &&
	    mbedtls_asn1_get_mpi(&p, sig + len, &s) == 0)
		cmp = mbedtls_mpi_cmp_mpi(&s, &half);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	mbedtls_mpi_free(&half);
	mbedtls_ecp_group_free(&grp);
	return cmp;
}

/* Independent check with mbedTLS's own verifier over the certificate's key. */
static int mbed_verify(const char *cert_path, const void *msg, size_t len, const unsigned char *sig, size_t sig_len)
{
	mbedtls_x509_crt crt;
	unsigned char hash[32];
	int rc;

	mbedtls_x509_crt_init(&crt);
	rc = mbedtls_x509_crt_parse_file(&crt, cert_path);
	mbedtls_sha256_ret(msg, len, hash, 0);
	if (rc == 0)
		rc = mbedtls_pk_verify(&crt.pk, MBEDTLS_MD_SHA256, hash, 32, sig, sig_len);
	mbedtls_x509_crt_free(&crt);
	return rc;
}

GX_TEST(signatures_are_low_s_and_verify)
{
	struct gx_fabric_id *id = gx_fabric_id_load("Org1MSP", path("cert.pem"), path("sec1.pem"));
	size_t cert_len;
	char *cert = slurp(path("cert.pem"), &cert_len);
	unsigned char sig[GX_FABRIC_SIG_MAX], hi[GX_FABRIC_SIG_MAX];
	size_t sig_len, hi_len;
	int i, high_seen = 0, bad = 0, low = 0;
	const char *why = NULL;
	char msg[64];

	GX_CHECK(id != NULL);
	if (!id)
		goto out;
	for (i = 0; i < 400; i++) {
		snprintf(msg, sizeof(msg), "message %d", i);
		if (gx_fabric_id_sign(id, msg, strlen(msg), sig, &sig_len) < 0) {
			bad++;
			continue;
		}
		if (s_vs_half(sig, sig_len) <= 0)
			low++;
		if (!gx_fabric_id_verify((unsigned char *)cert, cert_len, msg, strlen(msg), sig, sig_len, NULL) ||
		    mbed_verify(path("cert.pem"), msg, strlen(msg), sig, sig_len) != 0)
			bad++;
		/* the mirrored signature is mathematically valid but high-S: mbedTLS accepts, we must reject */
		if (gx_fabric_id_sig_negate_s(sig, sig_len, hi, &hi_len) < 0) {
			bad++;
			continue;
		}
		if (s_vs_half(hi, hi_len) > 0)
			high_seen++;
		if (mbed_verify(path("cert.pem"), msg, strlen(msg), hi, hi_len) != 0)
			bad++;
		if (gx_fabric_id_verify((unsigned char *)cert, cert_len, msg, strlen(msg), hi, hi_len, &why))
			bad++;
	}
	GX_CHECK(bad == 0);
	GX_CHECK(low == 400);
	GX_CHECK(high_seen == 400);
	GX_CHECK(why != NULL && strstr(why, "half the order") != NULL);
out:
	free(cert);
	gx_fabric_id_free(id);
}

GX_TEST(verify_rejects_wrong_message_key_and_der)
{
	struct gx_fabric_id *id = gx_fabric_id_load("Org1MSP", path("cert.pem"), path("key.pem"));
	size_t cert_len, other_len;
	char *cert = slurp(path("cert.pem"), &cert_len), *other = slurp(path("othercert.pem"), &other_len);
	unsigned char sig[GX_FABRIC_SIG_MAX];
	size_t sig_len = 0;
	const char *why;

	GX_CHECK(id && gx_fabric_id_sign(id, "abc", 3, sig, &sig_len) == 0);
	GX_CHECK(gx_fabric_id_verify((unsigned char *)cert, cert_len, "abc", 3, sig, sig_len, &why));
	GX_CHECK(!gx_fabric_id_verify((unsigned char *)cert, cert_len, "abd", 3, sig, sig_len, &why));
	GX_CHECK(!gx_fabric_id_verify((unsigned char *)other, other_len, "abc", 3, sig, sig_len, &why));
	GX_CHECK(!gx_fabric_id_verify((unsigned char *)cert, cert_len, "abc", 3, sig, sig_len - 1, &why));
	GX_CHECK(!gx_fabric_id_verify((unsigned char *)"junk", 4, "abc", 3, sig, sig_len, &why));
	GX_CHECK(why && strstr(why, "certificate"));
	free(cert);
	free(other);
	gx_fabric_id_free(id);
}

GX_TEST(txid_rule_and_nonce)
{
	struct gx_fabric_id *id = gx_fabric_id_load("Org1MSP", path("cert.pem"), path("key.pem"));
	unsigned char n1[GX_FABRIC_NONCE_LEN], n2[GX_FABRIC_NONCE_LEN], buf[256], hash[32];
	char tx[GX_FABRIC_TXID_SIZE], hex[65];

	GX_CHECK(id && gx_fabric_id_nonce(id, n1) == 0 && gx_fabric_id_nonce(id, n2) == 0);
	GX_CHECK(memcmp(n1, n2, sizeof(n1)) != 0);
	memcpy(buf, n1, 24);
	memcpy(buf + 24, "creator", 7);
	mbedtls_sha256_ret(buf, 31, hash, 0);
	gx_hex_encode(hash, 32, hex);
	gx_fabric_id_txid(n1, 24, (const unsigned char *)"creator", 7, tx);
	GX_CHECK_STR(tx, hex);
	GX_CHECK(strlen(tx) == 64);
	gx_fabric_id_free(id);
}

int main(void)
{
	char cmd[128];
	int rc;

	gx_log_init("test_fabric_id");
	gx_log_set_level(GX_LOG_FATAL);
	if (make_keys() != 0) {
		printf("not ok 1 - cannot generate keys with openssl\n");
		return 1;
	}
	GX_RUN(loads_pkcs8_and_sec1);
	GX_RUN(load_errors);
	GX_RUN(creator_is_serialized_identity_with_pem_bytes);
	GX_RUN(signatures_are_low_s_and_verify);
	GX_RUN(verify_rejects_wrong_message_key_and_der);
	GX_RUN(txid_rule_and_nonce);
	rc = gx_test_done();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}

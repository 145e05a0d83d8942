#include <stdbool.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto/sig.h"
#include "lib/util.h"

/* RFC 7427 Appendix A.3 */
static const uint8_t algid_ecdsa_sha256[] = {
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const uint8_t algid_ecdsa_sha384[] = {
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };
static const uint8_t algid_ecdsa_sha512[] = {
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04 };
/* RFC 7427 A.4.3 (RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32, trailer 1); the
 * SHA-384/512 forms differ only in the two hash OIDs' last octet and the salt */
static const uint8_t algid_pss_sha256[] = {
	0x30, 0x46, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a,
	0x30, 0x39, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a,
	0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60,
	0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xa2, 0x03, 0x02,
	0x01, 0x20, 0xa3, 0x03, 0x02, 0x01, 0x01 };
#define PSS_HASH_OID1	29	/* offsets of the variable octets in the template */
#define PSS_HASH_OID2	59
#define PSS_SALT	66

static void
seterr(char *err, size_t errlen, const char *msg)
{
	if (errlen > 0)
		xsnprintf(err, errlen, "%s", msg);
}

static unsigned
md_hash_bit(int nid)
{
	switch (nid) {
	case NID_sha256:
		return 1u << SIG_HASH_SHA2_256;
	case NID_sha384:
		return 1u << SIG_HASH_SHA2_384;
	case NID_sha512:
		return 1u << SIG_HASH_SHA2_512;
	default:
		return 0;
	}
}

int
sig_choose_md(EVP_PKEY *key, unsigned peer_hashes)
{
	static const int order[] = { NID_sha256, NID_sha384, NID_sha512 };
	int pref = NID_sha256;

	if (EVP_PKEY_is_a(key, "EC")) {
		int bits = EVP_PKEY_get_bits(key);

		pref = bits > 384 ? NID_sha512 : bits > 256 ? NID_sha384 : NID_sha256;
	} else if (!EVP_PKEY_is_a(key, "RSA") && !EVP_PKEY_is_a(key, "RSA-PSS"))
		return NID_undef;
	if (peer_hashes == 0 || (peer_hashes & md_hash_bit(pref)))
		return pref;
	for (size_t i = 0; i < nitems(order); i++)
		if (peer_hashes & md_hash_bit(order[i]))
			return order[i];
	return NID_undef;
}

int
sig_algid(EVP_PKEY *key, int md_nid, uint8_t *out, size_t cap, size_t *len)
{
	const uint8_t *t;
	size_t n;

	if (EVP_PKEY_is_a(key, "EC")) {
		switch (md_nid) {
		case NID_sha256:
			t = algid_ecdsa_sha256, n = sizeof(algid_ecdsa_sha256);
			break;
		case NID_sha384:
			t = algid_ecdsa_sha384, n = sizeof(algid_ecdsa_sha384);
			break;
		case NID_sha512:
			t = algid_ecdsa_sha512, n = sizeof(algid_ecdsa_sha512);
			break;
		default:
			return -1;
		}
		if (n > cap)
			return -1;
		memcpy(out, t, n);
		*len = n;
		return 0;
	}
	if (EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS")) {
		uint8_t oid, salt;

		switch (md_nid) {
		case NID_sha256:
			oid = 1, salt = 32;
			break;
		case NID_sha384:
			oid = 2, salt = 48;
			break;
		case NID_sha512:
			oid = 3, salt = 64;
			break;
		default:
			return -1;
		}
		if (sizeof(algid_pss_sha256) > cap)
			return -1;
		memcpy(out, algid_pss_sha256, sizeof(algid_pss_sha256));
		out[PSS_HASH_OID1] = oid;
		out[PSS_HASH_OID2] = oid;
		out[PSS_SALT] = salt;
		*len = sizeof(algid_pss_sha256);
		return 0;
	}
	return -1;
}

static const EVP_MD *
sha2_md(int nid)
{
	switch (nid) {
	case NID_sha256:
		return EVP_sha256();
	case NID_sha384:
		return EVP_sha384();
	case NID_sha512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

/* the hash of an AlgorithmIdentifier inside PSS parameters; absent = SHA-1 */
static const EVP_MD *
pss_hash(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *obj;

	if (alg == NULL)
		return NULL;	/* SHA-1 default: refused */
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	return sha2_md(OBJ_obj2nid(obj));
}

struct pss {
	const EVP_MD	*md, *mgf1;
	int		 salt;
};

static int
pss_params(const X509_ALGOR *alg, struct pss *out, char *err, size_t errlen)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	const ASN1_STRING *s;
	const unsigned char *p;
	RSA_PSS_PARAMS *pp = NULL;
	X509_ALGOR *mgfhash = NULL;
	int ptype, rc = -1;
	long salt;

	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	if (ptype != V_ASN1_SEQUENCE) {
		seterr(err, errlen, "RSASSA-PSS without parameters");
		return -1;
	}
	s = pval;
	p = ASN1_STRING_get0_data(s);
	if ((pp = d2i_RSA_PSS_PARAMS(NULL, &p, ASN1_STRING_length(s))) == NULL) {
		seterr(err, errlen, "bad RSASSA-PSS parameters");
		return -1;
	}
	if ((out->md = pss_hash(pp->hashAlgorithm)) == NULL) {
		seterr(err, errlen, "RSASSA-PSS hash not SHA-2");
		goto out;
	}
	if (pp->maskGenAlgorithm == NULL ||
	    OBJ_obj2nid(pp->maskGenAlgorithm->algorithm) != NID_mgf1 ||
	    pp->maskGenAlgorithm->parameter == NULL ||
	    pp->maskGenAlgorithm->parameter->type != V_ASN1_SEQUENCE) {
		seterr(err, errlen, "RSASSA-PSS mask generation not MGF1-SHA-2");
		goto out;
	}
	s = pp->maskGenAlgorithm->parameter->value.sequence;
	p = ASN1_STRING_get0_data(s);
	if ((mgfhash = d2i_X509_ALGOR(NULL, &p, ASN1_STRING_length(s))) == NULL ||
	    (out->mgf1 = pss_hash(mgfhash)) == NULL) {
		seterr(err, errlen, "RSASSA-PSS MGF1 hash not SHA-2");
		goto out;
	}
	salt = pp->saltLength == NULL ? 20 : ASN1_INTEGER_get(pp->saltLength);
	if (salt < 0 || salt > 1024 ||
	    (pp->trailerField != NULL && ASN1_INTEGER_get(pp->trailerField) != 1)) {
		seterr(err, errlen, "bad RSASSA-PSS salt or trailer");
		goto out;
	}
	out->salt = (int)salt;
	rc = 0;
out:
	X509_ALGOR_free(mgfhash);
	RSA_PSS_PARAMS_free(pp);
	return rc;
}

int
sig_verify(EVP_PKEY *pub, const uint8_t *algid, size_t algidlen, const uint8_t *sig,
    size_t siglen, const uint8_t *tbs, size_t tbslen, char *err, size_t errlen)
{
	const unsigned char *p = algid;
	const ASN1_OBJECT *obj;
	X509_ALGOR *alg;
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = NULL;
	struct pss pss = { 0 };
	int nid, rc = -1;
	bool is_ec = EVP_PKEY_is_a(pub, "EC");
	bool is_rsa = EVP_PKEY_is_a(pub, "RSA") || EVP_PKEY_is_a(pub, "RSA-PSS");

	if ((alg = d2i_X509_ALGOR(NULL, &p, (long)algidlen)) == NULL ||
	    (size_t)(p - algid) != algidlen) {
		seterr(err, errlen, "malformed AlgorithmIdentifier");
		goto out;
	}
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	switch ((nid = OBJ_obj2nid(obj))) {
	case NID_ecdsa_with_SHA256:
	case NID_ecdsa_with_SHA384:
	case NID_ecdsa_with_SHA512:
		if (!is_ec) {
			seterr(err, errlen, "ECDSA signature but not an EC key");
			goto out;
		}
		md = nid == NID_ecdsa_with_SHA256 ? EVP_sha256() :
		    nid == NID_ecdsa_with_SHA384 ? EVP_sha384() : EVP_sha512();
		break;
	case NID_sha256WithRSAEncryption:
	case NID_sha384WithRSAEncryption:
	case NID_sha512WithRSAEncryption:
		if (!is_rsa) {
			seterr(err, errlen, "RSA signature but not an RSA key");
			goto out;
		}
		md = nid == NID_sha256WithRSAEncryption ? EVP_sha256() :
		    nid == NID_sha384WithRSAEncryption ? EVP_sha384() : EVP_sha512();
		break;
	case NID_rsassaPss:
		if (!is_rsa) {
			seterr(err, errlen, "RSASSA-PSS signature but not an RSA key");
			goto out;
		}
		if (pss_params(alg, &pss, err, errlen) == -1)
			goto out;
		md = pss.md;
		break;
	default:
		seterr(err, errlen, "unsupported signature algorithm");
		goto out;
	}
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mctx, &pctx, md, NULL, pub) != 1) {
		seterr(err, errlen, "verify init failed");
		goto out;
	}
	if (nid == NID_rsassaPss &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, pss.mgf1) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss.salt) != 1)) {
		seterr(err, errlen, "RSASSA-PSS parameters not usable");
		goto out;
	}
	if (EVP_DigestVerify(mctx, sig, siglen, tbs, tbslen) != 1) {
		seterr(err, errlen, "signature does not verify");
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(mctx);
	X509_ALGOR_free(alg);
	return rc;
}

int
sig_sign(EVP_PKEY *priv, int md_nid, const uint8_t *tbs, size_t tbslen, uint8_t *sig,
    size_t *siglen)
{
	const EVP_MD *md = sha2_md(md_nid);
	EVP_MD_CTX *mctx;
	EVP_PKEY_CTX *pctx = NULL;
	size_t n;
	int rc = -1;

	if (md == NULL || (mctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestSignInit(mctx, &pctx, md, NULL, priv) != 1)
		goto out;
	if ((EVP_PKEY_is_a(priv, "RSA") || EVP_PKEY_is_a(priv, "RSA-PSS")) &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		goto out;
	if (EVP_DigestSign(mctx, NULL, &n, tbs, tbslen) != 1 || n > *siglen)
		goto out;
	n = *siglen;
	if (EVP_DigestSign(mctx, sig, &n, tbs, tbslen) != 1)
		goto out;
	*siglen = n;
	rc = 0;
out:
	EVP_MD_CTX_free(mctx);
	return rc;
}

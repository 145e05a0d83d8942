#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "crypto/dh.h"

struct dh {
	int		 group;
	EVP_PKEY	*key;
};

struct dh_group_info {
	int		 group;
	const char	*curve;		/* OpenSSL group name; NULL for X25519 */
	int		 nid;
	size_t		 coord;		/* field size in octets */
};

static const struct dh_group_info dh_groups[] = {
	{ DH_ECP_256,	 "P-256", NID_X9_62_prime256v1, 32 },
	{ DH_ECP_384,	 "P-384", NID_secp384r1, 48 },
	{ DH_CURVE25519, NULL, NID_X25519, 32 },
};

static const struct dh_group_info *
dh_info(int group)
{
	for (size_t i = 0; i < sizeof(dh_groups) / sizeof(dh_groups[0]); i++)
		if (dh_groups[i].group == group)
			return &dh_groups[i];
	return NULL;
}

bool
dh_supported(int group)
{
	return dh_info(group) != NULL;
}

size_t
dh_pub_len(int group)
{
	const struct dh_group_info *gi = dh_info(group);

	if (gi == NULL)
		return 0;
	return gi->curve != NULL ? 2 * gi->coord : gi->coord;
}

int
dh_group(const struct dh *dh)
{
	return dh->group;
}

struct dh *
dh_new(int group)
{
	const struct dh_group_info *gi = dh_info(group);
	struct dh *dh;
	EVP_PKEY *key;

	if (gi == NULL)
		return NULL;
	if (gi->curve != NULL)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", gi->curve);
	else
		key = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	if (key == NULL)
		return NULL;
	if ((dh = calloc(1, sizeof(*dh))) == NULL) {
		EVP_PKEY_free(key);
		return NULL;
	}
	dh->group = group;
	dh->key = key;
	return dh;
}

/* an EC key pair from a known scalar: the public point is computed here */
static EVP_PKEY *
ec_from_private(const struct dh_group_info *gi, const uint8_t *priv, size_t len)
{
	EC_GROUP *grp = NULL;
	EC_POINT *pub = NULL;
	BIGNUM *d = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	uint8_t enc[1 + 2 * 48];
	size_t enclen;

	if ((grp = EC_GROUP_new_by_curve_name(gi->nid)) == NULL ||
	    (pub = EC_POINT_new(grp)) == NULL ||
	    (d = BN_bin2bn(priv, (int)len, NULL)) == NULL ||
	    EC_POINT_mul(grp, pub, d, NULL, NULL, NULL) != 1)
		goto out;
	enclen = EC_POINT_point2oct(grp, pub, POINT_CONVERSION_UNCOMPRESSED, enc,
	    sizeof(enc), NULL);
	if (enclen != 1 + 2 * gi->coord)
		goto out;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, gi->curve, 0) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, enc, enclen) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) != 1)
		key = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(d);
	EC_POINT_free(pub);
	EC_GROUP_free(grp);
	return key;
}

struct dh *
dh_new_private(int group, const uint8_t *priv, size_t len)
{
	const struct dh_group_info *gi = dh_info(group);
	struct dh *dh;
	EVP_PKEY *key;

	if (gi == NULL)
		return NULL;
	if (gi->curve != NULL)
		key = ec_from_private(gi, priv, len);
	else
		key = len == 32 ?
		    EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, len) : NULL;
	if (key == NULL)
		return NULL;
	if ((dh = calloc(1, sizeof(*dh))) == NULL) {
		EVP_PKEY_free(key);
		return NULL;
	}
	dh->group = group;
	dh->key = key;
	return dh;
}

void
dh_free(struct dh *dh)
{
	if (dh == NULL)
		return;
	EVP_PKEY_free(dh->key);
	free(dh);
}

int
dh_public(const struct dh *dh, uint8_t *out, size_t outlen)
{
	const struct dh_group_info *gi = dh_info(dh->group);
	uint8_t enc[1 + 2 * 48];
	size_t n;

	if (gi == NULL || outlen != dh_pub_len(dh->group))
		return -1;
	if (gi->curve == NULL) {
		n = outlen;
		if (EVP_PKEY_get_raw_public_key(dh->key, out, &n) != 1 || n != outlen)
			return -1;
		return 0;
	}
	/* uncompressed point 0x04 || x || y; the wire drops the format octet */
	if (EVP_PKEY_get_octet_string_param(dh->key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
	    enc, sizeof(enc), &n) != 1 || n != 1 + outlen || enc[0] != 0x04)
		return -1;
	memcpy(out, enc + 1, outlen);
	return 0;
}

/* the peer's value as an EVP_PKEY; for ECP validated as RFC 6989 §2.3 asks */
static EVP_PKEY *
peer_key(const struct dh_group_info *gi, const uint8_t *peer, size_t len)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
	EVP_PKEY *key = NULL;
	uint8_t enc[1 + 2 * 48];

	if (gi->curve == NULL)
		return len == gi->coord ?
		    EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, len) : NULL;
	if (len != 2 * gi->coord)
		return NULL;
	enc[0] = 0x04;
	memcpy(enc + 1, peer, len);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
	    (char *)gi->curve, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, enc, len + 1);
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		key = NULL;
		goto out;
	}
	/*
	 * RFC 6989 §2.3: the point must satisfy the curve equation (and, implicitly,
	 * not be infinity, which IKE cannot encode). Groups 19 and 20 have prime order
	 * (cofactor 1), so every point on the curve is in the group: the n*Q == O test
	 * of EVP_PKEY_public_check adds a full scalar multiplication per handshake
	 * and no safety. The quick check is on-curve, coordinates below p, not
	 * infinity.
	 */
	if ((chk = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL ||
	    EVP_PKEY_public_check_quick(chk) != 1) {
		EVP_PKEY_free(key);
		key = NULL;
	}
out:
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

int
dh_derive(const struct dh *dh, const uint8_t *peer, size_t peerlen, uint8_t *secret,
    size_t secretcap, size_t *secretlen)
{
	static const uint8_t zero[32];
	const struct dh_group_info *gi = dh_info(dh->group);
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk;
	size_t n;
	int rc = -1;

	if (gi == NULL || (pk = peer_key(gi, peer, peerlen)) == NULL)
		return -1;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, dh->key, NULL)) == NULL ||
	    EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, pk) != 1 ||
	    EVP_PKEY_derive(ctx, NULL, &n) != 1 || n != gi->coord || n > secretcap ||
	    EVP_PKEY_derive(ctx, secret, &n) != 1 || n != gi->coord)
		goto out;
	/* RFC 8031 §2: a low-order peer value yields all zeros */
	if (gi->curve == NULL && CRYPTO_memcmp(secret, zero, n) == 0) {
		OPENSSL_cleanse(secret, n);
		goto out;
	}
	*secretlen = n;
	rc = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return rc;
}

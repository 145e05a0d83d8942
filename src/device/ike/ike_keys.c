/*
 * The IKEv2 key schedule (RFC 7296 §2.13-§2.18) with AEAD transforms
 * (RFC 5282 §7.1: no SK_a, SK_e = key || 4-octet salt), the AUTH signed
 * octets (§2.15) and the NAT detection hash (§2.23).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/hash.h"
#include "device/ike/ike_local.h"

void
ike_keys_wipe(struct ike_keys *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

/*
 * SKEYSEED = prf(Ni | Nr, g^ir)                      (IKE_SA_INIT)
 * SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)   (IKE SA rekey, §2.18; the
 *            old SA's PRF keyed with its SK_d, as strongSwan does)
 * {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
 *          = prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr)   (SK_a* empty with AEAD)
 */
int
ike_keys_derive(struct ike_keys *k, int prf, size_t enclen, int old_prf,
    const uint8_t *old_skd, const uint8_t *gir, size_t girlen, const uint8_t *ni,
    size_t nilen, const uint8_t *nr, size_t nrlen, const uint8_t spi_i[8],
    const uint8_t spi_r[8])
{
	uint8_t skeyseed[PRF_MAX_LEN], keymat[3 * PRF_MAX_LEN + 2 * IKE_ENC_MAX];
	size_t hl = prf_len(prf), el = enclen + 4, need;
	int rc = -1;

	memset(k, 0, sizeof(*k));
	if (hl == 0 || (enclen != 16 && enclen != 32))
		return -1;
	if (old_skd == NULL) {
		uint8_t *key;
		struct crypto_iov in = { gir, girlen };

		if ((key = malloc(nilen + nrlen)) == NULL)
			return -1;
		memcpy(key, ni, nilen);
		memcpy(key + nilen, nr, nrlen);
		rc = prf_compute(prf, key, nilen + nrlen, &in, 1, skeyseed);
		OPENSSL_cleanse(key, nilen + nrlen);
		free(key);
		if (rc == -1)
			goto out;
		rc = -1;
	} else {
		struct crypto_iov in[3] = { { gir, girlen }, { ni, nilen }, { nr, nrlen } };
		size_t ol = prf_len(old_prf);

		if (ol == 0 || prf_compute(old_prf, old_skd, ol, in, 3, skeyseed) == -1)
			goto out;
	}
	{
		struct crypto_iov seed[4] = { { ni, nilen }, { nr, nrlen }, { spi_i, 8 },
		    { spi_r, 8 } };

		need = 3 * hl + 2 * el;
		if (prf_plus(prf, skeyseed, hl, seed, 4, keymat, need) == -1)
			goto out;
	}
	k->prf = prf;
	k->prflen = hl;
	k->enclen = enclen;
	memcpy(k->sk_d, keymat, hl);
	memcpy(k->sk_ei, keymat + hl, el);
	memcpy(k->sk_er, keymat + hl + el, el);
	memcpy(k->sk_pi, keymat + hl + 2 * el, hl);
	memcpy(k->sk_pr, keymat + 2 * hl + 2 * el, hl);
	rc = 0;
out:
	OPENSSL_cleanse(skeyseed, sizeof(skeyseed));
	OPENSSL_cleanse(keymat, sizeof(keymat));
	if (rc != 0)
		ike_keys_wipe(k);
	return rc;
}

/*
 * §2.17: KEYMAT = prf+(SK_d, Ni | Nr) or prf+(SK_d, g^ir (new) | Ni | Nr); the
 * initiator-to-responder key first (of the exchange that made the CHILD SA).
 * AES-GCM-16-256: 32 key + 4 salt octets per direction (RFC 4106 §8.1).
 */
int
ike_keys_child(const struct ike_keys *k, const uint8_t *gir, size_t girlen,
    const uint8_t *ni, size_t nilen, const uint8_t *nr, size_t nrlen,
    uint8_t i2r[CHILD_SA_KEYLEN], uint8_t r2i[CHILD_SA_KEYLEN])
{
	uint8_t keymat[2 * CHILD_SA_KEYLEN];
	struct crypto_iov seed[3];
	size_t n = 0;
	int rc;

	if (gir != NULL)
		seed[n++] = (struct crypto_iov){ gir, girlen };
	seed[n++] = (struct crypto_iov){ ni, nilen };
	seed[n++] = (struct crypto_iov){ nr, nrlen };
	rc = prf_plus(k->prf, k->sk_d, k->prflen, seed, n, keymat, sizeof(keymat));
	if (rc == 0) {
		memcpy(i2r, keymat, CHILD_SA_KEYLEN);
		memcpy(r2i, keymat + CHILD_SA_KEYLEN, CHILD_SA_KEYLEN);
	}
	OPENSSL_cleanse(keymat, sizeof(keymat));
	return rc;
}

/*
 * §2.15: InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI,
 * MACedIDForI = prf(SK_pi, RestOfInitIDPayload); the responder's likewise
 * with RealMessage2, NonceIData and SK_pr.
 */
int
ike_keys_auth_octets(const struct ike_keys *k, bool of_initiator, const uint8_t *msg,
    size_t msglen, const uint8_t *nonce, size_t noncelen, const uint8_t *idbody,
    size_t idlen, uint8_t **out, size_t *outlen)
{
	struct crypto_iov in = { idbody, idlen };
	uint8_t *buf;
	size_t n = msglen + noncelen + k->prflen;

	if ((buf = malloc(n)) == NULL)
		return -1;
	memcpy(buf, msg, msglen);
	memcpy(buf + msglen, nonce, noncelen);
	if (prf_compute(k->prf, of_initiator ? k->sk_pi : k->sk_pr, k->prflen, &in, 1,
	    buf + msglen + noncelen) == -1) {
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

/* §2.23: SHA-1(SPIi | SPIr | IP | Port), network order */
int
ike_keys_natd(const uint8_t spi_i[8], const uint8_t spi_r[8], const uint8_t *addr,
    size_t addrlen, uint16_t port, uint8_t out[20])
{
	uint8_t p[2] = { (uint8_t)(port >> 8), (uint8_t)port };
	struct crypto_iov in[4] = { { spi_i, 8 }, { spi_r, 8 }, { addr, addrlen },
	    { p, 2 } };

	return hash_sha1(in, 4, out);
}

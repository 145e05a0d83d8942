#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "crypto/prf.h"

static const char *
prf_digest(int prf)
{
	switch (prf) {
	case PRF_HMAC_SHA2_256:
		return "SHA256";
	case PRF_HMAC_SHA2_384:
		return "SHA384";
	case PRF_HMAC_SHA2_512:
		return "SHA512";
	default:
		return NULL;
	}
}

size_t
prf_len(int prf)
{
	switch (prf) {
	case PRF_HMAC_SHA2_256:
		return 32;
	case PRF_HMAC_SHA2_384:
		return 48;
	case PRF_HMAC_SHA2_512:
		return 64;
	default:
		return 0;
	}
}

/* a keyed HMAC context, ready for updates */
static EVP_MAC_CTX *
prf_ctx(int prf, const uint8_t *key, size_t keylen)
{
	const char *md = prf_digest(prf);
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;
	EVP_MAC *mac;

	if (md == NULL)
		return NULL;
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return NULL;
	ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (ctx == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)md, 0);
	params[1] = OSSL_PARAM_construct_end();
	/* an empty key is legal HMAC; OpenSSL wants a non-NULL pointer */
	if (EVP_MAC_init(ctx, keylen > 0 ? key : (const uint8_t *)"", keylen, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int
prf_finish(EVP_MAC_CTX *ctx, const struct crypto_iov *in, size_t nin, uint8_t *out,
    size_t outlen)
{
	size_t n;

	for (size_t i = 0; i < nin; i++)
		if (in[i].len > 0 && EVP_MAC_update(ctx, in[i].p, in[i].len) != 1)
			return -1;
	if (EVP_MAC_final(ctx, out, &n, outlen) != 1 || n != outlen)
		return -1;
	return 0;
}

int
prf_compute(int prf, const uint8_t *key, size_t keylen, const struct crypto_iov *in,
    size_t nin, uint8_t *out)
{
	EVP_MAC_CTX *ctx = prf_ctx(prf, key, keylen);
	int rc;

	if (ctx == NULL)
		return -1;
	rc = prf_finish(ctx, in, nin, out, prf_len(prf));
	EVP_MAC_CTX_free(ctx);
	return rc;
}

/* RFC 7296 §2.13: T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n) */
int
prf_plus(int prf, const uint8_t *key, size_t keylen, const struct crypto_iov *seed,
    size_t nseed, uint8_t *out, size_t outlen)
{
	size_t hl = prf_len(prf), done = 0;
	uint8_t t[PRF_MAX_LEN], ctr;
	EVP_MAC_CTX *base, *ctx = NULL;
	int rc = -1;

	if (hl == 0 || outlen > 255 * hl || nseed > 14)
		return -1;
	if ((base = prf_ctx(prf, key, keylen)) == NULL)
		return -1;
	for (ctr = 1; done < outlen; ctr++) {
		struct crypto_iov in[16];
		size_t n = 0, take;

		if ((ctx = EVP_MAC_CTX_dup(base)) == NULL)
			goto out;
		if (ctr > 1)
			in[n++] = (struct crypto_iov){ t, hl };
		for (size_t i = 0; i < nseed; i++)
			in[n++] = seed[i];
		in[n++] = (struct crypto_iov){ &ctr, 1 };
		if (prf_finish(ctx, in, n, t, hl) == -1)
			goto out;
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
		take = outlen - done < hl ? outlen - done : hl;
		memcpy(out + done, t, take);
		done += take;
	}
	rc = 0;
out:
	OPENSSL_cleanse(t, sizeof(t));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_CTX_free(base);
	if (rc != 0)
		OPENSSL_cleanse(out, outlen);
	return rc;
}

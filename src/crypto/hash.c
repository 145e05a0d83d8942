#include <openssl/evp.h>

#include "crypto/hash.h"

static int
hash_run(const EVP_MD *md, const struct crypto_iov *in, size_t n, uint8_t *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	if (ctx == NULL)
		return -1;
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (in[i].len > 0 && EVP_DigestUpdate(ctx, in[i].p, in[i].len) != 1)
			goto out;
	if (EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

int
hash_sha1(const struct crypto_iov *in, size_t n, uint8_t out[SHA1_LEN])
{
	return hash_run(EVP_sha1(), in, n, out);
}

int
hash_sha256(const struct crypto_iov *in, size_t n, uint8_t out[SHA256_LEN])
{
	return hash_run(EVP_sha256(), in, n, out);
}

int
hmac_sha256(const uint8_t *key, size_t keylen, const struct crypto_iov *in, size_t n,
    uint8_t out[SHA256_LEN])
{
	return prf_compute(PRF_HMAC_SHA2_256, key, keylen, in, n, out);
}

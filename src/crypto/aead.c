#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto/aead.h"

static const EVP_CIPHER *
gcm_cipher(size_t keylen)
{
	if (keylen == 16)
		return EVP_aes_128_gcm();
	if (keylen == 32)
		return EVP_aes_256_gcm();
	return NULL;
}

int
aead_gcm_seal(const uint8_t *key, size_t keylen, const uint8_t nonce[AEAD_GCM_NONCE],
    const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t len, uint8_t *ct,
    uint8_t icv[AEAD_GCM_ICV])
{
	const EVP_CIPHER *cipher = gcm_cipher(keylen);
	EVP_CIPHER_CTX *ctx;
	int n, rc = -1;

	if (cipher == NULL || len > INT_MAX || aadlen > INT_MAX)
		return -1;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	if (EVP_EncryptInit_ex(ctx, cipher, NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, AEAD_GCM_NONCE, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
		goto out;
	if (aadlen > 0 && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	if (len > 0 && EVP_EncryptUpdate(ctx, ct, &n, pt, (int)len) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(ctx, ct + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AEAD_GCM_ICV, icv) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);	/* cleanses the key schedule */
	return rc;
}

int
aead_gcm_open(const uint8_t *key, size_t keylen, const uint8_t nonce[AEAD_GCM_NONCE],
    const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t len,
    const uint8_t icv[AEAD_GCM_ICV], uint8_t *pt)
{
	const EVP_CIPHER *cipher = gcm_cipher(keylen);
	uint8_t tag[AEAD_GCM_ICV];
	EVP_CIPHER_CTX *ctx;
	int n, rc = -1;

	if (cipher == NULL || len > INT_MAX || aadlen > INT_MAX)
		return -1;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	memcpy(tag, icv, sizeof(tag));
	if (EVP_DecryptInit_ex(ctx, cipher, NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, AEAD_GCM_NONCE, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
		goto out;
	if (aadlen > 0 && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	if (len > 0 && EVP_DecryptUpdate(ctx, pt, &n, ct, (int)len) != 1)
		goto out;
	/* the tag comparison inside DecryptFinal is constant-time */
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AEAD_GCM_ICV, tag) != 1 ||
	    EVP_DecryptFinal_ex(ctx, pt + len, &n) != 1)
		goto out;
	rc = 0;
out:
	if (rc != 0 && len > 0)
		OPENSSL_cleanse(pt, len);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

static void
salted_nonce(uint8_t nonce[AEAD_GCM_NONCE], const uint8_t *keymat, size_t keylen,
    const uint8_t iv[AEAD_GCM_IV])
{
	memcpy(nonce, keymat + keylen, AEAD_GCM_SALT);
	memcpy(nonce + AEAD_GCM_SALT, iv, AEAD_GCM_IV);
}

int
aead_seal_salted(const uint8_t *keymat, size_t keylen, const uint8_t iv[AEAD_GCM_IV],
    const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t len, uint8_t *ct,
    uint8_t icv[AEAD_GCM_ICV])
{
	uint8_t nonce[AEAD_GCM_NONCE];

	salted_nonce(nonce, keymat, keylen, iv);
	return aead_gcm_seal(keymat, keylen, nonce, aad, aadlen, pt, len, ct, icv);
}

int
aead_open_salted(const uint8_t *keymat, size_t keylen, const uint8_t iv[AEAD_GCM_IV],
    const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t len,
    const uint8_t icv[AEAD_GCM_ICV], uint8_t *pt)
{
	uint8_t nonce[AEAD_GCM_NONCE];

	salted_nonce(nonce, keymat, keylen, iv);
	return aead_gcm_open(keymat, keylen, nonce, aad, aadlen, ct, len, icv, pt);
}

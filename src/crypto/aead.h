/*
 * AES-GCM with a 16-octet ICV: the AEAD of the IKE SK payload (RFC 5282) and of
 * ESP (RFC 4106). The 12-octet GCM nonce is salt (4, from keying material) ||
 * explicit IV (8, carried in the packet); the key material of one direction is
 * therefore key || salt, 20 or 36 octets.
 *
 * In-place operation (ct == pt) is allowed. Returns 0, or -1 on any failure;
 * aead_gcm_open() fails on a wrong ICV and then leaves pt in an undefined state
 * the caller must not use (it is wiped here).
 */
#ifndef ODVPN_CRYPTO_AEAD_H
#define ODVPN_CRYPTO_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define AEAD_GCM_ICV		16
#define AEAD_GCM_IV		8	/* explicit IV on the wire */
#define AEAD_GCM_SALT		4
#define AEAD_GCM_NONCE		12

/* keylen is the AES key length without the salt: 16 or 32 */
int	aead_gcm_seal(const uint8_t *key, size_t keylen,
	    const uint8_t nonce[AEAD_GCM_NONCE], const uint8_t *aad, size_t aadlen,
	    const uint8_t *pt, size_t len, uint8_t *ct, uint8_t icv[AEAD_GCM_ICV]);
int	aead_gcm_open(const uint8_t *key, size_t keylen,
	    const uint8_t nonce[AEAD_GCM_NONCE], const uint8_t *aad, size_t aadlen,
	    const uint8_t *ct, size_t len, const uint8_t icv[AEAD_GCM_ICV], uint8_t *pt);

/* the RFC 4106 / 5282 form: keymat = key || salt (keylen + 4 octets) */
int	aead_seal_salted(const uint8_t *keymat, size_t keylen,
	    const uint8_t iv[AEAD_GCM_IV], const uint8_t *aad, size_t aadlen,
	    const uint8_t *pt, size_t len, uint8_t *ct, uint8_t icv[AEAD_GCM_ICV]);
int	aead_open_salted(const uint8_t *keymat, size_t keylen,
	    const uint8_t iv[AEAD_GCM_IV], const uint8_t *aad, size_t aadlen,
	    const uint8_t *ct, size_t len, const uint8_t icv[AEAD_GCM_ICV], uint8_t *pt);

#endif

/*
 * Plain digests and HMAC for the non-PRF uses in IKE: NAT detection hashes and
 * CERTREQ authority hashes (SHA-1, RFC 7296 §2.23 and §3.7 — identifiers, not
 * security), cookies (HMAC-SHA-256 over a local secret, §2.6).
 */
#ifndef ODVPN_CRYPTO_HASH_H
#define ODVPN_CRYPTO_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/prf.h"

#define SHA1_LEN	20
#define SHA256_LEN	32

int	hash_sha1(const struct crypto_iov *, size_t n, uint8_t out[SHA1_LEN]);
int	hash_sha256(const struct crypto_iov *, size_t n, uint8_t out[SHA256_LEN]);
int	hmac_sha256(const uint8_t *key, size_t keylen, const struct crypto_iov *,
	    size_t n, uint8_t out[SHA256_LEN]);

#endif

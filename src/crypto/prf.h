/*
 * The IKEv2 pseudo-random functions (RFC 7296 §2.13, RFC 4868 §2.1):
 * HMAC-SHA2-256/384/512 with the full key (no truncation), and prf+.
 * PRF identifiers are the IANA IKEv2 Transform Type 2 values.
 * Inputs are given as a list of pieces so callers never concatenate secrets.
 */
#ifndef ODVPN_CRYPTO_PRF_H
#define ODVPN_CRYPTO_PRF_H

#include <stddef.h>
#include <stdint.h>

#define PRF_HMAC_SHA2_256	5
#define PRF_HMAC_SHA2_384	6
#define PRF_HMAC_SHA2_512	7
#define PRF_MAX_LEN		64

struct crypto_iov {
	const void	*p;
	size_t		 len;
};

/* output length of prf, 0 if unsupported */
size_t	prf_len(int prf);
/* out receives prf_len(prf) octets */
int	prf_compute(int prf, const uint8_t *key, size_t keylen,
	    const struct crypto_iov *in, size_t nin, uint8_t *out);
/* prf+(K, S) = T1 | T2 | ..., truncated to outlen (at most 255 * prf_len) */
int	prf_plus(int prf, const uint8_t *key, size_t keylen,
	    const struct crypto_iov *seed, size_t nseed, uint8_t *out, size_t outlen);

#endif

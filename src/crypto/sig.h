/*
 * Digital signature authentication for IKEv2 (RFC 7427, AUTH method 14).
 *
 * The AUTH data is: one octet ASN.1 length | AlgorithmIdentifier (DER) |
 * signature value. ECDSA signatures are the DER ECDSA-Sig-Value (what OpenSSL
 * produces); RSA keys sign with RSASSA-PSS, MGF1 with the same hash, salt length
 * equal to the hash length (RFC 7427 A.4.3 pattern). Verification accepts
 * ecdsa-with-SHA256/384/512, sha256/384/512WithRSAEncryption and RSASSA-PSS with
 * SHA-2 hashes; SHA-1 is refused (RFC 8247 §3.2).
 *
 * Hash algorithm numbers are those of the SIGNATURE_HASH_ALGORITHMS notify
 * (RFC 7427 §4); a hash set is a bit mask of 1 << number.
 */
#ifndef ODVPN_CRYPTO_SIG_H
#define ODVPN_CRYPTO_SIG_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define SIG_HASH_SHA1		1
#define SIG_HASH_SHA2_256	2
#define SIG_HASH_SHA2_384	3
#define SIG_HASH_SHA2_512	4
#define SIG_HASH_IDENTITY	5
#define SIG_ALGID_MAX		80
#define SIG_MAX			1024	/* RSA-8192 */

/* the hashes we can sign and verify with, as a mask */
#define SIG_HASHES_SUPPORTED	((1u << SIG_HASH_SHA2_256) | (1u << SIG_HASH_SHA2_384) | \
				 (1u << SIG_HASH_SHA2_512))

/* the digest (OpenSSL NID) to sign with key, preferring the one matching an EC
 * key's size, restricted to peer_hashes unless that is 0; NID_undef if none */
int	sig_choose_md(EVP_PKEY *key, unsigned peer_hashes);
/* DER AlgorithmIdentifier for a signature by key with md_nid */
int	sig_algid(EVP_PKEY *key, int md_nid, uint8_t *out, size_t cap, size_t *len);
/* 0 if sig over tbs verifies with pub under algid; -1 with a reason in err */
int	sig_verify(EVP_PKEY *pub, const uint8_t *algid, size_t algidlen,
	    const uint8_t *sig, size_t siglen, const uint8_t *tbs, size_t tbslen,
	    char *err, size_t errlen);
/* sign with a private key held in memory (tests, tools, the file key store);
 * *siglen is the capacity in, the length out */
int	sig_sign(EVP_PKEY *priv, int md_nid, const uint8_t *tbs, size_t tbslen,
	    uint8_t *sig, size_t *siglen);

#endif

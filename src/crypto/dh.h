/*
 * Diffie-Hellman for IKEv2 (Transform Type 4): groups 19 and 20 (ECP, RFC 5903)
 * and 31 (Curve25519, RFC 8031).
 *
 * Public values on the wire: ECP is x || y, each coordinate left-padded to the
 * field size (RFC 5903 §7, no point-format octet); Curve25519 is the 32-octet
 * u-coordinate (RFC 7748 §5). The shared secret is the x-coordinate (ECP) or the
 * 32-octet X25519 output.
 *
 * dh_derive() validates the peer's value before use (RFC 6989 §2.3 for ECP: right
 * length, coordinates in range, on the curve, not the point at infinity; RFC 8031
 * §2 / RFC 7748 §6.1 for X25519: an all-zero shared secret is refused).
 * A struct dh holds a private key: dh_free() releases it (OpenSSL wipes it).
 */
#ifndef ODVPN_CRYPTO_DH_H
#define ODVPN_CRYPTO_DH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DH_ECP_256	19
#define DH_ECP_384	20
#define DH_CURVE25519	31
#define DH_MAX_PUB	96
#define DH_MAX_SECRET	48

struct dh;

bool	 dh_supported(int group);
size_t	 dh_pub_len(int group);		/* 0 if unsupported */
struct dh *dh_new(int group);		/* fresh key pair; NULL on failure */
/* a known private key (known-answer tests); priv is big-endian for ECP, the raw
 * 32-octet scalar for X25519 */
struct dh *dh_new_private(int group, const uint8_t *priv, size_t len);
void	 dh_free(struct dh *);
int	 dh_group(const struct dh *);
/* writes exactly dh_pub_len() octets; returns 0 or -1 */
int	 dh_public(const struct dh *, uint8_t *out, size_t outlen);
/* -1 on a malformed or invalid peer value; *secretlen set on success */
int	 dh_derive(const struct dh *, const uint8_t *peer, size_t peerlen,
	    uint8_t *secret, size_t secretcap, size_t *secretlen);

#endif

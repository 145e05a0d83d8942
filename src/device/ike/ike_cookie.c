/*
 * Stateless cookies (RFC 7296 §2.6):
 *   Cookie = <VersionIDofSecret> | HMAC-SHA-256(<secret>, Ni | IPi | SPIi)
 * The secret is random, replaced every IKE_COOKIE_ROTATE_MS; the previous one
 * stays valid for one period so a cookie handed out just before a rotation
 * still works.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/hash.h"
#include "device/ike/ike_local.h"

void
ike_cookie_rotate(struct ike_engine *e, uint64_t now)
{
	if (e->cookie_rotated_ms != 0 && now - e->cookie_rotated_ms < IKE_COOKIE_ROTATE_MS)
		return;
	memcpy(e->cookie_secret[1], e->cookie_secret[0], sizeof(e->cookie_secret[0]));
	ike_random(e, e->cookie_secret[0], sizeof(e->cookie_secret[0]));
	e->cookie_version++;
	e->cookie_rotated_ms = now == 0 ? 1 : now;
}

static int
cookie_mac(const uint8_t secret[32], const uint8_t *ni, size_t nilen,
    const struct ipaddr *ip, const uint8_t spi_i[8], uint8_t out[SHA256_LEN])
{
	struct crypto_iov in[3] = { { ni, nilen }, { ip->a, ipaddr_len(ip) }, { spi_i, 8 } };

	return hmac_sha256(secret, 32, in, 3, out);
}

/* out: 1 + SHA256_LEN octets */
size_t
ike_cookie_make(struct ike_engine *e, const uint8_t *ni, size_t nilen,
    const struct ipaddr *ip, const uint8_t spi_i[8], uint8_t *out)
{
	ike_cookie_rotate(e, ike_now(e));
	out[0] = e->cookie_version;
	if (cookie_mac(e->cookie_secret[0], ni, nilen, ip, spi_i, out + 1) == -1)
		return 0;
	return 1 + SHA256_LEN;
}

bool
ike_cookie_check(struct ike_engine *e, const uint8_t *cookie, size_t len,
    const uint8_t *ni, size_t nilen, const struct ipaddr *ip, const uint8_t spi_i[8])
{
	uint8_t mac[SHA256_LEN];
	const uint8_t *secret;

	if (len != 1 + SHA256_LEN || e->cookie_rotated_ms == 0)
		return false;
	if (cookie[0] == e->cookie_version)
		secret = e->cookie_secret[0];
	else if (cookie[0] == (uint8_t)(e->cookie_version - 1))
		secret = e->cookie_secret[1];
	else
		return false;
	if (cookie_mac(secret, ni, nilen, ip, spi_i, mac) == -1)
		return false;
	return CRYPTO_memcmp(mac, cookie + 1, SHA256_LEN) == 0;
}

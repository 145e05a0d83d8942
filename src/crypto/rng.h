/* The system CSPRNG (OpenSSL's DRBG). Aborts if it cannot deliver: running on
 * without randomness would be worse than stopping. */
#ifndef ODVPN_CRYPTO_RNG_H
#define ODVPN_CRYPTO_RNG_H

#include <stddef.h>

void	rng_bytes(void *, size_t);

#endif

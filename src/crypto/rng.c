#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/rand.h>

#include "crypto/rng.h"

void
rng_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		int chunk = n > INT_MAX ? INT_MAX : (int)n;

		if (RAND_bytes(p, chunk) != 1) {
			fprintf(stderr, "fatal: RAND_bytes failed\n");
			abort();
		}
		p += chunk;
		n -= (size_t)chunk;
	}
}

/*
 * libFuzzer target: whole IKE messages through the payload codecs — the header
 * and outer chain of a datagram (ike_msg_parse), and the same bytes as a
 * decrypted inner chain. Anything may be refused; nothing may crash or read
 * out of bounds, and what parsed must be internally consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "device/ike/ike_pld.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
consistent(const struct ike_msg *m, const uint8_t *base, size_t len)
{
	/* every borrowed pointer lies inside the input */
	if (m->nonce.len > 0 && (m->nonce.data < base || m->nonce.data + m->nonce.len > base + len))
		abort();
	if (m->ke.len > 0 && (m->ke.data < base || m->ke.data + m->ke.len > base + len))
		abort();
	for (size_t i = 0; i < m->nnotify; i++)
		if (m->notify[i].len > 0 && (m->notify[i].data < base ||
		    m->notify[i].data + m->notify[i].len > base + len))
			abort();
	for (size_t i = 0; i < m->ndel; i++)
		if ((size_t)m->del[i].nspi * m->del[i].spi_size > len)
			abort();
	if (m->sa.nprop > IKE_MAX_PROPS || m->tsi.n > IKE_MAX_TS || m->tsr.n > IKE_MAX_TS)
		abort();
	if ((m->present & IKE_PBIT(IKE_PL_SK)) && (m->sk.aad_len > len ||
	    m->sk.body + m->sk.bodylen > base + len))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ike_msg *m = calloc(1, sizeof(*m));
	struct rbuf r;

	if (ike_msg_parse(m, data, size) == 0)
		consistent(m, data, size);
	if (size > 1) {
		memset(m, 0, sizeof(*m));
		rbuf_init(&r, data + 1, size - 1);
		if (ike_pld_parse_chain(m, data[0], &r, true) == 0)
			consistent(m, data + 1, size - 1);
	}
	free(m);
	return 0;
}

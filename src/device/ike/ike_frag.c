/*
 * IKE fragmentation (RFC 7383): reassembly of SKF payloads and the size of the
 * chunks we cut our own messages into. Each fragment is authenticated on its
 * own before it is stored (§2.6), so what is kept here is plaintext.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/aead.h"
#include "device/ike/ike_local.h"
#include "lib/util.h"

void
ike_frag_clear(struct ike_reass *r)
{
	for (size_t i = 0; i < IKE_MAX_FRAGS; i++) {
		if (r->frag[i] != NULL) {
			OPENSSL_cleanse(r->frag[i], r->fraglen[i]);
			free(r->frag[i]);
		}
	}
	memset(r, 0, sizeof(*r));
}

/* §2.6.1: a fragment with the same Message ID, number and total is a replay */
bool
ike_frag_seen(const struct ike_reass *r, uint32_t msgid, uint16_t num, uint16_t total)
{
	return r->active && r->msgid == msgid && r->total == total && num >= 1 &&
	    num <= IKE_MAX_FRAGS && r->frag[num - 1] != NULL;
}

/*
 * 1: the message is complete (*out, allocated, owned by the caller; *first is
 * the first inner payload type); 0: stored, more to come; -1: dropped.
 */
int
ike_frag_store(struct ike_reass *r, uint32_t msgid, const struct ike_pl_sk *sk,
    const uint8_t *plain, size_t len, uint64_t now, uint8_t **out, size_t *outlen,
    uint8_t *first)
{
	uint16_t num = sk->frag_num, total = sk->frag_total;
	uint8_t *buf;
	size_t off = 0;

	if (total > IKE_MAX_FRAGS || num == 0 || num > total)
		return -1;
	if (!r->active || r->msgid != msgid || now > r->deadline_ms || total > r->total) {
		/* a newer message, or a new set after a smaller threshold (§2.5.2) */
		ike_frag_clear(r);
		r->active = true;
		r->msgid = msgid;
		r->total = total;
		r->deadline_ms = now + IKE_REASS_MS;
	} else if (total < r->total)
		return -1;
	if (r->frag[num - 1] != NULL || r->bytes + len > IKE_MSG_MAX)
		return -1;
	r->frag[num - 1] = xmalloc(len > 0 ? len : 1);
	memcpy(r->frag[num - 1], plain, len);
	r->fraglen[num - 1] = len;
	r->bytes += len;
	r->nrecv++;
	if (num == 1)
		r->first_next = sk->next;
	if (r->nrecv < r->total)
		return 0;
	buf = xmalloc(r->bytes > 0 ? r->bytes : 1);
	for (size_t i = 0; i < r->total; i++) {
		memcpy(buf + off, r->frag[i], r->fraglen[i]);
		off += r->fraglen[i];
	}
	*out = buf;
	*outlen = off;
	*first = r->first_next;
	ike_frag_clear(r);
	return 1;
}

/* octets of IP, UDP and the non-ESP marker around each IKE datagram */
static size_t
encap_overhead(const struct ike_sa *sa)
{
	size_t n = (sa->raddr.af == AF_INET6 ? 40 : 20) + 8;

	if (sa->lport == IKE_NATT_PORT || sa->rport == IKE_NATT_PORT)
		n += 4;
	return n;
}

/*
 * The plaintext chunk per fragment so that each IP datagram stays within mtu
 * (§2.5.1): header 28, SKF header 8, IV 8, pad length 1, ICV 16.
 */
size_t
ike_frag_chunk(const struct ike_sa *sa, size_t mtu)
{
	size_t over = encap_overhead(sa) + IKE_HDR_LEN + 8 + AEAD_GCM_IV + 1 + AEAD_GCM_ICV;

	if (mtu < over + 64)
		return 64;
	return mtu - over;
}

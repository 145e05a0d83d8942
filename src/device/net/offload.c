/*
 * TSO segmentation and GRO coalescing for the TUN (see offload.h). The header
 * rewriting follows what the kernel's own TCP segmentation does: per segment
 * the IPv4 id increases by one, the sequence number advances by the MSS, FIN and
 * PSH stay on the last segment only and CWR on the first only.
 */
#include <string.h>

#include "device/net/offload.h"
#include "lib/buf.h"

#define TCP_FIN	0x01
#define TCP_SYN	0x02
#define TCP_RST	0x04
#define TCP_PSH	0x08
#define TCP_ACK	0x10
#define TCP_URG	0x20
#define TCP_ECE	0x40
#define TCP_CWR	0x80

void
vnet_hdr_get(const uint8_t *p, struct vnet_hdr *h)
{
	h->flags = p[0];
	h->gso_type = p[1];
	memcpy(&h->hdr_len, p + 2, 2);
	memcpy(&h->gso_size, p + 4, 2);
	memcpy(&h->csum_start, p + 6, 2);
	memcpy(&h->csum_offset, p + 8, 2);
}

void
vnet_hdr_put(uint8_t *p, const struct vnet_hdr *h)
{
	p[0] = h->flags;
	p[1] = h->gso_type;
	memcpy(p + 2, &h->hdr_len, 2);
	memcpy(p + 4, &h->gso_size, 2);
	memcpy(p + 6, &h->csum_start, 2);
	memcpy(p + 8, &h->csum_offset, 2);
}

uint32_t
off_csum_add(const uint8_t *p, size_t n, uint32_t sum)
{
	uint64_t s = sum;
	uint32_t w;

	/* 4 bytes at a time into a 64-bit accumulator, folded at the end */
	while (n >= 4) {
		memcpy(&w, p, 4);
		s += w;
		p += 4;
		n -= 4;
	}
	if (n >= 2) {
		uint16_t h;

		memcpy(&h, p, 2);
		s += h;
		p += 2;
		n -= 2;
	}
	if (n == 1) {
		uint8_t b[2] = { p[0], 0 };
		uint16_t h;

		memcpy(&h, b, 2);
		s += h;
	}
	/* the sum above is in memory (network) order of 16-bit words: fold it */
	s = (s & 0xffffffffULL) + (s >> 32);
	s = (s & 0xffffffffULL) + (s >> 32);
	return (uint32_t)s;
}

uint16_t
off_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* sums are kept in memory order; this stores a folded sum as its bytes */
static void
off_store_csum(uint8_t *p, uint16_t folded_mem)
{
	memcpy(p, &folded_mem, 2);
}

uint32_t
off_pseudo_sum(const uint8_t *ip, uint8_t proto, size_t l4len)
{
	uint8_t tail[8] = { 0 };
	uint32_t sum;

	if ((ip[0] >> 4) == 4) {
		sum = off_csum_add(ip + 12, 8, 0);
		tail[1] = proto;
		store_be16(tail + 2, (uint16_t)l4len);
		return off_csum_add(tail, 4, sum);
	}
	sum = off_csum_add(ip + 8, 32, 0);
	store_be32(tail, (uint32_t)l4len);
	tail[7] = proto;
	return off_csum_add(tail, 8, sum);
}

int
off_csum_complete(uint8_t *pkt, size_t len, const struct vnet_hdr *h)
{
	size_t start = h->csum_start, at = (size_t)h->csum_start + h->csum_offset;

	if (!(h->flags & VNET_F_NEEDS_CSUM))
		return 0;
	if (start > len || at + 2 > len)
		return -1;
	/* the field holds the pseudo-header sum already (CHECKSUM_PARTIAL) */
	off_store_csum(pkt + at, (uint16_t)~off_csum_fold(off_csum_add(pkt + start,
	    len - start, 0)));
	return 0;
}

static void
off_ipv4_csum(uint8_t *ip, size_t ihl)
{
	ip[10] = ip[11] = 0;
	off_store_csum(ip + 10, (uint16_t)~off_csum_fold(off_csum_add(ip, ihl, 0)));
}

int
off_tso_segment(const uint8_t *pkt, size_t len, const struct vnet_hdr *h, size_t i,
    uint8_t *out, size_t room)
{
	size_t iphlen, thlen, hlen, payload, mss, off, seglen, nseg;
	uint8_t proto, flags;
	bool v4;

	if (len < 20)
		return -1;
	v4 = (pkt[0] >> 4) == 4;
	if (v4) {
		iphlen = (size_t)(pkt[0] & 0x0f) * 4;
		proto = pkt[9];
	} else if ((pkt[0] >> 4) == 6) {
		iphlen = 40;
		proto = len >= 40 ? pkt[6] : 0;
	} else
		return -1;
	if (proto != 6 || iphlen < 20 || iphlen + 20 > len)
		return -1;
	thlen = (size_t)(pkt[iphlen + 12] >> 4) * 4;
	hlen = iphlen + thlen;
	mss = h->gso_size;
	if (thlen < 20 || hlen > len || mss == 0)
		return -1;
	payload = len - hlen;
	nseg = (payload + mss - 1) / mss;
	if (i >= nseg)
		return i == 0 && payload == 0 ? -1 : 0;
	off = i * mss;
	seglen = payload - off < mss ? payload - off : mss;
	if (hlen + seglen > room)
		return -1;
	memcpy(out, pkt, hlen);
	memcpy(out + hlen, pkt + hlen + off, seglen);
	if (v4) {
		store_be16(out + 2, (uint16_t)(hlen + seglen));
		store_be16(out + 4, (uint16_t)(load_be16(pkt + 4) + i));
		off_ipv4_csum(out, iphlen);
	} else
		store_be16(out + 4, (uint16_t)(thlen + seglen));
	store_be32(out + iphlen + 4, load_be32(pkt + iphlen + 4) + (uint32_t)off);
	flags = out[iphlen + 13];
	if (i + 1 < nseg)
		flags &= (uint8_t)~(TCP_FIN | TCP_PSH);
	if (i > 0)
		flags &= (uint8_t)~TCP_CWR;
	out[iphlen + 13] = flags;
	out[iphlen + 16] = out[iphlen + 17] = 0;
	off_store_csum(out + iphlen + 16, (uint16_t)~off_csum_fold(off_csum_add(
	    out + iphlen, thlen + seglen, off_pseudo_sum(out, 6, thlen + seglen))));
	return (int)(hlen + seglen);
}

bool
off_gro_parse(const uint8_t *pkt, size_t len, struct off_tcp *t)
{
	size_t totlen;

	if (len < 40)
		return false;
	if ((pkt[0] >> 4) == 4) {
		/* no options, not a fragment (MF clear, offset 0), TCP */
		if (pkt[0] != 0x45 || pkt[9] != 6 || (load_be16(pkt + 6) & 0x3fff) != 0)
			return false;
		t->af = 4;
		t->iphlen = 20;
		totlen = load_be16(pkt + 2);
	} else if ((pkt[0] >> 4) == 6) {
		if (pkt[6] != 6 || len < 60)
			return false;
		t->af = 6;
		t->iphlen = 40;
		totlen = 40 + (size_t)load_be16(pkt + 4);
	} else
		return false;
	if (totlen != len)
		return false;
	t->thlen = (uint8_t)((pkt[t->iphlen + 12] >> 4) * 4);
	if (t->thlen < 20 || (size_t)t->iphlen + t->thlen >= len)
		return false;
	t->flags = pkt[t->iphlen + 13];
	if ((t->flags & ~(TCP_ACK | TCP_PSH)) != 0 || !(t->flags & TCP_ACK))
		return false;
	t->seq = load_be32(pkt + t->iphlen + 4);
	t->payload = len - t->iphlen - t->thlen;
	return true;
}

bool
off_gro_same_flow(const uint8_t *a, const struct off_tcp *ta, const uint8_t *b,
    const struct off_tcp *tb)
{
	if (ta->af != tb->af)
		return false;
	if (ta->af == 4)
		return memcmp(a + 12, b + 12, 8) == 0 && memcmp(a + 20, b + 20, 4) == 0;
	return memcmp(a + 8, b + 8, 32) == 0 && memcmp(a + 40, b + 40, 4) == 0;
}

bool
off_gro_can_append(const uint8_t *head, const struct off_tcp *th,
    const uint8_t *last, const struct off_tcp *tl, const uint8_t *cand,
    const struct off_tcp *tc, size_t total, unsigned nseg)
{
	size_t ip = th->iphlen;

	if (!off_gro_same_flow(head, th, cand, tc) || tc->thlen != th->thlen)
		return false;
	if (nseg >= OFF_GRO_MAX_SEGS || total + tc->payload > 65535 ||
	    tl->payload != th->payload || tc->payload > th->payload ||
	    (tl->flags & TCP_PSH) || tc->seq != tl->seq + (uint32_t)tl->payload)
		return false;
	/* IP fields that must agree: IPv4 tos, DF, ttl; IPv6 class/label, hop limit */
	if (th->af == 4) {
		if (head[1] != cand[1] || head[6] != cand[6] || head[8] != cand[8])
			return false;
	} else if (memcmp(head, cand, 4) != 0 || head[7] != cand[7])
		return false;
	/* TCP: ack, data offset, window, urgent pointer, options all equal */
	return memcmp(head + ip + 8, cand + ip + 8, 5) == 0 &&
	    memcmp(head + ip + 14, cand + ip + 14, 2) == 0 &&
	    memcmp(head + ip + 18, cand + ip + 18, (size_t)th->thlen - 18) == 0;
}

void
off_gro_finish(uint8_t *head, const struct off_tcp *th, size_t total,
    uint8_t flags_or, struct vnet_hdr *h)
{
	size_t ip = th->iphlen, l4 = total - ip;

	if (th->af == 4) {
		store_be16(head + 2, (uint16_t)total);
		off_ipv4_csum(head, ip);
	} else
		store_be16(head + 4, (uint16_t)l4);
	head[ip + 13] |= flags_or;
	/* CHECKSUM_PARTIAL: the field holds the pseudo-header sum, not complemented */
	head[ip + 16] = head[ip + 17] = 0;
	off_store_csum(head + ip + 16, off_csum_fold(off_pseudo_sum(head, 6, l4)));
	h->flags = VNET_F_NEEDS_CSUM;
	h->gso_type = th->af == 4 ? VNET_GSO_TCPV4 : VNET_GSO_TCPV6;
	h->hdr_len = (uint16_t)(ip + th->thlen);
	h->gso_size = (uint16_t)th->payload;
	h->csum_start = (uint16_t)ip;
	h->csum_offset = 16;
}

/*
 * TUN offload helpers (src/device/net/offload.c): TSO segmentation checked
 * against a plain RFC 1071 checksum written here, GRO coalescing and its round
 * trip (coalesce, then segment again: the same packets), checksum completion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "device/net/offload.h"
#include "lib/buf.h"

/* RFC 1071, the obvious way: 16-bit big-endian words */
static uint16_t
ref_sum(const uint8_t *p, size_t n, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* is the TCP checksum of this IPv4/IPv6 segment correct? */
static bool
tcp_csum_ok(const uint8_t *p, size_t len)
{
	uint8_t ph[40];
	size_t iph = (p[0] >> 4) == 4 ? (size_t)(p[0] & 15) * 4 : 40, l4 = len - iph, phl;

	memset(ph, 0, sizeof(ph));
	if ((p[0] >> 4) == 4) {
		memcpy(ph, p + 12, 8);
		ph[9] = 6;
		store_be16(ph + 10, (uint16_t)l4);
		phl = 12;
	} else {
		memcpy(ph, p + 8, 32);
		store_be32(ph + 32, (uint32_t)l4);
		ph[39] = 6;
		phl = 40;
	}
	return ref_sum(p + iph, l4, ref_sum(ph, phl, 0)) == 0xffff;
}

static bool
ip_csum_ok(const uint8_t *p)
{
	return ref_sum(p, (size_t)(p[0] & 15) * 4, 0) == 0xffff;
}

/* a TSO super-packet as the kernel hands it over: headers once, payload n */
static size_t
super(uint8_t *p, bool v6, size_t payload, uint8_t flags)
{
	size_t iph = v6 ? 40 : 20, th = 32, i;

	memset(p, 0, iph + th);
	if (v6) {
		p[0] = 0x60;
		store_be16(p + 4, (uint16_t)(th + payload));
		p[6] = 6;
		p[7] = 64;
		p[8] = 0xfd; p[9] = 1; p[23] = 5;
		p[24] = 0xfd; p[25] = 2; p[39] = 7;
	} else {
		p[0] = 0x45;
		store_be16(p + 2, (uint16_t)(iph + th + payload));
		store_be16(p + 4, 0x1234);
		p[6] = 0x40;	/* DF */
		p[8] = 64;
		p[9] = 6;
		p[12] = 10; p[13] = 1; p[15] = 5;
		p[16] = 10; p[17] = 2; p[19] = 7;
	}
	store_be16(p + iph, 40000);
	store_be16(p + iph + 2, 5201);
	store_be32(p + iph + 4, 0xfffff000);	/* wraps inside the packet */
	store_be32(p + iph + 8, 77);
	p[iph + 12] = (uint8_t)(th / 4) << 4;
	p[iph + 13] = flags;
	store_be16(p + iph + 14, 512);
	p[iph + 20] = 1; p[iph + 21] = 1; p[iph + 22] = 8; p[iph + 23] = 10; /* NOP NOP TS */
	store_be32(p + iph + 24, 1111);
	store_be32(p + iph + 28, 2222);
	for (i = 0; i < payload; i++)
		p[iph + th + i] = (uint8_t)(i * 13 + 5);
	return iph + th + payload;
}

static void
segment_and_check(bool v6)
{
	static uint8_t sp[70000], seg[40][2048];
	struct vnet_hdr h = { .gso_type = v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4,
	    .gso_size = 1000 };
	size_t iph = v6 ? 40 : 20, hl = iph + 32, len, total = 0, i;
	int n;

	len = super(sp, v6, 4500, 0x18 | 0x01 | 0x80);	/* ACK PSH FIN CWR */
	for (i = 0;; i++) {
		n = off_tso_segment(sp, len, &h, i, seg[i], sizeof(seg[i]));
		assert_true(n >= 0);
		if (n == 0)
			break;
		assert_int_equal((size_t)n, hl + (i < 4 ? 1000 : 500));
		assert_true(tcp_csum_ok(seg[i], (size_t)n));
		if (!v6) {
			assert_true(ip_csum_ok(seg[i]));
			assert_int_equal(load_be16(seg[i] + 2), n);
			assert_int_equal(load_be16(seg[i] + 4), 0x1234 + i);
		} else
			assert_int_equal(load_be16(seg[i] + 4), (size_t)n - 40);
		assert_int_equal(load_be32(seg[i] + iph + 4), (uint32_t)(0xfffff000 + i * 1000));
		/* FIN/PSH only on the last, CWR only on the first */
		assert_int_equal(seg[i][iph + 13] & 0x09, i == 4 ? 0x09 : 0);
		assert_int_equal(seg[i][iph + 13] & 0x80, i == 0 ? 0x80 : 0);
		assert_memory_equal(seg[i] + hl, sp + hl + total, (size_t)n - hl);
		total += (size_t)n - hl;
	}
	assert_int_equal(i, 5);
	assert_int_equal(total, 4500);
	/* too small an output */
	assert_int_equal(off_tso_segment(sp, len, &h, 0, seg[0], hl + 999), -1);
	/* not TCP */
	sp[v6 ? 6 : 9] = 17;
	assert_int_equal(off_tso_segment(sp, len, &h, 0, seg[0], sizeof(seg[0])), -1);
}

static void
test_tso_segment_ipv4(void **state)
{
	segment_and_check(false);
}

static void
test_tso_segment_ipv6(void **state)
{
	segment_and_check(true);
}

static void
gro_roundtrip(bool v6)
{
	static uint8_t sp[70000], seg[40][2048], again[2048];
	struct vnet_hdr h = { .gso_type = v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4,
	    .gso_size = 1300 }, out;
	struct off_tcp t[40];
	size_t len, total, i, nseg, hl = (v6 ? 40 : 20) + 32;
	int n;

	len = super(sp, v6, 1300 * 9 + 77, 0x18);
	for (nseg = 0; (n = off_tso_segment(sp, len, &h, nseg, seg[nseg], 2048)) > 0; nseg++)
		assert_true(off_gro_parse(seg[nseg], (size_t)n, &t[nseg]));
	assert_int_equal(nseg, 10);
	/* coalesce them all, as the TUN writer does */
	total = hl + t[0].payload;
	for (i = 1; i < nseg; i++) {
		assert_true(off_gro_same_flow(seg[0], &t[0], seg[i], &t[i]));
		assert_true(off_gro_can_append(seg[0], &t[0], seg[i - 1], &t[i - 1], seg[i],
		    &t[i], total, (unsigned)i));
		total += t[i].payload;
	}
	/* nothing may follow the short last segment, and gaps are refused */
	assert_false(off_gro_can_append(seg[0], &t[0], seg[9], &t[9], seg[9], &t[9],
	    total, 10));
	assert_false(off_gro_can_append(seg[0], &t[0], seg[1], &t[1], seg[3], &t[3],
	    hl + 2600, 2));
	/* build the super-packet in one buffer: head headers + all payloads */
	memcpy(sp, seg[0], hl);
	for (i = 0; i < nseg; i++)
		memcpy(sp + hl + i * 1300, seg[i] + hl, t[i].payload);
	off_gro_finish(sp, &t[0], total, t[nseg - 1].flags & 0x08, &out);
	assert_int_equal(out.flags, VNET_F_NEEDS_CSUM);
	assert_int_equal(out.gso_type, v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4);
	assert_int_equal(out.gso_size, 1300);
	assert_int_equal(out.hdr_len, hl);
	assert_int_equal(out.csum_start, v6 ? 40 : 20);
	assert_int_equal(out.csum_offset, 16);
	/* what the kernel does with it: segment again -> the very same packets */
	for (i = 0; i < nseg; i++) {
		n = off_tso_segment(sp, total, &out, i, again, sizeof(again));
		assert_true(n > 0);
		assert_int_equal((size_t)n, hl + t[i].payload);
		assert_memory_equal(again, seg[i], (size_t)n);
	}
	/* the partial checksum completes to a valid one over the whole packet */
	assert_int_equal(off_csum_complete(sp, total, &out), 0);
	assert_true(tcp_csum_ok(sp, total));
}

static void
test_gro_roundtrip_ipv4(void **state)
{
	gro_roundtrip(false);
}

static void
test_gro_roundtrip_ipv6(void **state)
{
	gro_roundtrip(true);
}

static void
test_gro_refuses(void **state)
{
	static uint8_t a[2048], b[2048];
	struct vnet_hdr h = { .gso_type = VNET_GSO_TCPV4, .gso_size = 1000 };
	static uint8_t sp[8000];
	struct off_tcp ta, tb;
	size_t len;

	len = super(sp, false, 2000, 0x10);
	assert_int_equal(off_tso_segment(sp, len, &h, 0, a, sizeof(a)), 1052);
	assert_int_equal(off_tso_segment(sp, len, &h, 1, b, sizeof(b)), 1052);
	assert_true(off_gro_parse(a, 1052, &ta));
	assert_true(off_gro_parse(b, 1052, &tb));
	assert_true(off_gro_can_append(a, &ta, a, &ta, b, &tb, 1052, 1));
	b[20 + 11] ^= 1;		/* another ack number */
	assert_false(off_gro_can_append(a, &ta, a, &ta, b, &tb, 1052, 1));
	b[20 + 11] ^= 1;
	b[20 + 27] ^= 1;		/* another timestamp */
	assert_false(off_gro_can_append(a, &ta, a, &ta, b, &tb, 1052, 1));
	b[20 + 27] ^= 1;
	b[8] = 63;			/* another TTL */
	assert_false(off_gro_can_append(a, &ta, a, &ta, b, &tb, 1052, 1));
	b[8] = 64;
	assert_false(off_gro_can_append(a, &ta, a, &ta, b, &tb, 65000, 1));	/* > 64 KB */
	/* SYN, FIN, RST, no ACK, no payload, fragments, options: not coalesced */
	a[33] = 0x12;
	assert_false(off_gro_parse(a, 1052, &ta));
	a[33] = 0x11;
	assert_false(off_gro_parse(a, 1052, &ta));
	a[33] = 0x08;
	assert_false(off_gro_parse(a, 1052, &ta));
	a[33] = 0x10;
	assert_false(off_gro_parse(a, 52, &ta));
	assert_false(off_gro_parse(a, 1051, &ta));	/* length mismatch */
	store_be16(a + 6, 0x2000);			/* MF */
	assert_false(off_gro_parse(a, 1052, &ta));
	store_be16(a + 6, 0x4000);
	a[0] = 0x46;
	assert_false(off_gro_parse(a, 1052, &ta));
}

static void
test_csum_complete(void **state)
{
	static uint8_t p[3000];
	struct vnet_hdr h = { .flags = VNET_F_NEEDS_CSUM, .csum_start = 20,
	    .csum_offset = 16 };
	size_t len = super(p, false, 1001, 0x18);	/* odd length */
	uint32_t ps;

	/* the kernel leaves the pseudo-header sum in the field */
	ps = off_pseudo_sum(p, 6, len - 20);
	p[36] = p[37] = 0;
	{
		uint16_t f = off_csum_fold(ps);

		memcpy(p + 36, &f, 2);
	}
	assert_false(tcp_csum_ok(p, len));
	assert_int_equal(off_csum_complete(p, len, &h), 0);
	assert_true(tcp_csum_ok(p, len));
	h.csum_start = 3000;
	assert_int_equal(off_csum_complete(p, len, &h), -1);
	h.csum_start = 20;
	h.csum_offset = (uint16_t)(len - 21);
	assert_int_equal(off_csum_complete(p, len, &h), -1);
}

static void
test_vnet_hdr_codec(void **state)
{
	struct vnet_hdr a = { 1, 4, 72, 1348, 40, 16 }, b;
	uint8_t buf[VNET_HDR_LEN];

	vnet_hdr_put(buf, &a);
	vnet_hdr_get(buf, &b);
	assert_memory_equal(&a, &b, sizeof(a));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tso_segment_ipv4),
		cmocka_unit_test(test_tso_segment_ipv6),
		cmocka_unit_test(test_gro_roundtrip_ipv4),
		cmocka_unit_test(test_gro_roundtrip_ipv6),
		cmocka_unit_test(test_gro_refuses),
		cmocka_unit_test(test_csum_complete),
		cmocka_unit_test(test_vnet_hdr_codec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

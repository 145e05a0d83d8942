/*
 * ESP with AES-256-GCM (src/device/esp/): known-answer packets checked byte for
 * byte against an independent construction with OpenSSL EVP in this file, round
 * trips, tampering, the anti-replay window, ESN inference across 2^32 and
 * sequence-number exhaustion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "device/esp/esp.h"
#include "lib/buf.h"

static const uint8_t keymat[ESP_KEYMAT_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
	0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
	0xca, 0xfe, 0xba, 0xbe,		/* salt */
};

/* an IPv4/UDP packet of 28 + payload bytes */
static size_t
make_ipv4(uint8_t *p, size_t payload)
{
	size_t len = 28 + payload, i;

	memset(p, 0, 28);
	p[0] = 0x45;
	store_be16(p + 2, (uint16_t)len);
	p[8] = 64;
	p[9] = 17;
	p[12] = 10; p[13] = 1; p[15] = 2;
	p[16] = 10; p[17] = 2; p[19] = 2;
	store_be16(p + 20, 1234);
	store_be16(p + 22, 53);
	store_be16(p + 24, (uint16_t)(8 + payload));
	for (i = 0; i < payload; i++)
		p[28 + i] = (uint8_t)(i * 7 + 1);
	return len;
}

static size_t
make_ipv6(uint8_t *p, size_t payload)
{
	size_t i;

	memset(p, 0, 48);
	p[0] = 0x60;
	store_be16(p + 4, (uint16_t)(8 + payload));
	p[6] = 17;
	p[7] = 64;
	p[8] = 0xfd; p[23] = 1;
	p[24] = 0xfd; p[25] = 2; p[39] = 2;
	store_be16(p + 40, 1234);
	store_be16(p + 42, 53);
	store_be16(p + 44, (uint16_t)(8 + payload));
	for (i = 0; i < payload; i++)
		p[48 + i] = (uint8_t)(i ^ 0x5a);
	return 48 + payload;
}

/* the expected ESP packet, computed here from RFC 4303/4106 with plain EVP calls */
static size_t
reference_esp(uint32_t spi, uint64_t seq, bool esn, const uint8_t *inner, size_t n,
    uint8_t nh, uint8_t *out)
{
	uint8_t pt[2048], nonce[12], aad[12];
	size_t pad = 0, ptlen, i;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int l;

	while ((n + pad + 2) % 4 != 0)
		pad++;
	memcpy(pt, inner, n);
	for (i = 0; i < pad; i++)
		pt[n + i] = (uint8_t)(i + 1);
	pt[n + pad] = (uint8_t)pad;
	pt[n + pad + 1] = nh;
	ptlen = n + pad + 2;
	store_be32(out, spi);
	store_be32(out + 4, (uint32_t)seq);
	store_be64(out + 8, seq);
	memcpy(nonce, keymat + 32, 4);
	store_be64(nonce + 4, seq);
	store_be32(aad, spi);
	if (esn)
		store_be64(aad + 4, seq);
	else
		store_be32(aad + 4, (uint32_t)seq);
	assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, keymat, nonce), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &l, aad, esn ? 12 : 8), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, out + 16, &l, pt, (int)ptlen), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, out + 16 + l, &l), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + 16 + ptlen), 1);
	EVP_CIPHER_CTX_free(ctx);
	return 16 + ptlen + 16;
}

static size_t
encap(struct esp_out *o, uint8_t *buf, const uint8_t *inner, size_t n, uint8_t nh)
{
	size_t outlen = 0;

	memcpy(buf + ESP_HEAD_LEN, inner, n);
	assert_int_equal(esp_encap(o, buf, 2048, n, nh, &outlen), ESP_OK);
	return outlen;
}

static void
test_known_answer_32bit(void **state)
{
	uint8_t inner[256], got[2048], want[2048];
	struct esp_out o;
	size_t n, gl, wl, payload;

	for (payload = 13; payload <= 16; payload++) {	/* every padding length */
		n = make_ipv4(inner, payload);
		assert_int_equal(esp_out_init(&o, 0x11223344, keymat, false), 0);
		o.seq = 4;
		gl = encap(&o, got, inner, n, ESP_NH_IPV4);
		wl = reference_esp(0x11223344, 5, false, inner, n, 4, want);
		assert_int_equal(gl, wl);
		assert_int_equal((gl - 16 - 16) % 4, 0);
		assert_memory_equal(got, want, wl);
		esp_out_wipe(&o);
	}
}

static void
test_known_answer_esn(void **state)
{
	uint8_t inner[256], got[2048], want[2048];
	struct esp_out o;
	size_t n, gl, wl;

	n = make_ipv6(inner, 20);
	assert_int_equal(esp_out_init(&o, 0xa0b0c0d0, keymat, true), 0);
	o.seq = 0x100000004ULL;
	gl = encap(&o, got, inner, n, ESP_NH_IPV6);
	wl = reference_esp(0xa0b0c0d0, 0x100000005ULL, true, inner, n, 41, want);
	assert_int_equal(gl, wl);
	assert_memory_equal(got, want, wl);
	/* on the wire only the low 32 bits: */
	assert_int_equal(load_be32(got + 4), 5);
	esp_out_wipe(&o);
}

static void
roundtrip(bool esn, bool v6)
{
	uint8_t inner[1500], buf[2048];
	struct esp_out o;
	struct esp_in in;
	struct esp_inner res;
	size_t n, len;
	int i;

	assert_int_equal(esp_out_init(&o, 0x5000, keymat, esn), 0);
	assert_int_equal(esp_in_init(&in, 0x5000, keymat, esn, 0), 0);
	for (i = 0; i < 50; i++) {
		n = v6 ? make_ipv6(inner, (size_t)i * 29) : make_ipv4(inner, (size_t)i * 29);
		len = encap(&o, buf, inner, n, v6 ? ESP_NH_IPV6 : ESP_NH_IPV4);
		assert_int_equal(esp_decap(&in, buf, len, &res), ESP_OK);
		assert_int_equal(res.len, n);
		assert_int_equal(res.next_header, v6 ? 41 : 4);
		assert_int_equal(res.seq, (uint64_t)i + 1);
		assert_memory_equal(res.pkt, inner, n);
	}
	esp_out_wipe(&o);
	esp_in_wipe(&in);
}

static void
test_roundtrip_ipv4(void **state)
{
	roundtrip(false, false);
	roundtrip(true, false);
}

static void
test_roundtrip_ipv6(void **state)
{
	roundtrip(false, true);
	roundtrip(true, true);
}

static void
test_tampered_dropped(void **state)
{
	uint8_t inner[256], good[2048], bad[2048];
	struct esp_out o;
	struct esp_in in;
	struct esp_inner res;
	size_t n, len, pos;
	/* sequence number, IV, payload, ICV: each flip must fail the ICV */
	const size_t where[] = { 6, 9, 16, 30, 0, 0 };
	int k;

	assert_int_equal(esp_out_init(&o, 0x7777, keymat, false), 0);
	assert_int_equal(esp_in_init(&in, 0x7777, keymat, false, 64), 0);
	n = make_ipv4(inner, 40);
	len = encap(&o, good, inner, n, 4);
	for (k = 0; k < 6; k++) {
		pos = k == 4 ? len - 1 : k == 5 ? len - 17 : where[k];
		memcpy(bad, good, len);
		bad[pos] ^= 0x01;
		assert_int_equal(esp_decap(&in, bad, len, &res), ESP_ERR_ICV);
		assert_int_equal(in.top, 0);	/* the window did not move */
	}
	/* a changed SPI is another SA altogether */
	memcpy(bad, good, len);
	bad[0] ^= 0x80;
	assert_int_equal(esp_decap(&in, bad, len, &res), ESP_ERR_MALFORMED);
	/* truncated (decryption is in place: always work on a copy) */
	memcpy(bad, good, len);
	assert_int_equal(esp_decap(&in, bad, 16 + 18, &res), ESP_ERR_ICV);
	assert_int_equal(esp_decap(&in, bad, 16 + 17, &res), ESP_ERR_MALFORMED);
	assert_int_equal(esp_decap(&in, bad, 16 + 1, &res), ESP_ERR_MALFORMED);
	assert_int_equal(esp_decap(&in, bad, 3, &res), ESP_ERR_MALFORMED);
	/* and the genuine packet still passes after all that */
	assert_int_equal(esp_decap(&in, good, len, &res), ESP_OK);
	assert_memory_equal(res.pkt, inner, n);
	esp_out_wipe(&o);
	esp_in_wipe(&in);
}

static void
test_bad_padding_dropped(void **state)
{
	uint8_t inner[64], pkt[2048];
	struct esp_in in;
	struct esp_inner res;
	size_t n, len;

	/* correct padding first (42 + 2 = 44: none needed) */
	n = make_ipv4(inner, 14);
	len = reference_esp(0x99, 1, false, inner, n, 4, pkt);
	assert_int_equal(esp_in_init(&in, 0x99, keymat, false, 64), 0);
	assert_int_equal(esp_decap(&in, pkt, len, &res), ESP_OK);
	esp_in_wipe(&in);
	/* now a trailer whose pad bytes are wrong: inner || 0x09 0x09 || padlen 2 || nh */
	{
		uint8_t pt[128], nonce[12], aad[8];
		EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
		int l;

		memcpy(pt, inner, n);
		pt[n] = 9;
		pt[n + 1] = 9;
		pt[n + 2] = 2;
		pt[n + 3] = 4;
		store_be32(pkt, 0x99);
		store_be32(pkt + 4, 2);
		store_be64(pkt + 8, 2);
		memcpy(nonce, keymat + 32, 4);
		store_be64(nonce + 4, 2);
		memcpy(aad, pkt, 8);
		EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, keymat, nonce);
		EVP_EncryptUpdate(ctx, NULL, &l, aad, 8);
		EVP_EncryptUpdate(ctx, pkt + 16, &l, pt, (int)n + 4);
		EVP_EncryptFinal_ex(ctx, pkt + 16 + l, &l);
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, pkt + 16 + n + 4);
		EVP_CIPHER_CTX_free(ctx);
		assert_int_equal(esp_in_init(&in, 0x99, keymat, false, 64), 0);
		assert_int_equal(esp_decap(&in, pkt, 16 + n + 4 + 16, &res), ESP_ERR_MALFORMED);
		esp_in_wipe(&in);
	}
}

/* make packets with chosen sequence numbers from one sender */
static size_t
packet_with_seq(bool esn, uint64_t seq, uint8_t *buf)
{
	uint8_t inner[128];
	struct esp_out o;
	size_t n, len;

	assert_int_equal(esp_out_init(&o, 0x4242, keymat, esn), 0);
	o.seq = seq - 1;
	n = make_ipv4(inner, 10);
	len = encap(&o, buf, inner, n, 4);
	esp_out_wipe(&o);
	return len;
}

static enum esp_status
recv_seq(struct esp_in *in, uint64_t seq)
{
	uint8_t buf[2048];
	struct esp_inner res;
	size_t len = packet_with_seq(in->esn, seq, buf);

	return esp_decap(in, buf, len, &res);
}

static void
test_replay_window(void **state)
{
	struct esp_in in;
	uint64_t s;

	assert_int_equal(esp_in_init(&in, 0x4242, keymat, false, 1024), 0);
	assert_int_equal(in.wsize, 1024);
	assert_int_equal(recv_seq(&in, 1), ESP_OK);
	assert_int_equal(recv_seq(&in, 1), ESP_ERR_REPLAY);		/* duplicate */
	assert_int_equal(recv_seq(&in, 3), ESP_OK);
	assert_int_equal(recv_seq(&in, 2), ESP_OK);			/* late, in window */
	assert_int_equal(recv_seq(&in, 2), ESP_ERR_REPLAY);
	assert_int_equal(recv_seq(&in, 5000), ESP_OK);			/* far ahead */
	assert_int_equal(in.top, 5000);
	assert_int_equal(recv_seq(&in, 5000 - 1024), ESP_ERR_REPLAY);	/* just left of it */
	assert_int_equal(recv_seq(&in, 5000 - 1023), ESP_OK);		/* the oldest slot */
	assert_int_equal(recv_seq(&in, 3), ESP_ERR_REPLAY);		/* ancient */
	/* slide step by step across many ring blocks: every number once, then none again */
	for (s = 5001; s < 5001 + 3000; s += 3)
		assert_int_equal(recv_seq(&in, s), ESP_OK);
	for (s = 5001 + 3000 - 900; s < 5001 + 3000; s += 3)
		assert_int_equal(recv_seq(&in, s), ESP_ERR_REPLAY);
	for (s = 5001 + 3000 - 900 + 1; s < 5001 + 3000; s += 3)
		assert_int_equal(recv_seq(&in, s), ESP_OK);		/* holes filled */
	/* a jump larger than the whole window clears everything */
	assert_int_equal(recv_seq(&in, 100000), ESP_OK);
	assert_int_equal(recv_seq(&in, 100000 - 1), ESP_OK);
	assert_int_equal(recv_seq(&in, 100000 - 1), ESP_ERR_REPLAY);
	/* sequence number 0 is never valid */
	assert_false(esp_replay_check(&in, 0));
	esp_in_wipe(&in);
}

static void
test_replay_window_sizes(void **state)
{
	struct esp_in in;

	assert_int_equal(esp_in_init(&in, 1, keymat, false, 100), 0);
	assert_int_equal(in.wsize, 128);	/* rounded up to 64 */
	esp_replay_update(&in, 1000);
	assert_true(esp_replay_check(&in, 1000 - 127));
	assert_false(esp_replay_check(&in, 1000 - 128));
	esp_in_wipe(&in);
	assert_int_equal(esp_in_init(&in, 1, keymat, false, 0), 0);
	assert_int_equal(in.wsize, ESP_REPLAY_DEFAULT);
	esp_in_wipe(&in);
}

static void
test_esn_inference(void **state)
{
	struct esp_in in;
	const uint64_t b = 1ULL << 32;

	assert_int_equal(esp_in_init(&in, 0x4242, keymat, true, 1024), 0);
	/* Case B at the very start: a low number is in subspace 0, a huge one would
	 * be before the start and is refused */
	assert_int_equal(esp_replay_infer(&in, 5), 5);
	assert_int_equal(esp_replay_infer(&in, 0xfffffff0u), 0);
	/* walk up to just below 2^32 with real packets (half the space at a time:
	 * anything further is taken for a late packet) */
	assert_int_equal(recv_seq(&in, b / 2), ESP_OK);
	assert_int_equal(recv_seq(&in, b - 10), ESP_OK);
	/* Case A: Tl >= W - 1 */
	assert_int_equal(esp_replay_infer(&in, 0xfffffff9u), b - 7);	/* same subspace */
	assert_int_equal(esp_replay_infer(&in, 3), b + 3);		/* wrapped: next */
	assert_int_equal(recv_seq(&in, b + 3), ESP_OK);		/* across the boundary */
	assert_int_equal(in.top, b + 3);
	/* Case B now (Tl = 3 < W - 1): a late packet from before the boundary */
	assert_int_equal(esp_replay_infer(&in, 0xfffffffbu), b - 5);
	assert_int_equal(recv_seq(&in, b - 5), ESP_OK);
	assert_int_equal(recv_seq(&in, b - 5), ESP_ERR_REPLAY);
	assert_int_equal(recv_seq(&in, b - 10), ESP_ERR_REPLAY);	/* seen before */
	assert_int_equal(esp_replay_infer(&in, 2), b + 2);
	assert_int_equal(recv_seq(&in, b + 2), ESP_OK);
	/* a packet authenticated with the wrong high half fails the ICV: the
	 * sender really used 2^33 + 4 (a jump the receiver cannot infer) */
	assert_int_equal(recv_seq(&in, 2 * b + 4), ESP_ERR_ICV);
	assert_int_equal(in.top, b + 3);
	esp_in_wipe(&in);
}

static void
test_seq_exhaustion(void **state)
{
	uint8_t inner[128], buf[2048];
	struct esp_out o;
	size_t n, len;

	n = make_ipv4(inner, 10);
	assert_int_equal(esp_out_init(&o, 1, keymat, false), 0);
	o.seq = UINT32_MAX - 1;
	assert_true(esp_out_left(&o) == 1);
	memcpy(buf + ESP_HEAD_LEN, inner, n);
	assert_int_equal(esp_encap(&o, buf, sizeof(buf), n, 4, &len), ESP_OK);
	assert_int_equal(load_be32(buf + 4), UINT32_MAX);
	assert_int_equal(esp_encap(&o, buf, sizeof(buf), n, 4, &len), ESP_ERR_SEQ_EXHAUSTED);
	assert_int_equal(esp_encap(&o, buf, sizeof(buf), n, 4, &len), ESP_ERR_SEQ_EXHAUSTED);
	assert_true(o.seq == UINT32_MAX);	/* never wraps */
	esp_out_wipe(&o);

	assert_int_equal(esp_out_init(&o, 1, keymat, true), 0);
	o.seq = UINT32_MAX;			/* ESN goes past 2^32 ... */
	assert_int_equal(esp_encap(&o, buf, sizeof(buf), n, 4, &len), ESP_OK);
	o.seq = UINT64_MAX - 1;			/* ... but not past 2^64 - 1 */
	assert_int_equal(esp_encap(&o, buf, sizeof(buf), n, 4, &len), ESP_OK);
	assert_int_equal(esp_encap(&o, buf, sizeof(buf), n, 4, &len), ESP_ERR_SEQ_EXHAUSTED);
	esp_out_wipe(&o);
}

static void
test_no_room(void **state)
{
	uint8_t buf[100];
	struct esp_out o;
	size_t len;

	assert_int_equal(esp_out_init(&o, 1, keymat, false), 0);
	assert_int_equal(esp_encap(&o, buf, sizeof(buf), 80, 4, &len), ESP_ERR_ROOM);
	assert_int_equal(o.seq, 0);	/* no sequence number burnt */
	esp_out_wipe(&o);
}

static void
test_wipe_clears_state(void **state)
{
	struct esp_out o;
	struct esp_in in;
	static const uint8_t zero[sizeof(struct esp_in)];

	assert_int_equal(esp_out_init(&o, 1, keymat, false), 0);
	assert_int_equal(esp_in_init(&in, 1, keymat, false, 0), 0);
	assert_memory_equal(o.salt, keymat + 32, 4);
	esp_out_wipe(&o);
	esp_in_wipe(&in);
	assert_memory_equal(&o, zero, sizeof(o));
	assert_memory_equal(&in, zero, sizeof(in));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answer_32bit),
		cmocka_unit_test(test_known_answer_esn),
		cmocka_unit_test(test_roundtrip_ipv4),
		cmocka_unit_test(test_roundtrip_ipv6),
		cmocka_unit_test(test_tampered_dropped),
		cmocka_unit_test(test_bad_padding_dropped),
		cmocka_unit_test(test_replay_window),
		cmocka_unit_test(test_replay_window_sizes),
		cmocka_unit_test(test_esn_inference),
		cmocka_unit_test(test_seq_exhaustion),
		cmocka_unit_test(test_no_room),
		cmocka_unit_test(test_wipe_clears_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

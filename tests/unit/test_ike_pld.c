/*
 * Round trips and refusals for the IKEv2 payload codecs (src/device/ike/ike_pld.c):
 * every payload built, parsed back and compared; malformed encodings refused
 * with a reason; the critical bit honoured; unknown payloads skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "device/ike/ike_pld.h"
#include "lib/util.h"

static uint8_t buf[4096];
static struct ike_chain C;
static struct ike_msg *M;

static int
setup(void **state)
{
	ike_chain_init(&C, buf, sizeof(buf));
	M = calloc(1, sizeof(*M));
	return 0;
}

static int
teardown(void **state)
{
	free(M);
	return 0;
}

/* parse what was built, as an inner (decrypted) chain */
static int
parse_back(void)
{
	struct rbuf r;

	memset(M, 0, sizeof(*M));
	rbuf_init(&r, C.w.p, C.w.len);
	return ike_pld_parse_chain(M, C.first, &r, true);
}

static void
test_sa_roundtrip(void **state)
{
	struct ike_pl_sa *sa = calloc(1, sizeof(*sa));
	struct ike_prop *p;

	sa->nprop = 2;
	p = &sa->prop[0];
	p->num = 1;
	p->proto = IKE_PROTO_IKE;
	p->nxf = 3;
	p->xf[0] = (struct ike_xform){ IKE_XF_ENCR, IKE_ENCR_AES_GCM_16, 256, false };
	p->xf[1] = (struct ike_xform){ IKE_XF_PRF, IKE_PRF_HMAC_SHA2_256, 0, false };
	p->xf[2] = (struct ike_xform){ IKE_XF_DH, IKE_DH_ECP_256, 0, false };
	p = &sa->prop[1];
	p->num = 2;
	p->proto = IKE_PROTO_ESP;
	p->spi_size = 4;
	memcpy(p->spi, "\x12\x34\x56\x78", 4);
	p->nxf = 2;
	p->xf[0] = (struct ike_xform){ IKE_XF_ENCR, IKE_ENCR_AES_GCM_16, 128, false };
	p->xf[1] = (struct ike_xform){ IKE_XF_ESN, IKE_ESN_YES, 0, false };
	assert_int_equal(ike_pld_sa_build(&C, sa), 0);
	assert_int_equal(C.first, IKE_PL_SA);
	/* 4 + (8 + 12 + 8 + 8) + (8 + 4 + 12 + 8) */
	assert_int_equal(C.w.len, 4 + 36 + 32);
	assert_int_equal(parse_back(), 0);
	assert_true(ike_msg_has(M, IKE_PL_SA));
	assert_int_equal(M->sa.nprop, 2);
	assert_int_equal(M->sa.prop[0].nxf, 3);
	assert_int_equal(M->sa.prop[0].xf[0].keylen, 256);
	assert_int_equal(M->sa.prop[0].xf[2].id, IKE_DH_ECP_256);
	assert_int_equal(M->sa.prop[1].spi_size, 4);
	assert_memory_equal(M->sa.prop[1].spi, "\x12\x34\x56\x78", 4);
	assert_int_equal(M->sa.prop[1].xf[0].keylen, 128);
	assert_int_equal(M->sa.prop[1].xf[1].type, IKE_XF_ESN);
	assert_false(M->sa.prop[1].xf[1].bad_attr);
	free(sa);
}

static void
test_sa_malformed(void **state)
{
	struct ike_pl_sa *sa = calloc(1, sizeof(*sa));
	uint8_t good[64];
	size_t n;

	sa->nprop = 1;
	sa->prop[0] = (struct ike_prop){ .num = 1, .proto = IKE_PROTO_IKE, .nxf = 1 };
	sa->prop[0].xf[0] = (struct ike_xform){ IKE_XF_PRF, 5, 0, false };
	ike_pld_sa_build(&C, sa);
	n = C.w.len;
	memcpy(good, buf, n);
	/* Num Transforms says 2, there is 1 */
	buf[4 + 7] = 2;
	assert_int_equal(parse_back(), -1);
	assert_string_equal(M->err, "bad SA payload");
	memcpy(buf, good, n);
	/* proposal marked "more follow" but none does */
	buf[4] = 2;
	assert_int_equal(parse_back(), -1);
	memcpy(buf, good, n);
	/* a proposal length beyond the payload */
	buf[4 + 3] = 40;
	assert_int_equal(parse_back(), -1);
	memcpy(buf, good, n);
	/* a transform length below 8 */
	buf[4 + 8 + 3] = 4;
	assert_int_equal(parse_back(), -1);
	memcpy(buf, good, n);
	/* an SPI size beyond 8 */
	buf[4 + 6] = 9;
	assert_int_equal(parse_back(), -1);
	memcpy(buf, good, n);
	assert_int_equal(parse_back(), 0);
	free(sa);
}

static void
test_sa_unknown_attribute(void **state)
{
	/* SA with one proposal, one transform carrying an unknown TV attribute */
	static const uint8_t pl[] = {
		0, 0, 0, 24,				/* generic header */
		0, 0, 0, 20, 1, IKE_PROTO_IKE, 0, 1,	/* proposal */
		0, 0, 0, 12, IKE_XF_ENCR, 0, 0, 20,	/* transform */
		0x80, 0x07, 0x00, 0x01,			/* attribute type 7, TV */
	};

	memcpy(buf, pl, sizeof(pl));
	C.w.len = sizeof(pl);
	C.first = IKE_PL_SA;
	assert_int_equal(parse_back(), 0);
	assert_true(M->sa.prop[0].xf[0].bad_attr);
}

static void
test_ke_nonce_id_auth_roundtrip(void **state)
{
	uint8_t ke[64], nonce[32];

	memset(ke, 0x11, sizeof(ke));
	memset(nonce, 0x22, sizeof(nonce));
	assert_int_equal(ike_pld_ke_build(&C, 19, ke, sizeof(ke)), 0);
	assert_int_equal(ike_pld_nonce_build(&C, nonce, sizeof(nonce)), 0);
	assert_int_equal(ike_pld_id_build(&C, IKE_PL_IDi, IKE_ID_FQDN,
	    (const uint8_t *)"a.example", 9), 0);
	assert_int_equal(ike_pld_id_build(&C, IKE_PL_IDr, IKE_ID_FQDN,
	    (const uint8_t *)"b.example", 9), 0);
	assert_int_equal(ike_pld_auth_build(&C, IKE_AUTH_DIGITAL_SIG, nonce, 10), 0);
	assert_int_equal(ike_pld_vendor_build(&C, (const uint8_t *)"vid", 3), 0);
	assert_int_equal(parse_back(), 0);
	assert_int_equal(M->ke.group, 19);
	assert_int_equal(M->ke.len, 64);
	assert_memory_equal(M->ke.data, ke, 64);
	assert_int_equal(M->nonce.len, 32);
	assert_int_equal(M->idi.type, IKE_ID_FQDN);
	assert_int_equal(M->idi.len, 9);
	assert_memory_equal(M->idi.data, "a.example", 9);
	/* RestOfIDPayload: type, 3 reserved, data */
	assert_int_equal(M->idi.bodylen, 13);
	assert_memory_equal(M->idi.body, "\x02\x00\x00\x00" "a.example", 13);
	assert_memory_equal(M->idr.data, "b.example", 9);
	assert_int_equal(M->auth.kind, IKE_AUTH_DIGITAL_SIG);
	assert_int_equal(M->auth.len, 10);
	assert_int_equal(M->nvendor, 1);
}

static void
test_nonce_bounds(void **state)
{
	uint8_t n[300] = { 0 };

	ike_pld_nonce_build(&C, n, 15);
	assert_int_equal(parse_back(), -1);
	assert_string_equal(M->err, "bad Nonce payload");
	ike_chain_init(&C, buf, sizeof(buf));
	ike_pld_nonce_build(&C, n, 257);
	assert_int_equal(parse_back(), -1);
	ike_chain_init(&C, buf, sizeof(buf));
	ike_pld_nonce_build(&C, n, 256);
	assert_int_equal(parse_back(), 0);
}

static void
test_cert_certreq_roundtrip(void **state)
{
	uint8_t hashes[40];

	memset(hashes, 0xab, sizeof(hashes));
	assert_int_equal(ike_pld_cert_build(&C, IKE_PL_CERT, IKE_CERT_X509_SIG,
	    (const uint8_t *)"DER1", 4), 0);
	assert_int_equal(ike_pld_cert_build(&C, IKE_PL_CERT, IKE_CERT_X509_SIG,
	    (const uint8_t *)"DER22", 5), 0);
	assert_int_equal(ike_pld_cert_build(&C, IKE_PL_CERTREQ, IKE_CERT_X509_SIG, hashes,
	    sizeof(hashes)), 0);
	assert_int_equal(parse_back(), 0);
	assert_int_equal(M->ncert, 2);
	assert_int_equal(M->cert[0].kind, IKE_CERT_X509_SIG);
	assert_int_equal(M->cert[1].len, 5);
	assert_int_equal(M->ncertreq, 1);
	assert_int_equal(M->certreq[0].len, 40);
}

static void
test_notify_roundtrip(void **state)
{
	static const uint8_t spi[4] = { 1, 2, 3, 4 }, hashes[6] = { 0, 2, 0, 3, 0, 4 };
	const struct ike_pl_notify *n;

	assert_int_equal(ike_pld_notify_build(&C, IKE_PROTO_ESP, spi, 4, IKE_N_REKEY_SA,
	    NULL, 0), 0);
	assert_int_equal(ike_pld_notify_build(&C, 0, NULL, 0, IKE_N_SIGNATURE_HASH_ALGORITHMS,
	    hashes, sizeof(hashes)), 0);
	assert_int_equal(ike_pld_notify_build(&C, 0, NULL, 0, IKE_N_NO_PROPOSAL_CHOSEN,
	    NULL, 0), 0);
	assert_int_equal(parse_back(), 0);
	assert_int_equal(M->nnotify, 3);
	n = ike_msg_notify(M, IKE_N_REKEY_SA);
	assert_non_null(n);
	assert_int_equal(n->proto, IKE_PROTO_ESP);
	assert_int_equal(n->spi_size, 4);
	assert_memory_equal(n->spi, spi, 4);
	n = ike_msg_notify(M, IKE_N_SIGNATURE_HASH_ALGORITHMS);
	assert_int_equal(n->len, 6);
	assert_int_equal(ike_msg_error(M)->type, IKE_N_NO_PROPOSAL_CHOSEN);
	assert_null(ike_msg_notify(M, IKE_N_COOKIE));
	assert_int_equal(ike_pld_notify_hashes(n), (1u << 2) | (1u << 3) | (1u << 4));
}

static void
test_notify_data_accessors(void **state)
{
	static const uint8_t g[2] = { 0, 31 }, odd[3] = { 0, 2, 7 };
	struct ike_pl_notify n = { .type = IKE_N_INVALID_KE_PAYLOAD, .data = g, .len = 2 };
	uint16_t group = 0;

	assert_int_equal(ike_pld_notify_group(&n, &group), 0);
	assert_int_equal(group, 31);
	n.len = 1;
	assert_int_equal(ike_pld_notify_group(&n, &group), -1);
	n.len = 0;
	assert_int_equal(ike_pld_notify_hashes(&n), 0);
	n.data = odd;	/* a trailing odd octet is ignored */
	n.len = 3;
	assert_int_equal(ike_pld_notify_hashes(&n), 1u << 2);
}

static void
test_delete_roundtrip(void **state)
{
	static const uint8_t spis[8] = { 0, 0, 1, 0, 0, 0, 2, 0 };

	assert_int_equal(ike_pld_delete_build(&C, IKE_PROTO_ESP, 4, 2, spis), 0);
	assert_int_equal(ike_pld_delete_build(&C, IKE_PROTO_IKE, 0, 0, NULL), 0);
	assert_int_equal(parse_back(), 0);
	assert_int_equal(M->ndel, 2);
	assert_int_equal(M->del[0].nspi, 2);
	assert_int_equal(ike_pld_delete_spi(&M->del[0], 1), 0x200);
	assert_int_equal(ike_pld_delete_spi(&M->del[0], 0), 0x100);
	assert_int_equal(ike_pld_delete_spi(&M->del[0], 2), 0);	/* past the end */
	assert_int_equal(M->del[1].proto, IKE_PROTO_IKE);
	/* Num of SPIs disagreeing with the length */
	ike_chain_init(&C, buf, sizeof(buf));
	ike_pld_delete_build(&C, IKE_PROTO_ESP, 4, 2, spis);
	buf[7] = 3;
	assert_int_equal(parse_back(), -1);
	/* an IKE delete with SPIs */
	ike_chain_init(&C, buf, sizeof(buf));
	ike_pld_delete_build(&C, IKE_PROTO_IKE, 4, 1, spis);
	assert_int_equal(parse_back(), -1);
}

static void
test_ts_roundtrip(void **state)
{
	struct ike_pl_ts ts;
	char err[64];
	struct prefix p4, p6;

	memset(&ts, 0, sizeof(ts));
	assert_int_equal(prefix_parse("10.1.0.0/24", &p4, err, sizeof(err)), 0);
	assert_int_equal(prefix_parse("fd00:1::/64", &p6, err, sizeof(err)), 0);
	ts.n = 2;
	ts.ts[0] = (struct ike_ts){ IKE_TS_IPV4_ADDR_RANGE, 0, 0, 0xffff, { 0 }, { 0 } };
	prefix_range(&p4, &ts.ts[0].start, &ts.ts[0].end);
	ts.ts[1] = (struct ike_ts){ IKE_TS_IPV6_ADDR_RANGE, 6, 80, 80, { 0 }, { 0 } };
	prefix_range(&p6, &ts.ts[1].start, &ts.ts[1].end);
	assert_int_equal(ike_pld_ts_build(&C, IKE_PL_TSi, &ts), 0);
	assert_int_equal(C.w.len, 4 + 4 + 16 + 40);
	assert_int_equal(parse_back(), 0);
	assert_int_equal(M->tsi.n, 2);
	assert_true(ipaddr_eq(&M->tsi.ts[0].start, &ts.ts[0].start));
	assert_true(ipaddr_eq(&M->tsi.ts[0].end, &ts.ts[0].end));
	assert_int_equal(M->tsi.ts[0].end.a[3], 255);
	assert_int_equal(M->tsi.ts[1].proto, 6);
	assert_int_equal(M->tsi.ts[1].sport, 80);
	assert_true(ipaddr_eq(&M->tsi.ts[1].end, &ts.ts[1].end));
	/* a count that disagrees with the entries */
	buf[4] = 3;
	assert_int_equal(parse_back(), -1);
	buf[4] = 2;
	/* a selector length that does not fit its type */
	buf[8 + 3] = 17;
	assert_int_equal(parse_back(), -1);
}

static void
test_ts_unknown_type_skipped(void **state)
{
	static const uint8_t pl[] = {
		0, 0, 0, 16, 1, 0, 0, 0,
		9, 0, 0, 8, 0xaa, 0xbb, 0xcc, 0xdd,	/* TS type 9: unknown */
	};

	memcpy(buf, pl, sizeof(pl));
	C.w.len = sizeof(pl);
	C.first = IKE_PL_TSr;
	assert_int_equal(parse_back(), 0);
	assert_int_equal(M->tsr.n, 0);
	assert_int_equal(M->tsr.nskipped, 1);
}

static void
test_critical_bit(void **state)
{
	ike_pld_raw_build(&C, 200, 0, (const uint8_t *)"x", 1);	/* unknown, skipped */
	ike_pld_nonce_build(&C, (const uint8_t *)"0123456789abcdef", 16);
	ike_pld_raw_build(&C, 201, IKE_PLD_CRITICAL, NULL, 0);	/* unknown, critical */
	ike_pld_raw_build(&C, 202, IKE_PLD_CRITICAL, NULL, 0);
	assert_int_equal(parse_back(), 0);
	assert_int_equal(M->unknown_critical, 201);
	assert_true(ike_msg_has(M, IKE_PL_NONCE));
	/* the critical bit on a known payload changes nothing */
	ike_chain_init(&C, buf, sizeof(buf));
	ike_pld_raw_build(&C, IKE_PL_VENDOR, IKE_PLD_CRITICAL, (const uint8_t *)"v", 1);
	assert_int_equal(parse_back(), 0);
	assert_int_equal(M->unknown_critical, 0);
}

static void
test_chain_errors(void **state)
{
	/* duplicate singleton */
	ike_pld_nonce_build(&C, (const uint8_t *)"0123456789abcdef", 16);
	ike_pld_nonce_build(&C, (const uint8_t *)"0123456789abcdef", 16);
	assert_int_equal(parse_back(), -1);
	assert_string_equal(M->err, "duplicate payload");
	/* a payload length below 4 or beyond the data */
	ike_chain_init(&C, buf, sizeof(buf));
	ike_pld_vendor_build(&C, (const uint8_t *)"abc", 3);
	buf[3] = 3;
	assert_int_equal(parse_back(), -1);
	buf[3] = 8;
	assert_int_equal(parse_back(), -1);
	buf[3] = 7;
	assert_int_equal(parse_back(), 0);
	/* data after the last payload */
	C.w.len++;
	assert_int_equal(parse_back(), -1);
	assert_string_equal(M->err, "data after the last payload");
	/* SK inside encryption */
	ike_chain_init(&C, buf, sizeof(buf));
	ike_pld_raw_build(&C, IKE_PL_SK, 0, (const uint8_t *)"0123456789abcdefghijklmnop", 26);
	assert_int_equal(parse_back(), -1);
}

/* a whole datagram: header, then SK, which must come last */
static void
test_message_with_sk(void **state)
{
	uint8_t msg[256], body[40];
	struct ike_hdr h;
	struct ike_chain c;
	struct wbuf w;

	memset(body, 0x5a, sizeof(body));
	ike_chain_init(&c, msg + IKE_HDR_LEN, sizeof(msg) - IKE_HDR_LEN);
	ike_pld_raw_build(&c, IKE_PL_SK, 0, body, sizeof(body));
	c.w.p[0] = IKE_PL_IDi;		/* SK's next payload: the first inner one */
	memset(&h, 0, sizeof(h));
	h.spi_i[7] = 1;
	h.next = IKE_PL_SK;
	h.version = IKE_VERSION;
	h.exchange = IKE_X_IKE_AUTH;
	h.flags = IKE_FLAG_INITIATOR;
	h.msgid = 1;
	h.length = (uint32_t)(IKE_HDR_LEN + c.w.len);
	wbuf_init(&w, msg, IKE_HDR_LEN);
	assert_int_equal(ike_pld_hdr_build(&w, &h), 0);
	memset(M, 0, sizeof(*M));
	assert_int_equal(ike_msg_parse(M, msg, h.length), 0);
	assert_true(ike_msg_has(M, IKE_PL_SK));
	assert_int_equal(M->sk.next, IKE_PL_IDi);
	assert_int_equal(M->sk.aad_len, IKE_HDR_LEN + 4);
	assert_int_equal(M->sk.bodylen, sizeof(body));
	assert_false(M->sk.frag);
	assert_int_equal(M->hdr.msgid, 1);
	/* the length field must match the datagram */
	memset(M, 0, sizeof(*M));
	assert_int_equal(ike_msg_parse(M, msg, h.length - 1), -1);
	/* IKEv1 */
	msg[17] = 0x10;
	memset(M, 0, sizeof(*M));
	assert_int_equal(ike_msg_parse(M, msg, h.length), -1);
	assert_string_equal(M->err, "not IKEv2");
}

static void
test_skf_header(void **state)
{
	static const uint8_t body[] = { 0, 2, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
	    13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25 };
	struct rbuf r;

	ike_pld_raw_build(&C, IKE_PL_SKF, 0, body, sizeof(body));
	memset(M, 0, sizeof(*M));
	rbuf_init(&r, C.w.p, C.w.len);
	assert_int_equal(ike_pld_parse_chain(M, IKE_PL_SKF, &r, false), 0);
	assert_true(M->sk.frag);
	assert_int_equal(M->sk.frag_num, 2);
	assert_int_equal(M->sk.frag_total, 3);
	assert_int_equal(M->sk.aad_len, 8);
	assert_int_equal(M->sk.bodylen, sizeof(body) - 4);
	/* fragment number above the total, or zero */
	buf[5] = 4;
	memset(M, 0, sizeof(*M));
	rbuf_init(&r, C.w.p, C.w.len);
	assert_int_equal(ike_pld_parse_chain(M, IKE_PL_SKF, &r, false), -1);
	buf[5] = 0;
	memset(M, 0, sizeof(*M));
	rbuf_init(&r, C.w.p, C.w.len);
	assert_int_equal(ike_pld_parse_chain(M, IKE_PL_SKF, &r, false), -1);
}

static void
test_build_overflow_is_sticky(void **state)
{
	uint8_t small[20];
	uint8_t big[64] = { 0 };

	ike_chain_init(&C, small, sizeof(small));
	assert_int_equal(ike_pld_nonce_build(&C, big, 16), 0);	/* exactly fits */
	assert_int_equal(ike_pld_nonce_build(&C, big, 16), -1);
	assert_true(C.w.bad);
	assert_int_equal(ike_pld_vendor_build(&C, big, 1), -1);
}

static void
test_names(void **state)
{
	assert_string_equal(ike_notify_name(IKE_N_SIGNATURE_HASH_ALGORITHMS),
	    "SIGNATURE_HASH_ALGORITHMS");
	assert_string_equal(ike_exchange_name(IKE_X_CREATE_CHILD_SA), "CREATE_CHILD_SA");
	assert_string_equal(ike_payload_name(IKE_PL_SKF), "SKF");
	assert_string_equal(ike_dh_name(31), "CURVE_25519");
	assert_string_equal(ike_notify_name(65000), "UNKNOWN");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sa_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sa_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sa_unknown_attribute, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ke_nonce_id_auth_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonce_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_certreq_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_data_accessors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ts_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ts_unknown_type_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_critical_bit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_with_sk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skf_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_build_overflow_is_sticky, setup, teardown),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("ike_pld", tests, NULL, NULL);
}

/* Unit tests for src/lib: the bounded buffers, addresses/prefixes, strict JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/jsonx.h"
#include "lib/membuf.h"
#include "lib/util.h"

static void
test_rbuf_reads_in_bounds(void **state)
{
	const uint8_t data[] = { 1, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
	    0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f };
	struct rbuf r;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	rbuf_init(&r, data, sizeof(data));
	assert_int_equal(rbuf_get_u8(&r, &u8), 0);
	assert_int_equal(u8, 1);
	assert_int_equal(rbuf_get_u16(&r, &u16), 0);
	assert_int_equal(u16, 0x0203);
	assert_int_equal(rbuf_get_u32(&r, &u32), 0);
	assert_int_equal(u32, 0x04050607);
	assert_int_equal(rbuf_get_u64(&r, &u64), 0);
	assert_true(u64 == 0x08090a0b0c0d0e0fULL);
	assert_int_equal(rbuf_left(&r), 0);
	assert_false(r.bad);
}

static void
test_rbuf_short_read_fails_and_sticks(void **state)
{
	const uint8_t data[] = { 0xaa, 0xbb, 0xcc };
	struct rbuf r;
	uint32_t u32 = 0x11111111;
	uint8_t u8;

	rbuf_init(&r, data, sizeof(data));
	assert_int_equal(rbuf_get_u32(&r, &u32), -1);
	assert_int_equal(u32, 0x11111111);	/* untouched on failure */
	assert_true(r.bad);
	assert_int_equal(rbuf_left(&r), 3);	/* nothing consumed */
	assert_int_equal(rbuf_get_u8(&r, &u8), -1);	/* sticky */
}

static void
test_rbuf_huge_length_does_not_wrap(void **state)
{
	const uint8_t data[4] = { 0 };
	const uint8_t *p;
	struct rbuf r, sub;

	rbuf_init(&r, data, sizeof(data));
	assert_int_equal(rbuf_skip(&r, 1), 0);
	assert_int_equal(rbuf_get_ptr(&r, &p, SIZE_MAX), -1);
	rbuf_init(&r, data, sizeof(data));
	assert_int_equal(rbuf_sub(&r, &sub, SIZE_MAX - 1), -1);
	rbuf_init(&r, data, sizeof(data));
	assert_int_equal(rbuf_sub(&r, &sub, 3), 0);
	assert_int_equal(rbuf_left(&sub), 3);
	assert_int_equal(rbuf_left(&r), 1);
	assert_int_equal(rbuf_skip(&sub, 4), -1);
	assert_false(r.bad);
}

static void
test_rbuf_peek(void **state)
{
	const uint8_t data[] = { 0, 0, 0, 0, 0x12, 0x34 };
	struct rbuf r;
	uint16_t v;
	uint32_t w;

	rbuf_init(&r, data, sizeof(data));
	assert_int_equal(rbuf_peek_u16(&r, 4, &v), 0);
	assert_int_equal(v, 0x1234);
	assert_int_equal(rbuf_peek_u16(&r, 5, &v), -1);
	assert_int_equal(rbuf_peek_u32(&r, SIZE_MAX, &w), -1);
	assert_int_equal(rbuf_left(&r), 6);
}

static void
test_wbuf_fills_and_overflows(void **state)
{
	uint8_t out[8];
	struct wbuf w;
	uint8_t *len_field;

	wbuf_init(&w, out, sizeof(out));
	assert_int_equal(wbuf_put_u16(&w, 0xbeef), 0);
	assert_int_equal(wbuf_reserve(&w, 2, &len_field), 0);
	assert_int_equal(wbuf_put_u32(&w, 0x01020304), 0);
	assert_int_equal(wbuf_set_u16(&w, 2, (uint16_t)w.len), 0);
	assert_memory_equal(out, "\xbe\xef\x00\x08\x01\x02\x03\x04", 8);
	assert_int_equal(wbuf_put_u8(&w, 1), -1);
	assert_true(w.bad);
	assert_int_equal(w.len, 8);
	assert_int_equal(wbuf_set_u32(&w, 6, 0), -1);
}

static void
test_prefix_parse_and_contains(void **state)
{
	struct prefix p;
	struct ipaddr a;
	char err[128], s[ADDR_STRLEN];

	assert_int_equal(prefix_parse("10.1.2.0/24", &p, err, sizeof(err)), 0);
	prefix_format(&p, s, sizeof(s));
	assert_string_equal(s, "10.1.2.0/24");
	assert_int_equal(ipaddr_parse("10.1.2.200", &a), 0);
	assert_true(prefix_contains(&p, &a));
	assert_int_equal(ipaddr_parse("10.1.3.1", &a), 0);
	assert_false(prefix_contains(&p, &a));
	assert_int_equal(prefix_parse("10.1.2.1/24", &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "host bits"));
	assert_int_equal(prefix_parse("10.1.2.0/33", &p, err, sizeof(err)), -1);
	assert_int_equal(prefix_parse("10.1.2.0/", &p, err, sizeof(err)), -1);
	assert_int_equal(prefix_parse("10.1.2.0/-1", &p, err, sizeof(err)), -1);
	assert_int_equal(prefix_parse("hospital", &p, err, sizeof(err)), -1);
	assert_int_equal(prefix_parse("fd00:1::/64", &p, err, sizeof(err)), 0);
	assert_int_equal(p.len, 64);
	assert_int_equal(ipaddr_parse("fd00:1::5", &a), 0);
	assert_true(prefix_contains(&p, &a));
	assert_int_equal(prefix_parse("192.0.2.7", &p, err, sizeof(err)), 0);
	assert_int_equal(p.len, 32);
}

static void
test_prefix_range_roundtrip(void **state)
{
	struct prefix p, q;
	struct ipaddr lo, hi;
	char err[64], s[ADDR_STRLEN];

	assert_int_equal(prefix_parse("10.20.0.0/14", &p, err, sizeof(err)), 0);
	prefix_range(&p, &lo, &hi);
	ipaddr_format(&hi, s, sizeof(s));
	assert_string_equal(s, "10.23.255.255");
	assert_int_equal(prefix_from_range(&lo, &hi, &q), 0);
	assert_int_equal(q.len, 14);
	assert_true(ipaddr_eq(&q.addr, &p.addr));
	assert_int_equal(ipaddr_parse("10.20.0.1", &lo), 0);
	assert_int_equal(prefix_from_range(&lo, &hi, &q), -1);
	assert_int_equal(prefix_parse("::/0", &p, err, sizeof(err)), 0);
	prefix_range(&p, &lo, &hi);
	assert_int_equal(prefix_from_range(&lo, &hi, &q), 0);
	assert_int_equal(q.len, 0);
}

static void
test_prefix_overlaps(void **state)
{
	struct prefix a, b, c;
	char err[64];

	prefix_parse("10.0.0.0/8", &a, err, sizeof(err));
	prefix_parse("10.9.0.0/16", &b, err, sizeof(err));
	prefix_parse("11.0.0.0/8", &c, err, sizeof(err));
	assert_true(prefix_overlaps(&a, &b));
	assert_true(prefix_overlaps(&b, &a));
	assert_false(prefix_overlaps(&a, &c));
}

static const struct jsonx_field site_fields[] = {
	{ "name", JX_STRING, true, 1, 64 },
	{ "port", JX_INT, false, 1, 65535 },
	{ "active", JX_BOOL, false, 0, 0 },
	{ "prefixes", JX_ARRAY, false, 1, 16 },
};

static int
validate(const char *text, char *err, size_t errlen)
{
	json_t *j = json_loads(text, 0, NULL);
	int r;

	assert_non_null(j);
	r = jsonx_validate(j, site_fields, nitems(site_fields), err, errlen);
	json_decref(j);
	return r;
}

static void
test_jsonx_strict(void **state)
{
	char err[128];

	assert_int_equal(validate("{\"name\":\"a\",\"port\":5}", err, sizeof(err)), 0);
	assert_int_equal(validate("{\"name\":\"a\",\"colour\":1}", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown field \"colour\"");
	assert_int_equal(validate("{\"port\":5}", err, sizeof(err)), -1);
	assert_string_equal(err, "missing field \"name\"");
	assert_int_equal(validate("{\"name\":7}", err, sizeof(err)), -1);
	assert_string_equal(err, "field \"name\" must be a string");
	assert_int_equal(validate("{\"name\":\"a\",\"port\":70000}", err, sizeof(err)), -1);
	assert_int_equal(validate("{\"name\":\"\"}", err, sizeof(err)), -1);
	assert_int_equal(validate("{\"name\":\"a\",\"prefixes\":[]}", err, sizeof(err)), -1);
	assert_int_equal(validate("[1]", err, sizeof(err)), -1);
}

static void
test_hex(void **state)
{
	uint8_t b[4];
	char s[9];

	assert_int_equal(hex_decode("00fFa1", b, sizeof(b)), 3);
	hex_encode(b, 3, s);
	assert_string_equal(s, "00ffa1");
	assert_int_equal(hex_decode("abc", b, sizeof(b)), -1);
	assert_int_equal(hex_decode("zz", b, sizeof(b)), -1);
	assert_int_equal(hex_decode("0011223344", b, sizeof(b)), -1);
}

static void
test_membuf_bounded(void **state)
{
	struct membuf b = { NULL, 0, 8, false };
	char chunk[] = "abcde";

	assert_int_equal(membuf_write(chunk, 1, 5, &b), 5);
	assert_string_equal(b.p, "abcde");
	assert_int_equal(membuf_write(chunk, 1, 3, &b), 3);	/* exactly max */
	assert_int_equal(b.len, 8);
	assert_false(b.over);
	assert_int_equal(membuf_write(chunk, 1, 1, &b), 0);	/* one too many */
	assert_true(b.over);
	assert_int_equal(b.len, 8);
	b.over = false;
	assert_int_equal(membuf_write(chunk, SIZE_MAX / 2, 4, &b), 0);	/* no overflow */
	assert_true(b.over);
	free(b.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rbuf_reads_in_bounds),
		cmocka_unit_test(test_rbuf_short_read_fails_and_sticks),
		cmocka_unit_test(test_rbuf_huge_length_does_not_wrap),
		cmocka_unit_test(test_rbuf_peek),
		cmocka_unit_test(test_wbuf_fills_and_overflows),
		cmocka_unit_test(test_prefix_parse_and_contains),
		cmocka_unit_test(test_prefix_range_roundtrip),
		cmocka_unit_test(test_prefix_overlaps),
		cmocka_unit_test(test_jsonx_strict),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_membuf_bounded),
	};

	return cmocka_run_group_tests_name("lib", tests, NULL, NULL);
}

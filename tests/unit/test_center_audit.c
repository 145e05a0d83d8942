/*
 * Unit tests for the audit records (src/audit/): the canonical hash, the chain
 * verifier, and the JSON-lines file log with tampering, removal, reordering and
 * truncation detected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "audit/audit.h"
#include "lib/util.h"

static char logpath[64];

static int
setup_tmp(void **state)
{
	int fd;

	xsnprintf(logpath, sizeof(logpath), "/tmp/odvpn-audit-XXXXXX");
	fd = mkstemp(logpath);
	assert_true(fd >= 0);
	close(fd);
	unlink(logpath);
	return 0;
}

static int
teardown_tmp(void **state)
{
	unlink(logpath);
	return 0;
}

static struct audit_rec
rec(uint64_t seq, const char *kind)
{
	struct audit_rec r;

	memset(&r, 0, sizeof(r));
	r.seq = seq;
	r.time_ms = 1700000000000LL + (int64_t)seq;
	r.kind = kind;
	r.actor = "center";
	r.site = "lab";
	r.detail = "{\"a\":1}";
	return r;
}

static void
test_hash_covers_every_field(void **state)
{
	struct audit_rec a = rec(1, "grant.issued"), b;
	uint8_t ha[AUDIT_HASH_LEN], hb[AUDIT_HASH_LEN];

	audit_hash(&a, ha);
	b = a;
	audit_hash(&b, hb);
	assert_memory_equal(ha, hb, AUDIT_HASH_LEN);	/* deterministic */

#define DIFFERS(stmt) do {					\
	b = a;							\
	stmt;							\
	audit_hash(&b, hb);					\
	assert_memory_not_equal(ha, hb, AUDIT_HASH_LEN);	\
} while (0)
	DIFFERS(b.seq = 2);
	DIFFERS(b.time_ms++);
	DIFFERS(b.kind = "grant.denied");
	DIFFERS(b.actor = "admin:eve");
	DIFFERS(b.org = "hosp");
	DIFFERS(b.site = NULL);
	DIFFERS(b.site = "");		/* absent and empty differ */
	DIFFERS(b.device = "lab-01");
	DIFFERS(b.grant = 7);
	DIFFERS(b.detail = "{\"a\":2}");
	DIFFERS(b.prev[31] ^= 1);
	/* moving bytes between fields changes the hash (length prefixes) */
	DIFFERS((b.kind = "grant.issuedcenter", b.actor = ""));
#undef DIFFERS
}

static void
test_chain_verifier(void **state)
{
	struct audit_verifier v;
	struct audit_rec r[3] = { rec(1, "a"), rec(2, "b"), rec(3, "c") };
	uint8_t h[3][AUDIT_HASH_LEN];
	char err[128];

	audit_hash(&r[0], h[0]);
	memcpy(r[1].prev, h[0], AUDIT_HASH_LEN);
	audit_hash(&r[1], h[1]);
	memcpy(r[2].prev, h[1], AUDIT_HASH_LEN);
	audit_hash(&r[2], h[2]);

	audit_verify_init(&v);
	for (int i = 0; i < 3; i++)
		assert_int_equal(audit_verify_next(&v, &r[i], h[i], err, sizeof(err)), 0);
	assert_int_equal(v.count, 3);

	/* a gap */
	audit_verify_init(&v);
	assert_int_equal(audit_verify_next(&v, &r[0], h[0], err, sizeof(err)), 0);
	assert_int_equal(audit_verify_next(&v, &r[2], h[2], err, sizeof(err)), -1);
	assert_non_null(strstr(err, "expected seq 2"));
	/* a changed record with its stored hash */
	audit_verify_init(&v);
	r[0].kind = "z";
	assert_int_equal(audit_verify_next(&v, &r[0], h[0], err, sizeof(err)), -1);
	assert_non_null(strstr(err, "modified"));
	/* a record rehashed by the forger: the next link breaks */
	audit_hash(&r[0], h[0]);
	audit_verify_init(&v);
	assert_int_equal(audit_verify_next(&v, &r[0], h[0], err, sizeof(err)), 0);
	assert_int_equal(audit_verify_next(&v, &r[1], h[1], err, sizeof(err)), -1);
	assert_non_null(strstr(err, "link"));
}

static void
append_n(struct audit_log *l, int n, int first)
{
	char err[128], kind[32], detail[64];

	for (int i = 0; i < n; i++) {
		struct audit_rec r = rec(0, kind);

		xsnprintf(kind, sizeof(kind), "device.sa_up");
		/* keys out of order on purpose: the log stores the canonical form */
		xsnprintf(detail, sizeof(detail), "{\"z\":%d,\"peer\":\"p%d\"}", first + i,
		    first + i);
		r.detail = detail;
		r.grant = first + i;
		assert_int_equal(audit_log_append(l, &r, NULL, err, sizeof(err)), 0);
		assert_int_equal(r.seq, (uint64_t)(first + i));
	}
}

static void
rewrite(const char *from, const char *to, int which)
{
	FILE *f = fopen(logpath, "r"), *o;
	char *lines[16], buf[4096];
	int n = 0;

	assert_non_null(f);
	while (n < 16 && fgets(buf, sizeof(buf), f) != NULL)
		lines[n++] = xstrdup(buf);
	fclose(f);
	o = fopen(logpath, "w");
	for (int i = 0; i < n; i++) {
		char *p;

		if (i == which && from == NULL) {	/* drop the line */
			free(lines[i]);
			continue;
		}
		if (i == which && (p = strstr(lines[i], from)) != NULL) {
			fwrite(lines[i], 1, (size_t)(p - lines[i]), o);
			fputs(to, o);
			fputs(p + strlen(from), o);
		} else
			fputs(lines[i], o);
		free(lines[i]);
	}
	fclose(o);
}

static void
test_file_log(void **state)
{
	struct audit_log *l;
	char err[256];
	uint64_t n;

	l = audit_log_open(logpath, err, sizeof(err));
	assert_non_null(l);
	append_n(l, 3, 1);
	audit_log_close(l);
	/* reopening continues the chain */
	l = audit_log_open(logpath, err, sizeof(err));
	assert_non_null(l);
	assert_int_equal(audit_log_count(l), 3);
	append_n(l, 2, 4);
	audit_log_close(l);
	assert_int_equal(audit_log_verify(logpath, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 5);

	/* tampered detail */
	rewrite("\"p2\"", "\"p9\"", 1);
	assert_int_equal(audit_log_verify(logpath, &n, err, sizeof(err)), -1);
	assert_int_equal(n, 1);
	assert_non_null(strstr(err, ":2:"));
	assert_null(audit_log_open(logpath, err, sizeof(err)));	/* never continue it */
	rewrite("\"p9\"", "\"p2\"", 1);
	assert_int_equal(audit_log_verify(logpath, &n, err, sizeof(err)), 0);

	/* a removed record */
	rewrite(NULL, NULL, 2);
	assert_int_equal(audit_log_verify(logpath, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "expected seq 3"));
}

static void
test_file_log_truncated_and_junk(void **state)
{
	struct audit_log *l;
	char err[256];
	FILE *f;

	l = audit_log_open(logpath, err, sizeof(err));
	assert_non_null(l);
	append_n(l, 2, 1);
	audit_log_close(l);
	f = fopen(logpath, "a");
	fputs("{\"seq\":3", f);		/* a write cut short */
	fclose(f);
	assert_int_equal(audit_log_verify(logpath, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "truncated"));
	f = fopen(logpath, "w");
	fputs("not json\n", f);
	fclose(f);
	assert_int_equal(audit_log_verify(logpath, NULL, err, sizeof(err)), -1);
	assert_int_equal(audit_log_verify("/nonexistent/x", NULL, err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_covers_every_field),
		cmocka_unit_test(test_chain_verifier),
		cmocka_unit_test_setup_teardown(test_file_log, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_file_log_truncated_and_junk, setup_tmp,
		    teardown_tmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

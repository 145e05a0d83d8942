/*
 * Unit tests for the center's store (src/center/store*.c) and for requests run
 * through center_handle without TLS: migrations from empty, round trips,
 * transactions that fail leave nothing behind, the append-only hash-chained
 * audit trail, configuration versions, grant expiry, restart.
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

#include "center/center.h"
#include "center/store.h"
#include "lib/util.h"

static char	dbpath[64];
static int64_t	fake_now = 1700000000;

static int64_t
fake_clock(void)
{
	return fake_now;
}

static int
setup_tmp(void **state)
{
	int fd;

	xsnprintf(dbpath, sizeof(dbpath), "/tmp/odvpn-store-XXXXXX");
	fd = mkstemp(dbpath);
	assert_true(fd >= 0);
	close(fd);
	unlink(dbpath);
	return 0;
}

static int
teardown_tmp(void **state)
{
	char p[80];

	unlink(dbpath);
	xsnprintf(p, sizeof(p), "%s-wal", dbpath);
	unlink(p);
	xsnprintf(p, sizeof(p), "%s-shm", dbpath);
	unlink(p);
	return 0;
}

static json_int_t
count(struct store *st, const char *sql)
{
	json_t *row;
	json_int_t n;

	assert_int_equal(store_q1(st, &row, sql, ""), STORE_OK);
	assert_non_null(row);
	n = json_integer_value(json_object_get(row, "n"));
	json_decref(row);
	return n;
}

/* ---- store ------------------------------------------------------------- */

static void
test_migrations_from_empty_and_reopen(void **state)
{
	char err[256];
	struct store *st = store_open(dbpath, err, sizeof(err));

	assert_non_null(st);
	assert_int_equal(store_schema_version(st), 1);
	assert_int_equal(count(st, "SELECT COUNT(*) AS n FROM schema_migrations"), 1);
	assert_int_equal(count(st, "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = "
	    "'table' AND name IN ('orgs','sites','devices','groups','group_members','rules',"
	    "'grants','revocations','audit','certs','device_config','meta')"), 12);
	assert_int_equal(store_q(st, NULL, NULL, "INSERT INTO orgs (name, kind, created, "
	    "updated) VALUES (?, ?, ?, ?)", "ssii", "hosp", "vendor", (int64_t)1,
	    (int64_t)1), STORE_OK);
	store_close(st);

	/* again: nothing re-applied, data kept */
	st = store_open(dbpath, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(count(st, "SELECT COUNT(*) AS n FROM schema_migrations"), 1);
	assert_int_equal(count(st, "SELECT COUNT(*) AS n FROM orgs"), 1);
	/* WAL and foreign keys are on */
	{
		json_t *row;

		assert_int_equal(store_q1(st, &row, "PRAGMA journal_mode", ""), STORE_OK);
		assert_string_equal(json_string_value(json_object_get(row, "journal_mode")),
		    "wal");
		json_decref(row);
		assert_int_equal(store_q1(st, &row, "PRAGMA foreign_keys", ""), STORE_OK);
		assert_int_equal(json_integer_value(json_object_get(row, "foreign_keys")), 1);
		json_decref(row);
	}
	store_close(st);
}

static const struct store_migration bad_migrations[] = {
	{ 1, "one", "CREATE TABLE t1 (x INTEGER)" },
	{ 2, "two", "CREATE TABLE t2 (x INTEGER); INSERT INTO no_such_table VALUES (1)" },
};

static void
test_failed_migration_is_rolled_back(void **state)
{
	struct store_ops ops = store_sqlite_ops;
	char err[256];
	struct store *st;

	ops.migrations = bad_migrations;
	ops.nmigrations = nitems(bad_migrations);
	st = store_open_ops(&ops, dbpath, err, sizeof(err));
	assert_null(st);
	assert_non_null(strstr(err, "migration 2"));

	/* version 1 stayed; nothing of version 2 exists */
	ops.nmigrations = 1;
	st = store_open_ops(&ops, dbpath, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(store_schema_version(st), 1);
	assert_int_equal(count(st, "SELECT COUNT(*) AS n FROM sqlite_master WHERE name = "
	    "'t2'"), 0);
	assert_int_equal(count(st, "SELECT COUNT(*) AS n FROM sqlite_master WHERE name = "
	    "'t1'"), 1);
	store_close(st);

	/* a database newer than the program is refused */
	ops.migrations = bad_migrations;
	ops.nmigrations = 1;
	st = store_open_ops(&ops, dbpath, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(store_q(st, NULL, NULL, "INSERT INTO schema_migrations (version, "
	    "name, applied) VALUES (9, 'future', 0)", ""), STORE_OK);
	store_close(st);
	assert_null(store_open_ops(&ops, dbpath, err, sizeof(err)));
	assert_non_null(strstr(err, "newer"));
}

static void
test_round_trip_and_types(void **state)
{
	char err[256];
	struct store *st = store_open(":memory:", err, sizeof(err));
	json_t *rows, *row, *jint = json_integer(7);
	int64_t changes = 0;

	assert_non_null(st);
	assert_int_equal(store_q(st, NULL, &changes, "INSERT INTO meta (key, value) VALUES "
	    "(?, ?), (?, ?)", "ssss", "a", "1", "b", "ünïcode"), STORE_OK);
	assert_int_equal(changes, 2);
	assert_int_equal(store_q(st, &rows, NULL, "SELECT key, value, ? AS n, ? AS z, ? AS "
	    "flag, ? AS j FROM meta ORDER BY key", "isbj", (int64_t)-5, NULL, 1, jint),
	    STORE_OK);
	assert_int_equal(json_array_size(rows), 2);
	row = json_array_get(rows, 1);
	assert_string_equal(json_string_value(json_object_get(row, "value")), "ünïcode");
	assert_int_equal(json_integer_value(json_object_get(row, "n")), -5);
	assert_true(json_is_null(json_object_get(row, "z")));
	assert_int_equal(json_integer_value(json_object_get(row, "flag")), 1);
	assert_int_equal(json_integer_value(json_object_get(row, "j")), 7);
	json_decref(rows);
	json_decref(jint);

	/* store_q1: first row or NULL */
	assert_int_equal(store_q1(st, &row, "SELECT value FROM meta WHERE key = ?", "s",
	    "zz"), STORE_OK);
	assert_null(row);

	/* a unique violation is a conflict; invalid UTF-8 and bad SQL are errors */
	assert_int_equal(store_q(st, NULL, NULL, "INSERT INTO meta (key, value) VALUES "
	    "(?, ?)", "ss", "a", "again"), STORE_ECONFLICT);
	assert_non_null(strstr(store_error(st), "UNIQUE"));
	assert_int_equal(store_q(st, NULL, NULL, "INSERT INTO meta (key, value) VALUES "
	    "(?, ?)", "ss", "c", "\xff\xfe"), STORE_ERROR);
	assert_int_equal(store_q(st, NULL, NULL, "SELEC nonsense", ""), STORE_ERROR);
	assert_int_equal(store_q(st, NULL, NULL, "SELECT 1; SELECT 2", ""), STORE_ERROR);
	assert_int_equal(store_q(st, NULL, NULL, "SELECT ?", ""), STORE_ERROR);
	store_close(st);
}

static void
test_failed_transaction_leaves_nothing(void **state)
{
	char err[256];
	struct store *st = store_open(":memory:", err, sizeof(err));

	assert_non_null(st);
	assert_int_equal(store_begin(st), STORE_OK);
	assert_int_equal(store_begin(st), STORE_ERROR);		/* one at a time */
	assert_int_equal(store_q(st, NULL, NULL, "INSERT INTO orgs (name, kind, created, "
	    "updated) VALUES ('hosp', 'vendor', 1, 1)", ""), STORE_OK);
	/* a site of an organisation that does not exist: foreign key */
	assert_int_equal(store_q(st, NULL, NULL, "INSERT INTO sites (name, org, prefixes, "
	    "created, updated) VALUES ('s', 'nobody', '[]', 1, 1)", ""), STORE_ECONFLICT);
	store_rollback(st);
	assert_false(store_in_tx(st));
	assert_int_equal(count(st, "SELECT COUNT(*) AS n FROM orgs"), 0);
	assert_int_equal(count(st, "SELECT COUNT(*) AS n FROM sites"), 0);

	/* check constraints hold too */
	assert_int_equal(store_q(st, NULL, NULL, "INSERT INTO orgs (name, kind, created, "
	    "updated) VALUES ('x', 'hospital', 1, 1)", ""), STORE_ECONFLICT);
	store_close(st);
}

static void
test_audit_table_is_append_only(void **state)
{
	char err[256];
	struct store *st = store_open(":memory:", err, sizeof(err));

	assert_non_null(st);
	assert_int_equal(store_q(st, NULL, NULL, "INSERT INTO audit (seq, time_ms, kind, "
	    "actor, detail, prev_hash, hash) VALUES (1, 1, 'k', 'a', '{}', 'p', 'h')", ""),
	    STORE_OK);
	assert_int_equal(store_q(st, NULL, NULL, "UPDATE audit SET kind = 'x'", ""),
	    STORE_ECONFLICT);
	assert_non_null(strstr(store_error(st), "append-only"));
	assert_int_equal(store_q(st, NULL, NULL, "DELETE FROM audit", ""), STORE_ECONFLICT);
	assert_int_equal(count(st, "SELECT COUNT(*) AS n FROM audit WHERE kind = 'k'"), 1);
	store_close(st);
}

/* ---- requests through center_handle ------------------------------------ */

static const struct center_peer admin_peer = { CENTER_ROLE_ADMIN, "admin", "01", { 0 } };

static struct center *
mkcenter(void)
{
	struct center_cfg cfg;
	struct center *c;
	char err[256];

	center_cfg_defaults(&cfg);
	xsnprintf(cfg.database, sizeof(cfg.database), "%s", dbpath);
	c = center_new(&cfg, NULL, err, sizeof(err));
	assert_non_null(c);
	c->clock = fake_clock;
	return c;
}

/* run one request; returns the status, *body (may be NULL) gets the body */
static int
req(struct center *c, const struct center_peer *who, enum center_method m,
    const char *path, const char *body, json_t **out)
{
	struct center_req r;
	struct center_resp resp;
	json_t *q = json_object();
	char p[256], *qs;
	int status;

	memset(&r, 0, sizeof(r));
	xsnprintf(p, sizeof(p), "%s", path);
	if ((qs = strchr(p, '?')) != NULL) {
		/* one k=v pair is enough for these tests */
		char *eq;

		*qs++ = '\0';
		if ((eq = strchr(qs, '=')) != NULL) {
			*eq = '\0';
			json_object_set_new(q, qs, json_string(eq + 1));
		}
	}
	r.method = m;
	r.path = p;
	r.query = q;
	r.body = body;
	r.bodylen = body != NULL ? strlen(body) : 0;
	r.peer = who;
	center_handle(c, &r, &resp);
	status = resp.park ? 0 : resp.status;
	if (out != NULL)
		*out = json_incref(resp.body);
	center_resp_clear(&resp);
	json_decref(q);
	return status;
}

static char *
export(struct center *c)
{
	json_t *o;
	char *s;

	assert_int_equal(req(c, &admin_peer, CENTER_GET, "/v1/admin/export", NULL, &o), 200);
	json_object_del(o, "config_versions");
	s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(o);
	return s;
}

static void
seed(struct center *c)
{
	assert_int_equal(req(c, &admin_peer, CENTER_POST, "/v1/admin/orgs",
	    "{\"name\":\"hosp\",\"kind\":\"large_institution\"}", NULL), 201);
	assert_int_equal(req(c, &admin_peer, CENTER_POST, "/v1/admin/orgs",
	    "{\"name\":\"labco\",\"kind\":\"small_institution\"}", NULL), 201);
	assert_int_equal(req(c, &admin_peer, CENTER_POST, "/v1/admin/sites",
	    "{\"name\":\"hosp-main\",\"org\":\"hosp\",\"prefixes\":[\"10.1.0.0/24\"],"
	    "\"wan\":\"192.0.2.1\"}", NULL), 201);
	assert_int_equal(req(c, &admin_peer, CENTER_POST, "/v1/admin/sites",
	    "{\"name\":\"lab\",\"org\":\"labco\",\"prefixes\":[\"10.3.0.0/24\"]}", NULL), 201);
	assert_int_equal(req(c, &admin_peer, CENTER_POST, "/v1/admin/groups",
	    "{\"name\":\"A\"}", NULL), 201);
	assert_int_equal(req(c, &admin_peer, CENTER_POST, "/v1/admin/groups/A/members",
	    "{\"site\":\"hosp-main\"}", NULL), 201);
	assert_int_equal(req(c, &admin_peer, CENTER_POST, "/v1/admin/groups/A/members",
	    "{\"site\":\"lab\"}", NULL), 201);
	assert_int_equal(req(c, &admin_peer, CENTER_POST, "/v1/admin/devices",
	    "{\"id\":\"hosp-01\",\"site\":\"hosp-main\",\"fingerprint\":"
	    "\"0101010101010101010101010101010101010101010101010101010101010101\"}", NULL),
	    201);
	assert_int_equal(req(c, &admin_peer, CENTER_POST, "/v1/admin/devices",
	    "{\"id\":\"lab-01\",\"site\":\"lab\",\"fingerprint\":"
	    "\"02:02:02:02:02:02:02:02:02:02:02:02:02:02:02:02:02:02:02:02:02:02:02:02:02:02:"
	    "02:02:02:02:02:02\"}", NULL), 201);
	assert_int_equal(req(c, &admin_peer, CENTER_POST, "/v1/admin/rules",
	    "{\"proto\":\"tcp\",\"both\":true}", NULL), 201);
}

static void
test_requests_round_trip_and_survive_restart(void **state)
{
	struct center *c = mkcenter();
	json_t *o;
	char *before, *after;

	seed(c);
	assert_int_equal(req(c, &admin_peer, CENTER_GET, "/v1/admin/sites/hosp-main", NULL,
	    &o), 200);
	assert_string_equal(json_string_value(json_object_get(o, "wan")), "192.0.2.1");
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "groups"),
	    0)), "A");
	json_decref(o);
	assert_int_equal(req(c, &admin_peer, CENTER_GET, "/v1/admin/devices/lab-01", NULL,
	    &o), 200);
	assert_string_equal(json_string_value(json_object_get(o, "fingerprint")),
	    "0202020202020202020202020202020202020202020202020202020202020202");
	json_decref(o);

	before = export(c);
	center_free(c);
	c = mkcenter();
	after = export(c);
	assert_string_equal(before, after);
	free(before);
	free(after);
	center_free(c);
}

static void
test_bad_requests_change_nothing(void **state)
{
	struct center *c = mkcenter();
	static const struct {
		enum center_method	 m;
		const char		*path;
		const char		*body;
		int			 status;
	} bad[] = {
		{ CENTER_POST, "/v1/admin/orgs", "{\"name\":", 400 },
		{ CENTER_POST, "/v1/admin/orgs", "{\"name\":\"x\",\"kind\":\"vendor\",\"a\":1}", 400 },
		{ CENTER_POST, "/v1/admin/orgs", "{\"name\":\"hosp\",\"kind\":\"vendor\"}", 409 },
		{ CENTER_POST, "/v1/admin/sites", "{\"name\":\"s\",\"org\":\"hosp\","
		    "\"prefixes\":[\"10.1.0.0/16\"]}", 0 /* ok: not in a group */ },
		{ CENTER_POST, "/v1/admin/groups/A/members", "{\"site\":\"s\"}", 409 },
		{ CENTER_DELETE, "/v1/admin/orgs/hosp", NULL, 409 },
		{ CENTER_PATCH, "/v1/admin/orgs/hosp", "{}", 400 },
		{ CENTER_GET, "/v1/admin/nothing", NULL, 404 },
		{ CENTER_PUT, "/v1/admin/orgs", "{}", 405 },
		{ CENTER_POST, "/v1/admin/connections", "{\"initiator\":\"lab\","
		    "\"responder\":\"lab\"}", 400 },
	};
	char *base, *now;
	json_t *o;

	seed(c);
	for (size_t i = 0; i < nitems(bad); i++) {
		int st;

		base = export(c);
		st = req(c, &admin_peer, bad[i].m, bad[i].path, bad[i].body, &o);
		if (bad[i].status == 0) {
			assert_int_equal(st, 201);
			json_decref(o);
			free(base);
			continue;
		}
		assert_int_equal(st, bad[i].status);
		assert_true(json_is_string(json_object_get(o, "error")));
		json_decref(o);
		now = export(c);
		assert_string_equal(base, now);
		free(base);
		free(now);
	}
	center_free(c);
}

/* a store failure half-way through a request: nothing of it stays */
static void
test_failure_mid_request_rolls_back(void **state)
{
	struct center *c = mkcenter();
	json_t *o;
	char *base, *now;

	seed(c);
	base = export(c);
	/* the audit record is written after the change itself; make it fail */
	assert_int_equal(store_q(c->st, NULL, NULL, "ALTER TABLE audit RENAME TO audit_away",
	    ""), STORE_OK);
	assert_int_equal(req(c, &admin_peer, CENTER_POST, "/v1/admin/orgs",
	    "{\"name\":\"newco\",\"kind\":\"vendor\"}", &o), 500);
	json_decref(o);
	assert_int_equal(req(c, &admin_peer, CENTER_PATCH, "/v1/admin/sites/lab",
	    "{\"status\":\"suspended\"}", &o), 500);
	json_decref(o);
	assert_int_equal(store_q(c->st, NULL, NULL, "ALTER TABLE audit_away RENAME TO audit",
	    ""), STORE_OK);
	now = export(c);
	assert_string_equal(base, now);
	free(now);
	/* and the same requests succeed now */
	assert_int_equal(req(c, &admin_peer, CENTER_POST, "/v1/admin/orgs",
	    "{\"name\":\"newco\",\"kind\":\"vendor\"}", NULL), 201);
	free(base);
	center_free(c);
}

static void
test_audit_chain_verifies_and_detects_tampering(void **state)
{
	struct center *c = mkcenter();
	json_t *o;

	seed(c);
	assert_int_equal(req(c, &admin_peer, CENTER_GET, "/v1/admin/audit/verify", NULL, &o),
	    200);
	assert_true(json_is_true(json_object_get(o, "ok")));
	assert_true(json_integer_value(json_object_get(o, "records")) >= 10);
	json_decref(o);
	/* filters */
	assert_int_equal(req(c, &admin_peer, CENTER_GET, "/v1/admin/audit?kind=group.", NULL,
	    &o), 200);
	assert_int_equal(json_array_size(json_object_get(o, "events")), 3);
	json_decref(o);
	assert_int_equal(req(c, &admin_peer, CENTER_GET, "/v1/admin/audit?device=lab-01",
	    NULL, &o), 200);
	assert_int_equal(json_array_size(json_object_get(o, "events")), 1);
	json_decref(o);

	/* someone with the database file changes history behind the triggers */
	assert_int_equal(store_q(c->st, NULL, NULL, "DROP TRIGGER audit_no_update", ""),
	    STORE_OK);
	assert_int_equal(store_q(c->st, NULL, NULL, "UPDATE audit SET actor = 'admin:eve' "
	    "WHERE seq = 3", ""), STORE_OK);
	assert_int_equal(req(c, &admin_peer, CENTER_GET, "/v1/admin/audit/verify", NULL, &o),
	    200);
	assert_true(json_is_false(json_object_get(o, "ok")));
	assert_int_equal(json_integer_value(json_object_get(o, "records")), 2);
	assert_non_null(strstr(json_string_value(json_object_get(o, "error")), "record 3"));
	json_decref(o);
	center_free(c);
}

/* pretend both devices enrolled (the PKI is not part of these tests) */
static void
enrol_rows(struct center *c)
{
	assert_int_equal(store_q(c->st, NULL, NULL, "INSERT INTO certs (serial, device, "
	    "not_before, not_after, issued) VALUES ('aa', 'hosp-01', 0, ?, 0), ('bb', "
	    "'lab-01', 0, ?, 0)", "ii", fake_now + 86400, fake_now + 86400), STORE_OK);
	assert_int_equal(store_q(c->st, NULL, NULL, "UPDATE devices SET status = 'enrolled'",
	    ""), STORE_OK);
}

static void
test_grants_config_versions_and_expiry(void **state)
{
	const struct center_peer lab = { CENTER_ROLE_SERVICE, "lab-01", "bb", { 0 } };
	const struct center_peer forged = { CENTER_ROLE_SERVICE, "lab-01", "cc", { 0 } };
	struct center *c = mkcenter();
	struct center_resp resp;
	json_t *o;
	int64_t v1;

	seed(c);
	enrol_rows(c);
	assert_int_equal(req(c, &lab, CENTER_GET, "/v1/config?wait=0", NULL, &o), 200);
	v1 = json_integer_value(json_object_get(o, "version"));
	assert_true(v1 >= 1);
	assert_int_equal(json_array_size(json_object_get(o, "peers")), 1);
	assert_int_equal(json_array_size(json_object_get(o, "grants")), 0);
	json_decref(o);
	/* a service certificate the center did not issue */
	assert_int_equal(req(c, &forged, CENTER_GET, "/v1/config?wait=0", NULL, &o), 403);
	json_decref(o);
	/* nothing changed: a waiting request parks */
	center_config_poll(c, "lab-01", v1, true, &resp);
	assert_true(resp.park);
	center_resp_clear(&resp);

	/* the lab applies; the grant lands in its document with a new version */
	fake_now += 10;
	assert_int_equal(req(c, &lab, CENTER_POST, "/v1/connections",
	    "{\"peer\":\"hosp-main\"}", &o), 200);
	assert_string_equal(json_string_value(json_object_get(o, "decision")), "granted");
	json_decref(o);
	center_config_poll(c, "lab-01", v1, true, &resp);
	assert_false(resp.park);
	assert_int_equal(json_integer_value(json_object_get(resp.body, "version")), v1 + 1);
	assert_int_equal(json_array_size(json_object_get(resp.body, "grants")), 1);
	center_resp_clear(&resp);

	/* time passes beyond the grant's validity: the tick expires it */
	fake_now += c->cfg.grant_validity_s + 1;
	center_tick(c);
	assert_int_equal(req(c, &admin_peer, CENTER_GET, "/v1/admin/grants?status=expired",
	    NULL, &o), 200);
	assert_int_equal(json_array_size(json_object_get(o, "grants")), 1);
	json_decref(o);
	assert_int_equal(req(c, &admin_peer, CENTER_GET, "/v1/admin/audit?kind=grant.expired",
	    NULL, &o), 200);
	assert_int_equal(json_array_size(json_object_get(o, "events")), 1);
	json_decref(o);
	center_config_poll(c, "lab-01", v1 + 1, true, &resp);
	assert_false(resp.park);
	assert_int_equal(json_array_size(json_object_get(resp.body, "grants")), 0);
	center_resp_clear(&resp);
	center_free(c);
}

static void
test_config_file(void **state)
{
	struct center_cfg cfg;
	char err[256];
	const char *good = "{\"database\":\"/var/lib/c.db\",\"pki_dir\":\"/etc/pki\","
	    "\"port\":9443,\"tls12\":true,\"crypto\":{\"dh_groups\":[31,19],\"pfs\":true}}";

	assert_int_equal(center_cfg_parse(good, strlen(good), &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.port, 9443);
	assert_true(cfg.tls12);
	assert_int_equal(cfg.crypto.dh_groups[0], 31);
	assert_int_equal(cfg.crypto.dh_groups[2], 0);
	assert_true(cfg.crypto.pfs);
	assert_int_equal(cfg.longpoll_timeout_s, 30);

	assert_int_equal(center_cfg_parse("{\"pki_dir\":\"p\"}", 15, &cfg, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "database"));
	{
		const char *bad[] = {
			"{\"database\":\"d\",\"pki_dir\":\"p\",\"colour\":1}",
			"{\"database\":\"d\",\"pki_dir\":\"p\",\"port\":0}",
			"{\"database\":\"d\",\"pki_dir\":\"p\",\"listen\":\"localhost\"}",
			"{\"database\":\"d\",\"pki_dir\":\"p\",\"crypto\":{\"dh_groups\":[14]}}",
			"{\"database\":\"d\",\"pki_dir\":\"p\",\"log_level\":\"loud\"}",
			("{\"database\":\"d\",\"pki_dir\":\"p\",\"longpoll_timeout_s\":100,"
			    "\"request_timeout_s\":50}"),
			"{\"database\":\"d\"",
		};

		for (size_t i = 0; i < nitems(bad); i++)
			assert_int_equal(center_cfg_parse(bad[i], strlen(bad[i]), &cfg, err,
			    sizeof(err)), -1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrations_from_empty_and_reopen,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_failed_migration_is_rolled_back,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test(test_round_trip_and_types),
		cmocka_unit_test(test_failed_transaction_leaves_nothing),
		cmocka_unit_test(test_audit_table_is_append_only),
		cmocka_unit_test_setup_teardown(test_requests_round_trip_and_survive_restart,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_bad_requests_change_nothing,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_failure_mid_request_rolls_back,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_audit_chain_verifies_and_detects_tampering,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_grants_config_versions_and_expiry,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test(test_config_file),
	};

	log_init("test_center_store", LL_ERROR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

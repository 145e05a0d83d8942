/*
 * SQLite backend of the center store: WAL journal (readers never block the one
 * writer), foreign keys on, synchronous=FULL so a committed request survives a
 * crash or power cut, and the schema as versioned migrations.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "center/store.h"
#include "lib/util.h"

/*
 * Schema version 1. Arrays and selectors that are only ever read whole (site
 * prefixes and zones, grant flows and crypto) are JSON text. The audit table is
 * append-only: triggers refuse UPDATE and DELETE, and each row carries the
 * hash chain of src/audit/audit.h. Grants, certificates, revocations and audit
 * rows have no foreign keys on purpose: they are history and outlive the
 * objects they name.
 */
static const char schema_v1[] =
"CREATE TABLE orgs ("
"  name TEXT PRIMARY KEY,"
"  kind TEXT NOT NULL CHECK (kind IN ('large_institution', 'small_institution',"
"       'service_provider', 'vendor')),"
"  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),"
"  auto_approve INTEGER NOT NULL DEFAULT 1 CHECK (auto_approve IN (0, 1)),"
"  description TEXT NOT NULL DEFAULT '',"
"  created INTEGER NOT NULL,"
"  updated INTEGER NOT NULL);"
"CREATE TABLE sites ("
"  name TEXT PRIMARY KEY,"
"  org TEXT NOT NULL REFERENCES orgs(name),"
"  prefixes TEXT NOT NULL,"
"  zones TEXT NOT NULL DEFAULT '[]',"
"  wan TEXT,"
"  wan_port INTEGER NOT NULL DEFAULT 4500 CHECK (wan_port BETWEEN 1 AND 65535),"
"  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),"
"  description TEXT NOT NULL DEFAULT '',"
"  created INTEGER NOT NULL,"
"  updated INTEGER NOT NULL);"
"CREATE INDEX sites_org ON sites(org);"
"CREATE TABLE devices ("
"  id TEXT PRIMARY KEY,"
"  site TEXT NOT NULL REFERENCES sites(name),"
"  fingerprint TEXT NOT NULL UNIQUE,"
"  status TEXT NOT NULL DEFAULT 'registered'"
"       CHECK (status IN ('registered', 'enrolled', 'revoked')),"
"  service_serial TEXT,"
"  service_not_after INTEGER,"
"  enrolled INTEGER,"
"  description TEXT NOT NULL DEFAULT '',"
"  created INTEGER NOT NULL,"
"  updated INTEGER NOT NULL);"
"CREATE INDEX devices_site ON devices(site);"
"CREATE TABLE certs ("
"  serial TEXT PRIMARY KEY,"
"  device TEXT NOT NULL,"
"  not_before INTEGER NOT NULL,"
"  not_after INTEGER NOT NULL,"
"  issued INTEGER NOT NULL,"
"  status TEXT NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked')));"
"CREATE INDEX certs_device ON certs(device);"
"CREATE TABLE groups ("
"  name TEXT PRIMARY KEY,"
"  description TEXT NOT NULL DEFAULT '',"
"  created INTEGER NOT NULL);"
"CREATE TABLE group_members ("
"  grp TEXT NOT NULL REFERENCES groups(name),"
"  site TEXT NOT NULL REFERENCES sites(name),"
"  added INTEGER NOT NULL,"
"  PRIMARY KEY (grp, site));"
"CREATE INDEX group_members_site ON group_members(site);"
"CREATE TABLE rules ("
"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
"  owner TEXT REFERENCES orgs(name),"
"  grp TEXT REFERENCES groups(name),"
"  src_org TEXT REFERENCES orgs(name),"
"  src_site TEXT REFERENCES sites(name),"
"  src_zone TEXT,"
"  src_prefix TEXT,"
"  dst_org TEXT REFERENCES orgs(name),"
"  dst_site TEXT REFERENCES sites(name),"
"  dst_zone TEXT,"
"  dst_prefix TEXT,"
"  both_ways INTEGER NOT NULL DEFAULT 0 CHECK (both_ways IN (0, 1)),"
"  proto INTEGER NOT NULL DEFAULT 0 CHECK (proto BETWEEN 0 AND 255),"
"  port_lo INTEGER NOT NULL DEFAULT 0 CHECK (port_lo BETWEEN 0 AND 65535),"
"  port_hi INTEGER NOT NULL DEFAULT 65535 CHECK (port_hi BETWEEN port_lo AND 65535),"
"  valid_from INTEGER,"
"  valid_until INTEGER,"
"  hours_from INTEGER CHECK (hours_from BETWEEN 0 AND 1439),"
"  hours_to INTEGER CHECK (hours_to BETWEEN 1 AND 1440),"
"  days INTEGER NOT NULL DEFAULT 0 CHECK (days BETWEEN 0 AND 127),"
"  auto_approve INTEGER CHECK (auto_approve IN (0, 1)),"
"  description TEXT NOT NULL DEFAULT '',"
"  created INTEGER NOT NULL);"
"CREATE INDEX rules_owner ON rules(owner);"
"CREATE TABLE grants ("
"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
"  initiator TEXT NOT NULL,"
"  responder TEXT NOT NULL,"
"  initiator_device TEXT NOT NULL,"
"  responder_device TEXT NOT NULL,"
"  flows TEXT NOT NULL,"
"  crypto TEXT NOT NULL,"
"  not_before INTEGER NOT NULL,"
"  not_after INTEGER NOT NULL,"
"  status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'withdrawn',"
"       'expired', 'denied')),"
"  reason TEXT NOT NULL,"
"  requested_by TEXT NOT NULL,"
"  created INTEGER NOT NULL,"
"  updated INTEGER NOT NULL);"
"CREATE INDEX grants_initiator ON grants(initiator);"
"CREATE INDEX grants_responder ON grants(responder);"
"CREATE INDEX grants_status ON grants(status);"
"CREATE TABLE revocations ("
"  serial TEXT PRIMARY KEY,"
"  device TEXT,"
"  reason TEXT NOT NULL,"
"  time INTEGER NOT NULL,"
"  actor TEXT NOT NULL);"
"CREATE TABLE audit ("
"  seq INTEGER PRIMARY KEY,"
"  time_ms INTEGER NOT NULL,"
"  kind TEXT NOT NULL,"
"  actor TEXT NOT NULL,"
"  org TEXT,"
"  site TEXT,"
"  device TEXT,"
"  grant_id INTEGER NOT NULL DEFAULT 0,"
"  detail TEXT NOT NULL,"
"  prev_hash TEXT NOT NULL,"
"  hash TEXT NOT NULL);"
"CREATE INDEX audit_time ON audit(time_ms);"
"CREATE INDEX audit_site ON audit(site);"
"CREATE INDEX audit_device ON audit(device);"
"CREATE INDEX audit_kind ON audit(kind);"
"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
"  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;"
"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
"  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;"
"CREATE TABLE device_config ("
"  device TEXT PRIMARY KEY,"
"  version INTEGER NOT NULL,"
"  hash TEXT NOT NULL);"
"CREATE TABLE meta ("
"  key TEXT PRIMARY KEY,"
"  value TEXT NOT NULL);";

static const struct store_migration sqlite_migrations[] = {
	{ 1, "initial schema", schema_v1 },
};

static int
sq_err(sqlite3 *db, int rc, char *err, size_t errlen)
{
	xsnprintf(err, errlen, "%s", sqlite3_errmsg(db));
	return (rc & 0xff) == SQLITE_CONSTRAINT ? STORE_ECONFLICT : STORE_ERROR;
}

static int
sq_script(void *h, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		xsnprintf(err, errlen, "%s", msg != NULL ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return (rc & 0xff) == SQLITE_CONSTRAINT ? STORE_ECONFLICT : STORE_ERROR;
	}
	return STORE_OK;
}

static int
sq_open(const char *target, void **h, char *err, size_t errlen)
{
	bool mem = strcmp(target, ":memory:") == 0;
	sqlite3 *db = NULL;
	int rc;

	rc = sqlite3_open_v2(target, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		xsnprintf(err, errlen, "%s: %s", target,
		    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return STORE_ERROR;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, 5000);
	if (sq_script(db, mem ? "PRAGMA foreign_keys = ON" :
	    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
	    "PRAGMA foreign_keys = ON", err, errlen) != STORE_OK) {
		sqlite3_close(db);
		return STORE_ERROR;
	}
	*h = db;
	return STORE_OK;
}

static void
sq_close(void *h)
{
	sqlite3_close(h);
}

static int
sq_begin(void *h, char *err, size_t errlen)
{
	/* IMMEDIATE: take the write lock now, so a request never fails half-way
	 * because another process wrote in between */
	return sq_script(h, "BEGIN IMMEDIATE", err, errlen);
}

static int
sq_commit(void *h, char *err, size_t errlen)
{
	return sq_script(h, "COMMIT", err, errlen);
}

static void
sq_rollback(void *h)
{
	char err[64];

	if (!sqlite3_get_autocommit(h))
		sq_script(h, "ROLLBACK", err, sizeof(err));
}

static json_t *
sq_column(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, i));
	case SQLITE_FLOAT:
		return json_real(sqlite3_column_double(st, i));
	case SQLITE_TEXT:
		return json_stringn((const char *)sqlite3_column_text(st, i),
		    (size_t)sqlite3_column_bytes(st, i));
	default:
		return json_null();
	}
}

static int
sq_exec(void *h, const char *sql, const json_t *params, json_t **rows,
    int64_t *changes, char *err, size_t errlen)
{
	sqlite3 *db = h;
	sqlite3_stmt *st = NULL;
	const char *tail;
	json_t *out = NULL;
	size_t i;
	json_t *v;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, &tail);
	if (rc != SQLITE_OK)
		return sq_err(db, rc, err, errlen);
	while (tail != NULL && isspace((unsigned char)*tail))
		tail++;
	if (st == NULL || (tail != NULL && *tail != '\0')) {
		sqlite3_finalize(st);
		xsnprintf(err, errlen, "exactly one statement expected");
		return STORE_ERROR;
	}
	if ((int)json_array_size(params) != sqlite3_bind_parameter_count(st)) {
		sqlite3_finalize(st);
		xsnprintf(err, errlen, "%zu parameters for %d placeholders",
		    json_array_size(params), sqlite3_bind_parameter_count(st));
		return STORE_ERROR;
	}
	json_array_foreach(params, i, v) {
		int n = (int)i + 1;

		if (json_is_string(v))
			rc = sqlite3_bind_text(st, n, json_string_value(v),
			    (int)json_string_length(v), SQLITE_TRANSIENT);
		else if (json_is_integer(v))
			rc = sqlite3_bind_int64(st, n, json_integer_value(v));
		else if (json_is_boolean(v))
			rc = sqlite3_bind_int(st, n, json_is_true(v));
		else
			rc = sqlite3_bind_null(st, n);
		if (rc != SQLITE_OK) {
			sqlite3_finalize(st);
			return sq_err(db, rc, err, errlen);
		}
	}
	if (rows != NULL)
		out = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *row;
		int ncol = sqlite3_column_count(st);

		if (out == NULL)
			continue;
		row = json_object();
		for (int c = 0; c < ncol; c++)
			json_object_set_new(row, sqlite3_column_name(st, c), sq_column(st, c));
		json_array_append_new(out, row);
	}
	if (rc != SQLITE_DONE) {
		int r = sq_err(db, rc, err, errlen);

		sqlite3_finalize(st);
		json_decref(out);
		return r;
	}
	sqlite3_finalize(st);
	if (changes != NULL)
		*changes = sqlite3_changes(db);
	if (rows != NULL)
		*rows = out;
	return STORE_OK;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.exec = sq_exec,
	.exec_script = sq_script,
	.migrations = sqlite_migrations,
	.nmigrations = nitems(sqlite_migrations),
};

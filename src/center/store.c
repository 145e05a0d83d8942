#include <stdlib.h>
#include <string.h>

#include "center/store.h"
#include "lib/log.h"
#include "lib/util.h"

struct store {
	const struct store_ops	*ops;
	void			*h;
	bool			 in_tx;
	int			 last_rc;	/* of the last failed call */
	char			 err[STORE_ERR_MAX];
};

const char *
store_error(const struct store *st)
{
	return st->err;
}

bool
store_conflict(const struct store *st)
{
	return st->last_rc == STORE_ECONFLICT;
}

const char *
store_backend(const struct store *st)
{
	return st->ops->name;
}

bool
store_in_tx(const struct store *st)
{
	return st->in_tx;
}

int
store_begin(struct store *st)
{
	int rc;

	if (st->in_tx) {
		xsnprintf(st->err, sizeof(st->err), "transaction already open");
		return STORE_ERROR;
	}
	rc = st->ops->begin(st->h, st->err, sizeof(st->err));
	if (rc == STORE_OK)
		st->in_tx = true;
	return rc;
}

int
store_commit(struct store *st)
{
	int rc;

	if (!st->in_tx) {
		xsnprintf(st->err, sizeof(st->err), "no transaction open");
		return STORE_ERROR;
	}
	rc = st->ops->commit(st->h, st->err, sizeof(st->err));
	st->last_rc = rc;
	if (rc != STORE_OK)
		st->ops->rollback(st->h);
	st->in_tx = false;
	return rc;
}

void
store_rollback(struct store *st)
{
	if (!st->in_tx)
		return;
	st->ops->rollback(st->h);
	st->in_tx = false;
}

int
store_qv(struct store *st, json_t **rows, int64_t *changes, const char *sql,
    const char *fmt, va_list ap)
{
	json_t *params = json_array();
	int rc;

	if (rows != NULL)
		*rows = NULL;
	for (const char *f = fmt; *f != '\0'; f++) {
		switch (*f) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			json_array_append_new(params, s != NULL ? json_string(s) : json_null());
			break;
		}
		case 'i':
			json_array_append_new(params, json_integer(va_arg(ap, int64_t)));
			break;
		case 'b':
			json_array_append_new(params, json_integer(va_arg(ap, int) ? 1 : 0));
			break;
		case 'j': {
			const json_t *j = va_arg(ap, const json_t *);

			if (j == NULL || json_is_null(j))
				json_array_append_new(params, json_null());
			else if (json_is_boolean(j))
				json_array_append_new(params, json_integer(json_is_true(j)));
			else if (json_is_string(j) || json_is_integer(j))
				json_array_append(params, (json_t *)j);
			else {
				json_decref(params);
				xsnprintf(st->err, sizeof(st->err), "parameter of a JSON "
				    "type the store does not keep");
				return STORE_ERROR;
			}
			break;
		}
		default:
			json_decref(params);
			xsnprintf(st->err, sizeof(st->err), "bad parameter format '%c'", *f);
			return STORE_ERROR;
		}
	}
	/* a string that is not valid UTF-8 makes json_string return NULL, which
	 * json_array_append_new refuses: count to detect it */
	if (json_array_size(params) != strlen(fmt)) {
		json_decref(params);
		xsnprintf(st->err, sizeof(st->err), "parameter is not valid UTF-8");
		return STORE_ERROR;
	}
	rc = st->ops->exec(st->h, sql, params, rows, changes, st->err, sizeof(st->err));
	json_decref(params);
	st->last_rc = rc;
	if (rc != STORE_OK)
		log_debug("store: %s (in: %.80s)", st->err, sql);
	return rc;
}

int
store_q(struct store *st, json_t **rows, int64_t *changes, const char *sql,
    const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = store_qv(st, rows, changes, sql, fmt, ap);
	va_end(ap);
	return rc;
}

int
store_q1(struct store *st, json_t **row, const char *sql, const char *fmt, ...)
{
	json_t *rows;
	va_list ap;
	int rc;

	*row = NULL;
	va_start(ap, fmt);
	rc = store_qv(st, &rows, NULL, sql, fmt, ap);
	va_end(ap);
	if (rc != STORE_OK)
		return rc;
	if (json_array_size(rows) > 0)
		*row = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return STORE_OK;
}

int
store_schema_version(struct store *st)
{
	json_t *row;
	int v;

	if (store_q1(st, &row, "SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations",
	    "") != STORE_OK || row == NULL)
		return -1;
	v = (int)json_integer_value(json_object_get(row, "v"));
	json_decref(row);
	return v;
}

static int
store_migrate(struct store *st)
{
	const struct store_ops *ops = st->ops;
	int have, latest = 0;

	if (ops->exec_script(st->h, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied INTEGER NOT NULL)",
	    st->err, sizeof(st->err)) != STORE_OK)
		return STORE_ERROR;
	if ((have = store_schema_version(st)) < 0)
		return STORE_ERROR;
	for (size_t i = 0; i < ops->nmigrations; i++)
		latest = MAX(latest, ops->migrations[i].version);
	if (have > latest) {
		xsnprintf(st->err, sizeof(st->err), "database schema version %d is newer "
		    "than this program knows (%d)", have, latest);
		return STORE_ERROR;
	}
	for (size_t i = 0; i < ops->nmigrations; i++) {
		const struct store_migration *m = &ops->migrations[i];
		char why[STORE_ERR_MAX] = "";

		if (m->version <= have)
			continue;
		if (store_begin(st) != STORE_OK)
			return STORE_ERROR;
		if (ops->exec_script(st->h, m->sql, why, sizeof(why)) != STORE_OK ||
		    store_q(st, NULL, NULL, "INSERT INTO schema_migrations (version, name, "
		    "applied) VALUES (?, ?, ?)", "isi", (int64_t)m->version, m->name,
		    now_wall_s()) != STORE_OK) {
			if (why[0] == '\0')
				xsnprintf(why, sizeof(why), "%s", st->err);
			store_rollback(st);
			xsnprintf(st->err, sizeof(st->err), "migration %d (%s): %s",
			    m->version, m->name, why);
			return STORE_ERROR;
		}
		if (store_commit(st) != STORE_OK)
			return STORE_ERROR;
		log_info("store: applied migration %d (%s)", m->version, m->name);
		have = m->version;
	}
	return STORE_OK;
}

struct store *
store_open_ops(const struct store_ops *ops, const char *target, char *err, size_t errlen)
{
	struct store *st = xcalloc(1, sizeof(*st));

	st->ops = ops;
	if (ops->open(target, &st->h, err, errlen) != STORE_OK) {
		free(st);
		return NULL;
	}
	if (store_migrate(st) != STORE_OK) {
		xsnprintf(err, errlen, "%s", st->err);
		ops->close(st->h);
		free(st);
		return NULL;
	}
	return st;
}

struct store *
store_open(const char *uri, char *err, size_t errlen)
{
	const char *target = uri;

	if (strncmp(uri, "sqlite:", 7) == 0)
		target = uri + 7;
	else if (strstr(uri, "://") != NULL || strncmp(uri, "postgresql:", 11) == 0) {
		xsnprintf(err, errlen, "store \"%s\": only SQLite is built in "
		    "(see docs/CENTER.md for the PostgreSQL path)", uri);
		return NULL;
	}
	if (*target == '\0') {
		xsnprintf(err, errlen, "empty database path");
		return NULL;
	}
	return store_open_ops(&store_sqlite_ops, target, err, errlen);
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	store_rollback(st);
	st->ops->close(st->h);
	free(st);
}

/*
 * The center's store (SPEC REQ-CTR-1, REQ-CTR-4). Two layers:
 *
 *  - struct store_ops: what a database backend provides — open/close, one
 *    transaction at a time, and parameterised SQL whose result rows come back as
 *    JSON objects. SQLite (store_sqlite.c) is the embedded default; a PostgreSQL
 *    backend implements the same operations with libpq (docs/CENTER.md).
 *  - struct store + store_q*(): the typed convenience layer every other file of
 *    the center uses. Everything above it writes portable SQL: '?' placeholders
 *    (a backend may rewrite them, PostgreSQL to $n), INSERT … RETURNING, no
 *    backend-specific functions.
 *
 * Schema changes are versioned migrations, one list per backend, applied in order
 * at open time inside a transaction each and recorded in schema_migrations.
 *
 * Errors: functions return STORE_OK (0) or a negative STORE_E*; the message of the
 * last failure is kept in the store (store_error()). A constraint violation
 * (unique, foreign key, check, the audit table's append-only triggers) is
 * STORE_ECONFLICT so the API can answer 409 instead of 500.
 */
#ifndef ODVPN_CENTER_STORE_H
#define ODVPN_CENTER_STORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define STORE_OK		0
#define STORE_ERROR		(-1)
#define STORE_ECONFLICT		(-2)

#define STORE_ERR_MAX		256

struct store_migration {
	int		 version;	/* 1, 2, 3… */
	const char	*name;
	const char	*sql;		/* one or more statements */
};

struct store_ops {
	const char	*name;		/* "sqlite" */
	/* target: the backend's own address (a file path, ":memory:", a conninfo) */
	int	(*open)(const char *target, void **h, char *err, size_t errlen);
	void	(*close)(void *h);
	int	(*begin)(void *h, char *err, size_t errlen);
	int	(*commit)(void *h, char *err, size_t errlen);
	void	(*rollback)(void *h);
	/*
	 * One statement. params: a JSON array of strings, integers, booleans or
	 * nulls bound to the '?' in order (borrowed). rows: NULL, or receives a new
	 * array with one object per result row, keyed by column name (TEXT → string,
	 * INTEGER → integer, NULL → null). *changes (may be NULL): rows modified.
	 */
	int	(*exec)(void *h, const char *sql, const json_t *params, json_t **rows,
		    int64_t *changes, char *err, size_t errlen);
	/* several statements without parameters (migrations) */
	int	(*exec_script)(void *h, const char *sql, char *err, size_t errlen);
	const struct store_migration *migrations;
	size_t		nmigrations;
};

extern const struct store_ops store_sqlite_ops;

struct store;

/*
 * "sqlite:PATH", or a bare PATH (SQLite); ":memory:" for tests. Applies pending
 * migrations. NULL with a reason in err on failure.
 */
struct store	*store_open(const char *uri, char *err, size_t errlen);
/* the same with an explicit backend (tests, other backends) */
struct store	*store_open_ops(const struct store_ops *, const char *target,
		    char *err, size_t errlen);
void		 store_close(struct store *);
const char	*store_error(const struct store *);
/* the last failed call was a constraint violation (STORE_ECONFLICT) */
bool		 store_conflict(const struct store *);
const char	*store_backend(const struct store *);
int		 store_schema_version(struct store *);

/* one transaction at a time; rollback is safe to call when none is open */
int	store_begin(struct store *);
int	store_commit(struct store *);
void	store_rollback(struct store *);
bool	store_in_tx(const struct store *);

/*
 * Run sql with parameters given by fmt, one character per '?':
 *   's' const char * (NULL binds null)   'i' int64_t   'b' bool (int promoted)
 *   'j' const json_t * string/integer/boolean (NULL or JSON null binds null)
 * store_q: *rows (may be NULL) receives the result array.
 * store_q1: *row receives the first row (a new reference) or NULL when there is
 *   none; STORE_OK either way.
 * store_qv: the va_list form.
 */
int	store_q(struct store *, json_t **rows, int64_t *changes, const char *sql,
	    const char *fmt, ...);
int	store_q1(struct store *, json_t **row, const char *sql, const char *fmt, ...);
int	store_qv(struct store *, json_t **rows, int64_t *changes, const char *sql,
	    const char *fmt, va_list);

#endif

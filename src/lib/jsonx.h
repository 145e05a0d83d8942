/*
 * Strict JSON validation for every JSON document odvpn accepts (API bodies,
 * configuration files, control-socket requests): unknown keys, wrong types,
 * missing required keys and out-of-range values are refused with a reason a
 * person can act on. After jsonx_validate() succeeds, callers may read the
 * declared fields with jansson's accessors without further type checks.
 */
#ifndef ODVPN_LIB_JSONX_H
#define ODVPN_LIB_JSONX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum jsonx_type {
	JX_STRING,	/* min/max: length in bytes; must be valid UTF-8 (jansson) without NUL */
	JX_INT,		/* min/max: value range */
	JX_BOOL,
	JX_ARRAY,	/* min/max: element count */
	JX_OBJECT,
};

struct jsonx_field {
	const char	*name;
	enum jsonx_type	 type;
	bool		 required;
	long long	 min;
	long long	 max;
};

/* 0 if obj is an object that satisfies fields; else -1 and a message in err */
int	jsonx_validate(const json_t *obj, const struct jsonx_field *fields,
	    size_t nfields, char *err, size_t errlen);

/* convenience accessors for validated objects (NULL / dflt when absent) */
const char *jsonx_str(const json_t *obj, const char *key);
long long jsonx_int(const json_t *obj, const char *key, long long dflt);
bool	jsonx_bool(const json_t *obj, const char *key, bool dflt);

#endif

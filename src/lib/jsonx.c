#include <string.h>

#include "lib/jsonx.h"
#include "lib/util.h"

static const char *
type_name(enum jsonx_type t)
{
	switch (t) {
	case JX_STRING:	return "a string";
	case JX_INT:	return "an integer";
	case JX_BOOL:	return "true or false";
	case JX_ARRAY:	return "an array";
	case JX_OBJECT:	return "an object";
	}
	return "?";
}

static bool
type_ok(const json_t *v, enum jsonx_type t)
{
	switch (t) {
	case JX_STRING:	return json_is_string(v);
	case JX_INT:	return json_is_integer(v);
	case JX_BOOL:	return json_is_boolean(v);
	case JX_ARRAY:	return json_is_array(v);
	case JX_OBJECT:	return json_is_object(v);
	}
	return false;
}

int
jsonx_validate(const json_t *obj, const struct jsonx_field *fields, size_t n,
    char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj)) {
		xsnprintf(err, errlen, "expected a JSON object");
		return -1;
	}
	json_object_foreach((json_t *)obj, key, v) {
		size_t i;

		for (i = 0; i < n; i++)
			if (strcmp(fields[i].name, key) == 0)
				break;
		if (i == n) {
			xsnprintf(err, errlen, "unknown field \"%.64s\"", key);
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct jsonx_field *f = &fields[i];
		long long x;

		v = json_object_get(obj, f->name);
		if (v == NULL || json_is_null(v)) {
			if (f->required) {
				xsnprintf(err, errlen, "missing field \"%s\"", f->name);
				return -1;
			}
			continue;
		}
		if (!type_ok(v, f->type)) {
			xsnprintf(err, errlen, "field \"%s\" must be %s", f->name,
			    type_name(f->type));
			return -1;
		}
		switch (f->type) {
		case JX_STRING:
			x = (long long)json_string_length(v);
			if (strlen(json_string_value(v)) != (size_t)x) {
				xsnprintf(err, errlen, "field \"%s\" contains NUL", f->name);
				return -1;
			}
			if ((f->min > 0 && x < f->min) || (f->max > 0 && x > f->max)) {
				xsnprintf(err, errlen, "field \"%s\" must be %lld to %lld bytes long",
				    f->name, f->min, f->max);
				return -1;
			}
			break;
		case JX_INT:
			x = json_integer_value(v);
			if ((f->min != 0 || f->max != 0) && (x < f->min || x > f->max)) {
				xsnprintf(err, errlen, "field \"%s\" must be between %lld and %lld",
				    f->name, f->min, f->max);
				return -1;
			}
			break;
		case JX_ARRAY:
			x = (long long)json_array_size(v);
			if ((f->min > 0 && x < f->min) || (f->max > 0 && x > f->max)) {
				xsnprintf(err, errlen, "field \"%s\" must have %lld to %lld elements",
				    f->name, f->min, f->max);
				return -1;
			}
			break;
		case JX_BOOL:
		case JX_OBJECT:
			break;
		}
	}
	return 0;
}

const char *
jsonx_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

long long
jsonx_int(const json_t *obj, const char *key, long long dflt)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

bool
jsonx_bool(const json_t *obj, const char *key, bool dflt)
{
	json_t *v = json_object_get(obj, key);

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

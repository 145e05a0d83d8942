/*
 * odvpn-center's configuration file (docs/CENTER.md "Configuration"): one JSON
 * object, validated strictly (unknown keys, wrong types and values out of range
 * are refused with the reason). Relative paths are taken relative to the
 * directory of the configuration file.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "center/center.h"
#include "lib/addr.h"
#include "lib/jsonx.h"
#include "lib/util.h"

#define CFG_MAX_BYTES	(64 * 1024)

void
center_cfg_defaults(struct center_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	xsnprintf(cfg->listen, sizeof(cfg->listen), "0.0.0.0");
	cfg->port = 8443;
	cfg->tls12 = false;
	cfg->longpoll_timeout_s = 30;
	cfg->max_body = 64 * 1024;
	cfg->max_waiters = 10000;
	cfg->max_events = 256;
	cfg->clock_alert_ms = 2000;
	cfg->request_timeout_s = 60;
	cfg->service_cert_lifetime_s = 7 * 86400;
	cfg->grant_validity_s = 86400;
	cfg->crl_lifetime_s = 7 * 86400;
	cfg->crypto.dh_groups[0] = 19;
	cfg->crypto.dh_groups[1] = 31;
	cfg->crypto.dh_groups[2] = 20;
	cfg->crypto.esn = true;
	cfg->crypto.pfs = false;
	cfg->crypto.ike_rekey_s = 4 * 3600;
	cfg->crypto.child_rekey_s = 3600;
	cfg->crypto.idle_timeout_s = 300;
	cfg->log_level = LL_INFO;
	cfg->syslog = false;
}

static int
crypto_parse(const json_t *o, struct center_crypto *cr, char *err, size_t errlen)
{
	static const struct jsonx_field f[] = {
		{ "dh_groups", JX_ARRAY, false, 1, 3 },
		{ "esn", JX_BOOL, false, 0, 0 },
		{ "pfs", JX_BOOL, false, 0, 0 },
		{ "ike_rekey_s", JX_INT, false, 300, 86400 },
		{ "child_rekey_s", JX_INT, false, 60, 86400 },
		{ "idle_timeout_s", JX_INT, false, 10, 86400 },
	};
	char why[256];
	json_t *v;
	size_t i;

	if (jsonx_validate(o, f, nitems(f), why, sizeof(why)) == -1) {
		xsnprintf(err, errlen, "crypto: %s", why);
		return -1;
	}
	if ((v = json_object_get(o, "dh_groups")) != NULL) {
		json_t *g;

		memset(cr->dh_groups, 0, sizeof(cr->dh_groups));
		json_array_foreach(v, i, g) {
			json_int_t n = json_integer_value(g);

			/* SPEC §5: ECP-256, ECP-384, Curve25519 */
			if (!json_is_integer(g) || (n != 19 && n != 20 && n != 31)) {
				xsnprintf(err, errlen, "crypto: dh_groups may hold 19 (ECP-256), "
				    "20 (ECP-384) and 31 (Curve25519)");
				return -1;
			}
			for (size_t j = 0; j < i; j++) {
				if (cr->dh_groups[j] == n) {
					xsnprintf(err, errlen, "crypto: dh_groups repeats %d",
					    (int)n);
					return -1;
				}
			}
			cr->dh_groups[i] = (int)n;
		}
	}
	cr->esn = jsonx_bool(o, "esn", cr->esn);
	cr->pfs = jsonx_bool(o, "pfs", cr->pfs);
	cr->ike_rekey_s = jsonx_int(o, "ike_rekey_s", cr->ike_rekey_s);
	cr->child_rekey_s = jsonx_int(o, "child_rekey_s", cr->child_rekey_s);
	cr->idle_timeout_s = jsonx_int(o, "idle_timeout_s", cr->idle_timeout_s);
	return 0;
}

/* path as given when absolute, else relative to base (a directory) */
static int
path_set(char *dst, size_t cap, const char *base, const char *path)
{
	if (path[0] == '/' || base == NULL || strncmp(path, "sqlite:/", 8) == 0)
		return xsnprintf(dst, cap, "%s", path);
	if (strncmp(path, "sqlite:", 7) == 0)
		return xsnprintf(dst, cap, "sqlite:%s/%s", base, path + 7);
	if (strcmp(path, ":memory:") == 0)
		return xsnprintf(dst, cap, "%s", path);
	return xsnprintf(dst, cap, "%s/%s", base, path);
}

static int
cfg_parse(const char *text, size_t len, const char *base, struct center_cfg *cfg,
    char *err, size_t errlen)
{
	static const struct jsonx_field f[] = {
		{ "listen", JX_STRING, false, 1, 63 },
		{ "port", JX_INT, false, 1, 65535 },
		{ "database", JX_STRING, true, 1, PATH_MAX - 1 },
		{ "pki_dir", JX_STRING, true, 1, PATH_MAX - 1 },
		{ "tls12", JX_BOOL, false, 0, 0 },
		{ "longpoll_timeout_s", JX_INT, false, 1, 3600 },
		{ "max_body_bytes", JX_INT, false, 1024, 1024 * 1024 },
		{ "max_waiters", JX_INT, false, 1, 1000000 },
		{ "max_events", JX_INT, false, 1, 10000 },
		{ "clock_alert_ms", JX_INT, false, 10, 3600000 },
		{ "request_timeout_s", JX_INT, false, 5, 7200 },
		{ "service_cert_lifetime_s", JX_INT, false, 60, 366 * 86400 },
		{ "grant_validity_s", JX_INT, false, 60, 366 * 86400 },
		{ "crl_lifetime_s", JX_INT, false, 3600, 366 * 86400 },
		{ "crypto", JX_OBJECT, false, 0, 0 },
		{ "log_level", JX_STRING, false, 1, 16 },
		{ "syslog", JX_BOOL, false, 0, 0 },
	};
	struct center_cfg c;
	json_error_t je;
	struct ipaddr a;
	char why[256];
	json_t *o;
	int rc = -1;

	center_cfg_defaults(&c);
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL) {
		xsnprintf(err, errlen, "line %d column %d: %s", je.line, je.column, je.text);
		return -1;
	}
	if (jsonx_validate(o, f, nitems(f), why, sizeof(why)) == -1) {
		xsnprintf(err, errlen, "%s", why);
		goto out;
	}
	if (jsonx_str(o, "listen") != NULL) {
		if (ipaddr_parse(jsonx_str(o, "listen"), &a) == -1) {
			xsnprintf(err, errlen, "listen must be an IPv4 or IPv6 address");
			goto out;
		}
		xsnprintf(c.listen, sizeof(c.listen), "%s", jsonx_str(o, "listen"));
	}
	c.port = (int)jsonx_int(o, "port", c.port);
	if (path_set(c.database, sizeof(c.database), base, jsonx_str(o, "database")) == -1 ||
	    path_set(c.pki_dir, sizeof(c.pki_dir), base, jsonx_str(o, "pki_dir")) == -1) {
		xsnprintf(err, errlen, "path too long");
		goto out;
	}
	c.tls12 = jsonx_bool(o, "tls12", c.tls12);
	c.longpoll_timeout_s = (int)jsonx_int(o, "longpoll_timeout_s", c.longpoll_timeout_s);
	c.max_body = (size_t)jsonx_int(o, "max_body_bytes", (long long)c.max_body);
	c.max_waiters = (int)jsonx_int(o, "max_waiters", c.max_waiters);
	c.max_events = (int)jsonx_int(o, "max_events", c.max_events);
	c.clock_alert_ms = jsonx_int(o, "clock_alert_ms", c.clock_alert_ms);
	c.request_timeout_s = (int)jsonx_int(o, "request_timeout_s", c.request_timeout_s);
	c.service_cert_lifetime_s = jsonx_int(o, "service_cert_lifetime_s",
	    c.service_cert_lifetime_s);
	c.grant_validity_s = jsonx_int(o, "grant_validity_s", c.grant_validity_s);
	c.crl_lifetime_s = jsonx_int(o, "crl_lifetime_s", c.crl_lifetime_s);
	if (c.request_timeout_s <= c.longpoll_timeout_s) {
		xsnprintf(err, errlen, "request_timeout_s (%d) must be longer than "
		    "longpoll_timeout_s (%d)", c.request_timeout_s, c.longpoll_timeout_s);
		goto out;
	}
	if (json_object_get(o, "crypto") != NULL &&
	    crypto_parse(json_object_get(o, "crypto"), &c.crypto, err, errlen) == -1)
		goto out;
	if (jsonx_str(o, "log_level") != NULL &&
	    log_level_parse(jsonx_str(o, "log_level"), &c.log_level) == -1) {
		xsnprintf(err, errlen, "log_level must be error, warn, info or debug");
		goto out;
	}
	c.syslog = jsonx_bool(o, "syslog", c.syslog);
	*cfg = c;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int
center_cfg_parse(const char *text, size_t len, struct center_cfg *cfg, char *err,
    size_t errlen)
{
	return cfg_parse(text, len, NULL, cfg, err, errlen);
}

int
center_cfg_load(const char *path, struct center_cfg *cfg, char *err, size_t errlen)
{
	uint8_t *text;
	size_t len;
	char *copy, why[256];
	int rc;

	if (file_read_all(path, CFG_MAX_BYTES, &text, &len) == -1) {
		xsnprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	copy = xstrdup(path);
	rc = cfg_parse((const char *)text, len, dirname(copy), cfg, why, sizeof(why));
	if (rc == -1)
		xsnprintf(err, errlen, "%s: %s", path, why);
	free(copy);
	free(text);
	return rc;
}

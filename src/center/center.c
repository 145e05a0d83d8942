/*
 * The request router and the helpers every handler uses. Routes are one table:
 * method, path pattern (":" marks a name), the roles allowed, the handler.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "center/ca.h"
#include "center/center_int.h"
#include "lib/util.h"
#include "pki/pki.h"

#define ROLE(r)		(1u << (r))
#define ADMIN		ROLE(CENTER_ROLE_ADMIN)
#define TIER1		ROLE(CENTER_ROLE_DEVICE)
#define TIER2		ROLE(CENTER_ROLE_SERVICE)

struct route {
	enum center_method	 method;
	const char		*pattern;
	unsigned		 roles;
	handler_fn		 fn;
};

static const struct route routes[] = {
	/* devices */
	{ CENTER_POST,	 "/v1/enroll",				TIER1,		h_enroll },
	{ CENTER_POST,	 "/v1/renew",				TIER1 | TIER2,	h_renew },
	{ CENTER_GET,	 "/v1/config",				TIER2,		h_config },
	{ CENTER_POST,	 "/v1/connections",			TIER2,		h_device_apply },
	{ CENTER_POST,	 "/v1/events",				TIER2,		h_events },
	{ CENTER_GET,	 "/v1/crl",				TIER1 | TIER2 | ADMIN, h_crl },
	{ CENTER_GET,	 "/v1/time",				TIER1 | TIER2 | ADMIN, h_time },
	/* administrators */
	{ CENTER_GET,	 "/v1/admin/status",			ADMIN,	h_status },
	{ CENTER_GET,	 "/v1/admin/export",			ADMIN,	h_export },
	{ CENTER_GET,	 "/v1/admin/orgs",			ADMIN,	h_org_list },
	{ CENTER_POST,	 "/v1/admin/orgs",			ADMIN,	h_org_create },
	{ CENTER_GET,	 "/v1/admin/orgs/:",			ADMIN,	h_org_get },
	{ CENTER_PATCH,	 "/v1/admin/orgs/:",			ADMIN,	h_org_update },
	{ CENTER_DELETE, "/v1/admin/orgs/:",			ADMIN,	h_org_delete },
	{ CENTER_GET,	 "/v1/admin/sites",			ADMIN,	h_site_list },
	{ CENTER_POST,	 "/v1/admin/sites",			ADMIN,	h_site_create },
	{ CENTER_GET,	 "/v1/admin/sites/:",			ADMIN,	h_site_get },
	{ CENTER_PATCH,	 "/v1/admin/sites/:",			ADMIN,	h_site_update },
	{ CENTER_DELETE, "/v1/admin/sites/:",			ADMIN,	h_site_delete },
	{ CENTER_GET,	 "/v1/admin/devices",			ADMIN,	h_device_list },
	{ CENTER_POST,	 "/v1/admin/devices",			ADMIN,	h_device_create },
	{ CENTER_GET,	 "/v1/admin/devices/:",			ADMIN,	h_device_get },
	{ CENTER_PATCH,	 "/v1/admin/devices/:",			ADMIN,	h_device_update },
	{ CENTER_DELETE, "/v1/admin/devices/:",			ADMIN,	h_device_delete },
	{ CENTER_GET,	 "/v1/admin/groups",			ADMIN,	h_group_list },
	{ CENTER_POST,	 "/v1/admin/groups",			ADMIN,	h_group_create },
	{ CENTER_GET,	 "/v1/admin/groups/:",			ADMIN,	h_group_get },
	{ CENTER_PATCH,	 "/v1/admin/groups/:",			ADMIN,	h_group_update },
	{ CENTER_DELETE, "/v1/admin/groups/:",			ADMIN,	h_group_delete },
	{ CENTER_POST,	 "/v1/admin/groups/:/members",		ADMIN,	h_member_add },
	{ CENTER_DELETE, "/v1/admin/groups/:/members/:",	ADMIN,	h_member_remove },
	{ CENTER_GET,	 "/v1/admin/rules",			ADMIN,	h_rule_list },
	{ CENTER_POST,	 "/v1/admin/rules",			ADMIN,	h_rule_create },
	{ CENTER_GET,	 "/v1/admin/rules/:",			ADMIN,	h_rule_get },
	{ CENTER_DELETE, "/v1/admin/rules/:",			ADMIN,	h_rule_delete },
	{ CENTER_POST,	 "/v1/admin/connections",		ADMIN,	h_admin_apply },
	{ CENTER_GET,	 "/v1/admin/grants",			ADMIN,	h_grant_list },
	{ CENTER_GET,	 "/v1/admin/grants/:",			ADMIN,	h_grant_get },
	{ CENTER_POST,	 "/v1/admin/grants/:/approve",		ADMIN,	h_grant_approve },
	{ CENTER_POST,	 "/v1/admin/grants/:/deny",		ADMIN,	h_grant_deny },
	{ CENTER_POST,	 "/v1/admin/grants/:/withdraw",		ADMIN,	h_grant_withdraw },
	{ CENTER_GET,	 "/v1/admin/revocations",		ADMIN,	h_revocation_list },
	{ CENTER_POST,	 "/v1/admin/revocations",		ADMIN,	h_revoke },
	{ CENTER_GET,	 "/v1/admin/audit",			ADMIN,	h_audit_list },
	{ CENTER_GET,	 "/v1/admin/audit/verify",		ADMIN,	h_audit_verify },
};

/* ---- responses --------------------------------------------------------- */

void
resp_json(struct center_resp *resp, int status, json_t *body)
{
	json_decref(resp->body);
	resp->status = status;
	resp->body = body != NULL ? body : json_object();
}

void
resp_error(struct center_resp *resp, int status, const char *fmt, ...)
{
	char msg[ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* json_string refuses invalid UTF-8 (which could come from the client's
	 * own bytes echoed in a message): fall back to a plain message */
	resp_json(resp, status, json_pack("{s:s}", "error", msg));
	if (json_object_get(resp->body, "error") == NULL)
		resp_json(resp, status, json_pack("{s:s}", "error", "bad request"));
}

void
resp_store(struct center *c, struct center_resp *resp)
{
	const char *e = store_error(c->st);

	if (store_conflict(c->st)) {
		resp_error(resp, 409, "conflicts with stored data: %s", e);
		return;
	}
	log_error("store: %s", e);
	resp_error(resp, 500, "store error");
}

void
center_resp_clear(struct center_resp *resp)
{
	json_decref(resp->body);
	memset(resp, 0, sizeof(*resp));
}

json_t *
req_body(const struct center_req *req, struct center_resp *resp,
    const struct jsonx_field *fields, size_t n)
{
	char err[ERRMSG_MAX];
	json_error_t je;
	json_t *o;

	if (req->bodylen == 0) {
		resp_error(resp, 400, "request body must be a JSON object");
		return NULL;
	}
	o = json_loadb(req->body, req->bodylen, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL) {
		resp_error(resp, 400, "malformed JSON at line %d column %d: %s",
		    je.line, je.column, je.text);
		return NULL;
	}
	if (jsonx_validate(o, fields, n, err, sizeof(err)) == -1) {
		json_decref(o);
		resp_error(resp, 400, "%s", err);
		return NULL;
	}
	return o;
}

const char *
req_query(const struct center_req *req, const char *key)
{
	return req->query != NULL ? json_string_value(json_object_get(req->query, key)) :
	    NULL;
}

int
req_query_int(const struct center_req *req, struct center_resp *resp, const char *key,
    long long min, long long max, long long dflt, long long *out)
{
	const char *s = req_query(req, key);
	char *end;
	long long v;

	if (s == NULL) {
		*out = dflt;
		return 0;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || isspace((unsigned char)*s) ||
	    v < min || v > max) {
		resp_error(resp, 400, "query parameter \"%s\" must be an integer from %lld "
		    "to %lld", key, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* ---- common ------------------------------------------------------------ */

int64_t
center_now(const struct center *c)
{
	return c->clock != NULL ? c->clock() : now_wall_s();
}

const char *
center_actor(const struct center_peer *p, char *buf, size_t cap)
{
	if (p == NULL)
		xsnprintf(buf, cap, "center");
	else if (p->role == CENTER_ROLE_ADMIN)
		xsnprintf(buf, cap, "admin:%s", p->name);
	else
		xsnprintf(buf, cap, "device:%s", p->name);
	return buf;
}

int64_t
path_id(const char *s)
{
	int64_t v = 0;

	if (*s == '\0' || strlen(s) > 18)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v > 0 ? v : -1;
}

bool
name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= CENTER_NAME_MAX || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' &&
		    s[i] != '-')
			return false;
	return true;
}

bool
device_id_valid(const char *s)
{
	/* the PKI's rule (lower-case LDH host name), within our name limit */
	return strlen(s) < CENTER_NAME_MAX && pki_device_id_valid(s);
}

int
tx_commit(struct center *c, struct center_resp *resp)
{
	if (store_commit(c->st) != STORE_OK) {
		resp_store(c, resp);
		return -1;
	}
	if (c->changed != NULL)
		c->changed(c->changed_arg);
	return 0;
}

json_t *
row_get(struct center *c, const char *table, const char *key, const char *val)
{
	char sql[128];
	json_t *row;

	xsnprintf(sql, sizeof(sql), "SELECT * FROM %s WHERE %s = ?", table, key);
	if (store_q1(c->st, &row, sql, "s", val) != STORE_OK) {
		log_error("store: %s", store_error(c->st));
		return NULL;
	}
	return row;
}

char *
meta_get(struct center *c, const char *key)
{
	json_t *row;
	char *v = NULL;

	if (store_q1(c->st, &row, "SELECT value FROM meta WHERE key = ?", "s", key) ==
	    STORE_OK && row != NULL)
		v = xstrdup(json_string_value(json_object_get(row, "value")));
	json_decref(row);
	return v;
}

int
meta_set(struct center *c, const char *key, const char *value)
{
	return store_q(c->st, NULL, NULL, "INSERT INTO meta (key, value) VALUES (?, ?) "
	    "ON CONFLICT (key) DO UPDATE SET value = excluded.value", "ss", key, value);
}

json_t *
center_crypto_json(const struct center_crypto *cr)
{
	json_t *dh = json_array();

	for (size_t i = 0; i < nitems(cr->dh_groups) && cr->dh_groups[i] != 0; i++)
		json_array_append_new(dh, json_integer(cr->dh_groups[i]));
	return json_pack("{s:{s:s,s:s,s:o,s:s},s:{s:s,s:b,s:b},s:I,s:I,s:I}",
	    "ike", "encr", "AES_GCM_16_256", "prf", "PRF_HMAC_SHA2_256", "dh_groups", dh,
	    "auth", "RFC7427",
	    "esp", "encr", "AES_GCM_16_256", "esn", cr->esn, "pfs", cr->pfs,
	    "ike_rekey_s", (json_int_t)cr->ike_rekey_s,
	    "child_rekey_s", (json_int_t)cr->child_rekey_s,
	    "idle_timeout_s", (json_int_t)cr->idle_timeout_s);
}

/* ---- router ------------------------------------------------------------ */

/* split path into at most max segments; -1 when malformed */
static int
path_split(const char *path, char *buf, size_t cap, char **seg, size_t max, size_t *nseg)
{
	size_t n = 0;
	char *p, *save = NULL;

	if (strlen(path) >= cap || path[0] != '/')
		return -1;
	strcpy(buf, path);
	for (p = strtok_r(buf, "/", &save); p != NULL; p = strtok_r(NULL, "/", &save)) {
		if (n == max)
			return -1;
		seg[n++] = p;
	}
	*nseg = n;
	return 0;
}

static bool
route_match(const struct route *r, char **seg, size_t nseg, const char **args)
{
	char pat[128], *pseg[8];
	size_t npat, nargs = 0;

	if (path_split(r->pattern, pat, sizeof(pat), pseg, nitems(pseg), &npat) == -1 ||
	    npat != nseg)
		return false;
	for (size_t i = 0; i < nseg; i++) {
		if (strcmp(pseg[i], ":") == 0) {
			if (nargs == ROUTE_ARGS_MAX)
				return false;
			args[nargs++] = seg[i];
		} else if (strcmp(pseg[i], seg[i]) != 0)
			return false;
	}
	return true;
}

static const char *
role_need(unsigned roles)
{
	if (roles == ADMIN)
		return "an administrator certificate";
	if (roles == TIER1)
		return "a device (tier-1) certificate: enrolment takes the certificate "
		    "issued at manufacture";
	if (roles == TIER2)
		return "a service (tier-2) certificate: device (tier-1) certificates are "
		    "only for enrolment and renewal";
	if (roles == (TIER1 | TIER2))
		return "a device (tier-1) or service (tier-2) certificate";
	return "a device or administrator certificate";
}

void
center_handle(struct center *c, const struct center_req *req, struct center_resp *resp)
{
	char buf[512], *seg[8];
	const char *args[ROUTE_ARGS_MAX] = { NULL };
	const struct route *hit = NULL;
	bool path_known = false;
	size_t nseg;

	memset(resp, 0, sizeof(*resp));
	if (req->peer == NULL || req->peer->role == CENTER_ROLE_NONE) {
		resp_error(resp, 403, "a client certificate of the odvpn PKI is required");
		return;
	}
	if (path_split(req->path, buf, sizeof(buf), seg, nitems(seg), &nseg) == -1) {
		resp_error(resp, 404, "no such endpoint");
		return;
	}
	for (size_t i = 0; i < nitems(routes); i++) {
		if (!route_match(&routes[i], seg, nseg, args))
			continue;
		path_known = true;
		if (routes[i].method == req->method) {
			hit = &routes[i];
			break;
		}
	}
	if (hit == NULL) {
		if (path_known)
			resp_error(resp, 405, "method not allowed on %s", req->path);
		else
			resp_error(resp, 404, "no such endpoint: %s", req->path);
		return;
	}
	if ((hit->roles & ROLE(req->peer->role)) == 0) {
		resp_error(resp, 403, "%s needs %s", req->path, role_need(hit->roles));
		return;
	}
	if (req->peer->role == CENTER_ROLE_SERVICE) {
		char err[ERRMSG_MAX];

		if (service_cert_check(c, req->peer, err, sizeof(err)) == -1) {
			resp_error(resp, 403, "%s", err);
			return;
		}
	}
	hit->fn(c, req, args, resp);
	/* a handler that failed must not leave its transaction open */
	store_rollback(c->st);
	if (resp->body == NULL && !resp->park)
		resp_json(resp, resp->status != 0 ? resp->status : 200, NULL);
}

int
center_peer_still_valid(struct center *c, const struct center_peer *p, char *err,
    size_t errlen)
{
	return service_cert_check(c, p, err, errlen);
}

void
center_tick(struct center *c)
{
	char *next;
	int64_t now = center_now(c);

	if (grants_expire(c) == -1)
		log_error("grants: expiry failed: %s", store_error(c->st));
	if (c->ca == NULL)
		return;
	/* re-sign the CRL when half its life is gone, so devices never hold a
	 * stale one (REQ-PKI-5) */
	next = meta_get(c, "crl_next_update");
	if (next == NULL || strtoll(next, NULL, 10) - now < c->cfg.crl_lifetime_s / 2) {
		if (store_begin(c->st) != STORE_OK || crl_rebuild(c) == -1 ||
		    store_commit(c->st) != STORE_OK) {
			log_error("crl: refresh failed: %s", store_error(c->st));
			store_rollback(c->st);
		} else if (c->changed != NULL)
			c->changed(c->changed_arg);
	}
	free(next);
}

/* ---- life cycle -------------------------------------------------------- */

struct center *
center_new(const struct center_cfg *cfg, struct center_ca *ca, char *err, size_t errlen)
{
	struct center *c = xcalloc(1, sizeof(*c));

	c->cfg = *cfg;
	c->st = store_open(cfg->database, err, errlen);
	if (c->st == NULL) {
		free(c);
		return NULL;
	}
	c->ca = ca;
	c->started = now_wall_s();
	if (ca != NULL) {
		/* the devices need a CRL from the first enrolment on */
		char *crl, why[ERRMSG_MAX];

		int imported = crl_import_dir(c);

		if (imported == -1)
			log_warn("crl: cannot take over the PKI directory's service CRL: %s",
			    store_error(c->st));
		crl = crl_current(c, NULL);
		/* a take-over re-signed the CRL and put it in the trust set already */
		if (imported <= 0 && (crl == NULL ||
		    center_ca_crl_install(ca, crl, why, sizeof(why)) == -1)) {
			if (crl != NULL)
				log_warn("crl: stored CRL not taken (%s): signing a new one",
				    why);
			if (store_begin(c->st) != STORE_OK || crl_rebuild(c) == -1 ||
			    store_commit(c->st) != STORE_OK) {
				xsnprintf(err, errlen, "cannot build the first CRL: %s",
				    store_error(c->st));
				store_rollback(c->st);
				store_close(c->st);
				free(c);
				return NULL;
			}
		}
		free(crl);
	}
	return c;
}

void
center_free(struct center *c)
{
	if (c == NULL)
		return;
	store_close(c->st);
	center_ca_free(c->ca);
	free(c);
}

/* ---- status and export ------------------------------------------------- */

static json_int_t
count_rows(struct center *c, const char *sql)
{
	json_t *row;
	json_int_t n = -1;

	if (store_q1(c->st, &row, sql, "") == STORE_OK && row != NULL)
		n = json_integer_value(json_object_get(row, "n"));
	json_decref(row);
	return n;
}

void
h_status(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	int64_t crlno = 0;
	char *crl = crl_current(c, &crlno);
	json_t *o;

	free(crl);
	o = json_pack("{s:s,s:i,s:I,s:I,s:i,s:I,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}}",
	    "store", store_backend(c->st), "schema", store_schema_version(c->st),
	    "time", (json_int_t)center_now(c),
	    "uptime_s", (json_int_t)(now_wall_s() - c->started),
	    "waiters", (int)c->nwaiters, "crl_number", (json_int_t)crlno,
	    "counts",
	    "orgs", count_rows(c, "SELECT COUNT(*) AS n FROM orgs"),
	    "sites", count_rows(c, "SELECT COUNT(*) AS n FROM sites"),
	    "devices", count_rows(c, "SELECT COUNT(*) AS n FROM devices"),
	    "groups", count_rows(c, "SELECT COUNT(*) AS n FROM groups"),
	    "rules", count_rows(c, "SELECT COUNT(*) AS n FROM rules"),
	    "grants_active", count_rows(c, "SELECT COUNT(*) AS n FROM grants WHERE "
	    "status = 'active'"),
	    "revocations", count_rows(c, "SELECT COUNT(*) AS n FROM revocations"),
	    "audit", count_rows(c, "SELECT COUNT(*) AS n FROM audit"));
	if (c->ca != NULL)
		json_object_set_new(o, "root_fingerprint",
		    json_string(center_ca_root_fingerprint(c->ca)));
	resp_json(resp, 200, o);
}

static json_t *
table_dump(struct center *c, const char *sql, json_t *(*conv)(const json_t *))
{
	json_t *rows, *out;
	size_t i;
	json_t *r;

	if (store_q(c->st, &rows, NULL, sql, "") != STORE_OK)
		return NULL;
	if (conv == NULL)
		return rows;
	out = json_array();
	json_array_foreach(rows, i, r)
		json_array_append_new(out, conv(r));
	json_decref(rows);
	return out;
}

/*
 * The whole stored state in one document: for backups and for comparing the
 * state before and after a request. The audit trail is summarised by its head.
 */
void
h_export(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const struct {
		const char	*key;
		const char	*sql;
		json_t		*(*conv)(const json_t *);
	} tables[] = {
		{ "orgs", "SELECT * FROM orgs ORDER BY name", org_out },
		{ "sites", "SELECT * FROM sites ORDER BY name", site_out },
		{ "devices", "SELECT * FROM devices ORDER BY id", device_out },
		{ "groups", "SELECT * FROM groups ORDER BY name", NULL },
		{ "members", "SELECT grp AS \"group\", site, added FROM group_members "
		    "ORDER BY grp, site", NULL },
		{ "rules", "SELECT * FROM rules ORDER BY id", rule_out },
		{ "grants", "SELECT * FROM grants ORDER BY id", grant_out },
		{ "certificates", "SELECT * FROM certs ORDER BY serial", NULL },
		{ "revocations", "SELECT * FROM revocations ORDER BY serial", NULL },
		{ "config_versions", "SELECT * FROM device_config ORDER BY device", NULL },
		{ "audit_head", "SELECT COUNT(*) AS count, COALESCE(MAX(seq), 0) AS "
		    "last_seq, (SELECT hash FROM audit ORDER BY seq DESC LIMIT 1) AS "
		    "last_hash FROM audit", NULL },
	};
	json_t *o = json_object();
	int64_t crlno = 0;
	char *crl;

	for (size_t i = 0; i < nitems(tables); i++) {
		json_t *v = table_dump(c, tables[i].sql, tables[i].conv);

		if (v == NULL) {
			json_decref(o);
			resp_store(c, resp);
			return;
		}
		json_object_set_new(o, tables[i].key, v);
	}
	crl = crl_current(c, &crlno);
	json_object_set_new(o, "crl_number", json_integer(crlno));
	free(crl);
	json_object_set_new(o, "schema", json_integer(store_schema_version(c->st)));
	resp_json(resp, 200, o);
}

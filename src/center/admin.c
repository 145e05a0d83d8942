/*
 * Administrator endpoints for organisations, sites, devices and groups
 * (docs/API.md). Each mutation: validate everything first, then one
 * transaction with its audit record, then the push hook.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "center/ca.h"
#include "center/center_int.h"
#include "lib/util.h"

static const char *const org_kinds[] = { "large_institution", "small_institution",
    "service_provider", "vendor" };
static const char *const statuses[] = { "active", "suspended" };

static bool
in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

static json_t *
json_bool_of(const json_t *v)
{
	return json_is_integer(v) ? json_boolean(json_integer_value(v) != 0) : json_null();
}

/* text column holding JSON → value (a broken column shows as null) */
static json_t *
json_col(const json_t *row, const char *key)
{
	const char *s = json_string_value(json_object_get(row, key));
	json_t *v = s != NULL ? json_loads(s, 0, NULL) : NULL;

	return v != NULL ? v : json_null();
}

/* the row, or NULL after a 404 naming what was looked for */
static json_t *
must_get(struct center *c, struct center_resp *resp, const char *table,
    const char *key, const char *val, const char *what)
{
	json_t *row = NULL;

	if (name_valid(val))
		row = row_get(c, table, key, val);
	if (row == NULL)
		resp_error(resp, 404, "%s \"%.63s\" not found", what, val);
	return row;
}

static json_int_t
count_of(struct center *c, const char *sql, const char *fmt, ...)
{
	json_t *rows;
	json_int_t n = -1;
	va_list ap;

	va_start(ap, fmt);
	if (store_qv(c->st, &rows, NULL, sql, fmt, ap) == STORE_OK &&
	    json_array_size(rows) == 1)
		n = json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
	va_end(ap);
	json_decref(rows);
	return n;
}

/* ---- organisations ----------------------------------------------------- */

json_t *
org_out(const json_t *r)
{
	return json_pack("{s:O,s:O,s:O,s:o,s:O,s:O,s:O}",
	    "name", json_object_get(r, "name"), "kind", json_object_get(r, "kind"),
	    "status", json_object_get(r, "status"),
	    "auto_approve", json_bool_of(json_object_get(r, "auto_approve")),
	    "description", json_object_get(r, "description"),
	    "created", json_object_get(r, "created"),
	    "updated", json_object_get(r, "updated"));
}

void
h_org_list(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	json_t *rows, *out = json_array(), *r;
	size_t i;

	if (store_q(c->st, &rows, NULL, "SELECT * FROM orgs ORDER BY name", "") != STORE_OK) {
		json_decref(out);
		resp_store(c, resp);
		return;
	}
	json_array_foreach(rows, i, r)
		json_array_append_new(out, org_out(r));
	json_decref(rows);
	resp_json(resp, 200, json_pack("{s:o}", "orgs", out));
}

void
h_org_get(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	json_t *row = must_get(c, resp, "orgs", "name", args[0], "organisation");

	if (row == NULL)
		return;
	resp_json(resp, 200, org_out(row));
	json_decref(row);
}

void
h_org_create(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const struct jsonx_field f[] = {
		{ "name", JX_STRING, true, 1, CENTER_NAME_MAX - 1 },
		{ "kind", JX_STRING, true, 1, 32 },
		{ "status", JX_STRING, false, 1, 16 },
		{ "auto_approve", JX_BOOL, false, 0, 0 },
		{ "description", JX_STRING, false, 0, 256 },
	};
	json_t *b = req_body(req, resp, f, nitems(f)), *row;
	const char *name, *kind, *status, *desc;
	char actor[300];
	int64_t now = center_now(c);

	if (b == NULL)
		return;
	name = jsonx_str(b, "name");
	kind = jsonx_str(b, "kind");
	status = jsonx_str(b, "status") != NULL ? jsonx_str(b, "status") : "active";
	desc = jsonx_str(b, "description") != NULL ? jsonx_str(b, "description") : "";
	if (!name_valid(name))
		resp_error(resp, 400, "organisation name must be 1-63 of A-Z a-z 0-9 . _ - "
		    "starting with a letter or digit");
	else if (!in_list(kind, org_kinds, nitems(org_kinds)))
		resp_error(resp, 400, "kind must be large_institution, small_institution, "
		    "service_provider or vendor");
	else if (!in_list(status, statuses, nitems(statuses)))
		resp_error(resp, 400, "status must be active or suspended");
	if (resp->status != 0)
		goto out;
	if (store_begin(c->st) != STORE_OK) {
		resp_store(c, resp);
		goto out;
	}
	if ((row = row_get(c, "orgs", "name", name)) != NULL) {
		json_decref(row);
		resp_error(resp, 409, "organisation \"%s\" already exists", name);
		goto out;
	}
	if (store_q(c->st, NULL, NULL, "INSERT INTO orgs (name, kind, status, auto_approve, "
	    "description, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?)", "sssbsii",
	    name, kind, status, jsonx_bool(b, "auto_approve", true), desc, now, now) !=
	    STORE_OK || caudit_pack(c, "org.created", center_actor(req->peer, actor,
	    sizeof(actor)), name, NULL, NULL, 0, "{s:s,s:s}", "kind", kind, "status",
	    status) == -1) {
		resp_store(c, resp);
		goto out;
	}
	if (tx_commit(c, resp) == -1)
		goto out;
	row = row_get(c, "orgs", "name", name);
	resp_json(resp, 201, org_out(row));
	json_decref(row);
out:
	json_decref(b);
}

void
h_org_update(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const struct jsonx_field f[] = {
		{ "kind", JX_STRING, false, 1, 32 },
		{ "status", JX_STRING, false, 1, 16 },
		{ "auto_approve", JX_BOOL, false, 0, 0 },
		{ "description", JX_STRING, false, 0, 256 },
	};
	json_t *b = NULL, *row;
	const char *kind, *status;
	char actor[300], why[128];
	bool suspend;

	if ((row = must_get(c, resp, "orgs", "name", args[0], "organisation")) == NULL)
		return;
	if ((b = req_body(req, resp, f, nitems(f))) == NULL)
		goto out;
	kind = jsonx_str(b, "kind");
	status = jsonx_str(b, "status");
	if (json_object_size(b) == 0)
		resp_error(resp, 400, "nothing to change");
	else if (kind != NULL && !in_list(kind, org_kinds, nitems(org_kinds)))
		resp_error(resp, 400, "kind must be large_institution, small_institution, "
		    "service_provider or vendor");
	else if (status != NULL && !in_list(status, statuses, nitems(statuses)))
		resp_error(resp, 400, "status must be active or suspended");
	if (resp->status != 0)
		goto out;
	suspend = status != NULL && strcmp(status, "suspended") == 0 &&
	    strcmp(json_string_value(json_object_get(row, "status")), "active") == 0;
	center_actor(req->peer, actor, sizeof(actor));
	xsnprintf(why, sizeof(why), "organisation %s suspended", args[0]);
	if (store_begin(c->st) != STORE_OK ||
	    store_q(c->st, NULL, NULL, "UPDATE orgs SET kind = COALESCE(?, kind), status = "
	    "COALESCE(?, status), auto_approve = COALESCE(?, auto_approve), description = "
	    "COALESCE(?, description), updated = ? WHERE name = ?", "ssjsis", kind, status,
	    json_object_get(b, "auto_approve"), jsonx_str(b, "description"), center_now(c),
	    args[0]) != STORE_OK ||
	    caudit_pack(c, "org.updated", actor, args[0], NULL, NULL, 0, "{s:O}",
	    "changes", b) == -1 ||
	    (suspend && grants_withdraw_where(c, actor, why, "g.initiator IN (SELECT name "
	    "FROM sites WHERE org = ?) OR g.responder IN (SELECT name FROM sites WHERE "
	    "org = ?)", "ss", args[0], args[0]) == -1)) {
		resp_store(c, resp);
		goto out;
	}
	if (tx_commit(c, resp) == -1)
		goto out;
	json_decref(row);
	row = row_get(c, "orgs", "name", args[0]);
	resp_json(resp, 200, org_out(row));
out:
	json_decref(row);
	json_decref(b);
}

void
h_org_delete(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	json_t *row = must_get(c, resp, "orgs", "name", args[0], "organisation");
	json_int_t nsites, nrules;
	char actor[300];

	if (row == NULL)
		return;
	json_decref(row);
	nsites = count_of(c, "SELECT COUNT(*) AS n FROM sites WHERE org = ?", "s", args[0]);
	nrules = count_of(c, "SELECT COUNT(*) AS n FROM rules WHERE owner = ? OR "
	    "src_org = ? OR dst_org = ?", "sss", args[0], args[0], args[0]);
	if (nsites != 0 || nrules != 0) {
		resp_error(resp, 409, "organisation \"%s\" still has %lld site(s) and "
		    "%lld rule(s) referring to it", args[0], (long long)nsites,
		    (long long)nrules);
		return;
	}
	if (store_begin(c->st) != STORE_OK ||
	    store_q(c->st, NULL, NULL, "DELETE FROM orgs WHERE name = ?", "s", args[0]) !=
	    STORE_OK || caudit_pack(c, "org.deleted", center_actor(req->peer, actor,
	    sizeof(actor)), args[0], NULL, NULL, 0, "{}") == -1) {
		resp_store(c, resp);
		return;
	}
	if (tx_commit(c, resp) == 0)
		resp_json(resp, 200, json_pack("{s:s}", "deleted", args[0]));
}

/* ---- sites ------------------------------------------------------------- */

json_t *
site_out(const json_t *r)
{
	return json_pack("{s:O,s:O,s:o,s:o,s:O,s:O,s:O,s:O,s:O,s:O}",
	    "name", json_object_get(r, "name"), "org", json_object_get(r, "org"),
	    "prefixes", json_col(r, "prefixes"), "zones", json_col(r, "zones"),
	    "wan", json_object_get(r, "wan"), "wan_port", json_object_get(r, "wan_port"),
	    "status", json_object_get(r, "status"),
	    "description", json_object_get(r, "description"),
	    "created", json_object_get(r, "created"),
	    "updated", json_object_get(r, "updated"));
}

/* parse an array of prefix strings into set (canonical text into *canon) */
static int
prefixes_parse(const json_t *arr, const char *what, struct pol_pfxset *set,
    json_t **canon, char *err, size_t errlen)
{
	size_t i;
	json_t *v;

	memset(set, 0, sizeof(*set));
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > POL_MAX_PREFIXES) {
		xsnprintf(err, errlen, "%s must be an array of 1 to %d prefixes", what,
		    POL_MAX_PREFIXES);
		return -1;
	}
	*canon = json_array();
	json_array_foreach(arr, i, v) {
		char why[128], txt[ADDR_STRLEN];

		if (!json_is_string(v) || prefix_parse(json_string_value(v), &set->p[i],
		    why, sizeof(why)) == -1) {
			xsnprintf(err, errlen, "%s[%zu]: %s", what, i, json_is_string(v) ?
			    why : "must be a string");
			goto fail;
		}
		for (size_t j = 0; j < i; j++) {
			if (prefix_overlaps(&set->p[j], &set->p[i])) {
				xsnprintf(err, errlen, "%s[%zu] overlaps %s[%zu]", what, i,
				    what, j);
				goto fail;
			}
		}
		set->n++;
		prefix_format(&set->p[i], txt, sizeof(txt));
		json_array_append_new(*canon, json_string(txt));
	}
	return 0;
fail:
	json_decref(*canon);
	*canon = NULL;
	return -1;
}

static bool
pfx_inside(const struct prefix *p, const struct pol_pfxset *lan)
{
	for (size_t i = 0; i < lan->n; i++)
		if (lan->p[i].addr.af == p->addr.af && lan->p[i].len <= p->len &&
		    prefix_overlaps(&lan->p[i], p))
			return true;
	return false;
}

/* zones: [{"name": …, "prefixes": […]}], each inside the LAN */
static int
zones_parse(const json_t *arr, const struct pol_pfxset *lan, json_t **canon,
    char *err, size_t errlen)
{
	static const struct jsonx_field zf[] = {
		{ "name", JX_STRING, true, 1, CENTER_NAME_MAX - 1 },
		{ "prefixes", JX_ARRAY, true, 1, POL_MAX_PREFIXES },
	};
	size_t i;
	json_t *z;

	if (!json_is_array(arr) || json_array_size(arr) > POL_MAX_ZONES) {
		xsnprintf(err, errlen, "zones must be an array of at most %d zones",
		    POL_MAX_ZONES);
		return -1;
	}
	*canon = json_array();
	json_array_foreach(arr, i, z) {
		struct pol_pfxset set;
		char why[ERRMSG_MAX], what[32];
		const char *name;
		json_t *pc;

		if (jsonx_validate(z, zf, nitems(zf), why, sizeof(why)) == -1) {
			xsnprintf(err, errlen, "zones[%zu]: %s", i, why);
			goto fail;
		}
		name = jsonx_str(z, "name");
		if (!name_valid(name)) {
			xsnprintf(err, errlen, "zones[%zu]: bad zone name", i);
			goto fail;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(jsonx_str(json_array_get(arr, j), "name"), name) == 0) {
				xsnprintf(err, errlen, "zone \"%s\" given twice", name);
				goto fail;
			}
		}
		xsnprintf(what, sizeof(what), "zones[%zu].prefixes", i);
		if (prefixes_parse(json_object_get(z, "prefixes"), what, &set, &pc, err,
		    errlen) == -1)
			goto fail;
		for (size_t j = 0; j < set.n; j++) {
			if (!pfx_inside(&set.p[j], lan)) {
				xsnprintf(err, errlen, "zone \"%s\": %s is not inside the site's "
				    "prefixes", name, json_string_value(json_array_get(pc, j)));
				json_decref(pc);
				goto fail;
			}
		}
		json_array_append_new(*canon, json_pack("{s:s,s:o}", "name", name,
		    "prefixes", pc));
	}
	return 0;
fail:
	json_decref(*canon);
	*canon = NULL;
	return -1;
}

static int
set_from_array(const json_t *arr, struct pol_pfxset *set)
{
	json_t *canon = NULL;
	char err[128];
	int rc = prefixes_parse(arr, "prefixes", set, &canon, err, sizeof(err));

	json_decref(canon);
	return rc;
}

int
site_load(struct center *c, const char *name, struct pol_site *s)
{
	json_t *row, *org, *zones, *z, *lan;
	json_int_t ndev;
	size_t i;
	int rc;

	memset(s, 0, sizeof(*s));
	if (!name_valid(name) || (row = row_get(c, "sites", "name", name)) == NULL)
		return -1;
	xsnprintf(s->name, sizeof(s->name), "%s", name);
	xsnprintf(s->org, sizeof(s->org), "%s", json_string_value(json_object_get(row,
	    "org")));
	lan = json_col(row, "prefixes");
	rc = set_from_array(lan, &s->lan);
	json_decref(lan);
	if (rc == -1) {
		json_decref(row);
		return -1;
	}
	zones = json_col(row, "zones");
	json_array_foreach(zones, i, z) {
		if (i == POL_MAX_ZONES || !json_is_string(json_object_get(z, "name")))
			break;
		xsnprintf(s->zones[i].name, sizeof(s->zones[i].name), "%s",
		    jsonx_str(z, "name"));
		if (set_from_array(json_object_get(z, "prefixes"), &s->zones[i].pfx) == -1)
			break;
		s->nzones++;
	}
	json_decref(zones);
	org = row_get(c, "orgs", "name", s->org);
	s->active = org != NULL &&
	    strcmp(json_string_value(json_object_get(row, "status")), "active") == 0 &&
	    strcmp(json_string_value(json_object_get(org, "status")), "active") == 0;
	json_decref(org);
	json_decref(row);
	ndev = count_of(c, "SELECT COUNT(*) AS n FROM devices WHERE site = ? AND status "
	    "!= 'revoked'", "s", name);
	s->has_device = ndev > 0;
	return 0;
}

/*
 * Sites that may talk to each other must not claim the same addresses: a
 * device routes a peer by its prefixes. 0 when lan overlaps no prefix of the
 * sites named in rows (self skipped); -1 with the clash in err.
 */
static int
overlap_check(struct center *c, const char *self, const struct pol_pfxset *lan,
    const json_t *rows, char *err, size_t errlen)
{
	size_t i;
	json_t *r;

	json_array_foreach(rows, i, r) {
		const char *other = jsonx_str(r, "site");
		struct pol_site s;

		if (other == NULL || strcmp(other, self) == 0 || site_load(c, other, &s) == -1)
			continue;
		for (size_t a = 0; a < lan->n; a++) {
			for (size_t b = 0; b < s.lan.n; b++) {
				char pa[ADDR_STRLEN], pb[ADDR_STRLEN];

				if (!prefix_overlaps(&lan->p[a], &s.lan.p[b]))
					continue;
				prefix_format(&lan->p[a], pa, sizeof(pa));
				prefix_format(&s.lan.p[b], pb, sizeof(pb));
				xsnprintf(err, errlen, "prefix %s of site %s overlaps %s of "
				    "site %s, which shares a group with it", pa, self, pb,
				    other);
				return -1;
			}
		}
	}
	return 0;
}

/* the sites that share a group with site (rows with "site") */
static json_t *
group_peers(struct center *c, const char *site)
{
	json_t *rows = NULL;

	store_q(c->st, &rows, NULL, "SELECT DISTINCT b.site AS site FROM group_members a "
	    "JOIN group_members b ON a.grp = b.grp WHERE a.site = ? AND b.site != ? "
	    "ORDER BY b.site", "ss", site, site);
	return rows != NULL ? rows : json_array();
}

void
h_site_list(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	const char *org = req_query(req, "org");
	json_t *rows, *out = json_array(), *r;
	size_t i;

	if (store_q(c->st, &rows, NULL, "SELECT * FROM sites WHERE (? IS NULL OR org = ?) "
	    "ORDER BY name", "ss", org, org) != STORE_OK) {
		json_decref(out);
		resp_store(c, resp);
		return;
	}
	json_array_foreach(rows, i, r)
		json_array_append_new(out, site_out(r));
	json_decref(rows);
	resp_json(resp, 200, json_pack("{s:o}", "sites", out));
}

void
h_site_get(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	json_t *row = must_get(c, resp, "sites", "name", args[0], "site"), *o, *g, *d;

	if (row == NULL)
		return;
	o = site_out(row);
	json_decref(row);
	g = NULL;
	d = NULL;
	store_q(c->st, &g, NULL, "SELECT grp AS \"group\" FROM group_members WHERE site = ? "
	    "ORDER BY grp", "s", args[0]);
	store_q(c->st, &d, NULL, "SELECT id, status FROM devices WHERE site = ? ORDER BY id",
	    "s", args[0]);
	{
		json_t *names = json_array(), *x;
		size_t i;

		json_array_foreach(g, i, x)
			json_array_append(names, json_object_get(x, "group"));
		json_decref(g);
		json_object_set_new(o, "groups", names);
	}
	json_object_set_new(o, "devices", d != NULL ? d : json_array());
	resp_json(resp, 200, o);
}

static int
wan_parse(const char *s, char *out, size_t cap)
{
	struct ipaddr a;

	if (ipaddr_parse(s, &a) == -1)
		return -1;
	ipaddr_format(&a, out, cap);
	return 0;
}

void
h_site_create(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const struct jsonx_field f[] = {
		{ "name", JX_STRING, true, 1, CENTER_NAME_MAX - 1 },
		{ "org", JX_STRING, true, 1, CENTER_NAME_MAX - 1 },
		{ "prefixes", JX_ARRAY, true, 1, POL_MAX_PREFIXES },
		{ "zones", JX_ARRAY, false, 0, POL_MAX_ZONES },
		{ "wan", JX_STRING, false, 1, 64 },
		{ "wan_port", JX_INT, false, 1, 65535 },
		{ "status", JX_STRING, false, 1, 16 },
		{ "description", JX_STRING, false, 0, 256 },
	};
	json_t *b = req_body(req, resp, f, nitems(f)), *row;
	json_t *pfx = NULL, *zones = NULL, *empty = json_array();
	struct pol_pfxset lan;
	const char *name, *org, *status;
	char err[ERRMSG_MAX], wan[INET6_ADDRSTRLEN] = "", actor[300];
	char *pfx_txt = NULL, *zones_txt = NULL;
	int64_t now = center_now(c);

	if (b == NULL)
		goto out;
	name = jsonx_str(b, "name");
	org = jsonx_str(b, "org");
	status = jsonx_str(b, "status") != NULL ? jsonx_str(b, "status") : "active";
	if (!name_valid(name)) {
		resp_error(resp, 400, "site name must be 1-63 of A-Z a-z 0-9 . _ - "
		    "starting with a letter or digit");
		goto out;
	}
	if (!in_list(status, statuses, nitems(statuses))) {
		resp_error(resp, 400, "status must be active or suspended");
		goto out;
	}
	if (prefixes_parse(json_object_get(b, "prefixes"), "prefixes", &lan, &pfx, err,
	    sizeof(err)) == -1 || zones_parse(json_object_get(b, "zones") != NULL ?
	    json_object_get(b, "zones") : empty, &lan, &zones, err, sizeof(err)) == -1) {
		resp_error(resp, 400, "%s", err);
		goto out;
	}
	if (jsonx_str(b, "wan") != NULL && wan_parse(jsonx_str(b, "wan"), wan,
	    sizeof(wan)) == -1) {
		resp_error(resp, 400, "wan must be an IPv4 or IPv6 address");
		goto out;
	}
	if ((row = row_get(c, "orgs", "name", org)) == NULL) {
		resp_error(resp, 400, "organisation \"%.63s\" does not exist", org);
		goto out;
	}
	json_decref(row);
	if ((row = row_get(c, "sites", "name", name)) != NULL) {
		json_decref(row);
		resp_error(resp, 409, "site \"%s\" already exists", name);
		goto out;
	}
	pfx_txt = json_dumps(pfx, JSON_COMPACT);
	zones_txt = json_dumps(zones, JSON_COMPACT);
	if (store_begin(c->st) != STORE_OK ||
	    store_q(c->st, NULL, NULL, "INSERT INTO sites (name, org, prefixes, zones, wan, "
	    "wan_port, status, description, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?)", "sssssissii", name, org, pfx_txt, zones_txt,
	    wan[0] != '\0' ? wan : NULL, (int64_t)jsonx_int(b, "wan_port", 4500), status,
	    jsonx_str(b, "description") != NULL ? jsonx_str(b, "description") : "", now,
	    now) != STORE_OK ||
	    caudit_pack(c, "site.created", center_actor(req->peer, actor, sizeof(actor)),
	    org, name, NULL, 0, "{s:O,s:s}", "prefixes", pfx, "status", status) == -1) {
		resp_store(c, resp);
		goto out;
	}
	if (tx_commit(c, resp) == -1)
		goto out;
	row = row_get(c, "sites", "name", name);
	resp_json(resp, 201, site_out(row));
	json_decref(row);
out:
	free(pfx_txt);
	free(zones_txt);
	json_decref(pfx);
	json_decref(zones);
	json_decref(empty);
	json_decref(b);
}

void
h_site_update(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const struct jsonx_field f[] = {
		{ "prefixes", JX_ARRAY, false, 1, POL_MAX_PREFIXES },
		{ "zones", JX_ARRAY, false, 0, POL_MAX_ZONES },
		{ "wan", JX_STRING, false, 0, 64 },
		{ "wan_port", JX_INT, false, 1, 65535 },
		{ "status", JX_STRING, false, 1, 16 },
		{ "description", JX_STRING, false, 0, 256 },
	};
	json_t *b = NULL, *row, *pfx = NULL, *zones = NULL, *zsrc, *peers = NULL;
	struct pol_pfxset lan;
	const char *status, *wanin;
	char err[ERRMSG_MAX], wan[INET6_ADDRSTRLEN] = "", actor[300], why[128];
	char *pfx_txt = NULL, *zones_txt = NULL;
	bool suspend, relan;

	if ((row = must_get(c, resp, "sites", "name", args[0], "site")) == NULL)
		return;
	if ((b = req_body(req, resp, f, nitems(f))) == NULL)
		goto out;
	status = jsonx_str(b, "status");
	wanin = jsonx_str(b, "wan");
	if (json_object_size(b) == 0) {
		resp_error(resp, 400, "nothing to change");
		goto out;
	}
	if (status != NULL && !in_list(status, statuses, nitems(statuses))) {
		resp_error(resp, 400, "status must be active or suspended");
		goto out;
	}
	if (wanin != NULL && wanin[0] != '\0' && wan_parse(wanin, wan, sizeof(wan)) == -1) {
		resp_error(resp, 400, "wan must be an IPv4 or IPv6 address (\"\" removes it)");
		goto out;
	}
	relan = json_object_get(b, "prefixes") != NULL || json_object_get(b, "zones") != NULL;
	{
		json_t *cur = json_col(row, "prefixes");
		int rc = prefixes_parse(json_object_get(b, "prefixes") != NULL ?
		    json_object_get(b, "prefixes") : cur, "prefixes", &lan, &pfx, err,
		    sizeof(err));

		json_decref(cur);
		if (rc == -1) {
			resp_error(resp, 400, "%s", err);
			goto out;
		}
	}
	zsrc = json_object_get(b, "zones") != NULL ? json_incref(json_object_get(b,
	    "zones")) : json_col(row, "zones");
	if (zones_parse(zsrc, &lan, &zones, err, sizeof(err)) == -1) {
		json_decref(zsrc);
		resp_error(resp, 400, "%s", err);
		goto out;
	}
	json_decref(zsrc);
	peers = group_peers(c, args[0]);
	if (relan && overlap_check(c, args[0], &lan, peers, err, sizeof(err)) == -1) {
		resp_error(resp, 409, "%s", err);
		goto out;
	}
	suspend = status != NULL && strcmp(status, "suspended") == 0 &&
	    strcmp(json_string_value(json_object_get(row, "status")), "active") == 0;
	center_actor(req->peer, actor, sizeof(actor));
	xsnprintf(why, sizeof(why), suspend ? "site %s suspended" :
	    "prefixes of site %s changed", args[0]);
	pfx_txt = json_dumps(pfx, JSON_COMPACT);
	zones_txt = json_dumps(zones, JSON_COMPACT);
	if (store_begin(c->st) != STORE_OK ||
	    store_q(c->st, NULL, NULL, "UPDATE sites SET prefixes = ?, zones = ?, "
	    "wan = CASE WHEN ? THEN ? ELSE wan END, wan_port = COALESCE(?, wan_port), "
	    "status = COALESCE(?, status), description = COALESCE(?, description), "
	    "updated = ? WHERE name = ?", "ssbsjssis", pfx_txt, zones_txt, wanin != NULL,
	    wan[0] != '\0' ? wan : NULL, json_object_get(b, "wan_port"), status,
	    jsonx_str(b, "description"), center_now(c), args[0]) != STORE_OK ||
	    caudit_pack(c, "site.updated", actor, json_string_value(json_object_get(row,
	    "org")), args[0], NULL, 0, "{s:O}", "changes", b) == -1 ||
	    ((suspend || relan) && grants_withdraw_where(c, actor, why, "g.initiator = ? "
	    "OR g.responder = ?", "ss", args[0], args[0]) == -1)) {
		resp_store(c, resp);
		goto out;
	}
	if (tx_commit(c, resp) == -1)
		goto out;
	json_decref(row);
	row = row_get(c, "sites", "name", args[0]);
	resp_json(resp, 200, site_out(row));
out:
	free(pfx_txt);
	free(zones_txt);
	json_decref(peers);
	json_decref(pfx);
	json_decref(zones);
	json_decref(row);
	json_decref(b);
}

void
h_site_delete(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	json_t *row = must_get(c, resp, "sites", "name", args[0], "site");
	json_int_t ndev, ngrp, nrules;
	char actor[300];
	const char *org;

	if (row == NULL)
		return;
	ndev = count_of(c, "SELECT COUNT(*) AS n FROM devices WHERE site = ?", "s", args[0]);
	ngrp = count_of(c, "SELECT COUNT(*) AS n FROM group_members WHERE site = ?", "s",
	    args[0]);
	nrules = count_of(c, "SELECT COUNT(*) AS n FROM rules WHERE src_site = ? OR "
	    "dst_site = ?", "ss", args[0], args[0]);
	if (ndev != 0 || ngrp != 0 || nrules != 0) {
		resp_error(resp, 409, "site \"%s\" still has %lld device(s), %lld group "
		    "membership(s) and %lld rule(s) referring to it", args[0],
		    (long long)ndev, (long long)ngrp, (long long)nrules);
		json_decref(row);
		return;
	}
	org = json_string_value(json_object_get(row, "org"));
	center_actor(req->peer, actor, sizeof(actor));
	if (store_begin(c->st) != STORE_OK ||
	    grants_withdraw_where(c, actor, "site deleted", "g.initiator = ? OR "
	    "g.responder = ?", "ss", args[0], args[0]) == -1 ||
	    store_q(c->st, NULL, NULL, "DELETE FROM sites WHERE name = ?", "s", args[0]) !=
	    STORE_OK ||
	    caudit_pack(c, "site.deleted", actor, org, args[0], NULL, 0, "{}") == -1) {
		resp_store(c, resp);
		json_decref(row);
		return;
	}
	json_decref(row);
	if (tx_commit(c, resp) == 0)
		resp_json(resp, 200, json_pack("{s:s}", "deleted", args[0]));
}

/* ---- devices ----------------------------------------------------------- */

json_t *
device_out(const json_t *r)
{
	return json_pack("{s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O}",
	    "id", json_object_get(r, "id"), "site", json_object_get(r, "site"),
	    "fingerprint", json_object_get(r, "fingerprint"),
	    "status", json_object_get(r, "status"),
	    "service_serial", json_object_get(r, "service_serial"),
	    "service_not_after", json_object_get(r, "service_not_after"),
	    "enrolled", json_object_get(r, "enrolled"),
	    "description", json_object_get(r, "description"),
	    "created", json_object_get(r, "created"),
	    "updated", json_object_get(r, "updated"));
}

/* "sha256:"? then 32 octets of hex, optionally ':'-separated → 64 lower-case hex */
static int
fingerprint_parse(const char *s, char out[2 * CENTER_FP_LEN + 1])
{
	size_t n = 0;

	if (strncmp(s, "sha256:", 7) == 0 || strncmp(s, "SHA256:", 7) == 0)
		s += 7;
	for (; *s != '\0'; s++) {
		if (*s == ':')
			continue;
		if (n == 2 * CENTER_FP_LEN || !isxdigit((unsigned char)*s))
			return -1;
		out[n++] = (char)tolower((unsigned char)*s);
	}
	out[n] = '\0';
	return n == 2 * CENTER_FP_LEN ? 0 : -1;
}

/* the fingerprint from "fingerprint" or "certificate" of body; -1 with 400 */
static int
body_fingerprint(const json_t *b, const char *id, struct center_resp *resp,
    char fp[2 * CENTER_FP_LEN + 1])
{
	const char *fps = jsonx_str(b, "fingerprint"), *cert = jsonx_str(b, "certificate");

	if ((fps == NULL) == (cert == NULL)) {
		resp_error(resp, 400, "give exactly one of \"fingerprint\" (SHA-256 of the "
		    "device certificate) and \"certificate\" (PEM)");
		return -1;
	}
	if (fps != NULL) {
		if (fingerprint_parse(fps, fp) == -1) {
			resp_error(resp, 400, "fingerprint must be a SHA-256 fingerprint: 64 "
			    "hex digits, optionally with ':' between octets");
			return -1;
		}
		return 0;
	} else {
		uint8_t raw[CENTER_FP_LEN];
		char cn[256], err[ERRMSG_MAX];

		if (center_cert_info(cert, strlen(cert), raw, cn, sizeof(cn), err,
		    sizeof(err)) == -1) {
			resp_error(resp, 400, "certificate: %s", err);
			return -1;
		}
		if (strcmp(cn, id) != 0) {
			resp_error(resp, 400, "certificate is for \"%.63s\", not for device "
			    "\"%s\"", cn, id);
			return -1;
		}
		hex_encode(raw, sizeof(raw), fp);
		return 0;
	}
}

void
h_device_list(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	const char *site = req_query(req, "site");
	json_t *rows, *out = json_array(), *r;
	size_t i;

	if (store_q(c->st, &rows, NULL, "SELECT * FROM devices WHERE (? IS NULL OR site = ?) "
	    "ORDER BY id", "ss", site, site) != STORE_OK) {
		json_decref(out);
		resp_store(c, resp);
		return;
	}
	json_array_foreach(rows, i, r)
		json_array_append_new(out, device_out(r));
	json_decref(rows);
	resp_json(resp, 200, json_pack("{s:o}", "devices", out));
}

void
h_device_get(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	json_t *row = must_get(c, resp, "devices", "id", args[0], "device"), *o, *certs = NULL;

	if (row == NULL)
		return;
	o = device_out(row);
	json_decref(row);
	store_q(c->st, &certs, NULL, "SELECT serial, not_before, not_after, issued, status "
	    "FROM certs WHERE device = ? ORDER BY issued, serial", "s", args[0]);
	json_object_set_new(o, "certificates", certs != NULL ? certs : json_array());
	resp_json(resp, 200, o);
}

void
h_device_create(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const struct jsonx_field f[] = {
		{ "id", JX_STRING, true, 1, CENTER_NAME_MAX - 1 },
		{ "site", JX_STRING, true, 1, CENTER_NAME_MAX - 1 },
		{ "fingerprint", JX_STRING, false, 1, 128 },
		{ "certificate", JX_STRING, false, 1, 16384 },
		{ "description", JX_STRING, false, 0, 256 },
	};
	json_t *b = req_body(req, resp, f, nitems(f)), *row, *site = NULL;
	char fp[2 * CENTER_FP_LEN + 1], actor[300];
	const char *id, *sname;
	int64_t now = center_now(c);

	if (b == NULL)
		return;
	id = jsonx_str(b, "id");
	sname = jsonx_str(b, "site");
	if (!device_id_valid(id)) {
		resp_error(resp, 400, "device id must be a DNS name (letters, digits, '-' "
		    "labels joined by '.'), at most 63 characters: it is the device's IKE "
		    "identity");
		goto out;
	}
	if (body_fingerprint(b, id, resp, fp) == -1)
		goto out;
	if ((site = row_get(c, "sites", "name", sname)) == NULL) {
		resp_error(resp, 400, "site \"%.63s\" does not exist", sname);
		goto out;
	}
	if ((row = row_get(c, "devices", "id", id)) != NULL) {
		json_decref(row);
		resp_error(resp, 409, "device \"%s\" already exists", id);
		goto out;
	}
	if (store_q1(c->st, &row, "SELECT id FROM devices WHERE site = ? AND status != "
	    "'revoked'", "s", sname) == STORE_OK && row != NULL) {
		resp_error(resp, 409, "site \"%s\" already has device \"%s\" (revoke it "
		    "first)", sname, jsonx_str(row, "id"));
		json_decref(row);
		goto out;
	}
	if ((row = row_get(c, "devices", "fingerprint", fp)) != NULL) {
		resp_error(resp, 409, "this certificate fingerprint is already registered "
		    "for device \"%s\"", jsonx_str(row, "id"));
		json_decref(row);
		goto out;
	}
	if (store_begin(c->st) != STORE_OK ||
	    store_q(c->st, NULL, NULL, "INSERT INTO devices (id, site, fingerprint, status, "
	    "description, created, updated) VALUES (?, ?, ?, 'registered', ?, ?, ?)",
	    "ssssii", id, sname, fp, jsonx_str(b, "description") != NULL ?
	    jsonx_str(b, "description") : "", now, now) != STORE_OK ||
	    caudit_pack(c, "device.registered", center_actor(req->peer, actor,
	    sizeof(actor)), jsonx_str(site, "org"), sname, id, 0, "{s:s}", "fingerprint",
	    fp) == -1) {
		resp_store(c, resp);
		goto out;
	}
	if (tx_commit(c, resp) == -1)
		goto out;
	row = row_get(c, "devices", "id", id);
	resp_json(resp, 201, device_out(row));
	json_decref(row);
out:
	json_decref(site);
	json_decref(b);
}

void
h_device_update(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const struct jsonx_field f[] = {
		{ "fingerprint", JX_STRING, false, 1, 128 },
		{ "certificate", JX_STRING, false, 1, 16384 },
		{ "description", JX_STRING, false, 0, 256 },
	};
	json_t *b = NULL, *row, *other;
	char fp[2 * CENTER_FP_LEN + 1], actor[300];
	bool refp;

	if (!device_id_valid(args[0]) ||
	    (row = row_get(c, "devices", "id", args[0])) == NULL) {
		resp_error(resp, 404, "device \"%.63s\" not found", args[0]);
		return;
	}
	if ((b = req_body(req, resp, f, nitems(f))) == NULL)
		goto out;
	if (json_object_size(b) == 0) {
		resp_error(resp, 400, "nothing to change");
		goto out;
	}
	refp = jsonx_str(b, "fingerprint") != NULL || jsonx_str(b, "certificate") != NULL;
	if (refp) {
		if (strcmp(jsonx_str(row, "status"), "registered") != 0) {
			resp_error(resp, 409, "device \"%s\" is %s: its tier-1 certificate "
			    "can only change before enrolment", args[0], jsonx_str(row,
			    "status"));
			goto out;
		}
		if (body_fingerprint(b, args[0], resp, fp) == -1)
			goto out;
		if ((other = row_get(c, "devices", "fingerprint", fp)) != NULL) {
			if (strcmp(jsonx_str(other, "id"), args[0]) != 0)
				resp_error(resp, 409, "this certificate fingerprint is already "
				    "registered for device \"%s\"", jsonx_str(other, "id"));
			json_decref(other);
			if (resp->status != 0)
				goto out;
		}
	}
	if (store_begin(c->st) != STORE_OK ||
	    store_q(c->st, NULL, NULL, "UPDATE devices SET fingerprint = COALESCE(?, "
	    "fingerprint), description = COALESCE(?, description), updated = ? WHERE "
	    "id = ?", "ssis", refp ? fp : NULL, jsonx_str(b, "description"), center_now(c),
	    args[0]) != STORE_OK ||
	    caudit_pack(c, "device.updated", center_actor(req->peer, actor, sizeof(actor)),
	    NULL, jsonx_str(row, "site"), args[0], 0, "{s:O}", "changes", b) == -1) {
		resp_store(c, resp);
		goto out;
	}
	if (tx_commit(c, resp) == -1)
		goto out;
	json_decref(row);
	row = row_get(c, "devices", "id", args[0]);
	resp_json(resp, 200, device_out(row));
out:
	json_decref(row);
	json_decref(b);
}

void
h_device_delete(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	json_t *row;
	char actor[300];

	if (!device_id_valid(args[0]) ||
	    (row = row_get(c, "devices", "id", args[0])) == NULL) {
		resp_error(resp, 404, "device \"%.63s\" not found", args[0]);
		return;
	}
	if (strcmp(jsonx_str(row, "status"), "enrolled") == 0) {
		resp_error(resp, 409, "device \"%s\" is enrolled: revoke it first", args[0]);
		json_decref(row);
		return;
	}
	if (store_begin(c->st) != STORE_OK ||
	    store_q(c->st, NULL, NULL, "DELETE FROM device_config WHERE device = ?", "s",
	    args[0]) != STORE_OK ||
	    store_q(c->st, NULL, NULL, "DELETE FROM devices WHERE id = ?", "s", args[0]) !=
	    STORE_OK ||
	    caudit_pack(c, "device.deleted", center_actor(req->peer, actor, sizeof(actor)),
	    NULL, jsonx_str(row, "site"), args[0], 0, "{}") == -1) {
		resp_store(c, resp);
		json_decref(row);
		return;
	}
	json_decref(row);
	if (tx_commit(c, resp) == 0)
		resp_json(resp, 200, json_pack("{s:s}", "deleted", args[0]));
}

/* ---- groups ------------------------------------------------------------ */

static json_t *
group_out(struct center *c, const json_t *r)
{
	json_t *m = NULL, *names = json_array(), *x;
	size_t i;

	store_q(c->st, &m, NULL, "SELECT site FROM group_members WHERE grp = ? ORDER BY site",
	    "s", jsonx_str(r, "name"));
	json_array_foreach(m, i, x)
		json_array_append(names, json_object_get(x, "site"));
	json_decref(m);
	return json_pack("{s:O,s:O,s:O,s:o}", "name", json_object_get(r, "name"),
	    "description", json_object_get(r, "description"),
	    "created", json_object_get(r, "created"), "members", names);
}

void
h_group_list(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	json_t *rows, *out = json_array(), *r;
	size_t i;

	if (store_q(c->st, &rows, NULL, "SELECT * FROM groups ORDER BY name", "") !=
	    STORE_OK) {
		json_decref(out);
		resp_store(c, resp);
		return;
	}
	json_array_foreach(rows, i, r)
		json_array_append_new(out, group_out(c, r));
	json_decref(rows);
	resp_json(resp, 200, json_pack("{s:o}", "groups", out));
}

void
h_group_get(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	json_t *row = must_get(c, resp, "groups", "name", args[0], "group");

	if (row == NULL)
		return;
	resp_json(resp, 200, group_out(c, row));
	json_decref(row);
}

void
h_group_create(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const struct jsonx_field f[] = {
		{ "name", JX_STRING, true, 1, CENTER_NAME_MAX - 1 },
		{ "description", JX_STRING, false, 0, 256 },
	};
	json_t *b = req_body(req, resp, f, nitems(f)), *row;
	const char *name;
	char actor[300];

	if (b == NULL)
		return;
	name = jsonx_str(b, "name");
	if (!name_valid(name)) {
		resp_error(resp, 400, "group name must be 1-63 of A-Z a-z 0-9 . _ - "
		    "starting with a letter or digit");
		goto out;
	}
	if ((row = row_get(c, "groups", "name", name)) != NULL) {
		json_decref(row);
		resp_error(resp, 409, "group \"%s\" already exists", name);
		goto out;
	}
	if (store_begin(c->st) != STORE_OK ||
	    store_q(c->st, NULL, NULL, "INSERT INTO groups (name, description, created) "
	    "VALUES (?, ?, ?)", "ssi", name, jsonx_str(b, "description") != NULL ?
	    jsonx_str(b, "description") : "", center_now(c)) != STORE_OK ||
	    caudit_pack(c, "group.created", center_actor(req->peer, actor, sizeof(actor)),
	    NULL, NULL, NULL, 0, "{s:s}", "group", name) == -1) {
		resp_store(c, resp);
		goto out;
	}
	if (tx_commit(c, resp) == -1)
		goto out;
	row = row_get(c, "groups", "name", name);
	resp_json(resp, 201, group_out(c, row));
	json_decref(row);
out:
	json_decref(b);
}

void
h_group_update(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const struct jsonx_field f[] = {
		{ "description", JX_STRING, true, 0, 256 },
	};
	json_t *row = must_get(c, resp, "groups", "name", args[0], "group"), *b;
	char actor[300];

	if (row == NULL)
		return;
	json_decref(row);
	if ((b = req_body(req, resp, f, nitems(f))) == NULL)
		return;
	if (store_begin(c->st) != STORE_OK ||
	    store_q(c->st, NULL, NULL, "UPDATE groups SET description = ? WHERE name = ?",
	    "ss", jsonx_str(b, "description"), args[0]) != STORE_OK ||
	    caudit_pack(c, "group.updated", center_actor(req->peer, actor, sizeof(actor)),
	    NULL, NULL, NULL, 0, "{s:s,s:O}", "group", args[0], "changes", b) == -1) {
		resp_store(c, resp);
		json_decref(b);
		return;
	}
	json_decref(b);
	if (tx_commit(c, resp) == -1)
		return;
	row = row_get(c, "groups", "name", args[0]);
	resp_json(resp, 200, group_out(c, row));
	json_decref(row);
}

void
h_group_delete(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	json_t *row = must_get(c, resp, "groups", "name", args[0], "group");
	json_int_t nm, nr;
	char actor[300];

	if (row == NULL)
		return;
	json_decref(row);
	nm = count_of(c, "SELECT COUNT(*) AS n FROM group_members WHERE grp = ?", "s",
	    args[0]);
	nr = count_of(c, "SELECT COUNT(*) AS n FROM rules WHERE grp = ?", "s", args[0]);
	if (nm != 0 || nr != 0) {
		resp_error(resp, 409, "group \"%s\" still has %lld member(s) and %lld "
		    "rule(s) referring to it", args[0], (long long)nm, (long long)nr);
		return;
	}
	if (store_begin(c->st) != STORE_OK ||
	    store_q(c->st, NULL, NULL, "DELETE FROM groups WHERE name = ?", "s", args[0]) !=
	    STORE_OK ||
	    caudit_pack(c, "group.deleted", center_actor(req->peer, actor, sizeof(actor)),
	    NULL, NULL, NULL, 0, "{s:s}", "group", args[0]) == -1) {
		resp_store(c, resp);
		return;
	}
	if (tx_commit(c, resp) == 0)
		resp_json(resp, 200, json_pack("{s:s}", "deleted", args[0]));
}

void
h_member_add(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const struct jsonx_field f[] = {
		{ "site", JX_STRING, true, 1, CENTER_NAME_MAX - 1 },
	};
	json_t *grp = must_get(c, resp, "groups", "name", args[0], "group");
	json_t *b = NULL, *site = NULL, *members = NULL, *row;
	struct pol_site s;
	char err[ERRMSG_MAX], actor[300];
	const char *sname;

	if (grp == NULL)
		return;
	if ((b = req_body(req, resp, f, nitems(f))) == NULL)
		goto out;
	sname = jsonx_str(b, "site");
	if ((site = row_get(c, "sites", "name", sname)) == NULL ||
	    site_load(c, sname, &s) == -1) {
		resp_error(resp, 400, "site \"%.63s\" does not exist", sname);
		goto out;
	}
	if (store_q1(c->st, &row, "SELECT site FROM group_members WHERE grp = ? AND "
	    "site = ?", "ss", args[0], sname) == STORE_OK && row != NULL) {
		json_decref(row);
		resp_error(resp, 409, "site \"%s\" is already a member of group \"%s\"",
		    sname, args[0]);
		goto out;
	}
	store_q(c->st, &members, NULL, "SELECT site FROM group_members WHERE grp = ?", "s",
	    args[0]);
	if (members != NULL && overlap_check(c, sname, &s.lan, members, err,
	    sizeof(err)) == -1) {
		resp_error(resp, 409, "%s", err);
		goto out;
	}
	if (store_begin(c->st) != STORE_OK ||
	    store_q(c->st, NULL, NULL, "INSERT INTO group_members (grp, site, added) VALUES "
	    "(?, ?, ?)", "ssi", args[0], sname, center_now(c)) != STORE_OK ||
	    caudit_pack(c, "group.member_added", center_actor(req->peer, actor,
	    sizeof(actor)), jsonx_str(site, "org"), sname, NULL, 0, "{s:s}", "group",
	    args[0]) == -1) {
		resp_store(c, resp);
		goto out;
	}
	if (tx_commit(c, resp) == 0)
		resp_json(resp, 201, group_out(c, grp));
out:
	json_decref(members);
	json_decref(site);
	json_decref(grp);
	json_decref(b);
}

void
h_member_remove(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	json_t *grp = must_get(c, resp, "groups", "name", args[0], "group"), *row = NULL;
	char actor[300], why[160];

	if (grp == NULL)
		return;
	if (!name_valid(args[1]) || store_q1(c->st, &row, "SELECT m.site, s.org FROM "
	    "group_members m JOIN sites s ON s.name = m.site WHERE m.grp = ? AND m.site = ?",
	    "ss", args[0], args[1]) != STORE_OK || row == NULL) {
		resp_error(resp, 404, "site \"%.63s\" is not a member of group \"%s\"",
		    args[1], args[0]);
		goto out;
	}
	center_actor(req->peer, actor, sizeof(actor));
	xsnprintf(why, sizeof(why), "site %s left group %s", args[1], args[0]);
	/* REQ-GRP-1: after the change, no grant may join sites without a common group */
	if (store_begin(c->st) != STORE_OK ||
	    store_q(c->st, NULL, NULL, "DELETE FROM group_members WHERE grp = ? AND site = ?",
	    "ss", args[0], args[1]) != STORE_OK ||
	    grants_withdraw_where(c, actor, why, "(g.initiator = ? OR g.responder = ?) AND "
	    "NOT EXISTS (SELECT 1 FROM group_members a JOIN group_members b ON a.grp = "
	    "b.grp WHERE a.site = g.initiator AND b.site = g.responder)", "ss", args[1],
	    args[1]) == -1 ||
	    caudit_pack(c, "group.member_removed", actor, jsonx_str(row, "org"), args[1],
	    NULL, 0, "{s:s}", "group", args[0]) == -1) {
		resp_store(c, resp);
		goto out;
	}
	if (tx_commit(c, resp) == 0)
		resp_json(resp, 200, group_out(c, grp));
out:
	json_decref(row);
	json_decref(grp);
}

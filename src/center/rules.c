/*
 * Rules: the provider's and each organisation's (SPEC REQ-CON-2). Stored one
 * column per field so the foreign keys keep a rule from naming a site, an
 * organisation or a group that no longer exists. Rules are immutable: change
 * one by deleting it and adding another. Grants already issued keep the terms
 * they were issued with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "center/center_int.h"
#include "lib/util.h"

static json_t *
sel_out(const json_t *r, const char *side)
{
	static const char *const keys[] = { "org", "site", "zone", "prefix" };
	json_t *o = json_object();

	for (size_t i = 0; i < nitems(keys); i++) {
		char col[32];
		json_t *v;

		xsnprintf(col, sizeof(col), "%s_%s", side, keys[i]);
		v = json_object_get(r, col);
		if (v != NULL && !json_is_null(v))
			json_object_set(o, keys[i], v);
	}
	return o;
}

json_t *
rule_out(const json_t *r)
{
	json_int_t lo = json_integer_value(json_object_get(r, "port_lo"));
	json_int_t hi = json_integer_value(json_object_get(r, "port_hi"));
	json_int_t days = json_integer_value(json_object_get(r, "days"));
	json_t *win = json_object(), *aa = json_object_get(r, "auto_approve");
	char pbuf[8], ports[16];
	const char *proto;
	json_t *v;

	proto = pol_proto_name((uint8_t)json_integer_value(json_object_get(r, "proto")),
	    pbuf, sizeof(pbuf));
	if (lo == hi)
		xsnprintf(ports, sizeof(ports), "%lld", (long long)lo);
	else
		xsnprintf(ports, sizeof(ports), "%lld-%lld", (long long)lo, (long long)hi);
	if (!json_is_null(v = json_object_get(r, "valid_from")))
		json_object_set(win, "from", v);
	if (!json_is_null(v = json_object_get(r, "valid_until")))
		json_object_set(win, "until", v);
	if (!json_is_null(json_object_get(r, "hours_from"))) {
		json_int_t f = json_integer_value(json_object_get(r, "hours_from"));
		json_int_t t = json_integer_value(json_object_get(r, "hours_to"));
		char h[16];

		xsnprintf(h, sizeof(h), "%02lld:%02lld-%02lld:%02lld", (long long)f / 60,
		    (long long)f % 60, (long long)t / 60, (long long)t % 60);
		json_object_set_new(win, "hours", json_string(h));
	}
	if (days != 0) {
		json_t *d = json_array();

		for (int i = 0; i < 7; i++)
			if (days & POL_DAY(i))
				json_array_append_new(d, json_string(pol_day_name(i)));
		json_object_set_new(win, "days", d);
	}
	if (json_object_size(win) == 0) {
		json_decref(win);
		win = json_null();
	}
	return json_pack("{s:O,s:O,s:O,s:o,s:o,s:b,s:s,s:o,s:o,s:o,s:O,s:O}",
	    "id", json_object_get(r, "id"), "owner", json_object_get(r, "owner"),
	    "group", json_object_get(r, "grp"),
	    "src", sel_out(r, "src"), "dst", sel_out(r, "dst"),
	    "both", json_integer_value(json_object_get(r, "both_ways")) != 0,
	    "proto", proto,
	    "ports", pol_proto_has_ports((uint8_t)json_integer_value(json_object_get(r,
	    "proto"))) && !(lo == 0 && hi == 65535) ? json_string(ports) : json_null(),
	    "window", win,
	    "auto_approve", json_is_null(aa) || aa == NULL ? json_null() :
	    json_boolean(json_integer_value(aa) != 0),
	    "description", json_object_get(r, "description"),
	    "created", json_object_get(r, "created"));
}

static void
sel_from_row(const json_t *r, const char *side, struct pol_sel *s, char *err,
    size_t errlen)
{
	char col[32];
	const char *v;

	memset(s, 0, sizeof(*s));
	xsnprintf(col, sizeof(col), "%s_site", side);
	if ((v = jsonx_str(r, col)) != NULL)
		xsnprintf(s->site, sizeof(s->site), "%s", v);
	xsnprintf(col, sizeof(col), "%s_org", side);
	if ((v = jsonx_str(r, col)) != NULL)
		xsnprintf(s->org, sizeof(s->org), "%s", v);
	xsnprintf(col, sizeof(col), "%s_zone", side);
	if ((v = jsonx_str(r, col)) != NULL)
		xsnprintf(s->zone, sizeof(s->zone), "%s", v);
	xsnprintf(col, sizeof(col), "%s_prefix", side);
	if ((v = jsonx_str(r, col)) != NULL &&
	    prefix_parse(v, &s->prefix, err, errlen) == 0)
		s->has_prefix = true;
}

int
rules_load(struct center *c, struct pol_rule **out, size_t *n)
{
	json_t *rows, *r;
	struct pol_rule *v;
	size_t i;

	if (store_q(c->st, &rows, NULL, "SELECT * FROM rules ORDER BY id", "") != STORE_OK)
		return -1;
	v = xcalloc(json_array_size(rows) + 1, sizeof(*v));
	json_array_foreach(rows, i, r) {
		struct pol_rule *p = &v[i];
		char err[128];
		json_t *aa = json_object_get(r, "auto_approve");

		p->id = json_integer_value(json_object_get(r, "id"));
		if (jsonx_str(r, "owner") != NULL)
			xsnprintf(p->owner, sizeof(p->owner), "%s", jsonx_str(r, "owner"));
		if (jsonx_str(r, "grp") != NULL)
			xsnprintf(p->group, sizeof(p->group), "%s", jsonx_str(r, "grp"));
		sel_from_row(r, "src", &p->src, err, sizeof(err));
		sel_from_row(r, "dst", &p->dst, err, sizeof(err));
		p->both = json_integer_value(json_object_get(r, "both_ways")) != 0;
		p->proto = (uint8_t)json_integer_value(json_object_get(r, "proto"));
		p->port_lo = (uint16_t)json_integer_value(json_object_get(r, "port_lo"));
		p->port_hi = (uint16_t)json_integer_value(json_object_get(r, "port_hi"));
		p->win.from = json_integer_value(json_object_get(r, "valid_from"));
		p->win.until = json_integer_value(json_object_get(r, "valid_until"));
		if (json_is_integer(json_object_get(r, "hours_from"))) {
			p->win.min_from = (int)json_integer_value(json_object_get(r,
			    "hours_from"));
			p->win.min_to = (int)json_integer_value(json_object_get(r, "hours_to"));
		} else
			p->win.min_from = p->win.min_to = -1;
		p->win.days = (unsigned)json_integer_value(json_object_get(r, "days"));
		p->auto_approve = json_is_integer(aa) ? (int)json_integer_value(aa) : -1;
	}
	*n = json_array_size(rows);
	*out = v;
	json_decref(rows);
	return 0;
}

/* ---- handlers ---------------------------------------------------------- */

void
h_rule_list(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	const char *owner = req_query(req, "owner");
	json_t *rows, *out = json_array(), *r;
	int rc;
	size_t i;

	/* owner=provider: the provider's rules; owner=ORG: that organisation's */
	if (owner != NULL && strcmp(owner, "provider") == 0)
		rc = store_q(c->st, &rows, NULL, "SELECT * FROM rules WHERE owner IS NULL "
		    "ORDER BY id", "");
	else
		rc = store_q(c->st, &rows, NULL, "SELECT * FROM rules WHERE (? IS NULL OR "
		    "owner = ?) ORDER BY id", "ss", owner, owner);
	if (rc != STORE_OK) {
		json_decref(out);
		resp_store(c, resp);
		return;
	}
	json_array_foreach(rows, i, r)
		json_array_append_new(out, rule_out(r));
	json_decref(rows);
	resp_json(resp, 200, json_pack("{s:o}", "rules", out));
}

static json_t *
rule_row(struct center *c, const char *arg)
{
	int64_t id = path_id(arg);
	json_t *row = NULL;

	if (id > 0)
		store_q1(c->st, &row, "SELECT * FROM rules WHERE id = ?", "i", id);
	return row;
}

void
h_rule_get(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	json_t *row = rule_row(c, args[0]);

	if (row == NULL) {
		resp_error(resp, 404, "rule \"%.20s\" not found", args[0]);
		return;
	}
	resp_json(resp, 200, rule_out(row));
	json_decref(row);
}

struct sel_cols {
	const char	*org, *site, *zone;
	char		 prefix[ADDR_STRLEN];
};

static int
sel_parse(struct center *c, const json_t *v, const char *side, struct sel_cols *out,
    char *err, size_t errlen)
{
	static const struct jsonx_field f[] = {
		{ "org", JX_STRING, false, 1, CENTER_NAME_MAX - 1 },
		{ "site", JX_STRING, false, 1, CENTER_NAME_MAX - 1 },
		{ "zone", JX_STRING, false, 1, CENTER_NAME_MAX - 1 },
		{ "prefix", JX_STRING, false, 1, ADDR_STRLEN },
	};
	char why[ERRMSG_MAX];
	json_t *row;

	memset(out, 0, sizeof(*out));
	if (v == NULL)
		return 0;
	if (jsonx_validate(v, f, nitems(f), why, sizeof(why)) == -1) {
		xsnprintf(err, errlen, "%s: %s", side, why);
		return -1;
	}
	out->org = jsonx_str(v, "org");
	out->site = jsonx_str(v, "site");
	out->zone = jsonx_str(v, "zone");
	if (out->org != NULL) {
		if ((row = row_get(c, "orgs", "name", out->org)) == NULL) {
			xsnprintf(err, errlen, "%s: organisation \"%.63s\" does not exist",
			    side, out->org);
			return -1;
		}
		json_decref(row);
	}
	if (out->site != NULL) {
		if ((row = row_get(c, "sites", "name", out->site)) == NULL) {
			xsnprintf(err, errlen, "%s: site \"%.63s\" does not exist", side,
			    out->site);
			return -1;
		}
		if (out->org != NULL && strcmp(jsonx_str(row, "org"), out->org) != 0) {
			xsnprintf(err, errlen, "%s: site \"%s\" does not belong to "
			    "organisation \"%s\"", side, out->site, out->org);
			json_decref(row);
			return -1;
		}
		json_decref(row);
	}
	if (out->zone != NULL && !name_valid(out->zone)) {
		xsnprintf(err, errlen, "%s: bad zone name", side);
		return -1;
	}
	if (jsonx_str(v, "prefix") != NULL) {
		struct prefix p;

		if (prefix_parse(jsonx_str(v, "prefix"), &p, why, sizeof(why)) == -1) {
			xsnprintf(err, errlen, "%s.prefix: %s", side, why);
			return -1;
		}
		prefix_format(&p, out->prefix, sizeof(out->prefix));
	}
	return 0;
}

struct window_cols {
	json_t		*from, *until;	/* borrowed integers or NULL */
	int		 hfrom, hto;	/* -1: none */
	unsigned	 days;
};

static int
window_parse(const json_t *v, struct window_cols *w, char *err, size_t errlen)
{
	static const struct jsonx_field f[] = {
		{ "from", JX_INT, false, 0, 0 },
		{ "until", JX_INT, false, 0, 0 },
		{ "hours", JX_STRING, false, 11, 11 },
		{ "days", JX_ARRAY, false, 1, 7 },
	};
	char why[ERRMSG_MAX];
	size_t i;
	json_t *d;

	memset(w, 0, sizeof(*w));
	w->hfrom = w->hto = -1;
	if (v == NULL)
		return 0;
	if (jsonx_validate(v, f, nitems(f), why, sizeof(why)) == -1) {
		xsnprintf(err, errlen, "window: %s", why);
		return -1;
	}
	w->from = json_object_get(v, "from");
	w->until = json_object_get(v, "until");
	if ((w->from != NULL && json_integer_value(w->from) <= 0) ||
	    (w->until != NULL && json_integer_value(w->until) <= 0)) {
		xsnprintf(err, errlen, "window: from and until are Unix times in seconds");
		return -1;
	}
	if (w->from != NULL && w->until != NULL &&
	    json_integer_value(w->from) >= json_integer_value(w->until)) {
		xsnprintf(err, errlen, "window: from must be before until");
		return -1;
	}
	if (jsonx_str(v, "hours") != NULL &&
	    pol_hours_parse(jsonx_str(v, "hours"), &w->hfrom, &w->hto) == -1) {
		xsnprintf(err, errlen, "window: hours must be \"HH:MM-HH:MM\" (UTC, from "
		    "before to, to at most 24:00)");
		return -1;
	}
	json_array_foreach(json_object_get(v, "days"), i, d) {
		int day = json_is_string(d) ? pol_day_parse(json_string_value(d)) : -1;

		if (day < 0 || (w->days & POL_DAY(day)) != 0) {
			xsnprintf(err, errlen, "window: days must be distinct names from "
			    "mon tue wed thu fri sat sun");
			return -1;
		}
		w->days |= POL_DAY(day);
	}
	return 0;
}

void
h_rule_create(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const struct jsonx_field f[] = {
		{ "owner", JX_STRING, false, 1, CENTER_NAME_MAX - 1 },
		{ "group", JX_STRING, false, 1, CENTER_NAME_MAX - 1 },
		{ "src", JX_OBJECT, false, 0, 0 },
		{ "dst", JX_OBJECT, false, 0, 0 },
		{ "both", JX_BOOL, false, 0, 0 },
		{ "proto", JX_STRING, false, 1, 16 },
		{ "ports", JX_STRING, false, 1, 16 },
		{ "window", JX_OBJECT, false, 0, 0 },
		{ "auto_approve", JX_BOOL, false, 0, 0 },
		{ "description", JX_STRING, false, 0, 256 },
	};
	json_t *b = req_body(req, resp, f, nitems(f)), *row, *rows = NULL;
	json_t *hf = NULL, *ht = NULL;
	struct sel_cols src, dst;
	struct window_cols w;
	const char *owner, *group;
	char err[ERRMSG_MAX], actor[300];
	uint8_t proto = 0;
	uint16_t lo = 0, hi = 65535;
	int64_t id;

	if (b == NULL)
		return;
	owner = jsonx_str(b, "owner");
	group = jsonx_str(b, "group");
	if (owner != NULL) {
		if ((row = row_get(c, "orgs", "name", owner)) == NULL) {
			resp_error(resp, 400, "owner: organisation \"%.63s\" does not exist "
			    "(omit owner for a provider rule)", owner);
			goto out;
		}
		json_decref(row);
	}
	if (group != NULL) {
		if ((row = row_get(c, "groups", "name", group)) == NULL) {
			resp_error(resp, 400, "group \"%.63s\" does not exist", group);
			goto out;
		}
		json_decref(row);
	}
	if (sel_parse(c, json_object_get(b, "src"), "src", &src, err, sizeof(err)) == -1 ||
	    sel_parse(c, json_object_get(b, "dst"), "dst", &dst, err, sizeof(err)) == -1 ||
	    window_parse(json_object_get(b, "window"), &w, err, sizeof(err)) == -1) {
		resp_error(resp, 400, "%s", err);
		goto out;
	}
	if (jsonx_str(b, "proto") != NULL && pol_proto_parse(jsonx_str(b, "proto"),
	    &proto) == -1) {
		resp_error(resp, 400, "proto must be any, tcp, udp, sctp, icmp, icmpv6, gre, "
		    "esp or a protocol number 0-255");
		goto out;
	}
	if (jsonx_str(b, "ports") != NULL) {
		if (!pol_proto_has_ports(proto)) {
			resp_error(resp, 400, "ports need proto tcp, udp or sctp");
			goto out;
		}
		if (pol_ports_parse(jsonx_str(b, "ports"), &lo, &hi) == -1) {
			resp_error(resp, 400, "ports must be \"PORT\" or \"LOW-HIGH\" within "
			    "0-65535");
			goto out;
		}
	}
	if (owner == NULL && json_object_get(b, "auto_approve") != NULL) {
		resp_error(resp, 400, "auto_approve belongs to organisation rules (approval "
		    "is the responder organisation's)");
		goto out;
	}
	if (w.hfrom >= 0) {
		hf = json_integer(w.hfrom);
		ht = json_integer(w.hto);
	}
	if (store_begin(c->st) != STORE_OK ||
	    store_q(c->st, &rows, NULL, "INSERT INTO rules (owner, grp, src_org, src_site, "
	    "src_zone, src_prefix, dst_org, dst_site, dst_zone, dst_prefix, both_ways, proto, "
	    "port_lo, port_hi, valid_from, valid_until, hours_from, hours_to, days, "
	    "auto_approve, description, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id", "ssssssssssbiiijjjjijsi", owner,
	    group, src.org, src.site, src.zone, src.prefix[0] != '\0' ? src.prefix : NULL,
	    dst.org, dst.site, dst.zone, dst.prefix[0] != '\0' ? dst.prefix : NULL,
	    jsonx_bool(b, "both", false), (int64_t)proto, (int64_t)lo, (int64_t)hi,
	    w.from, w.until, hf, ht, (int64_t)w.days,
	    json_object_get(b, "auto_approve"), jsonx_str(b, "description") != NULL ?
	    jsonx_str(b, "description") : "", center_now(c)) != STORE_OK) {
		resp_store(c, resp);
		goto out;
	}
	id = json_integer_value(json_object_get(json_array_get(rows, 0), "id"));
	if (caudit_pack(c, "rule.created", center_actor(req->peer, actor, sizeof(actor)),
	    owner, NULL, NULL, 0, "{s:I,s:O}", "rule", (json_int_t)id, "rule", b) == -1) {
		resp_store(c, resp);
		goto out;
	}
	if (tx_commit(c, resp) == -1)
		goto out;
	store_q1(c->st, &row, "SELECT * FROM rules WHERE id = ?", "i", id);
	resp_json(resp, 201, row != NULL ? rule_out(row) : NULL);
	json_decref(row);
out:
	json_decref(hf);
	json_decref(ht);
	json_decref(rows);
	json_decref(b);
}

void
h_rule_delete(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	json_t *row = rule_row(c, args[0]), *o;
	char actor[300];

	if (row == NULL) {
		resp_error(resp, 404, "rule \"%.20s\" not found", args[0]);
		return;
	}
	o = rule_out(row);
	if (store_begin(c->st) != STORE_OK ||
	    store_q(c->st, NULL, NULL, "DELETE FROM rules WHERE id = ?", "j",
	    json_object_get(row, "id")) != STORE_OK ||
	    caudit_pack(c, "rule.deleted", center_actor(req->peer, actor, sizeof(actor)),
	    jsonx_str(row, "owner"), NULL, NULL, 0, "{s:O}", "rule", o) == -1) {
		resp_store(c, resp);
		goto out;
	}
	if (tx_commit(c, resp) == 0)
		resp_json(resp, 200, json_pack("{s:O}", "deleted", json_object_get(row, "id")));
out:
	json_decref(o);
	json_decref(row);
}

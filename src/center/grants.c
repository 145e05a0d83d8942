/*
 * Connection applications (接続申請) and grants (SPEC REQ-CON-1..3). The
 * decision itself is pol_decide (policy.c); this file gathers its inputs from
 * the store, records the outcome (grant row + audit record in one transaction)
 * and manages grants afterwards (approve, deny, withdraw, expire).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "center/center_int.h"
#include "lib/util.h"

static const char *const decision_names[] = { "denied", "granted", "pending" };

static json_t *
flows_json(const struct pol_result *res)
{
	json_t *a = json_array();

	for (size_t i = 0; i < res->nflows; i++) {
		const struct pol_flow *f = &res->flows[i];
		char s[ADDR_STRLEN], d[ADDR_STRLEN];

		prefix_format(&f->src, s, sizeof(s));
		prefix_format(&f->dst, d, sizeof(d));
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:i,s:i,s:i}",
		    "from", f->from_initiator ? "initiator" : "responder", "src", s,
		    "dst", d, "proto", f->proto, "port_lo", f->port_lo,
		    "port_hi", f->port_hi));
	}
	return a;
}

/* stored flows in the administrator's notation: proto names, "ports" */
static json_t *
flows_out(const json_t *stored)
{
	json_t *a = json_array(), *f;
	size_t i;

	json_array_foreach(stored, i, f) {
		json_int_t p = json_integer_value(json_object_get(f, "proto"));
		json_int_t lo = json_integer_value(json_object_get(f, "port_lo"));
		json_int_t hi = json_integer_value(json_object_get(f, "port_hi"));
		char pb[8], ports[16];
		json_t *o = json_pack("{s:O,s:O,s:O,s:s}", "from", json_object_get(f, "from"),
		    "src", json_object_get(f, "src"), "dst", json_object_get(f, "dst"),
		    "proto", pol_proto_name((uint8_t)p, pb, sizeof(pb)));

		if (pol_proto_has_ports((uint8_t)p) && !(lo == 0 && hi == 65535)) {
			if (lo == hi)
				xsnprintf(ports, sizeof(ports), "%lld", (long long)lo);
			else
				xsnprintf(ports, sizeof(ports), "%lld-%lld", (long long)lo,
				    (long long)hi);
			json_object_set_new(o, "ports", json_string(ports));
		}
		json_array_append_new(a, o);
	}
	return a;
}

json_t *
grant_out(const json_t *r)
{
	json_t *flows = json_loads(jsonx_str(r, "flows"), 0, NULL);
	json_t *crypto = json_loads(jsonx_str(r, "crypto"), 0, NULL);
	json_t *o;

	o = json_pack("{s:O,s:O,s:O,s:O,s:O,s:o,s:o,s:O,s:O,s:O,s:O,s:O,s:O,s:O}",
	    "id", json_object_get(r, "id"),
	    "initiator", json_object_get(r, "initiator"),
	    "responder", json_object_get(r, "responder"),
	    "initiator_device", json_object_get(r, "initiator_device"),
	    "responder_device", json_object_get(r, "responder_device"),
	    "flows", flows != NULL ? flows_out(flows) : json_null(),
	    "crypto", crypto != NULL ? crypto : json_null(),
	    "not_before", json_object_get(r, "not_before"),
	    "not_after", json_object_get(r, "not_after"),
	    "status", json_object_get(r, "status"),
	    "reason", json_object_get(r, "reason"),
	    "requested_by", json_object_get(r, "requested_by"),
	    "created", json_object_get(r, "created"),
	    "updated", json_object_get(r, "updated"));
	json_decref(flows);
	return o;
}

static json_t *
grant_row(struct center *c, int64_t id)
{
	json_t *row = NULL;

	store_q1(c->st, &row, "SELECT * FROM grants WHERE id = ?", "i", id);
	return row;
}

int
grants_withdraw_where(struct center *c, const char *actor, const char *reason,
    const char *where, const char *fmt, ...)
{
	char sql[1024];
	json_t *rows, *r;
	va_list ap;
	size_t i;
	int rc;

	xsnprintf(sql, sizeof(sql), "SELECT id, initiator, responder, status FROM grants g "
	    "WHERE status IN ('active', 'pending') AND (%s) ORDER BY id", where);
	va_start(ap, fmt);
	rc = store_qv(c->st, &rows, NULL, sql, fmt, ap);
	va_end(ap);
	if (rc != STORE_OK)
		return -1;
	json_array_foreach(rows, i, r) {
		int64_t id = json_integer_value(json_object_get(r, "id"));

		if (store_q(c->st, NULL, NULL, "UPDATE grants SET status = 'withdrawn', "
		    "reason = ?, updated = ? WHERE id = ?", "sii", reason, center_now(c), id) !=
		    STORE_OK ||
		    caudit_pack(c, "grant.withdrawn", actor, NULL, jsonx_str(r, "initiator"),
		    NULL, id, "{s:s,s:s,s:s}", "reason", reason, "responder",
		    jsonx_str(r, "responder"), "was", jsonx_str(r, "status")) == -1) {
			json_decref(rows);
			return -1;
		}
		log_info("grant=%lld: withdrawn: %s", (long long)id, reason);
	}
	rc = (int)json_array_size(rows);
	json_decref(rows);
	return rc;
}

int
grants_expire(struct center *c)
{
	int64_t now = center_now(c);
	json_t *rows, *r;
	size_t i;
	int n;

	if (store_begin(c->st) != STORE_OK)
		return -1;
	if (store_q(c->st, &rows, NULL, "SELECT id, initiator, responder FROM grants WHERE "
	    "status IN ('active', 'pending') AND not_after <= ?", "i", now) != STORE_OK) {
		store_rollback(c->st);
		return -1;
	}
	json_array_foreach(rows, i, r) {
		int64_t id = json_integer_value(json_object_get(r, "id"));

		if (store_q(c->st, NULL, NULL, "UPDATE grants SET status = 'expired', updated "
		    "= ? WHERE id = ?", "ii", now, id) != STORE_OK ||
		    caudit_pack(c, "grant.expired", "center", NULL, jsonx_str(r, "initiator"),
		    NULL, id, "{s:s}", "responder", jsonx_str(r, "responder")) == -1) {
			json_decref(rows);
			store_rollback(c->st);
			return -1;
		}
	}
	n = (int)json_array_size(rows);
	json_decref(rows);
	if (n == 0) {
		store_rollback(c->st);
		return 0;
	}
	if (store_commit(c->st) != STORE_OK)
		return -1;
	if (c->changed != NULL)
		c->changed(c->changed_arg);
	return n;
}

/* the site's registered, unrevoked device id into out ("" when none) */
static void
site_device(struct center *c, const char *site, char *out, size_t cap)
{
	json_t *row = NULL;

	out[0] = '\0';
	if (store_q1(c->st, &row, "SELECT id FROM devices WHERE site = ? AND status != "
	    "'revoked' ORDER BY id LIMIT 1", "s", site) == STORE_OK && row != NULL)
		xsnprintf(out, cap, "%s", jsonx_str(row, "id"));
	json_decref(row);
}

/*
 * One application from initiator to responder, decided and recorded. The
 * response body is {"decision", "reason", "grant"?}; 200 for every decision
 * (a denial is an answer, not an error: it is in the audit trail).
 */
static void
apply(struct center *c, const char *actor, const char *initiator, const char *responder,
    struct center_resp *resp)
{
	struct pol_site si, sr;
	struct pol_rule *rules = NULL;
	struct pol_input in;
	struct pol_result *res = xcalloc(1, sizeof(*res));
	json_t *groups = NULL, *g, *org = NULL, *flows = NULL, *crypto = NULL, *ids = NULL;
	json_t *existing = NULL, *out = NULL;
	const char **names = NULL;
	char dev_i[CENTER_NAME_MAX], dev_r[CENTER_NAME_MAX], why[160];
	char *flows_txt = NULL, *crypto_txt = NULL;
	size_t nrules = 0, i;
	int64_t id = 0;

	/* read and write in one transaction: the decision is taken on the state
	 * it is recorded against (the router rolls back on every early exit) */
	if (store_begin(c->st) != STORE_OK) {
		resp_store(c, resp);
		goto out;
	}
	if (site_load(c, initiator, &si) == -1) {
		resp_error(resp, 404, "site \"%.63s\" not found", initiator);
		goto out;
	}
	if (site_load(c, responder, &sr) == -1) {
		resp_error(resp, 404, "site \"%.63s\" not found", responder);
		goto out;
	}
	if (store_q(c->st, &groups, NULL, "SELECT a.grp AS g FROM group_members a JOIN "
	    "group_members b ON a.grp = b.grp WHERE a.site = ? AND b.site = ? ORDER BY a.grp",
	    "ss", initiator, responder) != STORE_OK || rules_load(c, &rules, &nrules) == -1) {
		resp_store(c, resp);
		goto out;
	}
	names = xcalloc(json_array_size(groups) + 1, sizeof(*names));
	json_array_foreach(groups, i, g)
		names[i] = jsonx_str(g, "g");
	org = row_get(c, "orgs", "name", sr.org);
	memset(&in, 0, sizeof(in));
	in.init = &si;
	in.resp = &sr;
	in.common_groups = names;
	in.ncommon = json_array_size(groups);
	in.rules = rules;
	in.nrules = nrules;
	in.resp_org_auto_approve = org != NULL &&
	    json_integer_value(json_object_get(org, "auto_approve")) != 0;
	in.now = center_now(c);
	in.validity_s = c->cfg.grant_validity_s;
	pol_decide(&in, res);
	site_device(c, initiator, dev_i, sizeof(dev_i));
	site_device(c, responder, dev_r, sizeof(dev_r));

	if (res->decision == POL_DENIED) {
		if (caudit_pack(c, "connection.denied", actor, si.org, initiator,
		    dev_i[0] != '\0' ? dev_i : NULL, 0, "{s:s,s:s,s:o}", "responder",
		    responder, "reason", res->reason, "groups", json_deep_copy(groups)) == -1) {
			resp_store(c, resp);
			goto out;
		}
		log_info("site=%s: connection to %s denied: %s", initiator, responder,
		    res->reason);
		out = json_pack("{s:s,s:s}", "decision", "denied", "reason", res->reason);
		goto commit;
	}

	flows = flows_json(res);
	crypto = center_crypto_json(&c->cfg.crypto);
	flows_txt = json_dumps(flows, JSON_COMPACT);
	crypto_txt = json_dumps(crypto, JSON_COMPACT);
	/* the same terms already granted and not near their end: keep that grant */
	if (res->decision == POL_GRANTED && store_q1(c->st, &existing, "SELECT * FROM grants "
	    "WHERE initiator = ? AND responder = ? AND status = 'active' AND flows = ? AND "
	    "crypto = ? AND initiator_device = ? AND responder_device = ? AND not_after > ? "
	    "ORDER BY id DESC LIMIT 1", "ssssssi", initiator, responder, flows_txt,
	    crypto_txt, dev_i, dev_r, in.now + c->cfg.grant_validity_s / 2) == STORE_OK &&
	    existing != NULL) {
		id = json_integer_value(json_object_get(existing, "id"));
		if (caudit_pack(c, "connection.granted", actor, si.org, initiator, dev_i, id,
		    "{s:s,s:s,s:b}", "responder", responder, "reason", res->reason,
		    "existing", 1) == -1) {
			resp_store(c, resp);
			goto out;
		}
		out = json_pack("{s:s,s:s,s:o}", "decision", "granted", "reason",
		    "an equal grant is already active", "grant", grant_out(existing));
		goto commit;
	}
	if (store_q(c->st, &ids, NULL, "INSERT INTO grants (initiator, responder, "
	    "initiator_device, responder_device, flows, crypto, not_before, not_after, status, "
	    "reason, requested_by, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?) RETURNING id", "ssssssiisssii", initiator, responder, dev_i, dev_r,
	    flows_txt, crypto_txt, res->not_before, res->not_after,
	    res->decision == POL_GRANTED ? "active" : "pending", res->reason, actor, in.now,
	    in.now) != STORE_OK) {
		resp_store(c, resp);
		goto out;
	}
	id = json_integer_value(json_object_get(json_array_get(ids, 0), "id"));
	xsnprintf(why, sizeof(why), "superseded by grant %lld", (long long)id);
	if (grants_withdraw_where(c, actor, why, "g.initiator = ? AND g.responder = ? AND "
	    "g.id != ?", "ssi", initiator, responder, id) == -1 ||
	    caudit_pack(c, res->decision == POL_GRANTED ? "grant.issued" : "grant.pending",
	    actor, si.org, initiator, dev_i, id, "{s:s,s:s,s:s,s:O,s:I}", "responder",
	    responder, "responder_device", dev_r, "reason", res->reason, "flows", flows,
	    "not_after", (json_int_t)res->not_after) == -1) {
		resp_store(c, resp);
		goto out;
	}
	log_info("grant=%lld: %s %s -> %s: %s", (long long)id,
	    decision_names[res->decision], initiator, responder, res->reason);
	existing = grant_row(c, id);
	out = json_pack("{s:s,s:s,s:o}", "decision", decision_names[res->decision],
	    "reason", res->reason, "grant", existing != NULL ? grant_out(existing) :
	    json_null());
commit:
	if (tx_commit(c, resp) == 0) {
		resp_json(resp, 200, out);
		out = NULL;
	}
out:
	json_decref(out);
	json_decref(existing);
	json_decref(ids);
	free(flows_txt);
	free(crypto_txt);
	json_decref(flows);
	json_decref(crypto);
	json_decref(org);
	json_decref(groups);
	free(names);
	free(rules);
	free(res);
}

void
h_admin_apply(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const struct jsonx_field f[] = {
		{ "initiator", JX_STRING, true, 1, CENTER_NAME_MAX - 1 },
		{ "responder", JX_STRING, true, 1, CENTER_NAME_MAX - 1 },
	};
	json_t *b = req_body(req, resp, f, nitems(f));
	char actor[300];

	if (b == NULL)
		return;
	if (strcmp(jsonx_str(b, "initiator"), jsonx_str(b, "responder")) == 0)
		resp_error(resp, 400, "initiator and responder are the same site");
	else
		apply(c, center_actor(req->peer, actor, sizeof(actor)),
		    jsonx_str(b, "initiator"), jsonx_str(b, "responder"), resp);
	json_decref(b);
}

void
h_device_apply(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const struct jsonx_field f[] = {
		{ "peer", JX_STRING, false, 1, CENTER_NAME_MAX - 1 },
		{ "peer_device", JX_STRING, false, 1, CENTER_NAME_MAX - 1 },
	};
	json_t *b = req_body(req, resp, f, nitems(f)), *me = NULL, *peer = NULL;
	const char *psite;
	char actor[300];

	if (b == NULL)
		return;
	if ((jsonx_str(b, "peer") == NULL) == (jsonx_str(b, "peer_device") == NULL)) {
		resp_error(resp, 400, "give exactly one of \"peer\" (a site) and "
		    "\"peer_device\"");
		goto out;
	}
	if ((me = row_get(c, "devices", "id", req->peer->name)) == NULL) {
		resp_error(resp, 403, "device \"%.63s\" is not registered", req->peer->name);
		goto out;
	}
	psite = jsonx_str(b, "peer");
	if (psite == NULL) {
		if (!device_id_valid(jsonx_str(b, "peer_device")) || (peer = row_get(c,
		    "devices", "id", jsonx_str(b, "peer_device"))) == NULL) {
			resp_error(resp, 404, "device \"%.63s\" not found",
			    jsonx_str(b, "peer_device"));
			goto out;
		}
		psite = jsonx_str(peer, "site");
	}
	if (strcmp(psite, jsonx_str(me, "site")) == 0)
		resp_error(resp, 400, "the peer is this device's own site");
	else
		apply(c, center_actor(req->peer, actor, sizeof(actor)), jsonx_str(me, "site"),
		    psite, resp);
out:
	json_decref(peer);
	json_decref(me);
	json_decref(b);
}

/* ---- administration of grants ------------------------------------------ */

void
h_grant_list(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const char *const st[] = { "pending", "active", "withdrawn", "expired",
	    "denied" };
	const char *status = req_query(req, "status"), *site = req_query(req, "site");
	json_t *rows, *out, *r;
	long long limit;
	size_t i;
	bool ok = status == NULL;

	for (i = 0; !ok && i < nitems(st); i++)
		ok = strcmp(status, st[i]) == 0;
	if (!ok) {
		resp_error(resp, 400, "status must be pending, active, withdrawn, expired or "
		    "denied");
		return;
	}
	if (req_query_int(req, resp, "limit", 1, 10000, 1000, &limit) == -1)
		return;
	if (store_q(c->st, &rows, NULL, "SELECT * FROM grants WHERE (? IS NULL OR status = ?) "
	    "AND (? IS NULL OR initiator = ? OR responder = ?) ORDER BY id DESC LIMIT ?",
	    "sssssi", status, status, site, site, site, (int64_t)limit) != STORE_OK) {
		resp_store(c, resp);
		return;
	}
	out = json_array();
	json_array_foreach(rows, i, r)
		json_array_append_new(out, grant_out(r));
	json_decref(rows);
	resp_json(resp, 200, json_pack("{s:o}", "grants", out));
}

static json_t *
must_grant(struct center *c, const char *arg, struct center_resp *resp)
{
	int64_t id = path_id(arg);
	json_t *row = id > 0 ? grant_row(c, id) : NULL;

	if (row == NULL)
		resp_error(resp, 404, "grant \"%.20s\" not found", arg);
	return row;
}

void
h_grant_get(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	json_t *row = must_grant(c, args[0], resp);

	if (row == NULL)
		return;
	resp_json(resp, 200, grant_out(row));
	json_decref(row);
}

/* optional {"reason": …} body of approve/deny/withdraw */
static int
reason_body(const struct center_req *req, struct center_resp *resp, json_t **b)
{
	static const struct jsonx_field f[] = {
		{ "reason", JX_STRING, false, 1, 256 },
	};

	*b = NULL;
	if (req->bodylen == 0)
		return 0;
	*b = req_body(req, resp, f, nitems(f));
	return *b == NULL ? -1 : 0;
}

/* status change from one of `from` to `to` with an audit record */
static void
grant_transition(struct center *c, const struct center_req *req, const char *arg,
    const char *const *from, size_t nfrom, const char *to, const char *kind,
    const char *dflt_reason, struct center_resp *resp)
{
	json_t *row, *b = NULL;
	const char *status, *reason;
	char actor[300], buf[300];
	bool ok = false;

	if ((row = must_grant(c, arg, resp)) == NULL)
		return;
	if (reason_body(req, resp, &b) == -1)
		goto out;
	status = jsonx_str(row, "status");
	for (size_t i = 0; i < nfrom; i++)
		ok = ok || strcmp(status, from[i]) == 0;
	if (!ok) {
		resp_error(resp, 409, "grant %s is %s", arg, status);
		goto out;
	}
	if (strcmp(to, "active") == 0 &&
	    json_integer_value(json_object_get(row, "not_after")) <= center_now(c)) {
		resp_error(resp, 409, "grant %s has run out (not_after passed)", arg);
		goto out;
	}
	center_actor(req->peer, actor, sizeof(actor));
	xsnprintf(buf, sizeof(buf), "%s by %s", dflt_reason, actor);
	reason = b != NULL && jsonx_str(b, "reason") != NULL ? jsonx_str(b, "reason") : buf;
	if (store_begin(c->st) != STORE_OK ||
	    store_q(c->st, NULL, NULL, "UPDATE grants SET status = ?, reason = ?, updated = ? "
	    "WHERE id = ?", "ssij", to, reason, center_now(c), json_object_get(row, "id")) !=
	    STORE_OK ||
	    caudit_pack(c, kind, actor, NULL, jsonx_str(row, "initiator"), NULL,
	    json_integer_value(json_object_get(row, "id")), "{s:s,s:s,s:s}", "responder",
	    jsonx_str(row, "responder"), "reason", reason, "was", status) == -1) {
		resp_store(c, resp);
		goto out;
	}
	if (tx_commit(c, resp) == -1)
		goto out;
	log_info("grant=%s: %s: %s", arg, dflt_reason, reason);
	json_decref(row);
	row = must_grant(c, arg, resp);
	resp_json(resp, 200, row != NULL ? grant_out(row) : NULL);
out:
	json_decref(b);
	json_decref(row);
}

void
h_grant_approve(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const char *const from[] = { "pending" };

	grant_transition(c, req, args[0], from, nitems(from), "active", "grant.approved",
	    "approved", resp);
}

void
h_grant_deny(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const char *const from[] = { "pending" };

	grant_transition(c, req, args[0], from, nitems(from), "denied", "grant.denied",
	    "denied", resp);
}

void
h_grant_withdraw(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const char *const from[] = { "active", "pending" };

	grant_transition(c, req, args[0], from, nitems(from), "withdrawn",
	    "grant.withdrawn", "withdrawn", resp);
}

/*
 * Device-facing endpoints (docs/API.md): enrolment and renewal of the tier-2
 * service certificate (SPEC §3 step 3, REQ-PKI-1..4) and the upload of device
 * events into the audit trail (REQ-AUD-1). The configuration long-poll is in
 * confdoc.c, connection applications in grants.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "center/ca.h"
#include "center/center_int.h"
#include "lib/util.h"

/*
 * A tier-1 caller: registered, not revoked, its certificate the one registered
 * (fingerprint, constant-time), its site and organisation active. Returns the
 * device row or NULL after a 403.
 */
static json_t *
tier1_device(struct center *c, const struct center_req *req, struct center_resp *resp)
{
	const struct center_peer *p = req->peer;
	uint8_t fp[CENTER_FP_LEN];
	json_t *dev;

	if (!device_id_valid(p->name) || (dev = row_get(c, "devices", "id", p->name)) ==
	    NULL) {
		resp_error(resp, 403, "device \"%.63s\" is not registered", p->name);
		return NULL;
	}
	if (strcmp(jsonx_str(dev, "status"), "revoked") == 0) {
		resp_error(resp, 403, "device \"%s\" is revoked", p->name);
		goto fail;
	}
	if (hex_decode(jsonx_str(dev, "fingerprint"), fp, sizeof(fp)) != CENTER_FP_LEN ||
	    CRYPTO_memcmp(fp, p->fp, sizeof(fp)) != 0) {
		resp_error(resp, 403, "the device certificate presented is not the one "
		    "registered for device \"%s\" (fingerprint mismatch)", p->name);
		goto fail;
	}
	return dev;
fail:
	json_decref(dev);
	return NULL;
}

static int
site_active(struct center *c, const char *site, struct center_resp *resp)
{
	struct pol_site s;

	if (site_load(c, site, &s) == -1) {
		resp_error(resp, 403, "site \"%.63s\" does not exist", site);
		return -1;
	}
	if (!s.active) {
		resp_error(resp, 403, "site \"%s\" or its organisation \"%s\" is suspended",
		    s.name, s.org);
		return -1;
	}
	return 0;
}

static void
issue(struct center *c, const struct center_req *req, json_t *dev, const char *kind,
    struct center_resp *resp)
{
	static const struct jsonx_field f[] = {
		{ "csr", JX_STRING, true, 1, 16384 },
	};
	char serial[CENTER_SERIAL_MAX], err[ERRMSG_MAX], actor[300];
	char *cert = NULL, *crl = NULL;
	const char *id = jsonx_str(dev, "id"), *site = jsonx_str(dev, "site");
	int64_t nb, na, now = center_now(c);
	json_t *b;

	if ((b = req_body(req, resp, f, nitems(f))) == NULL)
		return;
	if (site_active(c, site, resp) == -1)
		goto out;
	if (c->ca == NULL) {
		resp_error(resp, 503, "this center has no PKI loaded");
		goto out;
	}
	if (center_ca_issue(c->ca, jsonx_str(b, "csr"), strlen(jsonx_str(b, "csr")), id,
	    c->cfg.service_cert_lifetime_s, &cert, serial, &nb, &na, err, sizeof(err)) ==
	    -1) {
		resp_error(resp, 400, "bad CSR: %s", err);
		goto out;
	}
	center_actor(req->peer, actor, sizeof(actor));
	if (store_begin(c->st) != STORE_OK ||
	    store_q(c->st, NULL, NULL, "INSERT INTO certs (serial, device, not_before, "
	    "not_after, issued, status) VALUES (?, ?, ?, ?, ?, 'valid')", "ssiii", serial, id,
	    nb, na, now) != STORE_OK ||
	    store_q(c->st, NULL, NULL, "UPDATE devices SET status = 'enrolled', "
	    "service_serial = ?, service_not_after = ?, enrolled = COALESCE(enrolled, ?), "
	    "updated = ? WHERE id = ?", "siiis", serial, na, now, now, id) != STORE_OK ||
	    caudit_pack(c, kind, actor, NULL, site, id, 0, "{s:s,s:I,s:s}", "serial", serial,
	    "not_after", (json_int_t)na, "with", req->peer->role == CENTER_ROLE_DEVICE ?
	    "device certificate" : "service certificate") == -1) {
		resp_store(c, resp);
		goto out;
	}
	if (tx_commit(c, resp) == -1)
		goto out;
	log_info("device=%s: %s, service certificate %s until %lld", id,
	    strcmp(kind, "device.enrolled") == 0 ? "enrolled" : "renewed", serial,
	    (long long)na);
	crl = crl_current(c, NULL);
	resp_json(resp, 201, json_pack("{s:s,s:s,s:s,s:[s],s:s,s:o,s:s,s:I,s:I,s:I,s:s}",
	    "device", id, "site", site, "certificate", cert,
	    "chain", center_ca_service_ca_pem(c->ca), "root", center_ca_root_pem(c->ca),
	    "crl", crl != NULL ? json_string(crl) : json_null(), "serial", serial,
	    "not_before", (json_int_t)nb, "not_after", (json_int_t)na,
	    /* two thirds of the life from now (notBefore is back-dated for skew) */
	    "renew_after", (json_int_t)(now_wall_s() + (na - now_wall_s()) * 2 / 3),
	    "root_fingerprint", center_ca_root_fingerprint(c->ca)));
out:
	free(crl);
	free(cert);
	json_decref(b);
}

/* POST /v1/enroll: tier-1 certificate + CSR → service certificate */
void
h_enroll(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	json_t *dev = tier1_device(c, req, resp);

	if (dev == NULL)
		return;
	issue(c, req, dev, "device.enrolled", resp);
	json_decref(dev);
}

/* POST /v1/renew: the same with the current service certificate or tier-1 */
void
h_renew(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	json_t *dev;

	if (req->peer->role == CENTER_ROLE_DEVICE)
		dev = tier1_device(c, req, resp);
	else if ((dev = row_get(c, "devices", "id", req->peer->name)) == NULL)
		resp_error(resp, 403, "device \"%.63s\" is not registered", req->peer->name);
	if (dev == NULL)
		return;
	issue(c, req, dev, "device.renewed", resp);
	json_decref(dev);
}

/* ---- events ------------------------------------------------------------ */

static const char *const event_kinds[] = { "sa_up", "sa_down", "ike_refused",
    "policy_drop", "flow", "clock", "connect", "disconnect" };

static int
event_check(const json_t *e, size_t i, char *err, size_t errlen)
{
	static const struct jsonx_field ef[] = {
		{ "kind", JX_STRING, true, 1, 32 },
		{ "time_ms", JX_INT, true, 1, INT64_MAX },
		{ "peer", JX_STRING, false, 1, 255 },
		{ "grant", JX_INT, false, 1, INT64_MAX },
		{ "reason", JX_STRING, false, 1, 256 },
		{ "flow", JX_OBJECT, false, 0, 0 },
		{ "offset_ms", JX_INT, false, 0, 0 },
		{ "detail", JX_OBJECT, false, 0, 0 },
	};
	static const struct jsonx_field ff[] = {
		{ "src", JX_STRING, true, 1, 64 },
		{ "dst", JX_STRING, true, 1, 64 },
		{ "proto", JX_INT, true, 0, 255 },
		{ "sport", JX_INT, false, 0, 65535 },
		{ "dport", JX_INT, false, 0, 65535 },
		{ "bytes_in", JX_INT, true, 0, INT64_MAX },
		{ "bytes_out", JX_INT, true, 0, INT64_MAX },
		{ "packets_in", JX_INT, false, 0, INT64_MAX },
		{ "packets_out", JX_INT, false, 0, INT64_MAX },
		{ "start_ms", JX_INT, true, 1, INT64_MAX },
		{ "end_ms", JX_INT, true, 1, INT64_MAX },
	};
	char why[ERRMSG_MAX];
	const char *kind;
	bool known = false;

	if (jsonx_validate(e, ef, nitems(ef), why, sizeof(why)) == -1) {
		xsnprintf(err, errlen, "events[%zu]: %s", i, why);
		return -1;
	}
	kind = jsonx_str(e, "kind");
	for (size_t k = 0; k < nitems(event_kinds); k++)
		known = known || strcmp(kind, event_kinds[k]) == 0;
	if (!known) {
		xsnprintf(err, errlen, "events[%zu]: kind must be sa_up, sa_down, ike_refused, "
		    "policy_drop, flow, clock, connect or disconnect", i);
		return -1;
	}
	if (strcmp(kind, "flow") == 0) {
		struct ipaddr a;
		const json_t *fl = json_object_get(e, "flow");

		if (fl == NULL) {
			xsnprintf(err, errlen, "events[%zu]: a flow event needs \"flow\"", i);
			return -1;
		}
		if (jsonx_validate(fl, ff, nitems(ff), why, sizeof(why)) == -1) {
			xsnprintf(err, errlen, "events[%zu].flow: %s", i, why);
			return -1;
		}
		if (ipaddr_parse(jsonx_str(fl, "src"), &a) == -1 ||
		    ipaddr_parse(jsonx_str(fl, "dst"), &a) == -1) {
			xsnprintf(err, errlen, "events[%zu].flow: src and dst must be IP "
			    "addresses", i);
			return -1;
		}
		if (jsonx_int(fl, "end_ms", 0) < jsonx_int(fl, "start_ms", 0)) {
			xsnprintf(err, errlen, "events[%zu].flow: end_ms before start_ms", i);
			return -1;
		}
	}
	if (strcmp(kind, "clock") == 0 && json_object_get(e, "offset_ms") == NULL) {
		xsnprintf(err, errlen, "events[%zu]: a clock event needs \"offset_ms\"", i);
		return -1;
	}
	return 0;
}

/* GET /v1/time: the center's clock, for the devices' offset (REQ-AUD-4) */
void
h_time(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	resp_json(resp, 200, json_pack("{s:I}", "time_ms",
	    (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
}

/* POST /v1/events: {"events": [...]} → audit records device.<kind> */
void
h_events(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	const struct jsonx_field f[] = {
		{ "events", JX_ARRAY, true, 1, c->cfg.max_events },
	};
	json_t *b = req_body(req, resp, f, nitems(f)), *dev = NULL, *e;
	char err[ERRMSG_MAX], actor[300], kind[48];
	size_t i;

	if (b == NULL)
		return;
	json_array_foreach(json_object_get(b, "events"), i, e) {
		if (event_check(e, i, err, sizeof(err)) == -1) {
			resp_error(resp, 400, "%s", err);
			goto out;
		}
	}
	if ((dev = row_get(c, "devices", "id", req->peer->name)) == NULL) {
		resp_error(resp, 403, "device \"%.63s\" is not registered", req->peer->name);
		goto out;
	}
	center_actor(req->peer, actor, sizeof(actor));
	if (store_begin(c->st) != STORE_OK) {
		resp_store(c, resp);
		goto out;
	}
	json_array_foreach(json_object_get(b, "events"), i, e) {
		struct cev ev = { kind, actor, NULL, jsonx_str(dev, "site"), req->peer->name,
		    jsonx_int(e, "grant", 0), e };

		xsnprintf(kind, sizeof(kind), "device.%s", jsonx_str(e, "kind"));
		if (strcmp(kind, "device.clock") == 0 &&
		    llabs(jsonx_int(e, "offset_ms", 0)) > c->cfg.clock_alert_ms) {
			/* REQ-AUD-4: a skewed clock makes the device's records hard to
			 * match against the others: alert, and mark the record */
			log_warn("device=%s: clock off by %lld ms (alert beyond %lld ms)",
			    req->peer->name, jsonx_int(e, "offset_ms", 0),
			    (long long)c->cfg.clock_alert_ms);
			json_object_set_new(e, "alert", json_true());
		}
		if (caudit(c, &ev) == -1) {
			resp_store(c, resp);
			goto out;
		}
	}
	/* events change no device's configuration: commit without the push hook */
	if (store_commit(c->st) != STORE_OK) {
		resp_store(c, resp);
		goto out;
	}
	resp_json(resp, 201, json_pack("{s:I}", "accepted",
	    (json_int_t)json_array_size(json_object_get(b, "events"))));
out:
	json_decref(dev);
	json_decref(b);
}

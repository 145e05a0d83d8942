/*
 * Revocation (SPEC REQ-PKI-5, §3 step 7): of a whole device (every service
 * certificate it holds, and its registration) or of one service certificate by
 * serial. In one transaction: the revocation rows, the grants that relied on the
 * identity withdrawn, a new CRL signed by the service CA, the audit record. The
 * commit fires the push, so connected devices learn it at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "center/ca.h"
#include "center/center_int.h"
#include "lib/util.h"

char *
crl_current(struct center *c, int64_t *number)
{
	char *n = meta_get(c, "crl_number");

	if (number != NULL)
		*number = n != NULL ? strtoll(n, NULL, 10) : 0;
	free(n);
	return meta_get(c, "crl_pem");
}

int
crl_rebuild(struct center *c)
{
	struct center_revoked *v = NULL;
	char err[ERRMSG_MAX], num[32], *pem = NULL;
	json_t *rows = NULL, *r;
	int64_t number;
	uint64_t dirno;
	size_t i;
	int rc = -1;

	if (c->ca == NULL)
		return 0;
	free(crl_current(c, &number));
	/* continue above the directory's own CRL so a device never sees a rollback */
	dirno = center_ca_dir_crl_number(c->ca);
	if ((uint64_t)number < dirno)
		number = (int64_t)dirno;
	number++;
	if (store_q(c->st, &rows, NULL, "SELECT serial, reason, time FROM revocations ORDER "
	    "BY serial", "") != STORE_OK)
		return -1;
	v = xcalloc(json_array_size(rows) + 1, sizeof(*v));
	json_array_foreach(rows, i, r) {
		xsnprintf(v[i].serial, sizeof(v[i].serial), "%s", jsonx_str(r, "serial"));
		if (center_reason_parse(jsonx_str(r, "reason"), &v[i].reason) == -1)
			v[i].reason = 0;
		v[i].when = json_integer_value(json_object_get(r, "time"));
	}
	if (center_ca_crl(c->ca, v, json_array_size(rows), (uint64_t)number,
	    c->cfg.crl_lifetime_s, &pem, err, sizeof(err)) == -1) {
		log_error("crl: %s", err);
		goto out;
	}
	xsnprintf(num, sizeof(num), "%lld", (long long)number);
	if (meta_set(c, "crl_pem", pem) != STORE_OK || meta_set(c, "crl_number", num) !=
	    STORE_OK)
		goto out;
	xsnprintf(num, sizeof(num), "%lld", (long long)(center_now(c) + c->cfg.crl_lifetime_s));
	if (meta_set(c, "crl_next_update", num) != STORE_OK)
		goto out;
	log_info("crl: number %lld with %zu entries", (long long)number, json_array_size(rows));
	rc = 0;
out:
	free(pem);
	free(v);
	json_decref(rows);
	return rc;
}

int
crl_import_dir(struct center *c)
{
	struct center_revoked *v = NULL;
	size_t n = 0;
	int added = 0;

	if (c->ca == NULL || center_ca_dir_revoked(c->ca, &v, &n) == -1)
		return c->ca == NULL ? 0 : -1;
	if (n == 0 || store_begin(c->st) != STORE_OK) {
		free(v);
		return n == 0 ? 0 : -1;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *row = NULL, *cert = NULL;
		const char *reason = center_reason_name(v[i].reason);

		if (store_q1(c->st, &row, "SELECT serial FROM revocations WHERE serial = ?",
		    "s", v[i].serial) != STORE_OK)
			goto fail;
		if (row != NULL) {
			json_decref(row);
			continue;
		}
		if (store_q1(c->st, &cert, "SELECT device FROM certs WHERE serial = ?", "s",
		    v[i].serial) != STORE_OK ||
		    store_q(c->st, NULL, NULL, "INSERT INTO revocations (serial, device, "
		    "reason, time, actor) VALUES (?, ?, ?, ?, 'pki-directory')", "sssi",
		    v[i].serial, cert != NULL ? jsonx_str(cert, "device") : NULL,
		    reason, v[i].when) != STORE_OK ||
		    store_q(c->st, NULL, NULL, "UPDATE certs SET status = 'revoked' WHERE "
		    "serial = ?", "s", v[i].serial) != STORE_OK ||
		    (cert != NULL && (store_q(c->st, NULL, NULL, "UPDATE devices SET status "
		    "= 'registered', service_serial = NULL, service_not_after = NULL WHERE "
		    "id = ? AND status = 'enrolled' AND NOT EXISTS (SELECT 1 FROM certs WHERE "
		    "device = devices.id AND status = 'valid')", "s", jsonx_str(cert,
		    "device")) != STORE_OK || grants_withdraw_where(c, "center",
		    "service certificate revoked in the PKI directory", "g.initiator IN "
		    "(SELECT site FROM devices WHERE id = ?) OR g.responder IN (SELECT site "
		    "FROM devices WHERE id = ?)", "ss", jsonx_str(cert, "device"),
		    jsonx_str(cert, "device")) == -1)) ||
		    caudit_pack(c, "cert.revoked", "center", NULL, NULL, cert != NULL ?
		    jsonx_str(cert, "device") : NULL, 0, "{s:s,s:s,s:s}", "serial",
		    v[i].serial, "reason", reason, "source", "the PKI directory's service "
		    "CRL") == -1) {
			json_decref(cert);
			goto fail;
		}
		log_info("crl: serial %s revoked in the PKI directory, taken over",
		    v[i].serial);
		json_decref(cert);
		added++;
	}
	if ((added > 0 && crl_rebuild(c) == -1) || store_commit(c->st) != STORE_OK)
		goto fail;
	free(v);
	return added;
fail:
	store_rollback(c->st);
	free(v);
	return -1;
}

int
service_cert_check(struct center *c, const struct center_peer *p, char *err, size_t errlen)
{
	json_t *cert = NULL, *dev = NULL;
	int rc = -1;

	if (store_q1(c->st, &cert, "SELECT * FROM certs WHERE serial = ?", "s", p->serial) !=
	    STORE_OK || cert == NULL) {
		xsnprintf(err, errlen, "service certificate %s was not issued by this center",
		    p->serial);
		goto out;
	}
	if (strcmp(jsonx_str(cert, "device"), p->name) != 0) {
		xsnprintf(err, errlen, "service certificate %s belongs to another device",
		    p->serial);
		goto out;
	}
	if (strcmp(jsonx_str(cert, "status"), "valid") != 0) {
		xsnprintf(err, errlen, "service certificate %s is revoked", p->serial);
		goto out;
	}
	if (!device_id_valid(p->name) || (dev = row_get(c, "devices", "id", p->name)) ==
	    NULL || strcmp(jsonx_str(dev, "status"), "revoked") == 0) {
		xsnprintf(err, errlen, "device %.63s is not registered or is revoked",
		    p->name);
		goto out;
	}
	rc = 0;
out:
	json_decref(cert);
	json_decref(dev);
	return rc;
}

void
h_crl(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	int64_t number;
	char *pem = crl_current(c, &number), *next = meta_get(c, "crl_next_update");

	if (pem == NULL)
		resp_error(resp, 503, "no CRL yet");
	else
		resp_json(resp, 200, json_pack("{s:s,s:I,s:I}", "crl", pem, "number",
		    (json_int_t)number, "next_update", (json_int_t)(next != NULL ?
		    strtoll(next, NULL, 10) : 0)));
	free(pem);
	free(next);
}

void
h_revocation_list(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	json_t *rows;

	if (store_q(c->st, &rows, NULL, "SELECT * FROM revocations ORDER BY time, serial",
	    "") != STORE_OK) {
		resp_store(c, resp);
		return;
	}
	resp_json(resp, 200, json_pack("{s:o}", "revocations", rows));
}

/* revoke one certificate row inside the transaction */
static int
revoke_serial(struct center *c, const char *serial, const char *device, const char *reason,
    const char *actor)
{
	return store_q(c->st, NULL, NULL, "INSERT INTO revocations (serial, device, reason, "
	    "time, actor) VALUES (?, ?, ?, ?, ?)", "sssis", serial, device, reason,
	    center_now(c), actor) == STORE_OK &&
	    store_q(c->st, NULL, NULL, "UPDATE certs SET status = 'revoked' WHERE serial = ?",
	    "s", serial) == STORE_OK ? 0 : -1;
}

void
h_revoke(struct center *c, const struct center_req *req, const char *const *args,
    struct center_resp *resp)
{
	static const struct jsonx_field f[] = {
		{ "device", JX_STRING, false, 1, CENTER_NAME_MAX - 1 },
		{ "serial", JX_STRING, false, 1, 128 },
		{ "reason", JX_STRING, false, 1, 32 },
	};
	json_t *b = req_body(req, resp, f, nitems(f)), *dev = NULL, *cert = NULL;
	json_t *certs = NULL, *x, *revoked = json_array();
	char actor[300], why[200], serial[CENTER_SERIAL_MAX];
	const char *reason, *devid;
	size_t i;
	int code;

	if (b == NULL)
		goto out;
	reason = jsonx_str(b, "reason") != NULL ? jsonx_str(b, "reason") : "unspecified";
	if (center_reason_parse(reason, &code) == -1) {
		resp_error(resp, 400, "reason must be an RFC 5280 CRLReason name: "
		    "unspecified, keyCompromise, affiliationChanged, superseded, "
		    "cessationOfOperation, privilegeWithdrawn");
		goto out;
	}
	reason = center_reason_name(code);
	if ((jsonx_str(b, "device") == NULL) == (jsonx_str(b, "serial") == NULL)) {
		resp_error(resp, 400, "give exactly one of \"device\" and \"serial\"");
		goto out;
	}
	center_actor(req->peer, actor, sizeof(actor));
	if (jsonx_str(b, "serial") != NULL) {
		if (center_serial_parse(jsonx_str(b, "serial"), serial) == -1) {
			resp_error(resp, 400, "serial must be the certificate serial number in "
			    "hex");
			goto out;
		}
		if (store_q1(c->st, &cert, "SELECT * FROM certs WHERE serial = ?", "s",
		    serial) != STORE_OK || cert == NULL) {
			resp_error(resp, 404, "no service certificate with serial %s was issued "
			    "by this center", serial);
			goto out;
		}
		if (strcmp(jsonx_str(cert, "status"), "revoked") == 0) {
			resp_error(resp, 409, "certificate %s is already revoked", serial);
			goto out;
		}
		devid = jsonx_str(cert, "device");
		dev = row_get(c, "devices", "id", devid);
		xsnprintf(why, sizeof(why), "service certificate %s of device %s revoked",
		    serial, devid);
		if (store_begin(c->st) != STORE_OK ||
		    revoke_serial(c, serial, devid, reason, actor) == -1 ||
		    store_q(c->st, NULL, NULL, "UPDATE devices SET status = 'registered', "
		    "service_serial = NULL, service_not_after = NULL, updated = ? WHERE id = ? "
		    "AND status = 'enrolled' AND NOT EXISTS (SELECT 1 FROM certs WHERE device = "
		    "devices.id AND status = 'valid')", "is", center_now(c), devid) != STORE_OK ||
		    (dev != NULL && grants_withdraw_where(c, actor, why, "g.initiator = ? OR "
		    "g.responder = ?", "ss", jsonx_str(dev, "site"), jsonx_str(dev, "site")) ==
		    -1) ||
		    caudit_pack(c, "cert.revoked", actor, NULL, dev != NULL ? jsonx_str(dev,
		    "site") : NULL, devid, 0, "{s:s,s:s}", "serial", serial, "reason",
		    reason) == -1 ||
		    crl_rebuild(c) == -1) {
			resp_store(c, resp);
			goto out;
		}
		json_array_append_new(revoked, json_string(serial));
		log_info("device=%s: service certificate %s revoked (%s)", devid, serial,
		    reason);
	} else {
		devid = jsonx_str(b, "device");
		if (!device_id_valid(devid) || (dev = row_get(c, "devices", "id", devid)) ==
		    NULL) {
			resp_error(resp, 404, "device \"%.63s\" not found", devid);
			goto out;
		}
		if (strcmp(jsonx_str(dev, "status"), "revoked") == 0) {
			resp_error(resp, 409, "device \"%s\" is already revoked", devid);
			goto out;
		}
		xsnprintf(why, sizeof(why), "device %s revoked", devid);
		if (store_begin(c->st) != STORE_OK ||
		    store_q(c->st, &certs, NULL, "SELECT serial FROM certs WHERE device = ? AND "
		    "status = 'valid' ORDER BY serial", "s", devid) != STORE_OK) {
			resp_store(c, resp);
			goto out;
		}
		json_array_foreach(certs, i, x) {
			if (revoke_serial(c, jsonx_str(x, "serial"), devid, reason, actor) == -1) {
				resp_store(c, resp);
				goto out;
			}
			json_array_append(revoked, json_object_get(x, "serial"));
		}
		if (store_q(c->st, NULL, NULL, "UPDATE devices SET status = 'revoked', "
		    "updated = ? WHERE id = ?", "is", center_now(c), devid) != STORE_OK ||
		    grants_withdraw_where(c, actor, why, "g.initiator = ? OR g.responder = ?",
		    "ss", jsonx_str(dev, "site"), jsonx_str(dev, "site")) == -1 ||
		    caudit_pack(c, "device.revoked", actor, NULL, jsonx_str(dev, "site"), devid,
		    0, "{s:s,s:O}", "reason", reason, "serials", revoked) == -1 ||
		    crl_rebuild(c) == -1) {
			resp_store(c, resp);
			goto out;
		}
		log_info("device=%s: revoked (%s), %zu certificate(s)", devid, reason,
		    json_array_size(revoked));
	}
	if (tx_commit(c, resp) == 0) {
		int64_t number;

		free(crl_current(c, &number));
		resp_json(resp, 201, json_pack("{s:s,s:O,s:s,s:I}", "device", devid,
		    "serials", revoked, "reason", reason, "crl_number", (json_int_t)number));
	}
out:
	json_decref(certs);
	json_decref(revoked);
	json_decref(cert);
	json_decref(dev);
	json_decref(b);
}

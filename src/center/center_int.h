/*
 * Internal to src/center: helpers shared by the request handlers. Nothing here
 * is used outside this directory (and its unit tests).
 */
#ifndef ODVPN_CENTER_CENTER_INT_H
#define ODVPN_CENTER_CENTER_INT_H

#include <stdarg.h>

#include "center/center.h"
#include "center/policy.h"
#include "center/store.h"
#include "lib/jsonx.h"

#define ERRMSG_MAX	512

/* the args of a matched route: ":name" segments of the path, in order */
#define ROUTE_ARGS_MAX	3

typedef void (*handler_fn)(struct center *, const struct center_req *,
    const char *const *args, struct center_resp *);

/* ---- responses (center.c) ---------------------------------------------- */

/* {"error": message} with status */
void	resp_error(struct center_resp *, int status, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* body is stolen */
void	resp_json(struct center_resp *, int status, json_t *body);
/* a failed store call: 409 for a constraint, else 500 (logged) */
void	resp_store(struct center *, struct center_resp *);
/*
 * Parse the request body as one JSON object and validate it against fields.
 * NULL with a 400 (or 415/413) in resp on failure; else a new reference.
 */
json_t	*req_body(const struct center_req *, struct center_resp *,
	    const struct jsonx_field *, size_t);
/* a query parameter, or NULL */
const char *req_query(const struct center_req *, const char *);
/* strict integer query parameter; -1 and a 400 in resp when malformed */
int	req_query_int(const struct center_req *, struct center_resp *, const char *key,
	    long long min, long long max, long long dflt, long long *out);

/* ---- common (center.c) ------------------------------------------------- */

int64_t	center_now(const struct center *);
/* "admin:<CN>", "device:<id>"; into buf */
const char *center_actor(const struct center_peer *, char *buf, size_t cap);
/* 1..63 of [A-Za-z0-9._-], starting with a letter or digit */
bool	name_valid(const char *);
/* a numeric id in a path (rules, grants): a positive decimal integer, or -1 */
int64_t	path_id(const char *);
/* a device id: the PKI's (an IKE ID_FQDN, lower-case LDH), at most 63 characters */
bool	device_id_valid(const char *);
/* commit the open transaction and fire center->changed; 500 in resp on failure */
int	tx_commit(struct center *, struct center_resp *);
/* the row of table where key = val, or NULL (store errors count as absent
 * after logging; callers in a transaction then fail on their next write) */
json_t	*row_get(struct center *, const char *table, const char *key, const char *val);

/* ---- audit (caudit.c) -------------------------------------------------- */

struct cev {
	const char	*kind;
	const char	*actor;
	const char	*org, *site, *device;
	int64_t		 grant;
	json_t		*detail;	/* borrowed; NULL: {} */
};

/* append one record to the hash chain, inside the caller's transaction */
int	caudit(struct center *, const struct cev *);
/* helper: build detail with json_pack format, append, drop the detail */
int	caudit_pack(struct center *, const char *kind, const char *actor,
	    const char *org, const char *site, const char *device, int64_t grant,
	    const char *fmt, ...);

/* ---- handlers ---------------------------------------------------------- */

/* admin.c: organisations, sites, devices, groups */
void	h_org_list(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_org_create(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_org_get(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_org_update(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_org_delete(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_site_list(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_site_create(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_site_get(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_site_update(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_site_delete(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_device_list(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_device_create(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_device_get(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_device_update(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_device_delete(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_group_list(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_group_create(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_group_get(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_group_update(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_group_delete(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_member_add(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_member_remove(struct center *, const struct center_req *, const char *const *, struct center_resp *);

/* rules.c */
void	h_rule_list(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_rule_create(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_rule_get(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_rule_delete(struct center *, const struct center_req *, const char *const *, struct center_resp *);

/* grants.c */
void	h_grant_list(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_grant_get(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_grant_approve(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_grant_deny(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_grant_withdraw(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_admin_apply(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_device_apply(struct center *, const struct center_req *, const char *const *, struct center_resp *);

/* revoke.c */
void	h_revocation_list(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_revoke(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_crl(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_time(struct center *, const struct center_req *, const char *const *, struct center_resp *);

/* caudit.c */
void	h_audit_list(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_audit_verify(struct center *, const struct center_req *, const char *const *, struct center_resp *);

/* device.c */
void	h_enroll(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_renew(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_config(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_events(struct center *, const struct center_req *, const char *const *, struct center_resp *);

/* center.c */
void	h_status(struct center *, const struct center_req *, const char *const *, struct center_resp *);
void	h_export(struct center *, const struct center_req *, const char *const *, struct center_resp *);

/* ---- shared logic ------------------------------------------------------ */

/* admin.c: output forms of stored rows (new references) */
json_t	*org_out(const json_t *row);
json_t	*site_out(const json_t *row);
json_t	*device_out(const json_t *row);
/* load a site for the policy engine; -1 when unknown or unreadable */
int	site_load(struct center *, const char *name, struct pol_site *);

/* rules.c */
json_t	*rule_out(const json_t *row);
/* every rule, for pol_decide; caller frees *rules */
int	rules_load(struct center *, struct pol_rule **rules, size_t *n);

/* grants.c */
json_t	*grant_out(const json_t *row);
/*
 * Withdraw (status → withdrawn, reason) every active or pending grant selected
 * by `where` (an SQL condition on table grants aliased g, parameters fmt/...),
 * with an audit record each. Inside the caller's transaction. Returns the
 * number withdrawn, or -1 on a store error.
 */
int	grants_withdraw_where(struct center *, const char *actor, const char *reason,
	    const char *where, const char *fmt, ...);
/* mark grants past their not_after expired (its own transaction); count or -1 */
int	grants_expire(struct center *);

/* revoke.c: rebuild and store the CRL inside the caller's transaction */
int	crl_rebuild(struct center *);
/* take over revocations made in the PKI directory while the center was down
 * (its own transaction); number taken over, or -1 */
int	crl_import_dir(struct center *);
/* the current CRL (PEM) and its number; NULL when none yet */
char	*crl_current(struct center *, int64_t *number);
/* 0: the service certificate serial is valid for device; -1 with reason */
int	service_cert_check(struct center *, const struct center_peer *, char *err,
	    size_t errlen);

/* confdoc.c */
json_t	*confdoc_build(struct center *, const char *device);

/* the crypto policy as devices and grants carry it (center.c) */
json_t	*center_crypto_json(const struct center_crypto *);

/* meta key/value (center.c) */
char	*meta_get(struct center *, const char *key);
int	meta_set(struct center *, const char *key, const char *value);

#endif

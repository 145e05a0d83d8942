/*
 * odvpn demo, steps 6 to 12: traffic on demand, the refusals, revocation and
 * the audit trail. Every claim a step prints is checked against odvpnd's own
 * counters and logs or the center's answers; a step passes only when what
 * should work worked and what should be refused was refused, and counted.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/demo_int.h"
#include "lib/jsonx.h"
#include "lib/util.h"

#define SERVER	"10.1.0.10"
#define ANALYSER "10.3.0.10"

/* the last line of s's odvpnd log holding needle, shown; false if none */
static bool
log_show(struct demo *d, struct demo_site *s, const char *needle)
{
	uint8_t *buf = NULL;
	size_t len;
	char *p, *last = NULL;

	if (file_read_all(s->log, 16 << 20, &buf, &len) == -1)
		return false;
	for (p = (char *)buf; (p = strstr(p, needle)) != NULL; p++)
		last = p;
	if (last != NULL) {
		char *start = last, *end = strchr(last, '\n');

		while (start > (char *)buf && start[-1] != '\n')
			start--;
		if (end != NULL)
			*end = '\0';
		say("    %s log: %s", s->device, start);
	}
	free(buf);
	return last != NULL;
}

static bool
has_peer(json_t *arr, const char *key, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (jsonx_str(v, key) != NULL && strcmp(jsonx_str(v, key), name) == 0)
			return true;
	return false;
}

static bool
peer_state(struct demo_site *s, const char *peer, const char *state)
{
	json_t *r = site_peers(s), *p;
	bool match = false;
	size_t i;

	json_array_foreach(json_object_get(r, "peers"), i, p)
		if (strcmp(jsonx_str(p, "name"), peer) == 0)
			match = strcmp(jsonx_str(p, "state"), state) == 0;
	json_decref(r);
	return match;
}

/* an IKE or CHILD SA with peer at s */
static bool
tunnel_up(struct demo_site *s, const char *peer)
{
	json_t *r = site_status(s);
	bool up = r != NULL && (has_peer(json_object_get(r, "ike_sas"), "peer", peer) ||
	    has_peer(json_object_get(r, "child_sas"), "peer", peer));

	json_decref(r);
	return up;
}

static long long
ike_counter(struct demo_site *s, const char *name)
{
	json_t *r = site_status(s);
	long long n = r != NULL ? jsonx_int(json_object_get(r, "ike"), name, 0) : -1;

	json_decref(r);
	return n;
}

/* ---- 6 ------------------------------------------------------------------------- */

bool
step_clinic_hospital(struct demo *d)
{
	struct demo_site *H = &d->site[SITE_HOSP], *C = &d->site[SITE_CLINIC];
	bool idle, pinged, tcp, up;
	double rtt;
	long ms;

	step_begin(d, 6);
	say("  No tunnel exists yet: the clinic's device lists the hospital as idle.");
	site_show(d, C, "peers");
	idle = peer_state(C, H->name, "idle");
	say("  The clinic's PC pings the hospital server; the first packet is held while");
	say("  the two devices run IKEv2 (certificates from step 3), then delivered:");
	pinged = site_ping(d, C, SERVER, 5, &rtt, true) == 0;
	if (pinged)
		say("  → the very first packet was answered, %.1f ms after it was sent "
		    "(tunnel set-up included): nothing lost.", rtt);
	(void)log_show(d, C, "tunnel up in");
	say("  And the hospital's HTTPS port, through the same tunnel:");
	tcp = site_tcp(d, C, SERVER, 443, "HTTPS", 3000, &ms) == 0;
	site_show(d, C, "status");
	up = tunnel_up(C, H->name);
	return step_end(d, 6, idle && pinged && tcp && up, pinged ?
	    "clinic → hospital: first packet answered after %.1f ms, tunnel made on "
	    "demand; HTTPS %s" : "clinic → hospital: no answer (%.0f)", rtt,
	    tcp ? "works" : "FAILED");
}

/* ---- 7 ------------------------------------------------------------------------- */

bool
step_lab_hospital(struct demo *d)
{
	struct demo_site *H = &d->site[SITE_HOSP], *C = &d->site[SITE_CLINIC],
	    *L = &d->site[SITE_LAB];
	bool tcp, noping, both;
	double rtt;
	long ms = -1;

	step_begin(d, 7);
	say("  The lab's analyser sends its results to the hospital server over HTTPS:");
	tcp = site_tcp(d, L, SERVER, 443, "HTTPS", 5000, &ms) == 0;
	if (tcp)
		say("  → %ld ms including the set-up of a second tunnel at the hospital.", ms);
	say("  Ping is not among the lab's granted flows, so the lab's own device holds it:");
	noping = site_ping(d, L, SERVER, 1, &rtt, true) != 0;
	say("  The hospital's device now holds tunnels with the clinic and the lab:");
	site_show(d, H, "status");
	both = tunnel_up(H, C->name) && tunnel_up(H, L->name);
	return step_end(d, 7, tcp && noping && both,
	    "lab → hospital: HTTPS %s, ping %s; hospital %s",
	    tcp ? "works" : "FAILED", noping ? "refused by the lab's rules" : "NOT refused",
	    both ? "has 2 tunnels at once" : "does NOT have both tunnels");
}

/* ---- 8 ------------------------------------------------------------------------- */

bool
step_clinic_lab(struct demo *d)
{
	struct demo_site *C = &d->site[SITE_CLINIC], *L = &d->site[SITE_LAB];
	json_t *peers;
	bool none, noping;
	double rtt;

	step_begin(d, 8);
	say("  The center denied clinic → lab (step 4), so no grant names them: neither");
	say("  device has the other as a peer, and there is no route between them.");
	site_show(d, C, "peers");
	peers = site_peers(C);
	none = peers != NULL && !has_peer(json_object_get(peers, "peers"), "name", L->name);
	json_decref(peers);
	noping = site_ping(d, C, ANALYSER, 2, &rtt, true) != 0;
	return step_end(d, 8, none && noping, "clinic → lab: %s; the clinic's device %s",
	    noping ? "no answer" : "ANSWERED", none ? "knows no such peer (no grant, no route)" :
	    "HAS the lab as a peer");
}

/* ---- 9 ------------------------------------------------------------------------- */

static json_t *
lab_lan(void)
{
	return json_pack("[s]", "10.3.0.0/24");
}

bool
step_relay(struct demo *d)
{
	struct demo_site *H = &d->site[SITE_HOSP], *C = &d->site[SITE_CLINIC];
	long long sel0, sel1, rel0, rel1;
	bool ok1, ok2, cfg;
	json_t *extra = lab_lan();
	double rtt;

	step_begin(d, 9);
	say("  A careless (or malicious) operator edits the clinic's device configuration:");
	say("  the lab's LAN 10.3.0.0/24 is \"behind the hospital\", and the rules are");
	say("  deleted, so the clinic's own device no longer holds anything back:");
	(void)site_stop(d, C);
	cfg = site_write_config(d, C, H->name, extra, true) == 0;
	json_decref(extra);
	say("    edited peer \"%s\" in $D/%s/odvpnd.json: \"prefixes\": [\"%s\", "
	    "\"10.3.0.0/24\"], \"rules\": []", H->name, C->name, SERVER "/32");
	say_cmd(d, C->device, ARGV(d->odvpnd, "--config", C->conf));
	cfg = cfg && site_start(d, C) == 0;
	sel0 = site_drops(C, "selector");
	say("  The clinic's PC tries the lab's analyser:");
	ok1 = cfg && site_ping(d, C, ANALYSER, 2, &rtt, true) != 0;
	sel1 = site_drops(C, "selector");
	say("  Where and why: the tunnel was negotiated anew, and the hospital agreed to");
	say("  carry only what the grant names — its server — for the clinic (IKE traffic");
	say("  selectors narrowed), so the packet for the lab may not enter that tunnel:");
	(void)log_show(d, C, "tunnel up");
	(void)log_show(d, C, "policy drop: selector");
	say("    clinic-gw: packets dropped as \"selector\": %lld → %lld", sel0, sel1);
	ok1 = ok1 && sel1 > sel0;

	say("  The same operator then routes the lab's LAN to the hospital's Internet");
	say("  address, outside the tunnel:");
	rel0 = site_drops(H, "relay");
	ok2 = demo_run(d, C->ns_gw, C->device, ARGV("ip", "route", "replace", "10.3.0.0/24",
	    "via", "192.0.2.1"), RUN_PATH | RUN_SHOW | RUN_OUT, 5000, NULL) == 0;
	ok2 = ok2 && site_ping(d, C, ANALYSER, 2, &rtt, true) != 0;
	rel1 = site_drops(H, "relay");
	say("  The hospital's gateway routes it toward its tunnel to the lab, and its");
	say("  no-relay rule drops it: traffic that did not come from the hospital's own");
	say("  LAN never enters another partner's tunnel (REQ-POL-1):");
	(void)log_show(d, H, "policy drop: relay");
	say("    hospital-gw: packets dropped as \"relay\": %lld → %lld", rel0, rel1);
	ok2 = ok2 && rel1 > rel0;
	(void)demo_run(d, C->ns_gw, C->device, ARGV("ip", "route", "del", "10.3.0.0/24"),
	    RUN_PATH | RUN_SHOW, 5000, NULL);
	return step_end(d, 9, ok1 && ok2, "relay refused: at the clinic (selectors narrowed, "
	    "%lld dropped), at the hospital (no-relay, %lld dropped)",
	    sel1 - sel0, rel1 - rel0);
}

/* ---- 10 ------------------------------------------------------------------------ */

bool
step_port(struct demo *d)
{
	struct demo_site *H = &d->site[SITE_HOSP], *C = &d->site[SITE_CLINIC];
	long long h0, h1, c0, c1;
	bool a, b, https;
	long ms;

	step_begin(d, 10);
	say("  The clinic's PC tries SSH (TCP 22) on the hospital server; grant %lld allows",
	    d->grant_clinic);
	say("  only HTTPS (443) and ping. With the clinic's rules still deleted (step 9),");
	say("  its device sends it — and the hospital's device, which checks what it");
	say("  decrypts against the grant (REQ-CON-3), drops it:");
	h0 = site_drops(H, "rule");
	a = site_tcp(d, C, SERVER, 22, "SSH", 2000, &ms) != 0;
	h1 = site_drops(H, "rule");
	(void)log_show(d, H, "policy drop: rule");
	site_show(d, H, "status");
	say("    hospital-gw: packets dropped as \"rule\": %lld → %lld", h0, h1);
	a = a && h1 > h0;

	say("  The clinic's operator restores the configuration written from grant %lld:",
	    d->grant_clinic);
	(void)site_stop(d, C);
	b = site_write_config(d, C, NULL, NULL, false) == 0;
	say_cmd(d, C->device, ARGV(d->odvpnd, "--config", C->conf));
	b = b && site_start(d, C) == 0;
	c0 = site_drops(C, "rule");
	say("  Now the clinic's own device refuses SSH before anything is sent:");
	b = b && site_tcp(d, C, SERVER, 22, "SSH", 2000, &ms) != 0;
	c1 = site_drops(C, "rule");
	(void)log_show(d, C, "policy drop: rule");
	say("    clinic-gw: packets dropped as \"rule\": %lld → %lld", c0, c1);
	b = b && c1 > c0;
	say("  HTTPS, which the grant allows, still works:");
	https = site_tcp(d, C, SERVER, 443, "HTTPS", 5000, &ms) == 0;
	return step_end(d, 10, a && b && https, "TCP 22 refused by the hospital (%lld "
	    "dropped, rule) and the restored clinic (%lld); HTTPS %s", h1 - h0,
	    c1 - c0, https ? "works" : "FAILED");
}

/* ---- 11 ------------------------------------------------------------------------ */

bool
step_revoke(struct demo *d)
{
	struct demo_site *H = &d->site[SITE_HOSP], *L = &d->site[SITE_LAB];
	uint64_t t0, t_rev, t_crl, t_gone = 0;
	long long refused0, refused1;
	char err[1024];
	bool up, revoked, crl, gone, blocked;
	long ms;

	step_begin(d, 11);
	if (!tunnel_up(H, L->name)) {
		say("  (the hospital–lab tunnel is brought up first)");
		(void)site_tcp(d, L, SERVER, 443, "HTTPS", 5000, &ms);
	}
	up = tunnel_up(H, L->name);
	say("  The lab's device is reported stolen. The provider revokes it; the center");
	say("  re-signs its CRL and withdraws the lab's grants:");
	t0 = demo_ms();
	revoked = demo_admin(d, ARGV("revoke", "device", (char *)L->device, "--reason",
	    "keyCompromise"), RUN_SHOW | RUN_OUT, NULL) == 0;
	t_rev = demo_ms();
	say("  Until the managed mode receives it by push, the hospital's device fetches");
	say("  the new CRL from the center (GET /v1/crl) and odvpnd is told to re-read it");
	say("  (SIGHUP):");
	crl = revoked && site_fetch_crl(d, H, err, sizeof(err)) == 0;
	if (!crl && revoked)
		say("    the CRL could not be fetched: %s", err);
	if (crl)
		crl = kill(H->pid, SIGHUP) == 0;
	t_crl = demo_ms();
	for (uint64_t end = demo_ms() + 5000; crl && demo_ms() < end; ) {
		if (!tunnel_up(H, L->name)) {
			t_gone = demo_ms();
			break;
		}
		if (!demo_sleep(5))
			break;
	}
	gone = t_gone != 0;
	if (gone) {
		say("  → revocation to tunnel gone at the hospital: %llu ms (target < 1 s: %s)",
		    (unsigned long long)(t_gone - t0), t_gone - t0 < 1000 ? "met" : "missed");
		say("    (revoke answered after %llu ms, CRL at the hospital after %llu ms, "
		    "tunnel closed %llu ms later)", (unsigned long long)(t_rev - t0),
		    (unsigned long long)(t_crl - t0), (unsigned long long)(t_gone - t_crl));
	}
	(void)log_show(d, H, "revoked, closing");
	refused0 = ike_counter(H, "auth_failed");
	say("  The lab's analyser tries again: its device starts a new handshake, which the");
	say("  hospital refuses (the certificate is on the CRL):");
	blocked = site_tcp(d, L, SERVER, 443, "HTTPS", 3000, &ms) != 0;
	refused1 = ike_counter(H, "auth_failed");
	(void)log_show(d, H, "revoked");
	site_show(d, H, "status");
	if (!gone)
		return step_end(d, 11, false, "the hospital–lab tunnel did NOT fall within 5 s "
		    "of the revocation%s", up ? "" : " (it was not up)");
	return step_end(d, 11, up && revoked && crl && blocked && refused1 > refused0,
	    "lab revoked: hospital–lab tunnel gone %llu ms after the revoke (target < 1 s); "
	    "lab cut off",
	    (unsigned long long)(t_gone - t0));
}

/* ---- 12 ------------------------------------------------------------------------ */

bool
step_audit(struct demo *d)
{
	struct dbuf out = { NULL, 0 };
	json_t *v;
	long long records = 0, first;
	char after[32];
	bool intact, shown;

	step_begin(d, 12);
	say("  The center writes every change and decision to a hash-chained audit trail");
	say("  in the same transaction as the change. Its integrity:");
	intact = demo_admin(d, ARGV("audit", "verify"), RUN_SHOW | RUN_OUT, NULL) == 0;
	if ((v = demo_admin_json(d, ARGV("audit", "verify"))) != NULL)
		records = jsonx_int(v, "records", 0);
	json_decref(v);
	/* from the first application on: the grants, the denial, the revocation */
	first = records > 12 ? records - 12 : 0;
	if ((v = demo_admin_json(d, ARGV("audit", "--kind", "grant.issued", "--limit",
	    "1"))) != NULL && json_array_size(json_object_get(v, "events")) == 1)
		first = jsonx_int(json_array_get(json_object_get(v, "events"), 0), "seq", 1) - 1;
	json_decref(v);
	xsnprintf(after, sizeof(after), "%lld", first);
	say("  Its last records, from the first connection application on:");
	shown = demo_admin(d, ARGV("audit", "--after", after), RUN_SHOW | RUN_OUT, &out) == 0 &&
	    out.p != NULL && strstr(out.p, "connection.denied") != NULL &&
	    strstr(out.p, "device.revoked") != NULL;
	dbuf_free(&out);
	say("  Each device logs its own view (tunnels, refusals, drops) beside its files:");
	for (size_t i = 0; i < DEMO_NSITES; i++) {
		char s[PATH_MAX];

		shorten(d, d->site[i].log, s, sizeof(s));
		say("    %-12s %s", d->site[i].device, s);
	}
	{
		char c[PATH_MAX], log[PATH_MAX];

		xsnprintf(log, sizeof(log), "%s/center/center.log", d->dir);
		shorten(d, log, c, sizeof(c));
		say("    %-12s %s", "center", c);
	}
	say("  (%s)", d->keep_dir ? "kept after the demo: --keep-dir" :
	    "removed at the end of the demo; run with --keep-dir to keep them");
	return step_end(d, 12, intact && shown, "audit trail %s (%lld records), denial and "
	    "revocation %s", intact ? "intact" : "BROKEN", records, shown ? "shown" :
	    "NOT found");
}

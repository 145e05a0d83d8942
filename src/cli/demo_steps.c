/*
 * odvpn demo, steps 4 to 10: connections applied for and granted on demand,
 * the refusals, revocation and the audit trail. Every claim a step prints is
 * checked against odvpnd's own counters, peers and log or the center's
 * answers; a step passes only when what should work worked and what should be
 * refused was refused, and recorded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/demo_int.h"
#include "lib/jsonx.h"
#include "lib/util.h"

#define SERVER		"10.1.0.10"
#define ANALYSER	"10.3.0.10"
#define HOSPITAL_WAN	"192.0.2.1"
#define EVENT_WAIT_MS	5000	/* devices upload their events about once a second */

/* "tunnel up in N ms" in s's log since mark: N, or -1 */
static long
tunnel_ms(struct demo_site *s, long mark)
{
	uint8_t *buf = NULL;
	size_t len;
	const char *p;
	long ms = -1;

	if (file_read_all(s->log, 16 << 20, &buf, &len) == -1)
		return -1;
	if (mark >= 0 && (size_t)mark < len) {
		char *text = xmalloc(len - (size_t)mark + 1);

		memcpy(text, buf + mark, len - (size_t)mark);
		text[len - (size_t)mark] = '\0';
		if ((p = strstr(text, "tunnel up in ")) != NULL)
			ms = strtol(p + strlen("tunnel up in "), NULL, 10);
		free(text);
	}
	free(buf);
	return ms;
}

/* the first grant of peer at s, 0 when peer is not granted */
static long long
peer_grant(struct demo_site *s, const char *peer)
{
	json_t *p = site_peer(s, peer);
	long long id = 0;

	if (p != NULL && jsonx_bool(p, "granted", false))
		id = json_integer_value(json_array_get(json_object_get(p, "grants"), 0));
	json_decref(p);
	return id;
}

/* one line on what s's device holds toward peer (from `odvpn peers --json`) */
static void
say_peer(struct demo_site *s, const char *peer)
{
	json_t *p = site_peer(s, peer), *app;
	char grants[64] = "";
	size_t i, len = 0;
	json_t *g;

	if (p == NULL) {
		say("    %s: no partner named %s", s->device, peer);
		return;
	}
	json_array_foreach(json_object_get(p, "grants"), i, g) {
		xsnprintf(grants + len, sizeof(grants) - len, "%s%lld", i > 0 ? ", " : "",
		    (long long)json_integer_value(g));
		len = strlen(grants);
	}
	app = json_object_get(p, "application");
	say("    %s → %s (device %s): %s%s, tunnel %s%s%s", s->device, peer,
	    jsonx_str(p, "device") != NULL && *jsonx_str(p, "device") != '\0' ?
	    jsonx_str(p, "device") : "none",
	    jsonx_bool(p, "granted", false) ? "granted, grant " : "not granted",
	    grants, jsonx_str(p, "state") != NULL ? jsonx_str(p, "state") : "?",
	    app != NULL && jsonx_str(app, "reason") != NULL ? "; last application: " : "",
	    app != NULL && jsonx_str(app, "reason") != NULL ? jsonx_str(app, "reason") : "");
	json_decref(p);
}

/* the records of kind (and device) after seq holding every word, waited for */
static bool
audit_wait(struct demo *d, const char *kind, const char *device, long long after,
    const char *const words[], int wait_ms)
{
	for (uint64_t end = demo_ms() + (uint64_t)wait_ms; ; ) {
		json_t *ev = demo_audit(d, kind, device, after), *r;
		bool found = false;
		size_t i;

		json_array_foreach(ev, i, r) {
			char *text = json_dumps(r, JSON_COMPACT);
			bool all = text != NULL;

			for (size_t k = 0; all && words[k] != NULL; k++)
				all = strstr(text, words[k]) != NULL;
			free(text);
			found = found || all;
		}
		json_decref(ev);
		if (found)
			return true;
		if (demo_ms() >= end || !demo_sleep(100))
			return false;
	}
}

/* the sequence number of the center's last audit record */
static long long
audit_head(struct demo *d)
{
	json_t *v = demo_admin_json(d, ARGV("audit", "verify"));
	long long n = jsonx_int(v, "records", 0);

	json_decref(v);
	return n;
}

/* ---- 4 ------------------------------------------------------------------------- */

bool
step_clinic_hospital(struct demo *d)
{
	static const char *const clinic_lines[] = { "applying to the center",
	    "application granted", "configuration version", "starting IKE", "tunnel up in",
	    NULL };
	static const char *const hosp_lines[] = { "configuration version", "tunnel up", NULL };
	struct demo_site *H = &d->site[SITE_HOSP], *C = &d->site[SITE_CLINIC];
	long mc = site_log_mark(C), mh = site_log_mark(H), setup, ms;
	long long seq = audit_head(d);
	bool pinged, tcp, granted, audited;
	double rtt = -1;

	step_begin(d, 4);
	say("  Nobody has applied for anything. The clinic's PC simply pings the hospital");
	say("  server. Its first packet is held by the clinic's device, which applies to");
	say("  the center for a connection (接続申請); the center checks the groups and");
	say("  the rules, grants it and pushes the grant to both devices; they run IKEv2");
	say("  and the held packet is delivered:");
	pinged = site_ping(d, C, SERVER, 5, &rtt, true) == 0;
	if (pinged)
		say("  → the very first packet was answered, %.1f ms after it was sent "
		    "(application, grant and tunnel included): nothing lost.", rtt);
	/* the pushed grant may come before the answer to the application */
	(void)site_log_wait(C, mc, "application granted", 2000);
	(void)site_log_wait(H, mh, "tunnel up", 2000);
	(void)site_log(d, C, mc, clinic_lines, 8);
	(void)site_log(d, H, mh, hosp_lines, 4);
	setup = tunnel_ms(C, mc);
	say("  What the clinic's device holds now:");
	(void)site_show(d, C, "peers", NULL, NULL);
	say_peer(C, H->name);
	d->grant_clinic = peer_grant(C, H->name);
	granted = d->grant_clinic > 0 && peer_grant(H, C->name) == d->grant_clinic;
	say("  The grant lets the clinic's LAN reach the server 10.1.0.10 on HTTPS and");
	say("  ping (provider ∩ hospital ∩ clinic rules, REQ-CON-2). HTTPS, through the");
	say("  same tunnel:");
	tcp = site_tcp(d, C, SERVER, 443, "HTTPS", 3000, &ms) == 0;
	say("  The center recorded its decision:");
	(void)demo_admin(d, ARGV("audit", "--kind", "grant.issued"), RUN_SHOW | RUN_OUT, NULL);
	audited = audit_wait(d, "grant.issued", C->device, seq, (const char *const[]){
	    "\"responder\"", H->name, NULL }, 0);
	return step_end(d, 4, pinged && granted && tcp && audited, pinged ?
	    "clinic → hospital: first packet answered after %.1f ms (application, grant "
	    "%lld and tunnel included; IKE %ld ms); HTTPS %s; grant %s" :
	    "clinic → hospital: NO answer (%.0f, grant %lld, IKE %ld ms, HTTPS %s, %s)",
	    rtt, d->grant_clinic, setup, tcp ? "works" : "FAILED",
	    audited ? "audited" : "NOT in the audit trail");
}

/* ---- 5 ------------------------------------------------------------------------- */

bool
step_lab_hospital(struct demo *d)
{
	static const char *const lab_lines[] = { "application granted", "tunnel up in",
	    NULL };
	struct demo_site *H = &d->site[SITE_HOSP], *C = &d->site[SITE_CLINIC],
	    *L = &d->site[SITE_LAB];
	long ml = site_log_mark(L), ms = -1;
	long long r0, r1;
	bool tcp, noping, both;
	double rtt;

	step_begin(d, 5);
	say("  The lab's analyser sends its results to the hospital server over HTTPS;");
	say("  the same happens: application, grant, tunnel, on its first packet:");
	tcp = site_tcp(d, L, SERVER, 443, "HTTPS", 5000, &ms) == 0;
	if (tcp)
		say("  → %ld ms including the application, the grant and a second tunnel at "
		    "the hospital.", ms);
	(void)site_log(d, L, ml, lab_lines, 4);
	d->grant_lab = peer_grant(L, H->name);
	say("  The lab's grant is narrower: its analyser may open HTTPS to the server,");
	say("  nothing else — not even ping, which the lab's own device holds back:");
	r0 = site_drops(L, "rule");
	noping = site_ping(d, L, SERVER, 1, &rtt, true) != 0;
	r1 = site_drops(L, "rule");
	say("    lab-gw: packets dropped as \"rule\": %lld → %lld", r0, r1);
	noping = noping && r1 > r0;
	say("  The hospital's device now holds tunnels with the clinic and the lab:");
	(void)site_show(d, H, "status", NULL, NULL);
	say_peer(H, C->name);
	say_peer(H, L->name);
	both = site_child_up(H, C->name) && site_child_up(H, L->name) &&
	    peer_grant(H, L->name) == d->grant_lab && d->grant_lab > 0;
	return step_end(d, 5, tcp && noping && both,
	    "lab → hospital: HTTPS %s (grant %lld, on demand), ping %s; hospital %s",
	    tcp ? "works" : "FAILED", d->grant_lab,
	    noping ? "refused by the lab's rules" : "NOT refused",
	    both ? "has 2 tunnels at once" : "does NOT have both tunnels");
}

/* ---- 6 ------------------------------------------------------------------------- */

bool
step_clinic_lab(struct demo *d)
{
	struct demo_site *C = &d->site[SITE_CLINIC], *L = &d->site[SITE_LAB];
	struct dbuf out = { NULL, 0 };
	json_t *p;
	long long seq = audit_head(d);
	bool unknown, noping, denied, audited;
	double rtt;
	int rc;

	step_begin(d, 6);
	say("  The clinic and the lab share no group, so the center does not even list");
	say("  the lab to the clinic's device: no partner, no route.");
	p = site_peer(C, L->name);
	unknown = p == NULL;
	json_decref(p);
	say("  (a) The clinic's PC tries the lab's analyser:");
	noping = site_ping(d, C, ANALYSER, 2, &rtt, true) != 0;
	say("  (b) The clinic's administrator asks for a connection to the lab all the");
	say("      same; the device applies to the center, which refuses and says why:");
	rc = site_show(d, C, "connect", L->name, &out);
	denied = rc != 0 && out.p != NULL && strstr(out.p, "denied") != NULL &&
	    strstr(out.p, "share no group") != NULL;
	dbuf_free(&out);
	say("  (c) The refusal, with its reason, is in the center's audit trail:");
	audited = audit_wait(d, "connection.denied", NULL, seq, (const char *const[]){
	    "share no group", L->name, NULL }, 0);
	(void)demo_admin(d, ARGV("audit", "--kind", "connection.denied"), RUN_SHOW | RUN_OUT,
	    NULL);
	return step_end(d, 6, unknown && noping && denied && audited,
	    "clinic → lab: %s; `odvpn connect lab` %s; %s",
	    noping ? "no answer (no partner, no route)" : "ANSWERED",
	    denied ? "denied: sites clinic and lab share no group" : "NOT denied as expected",
	    audited ? "the denial is audited" : "the denial is NOT in the audit trail");
}

/* ---- 7 ------------------------------------------------------------------------- */

bool
step_relay(struct demo *d)
{
	static const char *const relay_lines[] = { "policy drop: relay", NULL };
	struct demo_site *H = &d->site[SITE_HOSP], *C = &d->site[SITE_CLINIC];
	long mh = site_log_mark(H);
	long long rel0, rel1, seq = audit_head(d);
	bool routed, noping, audited;
	double rtt;

	step_begin(d, 7);
	say("  The clinic's devices follow the center, so nobody can configure the lab");
	say("  into them. A careless (or malicious) operator at the clinic instead adds a");
	say("  static route on the clinic's gateway: the lab's LAN \"via the hospital\",");
	say("  i.e. in clear to the hospital's Internet address. The hospital's gateway");
	say("  does route the lab's LAN into its VPN (it has a tunnel with the lab):");
	routed = demo_run(d, C->ns_gw, C->device, ARGV("ip", "route", "add", "10.3.0.0/24",
	    "via", HOSPITAL_WAN), RUN_PATH | RUN_SHOW | RUN_OUT, 5000, NULL) == 0;
	rel0 = site_drops(H, "relay");
	noping = routed && site_ping(d, C, ANALYSER, 2, &rtt, true) != 0;
	rel1 = site_drops(H, "relay");
	say("  The packet reached the hospital's device from its LAN side, but it did not");
	say("  come from the hospital's own LAN: odvpnd never lets a partner's traffic");
	say("  into another partner's tunnel (no relay, REQ-POL-1):");
	(void)site_log(d, H, mh, relay_lines, 2);
	say("    hospital-gw: packets dropped as \"relay\": %lld → %lld", rel0, rel1);
	say("  The hospital's device reports the drop to the center's audit trail:");
	audited = audit_wait(d, "device.", H->device, seq, (const char *const[]){
	    "\"policy_drop\"", "\"relay\"", "10.2.0.10", NULL }, EVENT_WAIT_MS);
	{
		char after[32];

		xsnprintf(after, sizeof(after), "%lld", seq);
		(void)demo_admin(d, ARGV("audit", "--device", (char *)H->device, "--kind",
		    "device.", "--after", after), RUN_SHOW | RUN_OUT, NULL);
	}
	if (routed)
		(void)demo_run(d, C->ns_gw, C->device, ARGV("ip", "route", "del", "10.3.0.0/24"),
		    RUN_PATH | RUN_SHOW, 5000, NULL);
	return step_end(d, 7, routed && noping && rel1 > rel0 && audited,
	    "relay through the hospital refused: %s, %lld packet(s) dropped as \"relay\" "
	    "at the hospital, %s", noping ? "no answer" : "ANSWERED", rel1 - rel0,
	    audited ? "reported to the center" : "NOT reported to the center");
}

/* ---- 8 ------------------------------------------------------------------------- */

bool
step_port(struct demo *d)
{
	static const char *const rule_lines[] = { "policy drop: rule", NULL };
	struct demo_site *C = &d->site[SITE_CLINIC];
	long mc = site_log_mark(C), ms;
	long long c0, c1;
	bool ssh, https;

	step_begin(d, 8);
	say("  The hospital server also runs SSH (TCP 22), but grant %lld allows the",
	    d->grant_clinic);
	say("  clinic only HTTPS (443) and ping. The clinic's PC tries SSH; the clinic's");
	say("  own device holds the packet back, before anything is sent:");
	c0 = site_drops(C, "rule");
	ssh = site_tcp(d, C, SERVER, 22, "SSH", 2000, &ms) != 0;
	c1 = site_drops(C, "rule");
	(void)site_log(d, C, mc, rule_lines, 1);
	say("    clinic-gw: packets dropped as \"rule\": %lld → %lld", c0, c1);
	say("  (The hospital's device checks what it decrypts against the same grant,");
	say("  REQ-CON-3, should a partner's device not hold it back.)");
	say("  HTTPS, which the grant allows, still works:");
	https = site_tcp(d, C, SERVER, 443, "HTTPS", 5000, &ms) == 0;
	return step_end(d, 8, ssh && c1 > c0 && https, "TCP 22 %s by the clinic's device "
	    "(%lld dropped as \"rule\"); HTTPS %s", ssh ? "refused" : "NOT refused",
	    c1 - c0, https ? "works" : "FAILED");
}

/* ---- 9 ------------------------------------------------------------------------ */

bool
step_revoke(struct demo *d)
{
	static const char *const hosp_lines[] = { "configuration version",
	    "closing the tunnel", "removed (", NULL };
	static const char *const lab_lines[] = { "configuration version", "revoked",
	    "withdrawn", "refuses this device", NULL };
	static const char *const after_lines[] = { "applying", "application",
	    "handshake refused", NULL };
	struct demo_site *H = &d->site[SITE_HOSP], *L = &d->site[SITE_LAB];
	char out[PATH_MAX], *argv[] = { d->odvpn, "admin", "revoke", "device",
	    (char *)L->device, "--reason", "keyCompromise", NULL };
	uint64_t t0, t_gone = 0;
	long mh, ml, ml0, ms;
	bool up, revoked, gone, blocked, refused, applied, selfcut;
	pid_t pid;
	int rc;

	step_begin(d, 9);
	if (!site_child_up(H, L->name)) {
		say("  (the hospital–lab tunnel is brought up first)");
		(void)site_tcp(d, L, SERVER, 443, "HTTPS", 5000, &ms);
	}
	up = site_child_up(H, L->name);
	say("  The lab's device is reported stolen. The provider revokes it; the center");
	say("  re-signs its CRL, withdraws the lab's grants and pushes both to the");
	say("  devices, which close the tunnels at once — nobody touches the devices.");
	say("  The hospital's tunnels are watched every 10 ms (odvpn status --json):");
	mh = site_log_mark(H);
	ml = ml0 = site_log_mark(L);
	xsnprintf(out, sizeof(out), "%s/center/revoke.out", d->dir);
	say_cmd(d, "provider", argv);
	t0 = demo_ms();
	pid = demo_spawn(d, d->ns_center, argv, out);
	for (uint64_t end = t0 + 5000; pid > 0 && demo_ms() < end; ) {
		if (!site_child_up(H, L->name)) {
			t_gone = demo_ms();
			break;
		}
		if (!demo_sleep(10))
			break;
	}
	rc = demo_wait_pid(d, pid, 30000);
	{
		uint8_t *buf = NULL;
		size_t len;

		if (file_read_all(out, 64 << 10, &buf, &len) == 0 && len > 0) {
			char *text = xmalloc(len + 1);

			memcpy(text, buf, len);
			text[len] = '\0';
			say_block(d, text, "    ");
			free(text);
		}
		free(buf);
	}
	revoked = rc == 0;
	gone = t_gone != 0;
	if (gone)
		say("  → the tunnel fell %llu ms after the revocation (target < 1 s: %s)",
		    (unsigned long long)(t_gone - t0), t_gone - t0 < 1000 ? "met" : "missed");
	(void)site_log_wait(L, ml, "revoked", 2000);
	(void)site_log(d, H, mh, hosp_lines, 6);
	(void)site_log(d, L, ml, lab_lines, 4);

	mh = site_log_mark(H);
	ml = site_log_mark(L);
	say("  The lab's analyser tries again:");
	blocked = site_tcp(d, L, SERVER, 443, "HTTPS", 3000, &ms) != 0;
	refused = site_log_wait(H, mh, "handshake refused", 1000);
	applied = site_log_wait(L, ml, "application", 0);
	selfcut = site_log_wait(L, ml0, "refuses this device", 0);
	if (selfcut) {
		say("  The lab's own device was told too: the center refuses its certificate,");
		say("  so it closed every tunnel and dropped every grant (see its log above);");
		say("  it has no route to the hospital any more.");
	} else if (refused) {
		say("  The center no longer answers the lab's device (its certificate is");
		say("  revoked), so it still holds its old grant and starts IKE; the hospital's");
		say("  device, which holds no grant for the lab any more, refuses the handshake:");
		(void)site_log(d, L, ml, after_lines, 2);
		(void)site_log(d, H, mh, after_lines, 1);
	} else if (applied) {
		say("  The lab's device applies to the center again, which refuses it:");
		(void)site_log(d, L, ml, after_lines, 3);
	}
	say_peer(H, L->name);
	blocked = blocked && (selfcut || refused || applied) && !site_child_up(H, L->name) &&
	    peer_grant(H, L->name) == 0;
	if (!gone)
		return step_end(d, 9, false, "the hospital–lab tunnel did NOT fall within 5 s "
		    "of the revocation%s", up ? "" : " (it was not up)");
	return step_end(d, 9, up && revoked && t_gone - t0 < 1000 && blocked,
	    "lab revoked: the tunnel fell %llu ms after the revocation (target < 1 s), "
	    "learnt by push; the lab %s", (unsigned long long)(t_gone - t0),
	    blocked ? "is cut off" : "is NOT cut off");
}

/* ---- 10 ------------------------------------------------------------------------ */

bool
step_audit(struct demo *d)
{
	struct demo_site *H = &d->site[SITE_HOSP], *C = &d->site[SITE_CLINIC],
	    *L = &d->site[SITE_LAB];
	json_t *v;
	long long records = 0;
	bool intact, ends, decisions, flows, trail = false;

	step_begin(d, 10);
	/* the devices ship their events about once a second: let the last ones
	 * (the lab's tunnel falling) arrive before the trail is read */
	for (size_t i = 0; i < DEMO_NSITES; i++)
		(void)site_events_flushed(&d->site[i], EVENT_WAIT_MS);
	say("  The center writes every change and decision to a hash-chained audit trail,");
	say("  in the same transaction as the change. Its integrity:");
	intact = demo_admin(d, ARGV("audit", "verify"), RUN_SHOW | RUN_OUT, NULL) == 0;
	if ((v = demo_admin_json(d, ARGV("audit", "verify"))) != NULL)
		records = jsonx_int(v, "records", 0);
	json_decref(v);
	say("  The center's decisions: grants issued and withdrawn, the revocation (the");
	say("  denial was shown in step 6, odvpn admin audit --kind connection.denied):");
	(void)demo_admin(d, ARGV("audit", "--kind", "grant."), RUN_SHOW | RUN_OUT, NULL);
	(void)demo_admin(d, ARGV("audit", "--kind", "device.revoked"), RUN_SHOW | RUN_OUT,
	    NULL);
	decisions = audit_wait(d, "grant.issued", NULL, 0, (const char *const[]){ L->name,
	    NULL }, 0) && audit_wait(d, "grant.withdrawn", NULL, 0, (const char *const[]){
	    L->device, NULL }, 0) && audit_wait(d, "device.revoked", L->device, 0,
	    (const char *const[]){ "keyCompromise", NULL }, 0) &&
	    audit_wait(d, "connection.denied", C->device, 0, (const char *const[]){
	    "share no group", NULL }, 0);
	say("  Each device reports its own view — tunnels up and down, applications,");
	say("  refusals, drops — as device.* records. Both ends of the clinic's tunnel:");
	(void)demo_admin(d, ARGV("audit", "--device", (char *)C->device, "--kind", "device."),
	    RUN_SHOW | RUN_OUT, NULL);
	(void)demo_admin(d, ARGV("audit", "--device", (char *)H->device, "--kind", "device."),
	    RUN_SHOW | RUN_OUT, NULL);
	ends = audit_wait(d, "device.", C->device, 0, (const char *const[]){
	    "\"sa_up\"", H->name, NULL }, EVENT_WAIT_MS) && audit_wait(d, "device.",
	    H->device, 0, (const char *const[]){ "\"sa_up\"", C->name, NULL },
	    EVENT_WAIT_MS);
	say("  Flow summaries: who opened what toward whom, bytes each way, start and");
	say("  end. The hospital reported the lab's flows when the lab's tunnel fell:");
	(void)demo_admin(d, ARGV("audit", "--device", (char *)H->device, "--kind",
	    "device.flow"), RUN_SHOW | RUN_OUT, NULL);
	flows = audit_wait(d, "device.flow", H->device, 0, (const char *const[]){
	    "10.3.0.10", "\"dport\":443", NULL }, EVENT_WAIT_MS);
	if (d->grant_lab > 0) {
		char gid[24];
		struct dbuf out = { NULL, 0 };

		xsnprintf(gid, sizeof(gid), "%lld", d->grant_lab);
		say("  One grant as the three of them saw it — the center's decisions and each");
		say("  end's own reports on one time line, matched against each other (what");
		say("  an auditor compares; the lab's device could not report after it was");
		say("  revoked, and it shows):");
		(void)demo_admin(d, ARGV("audit", "trail", gid), RUN_SHOW | RUN_OUT, &out);
		trail = out.p != NULL && strstr(out.p, "grant.withdrawn") != NULL &&
		    strstr(out.p, "sa_up (initiated)") != NULL &&
		    strstr(out.p, "sa_up (peer initiated)") != NULL &&
		    strstr(out.p, "matched: tunnel ups/downs 1 of") != NULL;
		dbuf_free(&out);
	}
	say("  Each device also keeps its own log beside its files:");
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
	return step_end(d, 10, intact && decisions && ends && flows && trail, "audit trail "
	    "%s (%lld records): the center's decisions %s, both ends' tunnel events %s, "
	    "flow summaries %s, the lab's grant matched across the three viewpoints%s",
	    intact ? "intact" : "BROKEN", records, decisions ? "shown" : "NOT found",
	    ends ? "shown" : "NOT found", flows ? "shown" : "NOT found",
	    trail ? "" : " — NOT shown");
}

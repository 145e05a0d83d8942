/*
 * odvpn demo (SPEC §6): the life cycle of SPEC §3 on this machine. A center
 * and three sites — a core hospital, a clinic and a lab — each in its own
 * network namespaces on an "Internet" bridge; the PKI, registration, groups
 * and rules; devices made and registered, then odvpnd in managed mode at each
 * site, enrolling itself and following the center; connections applied for,
 * granted and set up on the first packet; the refusals (no group, relay,
 * port), revocation pushed to the devices, and the audit trail. The demo only
 * does what an operator would: it never configures a device from the grants
 * itself. Each step says what it shows and ends with a ✓ or ✗ line; the exit
 * status is 0 only when every step behaved.
 *
 * Everything the demo makes is removed at the end, on failure and on Ctrl-C:
 * processes by PID, the namespaces <odemo…>-*, and the working directory
 * unless --keep-dir.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/demo_int.h"
#include "lib/jsonx.h"
#include "lib/util.h"

static const char *const step_titles[DEMO_NSTEPS + 1] = {
	"The network: an Internet, a center and three sites",
	"The provider creates the PKI and starts the center",
	"Organisations, sites, groups and rules are registered",
	"Devices are made, registered and installed: they enrol themselves",
	"The clinic reaches the hospital: application, grant and tunnel on demand",
	"The lab reaches the hospital too: two peers at once",
	"The clinic cannot reach the lab: they share no group",
	"The clinic cannot reach the lab through the hospital",
	"A port outside the rules is refused",
	"The lab's device is revoked: its tunnel falls",
	"Where to read the audit trail",
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: odvpn demo [--dir D] [--keep-dir] [--verbose]\n"
"\n"
"Runs the whole life cycle on this machine, in network namespaces: a center and\n"
"three sites (a hospital, a clinic, a lab) are set up and grouped; each site's\n"
"odvpnd enrols itself and follows the center, connections are applied for and\n"
"granted on demand, a relay attempt and a forbidden port are refused and a\n"
"device is revoked. Needs root. Takes well under a minute.\n"
"\n"
"  --dir D      working directory (must not exist or be empty; default: a new\n"
"               directory under /tmp)\n"
"  --keep-dir   keep the working directory (key stores, configurations, logs)\n"
"  --verbose    also show the network plumbing and every command's output\n"
"\n"
"Exit status 0 when every step behaved, 1 otherwise, 2 on bad usage,\n"
"130 when interrupted.\n");
}

/* ---- steps: framing ------------------------------------------------------------ */

void
step_begin(struct demo *d, int n)
{
	(void)d;
	if (n == 0)
		say("\n── %s", step_titles[0]);
	else
		say("\n── Step %d of %d · %s", n, DEMO_NSTEPS, step_titles[n]);
}

bool
step_end(struct demo *d, int n, bool ok, const char *fmt, ...)
{
	va_list ap;

	if (demo_stopping)
		ok = false;
	va_start(ap, fmt);
	vsnprintf(d->note[n], sizeof(d->note[n]), fmt, ap);
	va_end(ap);
	d->result[n] = ok ? STEP_OK : STEP_FAILED;
	if (n == 0)
		say("%s %s", ok ? "✓" : "✗", d->note[n]);
	else
		say("%s Step %d: %s", ok ? "✓" : "✗", n, d->note[n]);
	return ok;
}

int
demo_admin(struct demo *d, char *const argv[], unsigned flags, struct dbuf *out)
{
	char *full[48];
	size_t n = 0;

	full[n++] = d->odvpn;
	full[n++] = "admin";
	for (size_t i = 0; argv[i] != NULL && n + 1 < nitems(full); i++)
		full[n++] = argv[i];
	full[n] = NULL;
	return demo_run(d, d->ns_center, "provider", full, flags, 30000, out);
}

json_t *
demo_admin_json(struct demo *d, char *const argv[])
{
	char *full[48];
	struct dbuf out = { NULL, 0 };
	json_t *j = NULL;
	size_t n = 0;

	full[n++] = "--json";
	for (size_t i = 0; argv[i] != NULL && n + 1 < nitems(full); i++)
		full[n++] = argv[i];
	full[n] = NULL;
	if (demo_admin(d, full, 0, &out) == 0 && out.p != NULL)
		j = json_loads(out.p, 0, NULL);
	dbuf_free(&out);
	return j;
}

json_t *
demo_audit(struct demo *d, const char *kind, const char *device, long long after)
{
	char *argv[12], num[32];
	json_t *j, *ev;
	size_t n = 0;

	xsnprintf(num, sizeof(num), "%lld", after);
	argv[n++] = "audit";
	argv[n++] = "--kind";
	argv[n++] = (char *)kind;
	argv[n++] = "--after";
	argv[n++] = num;
	if (device != NULL) {
		argv[n++] = "--device";
		argv[n++] = (char *)device;
	}
	argv[n] = NULL;
	j = demo_admin_json(d, argv);
	ev = json_incref(json_object_get(j, "events"));
	json_decref(j);
	return ev;
}

/* ---- the network ------------------------------------------------------------------ */

static bool
net_site(struct demo *d, struct demo_site *s)
{
	char name[32], veth[16];

	xsnprintf(name, sizeof(name), "%s-gw", s->name);
	if (demo_netns_add(d, name, s->ns_gw, sizeof(s->ns_gw)) == -1)
		return false;
	xsnprintf(name, sizeof(name), "%s-lan", s->name);
	if (demo_netns_add(d, name, s->ns_host, sizeof(s->ns_host)) == -1)
		return false;
	xsnprintf(veth, sizeof(veth), "to-%s", s->name);
	return demo_ip(d, "-n %s link add %s type veth peer name wan0 netns %s", d->ns_inet,
	    veth, s->ns_gw) == 0 &&
	    demo_ip(d, "-n %s link set %s master br0 up", d->ns_inet, veth) == 0 &&
	    demo_ip(d, "-n %s addr add 192.0.2.%d/24 dev wan0", s->ns_gw, s->n) == 0 &&
	    demo_ip(d, "-n %s link set wan0 up", s->ns_gw) == 0 &&
	    demo_ip(d, "-n %s link add lan0 type veth peer name lan0 netns %s", s->ns_gw,
	    s->ns_host) == 0 &&
	    demo_ip(d, "-n %s addr add 10.%d.0.1/24 dev lan0", s->ns_gw, s->n) == 0 &&
	    demo_ip(d, "-n %s link set lan0 up", s->ns_gw) == 0 &&
	    demo_ip(d, "-n %s addr add 10.%d.0.%d/24 dev lan0", s->ns_host, s->n,
	    DEMO_SERVER_OCTET) == 0 &&
	    demo_ip(d, "-n %s link set lan0 up", s->ns_host) == 0 &&
	    demo_ip(d, "-n %s route add default via 10.%d.0.1", s->ns_host, s->n) == 0 &&
	    /* the gateway forwards between its LAN and odvpnd's TUN; loose source
	     * validation, as on most routers, whatever the host's own setting (the
	     * kernel uses the larger of "all" and the interface's value, so 2 wins
	     * over a strict 1). Step 7 relies on it: the clinic's packet arrives in
	     * clear on the hospital's wan0 with a source the hospital routes into
	     * odvpn0; a strict check would drop it in the kernel before odvpnd's
	     * own no-relay check, which is what the step shows. */
	    demo_sysctl(d, s->ns_gw, "net/ipv4/ip_forward", "1") == 0 &&
	    demo_sysctl(d, s->ns_gw, "net/ipv4/conf/all/rp_filter", "2") == 0;
}

static bool
step_network(struct demo *d)
{
	bool ok;

	step_begin(d, 0);
	say("  Namespaces %s-*: \"inet\" (a bridge standing for the Internet, 192.0.2.0/24),",
	    d->pfx);
	say("  \"center\", and for each site a gateway (\"-gw\") and a LAN host (\"-lan\"):");
	say("%s", "");
	say("%s", "                center 192.0.2.100:8443 (the provider's connection");
	say("%s", "                        │   management center, odvpn-center)");
	say("%s", "  ══╤═══════════════════╧═════════════════╤═════════════════════════╤═══ the Internet");
	say("%s", "    │                                     │                         │    192.0.2.0/24");
	say("%s", "  hospital-gw 192.0.2.1                 clinic-gw 192.0.2.2       lab-gw 192.0.2.3");
	say("%s", "    │ LAN 10.1.0.0/24                     │ LAN 10.2.0.0/24         │ LAN 10.3.0.0/24");
	say("%s", "  hospital-server .10                   clinic-pc .10             lab-analyser .10");
	say("%s", "  (core hospital)                       (clinic)                  (lab)");
	say("%s", "");
	ok = demo_netns_add(d, "inet", d->ns_inet, sizeof(d->ns_inet)) == 0 &&
	    demo_ip(d, "-n %s link add br0 type bridge", d->ns_inet) == 0 &&
	    demo_ip(d, "-n %s link set br0 up", d->ns_inet) == 0 &&
	    demo_netns_add(d, "center", d->ns_center, sizeof(d->ns_center)) == 0 &&
	    demo_ip(d, "-n %s link add to-center type veth peer name wan0 netns %s",
	    d->ns_inet, d->ns_center) == 0 &&
	    demo_ip(d, "-n %s link set to-center master br0 up", d->ns_inet) == 0 &&
	    demo_ip(d, "-n %s addr add %s/24 dev wan0", d->ns_center, DEMO_CENTER_IP) == 0 &&
	    demo_ip(d, "-n %s link set wan0 up", d->ns_center) == 0;
	for (size_t i = 0; ok && i < DEMO_NSITES; i++)
		ok = net_site(d, &d->site[i]);
	return step_end(d, 0, ok, ok ? "network ready: %zu namespaces" :
	    "the network could not be set up (iproute2 needed)", d->nnetns);
}

/* ---- 1: PKI and center -------------------------------------------------------------- */

static bool
step_pki_center(struct demo *d)
{
	char pki[PATH_MAX], path[PATH_MAX], conf[PATH_MAX], log[PATH_MAX];
	uint8_t *fp = NULL;
	size_t len;
	uint64_t end;
	bool up = false;
	FILE *f;

	step_begin(d, 1);
	say("  The provider (the registration authority 登録認定機関) creates the root CA,");
	say("  the device CA (tier 1) and the service CA (tier 2) that the center runs:");
	xsnprintf(pki, sizeof(pki), "%s/pki", d->dir);
	if (demo_run(d, NULL, "provider", ARGV(d->odvpn, "pki", "init", "--dir", pki,
	    "--center-name", DEMO_CENTER_IP), RUN_SHOW | RUN_OUT, 30000, NULL) != 0)
		return step_end(d, 1, false, "odvpn pki init failed");
	xsnprintf(path, sizeof(path), "%s/root.sha256", pki);
	if (file_read_all(path, 256, &fp, &len) == -1 || len < 64) {
		free(fp);
		return step_end(d, 1, false, "no root fingerprint in %s", path);
	}
	xsnprintf(d->pin, sizeof(d->pin), "%.64s", (const char *)fp);
	free(fp);
	say("  Every device will pin this root fingerprint (given to it out of band):");
	say("    PIN=%s", d->pin);

	say("  The center is started in its own namespace, at %s:", DEMO_CENTER_URL);
	xsnprintf(path, sizeof(path), "%s/center", d->dir);
	xsnprintf(conf, sizeof(conf), "%s/center.json", path);
	xsnprintf(log, sizeof(log), "%s/center.log", path);
	if (mkdir(path, 0700) == -1 || (f = fopen(conf, "w")) == NULL)
		return step_end(d, 1, false, "cannot write %s", conf);
	fprintf(f, "{\n  \"listen\": \"%s\", \"port\": %d,\n  \"database\": \"%s/center.db\",\n"
	    "  \"pki_dir\": \"%s\",\n  \"log_level\": \"info\",\n"
	    "  \"crypto\": {\"idle_timeout_s\": 300}\n}\n", DEMO_CENTER_IP, DEMO_CENTER_PORT,
	    path, pki);
	fclose(f);
	say_cmd(d, "center", ARGV(d->center, "--config", conf));
	d->center_pid = demo_spawn(d, d->ns_center, ARGV(d->center, "--config", conf), log);
	for (end = demo_ms() + 15000; d->center_pid > 0 && !up && demo_ms() < end; ) {
		up = demo_admin(d, ARGV("status"), 0, NULL) == 0;
		if (!up && (kill(d->center_pid, 0) == -1 || !demo_sleep(50)))
			break;
	}
	if (!up)
		return step_end(d, 1, false, "the center did not start (log: %s)", log);
	say("  The operator's console talks to it with the administrator certificate:");
	say("    export ODVPN_CENTER=%s ODVPN_PKI=$D/pki", DEMO_CENTER_URL);
	(void)demo_admin(d, ARGV("status"), RUN_SHOW | RUN_OUT, NULL);
	return step_end(d, 1, true, "PKI created (root %.16s…); center running at %s",
	    d->pin, DEMO_CENTER_URL);
}

/* ---- 2: registration ---------------------------------------------------------------- */

static bool
step_register(struct demo *d)
{
	struct demo_site *H = &d->site[SITE_HOSP], *C = &d->site[SITE_CLINIC],
	    *L = &d->site[SITE_LAB];
	char prefix[DEMO_NSITES][32], wan[DEMO_NSITES][32];
	bool ok = true;
	int nrules = 0;

	step_begin(d, 2);
	say("  Subscriber organisations (加入申請) and their sites (利用申請): each site's");
	say("  protected LAN and the Internet address of its device.");
	for (size_t i = 0; ok && i < DEMO_NSITES; i++)
		ok = demo_admin(d, ARGV("org", "add", (char *)d->site[i].org, "--kind",
		    (char *)d->site[i].kind), RUN_SHOW | RUN_OUT, NULL) == 0;
	for (size_t i = 0; ok && i < DEMO_NSITES; i++) {
		struct demo_site *s = &d->site[i];

		xsnprintf(prefix[i], sizeof(prefix[i]), "10.%d.0.0/24", s->n);
		xsnprintf(wan[i], sizeof(wan[i]), "192.0.2.%d", s->n);
		ok = demo_admin(d, ARGV("site", "add", (char *)s->name, "--org", (char *)s->org,
		    "--prefix", prefix[i], "--wan", wan[i]), RUN_SHOW | RUN_OUT, NULL) == 0;
	}
	if (ok)
		say("  Groups: sites may only ever connect inside a common group (REQ-GRP-1).\n"
		    "  Group A = hospital + clinic, group B = hospital + lab; the clinic and the\n"
		    "  lab share none.");
	ok = ok && demo_admin(d, ARGV("group", "add", "A", "--description",
	    "hospital and clinic"), RUN_SHOW | RUN_OUT, NULL) == 0 &&
	    demo_admin(d, ARGV("group", "member", "add", "A", (char *)H->name),
	    RUN_SHOW | RUN_OUT, NULL) == 0 &&
	    demo_admin(d, ARGV("group", "member", "add", "A", (char *)C->name),
	    RUN_SHOW | RUN_OUT, NULL) == 0 &&
	    demo_admin(d, ARGV("group", "add", "B", "--description", "hospital and lab"),
	    RUN_SHOW | RUN_OUT, NULL) == 0 &&
	    demo_admin(d, ARGV("group", "member", "add", "B", (char *)H->name),
	    RUN_SHOW | RUN_OUT, NULL) == 0 &&
	    demo_admin(d, ARGV("group", "member", "add", "B", (char *)L->name),
	    RUN_SHOW | RUN_OUT, NULL) == 0;
	if (ok)
		say("  Rules. The provider states what the network carries: ping and TCP.");
	ok = ok && demo_admin(d, ARGV("rule", "add", "--proto", "icmp", "--both",
	    "--description", "ping, for diagnosis"), RUN_SHOW | RUN_OUT, NULL) == 0 &&
	    ++nrules && demo_admin(d, ARGV("rule", "add", "--proto", "tcp", "--both",
	    "--description", "TCP between group members"), RUN_SHOW | RUN_OUT, NULL) == 0 &&
	    ++nrules;
	if (ok)
		say("  The hospital lets partners reach its server 10.1.0.10 on HTTPS (TCP 443)\n"
		    "  and ping it — nothing else of its LAN:");
	ok = ok && demo_admin(d, ARGV("rule", "add", "--owner", (char *)H->org, "--dst",
	    "site=hospital,prefix=10.1.0.10/32", "--proto", "tcp", "--ports", "443",
	    "--description", "partners may use the server's HTTPS"), RUN_SHOW | RUN_OUT,
	    NULL) == 0 && ++nrules &&
	    demo_admin(d, ARGV("rule", "add", "--owner", (char *)H->org, "--dst",
	    "site=hospital,prefix=10.1.0.10/32", "--proto", "icmp", "--description",
	    "and ping it"), RUN_SHOW | RUN_OUT, NULL) == 0 && ++nrules;
	if (ok)
		say("  The lab is narrower: only its analyser 10.3.0.10 may open HTTPS to the\n"
		    "  hospital. The clinic has no rules of its own, so the provider's apply.");
	ok = ok && demo_admin(d, ARGV("rule", "add", "--owner", (char *)L->org, "--src",
	    "site=lab,prefix=10.3.0.10/32", "--dst", "site=hospital", "--proto", "tcp",
	    "--ports", "443", "--description", "the analyser sends results over HTTPS"),
	    RUN_SHOW | RUN_OUT, NULL) == 0 && ++nrules;
	return step_end(d, 2, ok, ok ? "3 organisations, 3 sites, 2 groups and %d rules "
	    "registered" : "registration failed (after %d rules)", nrules);
}

/* ---- 3: devices ---------------------------------------------------------------------- */

static const char *const enrol_lines[] = { "enrolled as", "configuration version",
    "ready,", NULL };

static bool
device_make(struct demo *d, struct demo_site *s)
{
	char pki[PATH_MAX], cert[PATH_MAX], fp[128];
	struct dbuf out = { NULL, 0 };

	xsnprintf(pki, sizeof(pki), "%s/pki", d->dir);
	xsnprintf(cert, sizeof(cert), "%s/device.crt.pem", s->ks);
	say("  %s — made at the factory: its key is generated inside its key store.",
	    s->device);
	if (demo_run(d, NULL, "provider", ARGV(d->odvpn, "pki", "issue-device", "--dir", pki,
	    "--device-id", (char *)s->device, "--keystore", s->ks), RUN_SHOW | RUN_OUT, 30000,
	    NULL) != 0 ||
	    demo_run(d, NULL, "provider", ARGV(d->odvpn, "pki", "fingerprint", "--cert", cert),
	    RUN_SHOW | RUN_OUT, 10000, &out) != 0 || out.p == NULL) {
		dbuf_free(&out);
		return false;
	}
	xsnprintf(fp, sizeof(fp), "%.64s", out.p);
	dbuf_free(&out);
	return demo_admin(d, ARGV("device", "add", (char *)s->device, "--site", (char *)s->name,
	    "--fingerprint", fp), RUN_SHOW | RUN_OUT, NULL) == 0;
}

/* installed at its site: odvpnd with the managed configuration, enrolling itself */
static bool
device_install(struct demo *d, struct demo_site *s, bool show_conf)
{
	long mark = site_log_mark(s);

	if (site_write_config(d, s) == -1)
		return false;
	if (show_conf) {
		say("  Installed at its site, each device is given four things: its key store,");
		say("  the center's address, the root fingerprint to pin and a control socket.");
		say("  Everything else — its site, LAN, Internet address, partners, rules —");
		say("  comes from the center:");
		(void)demo_run(d, NULL, s->device, ARGV("cat", s->conf),
		    RUN_PATH | RUN_SHOW | RUN_OUT, 5000, NULL);
		say("  At its first start odvpnd checks the pinned root against its key store,");
		say("  enrols itself (TLS with its factory certificate; a service key made");
		say("  inside its key store, certified by the center), fetches its");
		say("  configuration document and follows the center from then on:");
	}
	say_cmd(d, s->device, ARGV(d->odvpnd, "--config", s->conf));
	if (site_start(d, s) == -1)
		return false;
	return site_log(d, s, mark, enrol_lines, 3) >= 2;
}

/* the peers the center lists for s, none granted yet */
static bool
directory_closed(struct demo_site *s, const char *const names[], size_t n)
{
	json_t *r = site_peers(s), *p;
	size_t i, seen = 0;
	bool ok = true;

	json_array_foreach(json_object_get(r, "peers"), i, p) {
		const char *name = jsonx_str(p, "name");

		ok = ok && !jsonx_bool(p, "granted", true);
		for (size_t k = 0; name != NULL && k < n; k++)
			seen += strcmp(name, names[k]) == 0;
	}
	ok = ok && seen == n && json_array_size(json_object_get(r, "peers")) == n;
	json_decref(r);
	return ok;
}

static bool
step_devices(struct demo *d)
{
	struct demo_site *H = &d->site[SITE_HOSP], *C = &d->site[SITE_CLINIC],
	    *L = &d->site[SITE_LAB];
	json_t *j, *v;
	size_t i, enrolled = 0;
	bool ok = true, dir_h, dir_c, dir_l;

	step_begin(d, 3);
	for (i = 0; ok && i < DEMO_NSITES; i++)
		ok = device_make(d, &d->site[i]);
	for (i = 0; ok && i < DEMO_NSITES; i++)
		ok = device_install(d, &d->site[i], i == 0);
	if (ok) {
		(void)demo_admin(d, ARGV("device", "list"), RUN_SHOW | RUN_OUT, NULL);
		j = demo_admin_json(d, ARGV("device", "list"));
		json_array_foreach(json_object_get(j, "devices"), i, v)
			enrolled += jsonx_str(v, "status") != NULL &&
			    strcmp(jsonx_str(v, "status"), "enrolled") == 0;
		json_decref(j);
		ok = enrolled == DEMO_NSITES;
	}
	if (!ok)
		return step_end(d, 3, false, "a device could not be made, registered or "
		    "enrolled (%zu of %d enrolled)", enrolled, DEMO_NSITES);
	say("  The center tells each device which sites share a group with it. The");
	say("  hospital's device knows the clinic and the lab; nothing is granted yet, so");
	say("  their addresses are routed to odvpnd but closed:");
	(void)site_show(d, H, "peers", NULL, NULL);
	dir_h = directory_closed(H, (const char *const[]){ C->name, L->name }, 2);
	dir_c = directory_closed(C, (const char *const[]){ H->name }, 1);
	dir_l = directory_closed(L, (const char *const[]){ H->name }, 1);
	say("    (the clinic's device knows only the hospital, and so does the lab's: %s)",
	    dir_c && dir_l ? "as expected" : "NOT as expected");
	say("  The hospital server listens on TCP 443 (HTTPS) and TCP 22 (SSH).");
	ok = site_listen(d, H) == 0;
	return step_end(d, 3, ok && dir_h && dir_c && dir_l, "3 devices made, registered "
	    "and enrolled by themselves; each knows its partners from the center, none "
	    "granted yet");
}

/* ---- set-up and summary --------------------------------------------------------------- */

static void
on_signal(int sig)
{
	(void)sig;
	demo_stopping = 1;
}

/* true when prog is an executable file in a directory of PATH */
static bool
in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	for (const char *p = path != NULL ? path : "/usr/sbin:/usr/bin:/sbin:/bin"; *p != '\0'; ) {
		size_t n = strcspn(p, ":");

		if (n > 0 && xsnprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, prog) != -1 &&
		    access(buf, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

/* odvpnd and odvpn-center beside this program; ip and ping on the PATH */
static int
find_binaries(struct demo *d)
{
	char self[PATH_MAX], dir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return -1;
	self[n] = '\0';
	xsnprintf(d->odvpn, sizeof(d->odvpn), "%s", self);
	xsnprintf(dir, sizeof(dir), "%s", self);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	if (xsnprintf(d->odvpnd, sizeof(d->odvpnd), "%s/odvpnd", dir) == -1 ||
	    xsnprintf(d->center, sizeof(d->center), "%s/odvpn-center", dir) == -1)
		return -1;
	if (access(d->odvpnd, X_OK) == -1 || access(d->center, X_OK) == -1) {
		fprintf(stderr, "odvpn demo: odvpnd and odvpn-center must be beside %s\n", self);
		return -1;
	}
	if (!in_path("ip") || !in_path("ping")) {
		fprintf(stderr, "odvpn demo: needs \"ip\" (iproute2) and \"ping\" "
		    "(iputils-ping) on the PATH\n");
		return -1;
	}
	return 0;
}

/* want NULL: a new directory under /tmp; otherwise want, new or empty */
static int
make_dir(struct demo *d, const char *want)
{
	char real[PATH_MAX];

	if (want == NULL) {
		xsnprintf(d->dir, sizeof(d->dir), "/tmp/odvpn-demo.XXXXXX");
		if (mkdtemp(d->dir) == NULL)
			return -1;
		d->dir_made = d->dir_owned = true;
		return 0;
	}
	if (mkdir(want, 0700) == 0) {
		d->dir_made = true;
	} else {
		DIR *dir;
		struct dirent *e;
		int n = 0;

		if (errno != EEXIST || (dir = opendir(want)) == NULL)
			return -1;
		while ((e = readdir(dir)) != NULL)
			n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
		closedir(dir);
		if (n > 0) {
			errno = ENOTEMPTY;
			return -1;
		}
	}
	if (realpath(want, real) == NULL)
		return -1;
	xsnprintf(d->dir, sizeof(d->dir), "%s", real);
	d->dir_owned = true;
	return 0;
}

static void
site_init(struct demo *d, struct demo_site *s)
{
	xsnprintf(s->dir, sizeof(s->dir), "%s/%s", d->dir, s->name);
	xsnprintf(s->ks, sizeof(s->ks), "%s/keys", s->dir);
	xsnprintf(s->conf, sizeof(s->conf), "%s/odvpnd.json", s->dir);
	xsnprintf(s->sock, sizeof(s->sock), "%s/odvpnd.sock", s->dir);
	xsnprintf(s->log, sizeof(s->log), "%s/odvpnd.log", s->dir);
	(void)mkdir(s->dir, 0700);
}

static void
summary(struct demo *d)
{
	int good = 0, bad = 0;

	say("\n══ Summary ══════════════════════════════════════════════════════════════");
	for (int i = 0; i <= DEMO_NSTEPS; i++) {
		const char *mark = d->result[i] == STEP_OK ? "✓" :
		    d->result[i] == STEP_FAILED ? "✗" : "–";

		if (i > 0)
			good += d->result[i] == STEP_OK, bad += d->result[i] != STEP_OK;
		say(" %s %2d  %s", mark, i, d->result[i] == STEP_NOT_RUN ?
		    "not run" : d->note[i]);
	}
	if (bad == 0)
		say("All %d steps behaved (%.1f s).", DEMO_NSTEPS,
		    (double)(demo_ms() - d->t_start) / 1000);
	else
		say("%d of %d steps did not behave%s.", bad, DEMO_NSTEPS,
		    demo_stopping ? " (interrupted)" : "");
	(void)good;
}

int
cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir",	required_argument, NULL, 'd' },
		{ "keep-dir",	no_argument,	   NULL, 'k' },
		{ "verbose",	no_argument,	   NULL, 'v' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const unset[] = { "ODVPN_ADMIN_CERT", "ODVPN_ADMIN_KEY",
	    "ODVPN_CA", "ODVPN_ADMIN_CONFIG", "ODVPN_SOCKET" };
	static struct demo D;
	struct demo *d = &D;
	const char *want = NULL;
	struct sigaction sa;
	char pki[PATH_MAX];
	bool ok;
	int ch;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': want = optarg; break;
		case 'k': d->keep_dir = true; break;
		case 'v': d->verbose = true; break;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "odvpn demo: unknown or incomplete option \"%s\"\n",
			    argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "odvpn demo: must run as root (it creates network namespaces "
		    "and TUN interfaces)\n");
		return 1;
	}
	if (find_binaries(d) == -1)
		return 1;
	if (make_dir(d, want) == -1) {
		fprintf(stderr, "odvpn demo: cannot make the working directory: %s\n",
		    strerror(errno));
		return 1;
	}
	/* a per-run prefix no other run uses */
	for (int i = 0; i < 64; i++) {
		char probe[PATH_MAX];

		xsnprintf(d->pfx, sizeof(d->pfx), "%s%04x", DEMO_PREFIX,
		    (unsigned)((getpid() * 31 + i * 7919 + (int)(now_mono_ms() & 0xffff)) &
		    0xffff));
		xsnprintf(probe, sizeof(probe), "/run/netns/%s-inet", d->pfx);
		if (access(probe, F_OK) == -1)
			break;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: waits wake up and give up */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < nitems(unset); i++)
		unsetenv(unset[i]);
	xsnprintf(pki, sizeof(pki), "%s/pki", d->dir);
	setenv("ODVPN_CENTER", DEMO_CENTER_URL, 1);
	setenv("ODVPN_PKI", pki, 1);

	{
		static const struct { const char *name, *org, *kind, *what, *device,
		    *host; } sites[DEMO_NSITES] = {
			{ "hospital", "city-hospital", "large_institution", "the hospital",
			  "hospital-gw", "hospital-server" },
			{ "clinic", "green-clinic", "small_institution", "the clinic",
			  "clinic-gw", "clinic-pc" },
			{ "lab", "north-lab", "small_institution", "the lab", "lab-gw",
			  "lab-analyser" },
		};

		for (size_t i = 0; i < DEMO_NSITES; i++) {
			struct demo_site *s = &d->site[i];

			s->name = sites[i].name;
			s->org = sites[i].org;
			s->kind = sites[i].kind;
			s->what = sites[i].what;
			s->device = sites[i].device;
			s->host = sites[i].host;
			s->n = (int)i + 1;
			site_init(d, s);
		}
	}
	d->t_start = demo_ms();
	say("odvpn demo — the dynamic on-demand VPN, from PKI to revocation, on this machine");
	say("Working directory D=%s (%s)", d->dir, d->keep_dir ? "kept at the end" :
	    "removed at the end; --keep-dir keeps it");
	say("Commands are shown as an operator types them, prefixed by where they run.");

	ok = step_network(d) && step_pki_center(d) && step_register(d) && step_devices(d);
	if (ok) {
		bool (*const later[])(struct demo *) = { step_clinic_hospital,
		    step_lab_hospital, step_clinic_lab, step_relay, step_port, step_revoke,
		    step_audit };

		for (size_t i = 0; i < nitems(later) && !demo_stopping; i++)
			(void)later[i](d);
	}
	if (demo_stopping)
		say("\nInterrupted: stopping everything the demo started.");
	summary(d);
	/* a second Ctrl-C must not cut the cleanup short */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	demo_cleanup(d);
	if (demo_stopping)
		return 130;
	for (int i = 0; i <= DEMO_NSTEPS; i++)
		if (d->result[i] != STEP_OK)
			return 1;
	return 0;
}

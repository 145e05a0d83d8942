/*
 * odvpn status | peers | connect PEER | disconnect PEER: talk to the local odvpnd
 * over its control socket (src/device/control.h). Output for people by default,
 * --json for scripts.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli.h"
#include "device/control.h"
#include "lib/jsonx.h"
#include "lib/util.h"

#define DEFAULT_SOCKET		"/run/odvpnd.sock"
#define CALL_TIMEOUT_MS		5000
#define CONNECT_TIMEOUT_MS	30000	/* the seeds' set-up bar (SPEC REQ-VPN-6) */

struct ctl_opts {
	const char	*socket;
	bool		 json;
	int		 timeout_ms;
	const char	*peer;
};

static int
parse_opts(int argc, char **argv, bool want_peer, struct ctl_opts *o)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument, NULL, 's' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ "timeout",	required_argument, NULL, 't' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	o->socket = getenv("ODVPN_SOCKET") ? getenv("ODVPN_SOCKET") : DEFAULT_SOCKET;
	o->json = false;
	o->peer = NULL;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:jt:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o->socket = optarg; break;
		case 'j': o->json = true; break;
		case 't': o->timeout_ms = atoi(optarg) * 1000; break;
		case 'h':
			printf("usage: odvpn %s%s [--socket PATH] [--json]%s\n"
			    "  --socket PATH   odvpnd's control socket (default %s, or $ODVPN_SOCKET)\n"
			    "  --json          machine-readable output\n", argv[0],
			    want_peer ? " PEER" : "", want_peer ? " [--timeout SECONDS]" : "",
			    DEFAULT_SOCKET);
			return 0;
		default:
			return 2;
		}
	}
	if (want_peer) {
		if (optind != argc - 1) {
			fprintf(stderr, "odvpn %s: name the peer (see odvpn peers)\n", argv[0]);
			return 2;
		}
		o->peer = argv[optind];
	} else if (optind != argc) {
		fprintf(stderr, "odvpn %s: unexpected argument \"%s\"\n", argv[0], argv[optind]);
		return 2;
	}
	if (o->timeout_ms <= 0)
		o->timeout_ms = want_peer ? CONNECT_TIMEOUT_MS : CALL_TIMEOUT_MS;
	return -1;
}

/* one request; prints the error and returns NULL unless the reply says ok */
static json_t *
call(const struct ctl_opts *o, const char *verb, json_t *req)
{
	char err[256];
	json_t *reply;

	reply = control_call(o->socket, req, o->timeout_ms, err, sizeof(err));
	json_decref(req);
	if (reply == NULL) {
		fprintf(stderr, "odvpn %s: %s\n", verb, err);
		return NULL;
	}
	if (!jsonx_bool(reply, "ok", false)) {
		if (o->json)
			json_dumpf(reply, stdout, JSON_INDENT(2)), putchar('\n');
		fprintf(stderr, "odvpn %s: %s\n", verb,
		    jsonx_str(reply, "error") ? jsonx_str(reply, "error") : "failed");
		json_decref(reply);
		return NULL;
	}
	return reply;
}

static void
print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	putchar('\n');
}

static const char *
str(const json_t *o, const char *k)
{
	const char *s = jsonx_str(o, k);

	return s != NULL ? s : "";
}

static void
join_strings(const json_t *arr, char *out, size_t cap)
{
	size_t i, len = 0;
	json_t *v;

	out[0] = '\0';
	json_array_foreach(arr, i, v) {
		int w = snprintf(out + len, cap - len, "%s%s", i ? ", " : "",
		    json_string_value(v));

		if (w < 0 || (size_t)w >= cap - len)
			break;
		len += (size_t)w;
	}
}

int
cmd_peers(int argc, char **argv)
{
	struct ctl_opts o;
	json_t *r, *p;
	size_t i;
	int rc;

	if ((rc = parse_opts(argc, argv, false, &o)) != -1)
		return rc;
	if ((r = call(&o, argv[0], json_pack("{s:s}", "cmd", "peers"))) == NULL)
		return 1;
	if (o.json) {
		print_json(r);
		json_decref(r);
		return 0;
	}
	printf("device %s: %zu peer(s)\n", str(r, "device"),
	    json_array_size(json_object_get(r, "peers")));
	printf("  %-20s %-11s %-14s %-22s %-8s %s\n", "PEER", "STATE", "GRANT", "ENDPOINT",
	    "UP", "PREFIXES");
	json_array_foreach(json_object_get(r, "peers"), i, p) {
		char prefixes[512], ep[64], up[16] = "-", grant[64] = "static";

		join_strings(json_object_get(p, "prefixes"), prefixes, sizeof(prefixes));
		xsnprintf(ep, sizeof(ep), "%s:%lld", str(p, "address"), jsonx_int(p, "port", 0));
		if (strcmp(str(p, "state"), "up") == 0)
			xsnprintf(up, sizeof(up), "%llds", jsonx_int(p, "up_s", 0));
		/* managed mode: which grant opens the peer, or where the application is */
		if (jsonx_bool(p, "granted", false)) {
			json_t *ids = json_object_get(p, "grants");
			size_t k, len = (size_t)snprintf(grant, sizeof(grant), "grant");
			json_t *id;

			json_array_foreach(ids, k, id)
				if (len < sizeof(grant))
					len += (size_t)snprintf(grant + len, sizeof(grant) - len,
					    "%s%lld", k ? "," : " ",
					    (long long)json_integer_value(id));
		} else if (json_object_get(p, "granted") != NULL) {
			const json_t *app = json_object_get(p, "application");

			xsnprintf(grant, sizeof(grant), "%s", app != NULL ?
			    str(app, "decision") : "none");
		}
		printf("  %-20s %-11s %-14s %-22s %-8s %s\n", str(p, "name"), str(p, "state"),
		    grant, ep, up, prefixes);
		if (json_object_get(p, "application") != NULL &&
		    !jsonx_bool(p, "granted", false) &&
		    str(json_object_get(p, "application"), "reason")[0] != '\0')
			printf("  %-20s application %s: %s\n", "",
			    str(json_object_get(p, "application"), "decision"),
			    str(json_object_get(p, "application"), "reason"));
		if (strcmp(str(p, "state"), "idle") == 0 && str(p, "last_down")[0] != '\0')
			printf("  %-20s last tunnel ended: %s\n", "", str(p, "last_down"));
	}
	json_decref(r);
	return 0;
}

int
cmd_status(int argc, char **argv)
{
	struct ctl_opts o;
	json_t *r, *s, *drops, *v;
	const char *k;
	size_t i;
	int rc, any = 0;

	if ((rc = parse_opts(argc, argv, false, &o)) != -1)
		return rc;
	if ((r = call(&o, argv[0], json_pack("{s:s}", "cmd", "status"))) == NULL)
		return 1;
	if (o.json) {
		print_json(r);
		json_decref(r);
		return 0;
	}
	printf("device %s\n", str(r, "device"));
	if ((s = json_object_get(r, "center")) != NULL) {
		time_t t = (time_t)jsonx_int(s, "service_not_after", 0);
		char until[32];
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%S", &tm);
		printf("managed by %s: %s%s%s; site %s of %s%s, configuration version %lld\n",
		    str(s, "url"), jsonx_bool(s, "reachable", false) ? "connected" :
		    "not reachable", jsonx_bool(s, "reachable", false) ? "" : " — ",
		    jsonx_bool(s, "reachable", false) ? "" : str(s, "last_error"), str(s, "site"),
		    str(s, "org"), jsonx_bool(s, "suspended", false) ? " (suspended)" : "",
		    jsonx_int(s, "version", 0));
		printf("service certificate %s, valid until %s UTC; events sent %lld, "
		    "waiting %lld\n", str(s, "service_serial"), until,
		    jsonx_int(json_object_get(s, "events"), "sent", 0),
		    jsonx_int(json_object_get(s, "events"), "queued", 0));
		if (json_is_object(json_object_get(s, "clock")))
			printf("clock: the center is %+lld ms from this device (measured with a "
			    "%lld ms round trip)\n",
			    jsonx_int(json_object_get(s, "clock"), "offset_ms", 0),
			    jsonx_int(json_object_get(s, "clock"), "rtt_ms", 0));
	}
	printf("\nIKE SAs: %zu\n", json_array_size(json_object_get(r, "ike_sas")));
	if (json_array_size(json_object_get(r, "ike_sas")) > 0)
		printf("  %-20s %-12s %-10s %-44s %s\n", "PEER", "STATE", "ROLE", "SUITE",
		    "CHILD SAs");
	json_array_foreach(json_object_get(r, "ike_sas"), i, s)
		printf("  %-20s %-12s %-10s %-44s %lld\n", str(s, "peer"), str(s, "state"),
		    jsonx_bool(s, "initiator", false) ? "initiator" : "responder",
		    str(s, "suite"), jsonx_int(s, "children", 0));
	printf("\nCHILD SAs (ESP, keys held): %zu\n",
	    json_array_size(json_object_get(r, "child_sas")));
	if (json_array_size(json_object_get(r, "child_sas")) > 0)
		printf("  %-20s %-8s %-8s %-4s %10s %10s %12s %12s %8s\n", "PEER", "SPI-IN",
		    "SPI-OUT", "ESN", "PKTS-IN", "PKTS-OUT", "BYTES-IN", "BYTES-OUT", "IDLE");
	json_array_foreach(json_object_get(r, "child_sas"), i, s)
		printf("  %-20s %-8s %-8s %-4s %10lld %10lld %12lld %12lld %7.1fs\n",
		    str(s, "peer"), str(s, "spi_in"), str(s, "spi_out"),
		    jsonx_bool(s, "esn", false) ? "yes" : "no", jsonx_int(s, "pkts_in", 0),
		    jsonx_int(s, "pkts_out", 0), jsonx_int(s, "bytes_in", 0),
		    jsonx_int(s, "bytes_out", 0), (double)jsonx_int(s, "idle_ms", 0) / 1000);
	if (json_array_size(json_object_get(r, "closed")) > 0) {
		printf("\nRecently closed CHILD SAs (keys wiped):\n");
		printf("  %-20s %-8s %-8s %-20s %s\n", "PEER", "SPI-IN", "SPI-OUT", "CLOSED (UTC)",
		    "REASON");
	}
	json_array_foreach(json_object_get(r, "closed"), i, s) {
		time_t t = (time_t)jsonx_int(s, "time", 0);
		char when[32];
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("  %-20s %-8s %-8s %-20s %s\n", str(s, "peer"), str(s, "spi_in"),
		    str(s, "spi_out"), when, str(s, "reason"));
	}
	drops = json_object_get(json_object_get(r, "dataplane"), "drops");
	printf("\nDropped packets:");
	json_object_foreach(drops, k, v) {
		if (json_integer_value(v) == 0)
			continue;
		printf("%s %s %lld", any++ ? "," : "", k, (long long)json_integer_value(v));
	}
	printf("%s\n", any ? "" : " none");
	s = json_object_get(r, "ike");
	printf("IKE messages: %lld in, %lld out, %lld retransmitted, %lld malformed dropped, "
	    "%lld refused\n", jsonx_int(s, "rx", 0), jsonx_int(s, "tx", 0),
	    jsonx_int(s, "retransmits", 0), jsonx_int(s, "dropped_malformed", 0),
	    jsonx_int(s, "auth_failed", 0));
	json_decref(r);
	return 0;
}

int
cmd_connect(int argc, char **argv)
{
	struct ctl_opts o;
	json_t *r;
	int rc;

	if ((rc = parse_opts(argc, argv, true, &o)) != -1)
		return rc;
	r = call(&o, argv[0], json_pack("{s:s, s:s}", "cmd", "connect", "peer", o.peer));
	if (r == NULL)
		return 1;
	if (o.json)
		print_json(r);
	else if (jsonx_int(r, "setup_ms", 0) == 0)
		printf("tunnel to %s is already up\n", o.peer);
	else
		printf("tunnel to %s is up (set up in %lld ms)\n", o.peer,
		    jsonx_int(r, "setup_ms", 0));
	json_decref(r);
	return 0;
}

int
cmd_disconnect(int argc, char **argv)
{
	struct ctl_opts o;
	json_t *r;
	int rc;

	if ((rc = parse_opts(argc, argv, true, &o)) != -1)
		return rc;
	o.timeout_ms = CALL_TIMEOUT_MS;
	r = call(&o, argv[0], json_pack("{s:s, s:s}", "cmd", "disconnect", "peer", o.peer));
	if (r == NULL)
		return 1;
	if (o.json)
		print_json(r);
	else
		printf("tunnel to %s is closing: Delete sent, keys will be wiped\n", o.peer);
	json_decref(r);
	return 0;
}

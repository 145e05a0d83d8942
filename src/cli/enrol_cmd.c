/*
 * odvpn enrol: the device side of enrolment (SPEC §3 step 3), on top of
 * enrol_run() (src/device/enrol.h). Exit codes: 0 enrolled, 1 refused or
 * failed (the reason is printed), 2 bad usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "device/enrol.h"
#include "lib/util.h"

static void
enrol_help(FILE *f)
{
	fprintf(f,
"usage: odvpn enrol --center URL --pin SHA256 --keystore K [--device-id ID]\n"
"                   [--renew] [--crl FILE] [--timeout S]\n"
"\n"
"Obtain the device's tier-2 service certificate from the center: a fresh\n"
"service key is made inside key store K, its CSR is sent with the device's\n"
"tier-1 certificate (label \"device\", made by odvpn pki issue-device), and the\n"
"answer is believed only when the center's root matches the pin.\n"
"\n"
"  --center URL     the center, e.g. https://center.example:8443\n"
"  --pin SHA256     the root CA's SHA-256 fingerprint, given out of band\n"
"  --keystore K     the device's key store (file:/path or a path)\n"
"  --device-id ID   refuse unless K holds this device (default: K's device)\n"
"  --renew          replace the service key and certificate (POST /v1/renew)\n"
"  --crl FILE       where to write the center's CRL (default K/%s)\n"
"  --timeout S      give up on the center after S seconds (default %d)\n"
"\n"
"Installed in K: service key and certificate (label \"service\"), the service\n"
"CA (\"service-ca\") and the root (\"root\"). On any refusal K is unchanged.\n",
	    ENROL_CRL_FILE, ENROL_TIMEOUT_S);
}

static void
utc(int64_t t, char *buf, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, cap, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		xsnprintf(buf, cap, "?");
}

int
cmd_enrol(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "center",	required_argument, NULL, 'c' },
		{ "pin",	required_argument, NULL, 'p' },
		{ "keystore",	required_argument, NULL, 'k' },
		{ "device-id",	required_argument, NULL, 'd' },
		{ "crl",	required_argument, NULL, 'C' },
		{ "timeout",	required_argument, NULL, 't' },
		{ "renew",	no_argument,	   NULL, 'r' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct enrol_opts o = { 0 };
	struct enrol_result res;
	char err[1024], nb[32], na[32], ra[32];
	int ch, rc;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': o.center = optarg; break;
		case 'p': o.pin = optarg; break;
		case 'k': o.keystore = optarg; break;
		case 'd': o.device_id = optarg; break;
		case 'C': o.crl_path = optarg; break;
		case 'r': o.renew = true; break;
		case 't':
			if (sscanf(optarg, "%ld", &o.timeout_s) != 1 || o.timeout_s < 1 ||
			    o.timeout_s > 3600) {
				fprintf(stderr, "odvpn enrol: --timeout takes 1..3600 seconds\n");
				return 2;
			}
			break;
		case 'h':
			enrol_help(stdout);
			return 0;
		default:
			fprintf(stderr, "odvpn enrol: unknown or incomplete option \"%s\"\n",
			    argv[optind - 1]);
			enrol_help(stderr);
			return 2;
		}
	}
	if (optind != argc || o.center == NULL || o.pin == NULL || o.keystore == NULL) {
		fprintf(stderr, "odvpn enrol: --center, --pin and --keystore are required\n");
		enrol_help(stderr);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = enrol_run(&o, &res, err, sizeof(err));
	curl_global_cleanup();
	if (rc == -1) {
		fprintf(stderr, "odvpn enrol: %s\n", err);
		return 1;
	}
	utc(res.not_before, nb, sizeof(nb));
	utc(res.not_after, na, sizeof(na));
	utc(res.renew_after, ra, sizeof(ra));
	printf("device %s (site %s): %s\n", res.device_id, res.site,
	    o.renew ? "service certificate renewed" : "enrolled");
	printf("  root pinned        %s%s\n", res.root_fp,
	    res.root_in_store ? "" : " (stored in the key store)");
	printf("  service key        generated inside %s (label \"%s\")\n", o.keystore,
	    PKI_LABEL_SERVICE);
	printf("  tier-2 certificate serial %s, valid %s .. %s\n", res.serial, nb, na);
	printf("  renew after        %s\n", ra);
	if (res.crl_path[0] != '\0')
		printf("  CRL written to     %s\n", res.crl_path);
	return 0;
}

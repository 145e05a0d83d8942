/*
 * odvpn-center: the connection management center (SPEC §2, REQ-CTR-1..5).
 * One process, one event loop: the HTTPS API, the push of configuration to
 * devices, and periodic upkeep (grant expiry, CRL refresh). Exits cleanly on
 * SIGTERM or SIGINT; every change is committed before it is answered, so a
 * restart loses nothing.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "center/ca.h"
#include "center/center.h"
#include "center/server.h"
#include "lib/log.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: odvpn-center --config FILE [--check]\n"
	    "  --config FILE   JSON configuration (docs/CENTER.md)\n"
	    "  --check         validate the configuration, the PKI and the store, "
	    "then exit\n");
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	log_info("center: signal %d, shutting down", (int)sig);
	event_base_loopexit(base, NULL);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct center_cfg cfg;
	struct center_ca *ca;
	struct center *c;
	struct server *srv;
	struct event_base *base;
	struct event *sigterm, *sigint;
	const char *config = NULL;
	bool check = false;
	char err[512];
	int ch;

	log_init("odvpn-center", LL_INFO, false);
	while ((ch = getopt_long(argc, argv, "c:kh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (config == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (center_cfg_load(config, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "odvpn-center: bad configuration: %s\n", err);
		return 1;
	}
	log_init("odvpn-center", cfg.log_level, cfg.syslog);
	signal(SIGPIPE, SIG_IGN);
	if ((ca = center_ca_load(cfg.pki_dir, err, sizeof(err))) == NULL) {
		log_error("center: %s", err);
		return 1;
	}
	if ((c = center_new(&cfg, ca, err, sizeof(err))) == NULL) {
		log_error("center: store %s: %s", cfg.database, err);
		center_ca_free(ca);
		return 1;
	}
	if (check) {
		printf("configuration, PKI and store are usable\n");
		center_free(c);
		return 0;
	}
	base = event_base_new();
	if ((srv = server_new(base, c, err, sizeof(err))) == NULL) {
		log_error("center: %s", err);
		center_free(c);
		event_base_free(base);
		return 1;
	}
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	log_info("center: listening on %s port %d (TLS 1.3%s), store %s, root %s",
	    cfg.listen, server_port(srv), cfg.tls12 ? " and 1.2" : " only", cfg.database,
	    center_ca_root_fingerprint(ca));
	center_tick(c);
	event_base_dispatch(base);
	server_free(srv);
	event_free(sigterm);
	event_free(sigint);
	center_free(c);
	event_base_free(base);
	log_info("center: stopped");
	return 0;
}

/*
 * odvpnd: the device daemon of a site. Runs in the foreground (a service manager
 * or the demo supervises it); logs to stderr, or syslog with --syslog.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "device/config.h"
#include "device/daemon.h"
#include "lib/log.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: odvpnd --config FILE [--check] [--log-level LEVEL] [--syslog]\n"
	    "  --config FILE     device configuration (JSON; see docs/DEVICE.md)\n"
	    "  --check           validate the configuration and exit\n"
	    "  --log-level L     error, warn, info (default) or debug\n"
	    "  --syslog          log to syslog instead of stderr\n");
}

static volatile sig_atomic_t prep_stopped;

static void
prep_signal(int sig)
{
	prep_stopped = 1;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	if (sig == SIGHUP)
		daemon_reload_crl(d);
	else
		daemon_stop(d);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config",	required_argument, NULL, 'c' },
		{ "check",	no_argument,	   NULL, 'n' },
		{ "log-level",	required_argument, NULL, 'l' },
		{ "syslog",	no_argument,	   NULL, 's' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *level = NULL;
	bool check = false, use_syslog = false;
	struct event *sigs[3];
	const int signums[3] = { SIGTERM, SIGINT, SIGHUP };
	struct event_base *base;
	struct devcfg cfg;
	struct daemon *d;
	char err[512], *doc = NULL;
	size_t doclen = 0;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:nl:sh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'n': check = true; break;
		case 'l': level = optarg; break;
		case 's': use_syslog = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("odvpnd", LL_INFO, use_syslog);
	if (devcfg_load(path, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "odvpnd: %s\n", err);
		return 1;
	}
	if (check) {
		if (cfg.managed)
			printf("%s: configuration OK (managed by %s)\n", path, cfg.center_url);
		else
			printf("%s: configuration OK (%zu peers)\n", path, cfg.npeers);
		devcfg_free(&cfg);
		return 0;
	}
	log_set_level(cfg.log_level);
	if (level != NULL) {
		enum log_level l;

		if (log_level_parse(level, &l) == -1) {
			fprintf(stderr, "odvpnd: --log-level must be error, warn, info or debug\n");
			devcfg_free(&cfg);
			return 2;
		}
		log_set_level(l);
	}
	signal(SIGPIPE, SIG_IGN);
	if (cfg.managed) {
		/* enrolment may wait for the center: a signal ends the wait */
		signal(SIGTERM, prep_signal);
		signal(SIGINT, prep_signal);
		if (managed_prepare(&cfg, &prep_stopped, &doc, &doclen, err,
		    sizeof(err)) == -1) {
			log_error("%s", err);
			devcfg_free(&cfg);
			return prep_stopped ? 0 : 1;
		}
	}
	base = event_base_new();
	if ((d = daemon_new(base, &cfg, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		free(doc);
		devcfg_free(&cfg);
		event_base_free(base);
		return 1;
	}
	if (doc != NULL && daemon_manage(d, doc, doclen, err, sizeof(err)) == -1) {
		log_error("%s", err);
		daemon_free(d);
		event_base_free(base);
		return 1;
	}
	for (int i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(base, signums[i], on_signal, d);
		evsignal_add(sigs[i], NULL);
	}
	event_base_dispatch(base);
	log_info("stopped");
	for (int i = 0; i < 3; i++)
		event_free(sigs[i]);
	daemon_free(d);
	event_base_free(base);
	return 0;
}

/*
 * odvpn: the one command-line tool. Each verb lives in its own file under
 * src/cli/ and is listed here; nothing else in this file.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/log.h"

static const struct cli_verb verbs[] = {
	{ "pki",	cmd_pki,	"make the PKI, issue device certificates" },
	{ "admin",	cmd_admin,	"administer the center (orgs, sites, devices, groups, rules, grants)" },
	{ "status",	cmd_status,	"show the local device's SAs and counters" },
	{ "peers",	cmd_peers,	"list the local device's peers" },
	{ "connect",	cmd_connect,	"bring up the tunnel to PEER now" },
	{ "disconnect",	cmd_disconnect,	"tear down the tunnel to PEER" },
	{ "enrol",	cmd_enrol,	"obtain this device's service certificate from the center" },
	{ "demo",	cmd_demo,	"run the live demonstration in network namespaces" },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: odvpn <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-11s %s\n", verbs[i].name, verbs[i].help);
	fprintf(f, "\n'odvpn <command> --help' shows a command's options.\n");
}

int
main(int argc, char **argv)
{
	log_init("odvpn", LL_WARN, false);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "odvpn: unknown command \"%s\"\n\n", argv[1]);
	usage(stderr);
	return 2;
}

#include <stdio.h>

#include "cli/cli.h"

static int
ctl_todo(char **argv)
{
	fprintf(stderr, "odvpn %s: not built yet\n", argv[0]);
	return 1;
}

int cmd_status(int argc, char **argv) { (void)argc; return ctl_todo(argv); }
int cmd_peers(int argc, char **argv) { (void)argc; return ctl_todo(argv); }
int cmd_connect(int argc, char **argv) { (void)argc; return ctl_todo(argv); }
int cmd_disconnect(int argc, char **argv) { (void)argc; return ctl_todo(argv); }

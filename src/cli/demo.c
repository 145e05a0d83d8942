#include <stdio.h>

#include "cli/cli.h"

int
cmd_demo(int argc, char **argv)
{
	(void)argc;
	fprintf(stderr, "odvpn %s: not built yet\n", argv[0]);
	return 1;
}

#include <stdio.h>

int
main(int argc, char **argv)
{
	(void)argc;
	fprintf(stderr, "%s: not built yet\n", argv[0]);
	return 1;
}

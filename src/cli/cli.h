/* The verbs of the odvpn tool. Each takes argv with argv[0] = the verb. Exit codes:
 * 0 success, 1 the operation failed, 2 bad usage. */
#ifndef ODVPN_CLI_CLI_H
#define ODVPN_CLI_CLI_H

#include <stdio.h>

struct cli_verb {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*help;
};

int	cmd_pki(int, char **);		/* cli/pki_cmd.c */
int	cmd_admin(int, char **);	/* cli/admin_cmd.c */
int	cmd_status(int, char **);	/* cli/ctl_cmd.c */
int	cmd_peers(int, char **);
int	cmd_connect(int, char **);
int	cmd_disconnect(int, char **);
int	cmd_demo(int, char **);		/* cli/demo.c */
int	cmd_enrol(int, char **);	/* cli/enrol_cmd.c */

#endif

/*
 * odvpn demo, shared between its files (not an API):
 *   demo.c        the verb, the steps in order, the summary
 *   demo_steps.c  the steps after the devices run (traffic on demand, the
 *                 refusals, revocation, audit)
 *   demo_site.c   odvpnd in managed mode at each site, its log, probes
 *   demo_sys.c    processes and namespaces: run, spawn, clean up; output
 */
#ifndef ODVPN_CLI_DEMO_INT_H
#define ODVPN_CLI_DEMO_INT_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define DEMO_PREFIX	"odemo"		/* every namespace this demo makes */
#define DEMO_MAX_NS	16
#define DEMO_MAX_PIDS	32
#define DEMO_NSTEPS	10
#define DEMO_CENTER_IP	"192.0.2.100"
#define DEMO_CENTER_PORT 8443
#define DEMO_CENTER_URL	"https://" DEMO_CENTER_IP ":8443"
#define DEMO_SERVER_OCTET 10		/* the LAN host of each site is 10.N.0.10 */

/* set by SIGINT/SIGTERM/SIGHUP: every wait gives up, the steps stop, cleanup runs */
extern volatile sig_atomic_t demo_stopping;

enum { SITE_HOSP, SITE_CLINIC, SITE_LAB, DEMO_NSITES };

struct demo_site {
	const char	*name;		/* site name at the center, peer name in odvpnd */
	const char	*org;
	const char	*kind;
	const char	*what;		/* "the hospital" */
	const char	*device;	/* device id = the gateway's prompt */
	const char	*host;		/* the LAN host's prompt */
	int		 n;		/* WAN 192.0.2.n, LAN 10.n.0.0/24 */
	char		 ns_gw[64];
	char		 ns_host[64];
	char		 dir[PATH_MAX];	/* $D/<name> */
	char		 ks[PATH_MAX];	/* key store */
	char		 conf[PATH_MAX];	/* odvpnd's (managed) configuration */
	char		 sock[PATH_MAX];
	char		 log[PATH_MAX];
	pid_t		 pid;		/* odvpnd, 0 when not running */
};

enum step_result { STEP_NOT_RUN = 0, STEP_OK, STEP_FAILED };

struct demo {
	char		 dir[PATH_MAX];
	bool		 dir_owned;	/* we fill it: its contents are removed at the end */
	bool		 dir_made;	/* we created it: removed too */
	bool		 keep_dir;
	bool		 verbose;
	char		 odvpn[PATH_MAX];
	char		 odvpnd[PATH_MAX];
	char		 center[PATH_MAX];
	char		 pfx[24];		/* odemo<unique> */
	char		 ns_inet[64];
	char		 ns_center[64];
	char		 netns[DEMO_MAX_NS][64];	/* made by us, removed at the end */
	size_t		 nnetns;
	pid_t		 pids[DEMO_MAX_PIDS];		/* started by us, stopped by PID */
	size_t		 npids;
	pid_t		 center_pid;
	pid_t		 listener_pid;
	char		 pin[80];			/* the root's SHA-256, hex */
	struct demo_site site[DEMO_NSITES];
	long long	 grant_clinic;			/* clinic → hospital, once granted */
	long long	 grant_lab;			/* lab → hospital */
	enum step_result result[DEMO_NSTEPS + 1];	/* [0] = the network */
	char		 note[DEMO_NSTEPS + 1][200];
	uint64_t	 t_start;
};

/* a growable NUL-terminated buffer for command output */
struct dbuf {
	char	*p;
	size_t	 len;
};
void	 dbuf_free(struct dbuf *);

/* ---- output (demo_sys.c) ------------------------------------------------ */

void	 say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* an indented block of text (command output), paths shortened to $D */
void	 say_block(const struct demo *, const char *text, const char *indent);
/* the command line as an operator types it: prompt, program names, $D paths */
void	 say_cmd(const struct demo *, const char *prompt, char *const argv[]);
/* s with the demo directory replaced by $D, into out */
void	 shorten(const struct demo *, const char *s, char *out, size_t cap);

/* ---- processes and namespaces (demo_sys.c) ------------------------------ */

#define RUN_SHOW	0x1	/* print the command line */
#define RUN_OUT		0x2	/* print its output */
#define RUN_PATH	0x4	/* argv[0] is looked up in PATH */

/*
 * Run argv (in namespace ns unless NULL) to completion; its stdout and stderr
 * go to out (if not NULL). Returns the exit status, 128 + signal, or -1 when it
 * could not run or was stopped (timeout_ms, or demo_stopping).
 */
int	 demo_run(struct demo *, const char *ns, const char *prompt, char *const argv[],
	    unsigned flags, int timeout_ms, struct dbuf *out);
/* start argv in the background (its own process group), output to logpath */
pid_t	 demo_spawn(struct demo *, const char *ns, char *const argv[], const char *logpath);
/*
 * Run fn(arg) in a child in namespace ns; what it prints goes to out. Returns
 * its exit status (fn's return value) or -1.
 */
int	 demo_call(struct demo *, const char *ns, int (*fn)(void *), void *arg,
	    int timeout_ms, struct dbuf *out);
/* the same in the background until stopped (registered for cleanup) */
pid_t	 demo_call_bg(struct demo *, const char *ns, int (*fn)(void *), void *arg);
/* `ip` with a command line split at spaces; shown only with --verbose */
int	 demo_ip(struct demo *, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* a namespace <pfx>-<name> (lo up), registered for removal */
int	 demo_netns_add(struct demo *, const char *name, char *out, size_t cap);
/* write a sysctl inside ns ("net/ipv4/ip_forward", "1") */
int	 demo_sysctl(struct demo *, const char *ns, const char *key, const char *value);
/* wait up to timeout_ms for a process we started to end (then it is stopped);
 * its exit status, or -1 */
int	 demo_wait_pid(struct demo *, pid_t, int timeout_ms);
/* SIGTERM a process we started, wait up to wait_ms, then SIGKILL; reaps it */
int	 demo_stop_pid(struct demo *, pid_t, int wait_ms);
/* stop everything, remove the namespaces and (unless kept) the directory */
void	 demo_cleanup(struct demo *);
/* sleep ms unless stopping; false when stopping */
bool	 demo_sleep(int ms);
uint64_t demo_ms(void);

/* ---- sites (demo_site.c) ------------------------------------------------ */

/* write s->conf: the managed configuration (key store, center URL and pin) */
int	 site_write_config(struct demo *, struct demo_site *);
/* start odvpnd; 0 once its control socket answers (after it enrolled itself) */
int	 site_start(struct demo *, struct demo_site *);
/* odvpnd's status / peers as JSON (control socket); NULL on failure */
json_t	*site_status(struct demo_site *);
bool	 site_events_flushed(struct demo_site *, int wait_ms);
json_t	*site_peers(struct demo_site *);
long long site_drops(struct demo_site *, const char *reason);
/* the entry of peer in s's `odvpn peers --json`, a new reference; NULL if none */
json_t	*site_peer(struct demo_site *, const char *peer);
/* a CHILD SA with peer at s */
bool	 site_child_up(struct demo_site *, const char *peer);
/* show `odvpn VERB [args]` of s as typed at its gateway; its exit status */
int	 site_show(struct demo *, struct demo_site *, const char *verb, const char *arg,
	    struct dbuf *out);
/* the size of s's odvpnd log now: where to quote it from (site_log) */
long	 site_log_mark(struct demo_site *);
/*
 * Quote the lines of s's log written since mark that hold one of the needles
 * (NULL-terminated), at most max lines, the timestamp and PID left out.
 * Returns how many were quoted.
 */
int	 site_log(struct demo *, struct demo_site *, long mark, const char *const needles[],
	    int max);
/* wait up to ms for a line holding needle in s's log since mark */
bool	 site_log_wait(struct demo_site *, long mark, const char *needle, int ms);
/*
 * TCP connect from s's LAN host to addr:port, the outcome printed: 0 connected
 * (ms in *ms), -1 not
 */
int	 site_tcp(struct demo *, struct demo_site *, const char *addr, int port,
	    const char *service, int timeout_ms, long *ms);
/* ping once from s's LAN host: 0 answered (RTT of the first reply in *ms) */
int	 site_ping(struct demo *, struct demo_site *, const char *addr, int wait_s,
	    double *ms, bool show);
/* a TCP listener on the hospital server (ports 443 and 22) */
int	 site_listen(struct demo *, struct demo_site *);

/* ---- steps (demo.c frames them and has 0..3, demo_steps.c 4..10) ------- */

/* the step's title line; its result line, recorded for the summary */
void	 step_begin(struct demo *, int n);
bool	 step_end(struct demo *, int n, bool ok, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

bool	 step_clinic_hospital(struct demo *);	/* 4 */
bool	 step_lab_hospital(struct demo *);	/* 5 */
bool	 step_clinic_lab(struct demo *);		/* 6 */
bool	 step_relay(struct demo *);		/* 7 */
bool	 step_port(struct demo *);		/* 8 */
bool	 step_revoke(struct demo *);		/* 9 */
bool	 step_audit(struct demo *);		/* 10 */

/* admin command in the center's namespace (env ODVPN_CENTER/ODVPN_PKI set) */
int	 demo_admin(struct demo *, char *const argv[], unsigned flags, struct dbuf *out);
/* its --json answer parsed, NULL on failure */
json_t	*demo_admin_json(struct demo *, char *const argv[]);
/* the audit records of kind (and device, may be NULL) after seq, a new reference */
json_t	*demo_audit(struct demo *, const char *kind, const char *device, long long after);

#define ARGV(...)	((char *const[]){ __VA_ARGS__, NULL })

#endif

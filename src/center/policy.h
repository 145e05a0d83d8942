/*
 * Connection decisions (SPEC REQ-GRP-1, REQ-CON-1..3; docs/CENTER.md "Decision
 * semantics"). Pure functions over plain structs: no store, no clock of their
 * own (now is an input), so every rule of the semantics has a unit test.
 *
 * A rule permits *flows*: traffic opened from a source side to a destination
 * side with a protocol and destination-port range. A connection application
 * between an initiator site I and a responder site R asks which flows may run
 * I→R and R→I. Each owner's rules give a set of boxes
 *     (orientation, source prefix, destination prefix, protocol, port range)
 * and the effective policy is
 *     provider ∩ own(org of I) ∩ own(org of R)
 * computed box by box (prefixes nest or are disjoint, so the intersection of two
 * prefixes is the longer one or nothing). An organisation with no rules of its
 * own defers to the provider: its set is "everything". The provider with no
 * rules permits nothing.
 */
#ifndef ODVPN_CENTER_POLICY_H
#define ODVPN_CENTER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"

#define POL_NAME_MAX		64	/* org, site, group, zone names (+ NUL) */
#define POL_MAX_PREFIXES	8	/* per site and per zone (IKE TS per SA) */
#define POL_MAX_ZONES		8
#define POL_MAX_FLOWS		32	/* per grant: the device's rule table size */
#define POL_REASON_MAX		256

struct pol_pfxset {
	struct prefix	p[POL_MAX_PREFIXES];
	size_t		n;
};

struct pol_zone {
	char		  name[POL_NAME_MAX];
	struct pol_pfxset pfx;
};

struct pol_site {
	char		  name[POL_NAME_MAX];
	char		  org[POL_NAME_MAX];
	struct pol_pfxset lan;				/* protected LAN prefixes */
	struct pol_zone	  zones[POL_MAX_ZONES];		/* each inside the LAN */
	size_t		  nzones;
	bool		  active;			/* site and its org both active */
	bool		  has_device;			/* a registered, unrevoked device */
};

/* one side of a rule; empty strings and has_prefix false mean "any" */
struct pol_sel {
	char		site[POL_NAME_MAX];
	char		org[POL_NAME_MAX];
	char		zone[POL_NAME_MAX];
	bool		has_prefix;
	struct prefix	prefix;
};

#define POL_DAY(d)	(1u << (d))	/* 0 = Monday … 6 = Sunday */

/* when a rule applies; all present constraints must hold (UTC) */
struct pol_window {
	int64_t		from;		/* 0: no lower bound (Unix seconds) */
	int64_t		until;		/* 0: no upper bound; exclusive */
	int		min_from;	/* daily hours [min_from, min_to) in minutes of */
	int		min_to;		/*   the UTC day; -1/-1: all day */
	unsigned	days;		/* POL_DAY bits; 0: every day */
};

struct pol_rule {
	int64_t		  id;
	char		  owner[POL_NAME_MAX];	/* org name; "" = the provider */
	char		  group[POL_NAME_MAX];	/* "": any; else only between members */
	struct pol_sel	  src, dst;
	bool		  both;			/* also permit dst → src */
	uint8_t		  proto;		/* 0 = any */
	uint16_t	  port_lo, port_hi;	/* destination ports (TCP/UDP/SCTP) */
	struct pol_window win;
	int		  auto_approve;		/* -1: the owner's setting; 0/1 */
};

/* a permitted flow, oriented by the connection */
struct pol_flow {
	bool		from_initiator;	/* opened by I toward R (else R toward I) */
	struct prefix	src, dst;	/* src on the opening side, dst on the other */
	uint8_t		proto;
	uint16_t	port_lo, port_hi;
	/* bookkeeping through the intersection */
	int64_t		not_after;	/* end of the windows of the rules used; 0 none */
	bool		manual;		/* a responder-org rule asks for approval */
};

enum pol_decision {
	POL_DENIED = 0,
	POL_GRANTED,
	POL_PENDING,		/* allowed, awaiting the responder org's approval */
};

struct pol_input {
	const struct pol_site	*init, *resp;
	/* group names both sites are members of */
	const char *const	*common_groups;
	size_t			 ncommon;
	const struct pol_rule	*rules;		/* provider and every org's rules */
	size_t			 nrules;
	bool			 resp_org_auto_approve;
	int64_t			 now;
	int64_t			 validity_s;	/* grant lifetime before window clipping */
};

struct pol_result {
	enum pol_decision	decision;
	char			reason[POL_REASON_MAX];
	struct pol_flow		flows[POL_MAX_FLOWS];
	size_t			nflows;
	int64_t			not_before, not_after;
};

/* the decision for one application; always fills res->reason */
enum pol_decision pol_decide(const struct pol_input *, struct pol_result *);

/* helpers, exposed for tests and for validation of rules by the API */
bool	pol_window_open(const struct pol_window *, int64_t now);
/* end of the window's current open period at now (0: unbounded) */
int64_t	pol_window_end(const struct pol_window *, int64_t now);
/* prefix a ∩ b: 0 and *out when they overlap, -1 when disjoint */
int	pol_prefix_and(const struct prefix *a, const struct prefix *b, struct prefix *out);
bool	pol_flow_contains(const struct pol_flow *outer, const struct pol_flow *inner);
/* "tcp" "udp" "icmp" "icmpv6" "sctp" "any" or a number 0..255 */
int	pol_proto_parse(const char *, uint8_t *);
/* name for a protocol number into buf ("tcp", "any", or the number) */
const char *pol_proto_name(uint8_t, char *buf, size_t cap);
bool	pol_proto_has_ports(uint8_t);
/* "443" or "8000-8080" */
int	pol_ports_parse(const char *, uint16_t *lo, uint16_t *hi);
/* "08:00-18:00" (UTC; to may be 24:00) */
int	pol_hours_parse(const char *, int *min_from, int *min_to);
/* "mon" … "sun" → 0 … 6, or -1 */
int	pol_day_parse(const char *);
const char *pol_day_name(int);

#endif

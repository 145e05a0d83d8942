/*
 * Data-plane policy: what an inner IP packet is (addresses, protocol, ports),
 * which peer owns a destination (longest-prefix match), whether a peer's rules
 * permit a packet (SPEC REQ-CON-3), and the prefix-set tests behind the no-relay
 * rule (REQ-POL-1). No allocation on lookups; the table is rebuilt whole when
 * the peer set changes.
 */
#ifndef ODVPN_DEVICE_POLICY_POLICY_H
#define ODVPN_DEVICE_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device/dataplane.h"
#include "lib/addr.h"

/* the fields of an inner packet that policy looks at */
struct pol_pkt {
	struct ipaddr	src, dst;
	uint8_t		proto;		/* transport protocol after IPv6 extension headers */
	bool		has_ports;	/* TCP/UDP/SCTP first fragment with ports present */
	uint16_t	sport, dport;
	size_t		len;		/* IP total length (<= the buffer) */
	size_t		hdrlen;		/* IP header incl. IPv6 extension headers */
};

/*
 * Parse an IPv4 or IPv6 packet (a full packet, as from the TUN or out of ESP).
 * -1 if malformed: short, wrong version, bad IHL, total length beyond len.
 */
int	pol_parse(const uint8_t *pkt, size_t len, struct pol_pkt *);

/* longest-prefix match from prefixes to a 32-bit value (a peer index) */
struct pol_lpm;
struct pol_lpm *pol_lpm_new(size_t nprefixes);
void	pol_lpm_free(struct pol_lpm *);
/* 0; -1 if the same prefix is already in (the first one stays) or the table is full */
int	pol_lpm_insert(struct pol_lpm *, const struct prefix *, uint32_t value);
/* 0 and *value of the longest matching prefix; -1 if none */
int	pol_lpm_lookup(const struct pol_lpm *, const struct ipaddr *, uint32_t *value);

/*
 * The rule check of struct dp_rule for a packet going in direction dir (OUT: our
 * LAN to the peer, IN: the peer to our LAN). No rules: everything permitted.
 * A rule matches its own direction (destination port in range) or, as the reply
 * of a flow it allows, the opposite one (source port in range). A TCP/UDP rule
 * with port_hi == 0 means any port; a rule with ports never matches a packet
 * without them (a later IPv4 fragment).
 */
bool	pol_rules_allow(const struct dp_rule *, size_t nrules, enum dp_dir dir,
	    const struct pol_pkt *);

/* addr inside any of the prefixes */
bool	pol_in_prefixes(const struct prefix *, size_t n, const struct ipaddr *);

#endif

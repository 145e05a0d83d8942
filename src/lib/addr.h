/*
 * IP addresses and prefixes, IPv4 and IPv6 alike. Shared by the center (site
 * prefixes, rules) and the device (traffic selectors, routes, policy).
 * IPv4 addresses are stored in a[0..3]; the rest of a[] is zero.
 */
#ifndef ODVPN_LIB_ADDR_H
#define ODVPN_LIB_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_STRLEN	(INET6_ADDRSTRLEN + 4)	/* room for "/128" */

struct ipaddr {
	sa_family_t	af;		/* AF_INET or AF_INET6 */
	uint8_t		a[16];
};

struct prefix {
	struct ipaddr	addr;		/* host bits are zero */
	uint8_t		len;		/* 0..32 or 0..128 */
};

size_t	ipaddr_len(const struct ipaddr *);	/* 4 or 16 */
int	ipaddr_parse(const char *, struct ipaddr *);
void	ipaddr_format(const struct ipaddr *, char *, size_t);
bool	ipaddr_eq(const struct ipaddr *, const struct ipaddr *);
int	ipaddr_from_sockaddr(const struct sockaddr *, struct ipaddr *, uint16_t *port);
/* fills ss; returns its length */
socklen_t ipaddr_to_sockaddr(const struct ipaddr *, uint16_t port,
	    struct sockaddr_storage *);

/*
 * "10.1.0.0/24", "fd00::/64", or a bare address (a host prefix).
 * Strict: rejects set host bits with a message in err.
 */
int	prefix_parse(const char *, struct prefix *, char *err, size_t errlen);
void	prefix_format(const struct prefix *, char *, size_t);
bool	prefix_contains(const struct prefix *, const struct ipaddr *);
bool	prefix_overlaps(const struct prefix *, const struct prefix *);
/* lowest and highest address of the prefix (for IKE traffic selectors) */
void	prefix_range(const struct prefix *, struct ipaddr *lo, struct ipaddr *hi);
/* the largest prefix exactly covering [lo, hi], or -1 if the range is not a prefix */
int	prefix_from_range(const struct ipaddr *lo, const struct ipaddr *hi,
	    struct prefix *);

#endif

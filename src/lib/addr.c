#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/util.h"

size_t
ipaddr_len(const struct ipaddr *a)
{
	return a->af == AF_INET ? 4 : 16;
}

int
ipaddr_parse(const char *s, struct ipaddr *out)
{
	struct ipaddr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, a.a) == 1)
		a.af = AF_INET;
	else if (inet_pton(AF_INET6, s, a.a) == 1)
		a.af = AF_INET6;
	else
		return -1;
	*out = a;
	return 0;
}

void
ipaddr_format(const struct ipaddr *a, char *buf, size_t n)
{
	if (inet_ntop(a->af, a->a, buf, (socklen_t)n) == NULL && n > 0)
		xsnprintf(buf, n, "?");
}

bool
ipaddr_eq(const struct ipaddr *x, const struct ipaddr *y)
{
	return x->af == y->af && memcmp(x->a, y->a, ipaddr_len(x)) == 0;
}

int
ipaddr_from_sockaddr(const struct sockaddr *sa, struct ipaddr *out, uint16_t *port)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		out->af = AF_INET;
		memcpy(out->a, &sin->sin_addr, 4);
		if (port != NULL)
			*port = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		out->af = AF_INET6;
		memcpy(out->a, &sin6->sin6_addr, 16);
		if (port != NULL)
			*port = ntohs(sin6->sin6_port);
		return 0;
	}
	return -1;
}

socklen_t
ipaddr_to_sockaddr(const struct ipaddr *a, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a->a, 4);
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a->a, 16);
		return sizeof(*sin6);
	}
}

static bool
host_bits_zero(const struct ipaddr *a, unsigned len)
{
	size_t n = ipaddr_len(a);

	for (size_t i = 0; i < n; i++) {
		unsigned bit = (unsigned)i * 8;
		uint8_t mask;

		if (bit + 8 <= len)
			continue;
		mask = bit >= len ? 0xff : (uint8_t)(0xff >> (len - bit));
		if (a->a[i] & mask)
			return false;
	}
	return true;
}

int
prefix_parse(const char *s, struct prefix *out, char *err, size_t errlen)
{
	char buf[ADDR_STRLEN], *slash, *end;
	struct prefix p;
	unsigned long len;
	unsigned max;

	if (strlen(s) >= sizeof(buf)) {
		xsnprintf(err, errlen, "prefix too long: \"%.60s\"", s);
		return -1;
	}
	strcpy(buf, s);
	memset(&p, 0, sizeof(p));
	if ((slash = strchr(buf, '/')) != NULL)
		*slash = '\0';
	if (ipaddr_parse(buf, &p.addr) == -1) {
		xsnprintf(err, errlen, "not an IP address: \"%s\"", buf);
		return -1;
	}
	max = p.addr.af == AF_INET ? 32 : 128;
	if (slash == NULL) {
		len = max;
	} else {
		if (slash[1] < '0' || slash[1] > '9') {
			xsnprintf(err, errlen, "bad prefix length in \"%s\"", s);
			return -1;
		}
		len = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || len > max) {
			xsnprintf(err, errlen, "bad prefix length in \"%s\"", s);
			return -1;
		}
	}
	p.len = (uint8_t)len;
	if (!host_bits_zero(&p.addr, p.len)) {
		xsnprintf(err, errlen, "host bits set in \"%s\"", s);
		return -1;
	}
	*out = p;
	return 0;
}

void
prefix_format(const struct prefix *p, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	ipaddr_format(&p->addr, a, sizeof(a));
	xsnprintf(buf, n, "%s/%u", a, p->len);
}

static bool
match_bits(const uint8_t *x, const uint8_t *y, unsigned len)
{
	unsigned full = len / 8, rest = len % 8;

	if (memcmp(x, y, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((x[full] ^ y[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool
prefix_contains(const struct prefix *p, const struct ipaddr *a)
{
	return p->addr.af == a->af && match_bits(p->addr.a, a->a, p->len);
}

bool
prefix_overlaps(const struct prefix *x, const struct prefix *y)
{
	if (x->addr.af != y->addr.af)
		return false;
	return match_bits(x->addr.a, y->addr.a, MIN(x->len, y->len));
}

void
prefix_range(const struct prefix *p, struct ipaddr *lo, struct ipaddr *hi)
{
	size_t n = ipaddr_len(&p->addr);

	*lo = p->addr;
	*hi = p->addr;
	for (size_t i = 0; i < n; i++) {
		unsigned bit = (unsigned)i * 8;

		if (bit + 8 <= p->len)
			continue;
		hi->a[i] |= bit >= p->len ? 0xff : (uint8_t)(0xff >> (p->len - bit));
	}
}

int
prefix_from_range(const struct ipaddr *lo, const struct ipaddr *hi, struct prefix *out)
{
	unsigned max = lo->af == AF_INET ? 32 : 128;

	if (lo->af != hi->af)
		return -1;
	for (unsigned len = 0; len <= max; len++) {
		struct prefix p;
		struct ipaddr l, h;

		p.addr = *lo;
		p.len = (uint8_t)len;
		if (!host_bits_zero(&p.addr, p.len))
			continue;
		prefix_range(&p, &l, &h);
		if (ipaddr_eq(&h, hi)) {
			*out = p;
			return 0;
		}
		/* shorter prefixes only grow hi; once past, no match */
	}
	return -1;
}

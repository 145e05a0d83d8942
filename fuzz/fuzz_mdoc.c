/*
 * libFuzzer target: the center's configuration document (mdoc_parse) on
 * arbitrary bytes. Anything may be refused, and then nothing is left
 * allocated; what is accepted must respect every bound of the structures the
 * IKE engine and the data plane take, and a peer is open exactly when a grant
 * was merged into it.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "device/mdoc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* the instant of the seed corpus' documents (inside their grants) */
#define FUZZ_NOW	1795320000LL

static void
check_string(const char *s, size_t cap)
{
	if (memchr(s, '\0', cap) == NULL)
		abort();
}

static void
check_peer(const struct mdoc *d, const struct mdoc_peer *p)
{
	check_string(p->p.ike.name, sizeof(p->p.ike.name));
	check_string(p->p.ike.id, sizeof(p->p.ike.id));
	check_string(p->device, sizeof(p->device));
	if (p->p.ike.name[0] == '\0' || strcmp(p->p.ike.name, p->p.dp.name) != 0 ||
	    mdoc_peer(d, p->p.ike.name) != p)
		abort();
	if (p->p.dp.nremote == 0 || p->p.dp.nremote > DP_MAX_PREFIX ||
	    p->p.dp.nrules > DP_MAX_RULES || p->p.ike.nlocal_ts > CHILD_SA_MAX_TS ||
	    p->p.ike.nremote_ts > CHILD_SA_MAX_TS || p->ngrants > MDOC_MAX_GRANTS)
		abort();
	/* open exactly when a grant with an enforceable flow was merged */
	if (p->granted != (p->ngrants > 0) || p->p.dp.closed == p->granted)
		abort();
	if (p->granted && (p->p.dp.nrules == 0 || p->p.ike.nlocal_ts == 0 ||
	    p->p.ike.nremote_ts == 0 || p->p.ike.id[0] == '\0' ||
	    p->not_after <= FUZZ_NOW || d->next_change > p->not_after))
		abort();
	if (!p->granted && (p->p.dp.nrules != 0 || p->not_after != INT64_MAX))
		abort();
	if (p->p.ike.addr.af != 0 && p->p.ike.port == 0)
		abort();
	for (size_t i = 0; i < p->p.dp.nrules; i++) {
		const struct dp_rule *r = &p->p.dp.rules[i];

		if (r->dir < DP_DIR_OUT || r->dir > DP_DIR_BOTH || r->port_lo > r->port_hi)
			abort();
		/* ports only where they mean something: never widened to "any" */
		if ((r->port_lo != 0 || r->port_hi != 65535) && r->proto != 6 &&
		    r->proto != 17 && r->proto != 132)
			abort();
	}
}

static void
check(const struct mdoc *d)
{
	check_string(d->device_id, sizeof(d->device_id));
	check_string(d->site, sizeof(d->site));
	check_string(d->org, sizeof(d->org));
	if (d->device_id[0] == '\0' || d->site[0] == '\0' || d->org[0] == '\0' ||
	    d->nlocal > DP_MAX_PREFIX || d->npeers > MDOC_MAX_PEERS ||
	    d->nrevoked > MDOC_MAX_REVOKED || d->next_change <= FUZZ_NOW)
		abort();
	if (d->suspended && d->npeers != 0)
		abort();
	for (size_t i = 0; i < d->npeers; i++)
		check_peer(d, &d->peers[i]);
	for (size_t i = 0; i < d->nrevoked; i++) {
		const char *s = d->revoked[i];

		check_string(s, PKI_SERIAL_HEX_MAX);
		if (s[0] == '\0')
			abort();
		for (size_t k = 0; s[k] != '\0'; k++)
			if (!isxdigit((unsigned char)s[k]) || isupper((unsigned char)s[k]))
				abort();
		if (!mdoc_revoked(d, s))
			abort();
	}
	if (d->pol.dh_groups[0] == 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mdoc d;
	char err[256];

	if (mdoc_parse((const char *)data, size, FUZZ_NOW, &d, err, sizeof(err)) == 0) {
		check(&d);
		mdoc_free(&d);
		return 0;
	}
	/* refused whole, with a reason, nothing kept */
	if (err[0] == '\0' || d.peers != NULL || d.revoked != NULL || d.crl_pem != NULL)
		abort();
	return 0;
}

#include <stdlib.h>
#include <string.h>

#include "device/policy/flow.h"
#include "device/policy/policy.h"
#include "lib/util.h"

/* the table is never more than this full: probes stay short */
#define FLOW_LOAD_NUM	3
#define FLOW_LOAD_DEN	4

void
flow_table_init(struct flow_table *t, size_t cap)
{
	size_t c = 16;

	while (c < cap)
		c <<= 1;
	memset(t, 0, sizeof(*t));
	t->cap = c;
	t->slots = xcalloc(c, sizeof(*t->slots));
	t->spare = xcalloc(c, sizeof(*t->spare));
}

void
flow_table_free(struct flow_table *t)
{
	free(t->slots);
	free(t->spare);
	memset(t, 0, sizeof(*t));
}

static uint64_t
mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

static size_t
flow_hash(const struct flow_table *t, const struct ipaddr *l, const struct ipaddr *r,
    uint16_t lp, uint16_t rp, uint8_t proto)
{
	uint64_t h = 0, w[4];

	memcpy(w, l->a, 16);
	memcpy(w + 2, r->a, 16);
	for (size_t i = 0; i < 4; i++)
		h = mix(h, w[i]);
	h = mix(h, (uint64_t)lp << 24 | (uint64_t)rp << 8 | proto);
	return (size_t)h & (t->cap - 1);
}

static bool
flow_is(const struct flow *f, const char *peer, const struct ipaddr *l,
    const struct ipaddr *r, uint16_t lp, uint16_t rp, uint8_t proto)
{
	return f->lport == lp && f->rport == rp && f->proto == proto &&
	    ipaddr_eq(&f->local, l) && ipaddr_eq(&f->remote, r) &&
	    strcmp(f->peer, peer) == 0;
}

void
flow_account(struct flow_table *t, const char *peer, const struct pol_pkt *p, bool out,
    size_t len, uint64_t now)
{
	const struct ipaddr *l = out ? &p->src : &p->dst, *r = out ? &p->dst : &p->src;
	uint16_t lp = 0, rp = 0;
	struct flow *f;
	size_t i;

	if (p->has_ports) {
		lp = out ? p->sport : p->dport;
		rp = out ? p->dport : p->sport;
	}
	for (i = flow_hash(t, l, r, lp, rp, p->proto); ; i = (i + 1) & (t->cap - 1)) {
		f = &t->slots[i];
		if (!f->used)
			break;
		if (flow_is(f, peer, l, r, lp, rp, p->proto))
			goto found;
	}
	if ((t->n + 1) * FLOW_LOAD_DEN > t->cap * FLOW_LOAD_NUM) {
		t->untracked++;
		return;
	}
	memset(f, 0, sizeof(*f));
	f->used = true;
	xsnprintf(f->peer, sizeof(f->peer), "%s", peer);
	f->local = *l;
	f->remote = *r;
	f->lport = lp;
	f->rport = rp;
	f->proto = p->proto;
	f->opened_out = out;
	f->start_ms = now;
	t->n++;
found:
	f->last_ms = now;
	if (out) {
		f->bytes_out += len;
		f->pkts_out++;
	} else {
		f->bytes_in += len;
		f->pkts_in++;
	}
}

/* put f back into the (emptied) table: the probe chains stay unbroken */
static void
reinsert(struct flow_table *t, const struct flow *f)
{
	size_t i = flow_hash(t, &f->local, &f->remote, f->lport, f->rport, f->proto);

	while (t->slots[i].used)
		i = (i + 1) & (t->cap - 1);
	t->slots[i] = *f;
}

void
flow_end(struct flow_table *t, const char *peer, uint64_t now, uint64_t idle_ms,
    flow_end_fn *fn, void *arg)
{
	size_t i, kept = 0, ended = 0;

	for (i = 0; i < t->cap; i++) {
		struct flow *f = &t->slots[i];

		if (!f->used)
			continue;
		if ((peer != NULL && strcmp(f->peer, peer) == 0) ||
		    (peer == NULL && (idle_ms == 0 || now - f->last_ms >= idle_ms))) {
			fn(arg, f);
			ended++;
		} else {
			t->spare[kept++] = *f;
		}
	}
	if (ended == 0)
		return;
	/* rebuild from the survivors (open addressing has no simple delete) */
	memset(t->slots, 0, t->cap * sizeof(*t->slots));
	for (i = 0; i < kept; i++)
		reinsert(t, &t->spare[i]);
	t->n = kept;
}

/*
 * The SA table: IKE SAs by our SPI (RFC 7296 §2.6: "mapped using the SPI it
 * assigned", the Initiator flag telling which half is ours), their CHILD SAs,
 * lifetimes, and the queue of requests waiting for the window (size 1).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "device/ike/ike_local.h"
#include "lib/log.h"
#include "lib/util.h"

static unsigned
spi_hash(const uint8_t *spi)
{
	return (unsigned)(spi[0] ^ spi[3] ^ spi[5] ^ spi[7]) % IKE_HASH_SIZE;
}

static const uint8_t *
our_spi(const struct ike_sa *sa)
{
	return sa->initiator ? sa->spi_i : sa->spi_r;
}

struct ike_sa *
ike_sa_new(struct ike_engine *e, bool initiator)
{
	struct ike_sa *sa = xcalloc(1, sizeof(*sa));
	uint8_t *mine = initiator ? sa->spi_i : sa->spi_r;
	static const uint8_t zero[8];

	sa->eng = e;
	sa->id = ++e->next_id;
	sa->initiator = initiator;
	/* a fresh SPI that no SA of ours uses (§2.6: zero is special) */
	do {
		ike_random(e, mine, IKE_SPI_LEN);
	} while (memcmp(mine, zero, 8) == 0 || ike_sa_lookup(e, mine, initiator) != NULL ||
	    ike_sa_lookup(e, mine, !initiator) != NULL);
	sa->created_ms = sa->last_rx_ms = ike_now(e);
	return sa;
}

/* link a new SA into the engine: until then it belongs to whoever made it */
void
ike_sa_insert(struct ike_sa *sa)
{
	unsigned h = spi_hash(our_spi(sa));

	if (sa->in_table)
		return;
	sa->next = sa->eng->sas;
	sa->eng->sas = sa;
	sa->hnext = sa->eng->hash[h];
	sa->eng->hash[h] = sa;
	sa->in_table = true;
}

struct ike_sa *
ike_sa_lookup(struct ike_engine *e, const uint8_t *spi, bool we_initiated)
{
	for (struct ike_sa *sa = e->hash[spi_hash(spi)]; sa != NULL; sa = sa->hnext)
		if (sa->initiator == we_initiated && sa->state != IKE_ST_DEAD &&
		    memcmp(our_spi(sa), spi, IKE_SPI_LEN) == 0)
			return sa;
	return NULL;
}

struct ike_sa *
ike_sa_lookup_half_open(struct ike_engine *e, const uint8_t *spi_i,
    const struct ipaddr *addr, uint16_t port)
{
	for (struct ike_sa *sa = e->sas; sa != NULL; sa = sa->next)
		if (!sa->initiator && sa->state == IKE_ST_HALF_OPEN && sa->msgid_peer == 1 &&
		    memcmp(sa->spi_i, spi_i, 8) == 0 && ipaddr_eq(&sa->raddr, addr) &&
		    sa->rport == port)
			return sa;
	return NULL;
}

struct ike_sa *
ike_sa_by_id(struct ike_engine *e, uint64_t id)
{
	for (struct ike_sa *sa = e->sas; sa != NULL; sa = sa->next)
		if (sa->id == id && sa->state != IKE_ST_DEAD)
			return sa;
	return NULL;
}

struct ike_child *
ike_child_new(void)
{
	return xcalloc(1, sizeof(struct ike_child));
}

void
ike_child_free(struct ike_child *c)
{
	if (c == NULL)
		return;
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

static bool
spi_in_use(struct ike_engine *e, uint32_t spi)
{
	for (struct ike_sa *sa = e->sas; sa != NULL; sa = sa->next) {
		for (struct ike_child *c = sa->children; c != NULL; c = c->next)
			if (c->spi_in == spi)
				return true;
		if (sa->ctx.child != NULL && sa->ctx.child->spi_in == spi)
			return true;
	}
	return false;
}

/* SPIs 1..255 are reserved by IANA (RFC 4303 §2.1) */
uint32_t
ike_child_alloc_spi(struct ike_engine *e)
{
	uint32_t spi;

	do {
		ike_random(e, &spi, sizeof(spi));
	} while (spi < 256 || spi_in_use(e, spi));
	return spi;
}

void
ike_child_insert(struct ike_sa *sa, struct ike_child *c)
{
	c->next = sa->children;
	sa->children = c;
}

struct ike_child *
ike_child_by_in(struct ike_sa *sa, uint32_t spi)
{
	for (struct ike_child *c = sa->children; c != NULL; c = c->next)
		if (c->spi_in == spi)
			return c;
	return NULL;
}

struct ike_child *
ike_child_by_out(struct ike_sa *sa, uint32_t spi)
{
	for (struct ike_child *c = sa->children; c != NULL; c = c->next)
		if (c->spi_out == spi)
			return c;
	return NULL;
}

void
ike_child_schedule(struct ike_sa *sa, struct ike_child *c)
{
	struct ike_engine *e = sa->eng;
	uint64_t life = (uint64_t)e->cfg.child_rekey_s * 1000, jitter = 0;
	uint32_t r;

	/* §2.8.1: jitter the soft lifetime so both ends rarely rekey at once */
	ike_random(e, &r, sizeof(r));
	if (life >= 10)
		jitter = r % (life / 10);
	c->created_ms = ike_now(e);
	c->rekey_ms = c->created_ms + life - jitter;
	c->expire_ms = c->created_ms + life + life / 10;
}

void
ike_child_install(struct ike_sa *sa, struct ike_child *c, uint32_t replaces)
{
	struct ike_engine *e = sa->eng;
	struct child_sa cs;

	memset(&cs, 0, sizeof(cs));
	xsnprintf(cs.peer, sizeof(cs.peer), "%s", sa->peer.name);
	cs.ike_sa_id = sa->id;
	cs.spi_in = c->spi_in;
	cs.spi_out = c->spi_out;
	memcpy(cs.key_in, c->key_in, CHILD_SA_KEYLEN);
	memcpy(cs.key_out, c->key_out, CHILD_SA_KEYLEN);
	cs.esn = c->esn;
	cs.local_addr = sa->laddr;
	cs.peer_addr = sa->raddr;
	cs.local_port = sa->lport;
	cs.peer_port = sa->rport;
	memcpy(cs.local_ts, c->lts, sizeof(cs.local_ts));
	cs.nlocal_ts = c->nlts;
	memcpy(cs.remote_ts, c->rts, sizeof(cs.remote_ts));
	cs.nremote_ts = c->nrts;
	cs.replaces_spi_in = replaces;
	cs.lifetime_ms = c->expire_ms > c->created_ms ? c->expire_ms - c->created_ms : 0;
	c->installed = true;
	e->stats.child_up++;
	log_info("ike sa=%llu peer=%s: CHILD SA %08x_i %08x_o up%s",
	    (unsigned long long)sa->id, sa->peer.name, c->spi_in, c->spi_out,
	    replaces ? " (rekey)" : "");
	if (e->ops.child_up != NULL)
		e->ops.child_up(e->ops.arg, &cs);
	OPENSSL_cleanse(&cs, sizeof(cs));
}

void
ike_child_remove(struct ike_sa *sa, struct ike_child *c, const char *reason)
{
	struct ike_engine *e = sa->eng;
	struct ike_child **pp;

	for (pp = &sa->children; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->installed) {
		e->stats.child_down++;
		log_info("ike sa=%llu peer=%s: CHILD SA %08x_i %08x_o down: %s",
		    (unsigned long long)sa->id, sa->peer.name, c->spi_in, c->spi_out,
		    reason);
		if (e->ops.child_down != NULL)
			e->ops.child_down(e->ops.arg, sa->peer.name, c->spi_in, c->spi_out,
			    reason);
	}
	ike_child_free(c);
}

void
ike_sa_clear_ctx(struct ike_sa *sa)
{
	struct ike_req_ctx *x = &sa->ctx;

	ike_child_free(x->child);
	if (x->new_sa != NULL)
		ike_sa_free(x->new_sa);
	dh_free(x->dh);
	OPENSSL_cleanse(x, sizeof(*x));
	x->kind = REQ_NONE;
}

void
ike_sa_schedule(struct ike_sa *sa)
{
	struct ike_engine *e = sa->eng;
	uint64_t life = (uint64_t)e->cfg.ike_rekey_s * 1000, jitter = 0, now = ike_now(e);
	uint32_t r;

	ike_random(e, &r, sizeof(r));
	if (life >= 10)
		jitter = r % (life / 10);
	sa->rekey_ms = now + life - jitter;
	sa->expire_ms = now + life + life / 10;
}

void
ike_sa_set_established(struct ike_sa *sa)
{
	struct ike_engine *e = sa->eng;

	if (sa->half_open) {
		sa->half_open = false;
		e->half_open--;
	}
	sa->state = IKE_ST_ESTABLISHED;
	sa->established_ms = ike_now(e);
	if (!sa->was_up) {
		sa->was_up = true;
		e->stats.sa_up++;
	}
	ike_sa_schedule(sa);
	/* the IKE_SA_INIT messages are only needed for AUTH */
	free(sa->init_req);
	free(sa->init_resp);
	sa->init_req = sa->init_resp = NULL;
	dh_free(sa->dh);
	sa->dh = NULL;
}

/* move the CHILD SAs of a rekeyed IKE SA to its successor (§2.18) */
void
ike_sa_adopt_children(struct ike_sa *to, struct ike_sa *from)
{
	while (from->children != NULL) {
		struct ike_child *c = from->children;

		from->children = c->next;
		c->next = to->children;
		to->children = c;
	}
}

void
ike_sa_kill(struct ike_sa *sa, const char *reason)
{
	struct ike_engine *e = sa->eng;

	if (sa->state == IKE_ST_DEAD)
		return;
	while (sa->children != NULL)
		ike_child_remove(sa, sa->children, reason);
	if (sa->half_open) {
		sa->half_open = false;
		e->half_open--;
	}
	if (sa->was_up && !sa->quiet) {
		e->stats.sa_down++;
		log_info("ike sa=%llu peer=%s: IKE SA down: %s", (unsigned long long)sa->id,
		    ike_sa_peer_name(sa), reason);
		ike_event(e, IKE_EV_SA_DOWN, ike_sa_peer_name(sa), "%s", reason);
	} else
		log_debug("ike sa=%llu: removed: %s", (unsigned long long)sa->id, reason);
	sa->state = IKE_ST_DEAD;
}

void
ike_sa_free(struct ike_sa *sa)
{
	if (sa == NULL)
		return;
	while (sa->children != NULL) {
		struct ike_child *c = sa->children;

		sa->children = c->next;
		ike_child_free(c);
	}
	ike_sa_clear_ctx(sa);
	ike_out_clear(&sa->req);
	ike_out_clear(&sa->resp);
	ike_frag_clear(&sa->reass[0]);
	ike_frag_clear(&sa->reass[1]);
	dh_free(sa->dh);
	free(sa->init_req);
	free(sa->init_resp);
	OPENSSL_cleanse(sa, sizeof(*sa));
	free(sa);
}

/* unlink and free every dead SA */
void
ike_sa_reap(struct ike_engine *e)
{
	struct ike_sa **pp = &e->sas;

	while (*pp != NULL) {
		struct ike_sa *sa = *pp;

		if (sa->state != IKE_ST_DEAD) {
			pp = &sa->next;
			continue;
		}
		*pp = sa->next;
		{
			struct ike_sa **hp = &e->hash[spi_hash(our_spi(sa))];

			while (*hp != sa)
				hp = &(*hp)->hnext;
			*hp = sa->hnext;
		}
		ike_sa_free(sa);
	}
}

/*
 * Window size 1 (§2.3): one request at a time. Pending work is kept as flags
 * and started here, most urgent first, whenever the window is free.
 */
void
ike_sa_kick(struct ike_sa *sa)
{
	struct ike_child *c;

	if (sa->req.active || sa->state == IKE_ST_DEAD || !sa->have_keys)
		return;
	if (sa->pending & PEND_DELETE_IKE) {
		sa->pending = 0;
		ike_info_delete_ike(sa);
		return;
	}
	if (sa->state != IKE_ST_ESTABLISHED && sa->state != IKE_ST_REKEYED)
		return;
	for (c = sa->children; c != NULL; c = c->next)
		if (c->pend_delete) {
			c->pend_delete = false;
			ike_info_delete_child(sa, c);
			return;
		}
	if (sa->state != IKE_ST_ESTABLISHED)
		return;
	for (c = sa->children; c != NULL; c = c->next)
		if (c->pend_rekey) {
			c->pend_rekey = false;
			if (c->state == CHILD_INSTALLED) {
				ike_child_rekey_start(sa, c);
				return;
			}
		}
	if (sa->pending & PEND_REKEY_IKE) {
		sa->pending &= ~PEND_REKEY_IKE;
		ike_child_ike_rekey_start(sa);
		return;
	}
	if (sa->pending & PEND_LIVENESS) {
		sa->pending &= ~PEND_LIVENESS;
		ike_info_liveness(sa);
	}
}

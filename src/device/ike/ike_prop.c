/*
 * Proposals (RFC 7296 §2.7, §3.3.6): what we offer, how we choose from a
 * peer's offer, and the check that an answer picks only what we offered.
 * The algorithms are SPEC §5: AES-GCM-16 (256; 128 also accepted for IKE),
 * PRF HMAC-SHA2-256/384, DH 19/20/31; ESP AES-GCM-16-256 with or without ESN.
 * AEAD means no INTEG transform (or only NONE) in a chosen proposal.
 */
#include <string.h>

#include "crypto/dh.h"
#include "device/ike/ike_local.h"
#include "lib/util.h"

static void
add_xf(struct ike_prop *p, uint8_t type, uint16_t id, uint16_t keylen)
{
	if (p->nxf < IKE_MAX_XFORMS)
		p->xf[p->nxf++] = (struct ike_xform){ type, id, keylen, false };
}

static bool
dh_allowed(const struct ike_engine *e, int group)
{
	for (size_t i = 0; i < nitems(e->cfg.dh_groups) && e->cfg.dh_groups[i]; i++)
		if (e->cfg.dh_groups[i] == group)
			return dh_supported(group);
	return false;
}

void
ike_prop_ike(const struct ike_engine *e, struct ike_prop *p, int first_dh,
    const uint8_t *spi, uint8_t spi_size)
{
	memset(p, 0, sizeof(*p));
	p->num = 1;
	p->proto = IKE_PROTO_IKE;
	p->spi_size = spi_size;
	if (spi_size)
		memcpy(p->spi, spi, spi_size);
	add_xf(p, IKE_XF_ENCR, IKE_ENCR_AES_GCM_16, 256);
	add_xf(p, IKE_XF_ENCR, IKE_ENCR_AES_GCM_16, 128);
	add_xf(p, IKE_XF_PRF, IKE_PRF_HMAC_SHA2_256, 0);
	add_xf(p, IKE_XF_PRF, IKE_PRF_HMAC_SHA2_384, 0);
	if (first_dh)
		add_xf(p, IKE_XF_DH, (uint16_t)first_dh, 0);
	for (size_t i = 0; i < nitems(e->cfg.dh_groups) && e->cfg.dh_groups[i]; i++)
		if (e->cfg.dh_groups[i] != first_dh)
			add_xf(p, IKE_XF_DH, (uint16_t)e->cfg.dh_groups[i], 0);
}

void
ike_prop_esp(const struct ike_engine *e, struct ike_prop *p, uint32_t spi, int dh)
{
	memset(p, 0, sizeof(*p));
	p->num = 1;
	p->proto = IKE_PROTO_ESP;
	p->spi_size = 4;
	store_be32(p->spi, spi);
	add_xf(p, IKE_XF_ENCR, IKE_ENCR_AES_GCM_16, 256);
	if (dh)
		add_xf(p, IKE_XF_DH, (uint16_t)dh, 0);
	if (e->cfg.esn)
		add_xf(p, IKE_XF_ESN, IKE_ESN_YES, 0);
	add_xf(p, IKE_XF_ESN, IKE_ESN_NO, 0);
}

/* types present in a proposal, and whether it has anything we cannot parse */
static bool
prop_usable(const struct ike_prop *p)
{
	if (p->truncated)
		return false;
	for (size_t i = 0; i < p->nxf; i++)
		if (p->xf[i].type < IKE_XF_ENCR || p->xf[i].type > IKE_XF_ESN)
			return false;	/* §3.3.6: unknown transform type */
	return true;
}

/* AEAD: INTEG absent, or NONE offered */
static bool
integ_ok(const struct ike_prop *p)
{
	bool any = false, none = false;

	for (size_t i = 0; i < p->nxf; i++)
		if (p->xf[i].type == IKE_XF_INTEG) {
			any = true;
			if (p->xf[i].id == 0)
				none = true;
		}
	return !any || none;
}

static uint16_t
pick_encr(const struct ike_prop *p, bool allow128)
{
	for (size_t i = 0; i < p->nxf; i++) {
		const struct ike_xform *xf = &p->xf[i];

		if (xf->type != IKE_XF_ENCR || xf->bad_attr || xf->id != IKE_ENCR_AES_GCM_16)
			continue;
		if (xf->keylen == 256 || (allow128 && xf->keylen == 128))
			return xf->keylen;
	}
	return 0;
}

static bool
has_xf(const struct ike_prop *p, uint8_t type, uint16_t id)
{
	for (size_t i = 0; i < p->nxf; i++)
		if (p->xf[i].type == type && p->xf[i].id == id && !p->xf[i].bad_attr)
			return true;
	return false;
}

static bool
has_type(const struct ike_prop *p, uint8_t type)
{
	for (size_t i = 0; i < p->nxf; i++)
		if (p->xf[i].type == type)
			return true;
	return false;
}

/* the DH group: the peer's KE group if acceptable (saves a round trip), else
 * our first preference among those offered; 0 if none */
static uint16_t
pick_dh(const struct ike_engine *e, const struct ike_prop *p, uint16_t ke_group)
{
	if (ke_group && has_xf(p, IKE_XF_DH, ke_group) && dh_allowed(e, ke_group))
		return ke_group;
	for (size_t i = 0; i < nitems(e->cfg.dh_groups) && e->cfg.dh_groups[i]; i++)
		if (dh_supported(e->cfg.dh_groups[i]) &&
		    has_xf(p, IKE_XF_DH, (uint16_t)e->cfg.dh_groups[i]))
			return (uint16_t)e->cfg.dh_groups[i];
	return 0;
}

int
ike_prop_select_ike(const struct ike_engine *e, const struct ike_pl_sa *sa,
    uint16_t ke_group, struct ike_suite *out)
{
	for (size_t i = 0; i < sa->nprop; i++) {
		const struct ike_prop *p = &sa->prop[i];
		struct ike_suite s;

		memset(&s, 0, sizeof(s));
		if (p->proto != IKE_PROTO_IKE || !prop_usable(p) || !integ_ok(p) ||
		    has_type(p, IKE_XF_ESN))
			continue;
		if (p->spi_size != 0 && p->spi_size != 8)
			continue;
		if ((s.encr_bits = pick_encr(p, true)) == 0)
			continue;
		if (has_xf(p, IKE_XF_PRF, IKE_PRF_HMAC_SHA2_256))
			s.prf = IKE_PRF_HMAC_SHA2_256;
		else if (has_xf(p, IKE_XF_PRF, IKE_PRF_HMAC_SHA2_384))
			s.prf = IKE_PRF_HMAC_SHA2_384;
		else
			continue;
		if ((s.dh = pick_dh(e, p, ke_group)) == 0)
			continue;
		s.prop_num = p->num;
		s.spi_size = p->spi_size;
		memcpy(s.spi, p->spi, p->spi_size);
		*out = s;
		return 0;
	}
	return -1;
}

int
ike_prop_select_esp(const struct ike_engine *e, const struct ike_pl_sa *sa,
    bool allow_dh, uint16_t ke_group, struct ike_suite *out)
{
	for (size_t i = 0; i < sa->nprop; i++) {
		const struct ike_prop *p = &sa->prop[i];
		struct ike_suite s;
		bool esn_yes, esn_no;

		memset(&s, 0, sizeof(s));
		if (p->proto != IKE_PROTO_ESP || p->spi_size != 4 || !prop_usable(p) ||
		    !integ_ok(p) || has_type(p, IKE_XF_PRF))
			continue;
		if ((s.encr_bits = pick_encr(p, false)) == 0)
			continue;
		esn_yes = has_xf(p, IKE_XF_ESN, IKE_ESN_YES);
		esn_no = has_xf(p, IKE_XF_ESN, IKE_ESN_NO) || !has_type(p, IKE_XF_ESN);
		if (esn_yes && e->cfg.esn)
			s.esn = true;
		else if (!esn_no)
			continue;
		/* PFS: in IKE_AUTH the group is ignored (§1.2); in CREATE_CHILD_SA a
		 * proposal with DH transforms and no NONE needs a group we do */
		if (allow_dh && has_type(p, IKE_XF_DH) && !has_xf(p, IKE_XF_DH, 0)) {
			if ((s.dh = pick_dh(e, p, ke_group)) == 0)
				continue;
		} else if (allow_dh && ke_group && has_xf(p, IKE_XF_DH, ke_group) &&
		    dh_allowed(e, ke_group))
			s.dh = ke_group;	/* optional PFS the initiator wants */
		s.prop_num = p->num;
		s.spi_size = 4;
		memcpy(s.spi, p->spi, 4);
		*out = s;
		return 0;
	}
	return -1;
}

/* an answer must be one proposal, one transform of each type, all offered by us */
int
ike_prop_check(const struct ike_pl_sa *resp, const struct ike_prop *ours,
    struct ike_suite *out)
{
	const struct ike_prop *p;
	bool seen[6] = { false };
	struct ike_suite s;

	if (resp->nprop != 1)
		return -1;
	p = &resp->prop[0];
	if (p->proto != ours->proto || !prop_usable(p) || p->spi_size != ours->spi_size)
		return -1;
	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < p->nxf; i++) {
		const struct ike_xform *xf = &p->xf[i];
		bool offered = false;

		if (seen[xf->type] || xf->bad_attr)
			return -1;
		seen[xf->type] = true;
		for (size_t j = 0; j < ours->nxf; j++)
			if (ours->xf[j].type == xf->type && ours->xf[j].id == xf->id &&
			    ours->xf[j].keylen == xf->keylen)
				offered = true;
		if (!offered && !(xf->type == IKE_XF_INTEG && xf->id == 0) &&
		    !(xf->type == IKE_XF_DH && xf->id == 0))
			return -1;
		switch (xf->type) {
		case IKE_XF_ENCR:
			s.encr_bits = xf->keylen;
			break;
		case IKE_XF_PRF:
			s.prf = xf->id;
			break;
		case IKE_XF_DH:
			s.dh = xf->id;
			break;
		case IKE_XF_ESN:
			s.esn = xf->id == IKE_ESN_YES;
			break;
		default:
			break;
		}
	}
	if (!seen[IKE_XF_ENCR] || (ours->proto == IKE_PROTO_IKE &&
	    (!seen[IKE_XF_PRF] || !seen[IKE_XF_DH])))
		return -1;
	s.prop_num = p->num;
	s.spi_size = p->spi_size;
	memcpy(s.spi, p->spi, p->spi_size);
	*out = s;
	return 0;
}

void
ike_prop_answer(struct ike_pl_sa *sa, uint8_t proto, const struct ike_suite *s,
    const uint8_t *spi, uint8_t spi_size)
{
	struct ike_prop *p = &sa->prop[0];

	memset(sa, 0, sizeof(*sa));
	sa->nprop = 1;
	p->num = s->prop_num;
	p->proto = proto;
	p->spi_size = spi_size;
	if (spi_size)
		memcpy(p->spi, spi, spi_size);
	add_xf(p, IKE_XF_ENCR, IKE_ENCR_AES_GCM_16, s->encr_bits);
	if (proto == IKE_PROTO_IKE)
		add_xf(p, IKE_XF_PRF, s->prf, 0);
	if (s->dh)
		add_xf(p, IKE_XF_DH, s->dh, 0);
	if (proto == IKE_PROTO_ESP)
		add_xf(p, IKE_XF_ESN, s->esn ? IKE_ESN_YES : IKE_ESN_NO, 0);
}

void
ike_suite_name(const struct ike_suite *s, char *buf, size_t n)
{
	if (s->prf)
		xsnprintf(buf, n, "AES_GCM_16_%u/PRF_%s/%s", s->encr_bits,
		    ike_prf_name(s->prf), ike_dh_name(s->dh));
	else
		xsnprintf(buf, n, "AES_GCM_16_%u%s%s/%s", s->encr_bits,
		    s->dh ? "/" : "", s->dh ? ike_dh_name(s->dh) : "",
		    s->esn ? "ESN" : "NO_EXT_SEQ");
}

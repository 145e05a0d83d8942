/*
 * IKEv2 payload codecs. Each payload's RFC 7296 diagram sits beside its parser.
 * Every read goes through struct rbuf; lengths are checked before use.
 */
#include <string.h>

#include "device/ike/ike_pld.h"

/*
 * RFC 7296 §3.1 IKE Header
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       IKE SA Initiator's SPI                  |
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       IKE SA Responder's SPI                  |
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                          Message ID                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                            Length                             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
int
ike_pld_hdr_parse(struct rbuf *r, struct ike_hdr *h)
{
	rbuf_get_bytes(r, h->spi_i, 8);
	rbuf_get_bytes(r, h->spi_r, 8);
	rbuf_get_u8(r, &h->next);
	rbuf_get_u8(r, &h->version);
	rbuf_get_u8(r, &h->exchange);
	rbuf_get_u8(r, &h->flags);
	rbuf_get_u32(r, &h->msgid);
	rbuf_get_u32(r, &h->length);
	return r->bad ? -1 : 0;
}

int
ike_pld_hdr_build(struct wbuf *w, const struct ike_hdr *h)
{
	wbuf_put_bytes(w, h->spi_i, 8);
	wbuf_put_bytes(w, h->spi_r, 8);
	wbuf_put_u8(w, h->next);
	wbuf_put_u8(w, h->version);
	wbuf_put_u8(w, h->exchange);
	wbuf_put_u8(w, h->flags);
	wbuf_put_u32(w, h->msgid);
	wbuf_put_u32(w, h->length);
	return w->bad ? -1 : 0;
}

/*
 * RFC 7296 §3.3 Security Association Payload: a list of proposals.
 *
 * §3.3.1 Proposal Substructure
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Last Substruc |   RESERVED    |         Proposal Length       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Proposal Num  |  Protocol ID  |    SPI Size   |Num  Transforms|
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                        SPI (variable)                         ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                        <Transforms>                           ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * §3.3.2 Transform Substructure
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Last Substruc |   RESERVED    |        Transform Length       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Transform Type |   RESERVED    |          Transform ID         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                      Transform Attributes                     ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * §3.3.5 Transform Attributes
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |A|       Attribute Type        |    AF=0  Attribute Length     |
 * |F|                             |    AF=1  Attribute Value      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   AF=0  Attribute Value                       |
 * |                   AF=1  Not Transmitted                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
static int
xform_parse(struct rbuf *r, struct ike_xform *xf)
{
	uint8_t reserved;

	if (rbuf_get_u8(r, &xf->type) == -1 || rbuf_get_u8(r, &reserved) == -1 ||
	    rbuf_get_u16(r, &xf->id) == -1)
		return -1;
	xf->keylen = 0;
	xf->bad_attr = false;
	while (rbuf_left(r) > 0) {
		uint16_t at, v;

		if (rbuf_get_u16(r, &at) == -1 || rbuf_get_u16(r, &v) == -1)
			return -1;
		if (at & IKE_ATTR_TV) {
			if ((at & ~IKE_ATTR_TV) == IKE_ATTR_KEY_LENGTH && xf->keylen == 0)
				xf->keylen = v;
			else
				xf->bad_attr = true;
		} else {
			/* variable-length attributes: none defined for IKEv2 */
			if (rbuf_skip(r, v) == -1)
				return -1;
			xf->bad_attr = true;
		}
	}
	return 0;
}

static int
prop_parse(struct rbuf *r, struct ike_prop *p)
{
	uint8_t ntrans, last = 3;
	size_t i;

	if (rbuf_get_u8(r, &p->num) == -1 || rbuf_get_u8(r, &p->proto) == -1 ||
	    rbuf_get_u8(r, &p->spi_size) == -1 || rbuf_get_u8(r, &ntrans) == -1)
		return -1;
	if (p->spi_size > IKE_MAX_SPI || rbuf_get_bytes(r, p->spi, p->spi_size) == -1)
		return -1;
	p->nxf = 0;
	p->truncated = false;
	for (i = 0; i < ntrans; i++) {
		struct ike_xform scratch, *xf;
		uint8_t reserved;
		uint16_t len;
		struct rbuf sub;

		if (last != 3)
			return -1;	/* a transform after the one marked last */
		if (rbuf_get_u8(r, &last) == -1 || rbuf_get_u8(r, &reserved) == -1 ||
		    rbuf_get_u16(r, &len) == -1 || (last != 0 && last != 3) ||
		    len < 8 || rbuf_sub(r, &sub, len - 4) == -1)
			return -1;
		xf = p->nxf < IKE_MAX_XFORMS ? &p->xf[p->nxf++] : &scratch;
		if (xf == &scratch)
			p->truncated = true;
		if (xform_parse(&sub, xf) == -1)
			return -1;
	}
	if (last != 0 || rbuf_left(r) != 0)
		return -1;	/* Num Transforms disagrees with the data */
	return 0;
}

int
ike_pld_sa_parse(struct rbuf *r, struct ike_pl_sa *sa)
{
	uint8_t last = 2;

	sa->nprop = 0;
	while (rbuf_left(r) > 0) {
		struct ike_prop *p;
		struct ike_prop local;	/* beyond IKE_MAX_PROPS: checked, then dropped */
		uint8_t reserved;
		uint16_t len;
		struct rbuf sub;

		if (last != 2)
			return -1;
		if (rbuf_get_u8(r, &last) == -1 || rbuf_get_u8(r, &reserved) == -1 ||
		    rbuf_get_u16(r, &len) == -1 || (last != 0 && last != 2) ||
		    len < 8 || rbuf_sub(r, &sub, len - 4) == -1)
			return -1;
		p = sa->nprop < IKE_MAX_PROPS ? &sa->prop[sa->nprop] : &local;
		if (prop_parse(&sub, p) == -1)
			return -1;
		if (p != &local)
			sa->nprop++;
	}
	if (last != 0 || sa->nprop == 0)
		return -1;
	return 0;
}

static int
chain_begin(struct ike_chain *c, uint8_t type, uint8_t flags, size_t *hdr)
{
	if (c->any) {
		if (!c->w.bad)
			c->w.p[c->last] = type;
	} else
		c->first = type;
	*hdr = c->w.len;
	wbuf_put_u8(&c->w, 0);
	wbuf_put_u8(&c->w, flags);
	wbuf_put_u16(&c->w, 0);
	if (c->w.bad)
		return -1;
	c->last = *hdr;
	c->any = true;
	return 0;
}

static int
chain_end(struct ike_chain *c, size_t hdr)
{
	size_t len = c->w.len - hdr;

	if (c->w.bad || len > 0xffff) {
		c->w.bad = true;
		return -1;
	}
	return wbuf_set_u16(&c->w, hdr + 2, (uint16_t)len);
}

void
ike_chain_init(struct ike_chain *c, uint8_t *buf, size_t cap)
{
	wbuf_init(&c->w, buf, cap);
	c->first = IKE_PL_NONE;
	c->last = 0;
	c->any = false;
}

int
ike_pld_sa_build(struct ike_chain *c, const struct ike_pl_sa *sa)
{
	size_t hdr;

	if (chain_begin(c, IKE_PL_SA, 0, &hdr) == -1)
		return -1;
	for (size_t i = 0; i < sa->nprop; i++) {
		const struct ike_prop *p = &sa->prop[i];
		size_t poff = c->w.len;

		wbuf_put_u8(&c->w, i + 1 == sa->nprop ? 0 : 2);
		wbuf_put_u8(&c->w, 0);
		wbuf_put_u16(&c->w, 0);
		wbuf_put_u8(&c->w, p->num);
		wbuf_put_u8(&c->w, p->proto);
		wbuf_put_u8(&c->w, p->spi_size);
		wbuf_put_u8(&c->w, (uint8_t)p->nxf);
		wbuf_put_bytes(&c->w, p->spi, p->spi_size);
		for (size_t j = 0; j < p->nxf; j++) {
			const struct ike_xform *xf = &p->xf[j];

			wbuf_put_u8(&c->w, j + 1 == p->nxf ? 0 : 3);
			wbuf_put_u8(&c->w, 0);
			wbuf_put_u16(&c->w, xf->keylen ? 12 : 8);
			wbuf_put_u8(&c->w, xf->type);
			wbuf_put_u8(&c->w, 0);
			wbuf_put_u16(&c->w, xf->id);
			if (xf->keylen) {
				wbuf_put_u16(&c->w, IKE_ATTR_TV | IKE_ATTR_KEY_LENGTH);
				wbuf_put_u16(&c->w, xf->keylen);
			}
		}
		if (c->w.len - poff > 0xffff)
			c->w.bad = true;
		wbuf_set_u16(&c->w, poff + 2, (uint16_t)(c->w.len - poff));
	}
	return chain_end(c, hdr);
}

/*
 * RFC 7296 §3.4 Key Exchange Payload
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Diffie-Hellman Group Num    |           RESERVED            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                       Key Exchange Data                       ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
int
ike_pld_ke_parse(struct rbuf *r, struct ike_pl_ke *ke)
{
	uint16_t reserved;

	if (rbuf_get_u16(r, &ke->group) == -1 || rbuf_get_u16(r, &reserved) == -1)
		return -1;
	ke->len = rbuf_left(r);
	return rbuf_get_ptr(r, &ke->data, ke->len);
}

int
ike_pld_ke_build(struct ike_chain *c, uint16_t group, const uint8_t *data, size_t len)
{
	size_t hdr;

	if (chain_begin(c, IKE_PL_KE, 0, &hdr) == -1)
		return -1;
	wbuf_put_u16(&c->w, group);
	wbuf_put_u16(&c->w, 0);
	wbuf_put_bytes(&c->w, data, len);
	return chain_end(c, hdr);
}

/*
 * RFC 7296 §3.5 Identification Payloads (IDi, IDr)
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   ID Type     |                 RESERVED                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                   Identification Data                         ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
int
ike_pld_id_parse(struct rbuf *r, struct ike_pl_id *id)
{
	id->body = rbuf_cur(r);
	id->bodylen = rbuf_left(r);
	if (rbuf_get_u8(r, &id->type) == -1 || rbuf_skip(r, 3) == -1)
		return -1;
	id->len = rbuf_left(r);
	if (id->len == 0)
		return -1;
	return rbuf_get_ptr(r, &id->data, id->len);
}

int
ike_pld_id_build(struct ike_chain *c, uint8_t pltype, uint8_t idtype,
    const uint8_t *data, size_t len)
{
	size_t hdr;

	if (chain_begin(c, pltype, 0, &hdr) == -1)
		return -1;
	wbuf_put_u8(&c->w, idtype);
	wbuf_put_zero(&c->w, 3);
	wbuf_put_bytes(&c->w, data, len);
	return chain_end(c, hdr);
}

/*
 * RFC 7296 §3.6 Certificate Payload, §3.7 Certificate Request Payload
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Cert Encoding |                                               |
 * +-+-+-+-+-+-+-+-+                                               |
 * ~       Certificate Data / Certification Authority              ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * §3.8 Authentication Payload
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Auth Method   |                RESERVED                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                      Authentication Data                      ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * §3.9 Nonce Payload, §3.12 Vendor ID Payload: opaque data after the header.
 */
int
ike_pld_blob_parse(struct rbuf *r, struct ike_pl_blob *b, bool has_kind, size_t reserved)
{
	b->kind = 0;
	if (has_kind && rbuf_get_u8(r, &b->kind) == -1)
		return -1;
	if (rbuf_skip(r, reserved) == -1)
		return -1;
	b->len = rbuf_left(r);
	return rbuf_get_ptr(r, &b->data, b->len);
}

int
ike_pld_cert_build(struct ike_chain *c, uint8_t pltype, uint8_t enc, const uint8_t *data,
    size_t len)
{
	size_t hdr;

	if (chain_begin(c, pltype, 0, &hdr) == -1)
		return -1;
	wbuf_put_u8(&c->w, enc);
	wbuf_put_bytes(&c->w, data, len);
	return chain_end(c, hdr);
}

int
ike_pld_auth_build(struct ike_chain *c, uint8_t method, const uint8_t *data, size_t len)
{
	size_t hdr;

	if (chain_begin(c, IKE_PL_AUTH, 0, &hdr) == -1)
		return -1;
	wbuf_put_u8(&c->w, method);
	wbuf_put_zero(&c->w, 3);
	wbuf_put_bytes(&c->w, data, len);
	return chain_end(c, hdr);
}

int
ike_pld_nonce_build(struct ike_chain *c, const uint8_t *data, size_t len)
{
	return ike_pld_raw_build(c, IKE_PL_NONCE, 0, data, len);
}

int
ike_pld_vendor_build(struct ike_chain *c, const uint8_t *data, size_t len)
{
	return ike_pld_raw_build(c, IKE_PL_VENDOR, 0, data, len);
}

int
ike_pld_raw_build(struct ike_chain *c, uint8_t type, uint8_t flags, const uint8_t *data,
    size_t len)
{
	size_t hdr;

	if (chain_begin(c, type, flags, &hdr) == -1)
		return -1;
	wbuf_put_bytes(&c->w, data, len);
	return chain_end(c, hdr);
}

/*
 * RFC 7296 §3.10 Notify Payload
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Protocol ID  |   SPI Size    |      Notify Message Type      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                Security Parameter Index (SPI)                 ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                       Notification Data                       ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
int
ike_pld_notify_parse(struct rbuf *r, struct ike_pl_notify *n)
{
	if (rbuf_get_u8(r, &n->proto) == -1 || rbuf_get_u8(r, &n->spi_size) == -1 ||
	    rbuf_get_u16(r, &n->type) == -1)
		return -1;
	if (n->spi_size > IKE_MAX_SPI || rbuf_get_bytes(r, n->spi, n->spi_size) == -1)
		return -1;
	n->len = rbuf_left(r);
	return rbuf_get_ptr(r, &n->data, n->len);
}

/* INVALID_KE_PAYLOAD: the two-octet group the responder wants */
int
ike_pld_notify_group(const struct ike_pl_notify *n, uint16_t *group)
{
	struct rbuf r;

	rbuf_init(&r, n->data, n->len);
	if (n->len != 2)
		return -1;
	return rbuf_get_u16(&r, group);
}

/* SIGNATURE_HASH_ALGORITHMS: a list of two-octet hash algorithm numbers */
unsigned
ike_pld_notify_hashes(const struct ike_pl_notify *n)
{
	struct rbuf r;
	unsigned mask = 0;
	uint16_t h;

	rbuf_init(&r, n->data, n->len);
	while (rbuf_get_u16(&r, &h) == 0)
		if (h < 32)
			mask |= 1u << h;
	return mask;
}

int
ike_pld_notify_build(struct ike_chain *c, uint8_t proto, const uint8_t *spi,
    uint8_t spi_size, uint16_t type, const uint8_t *data, size_t len)
{
	size_t hdr;

	if (spi_size > IKE_MAX_SPI || chain_begin(c, IKE_PL_NOTIFY, 0, &hdr) == -1)
		return -1;
	wbuf_put_u8(&c->w, proto);
	wbuf_put_u8(&c->w, spi_size);
	wbuf_put_u16(&c->w, type);
	wbuf_put_bytes(&c->w, spi, spi_size);
	wbuf_put_bytes(&c->w, data, len);
	return chain_end(c, hdr);
}

/*
 * RFC 7296 §3.11 Delete Payload
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Protocol ID   |   SPI Size    |          Num of SPIs          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~               Security Parameter Index(es) (SPI)              ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
int
ike_pld_delete_parse(struct rbuf *r, struct ike_pl_delete *d)
{
	if (rbuf_get_u8(r, &d->proto) == -1 || rbuf_get_u8(r, &d->spi_size) == -1 ||
	    rbuf_get_u16(r, &d->nspi) == -1)
		return -1;
	if ((size_t)d->spi_size * d->nspi != rbuf_left(r))
		return -1;
	if (d->proto == IKE_PROTO_IKE && (d->spi_size != 0 || d->nspi != 0))
		return -1;
	if ((d->proto == IKE_PROTO_ESP || d->proto == IKE_PROTO_AH) && d->spi_size != 4)
		return -1;
	return rbuf_get_ptr(r, &d->spis, rbuf_left(r));
}

uint32_t
ike_pld_delete_spi(const struct ike_pl_delete *d, uint16_t i)
{
	struct rbuf r;
	uint32_t spi = 0;

	rbuf_init(&r, d->spis, (size_t)d->nspi * d->spi_size);
	if (d->spi_size != 4 || rbuf_skip(&r, (size_t)i * 4) == -1)
		return 0;
	rbuf_get_u32(&r, &spi);
	return spi;
}

int
ike_pld_delete_build(struct ike_chain *c, uint8_t proto, uint8_t spi_size, uint16_t nspi,
    const uint8_t *spis)
{
	size_t hdr;

	if (chain_begin(c, IKE_PL_DELETE, 0, &hdr) == -1)
		return -1;
	wbuf_put_u8(&c->w, proto);
	wbuf_put_u8(&c->w, spi_size);
	wbuf_put_u16(&c->w, nspi);
	wbuf_put_bytes(&c->w, spis, (size_t)spi_size * nspi);
	return chain_end(c, hdr);
}

/*
 * RFC 7296 §3.13 Traffic Selector Payload
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Number of TSs |                 RESERVED                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                       <Traffic Selectors>                     ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * §3.13.1 Traffic Selector
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   TS Type     |IP Protocol ID*|       Selector Length         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           Start Port*         |           End Port*           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                         Starting Address*                     ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                         Ending Address*                       ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
int
ike_pld_ts_parse(struct rbuf *r, struct ike_pl_ts *ts)
{
	uint8_t count;

	ts->n = 0;
	ts->nskipped = 0;
	if (rbuf_get_u8(r, &count) == -1 || rbuf_skip(r, 3) == -1 || count == 0)
		return -1;
	for (unsigned i = 0; i < count; i++) {
		struct ike_ts t;
		uint16_t len;
		size_t alen;
		struct rbuf sub;

		memset(&t, 0, sizeof(t));
		if (rbuf_get_u8(r, &t.type) == -1 || rbuf_get_u8(r, &t.proto) == -1 ||
		    rbuf_get_u16(r, &len) == -1 || len < 4 || rbuf_sub(r, &sub, len - 4) == -1)
			return -1;
		if (t.type == IKE_TS_IPV4_ADDR_RANGE) {
			t.start.af = t.end.af = AF_INET;
			alen = 4;
		} else if (t.type == IKE_TS_IPV6_ADDR_RANGE) {
			t.start.af = t.end.af = AF_INET6;
			alen = 16;
		} else {
			ts->nskipped++;
			continue;
		}
		if (rbuf_left(&sub) != 4 + 2 * alen)
			return -1;
		rbuf_get_u16(&sub, &t.sport);
		rbuf_get_u16(&sub, &t.eport);
		rbuf_get_bytes(&sub, t.start.a, alen);
		rbuf_get_bytes(&sub, t.end.a, alen);
		if (sub.bad)
			return -1;
		if (ts->n < IKE_MAX_TS)
			ts->ts[ts->n++] = t;
		else
			ts->nskipped++;
	}
	return rbuf_left(r) == 0 ? 0 : -1;
}

int
ike_pld_ts_build(struct ike_chain *c, uint8_t pltype, const struct ike_pl_ts *ts)
{
	size_t hdr;

	if (ts->n == 0 || ts->n > 255 || chain_begin(c, pltype, 0, &hdr) == -1)
		return -1;
	wbuf_put_u8(&c->w, (uint8_t)ts->n);
	wbuf_put_zero(&c->w, 3);
	for (size_t i = 0; i < ts->n; i++) {
		const struct ike_ts *t = &ts->ts[i];
		size_t alen = t->type == IKE_TS_IPV4_ADDR_RANGE ? 4 : 16;

		wbuf_put_u8(&c->w, t->type);
		wbuf_put_u8(&c->w, t->proto);
		wbuf_put_u16(&c->w, (uint16_t)(8 + 2 * alen));
		wbuf_put_u16(&c->w, t->sport);
		wbuf_put_u16(&c->w, t->eport);
		wbuf_put_bytes(&c->w, t->start.a, alen);
		wbuf_put_bytes(&c->w, t->end.a, alen);
	}
	return chain_end(c, hdr);
}

/*
 * RFC 7296 §3.14 / RFC 5282 §3 Encrypted Payload (SK), and RFC 7383 §2.5
 * Encrypted Fragment Payload (SKF) which adds Fragment Number and Total
 * Fragments after the generic header:
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |        Fragment Number        |        Total Fragments        |  (SKF)
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     Initialization Vector                     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                    Ciphertext (with Pad Length)               ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                   Integrity Checksum Data                     ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * r covers the body after the generic header; the caller sets next/aad_len.
 */
int
ike_pld_sk_parse(struct rbuf *r, struct ike_pl_sk *sk, bool frag)
{
	sk->frag = frag;
	sk->frag_num = sk->frag_total = 0;
	if (frag) {
		if (rbuf_get_u16(r, &sk->frag_num) == -1 ||
		    rbuf_get_u16(r, &sk->frag_total) == -1)
			return -1;
		if (sk->frag_num == 0 || sk->frag_total == 0 || sk->frag_num > sk->frag_total)
			return -1;
	}
	sk->bodylen = rbuf_left(r);
	return rbuf_get_ptr(r, &sk->body, sk->bodylen);
}

static bool
known_payload(uint8_t type)
{
	switch (type) {
	case IKE_PL_SA: case IKE_PL_KE: case IKE_PL_IDi: case IKE_PL_IDr:
	case IKE_PL_CERT: case IKE_PL_CERTREQ: case IKE_PL_AUTH: case IKE_PL_NONCE:
	case IKE_PL_NOTIFY: case IKE_PL_DELETE: case IKE_PL_VENDOR: case IKE_PL_TSi:
	case IKE_PL_TSr: case IKE_PL_SK: case IKE_PL_CP: case IKE_PL_EAP: case IKE_PL_SKF:
		return true;
	default:
		return false;
	}
}

static int
once(struct ike_msg *m, uint8_t type)
{
	if (m->present & IKE_PBIT(type)) {
		m->err = "duplicate payload";
		return -1;
	}
	m->present |= IKE_PBIT(type);
	return 0;
}

#define MALFORMED(m, why)	do { (m)->err = (why); return -1; } while (0)

static int
payload_parse(struct ike_msg *m, uint8_t type, struct rbuf *b)
{
	switch (type) {
	case IKE_PL_SA:
		if (once(m, type) == -1)
			return -1;
		if (ike_pld_sa_parse(b, &m->sa) == -1)
			MALFORMED(m, "bad SA payload");
		return 0;
	case IKE_PL_KE:
		if (once(m, type) == -1)
			return -1;
		if (ike_pld_ke_parse(b, &m->ke) == -1)
			MALFORMED(m, "bad KE payload");
		return 0;
	case IKE_PL_IDi:
	case IKE_PL_IDr:
		if (once(m, type) == -1)
			return -1;
		if (ike_pld_id_parse(b, type == IKE_PL_IDi ? &m->idi : &m->idr) == -1)
			MALFORMED(m, "bad ID payload");
		return 0;
	case IKE_PL_CERT:
		if (m->ncert == IKE_MAX_CERTS)
			MALFORMED(m, "too many CERT payloads");
		if (ike_pld_blob_parse(b, &m->cert[m->ncert], true, 0) == -1 ||
		    m->cert[m->ncert].len == 0)
			MALFORMED(m, "bad CERT payload");
		m->ncert++;
		m->present |= IKE_PBIT(type);
		return 0;
	case IKE_PL_CERTREQ:
		if (m->ncertreq < IKE_MAX_CERTREQ) {
			if (ike_pld_blob_parse(b, &m->certreq[m->ncertreq], true, 0) == -1)
				MALFORMED(m, "bad CERTREQ payload");
			m->ncertreq++;
		}
		m->present |= IKE_PBIT(type);
		return 0;
	case IKE_PL_AUTH:
		if (once(m, type) == -1)
			return -1;
		if (ike_pld_blob_parse(b, &m->auth, true, 3) == -1 || m->auth.len == 0)
			MALFORMED(m, "bad AUTH payload");
		return 0;
	case IKE_PL_NONCE:
		if (once(m, type) == -1)
			return -1;
		if (ike_pld_blob_parse(b, &m->nonce, false, 0) == -1 ||
		    m->nonce.len < IKE_NONCE_MIN || m->nonce.len > IKE_NONCE_MAX)
			MALFORMED(m, "bad Nonce payload");
		return 0;
	case IKE_PL_NOTIFY:
		if (m->nnotify == IKE_MAX_NOTIFY)
			MALFORMED(m, "too many Notify payloads");
		if (ike_pld_notify_parse(b, &m->notify[m->nnotify]) == -1)
			MALFORMED(m, "bad Notify payload");
		m->nnotify++;
		m->present |= IKE_PBIT(type);
		return 0;
	case IKE_PL_DELETE:
		if (m->ndel == IKE_MAX_DELETE)
			MALFORMED(m, "too many Delete payloads");
		if (ike_pld_delete_parse(b, &m->del[m->ndel]) == -1)
			MALFORMED(m, "bad Delete payload");
		m->ndel++;
		m->present |= IKE_PBIT(type);
		return 0;
	case IKE_PL_VENDOR:
		m->nvendor++;
		m->present |= IKE_PBIT(type);
		return 0;
	case IKE_PL_TSi:
	case IKE_PL_TSr:
		if (once(m, type) == -1)
			return -1;
		if (ike_pld_ts_parse(b, type == IKE_PL_TSi ? &m->tsi : &m->tsr) == -1)
			MALFORMED(m, "bad TS payload");
		return 0;
	case IKE_PL_CP:
	case IKE_PL_EAP:
		/* understood, never acted on: the exchange code refuses them */
		m->present |= IKE_PBIT(type);
		return 0;
	default:
		return 0;
	}
}

/*
 * RFC 7296 §3.2 Generic Payload Header
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
int
ike_pld_parse_chain(struct ike_msg *m, uint8_t first, struct rbuf *r, bool inner)
{
	uint8_t type = first;
	unsigned count = 0;

	while (type != IKE_PL_NONE) {
		uint8_t next, flags;
		uint16_t len;
		struct rbuf body;
		size_t hdr_off = r->off;

		if (++count > 64)
			MALFORMED(m, "too many payloads");
		if (rbuf_get_u8(r, &next) == -1 || rbuf_get_u8(r, &flags) == -1 ||
		    rbuf_get_u16(r, &len) == -1)
			MALFORMED(m, "truncated payload header");
		if (len < 4 || rbuf_sub(r, &body, len - 4u) == -1)
			MALFORMED(m, "bad payload length");
		if (type == IKE_PL_SK || type == IKE_PL_SKF) {
			if (inner)
				MALFORMED(m, "encrypted payload inside encryption");
			if (once(m, IKE_PL_SK) == -1)
				return -1;
			if (rbuf_left(r) != 0)
				MALFORMED(m, "encrypted payload not last");
			if (ike_pld_sk_parse(&body, &m->sk, type == IKE_PL_SKF) == -1)
				MALFORMED(m, "bad encrypted payload");
			m->sk.next = next;
			m->sk.aad_len = hdr_off + 4 + (type == IKE_PL_SKF ? 4 : 0);
			return 0;
		}
		if (!known_payload(type)) {
			if ((flags & IKE_PLD_CRITICAL) && m->unknown_critical == 0)
				m->unknown_critical = type;
		} else if (payload_parse(m, type, &body) == -1)
			return -1;
		type = next;
	}
	if (rbuf_left(r) != 0)
		MALFORMED(m, "data after the last payload");
	return 0;
}

int
ike_msg_parse(struct ike_msg *m, const uint8_t *p, size_t len)
{
	struct rbuf r;

	rbuf_init(&r, p, len);
	m->raw = p;
	m->rawlen = len;
	if (ike_pld_hdr_parse(&r, &m->hdr) == -1)
		MALFORMED(m, "short header");
	if ((m->hdr.version >> 4) != 2)
		MALFORMED(m, "not IKEv2");
	if (m->hdr.length != len)
		MALFORMED(m, "length field disagrees with datagram");
	return ike_pld_parse_chain(m, m->hdr.next, &r, false);
}

bool
ike_msg_has(const struct ike_msg *m, uint8_t type)
{
	if (type < 33 || type > 53)
		return false;
	return (m->present & IKE_PBIT(type)) != 0;
}

const struct ike_pl_notify *
ike_msg_notify(const struct ike_msg *m, uint16_t type)
{
	for (size_t i = 0; i < m->nnotify; i++)
		if (m->notify[i].type == type)
			return &m->notify[i];
	return NULL;
}

const struct ike_pl_notify *
ike_msg_error(const struct ike_msg *m)
{
	for (size_t i = 0; i < m->nnotify; i++)
		if (m->notify[i].type < 16384)
			return &m->notify[i];
	return NULL;
}

#include <string.h>

#include "lib/buf.h"

void
rbuf_init(struct rbuf *r, const void *p, size_t len)
{
	r->p = p;
	r->len = p == NULL ? 0 : len;
	r->off = 0;
	r->bad = false;
}

size_t
rbuf_left(const struct rbuf *r)
{
	return r->len - r->off;
}

const uint8_t *
rbuf_cur(const struct rbuf *r)
{
	return r->p + r->off;
}

/* the one place a reader checks its bounds */
static int
rbuf_need(struct rbuf *r, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		return -1;
	}
	return 0;
}

int
rbuf_get_u8(struct rbuf *r, uint8_t *v)
{
	if (rbuf_need(r, 1) == -1)
		return -1;
	*v = r->p[r->off++];
	return 0;
}

int
rbuf_get_u16(struct rbuf *r, uint16_t *v)
{
	if (rbuf_need(r, 2) == -1)
		return -1;
	*v = load_be16(r->p + r->off);
	r->off += 2;
	return 0;
}

int
rbuf_get_u32(struct rbuf *r, uint32_t *v)
{
	if (rbuf_need(r, 4) == -1)
		return -1;
	*v = load_be32(r->p + r->off);
	r->off += 4;
	return 0;
}

int
rbuf_get_u64(struct rbuf *r, uint64_t *v)
{
	if (rbuf_need(r, 8) == -1)
		return -1;
	*v = load_be64(r->p + r->off);
	r->off += 8;
	return 0;
}

int
rbuf_get_bytes(struct rbuf *r, void *dst, size_t n)
{
	if (rbuf_need(r, n) == -1)
		return -1;
	if (n > 0)
		memcpy(dst, r->p + r->off, n);
	r->off += n;
	return 0;
}

int
rbuf_get_ptr(struct rbuf *r, const uint8_t **pp, size_t n)
{
	if (rbuf_need(r, n) == -1)
		return -1;
	*pp = r->p + r->off;
	r->off += n;
	return 0;
}

int
rbuf_sub(struct rbuf *r, struct rbuf *sub, size_t n)
{
	if (rbuf_need(r, n) == -1)
		return -1;
	rbuf_init(sub, r->p + r->off, n);
	if (n == 0)
		sub->p = r->p + r->off;
	r->off += n;
	return 0;
}

int
rbuf_skip(struct rbuf *r, size_t n)
{
	if (rbuf_need(r, n) == -1)
		return -1;
	r->off += n;
	return 0;
}

int
rbuf_peek_u8(const struct rbuf *r, size_t at, uint8_t *v)
{
	size_t left = r->len - r->off;

	if (r->bad || at >= left)
		return -1;
	*v = r->p[r->off + at];
	return 0;
}

int
rbuf_peek_u16(const struct rbuf *r, size_t at, uint16_t *v)
{
	size_t left = r->len - r->off;

	if (r->bad || at > left || 2 > left - at)
		return -1;
	*v = load_be16(r->p + r->off + at);
	return 0;
}

int
rbuf_peek_u32(const struct rbuf *r, size_t at, uint32_t *v)
{
	size_t left = r->len - r->off;

	if (r->bad || at > left || 4 > left - at)
		return -1;
	*v = load_be32(r->p + r->off + at);
	return 0;
}

void
wbuf_init(struct wbuf *w, void *p, size_t cap)
{
	w->p = p;
	w->cap = p == NULL ? 0 : cap;
	w->len = 0;
	w->bad = false;
}

size_t
wbuf_room(const struct wbuf *w)
{
	return w->cap - w->len;
}

static int
wbuf_need(struct wbuf *w, size_t n)
{
	if (w->bad || n > w->cap - w->len) {
		w->bad = true;
		return -1;
	}
	return 0;
}

int
wbuf_put_u8(struct wbuf *w, uint8_t v)
{
	if (wbuf_need(w, 1) == -1)
		return -1;
	w->p[w->len++] = v;
	return 0;
}

int
wbuf_put_u16(struct wbuf *w, uint16_t v)
{
	if (wbuf_need(w, 2) == -1)
		return -1;
	store_be16(w->p + w->len, v);
	w->len += 2;
	return 0;
}

int
wbuf_put_u32(struct wbuf *w, uint32_t v)
{
	if (wbuf_need(w, 4) == -1)
		return -1;
	store_be32(w->p + w->len, v);
	w->len += 4;
	return 0;
}

int
wbuf_put_u64(struct wbuf *w, uint64_t v)
{
	if (wbuf_need(w, 8) == -1)
		return -1;
	store_be64(w->p + w->len, v);
	w->len += 8;
	return 0;
}

int
wbuf_put_bytes(struct wbuf *w, const void *src, size_t n)
{
	if (wbuf_need(w, n) == -1)
		return -1;
	if (n > 0)
		memcpy(w->p + w->len, src, n);
	w->len += n;
	return 0;
}

int
wbuf_put_zero(struct wbuf *w, size_t n)
{
	if (wbuf_need(w, n) == -1)
		return -1;
	if (n > 0)
		memset(w->p + w->len, 0, n);
	w->len += n;
	return 0;
}

int
wbuf_reserve(struct wbuf *w, size_t n, uint8_t **pp)
{
	if (wbuf_need(w, n) == -1)
		return -1;
	*pp = w->p + w->len;
	w->len += n;
	return 0;
}

int
wbuf_set_u16(struct wbuf *w, size_t off, uint16_t v)
{
	if (off > w->len || 2 > w->len - off) {
		w->bad = true;
		return -1;
	}
	store_be16(w->p + off, v);
	return 0;
}

int
wbuf_set_u32(struct wbuf *w, size_t off, uint32_t v)
{
	if (off > w->len || 4 > w->len - off) {
		w->bad = true;
		return -1;
	}
	store_be32(w->p + off, v);
	return 0;
}

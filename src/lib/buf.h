/*
 * Bounded buffers. Every network byte odvpn reads goes through struct rbuf;
 * every message it writes is assembled in a struct wbuf over caller storage.
 *
 * Contract: a reader never looks past p[len]. Each get either succeeds fully or
 * fails, leaving the output untouched, and sets the sticky `bad` flag so a parser
 * can issue several gets and test once. Length checks are written `n > left`.
 * Neither type allocates; both borrow the caller's memory.
 */
#ifndef ODVPN_LIB_BUF_H
#define ODVPN_LIB_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rbuf {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
	bool		 bad;
};

void		 rbuf_init(struct rbuf *, const void *, size_t);
size_t		 rbuf_left(const struct rbuf *);
const uint8_t	*rbuf_cur(const struct rbuf *);
int		 rbuf_get_u8(struct rbuf *, uint8_t *);
int		 rbuf_get_u16(struct rbuf *, uint16_t *);	/* network order */
int		 rbuf_get_u32(struct rbuf *, uint32_t *);
int		 rbuf_get_u64(struct rbuf *, uint64_t *);
int		 rbuf_get_bytes(struct rbuf *, void *, size_t);
/* borrow n bytes in place: *pp points into the reader's memory */
int		 rbuf_get_ptr(struct rbuf *, const uint8_t **, size_t);
/* carve the next n bytes off as an independent sub-reader */
int		 rbuf_sub(struct rbuf *, struct rbuf *, size_t);
int		 rbuf_skip(struct rbuf *, size_t);
/* peek without consuming */
int		 rbuf_peek_u8(const struct rbuf *, size_t, uint8_t *);
int		 rbuf_peek_u16(const struct rbuf *, size_t, uint16_t *);
int		 rbuf_peek_u32(const struct rbuf *, size_t, uint32_t *);

struct wbuf {
	uint8_t		*p;
	size_t		 cap;
	size_t		 len;
	bool		 bad;	/* sticky: an append did not fit */
};

void		 wbuf_init(struct wbuf *, void *, size_t);
size_t		 wbuf_room(const struct wbuf *);
int		 wbuf_put_u8(struct wbuf *, uint8_t);
int		 wbuf_put_u16(struct wbuf *, uint16_t);
int		 wbuf_put_u32(struct wbuf *, uint32_t);
int		 wbuf_put_u64(struct wbuf *, uint64_t);
int		 wbuf_put_bytes(struct wbuf *, const void *, size_t);
int		 wbuf_put_zero(struct wbuf *, size_t);
/* reserve n bytes to fill later; *pp is valid until the wbuf's storage moves */
int		 wbuf_reserve(struct wbuf *, size_t, uint8_t **);
/* back-patch a length field written earlier at byte offset off */
int		 wbuf_set_u16(struct wbuf *, size_t, uint16_t);
int		 wbuf_set_u32(struct wbuf *, size_t, uint32_t);

/* big-endian loads/stores on memory the caller has already bounds-checked */
static inline uint16_t
load_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t
load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
load_be64(const uint8_t *p)
{
	return (uint64_t)load_be32(p) << 32 | load_be32(p + 4);
}

static inline void
store_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void
store_be64(uint8_t *p, uint64_t v)
{
	store_be32(p, (uint32_t)(v >> 32));
	store_be32(p + 4, (uint32_t)v);
}

#endif

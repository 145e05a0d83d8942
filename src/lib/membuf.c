#include <string.h>

#include "lib/membuf.h"
#include "lib/util.h"

size_t
membuf_write(char *ptr, size_t size, size_t n, void *arg)
{
	struct membuf *b = arg;
	size_t add;

	if (n != 0 && size > b->max / n) {
		b->over = true;
		return 0;
	}
	add = size * n;
	if (add > b->max - b->len) {
		b->over = true;
		return 0;
	}
	b->p = xrealloc(b->p, b->len + add + 1);
	memcpy(b->p + b->len, ptr, add);
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

/*
 * A growing, bounded buffer for HTTP response bodies (libcurl's write callback
 * for the HTTPS clients: odvpn admin, enrolment). Past max bytes the callback
 * refuses the data, which makes curl fail the transfer; `over` says why.
 * The buffer stays NUL-terminated for JSON parsers; the caller frees p.
 */
#ifndef ODVPN_LIB_MEMBUF_H
#define ODVPN_LIB_MEMBUF_H

#include <stdbool.h>
#include <stddef.h>

struct membuf {
	char	*p;
	size_t	 len;
	size_t	 max;
	bool	 over;
};

/* CURLOPT_WRITEFUNCTION, with CURLOPT_WRITEDATA = the struct membuf */
size_t	membuf_write(char *ptr, size_t size, size_t n, void *membuf);

#endif

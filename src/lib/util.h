/* Small helpers shared by every binary. */
#ifndef ODVPN_LIB_UTIL_H
#define ODVPN_LIB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))

/* allocation that cannot fail: abort with a message on out-of-memory */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);

/* milliseconds on the monotonic clock, and wall-clock seconds */
uint64_t now_mono_ms(void);
int64_t	 now_wall_s(void);

/* lower-case hex; out must hold 2*n+1 bytes */
void	 hex_encode(const uint8_t *, size_t, char *out);
/* strict: even length, only hex digits; returns bytes written or -1 */
int	 hex_decode(const char *, uint8_t *out, size_t outcap);

/* snprintf that reports truncation as failure (-1) */
int	 xsnprintf(char *, size_t, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

/* read a whole file (bounded by max); caller frees *out. -1 and errno on error */
int	 file_read_all(const char *path, size_t max, uint8_t **out, size_t *outlen);
/* write a file atomically (temp file in the same directory, fsync, rename) with mode */
int	 file_write_atomic(const char *path, const void *, size_t, unsigned mode);
/* mkdir -p with mode for the directories it creates */
int	 mkdir_p(const char *path, unsigned mode);

#endif

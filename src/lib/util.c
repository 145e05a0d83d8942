#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"

static void
oom(size_t n)
{
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n == 0 ? 1 : n, sz == 0 ? 1 : sz);

	if (p == NULL)
		oom(n * sz);
	return p;
}

void *
xrealloc(void *old, size_t n)
{
	void *p = realloc(old, n == 0 ? 1 : n);

	if (p == NULL)
		oom(n);
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		oom(strlen(s));
	return p;
}

uint64_t
now_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t
now_wall_s(void)
{
	return (int64_t)time(NULL);
}

void
hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(const char *s, uint8_t *out, size_t outcap)
{
	size_t n = strlen(s);

	if (n % 2 != 0 || n / 2 > outcap || n / 2 > INT_MAX)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

int
xsnprintf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= n)
		return -1;
	return r;
}

int
file_read_all(const char *path, size_t max, uint8_t **out, size_t *outlen)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	for (;;) {
		ssize_t r;

		if (len == cap) {
			if (cap >= max) {
				errno = EFBIG;
				goto fail;
			}
			cap = cap == 0 ? 4096 : cap * 2;
			if (cap > max)
				cap = max;
			buf = xrealloc(buf, cap + 1);
		}
		r = read(fd, buf + len, cap - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto fail;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (buf == NULL)
		buf = xmalloc(1);
	buf[len] = '\0';	/* convenience for text files; not counted */
	*out = buf;
	*outlen = len;
	return 0;
fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return -1;
}

int
file_write_atomic(const char *path, const void *data, size_t n, unsigned mode)
{
	char tmp[PATH_MAX];
	const uint8_t *p = data;
	int fd, saved;

	static atomic_uint seq;

	/* unique per call: two threads may write the same file at once */
	if (xsnprintf(tmp, sizeof(tmp), "%s.tmp.%d.%u", path, (int)getpid(),
	    atomic_fetch_add(&seq, 1)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
	if (fd == -1)
		return -1;
	if (fchmod(fd, (mode_t)mode) == -1)
		goto fail;
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			goto fail;
		p += w;
		n -= (size_t)w;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) == -1) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

int
mkdir_p(const char *path, unsigned mode)
{
	char buf[PATH_MAX];

	if (xsnprintf(buf, sizeof(buf), "%s", path) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, (mode_t)mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, (mode_t)mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/*
 * odvpn demo: the sites. Each site's odvpnd runs in managed mode: its
 * configuration names only its key store, the center and the root it pins;
 * it enrols itself, takes its peers, grants and the CRL from the center's
 * configuration document and follows the center by long-poll. The demo only
 * starts it, asks it (control socket), quotes its log and sends traffic from
 * the LAN hosts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/demo_int.h"
#include "device/control.h"
#include "lib/jsonx.h"
#include "lib/util.h"

/* ---- odvpnd ------------------------------------------------------------------ */

int
site_write_config(struct demo *d, struct demo_site *s)
{
	json_t *conf = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s, s:{s:i}}",
	    "keystore", s->ks, "center", "url", DEMO_CENTER_URL, "root_fingerprint", d->pin,
	    "control_socket", s->sock, "log_level", "info",
	    "ike", "retransmit_base_ms", 200);
	int rc;

	if (conf == NULL)
		return -1;
	rc = json_dump_file(conf, s->conf, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(conf);
	if (rc == -1)
		say("    %s: cannot write %s", s->device, s->conf);
	return rc == -1 ? -1 : 0;
}

/* the last bytes of s's log, for a device that would not start */
static void
log_tail(struct demo *d, struct demo_site *s)
{
	uint8_t *buf = NULL;
	size_t len;

	say("    odvpnd at %s did not start; the end of its log:", s->name);
	if (file_read_all(s->log, 1 << 20, &buf, &len) == 0) {
		const char *p = (const char *)buf + (len > 800 ? len - 800 : 0);

		say_block(d, p, "      ");
	}
	free(buf);
}

int
site_start(struct demo *d, struct demo_site *s)
{
	struct stat st;
	uint64_t end;

	unlink(s->sock);
	s->pid = demo_spawn(d, s->ns_gw, ARGV(d->odvpnd, "--config", s->conf), s->log);
	if (s->pid <= 0)
		return -1;
	/* enrolment and the first document come before the control socket */
	for (end = demo_ms() + 30000; demo_ms() < end; ) {
		json_t *r;

		if (stat(s->sock, &st) == 0 && (r = site_status(s)) != NULL) {
			json_decref(r);
			return 0;
		}
		if (kill(s->pid, 0) == -1 || !demo_sleep(20))
			break;
	}
	log_tail(d, s);
	return -1;
}

/* ---- odvpnd ------------------------------------------------------------------ */

static json_t *
ctl(struct demo_site *s, const char *cmd)
{
	json_t *req = json_pack("{s:s}", "cmd", cmd), *r;
	char err[256];

	r = control_call(s->sock, req, 3000, err, sizeof(err));
	json_decref(req);
	if (r != NULL && !json_is_true(json_object_get(r, "ok"))) {
		json_decref(r);
		r = NULL;
	}
	return r;
}

json_t *
site_status(struct demo_site *s)
{
	return ctl(s, "status");
}

/* true once the device's events have all reached the center (or wait_ms passed) */
bool
site_events_flushed(struct demo_site *s, int wait_ms)
{
	for (int t = 0; t <= wait_ms; t += 50) {
		json_t *r = site_status(s);
		long long q = jsonx_int(json_object_get(json_object_get(r, "center"),
		    "events"), "queued", -1);

		json_decref(r);
		if (q == 0)
			return true;
		if (r == NULL || !demo_sleep(50))
			return false;
	}
	return false;
}

json_t *
site_peers(struct demo_site *s)
{
	return ctl(s, "peers");
}

long long
site_drops(struct demo_site *s, const char *reason)
{
	json_t *r = site_status(s);
	long long n = -1;

	if (r != NULL)
		n = jsonx_int(json_object_get(json_object_get(r, "dataplane"), "drops"), reason,
		    0);
	json_decref(r);
	return n;
}

json_t *
site_peer(struct demo_site *s, const char *peer)
{
	json_t *r = site_peers(s), *p, *found = NULL;
	size_t i;

	json_array_foreach(json_object_get(r, "peers"), i, p)
		if (jsonx_str(p, "name") != NULL && strcmp(jsonx_str(p, "name"), peer) == 0)
			found = json_incref(p);
	json_decref(r);
	return found;
}

bool
site_child_up(struct demo_site *s, const char *peer)
{
	json_t *r = site_status(s), *v;
	bool up = false;
	size_t i;

	json_array_foreach(json_object_get(r, "child_sas"), i, v)
		up = up || (jsonx_str(v, "peer") != NULL && strcmp(jsonx_str(v, "peer"),
		    peer) == 0);
	json_decref(r);
	return up;
}

int
site_show(struct demo *d, struct demo_site *s, const char *verb, const char *arg,
    struct dbuf *out)
{
	if (arg != NULL)
		return demo_run(d, NULL, s->device, ARGV(d->odvpn, (char *)verb, (char *)arg,
		    "--socket", s->sock), RUN_SHOW | RUN_OUT, 40000, out);
	return demo_run(d, NULL, s->device, ARGV(d->odvpn, (char *)verb, "--socket",
	    s->sock), RUN_SHOW | RUN_OUT, 5000, out);
}

/* ---- odvpnd's log ------------------------------------------------------------- */

long
site_log_mark(struct demo_site *s)
{
	struct stat st;

	return stat(s->log, &st) == 0 ? (long)st.st_size : 0;
}

/* the log from mark on, NUL-terminated; NULL if it cannot be read */
static char *
log_since(struct demo_site *s, long mark)
{
	uint8_t *buf = NULL;
	size_t len;
	char *text;

	if (file_read_all(s->log, 16 << 20, &buf, &len) == -1)
		return NULL;
	if (mark < 0 || (size_t)mark > len)
		mark = 0;
	text = xmalloc(len - (size_t)mark + 1);
	memcpy(text, buf + mark, len - (size_t)mark);
	text[len - (size_t)mark] = '\0';
	free(buf);
	return text;
}

/*
 * "2026-01-02T03:04:05.678Z odvpnd[123] info: …" as "03:04:05.678 info: …":
 * the time of day is what a reader compares, the date and PID are noise here
 */
static const char *
log_trim(const char *line, char *out, size_t cap)
{
	const char *t = strchr(line, 'T'), *z, *rest;

	if (t == NULL || t - line != 10 || (z = strchr(t, 'Z')) == NULL ||
	    strncmp(z, "Z odvpnd[", 9) != 0 || (rest = strstr(z, "] ")) == NULL)
		return line;
	xsnprintf(out, cap, "%.*s %s", (int)(z - t - 1), t + 1, rest + 2);
	return out;
}

int
site_log(struct demo *d, struct demo_site *s, long mark, const char *const needles[],
    int max)
{
	char *text = log_since(s, mark), *line, *save = NULL, buf[1024], shown[1024];
	int n = 0;

	for (line = text != NULL ? strtok_r(text, "\n", &save) : NULL; line != NULL && n < max;
	    line = strtok_r(NULL, "\n", &save)) {
		for (size_t i = 0; needles[i] != NULL; i++) {
			if (strstr(line, needles[i]) == NULL)
				continue;
			shorten(d, log_trim(line, buf, sizeof(buf)), shown, sizeof(shown));
			say("    %s log: %s", s->device, shown);
			n++;
			break;
		}
	}
	free(text);
	return n;
}

bool
site_log_wait(struct demo_site *s, long mark, const char *needle, int ms)
{
	for (uint64_t end = demo_ms() + (uint64_t)ms; ; ) {
		char *text = log_since(s, mark);
		bool found = text != NULL && strstr(text, needle) != NULL;

		free(text);
		if (found)
			return true;
		if (demo_ms() >= end || !demo_sleep(20))
			return false;
	}
}

/* ---- traffic from the LAN hosts --------------------------------------------- */

struct tcp_arg {
	const char	*addr;
	int		 port;
	int		 timeout_ms;
};

/* in the host's namespace: one TCP connection; prints the milliseconds */
static int
tcp_fn(void *arg)
{
	const struct tcp_arg *a = arg;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)a->port) };
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	uint64_t t0 = demo_ms();
	int fd, e = 0;

	if (inet_pton(AF_INET, a->addr, &sin.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return 2;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 && errno != EINPROGRESS) {
		printf("%s\n", strerror(errno));
		return 1;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, a->timeout_ms) != 1) {
		printf("no answer within %d ms\n", a->timeout_ms);
		return 1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1 || e != 0) {
		printf("%s\n", strerror(e != 0 ? e : errno));
		return 1;
	}
	printf("%llu\n", (unsigned long long)(demo_ms() - t0));
	close(fd);
	return 0;
}

int
site_tcp(struct demo *d, struct demo_site *s, const char *addr, int port,
    const char *service, int timeout_ms, long *ms)
{
	struct tcp_arg a = { addr, port, timeout_ms };
	struct dbuf out = { NULL, 0 };
	int rc = demo_call(d, s->ns_host, tcp_fn, &a, timeout_ms + 5000, &out);
	size_t n = out.p != NULL ? strlen(out.p) : 0;

	while (n > 0 && out.p[n - 1] == '\n')
		out.p[--n] = '\0';
	*ms = rc == 0 && out.p != NULL ? strtol(out.p, NULL, 10) : -1;
	if (rc == 0)
		say("  %s: TCP connection to %s port %d (%s): established in %ld ms", s->host,
		    addr, port, service, *ms);
	else
		say("  %s: TCP connection to %s port %d (%s): not possible (%s)", s->host, addr,
		    port, service, out.p != NULL ? out.p : "the probe failed");
	dbuf_free(&out);
	return rc == 0 ? 0 : -1;
}

int
site_ping(struct demo *d, struct demo_site *s, const char *addr, int wait_s, double *ms,
    bool show)
{
	char w[8];
	struct dbuf out = { NULL, 0 };
	const char *t;
	int rc;

	xsnprintf(w, sizeof(w), "%d", wait_s);
	rc = demo_run(d, s->ns_host, s->host, ARGV("ping", "-n", "-c", "1", "-W", w,
	    (char *)addr), RUN_PATH | (show ? RUN_SHOW | RUN_OUT : 0), (wait_s + 5) * 1000,
	    &out);
	*ms = -1;
	if (rc == 0 && out.p != NULL && (t = strstr(out.p, "time=")) != NULL)
		*ms = strtod(t + 5, NULL);
	dbuf_free(&out);
	return rc == 0 ? 0 : -1;
}

/* in the server's namespace: accept on 443 and 22 and close, until stopped */
static int
listen_fn(void *arg)
{
	static const int ports[] = { 443, 22 };
	struct pollfd pfd[nitems(ports)];

	(void)arg;
	for (size_t i = 0; i < nitems(ports); i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET,
		    .sin_port = htons((uint16_t)ports[i]) };
		int one = 1;

		pfd[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		pfd[i].events = POLLIN;
		if (pfd[i].fd == -1 ||
		    setsockopt(pfd[i].fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
		    bind(pfd[i].fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    listen(pfd[i].fd, 16) == -1)
			return 1;
	}
	for (;;) {
		if (poll(pfd, nitems(pfd), -1) == -1 && errno != EINTR)
			return 1;
		for (size_t i = 0; i < nitems(pfd); i++) {
			int c;

			if ((pfd[i].revents & POLLIN) &&
			    (c = accept(pfd[i].fd, NULL, NULL)) != -1)
				close(c);
		}
	}
}

int
site_listen(struct demo *d, struct demo_site *s)
{
	d->listener_pid = demo_call_bg(d, s->ns_host, listen_fn, NULL);
	return d->listener_pid > 0 ? 0 : -1;
}

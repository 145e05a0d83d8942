#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "device/control.h"
#include "lib/log.h"
#include "lib/util.h"

#define CONTROL_MAX_CONNS	64

struct ctl_conn {
	struct control		*ctl;
	struct bufferevent	*bev;
	struct ctl_conn		*next;
	bool			 waiting;	/* a reply is deferred */
	bool			 closing;	/* reply queued: close once flushed */
};

struct control {
	struct evconnlistener	*listener;
	struct control_ops	 ops;
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_conn		*conns;
	unsigned		 nconns;
};

json_t *
control_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static void
conn_free(struct ctl_conn *c)
{
	struct control *ctl = c->ctl;
	struct ctl_conn **pp;

	if (c->waiting && ctl->ops.gone != NULL)
		ctl->ops.gone(ctl->ops.arg, c);
	for (pp = &ctl->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	ctl->nconns--;
	bufferevent_free(c->bev);
	free(c);
}

static void
conn_send(struct ctl_conn *c, json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT);

	json_decref(reply);
	if (text != NULL) {
		bufferevent_write(c->bev, text, strlen(text));
		bufferevent_write(c->bev, "\n", 1);
		free(text);
	}
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
}

void
control_reply(struct ctl_conn *c, json_t *reply)
{
	c->waiting = false;
	conn_send(c, reply);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *c = arg;

	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	json_error_t jerr;
	json_t *req, *reply;
	size_t len;
	char *line;

	if (c->waiting || c->closing)
		return;
	line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > CONTROL_LINE_MAX)
			conn_send(c, control_error("request longer than %d bytes",
			    CONTROL_LINE_MAX));
		return;
	}
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	free(line);
	if (req == NULL)
		reply = control_error("malformed JSON: %s", jerr.text);
	else if (!json_is_object(req) || !json_is_string(json_object_get(req, "cmd")))
		reply = control_error("request must be an object with a string \"cmd\"");
	else {
		reply = c->ctl->ops.handle(c->ctl->ops.arg, c, req);
		if (reply == NULL)
			c->waiting = true;
	}
	json_decref(req);
	if (reply != NULL)
		conn_send(c, reply);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(arg);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct control *ctl = arg;
	struct ctl_conn *c;

	if (ctl->nconns >= CONTROL_MAX_CONNS) {
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->ctl = ctl;
	c->bev = bufferevent_socket_new(evconnlistener_get_base(l), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = ctl->conns;
	ctl->conns = c;
	ctl->nconns++;
}

struct control *
control_new(struct event_base *base, const char *path, const struct control_ops *ops,
    char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct control *ctl;
	mode_t old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (xsnprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path) == -1) {
		xsnprintf(err, errlen, "control socket path too long: %s", path);
		return NULL;
	}
	ctl = xcalloc(1, sizeof(*ctl));
	ctl->ops = *ops;
	memcpy(ctl->path, sun.sun_path, sizeof(ctl->path));
	/* a stale socket from a previous run is replaced; a live one is not: a
	 * listening socket accepts a connection even before its owner calls accept() */
	if (access(path, F_OK) == 0) {
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int live = probe != -1 &&
		    connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0;

		if (probe != -1)
			close(probe);
		if (live) {
			xsnprintf(err, errlen, "another odvpnd is listening on %s", path);
			free(ctl);
			return NULL;
		}
		unlink(path);
	}
	old = umask(0077);
	ctl->listener = evconnlistener_new_bind(base, accept_cb, ctl,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
	    (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (ctl->listener == NULL) {
		xsnprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		free(ctl);
		return NULL;
	}
	return ctl;
}

void
control_free(struct control *ctl)
{
	if (ctl == NULL)
		return;
	while (ctl->conns != NULL)
		conn_free(ctl->conns);
	evconnlistener_free(ctl->listener);
	unlink(ctl->path);
	free(ctl);
}

static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left = deadline - (int64_t)now_mono_ms();
	int r;

	if (left <= 0)
		return -1;
	do {
		r = poll(&pfd, 1, (int)left);
	} while (r == -1 && errno == EINTR);
	return r == 1 ? 0 : -1;
}

json_t *
control_call(const char *path, const json_t *req, int timeout_ms, char *err, size_t errlen)
{
	int64_t deadline = (int64_t)now_mono_ms() + timeout_ms;
	struct sockaddr_un sun;
	char buf[65536], *text = NULL;
	size_t len = 0, off = 0;
	json_t *reply = NULL;
	json_error_t jerr;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (xsnprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path) == -1) {
		xsnprintf(err, errlen, "control socket path too long");
		return NULL;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		xsnprintf(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		xsnprintf(err, errlen, "cannot reach odvpnd at %s: %s", path, strerror(errno));
		goto out;
	}
	text = json_dumps(req, JSON_COMPACT);
	len = strlen(text);
	text = xrealloc(text, len + 1);
	text[len++] = '\n';
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1) {
			xsnprintf(err, errlen, "write to odvpnd: %s", strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	for (off = 0;;) {
		ssize_t r;
		char *nl;

		if (wait_fd(fd, POLLIN, deadline) == -1) {
			xsnprintf(err, errlen, "no answer from odvpnd within %d ms", timeout_ms);
			goto out;
		}
		r = read(fd, buf + off, sizeof(buf) - 1 - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			xsnprintf(err, errlen, "odvpnd closed the connection");
			goto out;
		}
		off += (size_t)r;
		buf[off] = '\0';
		if ((nl = strchr(buf, '\n')) != NULL) {
			reply = json_loadb(buf, (size_t)(nl - buf), 0, &jerr);
			if (reply == NULL)
				xsnprintf(err, errlen, "bad reply from odvpnd: %s", jerr.text);
			goto out;
		}
		if (off == sizeof(buf) - 1) {
			xsnprintf(err, errlen, "reply from odvpnd too long");
			goto out;
		}
	}
out:
	free(text);
	close(fd);
	return reply;
}

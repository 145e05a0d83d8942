/*
 * odvpnd's local control socket (REQ-VPN-8): a UNIX stream socket, mode 0600,
 * one JSON object per line each way. Requests: {"cmd": "status"|"peers"|
 * "connect"|"disconnect", "peer": "..."}; replies: {"ok": true, ...} or
 * {"ok": false, "error": "..."}. docs/DEVICE.md documents the commands.
 *
 * A handler may defer its reply (e.g. connect waits for the SA): it returns NULL
 * and keeps the struct ctl_conn pointer, then calls control_reply() later. If the
 * client goes away first, ops->gone(conn) tells the owner to forget the pointer.
 */
#ifndef ODVPN_DEVICE_CONTROL_H
#define ODVPN_DEVICE_CONTROL_H

#include <event2/event.h>
#include <jansson.h>

#define CONTROL_LINE_MAX	4096

struct control;
struct ctl_conn;

struct control_ops {
	void	*arg;
	/* req is validated as an object with a string "cmd"; returns a new reference
	 * to the reply, or NULL to defer */
	json_t	*(*handle)(void *arg, struct ctl_conn *, const json_t *req);
	void	(*gone)(void *arg, struct ctl_conn *);
};

struct control *control_new(struct event_base *, const char *path,
	    const struct control_ops *, char *err, size_t errlen);
void	control_free(struct control *);
/* send a deferred reply (steals the reference) and close the exchange */
void	control_reply(struct ctl_conn *, json_t *reply);
json_t	*control_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* client side, for the odvpn CLI: one request, one reply, timeout in ms */
json_t	*control_call(const char *path, const json_t *req, int timeout_ms,
	    char *err, size_t errlen);

#endif

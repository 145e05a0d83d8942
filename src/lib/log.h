/*
 * Debug/operational log (stderr or syslog). Audit records are a separate
 * mechanism (src/audit/). Convention: every line names the object it is about,
 * e.g. "ike sa=3f2a…: …", "grant=12: …", "device=clinic-01: …".
 * Never log key material, private keys or raw secrets.
 * Not for the packet path: the data plane counts, it does not log per packet.
 */
#ifndef ODVPN_LIB_LOG_H
#define ODVPN_LIB_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LL_ERROR = 0,
	LL_WARN,
	LL_INFO,
	LL_DEBUG,
};

void	log_init(const char *prog, enum log_level level, bool use_syslog);
void	log_set_level(enum log_level);
enum log_level log_get_level(void);
int	log_level_parse(const char *, enum log_level *);
void	log_msg(enum log_level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_vmsg(enum log_level, const char *fmt, va_list)
	    __attribute__((format(printf, 2, 0)));

#define log_error(...)	log_msg(LL_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LL_INFO, __VA_ARGS__)
#define log_debug(...)	do { if (log_get_level() >= LL_DEBUG) \
	log_msg(LL_DEBUG, __VA_ARGS__); } while (0)

#endif

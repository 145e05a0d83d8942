/*
 * odvpn demo: processes and network namespaces. Everything started here is
 * remembered by PID and stopped by PID; every namespace made here carries the
 * run's prefix and is removed at the end, on failure and on Ctrl-C too.
 * Children run in their own process group, so a Ctrl-C at the terminal reaches
 * only the demo, which then stops them in order.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/demo_int.h"
#include "lib/util.h"

volatile sig_atomic_t demo_stopping;

uint64_t
demo_ms(void)
{
	return now_mono_ms();
}

bool
demo_sleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	if (demo_stopping)
		return false;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		if (demo_stopping)
			return false;
	return !demo_stopping;
}

void
dbuf_free(struct dbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

static void
dbuf_add(struct dbuf *b, const char *p, size_t n)
{
	b->p = xrealloc(b->p, b->len + n + 1);
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* ---- output --------------------------------------------------------------- */

void
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void
shorten(const struct demo *d, const char *s, char *out, size_t cap)
{
	size_t dl = strlen(d->dir), len = 0;

	out[0] = '\0';
	while (*s != '\0' && len + 3 < cap) {
		if (dl > 0 && strncmp(s, d->dir, dl) == 0) {
			if (len + 2 >= cap)
				break;
			memcpy(out + len, "$D", 2);
			len += 2;
			s += dl;
			continue;
		}
		out[len++] = *s++;
	}
	out[len] = '\0';
}

void
say_block(const struct demo *d, const char *text, const char *indent)
{
	const char *p = text, *nl;
	char line[1024], shortl[1024];

	while (p != NULL && *p != '\0') {
		size_t n;

		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		shorten(d, line, shortl, sizeof(shortl));
		printf("%s%s\n", indent, shortl);
		p = nl != NULL ? nl + 1 : NULL;
	}
	fflush(stdout);
}

/* quote an argument the way a shell user would type it */
static void
quote_arg(const char *a, char *out, size_t cap)
{
	bool plain = *a != '\0';

	for (const char *p = a; *p != '\0'; p++)
		if (strchr(" \t\"'\\&|;<>()*?[]{}!#~`", *p) != NULL)
			plain = false;
	if (plain || (a[0] == '$' && strchr(a, ' ') == NULL))
		xsnprintf(out, cap, "%s", a);
	else
		xsnprintf(out, cap, "\"%s\"", a);
}

void
say_cmd(const struct demo *d, const char *prompt, char *const argv[])
{
	char line[4096], arg[1024], q[1100];
	size_t len = 0;

	line[0] = '\0';
	for (size_t i = 0; argv[i] != NULL; i++) {
		const char *a = argv[i];

		if (i == 0) {
			const char *base = strrchr(a, '/');

			a = base != NULL ? base + 1 : a;
		}
		if (d->pin[0] != '\0' && strcmp(a, d->pin) == 0)
			a = "$PIN";
		shorten(d, a, arg, sizeof(arg));
		quote_arg(arg, q, sizeof(q));
		if (xsnprintf(line + len, sizeof(line) - len, "%s%s", i > 0 ? " " : "", q) == -1)
			break;
		len += strlen(line + len);
	}
	if (strcmp(prompt, "#") == 0)
		printf("  # %s\n", line);	/* the demo's own plumbing, as root */
	else
		printf("  %s$ %s\n", prompt, line);
	fflush(stdout);
}

/* ---- processes -------------------------------------------------------------- */

static void
track(struct demo *d, pid_t pid)
{
	if (d->npids < DEMO_MAX_PIDS)
		d->pids[d->npids++] = pid;
}

static void
untrack(struct demo *d, pid_t pid)
{
	for (size_t i = 0; i < d->npids; i++) {
		if (d->pids[i] == pid) {
			d->pids[i] = d->pids[--d->npids];
			return;
		}
	}
}

/* in the child: join ns (NULL: stay), own process group, default signals */
static void
child_setup(const char *ns)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD };
	sigset_t none;
	char path[PATH_MAX];
	int fd;

	(void)setpgid(0, 0);
	/* should the demo die without cleaning up, its children go with it */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	for (size_t i = 0; i < nitems(sigs); i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (ns == NULL)
		return;
	if (xsnprintf(path, sizeof(path), "/run/netns/%s", ns) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || setns(fd, CLONE_NEWNET) == -1) {
		fprintf(stderr, "cannot enter network namespace %s: %s\n", ns,
		    strerror(errno));
		_exit(127);
	}
	close(fd);
}

static void
child_stdio(int outfd)
{
	int nul = open("/dev/null", O_RDONLY);

	if (nul != -1) {
		dup2(nul, STDIN_FILENO);
		close(nul);
	}
	dup2(outfd, STDOUT_FILENO);
	dup2(outfd, STDERR_FILENO);
	if (outfd > STDERR_FILENO)
		close(outfd);
}

static int
exit_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

/* read the child's output until EOF; kill its group on timeout or Ctrl-C */
static int
collect(pid_t pid, int fd, int timeout_ms, struct dbuf *out)
{
	uint64_t end = demo_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 60000);
	bool killed = false;
	char buf[4096];
	int st;

	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int r = poll(&pfd, 1, 100);
		ssize_t n;

		if (!killed && (demo_stopping || demo_ms() > end)) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			killed = true;
		}
		if (r <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n > 0 && out != NULL)
			dbuf_add(out, buf, (size_t)n);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			break;
	}
	close(fd);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	return killed ? -1 : exit_code(st);
}

int
demo_run(struct demo *d, const char *ns, const char *prompt, char *const argv[],
    unsigned flags, int timeout_ms, struct dbuf *out)
{
	struct dbuf mine = { NULL, 0 };
	int fds[2], rc;
	pid_t pid;

	if (demo_stopping)
		return -1;
	if ((flags & RUN_SHOW) || d->verbose)
		say_cmd(d, prompt != NULL ? prompt : "#", argv);
	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		child_setup(ns);
		child_stdio(fds[1]);
		if (flags & RUN_PATH)
			execvp(argv[0], argv);
		else
			execv(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	track(d, pid);
	rc = collect(pid, fds[0], timeout_ms, out != NULL ? out : &mine);
	untrack(d, pid);
	if (((flags & RUN_OUT) || d->verbose) && (out != NULL ? out : &mine)->p != NULL)
		say_block(d, (out != NULL ? out : &mine)->p, "    ");
	dbuf_free(&mine);
	return rc;
}

pid_t
demo_spawn(struct demo *d, const char *ns, char *const argv[], const char *logpath)
{
	int fd;
	pid_t pid;

	if ((fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) == -1)
		return -1;
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		close(fd);
		return -1;
	}
	if (pid == 0) {
		child_setup(ns);
		child_stdio(fd);
		execv(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fd);
	track(d, pid);
	return pid;
}

int
demo_call(struct demo *d, const char *ns, int (*fn)(void *), void *arg, int timeout_ms,
    struct dbuf *out)
{
	int fds[2], rc;
	pid_t pid;

	if (demo_stopping || pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		child_setup(ns);
		child_stdio(fds[1]);
		rc = fn(arg);
		fflush(stdout);
		fflush(stderr);
		_exit(rc & 0xff);
	}
	close(fds[1]);
	track(d, pid);
	rc = collect(pid, fds[0], timeout_ms, out);
	untrack(d, pid);
	return rc;
}

pid_t
demo_call_bg(struct demo *d, const char *ns, int (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		child_setup(ns);
		if (nul != -1)
			child_stdio(nul);
		_exit(fn(arg) & 0xff);
	}
	track(d, pid);
	return pid;
}

int
demo_stop_pid(struct demo *d, pid_t pid, int wait_ms)
{
	uint64_t end = demo_ms() + (uint64_t)wait_ms;
	int st = 0;
	pid_t r;

	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	while ((r = waitpid(pid, &st, WNOHANG)) == 0 && demo_ms() < end) {
		struct timespec ts = { 0, 20 * 1000000L };

		nanosleep(&ts, NULL);
	}
	if (r == 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
	}
	untrack(d, pid);
	return r == 0 ? -1 : exit_code(st);
}

int
demo_wait_pid(struct demo *d, pid_t pid, int timeout_ms)
{
	uint64_t end = demo_ms() + (uint64_t)timeout_ms;
	int st = 0;
	pid_t r;

	if (pid <= 0)
		return -1;
	while ((r = waitpid(pid, &st, WNOHANG)) == 0 && demo_ms() < end && !demo_stopping) {
		struct timespec ts = { 0, 10 * 1000000L };

		nanosleep(&ts, NULL);
	}
	if (r == 0) {
		(void)demo_stop_pid(d, pid, 1000);
		return -1;
	}
	untrack(d, pid);
	return r == pid ? exit_code(st) : -1;
}

/* ---- namespaces ---------------------------------------------------------------- */

int
demo_ip(struct demo *d, const char *fmt, ...)
{
	char line[512], shown[512], *args[40], *save = NULL, *tok;
	size_t n = 0;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sizeof(line))
		return -1;
	xsnprintf(shown, sizeof(shown), "%s", line);
	args[n++] = "ip";
	for (tok = strtok_r(line, " ", &save); tok != NULL && n + 1 < nitems(args);
	    tok = strtok_r(NULL, " ", &save))
		args[n++] = tok;
	args[n] = NULL;
	{
		struct dbuf out = { NULL, 0 };

		r = demo_run(d, NULL, "#", args, RUN_PATH, 10000, &out);
		if (r != 0 && !d->verbose)
			say("  ip %s: %s", shown, out.p != NULL ? out.p : "failed");
		dbuf_free(&out);
	}
	return r == 0 ? 0 : -1;
}

int
demo_netns_add(struct demo *d, const char *name, char *out, size_t cap)
{
	if (d->nnetns >= DEMO_MAX_NS ||
	    xsnprintf(out, cap, "%s-%s", d->pfx, name) == -1 ||
	    demo_ip(d, "netns add %s", out) == -1)
		return -1;
	xsnprintf(d->netns[d->nnetns++], sizeof(d->netns[0]), "%s", out);
	return demo_ip(d, "-n %s link set lo up", out);
}

struct sysctl_arg {
	const char	*key;
	const char	*value;
};

static int
sysctl_fn(void *arg)
{
	const struct sysctl_arg *a = arg;
	char path[256];
	FILE *f;

	/* /proc/sys/net shows the namespace of the process that opens it */
	if (xsnprintf(path, sizeof(path), "/proc/sys/%s", a->key) == -1 ||
	    (f = fopen(path, "w")) == NULL) {
		printf("cannot set %s: %s\n", a->key, strerror(errno));
		return 1;
	}
	if (fputs(a->value, f) == EOF || fclose(f) != 0) {
		printf("cannot set %s: %s\n", a->key, strerror(errno));
		return 1;
	}
	return 0;
}

int
demo_sysctl(struct demo *d, const char *ns, const char *key, const char *value)
{
	struct sysctl_arg a = { key, value };
	struct dbuf out = { NULL, 0 };
	int rc = demo_call(d, ns, sysctl_fn, &a, 5000, &out);

	if (rc != 0)
		say("  %s", out.p != NULL ? out.p : "sysctl failed");
	dbuf_free(&out);
	return rc == 0 ? 0 : -1;
}

static bool rm_keep_top;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	if (ftw->level == 0 && rm_keep_top)
		return 0;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) == -1 && errno != ENOENT ?
	    -1 : 0;
}

void
demo_cleanup(struct demo *d)
{
	size_t nproc = d->npids, nns = d->nnetns;
	bool removed = false;

	/* odvpnd first (its Deletes go out while the network still exists) */
	for (size_t i = 0; i < DEMO_NSITES; i++) {
		if (d->site[i].pid > 0)
			(void)demo_stop_pid(d, d->site[i].pid, 2000);
		d->site[i].pid = 0;
	}
	while (d->npids > 0)
		(void)demo_stop_pid(d, d->pids[d->npids - 1], 2000);
	for (size_t i = d->nnetns; i > 0; i--) {
		char *args[] = { "ip", "netns", "del", d->netns[i - 1], NULL };
		pid_t pid;
		int st;

		fflush(stdout);
		if ((pid = fork()) == 0) {
			child_setup(NULL);
			execvp(args[0], args);
			_exit(127);
		}
		if (pid > 0)
			while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
				;
	}
	d->nnetns = 0;
	rm_keep_top = !d->dir_made;
	if (d->dir_owned && !d->keep_dir && d->dir[0] != '\0')
		removed = nftw(d->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0;
	say("Cleaned up: %zu process(es) stopped by PID, %zu namespace(s) %s-* removed, %s",
	    nproc, nns, d->pfx, removed ? "working directory removed." :
	    d->dir_owned && !d->keep_dir ? "working directory could not be removed:" :
	    "working directory kept:");
	if (!removed)
		say("  %s", d->dir);
}

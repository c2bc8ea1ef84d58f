/*
 * truth.h: the ground truth that ctrace's test workloads print about themselves.
 *
 * Each workload (testdata/workloads/NAME.c) is run as
 *
 *     NAME DIR [STAGE ARGS...]
 *
 * with DIR an absolute directory where it writes all its files (DIR/input.txt exists
 * beforehand and is only read). STAGE is set when the workload re-executes itself.
 * It prints on stdout what it did, as seen from inside (getpid, gettid, getppid, wait
 * statuses), one JSON object per line, each line written with a single write(2) so
 * that processes and threads sharing stdout do not interleave within a line. The Go
 * tests in internal/groundtruth record the workload with `ctrace record` and compare
 * these lines with the capture and with what `ctrace analyze` builds from it.
 *
 * Lines (pids and tids are those of the initial pid namespace):
 *
 *   {"ev":"process","pid":P,"ppid":C,"role":"R"}
 *       Process P was created by process C (its creator when it was created; a fork
 *       from a non-leader thread still has the process as creator). Printed by P
 *       itself right after the fork, or by C for a vfork child.
 *   {"ev":"thread","pid":P,"tid":T}
 *       T is a thread of process P other than the leader. Printed by the thread.
 *   {"ev":"exec","pid":P,"tid":T,"exe":"/abs/exe","argv":["a0",...]}
 *       P started running a new program: printed first thing in main(). T is
 *       gettid() then, equal to P even when a non-leader thread called execve
 *       (the thread took over the pid). A process's exec lines come in order.
 *   {"ev":"reparent","pid":P,"ppid":R}
 *       P's creator exited and getppid() now says R (a subreaper). P's parent in the
 *       model stays its creator.
 *   {"ev":"write","pid":P,"path":"/abs/path","op":OP}
 *   {"ev":"write","pid":P,"path":"/abs/path","op":OP,"fd":N}
 *       A thread of P wrote the file. OP is one of
 *         create      the file did not exist and was created (open O_CREAT)
 *         truncate    cut to size 0 (truncate, ftruncate)
 *         rename_to   the target of a rename (replacing an existing file or not)
 *         unlink      removed
 *         open_write  an existing file opened for writing (O_APPEND, O_WRONLY...)
 *       "fd" is set when the operation named only a file descriptor (ftruncate):
 *       the path must come from P's fd table.
 *   {"ev":"not_written","pid":P,"path":"/abs/path"}
 *       P opened the file read-only: it is not among the files P wrote.
 *   {"ev":"no_op","pid":P,"path":"/abs/path","op":OP}
 *       P did not do OP on the file (its fd number was reused by another file).
 *   {"ev":"open_at_exit","pid":P,"path":"/abs/path"}
 *       P still had the file open when it ended: it is closed at P's exit.
 *   {"ev":"exit","pid":P,"code":N}
 *       P ended normally with status N: printed by its waiter from the wait status,
 *       or by P itself just before it exits when its waiter is not a workload.
 *   {"ev":"killed","pid":P,"signal":S}
 *       P was killed by signal S: printed by its waiter.
 *
 * Workloads are deterministic: where order matters they synchronise with pipes,
 * barriers and wait, never with sleeps.
 */
#ifndef CTRACE_TRUTH_H
#define CTRACE_TRUTH_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* The directory given as argv[1] and this program's own absolute path. */
static char truth_dir[PATH_MAX / 2];
static char truth_self[PATH_MAX];

static inline pid_t truth_gettid(void) { return (pid_t)syscall(SYS_gettid); }

/* die reports a failed step on stderr and exits with 111, a status no
 * workload uses on purpose. */
static inline __attribute__((noreturn)) void die(const char *what)
{
	char b[512];
	int n = snprintf(b, sizeof b, "workload %d: %s: %s\n", (int)getpid(), what, strerror(errno));
	if (write(2, b, n) < 0) {
		/* nothing left to report to */
	}
	_exit(111);
}

/* A growing string, for building one line. */
struct sb {
	char *p;
	size_t n, cap;
};

static inline void sb_grow(struct sb *s, size_t more)
{
	if (s->n + more + 1 <= s->cap)
		return;
	while (s->n + more + 1 > s->cap)
		s->cap = s->cap ? 2 * s->cap : 256;
	s->p = realloc(s->p, s->cap);
	if (!s->p)
		die("realloc");
}

static inline void sb_printf(struct sb *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	sb_grow(s, n);
	va_start(ap, fmt);
	vsnprintf(s->p + s->n, n + 1, fmt, ap);
	va_end(ap);
	s->n += n;
}

/* sb_str appends s as a JSON string. Bytes >= 0x80 are copied as they are
 * (the workloads only use UTF-8). */
static inline void sb_str(struct sb *s, const char *str)
{
	sb_printf(s, "\"");
	for (const unsigned char *c = (const unsigned char *)str; *c; c++) {
		if (*c == '"' || *c == '\\')
			sb_printf(s, "\\%c", *c);
		else if (*c < 0x20)
			sb_printf(s, "\\u%04x", *c);
		else
			sb_printf(s, "%c", *c);
	}
	sb_printf(s, "\"");
}

/* sb_emit writes the line and a newline with one write(2), and frees it. */
static inline void sb_emit(struct sb *s)
{
	sb_printf(s, "\n");
	size_t off = 0;
	while (off < s->n) {
		ssize_t w = write(1, s->p + off, s->n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("write truth");
		off += w;
	}
	free(s->p);
	*s = (struct sb){0};
}

/* truth_start is called first in main(): it prints the exec line and sets
 * truth_dir and truth_self. */
static inline void truth_start(int argc, char **argv)
{
	if (argc < 2 || argv[1][0] != '/') {
		fprintf(stderr, "usage: %s /ABSOLUTE/DIR [STAGE ARGS...]\n", argv[0]);
		exit(2);
	}
	if (strlen(argv[1]) >= sizeof truth_dir) {
		fprintf(stderr, "%s: directory name too long\n", argv[0]);
		exit(2);
	}
	snprintf(truth_dir, sizeof truth_dir, "%s", argv[1]);
	ssize_t n = readlink("/proc/self/exe", truth_self, sizeof truth_self - 1);
	if (n < 0)
		die("readlink /proc/self/exe");
	truth_self[n] = 0;

	struct sb s = {0};
	sb_printf(&s, "{\"ev\":\"exec\",\"pid\":%d,\"tid\":%d,\"exe\":", (int)getpid(), (int)truth_gettid());
	sb_str(&s, truth_self);
	sb_printf(&s, ",\"argv\":[");
	for (int i = 0; i < argc; i++) {
		if (i)
			sb_printf(&s, ",");
		sb_str(&s, argv[i]);
	}
	sb_printf(&s, "]}");
	sb_emit(&s);
}

/* truth_stage returns argv[2] (the stage of a re-executed workload) or "". */
static inline const char *truth_stage(int argc, char **argv) { return argc > 2 ? argv[2] : ""; }

static inline void truth_process_of(pid_t pid, pid_t ppid, const char *role)
{
	struct sb s = {0};
	sb_printf(&s, "{\"ev\":\"process\",\"pid\":%d,\"ppid\":%d,\"role\":", (int)pid, (int)ppid);
	sb_str(&s, role);
	sb_printf(&s, "}");
	sb_emit(&s);
}

/* truth_process is called by a new process right after its fork. */
static inline void truth_process(const char *role) { truth_process_of(getpid(), getppid(), role); }

/* truth_thread is called by a new thread. */
static inline void truth_thread(void)
{
	struct sb s = {0};
	sb_printf(&s, "{\"ev\":\"thread\",\"pid\":%d,\"tid\":%d}", (int)getpid(), (int)truth_gettid());
	sb_emit(&s);
}

static inline void truth_reparent(void)
{
	struct sb s = {0};
	sb_printf(&s, "{\"ev\":\"reparent\",\"pid\":%d,\"ppid\":%d}", (int)getpid(), (int)getppid());
	sb_emit(&s);
}

/* truth_path returns DIR/name in a static ring of buffers. */
static inline const char *truth_path(const char *name)
{
	static char ring[8][PATH_MAX];
	static int next;
	char *p = ring[next++ % 8];
	snprintf(p, PATH_MAX, "%s/%s", truth_dir, name);
	return p;
}

static inline void truth_file_line(const char *ev, const char *path, const char *op, int fd)
{
	struct sb s = {0};
	sb_printf(&s, "{\"ev\":\"%s\",\"pid\":%d,\"path\":", ev, (int)getpid());
	sb_str(&s, path);
	if (op) {
		sb_printf(&s, ",\"op\":");
		sb_str(&s, op);
	}
	if (fd >= 0)
		sb_printf(&s, ",\"fd\":%d", fd);
	sb_printf(&s, "}");
	sb_emit(&s);
}

static inline void truth_write(const char *path, const char *op) { truth_file_line("write", path, op, -1); }
static inline void truth_write_fd(const char *path, const char *op, int fd) { truth_file_line("write", path, op, fd); }
static inline void truth_not_written(const char *path) { truth_file_line("not_written", path, NULL, -1); }
static inline void truth_no_op(const char *path, const char *op) { truth_file_line("no_op", path, op, -1); }
static inline void truth_open_at_exit(const char *path) { truth_file_line("open_at_exit", path, NULL, -1); }

/* truth_status prints the exit or killed line of pid from a wait status. */
static inline void truth_status(pid_t pid, int st)
{
	struct sb s = {0};
	if (WIFEXITED(st))
		sb_printf(&s, "{\"ev\":\"exit\",\"pid\":%d,\"code\":%d}", (int)pid, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		sb_printf(&s, "{\"ev\":\"killed\",\"pid\":%d,\"signal\":%d}", (int)pid, WTERMSIG(st));
	else
		die("unexpected wait status");
	sb_emit(&s);
}

/* truth_reap waits for the child pid and prints how it ended. */
static inline int truth_reap(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	truth_status(pid, st);
	return st;
}

/* truth_reap_all waits for every remaining child (adopted orphans included,
 * for a subreaper) and prints how each ended. */
static inline void truth_reap_all(void)
{
	for (;;) {
		int st;
		pid_t pid = wait(&st);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0 && errno == ECHILD)
			return;
		if (pid < 0)
			die("wait");
		truth_status(pid, st);
	}
}

/* truth_exit prints this process's own exit line and exits: for the top
 * process, whose waiter is the recorder. */
static inline __attribute__((noreturn)) void truth_exit(int code)
{
	struct sb s = {0};
	sb_printf(&s, "{\"ev\":\"exit\",\"pid\":%d,\"code\":%d}", (int)getpid(), code);
	sb_emit(&s);
	exit(code);
}

/* make_file creates (or truncates) path, writes a line and closes it. */
static inline void make_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die(path);
	if (write(fd, "ctrace\n", 7) != 7)
		die("write file");
	close(fd);
}

/* Pipes used as one-shot signals between processes and threads. */
static inline void signal_fd(int fd)
{
	if (write(fd, "x", 1) != 1)
		die("signal pipe");
}

static inline void wait_fd(int fd)
{
	char c;
	ssize_t n;
	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		die("wait on pipe");
}

/* block_forever waits on a pipe nobody writes to: until the process ends. */
static inline __attribute__((noreturn)) void block_forever(void)
{
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	char c;
	for (;;)
		if (read(p[0], &c, 1) < 0 && errno != EINTR)
			die("read");
}

#endif

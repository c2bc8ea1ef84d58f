/*
 * leader_exit: in a child process, the leader thread ends alone with
 * exit(0) (the raw exit syscall, not exit_group) while a second thread goes
 * on; once the leader is a zombie, the thread creates a file and ends the
 * process with exit(13).
 *
 * Proves: a process's exit code is the group's, from its last thread, not
 * the leader's own exit (the proc connector reports the leader's exit with
 * status 0 first).
 */
#include "truth.h"
#include <pthread.h>
#include <time.h>

/* leader_is_zombie reads the state of the leader task in /proc. */
static int leader_is_zombie(void)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)getpid());
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 1; /* already gone */
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

static void *last_thread(void *arg)
{
	(void)arg;
	truth_thread();
	while (!leader_is_zombie()) {
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL); /* polls a state, the order does not depend on it */
	}
	make_file(truth_path("after-leader-exit.txt"));
	truth_write(truth_path("after-leader-exit.txt"), "create");
	exit(13);
	return NULL;
}

int main(int argc, char **argv)
{
	truth_start(argc, argv);
	truth_process("top");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		truth_process("leader-exits-first");
		pthread_t t;
		if (pthread_create(&t, NULL, last_thread, NULL))
			die("pthread_create");
		syscall(SYS_exit, 0); /* this thread only */
	}
	truth_reap(pid);
	truth_exit(0);
}

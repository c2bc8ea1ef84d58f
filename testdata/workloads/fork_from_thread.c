/*
 * fork_from_thread: a non-leader thread creates a child process with a raw
 * clone(SIGCHLD) syscall (what fork does); the child creates a file and exits
 * with 5; the thread reaps it.
 *
 * Proves: the parent of a process forked by a non-leader thread is the
 * thread's process, not the thread (the proc connector's FORK names the
 * thread as parent_pid, audit's clone record the process as pid=).
 */
#include "truth.h"
#include <pthread.h>

static void *forker(void *arg)
{
	(void)arg;
	truth_thread();
	pid_t pid = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	if (pid < 0)
		die("clone");
	if (pid == 0) {
		truth_process("child-of-thread");
		make_file(truth_path("from-child.txt"));
		truth_write(truth_path("from-child.txt"), "create");
		_exit(5);
	}
	truth_reap(pid);
	return NULL;
}

int main(int argc, char **argv)
{
	truth_start(argc, argv);
	truth_process("fork-from-thread");
	pthread_t t;
	if (pthread_create(&t, NULL, forker, NULL))
		die("pthread_create");
	pthread_join(t, NULL);
	truth_exit(0);
}

/*
 * thread_exec: a child process with two threads besides its leader; once
 * both are up, one of them execs this program (stage "after-thread-exec"),
 * which prints its pid and tid (both the process's pid: the thread took over
 * the leader's), creates a file and exits with 3.
 *
 * Proves: an exec by a non-leader thread keeps the process (same pid, no new
 * process, the exec attached to it); the other threads end with it.
 */
#include "truth.h"
#include <pthread.h>

static pthread_barrier_t all_up;

static void *bystander(void *arg)
{
	(void)arg;
	truth_thread();
	pthread_barrier_wait(&all_up);
	block_forever(); /* killed by the exec */
	return NULL;
}

static void *execer(void *arg)
{
	(void)arg;
	truth_thread();
	pthread_barrier_wait(&all_up);
	char *args[] = {truth_self, truth_dir, "after-thread-exec", NULL};
	execv(truth_self, args);
	die("execv");
	return NULL;
}

int main(int argc, char **argv)
{
	truth_start(argc, argv);
	if (strcmp(truth_stage(argc, argv), "after-thread-exec") == 0) {
		make_file(truth_path("after-thread-exec.txt"));
		truth_write(truth_path("after-thread-exec.txt"), "create");
		exit(3);
	}

	truth_process("top");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		truth_process("exec-from-thread");
		pthread_t a, b;
		pthread_barrier_init(&all_up, NULL, 2);
		if (pthread_create(&a, NULL, bystander, NULL) || pthread_create(&b, NULL, execer, NULL))
			die("pthread_create");
		block_forever(); /* the leader waits for the exec to replace it */
	}
	truth_reap(pid);
	truth_exit(0);
}

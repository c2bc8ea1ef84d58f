/*
 * exit_group_thread: a child process whose leader and one thread wait while
 * another thread creates a file and calls exit_group(42) itself (a raw
 * syscall, as exit() would after running atexit handlers).
 *
 * Proves: the exit code of a process ended by exit_group from a non-leader
 * thread; threads whose own exit is not seen end when the process ends.
 */
#include "truth.h"
#include <pthread.h>

static pthread_barrier_t all_up;

static void *sleeper(void *arg)
{
	(void)arg;
	truth_thread();
	pthread_barrier_wait(&all_up);
	block_forever();
	return NULL;
}

static void *exiter(void *arg)
{
	(void)arg;
	truth_thread();
	pthread_barrier_wait(&all_up);
	make_file(truth_path("before-exit-group.txt"));
	truth_write(truth_path("before-exit-group.txt"), "create");
	syscall(SYS_exit_group, 42);
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
		truth_process("exit-group-from-thread");
		pthread_t a, b;
		pthread_barrier_init(&all_up, NULL, 3);
		if (pthread_create(&a, NULL, sleeper, NULL) || pthread_create(&b, NULL, exiter, NULL))
			die("pthread_create");
		pthread_barrier_wait(&all_up);
		pthread_join(b, NULL); /* never returns */
		_exit(1);
	}
	truth_reap(pid);
	truth_exit(0);
}

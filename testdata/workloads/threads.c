/*
 * threads: one process, three threads alive at the same time; one of them
 * creates a file. The process exits with 7.
 *
 * Proves: threads are merged into their process (listed in its threads, never
 * shown as processes); a file written by a thread belongs to the process; the
 * exit code of a normal exit.
 */
#include "truth.h"
#include <pthread.h>

static pthread_barrier_t all_up;

static void *worker(void *arg)
{
	truth_thread();
	pthread_barrier_wait(&all_up); /* all three threads exist at once */
	if ((long)arg == 1) {
		make_file(truth_path("from-thread.txt"));
		truth_write(truth_path("from-thread.txt"), "create");
	}
	return NULL;
}

int main(int argc, char **argv)
{
	truth_start(argc, argv);
	truth_process("threads");
	pthread_t t[3];
	pthread_barrier_init(&all_up, NULL, 3);
	for (long i = 0; i < 3; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i))
			die("pthread_create");
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	truth_exit(7);
}

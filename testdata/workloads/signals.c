/*
 * signals: three children killed by signals. One has a second thread and a
 * file open for writing and is killed with SIGKILL; one dereferences NULL
 * (SIGSEGV; made non-dumpable so that no core dump helper runs); one is
 * killed with SIGTERM.
 *
 * Proves: death by signal gives a signal and no exit code; every thread of a
 * killed process ends with it; a file open at a death by signal is closed
 * then.
 */
#include "truth.h"
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>

static int ready[2];

static void *victim_thread(void *arg)
{
	(void)arg;
	truth_thread();
	signal_fd(ready[1]);
	block_forever();
	return NULL;
}

int main(int argc, char **argv)
{
	truth_start(argc, argv);
	truth_process("top");
	if (pipe(ready) < 0)
		die("pipe");

	pid_t k = fork();
	if (k < 0)
		die("fork");
	if (k == 0) {
		truth_process("sigkill-victim");
		int fd = open(truth_path("open-when-killed.txt"), O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			die("open");
		truth_write(truth_path("open-when-killed.txt"), "create");
		truth_open_at_exit(truth_path("open-when-killed.txt"));
		pthread_t t;
		if (pthread_create(&t, NULL, victim_thread, NULL))
			die("pthread_create");
		block_forever();
	}
	wait_fd(ready[0]); /* its thread is up and its file open */
	kill(k, SIGKILL);
	truth_reap(k);

	pid_t s = fork();
	if (s < 0)
		die("fork");
	if (s == 0) {
		truth_process("segv");
		prctl(PR_SET_DUMPABLE, 0);
		*(volatile int *)0 = 1;
		_exit(1);
	}
	truth_reap(s);

	pid_t t = fork();
	if (t < 0)
		die("fork");
	if (t == 0) {
		truth_process("sigterm-victim");
		signal_fd(ready[1]);
		block_forever();
	}
	wait_fd(ready[0]);
	kill(t, SIGTERM);
	truth_reap(t);
	truth_exit(0);
}

/*
 * orphan: top (a child subreaper) forks middle, middle forks orphan and exits.
 * Once top has reaped middle, the orphan (now reparented to top) starts a
 * thread that creates a file, then execs itself (stage "orphan-exec"), which
 * creates another file and exits with 4. Top reaps it as its reaper.
 *
 * Proves: a process keeps its creator as parent after it is reparented,
 * although its later records, its new thread's records and its exec report
 * the reaper as ppid.
 */
#include "truth.h"
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>

static void *orphan_thread(void *arg)
{
	(void)arg;
	truth_thread();
	make_file(truth_path("orphan-thread.txt"));
	truth_write(truth_path("orphan-thread.txt"), "create");
	return NULL;
}

static void orphan(pid_t top, int printed, int middle_reaped)
{
	truth_process("orphan");
	signal_fd(printed);  /* middle may exit now */
	wait_fd(middle_reaped); /* top has reaped middle: we were reparented */
	if (getppid() != top)
		die("not reparented to the subreaper");
	truth_reparent();
	pthread_t t;
	if (pthread_create(&t, NULL, orphan_thread, NULL))
		die("pthread_create");
	pthread_join(t, NULL);
	char *args[] = {truth_self, truth_dir, "orphan-exec", NULL};
	execv(truth_self, args);
	die("execv");
}

int main(int argc, char **argv)
{
	truth_start(argc, argv);
	if (strcmp(truth_stage(argc, argv), "orphan-exec") == 0) {
		make_file(truth_path("orphan-after-exec.txt"));
		truth_write(truth_path("orphan-after-exec.txt"), "create");
		exit(4);
	}

	truth_process("top-subreaper");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		die("PR_SET_CHILD_SUBREAPER");
	pid_t top = getpid();
	int printed[2], reaped[2];
	if (pipe(printed) < 0 || pipe(reaped) < 0)
		die("pipe");
	pid_t middle = fork();
	if (middle < 0)
		die("fork");
	if (middle == 0) {
		truth_process("middle");
		pid_t o = fork();
		if (o < 0)
			die("fork");
		if (o == 0)
			orphan(top, printed[1], reaped[0]);
		wait_fd(printed[0]); /* the orphan has printed its creator */
		_exit(0);
	}
	truth_reap(middle);
	signal_fd(reaped[1]);
	truth_reap_all(); /* the orphan, adopted */
	truth_exit(0);
}

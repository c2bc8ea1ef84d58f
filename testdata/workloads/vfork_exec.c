/*
 * vfork_exec: top vforks a child that execs this program (stage "vforked")
 * with arguments the kernel has to encode: a space, a double quote, UTF-8, and
 * one argument long enough to be split over several EXECVE records. That
 * image execs once more (stage "vforked-2"), creates a file and exits with 6.
 * A second vfork child fails to exec a missing program and _exits with 127.
 *
 * Proves: vfork (the parent's clone record arrives after the child's exec and
 * exit); every exec kept in order, argv and exe being the last ones; argv
 * decoded exactly (hex-encoded and split arguments); a failed exec is no exec.
 */
#include "truth.h"

int main(int argc, char **argv)
{
	truth_start(argc, argv);
	const char *stage = truth_stage(argc, argv);
	if (strcmp(stage, "vforked") == 0) {
		char *args[] = {truth_self, truth_dir, "vforked-2", NULL};
		execv(truth_self, args);
		die("execv");
	}
	if (strcmp(stage, "vforked-2") == 0) {
		make_file(truth_path("after-second-exec.txt"));
		truth_write(truth_path("after-second-exec.txt"), "create");
		exit(6);
	}

	truth_process("vfork-parent");

	/* 4000 bytes with spaces: hex-encoded by the kernel, 8000 digits, more
	 * than fit in one EXECVE record (7500). */
	static char long_arg[4001];
	for (int i = 0; i < 4000; i++)
		long_arg[i] = "ctrace "[i % 7];
	char *args[] = {truth_self, truth_dir, "vforked", "with space", "quote\"d", "\xc3\xbcnic\xc3\xb6" "de", long_arg, NULL};

	pid_t pid = vfork();
	if (pid < 0)
		die("vfork");
	if (pid == 0) {
		execv(truth_self, args);
		_exit(127);
	}
	truth_process_of(pid, getpid(), "vfork-child");
	truth_reap(pid);

	char *missing[] = {"/nonexistent/ctrace-workload", NULL};
	pid = vfork();
	if (pid < 0)
		die("vfork");
	if (pid == 0) {
		execv(missing[0], missing);
		_exit(127);
	}
	truth_process_of(pid, getpid(), "vfork-failed-exec");
	truth_reap(pid);
	truth_exit(0);
}

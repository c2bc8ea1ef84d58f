/*
 * files: the file operations of one process, in DIR, then an exec that keeps
 * the fd table and the working directory:
 *   - fd reuse: a.txt opened (created) on fd N and closed; b.txt opened next
 *     gets fd N; ftruncate(N) truncates b.txt, not a.txt;
 *   - a rename over an existing file (target.txt), then truncate by path;
 *   - relative paths after chdir(DIR/sub): rel.txt, ../up.txt, ./././dot.txt;
 *   - unlink; an existing file opened O_APPEND; DIR/input.txt read only;
 *   - before exec, kept.txt opened without O_CLOEXEC and cloexec.txt with it;
 *     after the exec (stage "after-exec"), ftruncate on the inherited fd
 *     truncates kept.txt; a relative open gets the number cloexec.txt had
 *     and ftruncate on it truncates the new file; left-open.txt stays open
 *     with kept.txt until the exit (0).
 *
 * Proves: the per-process fd table (reuse, close-on-exec, inheritance across
 * exec, close at exit), absolute clean paths from relative names and the cwd,
 * which operations count as writes and which do not.
 */
#include "truth.h"
#include <sys/stat.h>

static int open_or_die(const char *path, int flags)
{
	int fd = open(path, flags, 0644);
	if (fd < 0)
		die(path);
	return fd;
}

static void after_exec(char **argv)
{
	int kept = atoi(argv[3]), cloexec = atoi(argv[4]);
	char kept_path[PATH_MAX], cloexec_path[PATH_MAX], new_path[PATH_MAX], left_path[PATH_MAX];
	snprintf(kept_path, sizeof kept_path, "%s", truth_path("kept.txt"));
	snprintf(cloexec_path, sizeof cloexec_path, "%s", truth_path("cloexec.txt"));
	snprintf(new_path, sizeof new_path, "%s", truth_path("sub/after-exec.txt"));
	snprintf(left_path, sizeof left_path, "%s", truth_path("left-open.txt"));

	if (ftruncate(kept, 0) < 0)
		die("ftruncate inherited fd");
	truth_write_fd(kept_path, "truncate", kept);

	int fd = open_or_die("after-exec.txt", O_WRONLY | O_CREAT); /* cwd is still DIR/sub */
	if (fd != cloexec) {
		fprintf(stderr, "files: new fd %d, want %d (closed on exec)\n", fd, cloexec);
		exit(111);
	}
	truth_write(new_path, "create");
	if (ftruncate(fd, 0) < 0)
		die("ftruncate");
	truth_write_fd(new_path, "truncate", fd);
	truth_no_op(cloexec_path, "truncate");

	int left = open_or_die(left_path, O_WRONLY | O_CREAT | O_EXCL);
	if (write(left, "still open\n", 11) != 11)
		die("write");
	truth_write(left_path, "create");
	truth_open_at_exit(left_path);
	truth_open_at_exit(kept_path);
	truth_exit(0);
}

int main(int argc, char **argv)
{
	truth_start(argc, argv);
	if (strcmp(truth_stage(argc, argv), "after-exec") == 0 && argc == 5)
		after_exec(argv);
	truth_process("files");

	/* fd reuse */
	const char *a = truth_path("a.txt"), *b = truth_path("b.txt");
	int fd = open_or_die(a, O_WRONLY | O_CREAT | O_TRUNC);
	truth_write(a, "create");
	close(fd);
	int fd2 = open_or_die(b, O_WRONLY | O_CREAT);
	if (fd2 != fd) {
		fprintf(stderr, "files: b.txt got fd %d, a.txt had %d\n", fd2, fd);
		exit(111);
	}
	truth_write(b, "create");
	if (ftruncate(fd2, 0) < 0)
		die("ftruncate");
	truth_write_fd(b, "truncate", fd2);
	truth_no_op(a, "truncate");
	close(fd2);

	/* rename over an existing file, then truncate by path */
	const char *from = truth_path("renamed-from.txt"), *target = truth_path("target.txt");
	make_file(from);
	truth_write(from, "create");
	make_file(target);
	truth_write(target, "create");
	if (rename(from, target) < 0)
		die("rename");
	truth_write(target, "rename_to");
	if (truncate(target, 0) < 0)
		die("truncate");
	truth_write(target, "truncate");

	/* unlink */
	const char *gone = truth_path("gone.txt");
	make_file(gone);
	truth_write(gone, "create");
	if (unlink(gone) < 0)
		die("unlink");
	truth_write(gone, "unlink");

	/* append to an existing file; read another one */
	close(open_or_die(b, O_WRONLY | O_APPEND));
	truth_write(b, "open_write");
	close(open_or_die(truth_path("input.txt"), O_RDONLY));
	truth_not_written(truth_path("input.txt"));

	/* relative names after chdir */
	if (mkdir(truth_path("sub"), 0755) < 0 || chdir(truth_path("sub")) < 0)
		die("mkdir/chdir sub");
	close(open_or_die("rel.txt", O_WRONLY | O_CREAT));
	truth_write(truth_path("sub/rel.txt"), "create");
	close(open_or_die("../up.txt", O_WRONLY | O_CREAT));
	truth_write(truth_path("up.txt"), "create");
	close(open_or_die("./././dot.txt", O_WRONLY | O_CREAT));
	truth_write(truth_path("sub/dot.txt"), "create");

	/* exec with one fd kept and one closed on exec */
	int kept = open_or_die(truth_path("kept.txt"), O_WRONLY | O_CREAT);
	truth_write(truth_path("kept.txt"), "create");
	int cloexec = open_or_die(truth_path("cloexec.txt"), O_WRONLY | O_CREAT | O_CLOEXEC);
	truth_write(truth_path("cloexec.txt"), "create");
	char kept_s[16], cloexec_s[16];
	snprintf(kept_s, sizeof kept_s, "%d", kept);
	snprintf(cloexec_s, sizeof cloexec_s, "%d", cloexec);
	char *args[] = {truth_self, truth_dir, "after-exec", kept_s, cloexec_s, NULL};
	execv(truth_self, args);
	die("execv");
}

// storm: the workload of `make bench-record`.
//
//   storm [-w WORKERS] [-t SECONDS] [-m exec|mixed] [-d DIR]
//
// WORKERS processes (default: online CPUs) start together and, until SECONDS
// (default 5) have passed, each repeats one iteration:
//   exec:  fork, execve("/bin/true"), wait (a trivial process, as in the
//          laurel authors' comparison of audit collectors);
//   mixed: the same exec, then a file written and renamed and removed in DIR
//          (openat O_CREAT|O_WRONLY|O_TRUNC, write 4 KiB, close, rename,
//          unlink), then a thread created and joined.
// Prints one line: iterations=N seconds=S rate=R (iterations per second; one
// exec per iteration in both modes).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void *nothing(void *arg) { return arg; }

static void one_exec(void) {
	pid_t p = fork();
	if (p == 0) {
		execl("/bin/true", "true", (char *)0);
		_exit(127);
	}
	if (p < 0) {
		perror("storm: fork");
		_exit(1);
	}
	int st;
	while (waitpid(p, &st, 0) < 0 && errno == EINTR) {
	}
}

static void one_mixed(const char *dir, int w, long i, const char *block) {
	char a[4096], b[4096];
	snprintf(a, sizeof a, "%s/w%d-a", dir, w);
	snprintf(b, sizeof b, "%s/w%d-b-%ld", dir, w, i & 7);
	int fd = openat(AT_FDCWD, a, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror("storm: open");
		_exit(1);
	}
	if (write(fd, block, 4096) != 4096) {
		perror("storm: write");
		_exit(1);
	}
	close(fd);
	if (rename(a, b) != 0 || unlink(b) != 0) {
		perror("storm: rename/unlink");
		_exit(1);
	}
	pthread_t t;
	if (pthread_create(&t, 0, nothing, 0) != 0) {
		fprintf(stderr, "storm: pthread_create failed\n");
		_exit(1);
	}
	pthread_join(t, 0);
}

int main(int argc, char **argv) {
	int workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
	double secs = 5;
	const char *mode = "exec", *dir = "/tmp";
	int c;
	while ((c = getopt(argc, argv, "w:t:m:d:")) != -1) {
		switch (c) {
		case 'w': workers = atoi(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'm': mode = optarg; break;
		case 'd': dir = optarg; break;
		default:
			fprintf(stderr, "usage: storm [-w WORKERS] [-t SECONDS] [-m exec|mixed] [-d DIR]\n");
			return 2;
		}
	}
	int mixed = strcmp(mode, "mixed") == 0;
	if (!mixed && strcmp(mode, "exec") != 0) {
		fprintf(stderr, "storm: unknown mode %s\n", mode);
		return 2;
	}
	if (workers < 1 || workers > 256 || secs <= 0) {
		fprintf(stderr, "storm: bad -w or -t\n");
		return 2;
	}
	long *counts = mmap(0, 256 * sizeof(long), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (counts == MAP_FAILED) {
		perror("storm: mmap");
		return 1;
	}
	// The workers wait on a pipe so that they all start at the same time.
	int go[2];
	if (pipe(go) != 0) {
		perror("storm: pipe");
		return 1;
	}
	for (int w = 0; w < workers; w++) {
		pid_t p = fork();
		if (p < 0) {
			perror("storm: fork");
			return 1;
		}
		if (p == 0) {
			char block[4096];
			memset(block, 'x', sizeof block);
			close(go[1]);
			char x;
			if (read(go[0], &x, 1) < 0) _exit(1);
			double end = now() + secs;
			long n = 0;
			while (now() < end) {
				one_exec();
				if (mixed) one_mixed(dir, w, n, block);
				n++;
			}
			counts[w] = n;
			_exit(0);
		}
	}
	close(go[0]);
	double t0 = now();
	close(go[1]); // start
	int failed = 0;
	for (int w = 0; w < workers; w++) {
		int st;
		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) failed = 1;
	}
	double el = now() - t0;
	long total = 0;
	for (int w = 0; w < workers; w++) total += counts[w];
	printf("iterations=%ld seconds=%.3f rate=%.1f\n", total, el, total / el);
	return failed;
}

/* Reuses descriptor numbers in the ways a process does without the audit
 * rules recording the closes: a write-opened file's number taken by a
 * read-only directory open, a directory's number taken by dup2 of another
 * directory, by memfd_create, by an unrecorded read-only open; then names
 * relative to those numbers. Run in an empty directory. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
	mkdir("d1", 0755);
	mkdir("d2", 0755);
	int f = open("file1", O_WRONLY | O_CREAT, 0644); /* recorded */
	close(f);                                        /* not recorded */
	int d = open("d1", O_RDONLY);                    /* same number: a directory */
	close(openat(d, "in-d1", O_WRONLY | O_CREAT, 0644));
	close(openat(d, "in-d1", O_WRONLY)); /* an existing file: no PARENT item */
	int e = open("d2", O_RDONLY | O_DIRECTORY);
	dup2(e, d); /* d is d2 now */
	close(e);
	close(openat(d, "in-d2", O_WRONLY | O_CREAT, 0644));
	unlinkat(d, "in-d2", 0);
	close(d);
	close(open("file2", O_WRONLY | O_CREAT, 0644));
	int m = memfd_create("anon", 0); /* same number again */
	ftruncate(m, 4096);             /* anonymous memory, no file */
	close(m);
	int r = open("file2", O_RDONLY); /* not recorded */
	fchmod(r, 0700);
	close(r);
	int p = open("file1", O_RDONLY); /* not recorded */
	int q = open("file2", O_WRONLY);
	char buf[64];
	snprintf(buf, sizeof buf, "/proc/self/fd/%d", q);
	close(open(buf, O_WRONLY | O_APPEND)); /* file2, through /proc */
	close(q);
	close(p);
	int dd = open("d2", O_RDONLY | O_DIRECTORY);
	close(dd);
	int rf = open("file1", O_RDONLY);           /* dd's number, not recorded */
	openat(rf, "x", O_WRONLY | O_CREAT, 0644); /* fails: not a directory */
	close(rf);
	unlinkat(AT_FDCWD, "d1/in-d1", 0);
	rmdir("d1");
	rmdir("d2");
	unlink("file1");
	unlink("file2");
	return 0;
}

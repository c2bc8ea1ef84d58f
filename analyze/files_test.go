package analyze

import (
	"slices"
	"testing"
)

// fileCap starts a capture with one process, pid 2000 in /work, created at
// 0 ms, and returns it; t0 is the next free serial.
func fileCap(t *testing.T) *tcap {
	c := newCap(t)
	c.fork(0, 1, 1, 2000, 2000)
	return c
}

// sys is a file syscall of process 2000.
func sys(nr int, exit int64, a ...uint64) call {
	k := call{nr: nr, pid: 2000, ppid: 1, exit: exit}
	copy(k.a[:], a)
	return k
}

const atCWD = 0xffffff9c // AT_FDCWD as the kernel logs it

// Rule: write intent comes from the flags (a1 of open, a2 of openat):
// O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND; a CREATE item means the file
// was created; O_TRUNC on an existing regular file truncates it (not on a
// device); a read-only open writes nothing.
func TestOpenWriteIntent(t *testing.T) {
	c := fileCap(t)
	c.event(1, 1, sys(nrOpenat, 3, atCWD, 0, 0o1101).rec(), cwdRec("/work"), // O_WRONLY|O_CREAT|O_TRUNC, new
		pathRec(0, "/work", 10, "040755", "PARENT"), pathRec(1, "new.txt", 11, "0100644", "CREATE"))
	c.event(2, 2, sys(nrOpenat, 4, atCWD, 0, 0o1101).rec(), cwdRec("/work"), // existing
		pathRec(0, "old.txt", 12, "0100644", "NORMAL"))
	c.event(3, 3, sys(nrOpen, 5, 0, 0o2001).rec(), cwdRec("/work"), // O_WRONLY|O_APPEND
		pathRec(0, "/var/log/x.log", 13, "0100644", "NORMAL"))
	c.event(4, 4, sys(nrOpenat, 6, atCWD, 0, 0o1101).rec(), cwdRec("/work"), // a device: no truncate
		pathRec(0, "/dev/null", 14, "020666", "NORMAL"))
	c.event(5, 5, sys(nrOpenat, 7, atCWD, 0, 0o2000000).rec(), cwdRec("/work"), // O_RDONLY|O_CLOEXEC
		pathRec(0, "input.txt", 15, "0100644", "NORMAL"))
	c.event(6, 6, sys(nrCreat, 8, 0, 0o644).rec(), cwdRec("/work"),
		pathRec(0, "/work", 10, "040755", "PARENT"), pathRec(1, "c.txt", 16, "0100644", "CREATE"))
	failed := sys(nrOpenat, -2, atCWD, 0, 0o101)
	failed.failed = true
	c.event(7, 7, failed.rec(), cwdRec("/work"), pathRec(0, "nodir/x", 0, "", "UNKNOWN")) // failed: nothing
	p := one(t, c.model(), 2000)
	want := []string{
		"create /work/new.txt", "open_write /work/old.txt", "truncate /work/old.txt",
		"open_write /var/log/x.log", "open_write /dev/null", "create /work/c.txt",
	}
	if got := ops(p); !slices.Equal(got, want) {
		t.Errorf("ops\n got %q\nwant %q", got, want)
	}
	if want := []string{"/dev/null", "/var/log/x.log", "/work/c.txt", "/work/new.txt", "/work/old.txt"}; !slices.Equal(p.FilesWritten, want) {
		t.Errorf("files_written %q", p.FilesWritten)
	}
	if f := findOp(p, "create", "/work/new.txt"); f.Flags != "O_WRONLY|O_CREAT|O_TRUNC" || f.FD != 3 || !f.HasFD {
		t.Errorf("create: flags %q fd %d", f.Flags, f.FD)
	}
}

// Rule: openat2's flags are behind a pointer: the OPENAT2 record's oflag
// gives them; without it a CREATE item is a create and anything else an
// open of unknown intent (not in files_written).
func TestOpenat2(t *testing.T) {
	c := fileCap(t)
	c.event(1, 1, sys(nrOpenat2, 3, atCWD).rec(), rec{"OPENAT2", "oflag=01 mode=0 resolve=0x0"}, cwdRec("/w"),
		pathRec(0, "a", 20, "0100644", "NORMAL"))
	c.event(2, 2, sys(nrOpenat2, 4, atCWD).rec(), rec{"OPENAT2", "oflag=0 mode=0 resolve=0x0"}, cwdRec("/w"),
		pathRec(0, "r", 21, "0100644", "NORMAL"))
	c.event(3, 3, sys(nrOpenat2, 5, atCWD).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "b", 22, "0100644", "CREATE"))
	c.event(4, 4, sys(nrOpenat2, 6, atCWD).rec(), cwdRec("/w"), pathRec(0, "c", 23, "0100644", "NORMAL"))
	p := one(t, c.model(), 2000)
	if got, want := ops(p), []string{"open_write /w/a", "create /w/b", "open /w/c"}; !slices.Equal(got, want) {
		t.Errorf("ops %q, want %q", got, want)
	}
	if !slices.Equal(p.FilesWritten, []string{"/w/a", "/w/b"}) {
		t.Errorf("files_written %q", p.FilesWritten)
	}
}

// Rule: fd reuse: a new open returning a descriptor still in the table
// closed the old file before; ftruncate(fd) is on the newer file.
func TestFDReuse(t *testing.T) {
	c := fileCap(t)
	c.event(1, 1, sys(nrOpenat, 3, atCWD, 0, 0o101).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "a.txt", 30, "0100644", "CREATE"))
	c.event(2, 2, sys(nrOpenat, 3, atCWD, 0, 0o101).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "b.txt", 31, "0100644", "CREATE"))
	c.event(3, 3, sys(nrFtruncate, 0, 3).rec())
	c.event(4, 4, sys(nrFtruncate, 0, 9).rec()) // unknown descriptor
	c.auditExitGroup(5, 5, 2000, 1, 0)
	c.exit(5.5, 2000, 2000, 0)
	p := one(t, c.model(), 2000)
	want := []string{"create /w/a.txt", "create /w/b.txt", "truncate /w/b.txt", "truncate  (unresolved)"}
	if got := ops(p); !slices.Equal(got, want) {
		t.Fatalf("ops %q, want %q", got, want)
	}
	a := findOp(p, "create", "/w/a.txt")
	if a.ClosedBy != "reuse" || a.Closed != wall(2) {
		t.Errorf("a.txt closed %d by %q", a.Closed, a.ClosedBy)
	}
	b := findOp(p, "create", "/w/b.txt")
	if b.ClosedBy != "exit" || b.Closed != wall(5.5) {
		t.Errorf("b.txt closed %d by %q", b.Closed, b.ClosedBy)
	}
	if tr := p.Files[3]; !tr.HasFD || tr.FD != 9 || tr.Path != "" {
		t.Errorf("unknown fd truncate: %+v", tr)
	}
}

// Rule: a file left open at exit is closed at the exit time; one still
// open at the end of the capture has no close; close-on-exec descriptors
// close at exec; close, dup2 and fcntl(F_SETFD) are used when recorded.
func TestDescriptorLifetimes(t *testing.T) {
	c := fileCap(t)
	open := func(ms int64, serial int, fd int64, name string, flags uint64, inode int) {
		c.event(ms, serial, sys(nrOpenat, fd, atCWD, 0, flags).rec(), cwdRec("/w"),
			pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, name, inode, "0100644", "CREATE"))
	}
	open(1, 1, 3, "kept", 0o101, 40)
	open(2, 2, 4, "cloexec", 0o2000101, 41)
	open(3, 3, 5, "closed", 0o101, 42)
	c.event(4, 4, sys(nrClose, 0, 5).rec())
	open(5, 5, 6, "dup", 0o101, 43)
	c.event(6, 6, sys(nrDup2, 3, 6, 3).rec()) // dup2(6, 3): kept's fd 3 replaced
	open(7, 7, 7, "setfd", 0o101, 44)
	c.event(8, 8, sys(nrFcntl, 0, 7, 2, 1).rec()) // F_SETFD FD_CLOEXEC
	c.auditExec(9, 9, 2000, 1, "/bin/b", "/w", "b")
	c.exec(9.5, 2000)
	c.exit(10, 2000, 2000, 0)
	c.fork(11, 1, 1, 2001, 2001)
	c.event(12, 10, call{nr: nrOpenat, pid: 2001, ppid: 1, exit: 3, a: [4]uint64{atCWD, 0, 0o101}}.rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "open-at-end", 45, "0100644", "CREATE"))
	m := c.model()
	p := one(t, m, 2000)
	for _, tc := range []struct {
		name, by string
		at       float64
	}{
		{"kept", "dup2", 6}, {"cloexec", "exec", 9.5}, {"closed", "close", 4},
		{"dup", "exit", 10}, {"setfd", "exec", 9.5},
	} {
		f := findOp(p, "create", "/w/"+tc.name)
		if f == nil || f.ClosedBy != tc.by || f.Closed != wall(tc.at) {
			t.Errorf("%s: %+v, want closed by %s at %v", tc.name, f, tc.by, tc.at)
		}
	}
	q := one(t, m, 2001)
	if f := findOp(q, "create", "/w/open-at-end"); f == nil || f.ClosedBy != "" || f.Closed != 0 {
		t.Errorf("open at the end: %+v", f)
	}
}

// Rule: rename: the old name is rename_from, the new one rename_to; a
// DELETE item for the new name means an existing file was replaced.
func TestRenameOverExisting(t *testing.T) {
	c := fileCap(t)
	c.event(1, 1, sys(nrRenameat, 0, atCWD, 0, atCWD, 0).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "/w", 1, "040755", "PARENT"),
		pathRec(2, "tmp.txt", 50, "0100644", "DELETE"), pathRec(3, "target.txt", 51, "0100644", "DELETE"),
		pathRec(4, "target.txt", 50, "0100644", "CREATE"))
	c.event(2, 2, sys(nrRename, 0).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "/w/sub/", 2, "040755", "PARENT"),
		pathRec(2, "/w/a", 52, "0100644", "DELETE"), pathRec(3, "/w/sub/b", 52, "0100644", "CREATE"))
	p := one(t, c.model(), 2000)
	want := []string{"rename_from /w/tmp.txt", "rename_to /w/target.txt", "rename_from /w/a", "rename_to /w/sub/b"}
	if got := ops(p); !slices.Equal(got, want) {
		t.Fatalf("ops %q, want %q", got, want)
	}
	if f := findOp(p, "rename_to", "/w/target.txt"); !f.Replaced || f.From != "/w/tmp.txt" {
		t.Errorf("rename_to: %+v", f)
	}
	if f := findOp(p, "rename_to", "/w/sub/b"); f.Replaced {
		t.Errorf("rename_to without a victim: replaced")
	}
	if !slices.Equal(p.FilesWritten, []string{"/w/sub/b", "/w/target.txt"}) {
		t.Errorf("files_written %q", p.FilesWritten)
	}
}

// Rule: relative names resolve against the working directory at that
// moment: the event's CWD record (after a chdir, whether recorded or not),
// else (no CWD record) the path the index has for the PARENT item's
// directory; "." and ".." are removed.
func TestRelativePathAfterChdir(t *testing.T) {
	c := fileCap(t)
	c.event(1, 1, sys(nrOpenat, 3, atCWD, 0, 0o101).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "a", 60, "0100644", "CREATE"))
	// chdir("sub") recorded (not in the default rules): its CWD record is
	// the old directory.
	c.event(2, 2, sys(nrChdir, 0).rec(), cwdRec("/w"), pathRec(0, "sub", 2, "040755", "NORMAL"))
	c.event(3, 3, sys(nrOpenat, 4, atCWD, 0, 0o101).rec(), cwdRec("/w/sub"),
		pathRec(0, "/w/sub", 2, "040755", "PARENT"), pathRec(1, "./x/../b", 61, "0100644", "CREATE"))
	c.event(4, 4, sys(nrUnlink, 0).rec(), // no CWD record: the PARENT's inode (/w)
		pathRec(0, "..", 1, "040755", "PARENT"), pathRec(1, "../a", 60, "0100644", "DELETE"))
	p := one(t, c.model(), 2000)
	if got, want := ops(p), []string{"create /w/a", "create /w/sub/b", "unlink /w/a"}; !slices.Equal(got, want) {
		t.Errorf("ops %q, want %q", got, want)
	}
	if p.Cwd != "/w/sub" {
		t.Errorf("cwd %q", p.Cwd)
	}
}

// Rule: a name relative to a directory descriptor resolves through the fd
// table when the directory's open was recorded, else through the PARENT
// item's inode when a path was seen for it earlier; otherwise it stays
// unresolved (never the PARENT item's name, which the kernel logs as the
// working directory there).
func TestDirfdResolution(t *testing.T) {
	c := fileCap(t)
	// The directory /d/one opened read-only (recorded by a user's rules): fd 5.
	c.event(1, 1, sys(nrOpenat, 5, atCWD, 0, 0o200000).rec(), cwdRec("/w"), pathRec(0, "/d/one", 70, "040755", "NORMAL"))
	c.event(2, 2, sys(nrOpenat, 3, 5, 0, 0o101).rec(), cwdRec("/w"),
		pathRec(0, "/w", 70, "040755", "PARENT"), pathRec(1, "x", 71, "0100644", "CREATE"))
	// fd 6 is unknown; the PARENT inode 80 is not known yet.
	c.event(3, 3, sys(nrUnlinkat, 0, 6, 0, 0).rec(), cwdRec("/w"),
		pathRec(0, "/w", 80, "040755", "PARENT"), pathRec(1, "y", 81, "0100644", "DELETE"))
	// Inode 80 seen as /d/two (the PARENT of a cwd-relative name).
	c.event(4, 4, sys(nrOpenat, 4, atCWD, 0, 0o101).rec(), cwdRec("/d/two"),
		pathRec(0, "/d/two", 80, "040755", "PARENT"), pathRec(1, "z", 82, "0100644", "CREATE"))
	c.event(5, 5, sys(nrUnlinkat, 0, 6, 0, 0).rec(), cwdRec("/w"),
		pathRec(0, "/w", 80, "040755", "PARENT"), pathRec(1, "y2", 83, "0100644", "DELETE"))
	c.event(6, 6, sys(nrRenameat2, 0, 6, 0, atCWD, 0).rec(), cwdRec("/w"),
		pathRec(0, "/w", 80, "040755", "PARENT"), pathRec(1, "/w", 1, "040755", "PARENT"),
		pathRec(2, "q", 84, "0100644", "DELETE"), pathRec(3, "q2", 84, "0100644", "CREATE"))
	p := one(t, c.model(), 2000)
	want := []string{"create /d/one/x", "unlink y (unresolved)", "create /d/two/z", "unlink /d/two/y2",
		"rename_from /d/two/q", "rename_to /w/q2"}
	if got := ops(p); !slices.Equal(got, want) {
		t.Errorf("ops\n got %q\nwant %q", got, want)
	}
	if slices.Contains(p.FilesWritten, "y") {
		t.Errorf("an unresolved name in files_written: %q", p.FilesWritten)
	}
}

// Rule: link, symlink, mknod, unlink, truncate by path; unlinkat with
// AT_REMOVEDIR is rmdir (not a file written).
func TestOtherFileOperations(t *testing.T) {
	c := fileCap(t)
	c.event(1, 1, sys(nrLinkat, 0, atCWD, 0, atCWD, 0).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "a", 90, "0100644", "NORMAL"), pathRec(2, "hard", 90, "0100644", "CREATE"))
	c.event(2, 2, sys(nrSymlink, 0).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "../target", 0, "", "UNKNOWN"), pathRec(2, "soft", 91, "0120777", "CREATE"))
	c.event(3, 3, sys(nrMknodat, 0, atCWD, 0, 0o10644).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "fifo", 92, "010644", "CREATE"))
	c.event(4, 4, sys(nrTruncate, 0).rec(), cwdRec("/w"), pathRec(0, "a", 90, "0100644", "NORMAL"))
	c.event(5, 5, sys(nrUnlinkat, 0, atCWD, 0, 0x200).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "dir", 93, "040755", "DELETE"))
	c.event(6, 6, sys(nrUnlink, 0).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "hard", 90, "0100644", "DELETE"))
	p := one(t, c.model(), 2000)
	want := []string{"link /w/hard", "symlink /w/soft", "mknod /w/fifo", "truncate /w/a", "rmdir /w/dir", "unlink /w/hard"}
	if got := ops(p); !slices.Equal(got, want) {
		t.Fatalf("ops %q, want %q", got, want)
	}
	if f := findOp(p, "link", "/w/hard"); f.Target != "/w/a" {
		t.Errorf("link target %q", f.Target)
	}
	if f := findOp(p, "symlink", "/w/soft"); f.Target != "../target" {
		t.Errorf("symlink target %q", f.Target)
	}
	if want := []string{"/w/a", "/w/fifo", "/w/hard", "/w/soft"}; !slices.Equal(p.FilesWritten, want) {
		t.Errorf("files_written %q", p.FilesWritten)
	}
}

// Rule: files are per process, all threads together; a child inherits the
// descriptor table (for resolving names), not the parent's operations.
func TestFilesPerProcessAndInheritance(t *testing.T) {
	c := fileCap(t)
	c.fork(0.5, 2000, 2000, 2002, 2000) // a thread; audit names the process anyway
	c.event(1, 1, sys(nrOpenat, 5, atCWD, 0, 0o200000).rec(), cwdRec("/w"), pathRec(0, "/d", 100, "040755", "NORMAL"))
	c.event(2, 2, sys(nrOpenat, 3, atCWD, 0, 0o101).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "mine", 101, "0100644", "CREATE"))
	c.fork(3, 2002, 2000, 2100, 2100)
	c.event(4, 3, call{nr: nrOpenat, pid: 2100, ppid: 2000, exit: 4, a: [4]uint64{5, 0, 0o101}}.rec(), cwdRec("/w"),
		pathRec(0, "/w", 100, "040755", "PARENT"), pathRec(1, "child", 102, "0100644", "CREATE"))
	c.event(5, 4, call{nr: nrFtruncate, pid: 2100, ppid: 2000, a: [4]uint64{3}}.rec())
	m := c.model()
	if got := ops(one(t, m, 2000)); !slices.Equal(got, []string{"create /w/mine"}) {
		t.Errorf("parent ops %q", got)
	}
	child := one(t, m, 2100)
	wantParent(t, child, 2000)
	if got, want := ops(child), []string{"create /d/child", "truncate /w/mine"}; !slices.Equal(got, want) {
		t.Errorf("child ops %q, want %q", got, want)
	}
}

// Names and directories the kernel hex-encodes (a space, a quote, UTF-8)
// are decoded.
func TestHexEncodedPaths(t *testing.T) {
	c := fileCap(t)
	c.event(1, 1, sys(nrOpenat, 3, atCWD, 0, 0o101).rec(), cwdRec("/tmp/a dir"),
		pathRec(0, "/tmp/a dir", 1, "040755", "PARENT"), pathRec(1, "my \"file\" ü.txt", 2, "0100644", "CREATE"))
	p := one(t, c.model(), 2000)
	if want := []string{`/tmp/a dir/my "file" ü.txt`}; !slices.Equal(p.FilesWritten, want) {
		t.Errorf("files_written %q, want %q", p.FilesWritten, want)
	}
	if p.Cwd != "/tmp/a dir" {
		t.Errorf("cwd %q", p.Cwd)
	}
}

// close_range closes (or marks close-on-exec) a range; dup3 with
// O_CLOEXEC makes a close-on-exec copy.
func TestCloseRangeAndDup3(t *testing.T) {
	c := fileCap(t)
	for i, name := range []string{"a", "b", "c"} {
		c.event(int64(1+i), 1+i, sys(nrOpenat, int64(3+i), atCWD, 0, 0o101).rec(), cwdRec("/w"),
			pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, name, 10+i, "0100644", "CREATE"))
	}
	c.event(4, 4, sys(nrDup3, 9, 5, 9, 0o2000000).rec()) // c also on 9, close-on-exec
	c.event(5, 5, sys(436, 0, 3, 4, 0).rec())            // close_range(3, 4): a and b
	c.event(6, 6, sys(436, 0, 5, 5, 4).rec())            // close_range(5, 5, CLOSE_RANGE_CLOEXEC)
	c.auditExec(7, 7, 2000, 1, "/bin/x", "/w", "x")
	c.exec(7.5, 2000)
	p := one(t, c.model(), 2000)
	for name, want := range map[string]string{"a": "close", "b": "close", "c": "exec"} {
		if f := findOp(p, "create", "/w/"+name); f == nil || f.ClosedBy != want {
			t.Errorf("%s: %+v, want closed by %s", name, f, want)
		}
	}
}

package analyze

import (
	"slices"
	"strings"
	"testing"
)

// x86_64 numbers of the syscalls these tests add.
const (
	nrChmod, nrFchmod, nrFchown, nrMkdir, nrRmdir, nrFchmodat = 90, 91, 93, 83, 84, 268
	nrMemfd, nrPipe2, nrMkdirat                               = 319, 293, 258
)

// namelessRec is the PATH item fchmod and fchown log: no name, the
// descriptor's inode.
func namelessRec(inode int, mode string) rec {
	r := pathRec(0, "x", inode, mode, "NORMAL")
	r.body = strings.Replace(r.body, "name=\"x\"", "name=(null)", 1)
	return r
}

// Rule: a descriptor whose number was taken by an unrecorded open is
// stale: a name relative to it is placed by the PARENT item's identity,
// never joined to the old file. Here fd 3 was a file opened for writing,
// closed without a record, and reused by a directory whose open was not
// recorded either: the PARENT's inode is that of /d (seen before by
// path), so the name is /d/x.
func TestStaleDescriptorNeverUsed(t *testing.T) {
	c := fileCap(t)
	c.event(1, 1, sys(nrOpenat, 4, atCWD, 0, 0o101).rec(), cwdRec("/w"),
		pathRec(0, "/d/", 30, "040755", "PARENT"), pathRec(1, "/d/seen", 31, "0100644", "CREATE"))
	c.event(2, 2, sys(nrOpenat, 3, atCWD, 0, 0o101).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "file", 40, "0100644", "CREATE"))
	// fd 3 is now /d (not recorded): a create relative to it.
	c.event(3, 3, sys(nrOpenat, 5, 3, 0, 0o101).rec(), cwdRec("/w"),
		pathRec(0, "/w", 30, "040755", "PARENT"), pathRec(1, "x", 41, "0100644", "CREATE"))
	// fd 6: a directory nobody saw by path: unresolved, with its identity.
	c.event(4, 4, sys(nrUnlinkat, 0, 6, 0, 0).rec(), cwdRec("/w"),
		pathRec(0, "/w", 77, "040755", "PARENT"), pathRec(1, "y", 78, "0100644", "DELETE"))
	p := one(t, c.model(), 2000)
	want := []string{"create /d/seen", "create /w/file", "create /d/x", "unlink y (unresolved)"}
	if got := ops(p); !slices.Equal(got, want) {
		t.Fatalf("ops\n got %q\nwant %q", got, want)
	}
	u := findOp(p, "unlink", "y")
	if !u.HasDirFD || u.DirFD != 6 || u.DirInode != "fe:00:77" {
		t.Errorf("unresolved unlink: dir fd %v %d, inode %q", u.HasDirFD, u.DirFD, u.DirInode)
	}
	if f := findOp(p, "create", "/w/file"); f.ClosedBy != "reuse" {
		t.Errorf("the stale file's open: closed by %q, want reuse", f.ClosedBy)
	}
}

// Rule: a directory's recorded open (any flags: the rules record every
// open of a directory) makes its descriptor usable for names relative to
// it, the file's own and, without a PARENT item, an existing file's; dup2
// of another directory onto the number replaces it.
func TestDirectoryDescriptors(t *testing.T) {
	c := fileCap(t)
	c.event(1, 1, sys(nrOpenat, 3, atCWD, 0, 0).rec(), cwdRec("/w"), pathRec(0, "/t/a", 50, "040755", "NORMAL"))
	c.event(2, 2, sys(nrOpenat, 4, 3, 0, 0o1).rec(), cwdRec("/w"), pathRec(0, "old.txt", 51, "0100644", "NORMAL"))
	c.event(3, 3, sys(nrOpenat, 5, atCWD, 0, 0o200000).rec(), cwdRec("/w"), pathRec(0, "/t/b", 60, "040755", "NORMAL"))
	c.event(4, 4, sys(nrDup2, 3, 5, 3).rec())
	c.event(5, 5, sys(nrMkdirat, 0, 3, 0, 0o755).rec(), cwdRec("/w"),
		pathRec(0, "/w", 60, "040755", "PARENT"), pathRec(1, "sub", 61, "040755", "CREATE"))
	c.event(6, 6, sys(nrUnlinkat, 0, 3, 0, 0x200).rec(), cwdRec("/w"),
		pathRec(0, "/w", 60, "040755", "PARENT"), pathRec(1, "sub", 61, "040755", "DELETE"))
	p := one(t, c.model(), 2000)
	want := []string{"open_write /t/a/old.txt", "mkdir /t/b/sub", "rmdir /t/b/sub"}
	if got := ops(p); !slices.Equal(got, want) {
		t.Fatalf("ops\n got %q\nwant %q", got, want)
	}
}

// Rule: a name with a trailing slash (mkdir("new/"), as mkdir -p and
// busybox give it) relative to a directory identified by its PARENT item
// names its last component.
func TestTrailingSlashRelativeToDirectory(t *testing.T) {
	c := fileCap(t)
	c.event(1, 1, sys(nrOpenat, 3, atCWD, 0, 0).rec(), cwdRec("/w"), pathRec(0, "/t", 50, "040755", "NORMAL"))
	c.event(2, 2, sys(nrMkdirat, 0, 3, 0, 0o755).rec(), cwdRec("/w"),
		pathRec(0, "/w", 50, "040755", "PARENT"), pathRec(1, "new/", 51, "040755", "CREATE"))
	c.event(3, 3, sys(nrMkdirat, 0, 7, 0, 0o755).rec(), cwdRec("/w"),
		pathRec(0, "/w", 51, "040755", "PARENT"), pathRec(1, "deeper/", 52, "040755", "CREATE"))
	p := one(t, c.model(), 2000)
	want := []string{"mkdir /t/new", "mkdir /t/new/deeper"}
	if got := ops(p); !slices.Equal(got, want) {
		t.Fatalf("ops\n got %q\nwant %q", got, want)
	}
}

// Rule: chmod and chown by name, by descriptor (the PATH item's inode
// identifies the file even when the descriptor's open was not recorded)
// and relative to a directory; the new mode and owner are kept.
func TestChmodChown(t *testing.T) {
	c := fileCap(t)
	c.event(1, 1, sys(nrOpenat, 3, atCWD, 0, 0o101).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "run.sh", 70, "0100644", "CREATE"))
	c.event(2, 2, sys(nrChmod, 0, 0, 0o755).rec(), cwdRec("/w"), pathRec(0, "run.sh", 70, "0100644", "NORMAL"))
	// fd 9 was opened read-only (not recorded): the item names inode 70.
	c.event(3, 3, sys(nrFchown, 0, 9, 1000, 0xffffffff).rec(), cwdRec("/w"), namelessRec(70, "0100755"))
	c.event(4, 4, sys(nrFchmod, 0, 9, 0o700).rec(), cwdRec("/w"), namelessRec(99, "0100644"))
	p := one(t, c.model(), 2000)
	want := []string{"create /w/run.sh", "chmod /w/run.sh", "chown /w/run.sh", "chmod  (unresolved)"}
	if got := ops(p); !slices.Equal(got, want) {
		t.Fatalf("ops\n got %q\nwant %q", got, want)
	}
	if f := findOp(p, "chmod", "/w/run.sh"); !f.HasMode || f.Mode != 0o755 {
		t.Errorf("chmod mode %o (%v)", f.Mode, f.HasMode)
	}
	if f := findOp(p, "chown", "/w/run.sh"); f.UID != 1000 || f.GID != -1 {
		t.Errorf("chown %d:%d, want 1000:-1", f.UID, f.GID)
	}
	if !slices.Contains(p.FilesWritten, "/w/run.sh") {
		t.Errorf("files_written %q", p.FilesWritten)
	}
}

// Rule: pipes (FD_PAIR) and memfd_create make descriptors of no file: a
// chown of the pipe or a truncate of the memory is no file operation, and
// the numbers no longer name the files they had.
func TestPipesAndMemfdAreNoFiles(t *testing.T) {
	c := fileCap(t)
	c.event(1, 1, sys(nrOpenat, 3, atCWD, 0, 0o101).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "a", 80, "0100644", "CREATE"))
	c.event(2, 2, sys(nrOpenat, 4, atCWD, 0, 0o101).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "b", 81, "0100644", "CREATE"))
	c.event(3, 3, sys(nrPipe2, 0, 0x7ffe0000, 0o2000000).rec(), rec{"FD_PAIR", "fd0=3 fd1=4"})
	c.event(4, 4, sys(nrFchown, 0, 3, 0, 0).rec(), namelessRec(9000, "010600"))
	c.event(5, 5, sys(nrMemfd, 4, 0x1000, 0).rec())
	c.event(6, 6, sys(nrFtruncate, 0, 4, 4096).rec())
	p := one(t, c.model(), 2000)
	want := []string{"create /w/a", "create /w/b"}
	if got := ops(p); !slices.Equal(got, want) {
		t.Fatalf("ops\n got %q\nwant %q", got, want)
	}
}

// Rule: an open of /proc/self/fd/N is an open of the file behind N, when
// the item's inode is that file's.
func TestProcSelfFD(t *testing.T) {
	c := fileCap(t)
	c.event(1, 1, sys(nrOpenat, 5, atCWD, 0, 0o101).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "data", 90, "0100644", "CREATE"))
	c.event(2, 2, sys(nrOpenat, 6, atCWD, 0, 0o2001).rec(), cwdRec("/w"), pathRec(0, "/proc/self/fd/5", 90, "0100644", "NORMAL"))
	p := one(t, c.model(), 2000)
	want := []string{"create /w/data", "open_write /w/data"}
	if got := ops(p); !slices.Equal(got, want) {
		t.Fatalf("ops\n got %q\nwant %q", got, want)
	}
}

// Rule: after chroot, paths are as the process sees them, with their host
// path under the root; its children inherit the root. Renaming a directory
// moves what the index knows under it.
func TestChrootHostPathsAndDirectoryRename(t *testing.T) {
	c := fileCap(t)
	c.event(1, 1, sys(nrMkdir, 0, 0, 0o755).rec(), cwdRec("/w"),
		pathRec(0, "/srv/", 5, "040755", "PARENT"), pathRec(1, "/srv/jail", 100, "040755", "CREATE"))
	c.event(2, 2, call{nr: nrChroot, pid: 2000, ppid: 1, a: [4]uint64{0}}.rec(), cwdRec("/w"), pathRec(0, "/srv/jail", 100, "040755", "NORMAL"))
	c.event(3, 3, sys(nrOpenat, 3, atCWD, 0, 0o101).rec(), cwdRec("/"),
		pathRec(0, "/", 100, "040755", "PARENT"), pathRec(1, "/out.txt", 101, "0100644", "CREATE"))
	c.event(4, 4, sys(nrMkdir, 0, 0, 0o755).rec(), cwdRec("/"),
		pathRec(0, "/", 100, "040755", "PARENT"), pathRec(1, "/d", 102, "040755", "CREATE"))
	c.event(5, 5, sys(nrRename, 0).rec(), cwdRec("/"),
		pathRec(0, "/", 100, "040755", "PARENT"), pathRec(1, "/", 100, "040755", "PARENT"),
		pathRec(2, "/d", 102, "040755", "DELETE"), pathRec(3, "/e", 102, "040755", "CREATE"))
	c.event(6, 6, sys(nrOpenat, 4, atCWD, 0, 0o101).rec(), cwdRec("/"), pathRec(0, "/e", 102, "040755", "NORMAL"))
	c.event(7, 7, sys(nrUnlinkat, 0, 4, 0, 0).rec(), cwdRec("/"),
		pathRec(0, "/", 102, "040755", "PARENT"), pathRec(1, "f", 103, "0100644", "DELETE"))
	m := c.model()
	p := one(t, m, 2000)
	want := []string{"mkdir /srv/jail", "create /out.txt", "mkdir /d", "rename_from /d", "rename_to /e", "unlink /e/f"}
	if got := ops(p); !slices.Equal(got, want) {
		t.Fatalf("ops\n got %q\nwant %q", got, want)
	}
	if p.Root != "/srv/jail" {
		t.Errorf("root %q", p.Root)
	}
	for _, f := range p.Files[1:] {
		if f.HostPath != "/srv/jail"+f.Path {
			t.Errorf("%s %s: host path %q", f.Op, f.Path, f.HostPath)
		}
	}
	if p.Files[0].HostPath != "" {
		t.Errorf("before the chroot: host path %q", p.Files[0].HostPath)
	}
}

// Rule: records of an audit event that arrive after the event was released
// (more than the reorder window behind) are counted, and the reports and
// info say so: never silently taken for events of their own.
func TestLateRecordsAreCounted(t *testing.T) {
	c := fileCap(t)
	c.record(1, 1, sys(nrOpenat, 3, atCWD, 0, 0o101).rec())
	c.record(1, 1, cwdRec("/w"))
	c.record(1, 1, pathRec(0, "/w", 1, "040755", "PARENT"))
	c.event(5000, 2, sys(nrOpenat, 4, atCWD, 0, 0o101).rec(), cwdRec("/w"),
		pathRec(0, "/w", 1, "040755", "PARENT"), pathRec(1, "b", 3, "0100644", "CREATE"))
	// Records are read in batches of 512: more events in between, so that
	// the late record is read after event 1 was released.
	for i := 0; i < 400; i++ {
		c.event(5001+int64(i), 10+i, call{nr: 39, pid: 2000, ppid: 1}.rec())
	}
	c.record(1, 1, pathRec(1, "a", 2, "0100644", "CREATE")) // 5 s late
	c.record(1, 1, rec{"EOE", ""})
	if m := c.model(); m.LateRecords != 2 {
		t.Errorf("late records %d, want 2", m.LateRecords)
	}
	file := c.file()
	a, err := AnalyzeFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if a.Capture.LateRecords != 2 || !slices.ContainsFunc(a.Warnings(), func(w string) bool { return strings.Contains(w, "2 audit records arrived") }) {
		t.Errorf("late records %d, warnings %q", a.Capture.LateRecords, a.Warnings())
	}
	var txt strings.Builder
	if err := a.WriteText(&txt, 0); err != nil || !strings.Contains(txt.String(), "late:       2 AUDIT RECORDS") {
		t.Errorf("text header:\n%s", txt.String())
	}
	s, err := Summarize(file, nil)
	if err != nil || s.LateRecords != 2 {
		t.Errorf("Summarize: %v, late records %d", err, s.LateRecords)
	}
	// In time, nothing is late.
	c2 := fileCap(t)
	c2.event(1, 1, sys(nrOpenat, 3, atCWD, 0, 0o101).rec(), cwdRec("/w"), pathRec(0, "/w", 1, "040755", "PARENT"))
	if m := c2.model(); m.LateRecords != 0 {
		t.Errorf("late records %d in a capture in order", m.LateRecords)
	}
}

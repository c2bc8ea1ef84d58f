package pathtruth

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// A log with what strace writes: padded short calls, calls cut by another
// process's line, descriptors of devices and deleted files, AT_FDCWD with
// its directory, threads, and a chroot.
const sampleLog = `100 openat(AT_FDCWD</w>, "out.txt", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3</w/out.txt>
100 openat(AT_FDCWD</w>, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 4</etc/passwd>
100 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD) = 101
101 mkdir("d", 0777)                   = 0
100 clone3({flags=CLONE_VM|CLONE_FS|CLONE_THREAD|CLONE_SIGHAND, exit_signal=0}, 88) = 102
102 unlinkat(5</w/d>, "x", 0 <unfinished ...>
101 rmdir("d")                         = 0
102 <... unlinkat resumed>)            = 0
102 openat(AT_FDCWD</w>, "/dev/null", O_WRONLY) = 6</dev/null<char 1:3>>
100 fchmod(3</w/out.txt (deleted)>, 0755) = 0
100 unlink("missing")                  = -1 ENOENT (No such file or directory)
101 chroot("/srv/jail")                = 0
101 openat(AT_FDCWD</>, "/in-jail", O_WRONLY|O_CREAT, 0644) = 3</srv/jail/in-jail>
101 renameat2(AT_FDCWD</>, "/a", AT_FDCWD</>, "/b", RENAME_NOREPLACE) = 0
103 openat(AT_FDCWD</w>, "t.txt", O_WRONLY|O_CREAT, 0644) = 7</w/t.txt>
102 clone3({flags=CLONE_VM|CLONE_FS|CLONE_THREAD|CLONE_SIGHAND, exit_signal=0}, 88) = 103
`

func TestParseStrace(t *testing.T) {
	tr, err := ParseStrace(strings.NewReader(sampleLog), "/w")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range tr.Ops {
		got = append(got, fmt.Sprintf("%d %s %s", o.PID, o.Class, o.Path))
	}
	want := []string{
		"100 open /w/out.txt", "101 mkdir /w/d", "101 rmdir /w/d", "100 unlink /w/d/x", "100 open /dev/null",
		"100 chmod /w/out.txt", "101 open /srv/jail/in-jail", "101 rename_from /srv/jail/a", "101 rename_to /srv/jail/b",
		"100 open /w/t.txt", // a thread of a thread, logged before its creation
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ops\n got %q\nwant %q", got, want)
	}
	if len(tr.Optional) != 1 || tr.Optional[0].Class != ClassTruncate {
		t.Errorf("optional %v, want the O_TRUNC truncate", tr.Optional)
	}
}

// The checks find what they are for: a path strace did not see, an
// operation not reported, a path under a file.
func TestCompareFindsWrongAndMissing(t *testing.T) {
	tr := &Trace{Ops: []Op{{1, ClassOpen, "/w/a"}, {1, ClassUnlink, "/w/b"}}}
	p := func(s string) *string { return &s }
	rep := &Report{Processes: []Process{{PID: 1, Files: []File{
		{Path: p("/w/a"), Operation: "create", Time: "1"},
		{Path: p("/w/a/c"), Operation: "rmdir", Time: "2"},
		{Path: p("b"), Operation: "unlink", Time: "3", Unresolved: true},
	}}}}
	res := Compare(rep, tr, nil)
	if res.Matched != 1 || res.Unresolved != 1 || !slices.Equal(res.Wrong, []string{"pid 1 rmdir /w/a/c"}) ||
		!slices.Equal(res.Missing, []string{"pid 1 unlink /w/b"}) {
		t.Errorf("compare: %+v", res)
	}
	if bad := UnderRegularFile(rep); len(bad) != 1 || !strings.Contains(bad[0], "/w/a/c") {
		t.Errorf("under a regular file: %q", bad)
	}
}

func TestKeepTraceDropsReadOnlyOpens(t *testing.T) {
	kept := string(KeepTrace([]byte(sampleLog)))
	if strings.Contains(kept, "/etc/passwd") || !strings.Contains(kept, "out.txt") || !strings.Contains(kept, "mkdir") {
		t.Errorf("kept:\n%s", kept)
	}
}

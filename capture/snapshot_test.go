package capture

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/format"
)

// collectSnapshot runs Snapshot and returns its records.
func collectSnapshot(t *testing.T, procRoot string, hz int) ([]format.SnapshotProcess, SnapshotStats) {
	t.Helper()
	var recs []format.SnapshotProcess
	st, err := Snapshot(procRoot, hz, func(p format.SnapshotProcess) error {
		recs = append(recs, p)
		return nil
	})
	if err != nil {
		t.Fatalf("Snapshot(%s): %v", procRoot, err)
	}
	return recs, st
}

// checkSnapshotSorted: processes by pid, each its leader first, then its
// other threads by tid.
func checkSnapshotSorted(t *testing.T, recs []format.SnapshotProcess) {
	t.Helper()
	for i := 1; i < len(recs); i++ {
		a, b := recs[i-1], recs[i]
		if a.PID > b.PID || a.PID == b.PID && (b.TID == b.PID || a.TID != a.PID && a.TID >= b.TID) ||
			a.PID != b.PID && b.TID != b.PID {
			t.Fatalf("records out of order at %d: (%d,%d) then (%d,%d)", i, a.PID, a.TID, b.PID, b.TID)
		}
	}
}

func findSnapshot(recs []format.SnapshotProcess, pid, tid int) (format.SnapshotProcess, bool) {
	for _, r := range recs {
		if r.PID == pid && r.TID == tid {
			return r, true
		}
	}
	return format.SnapshotProcess{}, false
}

func selfTasks(t *testing.T) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var tids []int
	for _, e := range ents {
		if id, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, id)
		}
	}
	return tids
}

func jsonOf(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func requireLiveProc(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux /proc")
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skipf("no /proc: %v", err)
	}
}

func TestSnapshotLive(t *testing.T) {
	requireLiveProc(t)

	// Pin a few goroutines to threads so that the process surely has
	// several, and that they stay while the snapshot is taken.
	release := make(chan struct{})
	ready := make(chan struct{})
	for range 3 {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			ready <- struct{}{}
			<-release
		}()
	}
	for range 3 {
		<-ready
	}
	defer close(release)

	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skipf("no sleep: %v", err)
	}
	sleep, err = filepath.Abs(sleep)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	argv := []string{"ctrace snapshot (test) argv0", "30", "0"}
	cmd := exec.Command(sleep, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()

	before := selfTasks(t)
	recs, st := collectSnapshot(t, "/proc", ClockTicks())
	after := selfTasks(t)
	checkSnapshotSorted(t, recs)
	if st.Threads != len(recs) || st.Processes == 0 || st.Processes > st.Threads {
		t.Errorf("stats %+v for %d records", st, len(recs))
	}

	// The child.
	child, ok := findSnapshot(recs, cmd.Process.Pid, cmd.Process.Pid)
	if !ok {
		t.Fatalf("child %d not in snapshot", cmd.Process.Pid)
	}
	wantExe, err := filepath.EvalSymlinks(sleep)
	if err != nil {
		t.Fatal(err)
	}
	wantCwd, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantComm := filepath.Base(sleep)
	if len(wantComm) > 15 {
		wantComm = wantComm[:15]
	}
	if child.PPID != os.Getpid() || !slices.Equal(child.Argv, argv) || child.Cwd != wantCwd ||
		child.Exe != wantExe || child.Comm != wantComm || child.Kernel || child.UID != os.Getuid() ||
		child.StartTicks == 0 || child.StartBoot != int64(child.StartTicks)*1e9/int64(ClockTicks()) ||
		len(child.Errors) != 0 {
		t.Errorf("child record:\n%s\nwant ppid %d argv %q cwd %q exe %q comm %q uid %d",
			jsonOf(child), os.Getpid(), argv, wantCwd, wantExe, wantComm, os.Getuid())
	}

	// This process and all its threads.
	pid := os.Getpid()
	var mine []format.SnapshotProcess
	for _, r := range recs {
		if r.PID == pid {
			mine = append(mine, r)
		}
	}
	if len(mine) < 4 {
		t.Fatalf("own process has %d records, want at least 4 (3 locked threads and main)", len(mine))
	}
	if mine[0].TID != pid {
		t.Errorf("own first record has TID %d, want the leader %d", mine[0].TID, pid)
	}
	var tids []int
	for _, r := range mine {
		tids = append(tids, r.TID)
	}
	for _, tid := range before {
		if slices.Contains(after, tid) && !slices.Contains(tids, tid) {
			t.Errorf("own thread %d missing from snapshot (have %v)", tid, tids)
		}
	}
	selfExe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err == nil {
		wd, err = filepath.EvalSymlinks(wd)
	}
	if err != nil {
		t.Fatal(err)
	}
	leader := mine[0]
	if leader.PPID != os.Getppid() || leader.Exe != selfExe || leader.Cwd != wd ||
		!slices.Equal(leader.Argv, os.Args) || len(leader.Cgroup) == 0 || leader.Root == "" {
		t.Errorf("own leader record:\n%s\nwant ppid %d exe %q cwd %q argv %q", jsonOf(leader), os.Getppid(), selfExe, wd, os.Args)
	}
	for _, r := range mine {
		if r.PPID != leader.PPID || r.Exe != leader.Exe || r.UID != os.Getuid() || r.StartTicks < leader.StartTicks {
			t.Errorf("own thread record disagrees with leader:\n%s", jsonOf(r))
		}
	}
	if child.Root != leader.Root {
		t.Errorf("child root %q, own root %q", child.Root, leader.Root)
	}
	if child.StartTicks < leader.StartTicks {
		t.Errorf("child started at %d ticks, before us at %d", child.StartTicks, leader.StartTicks)
	}

	// kthreadd, when this is the initial PID namespace.
	if b, err := os.ReadFile("/proc/2/comm"); err == nil && strings.TrimSpace(string(b)) == "kthreadd" {
		k, ok := findSnapshot(recs, 2, 2)
		if !ok {
			t.Fatal("kthreadd not in snapshot")
		}
		if !k.Kernel || k.Comm != "kthreadd" || k.Exe != "" || k.Argv != nil {
			t.Errorf("kthreadd record:\n%s", jsonOf(k))
		}
		for _, e := range k.Errors {
			if strings.HasPrefix(e, "exe:") {
				t.Errorf("kthreadd: kernel thread without exe noted as error: %q", e)
			}
		}
	} else {
		t.Log("no kthreadd at pid 2 (PID namespace?): kernel-thread check skipped")
	}
}

// A process that exits while its directory is open: its files cannot be read
// any more, even if the PID were reused, and the snapshot does not abort.
func TestSnapshotLiveVanished(t *testing.T) {
	requireLiveProc(t)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skipf("no sleep: %v", err)
	}
	start := func() (*exec.Cmd, *os.Root) {
		cmd := exec.Command(sleep, "30")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		dir, err := os.OpenRoot("/proc/" + strconv.Itoa(cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		return cmd, dir
	}
	kill := func(cmd *exec.Cmd) {
		cmd.Process.Kill()
		cmd.Wait()
	}

	// Gone before its stat is read: skipped.
	cmd, dir := start()
	kill(cmd)
	var st SnapshotStats
	n := 0
	err = snapshotDir(dir, cmd.Process.Pid, ClockTicks(), &st, func(format.SnapshotProcess) error { n++; return nil })
	dir.Close()
	if err != nil || n != 0 || st != (SnapshotStats{Vanished: 1}) {
		t.Errorf("vanished before stat: err %v, %d records, stats %+v", err, n, st)
	}

	// Gone after its stat was read: emitted with the failures noted.
	cmd, dir = start()
	defer dir.Close()
	lead, err := readStat(dir, "stat")
	if err != nil {
		kill(cmd)
		t.Fatal(err)
	}
	kill(cmd)
	p := readProcess(dir, lead)
	if p.PID != cmd.Process.Pid || p.PPID != os.Getpid() || p.Exe != "" || p.Cwd != "" || p.UID != -1 {
		t.Errorf("vanished after stat:\n%s", jsonOf(p))
	}
	for _, want := range []string{"exe: ", "cwd: ", "root: ", "uid: "} {
		if !slices.ContainsFunc(p.Errors, func(e string) bool { return strings.HasPrefix(e, want) }) {
			t.Errorf("vanished after stat: no %q error in %q", want, p.Errors)
		}
	}
}

// statLine builds a 52-field /proc/PID/stat line.
func statLine(pid int, comm string, ppid int, flags, start uint64) string {
	f := make([]string, 52)
	for i := range f {
		f[i] = "0"
	}
	f[0] = strconv.Itoa(pid)
	f[1] = "(" + comm + ")"
	f[2] = "S"
	f[3] = strconv.Itoa(ppid)
	f[8] = strconv.FormatUint(flags, 10)
	f[21] = strconv.FormatUint(start, 10)
	return strings.Join(f, " ") + "\n"
}

type fakeProc struct {
	t    *testing.T
	root string
}

func (f fakeProc) file(name, data string) {
	f.t.Helper()
	p := filepath.Join(f.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f fakeProc) link(name, target string) {
	f.t.Helper()
	p := filepath.Join(f.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		f.t.Fatal(err)
	}
}

func (f fakeProc) dir(name string) {
	f.t.Helper()
	if err := os.MkdirAll(filepath.Join(f.root, name), 0o755); err != nil {
		f.t.Fatal(err)
	}
}

const fakeStatus = "Name:\tx\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t10\nPid:\t10\nPPid:\t1\nUid:\t1000\t1001\t1002\t1003\nGid:\t5\t5\t5\t5\n"

func TestSnapshotFakeProc(t *testing.T) {
	f := fakeProc{t: t, root: t.TempDir()}

	// Things in /proc that are not processes.
	f.link("self", "10")
	f.dir("net")
	f.dir("sys/kernel")
	f.file("uptime", "1.0 2.0\n")
	f.dir("0")
	f.dir("12abc")

	// kthreadd: PF_KTHREAD, no exe, empty cmdline.
	f.file("2/stat", statLine(2, "kthreadd", 0, 0x208040, 30))
	f.file("2/task/2/stat", statLine(2, "kthreadd", 0, 0x208040, 30))
	f.file("2/cmdline", "")
	f.link("2/cwd", "/")
	f.link("2/root", "/")
	f.file("2/cgroup", "0::/\n")
	f.file("2/status", "Name:\tkthreadd\nUid:\t0\t0\t0\t0\n")

	// 9 vanished before anything could be read.
	f.dir("9")
	f.dir("9/task/9")

	// 10: odd comm, deleted exe, cmdline with an empty argument and no
	// trailing NUL, threads of which two vanished midway.
	odd := "(a) b)"
	f.file("10/stat", statLine(10, odd, 1, 0x400100, 12345))
	f.file("10/cmdline", "a\x00\x00b c")
	f.link("10/exe", "/usr/bin/foo (deleted)")
	f.link("10/cwd", "/home/x y")
	f.link("10/root", "/var/lib/docker/overlay2/abc/merged")
	f.file("10/cgroup", "1:name=systemd:/docker/abc\n0::/system.slice/docker-abc.scope\n")
	f.file("10/status", fakeStatus)
	f.file("10/task/10/stat", statLine(10, "leader's own", 1, 0x400100, 12345))
	f.file("10/task/11/stat", statLine(11, "worker 1", 1, 0x400040, 12350))
	f.file("10/task/100/stat", statLine(100, "w)x (y", 1, 0x400040, 20000))
	f.dir("10/task/12")                     // vanished: no stat
	f.file("10/task/13/stat", "13 (trunc")  // vanished: stat garbled
	f.file("10/task/13/comm", "trunc\n")    // other files do not matter
	f.file("10/task/notatid/stat", "bogus") // ignored

	// 100: huge cmdline, exe not a link, no cwd/root/cgroup/status/task.
	var big strings.Builder
	for big.Len() < 100<<10 {
		big.WriteString(strings.Repeat("x", 999) + "\x00")
	}
	f.file("100/stat", statLine(100, "big", 10, 0x400000, 99))
	f.file("100/cmdline", big.String())
	f.file("100/exe", "not a link")

	// 1000: status without a Uid line; cmdline exactly at the cap.
	exact := strings.Repeat("y", MaxSnapshotArgvBytes-1) + "\x00"
	f.file("1000/stat", statLine(1000, "exact", 1, 0, 7))
	f.file("1000/cmdline", exact)
	f.link("1000/exe", "/bin/exact")
	f.link("1000/cwd", "/")
	f.link("1000/root", "/")
	f.file("1000/cgroup", "")
	f.file("1000/status", "Name:\texact\n")
	f.file("1000/task/1000/stat", statLine(1000, "exact", 1, 0, 7))
	// A thread made after the pid numbers wrapped: its tid is lower than
	// its leader's, and its record comes after the leader's all the same.
	f.file("1000/task/7/stat", statLine(7, "wrapped", 1, 0, 8))

	recs, st := collectSnapshot(t, f.root, 100)
	checkSnapshotSorted(t, recs)

	var bigArgv []string
	n := 0
	for _, a := range strings.Split(big.String(), "\x00") {
		if n+len(a) > MaxSnapshotArgvBytes {
			bigArgv = append(bigArgv, a[:MaxSnapshotArgvBytes-n])
			break
		}
		bigArgv = append(bigArgv, a)
		n += len(a) + 1
	}

	p10 := format.SnapshotProcess{
		PID: 10, PPID: 1, Exe: "/usr/bin/foo (deleted)",
		Argv: []string{"a", "", "b c"}, Cwd: "/home/x y", Root: "/var/lib/docker/overlay2/abc/merged",
		Cgroup: []string{"1:name=systemd:/docker/abc", "0::/system.slice/docker-abc.scope"},
		UID:    1000,
	}
	thread := func(p format.SnapshotProcess, tid int, comm string, start uint64) format.SnapshotProcess {
		p.TID, p.Comm, p.StartTicks, p.StartBoot = tid, comm, start, int64(start)*10_000_000
		return p
	}
	want := []format.SnapshotProcess{
		{PID: 2, TID: 2, Comm: "kthreadd", Cwd: "/", Root: "/", Cgroup: []string{"0::/"},
			StartTicks: 30, StartBoot: 300_000_000, Kernel: true},
		thread(p10, 10, odd, 12345), // the leader's record comes from /proc/10/stat
		thread(p10, 11, "worker 1", 12350),
		thread(p10, 100, "w)x (y", 20000),
		{PID: 100, TID: 100, PPID: 10, Comm: "big", Argv: bigArgv, UID: -1, StartTicks: 99, StartBoot: 990_000_000,
			Errors: []string{
				"exe: invalid argument",
				"argv: truncated at 65536 bytes",
				"cwd: no such file or directory",
				"root: no such file or directory",
				"cgroup: no such file or directory",
				"uid: no such file or directory",
				"task: no such file or directory",
			}},
		{PID: 1000, TID: 1000, PPID: 1, Comm: "exact", Exe: "/bin/exact", Argv: []string{exact[:len(exact)-1]},
			Cwd: "/", Root: "/", UID: -1, StartTicks: 7, StartBoot: 70_000_000,
			Errors: []string{"uid: no Uid line in status"}},
		{PID: 1000, TID: 7, PPID: 1, Comm: "wrapped", Exe: "/bin/exact", Argv: []string{exact[:len(exact)-1]},
			Cwd: "/", Root: "/", UID: -1, StartTicks: 8, StartBoot: 80_000_000,
			Errors: []string{"uid: no Uid line in status"}},
	}
	if len(recs) != len(want) {
		t.Errorf("got %d records, want %d", len(recs), len(want))
	}
	for i := range min(len(recs), len(want)) {
		if !reflect.DeepEqual(recs[i], want[i]) {
			g, w := recs[i], want[i]
			g.Argv, w.Argv = nil, nil // too big to print
			t.Errorf("record %d (argv equal: %v):\n got %s\nwant %s", i, slices.Equal(recs[i].Argv, want[i].Argv), jsonOf(g), jsonOf(w))
		}
	}
	wantSt := SnapshotStats{Processes: 4, Threads: 7, Vanished: 3, Partial: 3}
	if st != wantSt {
		t.Errorf("stats %+v, want %+v", st, wantSt)
	}

	// The argv of a record stays well inside a record.
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > format.MaxRecordSize {
			t.Errorf("record %d/%d is %d bytes of JSON", r.PID, r.TID, len(b))
		}
	}

	// The clock rate: zero means USER_HZ; another rate is honoured.
	recs, _ = collectSnapshot(t, f.root, 0)
	if recs[0].StartBoot != 300_000_000 {
		t.Errorf("hz 0: StartBoot %d", recs[0].StartBoot)
	}
	recs, _ = collectSnapshot(t, f.root, 1000)
	if recs[0].StartBoot != 30_000_000 {
		t.Errorf("hz 1000: StartBoot %d", recs[0].StartBoot)
	}
}

func TestSnapshotEmitError(t *testing.T) {
	f := fakeProc{t: t, root: t.TempDir()}
	for _, pid := range []int{3, 4} {
		f.file(fmt.Sprintf("%d/stat", pid), statLine(pid, "p", 1, 0, 1))
	}
	stop := errors.New("writer full")
	calls := 0
	st, err := Snapshot(f.root, 100, func(format.SnapshotProcess) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 || st.Threads != 0 {
		t.Errorf("err %v after %d calls, stats %+v", err, calls, st)
	}
}

func TestSnapshotMissingRoot(t *testing.T) {
	_, err := Snapshot(filepath.Join(t.TempDir(), "nope"), 100, func(format.SnapshotProcess) error { return nil })
	if err == nil {
		t.Error("no error for a missing proc root")
	}
}

func TestSnapshotParseStat(t *testing.T) {
	tail := " S 77 1 1 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 4242 0 0\n"
	for _, tc := range []struct {
		line string
		want procStat
		ok   bool
	}{
		{"5 (bash)" + tail, procStat{5, "bash", 77, 2129984, 4242}, true},
		{"5 ((a) b))" + tail, procStat{5, "(a) b)", 77, 2129984, 4242}, true},
		{"5 ()" + tail, procStat{5, "", 77, 2129984, 4242}, true},
		{"5 (a\nb) c)" + tail, procStat{5, "a\nb) c", 77, 2129984, 4242}, true},
		{"5 ( 1 2 3 )" + tail, procStat{5, " 1 2 3 ", 77, 2129984, 4242}, true},
		{"5 (x) S 77 1 1 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 18446744073709551615", procStat{5, "x", 77, 2129984, 1<<64 - 1}, true},
		{"", procStat{}, false},
		{"5 bash" + tail, procStat{}, false},
		{"5 (bash" + tail, procStat{}, false},
		{"x (bash)" + tail, procStat{}, false},
		{"5 (bash) S 77 1 1", procStat{}, false},
		{"5 (bash) S x 1 1 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 4242", procStat{}, false},
		{"5 (bash) S 7 1 1 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 -1", procStat{}, false},
		{"5 (bash)) S 7 1 1 0 -1 -5 0 0 0 0 0 0 0 0 20 0 1 0 1", procStat{}, false},
	} {
		got, err := parseStat([]byte(tc.line))
		if (err == nil) != tc.ok || tc.ok && got != tc.want {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v ok=%v", tc.line, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzSnapshotParseStat(f *testing.F) {
	f.Add([]byte("5 ((a) b)) S 77 1 1 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 4242 0 0\n"))
	f.Add([]byte(")("))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := parseStat(b)
		if err == nil && !strings.Contains(string(b), "("+ps.comm+")") {
			t.Errorf("comm %q not found in %q", ps.comm, b)
		}
	})
}

func TestSnapshotSplitArgv(t *testing.T) {
	for _, tc := range []struct {
		in   string
		cut  bool
		want []string
	}{
		{"", false, nil},
		{"\x00", false, []string{""}},
		{"a\x00", false, []string{"a"}},
		{"a\x00b\x00", false, []string{"a", "b"}},
		{"a\x00\x00b", false, []string{"a", "", "b"}},
		{"a\x00\x00", false, []string{"a", ""}},
		{"nginx: worker process", false, []string{"nginx: worker process"}},
		{"a\x00", true, []string{"a", ""}}, // cut right after a NUL: an argument began
	} {
		if got := splitArgv([]byte(tc.in), tc.cut); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitArgv(%q, %v) = %q, want %q", tc.in, tc.cut, got, tc.want)
		}
	}
}

func TestSnapshotStatusUID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{fakeStatus, 1000, true},
		{"Uid:\t0\t0\t0\t0", 0, true},
		{"Name:\tx\n", 0, false},
		{"Uid:\n", 0, false},
		{"Uid:\tx\t0\n", 0, false},
	} {
		got, ok := statusUID([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("statusUID(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSnapshotReadLimited(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	const limit = 5000
	for _, n := range []int{0, 1, 4095, 4096, 4097, limit - 1, limit, limit + 1, 3 * limit} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte('a' + i%26)
		}
		name := strconv.Itoa(n)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, cut, err := readLimited(root, name, limit)
		if err != nil {
			t.Fatal(err)
		}
		wantCut := n > limit
		if cut != wantCut || string(got) != string(data[:min(n, limit)]) {
			t.Errorf("size %d: got %d bytes cut=%v, want %d cut=%v", n, len(got), cut, min(n, limit), wantCut)
		}
	}
	if _, _, err := readLimited(root, "missing", limit); err == nil {
		t.Error("no error for a missing file")
	}
}

func TestSnapshotTicksToNS(t *testing.T) {
	for _, tc := range []struct {
		ticks uint64
		hz    int
		want  int64
	}{
		{0, 100, 0},
		{1, 100, 10_000_000},
		{12345, 100, 123_450_000_000},
		{3, 1024, 2_929_687},
		// 30 years of uptime at 100 Hz: ticks*1e9 overflows 64 bits.
		{30 * 365 * 86400 * 100, 100, 30 * 365 * 86400 * 1e9},
	} {
		if got := ticksToNS(tc.ticks, tc.hz); got != tc.want {
			t.Errorf("ticksToNS(%d, %d) = %d, want %d", tc.ticks, tc.hz, got, tc.want)
		}
	}
	if ClockTicks() != 100 {
		t.Errorf("ClockTicks() = %d", ClockTicks())
	}
}

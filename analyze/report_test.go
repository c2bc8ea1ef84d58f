package analyze

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// scenario is a capture with a bit of everything: a snapshot (init, a
// shell with a thread, an idle daemon, a kernel thread), the recorded
// command forking and vforking children, threads, an exec from a thread,
// a death by signal, a reused pid, files.
func scenario(t testing.TB) *tcap {
	c := newCap(t)
	c.hdr.Command = []string{"sh", "-c", "work"}
	c.snap(-9000, format.SnapshotProcess{PID: 1, Comm: "init", Exe: "/sbin/init", Argv: []string{"/sbin/init"}, Cwd: "/"})
	c.snap(-8000, format.SnapshotProcess{PID: 2, Comm: "kthreadd", Kernel: true})
	c.snap(-7000, format.SnapshotProcess{PID: 50, PPID: 1, Comm: "daemon", Exe: "/usr/sbin/daemon", Argv: []string{"daemon", "-f"}, Cwd: "/"})
	c.snap(-6000, format.SnapshotProcess{PID: 100, PPID: 1, Comm: "bash", Exe: "/bin/bash", Argv: []string{"-bash"}, Cwd: "/root"})
	c.snap(-5999, format.SnapshotProcess{PID: 100, TID: 101, PPID: 1, Comm: "bash"})
	c.note(format.Note{Kind: "command_start", PID: 200})

	// The command: sh -c work, forked by the shell.
	c.fork(1, 100, 100, 200, 200)
	c.auditExec(1, 10, 200, 100, "/bin/sh", "/root", "sh", "-c", "work")
	c.exec(1.3, 200)
	// sh writes out.txt (creat) and forks a child that renames it.
	c.event(2, 11, call{nr: nrOpenat, pid: 200, ppid: 100, exit: 3, a: [4]uint64{atCWD, 0, 0o1101}, items: 2, comm: "sh", exe: "/bin/sh"}.rec(),
		cwdRec("/root"), pathRec(0, "/root", 2, "040700", "PARENT"), pathRec(1, "out.txt", 300, "0100644", "CREATE"))
	c.auditClone(3, 12, 200, 100, 201, cloneFork)
	c.fork(3.2, 200, 200, 201, 201)
	c.auditExec(4, 13, 201, 200, "/bin/mv", "/root", "mv", "out.txt", "final.txt")
	c.exec(4.4, 201)
	c.event(5, 14, call{nr: nrRenameat2, pid: 201, ppid: 200, a: [4]uint64{atCWD, 0, atCWD, 0}, items: 4, comm: "mv", exe: "/bin/mv"}.rec(),
		cwdRec("/root"), pathRec(0, "/root", 2, "040700", "PARENT"), pathRec(1, "/root", 2, "040700", "PARENT"),
		pathRec(2, "out.txt", 300, "0100644", "DELETE"), pathRec(3, "final.txt", 300, "0100644", "CREATE"))
	c.auditExitGroup(5, 15, 201, 200, 0)
	c.exit(5.3, 201, 201, 0)

	// A user-space message: an event of its own.
	c.event(7, 16, rec{"USER_CMD", "pid=100 uid=0 auid=0 ses=1 msg='cwd=\"/root\" cmd=6C73 exe=\"/usr/bin/sudo\" terminal=pts/0 res=success'"})

	// A vfork child: its records carry lower serials than the vfork record.
	c.auditExec(8, 17, 202, 200, "/usr/bin/worker", "/root", "worker", "--threads", "2", "a b")
	c.event(8, 18, call{nr: nrVfork, pid: 200, ppid: 100, exit: 202, comm: "sh", exe: "/bin/sh"}.rec())
	c.fork(8.1, 200, 200, 202, 202)
	c.exec(8.2, 202)
	c.fork(8.5, 202, 202, 203, 202)
	c.procCPU(8.6, 1, replay.ProcWhatFork, 202, 202, 204, 202)
	c.event(9, 19, call{nr: nrOpenat, pid: 202, ppid: 200, exit: 5, a: [4]uint64{atCWD, 0, 0o2102}, items: 2, comm: "worker", exe: "/usr/bin/worker"}.rec(),
		cwdRec("/root"), pathRec(0, "/tmp", 3, "041777", "PARENT"), pathRec(1, "/tmp/log", 301, "0100644", "CREATE"))
	// Thread 204 execs: the other tasks exit, then the exec.
	c.auditExec(10, 20, 202, 200, "/usr/bin/helper", "/root", "helper")
	c.procCPU(10.5, 1, replay.ProcWhatExit, 202, 202, 0, 17, 200, 200)
	c.procCPU(10.6, 1, replay.ProcWhatExit, 203, 202, 0, ^uint32(0), 0, 0)
	c.procCPU(10.7, 1, replay.ProcWhatExec, 202, 202)
	c.procCPU(12, 1, replay.ProcWhatExit, 202, 202, 9, 17, 200, 200) // killed

	// A short-lived child whose pid is reused by the next one.
	c.auditClone(13, 21, 200, 100, 205, cloneFork)
	c.fork(13.1, 200, 200, 205, 205)
	c.auditExitGroup(13, 22, 205, 200, 1)
	c.exit(13.2, 205, 205, 1<<8)
	c.auditClone(14, 23, 200, 100, 205, cloneFork)
	c.fork(14.1, 200, 200, 205, 205)
	c.auditExec(14, 24, 205, 200, "/bin/sleep", "/root", "sleep", "100") // alive at the end

	// A kernel worker.
	c.fork(15, 2, 2, 206, 206)
	c.exit(15.1, 206, 206, 0)

	c.auditExitGroup(20, 25, 200, 100, 2)
	c.exit(20.5, 200, 200, 2<<8)
	code := 2
	c.note(format.Note{Kind: "command_exit", PID: 200, ExitCode: &code})
	return c
}

func analyzeCap(t testing.TB, c *tcap) *Analysis {
	t.Helper()
	a, err := AnalyzeFile(c.file())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func report(t testing.TB, a *Analysis, o Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := a.Write(&b, o); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", p, got)
	}
}

// The reports of the scenario, compared with golden files.
func TestGoldenReports(t *testing.T) {
	a := analyzeCap(t, scenario(t))
	golden(t, "scenario.txt", report(t, a, Options{Format: "text"}))
	golden(t, "scenario.json", report(t, a, Options{Format: "json"}))
	golden(t, "scenario-pid205.txt", report(t, a, Options{Format: "text", PID: 205}))
}

// The scenario's model, checked rule by rule (the golden files show it
// whole).
func TestScenarioModel(t *testing.T) {
	a := analyzeCap(t, scenario(t))
	m := &Model{Processes: a.Processes}
	sh := one(t, m, 200)
	wantParent(t, sh, 100)
	wantExit(t, sh, 2)
	if !slices.Equal(sh.FilesWritten, []string{"/root/out.txt"}) {
		t.Errorf("sh files %q", sh.FilesWritten)
	}
	w := one(t, m, 202)
	wantParent(t, w, 200)
	if w.Signal == nil || *w.Signal != 9 || len(w.Execs) != 2 || w.Exe != "/usr/bin/helper" || !slices.Equal(w.Threads, []int{203, 204}) {
		t.Errorf("worker: signal %v execs %d exe %q threads %v", deref(w.Signal), len(w.Execs), w.Exe, w.Threads)
	}
	if f := findOp(w, "create", "/tmp/log"); f == nil || f.ClosedBy != "exit" || f.Closed != wall(12) {
		t.Errorf("worker's log: %+v", f)
	}
	ps := procs(m, 205)
	if len(ps) != 2 || ps[0].End == 0 || ps[1].End != 0 || ps[1].Vanished {
		t.Errorf("pid 205:\n%s", dump(m))
	}
	if !one(t, m, 100).PreExisting || !one(t, m, 206).KernelThread {
		t.Errorf("snapshot flags:\n%s", dump(m))
	}
	if a.Capture.CommandPID != 200 || a.Capture.Host != "testhost" {
		t.Errorf("capture %+v", a.Capture)
	}
}

// Rule: same capture, byte-identical output; and the same whatever the
// arrival order the kernel and the recorder could have produced: records of
// one audit event in order, proc events of one CPU in order, everything
// else interleaved at random.
func TestDeterministicUnderReordering(t *testing.T) {
	c := scenario(t)
	want := jsonOf(t, c.model())
	if again := jsonOf(t, c.model()); again != want {
		t.Fatal("two builds of one capture differ")
	}
	streams := splitStreams(t, c)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		shuffled := &tcap{t: t, hdr: c.hdr, recs: mergeRandomly(r, streams)}
		if got := jsonOf(t, shuffled.model()); got != want {
			t.Fatalf("arrival order %d changed the model:\n%s", i, diffLines(want, got))
		}
	}
}

// splitStreams splits a capture's records into the sequences whose order
// the kernel keeps: each audit event's records, each CPU's proc events, the
// snapshot, the notes.
func splitStreams(t testing.TB, c *tcap) [][]format.Record {
	idx := map[string]int{}
	var out [][]format.Record
	for _, r := range c.recs {
		var key string
		switch r.Source {
		case format.SourceAudit:
			f, err := replay.DecodeAudit(r.Data, binary.LittleEndian)
			if err != nil {
				t.Fatal(err)
			}
			key = fmt.Sprintf("a%s:%d", f.TimeText, f.Serial)
		case format.SourceProc:
			ev, err := replay.DecodeProc(r.Data, binary.LittleEndian)
			if err != nil {
				t.Fatal(err)
			}
			key = fmt.Sprintf("p%d", ev.CPU)
		default:
			key = r.Source.String()
		}
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], r)
	}
	return out
}

func mergeRandomly(r *rand.Rand, streams [][]format.Record) []format.Record {
	pos := make([]int, len(streams))
	var out []format.Record
	for {
		var open []int
		for i, s := range streams {
			if pos[i] < len(s) {
				open = append(open, i)
			}
		}
		if len(open) == 0 {
			return out
		}
		i := open[r.IntN(len(open))]
		out = append(out, streams[i][pos[i]])
		pos[i]++
	}
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			lo := max(i-5, 0)
			return "want:\n" + strings.Join(al[lo:min(i+5, len(al))], "\n") + "\ngot:\n" + strings.Join(bl[lo:min(i+5, len(bl))], "\n")
		}
	}
	return "lengths differ"
}

// Rule: --pid shows the subtree of every process with that pid (a reused
// pid gives several).
func TestPIDSelection(t *testing.T) {
	a := analyzeCap(t, scenario(t))
	var r struct {
		Processes []struct {
			PID int `json:"pid"`
		} `json:"processes"`
	}
	if err := json.Unmarshal([]byte(report(t, a, Options{Format: "json", PID: 200})), &r); err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range r.Processes {
		pids = append(pids, p.PID)
	}
	if want := []int{200, 201, 202, 205, 205}; !slices.Equal(pids, want) {
		t.Errorf("pids %v, want %v", pids, want)
	}
	txt := report(t, a, Options{PID: 205})
	if strings.Count(txt, "\n205 ") != 2 {
		t.Errorf("--pid 205 text:\n%s", txt)
	}
}

// The JSON field names are a contract (SCHEMA.md).
func TestJSONContract(t *testing.T) {
	a := analyzeCap(t, scenario(t))
	var r map[string]any
	if err := json.Unmarshal([]byte(report(t, a, Options{Format: "json"})), &r); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"capture", "processes", "containers"} {
		if _, ok := r[k]; !ok {
			t.Errorf("no %q", k)
		}
	}
	capture := r["capture"].(map[string]any)
	for _, k := range []string{"kind", "host", "kernel", "machine", "boot_id", "audit_mode", "proc", "snapshot", "command",
		"command_pid", "start", "end", "duration_ns", "lost", "losses", "truncated", "truncated_at", "damage", "damage_count",
		"undecodable", "processes"} {
		if _, ok := capture[k]; !ok {
			t.Errorf("capture: no %q", k)
		}
	}
	procs := r["processes"].([]any)
	for _, k := range []string{"id", "pid", "ppid", "parent_id", "threads", "comm", "exe", "argv", "cwd", "execs", "start",
		"first_seen", "end", "exit_code", "signal", "core_dumped", "container", "pre_existing", "vanished", "kernel_thread",
		"files_written", "files"} {
		for _, p := range procs {
			if _, ok := p.(map[string]any)[k]; !ok {
				t.Errorf("process: no %q", k)
				break
			}
		}
	}
	var sh map[string]any
	for _, p := range procs {
		if p.(map[string]any)["pid"].(float64) == 200 {
			sh = p.(map[string]any)
		}
	}
	f := sh["files"].([]any)[0].(map[string]any)
	for _, k := range []string{"path", "operation", "time", "fd", "flags", "closed", "closed_by"} {
		if _, ok := f[k]; !ok {
			t.Errorf("file: no %q in %v", k, f)
		}
	}
	if x := sh["execs"].([]any)[0].(map[string]any); x["time"] == nil || x["exe"] == nil || x["argv"] == nil {
		t.Errorf("exec %v", x)
	}
	if s, _ := sh["start"].(string); len(s) != len("2023-11-14T22:13:20.001000000Z") || !strings.HasSuffix(s, "Z") {
		t.Errorf("time format: %q", s)
	}
}

// Losses and truncation are shown, never hidden: in the header, in the
// JSON and as warnings.
func TestLossesAndTruncationShown(t *testing.T) {
	c := scenario(t)
	c.note(format.Note{Kind: "enobufs", Source: "audit", Count: 1})
	path := c.file()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Cut the file inside its records: the trailer and the end are gone.
	if err := os.WriteFile(path, b[:len(b)*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := AnalyzeFile(path)
	if err != nil {
		t.Fatalf("a truncated capture: %v", err)
	}
	warned := strings.Join(a.Warnings(), "\n")
	if out := report(t, a, Options{}); !strings.Contains(warned, "truncated") || !strings.Contains(out, "TRUNCATED") {
		t.Errorf("truncation not reported:\nwarnings %s\nreport %s", warned, out)
	}
	if !a.Capture.Truncated {
		t.Error("Capture.Truncated false")
	}

	c2 := newCap(t)
	c2.fork(1, 1, 1, 10, 10)
	c2.note(format.Note{Kind: "enobufs", Source: "audit", Count: 1})
	c2.trailer.Loss.ENOBUFS = map[string]int64{"audit": 1}
	a2 := analyzeCap(t, c2)
	if a2.Capture.Lost != 1 || a2.Capture.Losses.ENOBUFS != 1 {
		t.Errorf("losses %+v", a2.Capture)
	}
	if txt := report(t, a2, Options{}); !strings.Contains(txt, "1 EVENTS LOST") {
		t.Errorf("text header:\n%s", txt)
	}
	if w := a2.Warnings(); len(w) != 1 || !strings.Contains(w[0], "lost 1") {
		t.Errorf("warnings %q", w)
	}
}

// TestWriteErrors: options Write refuses, as typed errors.
func TestWriteErrors(t *testing.T) {
	a := analyzeCap(t, scenario(t))
	for _, o := range []Options{{Format: "xml"}, {Files: "some"}, {PID: 200, Container: "abc"}} {
		if err := a.Write(&bytes.Buffer{}, o); !errors.Is(err, ErrBadOptions) {
			t.Errorf("%+v: %v, want ErrBadOptions", o, err)
		}
	}
	if err := a.Write(&bytes.Buffer{}, Options{PID: 4242}); err == nil {
		t.Error("unknown pid accepted")
	}
}

// An empty capture gives an empty report, not an error.
func TestEmptyCapture(t *testing.T) {
	a := analyzeCap(t, newCap(t))
	if len(a.Processes) != 0 {
		t.Fatalf("%d processes", len(a.Processes))
	}
	if txt := report(t, a, Options{}); !strings.Contains(txt, "no process activity") {
		t.Errorf("text:\n%s", txt)
	}
	if js := report(t, a, Options{Format: "json"}); !strings.Contains(js, `"processes": []`) || !strings.Contains(js, `"containers": []`) {
		t.Errorf("json:\n%s", js)
	}
}

// An imported auditd log: kind import, no clock pair, audit alone. The
// time span comes from the events.
func TestImportedAuditLog(t *testing.T) {
	c := newCap(t).auditOnly()
	c.hdr.Kind, c.hdr.AuditMode, c.hdr.Clock = "import", "", format.ClockPair{}
	c.auditExec(1, 1, 10, 1, "/bin/sh", "/", "sh")
	c.auditClone(2, 2, 10, 1, 11, cloneFork)
	c.auditExec(3, 3, 11, 10, "/bin/ls", "/", "ls")
	c.auditExitGroup(4, 4, 11, 10, 0)
	for i := range c.recs {
		c.recs[i].Mono = 0 // imported records have no receive time
	}
	a := analyzeCap(t, c)
	m := &Model{Processes: a.Processes}
	wantParent(t, one(t, m, 11), 10)
	if a.Capture.Start != wall(1) || a.Capture.End != wall(4) {
		t.Errorf("span %d..%d", a.Capture.Start, a.Capture.End)
	}
	if txt := report(t, a, Options{}); !strings.Contains(txt, "import of audit (imported log)") {
		t.Errorf("text:\n%s", txt)
	}
}

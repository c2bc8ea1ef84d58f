//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/internal/kerneltest"
)

// setParts returns the captures of a set directory in order.
func setParts(t *testing.T, dir string) []string {
	t.Helper()
	ps, err := filepath.Glob(filepath.Join(dir, "capture-*.ctr"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(ps)
	return ps
}

// analysisJSON is the part of `analyze --format json` these tests read.
type analysisJSON struct {
	Capture struct {
		Lost      int64    `json:"lost"`
		Files     []string `json:"files"`
		Truncated bool     `json:"truncated"`
		Damage    []string `json:"damage"`
	} `json:"capture"`
	Processes []struct {
		PID      int      `json:"pid"`
		PPID     *int     `json:"ppid"`
		Exe      *string  `json:"exe"`
		Argv     []string `json:"argv"`
		Start    *string  `json:"start"`
		End      *string  `json:"end"`
		ExitCode *int     `json:"exit_code"`
	} `json:"processes"`
}

func analyzeSet(t *testing.T, args ...string) analysisJSON {
	t.Helper()
	out, stderr, code := ctrace(t, append([]string{"analyze", "--format", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("analyze %v: exit %d\n%s", args, code, stderr)
	}
	var a analysisJSON
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// A rotating recorder through an exec storm, rotated by size and by SIGHUP
// many times while the storm runs: each capture is complete on its own,
// and the set read as one holds every exec the workload made (its own
// definition is the truth: loop L ran /bin/true L-i for i < n), each once,
// with its parent and exit status, and a process that lived across many
// captures is one process with its start and its exit.
func TestIntegrationRotateExecStorm(t *testing.T) {
	kerneltest.Lock(t)
	before := auditState(t)
	dir := filepath.Join(t.TempDir(), "set")
	r := startRecorder(t, "--rotate", "64KiB", "-o", dir)

	span := exec.Command("/bin/sh", "-c", "sleep 3; exit 7", "span-marker")
	if err := span.Start(); err != nil {
		t.Fatal(err)
	}
	const n = 1500
	loops := map[string]*exec.Cmd{}
	for _, l := range []string{"stormA", "stormB"} {
		script := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do /bin/true %s-$i; i=$((i+1)); done`, n, l)
		c := exec.Command("/bin/sh", "-c", script, l+"-loop")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		loops[l] = c
	}
	done := make(chan struct{})
	go func() {
		for _, c := range loops {
			c.Wait()
		}
		span.Wait()
		close(done)
	}()
	hups := 0
	tick := time.NewTicker(100 * time.Millisecond)
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			r.cmd.Process.Signal(syscall.SIGHUP)
			hups++
		}
	}
	tick.Stop()
	time.Sleep(300 * time.Millisecond)
	r.cmd.Process.Signal(syscall.SIGTERM)
	if code := r.wait(t); code != 0 {
		t.Fatalf("recorder exit %d\n%s", code, r.stderr)
	}
	checkRestored(t, before)
	if span.ProcessState.ExitCode() != 7 {
		t.Fatalf("the spanning process exited %d", span.ProcessState.ExitCode())
	}

	// Each capture is complete on its own: one set id, indexes from 1
	// without gaps, a trailer, a snapshot.
	parts := setParts(t, dir)
	if len(parts) < 10 {
		t.Fatalf("%d captures after %d SIGHUPs:\n%s", len(parts), hups, r.stderr)
	}
	if !strings.Contains(r.stderr.String(), fmt.Sprintf("(%d captures, the last %s)", len(parts), filepath.Base(parts[len(parts)-1]))) {
		t.Errorf("the summary does not count the captures:\n%s", r.stderr)
	}
	var setID string
	var starts []int64
	for i, p := range parts {
		c := readCapture(t, p)
		if c.header.Set == nil || c.header.Set.Index != i+1 {
			t.Fatalf("%s: set %+v, want index %d", p, c.header.Set, i+1)
		}
		if setID == "" {
			setID = c.header.Set.ID
		} else if c.header.Set.ID != setID {
			t.Fatalf("%s: set id %s, the first capture's is %s", p, c.header.Set.ID, setID)
		}
		want := "rotated"
		if i == len(parts)-1 {
			want = "signal"
		}
		if c.trailer == nil || c.trailer.StopReason != want || c.truncated {
			t.Fatalf("%s: trailer %+v truncated %v, want stop reason %s", p, c.trailer, c.truncated, want)
		}
		if len(c.snapshot) == 0 {
			t.Errorf("%s has no /proc snapshot", p)
		}
		starts = append(starts, c.header.Clock.RealtimeNS)
		// Readable alone.
		if _, stderr, code := ctrace(t, "info", p); code != 0 {
			t.Errorf("info %s: exit %d\n%s", p, code, stderr)
		}
	}

	// Nothing lost, and the set analyzes as one recording.
	a := analyzeSet(t, dir)
	if a.Capture.Lost != 0 || a.Capture.Truncated || len(a.Capture.Damage) > 0 || len(a.Capture.Files) != len(parts) {
		t.Fatalf("capture: lost %d truncated %v damage %v files %d of %d", a.Capture.Lost, a.Capture.Truncated, a.Capture.Damage, len(a.Capture.Files), len(parts))
	}
	seen := map[string]int{}
	for _, p := range a.Processes {
		if len(p.Argv) == 2 && p.Argv[0] == "/bin/true" {
			seen[p.Argv[1]]++
			l := strings.SplitN(p.Argv[1], "-", 2)[0]
			c := loops[l]
			if c == nil || p.PPID == nil || *p.PPID != c.Process.Pid || p.ExitCode == nil || *p.ExitCode != 0 || p.Start == nil || p.End == nil {
				t.Errorf("%v: ppid %v exit %v start %v end %v", p.Argv, p.PPID, p.ExitCode, p.Start, p.End)
			}
		}
		if len(p.Argv) == 4 && p.Argv[3] == "span-marker" {
			seen["span"]++
			if p.PID != span.Process.Pid || p.ExitCode == nil || *p.ExitCode != 7 || p.Start == nil || p.End == nil {
				t.Fatalf("the spanning process: pid %d exit %v start %v end %v", p.PID, p.ExitCode, p.Start, p.End)
			}
			start, _ := time.Parse(time.RFC3339Nano, *p.Start)
			end, _ := time.Parse(time.RFC3339Nano, *p.End)
			first, last := -1, -1
			for i, s := range starts {
				if s <= start.UnixNano() {
					first = i
				}
				if s <= end.UnixNano() {
					last = i
				}
			}
			if last-first < 3 {
				t.Errorf("the spanning process lived in captures %d to %d only: the test wants it across several", first+1, last+1)
			}
		}
	}
	missing := 0
	for _, l := range []string{"stormA", "stormB"} {
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("%s-%d", l, i)
			if seen[k] != 1 {
				missing++
				if missing < 10 {
					t.Errorf("exec %s seen %d times", k, seen[k])
				}
			}
		}
	}
	if seen["span"] != 1 {
		t.Errorf("the spanning process is %d processes", seen["span"])
	}
	t.Logf("%d execs in %d captures (%d SIGHUPs), %d missing", 2*n, len(parts), hups, missing)

	// The other readers take the set as well.
	out, stderr, code := ctrace(t, "timeline", "--format", "jsonl", "--exe", "true", dir)
	if code != 0 {
		t.Fatalf("timeline: exit %d\n%s", code, stderr)
	}
	if got := strings.Count(out, `"kind":"exec"`); got != 2*n {
		t.Errorf("timeline of the set: %d execs of true, want %d", got, 2*n)
	}
	x := filepath.Join(t.TempDir(), "a.ctr")
	if _, stderr, code := ctrace(t, "extract", "--pid", fmt.Sprint(loops["stormA"].Process.Pid), "-o", x, dir); code != 0 {
		t.Fatalf("extract: exit %d\n%s", code, stderr)
	}
	ax := analyzeSet(t, x)
	na := 0
	for _, p := range ax.Processes {
		if len(p.Argv) == 2 && strings.HasPrefix(p.Argv[1], "stormA-") {
			na++
		}
		if len(p.Argv) == 2 && strings.HasPrefix(p.Argv[1], "stormB-") {
			t.Fatalf("the extract of loop A holds %v", p.Argv)
		}
	}
	if na != n {
		t.Errorf("the extract of loop A from the set holds %d of its %d execs", na, n)
	}
	html, stderr, code := ctrace(t, "report", dir)
	if code != 0 || !strings.Contains(html, "stormB-1499") {
		t.Errorf("report of the set: exit %d\n%s", code, stderr)
	}
	// export writes the set as one recording, under the set's id.
	ex := t.TempDir()
	if _, stderr, code := ctrace(t, "export", "--format", "jsonl", "-o", ex, dir); code != 0 {
		t.Fatalf("export: exit %d\n%s", code, stderr)
	}
	rows, _ := filepath.Glob(filepath.Join(ex, "processes", "host=*", "date=*", setID+".jsonl"))
	if len(rows) != 1 {
		t.Fatalf("export of the set: %v", rows)
	}
	data, _ := os.ReadFile(rows[0])
	if got := bytes.Count(data, []byte("\n")); got != len(a.Processes) {
		t.Errorf("export of the set: %d process rows, analyze has %d processes", got, len(a.Processes))
	}
	// Several files given one by one are the same recording.
	b := analyzeSet(t, parts...)
	if len(b.Processes) != len(a.Processes) {
		t.Errorf("the files give %d processes, the directory %d", len(b.Processes), len(a.Processes))
	}
}

// --keep removes the oldest captures past the retention, never the one
// being written; what remains analyzes as one recording that begins at
// its first capture's snapshot.
func TestIntegrationRotateRetention(t *testing.T) {
	kerneltest.Lock(t)
	before := auditState(t)
	dir := filepath.Join(t.TempDir(), "set")
	// Captures of an earlier recording are subject to the retention too.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	r := startRecorder(t, "--rotate", "1h", "--keep", "3", "-o", dir)
	for i := 0; i < 6; i++ {
		if err := exec.Command("/bin/true", fmt.Sprintf("ret-%d", i)).Run(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
		r.cmd.Process.Signal(syscall.SIGHUP)
		time.Sleep(150 * time.Millisecond)
	}
	long := exec.Command("/bin/sh", "-c", "sleep 0.5; exit 5", "ret-long")
	if err := long.Start(); err != nil {
		t.Fatal(err)
	}
	r.cmd.Process.Signal(syscall.SIGHUP)
	long.Wait()
	time.Sleep(200 * time.Millisecond)
	r.cmd.Process.Signal(syscall.SIGTERM)
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, r.stderr)
	}
	checkRestored(t, before)
	parts := setParts(t, dir)
	var names []string
	for _, p := range parts {
		names = append(names, filepath.Base(p))
	}
	if strings.Join(names, " ") != "capture-000006.ctr capture-000007.ctr capture-000008.ctr" {
		t.Fatalf("after 7 rotations with --keep 3: %v\n%s", names, r.stderr)
	}
	a := analyzeSet(t, dir)
	if a.Capture.Lost != 0 || len(a.Capture.Damage) > 0 || len(a.Capture.Files) != 3 {
		t.Fatalf("capture %+v", a.Capture)
	}
	found := false
	for _, p := range a.Processes {
		if len(p.Argv) == 4 && p.Argv[3] == "ret-long" {
			found = p.ExitCode != nil && *p.ExitCode == 5 && p.Start != nil
		}
		if len(p.Argv) == 2 && p.Argv[1] == "ret-0" {
			t.Errorf("an exec of a removed capture is in the analysis")
		}
	}
	if !found {
		t.Errorf("the process that began in capture 7 and ended in 8 is not one process with its exit")
	}
}

// The rotation options are checked before anything is recorded.
func TestRecordRotateFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--rotate", "1h"}, "--rotate needs -o DIR"},
		{[]string{"--rotate", "10ms", "-o", "x"}, "too often"},
		{[]string{"--rotate", "1KiB", "-o", "x"}, "too small"},
		{[]string{"--rotate", "soon", "-o", "x"}, "neither a size"},
		{[]string{"--rotate", "1h,2h", "-o", "x"}, "two durations"},
		{[]string{"--keep", "3", "-o", "x"}, "--keep needs --rotate"},
		{[]string{"--rotate", "1h", "--keep", "0", "-o", "x"}, "at least 1"},
		{[]string{"--rotate", "1h", "--keep", "lots", "-o", "x"}, "neither a number"},
	} {
		_, stderr, code := ctrace(t, append([]string{"record"}, c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("record %v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
	for _, c := range []struct {
		in    string
		size  int64
		every time.Duration
	}{{"512MiB", 512 << 20, 0}, {"90s", 0, 90 * time.Second}, {"256MiB,1h", 256 << 20, time.Hour}, {"1h, 1GiB", 1 << 30, time.Hour}} {
		size, every, err := parseRotate(c.in)
		if err != nil || size != c.size || every != c.every {
			t.Errorf("parseRotate(%q) = %d, %v, %v", c.in, size, every, err)
		}
	}
	if n, size, err := parseKeep("24"); n != 24 || size != 0 || err != nil {
		t.Errorf("parseKeep(24) = %d %d %v", n, size, err)
	}
	if n, size, err := parseKeep("10GiB"); n != 0 || size != 10<<30 || err != nil {
		t.Errorf("parseKeep(10GiB) = %d %d %v", n, size, err)
	}
}

// unitFile is contrib/systemd/ctrace.service, section by section.
type unitFile map[string]map[string][]string

func readUnit(t *testing.T, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{}
	sec := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "["):
			sec = strings.Trim(l, "[]")
			u[sec] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || sec == "" {
				t.Fatalf("%s: bad line %q", path, l)
			}
			u[sec][k] = append(u[sec][k], v)
		}
	}
	return u
}

func (u unitFile) one(t *testing.T, sec, key string) string {
	t.Helper()
	v := u[sec][key]
	if len(v) != 1 {
		t.Fatalf("unit: [%s] %s = %v, want one value", sec, key, v)
	}
	return v[0]
}

// The systemd unit, run as systemd runs it (this machine's PID 1 may not
// be systemd, so the test plays its part): started with stdin from
// /dev/null and stderr on a stream named by JOURNAL_STREAM; reloaded
// (ExecReload: SIGHUP starts the next capture); killed (a crash), then
// started again (Restart=on-failure): the new recorder restores the audit
// state the dead one left; stopped with KillSignal: a clean exit that
// restores the audit state. systemd-analyze checks the unit itself.
func TestIntegrationSystemdUnit(t *testing.T) {
	kerneltest.Lock(t)
	before := auditState(t)
	unitPath := filepath.Join("..", "..", "contrib", "systemd", "ctrace.service")
	u := readUnit(t, unitPath)
	if u.one(t, "Service", "Restart") != "on-failure" || u.one(t, "Service", "KillSignal") != "SIGTERM" ||
		u.one(t, "Service", "StandardError") != "journal" || u.one(t, "Install", "WantedBy") != "multi-user.target" {
		t.Fatalf("unit settings: %v", u["Service"])
	}
	reload := u.one(t, "Service", "ExecReload")
	if reload != "/bin/kill -HUP $MAINPID" {
		t.Fatalf("ExecReload %q", reload)
	}
	stopTimeout, err := time.ParseDuration(u.one(t, "Service", "TimeoutStopSec") + "s")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Fields(u.one(t, "Service", "ExecStart"))
	if start[0] != "/usr/local/bin/ctrace" || start[1] != "record" {
		t.Fatalf("ExecStart %v", start)
	}
	// The same command, with this build and a temporary directory for the
	// unit's /var/lib/ctrace (StateDirectory=ctrace).
	state := t.TempDir()
	args := []string{}
	for _, a := range start[1:] {
		args = append(args, strings.Replace(a, "/var/lib/ctrace", state, 1))
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		local := filepath.Join(t.TempDir(), "ctrace.service")
		data, _ := os.ReadFile(unitPath)
		os.WriteFile(local, bytes.ReplaceAll(data, []byte("/usr/local/bin/ctrace"), []byte(ctraceBin)), 0o644)
		if out, err := exec.Command(sa, "verify", local).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	} else {
		t.Errorf("systemd-analyze is not installed (package systemd): the unit is not verified")
	}

	type service struct {
		cmd     *exec.Cmd
		journal *syncBuffer
		done    chan struct{}
	}
	startService := func() *service {
		t.Helper()
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := pw.Stat()
		st := fi.Sys().(*syscall.Stat_t)
		cmd := exec.Command(ctraceBin, args...)
		cmd.Env = append(os.Environ(), fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino))
		cmd.Stdout, cmd.Stderr = pw, pw
		s := &service{cmd: cmd, journal: &syncBuffer{}, done: make(chan struct{})}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		go func() { io.Copy(s.journal, pr); pr.Close(); close(s.done) }()
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				cmd.Process.Signal(syscall.SIGTERM)
				cmd.Wait()
			}
		})
		deadline := time.Now().Add(20 * time.Second)
		for len(setParts(t, filepath.Join(state, "recording"))) == 0 || !strings.Contains(s.journal.String(), "recording to the capture set") {
			if time.Now().After(deadline) {
				t.Fatalf("the service did not start recording:\n%s", s.journal.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		return s
	}
	setDir := filepath.Join(state, "recording")
	countParts := func() int { return len(setParts(t, setDir)) }

	// Start, and reload twice.
	s1 := startService()
	exec.Command("/bin/true", "unit-first").Run()
	for i := 0; i < 2; i++ {
		n := countParts()
		s1.cmd.Process.Signal(syscall.SIGHUP) // ExecReload
		waitFor(t, "a new capture after reload", func() bool { return countParts() == n+1 })
	}
	time.Sleep(400 * time.Millisecond) // past a flush
	// A crash: the audit state is left changed.
	s1.cmd.Process.Kill()
	s1.cmd.Wait()
	<-s1.done
	if err := kerneltest.Diff(before, auditState(t)); err == nil {
		t.Fatal("a killed recorder left nothing behind: the test cannot check the recovery")
	}
	crashed := countParts()

	// Restart=on-failure: the next start recovers and records on.
	s2 := startService()
	exec.Command("/bin/true", "unit-second").Run()
	time.Sleep(400 * time.Millisecond)
	s2.cmd.Process.Signal(syscall.SIGTERM) // systemctl stop
	waited := make(chan error, 1)
	go func() { waited <- s2.cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("the service did not stop cleanly: %v\n%s", err, s2.journal.String())
		}
	case <-time.After(stopTimeout):
		t.Fatalf("the service did not stop within TimeoutStopSec (%s)", stopTimeout)
	}
	<-s2.done
	checkRestored(t, before)

	j1, j2 := s1.journal.String(), s2.journal.String()
	if !regexp.MustCompile(`(?m)^<6>recording to the capture set `).MatchString(j1) {
		t.Errorf("the start line is not in the journal at priority info:\n%s", j1)
	}
	if !regexp.MustCompile(`(?m)^<4>ctrace: .*did not restore the audit configuration`).MatchString(j2) ||
		!regexp.MustCompile(`(?m)^<4>ctrace: removed stale ctrace audit rule`).MatchString(j2) {
		t.Errorf("the recovery notices are not in the journal as warnings:\n%s", j2)
	}
	if !regexp.MustCompile(`(?m)^<6>recorded .*\(stopped: signal\)`).MatchString(j2) {
		t.Errorf("the summary is not in the journal:\n%s", j2)
	}
	if strings.Contains(j1+j2, "\r") {
		t.Errorf("status line redraws reached the journal")
	}

	// The directory now holds two recordings: not read as one, and each
	// readable by its files.
	parts := setParts(t, setDir)
	if len(parts) != crashed+1 || crashed != 3 {
		t.Fatalf("captures: %d before the crash, %d in all", crashed, len(parts))
	}
	_, stderr, code := ctrace(t, "analyze", setDir)
	if code == 0 || !strings.Contains(stderr, "holds 2 recordings") || !strings.Contains(stderr, "capture-000001.ctr to capture-000003.ctr") {
		t.Errorf("analyze of two recordings: exit %d\n%s", code, stderr)
	}
	first := analyzeSet(t, parts[:crashed]...)
	if !first.Capture.Truncated {
		t.Errorf("the crashed recording's last capture is not reported as truncated")
	}
	second := analyzeSet(t, parts[crashed])
	has := func(a analysisJSON, marker string) bool {
		for _, p := range a.Processes {
			if len(p.Argv) == 2 && p.Argv[1] == marker {
				return true
			}
		}
		return false
	}
	if !has(first, "unit-first") || !has(second, "unit-second") {
		t.Errorf("first recording has unit-first: %v; second has unit-second: %v", has(first, "unit-first"), has(second, "unit-second"))
	}
	for _, p := range parts {
		r, err := format.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
}

// syncBuffer is a bytes.Buffer written by one goroutine and read by another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in 10s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

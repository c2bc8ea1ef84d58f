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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"

	"github.com/ctrace/ctrace/diff"
	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/internal/kerneltest"
	"github.com/ctrace/ctrace/replay"
)

var ctraceBin string

// testVersion is the version the test binary is built with.
const testVersion = "1.2.3-test"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ctrace-bin")
	if err != nil {
		panic(err)
	}
	os.Chmod(dir, 0o755) // runnable by the not-root test
	ctraceBin = filepath.Join(dir, "ctrace")
	// Stamped as make build does, so that the tests see where the
	// version goes.
	out, err := exec.Command("go", "build", "-ldflags", "-X main.version="+testVersion, "-o", ctraceBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building ctrace: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// recorder is a `ctrace record` process under test.
type recorder struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	lines  chan string
	done   chan error
}

// startRecorder starts ctrace record and waits for its "recording" line.
func startRecorder(t *testing.T, args ...string) *recorder {
	t.Helper()
	cmd := exec.Command(ctraceBin, append([]string{"record"}, args...)...)
	pr, pw := io.Pipe()
	r := &recorder{cmd: cmd, stderr: &bytes.Buffer{}, lines: make(chan string, 100), done: make(chan error, 1)}
	cmd.Stderr = io.MultiWriter(pw, r.stderr)
	cmd.Stdout = os.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
	}()
	go func() { r.done <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-r.done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
			}
		}
	})
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l := <-r.lines:
			if strings.HasPrefix(l, "recording") {
				return r
			}
		case err := <-r.done:
			t.Fatalf("recorder exited before recording: %v\n%s", err, r.stderr)
		case <-timeout:
			t.Fatalf("no recording line in 20s:\n%s", r.stderr)
		}
	}
}

func (r *recorder) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("recorder did not stop:\n%s", r.stderr)
	}
	return r.cmd.ProcessState.ExitCode()
}

// ctrace runs the binary to completion.
func ctrace(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(ctraceBin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// captureContent is what a test looks for in a capture.
type captureContent struct {
	auditText []string          // text of every audit event record
	forks     map[uint32]uint32 // child tgid -> parent tgid (proc connector)
	exits     map[uint32]replay.ProcEvent
	snapshot  map[int]format.SnapshotProcess
	notes     []format.Note
	header    format.Header
	trailer   *format.Trailer
	truncated bool
}

func readCapture(t *testing.T, path string) captureContent {
	t.Helper()
	r, err := format.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := captureContent{forks: map[uint32]uint32{}, exits: map[uint32]replay.ProcEvent{}, snapshot: map[int]format.SnapshotProcess{}}
	order := replay.ByteOrderOf(r.Header().ByteOrder)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		switch rec.Source {
		case format.SourceAudit:
			if f, err := replay.DecodeAudit(rec.Data, order); err == nil && f.Kind == replay.AuditEvent {
				c.auditText = append(c.auditText, f.TypeName()+" "+f.Body)
			}
		case format.SourceProc:
			if ev, err := replay.DecodeProc(rec.Data, order); err == nil {
				switch ev.Kind {
				case replay.ProcFork:
					c.forks[ev.TGID] = ev.ParentTGID
				case replay.ProcExit:
					if ev.PID == ev.TGID {
						c.exits[ev.TGID] = ev
					}
				}
			}
		case format.SourceSnapshot:
			var p format.SnapshotProcess
			if json.Unmarshal(rec.Data, &p) == nil && p.PID == p.TID {
				c.snapshot[p.PID] = p
			}
		case format.SourceNote:
			var n format.Note
			json.Unmarshal(rec.Data, &n)
			c.notes = append(c.notes, n)
		}
	}
	if len(r.Problems()) > 0 {
		t.Errorf("capture damaged: %v", r.Problems())
	}
	c.header = *r.Header()
	c.trailer = r.Trailer()
	c.truncated = r.Truncated()
	return c
}

func (c captureContent) auditContains(s string) bool {
	for _, a := range c.auditText {
		if strings.Contains(a, s) {
			return true
		}
	}
	return false
}

// auditState reads the audit status and rules for before/after checks.
func auditState(t *testing.T) kerneltest.State {
	t.Helper()
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := kerneltest.Snapshot(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func checkRestored(t *testing.T, before kerneltest.State) {
	t.Helper()
	if err := kerneltest.Diff(before, auditState(t)); err != nil {
		t.Errorf("the recorder did not restore the audit state: %v", err)
	}
}

func TestIntegrationRecordCommand(t *testing.T) {
	kerneltest.Lock(t)
	before := auditState(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "s.ctr")
	target := filepath.Join(dir, "written-by-the-command.txt")
	code := 0
	cmd := exec.Command(ctraceBin, "record", "-o", out, "--", "/bin/sh", "-c", "echo hi > "+target+"; /bin/true marker-arg; exit 3")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		code = cmd.ProcessState.ExitCode()
	}
	if code != 3 {
		t.Fatalf("exit status %d, want the command's 3\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "\nrecording") && !strings.HasPrefix(stderr.String(), "recording") {
		t.Errorf("no line beginning with 'recording' on stderr:\n%s", stderr.String())
	}
	checkRestored(t, before)
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("capture mode %v, want 0600", st.Mode().Perm())
	}
	c := readCapture(t, out)
	if c.truncated || c.trailer == nil {
		t.Fatal("capture not closed cleanly")
	}
	pid := c.trailer.CommandPID
	if pid == 0 || c.trailer.CommandExitCode == nil || *c.trailer.CommandExitCode != 3 {
		t.Fatalf("trailer command pid %d exit %v", pid, c.trailer.CommandExitCode)
	}
	if !c.auditContains(target) {
		t.Errorf("no audit record names %s", target)
	}
	if !c.auditContains("marker-arg") {
		t.Errorf("no audit record of the exec of /bin/true marker-arg")
	}
	if _, ok := c.forks[uint32(pid)]; !ok {
		t.Errorf("no proc-connector fork of the command (pid %d)", pid)
	}
	if ev, ok := c.exits[uint32(pid)]; !ok {
		t.Errorf("no proc-connector exit of the command")
	} else if s, ok := ev.ExitStatus(); !ok || s != 3 {
		t.Errorf("proc exit status %d, want 3", s)
	}
	if len(c.snapshot) == 0 {
		t.Error("no snapshot records")
	} else if p, ok := c.snapshot[os.Getpid()]; !ok || p.Exe == "" {
		t.Errorf("the test process is not in the snapshot: %+v", p)
	}
	if c.header.AuditMode != "unicast" || !c.header.Proc || len(c.header.Rules) == 0 || c.header.AuditBefore == nil {
		t.Errorf("header: %+v", c.header)
	}

	// ctrace info agrees.
	stdout, _, code := ctrace(t, "info", "--format", "json", out)
	if code != 0 {
		t.Fatalf("info exit %d", code)
	}
	var info map[string]any
	if err := json.Unmarshal([]byte(stdout), &info); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"audit_frames", "proc_frames", "snapshot_processes", "segments"} {
		if n, _ := info[k].(float64); n < 1 {
			t.Errorf("info %s = %v", k, info[k])
		}
	}
	if info["lost"] != float64(0) || info["truncated"] != false || info["start"] == "" || info["end"] == "" {
		t.Errorf("info: lost %v truncated %v start %v end %v", info["lost"], info["truncated"], info["start"], info["end"])
	}
	text, _, _ := ctrace(t, "info", out)
	for _, want := range []string{"host:", "frames:", "lost:", "0 in total", "complete", "-k ctrace"} {
		if !strings.Contains(text, want) {
			t.Errorf("info text lacks %q:\n%s", want, text)
		}
	}
}

// A workload run while recording; returns its pid and a marker path.
func workload(t *testing.T, dir string) (int, string) {
	marker := filepath.Join(dir, fmt.Sprintf("marker-%d.txt", time.Now().UnixNano()))
	cmd := exec.Command("/bin/sh", "-c", "echo x > "+marker)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid, marker
}

func TestIntegrationStopBySignalAndDuration(t *testing.T) {
	kerneltest.Lock(t)
	before := auditState(t)
	dir := t.TempDir()
	for _, how := range []string{"SIGINT", "SIGTERM", "duration"} {
		t.Run(how, func(t *testing.T) {
			out := filepath.Join(dir, how+".ctr")
			args := []string{"-o", out}
			if how == "duration" {
				args = append(args, "--duration", "1500ms")
			}
			r := startRecorder(t, args...)
			pid, marker := workload(t, dir)
			switch how {
			case "SIGINT":
				r.cmd.Process.Signal(syscall.SIGINT)
			case "SIGTERM":
				r.cmd.Process.Signal(syscall.SIGTERM)
			}
			if code := r.wait(t); code != 0 {
				t.Fatalf("exit %d\n%s", code, r.stderr)
			}
			checkRestored(t, before)
			c := readCapture(t, out)
			want := map[string]string{"SIGINT": "signal", "SIGTERM": "signal", "duration": "duration"}[how]
			if c.trailer == nil || c.trailer.StopReason != want {
				t.Fatalf("trailer %+v, want stop reason %s", c.trailer, want)
			}
			if !c.auditContains(marker) {
				t.Errorf("workload's file %s not in the audit records", marker)
			}
			if _, ok := c.forks[uint32(pid)]; !ok {
				t.Errorf("workload's fork (pid %d) not recorded", pid)
			}
			if !strings.Contains(r.stderr.String(), "recorded "+out) {
				t.Errorf("no summary:\n%s", r.stderr)
			}
		})
	}
}

// A recorder killed with SIGKILL leaves a readable, truncated capture; the
// next recorder removes its rules and puts the settings back.
func TestIntegrationSIGKILLAndRecovery(t *testing.T) {
	kerneltest.Lock(t)
	before := auditState(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "killed.ctr")
	r := startRecorder(t, "-o", out)
	pid, marker := workload(t, dir)
	time.Sleep(800 * time.Millisecond) // past a flush
	r.cmd.Process.Kill()
	r.wait(t)

	during := auditState(t)
	if err := kerneltest.Diff(before, during); err == nil {
		t.Fatal("a killed recorder left nothing behind: the test cannot check recovery")
	}
	c := readCapture(t, out)
	if !c.truncated || c.trailer != nil {
		t.Fatalf("killed capture: truncated %v trailer %v", c.truncated, c.trailer)
	}
	if !c.auditContains(marker) {
		t.Errorf("frames received before the kill are missing (%s)", marker)
	}
	if _, ok := c.forks[uint32(pid)]; !ok {
		t.Errorf("proc fork of %d missing", pid)
	}
	stdout, stderr, code := ctrace(t, "info", "--format", "json", out)
	if code != 0 || !strings.Contains(stderr, "truncated") {
		t.Fatalf("info on a truncated capture: exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, `"truncated": true`) {
		t.Errorf("info json does not say truncated:\n%s", stdout)
	}

	// The next recording cleans up, says so, and restores everything itself.
	r2 := startRecorder(t, "-o", filepath.Join(dir, "next.ctr"), "--duration", "500ms")
	if code := r2.wait(t); code != 0 {
		t.Fatalf("next recorder: exit %d\n%s", code, r2.stderr)
	}
	if !strings.Contains(r2.stderr.String(), "did not restore the audit configuration") || !strings.Contains(r2.stderr.String(), "removed stale ctrace audit rule") {
		t.Errorf("no notice about the stale state:\n%s", r2.stderr)
	}
	checkRestored(t, before)
}

func TestIntegrationRecordErrors(t *testing.T) {
	kerneltest.Lock(t)
	before := auditState(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755) // for the run as nobody
	existing := filepath.Join(dir, "exists.ctr")
	os.WriteFile(existing, []byte("keep"), 0o600)

	_, stderr, code := ctrace(t, "record", "-o", existing, "--duration", "100ms")
	if code == 0 || !strings.Contains(stderr, "--force") {
		t.Errorf("existing output: exit %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep" {
		t.Error("existing output was overwritten")
	}
	_, stderr, code = ctrace(t, "record", "-o", filepath.Join(dir, "no/such/dir/x.ctr"), "--duration", "100ms")
	if code == 0 || !strings.Contains(stderr, "no such file") {
		t.Errorf("unwritable output: exit %d, %q", code, stderr)
	}
	// --force overwrites, and makes the file private.
	os.Chmod(existing, 0o644)
	if _, stderr, code = ctrace(t, "record", "-o", existing, "--force", "--duration", "200ms"); code != 0 {
		t.Errorf("--force: exit %d %s", code, stderr)
	}
	if st, _ := os.Stat(existing); st.Mode().Perm() != 0o600 {
		t.Errorf("--force left mode %v", st.Mode().Perm())
	}

	// Another recorder running.
	r := startRecorder(t, "-o", filepath.Join(dir, "first.ctr"))
	_, stderr, code = ctrace(t, "record", "-o", filepath.Join(dir, "second.ctr"), "--duration", "100ms")
	if code == 0 || !strings.Contains(stderr, "another ctrace recorder") {
		t.Errorf("second recorder: exit %d, %q", code, stderr)
	}
	r.cmd.Process.Signal(syscall.SIGINT)
	r.wait(t)

	// Not root.
	cmd := exec.Command(ctraceBin, "record", "-o", filepath.Join(dir, "user.ctr"), "--duration", "100ms")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var e bytes.Buffer
	cmd.Stderr = &e
	if err := cmd.Run(); err == nil || !strings.Contains(e.String(), "root") {
		t.Errorf("as nobody: %v %q", err, e.String())
	}
	checkRestored(t, before)
}

func TestIntegrationPrintRules(t *testing.T) {
	stdout, _, code := ctrace(t, "record", "--print-rules")
	if code != 0 {
		t.Fatal(code)
	}
	for _, want := range []string{"execve", "clone", "pivot_root", "setns", "renameat2", "-k ctrace", "pid!="} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--print-rules lacks %q", want)
		}
	}
	if strings.Contains(stdout, "arch=b64") && !strings.Contains(stdout, "arch=b32") {
		t.Error("no 32-bit compat rules")
	}
}

// With auditd running, ctrace reads the multicast group and leaves auditd
// alone.
func TestIntegrationMulticastBesideAuditd(t *testing.T) {
	kerneltest.Lock(t)
	auditd, err := exec.LookPath("auditd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("auditd not installed (apt-get install auditd); CI must install it")
		}
		t.Skip("auditd not installed (apt-get install auditd)")
	}
	before := auditState(t)
	dir := t.TempDir()
	conf := fmt.Sprintf("log_file = %s/audit.log\nlog_format = RAW\nflush = NONE\nmax_log_file = 100\nmax_log_file_action = IGNORE\nspace_left = 2\nadmin_space_left = 1\ndisk_full_action = IGNORE\ndisk_error_action = IGNORE\n", dir)
	os.WriteFile(filepath.Join(dir, "auditd.conf"), []byte(conf), 0o600)
	ad := exec.Command(auditd, "-f", "-n", "-c", dir)
	ad.Stdout, ad.Stderr = io.Discard, io.Discard
	if err := ad.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ad.Process.Signal(syscall.SIGTERM)
		ad.Wait()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for auditState(t).Status.PID != uint32(ad.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("auditd did not register")
		}
		time.Sleep(100 * time.Millisecond)
	}
	out := filepath.Join(dir, "m.ctr")
	r := startRecorder(t, "-o", out)
	_, marker := workload(t, dir)
	time.Sleep(300 * time.Millisecond)
	r.cmd.Process.Signal(syscall.SIGINT)
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, r.stderr)
	}
	if !strings.Contains(r.stderr.String(), "multicast") {
		t.Errorf("the recorder did not say it reads the multicast group:\n%s", r.stderr)
	}
	if st := auditState(t).Status; st.PID != uint32(ad.Process.Pid) {
		t.Errorf("audit pid is %d after recording, auditd is %d", st.PID, ad.Process.Pid)
	}
	c := readCapture(t, out)
	if c.header.AuditMode != "multicast" {
		t.Errorf("audit mode %q", c.header.AuditMode)
	}
	if !c.auditContains(marker) {
		t.Errorf("multicast capture lacks the workload's %s", marker)
	}
	ad.Process.Signal(syscall.SIGTERM)
	ad.Wait()
	_ = before
}

// A full disk stops the recording with an error; the audit state is still
// restored and what was written stays readable.
func TestIntegrationFullDisk(t *testing.T) {
	kerneltest.Lock(t)
	before := auditState(t)
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=24k"); err != nil {
		t.Fatalf("mounting a small tmpfs: %v", err)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	out := filepath.Join(dir, "full.ctr")
	_, stderr, code := ctrace(t, "record", "-o", out, "--segment-size", "16KiB", "--",
		"/bin/sh", "-c", "i=0; while [ $i -lt 400 ]; do /bin/true; i=$((i+1)); done")
	if code == 0 || !strings.Contains(stderr, "no space left") {
		t.Fatalf("full disk: exit %d, stderr:\n%s", code, stderr)
	}
	checkRestored(t, before)
	c := readCapture(t, out)
	if len(c.auditText) == 0 {
		t.Error("nothing readable in the capture cut by the full disk")
	}
}

// Segments close by age, so a slow recording still gets fsync'd segments.
func TestIntegrationSegmentAge(t *testing.T) {
	kerneltest.Lock(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "age.ctr")
	_, stderr, code := ctrace(t, "record", "-o", out, "--no-snapshot", "--segment-age", "200ms", "--",
		"/bin/sh", "-c", "for i in 1 2 3 4 5 6; do /bin/true; sleep 0.25; done")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	stdout, _, _ := ctrace(t, "info", "--format", "json", out)
	var info struct{ Segments int }
	json.Unmarshal([]byte(stdout), &info)
	if info.Segments < 4 {
		t.Errorf("%d segments in 1.5 s with --segment-age 200ms", info.Segments)
	}
}

// TestIntegrationSignalsAndUsers records real programs: a shell that kills
// one child with SIGTERM and another with SIGKILL (kill(1) of dash), and
// setpriv switching to another user. The killed processes name their
// killer, the sender lists the signals, and the process that changed user
// lists its credential changes; its children run as that user.
func TestIntegrationSignalsAndUsers(t *testing.T) {
	kerneltest.Lock(t)
	for _, p := range []string{"setpriv", "sleep"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed", p)
		}
	}
	out := filepath.Join(t.TempDir(), "sig.ctr")
	script := `sleep 5 & p=$!; sleep 0.2; kill -TERM $p; wait; sleep 5 & kill -9 $!; wait; ` +
		`setpriv --reuid=1000 --regid=1000 --clear-groups sh -c 'id -u; id -g'`
	recordRun(t, out, "sh", "-c", script)
	var rep struct {
		Capture struct {
			CommandPID int `json:"command_pid"`
		} `json:"capture"`
		Processes []struct {
			ID      int      `json:"id"`
			PID     int      `json:"pid"`
			PPID    *int     `json:"ppid"`
			Argv    []string `json:"argv"`
			Signal  *int     `json:"signal"`
			UID     *int64   `json:"uid"`
			GID     *int64   `json:"gid"`
			Signals []struct {
				TargetPID int  `json:"target_pid"`
				Target    *int `json:"target"`
				Signal    int  `json:"signal"`
			} `json:"signals_sent"`
			KilledBy *struct {
				PID    int  `json:"pid"`
				ID     *int `json:"id"`
				Signal int  `json:"signal"`
			} `json:"killed_by"`
			Creds []struct {
				Syscall string `json:"syscall"`
				UID     int64  `json:"uid"`
				GID     int64  `json:"gid"`
			} `json:"credential_changes"`
		} `json:"processes"`
	}
	analyzeJSON(t, out, &rep)
	shell := rep.Capture.CommandPID
	// Only the job counts: the recording is of the whole machine.
	var parent struct {
		Processes []struct {
			ID       int  `json:"id"`
			PID      int  `json:"pid"`
			ParentID *int `json:"parent_id"`
		} `json:"processes"`
	}
	analyzeJSON(t, out, &parent)
	up, jobRoot := map[int]int{}, 0
	for _, p := range parent.Processes {
		if p.ParentID != nil {
			up[p.ID] = *p.ParentID
		}
		if p.PID == shell && jobRoot == 0 {
			jobRoot = p.ID
		}
	}
	inJob := func(id int) bool {
		for n := 0; n < 1000 && id != 0; n++ {
			if id == jobRoot {
				return true
			}
			id = up[id]
		}
		return false
	}
	var killed []int
	for _, p := range rep.Processes {
		if !inJob(p.ID) {
			continue
		}
		if p.PID == shell {
			var sent []int
			for _, s := range p.Signals {
				sent = append(sent, s.Signal)
				if s.Target == nil {
					t.Errorf("signal %d to %d: target process not found", s.Signal, s.TargetPID)
				}
			}
			if !slices.Equal(sent, []int{15, 9}) {
				t.Errorf("the shell sent %v, want SIGTERM then SIGKILL", sent)
			}
		}
		if p.Signal != nil {
			if p.KilledBy == nil || p.KilledBy.PID != shell || p.KilledBy.Signal != *p.Signal || p.KilledBy.ID == nil {
				t.Errorf("pid %d killed by signal %d: killed_by %+v, want the shell %d", p.PID, *p.Signal, p.KilledBy, shell)
			}
			killed = append(killed, *p.Signal)
		}
		if len(p.Argv) > 0 && p.Argv[0] == "id" && (p.UID == nil || *p.UID != 1000 || *p.GID != 1000) {
			t.Errorf("%q runs as uid %v gid %v, want 1000", p.Argv, deref64(p.UID), deref64(p.GID))
		}
		if len(p.Creds) > 0 {
			last := p.Creds[len(p.Creds)-1]
			if !slices.ContainsFunc(p.Creds, func(c struct {
				Syscall string `json:"syscall"`
				UID     int64  `json:"uid"`
				GID     int64  `json:"gid"`
			}) bool {
				return c.Syscall == "setresuid" && c.UID == 1000
			}) || last.UID != 1000 || last.GID != 1000 {
				t.Errorf("pid %d credential changes %+v", p.PID, p.Creds)
			}
		}
	}
	slices.Sort(killed)
	if !slices.Equal(killed, []int{9, 15}) {
		t.Errorf("processes killed by %v, want SIGKILL and SIGTERM", killed)
	}
	text, _, _ := ctrace(t, "analyze", out)
	for _, want := range []string{"killed by SIGTERM from " + strconv.Itoa(shell), "killed by SIGKILL from " + strconv.Itoa(shell),
		"setresuid: uid 1000", "[uid 1000 gid 1000]"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in the text report:\n%s", want, text)
		}
	}
}

// recordRun records `ctrace record --no-snapshot -o out -- cmd...`,
// which must succeed, and returns the command's stdout.
func recordRun(t *testing.T, out string, cmd ...string) string {
	t.Helper()
	stdout, errs, code := ctrace(t, append([]string{"record", "--no-snapshot", "-o", out, "--"}, cmd...)...)
	if code != 0 {
		t.Fatalf("record: exit %d\n%s", code, errs)
	}
	return stdout
}

// analyzeJSON decodes `ctrace analyze --format json file` into v.
func analyzeJSON(t *testing.T, file string, v any) {
	t.Helper()
	js, errs, code := ctrace(t, "analyze", "--format", "json", file)
	if code != 0 {
		t.Fatalf("analyze: %s", errs)
	}
	if err := json.Unmarshal([]byte(js), v); err != nil {
		t.Fatal(err)
	}
}

func deref64(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestIntegrationConnections records a Python program that serves and
// connects over TCP on 127.0.0.1 and ::1, a unix socket path and an
// abstract unix name, and is refused on a closed port: every call is in
// the process's connections with its address and result.
func TestIntegrationConnections(t *testing.T) {
	kerneltest.Lock(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	dir := t.TempDir()
	prog := filepath.Join(dir, "net.py")
	os.WriteFile(prog, []byte(`import socket, sys
def serve(fam, addr):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind(addr); s.listen(1)
    return s
for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    srv = serve(fam, (host, 0))
    port = srv.getsockname()[1]
    print(port)
    c = socket.socket(fam, socket.SOCK_STREAM); c.connect((host, port))
    a, peer = srv.accept(); print(peer[1]); a.close(); c.close(); srv.close()
srv = serve(socket.AF_UNIX, sys.argv[1])
c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1]); a, _ = srv.accept()
ab = serve(socket.AF_UNIX, "\0ctrace-test-abstract")
c2 = socket.socket(socket.AF_UNIX); c2.connect("\0ctrace-test-abstract")
r = socket.socket(socket.AF_INET)
try:
    r.connect(("127.0.0.1", 1))
except OSError:
    pass
`), 0o600)
	out := filepath.Join(dir, "net.ctr")
	sock := filepath.Join(dir, "s.sock")
	stdout := recordRun(t, out, py, prog, sock)
	ports := strings.Fields(stdout) // the program's own truth: server port, client port (v4, v6)
	if len(ports) != 4 {
		t.Fatalf("program output %q", stdout)
	}
	var rep struct {
		Capture struct {
			CommandPID int `json:"command_pid"`
		} `json:"capture"`
		Processes []struct {
			PID         int `json:"pid"`
			Connections []struct {
				Operation string  `json:"operation"`
				Family    *string `json:"family"`
				Address   *string `json:"address"`
				Port      *int    `json:"port"`
				Path      *string `json:"path"`
				Result    string  `json:"result"`
			} `json:"connections"`
		} `json:"processes"`
	}
	analyzeJSON(t, out, &rep)
	var got []string
	for _, p := range rep.Processes {
		if p.PID != rep.Capture.CommandPID {
			continue
		}
		for _, c := range p.Connections {
			if c.Operation == "connect" && c.Path != nil && *c.Path != sock && *c.Path != "@ctrace-test-abstract" {
				// The C library's user lookups (Python looks the user up
				// when HOME is unset) ask nscd or systemd-userdb over unix
				// sockets first: real, but not the program's own calls.
				continue
			}
			s := c.Operation
			for _, v := range []*string{c.Family, c.Address, c.Path} {
				if v != nil {
					s += " " + *v
				}
			}
			if c.Port != nil {
				s += " " + strconv.Itoa(*c.Port)
			}
			got = append(got, s+" "+c.Result)
		}
	}
	want := []string{
		"bind inet 127.0.0.1 0 ok", "listen inet 127.0.0.1 0 ok", "connect inet 127.0.0.1 " + ports[0] + " ok",
		"accept inet 127.0.0.1 " + ports[1] + " ok",
		"bind inet6 ::1 0 ok", "listen inet6 ::1 0 ok", "connect inet6 ::1 " + ports[2] + " ok", "accept inet6 ::1 " + ports[3] + " ok",
		"bind unix " + sock + " ok", "listen unix " + sock + " ok", "connect unix " + sock + " ok", "accept unix  ok",
		"bind unix @ctrace-test-abstract ok", "listen unix @ctrace-test-abstract ok", "connect unix @ctrace-test-abstract ok",
		"connect inet 127.0.0.1 1 ECONNREFUSED",
	}
	if !slices.Equal(got, want) {
		t.Errorf("connections\n got %q\nwant %q", got, want)
	}
}

// TestIntegrationSu records su(1) running a shell as nobody: the shell su
// forks starts as root (a fork copies the credentials), changes group then
// user, and the programs it runs are nobody's, as id(1) says.
func TestIntegrationSu(t *testing.T) {
	kerneltest.Lock(t)
	if _, err := exec.LookPath("su"); err != nil {
		t.Skip("su is not installed (Debian: util-linux)")
	}
	nobody, err := exec.Command("id", "-u", "nobody").Output()
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.ParseInt(strings.TrimSpace(string(nobody)), 10, 64)
	out := filepath.Join(t.TempDir(), "su.ctr")
	printed := recordRun(t, out, "su", "-s", "/bin/sh", "-c", "id -u", "nobody")
	if got, _ := strconv.ParseInt(strings.TrimSpace(printed), 10, 64); got != uid {
		t.Fatalf("id -u under su printed %q, want %d", printed, uid)
	}
	var rep struct {
		Processes []struct {
			PID   int      `json:"pid"`
			PPID  *int     `json:"ppid"`
			Argv  []string `json:"argv"`
			UID   *int64   `json:"uid"`
			Creds []struct {
				Syscall string `json:"syscall"`
				UID     int64  `json:"uid"`
				EUID    int64  `json:"euid"`
			} `json:"credential_changes"`
		} `json:"processes"`
	}
	analyzeJSON(t, out, &rep)
	var shell, id int
	for _, p := range rep.Processes {
		switch {
		case len(p.Argv) == 3 && p.Argv[0] == "sh" && p.Argv[2] == "id -u":
			shell++
			n := len(p.Creds)
			if p.UID == nil || *p.UID != 0 || n == 0 || p.Creds[n-1].UID != uid || p.Creds[n-1].EUID != uid {
				t.Errorf("su's shell %d: uid at start %v, changes %+v; want 0, then %d", p.PID, deref64(p.UID), p.Creds, uid)
			}
		case len(p.Argv) > 0 && p.Argv[0] == "id":
			id++
			if p.UID == nil || *p.UID != uid {
				t.Errorf("%q runs as %v, want %d", p.Argv, deref64(p.UID), uid)
			}
		}
	}
	if shell != 1 || id != 1 {
		t.Errorf("%d shells, %d id processes, want 1 each", shell, id)
	}
	text, _, _ := ctrace(t, "analyze", out)
	if want := fmt.Sprintf("setuid: uid %d gid", uid); !strings.Contains(text, want) {
		t.Errorf("no %q in the text report:\n%s", want, text)
	}
}

// TestIntegrationPtrace records strace attaching to a running process
// (PTRACE_SEIZE), and an unprivileged strace refused (EPERM): both sides
// list each attach, as strace's own messages say it went.
func TestIntegrationPtrace(t *testing.T) {
	kerneltest.Lock(t)
	for _, p := range []string{"strace", "setpriv"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed", p)
		}
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "ptrace.ctr")
	script := `sleep 5 & s=$!; sleep 0.2
strace -o /dev/null -p $s 2> ` + dir + `/ok.err & t=$!; sleep 0.5; kill $t; wait $t
setpriv --reuid=65534 --regid=65534 --clear-groups strace -o /dev/null -p $s 2> ` + dir + `/refused.err & r=$!; wait $r
kill $s; echo "$s $t $r"`
	pids := strings.Fields(recordRun(t, out, "sh", "-c", script))
	if len(pids) != 3 {
		t.Fatalf("script printed %q", pids)
	}
	tracee, tracer, refused := pids[0], pids[1], pids[2]
	okErr, _ := os.ReadFile(filepath.Join(dir, "ok.err"))
	refusedErr, _ := os.ReadFile(filepath.Join(dir, "refused.err"))
	if !strings.Contains(string(okErr), "Process "+tracee+" attached") || !strings.Contains(string(refusedErr), "Operation not permitted") {
		t.Fatalf("strace said:\n%s\n%s", okErr, refusedErr)
	}
	var rep struct {
		Processes []struct {
			ID     int `json:"id"`
			PID    int `json:"pid"`
			Ptrace []struct {
				Request string `json:"request"`
				Role    string `json:"role"`
				PID     int    `json:"pid"`
				ID      *int   `json:"id"`
				Result  string `json:"result"`
			} `json:"ptrace"`
		} `json:"processes"`
	}
	analyzeJSON(t, out, &rep)
	got := map[string][]string{}
	for _, p := range rep.Processes {
		for _, e := range p.Ptrace {
			if e.ID == nil {
				t.Errorf("pid %d: ptrace peer %d not linked", p.PID, e.PID)
			}
			got[strconv.Itoa(p.PID)] = append(got[strconv.Itoa(p.PID)], fmt.Sprintf("%s %s %d %s", e.Request, e.Role, e.PID, e.Result))
		}
	}
	for pid, want := range map[string][]string{
		tracee:  {"seize tracee " + tracer + " ok", "seize tracee " + refused + " EPERM"},
		tracer:  {"seize tracer " + tracee + " ok"},
		refused: {"seize tracer " + tracee + " EPERM"},
	} {
		for _, w := range want {
			if !slices.Contains(got[pid], w) {
				t.Errorf("pid %s: ptrace %q, want %q among them", pid, got[pid], w)
			}
		}
	}
	text, _, _ := ctrace(t, "analyze", out)
	for _, want := range []string{"traced " + tracee + " (ptrace seize)", "traced by " + tracer + " (ptrace seize)",
		"traced by " + refused + " (ptrace seize: EPERM)"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in the text report:\n%s", want, text)
		}
	}
}

// TestRecordVersionStamp: the version the binary was built with (make
// build's -X main.version) is the one in the recording's header and in
// --version.
func TestRecordVersionStamp(t *testing.T) {
	kerneltest.Lock(t)
	out := filepath.Join(t.TempDir(), "v.ctr")
	recordRun(t, out, "true")
	js, errs, code := ctrace(t, "info", "--format", "json", out)
	if code != 0 {
		t.Fatalf("info: %s", errs)
	}
	var info struct {
		Version string `json:"ctrace_version"`
	}
	if err := json.Unmarshal([]byte(js), &info); err != nil {
		t.Fatal(err)
	}
	v, _, _ := ctrace(t, "--version")
	if info.Version != testVersion || !strings.Contains(v, testVersion) {
		t.Errorf("header ctrace_version %q, --version %q; want %s", info.Version, v, testVersion)
	}
}

// diffRun runs `ctrace diff ARGS...` and returns its stdout and exit status.
func diffRun(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, errs, code := ctrace(t, append([]string{"diff"}, args...)...)
	if code == 2 {
		t.Fatalf("diff: %s", errs)
	}
	return out, code
}

type diffEntry struct {
	Change    string   `json:"change"`
	Kind      string   `json:"kind"`
	Container *string  `json:"container"`
	What      string   `json:"what"`
	Ends      []string `json:"ends"`
	WasEnds   []string `json:"was_ends"`
	Chain     []string `json:"chain"`
}

// TestIntegrationDiffJob records a shell job twice (nothing differs), then a
// variant that also copies a file out of /etc with cat, writes one more
// file and exits 3: the diff shows exactly those, with the chain that did
// them, and exits 1.
func TestIntegrationDiffJob(t *testing.T) {
	kerneltest.Lock(t)
	dir := t.TempDir()
	job := filepath.Join(dir, "job.sh")
	work := filepath.Join(dir, "work")
	record := func(name, body string) string {
		os.RemoveAll(work)
		os.MkdirAll(work, 0o755)
		os.WriteFile(job, []byte(body), 0o755)
		out := filepath.Join(dir, name+".ctr")
		cmd := exec.Command(ctraceBin, "record", "--no-snapshot", "-o", out, "--", "sh", job, work)
		cmd.Run() // the job's exit status is the command's
		if _, err := os.Stat(out); err != nil {
			t.Fatalf("record %s: %v", name, err)
		}
		return out
	}
	const base = "echo a > \"$1/out.txt\"\nls \"$1\" > /dev/null\nmkdir \"$1/d\"\nexit 0\n"
	a := record("a", base)
	b := record("b", base)
	if out, code := diffRun(t, a, b); code != 0 || !strings.Contains(out, "no difference") {
		t.Errorf("the same job twice: exit %d\n%s", code, out)
	}
	c := record("c", strings.Replace(base, "exit 0", "cat /etc/hostname > \"$1/extra.txt\"\nexit 3", 1))
	out, code := diffRun(t, "--format", "json", a, c)
	if code != 1 {
		t.Fatalf("variant: exit %d\n%s", code, out)
	}
	var rep struct {
		Differences []diffEntry `json:"differences"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range rep.Differences {
		s := e.Change + " " + e.Kind + " " + e.What
		if e.Change == "changed" {
			s += " " + strings.Join(e.WasEnds, ",") + " -> " + strings.Join(e.Ends, ",")
		}
		got = append(got, s)
		if !strings.Contains(strings.Join(e.Chain, " > "), "sh "+job) {
			t.Errorf("%s: chain %q does not lead from the job", s, e.Chain)
		}
	}
	slices.Sort(got)
	want := []string{
		"changed exec /usr/bin/dash sh " + diff.Normalize(job+" "+work) + " exit 0 -> exit 3",
		"new exec /usr/bin/cat cat /etc/hostname",
		"new file create " + diff.Normalize(work) + "/extra.txt",
	}
	if !slices.Equal(got, want) {
		t.Errorf("differences\n got %q\nwant %q", got, want)
	}
	// The ignore file takes the file and the program out; the changed
	// exit stays.
	ig := filepath.Join(dir, "ignore")
	os.WriteFile(ig, []byte("# test\npath **/extra.txt\nexe cat\n"), 0o644)
	out, code = diffRun(t, "--ignore", ig, a, c)
	if code != 1 || strings.Contains(out, "extra.txt") || strings.Contains(out, "/etc/hostname") || !strings.Contains(out, "exit 0 → exit 3") {
		t.Errorf("--ignore: exit %d\n%s", code, out)
	}
}

// TestIntegrationDiffMake records a real make -j4 build of a small C
// program: a clean build twice (nothing differs), then an up-to-date make
// against a make after one source file changed: only that file's compile
// and the link are new.
func TestIntegrationDiffMake(t *testing.T) {
	kerneltest.Lock(t)
	for _, p := range []string{"make", "cc"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed", p)
		}
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	files := map[string]string{
		"main.c":   "int a(void); int b(void);\nint main(void) { return a() + b(); }\n",
		"a.c":      "int a(void) { return 0; }\n",
		"b.c":      "int b(void) { return 0; }\n",
		"Makefile": "prog: main.o a.o b.o\n\tcc -o prog main.o a.o b.o\n%.o: %.c\n\tcc -c -o $@ $<\nclean:\n\trm -f prog *.o\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	record := func(name string, script string) string {
		out := filepath.Join(dir, name+".ctr")
		recordRun(t, out, "sh", "-c", script)
		return out
	}
	clean := "make -s -C " + src + " clean && make -s -j4 -C " + src
	// Built once before, so that both recorded clean builds start from the
	// same tree (a first clean of an empty tree removes nothing: a real
	// difference).
	if out, err := exec.Command("make", "-s", "-C", src).CombinedOutput(); err != nil {
		t.Fatalf("make: %v\n%s", err, out)
	}
	a := record("clean1", clean)
	b := record("clean2", clean)
	if out, code := diffRun(t, a, b); code != 0 {
		t.Errorf("a clean build twice: exit %d\n%s", code, out)
	}
	upToDate := record("uptodate", "make -s -j4 -C "+src)
	later := time.Now().Add(2 * time.Second)
	if err := os.Chtimes(filepath.Join(src, "b.c"), later, later); err != nil {
		t.Fatal(err)
	}
	changed := record("changed", "make -s -j4 -C "+src)
	out, code := diffRun(t, "--format", "json", upToDate, changed)
	if code != 1 {
		t.Fatalf("after b.c changed: exit %d\n%s", code, out)
	}
	var rep struct {
		Differences []diffEntry `json:"differences"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	compile, link := false, false
	for _, e := range rep.Differences {
		chain := strings.Join(e.Chain, " > ")
		if e.Change != "new" {
			t.Errorf("%s %s %s: only new behaviour expected", e.Change, e.Kind, e.What)
		}
		switch {
		case strings.Contains(chain, "cc -c -o b.o b.c"):
			compile = compile || e.Kind == "exec" && strings.Contains(e.What, "b.c")
		case strings.Contains(chain, "cc -o prog main.o a.o b.o"):
			link = link || e.Kind == "exec" && strings.Contains(e.What, "prog")
		default:
			t.Errorf("%s %s %s by %s: neither the compile of b.c nor the link", e.Change, e.Kind, e.What, chain)
		}
		if strings.Contains(e.What, "a.c") || strings.Contains(e.What, "main.c") {
			t.Errorf("%s %s: another file's compile", e.Kind, e.What)
		}
	}
	if !compile || !link {
		t.Errorf("compile of b.c %v, link %v, in %d differences", compile, link, len(rep.Differences))
	}
}

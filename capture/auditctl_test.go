//go:build linux

package capture

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/auparse"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/internal/kerneltest"
)

// Kernel tests: they change the real audit configuration, under
// kerneltest.Lock, which puts it back as found even when a test fails.

func openControl(t *testing.T) *AuditControl {
	t.Helper()
	c, err := OpenAuditControl()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func snapshot(t *testing.T, c *AuditControl) kerneltest.State {
	t.Helper()
	s, err := kerneltest.Snapshot(c.client)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkState fails the test if the kernel's rules or settings differ from
// want.
func checkState(t *testing.T, c *AuditControl, want kerneltest.State, when string) {
	t.Helper()
	if err := kerneltest.Diff(want, snapshot(t, c)); err != nil {
		t.Errorf("%s: audit state differs: %v", when, err)
	}
}

// auditctlList returns `auditctl -l`, or "" when auditctl is not installed.
func auditctlList(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("auditctl"); err != nil {
		return ""
	}
	out, err := exec.Command("auditctl", "-l").CombinedOutput()
	if err != nil {
		t.Fatalf("auditctl -l: %v\n%s", err, out)
	}
	return string(out)
}

// addRule loads a rule directly, as another tool would.
func addRule(t *testing.T, c *AuditControl, line string) []byte {
	t.Helper()
	wfs, err := BuildRules([]string{line})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.request(uint16(auparse.AUDIT_ADD_RULE), wfs[0]); err != nil {
		t.Fatalf("add %q: %v", line, err)
	}
	return wfs[0]
}

// deadPID returns the pid of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// simulateKill makes the state file look like it was left by a recorder
// that was killed: its pid is dead.
func simulateKill(t *testing.T, statePath string) {
	t.Helper()
	data, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	var st auditState
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	st.RecorderPID, st.RecorderStart = deadPID(t), 1
	data, _ = json.Marshal(st)
	if err := os.WriteFile(statePath, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func containsAll(t *testing.T, notices []string, want ...string) {
	t.Helper()
	all := strings.Join(notices, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("notices lack %q:\n%s", w, all)
		}
	}
}

const otherToolRule = "-a always,exit -F arch=b64 -S chmod -k othertool"

func TestIntegrationPrepareRestore(t *testing.T) {
	before := kerneltest.Lock(t)
	listBefore := auditctlList(t)
	c := openControl(t)
	statePath := filepath.Join(t.TempDir(), "run", "ctrace", "state.json")

	lines := DefaultRules(os.Getpid())
	wfs, err := BuildRules(lines)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Prepare(AuditOptions{Rules: lines, StatePath: statePath}); err != nil {
		t.Fatal(err)
	}

	// Exactly our rules were appended, byte for byte.
	during := snapshot(t, c)
	if want := append(slices.Clone(before.Rules), wfs...); !slices.EqualFunc(during.Rules, want, bytes.Equal) {
		t.Errorf("kernel has %d rules after Prepare, want the %d found + our %d", len(during.Rules), len(before.Rules), len(wfs))
	}
	if during.Status.Enabled != 1 {
		t.Errorf("enabled = %d after Prepare", during.Status.Enabled)
	}
	if want := max(before.Status.BacklogLimit, DefaultAuditBacklogLimit); during.Status.BacklogLimit != want {
		t.Errorf("backlog limit = %d, want %d", during.Status.BacklogLimit, want)
	}
	if during.Status.Failure != before.Status.Failure || during.Status.RateLimit != before.Status.RateLimit ||
		during.Status.BacklogWaitTime != before.Status.BacklogWaitTime {
		t.Errorf("Prepare changed settings it should not: %+v -> %+v", before.Status, during.Status)
	}
	if got := c.Rules(); !slices.Equal(got, lines) {
		t.Errorf("Rules() = %q", got)
	}
	if saved, ok := c.Saved(); !ok || saved.BacklogLimit != before.Status.BacklogLimit || saved.Enabled != before.Status.Enabled {
		t.Errorf("Saved() = %+v, %v", saved, ok)
	}
	if l := auditctlList(t); listBefore != "" {
		t.Logf("auditctl -l during the recording:\n%s", l)
		if n := strings.Count(l, "key=ctrace"); n != len(lines) {
			t.Errorf("auditctl -l shows %d ctrace rules, want %d", n, len(lines))
		}
	}

	// The state file records what was found.
	fi, err := os.Stat(statePath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v", fi.Mode())
	}
	st, err := readAuditState(statePath)
	if err != nil || st == nil {
		t.Fatalf("state file: %v", err)
	}
	if st.RecorderPID != os.Getpid() || st.Saved.BacklogLimit != before.Status.BacklogLimit ||
		st.Saved.Enabled != before.Status.Enabled || st.Applied == nil || st.Applied.Enabled != 1 {
		t.Errorf("state file: %+v", st)
	}

	if err := c.Restore(); err != nil {
		t.Fatal(err)
	}
	checkState(t, c, before, "after Restore")
	if l := auditctlList(t); l != listBefore {
		t.Errorf("auditctl -l after Restore:\n%s\nbefore:\n%s", l, listBefore)
	}
	if _, err := os.Stat(statePath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file still there after Restore: %v", err)
	}
	if _, ok := c.Saved(); ok {
		t.Error("still prepared after Restore")
	}

	// Idempotent.
	if err := c.Restore(); err != nil {
		t.Errorf("second Restore: %v", err)
	}
	checkState(t, c, before, "after the second Restore")
}

func TestIntegrationBacklogNeverLowered(t *testing.T) {
	kerneltest.Lock(t)
	c := openControl(t)
	if err := c.client.SetBacklogLimit(20000, libaudit.WaitForReply); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, c)

	lines := DefaultRules(os.Getpid())
	if err := c.Prepare(AuditOptions{Rules: lines}); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Status(); st.BacklogLimit != 20000 {
		t.Errorf("backlog limit lowered to %d", st.BacklogLimit)
	}
	if err := c.Restore(); err != nil {
		t.Fatal(err)
	}
	checkState(t, c, before, "after Restore")

	if err := c.Prepare(AuditOptions{Rules: lines, BacklogLimit: 30000}); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Status(); st.BacklogLimit != 30000 {
		t.Errorf("backlog limit %d, want 30000", st.BacklogLimit)
	}
	if err := c.Restore(); err != nil {
		t.Fatal(err)
	}
	checkState(t, c, before, "after the second Restore")
}

func TestIntegrationOtherToolRuleSurvives(t *testing.T) {
	kerneltest.Lock(t)
	c := openControl(t)
	other := addRule(t, c, otherToolRule)
	before := snapshot(t, c)
	listBefore := auditctlList(t)

	if err := c.Prepare(AuditOptions{Rules: DefaultRules(os.Getpid())}); err != nil {
		t.Fatal(err)
	}
	// Neither the other tool's rule nor our live ones are stale.
	removed, err := c.RemoveStaleRules()
	if err != nil || len(removed) != 0 {
		t.Errorf("RemoveStaleRules during a recording = %q, %v; want nothing", removed, err)
	}
	if err := c.Restore(); err != nil {
		t.Fatal(err)
	}
	checkState(t, c, before, "after Restore")
	if l := auditctlList(t); l != listBefore {
		t.Errorf("auditctl -l after Restore:\n%s\nbefore:\n%s", l, listBefore)
	}
	removed, err = c.RemoveStaleRules()
	if err != nil || len(removed) != 0 {
		t.Errorf("RemoveStaleRules = %q, %v; want nothing", removed, err)
	}
	after := snapshot(t, c)
	if !slices.ContainsFunc(after.Rules, func(b []byte) bool { return bytes.Equal(b, other) }) {
		t.Error("the other tool's rule is gone")
	}
}

func TestIntegrationRecoverStale(t *testing.T) {
	kerneltest.Lock(t)
	c := openControl(t)
	addRule(t, c, otherToolRule)
	before := snapshot(t, c)
	statePath := filepath.Join(t.TempDir(), "state.json")

	// A recorder loads its rules (with a second key on a user rule),
	// raises the backlog, and is killed.
	user, err := ParseRulesFile(strings.NewReader("-w /etc/hosts -p wa -k hosts\n"), "user.rules", 12345)
	if err != nil {
		t.Fatal(err)
	}
	killed := openControl(t)
	lines := append(DefaultRules(12345), user...)
	if err := killed.Prepare(AuditOptions{Rules: lines, BacklogLimit: 12345, StatePath: statePath}); err != nil {
		t.Fatal(err)
	}
	killed.Close()
	simulateKill(t, statePath)
	if st, _ := c.Status(); st.BacklogLimit != max(12345, before.Status.BacklogLimit) || st.Enabled != 1 {
		t.Fatalf("the simulated recorder did not change the status: %+v", st)
	}

	notices, err := RecoverStale(statePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("notices:\n%s", strings.Join(notices, "\n"))
	if n := strings.Count(strings.Join(notices, "\n"), "removed stale ctrace audit rule: "); n != len(lines) {
		t.Errorf("%d stale rules reported, want %d", n, len(lines))
	}
	containsAll(t, notices,
		"a previous ctrace recorder (pid ",
		"removed stale ctrace audit rule: -w /etc/hosts -p wa -k hosts -k ctrace",
		"removed stale ctrace audit rule: -a always,exit -F arch=b64 -S open -F a1&1603 -F pid!=12345 -k ctrace",
		"removed state file "+statePath)
	if before.Status.BacklogLimit < 12345 {
		containsAll(t, notices, fmt.Sprintf("restored the backlog limit from 12345 to %d", before.Status.BacklogLimit))
	}
	if before.Status.Enabled == 0 {
		containsAll(t, notices, "restored the enabled flag from 1 to 0")
	}
	checkState(t, c, before, "after RecoverStale")
	if _, err := os.Stat(statePath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file still there: %v", err)
	}

	// Nothing left to do.
	notices, err = RecoverStale(statePath)
	if err != nil || len(notices) != 0 {
		t.Errorf("second RecoverStale = %q, %v", notices, err)
	}
	checkState(t, c, before, "after the second RecoverStale")
}

func TestIntegrationRecoverStaleWithoutStateFile(t *testing.T) {
	kerneltest.Lock(t)
	c := openControl(t)
	before := snapshot(t, c)
	// Rules left by a recorder that had no state file.
	for _, l := range DefaultRules(deadPID(t)) {
		addRule(t, c, l)
	}
	notices, err := RecoverStale(filepath.Join(t.TempDir(), "none.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(notices) != len(DefaultRules(1)) {
		t.Errorf("notices:\n%s", strings.Join(notices, "\n"))
	}
	checkState(t, c, before, "after RecoverStale")
}

func TestIntegrationRecoverStaleLeavesOthersChanges(t *testing.T) {
	kerneltest.Lock(t)
	c := openControl(t)
	before := snapshot(t, c)
	statePath := filepath.Join(t.TempDir(), "state.json")

	killed := openControl(t)
	if err := killed.Prepare(AuditOptions{Rules: DefaultRules(12345), BacklogLimit: 12345, StatePath: statePath}); err != nil {
		t.Fatal(err)
	}
	simulateKill(t, statePath)
	// Someone else (a restarted auditd) sets the backlog limit since.
	if err := c.client.SetBacklogLimit(9999, libaudit.WaitForReply); err != nil {
		t.Fatal(err)
	}

	notices, err := RecoverStale(statePath)
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, notices, fmt.Sprintf("left the backlog limit at 9999: ctrace found %d and set 12345", before.Status.BacklogLimit))
	st, _ := c.Status()
	if st.BacklogLimit != 9999 {
		t.Errorf("backlog limit %d, want 9999 (someone else's)", st.BacklogLimit)
	}
	want := before
	want.Status.BacklogLimit = 9999
	checkState(t, c, want, "after RecoverStale")
}

func TestIntegrationRecoverStaleRefusesLiveRecorder(t *testing.T) {
	kerneltest.Lock(t)
	c := openControl(t)
	statePath := filepath.Join(t.TempDir(), "state.json")
	if err := c.Prepare(AuditOptions{Rules: DefaultRules(os.Getpid()), StatePath: statePath}); err != nil {
		t.Fatal(err)
	}
	during := snapshot(t, c)

	_, err := RecoverStale(statePath)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("another ctrace recorder (pid %d) is running", os.Getpid())) {
		t.Errorf("RecoverStale with a live recorder: %v", err)
	}
	checkState(t, c, during, "after the refused RecoverStale")
	if err := c.Restore(); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationPrepareRollback(t *testing.T) {
	kerneltest.Lock(t)
	c := openControl(t)
	lines := DefaultRules(os.Getpid())
	// The kernel already has our second rule: adding it fails midway.
	addRule(t, c, lines[1])
	before := snapshot(t, c)
	statePath := filepath.Join(t.TempDir(), "state.json")

	err := c.Prepare(AuditOptions{Rules: lines, StatePath: statePath})
	if err == nil {
		t.Fatal("Prepare succeeded")
	}
	if !strings.HasPrefix(err.Error(), "capture: add rule ") || !strings.Contains(err.Error(), lines[1]) ||
		!strings.Contains(err.Error(), "already has this rule") {
		t.Errorf("error %q does not explain the failure", err)
	}
	checkState(t, c, before, "after the failed Prepare")
	if _, ok := c.Saved(); ok {
		t.Error("prepared after failing")
	}
	if _, err := os.Stat(statePath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file left after a rolled back Prepare: %v", err)
	}
	if err := c.Restore(); err != nil {
		t.Errorf("Restore after a failed Prepare: %v", err)
	}
}

func TestIntegrationPrepareRefusals(t *testing.T) {
	before := kerneltest.Lock(t)
	c := openControl(t)

	// A state file already there: another recorder, or a killed one.
	statePath := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(statePath, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := c.Prepare(AuditOptions{Rules: DefaultRules(os.Getpid()), StatePath: statePath})
	if err == nil || !strings.Contains(err.Error(), "exists: another ctrace recorder is running") {
		t.Errorf("Prepare with an existing state file: %v", err)
	}
	checkState(t, c, before, "after the refused Prepare")

	// Rules that do not build: nothing is touched.
	err = c.Prepare(AuditOptions{Rules: []string{"-a always,exit -S nosuch"}})
	if err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("Prepare with a bad rule: %v", err)
	}
	checkState(t, c, before, "after the bad rule")

	if err := c.Prepare(AuditOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Prepare(AuditOptions{}); err == nil {
		t.Error("second Prepare accepted")
	}
	if err := c.Restore(); err != nil {
		t.Fatal(err)
	}
	checkState(t, c, before, "after Restore")
}

// A user's rules file as the kernel sees it: watches with two keys, the
// user list, a prepended rule, an inter-field comparison.
func TestIntegrationUserRules(t *testing.T) {
	before := kerneltest.Lock(t)
	c := openControl(t)
	user, err := ParseRulesFile(strings.NewReader(`
-w /etc/passwd -p wa -k identity
-w /etc/ -p w
-a always,exit -F arch=b64 -S sethostname,setdomainname -F key=system-locale
-a always,user -F uid=0
-A always,exit -F arch=b32 -S execve -C uid!=euid -F auid>=1000 -F auid!=unset
-a never,exit -F arch=b64 -S mknod -F dir=/dev
`), "user.rules", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	lines := append(DefaultRules(os.Getpid()), user...)
	if err := c.Prepare(AuditOptions{Rules: lines}); err != nil {
		t.Fatal(err)
	}
	if l := auditctlList(t); l != "" {
		t.Logf("auditctl -l:\n%s", l)
	}
	during := snapshot(t, c)
	firstExit := ""
	for _, wf := range during.Rules {
		if !ruleIsCtrace(wf) && !slices.ContainsFunc(before.Rules, func(b []byte) bool { return bytes.Equal(b, wf) }) {
			t.Errorf("kernel rule without the ctrace key: %s", ruleDescribe(wf))
		}
		if d := ruleDescribe(wf); firstExit == "" && strings.HasPrefix(d, "-a always,exit") {
			firstExit = d
		}
	}
	// -A put the rule before the exit rules loaded earlier.
	if !strings.HasPrefix(firstExit, "-a always,exit -F arch=b32 -S execve -C uid!=euid") {
		t.Errorf("the -A rule is not first in the exit list; first is %q", firstExit)
	}
	if got := c.Rules(); !slices.Equal(got, lines) {
		t.Errorf("Rules() = %q", got)
	}
	if err := c.Restore(); err != nil {
		t.Fatal(err)
	}
	checkState(t, c, before, "after Restore")
}

func TestAuditPIDOwner(t *testing.T) {
	if pid, alive, comm := AuditPIDOwner(format.AuditStatus{}); pid != 0 || alive || comm != "" {
		t.Errorf("no audit pid: %d %v %q", pid, alive, comm)
	}
	self, _ := os.ReadFile("/proc/self/comm")
	pid, alive, comm := AuditPIDOwner(format.AuditStatus{PID: uint32(os.Getpid())})
	if pid != os.Getpid() || !alive || comm != strings.TrimSpace(string(self)) {
		t.Errorf("self: %d %v %q", pid, alive, comm)
	}
	dead := deadPID(t)
	if pid, alive, _ := AuditPIDOwner(format.AuditStatus{PID: uint32(dead)}); pid != dead || alive {
		t.Errorf("dead pid %d: %d %v", dead, pid, alive)
	}

	// A zombie (killed, not reaped) holds no socket: free.
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Kill()
	defer cmd.Wait()
	for i := 0; ; i++ {
		if state, _, err := auditProcStat(cmd.Process.Pid); err == nil && state == 'Z' {
			break
		}
		if i == 500 {
			t.Fatal("child did not become a zombie")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, alive, _ := AuditPIDOwner(format.AuditStatus{PID: uint32(cmd.Process.Pid)}); alive {
		t.Error("zombie counted as alive")
	}
}

// TestAuditHelperProcess is run by TestIntegrationNotRoot in a child
// process without privileges.
func TestAuditHelperProcess(t *testing.T) {
	if os.Getenv("CTRACE_AUDIT_HELPER") != "1" {
		t.Skip("helper process")
	}
	_, err := OpenAuditControl()
	fmt.Printf("ERR=%v\nPERM=%v\n", err, errors.Is(err, ErrAuditPermission))
}

func TestIntegrationNotRoot(t *testing.T) {
	kerneltest.Require(t)
	// go test keeps the binary in a directory only root can enter: copy it
	// where nobody can run it.
	dir, err := os.MkdirTemp("", "ctrace-notroot-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "capture.test")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestAuditHelperProcess$", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CTRACE_AUDIT_HELPER=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("cannot run the test binary as nobody: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "PERM=true") ||
		!strings.Contains(string(out), "ERR=capture: not permitted to control kernel audit: run as root") {
		t.Errorf("unprivileged OpenAuditControl:\n%s", out)
	}
}

// A control call the kernel does not answer in time is tried again on a
// fresh socket, with growing pauses; a refusal is not; and a kernel that
// never answers gives an error after controlAttempts attempts.
func TestControlRetriesOnAFreshSocket(t *testing.T) {
	dials := 0
	c := &AuditControl{pause: time.Microsecond, dial: func() (*libaudit.AuditClient, error) { dials++; return nil, nil }}
	calls := 0
	timedOut, err := c.call(func(*libaudit.AuditClient) error {
		calls++
		if calls == 1 {
			return errors.New("no reply received")
		}
		if calls == 2 {
			return errors.New("unexpected sequence number for reply (expected 7 but got 6)")
		}
		return nil
	})
	if err != nil || !timedOut || calls != 3 || dials != 2 || c.retries != 2 {
		t.Errorf("err %v, timed out %v, %d calls, %d dials, %d retries", err, timedOut, calls, dials, c.retries)
	}
	calls = 0
	if timedOut, err := c.call(func(*libaudit.AuditClient) error { calls++; return syscall.EPERM }); !errors.Is(err, syscall.EPERM) || timedOut || calls != 1 {
		t.Errorf("a refusal: err %v, timed out %v, %d calls", err, timedOut, calls)
	}
	calls = 0
	_, err = c.call(func(*libaudit.AuditClient) error { calls++; return fmt.Errorf("request 9: %w", errNoAck) })
	if err == nil || calls != controlAttempts || !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("never answered: err %v after %d calls", err, calls)
	}
	c.dial = func() (*libaudit.AuditClient, error) { return nil, syscall.EMFILE }
	if _, err := c.call(func(*libaudit.AuditClient) error { return errNoAck }); !errors.Is(err, syscall.EMFILE) {
		t.Errorf("a fresh socket that cannot be opened: %v", err)
	}
}

// Under an exec storm, a recorder starts, records and restores the audit
// state it found, and control calls from another client (status, a rule
// added and deleted) meanwhile all succeed.
func TestIntegrationControlUnderExecStorm(t *testing.T) {
	before := kerneltest.Lock(t)
	if _, err := exec.LookPath("gcc"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("gcc is not installed")
		}
		t.Skip("gcc is not installed")
	}
	dir := t.TempDir()
	storm := filepath.Join(dir, "storm")
	if out, err := exec.Command("gcc", "-O2", "-o", storm, "../bench/storm.c", "-lpthread").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	bg := exec.Command(storm, "-w", "2", "-t", "6", "-m", "exec", "-d", dir)
	if err := bg.Start(); err != nil {
		t.Fatal(err)
	}
	defer bg.Wait()
	time.Sleep(500 * time.Millisecond) // the storm is running

	c := openControl(t)
	done := make(chan struct{})
	calls := make(chan error, 1)
	go func() {
		var errs []error
		rule := "-a always,exit -F arch=b64 -S chroot -F key=ctrace-storm-test"
		wfs, err := BuildRules([]string{rule})
		if err != nil {
			calls <- err
			return
		}
		for i := 0; ; i++ {
			select {
			case <-done:
				calls <- errors.Join(errs...)
				return
			default:
			}
			if _, err := c.Status(); err != nil {
				errs = append(errs, err)
			}
			c.mu.Lock()
			if err := c.request(uint16(auparse.AUDIT_ADD_RULE), wfs[0]); err != nil {
				errs = append(errs, fmt.Errorf("add: %w", err))
			}
			if err := c.request(uint16(auparse.AUDIT_DEL_RULE), wfs[0]); err != nil {
				errs = append(errs, fmt.Errorf("delete: %w", err))
			}
			c.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	var stderr bytes.Buffer
	res, err := Record(t.Context(), Options{Output: filepath.Join(dir, "storm.ctr"), NoSnapshot: true,
		Duration: 3 * time.Second, RunDir: filepath.Join(dir, "run"), Stderr: &stderr})
	close(done)
	if cerr := <-calls; cerr != nil {
		t.Errorf("control calls under the storm: %v", cerr)
	}
	if err != nil {
		t.Fatalf("recording under the storm: %v\n%s", err, stderr.String())
	}
	if bg.Process.Signal(syscall.Signal(0)) != nil {
		t.Error("the storm ended before the recording: the restore was not under load")
	}
	checkState(t, c, before, "after the recording, under the storm")
	t.Logf("%d audit frames recorded; the other client's calls were retried %d times", res.Frames["audit"], c.retries)
	if res.Frames["audit"] < 1000 {
		t.Errorf("only %d audit frames: no storm?", res.Frames["audit"])
	}
}

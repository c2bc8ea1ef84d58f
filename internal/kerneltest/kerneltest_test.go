//go:build linux

package kerneltest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/auparse"
	"github.com/elastic/go-libaudit/v2/rule"
	"github.com/elastic/go-libaudit/v2/rule/flags"
)

// recorder is a testing.TB that keeps cleanups and errors for the test to
// run and inspect.
type recorder struct {
	testing.TB
	cleanups []func()
	errors   []string
}

func (r *recorder) Helper()          {}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) runCleanups() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
}

func build(t *testing.T, line string) []byte {
	t.Helper()
	r, err := flags.Parse(line)
	if err != nil {
		t.Fatal(err)
	}
	wf, err := rule.Build(r)
	if err != nil {
		t.Fatal(err)
	}
	return wf
}

func TestLockRestoresEverything(t *testing.T) {
	Lock(t)
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// State found by the guarded "test": two rules of other tools and
	// unusual settings (undone by the outer Lock at the end).
	x := build(t, "-a always,exit -F arch=b64 -S chmod -k kerneltest-x")
	y := build(t, "-w /etc/hosts -p wa -k kerneltest-y")
	for _, r := range [][]byte{x, y} {
		if err := request(c, uint16(auparse.AUDIT_ADD_RULE), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.SetRateLimit(77, libaudit.WaitForReply); err != nil {
		t.Fatal(err)
	}
	inner := &recorder{TB: t}
	want := guard(inner)

	// The guarded test changes everything: deletes x (re-adding it at the
	// end would reorder the rules), adds its own rule, changes settings.
	if err := request(c, uint16(auparse.AUDIT_DEL_RULE), x); err != nil {
		t.Fatal(err)
	}
	if err := request(c, uint16(auparse.AUDIT_ADD_RULE), build(t, "-a always,exit -F arch=b64 -S execve -k kerneltest-z")); err != nil {
		t.Fatal(err)
	}
	for _, set := range []func() error{
		func() error { return c.SetBacklogLimit(4321, libaudit.WaitForReply) },
		func() error { return c.SetBacklogWaitTime(1000, libaudit.WaitForReply) },
		func() error { return c.SetRateLimit(5, libaudit.WaitForReply) },
		func() error { return c.SetFailure(libaudit.FailureMode(0), libaudit.WaitForReply) }, // never 2: panic
		func() error { return c.SetEnabled(want.Status.Enabled == 0, libaudit.WaitForReply) },
	} {
		if err := set(); err != nil {
			t.Fatal(err)
		}
	}
	changed, err := Snapshot(c)
	if err != nil {
		t.Fatal(err)
	}
	if Diff(want, changed) == nil {
		t.Fatal("the state did not change")
	}

	inner.runCleanups()
	if len(inner.errors) > 0 {
		t.Errorf("restore reported: %q", inner.errors)
	}
	got, err := Snapshot(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := Diff(want, got); err != nil {
		t.Errorf("not restored: %v", err)
	}
	if !slices.EqualFunc(got.Rules[len(got.Rules)-2:], [][]byte{x, y}, bytes.Equal) {
		t.Error("rules not back in their order")
	}
}

func TestLockExcludesOtherProcesses(t *testing.T) {
	Lock(t)
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) not installed")
	}
	// Another process (as another package's test binary) cannot take it.
	err := exec.Command("flock", "--nonblock", LockPath, "true").Run()
	if err == nil {
		t.Fatalf("%s could be locked by another process while held", LockPath)
	}
}

// fingerprint summarises the settings and rules of a state.
func fingerprint(s State) string {
	h := fmt.Sprintf("enabled=%d failure=%d rate=%d backlog=%d wait=%d rules=",
		s.Status.Enabled, s.Status.Failure, s.Status.RateLimit, s.Status.BacklogLimit, s.Status.BacklogWaitTime)
	for _, r := range s.Rules {
		h += fmt.Sprintf("%x.", sha256.Sum256(r))
	}
	return h
}

// TestHelperFailingKernelTest is run by TestLockRestoresAfterFailure in a
// child process: a kernel test that changes the audit state and fails.
func TestHelperFailingKernelTest(t *testing.T) {
	if os.Getenv("KERNELTEST_HELPER") != "1" {
		t.Skip("helper process")
	}
	snap := Lock(t)
	fmt.Printf("BEFORE %s\n", fingerprint(snap))
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := request(c, uint16(auparse.AUDIT_ADD_RULE), build(t, "-a always,exit -F arch=b64 -S execve -k kerneltest-fail")); err != nil {
		t.Fatal(err)
	}
	if err := c.SetBacklogLimit(5555, libaudit.WaitForReply); err != nil {
		t.Fatal(err)
	}
	t.Fatal("deliberate failure")
}

func TestLockRestoresAfterFailure(t *testing.T) {
	Require(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFailingKernelTest$", "-test.v")
	cmd.Env = append(os.Environ(), "KERNELTEST_HELPER=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "deliberate failure") {
		t.Fatalf("the helper test did not fail as planned: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "not restored") {
		t.Errorf("the helper's restore reported problems:\n%s", out)
	}
	_, before, ok := strings.Cut(string(out), "BEFORE ")
	before, _, _ = strings.Cut(before, "\n")
	if !ok {
		t.Fatalf("no BEFORE line:\n%s", out)
	}
	now := Lock(t)
	if got := fingerprint(now); got != before {
		t.Errorf("after the failed test the state is\n%s\nwant\n%s", got, before)
	}
}

func TestLockResetsLost(t *testing.T) {
	snap := Lock(t)
	if snap.Status.Lost != 0 {
		t.Skipf("the kernel has lost %d records already: the counter can only be reset to 0", snap.Status.Lost)
	}
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	inner := &recorder{TB: t}
	want := guard(inner)

	// Make the kernel lose records: a backlog of 1, no waiting, a rule
	// that fires on every exec.
	if err := request(c, uint16(auparse.AUDIT_ADD_RULE), build(t, "-a always,exit -F arch=b64 -S execve -k kerneltest-lost")); err != nil {
		t.Fatal(err)
	}
	for _, set := range []func() error{
		func() error { return c.SetBacklogLimit(1, libaudit.WaitForReply) },
		func() error { return c.SetBacklogWaitTime(0, libaudit.WaitForReply) },
		func() error { return c.SetEnabled(true, libaudit.WaitForReply) },
	} {
		if err := set(); err != nil {
			t.Fatal(err)
		}
	}
	var st *libaudit.AuditStatus
	for i := 0; i < 20; i++ {
		var cmds []*exec.Cmd
		for j := 0; j < 20; j++ {
			cmd := exec.Command("true")
			if cmd.Start() == nil {
				cmds = append(cmds, cmd)
			}
		}
		for _, cmd := range cmds {
			cmd.Wait()
		}
		if st, err = c.GetStatus(); err != nil || st.Lost > 0 {
			break
		}
	}
	inner.runCleanups()
	if len(inner.errors) > 0 {
		t.Errorf("restore reported: %q", inner.errors)
	}
	if st == nil || st.Lost == 0 {
		t.Skip("could not make the kernel lose records")
	}
	now, err := Snapshot(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := Diff(want, now); err != nil || now.Status.Lost != 0 {
		t.Errorf("after losing %d records: lost=%d, %v", st.Lost, now.Status.Lost, err)
	}
}

//go:build linux

// Package kerneltest serialises tests that change the kernel's audit
// configuration and puts that configuration back as it was found.
//
// A test that touches kernel audit starts with
//
//	kerneltest.Lock(t)
//
// which skips the test where it cannot run (see Require), waits for kernel
// tests of other packages to finish, snapshots the audit status and rules,
// and registers a cleanup that restores them exactly, also when the test
// fails. Call it first, so that its cleanup runs after the test's own.
package kerneltest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/auparse"
)

// LockPath is the file locked (flock, exclusive) while a kernel test runs.
// It is shared by every package's tests: `go test ./...` runs packages in
// parallel processes.
const LockPath = "/run/ctrace-kernel-test.lock"

// Require skips the test when it cannot touch kernel audit: not root, or a
// kernel without audit. When the environment variable CI is set, not being
// root is a failure instead, so that CI cannot silently skip kernel tests.
// Any other problem (e.g. root without CAP_AUDIT_CONTROL) fails the test.
func Require(t testing.TB) {
	t.Helper()
	if euid := os.Geteuid(); euid != 0 {
		notRoot(t, fmt.Sprintf("kernel audit test needs root (euid is %d)", euid))
	}
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		if unavailable(err) {
			t.Skipf("kernel audit is not available: %v", err)
		}
		t.Fatalf("kerneltest: open audit socket: %v", err)
	}
	defer c.Close()
	if _, err := c.GetStatus(); err != nil {
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			// The kernel answers ECONNREFUSED outside the initial user
			// namespace: root in a rootless container is not root here.
			notRoot(t, fmt.Sprintf("kernel audit refuses this user namespace (not root of the host): %v", err))
		case unavailable(err):
			t.Skipf("kernel audit is not available: %v", err)
		case errors.Is(err, syscall.EPERM):
			t.Fatalf("kerneltest: root, but audit status is not permitted (no CAP_AUDIT_CONTROL, or not the initial pid namespace): %v", err)
		default:
			t.Fatalf("kerneltest: get audit status: %v", err)
		}
	}
}

func notRoot(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(reason + " (CI is set: failing instead of skipping)")
	}
	t.Skip(reason)
}

func unavailable(err error) bool {
	return errors.Is(err, syscall.EPROTONOSUPPORT) || errors.Is(err, syscall.EAFNOSUPPORT)
}

// State is a snapshot of the kernel's audit configuration.
type State struct {
	Status libaudit.AuditStatus
	Rules  [][]byte // wire format, in the kernel's order
}

// Lock calls Require, takes the exclusive lock on LockPath (waiting for it),
// snapshots the audit state, and registers a cleanup that restores the
// snapshot exactly (rules byte for byte and in order; enabled, failure,
// rate limit, backlog limit, backlog wait time) and then unlocks. A restore
// that fails, or a state that differs after it, fails the test. It returns
// the snapshot.
//
// Lock is not reentrant: a subtest of a locked test must not call it again
// (it would wait for its parent forever).
func Lock(t testing.TB) State {
	t.Helper()
	Require(t)

	f, err := os.OpenFile(LockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatalf("kerneltest: %v", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		t.Fatalf("kerneltest: lock %s: %v", LockPath, err)
	}
	t.Cleanup(func() { f.Close() }) // closing the last descriptor unlocks
	return guard(t)
}

// guard snapshots the audit state and registers its restoration.
func guard(t testing.TB) State {
	t.Helper()
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		t.Fatalf("kerneltest: open audit socket: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	snap, err := Snapshot(c)
	if err != nil {
		t.Fatalf("kerneltest: %v", err)
	}
	t.Cleanup(func() {
		if err := Restore(c, snap); err != nil {
			t.Errorf("kerneltest: audit state not restored: %v", err)
		}
		if st, err := c.GetStatus(); err == nil && st.PID == uint32(os.Getpid()) && snap.Status.PID != st.PID {
			t.Errorf("kerneltest: the test left this process registered as the audit pid (close the unicast client)")
		}
	})
	return snap
}

// Snapshot reads the audit status and rules.
func Snapshot(c *libaudit.AuditClient) (State, error) {
	st, err := c.GetStatus()
	if err != nil {
		return State{}, fmt.Errorf("get audit status: %w", err)
	}
	rules, err := c.GetRules()
	if err != nil {
		return State{}, fmt.Errorf("list audit rules: %w", err)
	}
	return State{Status: *st, Rules: rules}, nil
}

// Restore puts the audit rules and settings back as in snap, then checks
// the result. All problems are reported together.
func Restore(c *libaudit.AuditClient, snap State) error {
	var errs []error
	if err := restoreRules(c, snap.Rules); err != nil {
		errs = append(errs, err)
	}
	if err := restoreSettings(c, snap.Status); err != nil {
		errs = append(errs, err)
	}
	if err := resetCounters(c, snap.Status); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	now, err := Snapshot(c)
	if err != nil {
		return err
	}
	return Diff(snap, now)
}

// Diff describes how two states differ in their rules or settings (not in
// counters such as lost and backlog); nil if they do not.
func Diff(want, got State) error {
	var errs []error
	for _, s := range settings {
		if w, g := s.get(&want.Status), s.get(&got.Status); w != g {
			errs = append(errs, fmt.Errorf("%s is %d, want %d", s.name, g, w))
		}
	}
	if !slices.EqualFunc(want.Rules, got.Rules, bytes.Equal) {
		errs = append(errs, fmt.Errorf("rules differ: have %d, want %d", len(got.Rules), len(want.Rules)))
	}
	return errors.Join(errs...)
}

func restoreRules(c *libaudit.AuditClient, want [][]byte) error {
	have, err := c.GetRules()
	if err != nil {
		return fmt.Errorf("list audit rules: %w", err)
	}
	in := func(set [][]byte, r []byte) bool {
		return slices.ContainsFunc(set, func(b []byte) bool { return bytes.Equal(b, r) })
	}

	// Remove what the test added.
	var kept [][]byte
	var errs []error
	for _, r := range have {
		if in(want, r) {
			kept = append(kept, r)
			continue
		}
		if err := request(c, uint16(auparse.AUDIT_DEL_RULE), r); err != nil {
			errs = append(errs, fmt.Errorf("delete rule added by the test: %w", err))
		}
	}
	// kept is now in the kernel's order. From the first position where it
	// departs from want (a rule deleted by the test, or reordered), delete
	// the rest and add want's tail in order: the kernel appends.
	i := 0
	for i < len(kept) && i < len(want) && bytes.Equal(kept[i], want[i]) {
		i++
	}
	if i == len(want) && i == len(kept) {
		return errors.Join(errs...)
	}
	for _, r := range kept[i:] {
		if err := request(c, uint16(auparse.AUDIT_DEL_RULE), r); err != nil {
			errs = append(errs, fmt.Errorf("delete rule to reorder: %w", err))
		}
	}
	for _, r := range want[i:] {
		if err := request(c, uint16(auparse.AUDIT_ADD_RULE), r); err != nil {
			errs = append(errs, fmt.Errorf("re-add rule: %w", err))
		}
	}
	return errors.Join(errs...)
}

type setting struct {
	name string
	get  func(*libaudit.AuditStatus) uint32
	set  func(*libaudit.AuditClient, uint32) error
}

// settings are restored in this order, enabled last.
var settings = []setting{
	{"backlog_limit", func(s *libaudit.AuditStatus) uint32 { return s.BacklogLimit },
		func(c *libaudit.AuditClient, v uint32) error { return c.SetBacklogLimit(v, libaudit.WaitForReply) }},
	{"backlog_wait_time", func(s *libaudit.AuditStatus) uint32 { return s.BacklogWaitTime },
		func(c *libaudit.AuditClient, v uint32) error {
			return c.SetBacklogWaitTime(int32(v), libaudit.WaitForReply)
		}},
	{"rate_limit", func(s *libaudit.AuditStatus) uint32 { return s.RateLimit },
		func(c *libaudit.AuditClient, v uint32) error { return c.SetRateLimit(v, libaudit.WaitForReply) }},
	{"failure", func(s *libaudit.AuditStatus) uint32 { return s.Failure },
		func(c *libaudit.AuditClient, v uint32) error {
			// go-libaudit's FailureMode constants are all 0: convert.
			return c.SetFailure(libaudit.FailureMode(v), libaudit.WaitForReply)
		}},
	{"enabled", func(s *libaudit.AuditStatus) uint32 { return s.Enabled },
		func(c *libaudit.AuditClient, v uint32) error {
			if v > 1 {
				return errors.New("will not lock audit (enabled=2)")
			}
			return c.SetEnabled(v == 1, libaudit.WaitForReply)
		}},
}

func restoreSettings(c *libaudit.AuditClient, want libaudit.AuditStatus) error {
	have, err := c.GetStatus()
	if err != nil {
		return fmt.Errorf("get audit status: %w", err)
	}
	if have.Enabled == 2 && want.Enabled != 2 {
		return errors.New("the test locked audit (enabled=2): the configuration cannot be restored until reboot")
	}
	var errs []error
	for _, s := range settings {
		if w, h := s.get(&want), s.get(have); w != h {
			if err := s.set(c, w); err != nil {
				errs = append(errs, fmt.Errorf("restore %s from %d to %d: %w", s.name, h, w, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Masks of struct audit_status (include/uapi/linux/audit.h) that reset a
// counter to 0; go-libaudit has no helper for them.
const (
	statusLost                  = 0x40 // AUDIT_STATUS_LOST
	statusBacklogWaitTimeActual = 0x80 // AUDIT_STATUS_BACKLOG_WAIT_TIME_ACTUAL
)

// resetCounters sets the lost and backlog_wait_time_actual counters back to
// 0 if they were 0 in the snapshot (the kernel can only reset them to 0).
// A test that enables audit without a reader makes the kernel drop records,
// which auditctl -s shows as lost.
func resetCounters(c *libaudit.AuditClient, want libaudit.AuditStatus) error {
	have, err := c.GetStatus()
	if err != nil {
		return fmt.Errorf("get audit status: %w", err)
	}
	var errs []error
	if want.Lost == 0 && have.Lost != 0 {
		errs = append(errs, resetCounter(c, statusLost))
	}
	if want.BacklogWaitTimeActual == 0 && have.BacklogWaitTimeActual != 0 {
		errs = append(errs, resetCounter(c, statusBacklogWaitTimeActual))
	}
	return errors.Join(errs...)
}

func resetCounter(c *libaudit.AuditClient, mask uint32) error {
	// struct audit_status: 11 u32, mask first.
	data := make([]byte, 11*4)
	binary.NativeEndian.PutUint32(data, mask)
	// The kernel acknowledges with the old counter value, a positive
	// "error".
	err := request(c, libaudit.AuditSet, data)
	var errno syscall.Errno
	if errors.As(err, &errno) && int32(errno) < 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reset audit counter (mask %#x): %w", mask, err)
	}
	return nil
}

// request sends a rule request and returns the kernel's errno: go-libaudit's
// DeleteRule ignores it.
func request(c *libaudit.AuditClient, typ uint16, data []byte) error {
	seq, err := c.Netlink.Send(syscall.NetlinkMessage{
		Header: syscall.NlMsghdr{Type: typ, Flags: syscall.NLM_F_REQUEST | syscall.NLM_F_ACK},
		Data:   data,
	})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var rtyp uint16
		var rseq uint32
		var payload []byte
		_, err := c.Netlink.Receive(true, func(b []byte) ([]syscall.NetlinkMessage, error) {
			if len(b) < syscall.NLMSG_HDRLEN {
				return nil, syscall.EINVAL
			}
			rtyp = binary.NativeEndian.Uint16(b[4:])
			rseq = binary.NativeEndian.Uint32(b[8:])
			payload = bytes.Clone(b[syscall.NLMSG_HDRLEN:])
			return nil, nil
		})
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			if time.Now().After(deadline) {
				return errors.New("no reply from the kernel")
			}
			time.Sleep(time.Millisecond)
			continue
		case err != nil:
			return err
		}
		if rseq == seq && rtyp == syscall.NLMSG_ERROR {
			return libaudit.ParseNetlinkError(payload)
		}
	}
}

//go:build linux

package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/auparse"

	"github.com/ctrace/ctrace/format"
)

// DefaultAuditBacklogLimit is the kernel backlog limit Prepare raises to
// when AuditOptions.BacklogLimit is zero. The kernel default (64) is
// overrun by any burst of process activity.
const DefaultAuditBacklogLimit = 8192

// Errors that callers may want to tell apart (match with errors.Is).
var (
	// ErrAuditUnavailable: the kernel has no audit support (built without
	// it, booted with audit=0) or refuses this namespace.
	ErrAuditUnavailable = errors.New("kernel audit is not available")
	// ErrAuditPermission: the caller lacks CAP_AUDIT_CONTROL (not root) or
	// is not in the initial pid namespace.
	ErrAuditPermission = errors.New("not permitted to control kernel audit")
	// ErrAuditLocked: audit is immutable (enabled=2, auditctl -e 2) until
	// reboot; rules and settings cannot be changed.
	ErrAuditLocked = errors.New("kernel audit configuration is locked (enabled=2)")
)

// auditErr prefixes err with "capture: " and the operation, and marks the
// errors that mean "no audit here" or "not allowed".
func auditErr(op string, err error) error {
	switch {
	case errors.Is(err, syscall.EPROTONOSUPPORT), errors.Is(err, syscall.EAFNOSUPPORT):
		return fmt.Errorf("capture: %w (kernel built without audit or booted with audit=0): %s: %w",
			ErrAuditUnavailable, op, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("capture: %w (kernel without audit, or running in a user namespace such as a rootless container): %s: %w",
			ErrAuditUnavailable, op, err)
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return fmt.Errorf("capture: %w: run as root (CAP_AUDIT_CONTROL) in the initial pid namespace: %s: %w",
			ErrAuditPermission, op, err)
	}
	return fmt.Errorf("capture: %s: %w", op, err)
}

// AuditOptions configure AuditControl.Prepare.
type AuditOptions struct {
	// Rules are auditctl-style lines (DefaultRules, ParseRulesFile).
	Rules []string
	// BacklogLimit is the minimum kernel backlog limit during the
	// recording; 0 means DefaultAuditBacklogLimit. A higher limit already
	// set is kept.
	BacklogLimit uint32
	// StatePath, if set, is where Prepare records the audit state it
	// found (JSON, mode 0600), so that RecoverStale can undo the changes
	// of a recorder that was killed. Restore removes it.
	StatePath string
}

// AuditControl changes the kernel's audit configuration for a recording
// and puts it back afterwards. It owns a dedicated netlink control socket:
// never use the socket that receives events for control requests, as
// go-libaudit discards the events that arrive while it waits for a reply.
//
// The methods are safe for concurrent use (Restore may be called from a
// signal handler goroutine while another goroutine records).
type AuditControl struct {
	mu     sync.Mutex
	client *libaudit.AuditClient
	// dial opens a control socket (libaudit.NewAuditClient; tests replace
	// it), and retries counts the calls tried again on a fresh one.
	dial    func() (*libaudit.AuditClient, error)
	pause   time.Duration // before the second attempt (controlPause)
	retries int

	prepared  bool
	saved     format.AuditStatus // found by Prepare
	added     [][]byte           // rules Prepare loaded, wire format, in order
	lines     []string           // the same as auditctl lines
	statePath string
}

// OpenAuditControl opens a control socket to the kernel audit subsystem and
// checks that the caller may use it.
func OpenAuditControl() (*AuditControl, error) {
	dial := func() (*libaudit.AuditClient, error) { return libaudit.NewAuditClient(nil) }
	client, err := dial()
	if err != nil {
		return nil, auditErr("open audit control socket", err)
	}
	c := &AuditControl{client: client, dial: dial, pause: controlPause}
	if _, err := c.status(); err != nil {
		c.client.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the control socket. It does not restore anything: call
// Restore first.
func (c *AuditControl) Close() error {
	if c.client == nil {
		return nil
	}
	return c.client.Close()
}

// Control calls under load. The kernel answers a control request from a
// thread that can wait behind a heavy audit backlog; go-libaudit gives up
// after 500 ms ("no reply received"), and the late answer then arrives on
// the socket where the next request takes it for its own ("unexpected
// sequence number"). So a call the kernel did not answer in time is tried
// again on a fresh socket, after a pause that grows, up to controlAttempts
// times: a recorder must not fail to start, nor to restore the audit
// state, because the machine is busy.
const controlAttempts = 8

// controlPause is the pause before the second attempt; it doubles after
// each (8 attempts wait about 25 s in all).
const controlPause = 100 * time.Millisecond

// errNoAck: waitAuditAck saw no acknowledgement in time.
var errNoAck = errors.New("no acknowledgement from the kernel")

// slowReply reports whether err says the kernel did not answer in time.
func slowReply(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, errNoAck) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "no reply received") || strings.Contains(msg, "unexpected sequence number")
}

// call runs fn with the control socket, again on a fresh socket while the
// kernel does not answer in time. timedOut reports whether an attempt
// timed out (the kernel may have done what it was asked all the same).
func (c *AuditControl) call(fn func(*libaudit.AuditClient) error) (timedOut bool, err error) {
	pause := c.pause
	for attempt := 0; attempt < controlAttempts; attempt++ {
		if attempt > 0 {
			timedOut = true
			time.Sleep(pause)
			pause *= 2
			if c.client != nil {
				c.client.Close()
				c.client = nil
			}
			client, derr := c.dial()
			if derr != nil {
				return timedOut, errors.Join(err, auditErr("open a fresh audit control socket", derr))
			}
			c.client = client
			c.retries++
		}
		if err = fn(c.client); !slowReply(err) {
			return timedOut, err
		}
	}
	return timedOut, fmt.Errorf("capture: the kernel did not answer in %d attempts: %w", controlAttempts, err)
}

// Status reads the kernel's audit status (AUDIT_GET).
func (c *AuditControl) Status() (format.AuditStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status()
}

func (c *AuditControl) status() (format.AuditStatus, error) {
	var st *libaudit.AuditStatus
	_, err := c.call(func(cl *libaudit.AuditClient) (err error) {
		st, err = cl.GetStatus()
		return err
	})
	if err != nil {
		return format.AuditStatus{}, auditErr("get audit status", err)
	}
	return format.AuditStatus{
		Enabled:         st.Enabled,
		Failure:         st.Failure,
		PID:             st.PID,
		RateLimit:       st.RateLimit,
		BacklogLimit:    st.BacklogLimit,
		Lost:            st.Lost,
		Backlog:         st.Backlog,
		FeatureBitmap:   st.FeatureBitmap,
		BacklogWaitTime: st.BacklogWaitTime,
	}, nil
}

// Saved returns the status Prepare found, and whether Prepare has run and
// not been undone by Restore.
func (c *AuditControl) Saved() (format.AuditStatus, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.saved, c.prepared
}

// Rules returns the rules Prepare loaded and Restore has not yet removed,
// as auditctl lines.
func (c *AuditControl) Rules() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lines)
}

// Prepare saves the audit status, raises the backlog limit, enables audit
// if it was disabled and loads opts.Rules, remembering exactly which rules
// it loaded. If anything fails midway, what was done is undone and the
// error says what failed. It refuses to run when audit is locked
// (ErrAuditLocked) or when opts.StatePath already exists (another recorder
// runs, or one was killed: see RecoverStale).
//
// The state file is written before the first change, so that a recorder
// killed even during Prepare can be cleaned up after.
func (c *AuditControl) Prepare(opts AuditOptions) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prepared {
		return errors.New("capture: audit already prepared; call Restore first")
	}
	limit := opts.BacklogLimit
	if limit == 0 {
		limit = DefaultAuditBacklogLimit
	}
	wfs, err := BuildRules(opts.Rules)
	if err != nil {
		return err
	}

	saved, err := c.status()
	if err != nil {
		return err
	}
	if saved.Enabled == 2 {
		return fmt.Errorf("capture: %w: rules cannot be loaded until reboot "+
			"(audit was locked with auditctl -e 2, often by the last line of audit.rules)", ErrAuditLocked)
	}
	applied := saved
	applied.BacklogLimit = max(saved.BacklogLimit, limit)
	if saved.Enabled == 0 {
		applied.Enabled = 1
	}

	if opts.StatePath != "" {
		if err := writeAuditState(opts.StatePath, saved, applied, opts.Rules); err != nil {
			return err
		}
	}
	c.prepared, c.saved, c.statePath = true, saved, opts.StatePath
	c.added, c.lines = nil, nil

	err = c.apply(saved, applied, wfs, opts.Rules)
	if err != nil {
		if rerr := c.restoreLocked(); rerr != nil {
			return errors.Join(err, fmt.Errorf("capture: undoing the failed preparation: %w", rerr))
		}
		return err
	}
	return nil
}

// apply makes the changes of Prepare, recording each rule as soon as the
// kernel has accepted it.
func (c *AuditControl) apply(saved, applied format.AuditStatus, wfs [][]byte, lines []string) error {
	if applied.BacklogLimit != saved.BacklogLimit {
		if _, err := c.call(func(cl *libaudit.AuditClient) error {
			return cl.SetBacklogLimit(applied.BacklogLimit, libaudit.WaitForReply)
		}); err != nil {
			return auditErr(fmt.Sprintf("set backlog limit to %d", applied.BacklogLimit), err)
		}
	}
	if applied.Enabled != saved.Enabled {
		if _, err := c.call(func(cl *libaudit.AuditClient) error { return cl.SetEnabled(true, libaudit.WaitForReply) }); err != nil {
			return auditErr("enable audit", err)
		}
	}
	for i, wf := range wfs {
		if slices.ContainsFunc(wfs[:i], func(b []byte) bool { return bytes.Equal(b, wf) }) {
			continue // the same rule twice: the kernel would say EEXIST
		}
		err := c.addRule(wf)
		if errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("capture: add rule %q: the kernel already has this rule "+
				"(left by a killed recorder? RemoveStaleRules removes it)", lines[i])
		}
		if err != nil {
			return auditErr(fmt.Sprintf("add rule %q", lines[i]), err)
		}
		c.added = append(c.added, ruleStored(wf))
		c.lines = append(c.lines, lines[i])
	}
	return nil
}

// Restore deletes exactly the rules Prepare loaded (checking by listing the
// kernel's rules afterwards) and sets back every saved setting that differs
// now: backlog limit, backlog wait time, rate limit, failure mode, enabled.
// It then removes the state file. All errors are collected. Restore does
// nothing if Prepare has not run or everything was already restored, so it
// is safe to call twice; after a failure, calling it again retries what is
// left.
func (c *AuditControl) Restore() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.prepared {
		return nil
	}
	return c.restoreLocked()
}

func (c *AuditControl) restoreLocked() error {
	var errs []error

	// Reverse order, like a stack. ENOENT means the rule is gone already
	// (auditctl -D by someone): nothing left to do for it.
	for i := len(c.added) - 1; i >= 0; i-- {
		err := c.request(uint16(auparse.AUDIT_DEL_RULE), c.added[i])
		if err != nil && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, auditErr(fmt.Sprintf("delete rule %q", c.lines[i]), err))
		}
	}
	if len(c.added) > 0 {
		left, err := c.remaining(c.added)
		if err != nil {
			errs = append(errs, err)
		} else {
			var added [][]byte
			var lines []string
			for i, wf := range c.added {
				if slices.ContainsFunc(left, func(b []byte) bool { return bytes.Equal(b, wf) }) {
					added, lines = append(added, wf), append(lines, c.lines[i])
					errs = append(errs, fmt.Errorf("capture: rule %q is still loaded after deleting it", c.lines[i]))
				}
			}
			c.added, c.lines = added, lines
		}
	}

	cur, err := c.status()
	if err != nil {
		errs = append(errs, err)
	} else {
		_, serrs := restoreAuditSettings(c.call, cur, c.saved, nil)
		errs = append(errs, serrs...)
		if len(serrs) == 0 {
			errs = append(errs, c.checkSettings())
		}
	}

	if err := errors.Join(errs...); err != nil {
		return err
	}
	if c.statePath != "" {
		if err := os.Remove(c.statePath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("capture: remove state file: %w", err)
		}
	}
	c.prepared = false
	return nil
}

// checkSettings reads the status back and compares it with the saved one.
func (c *AuditControl) checkSettings() error {
	now, err := c.status()
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range auditSettings {
		if s.get(now) != s.get(c.saved) {
			errs = append(errs, fmt.Errorf("capture: %s is %d after restoring it to %d", s.name, s.get(now), s.get(c.saved)))
		}
	}
	return errors.Join(errs...)
}

// remaining returns those of wfs that the kernel still has.
func (c *AuditControl) remaining(wfs [][]byte) ([][]byte, error) {
	rules, err := c.rules()
	if err != nil {
		return nil, auditErr("list rules", err)
	}
	var left [][]byte
	for _, r := range rules {
		if slices.ContainsFunc(wfs, func(b []byte) bool { return bytes.Equal(b, r) }) {
			left = append(left, r)
		}
	}
	return left, nil
}

// RemoveStaleRules deletes the kernel rules whose keys include RuleKey,
// except those this AuditControl loaded itself, and returns them as
// auditctl-like lines so that the caller can tell the user. Rules of other
// tools (without the ctrace key) are never touched. It must not run while
// another ctrace recorder is active (RecoverStale checks that).
func (c *AuditControl) RemoveStaleRules() ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rules, err := c.rules()
	if err != nil {
		return nil, auditErr("list rules", err)
	}
	ours := func(wf []byte) bool {
		return slices.ContainsFunc(c.added, func(b []byte) bool { return bytes.Equal(b, wf) })
	}
	var stale [][]byte
	var removed []string
	var errs []error
	for _, wf := range rules {
		if !ruleIsCtrace(wf) || ours(wf) {
			continue
		}
		desc := ruleDescribe(wf)
		err := c.request(uint16(auparse.AUDIT_DEL_RULE), wf)
		if err != nil && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, auditErr(fmt.Sprintf("delete stale rule %q", desc), err))
			continue
		}
		stale = append(stale, wf)
		removed = append(removed, desc)
	}
	if len(stale) > 0 {
		left, err := c.remaining(stale)
		if err != nil {
			errs = append(errs, err)
		}
		for _, wf := range left {
			errs = append(errs, fmt.Errorf("capture: stale rule %q is still loaded after deleting it", ruleDescribe(wf)))
		}
	}
	return removed, errors.Join(errs...)
}

// request sends one rule request (AUDIT_ADD_RULE, AUDIT_DEL_RULE) and
// returns the kernel's answer as an errno. go-libaudit's DeleteRule ignores
// that answer and its AddRule turns EEXIST into an untyped error, hence
// this.
func (c *AuditControl) request(typ uint16, data []byte) error {
	_, err := c.requestTimed(typ, data)
	return err
}

// requestTimed is request, and whether an attempt timed out.
func (c *AuditControl) requestTimed(typ uint16, data []byte) (bool, error) {
	timedOut, err := c.call(func(cl *libaudit.AuditClient) error {
		seq, err := cl.Netlink.Send(syscall.NetlinkMessage{
			Header: syscall.NlMsghdr{Type: typ, Flags: syscall.NLM_F_REQUEST | syscall.NLM_F_ACK},
			Data:   data,
		})
		if err != nil {
			return err
		}
		return waitAuditAck(cl.Netlink, seq)
	})
	if timedOut && typ == uint16(auparse.AUDIT_DEL_RULE) && errors.Is(err, syscall.ENOENT) {
		return true, nil // an attempt that timed out deleted it
	}
	return timedOut, err
}

// addRule adds a rule. When an attempt timed out and the next one finds
// the rule there (EEXIST), the attempt that timed out had added it.
func (c *AuditControl) addRule(wf []byte) error {
	timedOut, err := c.requestTimed(uint16(auparse.AUDIT_ADD_RULE), wf)
	if timedOut && errors.Is(err, syscall.EEXIST) {
		return nil
	}
	return err
}

// rules lists the kernel's rules.
func (c *AuditControl) rules() ([][]byte, error) {
	var rules [][]byte
	_, err := c.call(func(cl *libaudit.AuditClient) (err error) {
		rules, err = cl.GetRules()
		return err
	})
	return rules, err
}

// waitAuditAck reads replies until the NLMSG_ERROR acknowledging seq and
// returns its errno (nil for success). Replies to earlier requests are
// skipped.
func waitAuditAck(nl libaudit.NetlinkReceiver, seq uint32) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		var hdr syscall.NlMsghdr
		var payload []byte
		_, err := nl.Receive(true, func(b []byte) ([]syscall.NetlinkMessage, error) {
			if len(b) < syscall.NLMSG_HDRLEN {
				return nil, syscall.EINVAL
			}
			ne := binary.NativeEndian
			hdr.Type = ne.Uint16(b[4:])
			hdr.Seq = ne.Uint32(b[8:])
			payload = bytes.Clone(b[syscall.NLMSG_HDRLEN:])
			return nil, nil
		})
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			if time.Now().After(deadline) {
				return fmt.Errorf("request %d: %w", seq, errNoAck)
			}
			time.Sleep(time.Millisecond)
			continue
		case err != nil:
			return err
		}
		if hdr.Seq == seq && hdr.Type == syscall.NLMSG_ERROR {
			return libaudit.ParseNetlinkError(payload)
		}
	}
}

// auditSetting is one restorable field of the audit status.
type auditSetting struct {
	name string
	get  func(format.AuditStatus) uint32
	set  func(*libaudit.AuditClient, uint32) error
}

// auditSettings are restored in this order; enabled last, so that a
// failure to change the others is not hidden by audit being off.
var auditSettings = []auditSetting{
	{"backlog limit", func(s format.AuditStatus) uint32 { return s.BacklogLimit },
		func(c *libaudit.AuditClient, v uint32) error { return c.SetBacklogLimit(v, libaudit.WaitForReply) }},
	{"backlog wait time", func(s format.AuditStatus) uint32 { return s.BacklogWaitTime },
		func(c *libaudit.AuditClient, v uint32) error {
			return c.SetBacklogWaitTime(int32(v), libaudit.WaitForReply)
		}},
	{"rate limit", func(s format.AuditStatus) uint32 { return s.RateLimit },
		func(c *libaudit.AuditClient, v uint32) error { return c.SetRateLimit(v, libaudit.WaitForReply) }},
	// go-libaudit's FailureMode constants are all 0: convert the number.
	{"failure mode", func(s format.AuditStatus) uint32 { return s.Failure },
		func(c *libaudit.AuditClient, v uint32) error {
			return c.SetFailure(libaudit.FailureMode(v), libaudit.WaitForReply)
		}},
	{"enabled flag", func(s format.AuditStatus) uint32 { return s.Enabled },
		func(c *libaudit.AuditClient, v uint32) error {
			if v > 1 {
				return errors.New("will not lock audit (enabled=2)")
			}
			return c.SetEnabled(v == 1, libaudit.WaitForReply)
		}},
}

// restoreAuditSettings sets every setting of cur that differs from saved
// back to its saved value. When applied is not nil (the values a recorder
// set), a setting that is neither saved nor applied was changed by someone
// else since and is left alone. It returns notices of what it did.
func restoreAuditSettings(call func(func(*libaudit.AuditClient) error) (bool, error), cur, saved format.AuditStatus, applied *format.AuditStatus) ([]string, []error) {
	var notices []string
	var errs []error
	if cur.Enabled == 2 {
		for _, s := range auditSettings {
			if s.get(cur) != s.get(saved) {
				errs = append(errs, fmt.Errorf("capture: cannot restore %s to %d: %w since, until reboot",
					s.name, s.get(saved), ErrAuditLocked))
			}
		}
		return nil, errs
	}
	for _, s := range auditSettings {
		now, was := s.get(cur), s.get(saved)
		if now == was {
			continue
		}
		if applied != nil && now != s.get(*applied) {
			notices = append(notices, fmt.Sprintf("left the %s at %d: ctrace found %d and set %d, so someone else changed it since",
				s.name, now, was, s.get(*applied)))
			continue
		}
		if _, err := call(func(cl *libaudit.AuditClient) error { return s.set(cl, was) }); err != nil {
			errs = append(errs, auditErr(fmt.Sprintf("restore %s from %d to %d", s.name, now, was), err))
			continue
		}
		notices = append(notices, fmt.Sprintf("restored the %s from %d to %d", s.name, now, was))
	}
	return notices, errs
}

//go:build linux

package capture

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ctrace/ctrace/format"
)

// auditState is the JSON state file a recorder writes while it has changed
// the kernel's audit configuration.
type auditState struct {
	RecorderPID   int    `json:"recorder_pid"`
	RecorderStart uint64 `json:"recorder_start_ticks,omitempty"` // /proc/PID/stat field 22, against pid reuse
	// Saved is the status found before any change.
	Saved format.AuditStatus `json:"saved"`
	// Applied holds the settings as the recorder set them. Settings found
	// with other values later were changed by someone else and are left
	// alone. Absent: restore every setting.
	Applied *format.AuditStatus `json:"applied,omitempty"`
	Rules   []string            `json:"rules,omitempty"` // for humans; stale rules are found by key
	Created time.Time           `json:"created"`
}

// writeAuditState creates the state file; it must not exist yet.
func writeAuditState(path string, saved, applied format.AuditStatus, rules []string) error {
	st := auditState{
		RecorderPID: os.Getpid(),
		Saved:       saved,
		Applied:     &applied,
		Rules:       rules,
		Created:     time.Now().UTC(),
	}
	if _, start, err := auditProcStat(st.RecorderPID); err == nil {
		st.RecorderStart = start
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("capture: state file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("capture: state file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("capture: state file %s exists: another ctrace recorder is running, "+
			"or one was killed before restoring the audit configuration (RecoverStale cleans up after it)", path)
	}
	if err != nil {
		return fmt.Errorf("capture: state file: %w", err)
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("capture: write state file: %w", err)
	}
	return nil
}

// readAuditState reads the state file; (nil, nil) if there is none.
func readAuditState(path string) (*auditState, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("capture: read state file: %w", err)
	}
	var st auditState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("capture: state file %s is corrupt (%v); check `auditctl -s` and remove it", path, err)
	}
	return &st, nil
}

// RecoverStale cleans up after a recorder that was killed before it could
// restore the audit configuration. It is meant to run when a recorder
// starts, before AuditControl.Prepare.
//
// If the state file at statePath exists and the recorder that wrote it is
// still running, it returns an error and changes nothing. Otherwise it
// deletes the kernel rules carrying the ctrace key, restores the settings
// the state file recorded (enabled, backlog limit, backlog wait time, rate
// limit, failure mode; a setting changed again by someone else since is
// left alone) and removes the file. Stale ctrace rules are removed even
// without a state file. The returned notices say what was done, for the
// user.
func RecoverStale(statePath string) (notices []string, err error) {
	st, err := readAuditState(statePath)
	if err != nil {
		return nil, err
	}
	if st != nil && auditRecorderAlive(st.RecorderPID, st.RecorderStart) {
		return nil, fmt.Errorf("capture: another ctrace recorder (pid %d) is running (state file %s)",
			st.RecorderPID, statePath)
	}

	c, err := OpenAuditControl()
	if err != nil {
		return nil, err
	}
	defer c.Close()

	if st != nil {
		notices = append(notices, fmt.Sprintf("a previous ctrace recorder (pid %d, started %s) did not restore the audit configuration; restoring it from %s",
			st.RecorderPID, st.Created.Local().Format(time.DateTime), statePath))
	}
	removed, rerr := c.RemoveStaleRules()
	for _, r := range removed {
		notices = append(notices, "removed stale ctrace audit rule: "+r)
	}
	errs := []error{rerr}
	if st == nil {
		return notices, errors.Join(errs...)
	}

	cur, err := c.Status()
	if err != nil {
		return notices, errors.Join(rerr, err)
	}
	done, serrs := restoreAuditSettings(c.call, cur, st.Saved, st.Applied)
	notices = append(notices, done...)
	errs = append(errs, serrs...)
	if err := errors.Join(errs...); err != nil {
		return notices, err // keep the state file for another try
	}
	if err := os.Remove(statePath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return notices, fmt.Errorf("capture: remove state file: %w", err)
	}
	notices = append(notices, "removed state file "+statePath)
	return notices, nil
}

// auditRecorderAlive reports whether the recorder that wrote a state file still
// runs: the pid is live (not a zombie) and not reused (same start time,
// when known). This process counts too: its file belongs to a live
// AuditControl.
func auditRecorderAlive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	state, st, err := auditProcStat(pid)
	if err != nil || state == 'Z' || state == 'X' {
		return false
	}
	return start == 0 || st == start
}

// AuditPIDOwner says who holds the kernel's audit pid in st (the process
// receiving unicast audit events, normally auditd): its pid, whether it is
// alive, and its command name (/proc/PID/comm). pid 0 means nobody. A
// registered pid whose process is dead or a zombie counts as free: the
// kernel accepts a new AUDIT_SET pid then.
func AuditPIDOwner(st format.AuditStatus) (pid int, alive bool, comm string) {
	pid = int(st.PID)
	if pid == 0 {
		return 0, false, ""
	}
	state, _, err := auditProcStat(pid)
	if err != nil || state == 'Z' || state == 'X' {
		return pid, false, ""
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
		comm = strings.TrimSuffix(string(b), "\n")
	}
	return pid, true, comm
}

// auditProcStat returns the state letter and start time (clock ticks since
// boot) of a process from /proc/PID/stat.
func auditProcStat(pid int) (state byte, start uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The comm field may hold spaces and parentheses: fields resume after
	// the last ')'. Then: state(3) ppid(4) ... starttime(22).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("malformed /proc/%d/stat: %w", pid, err)
	}
	return f[0][0], start, nil
}

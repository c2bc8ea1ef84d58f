//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"

	"github.com/ctrace/ctrace/internal/kerneltest"
)

// Locks this benchmark takes. The kernel test lock serializes it with the
// kernel tests of every package (internal/kerneltest); the recorder lock
// keeps other ctrace recorders from starting while the discard consumer or
// auditd is the audit daemon (it is released while ctrace itself records).
const (
	kernelTestLock = kerneltest.LockPath
	recorderLock   = "/run/ctrace/record.lock"
)

// fileLock is an flock(2)-ed file.
type fileLock struct {
	path string
	f    *os.File
}

// lockFile takes an exclusive flock on path, waiting at most wait. It says
// once on stderr that it waits, with what the file holds (a pid for the
// recorder lock).
func lockFile(path string, wait time.Duration, what string) (*fileLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	said := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &fileLock{path: path, f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%s is still locked after %v (%s)", path, wait, what)
		}
		if !said {
			holder, _ := os.ReadFile(path)
			h := strings.TrimSpace(string(holder))
			if h != "" {
				h = " (pid " + h + ")"
			}
			logf("waiting for %s%s: %s", path, h, what)
			said = true
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// writePID records this process as the holder, as ctrace's recorder does.
func (l *fileLock) writePID() {
	_ = l.f.Truncate(0)
	_, _ = l.f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
}

func (l *fileLock) unlock() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// auditKernel is the control connection to kernel audit (never the audit
// daemon itself).
type auditKernel struct {
	// mu serializes changes of the kernel's audit state: an interrupt
	// restores the saved state while the rounds may be loading rules.
	mu      sync.Mutex
	c       *libaudit.AuditClient
	saved   kerneltest.State
	savedOK bool // saved holds the state to restore
}

// errAborted: the run was interrupted; the kernel is left to restore.
var errAborted = errors.New("aborted")

func openAuditKernel() (*auditKernel, error) {
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		return nil, fmt.Errorf("audit control socket: %w", err)
	}
	return &auditKernel{c: c}, nil
}

// status reads the audit status. Under audit backpressure the kernel makes
// a requester wait, and go-libaudit gives up on a reply after 500 ms; the
// late reply then answers the next request on that socket and every later
// one fails with a sequence mismatch. So a failed request gets a fresh
// socket and another try.
func (k *auditKernel) status() (*libaudit.AuditStatus, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
			if rerr := k.reconnect(); rerr != nil {
				return nil, rerr
			}
		}
		var st *libaudit.AuditStatus
		if st, err = k.c.GetStatus(); err == nil {
			return st, nil
		}
	}
	return nil, fmt.Errorf("audit status: %w", err)
}

// reconnect replaces the control socket (k.mu held).
func (k *auditKernel) reconnect() error {
	k.c.Close()
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		return fmt.Errorf("audit control socket: %w", err)
	}
	k.c = c
	return nil
}

// daemonAlive returns the registered audit daemon's pid and comm when a live
// process is registered.
func (k *auditKernel) daemonAlive() (pid int, comm string, alive bool, err error) {
	st, err := k.status()
	if err != nil {
		return 0, "", false, err
	}
	if st.PID == 0 {
		return 0, "", false, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", st.PID))
	if err != nil {
		return int(st.PID), "", false, nil // registered, but dead: the kernel lets the next one in
	}
	return int(st.PID), strings.TrimSpace(string(b)), true, nil
}

// waitNoDaemon waits until no live process is the audit daemon. A system
// auditd does not go away by itself: it is an error at once.
func (k *auditKernel) waitNoDaemon(wait time.Duration) error {
	deadline := time.Now().Add(wait)
	said := false
	for {
		pid, comm, alive, err := k.daemonAlive()
		if err != nil {
			return err
		}
		if !alive {
			return nil
		}
		if comm == "auditd" && !ours(pid) {
			return fmt.Errorf("auditd (pid %d) is the audit daemon: stop it for the benchmark (systemctl stop auditd); the benchmark starts its own", pid)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s (pid %d) is still the audit daemon after %v", comm, pid, wait)
		}
		if !said {
			logf("waiting for %s (pid %d) to stop being the audit daemon", comm, pid)
			said = true
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// save snapshots the audit rules and settings for restore, and writes them
// as auditctl prints them to textPath, for a person if restoring fails.
func (k *auditKernel) save(textPath string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, err := kerneltest.Snapshot(k.c)
	if err != nil {
		return err
	}
	if s.Status.Enabled == 2 {
		return errors.New("kernel audit is locked (enabled=2): the benchmark cannot change rules until reboot")
	}
	k.saved, k.savedOK = s, true
	st, _ := exec.Command("auditctl", "-s").CombinedOutput()
	rl, _ := exec.Command("auditctl", "-l").CombinedOutput()
	_ = os.WriteFile(textPath, []byte("# kernel audit state found by bench-record at "+time.Now().Format(time.RFC3339)+
		"\n# auditctl -s\n"+string(st)+"# auditctl -l\n"+string(rl)), 0o600)
	return nil
}

// restore puts back the saved rules and settings exactly (and resets the
// lost counter if it was 0), then checks them; on a fresh control socket,
// with retries (see status).
func (k *auditKernel) restore() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Second)
		}
		if err = k.reconnect(); err != nil {
			continue
		}
		if err = kerneltest.Restore(k.c, k.saved); err == nil {
			return nil
		}
	}
	return err
}

// quiet removes every rule and disables audit: the benchmark's clean
// slate. The saved state is put back by restore.
func (k *auditKernel) quiet() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if aborting.Load() {
		return errAborted
	}
	if err := auditctl("-e", "0"); err != nil {
		return err
	}
	if len(k.saved.Rules) > 0 {
		logf("removing %d audit rule(s) for the benchmark; they are restored at the end", len(k.saved.Rules))
	}
	return auditctl("-D")
}

// auditctl runs auditctl with args.
func auditctl(args ...string) error {
	out, err := exec.Command("auditctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("auditctl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// unknownSyscall reports whether auditctl refused a rule for a syscall name
// it does not know.
func unknownSyscall(err error) bool {
	return strings.Contains(err.Error(), "Syscall name unknown")
}

var pidFilter = regexp.MustCompile(`-F pid!=\d+`)

// rulesFor returns ctrace's default rules with the self-exclusion pointed at
// the collector pid.
func rulesFor(defaults []string, pid int) []string {
	out := make([]string, len(defaults))
	for i, r := range defaults {
		out[i] = pidFilter.ReplaceAllString(r, fmt.Sprintf("-F pid!=%d", pid))
	}
	return out
}

// loadRules loads rules with auditctl, raises the backlog limit as ctrace
// does (to at least 8192) and enables audit.
func (k *auditKernel) loadRules(rules []string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if aborting.Load() {
		return errAborted
	}
	for _, r := range rules {
		if err := auditctl(strings.Fields(r)...); err != nil {
			if unknownSyscall(err) {
				continue // a syscall newer than this auditctl (fchmodat2): the storm makes none
			}
			return err
		}
	}
	if k.saved.Status.BacklogLimit < 8192 {
		if err := auditctl("-b", "8192"); err != nil {
			return err
		}
	}
	return auditctl("-e", "1")
}

// unloadRules disables audit and deletes rules loaded by loadRules.
func (k *auditKernel) unloadRules(rules []string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if aborting.Load() {
		return errAborted
	}
	var errs []error
	if err := auditctl("-e", "0"); err != nil {
		errs = append(errs, err)
	}
	for _, r := range rules {
		f := strings.Fields(r)
		if len(f) > 0 && f[0] == "-a" {
			f[0] = "-d"
		}
		if err := auditctl(f...); err != nil && !unknownSyscall(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cpuSeconds reads utime+stime of a whole process (every thread, dead ones
// included) from /proc/PID/stat.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b), clockTicks)
}

// parseStatCPU takes fields 14 and 15 (utime, stime) of a /proc/PID/stat
// line; the comm field (2) may hold spaces and parentheses.
func parseStatCPU(stat string, ticks int) (float64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat line")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("short /proc stat line")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed utime/stime in /proc stat line")
	}
	return float64(ut+st) / float64(ticks), nil
}

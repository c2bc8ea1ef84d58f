package groundtruth

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// Event is one line of a workload's ground truth. Which fields are set
// depends on Ev; see testdata/workloads/truth.h for the schema.
type Event struct {
	Ev     string   `json:"ev"`
	PID    int      `json:"pid"`
	PPID   int      `json:"ppid,omitempty"`
	TID    int      `json:"tid,omitempty"`
	Role   string   `json:"role,omitempty"`
	Exe    string   `json:"exe,omitempty"`
	Argv   []string `json:"argv,omitempty"`
	Path   string   `json:"path,omitempty"`
	Op     string   `json:"op,omitempty"`
	FD     *int     `json:"fd,omitempty"`
	Code   *int     `json:"code,omitempty"`
	Signal int      `json:"signal,omitempty"`

	// Line is the line number in the truth output (1-based), for messages.
	Line int `json:"-"`
}

// Event kinds.
const (
	EvProcess    = "process"
	EvThread     = "thread"
	EvExec       = "exec"
	EvReparent   = "reparent"
	EvWrite      = "write"
	EvNotWritten = "not_written"
	EvNoOp       = "no_op"
	EvOpenAtExit = "open_at_exit"
	EvExit       = "exit"
	EvKilled     = "killed"
)

// File operations of write and no_op events.
const (
	OpCreate    = "create"
	OpTruncate  = "truncate"
	OpRenameTo  = "rename_to"
	OpUnlink    = "unlink"
	OpOpenWrite = "open_write"
)

func (e Event) String() string {
	b, _ := json.Marshal(e)
	return fmt.Sprintf("truth line %d %s", e.Line, b)
}

// Truth is a workload's ground truth, in the order it was printed.
type Truth []Event

// ParseTruth reads JSON lines and checks each against the schema.
func ParseTruth(r io.Reader) (Truth, error) {
	var t Truth
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e Event
		d := json.NewDecoder(bytes.NewReader(line))
		d.DisallowUnknownFields()
		if err := d.Decode(&e); err != nil {
			errs = append(errs, fmt.Errorf("truth line %d: %w: %s", n, err, line))
			continue
		}
		e.Line = n
		if err := e.validate(); err != nil {
			errs = append(errs, fmt.Errorf("truth line %d: %w: %s", n, err, line))
			continue
		}
		t = append(t, e)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	return t, errors.Join(errs...)
}

// ReadTruthFile reads a .truth.jsonl file.
func ReadTruthFile(path string) (Truth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseTruth(f)
}

var validOps = []string{OpCreate, OpTruncate, OpRenameTo, OpUnlink, OpOpenWrite}

func (e Event) validate() error {
	if e.PID <= 0 {
		return errors.New("no pid")
	}
	absPath := func() error {
		if e.Path == "" || !filepath.IsAbs(e.Path) || filepath.Clean(e.Path) != e.Path {
			return fmt.Errorf("path %q is not absolute and clean", e.Path)
		}
		return nil
	}
	switch e.Ev {
	case EvProcess:
		if e.PPID <= 0 || e.Role == "" {
			return errors.New("process without ppid or role")
		}
	case EvThread:
		if e.TID <= 0 || e.TID == e.PID {
			return errors.New("thread without a tid other than the pid")
		}
	case EvExec:
		if len(e.Argv) == 0 || !filepath.IsAbs(e.Exe) {
			return errors.New("exec without argv or absolute exe")
		}
	case EvReparent:
		if e.PPID <= 0 {
			return errors.New("reparent without ppid")
		}
	case EvWrite, EvNoOp:
		if !slices.Contains(validOps, e.Op) {
			return fmt.Errorf("unknown op %q", e.Op)
		}
		return absPath()
	case EvNotWritten, EvOpenAtExit:
		return absPath()
	case EvExit:
		if e.Code == nil {
			return errors.New("exit without code")
		}
	case EvKilled:
		if e.Signal <= 0 {
			return errors.New("killed without signal")
		}
	default:
		return fmt.Errorf("unknown ev %q", e.Ev)
	}
	return nil
}

// Of returns the events of one kind.
func (t Truth) Of(ev string) []Event {
	var out []Event
	for _, e := range t {
		if e.Ev == ev {
			out = append(out, e)
		}
	}
	return out
}

// PIDs returns the pids of the processes the truth names, sorted.
func (t Truth) PIDs() []int {
	var pids []int
	for _, e := range t.Of(EvProcess) {
		pids = append(pids, e.PID)
	}
	slices.Sort(pids)
	return slices.Compact(pids)
}

// Root returns the process line of the workload's top process: the one whose
// creator is not a process of the truth.
func (t Truth) Root() (Event, error) {
	procs := t.Of(EvProcess)
	in := map[int]bool{}
	for _, p := range procs {
		in[p.PID] = true
	}
	var roots []Event
	for _, p := range procs {
		if !in[p.PPID] {
			roots = append(roots, p)
		}
	}
	if len(roots) != 1 {
		return Event{}, fmt.Errorf("truth has %d top processes, want 1", len(roots))
	}
	return roots[0], nil
}

// Check verifies the truth is consistent on its own: every pid named has a
// process line, each process ends exactly once, an exec line's tid is its pid.
func (t Truth) Check() error {
	var errs []error
	procs := map[int]bool{}
	for _, p := range t.Of(EvProcess) {
		if procs[p.PID] {
			errs = append(errs, fmt.Errorf("%v: process printed twice", p))
		}
		procs[p.PID] = true
	}
	if _, err := t.Root(); err != nil {
		errs = append(errs, err)
	}
	ends := map[int]int{}
	for _, e := range t {
		if !procs[e.PID] {
			errs = append(errs, fmt.Errorf("%v: pid has no process line", e))
		}
		switch e.Ev {
		case EvExit, EvKilled:
			ends[e.PID]++
		case EvExec:
			if e.TID != e.PID {
				errs = append(errs, fmt.Errorf("%v: after exec, tid %d is not the pid", e, e.TID))
			}
		}
	}
	for pid := range procs {
		if ends[pid] != 1 {
			errs = append(errs, fmt.Errorf("process %d ends %d times in the truth, want 1", pid, ends[pid]))
		}
	}
	return errors.Join(errs...)
}

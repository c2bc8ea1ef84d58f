package groundtruth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Model is the JSON report of `ctrace analyze --format json`, as issue 3
// specifies it: {"capture": {...}, "processes": [...], "containers": [...]}.
// Only what the comparison needs is typed; the rest is kept raw.
type Model struct {
	Capture    json.RawMessage `json:"capture"`
	Processes  []ModelProcess  `json:"processes"`
	Containers json.RawMessage `json:"containers"`
}

// ModelProcess is one process of the model.
type ModelProcess struct {
	PID     int             `json:"pid"`
	PPID    *int            `json:"ppid"`
	Threads []int           `json:"threads"`
	Exe     string          `json:"exe"`
	Argv    []string        `json:"argv"`
	Cwd     string          `json:"cwd"`
	Execs   []ModelExec     `json:"execs"`
	Start   json.RawMessage `json:"start"`
	End     json.RawMessage `json:"end"`
	// FirstSeen is not in the contract: ctrace's analyzer sorts a process
	// whose creation was not seen by the time it was first seen.
	FirstSeen    json.RawMessage `json:"first_seen"`
	ExitCode     *int            `json:"exit_code"`
	Signal       json.RawMessage `json:"signal"` // a number or a name
	Container    json.RawMessage `json:"container"`
	PreExisting  bool            `json:"pre_existing"`
	FilesWritten []string        `json:"files_written"`
	// Files are kept as raw objects: the contract names path, operation and
	// times without fixing their shape (see fileOps and fileCloseTime).
	Files []map[string]json.RawMessage `json:"files"`
}

// ModelExec is one exec of a process.
type ModelExec struct {
	Time json.RawMessage `json:"time"`
	Exe  string          `json:"exe"`
	Argv []string        `json:"argv"`
}

// Keys the contract requires.
var (
	modelKeys   = []string{"capture", "processes", "containers"}
	processKeys = []string{"pid", "ppid", "threads", "exe", "argv", "cwd", "execs", "start", "end",
		"exit_code", "signal", "container", "pre_existing", "files_written", "files"}
	execKeys = []string{"time", "exe", "argv"}
)

// DecodeModel decodes a JSON report and checks that it has every key of the
// contract.
func DecodeModel(b []byte) (*Model, error) {
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("analyze json: %w", err)
	}
	var top map[string]json.RawMessage
	json.Unmarshal(b, &top)
	var errs []error
	for _, k := range modelKeys {
		if _, ok := top[k]; !ok {
			errs = append(errs, fmt.Errorf("analyze json: no %q", k))
		}
	}
	var procs []map[string]json.RawMessage
	json.Unmarshal(top["processes"], &procs)
	for i, p := range procs {
		for _, k := range processKeys {
			if _, ok := p[k]; !ok {
				errs = append(errs, fmt.Errorf("analyze json: process %d (pid %s) has no %q", i, p["pid"], k))
			}
		}
		var execs []map[string]json.RawMessage
		json.Unmarshal(p["execs"], &execs)
		for j, e := range execs {
			for _, k := range execKeys {
				if _, ok := e[k]; !ok {
					errs = append(errs, fmt.Errorf("analyze json: process %d exec %d has no %q", i, j, k))
				}
			}
		}
	}
	return &m, errors.Join(errs...)
}

// signalNames are the Linux signal numbers of the names a report may use.
var signalNames = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8, "KILL": 9,
	"USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16,
	"CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23,
	"XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "PWR": 30, "SYS": 31,
}

// signalOf reads a signal given as a number or a name ("SIGKILL", "KILL");
// ok is false for null or absent.
func signalOf(raw json.RawMessage) (sig int, ok bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false, nil
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return n, n != 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, false, fmt.Errorf("signal %s is neither a number nor a name", raw)
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n, true, nil
	}
	if n, ok := signalNames[strings.TrimPrefix(strings.ToUpper(s), "SIG")]; ok {
		return n, true, nil
	}
	return 0, false, fmt.Errorf("unknown signal %q", s)
}

// opNames are the operation names a report may use for each truth
// operation, compared after removing case, '_', '-' and spaces. open_write
// accepts any operation: every entry of a file is a write.
var opNames = map[string][]string{
	OpCreate:   {"create", "created", "creat"},
	OpTruncate: {"truncate", "truncated", "ftruncate", "trunc"},
	OpRenameTo: {"renameto", "renamedto", "renameinto", "renamedinto", "rename", "renamed", "renamedst", "renamedest"},
	OpUnlink:   {"unlink", "unlinked", "delete", "deleted", "remove", "removed"},
}

func normOp(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToLower(s))
}

func opIs(name, op string) bool {
	if op == OpOpenWrite {
		return true
	}
	return slices.Contains(opNames[op], normOp(name))
}

// fileOps returns the operation names of a files entry: from "operation",
// "operations", "op" or "ops", each a string, a list of strings, or a list
// of objects with one of those keys (or "kind", "type").
func fileOps(entry map[string]json.RawMessage) []string {
	var out []string
	var walk func(raw json.RawMessage, depth int)
	walk = func(raw json.RawMessage, depth int) {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out = append(out, s)
			return
		}
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) == nil {
			for _, x := range list {
				walk(x, depth)
			}
			return
		}
		var obj map[string]json.RawMessage
		if depth < 2 && json.Unmarshal(raw, &obj) == nil {
			for _, k := range []string{"operation", "op", "kind", "type"} {
				if v, ok := obj[k]; ok {
					walk(v, depth+1)
				}
			}
		}
	}
	for _, k := range []string{"operation", "operations", "op", "ops"} {
		if v, ok := entry[k]; ok {
			walk(v, 0)
		}
	}
	return out
}

// fileCloseTime finds the close time of a files entry: a time (a number or
// an RFC 3339 string) under a key containing "close" ("closed", "close_time";
// not "closed_by": "exit"), at the top of the entry or inside an object or
// list under "times". ok is false if there is none or it is null.
func fileCloseTime(entry map[string]json.RawMessage) (json.RawMessage, bool) {
	var found json.RawMessage
	var walk func(obj map[string]json.RawMessage, depth int)
	walk = func(obj map[string]json.RawMessage, depth int) {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v := bytes.TrimSpace(obj[k])
			if _, isTime := timeValue(v); isTime && strings.Contains(strings.ToLower(k), "close") {
				found = v
			}
		}
		if depth >= 2 {
			return
		}
		if t, ok := obj["times"]; ok {
			var inner map[string]json.RawMessage
			if json.Unmarshal(t, &inner) == nil {
				walk(inner, depth+1)
			}
			var list []map[string]json.RawMessage
			if json.Unmarshal(t, &list) == nil {
				for _, x := range list {
					walk(x, depth+1)
				}
			}
		}
	}
	walk(entry, 0)
	return found, found != nil
}

func filePath(entry map[string]json.RawMessage) string {
	var p string
	json.Unmarshal(entry["path"], &p)
	return p
}

// timeValue reads a time given as a number (ns) or an RFC 3339 string; ok is
// false for null.
func timeValue(raw json.RawMessage) (int64, bool) {
	if isNull(raw) {
		return 0, false
	}
	var n int64
	if json.Unmarshal(raw, &n) == nil {
		return n, true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UnixNano(), true
		}
	}
	return 0, false
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// CompareModel compares the model an analyzer built from a recording of a
// workload with the workload's truth, rule by rule of issue 3. It returns one
// message per disagreement.
//
//   - every truth process is exactly one process of the model, not
//     pre-existing, with the truth's ppid (its creator, even after it was
//     reparented), a start and an end;
//   - every truth thread is in its process's threads and is not a process;
//     the model has no process whose parent is a truth process that the
//     truth does not name;
//   - execs: the model's execs of a process are the truth's exec lines, in
//     order (exe and argv), and its exe and argv are the last ones;
//   - exit: exit_code set and no signal; killed: signal set, exit_code null;
//   - files_written is exactly the set of paths of the truth's write lines
//     (absolute and clean); for each write, the files entries of that path
//     include the operation (see opNames); no_op: no entry of that path has
//     the operation; not_written: the path is neither in files_written nor
//     in files; open_at_exit: an entry of the path has a close time equal to
//     the process's end;
//   - processes are sorted by start (first_seen when the start is unknown),
//     then pid, when those can be read as numbers or RFC 3339 times.
func CompareModel(t Truth, m *Model) []string {
	var errs []string
	fail := func(e Event, f string, args ...any) {
		errs = append(errs, fmt.Sprintf("%v: %s", e, fmt.Sprintf(f, args...)))
	}
	byPID := map[int][]*ModelProcess{}
	for i := range m.Processes {
		p := &m.Processes[i]
		byPID[p.PID] = append(byPID[p.PID], p)
	}
	procs := map[int]*ModelProcess{}
	truthPIDs := map[int]bool{}
	for _, e := range t.Of(EvProcess) {
		truthPIDs[e.PID] = true
		switch n := len(byPID[e.PID]); n {
		case 1:
			procs[e.PID] = byPID[e.PID][0]
		case 0:
			fail(e, "no process %d in the model", e.PID)
		default:
			fail(e, "%d processes with pid %d in the model", n, e.PID)
		}
	}
	get := func(e Event) *ModelProcess { return procs[e.PID] }

	execs := map[int][]Event{}
	writes := map[int]map[string]bool{}
	for _, e := range t {
		p := get(e)
		if p == nil {
			continue
		}
		switch e.Ev {
		case EvProcess:
			if p.PPID == nil || *p.PPID != e.PPID {
				fail(e, "model ppid %s, want the creator %d", intPtr(p.PPID), e.PPID)
			}
			if p.PreExisting {
				fail(e, "model marks it pre_existing")
			}
			if isNull(p.Start) || isNull(p.End) {
				fail(e, "model start %s end %s: both must be set", p.Start, p.End)
			}
		case EvReparent:
			if p.PPID != nil && *p.PPID == e.PPID {
				fail(e, "model ppid is the reaper %d", e.PPID)
			}
		case EvThread:
			if !slices.Contains(p.Threads, e.TID) {
				fail(e, "thread %d not in the model's threads %v", e.TID, p.Threads)
			}
			if len(byPID[e.TID]) > 0 {
				fail(e, "thread %d is shown as a process", e.TID)
			}
		case EvExec:
			execs[e.PID] = append(execs[e.PID], e)
		case EvExit:
			if p.ExitCode == nil || *p.ExitCode != *e.Code {
				fail(e, "model exit_code %s, want %d", intPtr(p.ExitCode), *e.Code)
			}
			if sig, ok, err := signalOf(p.Signal); ok || err != nil {
				fail(e, "model signal %d (%v) for a normal exit", sig, err)
			}
		case EvKilled:
			if p.ExitCode != nil {
				fail(e, "model exit_code %d for a death by signal, want null", *p.ExitCode)
			}
			if sig, ok, err := signalOf(p.Signal); !ok || sig != e.Signal {
				fail(e, "model signal %s (%v), want %d", p.Signal, err, e.Signal)
			}
		case EvWrite:
			if writes[e.PID] == nil {
				writes[e.PID] = map[string]bool{}
			}
			writes[e.PID][e.Path] = true
			if !slices.Contains(p.FilesWritten, e.Path) {
				fail(e, "%s not in files_written", e.Path)
			}
			if !hasOp(p, e.Path, e.Op) {
				fail(e, "no files entry of %s with operation %s (have %v)", e.Path, e.Op, opsOf(p, e.Path))
			}
		case EvNoOp:
			for _, op := range opsOf(p, e.Path) {
				if opIs(op, e.Op) {
					fail(e, "files entry of %s has operation %q", e.Path, op)
				}
			}
		case EvNotWritten:
			if slices.Contains(p.FilesWritten, e.Path) || len(entriesOf(p, e.Path)) > 0 {
				fail(e, "%s, opened read-only, is listed as written", e.Path)
			}
		case EvOpenAtExit:
			ok := false
			var seen []string
			for _, f := range entriesOf(p, e.Path) {
				if ct, has := fileCloseTime(f); has {
					seen = append(seen, string(ct))
					ok = ok || sameTime(ct, p.End)
				}
			}
			if !ok {
				fail(e, "no files entry of %s closed at the process's end %s (close times %v)", e.Path, p.End, seen)
			}
		}
	}

	for pid, p := range procs {
		ev := Event{Ev: "model", PID: pid}
		want := execs[pid]
		if len(want) > 0 {
			last := want[len(want)-1]
			if p.Exe != last.Exe || !slices.Equal(p.Argv, last.Argv) {
				fail(ev, "model exe %q argv %q, want the last exec's %q %q", p.Exe, p.Argv, last.Exe, last.Argv)
			}
		}
		if len(p.Execs) != len(want) {
			fail(ev, "model has %d execs, the truth %d", len(p.Execs), len(want))
		} else {
			for i, x := range p.Execs {
				if x.Exe != want[i].Exe || !slices.Equal(x.Argv, want[i].Argv) {
					fail(ev, "model exec %d is %q %q, want %q %q", i, x.Exe, x.Argv, want[i].Exe, want[i].Argv)
				}
				if isNull(x.Time) {
					fail(ev, "model exec %d has no time", i)
				}
			}
		}
		for _, f := range p.FilesWritten {
			if !filepath.IsAbs(f) || filepath.Clean(f) != f {
				fail(ev, "files_written %q is not absolute and clean", f)
			}
			if !writes[pid][f] {
				fail(ev, "files_written has %s, which the process did not write", f)
			}
		}
	}
	for _, p := range m.Processes {
		if p.PPID != nil && truthPIDs[*p.PPID] && !truthPIDs[p.PID] {
			errs = append(errs, fmt.Sprintf("model process %d (parent %d, %q) is not in the truth", p.PID, *p.PPID, p.Argv))
		}
	}
	errs = append(errs, checkOrder(m)...)
	return errs
}

func checkOrder(m *Model) []string {
	type key struct {
		start int64
		pid   int
	}
	var keys []key
	for _, p := range m.Processes {
		s, ok := timeValue(p.Start)
		if !ok {
			s, ok = timeValue(p.FirstSeen)
		}
		if !ok {
			return nil // not comparable here: the analyzer's own tests check the order
		}
		keys = append(keys, key{s, p.PID})
	}
	for i := 1; i < len(keys); i++ {
		a, b := keys[i-1], keys[i]
		if a.start > b.start || a.start == b.start && a.pid > b.pid {
			return []string{fmt.Sprintf("model processes not sorted by start, then pid: %d before %d", a.pid, b.pid)}
		}
	}
	return nil
}

func entriesOf(p *ModelProcess, path string) []map[string]json.RawMessage {
	var out []map[string]json.RawMessage
	for _, f := range p.Files {
		if filePath(f) == path {
			out = append(out, f)
		}
	}
	return out
}

func opsOf(p *ModelProcess, path string) []string {
	var out []string
	for _, f := range entriesOf(p, path) {
		out = append(out, fileOps(f)...)
	}
	return out
}

func hasOp(p *ModelProcess, path, op string) bool {
	entries := entriesOf(p, path)
	if op == OpOpenWrite {
		return len(entries) > 0
	}
	for _, name := range opsOf(p, path) {
		if opIs(name, op) {
			return true
		}
	}
	return false
}

func sameTime(a, b json.RawMessage) bool {
	if x, ok := timeValue(a); ok {
		if y, ok := timeValue(b); ok {
			return x == y
		}
	}
	return bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b))
}

func intPtr(p *int) string {
	if p == nil {
		return "null"
	}
	return strconv.Itoa(*p)
}

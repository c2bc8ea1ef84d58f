package groundtruth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// Capture is a capture file decoded for checking: small test captures only,
// everything is held in memory.
type Capture struct {
	Header    format.Header
	Trailer   *format.Trailer // nil when the capture was not closed
	Truncated bool
	Problems  []string // damage reported by the reader

	Proc      []replay.ProcEvent // proc connector events, in file order
	Audit     []*AuditEvent      // audit events grouped by serial, by serial
	Notes     []format.Note
	Snapshots int // snapshot records
	// OtherAudit counts audit frames that are not events (acks, replies).
	OtherAudit int
	// Undecodable counts audit and proc frames that did not decode.
	Undecodable int
}

// AuditEvent is the records of one audit serial, in arrival order.
type AuditEvent struct {
	Serial  uint64
	TimeMS  int64
	Records []AuditRecord
}

// AuditRecord is one record of an audit event.
type AuditRecord struct {
	Type   uint16
	Fields []replay.Field
}

// Value returns the decoded value of the first field named key.
func (r AuditRecord) Value(key string) (string, bool) {
	for _, f := range r.Fields {
		if f.Key == key {
			return replay.DecodeRecordValue(r.Type, f)
		}
	}
	return "", false
}

// Int returns the value of a decimal field.
func (r AuditRecord) Int(key string) (int64, bool) {
	v, ok := r.Value(key)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// LoadCapture reads a whole capture.
func LoadCapture(file string) (*Capture, error) {
	r, err := format.Open(file)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	c := &Capture{Header: *r.Header()}
	order := replay.ByteOrderOf(c.Header.ByteOrder)
	bySerial := map[uint64]*AuditEvent{}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch rec.Source {
		case format.SourceAudit:
			f, err := replay.DecodeAudit(rec.Data, order)
			if err != nil {
				c.Undecodable++
				continue
			}
			if f.Kind != replay.AuditEvent {
				c.OtherAudit++
				continue
			}
			ev := bySerial[f.Serial]
			if ev == nil {
				ev = &AuditEvent{Serial: f.Serial, TimeMS: f.TimeMS}
				bySerial[f.Serial] = ev
				c.Audit = append(c.Audit, ev)
			}
			ev.Records = append(ev.Records, AuditRecord{Type: f.Type, Fields: f.Fields()})
		case format.SourceProc:
			ev, err := replay.DecodeProc(rec.Data, order)
			if err != nil {
				c.Undecodable++
				continue
			}
			c.Proc = append(c.Proc, ev)
		case format.SourceSnapshot:
			c.Snapshots++
		case format.SourceNote:
			var n format.Note
			if err := json.Unmarshal(rec.Data, &n); err != nil {
				return nil, fmt.Errorf("%s: note: %w", file, err)
			}
			c.Notes = append(c.Notes, n)
		}
	}
	for _, p := range r.Problems() {
		c.Problems = append(c.Problems, p.Error())
	}
	c.Trailer = r.Trailer()
	c.Truncated = r.Truncated()
	slices.SortFunc(c.Audit, func(a, b *AuditEvent) int { return cmpUint(a.Serial, b.Serial) })
	return c, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CommandPID returns the pid of the recorded command: from the trailer, or
// the command_start note of a capture without one.
func (c *Capture) CommandPID() (int, error) {
	if c.Trailer != nil && c.Trailer.CommandPID > 0 {
		return c.Trailer.CommandPID, nil
	}
	for _, n := range c.Notes {
		if n.Kind == format.NoteCommandStart && n.PID > 0 {
			return n.PID, nil
		}
	}
	return 0, errors.New("capture names no command pid")
}

// Syscall is the SYSCALL record of an audit event, decoded.
type Syscall struct {
	Arch    string // "x86_64", "aarch64" or "i386"; "" for another
	Number  int
	Name    string // "openat"; empty for a syscall not in syscallNames
	Success string // "yes", "no", or "" (exit and exit_group have none)
	Exit    int64
	PID     int
	PPID    int
	Args    [4]uint64 // a0..a3
	Exe     string
}

// Syscall returns the event's SYSCALL record, if it has one.
func (e *AuditEvent) Syscall() (Syscall, bool) {
	for _, r := range e.Records {
		if r.Type != replay.TypeSyscall {
			continue
		}
		var s Syscall
		var arch uint32
		if a, ok := r.Value("arch"); ok {
			if n, err := strconv.ParseUint(a, 16, 32); err == nil {
				arch = uint32(n)
				s.Arch = archNames[arch]
			}
		}
		if n, ok := r.Int("syscall"); ok {
			s.Number = int(n)
			s.Name = syscallNames[arch][s.Number]
		}
		s.Success, _ = r.Value("success")
		s.Exit, _ = r.Int("exit")
		pid, _ := r.Int("pid")
		ppid, _ := r.Int("ppid")
		s.PID, s.PPID = int(pid), int(ppid)
		for i := range s.Args {
			if v, ok := r.Value(fmt.Sprintf("a%d", i)); ok {
				s.Args[i], _ = strconv.ParseUint(v, 16, 64)
			}
		}
		s.Exe, _ = r.Value("exe")
		return s, true
	}
	return Syscall{}, false
}

// PathItem is a PATH record: the name as the syscall gave it, resolved
// against the event's CWD record (absolute and clean), and its nametype.
type PathItem struct {
	Name     string
	Resolved string
	Nametype string
}

// Paths returns the event's PATH items in order.
func (e *AuditEvent) Paths() []PathItem {
	cwd := ""
	for _, r := range e.Records {
		if replay.TypeName(r.Type) == "CWD" {
			cwd, _ = r.Value("cwd")
		}
	}
	var out []PathItem
	for _, r := range e.Records {
		if replay.TypeName(r.Type) != "PATH" {
			continue
		}
		name, _ := r.Value("name")
		nt, _ := r.Value("nametype")
		res := name
		if name != "" && !strings.HasPrefix(name, "/") && cwd != "" {
			res = path.Join(cwd, name)
		}
		if res != "" {
			res = path.Clean(res)
		}
		out = append(out, PathItem{Name: name, Resolved: res, Nametype: nt})
	}
	return out
}

// Argv returns the argv of an execve event, from its EXECVE records.
func (e *AuditEvent) Argv() ([]string, bool, error) {
	var recs [][]replay.Field
	for _, r := range e.Records {
		if r.Type == replay.TypeExecve {
			recs = append(recs, r.Fields)
		}
	}
	if len(recs) == 0 {
		return nil, false, nil
	}
	argv, err := replay.ExecveArgs(recs)
	return argv, true, err
}

// IsCloneFamily reports whether a syscall name creates a task.
func IsCloneFamily(name string) bool {
	switch name {
	case "clone", "clone3", "fork", "vfork":
		return true
	}
	return false
}

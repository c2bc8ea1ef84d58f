package extract

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/elastic/go-libaudit/v2/auparse"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// evKey identifies an audit event: its records share the stamp
// "audit(SEC.MSEC:SERIAL)".
type evKey struct {
	ms     int64
	serial uint64
}

// evInfo is what the selection needs to know about an audit event, from
// all its records: whose it is, when, and which syscall it reports.
type evInfo struct {
	t      int64 // wall clock, ns (the stamp's ms)
	pid    int
	hasPID bool
	abend  bool // an ANOM_ABEND record
	cwd    bool // a CWD record
	// From the SYSCALL record.
	sc      bool
	name    string // syscall name, "" when unknown
	success bool   // success=yes, or no success field (exit, exit_group)
	exit    int64
	args    [4]uint64 // a0..a3
	// targets: the processes its OBJ_PID records name (the targets of a
	// signal, of a ptrace attach).
	targets []int
}

// atFDCWD is AT_FDCWD (-100) as a 32-bit register value.
const atFDCWD = 0xffffff9c

// dirfdRelative reports whether the event's syscall may have taken a
// relative name relative to a directory descriptor rather than to the
// working directory: an *at syscall with a descriptor argument other than
// AT_FDCWD.
func (info *evInfo) dirfdRelative() bool {
	var fds []int
	switch info.name {
	case "renameat", "renameat2", "linkat":
		fds = []int{0, 2}
	case "symlinkat":
		fds = []int{1}
	case "statx", "name_to_handle_at", "open_tree", "fspick", "mount_setattr":
		fds = []int{0}
	case "move_mount":
		fds = []int{0, 2}
	default:
		if !strings.HasSuffix(info.name, "at") && !strings.HasSuffix(info.name, "at2") {
			return false
		}
		fds = []int{0}
	}
	for _, i := range fds {
		if uint32(info.args[i]) != atFDCWD {
			return true
		}
	}
	return false
}

// index is what the first pass learns beside the model.
type index struct {
	order       binary.ByteOrder
	events      map[evKey]*evInfo
	leaderExits map[int][]int64
	arches      map[string]string
}

func newIndex(order binary.ByteOrder) *index {
	return &index{order: order, events: map[evKey]*evInfo{}, leaderExits: map[int][]int64{}, arches: map[string]string{}}
}

// tee is the first pass's record source: the analyzer builds the model
// from it while the summary and the index see every record.
type tee struct {
	r   *format.Reader
	sz  *replay.Summarizer
	idx *index
}

func (t *tee) Header() *format.Header           { return t.r.Header() }
func (t *tee) Segments() []format.SegmentHeader { return t.r.Segments() }

func (t *tee) Next() (format.Record, error) {
	rec, err := t.r.Next()
	if err != nil {
		return rec, err
	}
	t.sz.Observe(rec)
	t.idx.observe(rec, clockFor(t.r, rec.Segment))
	return rec, nil
}

// clockFor is the clock pair that puts the record's monotonic times on the
// wall clock, as the analyzer takes it (format.Reader.ClockFor).
func clockFor(r *format.Reader, seg int) format.ClockPair { return r.ClockFor(seg) }

func (x *index) observe(rec format.Record, clock format.ClockPair) {
	switch rec.Source {
	case format.SourceAudit:
		f, err := replay.DecodeAudit(rec.Data, x.order)
		if err != nil || f.Kind != replay.AuditEvent || replay.StandaloneType(f.Type) {
			return
		}
		k := evKey{f.TimeMS, f.Serial}
		info := x.events[k]
		if info == nil {
			info = &evInfo{t: f.TimeMS * 1e6}
			x.events[k] = info
		}
		x.addRecord(info, f.Type, replay.ParseFields(f.Body))
	case format.SourceProc:
		ev, err := replay.DecodeProc(rec.Data, x.order)
		if err == nil && ev.Kind == replay.ProcExit && ev.PID == ev.TGID {
			x.leaderExits[int(ev.TGID)] = append(x.leaderExits[int(ev.TGID)], clock.RealtimeOf(int64(ev.Timestamp)))
		}
	}
}

// addRecord takes what a record says about its event.
func (x *index) addRecord(info *evInfo, typ uint16, fs []replay.Field) {
	switch typ {
	case replay.TypeAnomAbend:
		info.abend = true
	case replay.TypeCwd:
		info.cwd = true
	case replay.TypeObjPID:
		if f, ok := replay.FindField(fs, "opid"); ok {
			if n, err := strconv.Atoi(f.Value); err == nil {
				info.targets = append(info.targets, n)
			}
		}
		return
	}
	if typ == replay.TypeSyscall && !info.sc {
		info.sc = true
		info.success = true
		var arch string
		nr := -1
		for _, f := range fs {
			switch f.Key {
			case "arch":
				arch = x.archName(f.Value)
			case "syscall":
				if n, err := strconv.Atoi(f.Value); err == nil {
					nr = n
				}
			case "success":
				info.success = f.Value == "yes"
			case "exit":
				info.exit, _ = strconv.ParseInt(f.Value, 10, 64)
			case "a0", "a1", "a2", "a3":
				info.args[f.Key[1]-'0'], _ = strconv.ParseUint(f.Value, 16, 64)
			case "pid":
				if n, err := strconv.Atoi(f.Value); err == nil {
					info.pid, info.hasPID = n, true
				}
			}
		}
		if arch != "" && nr >= 0 {
			info.name = auparse.AuditSyscalls[arch][nr]
		}
		return
	}
	if !info.hasPID {
		if f, ok := replay.FindField(fs, "pid"); ok {
			if n, err := strconv.Atoi(f.Value); err == nil {
				info.pid, info.hasPID = n, true
			}
		}
	}
}

func (x *index) archName(text string) string {
	if a, ok := x.arches[text]; ok {
		return a
	}
	var name string
	if v, err := strconv.ParseUint(text, 16, 32); err == nil {
		name = auparse.AuditArchNames[auparse.AuditArch(v)]
	}
	x.arches[text] = name
	return name
}

// standaloneInfo is the evInfo of a standalone record (an event of its
// own).
func standaloneInfo(f replay.AuditFrame) *evInfo {
	info := &evInfo{t: f.TimeMS * 1e6}
	if fl, ok := replay.FindField(f.Fields(), "pid"); ok {
		if n, err := strconv.Atoi(fl.Value); err == nil {
			info.pid, info.hasPID = n, true
		}
	}
	return info
}

package analyze

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"slices"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// RecordSource is what the analyzer reads records from; *format.Reader is
// one. Records must be returned in capture order; Data may be reused by the
// next call.
type RecordSource interface {
	Header() *format.Header
	Next() (format.Record, error)
}

// segmentSource is implemented by *format.Reader: the headers of the
// segments read so far, whose clock pairs put monotonic times on the wall
// clock more precisely than the file header's pair alone (the clocks are
// read again at each segment, so a long capture follows NTP's corrections).
type segmentSource interface {
	Segments() []format.SegmentHeader
}

// itemKind orders the sources of items that fall on the same nanosecond:
// the snapshot describes what existed before, audit times are lower bounds
// (see item), proc connector times are exact.
type itemKind uint8

const (
	itemSnapshot itemKind = iota
	itemAudit
	itemProc
)

// item is one entry of the timeline: an audit event, a proc connector event
// or the snapshot of one process.
//
// Times are wall-clock nanoseconds since the Unix epoch:
//   - audit events at their header time, milliseconds of the coarse
//     CLOCK_REALTIME taken at syscall entry: the true time of what the event
//     reports (the syscall's effect, at its exit) is at or after it;
//   - proc connector events at their kernel timestamp (CLOCK_MONOTONIC, ns)
//     put on the wall clock with the clock pair of the record's segment (or
//     of the file header);
//   - a snapshot process at its start time (CLOCK_BOOTTIME from
//     /proc/PID/stat, in clock ticks) put on the wall clock the same way.
//
// Ties are broken by kind (snapshot, audit, proc), then for audit by serial
// (a vfork child's records carry lower serials than its parent's clone
// record), for proc by CPU and per-CPU sequence, for the snapshot by pid,
// and last by capture order. Arrival order only matters for items that are
// identical in all of these.
type item struct {
	t    int64
	kind itemKind
	k1   uint64
	k2   uint64
	ord  int64

	audit *auditEvent
	proc  *replay.ProcEvent
	snap  *snapGroup
}

func compareItems(a, b *item) int {
	if c := cmp.Compare(a.t, b.t); c != 0 {
		return c
	}
	if c := cmp.Compare(a.kind, b.kind); c != 0 {
		return c
	}
	if c := cmp.Compare(a.k1, b.k1); c != 0 {
		return c
	}
	if c := cmp.Compare(a.k2, b.k2); c != 0 {
		return c
	}
	return cmp.Compare(a.ord, b.ord)
}

// pid returns the thread group the item is about (0 for none): an audit
// event's pid=, a proc event's tgid (the child's for a fork), a snapshot
// group's pid, or the pid of an ANOM_ABEND record.
func (it *item) pid() int {
	switch {
	case it.audit != nil:
		if it.audit.sc != nil {
			return it.audit.sc.pid
		}
		if it.audit.abend != nil {
			return it.audit.abend.pid
		}
	case it.proc != nil:
		return int(it.proc.TGID)
	case it.snap != nil:
		return it.snap.pid
	}
	return 0
}

// snapGroup is one process of the /proc snapshot with its threads.
type snapGroup struct {
	pid    int
	leader *format.SnapshotProcess   // nil when only threads were recorded
	tasks  []*format.SnapshotProcess // leader first, then by tid
	start  int64                     // wall clock; 0 unknown
}

// timedNote is a recorder note with its receive time on the wall clock.
type timedNote struct {
	format.Note
	t int64
}

// timeline is a capture read into memory and put in order.
type timeline struct {
	hdr   format.Header
	items []*item
	notes []timedNote

	hasAudit, hasProc, hasSnapshot bool

	// Counts of what could not be used, for the capture's warnings.
	auditUndecodable int
	procUndecodable  int
	snapUndecodable  int
}

// readTimeline reads every record of src, decodes it, groups audit records
// into events and sorts everything into one timeline.
//
// Audit records are grouped by their stamp (node, time and serial) over the
// whole capture, whatever their arrival order and however late a record
// comes: there is no time window. An EOE record only marks an event as
// complete; events without one (exit_group in older kernels, a capture cut
// short) are complete as well. Records of the standalone types
// (standaloneType) are events of their own even if a stamp repeats.
func readTimeline(src RecordSource) (*timeline, error) {
	tl := &timeline{hdr: *src.Header()}
	order := replay.ByteOrderOf(tl.hdr.ByteOrder)
	segs, _ := src.(segmentSource)

	type evKey struct {
		node   string
		ms     int64
		serial uint64
	}
	events := make(map[evKey]*auditEvent)
	snaps := make(map[int]*snapGroup)
	var nrec int64

	clockFor := func(seg int) format.ClockPair {
		if segs != nil {
			hs := segs.Segments()
			for i := len(hs) - 1; i >= 0; i-- {
				if int(hs[i].Index) == seg && hs[i].Clock.RealtimeNS != 0 {
					return hs[i].Clock
				}
			}
		}
		return tl.hdr.Clock
	}

	for {
		rec, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		nrec++
		switch rec.Source {
		case format.SourceAudit:
			f, err := replay.DecodeAudit(rec.Data, order)
			if err != nil || f.Kind != replay.AuditEvent {
				if err != nil {
					tl.auditUndecodable++
				}
				continue
			}
			tl.hasAudit = true
			r := auditRecord{typ: f.Type, body: f.Body}
			if standaloneType(f.Type) {
				ev := &auditEvent{records: []auditRecord{r}}
				tl.items = append(tl.items, &item{t: f.TimeMS * 1e6, kind: itemAudit, k1: f.Serial, ord: nrec, audit: ev})
				continue
			}
			k := evKey{f.Node, f.TimeMS, f.Serial}
			ev := events[k]
			if ev == nil {
				ev = &auditEvent{}
				events[k] = ev
				tl.items = append(tl.items, &item{t: f.TimeMS * 1e6, kind: itemAudit, k1: f.Serial, ord: nrec, audit: ev})
			}
			if f.Type == typeEOE {
				ev.eoe = true
				continue
			}
			ev.records = append(ev.records, r)
		case format.SourceProc:
			ev, err := replay.DecodeProc(rec.Data, order)
			if err != nil {
				tl.procUndecodable++
				continue
			}
			tl.hasProc = true
			switch ev.Kind {
			case replay.ProcFork, replay.ProcExec, replay.ProcExit, replay.ProcComm:
			default:
				continue
			}
			t := clockFor(rec.Segment).RealtimeOf(int64(ev.Timestamp))
			tl.items = append(tl.items, &item{t: t, kind: itemProc, k1: uint64(ev.CPU), k2: uint64(ev.Seq), ord: nrec, proc: &ev})
		case format.SourceSnapshot:
			var sp format.SnapshotProcess
			if err := json.Unmarshal(rec.Data, &sp); err != nil || sp.PID <= 0 {
				tl.snapUndecodable++
				continue
			}
			tl.hasSnapshot = true
			g := snaps[sp.PID]
			if g == nil {
				g = &snapGroup{pid: sp.PID}
				snaps[sp.PID] = g
			}
			if sp.TID == 0 {
				sp.TID = sp.PID
			}
			if sp.TID == sp.PID {
				if g.leader != nil {
					continue // a repeated record
				}
				g.leader = &sp
			} else if slices.ContainsFunc(g.tasks, func(o *format.SnapshotProcess) bool { return o.TID == sp.TID }) {
				continue
			}
			g.tasks = append(g.tasks, &sp)
			// The start on the wall clock: CLOCK_BOOTTIME through a
			// clock pair that has it. The leader's start is the process's;
			// without a leader record, the earliest thread's.
			c := clockFor(rec.Segment)
			if c.BoottimeNS == 0 {
				c = tl.hdr.Clock
			}
			if sp.StartBoot != 0 && c.BoottimeNS != 0 {
				start := c.RealtimeNS + (sp.StartBoot - c.BoottimeNS)
				switch {
				case sp.TID == sp.PID:
					g.start = start
				case g.leader == nil && (g.start == 0 || start < g.start):
					g.start = start
				}
			}
		case format.SourceNote:
			var n format.Note
			if json.Unmarshal(rec.Data, &n) == nil {
				tl.notes = append(tl.notes, timedNote{n, clockFor(rec.Segment).RealtimeOf(rec.Mono)})
			}
		}
	}

	// One item per snapshot process, at its start time. A process whose
	// start is unknown is put before everything else.
	for _, g := range snaps {
		slices.SortFunc(g.tasks, func(a, b *format.SnapshotProcess) int {
			if (a.TID == g.pid) != (b.TID == g.pid) {
				if a.TID == g.pid {
					return -1
				}
				return 1
			}
			return cmp.Compare(a.TID, b.TID)
		})
		t := g.start
		if t == 0 {
			t = minInt64
		}
		tl.items = append(tl.items, &item{t: t, kind: itemSnapshot, k1: uint64(g.pid), snap: g})
	}
	slices.SortFunc(tl.items, compareItems)
	return tl, nil
}

const minInt64 = -1 << 63

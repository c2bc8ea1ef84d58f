package analyze

import (
	"cmp"
	"errors"
	"io"
	"maps"
	"runtime"
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

// timeline puts a capture's items in order as they are read, and hands
// them to the builder one at a time (next) with bounded memory: an item
// waits in a queue (itemQueue) only until no record still to come can sort
// before it.
//
// Items sort by their own time (see item), while records arrive in
// capture order: an audit event is stamped at syscall entry and sent at
// exit, through the kernel's audit queue, so it arrives after proc
// connector events and audit events stamped later (a vfork parent's clone
// record comes after its child's exec and exit). The timeline bounds how
// late that is: the horizon is the latest receive time seen (for an import,
// which has none, the latest event time), and an item is released once it
// is reorderWindow older than the horizon. An item arriving later than that
// (a syscall blocked for longer, a clock stepped back) is released as soon
// as it arrives, after what was released already; records of an audit
// event already released make an event of their own: they are counted
// (lateRecords, reported by info and in the analyze header). Both are rare.
//
// Two facts hold releases back. The snapshot: its processes sort at their
// start times, before everything, so nothing is released until
// reorderWindow after the last snapshot record arrived; the snapshot's
// groups are complete then. And whether the capture has proc connector
// events (the builder's rules differ without them): when the header says
// the proc connector was recorded, nothing is released before the first
// proc record (the connector's acknowledgement comes first), the end, or
// procWait of capture time without any (the connector was unavailable).
// Should proc records come after that, they are used from then on.
//
// Records are decompressed (format.Reader.SetConcurrency) and parsed
// (parseBatch) on several goroutines, in batches, and consumed here in
// capture order: the result does not depend on the number of workers.
type timeline struct {
	reorderWindow int64 // readOptions.reorderWindow
	maxPending    int   // readOptions.maxPending
	hdr           format.Header
	notes         []timedNote

	hasAudit, hasProc, hasSnapshot bool

	// Counts of what could not be used, for the capture's warnings.
	auditUndecodable int
	procUndecodable  int
	snapUndecodable  int

	in  *recordStream
	sum *replay.Summarizer // nil: no summary wanted
	err error              // the source's error; reading stopped there
	eof bool

	nrec    int64
	pending itemQueue
	slots   *[eventSlots]*auditEvent // audit events not released yet (findEvent)
	events  map[evKey]*auditEvent
	// released remembers the stamps of the latest released audit events,
	// by serial, to recognise a record of one of them (lateRecords).
	released *[releasedSlots]evKey
	snaps    map[int]*snapGroup // snapshot groups not sealed yet

	horizon    int64 // latest receive (or event) time seen
	hasHorizon bool
	start      int64 // the first horizon
	snapUntil  int64 // no release before horizon passes this (snapshot)
	procKnown  bool  // hasProc is decided

	stats timelineStats
}

// timelineStats describe a read, for tests and benchmarks.
type timelineStats struct {
	maxPending int   // most items waiting at once
	late       int   // items that arrived after their place was passed
	maxLate    int64 // how much later than the release point, at most
	released   int
	// lateRecords: audit records of an event already released, which
	// therefore became (part of) an event of their own.
	lateRecords int
}

// releasedSlots is how many released audit events the timeline remembers
// (by serial): records later than that many events are not recognised.
const releasedSlots = 1 << 16

type evKey struct {
	ms     int64
	serial uint64
}

// reorderWindow is how long after the horizon an item is held (see
// timeline). Audit records arrive after their stamp by the duration of the
// syscall plus the kernel's queueing: in recordings of exec storms, at most
// 40 ms after the proc connector's events (8 ms in auditd's log of one);
// a syscall that blocks (an open of a FIFO) can take longer, a backlog
// that is full as well.
const defaultReorderWindow int64 = 2e9

// maxPending bounds the items held at once, whatever the times say: past
// it the earliest is released.
const defaultMaxPending = 1 << 20

// procWait is how long after the first record the timeline waits for one
// from the proc connector before it takes the capture for one without (see
// timeline).
const procWait = 30e9

// readOptions say how to read a capture. The zero value of a field is its
// default (defaultReorderWindow, defaultMaxPending).
type readOptions struct {
	workers int                // goroutines parsing records (<= 1: none)
	sum     *replay.Summarizer // given every record, when set
	// reorderWindow is how long after the horizon an item is held (ns);
	// maxPending bounds the items held at once.
	reorderWindow int64
	maxPending    int
	// poison (tests) overwrites consumed batches, so that anything still
	// pointing into one shows in the reports.
	poison bool
}

// workers is the number of goroutines that parse records when the caller
// does not say (ReadOptions.Workers 0): GOMAXPROCS up to maxWorkers (the
// timeline itself is one goroutine: more parsers would wait for it).
// Reports do not depend on it.
func workers() int { return min(runtime.GOMAXPROCS(0), maxWorkers) }

// ReadOptions say how a capture is read (AnalyzeFileWith). The zero value
// is the default.
type ReadOptions struct {
	// Workers is the number of goroutines that parse records: 1 reads on
	// the calling goroutine alone, 0 is the default (GOMAXPROCS, at most
	// 8). Reports do not depend on it.
	Workers int
}

func (o ReadOptions) read() readOptions {
	w := o.Workers
	if w <= 0 {
		w = workers()
	}
	return readOptions{workers: w}
}

// maxWorkers bounds the default number of parsing goroutines, and
// maxDecoders the segments decompressed at once (decompression is a tenth
// of the work; each decoder holds a window of up to 32 MiB).
const (
	maxWorkers  = 8
	maxDecoders = 3
)

// readTimeline starts reading src; the builder takes the items with next,
// then calls close.
func readTimeline(src RecordSource, o readOptions) *timeline {
	tl := &timeline{
		hdr:      *src.Header(),
		sum:      o.sum,
		slots:    new([eventSlots]*auditEvent),
		released: new([releasedSlots]evKey),
		events:   make(map[evKey]*auditEvent),
		snaps:    make(map[int]*snapGroup),
	}
	tl.procKnown = !tl.hdr.Proc
	tl.reorderWindow, tl.maxPending = o.reorderWindow, o.maxPending
	if tl.reorderWindow == 0 {
		tl.reorderWindow = defaultReorderWindow
	}
	if tl.maxPending == 0 {
		tl.maxPending = defaultMaxPending
	}
	tl.in = newRecordStream(src, replay.ByteOrderOf(tl.hdr.ByteOrder), o.workers)
	tl.in.poison = o.poison
	return tl
}

// close stops reading (the source is left to its owner).
func (tl *timeline) close() { tl.in.close() }

// next returns the next item in timeline order, or nil at the end (then
// tl.err tells whether the source failed).
func (tl *timeline) next() *item {
	for {
		if it := tl.release(); it != nil {
			return it
		}
		if tl.eof {
			return nil
		}
		b, err := tl.in.next()
		if err != nil {
			tl.eof = true
			if !errors.Is(err, io.EOF) {
				tl.err = err
			}
			tl.procKnown = true
			continue
		}
		for i := range b.recs {
			tl.add(&b.recs[i], &b.out[i])
		}
		tl.in.recycle(b)
		tl.stats.maxPending = max(tl.stats.maxPending, tl.pending.len())
	}
}

// release pops the earliest item if it may go.
func (tl *timeline) release() *item {
	full := tl.pending.len() > tl.maxPending
	open := tl.eof || full || (tl.procKnown && tl.hasHorizon && tl.horizon-tl.reorderWindow > tl.snapUntil)
	if !open {
		return nil
	}
	if len(tl.snaps) > 0 {
		tl.sealSnapshot()
	}
	if tl.pending.len() == 0 {
		return nil
	}
	it := tl.pending.min()
	if !tl.eof && !full && it.t >= tl.horizon-tl.reorderWindow {
		return nil
	}
	tl.pending.pop()
	tl.stats.released++
	if ev := it.audit; ev != nil {
		tl.removeEvent(ev)
		ev.finish()
		tl.released[ev.serial%releasedSlots] = evKey{ev.ms, ev.serial}
	}
	return it
}

// push adds a pending item; one that sorts before the release point is
// late (see timeline).
func (tl *timeline) push(it *item) {
	if tl.hasHorizon && it.kind != itemSnapshot {
		if d := tl.horizon - tl.reorderWindow - it.t; d > 0 && tl.stats.released > 0 {
			tl.stats.late++
			tl.stats.maxLate = max(tl.stats.maxLate, d)
		}
	}
	tl.pending.push(it)
}

// advance moves the horizon to t.
func (tl *timeline) advance(t int64) {
	if !tl.hasHorizon {
		tl.start = t
	}
	if !tl.hasHorizon || t > tl.horizon {
		tl.horizon, tl.hasHorizon = t, true
	}
	if !tl.procKnown && tl.horizon-tl.start > procWait {
		// The proc connector was meant to be recorded but nothing came
		// from it: it was not available (the recorder then records audit
		// alone, with the header written already).
		tl.procKnown = true
	}
}

// add takes one parsed record, in capture order.
func (tl *timeline) add(r *rawRecord, p *parsedRecord) {
	tl.nrec++
	if tl.sum != nil {
		tl.sum.ObserveInfo(format.Record{Mono: r.mono, Source: r.src, Flags: r.flags, Segment: r.seg}, p.info)
	}
	if r.arrival != 0 {
		tl.advance(r.arrival)
	}
	switch r.src {
	case format.SourceAudit:
		tl.addAudit(p)
	case format.SourceProc:
		if p.bad {
			tl.procUndecodable++
			return
		}
		tl.hasProc, tl.procKnown = true, true
		if it := p.proc; it != nil {
			if r.arrival == 0 {
				tl.advance(it.t)
			}
			it.ord = tl.nrec
			tl.push(it)
		}
	case format.SourceSnapshot:
		if p.bad {
			tl.snapUndecodable++
			return
		}
		tl.hasSnapshot = true
		tl.addSnapshot(r, p.snap)
	case format.SourceNote:
		if p.info.Note != nil {
			tl.notes = append(tl.notes, timedNote{*p.info.Note, r.clock.RealtimeOf(r.mono)})
		}
	}
}

// addAudit groups an audit record into its event: by stamp (time and
// serial) whatever the arrival order, as long as the event is not released.
// An EOE record only marks an event as complete; events without one
// (exit_group in older kernels, a capture cut short) are complete as well.
// Records of the standalone types (replay.StandaloneType) are events of their own,
// which the model does not read: they are left out.
//
// The workers have already put together each run of consecutive records of
// one event (a fragment, see parseBatch): the first record of a run
// brings it, the others have nothing more to add. A fragment of an event
// that is pending already is merged into it, else it is the event.
func (tl *timeline) addAudit(p *parsedRecord) {
	if p.bad {
		tl.auditUndecodable++
		return
	}
	if !p.event {
		return
	}
	tl.hasAudit = true
	if !p.hasArrival {
		tl.advance(p.ms * 1e6)
	}
	if k := (evKey{p.ms, p.info.Serial}); k != (evKey{}) && tl.released[k.serial%releasedSlots] == k {
		tl.stats.lateRecords++
	}
	f := p.frag
	if f == nil {
		return // standalone, or not the first record of its fragment
	}
	if ev := tl.findEvent(f.ev.ms, f.ev.serial); ev != nil {
		ev.merge(&f.ev)
		return
	}
	f.item.ord = tl.nrec
	tl.addEvent(&f.ev)
	tl.push(&f.item)
}

// The pending audit events are found by stamp in a table indexed by the
// serial's low bits (the serials of pending events are close together), and
// in a map when two collide.

const eventSlots = 1 << 14

func (tl *timeline) findEvent(ms int64, serial uint64) *auditEvent {
	if ev := tl.slots[serial%eventSlots]; ev != nil && ev.serial == serial && ev.ms == ms {
		return ev
	}
	return tl.events[evKey{ms, serial}]
}

func (tl *timeline) addEvent(ev *auditEvent) {
	if slot := &tl.slots[ev.serial%eventSlots]; *slot == nil {
		*slot = ev
		return
	}
	tl.events[evKey{ev.ms, ev.serial}] = ev
}

func (tl *timeline) removeEvent(ev *auditEvent) {
	if slot := &tl.slots[ev.serial%eventSlots]; *slot == ev {
		*slot = nil
	} else if k := (evKey{ev.ms, ev.serial}); tl.events[k] == ev {
		delete(tl.events, k)
	}
}

// auditItem and procItem allocate an item with its event.
type auditItem struct {
	item
	ev auditEvent
}

type procItem struct {
	item
	ev replay.ProcEvent
}

// addSnapshot adds a task of the /proc snapshot to its process's group.
func (tl *timeline) addSnapshot(r *rawRecord, sp *format.SnapshotProcess) {
	arrival := r.arrival
	if arrival == 0 {
		arrival = tl.horizon
	}
	tl.snapUntil = max(tl.snapUntil, arrival)
	g := tl.snaps[sp.PID]
	if g == nil {
		g = &snapGroup{pid: sp.PID}
		tl.snaps[sp.PID] = g
	}
	if sp.TID == 0 {
		sp.TID = sp.PID
	}
	if sp.TID == sp.PID {
		if g.leader != nil {
			return // a repeated record
		}
		g.leader = sp
	} else if slices.ContainsFunc(g.tasks, func(o *format.SnapshotProcess) bool { return o.TID == sp.TID }) {
		return
	}
	g.tasks = append(g.tasks, sp)
	// The start on the wall clock: CLOCK_BOOTTIME through a clock pair
	// that has it. The leader's start is the process's; without a leader
	// record, the earliest thread's.
	c := r.clock
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
}

// sealSnapshot makes an item of each snapshot group, at its start time; a
// process whose start is unknown is put before everything else. (Groups
// are pushed by pid: the queue then holds them in the same way whatever
// the map's order.)
func (tl *timeline) sealSnapshot() {
	pids := slices.Sorted(maps.Keys(tl.snaps))
	for _, pid := range pids {
		g := tl.snaps[pid]
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
		tl.pending.push(&item{t: t, kind: itemSnapshot, k1: uint64(g.pid), snap: g})
	}
	clear(tl.snaps)
}

// build reads src and replays it into the model (Build).
func build(src RecordSource, o readOptions) (*Model, error) {
	tl := readTimeline(src, o)
	defer tl.close()
	m := buildModel(tl)
	if tl.err != nil {
		return nil, tl.err
	}
	return m, nil
}

// buildSummarized reads the capture of r once, decompressing and parsing
// on o.workers goroutines: its model, and its summary (what
// replay.Summarize says of it).
func buildSummarized(r *format.Reader, o readOptions) (*Model, *replay.Summary, error) {
	r.SetConcurrency(min(max(o.workers, 1), maxDecoders))
	sum := replay.NewSummarizer(r)
	o.sum = sum
	m, err := build(r, o)
	if err != nil {
		return nil, nil, err
	}
	s := sum.Finish()
	s.LateRecords = int64(m.LateRecords)
	return m, s, nil
}

// Summarize is replay.Summarize, and what only the analyzer's reading of
// the capture knows: the audit records that came after their event had
// been released (Summary.LateRecords). It reads the records as the
// analyzer does, without building the model. progress, when not nil, is
// called now and then with the number of records read.
func Summarize(path string, progress func(records int64)) (*replay.Summary, error) {
	return SummarizeCaptures([]string{path}, format.Window{}, progress)
}

// SummarizeCaptures is Summarize of the captures args name, read as one
// recording (format.OpenSet).
func SummarizeCaptures(args []string, win format.Window, progress func(records int64)) (*replay.Summary, error) {
	r, err := format.OpenSet(args, win)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	w := workers()
	r.SetConcurrency(min(w, maxDecoders))
	sum := replay.NewSummarizer(r)
	tl := readTimeline(r, readOptions{workers: w, sum: sum})
	defer tl.close()
	next := int64(1 << 16)
	for it := tl.next(); it != nil; it = tl.next() {
		if progress != nil && tl.nrec >= next {
			progress(tl.nrec)
			next = tl.nrec + 1<<16
		}
	}
	if tl.err != nil {
		return nil, tl.err
	}
	s := sum.Finish()
	s.LateRecords = int64(tl.stats.lateRecords)
	return s, nil
}

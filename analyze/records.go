package analyze

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"sync"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// Reading and parsing records: the stream of batches the timeline takes,
// read and parsed on worker goroutines.

// rawRecord is a record copied out of the source, with what the reading
// goroutine knows of it: the clock pair of its segment (the file header's
// when the segment has none) and its receive time on the wall clock (0
// when unknown: an import, or no clock pair).
type rawRecord struct {
	src        format.Source
	flags      uint8
	seg        int
	mono       int64
	clock      format.ClockPair
	arrival    int64
	start, end int // its data in the batch's arena
}

// parsedRecord is a record decoded (parseBatch).
type parsedRecord struct {
	bad  bool // undecodable
	info replay.RecordInfo

	// audit
	event      bool // an event record (with the audit(...) header)
	hasArrival bool
	ms         int64
	frag       *auditItem // the fragment this record begins (parseBatch)

	proc *item // a proc connector event the model reads (ord set by the timeline)
	snap *format.SnapshotProcess
}

// batch is a run of records in capture order, parsed together.
type batch struct {
	recs  []rawRecord
	arena []byte
	out   []parsedRecord
	done  chan struct{} // closed when out is filled
	err   error         // the source's error after recs (io.EOF at the end)
}

const (
	batchRecords = 512
	batchBytes   = 128 << 10
)

// recordStream reads a source into batches and parses them: on the
// calling goroutine with one worker, else with a reading goroutine and
// workers parsing batches in parallel, handed back in capture order.
type recordStream struct {
	poison  bool // readOptions.poison
	src     RecordSource
	segs    segmentSource
	order   binary.ByteOrder
	hdr     *format.Header
	workers int

	// The segment clock the last record used (clockFor's cache).
	clockSeg  int
	clockN    int
	clockPair format.ClockPair

	ps      *partParser // one worker
	free    chan *batch // consumed batches, for reuse
	ordered chan *batch // more workers: batches in capture order
	quit    chan struct{}
	wg      sync.WaitGroup
	err     error
}

func newRecordStream(src RecordSource, order binary.ByteOrder, workers int) *recordStream {
	s := &recordStream{src: src, order: order, hdr: src.Header(), workers: workers, clockSeg: -1}
	s.segs, _ = src.(segmentSource)
	s.free = make(chan *batch, 2*workers+3)
	if workers <= 1 {
		s.ps = newPartParser(order)
		return s
	}
	s.ordered = make(chan *batch, workers+1)
	s.quit = make(chan struct{})
	jobs := make(chan *batch, workers)
	s.wg.Add(1 + workers)
	go func() {
		defer s.wg.Done()
		defer close(jobs)
		defer close(s.ordered)
		for {
			b := s.fill()
			select {
			case s.ordered <- b:
			case <-s.quit:
				return
			}
			if len(b.recs) > 0 {
				select {
				case jobs <- b:
				case <-s.quit:
					return
				}
			} else {
				close(b.done)
			}
			if b.err != nil {
				return
			}
		}
	}()
	for range workers {
		go func() {
			defer s.wg.Done()
			ps := newPartParser(order)
			for b := range jobs {
				parseBatch(b, ps)
				close(b.done)
			}
		}()
	}
	return s
}

// next returns the next batch, parsed; the error (io.EOF at the end) comes
// after the last batch.
func (s *recordStream) next() (*batch, error) {
	if s.err != nil {
		return nil, s.err
	}
	var b *batch
	if s.ordered == nil {
		b = s.fill()
		parseBatch(b, s.ps)
	} else {
		var ok bool
		if b, ok = <-s.ordered; !ok {
			s.err = io.EOF
			return nil, s.err
		}
		<-b.done
	}
	if b.err != nil {
		s.err = b.err
	}
	if len(b.recs) == 0 {
		return nil, s.err
	}
	return b, nil
}

// recycle takes back a batch the timeline has consumed, for fill to reuse:
// what the model keeps never points into a batch (parseAuditPart copies).
func (s *recordStream) recycle(b *batch) {
	if s.poison {
		for i := range b.arena {
			b.arena[i] = 0xa5
		}
	}
	select {
	case s.free <- b:
	default:
	}
}

func (s *recordStream) close() {
	if s.quit != nil {
		close(s.quit)
		for range s.ordered {
		}
		s.wg.Wait()
		s.quit = nil
	}
}

// fill reads the next records of the source into a new batch.
func (s *recordStream) fill() *batch {
	var b *batch
	select {
	case b = <-s.free:
		b.recs, b.arena, b.err = b.recs[:0], b.arena[:0], nil
		b.done = make(chan struct{})
	default:
		b = &batch{recs: make([]rawRecord, 0, batchRecords), arena: make([]byte, 0, batchBytes+4096), done: make(chan struct{})}
	}
	for len(b.recs) < batchRecords && len(b.arena) < batchBytes {
		rec, err := s.src.Next()
		if err != nil {
			b.err = err
			break
		}
		r := rawRecord{src: rec.Source, flags: rec.Flags, seg: rec.Segment, mono: rec.Mono, clock: s.clockFor(rec.Segment)}
		if rec.Mono != 0 && r.clock.RealtimeNS != 0 {
			r.arrival = r.clock.RealtimeOf(rec.Mono)
		}
		r.start = len(b.arena)
		b.arena = append(b.arena, rec.Data...)
		r.end = len(b.arena)
		b.recs = append(b.recs, r)
	}
	if cap(b.out) < len(b.recs) {
		b.out = make([]parsedRecord, len(b.recs), batchRecords)
	}
	b.out = b.out[:len(b.recs)]
	return b
}

// clockFor returns the clock pair that puts the monotonic times of segment
// seg on the wall clock: the segment header's (the clocks are read again at
// each segment, so a long capture follows NTP's corrections), else the file
// header's.
func (s *recordStream) clockFor(seg int) format.ClockPair {
	if s.segs == nil {
		return s.hdr.Clock
	}
	hs := s.segs.Segments()
	if seg == s.clockSeg && len(hs) == s.clockN {
		return s.clockPair
	}
	c := format.ClockOf(hs, seg, s.hdr.Clock)
	s.clockSeg, s.clockN, s.clockPair = seg, len(hs), c
	return c
}

// parseBatch decodes every record of a batch, and puts together the
// fragments of audit events: each run of consecutive records with one
// stamp (the kernel sends an event's records together; another CPU's may
// come in between) becomes an event, which the record that begins the run
// carries. Records are added to it in arrival order, as the timeline would
// add them one by one (auditEvent.add), so that merging fragments in order
// gives the same event.
func parseBatch(b *batch, ps *partParser) {
	var cur *auditItem
	for i := range b.recs {
		r := &b.recs[i]
		p := &b.out[i]
		pt := parseRecord(r, b.arena[r.start:r.end], ps, p)
		if !p.event || replay.StandaloneType(pt.typ) {
			continue
		}
		if cur == nil || cur.ev.ms != p.ms || cur.ev.serial != p.info.Serial {
			cur = &auditItem{ev: auditEvent{ms: p.ms, serial: p.info.Serial}}
			cur.item = item{t: p.ms * 1e6, kind: itemAudit, k1: p.info.Serial, audit: &cur.ev}
			p.frag = cur
		}
		if pt.typ == typeEOE {
			cur.ev.eoe = true
			continue
		}
		cur.ev.add(&pt)
	}
}

// parseRecord decodes one record: what the model reads, and what the
// summary needs (replay.Summarizer.Info); for an audit event record, the
// part of its event it carries.
func parseRecord(r *rawRecord, data []byte, ps *partParser, p *parsedRecord) (pt auditPart) {
	*p = parsedRecord{}
	switch r.src {
	case format.SourceAudit:
		v, err := replay.ViewAudit(data, ps.order)
		if err != nil {
			p.bad = true
			return
		}
		if v.Kind != replay.AuditEvent {
			return
		}
		p.event, p.ms, p.hasArrival = true, v.TimeMS, r.arrival != 0
		p.info.AuditEvent, p.info.Serial, p.info.TimeMS, p.info.AuditType = true, v.Serial, v.TimeMS, v.Type
		if modelType(v.Type) {
			return parseAuditPart(v.Type, v.Body, ps)
		}
		pt.typ = v.Type
	case format.SourceProc:
		ev, err := replay.DecodeProc(data, ps.order)
		if err != nil {
			p.bad = true
			return
		}
		if ev.Kind != replay.ProcNone {
			p.info.ProcEvent, p.info.CPU, p.info.Seq = true, ev.CPU, ev.Seq
		}
		switch ev.Kind {
		case replay.ProcFork, replay.ProcExec, replay.ProcExit, replay.ProcComm:
			pi := &procItem{ev: ev}
			pi.item = item{t: r.clock.RealtimeOf(int64(ev.Timestamp)), kind: itemProc, k1: uint64(ev.CPU), k2: uint64(ev.Seq), proc: &pi.ev}
			p.proc = &pi.item
		}
	case format.SourceSnapshot:
		p.info.SnapshotProcess = replay.SnapshotIsProcess(data)
		var sp format.SnapshotProcess
		if err := json.Unmarshal(data, &sp); err != nil || sp.PID <= 0 {
			p.bad = true
			return
		}
		p.snap = &sp
	case format.SourceNote:
		var n format.Note
		if json.Unmarshal(data, &n) == nil {
			p.info.Note = &n
		}
	}
	return pt
}

package replay

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/ctrace/ctrace/format"
)

// Summary is what `ctrace info` reports about a capture. Its JSON field
// names are part of the command's interface.
type Summary struct {
	File          string `json:"file"`
	Kind          string `json:"kind"`
	FormatVersion int    `json:"format_version"`
	CtraceVersion string `json:"ctrace_version"`
	Host          string `json:"host"`
	Kernel        string `json:"kernel"`
	Machine       string `json:"machine"`
	ByteOrder     string `json:"byte_order"`
	BootID        string `json:"boot_id,omitempty"`
	AuditMode     string `json:"audit_mode"`
	Proc          bool   `json:"proc"`
	// Files are the captures of a capture set read as one, in order.
	Files []string `json:"files,omitempty"`
	// Set: the capture is (or, with Files, begins with) a part of a
	// capture set: its recording's id and its index.
	Set *format.SetInfo `json:"set,omitempty"`

	Start      string `json:"start"` // RFC 3339, UTC
	End        string `json:"end"`
	StartNS    int64  `json:"start_ns"`
	EndNS      int64  `json:"end_ns"`
	DurationNS int64  `json:"duration_ns"`

	AuditFrames       int64 `json:"audit_frames"`
	ProcFrames        int64 `json:"proc_frames"`
	SnapshotRecords   int64 `json:"snapshot_records"`
	SnapshotProcesses int64 `json:"snapshot_processes"`
	NoteRecords       int64 `json:"note_records"`
	Segments          int   `json:"segments"`

	CompressedBytes   int64   `json:"compressed_bytes"`
	UncompressedBytes int64   `json:"uncompressed_bytes"`
	Ratio             float64 `json:"ratio"`

	Lost   int64  `json:"lost"`
	Losses Losses `json:"losses"`

	Truncated   bool     `json:"truncated"`
	TruncatedAt int64    `json:"truncated_at,omitempty"`
	Damage      []string `json:"damage,omitempty"`
	DamageCount int      `json:"damage_count"`

	StopReason      string   `json:"stop_reason,omitempty"`
	Command         string   `json:"command,omitempty"`
	CommandPID      int      `json:"command_pid,omitempty"`
	CommandExitCode *int     `json:"command_exit_code,omitempty"`
	CommandSignal   *int     `json:"command_signal,omitempty"`
	Rules           []string `json:"rules,omitempty"`
	ImportedFrom    []string `json:"imported_from,omitempty"`
	// Extracts (`ctrace extract`): the capture they were cut from, the
	// selection and the redaction applied. Their Losses are the original
	// recording's (format.Header.OriginalLosses), not gaps of their own.
	ExtractedFrom string   `json:"extracted_from,omitempty"`
	Selection     []string `json:"selection,omitempty"`
	Redaction     []string `json:"redaction,omitempty"`
	// Lines of imported logs that were not audit records (not losses:
	// nothing the kernel sent is missing), and inputs cut short by damage.
	ImportSkipped int64    `json:"import_skipped,omitempty"`
	ImportDamaged []string `json:"import_damaged,omitempty"`
	// AuditSerialGapRanges says where the audit serial gaps are (at most
	// 100 runs of missing serials); AuditSerialGapRangeCount counts them
	// all.
	AuditSerialGapRanges     []SerialGap `json:"audit_serial_gap_ranges,omitempty"`
	AuditSerialGapRangeCount int         `json:"audit_serial_gap_range_count,omitempty"`
	// LateRecords counts audit records that arrived more than the
	// analyzer's reorder window (2 s) after their event had been released,
	// so that the analyzer took them for an event of their own. Only the
	// analyzer's reading knows it (analyze.Summarize); Summarize leaves 0.
	LateRecords int64 `json:"late_records"`
}

// SerialGap is a run of audit serials never seen: First to Last, after the
// event of serial First-1 at After and before that of Last+1 at Until
// (RFC 3339, "" when not known).
type SerialGap struct {
	First uint32 `json:"first"`
	Last  uint32 `json:"last"`
	After string `json:"after,omitempty"`
	Until string `json:"until,omitempty"`
}

// msTime formats a time in ms since the epoch as RFC 3339 in UTC, "" for 0.
func msTime(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// Losses break the total down by kind.
type Losses struct {
	KernelLost      int64 `json:"kernel_lost"`       // the kernel's audit lost counter, after minus before
	ENOBUFS         int64 `json:"enobufs"`           // socket overflows reported by the kernel
	RecorderDropped int64 `json:"recorder_dropped"`  // frames dropped at the recorder's memory cap
	AuditSerialGaps int64 `json:"audit_serial_gaps"` // audit serials never seen
	ProcSeqGaps     int64 `json:"proc_seq_gaps"`     // proc connector sequence numbers never seen
	TruncatedFrames int64 `json:"truncated_frames"`  // frames cut by the receive buffer
}

// Summarize reads the whole capture at path. progress, if set, is called
// now and then with bytes done and the total.
func Summarize(path string, progress func(done, total int64)) (*Summary, error) {
	r, err := format.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return summarize(r, progress)
}

func summarize(r *format.Reader, progress func(done, total int64)) (*Summary, error) {
	sz := NewSummarizer(r)
	var n int64
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		n++
		if progress != nil && n%65536 == 0 {
			progress(rec.Offset, r.Size())
		}
		sz.Observe(rec)
	}
	return sz.Finish(), nil
}

// Summarizer builds the Summary of a capture whose records someone else
// reads: give it every record Next returns (Observe), then call Finish once
// Next has returned io.EOF. Summarize is NewSummarizer, Observe for each
// record, Finish. It is not safe for concurrent use.
type Summarizer struct {
	r       *format.Reader
	s       *Summary
	order   binary.ByteOrder
	serials AuditSerialTracker
	procSeq ProcSeqTracker
	notes   struct {
		enobufs, dropped int64
		lostStart        *uint32
		lostStop         *uint32
		cmdExit, cmdSig  *int
		cmdPID           int
	}
	firstMono, lastMono    int64
	minEventMS, maxEventMS int64
}

// NewSummarizer starts the summary of the capture r reads.
func NewSummarizer(r *format.Reader) *Summarizer {
	h := r.Header()
	z := &Summarizer{
		r: r,
		s: &Summary{
			File: r.Name(), Kind: h.Kind, FormatVersion: h.FormatVersion, CtraceVersion: h.CtraceVersion,
			Host: h.Hostname, Kernel: h.KernelRelease, Machine: h.Machine, ByteOrder: h.ByteOrder,
			BootID: h.BootID, AuditMode: h.AuditMode, Proc: h.Proc, Rules: h.Rules,
			Command: strings.Join(h.Command, " "), ImportedFrom: h.ImportedFrom,
			ExtractedFrom: h.ExtractedFrom, Selection: h.Selection, Redaction: h.Redaction,
			CompressedBytes: r.Size(),
		},
		order: ByteOrderOf(h.ByteOrder),
	}
	z.s.Files = r.Parts()
	z.s.Set = h.Set
	return z
}

// RecordInfo is what a Summarizer reads from the contents of one record
// (Info decodes it). A reader that decodes every record anyway, such as the
// analyzer, fills it from its own decoding and calls ObserveInfo, so that
// the capture is decoded once.
type RecordInfo struct {
	// AuditEvent: an audit record that DecodeAudit decodes without error as
	// an AuditEvent, with its header's Serial and TimeMS, and its Type.
	AuditEvent bool
	AuditType  uint16
	Serial     uint64
	TimeMS     int64
	// ProcEvent: a proc connector record that DecodeProc decodes without
	// error and that is not the acknowledgement of a request (ProcNone),
	// with its CPU and sequence number.
	ProcEvent bool
	CPU, Seq  uint32
	// SnapshotProcess: a snapshot record of a thread group leader
	// (SnapshotIsProcess).
	SnapshotProcess bool
	// Note: a note record's contents; nil when it is not valid JSON.
	Note *format.Note
}

// Info decodes what the summary needs from a record.
func (z *Summarizer) Info(rec format.Record) RecordInfo {
	var in RecordInfo
	switch rec.Source {
	case format.SourceAudit:
		if v, err := ViewAudit(rec.Data, z.order); err == nil && v.Kind == AuditEvent {
			in.AuditEvent, in.Serial, in.TimeMS, in.AuditType = true, v.Serial, v.TimeMS, v.Type
		}
	case format.SourceProc:
		if ev, err := DecodeProc(rec.Data, z.order); err == nil && ev.Kind != ProcNone {
			in.ProcEvent, in.CPU, in.Seq = true, ev.CPU, ev.Seq
		}
	case format.SourceSnapshot:
		in.SnapshotProcess = SnapshotIsProcess(rec.Data)
	case format.SourceNote:
		var nt format.Note
		if json.Unmarshal(rec.Data, &nt) == nil {
			in.Note = &nt
		}
	}
	return in
}

// SnapshotIsProcess reports whether a snapshot record is valid JSON whose
// pid and tid are equal: a process (its leader) rather than another thread.
func SnapshotIsProcess(data []byte) bool {
	var p struct{ PID, TID int }
	return json.Unmarshal(data, &p) == nil && p.PID == p.TID
}

// Observe takes one record, in capture order.
func (z *Summarizer) Observe(rec format.Record) { z.ObserveInfo(rec, z.Info(rec)) }

// ObserveInfo takes one record, in capture order, with what Info would
// return for it (its Data is not read).
func (z *Summarizer) ObserveInfo(rec format.Record, in RecordInfo) {
	sm := z.s
	if rec.Mono != 0 {
		if z.firstMono == 0 || rec.Mono < z.firstMono {
			z.firstMono = rec.Mono
		}
		if rec.Mono > z.lastMono {
			z.lastMono = rec.Mono
		}
	}
	if rec.Flags&format.FlagTruncated != 0 {
		sm.Losses.TruncatedFrames++
	}
	switch rec.Source {
	case format.SourceAudit:
		sm.AuditFrames++
		if in.AuditEvent {
			if KernelNumbered(in.AuditType) {
				z.serials.ObserveAt(in.Serial, in.TimeMS)
			}
			if z.minEventMS == 0 || in.TimeMS < z.minEventMS {
				z.minEventMS = in.TimeMS
			}
			z.maxEventMS = max(z.maxEventMS, in.TimeMS)
		}
	case format.SourceProc:
		sm.ProcFrames++
		if in.ProcEvent {
			z.procSeq.Observe(in.CPU, in.Seq)
		}
	case format.SourceSnapshot:
		sm.SnapshotRecords++
		if in.SnapshotProcess {
			sm.SnapshotProcesses++
		}
	case format.SourceNote:
		sm.NoteRecords++
		nt := in.Note
		if nt == nil {
			return
		}
		switch nt.Kind {
		case format.NoteENOBUFS:
			z.notes.enobufs += max(nt.Count, 1)
		case format.NoteDropped:
			z.notes.dropped += nt.Count
		case format.NoteAuditStatus:
			if nt.Status != nil {
				l := nt.Status.Lost
				if nt.Text == "start" {
					// Each part of a capture set begins with one: a
					// set's losses count from its first.
					if z.notes.lostStart == nil {
						z.notes.lostStart = &l
					}
				} else {
					z.notes.lostStop = &l
				}
			}
		case format.NoteCommandStart:
			z.notes.cmdPID = nt.PID
		case format.NoteCommandExit:
			z.notes.cmdExit, z.notes.cmdSig = nt.ExitCode, nt.Signal
		case format.NoteImportFile:
			// The next log file of an imported set: serials are not
			// compared across the cut.
			z.serials.Boundary()
		case "import_skipped":
			sm.ImportSkipped += nt.Count
		case "import_damaged":
			sm.ImportDamaged = append(sm.ImportDamaged, nt.Text)
		}
	}
}

// Finish completes the summary once the reader has returned io.EOF.
func (z *Summarizer) Finish() *Summary {
	r, s, h := z.r, z.s, z.r.Header()
	s.Segments = len(r.Segments())
	s.UncompressedBytes = r.UncompressedBytes()
	if s.CompressedBytes > 0 {
		s.Ratio = float64(s.UncompressedBytes) / float64(s.CompressedBytes)
	}
	s.Truncated = r.Truncated()
	if s.Truncated {
		s.TruncatedAt = r.TruncatedAt()
	}
	s.DamageCount = r.ProblemCount()
	for _, p := range r.Problems() {
		s.Damage = append(s.Damage, p.Error())
	}

	// Losses: the trailer when the recorder closed the file, else what the
	// notes in the stream say.
	s.Losses.ENOBUFS, s.Losses.RecorderDropped = z.notes.enobufs, z.notes.dropped
	if z.notes.lostStart != nil && z.notes.lostStop != nil {
		s.Losses.KernelLost = int64(*z.notes.lostStop) - int64(*z.notes.lostStart)
	}
	s.CommandPID, s.CommandExitCode, s.CommandSignal = z.notes.cmdPID, z.notes.cmdExit, z.notes.cmdSig
	if t := r.Trailer(); t != nil {
		s.StopReason = t.StopReason
		s.Losses.KernelLost = int64(t.Loss.KernelLostAfter) - int64(t.Loss.KernelLostBefore)
		s.Losses.ENOBUFS = sum(t.Loss.ENOBUFS)
		s.Losses.RecorderDropped = sum(t.Loss.RecorderDropped)
		if t.CommandPID != 0 {
			s.CommandPID, s.CommandExitCode, s.CommandSignal = t.CommandPID, t.CommandExitCode, t.CommandSignal
		}
	}
	if s.Losses.KernelLost < 0 {
		s.Losses.KernelLost = 0 // the counter was reset meanwhile
	}
	s.Losses.AuditSerialGaps = int64(z.serials.Gaps())
	s.Losses.ProcSeqGaps = int64(z.procSeq.Gaps())
	if s.Losses.AuditSerialGaps > 0 {
		ranges, n := z.serials.GapRanges()
		s.AuditSerialGapRangeCount = n
		for _, g := range ranges {
			s.AuditSerialGapRanges = append(s.AuditSerialGapRanges,
				SerialGap{First: g.First, Last: g.Last, After: msTime(g.After), Until: msTime(g.Until)})
		}
	}
	if o := h.OriginalLosses; h.Kind == format.KindExtract && o != nil {
		// An extract leaves frames out on purpose: its own gaps are not
		// losses. The losses are those of the recording it was cut from,
		// counted when it was extracted.
		s.Losses = Losses{KernelLost: o.KernelLost, ENOBUFS: o.ENOBUFS, RecorderDropped: o.RecorderDropped,
			AuditSerialGaps: o.AuditSerialGaps, ProcSeqGaps: o.ProcSeqGaps, TruncatedFrames: o.TruncatedFrames}
		// Nor are its gap ranges: where the original's gaps were is not
		// kept.
		s.AuditSerialGapRanges, s.AuditSerialGapRangeCount = nil, 0
	}
	l := s.Losses
	s.Lost = l.KernelLost + l.ENOBUFS + l.RecorderDropped + l.AuditSerialGaps + l.ProcSeqGaps + l.TruncatedFrames

	// Time span: from the header's clock pair and the receive times; an
	// import has no receive times and uses the events' own.
	switch {
	case h.Clock.RealtimeNS != 0:
		s.StartNS = h.Clock.RealtimeNS
		if z.firstMono != 0 && z.firstMono < h.Clock.MonotonicNS {
			s.StartNS = h.Clock.RealtimeOf(z.firstMono)
		}
		s.EndNS = s.StartNS
		if z.lastMono != 0 {
			s.EndNS = h.Clock.RealtimeOf(z.lastMono)
		}
		if t := r.Trailer(); t != nil && t.EndClock.RealtimeNS != 0 {
			s.EndNS = t.EndClock.RealtimeNS
		}
	case z.minEventMS != 0:
		s.StartNS, s.EndNS = z.minEventMS*1e6, z.maxEventMS*1e6
	}
	s.DurationNS = max(s.EndNS-s.StartNS, 0)
	if s.StartNS != 0 {
		s.Start = time.Unix(0, s.StartNS).UTC().Format(time.RFC3339Nano)
		s.End = time.Unix(0, s.EndNS).UTC().Format(time.RFC3339Nano)
	}
	return s
}

// LossCounts returns the summary's losses in the form an extract's header
// stores them (format.Header.OriginalLosses).
func (s *Summary) LossCounts() format.LossCounts {
	l := s.Losses
	return format.LossCounts{KernelLost: l.KernelLost, ENOBUFS: l.ENOBUFS, RecorderDropped: l.RecorderDropped,
		AuditSerialGaps: l.AuditSerialGaps, ProcSeqGaps: l.ProcSeqGaps, TruncatedFrames: l.TruncatedFrames}
}

func sum(m map[string]int64) int64 {
	var t int64
	for _, v := range m {
		t += v
	}
	return t
}

// ByteOrderOf maps a header's byte_order to an encoding/binary order
// (little-endian when unset, as on every common Linux host).
func ByteOrderOf(name string) binary.ByteOrder {
	if name == "big" {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

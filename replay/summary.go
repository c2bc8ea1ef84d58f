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
	// Lines of imported logs that were not audit records (not losses:
	// nothing the kernel sent is missing), and inputs cut short by damage.
	ImportSkipped int64    `json:"import_skipped,omitempty"`
	ImportDamaged []string `json:"import_damaged,omitempty"`
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
	h := r.Header()
	s := &Summary{
		File: r.Name(), Kind: h.Kind, FormatVersion: h.FormatVersion, CtraceVersion: h.CtraceVersion,
		Host: h.Hostname, Kernel: h.KernelRelease, Machine: h.Machine, ByteOrder: h.ByteOrder,
		BootID: h.BootID, AuditMode: h.AuditMode, Proc: h.Proc, Rules: h.Rules,
		Command: strings.Join(h.Command, " "), ImportedFrom: h.ImportedFrom,
		CompressedBytes: r.Size(),
	}
	order := ByteOrderOf(h.ByteOrder)
	var serials AuditSerialTracker
	var procSeq ProcSeqTracker
	var notes struct {
		enobufs, dropped int64
		lostStart        *uint32
		lostStop         *uint32
		cmdExit, cmdSig  *int
		cmdPID           int
	}
	var firstMono, lastMono int64
	var minEventMS, maxEventMS int64
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
		if rec.Mono != 0 {
			if firstMono == 0 || rec.Mono < firstMono {
				firstMono = rec.Mono
			}
			if rec.Mono > lastMono {
				lastMono = rec.Mono
			}
		}
		if rec.Flags&format.FlagTruncated != 0 {
			s.Losses.TruncatedFrames++
		}
		switch rec.Source {
		case format.SourceAudit:
			s.AuditFrames++
			f, err := DecodeAudit(rec.Data, order)
			if err == nil && f.Kind == AuditEvent {
				serials.Observe(f.Serial)
				if minEventMS == 0 || f.TimeMS < minEventMS {
					minEventMS = f.TimeMS
				}
				maxEventMS = max(maxEventMS, f.TimeMS)
			}
		case format.SourceProc:
			s.ProcFrames++
			if ev, err := DecodeProc(rec.Data, order); err == nil && ev.Kind != ProcNone {
				procSeq.Observe(ev.CPU, ev.Seq)
			}
		case format.SourceSnapshot:
			s.SnapshotRecords++
			var p struct{ PID, TID int }
			if json.Unmarshal(rec.Data, &p) == nil && p.PID == p.TID {
				s.SnapshotProcesses++
			}
		case format.SourceNote:
			s.NoteRecords++
			var nt format.Note
			if json.Unmarshal(rec.Data, &nt) != nil {
				continue
			}
			switch nt.Kind {
			case "enobufs":
				notes.enobufs += max(nt.Count, 1)
			case "dropped":
				notes.dropped += nt.Count
			case "audit_status":
				if nt.Status != nil {
					l := nt.Status.Lost
					if nt.Text == "start" {
						notes.lostStart = &l
					} else {
						notes.lostStop = &l
					}
				}
			case "command_start":
				notes.cmdPID = nt.PID
			case "command_exit":
				notes.cmdExit, notes.cmdSig = nt.ExitCode, nt.Signal
			case "import_skipped":
				s.ImportSkipped += nt.Count
			case "import_damaged":
				s.ImportDamaged = append(s.ImportDamaged, nt.Text)
			}
		}
	}
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
	s.Losses.ENOBUFS, s.Losses.RecorderDropped = notes.enobufs, notes.dropped
	if notes.lostStart != nil && notes.lostStop != nil {
		s.Losses.KernelLost = int64(*notes.lostStop) - int64(*notes.lostStart)
	}
	s.CommandPID, s.CommandExitCode, s.CommandSignal = notes.cmdPID, notes.cmdExit, notes.cmdSig
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
	s.Losses.AuditSerialGaps = int64(serials.Gaps())
	s.Losses.ProcSeqGaps = int64(procSeq.Gaps())
	l := s.Losses
	s.Lost = l.KernelLost + l.ENOBUFS + l.RecorderDropped + l.AuditSerialGaps + l.ProcSeqGaps + l.TruncatedFrames

	// Time span: from the header's clock pair and the receive times; an
	// import has no receive times and uses the events' own.
	switch {
	case h.Clock.RealtimeNS != 0:
		s.StartNS = h.Clock.RealtimeNS
		if firstMono != 0 && firstMono < h.Clock.MonotonicNS {
			s.StartNS = h.Clock.RealtimeOf(firstMono)
		}
		s.EndNS = s.StartNS
		if lastMono != 0 {
			s.EndNS = h.Clock.RealtimeOf(lastMono)
		}
		if t := r.Trailer(); t != nil && t.EndClock.RealtimeNS != 0 {
			s.EndNS = t.EndClock.RealtimeNS
		}
	case minEventMS != 0:
		s.StartNS, s.EndNS = minEventMS*1e6, maxEventMS*1e6
	}
	s.DurationNS = max(s.EndNS-s.StartNS, 0)
	if s.StartNS != 0 {
		s.Start = time.Unix(0, s.StartNS).UTC().Format(time.RFC3339Nano)
		s.End = time.Unix(0, s.EndNS).UTC().Format(time.RFC3339Nano)
	}
	return s, nil
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

package format

import "encoding/binary"

// Version is the format version this package writes. The reader accepts
// MinVersion..MaxVersion and rejects anything else with ErrVersion.
const (
	Version    = 1
	MinVersion = 1
	MaxVersion = 1
)

// Source says where a record came from.
type Source uint8

const (
	SourceAudit    Source = 1 // one datagram from the audit netlink socket, netlink header included
	SourceProc     Source = 2 // one datagram from the proc connector, netlink header included
	SourceSnapshot Source = 3 // one process or thread from the /proc snapshot, JSON (SnapshotProcess)
	SourceNote     Source = 4 // something the recorder noticed, JSON (Note)
)

func (s Source) String() string {
	switch s {
	case SourceAudit:
		return "audit"
	case SourceProc:
		return "proc"
	case SourceSnapshot:
		return "snapshot"
	case SourceNote:
		return "note"
	}
	return "unknown"
}

// Record header layout (little-endian, 16 bytes) in the uncompressed stream:
//
//	0  u32 length of Data
//	4  u8  source
//	5  u8  flags (FlagTruncated)
//	6  u16 reserved, zero
//	8  i64 monotonic receive time, ns
//	16 Data
const RecordHeaderSize = 16

// MaxRecordSize bounds the Data of one record. Netlink datagrams are far
// smaller; a snapshot record holding a huge argv is cut to fit by its writer.
const MaxRecordSize = 1 << 20

// Record flags.
const (
	// FlagTruncated: the datagram was larger than the receive buffer and Data
	// holds only its beginning.
	FlagTruncated = 1 << 0
)

// Record is one framed record. Data is only valid until the next call to the
// reader that returned it.
type Record struct {
	Mono   int64 // CLOCK_MONOTONIC at receive, ns
	Source Source
	Flags  uint8
	Data   []byte
	// Offset is the position of the record's header in the segment's
	// uncompressed stream; Segment is the segment's index (0-based).
	Segment int
	Offset  int64
}

// PutRecordHeader writes a record header for n bytes of data into b[:16].
func PutRecordHeader(b []byte, src Source, flags uint8, mono int64, n int) {
	_ = b[RecordHeaderSize-1]
	binary.LittleEndian.PutUint32(b[0:], uint32(n))
	b[4] = byte(src)
	b[5] = flags
	b[6], b[7] = 0, 0
	binary.LittleEndian.PutUint64(b[8:], uint64(mono))
}

// AppendRecord appends a framed record to dst.
func AppendRecord(dst []byte, src Source, flags uint8, mono int64, data []byte) []byte {
	var h [RecordHeaderSize]byte
	PutRecordHeader(h[:], src, flags, mono, len(data))
	dst = append(dst, h[:]...)
	return append(dst, data...)
}

// ClockPair is a reading of the host clocks taken at one moment, so that
// monotonic times can be put on the wall clock.
type ClockPair struct {
	RealtimeNS  int64 `json:"realtime_ns"`
	MonotonicNS int64 `json:"monotonic_ns"`
	BoottimeNS  int64 `json:"boottime_ns,omitempty"`
}

// RealtimeOf converts a monotonic time to wall-clock ns using the pair.
func (c ClockPair) RealtimeOf(mono int64) int64 { return c.RealtimeNS + (mono - c.MonotonicNS) }

// AuditStatus is the kernel's audit status as read with AUDIT_GET.
type AuditStatus struct {
	Enabled         uint32 `json:"enabled"`
	Failure         uint32 `json:"failure"`
	PID             uint32 `json:"pid"`
	RateLimit       uint32 `json:"rate_limit"`
	BacklogLimit    uint32 `json:"backlog_limit"`
	Lost            uint32 `json:"lost"`
	Backlog         uint32 `json:"backlog"`
	FeatureBitmap   uint32 `json:"feature_bitmap"`
	BacklogWaitTime uint32 `json:"backlog_wait_time"`
}

// Header is the JSON body of the file header frame.
type Header struct {
	FormatVersion int    `json:"format_version"`
	CtraceVersion string `json:"ctrace_version"`
	// How the capture was made: "record", "import" or "extract".
	Kind          string    `json:"kind"`
	Hostname      string    `json:"hostname,omitempty"`
	KernelRelease string    `json:"kernel_release,omitempty"`
	KernelVersion string    `json:"kernel_version,omitempty"`
	Machine       string    `json:"machine,omitempty"` // uname -m: x86_64, aarch64, ...
	ByteOrder     string    `json:"byte_order"`        // "little" or "big": of the netlink frames
	BootID        string    `json:"boot_id,omitempty"`
	Clock         ClockPair `json:"clock"`
	PageSize      int       `json:"page_size,omitempty"`
	ClockTicks    int       `json:"clock_ticks,omitempty"` // USER_HZ, for /proc start times

	// AuditMode is "unicast" (ctrace was the audit daemon), "multicast"
	// (read-only group beside another daemon) or "off".
	AuditMode   string       `json:"audit_mode"`
	Proc        bool         `json:"proc"`     // proc connector recorded
	Snapshot    bool         `json:"snapshot"` // /proc snapshot taken
	Rules       []string     `json:"rules,omitempty"`
	AuditBefore *AuditStatus `json:"audit_status_before,omitempty"`
	RecorderPID int          `json:"recorder_pid,omitempty"`
	Command     []string     `json:"command,omitempty"`
	Options     Options      `json:"options"`

	// Filled by import and extract; empty for recordings.
	ImportedFrom  []string `json:"imported_from,omitempty"`
	ExtractedFrom string   `json:"extracted_from,omitempty"`
	Selection     []string `json:"selection,omitempty"`
	Redaction     []string `json:"redaction,omitempty"`
	// OriginalLosses (extracts): the losses of the recording the extract
	// was cut from, as a reader counted them there. An extract leaves out
	// frames on purpose, so the gaps in its own audit serials and proc
	// connector sequences are not losses; readers take these instead.
	OriginalLosses *LossCounts `json:"original_losses,omitempty"`

	// Set, for a recording written as a capture set (`record --rotate`):
	// which recording and which part of it this file is.
	Set *SetInfo `json:"set,omitempty"`
}

// SetInfo places a capture in its capture set: the files one rotating
// recorder wrote, one after the other, each complete on its own.
type SetInfo struct {
	// ID is random, the same in every part of one recording.
	ID string `json:"id"`
	// Index numbers the parts from 1, without gaps as written.
	Index int `json:"index"`
}

// LossCounts are a capture's losses as a reader counts them (the `losses`
// of `ctrace info`): from the trailer or the notes (kernel lost counter,
// ENOBUFS, recorder drops), from the records (frames cut by the receive
// buffer) and from the gaps in audit serials and proc connector sequence
// numbers.
type LossCounts struct {
	KernelLost      int64 `json:"kernel_lost"`
	ENOBUFS         int64 `json:"enobufs"`
	RecorderDropped int64 `json:"recorder_dropped"`
	AuditSerialGaps int64 `json:"audit_serial_gaps"`
	ProcSeqGaps     int64 `json:"proc_seq_gaps"`
	TruncatedFrames int64 `json:"truncated_frames"`
}

// Options are the recorder's settings, kept for the reader's information.
type Options struct {
	BacklogLimit    uint32 `json:"backlog_limit,omitempty"`
	QueueCapBytes   int64  `json:"queue_cap_bytes,omitempty"`
	SegmentBytes    int64  `json:"segment_bytes,omitempty"`
	SegmentAgeMS    int64  `json:"segment_age_ms,omitempty"`
	FlushIntervalMS int64  `json:"flush_interval_ms,omitempty"`
	RulesFile       string `json:"rules_file,omitempty"`
	DurationMS      int64  `json:"duration_ms,omitempty"`
	ReceiveBuffer   int    `json:"receive_buffer,omitempty"`
	// Rotation of a capture set (record --rotate, --keep).
	RotateBytes   int64 `json:"rotate_bytes,omitempty"`
	RotateEveryMS int64 `json:"rotate_every_ms,omitempty"`
	KeepFiles     int   `json:"keep_files,omitempty"`
	KeepBytes     int64 `json:"keep_bytes,omitempty"`
}

// SegmentInfo describes one closed segment, in the trailer.
type SegmentInfo struct {
	Offset           int64 `json:"offset"` // of the segment header frame
	CompressedSize   int64 `json:"compressed_size"`
	UncompressedSize int64 `json:"uncompressed_size"`
	Records          int64 `json:"records"`
	FirstMono        int64 `json:"first_mono,omitempty"`
	LastMono         int64 `json:"last_mono,omitempty"`
}

// Loss is the loss accounting of a recording.
type Loss struct {
	KernelLostBefore uint32           `json:"kernel_lost_before"`
	KernelLostAfter  uint32           `json:"kernel_lost_after"`
	ENOBUFS          map[string]int64 `json:"enobufs,omitempty"`          // per source
	RecorderDropped  map[string]int64 `json:"recorder_dropped,omitempty"` // frames, per source
	Truncated        map[string]int64 `json:"truncated_frames,omitempty"` // frames cut by the receive buffer
}

// Trailer is the JSON body of the final frame of a cleanly closed capture.
type Trailer struct {
	EndClock   ClockPair        `json:"end_clock"`
	Segments   []SegmentInfo    `json:"segments"`
	Frames     map[string]int64 `json:"frames"` // per source name
	Loss       Loss             `json:"loss"`
	StopReason string           `json:"stop_reason,omitempty"`
	CommandPID int              `json:"command_pid,omitempty"`
	// The command's exit: code for a normal exit, signal when killed.
	CommandExitCode *int         `json:"command_exit_code,omitempty"`
	CommandSignal   *int         `json:"command_signal,omitempty"`
	AuditAfter      *AuditStatus `json:"audit_status_after,omitempty"`
	Error           string       `json:"error,omitempty"`
}

// Note kinds (Note.Kind).
const (
	NoteDropped      = "dropped"
	NoteENOBUFS      = "enobufs"
	NoteCommandStart = "command_start"
	NoteCommandExit  = "command_exit"
	NoteAuditStatus  = "audit_status"
	NoteMessage      = "message"
	NoteImportFile   = "import_file" // an imported set's next file begins (Text: its name)
)

// Capture kinds (Header.Kind).
const (
	KindRecord  = "record"
	KindImport  = "import"
	KindExtract = "extract"
)

// Note is the JSON payload of a SourceNote record. Kind says which fields
// are set:
//
//	"enobufs":       Source overflowed its socket buffer (Count times)
//	"dropped":       Count frames (Bytes bytes) from Source were dropped at the memory cap
//	"command_start": the command of `record -- CMD` started with PID
//	"command_exit":  the command ended: ExitCode or Signal
//	"audit_status":  the kernel's status (Status) at that moment ("start", "stop" in Text)
//	"message":       free Text
//	"import_file":   the next file of an imported set begins (Text: its name)
type Note struct {
	Kind     string       `json:"kind"`
	Source   string       `json:"source,omitempty"`
	Count    int64        `json:"count,omitempty"`
	Bytes    int64        `json:"bytes,omitempty"`
	PID      int          `json:"pid,omitempty"`
	ExitCode *int         `json:"exit_code,omitempty"`
	Signal   *int         `json:"signal,omitempty"`
	Status   *AuditStatus `json:"status,omitempty"`
	Text     string       `json:"text,omitempty"`
}

// SnapshotProcess is the JSON payload of a SourceSnapshot record: one task
// (thread) alive when the recording started. A process appears once per
// thread; the leader has TID == PID.
type SnapshotProcess struct {
	PID        int      `json:"pid"`  // tgid
	TID        int      `json:"tid"`  // task id
	PPID       int      `json:"ppid"` // of the thread group
	Comm       string   `json:"comm"`
	Exe        string   `json:"exe,omitempty"`
	Argv       []string `json:"argv,omitempty"`
	Cwd        string   `json:"cwd,omitempty"`
	Root       string   `json:"root,omitempty"`
	Cgroup     []string `json:"cgroup,omitempty"` // lines of /proc/PID/cgroup
	UID        int      `json:"uid"`
	StartTicks uint64   `json:"start_ticks"`             // /proc/PID/stat field 22, clock ticks since boot
	StartBoot  int64    `json:"start_boottime_ns"`       // the same in ns (CLOCK_BOOTTIME)
	Kernel     bool     `json:"kernel_thread,omitempty"` // no mm: a kernel thread
	// Errors met while reading this task (vanished, permission): the fields
	// that could not be read are empty.
	Errors []string `json:"errors,omitempty"`
}

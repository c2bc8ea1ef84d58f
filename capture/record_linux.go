//go:build linux

package capture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctrace/ctrace/format"
)

// Options configure a recording.
type Options struct {
	Output string // capture file; created 0600
	Force  bool   // overwrite an existing Output
	// Version is the recorder's version, written into the header
	// (ctrace_version); "unknown" when empty.
	Version string

	NoAudit    bool
	NoProc     bool
	NoSnapshot bool
	RulesFile  string   // auditctl-style rules instead of the defaults
	Rules      []string // rules given directly (tests); wins over RulesFile

	BacklogLimit  uint32        // kernel backlog limit while recording (default 8192)
	QueueCap      int64         // memory cap for frames waiting for the writer (default 256 MiB)
	SegmentBytes  int64         // default 8 MiB
	SegmentAge    time.Duration // close a segment older than this (default 1 min)
	FlushInterval time.Duration // default 250 ms
	ReceiveBuffer int           // socket receive buffers, at least 8 MiB
	Duration      time.Duration // stop after this long (0: no limit)

	// Rotation: with RotateBytes or RotateEvery set, Output is a directory
	// that receives a capture set (rotate_linux.go): a new part begins when
	// the current one has RotateBytes on disk or is RotateEvery old, and
	// whenever Rotate receives. After each switch the oldest captures of
	// the directory are removed past KeepFiles files or KeepBytes bytes
	// (0: no limit).
	RotateBytes int64
	RotateEvery time.Duration
	KeepFiles   int
	KeepBytes   int64
	Rotate      <-chan struct{}

	// Command, when set, is run once recording is live; recording stops
	// when it exits. Its stdio are Stdin, Stdout, Stderr.
	Command []string
	Stdin   io.Reader
	Stdout  io.Writer

	// Stderr receives the "recording" line, notices and the summary.
	Stderr io.Writer
	// StatusLine draws a live status line on Stderr (a terminal).
	StatusLine bool
	// Signals, when set, delivers SIGINT/SIGTERM: the first stops recording
	// (in command mode SIGTERM is passed on to the command and SIGINT, which
	// the terminal sent to the command too, waits for it; a second one stops
	// at once).
	Signals <-chan os.Signal

	// RunDir holds the lock and state files (default /run/ctrace).
	RunDir string

	// StatsFile, when set, receives the hot path's figures as JSON when the
	// recording stops; CPUProfile a pprof CPU profile of the recording.
	// Empty, they are taken from the environment variables CTRACE_STATS and
	// CTRACE_CPUPROFILE (benchmarks; see stats_linux.go).
	StatsFile  string
	CPUProfile string
}

// Result describes a finished recording.
type Result struct {
	Path       string
	Frames     map[string]int64
	Stats      format.WriterStats
	Loss       format.Loss
	StopReason string
	Duration   time.Duration
	// Command exit: ExitCode >= 0 for a normal exit, Signal > 0 when killed.
	CommandPID int
	ExitCode   int
	Signal     int
	Notices    []string
	AuditMode  string
	// ReceiveToWriter is the time frames took from their receive stamp to
	// the writer goroutine.
	ReceiveToWriter Latency
}

// Errors the CLI turns into clear messages.
var (
	ErrNotRoot         = errors.New("capture: recording needs root (CAP_AUDIT_CONTROL, CAP_AUDIT_READ and CAP_NET_ADMIN)")
	ErrAnotherRecorder = errors.New("capture: another ctrace recorder is running")
	ErrExists          = errors.New("capture: output file exists (use --force to overwrite)")
)

// Rotating reports whether the options ask for a capture set.
func (o *Options) Rotating() bool { return o.RotateBytes > 0 || o.RotateEvery > 0 }

func (o *Options) defaults() {
	if o.BacklogLimit == 0 {
		o.BacklogLimit = DefaultAuditBacklogLimit
	}
	if o.QueueCap <= 0 {
		o.QueueCap = 256 << 20
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = format.DefaultSegmentBytes
	}
	if o.SegmentAge <= 0 {
		o.SegmentAge = time.Minute
	}
	if o.FlushInterval <= 0 {
		// With the readers' 25 ms quiet handoff, a frame is on disk at
		// most 225 ms after it arrived.
		o.FlushInterval = 200 * time.Millisecond
	}
	if o.ReceiveBuffer < minReceiveBufBytes {
		o.ReceiveBuffer = minReceiveBufBytes
	}
	if o.RunDir == "" {
		o.RunDir = "/run/ctrace"
	}
	if o.StatsFile == "" {
		o.StatsFile = os.Getenv("CTRACE_STATS")
	}
	if o.CPUProfile == "" {
		o.CPUProfile = os.Getenv("CTRACE_CPUPROFILE")
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
}

// recording is the state of one Record call.
type recording struct {
	opts  Options
	clock monoClock
	pool  *chunkPool
	queue chan []byte
	w     *format.Writer // the current part's (rotation swaps it: see writer)
	file  *os.File
	wmu   sync.Mutex
	rules []string

	// Rotation (nil without): the writer goroutine takes the new part at
	// the nil chunk of the queue, from rotations, and answers on rotated.
	rot       *rotation
	rotations chan rotateRequest
	rotated   chan rotateDone
	readers   []*sourceReader
	rwg       sync.WaitGroup
	stats     map[format.Source]*sourceStats

	ctl        *AuditControl
	audit      *dataSocket
	proc       *dataSocket
	auditMode  string
	lostBefore uint32

	latency     latencyHist // receive to writer; the writer goroutine's until writerDone
	writerFail  chan error  // a write failed (buffered, first error only)
	writerDone  chan error  // the write loop ended (its last error)
	notices     []string
	restoreMu   sync.Mutex
	restored    bool
	restoreErr  error
	statusShown bool
}

func (rc *recording) notice(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	rc.notices = append(rc.notices, msg)
	fmt.Fprintln(rc.opts.Stderr, "ctrace: "+msg)
}

// Record records until the command exits, Duration passes, a signal arrives
// or ctx is done. The kernel's audit state is restored on every way out.
func Record(ctx context.Context, opts Options) (res *Result, err error) {
	opts.defaults()
	rc := &recording{opts: opts, clock: newMonoClock(), stats: map[format.Source]*sourceStats{}}
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	if opts.NoAudit && opts.NoProc {
		return nil, errors.New("capture: --no-audit and --no-proc leave nothing to record")
	}
	unlock, err := lockRecorder(opts.RunDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if opts.CPUProfile != "" {
		stop, err := startCPUProfile(opts.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer stop()
	}

	// Open the output first: a bad path should fail before the kernel is touched.
	if opts.Rotating() {
		if err := rc.openFirstPart(); err != nil {
			return nil, err
		}
	} else {
		flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
		if opts.Force {
			flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		}
		rc.file, err = os.OpenFile(opts.Output, flags, 0o600)
		if err != nil {
			if errors.Is(err, os.ErrExist) {
				return nil, fmt.Errorf("%w: %s", ErrExists, opts.Output)
			}
			return nil, fmt.Errorf("capture: cannot create the output: %w", err)
		}
		if opts.Force {
			_ = rc.file.Chmod(0o600)
		}
	}
	defer func() {
		rc.restore()
		if rc.restoreErr != nil {
			err = errors.Join(err, rc.restoreErr)
		}
		// The pump must be done with the sockets before they are closed
		// (it already is unless setup failed after starting it).
		for _, r := range rc.readers {
			r.stop(0)
		}
		rc.rwg.Wait()
		rc.audit.Close()
		rc.proc.Close()
		if rc.ctl != nil {
			rc.ctl.Close()
		}
		if cerr := rc.file.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("capture: closing %s: %w", rc.outputName(), cerr)
		}
	}()

	if err := rc.setup(); err != nil {
		return nil, err
	}
	return rc.run(ctx)
}

// setup prepares the kernel and the sockets and starts the hot loop.
func (rc *recording) setup() error {
	o := &rc.opts
	self := os.Getpid()
	statePath := filepath.Join(o.RunDir, "state.json")
	var rules []string
	var before format.AuditStatus
	rc.auditMode = "off"
	if !o.NoAudit {
		notes, err := RecoverStale(statePath)
		for _, n := range notes {
			rc.notice("%s", n)
		}
		if err != nil {
			return err
		}
		rc.ctl, err = OpenAuditControl()
		if err != nil {
			return err
		}
		removed, err := rc.ctl.RemoveStaleRules()
		for _, r := range removed {
			rc.notice("removed a rule left by an earlier recorder: %s", r)
		}
		if err != nil {
			return err
		}
		before, err = rc.ctl.Status()
		if err != nil {
			return err
		}
		rc.lostBefore = before.Lost
		switch {
		case o.Rules != nil:
			rules = o.Rules
		case o.RulesFile != "":
			f, err := os.Open(o.RulesFile)
			if err != nil {
				return fmt.Errorf("capture: rules: %w", err)
			}
			rules, err = ParseRulesFile(f, o.RulesFile, self)
			f.Close()
			if err != nil {
				return err
			}
		default:
			rules = DefaultRules(self)
		}
		if _, err := BuildRules(rules); err != nil {
			return err
		}
		rc.auditMode = "unicast"
		if pid, alive, comm := AuditPIDOwner(before); alive && pid != self {
			if strings.HasPrefix(comm, "ctrace") {
				return fmt.Errorf("%w (pid %d is the audit daemon)", ErrAnotherRecorder, pid)
			}
			rc.auditMode = "multicast"
			rc.notice("%s (pid %d) is the audit daemon: reading the read-only multicast group; the kernel does not count losses there, ctrace detects them (ENOBUFS, serial gaps)", comm, pid)
		}
	}

	rc.rules = rules
	hdr := rc.header(rules, before, 1)
	var err error
	rc.w, err = format.NewWriter(rc.file, hdr, rc.writerOptions())
	if err != nil {
		return fmt.Errorf("capture: %s: %w", rc.outputName(), err)
	}
	if rc.rot != nil {
		rc.rot.opened = time.Now()
		rc.rot.lostBefore = before.Lost
		rc.rot.lossBase = rc.loss()
		rc.rotations = make(chan rotateRequest, 1)
		rc.rotated = make(chan rotateDone, 1)
	}
	rc.pool = newChunkPool(o.QueueCap)
	rc.queue = make(chan []byte, o.QueueCap/chunkSize+4096)
	rc.writerFail = make(chan error, 1)
	rc.writerDone = make(chan error, 1)
	go rc.writeLoop()

	// Sockets, then readers, then rules: the first events have a reader.
	var early [][]byte
	if rc.auditMode != "off" {
		groups := uint32(0)
		if rc.auditMode == "multicast" {
			groups = 1 << (auditNlgrpReadlog - 1)
		}
		rc.audit, err = dialData(unix.NETLINK_AUDIT, groups, o.ReceiveBuffer)
		if err != nil {
			return auditErr("open the audit socket", err)
		}
		if rc.auditMode == "unicast" {
			early, err = registerAuditDaemon(rc.audit, self)
			if errors.Is(err, unix.EEXIST) {
				// An audit daemon registered meanwhile: fall back to multicast.
				rc.audit.Close()
				rc.auditMode = "multicast"
				rc.notice("another audit daemon registered first: reading the multicast group")
				if rc.audit, err = dialData(unix.NETLINK_AUDIT, 1, o.ReceiveBuffer); err != nil {
					return auditErr("open the audit multicast socket", err)
				}
				early = nil
			} else if err != nil {
				return auditErr("register as the audit daemon", err)
			}
		}
		rc.addReader(format.SourceAudit, rc.audit, early)
	}
	if !o.NoProc {
		rc.proc, err = dialData(unix.NETLINK_CONNECTOR, cnIdxProc, o.ReceiveBuffer)
		if err == nil {
			err = procConnectorOp(rc.proc, procCnMcastListen)
		}
		if err != nil {
			rc.proc.Close()
			rc.proc = nil
			if rc.auditMode == "off" {
				return fmt.Errorf("capture: the proc connector is not available: %w", err)
			}
			rc.notice("the proc connector is not available (%v): recording audit alone", err)
		} else {
			rc.addReader(format.SourceProc, rc.proc, nil)
		}
	}
	// Receive before the rules are loaded: the first events have a reader
	// (the sockets hold what arrived since they were opened).
	if err := rc.startPump(); err != nil {
		return err
	}
	if rc.auditMode != "off" {
		if err := rc.ctl.Prepare(AuditOptions{Rules: rules, BacklogLimit: o.BacklogLimit, StatePath: statePath}); err != nil {
			return err
		}
	}
	rc.writeNote(format.Note{Kind: format.NoteAuditStatus, Status: &before, Text: "start"})
	if !o.NoSnapshot {
		if err := rc.snapshot(); err != nil {
			rc.notice("the /proc snapshot failed: %v", err)
		}
	}
	return nil
}

// writerOptions are the options of every part's writer.
func (rc *recording) writerOptions() format.WriterOptions {
	return format.WriterOptions{SegmentBytes: rc.opts.SegmentBytes, Clock: readClocks}
}

// header is the file header of the capture, or of part index of a set.
func (rc *recording) header(rules []string, before format.AuditStatus, index int) format.Header {
	o := &rc.opts
	var u unix.Utsname
	_ = unix.Uname(&u)
	bootID, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	version := o.Version
	if version == "" {
		version = "unknown"
	}
	h := format.Header{
		CtraceVersion: version,
		Kind:          format.KindRecord,
		Hostname:      unix.ByteSliceToString(u.Nodename[:]),
		KernelRelease: unix.ByteSliceToString(u.Release[:]),
		KernelVersion: unix.ByteSliceToString(u.Version[:]),
		Machine:       unix.ByteSliceToString(u.Machine[:]),
		ByteOrder:     hostByteOrder(),
		BootID:        strings.TrimSpace(string(bootID)),
		Clock:         readClocks(),
		PageSize:      os.Getpagesize(),
		ClockTicks:    ClockTicks(),
		AuditMode:     rc.auditMode,
		Proc:          !o.NoProc,
		Snapshot:      !o.NoSnapshot,
		Rules:         rules,
		RecorderPID:   os.Getpid(),
		Command:       o.Command,
		Options: format.Options{
			BacklogLimit:    o.BacklogLimit,
			QueueCapBytes:   o.QueueCap,
			SegmentBytes:    o.SegmentBytes,
			SegmentAgeMS:    o.SegmentAge.Milliseconds(),
			FlushIntervalMS: o.FlushInterval.Milliseconds(),
			RulesFile:       o.RulesFile,
			DurationMS:      o.Duration.Milliseconds(),
			ReceiveBuffer:   o.ReceiveBuffer,
		},
	}
	if rc.auditMode != "off" {
		h.AuditBefore = &before
	}
	if rc.rot != nil {
		h.Set = &format.SetInfo{ID: rc.rot.setID, Index: index}
		h.Options.RotateBytes = o.RotateBytes
		h.Options.RotateEveryMS = o.RotateEvery.Milliseconds()
		h.Options.KeepFiles = o.KeepFiles
		h.Options.KeepBytes = o.KeepBytes
	}
	return h
}

// addReader prepares the reader of a socket; startPump starts receiving.
func (rc *recording) addReader(src format.Source, s *dataSocket, early [][]byte) {
	st := &sourceStats{}
	rc.stats[src] = st
	r := newSourceReader(src, s.fd, rc.pool, rc.queue, &rc.clock, st)
	r.ensureRoom()
	for _, f := range early {
		r.buf = format.AppendRecord(r.buf, src, 0, r.now(), f)
		st.frames.Add(1)
	}
	rc.readers = append(rc.readers, r)
}

// startPump starts the one goroutine that receives for every reader.
func (rc *recording) startPump() error {
	if len(rc.readers) == 0 {
		return nil
	}
	p, err := newPump(rc.readers...)
	if err != nil {
		return err
	}
	rc.rwg.Add(1)
	go p.run(&rc.rwg)
	return nil
}

// writeNote queues a note record (off the hot path).
func (rc *recording) writeNote(n format.Note) {
	b, _ := json.Marshal(n)
	rec := format.AppendRecord(nil, format.SourceNote, 0, rc.clock.now(), b)
	rc.pool.forceReserve(cap(rec))
	rc.queue <- rec
}

// snapshot records every task alive now, in chunks.
func (rc *recording) snapshot() error {
	var chunk []byte
	_, err := Snapshot("/proc", ClockTicks(), func(p format.SnapshotProcess) error {
		b, err := json.Marshal(&p)
		if err != nil {
			return err
		}
		if len(b) > format.MaxRecordSize {
			return nil
		}
		chunk = format.AppendRecord(chunk, format.SourceSnapshot, 0, rc.clock.now(), b)
		if len(chunk) > 256<<10 {
			rc.pool.forceReserve(cap(chunk))
			rc.queue <- chunk
			chunk = nil
		}
		return nil
	})
	if len(chunk) > 0 {
		rc.pool.forceReserve(cap(chunk))
		rc.queue <- chunk
	}
	return err
}

// writeLoop compresses and writes chunks, flushes on a timer and closes
// segments by age. It returns chunks to the pool.
func (rc *recording) writeLoop() {
	o := &rc.opts
	tick := time.NewTicker(o.FlushInterval)
	defer tick.Stop()
	var werr error
	dirty := false
	segOpened := time.Time{}
	for {
		select {
		case b, ok := <-rc.queue:
			if !ok {
				rc.writerDone <- werr
				return
			}
			if b == nil {
				// The next part of a capture set begins here.
				werr = rc.switchPart(werr)
				if werr != nil {
					select {
					case rc.writerFail <- werr:
					default:
					}
				}
				dirty = false
				continue
			}
			rc.latency.addChunk(b, rc.clock.now())
			if werr == nil {
				wasOpen := rc.w.SegmentOpen()
				werr = rc.w.WriteChunk(b)
				if !wasOpen && rc.w.SegmentOpen() {
					segOpened = time.Now()
				}
				dirty = true
				if werr != nil {
					// A full disk or an I/O error: stop the recording.
					select {
					case rc.writerFail <- werr:
					default:
					}
				}
			}
			rc.pool.recycle(b)
		case <-tick.C:
			if werr != nil {
				continue
			}
			if dirty {
				werr = rc.w.Flush()
				dirty = false
			}
			if werr == nil && rc.w.SegmentOpen() && time.Since(segOpened) >= o.SegmentAge {
				werr = rc.w.CloseSegment()
			}
			if werr != nil {
				select {
				case rc.writerFail <- werr:
				default:
				}
			}
		}
	}
}

// restore puts the kernel's audit state back; safe to call more than once.
func (rc *recording) restore() {
	rc.restoreMu.Lock()
	defer rc.restoreMu.Unlock()
	if rc.restored {
		return
	}
	rc.restored = true
	if rc.ctl != nil {
		rc.restoreErr = rc.ctl.Restore()
	}
}

func exitOf(ps *os.ProcessState) (code, sig int) {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, int(ws.Signal())
	}
	return ps.ExitCode(), 0
}

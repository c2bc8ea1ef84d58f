package analyze

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// Capture describes the capture an Analysis comes from: where and when it
// was recorded and what it lost. Losses are those `ctrace info` reports
// (replay.Summarize).
type Capture struct {
	Kind      string // record, import, extract
	Host      string
	Kernel    string
	Machine   string
	BootID    string
	AuditMode string
	Proc      bool // the proc connector was recorded
	Snapshot  bool // the /proc snapshot was taken
	Command   []string
	// Files are the captures of a capture set read as one, in order (nil
	// for one file).
	Files []string
	// CommandPID is the pid of the recorded command (0: none).
	CommandPID int
	Start, End int64 // wall clock, ns

	Lost   int64
	Losses replay.Losses

	Truncated   bool
	TruncatedAt int64
	// Damage lists the damaged regions (without the file name), at most
	// 1000; DamageCount counts them all.
	Damage      []string
	DamageCount int
	// Undecodable counts records that could not be decoded, per source.
	Undecodable map[string]int
	// LateRecords counts the audit records that arrived after their event
	// had been analyzed (Model.LateRecords).
	LateRecords int
	// SerialGaps say where audit serials are missing (at most 100 runs; see
	// replay.Summary.AuditSerialGapRanges).
	SerialGaps []replay.SerialGap
}

// Analysis is a capture's process model with the capture's description.
type Analysis struct {
	Capture   Capture
	Processes []*Process // sorted by start (or first seen), then pid
	// Containers are the containers found (container_detect.go), sorted by
	// start, then id; never nil.
	Containers []*Container
}

// AnalyzeFile reads the capture file at path and builds its model. A
// truncated or damaged capture is analyzed as far as it can be read: see
// Capture.Truncated and Capture.Damage (and Warnings).
func AnalyzeFile(path string) (*Analysis, error) { return analyzeFile(path, ReadOptions{}.read()) }

// AnalyzeFileWith is AnalyzeFile with read options.
func AnalyzeFileWith(path string, o ReadOptions) (*Analysis, error) {
	return analyzeFile(path, o.read())
}

// AnalyzeCaptures analyzes the captures args name (capture files, or the
// directory of a capture set) as one recording (format.OpenSet: of a set,
// only the parts that win needs are read). One file is analyzed as
// AnalyzeFileWith does.
func AnalyzeCaptures(args []string, win format.Window, o ReadOptions) (*Analysis, error) {
	r, err := format.OpenSet(args, win)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return analyzeReader(r, o.read())
}

func analyzeFile(path string, o readOptions) (*Analysis, error) {
	r, err := format.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return analyzeReader(r, o)
}

func analyzeReader(r *format.Reader, o readOptions) (*Analysis, error) {
	m, sum, err := buildSummarized(r, o)
	if err != nil {
		return nil, err
	}
	a := &Analysis{Processes: m.Processes, Containers: m.Containers()}
	h := r.Header()
	c := &a.Capture
	c.Kind, c.Host, c.Kernel, c.Machine, c.BootID = h.Kind, h.Hostname, h.KernelRelease, h.Machine, h.BootID
	c.AuditMode, c.Proc, c.Snapshot, c.Command = h.AuditMode, h.Proc, h.Snapshot, h.Command
	c.CommandPID = sum.CommandPID
	c.Files = sum.Files
	c.Start, c.End = sum.StartNS, sum.EndNS
	c.Lost, c.Losses = sum.Lost, sum.Losses
	c.Truncated = r.Truncated()
	if c.Truncated {
		c.TruncatedAt = r.TruncatedAt()
	}
	c.DamageCount = r.ProblemCount()
	for _, p := range r.Problems() {
		t := damageText(p)
		if c.Files != nil {
			t = filepath.Base(p.File) + ": " + t // of a capture set: which file
		}
		c.Damage = append(c.Damage, t)
	}
	c.Undecodable = m.Undecodable
	c.LateRecords = m.LateRecords
	c.SerialGaps = sum.AuditSerialGapRanges
	return a, nil
}

// damageText is a FormatError without its file name, so that the report
// does not depend on where the capture is stored.
func damageText(e *format.FormatError) string {
	if e.Segment >= 0 {
		return fmt.Sprintf("offset %d: segment %d: %v", e.Offset, e.Segment, e.Err)
	}
	return fmt.Sprintf("offset %d: %v", e.Offset, e.Err)
}

// Warnings returns what the user must know about the capture's state, one
// sentence each: truncation, damage, undecodable records, losses.
func (a *Analysis) Warnings() []string {
	c := &a.Capture
	var w []string
	if c.Truncated && c.Files != nil {
		w = append(w, fmt.Sprintf("the last capture of the set, %s, is truncated at offset %d (the recorder is still writing it, or did not close it): analyzed up to the cut",
			filepath.Base(c.Files[len(c.Files)-1]), c.TruncatedAt))
	} else if c.Truncated {
		w = append(w, fmt.Sprintf("the capture is truncated at offset %d (the recorder did not close it): analyzed up to the cut", c.TruncatedAt))
	}
	for _, d := range c.Damage {
		w = append(w, "damaged capture: "+d)
	}
	if n := c.DamageCount - len(c.Damage); n > 0 {
		w = append(w, fmt.Sprintf("damaged capture: %d more damaged regions", n))
	}
	for _, src := range []string{"audit", "proc", "snapshot"} {
		if n := c.Undecodable[src]; n > 0 {
			w = append(w, fmt.Sprintf("%d %s records could not be decoded and were skipped", n, src))
		}
	}
	if c.Lost > 0 {
		w = append(w, fmt.Sprintf("the capture lost %d events (%s): processes or files may be missing", c.Lost, lossText(c.Losses)))
	}
	if c.LateRecords > 0 {
		w = append(w, fmt.Sprintf("%d audit records arrived more than %s after their event had been analyzed: each was taken for an event of its own, so what it says may be missing from its process", c.LateRecords, ReorderWindowText()))
	}
	return w
}

// ReorderWindowText is how long the analyzer waits for an audit event's
// records (the reorder window), as the reports say it: "2s".
func ReorderWindowText() string { return fmt.Sprintf("%gs", float64(defaultReorderWindow)/1e9) }

// LossText breaks losses down as the reports do.
func LossText(l replay.Losses) string { return lossText(l) }

func lossText(l replay.Losses) string {
	return fmt.Sprintf("kernel %d, ENOBUFS %d, recorder dropped %d, audit serial gaps %d, proc sequence gaps %d, truncated frames %d",
		l.KernelLost, l.ENOBUFS, l.RecorderDropped, l.AuditSerialGaps, l.ProcSeqGaps, l.TruncatedFrames)
}

// Options select a report.
type Options struct {
	// Format is "text" (the default when empty) or "json".
	Format string
	// PID, when positive, limits the report to the subtree of each process
	// with that pid (several when the pid was reused).
	PID int
	// Container, when not empty, limits the report to one container: the
	// one whose id starts with it (see FindContainer). Not with PID.
	Container string
	// Files is how the text report lists files: FilesAll (every file; the
	// default when ""), FilesSummary (folded), FilesNone (the trees alone).
	Files string
	// Paths and Exes keep the processes that touched a matching path or
	// ran a matching program, with their ancestors as context (see
	// Selection); they combine with each other and with PID and Container.
	Paths, Exes []string
}

// ErrBadOptions is returned by Write for options that do not go together
// or a format it does not know.
var ErrBadOptions = errors.New("analyze: bad report options")

// check validates the options.
func (o Options) check() error {
	switch o.Format {
	case "", "text", "json":
	default:
		return fmt.Errorf("%w: format %q (text or json)", ErrBadOptions, o.Format)
	}
	switch o.Files {
	case "", FilesAll, FilesSummary, FilesNone:
	default:
		return fmt.Errorf("%w: files %q (summary, all or none)", ErrBadOptions, o.Files)
	}
	if o.PID > 0 && o.Container != "" && !o.selection().Filtered() {
		return fmt.Errorf("%w: a pid and a container together need a path or program filter", ErrBadOptions)
	}
	return nil
}

// files is the files mode, FilesAll when not set.
func (o Options) files() string {
	if o.Files == "" {
		return FilesAll
	}
	return o.Files
}

// selection is the Selection of the options.
func (o Options) selection() Selection {
	return Selection{PID: o.PID, Container: o.Container, Paths: o.Paths, Exes: o.Exes}
}

// ErrNoSuchPID is returned when Options.PID names no process of the capture.
var ErrNoSuchPID = errors.New("analyze: no process with this pid in the capture")

// Write writes the report in the format of o (text by default), limited to
// o.PID's subtrees or to o.Container when set.
func (a *Analysis) Write(w io.Writer, o Options) error {
	if err := o.check(); err != nil {
		return err
	}
	if o.PID > 0 && len(a.roots(o.PID)) == 0 {
		return fmt.Errorf("%w: %d", ErrNoSuchPID, o.PID)
	}
	if s := o.selection(); s.Filtered() {
		sel, err := a.Select(s)
		if err != nil {
			return err
		}
		switch o.Format {
		case "json":
			return a.WriteSelectedJSON(w, s, sel)
		case "text", "":
			return a.WriteSelectedText(w, s, sel, o.files())
		}
		return fmt.Errorf("analyze: unknown report format %q", o.Format)
	}
	if o.Container != "" {
		c, err := a.FindContainer(o.Container)
		if err != nil {
			return err
		}
		switch o.Format {
		case "json":
			return a.WriteContainerJSON(w, c)
		case "text", "":
			return a.writeContainerText(w, c, o.files())
		}
		return fmt.Errorf("analyze: unknown report format %q", o.Format)
	}
	switch o.Format {
	case "json":
		return a.WriteJSON(w, o.PID)
	case "text", "":
		return a.writeText(w, o.PID, o.files())
	}
	return fmt.Errorf("analyze: unknown report format %q", o.Format)
}

// roots returns the processes whose subtrees a report shows: every process
// without a parent in the model, or, with pid > 0, every process with that
// pid.
func (a *Analysis) roots(pid int) []*Process {
	var out []*Process
	for _, p := range a.Processes {
		if (pid > 0 && p.PID == pid) || (pid <= 0 && p.Parent == nil) {
			out = append(out, p)
		}
	}
	return out
}

// selected returns the processes a report with pid covers, in model order.
func (a *Analysis) selected(pid int) []*Process {
	if pid <= 0 {
		return a.Processes
	}
	in := map[*Process]bool{}
	var walk func(p *Process)
	walk = func(p *Process) {
		if in[p] {
			return
		}
		in[p] = true
		for _, c := range p.Children {
			walk(c)
		}
	}
	for _, r := range a.roots(pid) {
		walk(r)
	}
	var out []*Process
	for _, p := range a.Processes {
		if in[p] {
			out = append(out, p)
		}
	}
	return out
}

// SerialGapTimes is a run of missing audit serials and where it happened:
// After is the time of the last record before it, Until of the first after
// it (wall clock ns, to the audit clock's millisecond); 0 when unknown.
type SerialGapTimes struct {
	First, Last  uint32
	After, Until int64
}

// SerialGapTimes returns Capture.SerialGaps with their times as numbers.
func (a *Analysis) SerialGapTimes() []SerialGapTimes {
	out := make([]SerialGapTimes, 0, len(a.Capture.SerialGaps))
	parse := func(s string) int64 {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UnixNano()
		}
		return 0
	}
	for _, g := range a.Capture.SerialGaps {
		out = append(out, SerialGapTimes{First: g.First, Last: g.Last, After: parse(g.After), Until: parse(g.Until)})
	}
	return out
}

package extract

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// Options say what an extract keeps and how it is redacted. At least one
// selector (PIDs, Command, Containers, Since, Until) is required; process
// selectors add up (union), the time window narrows them.
type Options struct {
	// PIDs: each process with this pid (several when the pid was reused)
	// and its descendants, for their whole lives.
	PIDs []int
	// Command: the command of a `ctrace record -- COMMAND` capture and its
	// descendants.
	Command bool
	// Containers: id prefixes; each names one container (see
	// analyze.Model.FindContainer): its processes (init, exec sessions,
	// their descendants), its runtime processes (shim, runc ...) and the
	// clients that started them (docker run, docker exec).
	Containers []string
	// Since and Until bound the window (see ParseTime): RFC 3339 times, or
	// offsets from the capture's start such as "2s" or "+1m30s". Frames
	// outside it are dropped, except the identity frames of the processes
	// kept; a process is kept only if its life meets the window. Without a
	// process selector, every process alive in the window is selected.
	Since, Until string

	// Redact: regular expressions (Go syntax); matching text of arguments,
	// paths, working directories, process titles and command names becomes
	// Redacted.
	Redact []string
	// RedactEnv drops environment values wherever a record carries them
	// (see redactEnvArgs: only as arguments).
	RedactEnv bool
	// HashPaths replaces each path component under /home/* and /root with
	// a stable short hash (hashComponent).
	HashPaths bool
	// RedactHost replaces the header's host name with Redacted and drops
	// its boot id and kernel build string.
	RedactHost bool
	// NoAncestors leaves the selected processes' ancestors out (they are
	// kept as bare entries otherwise): a selected process whose parent is
	// not selected is a root of the extract. A container's init, which
	// names the container's root, and the runtime above it are still kept
	// for the container's processes.
	NoAncestors bool
}

func (o *Options) hasSelector() bool {
	return len(o.PIDs) > 0 || o.Command || len(o.Containers) > 0 || o.Since != "" || o.Until != ""
}

// Check validates the options without reading a capture.
func (o *Options) Check() error {
	if !o.hasSelector() {
		return fmt.Errorf("%w: no selection (PIDs, Command, Containers, Since or Until)", ErrBadOptions)
	}
	for _, p := range o.PIDs {
		if p <= 0 {
			return fmt.Errorf("%w: pid %d is not positive", ErrBadOptions, p)
		}
	}
	for _, c := range o.Containers {
		if c == "" {
			return fmt.Errorf("%w: an empty container id", ErrBadOptions)
		}
	}
	for _, t := range []string{o.Since, o.Until} {
		if _, err := analyze.ParseTime(t, 0); err != nil {
			return fmt.Errorf("%w: %v", ErrBadOptions, err)
		}
	}
	_, err := o.redactor()
	return err
}

// ErrBadOptions is returned for options that select nothing or cannot be
// read.
var ErrBadOptions = errors.New("extract: bad options")

func (o *Options) redactor() (*redactor, error) {
	r := &redactor{env: o.RedactEnv, hash: o.HashPaths}
	for _, s := range o.Redact {
		re, err := regexp.Compile(s)
		if err != nil {
			// The pattern itself may be a secret: not in the message.
			return nil, fmt.Errorf("%w: redaction pattern %d of %d does not compile: %s", ErrBadOptions, len(r.patterns)+1, len(o.Redact), reSyntaxReason(err))
		}
		if s == "" {
			return nil, fmt.Errorf("%w: redaction pattern %d of %d is empty", ErrBadOptions, len(r.patterns)+1, len(o.Redact))
		}
		r.patterns = append(r.patterns, re)
	}
	return r, nil
}

// reSyntaxReason is the kind of a regexp syntax error, without the
// expression.
func reSyntaxReason(err error) string {
	var se interface{ Error() string }
	if errors.As(err, &se) {
		if i := strings.Index(se.Error(), ": "); i >= 0 {
			msg := se.Error()[i+2:]
			if j := strings.Index(msg, ": `"); j >= 0 {
				return msg[:j]
			}
			return msg
		}
	}
	return "invalid syntax"
}

// Result tells what an extract kept.
type Result struct {
	// Header is the extract's header.
	Header format.Header
	// Selected counts the processes selected; Bare the ancestors (and
	// successors of vanished processes) kept as bare entries.
	Selected, Bare int
	// Kept and Read count records per source ("audit", "proc",
	// "snapshot", "note").
	Kept, Read map[string]int64
	// Rewritten counts the records the redaction changed.
	Rewritten int64
	// Warnings: damage in the input, records dropped because redaction made
	// them too large.
	Warnings []string
}

// File extracts the capture in into out (created with mode 0600, written
// to a temporary file first and renamed).
func File(in, out string, o Options) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	f, err := os.Open(in)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if ost, err := os.Stat(out); err == nil && os.SameFile(st, ost) {
		return nil, errors.New("extract: the output would overwrite the input")
	}
	abs, _ := filepath.Abs(in)
	open := func() (*format.Reader, error) { return format.NewReader(f, st.Size(), in) }
	return writeExtract(open, in, abs, out, o)
}

// Files extracts from the captures ins name as one recording (the parts of
// a capture set, or its directory: format.OpenSet, which reads only the
// parts win needs) into out. One capture file is extracted as File does.
func Files(ins []string, win format.Window, out string, o Options) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	files, err := format.SetFiles(ins)
	if err != nil {
		return nil, err
	}
	if len(files) == 1 {
		return File(files[0], out, o)
	}
	if ost, err := os.Stat(out); err == nil {
		for _, f := range files {
			if st, err := os.Stat(f); err == nil && os.SameFile(st, ost) {
				return nil, errors.New("extract: the output would overwrite an input")
			}
		}
	}
	var names []string
	for _, in := range ins {
		names = append(names, filepath.Base(in))
	}
	abs, _ := filepath.Abs(ins[0])
	open := func() (*format.Reader, error) { return format.OpenSet(ins, win) }
	return writeExtract(open, strings.Join(names, ", "), abs, out, o)
}

// writeExtract writes the extract to a temporary file beside out, then
// renames it.
func writeExtract(open func() (*format.Reader, error), name, abs, out string, o Options) (*Result, error) {
	dir := filepath.Dir(out)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	res, err := extract(open, name, abs, tmp, o)
	if err != nil {
		return nil, err
	}
	if err := tmp.Chmod(0o600); err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	ok = true
	return res, nil
}

// Extract reads the capture in ra (size bytes; name for messages and the
// header) twice, or three times when redacting, and writes the extract to
// w.
func Extract(ra io.ReaderAt, size int64, name string, w io.Writer, o Options) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	open := func() (*format.Reader, error) { return format.NewReader(ra, size, name) }
	return extract(open, name, "", w, o)
}

// extractor holds one extraction's state.
type extractor struct {
	red     *redactor
	sel     *selection
	idx     *index
	order   binary.ByteOrder
	decided map[evKey]bool
	// From the planning pass (redaction only): each kept event's original
	// cwd, and the edits of EXECVE records.
	cwd       map[evKey]string
	execEdits map[recPos][]edit
}

// extract reads the capture that open opens (each pass opens it again).
func extract(open func() (*format.Reader, error), name, absName string, w io.Writer, o Options) (*Result, error) {
	red, err := o.redactor()
	if err != nil {
		return nil, err
	}
	// Pass 1: the model, the summary (losses) and the index of events.
	r1, err := open()
	if err != nil {
		return nil, err
	}
	defer r1.Close()
	orig := *r1.Header()
	order := replay.ByteOrderOf(orig.ByteOrder)
	idx := newIndex(order)
	t := &tee{r: r1, sz: replay.NewSummarizer(r1), idx: idx}
	m, err := analyze.Build(t)
	if err != nil {
		return nil, err
	}
	sum := t.sz.Finish()
	res := &Result{Kept: map[string]int64{}, Read: map[string]int64{}}
	for _, p := range r1.Problems() {
		res.Warnings = append(res.Warnings, "damaged input: "+p.Error())
	}
	if n := r1.ProblemCount() - len(r1.Problems()); n > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("damaged input: %d more damaged regions", n))
	}

	sel := newSelection(m)
	if o.Since != "" {
		sel.since, _ = analyze.ParseTime(o.Since, sum.StartNS)
	}
	if o.Until != "" {
		sel.until, _ = analyze.ParseTime(o.Until, sum.StartNS)
	}
	if sel.since > sel.until {
		return nil, fmt.Errorf("%w: Since is after Until", ErrBadOptions)
	}
	if err := sel.choose(m, &o, sum.CommandPID, idx.leaderExits); err != nil {
		return nil, err
	}
	res.Selected, res.Bare = sel.counts()
	lines := selectionLines(&o, m, sum.CommandPID, sel)

	x := &extractor{red: red, sel: sel, idx: idx, order: order, decided: map[evKey]bool{},
		cwd: map[evKey]string{}, execEdits: map[recPos][]edit{}}

	x.inheritCwd(m)

	// Pass 2 (redaction): the context of each kept event.
	if red.active() {
		if err := x.plan(open); err != nil {
			return nil, err
		}
	}

	// The header.
	h := orig
	h.Kind = format.KindExtract
	h.Set = nil // one file, not a part of the set it may come from
	h.ExtractedFrom = red.fileName(name, absName)
	h.Selection = append(slices.Clone(orig.Selection), lines...)
	h.Redaction = append(slices.Clone(orig.Redaction), redactionLines(&o)...)
	lc := sum.LossCounts()
	h.OriginalLosses = &lc
	if red.active() {
		h.Command = red.argv(orig.Command)
		h.Rules = make([]string, len(orig.Rules))
		for i, rule := range orig.Rules {
			h.Rules[i] = red.text(rule)
		}
		if len(orig.Rules) == 0 {
			h.Rules = nil
		}
		if h.Options.RulesFile != "" {
			h.Options.RulesFile = red.path(h.Options.RulesFile, "")
		}
		h.ImportedFrom = nil
		for _, f := range orig.ImportedFrom {
			h.ImportedFrom = append(h.ImportedFrom, red.path(f, ""))
		}
	}
	if o.RedactHost {
		h.Hostname, h.BootID, h.KernelVersion = Redacted, "", ""
	}
	res.Header = h

	// Pass 3: write.
	hb, _ := json.Marshal(&h)
	origID := r1.FileID()
	idSum := sha256.Sum256(append(origID[:], hb...))
	var id [format.FileIDSize]byte
	copy(id[:], idSum[:])
	r, err := open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var clock format.ClockPair
	fw, err := format.NewWriter(w, h, format.WriterOptions{
		SegmentBytes: math.MaxInt64 / 2,
		Clock:        func() format.ClockPair { return clock },
		FileID:       &id,
	})
	if err != nil {
		return nil, err
	}
	seg := math.MinInt
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		src := rec.Source.String()
		res.Read[src]++
		data, keep := x.record(rec, clockFor(r, rec.Segment))
		if !keep {
			continue
		}
		if len(data) > format.MaxRecordSize {
			res.Warnings = append(res.Warnings, fmt.Sprintf("a %s record of segment %d grew over %d bytes with the redaction: dropped", src, rec.Segment, format.MaxRecordSize))
			continue
		}
		if len(data) != len(rec.Data) || (len(data) > 0 && &data[0] != &rec.Data[0]) {
			res.Rewritten++
		}
		// Segments follow the original's, so that every record keeps the
		// clock pair that puts its times on the wall clock.
		if rec.Segment != seg {
			if err := fw.CloseSegment(); err != nil {
				return nil, err
			}
			seg = rec.Segment
			clock = r.ClockFor(seg)
		}
		if err := fw.WriteRecord(rec.Source, rec.Flags, rec.Mono, data); err != nil {
			return nil, err
		}
		res.Kept[src]++
	}
	if tr := r1.Trailer(); tr != nil {
		tc := *tr
		tc.Segments, tc.Frames = nil, nil
		if red.active() {
			tc.Error = red.text(tc.Error)
		}
		err = fw.Close(tc)
	} else {
		// The original recording was not closed (its recorder was killed):
		// neither is the extract, so that a reader says it is truncated.
		err = fw.Flush()
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

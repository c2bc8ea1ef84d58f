package auditlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// AuditModeImported is the header's audit_mode of an imported capture: the
// records come from log files, not from a netlink socket.
const AuditModeImported = "imported"

// Note kinds written by Import (format.Note.Kind).
const (
	// NoteImportSkipped: Count lines of the input named in Text were not
	// audit records and were skipped (each was reported with its line number).
	NoteImportSkipped = "import_skipped"
	// NoteImportDamaged: the input could not be read to its end (damaged or
	// cut-off compressed data, a read error); Text says which input, after
	// which line, and why. Count is the number of lines read before.
	NoteImportDamaged = "import_damaged"
	// NoteImportFile: the records of the input named in Text, the second or
	// a later input, follow. Audit
	// serials are not compared across it: serials missing between two
	// files of a set were in no file given, which is no loss of the
	// kernel's.
	NoteImportFile = format.NoteImportFile
)

// StdinName is how the input "-" is named in messages and in the header.
const StdinName = "<stdin>"

// ErrExists: ImportFile would overwrite an existing file.
var ErrExists = errors.New("auditlog: output file exists")

// ImportOptions tune Import.
type ImportOptions struct {
	// Stdin is read for the input "-" (at most one "-").
	Stdin io.Reader
	// Warn receives the problems that do not stop the import: skipped lines
	// (*LineError), inputs that could not be read to their end
	// (*InputError), and notices. nil drops them.
	Warn func(error)
	// MaxLineReports bounds the *LineError reports per input (default 100);
	// the others are counted and summed up in one message.
	MaxLineReports int
	// CtraceVersion goes into the header.
	CtraceVersion string
	// Writer tunes the capture writer (tests).
	Writer format.WriterOptions
}

// InputResult describes one input of an import.
type InputResult struct {
	Name        string `json:"name"`
	Compression string `json:"compression"`
	Stats
	// FirstTimeMS and FirstSerial: the header of the input's first record,
	// which placed it among the inputs (0 for an input without records).
	FirstTimeMS int64  `json:"first_time_ms,omitempty"`
	FirstSerial uint64 `json:"first_serial,omitempty"`
	// Damaged is the message of the *InputError that ended the input early.
	Damaged string `json:"damaged,omitempty"`
}

// ImportResult describes a finished import.
type ImportResult struct {
	Header  format.Header    `json:"header"`
	Inputs  []InputResult    `json:"inputs"` // in the order they were imported
	Records int64            `json:"records"`
	Skipped int64            `json:"skipped"`
	Nodes   map[string]int64 `json:"nodes,omitempty"` // records per node= name ("" for none), if any had one
}

const (
	defaultMaxLineReports = 100
	// The peek at each input's start reads on after the first record until a
	// SYSCALL record names the arch, within these bounds.
	peekLines = 256
	peekBytes = 64 << 10
	// An input that cannot seek keeps what the peek read; without a record
	// after this many skipped lines, the peek gives up on ordering it.
	peekMaxQueue = 10000
	chunkBytes   = 256 << 10
)

// item is a record or an error read ahead by the peek.
type item struct {
	rec Record
	err error
}

// input is one log being imported.
type input struct {
	name string
	r    io.Reader
	file *os.File // nil for stdin
	info os.FileInfo
	// seekable inputs are read twice: the peek, then from the start again.
	// Others keep the peek's reader and what it read.
	seekable bool
	rd       *Reader
	queue    []item

	has         bool
	first       Record
	arch        string
	arch64      bool
	kernel      string
	compression string
}

// Import reads the auditd logs named by names ("-" is opts.Stdin) and
// writes them to w as one capture.
//
// Order: each input keeps its own line order, which is the order auditd
// received the records in; inputs are imported one after the other, ordered
// by the (time, serial) of their first record, so a rotated set (audit.log,
// audit.log.1, ...) can be given in any order. Records are not sorted by
// time or serial: that would hide the out-of-order arrival the analyzer
// reads, and would need the whole log in memory.
//
// Each record becomes an audit record of the capture: the netlink datagram
// the kernel would have sent (see Record.Frame), with receive time (mono)
// 0, since a log does not say when a record was received; the header has no
// clock pair, and readers take times from the records' own timestamps.
// Lines that are not audit records are reported to opts.Warn, counted, and
// summed up per input in a NoteImportSkipped note after the input's records.
//
// Import fails before writing anything when an input cannot be opened or
// read, is a directory, is given twice, or is not a log (a capture, an xz
// file). Once writing has begun, only a write error stops it.
func Import(w io.Writer, names []string, opts ImportOptions) (*ImportResult, error) {
	if len(names) == 0 {
		return nil, errors.New("auditlog: no input")
	}
	if opts.MaxLineReports <= 0 {
		opts.MaxLineReports = defaultMaxLineReports
	}
	warn := opts.Warn
	if warn == nil {
		warn = func(error) {}
	}
	inputs, err := openInputs(names, opts.Stdin)
	defer func() {
		for _, in := range inputs {
			if in.rd != nil {
				in.rd.Close()
			}
			if in.file != nil {
				in.file.Close()
			}
		}
	}()
	if err != nil {
		return nil, err
	}
	for _, in := range inputs {
		if err := in.peek(); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(inputs, func(i, j int) bool {
		a, b := inputs[i], inputs[j]
		if a.has != b.has {
			return a.has
		}
		if !a.has {
			return false
		}
		if a.first.TimeMS != b.first.TimeMS {
			return a.first.TimeMS < b.first.TimeMS
		}
		return a.first.Serial < b.first.Serial
	})
	for i := 1; i < len(inputs); i++ {
		a, b := inputs[i-1], inputs[i]
		if a.has && b.has && a.first.TimeMS == b.first.TimeMS && a.first.Serial == b.first.Serial {
			warn(fmt.Errorf("auditlog: %s and %s start with the same record (%s): the same log given twice?",
				a.name, b.name, headerOf(a.first.Text)))
		}
	}

	h := importHeader(inputs, opts.CtraceVersion)
	fw, err := format.NewWriter(w, h, opts.Writer)
	if err != nil {
		return nil, err
	}
	res := &ImportResult{Header: h}
	cw := chunkWriter{fw: fw}
	nodes := map[string]int64{}
	for i, in := range inputs {
		if i > 0 {
			if err := cw.note(format.Note{Kind: NoteImportFile, Source: "audit", Text: in.name}); err != nil {
				return nil, err
			}
		}
		ir, err := in.copy(&cw, nodes, opts, warn)
		if err != nil {
			return nil, err
		}
		res.Inputs = append(res.Inputs, ir)
		res.Records += ir.Records
		res.Skipped += ir.Skipped
	}
	if _, none := nodes[""]; len(nodes) > 1 || (len(nodes) == 1 && !none) {
		res.Nodes = nodes
	}
	if len(nodes) > 1 {
		msg := "records of several nodes were imported into one capture (" + describeNodes(nodes) +
			"): their pids may collide; import each node's records separately"
		warn(errors.New("auditlog: " + msg))
		if err := cw.note(format.Note{Kind: format.NoteMessage, Text: "import: " + msg}); err != nil {
			return nil, err
		}
	}
	if err := cw.flush(); err != nil {
		return nil, err
	}
	if err := fw.Close(format.Trailer{StopReason: "end of input"}); err != nil {
		return nil, err
	}
	return res, nil
}

// openInputs opens every input, checking that none is given twice.
func openInputs(names []string, stdin io.Reader) ([]*input, error) {
	var inputs []*input
	stdinSeen := false
	for _, name := range names {
		in := &input{name: name}
		inputs = append(inputs, in)
		if name == "-" {
			if stdinSeen {
				return inputs, errors.New("auditlog: - (stdin) is given more than once")
			}
			if stdin == nil {
				return inputs, errors.New("auditlog: - given but there is no stdin")
			}
			stdinSeen = true
			in.name, in.r = StdinName, stdin
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return inputs, fmt.Errorf("auditlog: %w", err)
		}
		in.file, in.r = f, f
		in.info, err = f.Stat()
		if err != nil {
			return inputs, fmt.Errorf("auditlog: %w", err)
		}
		if in.info.IsDir() {
			return inputs, fmt.Errorf("auditlog: %s is a directory", name)
		}
		for _, o := range inputs[:len(inputs)-1] {
			if o.info != nil && os.SameFile(o.info, in.info) {
				return inputs, fmt.Errorf("auditlog: %s and %s are the same file", o.name, name)
			}
		}
		if in.info.Mode().IsRegular() {
			if _, err := f.Seek(0, io.SeekCurrent); err == nil {
				in.seekable = true
			}
		}
	}
	return inputs, nil
}

// peek reads the start of the input: the first record (to order the
// inputs), and the arch of the first SYSCALL record and the kernel of a
// DAEMON_START record for the header.
func (in *input) peek() error {
	rd, err := NewReader(in.r, in.name)
	if err != nil {
		return err
	}
	var afterFirst int64
	for {
		rec, err := rd.Next()
		if !in.seekable && err != io.EOF {
			in.queue = append(in.queue, item{rec, err})
		}
		if err == io.EOF {
			break
		}
		if err == nil {
			in.look(rec)
		}
		var ie *InputError
		if errors.As(err, &ie) {
			break
		}
		if in.has {
			afterFirst++
		}
		if in.has && (in.arch64 || afterFirst > peekLines || rd.Stats().Bytes > peekBytes) {
			break
		}
		if !in.has && !in.seekable && len(in.queue) >= peekMaxQueue {
			break
		}
	}
	if !in.seekable {
		in.rd = rd
		return nil
	}
	rd.Close()
	if _, err := in.file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("auditlog: %s: %w", in.name, err)
	}
	return nil
}

// look notes what the header needs from a record met by the peek.
func (in *input) look(rec Record) {
	if !in.has {
		in.has, in.first = true, rec
	}
	switch rec.Type {
	case replay.TypeSyscall:
		if in.arch64 {
			return
		}
		if f, ok := replay.FindField(replay.ParseFields(rec.Text), "arch"); ok {
			if _, is64, ok := MachineFromArch(f.Value); ok && (in.arch == "" || is64) {
				in.arch, in.arch64 = f.Value, is64
			}
		}
	case typeDaemonStart:
		if f, ok := replay.FindField(replay.ParseFields(rec.Text), "kernel"); ok && in.kernel == "" {
			in.kernel = f.Value
		}
	}
}

const typeDaemonStart = 1200

// importHeader builds the capture header from what the peeks found, in
// import order.
func importHeader(inputs []*input, version string) format.Header {
	h := format.Header{
		CtraceVersion: version,
		Kind:          format.KindImport,
		ByteOrder:     "little",
		AuditMode:     AuditModeImported,
	}
	arch, arch64 := "", false
	hostSet := false
	for _, in := range inputs {
		h.ImportedFrom = append(h.ImportedFrom, in.name)
		if in.has && !hostSet {
			h.Hostname, hostSet = in.first.Node, true
		}
		if h.KernelRelease == "" {
			h.KernelRelease = in.kernel
		}
		if in.arch != "" && (arch == "" || (in.arch64 && !arch64)) {
			arch, arch64 = in.arch, in.arch64
		}
	}
	h.Machine, _, _ = MachineFromArch(arch)
	return h
}

// copy writes the input's records, then its notes.
func (in *input) copy(cw *chunkWriter, nodes map[string]int64, opts ImportOptions, warn func(error)) (InputResult, error) {
	rd := in.rd
	if rd == nil {
		var err error
		if rd, err = NewReader(in.r, in.name); err != nil {
			return InputResult{}, err
		}
		in.rd = rd
	}
	ir := InputResult{Name: in.name, Compression: rd.Compression()}
	if in.has {
		ir.FirstTimeMS, ir.FirstSerial = in.first.TimeMS, in.first.Serial
	}
	queue := in.queue
	in.queue = nil
	reported := 0
	for {
		var rec Record
		var err error
		if len(queue) > 0 {
			rec, err = queue[0].rec, queue[0].err
			queue = queue[1:]
		} else {
			rec, err = rd.Next()
		}
		if err == io.EOF {
			break
		}
		var le *LineError
		var ie *InputError
		switch {
		case err == nil:
			nodes[rec.Node]++
			if err := cw.record(rec); err != nil {
				return ir, err
			}
		case errors.As(err, &le):
			if reported < opts.MaxLineReports {
				warn(err)
			}
			reported++
		case errors.As(err, &ie):
			warn(err)
			ir.Damaged = err.Error()
			if err := cw.note(format.Note{Kind: NoteImportDamaged, Source: "audit", Count: ie.Line,
				Text: fmt.Sprintf("%s: unreadable after line %d: %v", in.name, ie.Line, ie.Err)}); err != nil {
				return ir, err
			}
		default:
			return ir, err
		}
	}
	ir.Stats = rd.Stats()
	if reported > opts.MaxLineReports {
		warn(fmt.Errorf("auditlog: %s: %d more skipped lines not shown", in.name, reported-opts.MaxLineReports))
	}
	if ir.Skipped > 0 {
		if err := cw.note(format.Note{Kind: NoteImportSkipped, Source: "audit", Count: ir.Skipped, Text: in.name}); err != nil {
			return ir, err
		}
	}
	if ir.Records == 0 && ir.Damaged == "" {
		warn(fmt.Errorf("auditlog: %s: no audit records", in.name))
	}
	return ir, nil
}

func describeNodes(nodes map[string]int64) string {
	names := make([]string, 0, len(nodes))
	for n := range nodes {
		if n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	parts := make([]string, 0, len(nodes))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d", n, nodes[n]))
	}
	if c, ok := nodes[""]; ok {
		parts = append(parts, fmt.Sprintf("without node= %d", c))
	}
	return "records per node: " + strings.Join(parts, ", ")
}

// headerOf returns the "audit(...)" part of a record's text.
func headerOf(text string) string {
	if i := strings.IndexByte(text, ')'); i >= 0 {
		return text[:i+1]
	}
	return text
}

// chunkWriter batches framed records for the capture writer.
type chunkWriter struct {
	fw  *format.Writer
	buf []byte
}

func (c *chunkWriter) record(rec Record) error {
	var h [format.RecordHeaderSize]byte
	format.PutRecordHeader(h[:], format.SourceAudit, 0, 0, replay.NetlinkHeaderSize+len(rec.Text))
	c.buf = append(c.buf, h[:]...)
	c.buf = rec.Frame(c.buf)
	if len(c.buf) >= chunkBytes {
		return c.flush()
	}
	return nil
}

func (c *chunkWriter) note(n format.Note) error {
	data, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("auditlog: note: %w", err)
	}
	c.buf = format.AppendRecord(c.buf, format.SourceNote, 0, 0, data)
	return nil
}

func (c *chunkWriter) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	err := c.fw.WriteChunk(c.buf)
	c.buf = c.buf[:0]
	return err
}

// ImportFile imports into the capture file out (mode 0600). The capture is
// written to a temporary file beside out and renamed when complete, so a
// failed import leaves nothing under out and force (overwrite) never loses
// the old file to an unfinished new one. Without force an existing out is
// an error wrapping ErrExists. out must not be one of the inputs.
func ImportFile(out string, force bool, names []string, opts ImportOptions) (*ImportResult, error) {
	if out == "" {
		return nil, errors.New("auditlog: no output file")
	}
	if oi, err := os.Stat(out); err == nil {
		if !force {
			return nil, fmt.Errorf("%w: %s", ErrExists, out)
		}
		for _, name := range names {
			if ii, err := os.Stat(name); name != "-" && err == nil && os.SameFile(oi, ii) {
				return nil, fmt.Errorf("auditlog: the output %s is also an input", out)
			}
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("auditlog: cannot create the output: %w", err)
	}
	tmpName := tmp.Name()
	res, err := Import(tmp, names, opts)
	if cerr := tmp.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("auditlog: closing %s: %w", tmpName, cerr)
	}
	if err == nil {
		err = publish(tmpName, out, force)
	}
	if err != nil {
		os.Remove(tmpName)
		return nil, err
	}
	return res, nil
}

// publish moves the finished temporary file to out; without force it
// never replaces an existing file.
func publish(tmp, out string, force bool) error {
	if force {
		if err := os.Rename(tmp, out); err != nil {
			return fmt.Errorf("auditlog: %w", err)
		}
		return nil
	}
	err := os.Link(tmp, out)
	switch {
	case err == nil:
		os.Remove(tmp)
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%w: %s", ErrExists, out)
	}
	// No hard links on this file system: check, then rename.
	if _, serr := os.Lstat(out); serr == nil {
		return fmt.Errorf("%w: %s", ErrExists, out)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("auditlog: %w", err)
	}
	return nil
}

package auditlog

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// MaxLineSize bounds one log line, enrichment included: the record it holds
// must fit a capture record behind its 16-byte netlink header. The kernel's
// records are under 9 KB; a longer line is reported and skipped without being
// held in memory.
const MaxLineSize = format.MaxRecordSize - replay.NetlinkHeaderSize

// Record is one audit record read from a log line.
type Record struct {
	// Type is the record type (type=NAME, or the n of UNKNOWN[n]).
	Type uint16
	// Text is what the kernel sent: the line from "audit(" up to the end of
	// the line or the ENRICHED separator, byte for byte, trailing spaces
	// included.
	Text string
	// TimeMS (ms since the epoch) and Serial come from Text's header.
	TimeMS int64
	Serial uint64
	// Node is the node= prefix of the line ("" without one).
	Node string
	// Enriched says the line had an ENRICHED part (after a 0x1d byte); it is
	// not kept.
	Enriched bool
	// Line is the 1-based line number in the (decompressed) input.
	Line int64
}

// Frame appends the record as the audit netlink datagram the kernel would
// have sent (on the multicast group): a 16-byte little-endian nlmsghdr (len
// = 16 + payload, type, flags 0, seq 0, pid 0), then Text without a
// trailing NUL.
func (r Record) Frame(dst []byte) []byte {
	var h [replay.NetlinkHeaderSize]byte
	le.PutUint32(h[0:], uint32(replay.NetlinkHeaderSize+len(r.Text)))
	le.PutUint16(h[4:], r.Type)
	dst = append(dst, h[:]...)
	return append(dst, r.Text...)
}

// LineError reports a line that is not an audit record. It is not fatal:
// the Reader goes on with the next line.
type LineError struct {
	File string
	Line int64
	Err  error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("auditlog: %s:%d: skipped: %s", e.File, e.Line, strings.TrimPrefix(e.Err.Error(), "replay: "))
}

func (e *LineError) Unwrap() error { return e.Err }

// InputError reports that an input could not be read past a point: its
// compressed data is damaged or cut short, or reading failed. The records
// before it were returned.
type InputError struct {
	File string
	Line int64 // lines read before the failure
	Err  error
}

func (e *InputError) Error() string {
	return fmt.Sprintf("auditlog: %s: unreadable after line %d: %v", e.File, e.Line, e.Err)
}

func (e *InputError) Unwrap() error { return e.Err }

// Errors about the bytes a log starts with.
var (
	ErrCapture = errors.New("auditlog: this is a ctrace capture, not an audit log (see ctrace dump)")
	ErrXZ      = errors.New("auditlog: xz-compressed input is not supported (decompress it with xz -dc and pass it on stdin as -)")
)

// Stats count the lines of one input.
type Stats struct {
	Lines    int64 `json:"lines"`    // lines read, all kinds
	Records  int64 `json:"records"`  // audit records
	Enriched int64 `json:"enriched"` // records whose line had an ENRICHED part
	Blank    int64 `json:"blank"`    // empty or white-space lines, ignored
	Comments int64 `json:"comments"` // lines starting with '#', ignored
	Skipped  int64 `json:"skipped"`  // lines that are not audit records (each a LineError)
	Bytes    int64 `json:"bytes"`    // decompressed bytes read
}

// Reader reads the audit records of one auditd log, RAW or ENRICHED,
// plain or compressed (gzip, bzip2 or zstd, recognized by their magic
// bytes). It holds one line at a time.
type Reader struct {
	name        string
	br          *bufio.Reader
	zr          *zstd.Decoder
	compression string
	line        int64
	stats       Stats
	long        []byte // a line longer than the bufio buffer
	err         error  // sticky: io.EOF or an *InputError
}

const readBufferSize = 64 << 10

// NewReader starts reading the log in r; name is used in error messages.
// It reads the first bytes to recognize compression and fails on a ctrace
// capture, an xz file, or a read error.
func NewReader(r io.Reader, name string) (*Reader, error) {
	lr := &Reader{name: name, compression: "none"}
	raw := bufio.NewReaderSize(r, readBufferSize)
	magic, err := raw.Peek(12)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("auditlog: %s: %w", name, err)
	}
	var src io.Reader = raw
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, fmt.Errorf("auditlog: %s: gzip: %w", name, err)
		}
		src, lr.compression = zr, "gzip"
	case bytes.HasPrefix(magic, []byte("BZh")) && len(magic) >= 10 && bytes.Equal(magic[4:10], []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}):
		src, lr.compression = bzip2.NewReader(raw), "bzip2"
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(raw, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, fmt.Errorf("auditlog: %s: zstd: %w", name, err)
		}
		src, lr.zr, lr.compression = zr, zr, "zstd"
	case len(magic) >= 12 && bytes.Equal(magic[:4], []byte{0x5c, 0x2a, 0x4d, 0x18}) && string(magic[8:12]) == format.TagHeader:
		return nil, fmt.Errorf("%w: %s", ErrCapture, name)
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return nil, fmt.Errorf("%w: %s", ErrXZ, name)
	}
	if lr.compression == "none" {
		lr.br = raw
	} else {
		lr.br = bufio.NewReaderSize(src, readBufferSize)
	}
	return lr, nil
}

// Name is the input's name as given to NewReader.
func (r *Reader) Name() string { return r.name }

// Compression is "none", "gzip", "bzip2" or "zstd".
func (r *Reader) Compression() string { return r.compression }

// Stats returns the counts so far.
func (r *Reader) Stats() Stats { return r.stats }

// Close releases the decompressor. It does not close the underlying reader.
func (r *Reader) Close() error {
	if r.zr != nil {
		r.zr.Close()
		r.zr = nil
	}
	return nil
}

// Next returns the next audit record. Blank lines and '#' comment lines are
// counted and passed over. A line that is not an audit record gives a
// *LineError, after which Next may be called again. At the end of the input
// Next returns io.EOF; if the input cannot be read further (damaged
// compressed data, a read error) it returns an *InputError, and then io.EOF.
func (r *Reader) Next() (Record, error) {
	for {
		if r.err != nil {
			err := r.err
			r.err = io.EOF
			return Record{}, err
		}
		line, tooLong, err := r.readLine()
		if err != nil {
			if err != io.EOF {
				err = &InputError{File: r.name, Line: r.line, Err: err}
			}
			r.err = err
			continue
		}
		r.line++
		r.stats.Lines++
		if tooLong {
			r.stats.Skipped++
			return Record{}, &LineError{File: r.name, Line: r.line,
				Err: fmt.Errorf("line of more than %d bytes: no audit record is that long", MaxLineSize)}
		}
		rec, kind, err := ParseLine(line)
		switch kind {
		case LineBlank:
			r.stats.Blank++
			continue
		case LineComment:
			r.stats.Comments++
			continue
		case LineBad:
			r.stats.Skipped++
			return Record{}, &LineError{File: r.name, Line: r.line, Err: err}
		}
		rec.Line = r.line
		r.stats.Records++
		if rec.Enriched {
			r.stats.Enriched++
		}
		return rec, nil
	}
}

// readLine returns the next line without its '\n'. A line over
// MaxLineSize is read to its end without being kept, and reported with
// tooLong. The last line may lack its '\n'. err is io.EOF only when no
// byte is left.
func (r *Reader) readLine() (line []byte, tooLong bool, err error) {
	r.long = r.long[:0]
	for {
		b, err := r.br.ReadSlice('\n')
		r.stats.Bytes += int64(len(b))
		if !tooLong {
			if len(r.long)+len(b) > MaxLineSize+1 { // +1: the '\n'
				tooLong = true
				r.long = r.long[:0]
			} else if err == bufio.ErrBufferFull || len(r.long) > 0 {
				r.long = append(r.long, b...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == nil || (err == io.EOF && (len(b) > 0 || len(r.long) > 0 || tooLong)):
			if tooLong {
				return nil, true, nil
			}
			if len(r.long) > 0 {
				b = r.long
			}
			b = bytes.TrimSuffix(b, []byte{'\n'})
			if len(b) > MaxLineSize {
				return nil, true, nil
			}
			return b, false, nil
		default:
			return nil, false, err
		}
	}
}

// LineKind classifies a log line.
type LineKind uint8

const (
	LineRecord  LineKind = iota // an audit record
	LineBlank                   // empty or only white space
	LineComment                 // starts with '#' (after white space), as in laurel's test traces
	LineBad                     // anything else
)

// ParseLine parses one line of an auditd log (without its newline):
//
//	[node=NAME ]type=NAME msg=audit(SEC.MSEC:SERIAL): fields[\x1dENRICHED]
//
// For LineBad, err says why. A record must have the audit(...) header (a
// "msg=?" line has none), must not hold a NUL byte, and must not claim a
// type that the netlink socket never carries as text: netlink's own types
// (below 16) and AUDIT_REPLACE (1329, a binary pid).
func ParseLine(line []byte) (Record, LineKind, error) {
	t := bytes.TrimLeft(line, " \t")
	switch {
	case len(bytes.TrimRight(t, " \t\r\n\v\f")) == 0:
		return Record{}, LineBlank, nil
	case t[0] == '#':
		return Record{}, LineComment, nil
	case bytes.IndexByte(line, 0) >= 0:
		return Record{}, LineBad, errors.New("not an audit record: the line holds a NUL byte")
	}
	rest := line
	if r, ok := bytes.CutPrefix(rest, []byte("node=")); ok {
		if _, after, ok := bytes.Cut(r, []byte(" ")); ok {
			rest = bytes.TrimLeft(after, " ")
		}
	}
	if !bytes.HasPrefix(rest, []byte("type=")) {
		return Record{}, LineBad, fmt.Errorf("not an audit record: no type= at the start of %s", clipQuote(line))
	}
	f, err := replay.ParseLogLine(string(line))
	if err != nil {
		return Record{}, LineBad, err
	}
	if f.Kind != replay.AuditEvent {
		return Record{}, LineBad, fmt.Errorf("record of type %d (%s) without an audit(TIME:SERIAL) header: %s", f.Type, replay.TypeName(f.Type), clipQuote(line))
	}
	if f.Type < 16 || f.Type == replay.TypeReplace {
		return Record{}, LineBad, fmt.Errorf("record type %d (%s) is a binary message, never a text record", f.Type, replay.TypeName(f.Type))
	}
	return Record{
		Type: f.Type, Text: f.Text, TimeMS: f.TimeMS, Serial: f.Serial, Node: f.Node,
		Enriched: bytes.IndexByte(line, replay.EnrichedSeparator) >= 0,
	}, LineRecord, nil
}

// clipQuote quotes the start of a line for a message.
func clipQuote(b []byte) string {
	const max = 80
	if len(b) > max {
		return fmt.Sprintf("%q...", b[:max])
	}
	return fmt.Sprintf("%q", b)
}

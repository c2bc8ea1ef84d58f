package format

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/klauspost/compress/zstd"
)

var (
	// ErrNotCapture: the file does not start with a ctrace header frame.
	ErrNotCapture = errors.New("format: not a ctrace capture")
	// ErrVersion: the file's format version is outside MinVersion..MaxVersion.
	ErrVersion = errors.New("format: unsupported capture format version")

	errBadFrame = errors.New("not a zstd frame")
)

// FormatError reports damage at a byte offset of a capture file.
type FormatError struct {
	File    string
	Offset  int64 // byte offset in the file
	Segment int   // segment index, -1 when not inside a segment
	Err     error
}

func (e *FormatError) Error() string {
	if e.Segment >= 0 {
		return fmt.Sprintf("%s: offset %d: segment %d: %v", e.File, e.Offset, e.Segment, e.Err)
	}
	return fmt.Sprintf("%s: offset %d: %v", e.File, e.Offset, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

// maxProblems bounds the damage reports a Reader keeps.
const maxProblems = 1000

// Reader reads a capture file record by record with bounded memory. Damage
// never stops it: a corrupt segment is reported in Problems and reading
// resumes at the next segment; a cut-off tail ends the records and sets
// Truncated.
type Reader struct {
	ra     io.ReaderAt
	size   int64
	name   string
	closer io.Closer

	hdr    Header
	fileID [FileIDSize]byte
	pos    int64 // offset of the next frame to look at

	dec *zstd.Decoder
	br  *bufio.Reader
	buf []byte

	inSeg     bool
	seg       SegmentHeader
	segIdx    int
	segFrame  frameInfo
	segOff    int64 // offset of the segment header frame
	segUOff   int64 // position in the segment's uncompressed stream
	segNext   int   // index for the next segment without a header
	segHdrEnd int64 // where the last segment header frame ended

	segments  []SegmentHeader
	trailer   *Trailer
	truncated bool
	truncAt   int64
	problems  []*FormatError
	nproblems int
	records   int64
	ubytes    int64
	eof       bool
}

// Open opens a capture file for reading.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	r, err := NewReader(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader reads the header of the capture in ra (size bytes long); name is
// used in error messages.
func NewReader(ra io.ReaderAt, size int64, name string) (*Reader, error) {
	r := &Reader{ra: ra, size: size, name: name, segIdx: -1}
	fi, err := walkFrame(ra, 0, size)
	if err != nil || fi.kind != frameSkippable || fi.dataSize < 4+4+FileIDSize {
		return nil, &FormatError{File: name, Offset: 0, Segment: -1, Err: ErrNotCapture}
	}
	var tag [4 + 4 + FileIDSize]byte
	if n, _ := ra.ReadAt(tag[:], fi.dataOff); n < len(tag) || string(tag[:4]) != TagHeader {
		return nil, &FormatError{File: name, Offset: 0, Segment: -1, Err: ErrNotCapture}
	}
	version := int(binary.LittleEndian.Uint16(tag[4:]))
	if version < MinVersion || version > MaxVersion {
		return nil, &FormatError{File: name, Offset: 12, Segment: -1,
			Err: fmt.Errorf("%w %d (this ctrace reads %d to %d)", ErrVersion, version, MinVersion, MaxVersion)}
	}
	if fi.dataSize > MaxHeaderSize {
		return nil, &FormatError{File: name, Offset: 4, Segment: -1,
			Err: fmt.Errorf("header frame of %d bytes is over the %d-byte limit", fi.dataSize, MaxHeaderSize)}
	}
	if !fi.complete {
		return nil, &FormatError{File: name, Offset: size, Segment: -1, Err: fmt.Errorf("file ends inside the header: %w", io.ErrUnexpectedEOF)}
	}
	copy(r.fileID[:], tag[8:])
	body := make([]byte, fi.dataSize-int64(len(tag)))
	if _, err := ra.ReadAt(body, fi.dataOff+int64(len(tag))); err != nil && !errors.Is(err, io.EOF) {
		return nil, &FormatError{File: name, Offset: fi.dataOff, Segment: -1, Err: err}
	}
	if err := json.Unmarshal(body, &r.hdr); err != nil {
		return nil, &FormatError{File: name, Offset: fi.dataOff + int64(len(tag)), Segment: -1, Err: fmt.Errorf("header: %w", err)}
	}
	r.hdr.FormatVersion = version
	r.pos = fi.offset + fi.size
	return r, nil
}

// decoders keeps zstd decoders for reuse: building one costs far more than
// reading a small capture.
var decoders sync.Pool

func getDecoder() (*zstd.Decoder, error) {
	if d, ok := decoders.Get().(*zstd.Decoder); ok {
		return d, nil
	}
	return zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(32<<20),
		zstd.WithDecoderMaxMemory(64<<20))
}

// Close releases the reader (and the file, for Open).
func (r *Reader) Close() error {
	if r.dec != nil {
		r.dec.Reset(nil)
		decoders.Put(r.dec)
		r.dec = nil
	}
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// Name is the file name given to the reader.
func (r *Reader) Name() string { return r.name }

// Header returns the file header.
func (r *Reader) Header() *Header { return &r.hdr }

// FileID returns the file's id.
func (r *Reader) FileID() [FileIDSize]byte { return r.fileID }

// Size is the file's size in bytes.
func (r *Reader) Size() int64 { return r.size }

// Trailer returns the trailer once Next has returned io.EOF, or nil when the
// capture has none (the recorder did not close it).
func (r *Reader) Trailer() *Trailer { return r.trailer }

// Truncated reports, once Next has returned io.EOF, whether the file ended
// before its trailer: a recorder killed or a copy cut short.
func (r *Reader) Truncated() bool { return r.truncated }

// TruncatedAt is the offset where the cut-off part begins.
func (r *Reader) TruncatedAt() int64 { return r.truncAt }

// Problems returns the damage met so far (at most 1000 reports).
func (r *Reader) Problems() []*FormatError { return r.problems }

// ProblemCount counts all damage reports, including those not kept.
func (r *Reader) ProblemCount() int { return r.nproblems }

// Segments returns the headers of the segments met so far.
func (r *Reader) Segments() []SegmentHeader { return r.segments }

// Records and UncompressedBytes count what Next returned so far (bytes of
// the record stream, record headers included).
func (r *Reader) Records() int64           { return r.records }
func (r *Reader) UncompressedBytes() int64 { return r.ubytes }

func (r *Reader) problem(off int64, seg int, err error) {
	r.nproblems++
	if len(r.problems) < maxProblems {
		r.problems = append(r.problems, &FormatError{File: r.name, Offset: off, Segment: seg, Err: err})
	}
}

func (r *Reader) truncate(at int64) {
	r.truncated = true
	r.truncAt = at
	r.pos = r.size
}

// Next returns the next record, or io.EOF after the last one. The record's
// Data is valid until the next call. Damage is not returned here: see
// Problems and Truncated.
func (r *Reader) Next() (Record, error) {
	for {
		if r.eof {
			return Record{}, io.EOF
		}
		if r.inSeg {
			rec, ok := r.nextInSegment()
			if ok {
				return rec, nil
			}
			continue
		}
		r.nextFrame()
	}
}

// nextInSegment reads one record of the open segment; ok=false when the
// segment has ended (cleanly or not) and the state has moved on.
func (r *Reader) nextInSegment() (Record, bool) {
	var h [RecordHeaderSize]byte
	n, err := io.ReadFull(r.br, h[:])
	if err != nil {
		r.endSegment(err, n > 0)
		return Record{}, false
	}
	size := int(binary.LittleEndian.Uint32(h[0:]))
	src := Source(h[4])
	if size > MaxRecordSize || src < SourceAudit || src > SourceNote || h[6] != 0 || h[7] != 0 {
		r.problem(r.segOff, r.segIdx, fmt.Errorf("invalid record header at stream offset %d (length %d, source %d)", r.segUOff, size, h[4]))
		r.skipSegment()
		return Record{}, false
	}
	if cap(r.buf) < size {
		r.buf = make([]byte, size, max(size, 2*cap(r.buf)))
	}
	r.buf = r.buf[:size]
	if _, err := io.ReadFull(r.br, r.buf); err != nil {
		r.endSegment(err, true)
		return Record{}, false
	}
	rec := Record{
		Mono:    int64(binary.LittleEndian.Uint64(h[8:])),
		Source:  src,
		Flags:   h[5],
		Data:    r.buf,
		Segment: r.segIdx,
		Offset:  r.segUOff,
	}
	r.segUOff += int64(RecordHeaderSize + size)
	r.records++
	r.ubytes += int64(RecordHeaderSize + size)
	return rec, true
}

// endSegment handles the end of a segment's record stream. partial says a
// record had begun.
func (r *Reader) endSegment(err error, partial bool) {
	r.inSeg = false
	end := r.segFrame.offset + r.segFrame.size
	switch {
	case !r.segFrame.complete:
		// The file ends inside this segment: everything complete was returned.
		r.truncate(r.segFrame.offset)
	case errors.Is(err, io.EOF) && !partial:
		r.pos = end // clean end
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		r.problem(r.segOff, r.segIdx, fmt.Errorf("record cut at stream offset %d by the end of the segment", r.segUOff))
		r.pos = end
	default:
		r.problem(r.segOff, r.segIdx, fmt.Errorf("corrupt compressed data: %v", err))
		r.pos = end
	}
}

// skipSegment abandons the open segment after damage and resumes at the
// frame after it.
func (r *Reader) skipSegment() {
	r.inSeg = false
	if !r.segFrame.complete {
		r.truncate(r.segFrame.offset)
		return
	}
	r.pos = r.segFrame.offset + r.segFrame.size
}

// nextFrame looks at the frame at r.pos and acts on it.
func (r *Reader) nextFrame() {
	if r.pos >= r.size {
		if r.trailer == nil && !r.truncated {
			r.truncate(r.size)
		}
		r.eof = true
		return
	}
	if r.trailer != nil {
		r.problem(r.pos, -1, errors.New("data after the trailer ignored"))
		r.eof = true
		return
	}
	fi, err := walkFrame(r.ra, r.pos, r.size)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		r.truncate(r.pos)
		return
	}
	if err != nil {
		r.problem(r.pos, -1, fmt.Errorf("damaged data (%v); looking for the next segment", err))
		r.resync(r.pos + 1)
		return
	}
	switch fi.kind {
	case frameZstd:
		// A records frame; normally just after its segment header.
		seg := r.segNext
		if r.segOff != 0 && r.segFrameFollowsHeader(fi.offset) {
			seg = r.segIdx
		} else {
			r.problem(fi.offset, -1, errors.New("records frame without a segment header"))
			r.segIdx = seg
			r.segOff = fi.offset
		}
		r.segNext = seg + 1
		r.segFrame = fi
		r.segUOff = 0
		r.pos = fi.offset + fi.size
		if r.dec == nil {
			d, err := getDecoder()
			if err != nil {
				r.problem(fi.offset, seg, err)
				r.eof = true
				return
			}
			r.dec = d
			r.br = bufio.NewReaderSize(r.dec, 64<<10)
		}
		if err := r.dec.Reset(io.NewSectionReader(r.ra, fi.offset, fi.size)); err != nil {
			if !fi.complete {
				r.truncate(fi.offset)
			} else {
				r.problem(fi.offset, seg, fmt.Errorf("corrupt compressed data: %v", err))
			}
			return
		}
		r.br.Reset(r.dec)
		r.inSeg = true
	case frameSkippable:
		if !fi.complete {
			r.truncate(fi.offset)
			return
		}
		r.pos = fi.offset + fi.size
		r.skippable(fi)
	}
}

// lastSegHeaderEnd is where the most recent segment header frame ended.
func (r *Reader) segFrameFollowsHeader(off int64) bool {
	return r.segHdrEnd == off
}

func (r *Reader) skippable(fi frameInfo) {
	var tag [4]byte
	if fi.dataSize < 4 {
		return // not ours: skip
	}
	if _, err := r.ra.ReadAt(tag[:], fi.dataOff); err != nil {
		r.truncate(fi.offset)
		return
	}
	switch string(tag[:]) {
	case TagSegment:
		var b [segmentHeaderSize]byte
		var sh SegmentHeader
		if fi.dataSize != segmentHeaderSize {
			r.problem(fi.offset, -1, fmt.Errorf("segment header of %d bytes, want %d", fi.dataSize, segmentHeaderSize))
			return
		}
		if _, err := r.ra.ReadAt(b[:], fi.dataOff); err != nil || !sh.unmarshal(b[:]) {
			r.problem(fi.offset, -1, errors.New("unreadable segment header"))
			return
		}
		if sh.FileID != r.fileID {
			r.problem(fi.offset, int(sh.Index), errors.New("segment header of another capture file"))
			return
		}
		r.seg = sh
		r.segIdx = int(sh.Index)
		r.segNext = r.segIdx + 1
		r.segOff = fi.offset
		r.segHdrEnd = fi.offset + fi.size
		r.segments = append(r.segments, sh)
	case TagTrailer:
		if fi.dataSize > MaxTrailerSize {
			r.problem(fi.offset, -1, fmt.Errorf("trailer of %d bytes is over the %d-byte limit", fi.dataSize, MaxTrailerSize))
			return
		}
		b := make([]byte, fi.dataSize)
		if _, err := r.ra.ReadAt(b, fi.dataOff); err != nil {
			r.truncate(fi.offset)
			return
		}
		if len(b) < 4+FileIDSize || !bytes.Equal(b[4:4+FileIDSize], r.fileID[:]) {
			r.problem(fi.offset, -1, errors.New("trailer of another capture file"))
			return
		}
		var t Trailer
		if err := json.Unmarshal(b[4+FileIDSize:], &t); err != nil {
			r.problem(fi.offset, -1, fmt.Errorf("trailer: %v", err))
			return
		}
		r.trailer = &t
	case TagHeader:
		r.problem(fi.offset, -1, errors.New("a second file header (concatenated captures?) ignored"))
	default:
		// Unknown skippable frames are skipped, for forward compatibility.
	}
}

// resync scans forward from off for the next segment header or trailer of
// this file and continues there; with none, the rest of the file is lost.
func (r *Reader) resync(off int64) {
	var pat [4]byte
	binary.LittleEndian.PutUint32(pat[:], SkippableMagic)
	const chunk = 64 << 10
	buf := make([]byte, chunk+16+FileIDSize)
	for pos := off; pos < r.size; pos += chunk {
		n, _ := r.ra.ReadAt(buf, pos)
		if n < 4 {
			break
		}
		b := buf[:n]
		for i := 0; i+4 <= len(b) && i < chunk; i++ {
			j := bytes.Index(b[i:], pat[:])
			if j < 0 || i+j >= chunk {
				break
			}
			i += j
			if i+12+FileIDSize > len(b) {
				// Not enough bytes to check; if at the end of file, give up.
				break
			}
			tag := string(b[i+8 : i+12])
			if (tag == TagSegment || tag == TagTrailer) && bytes.Equal(b[i+12:i+12+FileIDSize], r.fileID[:]) {
				r.pos = pos + int64(i)
				return
			}
		}
	}
	r.pos = r.size
	r.eof = true
	if r.trailer == nil {
		// Nothing usable after the damage; the file did not end cleanly either.
		r.truncated = true
		r.truncAt = off - 1
	}
}

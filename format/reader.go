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

	// Parallel decompression (SetConcurrency): segment decoders running
	// ahead of Next, by records frame offset; job is the open segment's.
	conc    int
	pool    *segPool
	scratch []byte // a record gathered across chunks
	jobs    map[int64]*segJob
	walked  map[int64]frameInfo // frames the look-ahead walked, by offset
	job     *segJob

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

	set *partSet // several parts of a capture set read as one (OpenSet)
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
	if s := r.set; s != nil {
		if s.closed {
			return nil
		}
		s.closed = true
		var err error
		for _, p := range s.parts {
			err = errors.Join(err, p.Close())
		}
		return err
	}
	r.cancelJobs(-1)
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
func (r *Reader) Size() int64 {
	if r.set != nil {
		return r.set.sum((*Reader).Size)
	}
	return r.size
}

// Trailer returns the trailer once Next has returned io.EOF, or nil when the
// capture has none (the recorder did not close it).
func (r *Reader) Trailer() *Trailer {
	if r.set != nil {
		return r.set.trailer
	}
	return r.trailer
}

// Truncated reports, once Next has returned io.EOF, whether the file ended
// before its trailer: a recorder killed or a copy cut short.
// Of a set: whether its last part did (a recorder still writing it, or
// killed).
func (r *Reader) Truncated() bool {
	if s := r.set; s != nil {
		return s.parts[len(s.parts)-1].Truncated()
	}
	return r.truncated
}

// TruncatedAt is the offset where the cut-off part begins (of a set: in its
// last file).
func (r *Reader) TruncatedAt() int64 {
	if s := r.set; s != nil {
		return s.parts[len(s.parts)-1].TruncatedAt()
	}
	return r.truncAt
}

// Problems returns the damage met so far (at most 1000 reports).
func (r *Reader) Problems() []*FormatError {
	if s := r.set; s != nil {
		ps := s.problems
		for _, p := range s.parts {
			ps = append(ps[:len(ps):len(ps)], p.Problems()...)
		}
		return ps[:min(len(ps), maxProblems)]
	}
	return r.problems
}

// ProblemCount counts all damage reports, including those not kept.
func (r *Reader) ProblemCount() int {
	if s := r.set; s != nil {
		return len(s.problems) + int(s.sum(func(p *Reader) int64 { return int64(p.ProblemCount()) }))
	}
	return r.nproblems
}

// Segments returns the headers of the segments met so far (of a set: with
// set-wide indexes, as Record.Segment has them).
func (r *Reader) Segments() []SegmentHeader {
	if s := r.set; s != nil {
		s.syncSegs()
		return s.segs
	}
	return r.segments
}

// Records and UncompressedBytes count what Next returned so far (bytes of
// the record stream, record headers included).
func (r *Reader) Records() int64 {
	if r.set != nil {
		return r.set.sum((*Reader).Records)
	}
	return r.records
}

func (r *Reader) UncompressedBytes() int64 {
	if r.set != nil {
		return r.set.sum((*Reader).UncompressedBytes)
	}
	return r.ubytes
}

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
	if r.set != nil {
		return r.nextInSet()
	}
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
	if r.job != nil {
		return r.nextInJob()
	}
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
	r.dropJob()
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
	r.dropJob()
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
	fi, err := r.walk(r.pos)
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
		if r.conc > 1 {
			r.openJob(fi, seg)
			return
		}
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

// ---- parallel decompression ----
//
// With SetConcurrency(n > 1), each records frame is decompressed by a
// goroutine of its own into a short queue of chunks, up to n frames at a
// time: the open segment's and those after it, found by walking the frames
// ahead (a pure function of the file's bytes). Next reads records out of
// the open segment's chunks (in place when a record fits in one) with the
// same checks and the same io.ReadFull semantics as from a decoder: the
// chunks are the decoder's output byte for byte, and its final error comes
// after them. So the records, the damage reports and the truncation are
// exactly those of a sequential read.
// Memory stays bounded: at most n frames in flight, each at most
// segQueue chunks of segChunkSize ahead of Next.

const (
	segChunkSize = 256 << 10
	segQueue     = 3
)

// SetConcurrency sets how many records frames are decompressed at once,
// ahead of Next, on as many goroutines (n <= 1: none, the default). The
// records, problems and truncation Next reports do not depend on it. Call
// it before the first Next. The goroutines read the file with ReadAt
// concurrently (as io.ReaderAt allows); Close stops them.
func (r *Reader) SetConcurrency(n int) {
	if r.set != nil {
		r.set.conc = n
		return
	}
	r.conc = n
	if n > 1 && r.jobs == nil {
		r.jobs = make(map[int64]*segJob)
		r.walked = make(map[int64]frameInfo)
		r.pool = newSegPool(n)
	}
}

// segJob decompresses one records frame.
type segJob struct {
	pool   *segPool
	fi     frameInfo
	chunks chan segChunk
	stop   chan struct{}
	// ready is closed once the decoder is set up; setupErr (no decoder)
	// and resetErr (the frame header does not decode) are set before.
	ready    chan struct{}
	setupErr error
	resetErr error

	// readFull's state, for the reader's goroutine.
	cur   []byte
	held  []byte // the chunk cur is in
	ended bool
	err   error
}

// segPool keeps a reader's decoders and chunk buffers for its jobs.
type segPool struct {
	decs   chan *zstd.Decoder
	chunks chan []byte
}

func newSegPool(conc int) *segPool {
	return &segPool{decs: make(chan *zstd.Decoder, conc), chunks: make(chan []byte, conc*(segQueue+2))}
}

func (p *segPool) getDecoder() (*zstd.Decoder, error) {
	select {
	case d := <-p.decs:
		return d, nil
	default:
		return getDecoder()
	}
}

func (p *segPool) putDecoder(d *zstd.Decoder) {
	d.Reset(nil)
	select {
	case p.decs <- d:
	default:
		decoders.Put(d)
	}
}

func (p *segPool) getChunk() []byte {
	select {
	case b := <-p.chunks:
		return b[:segChunkSize]
	default:
		return make([]byte, segChunkSize)
	}
}

func (p *segPool) putChunk(b []byte) {
	select {
	case p.chunks <- b:
	default:
	}
}

// segChunk is a piece of the decompressed stream; err (set on the last
// piece only) is the decoder's error after it: io.EOF at a clean end.
type segChunk struct {
	b   []byte
	err error
}

func (r *Reader) startJob(fi frameInfo) *segJob {
	j := &segJob{pool: r.pool, fi: fi, chunks: make(chan segChunk, segQueue), stop: make(chan struct{}), ready: make(chan struct{})}
	r.jobs[fi.offset] = j
	go j.run(r.ra)
	return j
}

func (j *segJob) run(ra io.ReaderAt) {
	dec, err := j.pool.getDecoder()
	if err != nil {
		j.setupErr = err
		close(j.ready)
		return
	}
	defer j.pool.putDecoder(dec)
	if err := dec.Reset(io.NewSectionReader(ra, j.fi.offset, j.fi.size)); err != nil {
		j.resetErr = err
		close(j.ready)
		return
	}
	close(j.ready)
	for {
		b := j.pool.getChunk()
		n := 0
		var err error
		for n < len(b) && err == nil {
			var k int
			k, err = dec.Read(b[n:])
			n += k
		}
		select {
		case j.chunks <- segChunk{b[:n], err}:
		case <-j.stop:
			j.pool.putChunk(b)
			return
		}
		if err != nil {
			return
		}
	}
}

// advance makes the next chunk current; false after the last one.
func (j *segJob) advance() bool {
	if j.held != nil {
		j.pool.putChunk(j.held)
		j.held = nil
	}
	if j.ended {
		return false
	}
	c := <-j.chunks
	j.cur, j.held = c.b, c.b
	if c.err != nil {
		j.ended, j.err = true, c.err
	}
	return true
}

// readFull returns the next n bytes of the stream, as io.ReadFull would read
// them from the decoder: got bytes came before err. The bytes are in the
// current chunk when they fit (no copy), else gathered in *scratch; either
// way only valid until the next call.
func (j *segJob) readFull(n int, scratch *[]byte) (b []byte, got int, err error) {
	if len(j.cur) >= n {
		b, j.cur = j.cur[:n], j.cur[n:]
		return b, n, nil
	}
	if cap(*scratch) < n {
		*scratch = make([]byte, 0, max(n, 2*cap(*scratch)))
	}
	b = (*scratch)[:0]
	for len(b) < n {
		if len(j.cur) == 0 {
			if !j.advance() {
				switch {
				case len(b) == 0:
					return b, 0, j.err
				case j.err == io.EOF:
					return b, len(b), io.ErrUnexpectedEOF
				}
				return b, len(b), j.err
			}
			continue
		}
		k := min(n-len(b), len(j.cur))
		b = append(b, j.cur[:k]...)
		j.cur = j.cur[k:]
	}
	return b, n, nil
}

// nextInJob is nextInSegment reading the open segment's job directly.
func (r *Reader) nextInJob() (Record, bool) {
	var h [RecordHeaderSize]byte
	hb, n, err := r.job.readFull(RecordHeaderSize, &r.scratch)
	if err != nil {
		r.endSegment(err, n > 0)
		return Record{}, false
	}
	copy(h[:], hb)
	size := int(binary.LittleEndian.Uint32(h[0:]))
	src := Source(h[4])
	if size > MaxRecordSize || src < SourceAudit || src > SourceNote || h[6] != 0 || h[7] != 0 {
		r.problem(r.segOff, r.segIdx, fmt.Errorf("invalid record header at stream offset %d (length %d, source %d)", r.segUOff, size, h[4]))
		r.skipSegment()
		return Record{}, false
	}
	data, _, err := r.job.readFull(size, &r.scratch)
	if err != nil {
		r.endSegment(err, true)
		return Record{}, false
	}
	rec := Record{
		Mono:    int64(binary.LittleEndian.Uint64(h[8:])),
		Source:  src,
		Flags:   h[5],
		Data:    data,
		Segment: r.segIdx,
		Offset:  r.segUOff,
	}
	r.segUOff += int64(RecordHeaderSize + size)
	r.records++
	r.ubytes += int64(RecordHeaderSize + size)
	return rec, true
}

// walk is walkFrame, reusing what the look-ahead found.
func (r *Reader) walk(off int64) (frameInfo, error) {
	if fi, ok := r.walked[off]; ok {
		delete(r.walked, off)
		return fi, nil
	}
	return walkFrame(r.ra, off, r.size)
}

// openJob opens the segment of records frame fi through its job, starting
// it (and the look-ahead) as needed; it follows nextFrame's sequential path
// for decoder errors.
func (r *Reader) openJob(fi frameInfo, seg int) {
	r.cancelJobs(fi.offset)
	j := r.jobs[fi.offset]
	if j == nil || j.fi != fi {
		if j != nil {
			close(j.stop)
		}
		j = r.startJob(fi)
	}
	delete(r.jobs, fi.offset) // r.jobs holds the look-ahead's
	r.lookAhead(fi.offset + fi.size)
	<-j.ready
	switch {
	case j.setupErr != nil:
		r.problem(fi.offset, seg, j.setupErr)
		r.eof = true
		return
	case j.resetErr != nil:
		if !fi.complete {
			r.truncate(fi.offset)
		} else {
			r.problem(fi.offset, seg, fmt.Errorf("corrupt compressed data: %v", j.resetErr))
		}
		return
	}
	r.job = j
	r.inSeg = true
}

// lookAhead starts jobs for the records frames after off, up to conc-1 of
// them (the open segment's is the conc-th). It stops at anything unusual:
// the sequential path decides.
func (r *Reader) lookAhead(off int64) {
	for pos := off; len(r.jobs) < r.conc-1 && pos < r.size; {
		fi, ok := r.walked[pos]
		if !ok {
			var err error
			fi, err = walkFrame(r.ra, pos, r.size)
			if err != nil {
				return
			}
			r.walked[pos] = fi
		}
		if fi.kind == frameZstd {
			if r.jobs[fi.offset] == nil {
				r.startJob(fi)
			}
		} else if !fi.complete {
			return
		}
		pos = fi.offset + fi.size
	}
}

// dropJob abandons the open segment's job.
func (r *Reader) dropJob() {
	if r.job != nil {
		close(r.job.stop)
		r.job = nil
	}
}

// cancelJobs stops the jobs of frames before off (all when off < 0): the
// reader went past them.
func (r *Reader) cancelJobs(off int64) {
	r.dropJob()
	for o, j := range r.jobs {
		if off < 0 || o < off {
			close(j.stop)
			delete(r.jobs, o)
		}
	}
	for o := range r.walked {
		if off < 0 || o < off {
			delete(r.walked, o)
		}
	}
}

// ClockOf is the clock pair that puts segment seg's monotonic times on the
// wall clock: the last header of that segment with a clock (the clocks are
// read again at each segment, so a long capture follows NTP's
// corrections), else fallback (the file header's).
func ClockOf(segs []SegmentHeader, seg int, fallback ClockPair) ClockPair {
	for i := len(segs) - 1; i >= 0; i-- {
		if int(segs[i].Index) == seg && segs[i].Clock.RealtimeNS != 0 {
			return segs[i].Clock
		}
	}
	return fallback
}

// ClockFor is ClockOf for the segments read so far, falling back to the
// file header's clock.
func (r *Reader) ClockFor(seg int) ClockPair { return ClockOf(r.Segments(), seg, r.hdr.Clock) }

package format

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// WriterOptions tune a Writer. Zero values take the defaults.
type WriterOptions struct {
	// SegmentBytes closes a segment once it holds this many uncompressed
	// bytes (default 8 MiB). A segment always ends on a record boundary.
	SegmentBytes int64
	// Clock, when set, is read when each segment opens; its pair goes into
	// the segment header. Without it the header's pair is repeated.
	Clock func() ClockPair
	// FileID overrides the random file id (tests).
	FileID *[FileIDSize]byte
}

// DefaultSegmentBytes is the default uncompressed size of a segment.
const DefaultSegmentBytes = 8 << 20

// WriterStats are running totals, safe to read from another goroutine.
type WriterStats struct {
	Records           int64
	UncompressedBytes int64 // record stream bytes, headers included
	CompressedBytes   int64 // bytes written to the file
	Segments          int64
}

// Writer writes a capture file. It is not safe for concurrent use, except
// Stats.
type Writer struct {
	w       io.Writer
	opts    WriterOptions
	fileID  [FileIDSize]byte
	hdr     Header
	enc     *zstd.Encoder
	off     int64 // bytes written so far
	err     error // sticky
	closed  bool
	inSeg   bool
	seg     SegmentInfo
	segs    []SegmentInfo
	frames  [SourceNote + 1]int64
	records int64

	statRecords, statUncompressed, statCompressed, statSegments atomic.Int64
}

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("format: writer is closed")

// NewWriter writes the file header to w and returns a Writer. If w has a
// Sync method (an *os.File), it is called whenever a segment closes.
func NewWriter(w io.Writer, h Header, opts WriterOptions) (*Writer, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	fw := &Writer{w: w, opts: opts, hdr: h}
	if opts.FileID != nil {
		fw.fileID = *opts.FileID
	} else if _, err := rand.Read(fw.fileID[:]); err != nil {
		return nil, fmt.Errorf("format: file id: %w", err)
	}
	fw.hdr.FormatVersion = Version
	body, err := json.Marshal(&fw.hdr)
	if err != nil {
		return nil, fmt.Errorf("format: header: %w", err)
	}
	if len(body) > MaxHeaderSize-16 {
		return nil, fmt.Errorf("format: header of %d bytes is over the %d-byte limit", len(body), MaxHeaderSize)
	}
	var fixed [4 + FileIDSize]byte
	binary.LittleEndian.PutUint16(fixed[0:], Version)
	copy(fixed[4:], fw.fileID[:])
	if err := fw.write(appendSkippable(nil, TagHeader, fixed[:], body)); err != nil {
		return nil, err
	}
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(true),
		zstd.WithWindowSize(4<<20))
	if err != nil {
		return nil, fmt.Errorf("format: zstd: %w", err)
	}
	fw.enc = enc
	return fw, nil
}

// FileID returns the file's random id.
func (fw *Writer) FileID() [FileIDSize]byte { return fw.fileID }

func (fw *Writer) write(b []byte) error {
	if fw.err != nil {
		return fw.err
	}
	n, err := fw.w.Write(b)
	fw.off += int64(n)
	fw.statCompressed.Add(int64(n))
	if err != nil {
		fw.err = fmt.Errorf("format: %w", err)
	}
	return fw.err
}

// encTarget counts what the encoder writes through to the file.
type encTarget struct{ fw *Writer }

func (t encTarget) Write(b []byte) (int, error) {
	if err := t.fw.write(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (fw *Writer) openSegment() error {
	clock := fw.hdr.Clock
	if fw.opts.Clock != nil {
		clock = fw.opts.Clock()
	}
	sh := SegmentHeader{FileID: fw.fileID, Index: uint32(len(fw.segs)), Clock: clock, FirstRecord: uint64(fw.records)}
	fw.seg = SegmentInfo{Offset: fw.off}
	if err := fw.write(appendSkippable(nil, TagSegment, sh.marshal()[4:])); err != nil {
		return err
	}
	fw.enc.Reset(encTarget{fw})
	fw.inSeg = true
	return nil
}

func (fw *Writer) closeSegment() error {
	if !fw.inSeg {
		return nil
	}
	fw.inSeg = false
	if err := fw.enc.Close(); err != nil {
		if fw.err == nil {
			fw.err = fmt.Errorf("format: zstd: %w", err)
		}
		return fw.err
	}
	if fw.err != nil {
		return fw.err
	}
	fw.seg.CompressedSize = fw.off - fw.seg.Offset
	fw.segs = append(fw.segs, fw.seg)
	fw.statSegments.Add(1)
	if s, ok := fw.w.(interface{ Sync() error }); ok {
		if err := s.Sync(); err != nil {
			fw.err = fmt.Errorf("format: sync: %w", err)
			return fw.err
		}
	}
	return nil
}

// WriteChunk appends framed records (see PutRecordHeader) to the capture.
// b must hold whole records; it is checked, and segments are split between
// records. b is not retained.
func (fw *Writer) WriteChunk(b []byte) error {
	if fw.closed {
		return ErrClosed
	}
	if fw.err != nil {
		return fw.err
	}
	for len(b) > 0 {
		// Take as many records as fit in the current segment (at least one).
		if !fw.inSeg {
			if err := fw.openSegment(); err != nil {
				return err
			}
		}
		room := fw.opts.SegmentBytes - fw.seg.UncompressedSize
		n := 0
		for n < len(b) {
			if len(b)-n < RecordHeaderSize {
				return fmt.Errorf("format: WriteChunk: %d trailing bytes are not a record", len(b)-n)
			}
			size := int(binary.LittleEndian.Uint32(b[n:]))
			src := Source(b[n+4])
			if size > MaxRecordSize || src < SourceAudit || src > SourceNote || len(b)-n-RecordHeaderSize < size {
				return fmt.Errorf("format: WriteChunk: invalid record header at chunk offset %d", n)
			}
			total := RecordHeaderSize + size
			if n > 0 && int64(n+total) > room {
				break
			}
			if n == 0 && fw.seg.UncompressedSize > 0 && int64(total) > room {
				break // start a new segment for this record
			}
			mono := int64(binary.LittleEndian.Uint64(b[n+8:]))
			if fw.seg.Records == 0 {
				fw.seg.FirstMono = mono
			}
			fw.seg.LastMono = mono
			fw.seg.Records++
			fw.frames[src]++
			fw.records++
			n += total
		}
		if n > 0 {
			if _, err := fw.enc.Write(b[:n]); err != nil {
				if fw.err == nil {
					fw.err = fmt.Errorf("format: zstd: %w", err)
				}
				return fw.err
			}
			fw.seg.UncompressedSize += int64(n)
			fw.statRecords.Store(fw.records)
			fw.statUncompressed.Add(int64(n))
			b = b[n:]
		}
		if fw.seg.UncompressedSize >= fw.opts.SegmentBytes || n == 0 {
			if err := fw.closeSegment(); err != nil {
				return err
			}
		}
	}
	return fw.err
}

// WriteRecord appends one record.
func (fw *Writer) WriteRecord(src Source, flags uint8, mono int64, data []byte) error {
	if len(data) > MaxRecordSize {
		return fmt.Errorf("format: record of %d bytes is over the %d-byte limit", len(data), MaxRecordSize)
	}
	return fw.WriteChunk(AppendRecord(nil, src, flags, mono, data))
}

// Flush pushes buffered records to the file as complete zstd blocks without
// ending the segment: a reader then recovers everything written so far even
// if the writer never gets to Close.
func (fw *Writer) Flush() error {
	if fw.closed {
		return ErrClosed
	}
	if fw.inSeg {
		if err := fw.enc.Flush(); err != nil && fw.err == nil {
			fw.err = fmt.Errorf("format: zstd: %w", err)
		}
	}
	return fw.err
}

// CloseSegment ends the current segment (segment age limits use it).
func (fw *Writer) CloseSegment() error {
	if fw.closed {
		return ErrClosed
	}
	return fw.closeSegment()
}

// SegmentOpen reports whether a segment is open.
func (fw *Writer) SegmentOpen() bool { return fw.inSeg }

// Stats returns running totals. Safe for concurrent use.
func (fw *Writer) Stats() WriterStats {
	return WriterStats{
		Records:           fw.statRecords.Load(),
		UncompressedBytes: fw.statUncompressed.Load(),
		CompressedBytes:   fw.statCompressed.Load(),
		Segments:          fw.statSegments.Load(),
	}
}

// Close ends the open segment and writes the trailer. The writer fills the
// trailer's Segments and Frames. It does not close the underlying writer.
func (fw *Writer) Close(t Trailer) error {
	if fw.closed {
		return ErrClosed
	}
	err := fw.closeSegment()
	fw.closed = true
	if err != nil {
		return err
	}
	t.Segments = fw.segs
	t.Frames = map[string]int64{}
	for s := SourceAudit; s <= SourceNote; s++ {
		t.Frames[s.String()] = fw.frames[s]
	}
	body, err := json.Marshal(&t)
	if err != nil {
		return fmt.Errorf("format: trailer: %w", err)
	}
	if err := fw.write(appendSkippable(nil, TagTrailer, fw.fileID[:], body)); err != nil {
		return err
	}
	if s, ok := fw.w.(interface{ Sync() error }); ok {
		if err := s.Sync(); err != nil {
			return fmt.Errorf("format: sync: %w", err)
		}
	}
	return nil
}

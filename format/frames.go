package format

import (
	"encoding/binary"
	"io"
)

// Frame-level constants. Every frame of a capture file is a zstd frame: the
// file header, the segment headers and the trailer are zstd skippable frames
// (ignored by any zstd decoder), the records are in ordinary zstd frames.
const (
	// SkippableMagic is the zstd skippable-frame magic ctrace uses for its
	// metadata frames (any of 0x184D2A50..0x184D2A5F is skippable).
	SkippableMagic uint32 = 0x184D2A5C
	zstdMagic      uint32 = 0xFD2FB528
	skippableMask  uint32 = 0xFFFFFFF0
	skippableBase  uint32 = 0x184D2A50

	// Tags: the first four bytes of a ctrace skippable frame's data.
	TagHeader  = "CTRH"
	TagSegment = "CTRS"
	TagTrailer = "CTRT"

	// FileIDSize is the size of the random id that ties segment headers and
	// the trailer to the file header.
	FileIDSize = 8

	// segmentHeaderSize is the data size of a segment header frame.
	segmentHeaderSize = 4 + FileIDSize + 4 + 4 + 8 + 8 + 8 + 8

	// MaxHeaderSize and MaxTrailerSize bound the metadata frames a reader
	// will load into memory.
	MaxHeaderSize  = 1 << 20
	MaxTrailerSize = 64 << 20

	maxBlockSize = 128 << 10 // zstd Block_Maximum_Size
)

func appendSkippable(dst []byte, tag string, body ...[]byte) []byte {
	n := len(tag)
	for _, b := range body {
		n += len(b)
	}
	dst = binary.LittleEndian.AppendUint32(dst, SkippableMagic)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, tag...)
	for _, b := range body {
		dst = append(dst, b...)
	}
	return dst
}

// SegmentHeader is the content of a segment header frame.
type SegmentHeader struct {
	FileID      [FileIDSize]byte
	Index       uint32    // 0-based segment number
	Clock       ClockPair // clocks read when the segment was opened
	FirstRecord uint64    // number of records in the file before this segment
}

func (s *SegmentHeader) marshal() []byte {
	b := make([]byte, 0, segmentHeaderSize)
	b = append(b, TagSegment...)
	b = append(b, s.FileID[:]...)
	b = binary.LittleEndian.AppendUint32(b, s.Index)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.Clock.RealtimeNS))
	b = binary.LittleEndian.AppendUint64(b, uint64(s.Clock.MonotonicNS))
	b = binary.LittleEndian.AppendUint64(b, uint64(s.Clock.BoottimeNS))
	b = binary.LittleEndian.AppendUint64(b, s.FirstRecord)
	return b
}

func (s *SegmentHeader) unmarshal(b []byte) bool {
	if len(b) != segmentHeaderSize || string(b[:4]) != TagSegment {
		return false
	}
	copy(s.FileID[:], b[4:12])
	s.Index = binary.LittleEndian.Uint32(b[12:])
	s.Clock.RealtimeNS = int64(binary.LittleEndian.Uint64(b[20:]))
	s.Clock.MonotonicNS = int64(binary.LittleEndian.Uint64(b[28:]))
	s.Clock.BoottimeNS = int64(binary.LittleEndian.Uint64(b[36:]))
	s.FirstRecord = binary.LittleEndian.Uint64(b[44:])
	return true
}

// frameKind is what walkFrame found at an offset.
type frameKind int

const (
	frameSkippable frameKind = iota
	frameZstd
)

// frameInfo locates one frame in the file.
type frameInfo struct {
	kind     frameKind
	offset   int64
	size     int64 // total size including magic and headers; may run past EOF when truncated
	dataOff  int64 // skippable: where the data starts
	dataSize int64 // skippable: declared data size
	complete bool  // the whole frame lies inside the file
}

// walkFrame finds the extent of the frame starting at off without
// decompressing it: for a zstd frame it follows the block headers. It returns
// errBadFrame when the bytes at off are not a valid frame start or the
// block structure is invalid; a frame cut by the end of the file is returned
// with complete=false.
func walkFrame(ra io.ReaderAt, off, fileSize int64) (frameInfo, error) {
	var b [14]byte
	fi := frameInfo{offset: off}
	n, _ := ra.ReadAt(b[:8], off)
	if n < 4 {
		return fi, io.ErrUnexpectedEOF
	}
	magic := binary.LittleEndian.Uint32(b[:4])
	switch {
	case magic&skippableMask == skippableBase:
		fi.kind = frameSkippable
		if n < 8 {
			fi.size = fileSize - off
			return fi, io.ErrUnexpectedEOF
		}
		fi.dataOff = off + 8
		fi.dataSize = int64(binary.LittleEndian.Uint32(b[4:8]))
		fi.size = 8 + fi.dataSize
		fi.complete = off+fi.size <= fileSize
		return fi, nil
	case magic == zstdMagic:
		fi.kind = frameZstd
	default:
		return fi, errBadFrame
	}
	// Frame header.
	pos := off + 4
	if n, _ := ra.ReadAt(b[:1], pos); n < 1 {
		fi.size = fileSize - off
		return fi, nil
	}
	fhd := b[0]
	if fhd&0x08 != 0 {
		return fi, errBadFrame // reserved bit
	}
	single := fhd&0x20 != 0
	checksum := fhd&0x04 != 0
	hdr := int64(1)
	if !single {
		hdr++
	}
	hdr += [4]int64{0, 1, 2, 4}[fhd&3]
	fcs := [4]int64{0, 2, 4, 8}[fhd>>6]
	if fhd>>6 == 0 && single {
		fcs = 1
	}
	hdr += fcs
	pos += hdr
	for {
		if pos+3 > fileSize {
			fi.size = fileSize - off
			return fi, nil
		}
		if n, _ := ra.ReadAt(b[:3], pos); n < 3 {
			fi.size = fileSize - off
			return fi, nil
		}
		bh := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
		last := bh&1 != 0
		size := int64(bh >> 3)
		switch (bh >> 1) & 3 {
		case 0, 2: // raw, compressed
			if size > maxBlockSize {
				return fi, errBadFrame
			}
		case 1: // RLE: one byte stored
			if size > maxBlockSize {
				return fi, errBadFrame
			}
			size = 1
		case 3:
			return fi, errBadFrame
		}
		pos += 3 + size
		if last {
			break
		}
	}
	if checksum {
		pos += 4
	}
	fi.size = pos - off
	fi.complete = pos <= fileSize
	if !fi.complete {
		fi.size = fileSize - off
	}
	return fi, nil
}

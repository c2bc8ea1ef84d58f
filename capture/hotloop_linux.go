//go:build linux

package capture

import (
	"encoding/json"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ctrace/ctrace/format"
)

// The hot path. One sourceReader per socket receives each datagram straight
// into an append-only chunk, behind room for its record header, then writes
// the header in place: the chunk is the capture's record stream, ready to be
// compressed. Full chunks go to the writer through a queue; chunks come back
// to a free list. Nothing is parsed and nothing is allocated per frame.

const (
	// chunkSize is the size of one append-only buffer.
	chunkSize = 1 << 20
	// maxDatagram is the room kept free for one datagram. Audit datagrams are
	// at most 16+8970 bytes, proc connector ones 76; anything longer is kept
	// cut and flagged.
	maxDatagram = 64 << 10
	// handoffDelay bounds how long received frames wait in a chunk before
	// going to the writer when the socket is quiet.
	handoffDelay = 25 * time.Millisecond
	// A chunk handed off by the quiet-socket deadline while holding at most
	// this much is copied into a right-sized buffer, so that many quiet
	// handoffs do not tie up whole chunks while the writer is slow.
	smallHandoff = chunkSize / 8
)

// chunkPool hands out chunks up to a memory cap. Smaller buffers queued for
// the writer (quiet handoffs, notes, the snapshot) count against the same
// cap by their capacity.
type chunkPool struct {
	free      chan []byte
	allocated atomic.Int64 // bytes in chunks
	small     atomic.Int64 // bytes in smaller queued buffers
	capBytes  int64
}

func newChunkPool(capBytes int64) *chunkPool {
	if capBytes < 2*chunkSize {
		capBytes = 2 * chunkSize
	}
	return &chunkPool{free: make(chan []byte, capBytes/chunkSize+1), capBytes: capBytes}
}

// get returns an empty chunk, or nil when the memory cap is reached.
func (p *chunkPool) get() []byte {
	select {
	case b := <-p.free:
		return b[:0]
	default:
	}
	if p.allocated.Add(chunkSize)+p.small.Load() > p.capBytes {
		p.allocated.Add(-chunkSize)
		return nil
	}
	return make([]byte, 0, chunkSize)
}

// reserve accounts for a small buffer of n bytes if it fits under the cap.
func (p *chunkPool) reserve(n int) bool {
	if p.small.Add(int64(n))+p.allocated.Load() > p.capBytes {
		p.small.Add(-int64(n))
		return false
	}
	return true
}

// forceReserve accounts for a small buffer that is queued whatever the cap.
func (p *chunkPool) forceReserve(n int) { p.small.Add(int64(n)) }

// recycle takes back a buffer the writer is done with.
func (p *chunkPool) recycle(b []byte) {
	if cap(b) == chunkSize {
		p.put(b)
	} else {
		p.small.Add(-int64(cap(b)))
	}
}

func (p *chunkPool) put(b []byte) {
	select {
	case p.free <- b[:0]:
	default:
		p.allocated.Add(-chunkSize)
	}
}

// sourceStats are a reader's counters, read by the status line.
type sourceStats struct {
	frames    atomic.Int64
	bytes     atomic.Int64
	enobufs   atomic.Int64
	dropped   atomic.Int64 // frames dropped at the memory cap
	truncated atomic.Int64 // frames longer than the receive room
}

// sourceReader owns one socket and feeds the queue.
type sourceReader struct {
	src  format.Source
	name string
	conn syscall.RawConn
	// setDeadline sets the socket's read deadline (zero time: none).
	setDeadline func(time.Time) error
	pool        *chunkPool
	queue       chan<- []byte
	clock       *monoClock
	stats       *sourceStats

	buf       []byte // current chunk (nil while dropping)
	scratch   []byte // receive buffer used while dropping
	pendDrop  int64  // frames dropped since the last note
	pendBytes int64
	deadline  bool // a handoff deadline is armed

	stopping atomic.Bool
	stopAt   atomic.Int64 // unix ns: drain deadline once stopping
	err      error        // first fatal receive error
	readFn   func(fd uintptr) bool
	got      int
}

func newSourceReader(src format.Source, conn syscall.RawConn, setDeadline func(time.Time) error,
	pool *chunkPool, queue chan<- []byte, clock *monoClock, stats *sourceStats) *sourceReader {
	r := &sourceReader{src: src, name: src.String(), conn: conn, setDeadline: setDeadline,
		pool: pool, queue: queue, clock: clock, stats: stats, scratch: make([]byte, maxDatagram)}
	r.readFn = r.drainSocket
	return r
}

// handoff sends the current chunk to the writer.
func (r *sourceReader) handoff() {
	if len(r.buf) > 0 {
		r.queue <- r.buf
		r.buf = nil
	}
	if r.deadline {
		r.deadline = false
		r.applyDeadline(time.Time{})
	}
}

// handoffQuiet hands off what the chunk holds because the socket went
// quiet; a little data is copied out and the chunk kept for more.
func (r *sourceReader) handoffQuiet() {
	if n := len(r.buf); n > 0 && n <= smallHandoff && r.pool.reserve(n) {
		c := make([]byte, n)
		copy(c, r.buf)
		r.queue <- c
		r.buf = r.buf[:0]
		if r.deadline {
			r.deadline = false
			r.applyDeadline(time.Time{})
		}
		return
	}
	r.handoff()
}

// applyDeadline sets the socket deadline, never later than the stop deadline
// once stop was called (stop may run concurrently).
func (r *sourceReader) applyDeadline(t time.Time) {
	if s := r.stopAt.Load(); s != 0 {
		_ = r.setDeadline(time.Unix(0, s))
		return
	}
	_ = r.setDeadline(t)
	if s := r.stopAt.Load(); s != 0 {
		_ = r.setDeadline(time.Unix(0, s))
	}
}

// ensureRoom makes sure a chunk with room for one more datagram is ready,
// or leaves r.buf nil when the memory cap is reached.
func (r *sourceReader) ensureRoom() {
	if r.buf != nil && cap(r.buf)-len(r.buf) >= format.RecordHeaderSize+maxDatagram+512 {
		return
	}
	r.handoff()
	r.buf = r.pool.get()
	if r.buf != nil && r.pendDrop > 0 {
		r.appendNote(format.Note{Kind: "dropped", Source: r.name, Count: r.pendDrop, Bytes: r.pendBytes})
		r.pendDrop, r.pendBytes = 0, 0
	}
}

// appendNote writes a note record into the current chunk (rare path).
func (r *sourceReader) appendNote(n format.Note) {
	b, _ := json.Marshal(n)
	if r.buf == nil || cap(r.buf)-len(r.buf) < format.RecordHeaderSize+len(b) {
		return
	}
	r.buf = format.AppendRecord(r.buf, format.SourceNote, 0, r.clock.now(), b)
}

// recv is recvfrom(2) without allocation: MSG_TRUNC makes it return the real
// length of a datagram longer than the buffer.
func recv(fd uintptr, b []byte) (int, unix.Errno) {
	n, _, e := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
	return int(n), e
}

// drainSocket is called by the runtime when the socket may be readable. It
// receives until the socket is empty or the chunk is full; returning false
// asks the runtime to wait for readability.
func (r *sourceReader) drainSocket(fd uintptr) bool {
	for {
		r.ensureRoom()
		var dst []byte
		if r.buf != nil {
			l := len(r.buf) + format.RecordHeaderSize
			dst = r.buf[l : l+maxDatagram]
		} else {
			dst = r.scratch
		}
		n, errno := recv(fd, dst)
		switch errno {
		case 0:
		case unix.EAGAIN:
			return r.got > 0
		case unix.EINTR:
			continue
		case unix.ENOBUFS:
			// The kernel dropped datagrams for this socket: say so in the stream.
			r.stats.enobufs.Add(1)
			r.ensureRoom()
			r.appendNote(format.Note{Kind: "enobufs", Source: r.name, Count: 1})
			r.got++
			continue
		default:
			r.err = errno
			return true
		}
		r.got++
		if r.buf == nil {
			r.pendDrop++
			r.pendBytes += int64(n)
			r.stats.dropped.Add(1)
			continue
		}
		var flags uint8
		if n > maxDatagram {
			flags = format.FlagTruncated
			n = maxDatagram
			r.stats.truncated.Add(1)
		}
		l := len(r.buf)
		format.PutRecordHeader(r.buf[l:l+format.RecordHeaderSize], r.src, flags, r.clock.now(), n)
		r.buf = r.buf[:l+format.RecordHeaderSize+n]
		r.stats.frames.Add(1)
		r.stats.bytes.Add(int64(n))
		if cap(r.buf)-len(r.buf) < format.RecordHeaderSize+maxDatagram+512 {
			return true
		}
	}
}

// run receives until stop is requested and the socket is drained, or a
// receive fails. It hands its last chunk to the writer before returning.
func (r *sourceReader) run(wg *sync.WaitGroup) {
	defer wg.Done()
	defer r.handoff()
	for {
		r.got = 0
		err := r.conn.Read(r.readFn)
		if r.err != nil {
			return
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if r.stopping.Load() {
					return
				}
				r.handoffQuiet()
				continue
			}
			if r.stopping.Load() {
				return
			}
			r.err = err
			return
		}
		// Frames are waiting in the chunk: make sure they reach the writer
		// soon even if the socket goes quiet.
		if len(r.buf) > 0 && !r.deadline {
			r.deadline = true
			r.applyDeadline(time.Now().Add(handoffDelay))
		}
	}
}

// stop makes run drain what the socket holds for at most grace and return.
func (r *sourceReader) stop(grace time.Duration) {
	at := time.Now().Add(grace)
	r.stopAt.Store(at.UnixNano())
	r.stopping.Store(true)
	_ = r.setDeadline(at)
}

//go:build linux

package capture

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
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
//
// What a frame costs is mostly waking up for it. The kernel sends audit
// records one datagram at a time; a reader that waits for readability as
// soon as its socket is empty is woken (scheduler, netpoller, a thread) for
// nearly every frame, and a socket registered with the Go runtime's
// netpoller (edge-triggered epoll) wakes the runtime's poller thread for
// every datagram even when nobody waits. So:
//
//   - the sockets are plain file descriptors the netpoller never sees, read
//     with non-blocking recvmmsg(2), up to recvBatch datagrams a call, each
//     into a slot after the chunk's end, then moved together (a raw system
//     call: it never blocks, so it skips the scheduler's system call
//     bookkeeping);
//   - one pump goroutine serves every socket: a pass receives from each
//     until it is empty;
//   - after a pass that found frames, the pump sleeps pollInterval and passes
//     again without waiting for readability: under a storm that is one
//     wakeup per pollInterval instead of one per frame. The receive buffers
//     (at least 8 MiB, reported as 16) hold thousands of frames, far more
//     than arrive in pollInterval;
//   - only after a pass that found nothing does it wait, in poll(2), for a
//     frame, for the oldest waiting frame to be due at the writer
//     (handoffDelay), or for a stop request.

const (
	// chunkSize is the size of one append-only buffer.
	chunkSize = 1 << 20
	// maxDatagram is the room kept free for one datagram. Audit datagrams are
	// at most 16+8970 bytes, proc connector ones 76; anything longer is kept
	// cut and flagged.
	maxDatagram = 64 << 10
	// handoffDelay bounds how long received frames wait in a chunk before
	// going to the writer when the chunk does not fill up.
	handoffDelay = 25 * time.Millisecond
	// A chunk handed off by handoffDelay while holding at most this much is
	// copied into a small buffer (recycled like chunks), so that many such
	// handoffs do not tie up whole chunks while the writer is slow.
	smallHandoff = chunkSize / 8
	// pollInterval is how long the pump sleeps after a pass that found
	// frames before the next pass (see above). It delays frames by at most
	// that much, well under handoffDelay.
	pollInterval = 5 * time.Millisecond
	// stampQuantum: a reader reuses its last receive stamp for frames
	// received less than this after it. The digits below it would be noise
	// anyway (a frame may wait pollInterval in the socket; audit's own times
	// are jiffies) and they are what the compressor cannot squeeze: random
	// low bytes in every record header cost a third of the capture's size.
	// A stamp is at most stampQuantum earlier than the receive, never later.
	stampQuantum = 100 * time.Microsecond
)

// chunkPool hands out chunks up to a memory cap. Smaller buffers queued for
// the writer (small handoffs, notes, the snapshot) count against the same
// cap by their capacity.
type chunkPool struct {
	free      chan []byte
	smallFree chan []byte  // buffers of capacity smallHandoff
	allocated atomic.Int64 // bytes in chunks
	small     atomic.Int64 // bytes in smaller buffers queued or in use
	capBytes  int64
}

func newChunkPool(capBytes int64) *chunkPool {
	if capBytes < 2*chunkSize {
		capBytes = 2 * chunkSize
	}
	return &chunkPool{free: make(chan []byte, capBytes/chunkSize+1), smallFree: make(chan []byte, 16), capBytes: capBytes}
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

// getSmall returns an empty buffer of capacity smallHandoff, accounted
// against the cap, or nil when it does not fit.
func (p *chunkPool) getSmall() []byte {
	if !p.reserve(smallHandoff) {
		return nil
	}
	select {
	case b := <-p.smallFree:
		return b[:0]
	default:
		return make([]byte, 0, smallHandoff)
	}
}

// forceReserve accounts for a small buffer that is queued whatever the cap.
func (p *chunkPool) forceReserve(n int) { p.small.Add(int64(n)) }

// recycle takes back a buffer the writer is done with.
func (p *chunkPool) recycle(b []byte) {
	switch cap(b) {
	case chunkSize:
		p.put(b)
	case smallHandoff:
		p.small.Add(-smallHandoff)
		select {
		case p.smallFree <- b[:0]:
		default:
		}
	default:
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
	passes    atomic.Int64 // receive passes that found at least one frame
}

// sourceReader owns one socket's chunk and counters; a pump receives for it.
type sourceReader struct {
	src   format.Source
	name  string
	fd    int // blocking; received from with MSG_DONTWAIT only
	pool  *chunkPool
	queue chan<- []byte
	clock *monoClock
	stats *sourceStats

	buf       []byte // current chunk (nil while dropping)
	scratch   []byte // receive buffer used while dropping
	pendDrop  int64  // frames dropped since the last note
	pendBytes int64

	stamp int64 // the last receive stamp (see stampQuantum)

	stopping atomic.Bool
	stopAt   atomic.Int64           // unix ns: drain deadline once stopping
	wake     atomic.Pointer[func()] // set by the pump: interrupts its wait
	failed   atomic.Pointer[error]  // the fatal receive error, read by the run loop
	got      int                    // frames (and notes) received in the last pass
	full     bool                   // the last pass stopped because the chunk was full
	finished bool                   // the pump is done with this reader

	// msgs and iovs describe the slots of one recvmmsg(2) call (see pass).
	msgs [recvBatch]unix.Mmsghdr
	iovs [recvBatch]unix.Iovec
}

// recvBatch is the most datagrams one recvmmsg(2) call takes: one system
// call for a pass's frames instead of one each.
const recvBatch = 16

func newSourceReader(src format.Source, fd int, pool *chunkPool, queue chan<- []byte, clock *monoClock, stats *sourceStats) *sourceReader {
	return &sourceReader{src: src, name: src.String(), fd: fd, pool: pool, queue: queue, clock: clock,
		stats: stats, scratch: make([]byte, maxDatagram)}
}

// handoff sends the current chunk to the writer.
func (r *sourceReader) handoff() {
	if len(r.buf) > 0 {
		r.queue <- r.buf
		r.buf = nil
	}
}

// handoffDue hands off what the chunk holds because its oldest frame has
// waited handoffDelay; a little data is copied out and the chunk kept for
// more.
func (r *sourceReader) handoffDue() {
	if n := len(r.buf); n > 0 && n <= smallHandoff {
		if c := r.pool.getSmall(); c != nil {
			r.queue <- append(c, r.buf...)
			r.buf = r.buf[:0]
			return
		}
	}
	r.handoff()
}

// oldest returns the receive stamp of the chunk's first record; the chunk
// must not be empty.
func (r *sourceReader) oldest() int64 {
	return int64(binary.LittleEndian.Uint64(r.buf[8:16]))
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
		r.appendNote(format.Note{Kind: format.NoteDropped, Source: r.name, Count: r.pendDrop, Bytes: r.pendBytes})
		r.pendDrop, r.pendBytes = 0, 0
	}
}

// appendNote writes a note record into the current chunk (rare path).
func (r *sourceReader) appendNote(n format.Note) {
	b, _ := json.Marshal(n)
	if r.buf == nil || cap(r.buf)-len(r.buf) < format.RecordHeaderSize+len(b) {
		return
	}
	r.buf = format.AppendRecord(r.buf, format.SourceNote, 0, r.now(), b)
}

// now returns the receive stamp for a record: CLOCK_MONOTONIC, reusing the
// last stamp while it is less than stampQuantum old.
func (r *sourceReader) now() int64 {
	if t := r.clock.now(); t-r.stamp >= int64(stampQuantum) {
		r.stamp = t
	}
	return r.stamp
}

// recv is recvfrom(2) without allocation: MSG_TRUNC makes it return the real
// length of a datagram longer than the buffer. MSG_DONTWAIT: it never
// blocks, hence a raw system call.
func recv(fd uintptr, b []byte) (int, unix.Errno) {
	n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
	return int(n), e
}

// recvmmsg is recvmmsg(2) of up to len(msgs) datagrams, without blocking
// (MSG_DONTWAIT) and with each message's real length (MSG_TRUNC).
func recvmmsg(fd uintptr, msgs []unix.Mmsghdr) (int, unix.Errno) {
	n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)),
		unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
	return int(n), e
}

// recvSlot is the room one datagram gets in a batch: its record header and
// maxDatagram bytes.
const recvSlot = format.RecordHeaderSize + maxDatagram

// pass receives until the socket is empty or the chunk is full, and sets
// r.got and r.full. Into a chunk it receives in batches (recvBatch): each
// datagram lands in a slot of recvSlot bytes after the chunk's end, and the
// records are then moved together; while dropping, one at a time.
func (r *sourceReader) pass() {
	r.got, r.full = 0, false
	for {
		r.ensureRoom()
		if r.buf != nil {
			more, stop := r.batch()
			if stop {
				return
			}
			if !more {
				return // the socket had fewer datagrams than slots: it is empty
			}
			continue
		}
		n, errno := recv(uintptr(r.fd), r.scratch)
		switch errno {
		case 0:
		case unix.EAGAIN:
			return
		case unix.EINTR:
			continue
		case unix.ENOBUFS:
			// The kernel dropped datagrams for this socket: say so in the stream.
			r.stats.enobufs.Add(1)
			r.ensureRoom()
			r.appendNote(format.Note{Kind: format.NoteENOBUFS, Source: r.name, Count: 1})
			r.got++
			continue
		default:
			var err error = errno
			r.failed.Store(&err)
			return
		}
		r.got++
		r.pendDrop++
		r.pendBytes += int64(n)
		r.stats.dropped.Add(1)
	}
}

// batch receives up to recvBatch datagrams into the chunk with one
// recvmmsg(2). more: every slot was filled (the socket may hold more);
// stop: the pass is over (socket empty, chunk full, or a fatal error).
func (r *sourceReader) batch() (more, stop bool) {
	base := len(r.buf)
	full := r.buf[:cap(r.buf)]
	k := min((cap(r.buf)-base-512)/recvSlot, recvBatch)
	k = max(k, 1) // ensureRoom left room for one
	for i := 0; i < k; i++ {
		off := base + i*recvSlot + format.RecordHeaderSize
		r.iovs[i].Base = &full[off]
		r.iovs[i].SetLen(maxDatagram)
		r.msgs[i].Hdr = unix.Msghdr{Iov: &r.iovs[i]}
		r.msgs[i].Hdr.SetIovlen(1)
		r.msgs[i].Len = 0
	}
	n, errno := recvmmsg(uintptr(r.fd), r.msgs[:k])
	switch errno {
	case 0:
	case unix.EAGAIN:
		return false, true
	case unix.EINTR:
		return true, false
	case unix.ENOBUFS:
		// The kernel dropped datagrams for this socket: say so in the stream.
		r.stats.enobufs.Add(1)
		r.appendNote(format.Note{Kind: format.NoteENOBUFS, Source: r.name, Count: 1})
		r.got++
		return true, false
	default:
		var err error = errno
		r.failed.Store(&err)
		return false, true
	}
	w := base
	for i := 0; i < n; i++ {
		ln := int(r.msgs[i].Len)
		var flags uint8
		if ln > maxDatagram {
			flags = format.FlagTruncated
			ln = maxDatagram
			r.stats.truncated.Add(1)
		}
		src := base + i*recvSlot + format.RecordHeaderSize
		if dst := w + format.RecordHeaderSize; dst != src {
			copy(full[dst:dst+ln], full[src:src+ln])
		}
		format.PutRecordHeader(full[w:w+format.RecordHeaderSize], r.src, flags, r.now(), ln)
		w += format.RecordHeaderSize + ln
		r.stats.frames.Add(1)
		r.stats.bytes.Add(int64(ln))
	}
	r.buf = r.buf[:w]
	r.got += n
	if cap(r.buf)-len(r.buf) < recvSlot+512 {
		r.full = true // the socket may hold more
		return false, true
	}
	return n == k, false
}

// err returns the fatal receive error, if any.
func (r *sourceReader) err() error {
	if e := r.failed.Load(); e != nil {
		return *e
	}
	return nil
}

// stop makes the pump drain what the socket holds for at most grace and be
// done with this reader.
func (r *sourceReader) stop(grace time.Duration) {
	r.stopAt.Store(time.Now().Add(grace).UnixNano())
	r.stopping.Store(true)
	if w := r.wake.Load(); w != nil {
		(*w)()
	}
}

// run serves this reader alone until it is stopped (tests).
func (r *sourceReader) run(wg *sync.WaitGroup) {
	p, err := newPump(r)
	if err != nil {
		r.failed.Store(&err)
		wg.Done()
		return
	}
	p.run(wg)
}

// pump receives for its readers until every one is stopped and drained or
// has failed; each hands its last chunk to the writer.
type pump struct {
	readers  []*sourceReader
	pfds     []unix.PollFd
	rawPause bool // see pause

	mu     sync.Mutex // wakeFD against a stop after the pump is done
	wakeFD int        // eventfd: stop interrupts the wait
	closed bool
}

func newPump(readers ...*sourceReader) (*pump, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("capture: eventfd: %w", err)
	}
	p := &pump{readers: readers, wakeFD: fd, rawPause: runtime.GOMAXPROCS(0) > 1}
	wake := p.wake
	for _, r := range readers {
		r.wake.Store(&wake)
	}
	return p, nil
}

// wake interrupts the pump's wait (stop calls it).
func (p *pump) wake() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		var one [8]byte
		nativeEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(p.wakeFD, one[:])
	}
}

func (p *pump) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	unix.Close(p.wakeFD)
}

func (p *pump) run(wg *sync.WaitGroup) {
	defer wg.Done()
	defer p.close()
	for {
		got, full, stopping, active := false, false, false, 0
		for _, r := range p.readers {
			if r.finished {
				continue
			}
			r.pass()
			if r.got > 0 {
				r.stats.passes.Add(1)
				got = true
			}
			full = full || r.full
			switch {
			case r.err() != nil:
				r.finish()
				continue
			case r.stopping.Load():
				// Drained, or out of time: done with this one.
				if (r.got == 0 && !r.full) || time.Now().UnixNano() >= r.stopAt.Load() {
					r.finish()
					continue
				}
				stopping = true
			}
			active++
		}
		if active == 0 {
			return
		}
		now := p.readers[0].clock.now()
		wait := int64(-1) // ns until the oldest waiting frame is due; -1: none waits
		for _, r := range p.readers {
			if r.finished || len(r.buf) == 0 {
				continue
			}
			due := r.oldest() + int64(handoffDelay) - now
			if due <= 0 {
				r.handoffDue()
				continue
			}
			if wait < 0 || due < wait {
				wait = due
			}
		}
		switch {
		case full || stopping:
			continue
		case got:
			p.pause()
		default:
			p.wait(wait)
		}
	}
}

// finish hands off the reader's last chunk and retires it.
func (r *sourceReader) finish() {
	r.handoff()
	r.finished = true
}

// wait blocks in poll(2) until a socket is readable, timeout ns pass (-1:
// no limit) or a reader is stopped.
func (p *pump) wait(timeout int64) {
	p.pfds = p.pfds[:0]
	for _, r := range p.readers {
		if !r.finished {
			p.pfds = append(p.pfds, unix.PollFd{Fd: int32(r.fd), Events: unix.POLLIN})
		}
	}
	p.pfds = append(p.pfds, unix.PollFd{Fd: int32(p.wakeFD), Events: unix.POLLIN})
	ms := -1
	if timeout >= 0 {
		ms = int((timeout + int64(time.Millisecond) - 1) / int64(time.Millisecond))
	}
	if _, err := unix.Poll(p.pfds, ms); err != nil && !errors.Is(err, syscall.EINTR) {
		// poll on valid descriptors does not fail otherwise; do not spin.
		time.Sleep(pollInterval)
	}
	if p.pfds[len(p.pfds)-1].Revents != 0 {
		var b [8]byte
		_, _ = unix.Read(p.wakeFD, b[:])
	}
}

// pause sleeps pollInterval. With a spare processor it sleeps in a raw
// nanosleep(2) that keeps this goroutine's P: the runtime's timers cost
// several thread wakeups per pause (poller wakeup, early wakeup on the
// poller's millisecond timeout, an idle thread woken to run the goroutine),
// and a non-raw system call wakes the runtime's monitor thread, which then
// hands the P off. A P held for pollInterval delays a stop-the-world by at
// most that much; with GOMAXPROCS=1 it would stall the writer, so then the
// pause is an ordinary time.Sleep.
func (p *pump) pause() {
	if !p.rawPause {
		time.Sleep(pollInterval)
		return
	}
	ts := unix.NsecToTimespec(int64(pollInterval))
	unix.RawSyscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
}

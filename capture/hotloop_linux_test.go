//go:build linux

package capture

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctrace/ctrace/format"
)

// dgramPair returns a datagram socket pair: the test writes into w, the
// sourceReader reads from r like from a netlink socket (a blocking
// descriptor the runtime's netpoller does not know).
func dgramPair(t testing.TB) (w int, r int) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	_ = unix.SetsockoptInt(fds[1], unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func newTestReader(t testing.TB, fd int, pool *chunkPool, queue chan []byte) (*sourceReader, *sourceStats) {
	clock := newMonoClock()
	st := &sourceStats{}
	return newSourceReader(format.SourceAudit, fd, pool, queue, &clock, st), st
}

// parseChunk splits a chunk into records.
func parseChunk(t testing.TB, b []byte) []format.Record {
	var recs []format.Record
	for len(b) > 0 {
		if len(b) < format.RecordHeaderSize {
			t.Fatalf("trailing %d bytes", len(b))
		}
		n := int(binary.LittleEndian.Uint32(b))
		recs = append(recs, format.Record{Source: format.Source(b[4]), Flags: b[5],
			Mono: int64(binary.LittleEndian.Uint64(b[8:])), Data: b[16 : 16+n]})
		b = b[16+n:]
	}
	return recs
}

func TestSourceReaderKeepsEveryDatagram(t *testing.T) {
	w, f := dgramPair(t)
	pool := newChunkPool(64 << 20)
	queue := make(chan []byte, 128)
	r, st := newTestReader(t, f, pool, queue)
	var wg sync.WaitGroup
	wg.Add(1)
	go r.run(&wg)
	const n = 5000
	var want [][]byte
	for i := 0; i < n; i++ {
		d := bytes.Repeat([]byte{byte(i)}, 4+i%700)
		binary.LittleEndian.PutUint32(d, uint32(i))
		want = append(want, d)
		for {
			if _, err := unix.Write(w, d); err == nil {
				break
			} else if err != unix.EAGAIN && err != unix.ENOBUFS {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// A frame that lands in a quiet period still reaches the writer quickly.
	deadline := time.After(10 * time.Second)
	var got []format.Record
	for len(got) < n {
		select {
		case c := <-queue:
			got = append(got, parseChunk(t, bytes.Clone(c))...)
		case <-deadline:
			t.Fatalf("only %d of %d frames handed off", len(got), n)
		}
	}
	r.stop(50 * time.Millisecond)
	wg.Wait()
	var prev int64
	for i, rec := range got {
		if !bytes.Equal(rec.Data, want[i]) || rec.Source != format.SourceAudit {
			t.Fatalf("frame %d differs", i)
		}
		if rec.Mono < prev {
			t.Fatalf("frame %d: time went back", i)
		}
		prev = rec.Mono
	}
	if st.frames.Load() != n || st.dropped.Load() != 0 {
		t.Fatalf("stats: frames %d dropped %d", st.frames.Load(), st.dropped.Load())
	}
}

// Past the memory cap frames are counted as dropped, and a note says so in
// the stream once room is back.
func TestSourceReaderCountsDropsAtTheCap(t *testing.T) {
	w, f := dgramPair(t)
	pool := newChunkPool(2 * chunkSize) // two chunks at most
	queue := make(chan []byte, 16)
	r, st := newTestReader(t, f, pool, queue)
	var wg sync.WaitGroup
	wg.Add(1)
	go r.run(&wg)
	d := make([]byte, 8000)
	sent := 0
	// Fill both chunks and more while nobody returns chunks to the pool.
	for st.dropped.Load() < 10 {
		if _, err := unix.Write(w, d); err == nil {
			sent++
		}
		if sent > 2000 {
			t.Fatal("no drops past the cap")
		}
	}
	// The reader pauses between passes (pollInterval), so the socket may
	// still hold many datagrams: let it drop them all before room is back.
	for last, stable := int64(-1), 0; stable < 5; time.Sleep(10 * time.Millisecond) {
		if d := st.dropped.Load(); d == last {
			stable++
		} else {
			last, stable = d, 0
		}
	}
	var first [][]byte
	for len(first) < 2 {
		first = append(first, <-queue)
	}
	for _, c := range first {
		pool.put(c)
	}
	// Now frames fit again: the next chunk starts with a "dropped" note.
	unix.Write(w, d)
	time.Sleep(300 * time.Millisecond)
	r.stop(50 * time.Millisecond)
	wg.Wait()
	c := <-queue
	recs := parseChunk(t, c)
	if recs[0].Source != format.SourceNote {
		t.Fatalf("first record after the drops is %v, want a note", recs[0].Source)
	}
	var note format.Note
	json.Unmarshal(recs[0].Data, &note)
	if note.Kind != "dropped" || note.Count != st.dropped.Load() || note.Source != "audit" {
		t.Fatalf("note %+v, dropped %d", note, st.dropped.Load())
	}
}

// An oversized datagram is kept cut, flagged.
func TestSourceReaderFlagsTruncatedFrames(t *testing.T) {
	w, f := dgramPair(t)
	pool := newChunkPool(8 << 20)
	queue := make(chan []byte, 16)
	r, st := newTestReader(t, f, pool, queue)
	var wg sync.WaitGroup
	wg.Add(1)
	go r.run(&wg)
	_ = unix.SetsockoptInt(w, unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<20)
	big := make([]byte, maxDatagram+100)
	if _, err := unix.Write(w, big); err != nil {
		t.Skipf("cannot send a %d-byte datagram here: %v", len(big), err)
	}
	time.Sleep(200 * time.Millisecond)
	r.stop(50 * time.Millisecond)
	wg.Wait()
	recs := parseChunk(t, <-queue)
	if len(recs) != 1 || recs[0].Flags&format.FlagTruncated == 0 || len(recs[0].Data) != maxDatagram || st.truncated.Load() != 1 {
		t.Fatalf("records %d flags %v len %d", len(recs), recs[0].Flags, len(recs[0].Data))
	}
}

// BenchmarkHotPath measures the reader alone: datagrams of audit sizes in,
// framed records out, chunks recycled. Reports frames/s, allocations per
// frame (b.N frames) and the time from each frame's receive stamp to the
// moment the consumer takes its chunk from the queue (receive-to-queue:
// frames wait in their chunk until it is full or handoffDelay has passed).
func BenchmarkHotPath(b *testing.B) {
	w, fd := dgramPair(b)
	// As root the sender may queue far more than wmem_max, as the kernel
	// does into a netlink socket's receive buffer: the reader pauses
	// between passes (pollInterval), and a small send buffer would make the
	// sender, not the reader, the bottleneck.
	_ = unix.SetsockoptInt(w, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 16<<20)
	pool := newChunkPool(64 << 20)
	queue := make(chan []byte, 128)
	r, _ := newTestReader(b, fd, pool, queue)
	frame := make([]byte, 180) // a typical audit datagram
	done := make(chan struct{})
	got := 0
	var lat latencyHist
	go func() {
		for c := range queue {
			lat.addChunk(c, r.clock.now())
			got += len(parseChunkCount(c))
			pool.recycle(c)
		}
		close(done)
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	b.ReportAllocs()
	b.ResetTimer()
	go r.run(&wg)
	for i := 0; i < b.N; i++ {
		for {
			_, err := unix.Write(w, frame)
			if err == nil {
				break
			}
			if err != unix.EAGAIN && err != unix.ENOBUFS {
				b.Fatal(err)
			}
		}
	}
	r.stop(5 * time.Second) // done as soon as the socket is empty
	wg.Wait()
	b.StopTimer()
	close(queue)
	<-done
	if got != b.N {
		b.Fatalf("got %d of %d frames", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	l := lat.summary()
	b.ReportMetric(float64(l.P50)/1e6, "recv-to-queue-p50-ms")
	b.ReportMetric(float64(l.P99)/1e6, "recv-to-queue-p99-ms")
	b.ReportMetric(float64(l.Max)/1e6, "recv-to-queue-max-ms")
}

func parseChunkCount(b []byte) []struct{} {
	n := 0
	for len(b) >= format.RecordHeaderSize {
		l := int(binary.LittleEndian.Uint32(b))
		b = b[format.RecordHeaderSize+l:]
		n++
	}
	return make([]struct{}, n)
}

// Small buffers count against the memory cap, and come back.
func TestChunkPoolCap(t *testing.T) {
	p := newChunkPool(3 * chunkSize)
	a, b := p.get(), p.get()
	if a == nil || b == nil {
		t.Fatal("pool below its cap refused a chunk")
	}
	if !p.reserve(chunkSize / 2) {
		t.Fatal("half a chunk refused under the cap")
	}
	if p.get() != nil {
		t.Fatal("a chunk handed out past the cap")
	}
	small := make([]byte, chunkSize/2)
	p.recycle(small)
	c := p.get()
	if c == nil {
		t.Fatal("cap not freed by recycling the small buffer")
	}
	if p.reserve(1) {
		t.Fatal("reserve past the cap")
	}
	p.recycle(a)
	if d := p.get(); d == nil || &d[:1][0] != &a[:1][0] {
		t.Fatal("a recycled chunk is not reused")
	}
}

// One pump serves several sockets: every frame reaches the queue in its own
// reader's chunks, a lone frame goes to the writer once it has waited
// handoffDelay, and stop interrupts a pump waiting for frames at once.
func TestPumpServesEveryReader(t *testing.T) {
	wa, fa := dgramPair(t)
	wb, fb := dgramPair(t)
	pool := newChunkPool(64 << 20)
	queue := make(chan []byte, 256)
	clock := newMonoClock()
	ra := newSourceReader(format.SourceAudit, fa, pool, queue, &clock, &sourceStats{})
	rb := newSourceReader(format.SourceProc, fb, pool, queue, &clock, &sourceStats{})
	p, err := newPump(ra, rb)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go p.run(&wg)

	const n = 3000
	for i := 0; i < n; i++ {
		if _, err := unix.Write(wa, []byte{'a', byte(i)}); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if _, err := unix.Write(wb, []byte{'b', byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := map[format.Source]int{}
	deadline := time.After(10 * time.Second)
	for got[format.SourceAudit] < n || got[format.SourceProc] < n/3 {
		select {
		case c := <-queue:
			for _, rec := range parseChunk(t, c) {
				if (rec.Source == format.SourceAudit) != (rec.Data[0] == 'a') {
					t.Fatalf("a %c frame in a %v chunk", rec.Data[0], rec.Source)
				}
				got[rec.Source]++
			}
		case <-deadline:
			t.Fatalf("frames handed off: %v", got)
		}
	}

	// The pump is idle now. A lone frame waits handoffDelay, not longer.
	time.Sleep(50 * time.Millisecond)
	sent := time.Now()
	if _, err := unix.Write(wb, []byte{'b', 0}); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-queue:
		if took := time.Since(sent); took < handoffDelay-time.Millisecond || took > handoffDelay+250*time.Millisecond {
			t.Errorf("a lone frame reached the queue after %v, want about %v", took, handoffDelay)
		}
		if recs := parseChunk(t, c); len(recs) != 1 || recs[0].Source != format.SourceProc {
			t.Fatalf("lone frame: %d records", len(recs))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a lone frame never reached the queue")
	}

	// Waiting in poll with nothing pending: stop must not wait for a frame.
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	ra.stop(time.Second)
	rb.stop(time.Second)
	wg.Wait()
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("stopping an idle pump took %v", took)
	}
	ra.stop(0) // after the pump is done: harmless
}

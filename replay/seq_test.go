package replay

import (
	"math/rand/v2"
	"testing"
)

func TestProcSeqTracker(t *testing.T) {
	var tr ProcSeqTracker
	if tr.Gaps() != 0 {
		t.Fatal("zero tracker has gaps")
	}
	// CPU 0: 100..105 minus 103; CPU 1 starts at 7 and wraps around 2^32.
	for _, s := range []uint32{100, 101, 102, 104, 105} {
		tr.Observe(0, s)
	}
	for _, s := range []uint32{0xfffffffe, 0xffffffff, 0, 2} {
		tr.Observe(1, s)
	}
	if g := tr.Gaps(); g != 2 {
		t.Errorf("gaps %d, want 2 (103 on cpu 0, 1 on cpu 1)", g)
	}
	// A late arrival within the window fills its gap; a duplicate changes nothing.
	tr.Observe(0, 103)
	tr.Observe(0, 103)
	if g := tr.Gaps(); g != 1 {
		t.Errorf("gaps %d after 103, want 1", g)
	}
	if tr.CPUs() != 2 {
		t.Errorf("%d cpus", tr.CPUs())
	}
	// A jump of 10 on cpu 2 from its base.
	tr.Observe(2, 5)
	tr.Observe(2, 16)
	if g := tr.Gaps(); g != 11 {
		t.Errorf("gaps %d, want 11", g)
	}
}

func TestProcSeqTrackerEvents(t *testing.T) {
	var tr ProcSeqTracker
	tr.ObserveEvent(ProcEvent{Kind: ProcNone, What: ProcWhatNone, CPU: ^uint32(0), Seq: 1000}) // old-kernel ack: ignored
	tr.ObserveEvent(ProcEvent{Kind: ProcFork, What: ProcWhatFork, CPU: 0, Seq: 1})
	tr.ObserveEvent(ProcEvent{Kind: ProcNone, What: ProcWhatNone, CPU: 0, Seq: 2}) // numbered ack
	tr.ObserveEvent(ProcEvent{Kind: ProcExit, What: ProcWhatExit, CPU: 0, Seq: 3})
	if tr.Gaps() != 0 || tr.CPUs() != 1 {
		t.Errorf("gaps %d cpus %d", tr.Gaps(), tr.CPUs())
	}
}

func TestAuditSerialTrackerOutOfOrder(t *testing.T) {
	var tr AuditSerialTracker
	if tr.Gaps() != 0 {
		t.Fatal("zero tracker has gaps")
	}
	if _, _, ok := tr.Range(); ok {
		t.Fatal("zero tracker has a range")
	}
	// Several records per serial, the vfork parent (242) before the child
	// (241), 240 before the first one seen, and 250 lost.
	for _, s := range []uint64{242, 242, 242, 241, 241, 240, 243, 244, 245, 246, 247, 248, 249, 251, 252} {
		tr.Observe(s)
	}
	if g := tr.Gaps(); g != 1 {
		t.Errorf("gaps %d, want 1", g)
	}
	if lo, hi, ok := tr.Range(); !ok || lo != 240 || hi != 252 {
		t.Errorf("range %d..%d", lo, hi)
	}
	tr.Observe(250)
	if g := tr.Gaps(); g != 0 {
		t.Errorf("gaps %d after 250, want 0", g)
	}
}

// Serials that fall out of the window unseen are counted for good; one
// that arrives later still is counted late and leaves the gaps.
func TestAuditSerialTrackerWindow(t *testing.T) {
	var tr AuditSerialTracker
	const W = AuditSerialTrackerWindow
	tr.Observe(1)
	tr.Observe(3) // 2 missing
	for s := uint64(4); s < 3*W; s++ {
		if s != 1000 && s != 2*W {
			tr.Observe(s)
		}
	}
	if g := tr.Gaps(); g != 3 {
		t.Errorf("gaps %d, want 3", g)
	}
	tr.Observe(1000) // far behind: late
	if g, l := tr.Gaps(), tr.Late(); g != 2 || l != 1 {
		t.Errorf("gaps %d late %d, want 2 and 1", g, l)
	}
	tr.Observe(2 * W) // within the window: simply seen
	if g, l := tr.Gaps(), tr.Late(); g != 1 || l != 1 {
		t.Errorf("gaps %d late %d, want 1 and 1", g, l)
	}
	// A jump much larger than the window.
	tr.Observe(10 * W)
	if g := tr.Gaps(); g != 1+(10*W-3*W) {
		t.Errorf("gaps %d after a jump, want %d", g, 1+(10*W-3*W))
	}
	// Below the counted range and the window: late, no new gaps.
	before := tr.Gaps()
	tr.Observe(0)
	if tr.Gaps() != before {
		t.Errorf("gaps changed from %d to %d", before, tr.Gaps())
	}
}

func TestAuditSerialTrackerWrap(t *testing.T) {
	var tr AuditSerialTracker
	for _, s := range []uint64{0xfffffffd, 0xffffffff, 0xfffffffe, 0, 1, 3} {
		tr.Observe(s)
	}
	if g := tr.Gaps(); g != 1 {
		t.Errorf("gaps %d, want 1 (serial 2)", g)
	}
	if lo, hi, _ := tr.Range(); lo != 0xfffffffd || hi != 3 {
		t.Errorf("range %#x..%#x", lo, hi)
	}
}

// Against a reference: a shuffled stream with local disorder and known
// losses gives exactly the lost count.
func TestAuditSerialTrackerRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 20 {
		start := uint64(r.Uint32())
		n := 50000 + r.IntN(100000)
		var serials []uint64
		lost := map[uint64]bool{}
		for i := range n {
			s := start + uint64(i)
			if r.IntN(100) == 0 && i != 0 && i != n-1 {
				lost[s] = true
				continue
			}
			for range 1 + r.IntN(3) {
				serials = append(serials, uint64(uint32(s)))
			}
		}
		// Local disorder: swap neighbours up to 200 apart.
		for i := range serials {
			j := i + r.IntN(200)
			if j < len(serials) && r.IntN(4) == 0 {
				serials[i], serials[j] = serials[j], serials[i]
			}
		}
		var tr AuditSerialTracker
		for _, s := range serials {
			tr.Observe(s)
		}
		if g := tr.Gaps(); g != uint64(len(lost)) || tr.Late() != 0 {
			t.Errorf("trial %d: gaps %d, want %d (late %d)", trial, g, len(lost), tr.Late())
		}
	}
}

func TestSeqWindowClearRange(t *testing.T) {
	w := newSeqWindow(256)
	for i := range uint64(256) {
		if i%3 == 0 {
			w.mark(1000 + i)
		}
	}
	for _, c := range []struct{ from, count uint64 }{{1000, 1}, {1001, 70}, {1100, 150}} {
		want := uint64(0)
		for n := c.from; n < c.from+c.count; n++ {
			if (n-1000)%3 == 0 {
				want++
			}
		}
		before := w.set
		got := w.clearRange(c.from, c.count)
		if got != want {
			t.Errorf("clearRange(%d, %d) = %d, want %d", c.from, c.count, got, want)
		}
		w.set = before - got
	}
}

// A boundary (the next file of a rotated set) excuses the serials between
// the files, also when the files' records interleave in serial order at
// the cut and when the missing part is larger than the window; gaps inside
// a file are still counted.
func TestAuditSerialTrackerBoundary(t *testing.T) {
	var tr AuditSerialTracker
	for s := uint64(100); s <= 200; s++ {
		if s != 150 {
			tr.Observe(s)
		}
	}
	tr.Observe(202) // arrived before 201, in the same file
	tr.Boundary()
	tr.Observe(201) // the next file starts with a late one
	for s := uint64(300); s <= 310; s++ {
		tr.Observe(s)
	}
	if g := tr.Gaps(); g != 1 {
		t.Errorf("gaps %d, want 1 (serial 150)", g)
	}
	tr.Boundary()
	far := uint64(310 + 3*AuditSerialTrackerWindow)
	for s := far; s < far+10; s++ {
		if s != far+5 {
			tr.Observe(s)
		}
	}
	if g := tr.Gaps(); g != 2 {
		t.Errorf("gaps %d, want 2 (150 and far+5)", g)
	}
}

// GapRanges says where the serials are missing, with the times of the
// events around each run.
func TestAuditSerialTrackerGapRanges(t *testing.T) {
	var tr AuditSerialTracker
	for s := uint64(10); s <= 30; s++ {
		if (s >= 13 && s <= 15) || s == 20 {
			continue
		}
		tr.ObserveAt(s, int64(s)*1000)
	}
	r, n := tr.GapRanges()
	want := []GapRange{{First: 13, Last: 15, After: 12000, Until: 16000}, {First: 20, Last: 20, After: 19000, Until: 21000}}
	if n != 2 || len(r) != 2 || r[0] != want[0] || r[1] != want[1] {
		t.Errorf("ranges %+v (%d), want %+v", r, n, want)
	}
	// Runs that left the window are kept, in order.
	for s := uint64(31); s < 31+2*AuditSerialTrackerWindow; s++ {
		if s != 40 {
			tr.ObserveAt(s, 1)
		}
	}
	r, n = tr.GapRanges()
	if n != 3 || r[2].First != 40 || r[2].Last != 40 || tr.Gaps() != 5 {
		t.Errorf("ranges %+v (%d), gaps %d", r, n, tr.Gaps())
	}
}

func TestKernelNumbered(t *testing.T) {
	for typ, want := range map[uint16]bool{1300: true, 1112: true, 1200: false, 1201: false, 1299: false, 1400: true} {
		if KernelNumbered(typ) != want {
			t.Errorf("KernelNumbered(%d) = %v", typ, !want)
		}
	}
}

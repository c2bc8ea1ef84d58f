package replay

import "math/bits"

// seqWindow counts the numbers never seen in the range [lo, hi] of a
// sequence that may arrive out of order, with bounded memory.
//
// Sequence numbers are 32-bit counters that wrap; each one is unwrapped
// onto a 64-bit line by taking the value nearest to the highest seen so
// far. A ring bitmap remembers which of the last `size` numbers (ending at
// hi) were seen. A number leaving the window at its bottom without having
// been seen is counted as missing for good. A number arriving below the
// window is late: it was counted missing when it left the window, so the
// missing count is decremented (a late duplicate thus hides one real gap;
// duplicates that far behind are not expected). A number below lo but
// within the window moves lo down (early out-of-order arrivals at the start
// are normal), making the numbers between it and the old lo part of the
// counted range.
type seqWindow struct {
	started bool
	lo, hi  uint64   // lowest and highest number seen (unwrapped)
	words   []uint64 // ring bitmap of size bits: bit n%size for number n
	size    uint64   // a power of two, multiple of 64
	set     uint64   // bits set in the window
	missing uint64   // numbers that left the window unseen, minus late arrivals
	late    uint64   // arrivals older than the window
	seen    uint64   // Observe calls

	// excuse: a boundary was passed (see boundary): the numbers between
	// the highest seen and the next higher one are not missing.
	excuse bool
	// times, when not nil, holds per slot the time given with the number
	// seen there (see observeAt), and ranges the gaps that left the
	// window (at most maxGapRanges; rangeCount counts them all).
	times      []int64
	ranges     []GapRange
	rangeCount int
	// lastSet and lastSetT: the highest number seen among those that left
	// the window, and its time (the time before a run that starts at the
	// window's bottom).
	lastSet  uint64
	lastSetT int64
}

// GapRange is a run of consecutive numbers never seen: First to Last, and
// the time (ms since the epoch, 0 when unknown) of the number seen just
// before First and just after Last.
type GapRange struct {
	First, Last  uint32
	After, Until int64
}

// maxGapRanges bounds the gap ranges a tracker keeps.
const maxGapRanges = 100

func newSeqWindow(size uint64) *seqWindow {
	return &seqWindow{size: size, words: make([]uint64, size/64)}
}

func (w *seqWindow) bit(n uint64) (word *uint64, mask uint64) {
	p := n % w.size
	return &w.words[p/64], 1 << (p % 64)
}

// unwrap maps a 32-bit counter value onto the 64-bit line next to hi.
func (w *seqWindow) unwrap(v uint32) uint64 {
	if !w.started {
		// Start high enough that unwrapping below the first value cannot
		// underflow.
		return 1<<32 + uint64(v)
	}
	d := int64(int32(v - uint32(w.hi)))
	return uint64(int64(w.hi) + d)
}

// windowLow is the lowest number the window holds.
func (w *seqWindow) windowLow() uint64 {
	if w.hi+1 >= w.size {
		return w.hi + 1 - w.size
	}
	return 0
}

// boundary says that the numbers not seen between the highest one so far
// and the next higher one are not lost: the input was cut there (the end
// of one log file of a set and the start of the next).
func (w *seqWindow) boundary() {
	if w.started {
		w.excuse = true
	}
}

// observeAt is observe with the time of the number's event.
func (w *seqWindow) observeAt(v uint32, t int64) {
	n := w.observe(v)
	if w.times != nil && n >= w.windowLow() {
		w.times[n%w.size] = t
	}
}

func (w *seqWindow) observe(v uint32) uint64 {
	n := w.unwrap(v)
	w.seen++
	if !w.started {
		w.started = true
		w.lo, w.hi = n, n
		w.mark(n)
		return n
	}
	switch {
	case n > w.hi && w.excuse:
		w.excuse = false
		old := w.hi
		if n-old-1 >= w.size {
			// Retire the window as usual, then start again at n: nothing
			// below it is counted.
			w.advance(old + w.size)
			clear(w.words)
			w.set = 0
			w.hi, w.lo = n, n
		} else {
			w.advance(n)
			w.setRange(old+1, n-old-1)
		}
		w.mark(n)
	case n > w.hi:
		w.advance(n)
		w.mark(n)
	case n < w.windowLow():
		w.late++
		if n >= w.lo && w.missing > 0 {
			w.missing--
		}
	default:
		if n < w.lo {
			w.lo = n
		}
		w.mark(n)
	}
	return n
}

// setRange marks count numbers from from as seen (count below size, all in
// the window).
func (w *seqWindow) setRange(from, count uint64) {
	for i := uint64(0); i < count; i++ {
		w.mark(from + i)
	}
}

// isSet reports whether number n (in the window) was seen.
func (w *seqWindow) isSet(n uint64) bool {
	word, mask := w.bit(n)
	return *word&mask != 0
}

// timeOf returns the time kept for number n when it is in the window and
// was seen, else 0.
func (w *seqWindow) timeOf(n uint64) int64 {
	if w.times == nil || n < w.windowLow() || n > w.hi || !w.isSet(n) {
		return 0
	}
	return w.times[n%w.size]
}

// noteRanges records the runs of unseen numbers among count numbers from
// from (all in the window, before their bits are cleared).
func (w *seqWindow) noteRanges(from, count uint64) {
	if w.times == nil {
		return
	}
	end := from + count
	for n := from; n < end; {
		if w.isSet(n) {
			w.lastSet, w.lastSetT = n, w.times[n%w.size]
			n++
			continue
		}
		first := n
		for n < end && !w.isSet(n) {
			n++
		}
		after := w.timeOf(first - 1)
		if after == 0 && w.lastSet == first-1 {
			after = w.lastSetT
		}
		w.addRange(first, n-1, after, w.timeOf(n))
	}
}

// addRange adds a run of unseen numbers, or extends the last one when it
// continues it (numbers leave the window a few at a time).
func (w *seqWindow) addRange(first, last uint64, after, until int64) {
	if k := len(w.ranges); k > 0 && uint64(w.ranges[k-1].Last)+1 == uint64(uint32(first)) && w.ranges[k-1].Until == 0 {
		w.ranges[k-1].Last, w.ranges[k-1].Until = uint32(last), until
		return
	}
	w.rangeCount++
	if len(w.ranges) < maxGapRanges {
		w.ranges = append(w.ranges, GapRange{First: uint32(first), Last: uint32(last), After: after, Until: until})
	}
}

func (w *seqWindow) mark(n uint64) {
	word, mask := w.bit(n)
	if *word&mask == 0 {
		*word |= mask
		w.set++
	}
}

// advance moves hi up to n, retiring the numbers that leave the window.
func (w *seqWindow) advance(n uint64) {
	oldLow := w.windowLow()
	from := max(oldLow, w.lo) // first counted number in the window
	w.hi = n
	newLow := w.windowLow()
	if newLow <= from {
		return // nothing counted leaves
	}
	// Counted numbers [from, newLow) leave the window (some may never
	// have been in it if the jump is larger than the window).
	inWindow := min(newLow, oldLow+w.size) // numbers below this were in the old window
	leaving := inWindow - from
	if leaving >= w.size {
		w.noteRanges(from, w.size)
		w.missing += leaving - w.set
		clear(w.words)
		w.set = 0
	} else {
		w.noteRanges(from, leaving)
		setLeaving := w.clearRange(from, leaving)
		w.missing += leaving - setLeaving
		w.set -= setLeaving
	}
	if newLow > inWindow {
		w.addRange(inWindow, newLow-1, 0, 0) // never in any window, never seen
	}
	w.missing += newLow - inWindow
}

// gapRanges returns the gap ranges that left the window, then those still
// in it, at most maxGapRanges, and how many there are in all.
func (w *seqWindow) gapRanges() ([]GapRange, int) {
	if !w.started {
		return nil, 0
	}
	saved, savedN, savedSet, savedSetT := w.ranges, w.rangeCount, w.lastSet, w.lastSetT
	w.ranges = append([]GapRange(nil), saved...)
	from := max(w.windowLow(), w.lo)
	w.noteRanges(from, w.hi-from+1)
	r, n := w.ranges, w.rangeCount
	w.ranges, w.rangeCount, w.lastSet, w.lastSetT = saved, savedN, savedSet, savedSetT
	return r, n
}

// clearRange clears the bits of the count numbers starting at from (count
// below size) and returns how many were set.
func (w *seqWindow) clearRange(from, count uint64) uint64 {
	var n uint64
	p := from % w.size
	for count > 0 {
		word := &w.words[p/64]
		off := p % 64
		k := min(64-off, count)
		var mask uint64
		if k == 64 {
			mask = ^uint64(0)
		} else {
			mask = (1<<k - 1) << off
		}
		n += uint64(bits.OnesCount64(*word & mask))
		*word &^= mask
		count -= k
		p = (p + k) % w.size
	}
	return n
}

// gaps returns the numbers in [lo, hi] never seen.
func (w *seqWindow) gaps() uint64 {
	if !w.started {
		return 0
	}
	from := max(w.windowLow(), w.lo)
	return w.missing + (w.hi - from + 1) - w.set
}

// ProcSeqTrackerWindow is the number of sequence numbers per CPU that
// ProcSeqTracker remembers; events are delivered in order per CPU, so a
// small window is plenty.
const ProcSeqTrackerWindow = 1 << 12

// ProcSeqTracker counts proc connector events lost in transit. The kernel
// numbers events per CPU (cn_msg.seq, with proc_event.cpu): within one CPU
// the numbers are consecutive, so every number never seen between the
// first and the last one of a CPU is a lost event. The first event of each
// CPU sets its base; the 32-bit counter may wrap. Slightly out-of-order
// arrival is tolerated (see AuditSerialTracker for the method).
//
// With an event filter (proc_input, Linux 6.6+) the filtered-out events
// still consume numbers, so gaps then overstate the loss.
//
// The zero value is ready to use. It is not safe for concurrent use.
type ProcSeqTracker struct {
	cpus map[uint32]*seqWindow
}

// Observe records event number seq from cpu.
func (t *ProcSeqTracker) Observe(cpu uint32, seq uint32) {
	if t.cpus == nil {
		t.cpus = make(map[uint32]*seqWindow)
	}
	w := t.cpus[cpu]
	if w == nil {
		w = newSeqWindow(ProcSeqTrackerWindow)
		t.cpus[cpu] = w
	}
	w.observe(seq)
}

// ObserveEvent records ev unless it is outside the per-CPU numbering: an
// acknowledgement (ProcNone) with cpu -1, as older kernels send it with the
// request's own seq.
func (t *ProcSeqTracker) ObserveEvent(ev ProcEvent) {
	if ev.What == ProcWhatNone && ev.CPU == ^uint32(0) {
		return
	}
	t.Observe(ev.CPU, ev.Seq)
}

// Gaps returns the number of sequence numbers never seen, over all CPUs.
func (t *ProcSeqTracker) Gaps() uint64 {
	var n uint64
	for _, w := range t.cpus {
		n += w.gaps()
	}
	return n
}

// Late returns the number of events that arrived after their CPU's window
// had moved past them (counted as seen, not as gaps).
func (t *ProcSeqTracker) Late() uint64 {
	var n uint64
	for _, w := range t.cpus {
		n += w.late
	}
	return n
}

// CPUs returns the number of CPUs seen.
func (t *ProcSeqTracker) CPUs() int { return len(t.cpus) }

// AuditSerialTrackerWindow is the number of serials AuditSerialTracker
// remembers.
const AuditSerialTrackerWindow = 1 << 16

// AuditSerialTracker counts audit events lost in transit from gaps in their
// serial numbers. The kernel numbers events with one global 32-bit counter,
// so consecutive events have consecutive serials, but they do not arrive in
// order: the serial is taken at the first record, records are queued at
// syscall exit, and a vfork parent's event arrives after its child's. The
// tracker therefore does not count jumps as they come. It counts, at the
// time Gaps is called, the serials between the lowest and the highest seen
// that were never seen.
//
// Memory is bounded by a sliding bitmap of the last AuditSerialTrackerWindow
// serials (8 KiB): a serial that falls out of the window unseen is counted
// as a gap for good; if it then arrives after all, it is counted as seen
// late (Late) and removed from the gaps. A serial below the first one seen
// but within the window extends the counted range downwards.
//
// Observe every record, not just one per event: records of one event share
// their serial. The 32-bit counter may wrap; serials are unwrapped relative
// to the highest one seen.
//
// The zero value is ready to use. It is not safe for concurrent use.
type AuditSerialTracker struct {
	w *seqWindow
}

// Observe records a serial. Only its low 32 bits count: the kernel's serial
// is a u32.
func (t *AuditSerialTracker) Observe(serial uint64) { t.ObserveAt(serial, 0) }

// ObserveAt records a serial with the time of its event (ms since the
// epoch), which GapRanges gives for the serials around a gap.
func (t *AuditSerialTracker) ObserveAt(serial uint64, timeMS int64) {
	if t.w == nil {
		t.w = newSeqWindow(AuditSerialTrackerWindow)
		t.w.times = make([]int64, AuditSerialTrackerWindow)
	}
	t.w.observeAt(uint32(serial), timeMS)
}

// Boundary says that the input was cut here: the next log file of a set
// starts. Serials not seen between the highest one so far and the next
// higher one are not counted as gaps: they were in no file given, which
// is no loss of the kernel's.
func (t *AuditSerialTracker) Boundary() {
	if t.w != nil {
		t.w.boundary()
	}
}

// GapRanges returns where the serials never seen are: at most 100 runs,
// in the order they were found, and how many runs there are in all.
func (t *AuditSerialTracker) GapRanges() ([]GapRange, int) {
	if t.w == nil {
		return nil, 0
	}
	return t.w.gapRanges()
}

// KernelNumbered reports whether records of an audit type carry a serial
// of the kernel's counter. Those of the audit daemon itself (DAEMON_START,
// DAEMON_END, DAEMON_ROTATE..., 1200-1299) are written into its log with
// the daemon's own numbers: they neither open nor close a serial gap.
func KernelNumbered(typ uint16) bool { return typ < 1200 || typ > 1299 }

// Gaps returns the number of serials between the lowest and the highest
// seen that were never seen.
func (t *AuditSerialTracker) Gaps() uint64 {
	if t.w == nil {
		return 0
	}
	return t.w.gaps()
}

// Late returns the number of serials that arrived after the window had
// moved past them.
func (t *AuditSerialTracker) Late() uint64 {
	if t.w == nil {
		return 0
	}
	return t.w.late
}

// Range returns the lowest and highest serial seen (as 32-bit values) and
// whether any was seen.
func (t *AuditSerialTracker) Range() (lo, hi uint32, ok bool) {
	if t.w == nil || !t.w.started {
		return 0, 0, false
	}
	return uint32(t.w.lo), uint32(t.w.hi), true
}

package analyze

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// Tests of the analyzer's performance properties (issue 7): reports that
// do not depend on the number of workers, a streaming timeline that gives
// the order a full sort gives, and memory that grows with the number of
// processes, not of events.

// reports analyzes the capture file at path with the given number of
// workers (CTRACE_ANALYZE_WORKERS) and returns its JSON and text reports.
func reports(t testing.TB, path string, workers int) string {
	t.Helper()
	// Consumed batches are poisoned: anything still pointing into one
	// shows in the reports.
	a, err := analyzeFile(path, readOptions{workers: workers, poison: true})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := a.WriteJSON(&b, 0); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteText(&b, 0); err != nil {
		t.Fatal(err)
	}
	for _, w := range a.Warnings() {
		b.WriteString("warning: " + w + "\n")
	}
	return b.String()
}

// storm is a synthetic recording of a busy host: a shell forks workers that
// exec, open files (for writing and reading), start threads, vfork, and
// exit; pids are reused; audit records arrive up to lateMS after the proc
// connector's events, as through the kernel's audit queue; user messages
// and undecodable records are mixed in. Deterministic for a seed.
func storm(t testing.TB, seed int64, children int, auditAlone bool) *tcap {
	c := newCap(t)
	rng := rand.New(rand.NewSource(seed))
	if auditAlone {
		c.auditOnly()
	}
	c.snap(-9000, format.SnapshotProcess{PID: 1, Comm: "init", Exe: "/sbin/init", Argv: []string{"/sbin/init"}, Cwd: "/"})
	c.snap(-6000, format.SnapshotProcess{PID: 100, PPID: 1, Comm: "bash", Exe: "/bin/bash", Argv: []string{"bash"}, Cwd: "/root"})
	c.snap(-5999, format.SnapshotProcess{PID: 100, TID: 101, PPID: 1, Comm: "bash"})
	c.note(format.Note{Kind: "command_start", PID: 100})

	// Records are produced in event order with the time they arrive at,
	// then written in arrival order.
	var pending []arrival
	n := 0
	add := func(arrive float64, do func()) {
		pending = append(pending, arrival{arrive, n, do})
		n++
	}
	later := func(arrive float64, do func()) { // a proc connector record
		if !auditAlone {
			add(arrive, do)
		}
	}
	serial := 1000
	ms := 10.0
	nextPid := 2000
	for i := 0; i < children; i++ {
		ms += 0.2 + rng.Float64()
		pid := nextPid
		nextPid++
		if nextPid > 2000+children/3 {
			nextPid = 2000 // pids wrap: reused by later children
		}
		lateMS := rng.Float64() * 30
		t0 := ms
		s := serial
		serial += 20
		vfork := rng.Intn(5) == 0
		a := func(msAt float64, do func(at int64)) { // audit records
			at := int64(msAt)
			add(msAt+lateMS, func() { do(at) })
		}
		// The clone record (a vfork parent's comes after its child's exec).
		cloneAt := t0
		if vfork {
			a(t0+3, func(at int64) {
				c.event(int64(cloneAt), s+10, call{nr: nrVfork, pid: 100, ppid: 1, exit: int64(pid), comm: "bash", exe: "/bin/bash"}.rec())
			})
		} else {
			a(t0, func(at int64) { c.auditClone(at, s, 100, 1, pid, cloneFork) })
		}
		later(t0+0.1, func() { c.fork(t0+0.1, 100, 100, pid, pid) })
		exe := []string{"/bin/true", "/usr/bin/worker", "/bin/sh"}[rng.Intn(3)]
		a(t0+0.5, func(at int64) {
			c.auditExec(at, s+1, pid, 100, exe, "/root", filepath.Base(exe), "-n", strconv.Itoa(i), "arg with space")
		})
		later(t0+0.7, func() { c.exec(t0+0.7, pid) })
		nOpens := rng.Intn(4)
		for k := 0; k < nOpens; k++ {
			fd := int64(3 + k)
			flags := []uint64{0, 0o1101, 0o2101, 0o1}[rng.Intn(4)]
			name := fmt.Sprintf("/tmp/out-%d-%d", i%50, k)
			nametype := "NORMAL"
			if flags&0o100 != 0 {
				nametype = "CREATE"
			}
			at := t0 + 1 + float64(k)*0.3
			a(at, func(at int64) {
				c.event(at, s+2+k, call{nr: nrOpenat, pid: pid, ppid: 100, exit: fd, a: [4]uint64{atCWD, 0, flags, 0o644}, items: 2, comm: filepath.Base(exe), exe: exe}.rec(),
					cwdRec("/root"), pathRec(0, "/tmp", 3, "041777", "PARENT"), pathRec(1, name, 5000+i%50, "0100644", nametype),
					proctitleRec(filepath.Base(exe), "-n"))
			})
		}
		if rng.Intn(4) == 0 { // a thread
			tid := pid + 100000
			later(t0+2, func() { c.fork(t0+2, pid, pid, tid, pid) })
			later(t0+2.5, func() { c.exit(t0+2.5, tid, pid, 0) })
		}
		if rng.Intn(10) == 0 { // a user message and a record that does not decode
			a(t0+2.7, func(at int64) {
				c.event(at, s+8, rec{"USER_CMD", "pid=100 uid=0 auid=0 ses=1 msg='cwd=\"/root\" cmd=6C73 res=success'"})
				c.add(float64(at), format.SourceAudit, auditDatagram(1300, "audit(garbage"))
			})
		}
		code := rng.Intn(3)
		end := t0 + 3 + rng.Float64()*5
		a(end, func(at int64) { c.auditExitGroup(at, s+9, pid, 100, code) })
		later(end+0.2, func() { c.exit(end+0.2, pid, pid, uint32(code)<<8) })
		// Keep the pending list short: emit what has arrived.
		if len(pending) > 256 {
			pending = flushArrived(pending, ms)
		}
	}
	flushArrived(pending, 1e18)
	c.note(format.Note{Kind: "command_exit", PID: 100, ExitCode: new(int)})
	if auditAlone {
		// An import: no snapshot, no receive times.
		var recs []format.Record
		for _, r := range c.recs {
			if r.Source == format.SourceAudit {
				r.Mono = 0
				recs = append(recs, r)
			}
		}
		c.recs = recs
		c.hdr.Clock = format.ClockPair{}
	}
	return c
}

// arrival is a record (or several) to add to a capture when it arrives.
type arrival struct {
	at float64
	n  int // creation order, for equal times
	do func()
}

// flushArrived adds, in arrival order, the pending records that arrived
// before now, and returns the others.
func flushArrived(pending []arrival, now float64) []arrival {
	var ready, rest []arrival
	for _, p := range pending {
		if p.at <= now {
			ready = append(ready, p)
		} else {
			rest = append(rest, p)
		}
	}
	slices.SortFunc(ready, func(a, b arrival) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.n, b.n)
	})
	for _, p := range ready {
		p.do()
	}
	return rest
}

// writeCapture writes c to a file with small segments (many of them, to
// exercise parallel decompression), optionally without its trailer.
func writeCapture(t testing.TB, c *tcap, segBytes int64, close bool) string {
	t.Helper()
	var buf bytes.Buffer
	id := [format.FileIDSize]byte{8, 7, 6, 5, 4, 3, 2, 1}
	w, err := format.NewWriter(&buf, c.hdr, format.WriterOptions{FileID: &id, SegmentBytes: segBytes})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.recs {
		if err := w.WriteRecord(r.Source, r.Flags, r.Mono, r.Data); err != nil {
			t.Fatal(err)
		}
	}
	if close {
		if err := w.Close(c.trailer); err != nil {
			t.Fatal(err)
		}
	} else if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "storm.ctr")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The reports do not depend on the number of workers decompressing and
// parsing: byte-identical to a single-threaded run, on the recorded test
// captures and on a large synthetic one, whole, cut short and damaged.
func TestPerfWorkersSameReports(t *testing.T) {
	paths, err := filepath.Glob("../testdata/captures/*.ctr")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no test captures (%v)", err)
	}
	children := 6000
	if testing.Short() {
		children = 1000
	}
	c := storm(t, 1, children, false)
	big := writeCapture(t, c, 256<<10, true)
	paths = append(paths, big, writeCapture(t, c, 256<<10, false))
	data, err := os.ReadFile(big)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.ctr")
	if err := os.WriteFile(cut, data[:len(data)*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(data)
	for i := len(bad) / 3; i < len(bad)/3+64; i++ {
		bad[i] ^= 0x5a
	}
	damaged := filepath.Join(t.TempDir(), "damaged.ctr")
	if err := os.WriteFile(damaged, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	paths = append(paths, cut, damaged)

	for _, p := range paths {
		want := reports(t, p, 1)
		for _, w := range []int{2, 3, 8} {
			if got := reports(t, p, w); got != want {
				t.Fatalf("%s: %d workers give another report than one:\n%s", p, w, firstDiff(got, want))
			}
		}
	}
	if testing.Short() {
		return
	}
	// And the synthetic capture really is what it should be: every child
	// is in the tree.
	m := c.model()
	if n := len(m.Processes); n < children {
		t.Fatalf("%d processes for %d children", n, children)
	}
}

// firstDiff shows where two reports part.
func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(la) && i < len(lb); i++ {
		if la[i] != lb[i] {
			lo := max(i-3, 0)
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s\n(context: %q)", i+1, la[i], lb[i], la[lo:i])
		}
	}
	return fmt.Sprintf("%d lines vs %d", len(la), len(lb))
}

// The streaming timeline releases items in the order a sort of the whole
// capture gives, as long as records are no later than the window: the
// model is the one of a timeline held entirely in memory.
func TestPerfStreamingMatchesFullSort(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		for _, auditAlone := range []bool{false, true} {
			c := storm(t, seed, 3000, auditAlone)
			stream := jsonOf(t, c.model())
			whole := jsonOf(t, mustBuildWith(t, c.source(), wholeCapture))
			if stream != whole {
				t.Fatalf("seed %d, audit alone %v: the streaming timeline gives another model:\n%s", seed, auditAlone, firstDiff(stream, whole))
			}
		}
	}
	// A window so short that records arrive after their place: the
	// result may differ, but every process is still there.
	c := storm(t, 4, 3000, false)
	tl := readTimeline(c.source(), readOptions{workers: 2, reorderWindow: 1e6})
	n := 0
	for it := tl.next(); it != nil; it = tl.next() {
		n++
	}
	tl.close()
	if tl.stats.late == 0 || n == 0 {
		t.Fatalf("late %d released %d: the short window should have seen late records", tl.stats.late, n)
	}
	if m := mustBuildWith(t, c.source(), readOptions{workers: 2, reorderWindow: 1e6}); len(m.Processes) < 3000 {
		t.Fatalf("%d processes", len(m.Processes))
	}
}

// ---- memory ----

// genSource generates a capture record by record, keeping nothing: procs
// processes (forked at the start, children of a snapshot shell) then steps
// events, one per millisecond, round robin over the processes: an openat
// of a file for reading and its close (no file operation: they only move
// the fd table), a failed open, and a proc connector uid change (ignored
// by the model). With exitEvery > 0, the processes are short-lived
// instead: each exits after exitEvery of its events and a new one (a new
// pid) takes its place, so that the number of live processes stays procs.
type genSource struct {
	hdr       format.Header
	procs     int
	steps     int
	exitEvery int
	noProc    bool // no proc connector records (the header still says it was recorded)

	step   int
	serial int
	seq    uint32
	queue  []format.Record
	pids   []int
	counts []int
	recs   []slotRecs
	next   int
}

func newGenSource(procs, steps, exitEvery int) *genSource {
	g := &genSource{procs: procs, steps: steps, exitEvery: exitEvery, serial: 1, next: 10000}
	g.hdr = newCap(nil).hdr
	return g
}

func (g *genSource) Header() *format.Header { return &g.hdr }

func (g *genSource) at(ms float64) int64 { return monoBase + int64(ms*1e6) }

func (g *genSource) proc(ms float64, what uint32, words ...uint32) {
	if g.noProc {
		return
	}
	g.seq++
	g.queue = append(g.queue, format.Record{Mono: g.at(ms) + 50e3, Source: format.SourceProc,
		Data: procDatagram(what, 0, g.seq, g.at(ms), words...)})
}

// audit adds an audit event: records of the given types and bodies.
func (g *genSource) audit(ms float64, recs ...rec) {
	g.serial++
	for _, r := range append(recs, rec{"EOE", ""}) {
		typ, _ := replay.TypeFromName(r.typ)
		b := make([]byte, replay.NetlinkHeaderSize, replay.NetlinkHeaderSize+40+len(r.body))
		binary.LittleEndian.PutUint16(b[4:], typ)
		b = append(b, "audit("...)
		b = strconv.AppendInt(b, base/1e9+int64(ms)/1000, 10)
		b = append(b, '.', byte('0'+int64(ms)/100%10), byte('0'+int64(ms)/10%10), byte('0'+int64(ms)%10), ':')
		b = strconv.AppendInt(b, int64(g.serial), 10)
		b = append(b, "): "...)
		b = append(b, r.body...)
		binary.LittleEndian.PutUint32(b[0:], uint32(len(b)))
		g.queue = append(g.queue, format.Record{Mono: g.at(ms) + 100e3, Source: format.SourceAudit, Data: b})
	}
}

// slotRecs are the records of one process's steps, made once per process.
type slotRecs struct {
	open, close, failed []rec
	exit                rec
}

func (g *genSource) spawn(ms float64, slot int) {
	pid := g.next
	g.next++
	g.pids[slot], g.counts[slot] = pid, 0
	g.proc(ms, replay.ProcWhatFork, 100, 100, uint32(pid), uint32(pid))
	g.audit(ms, call{nr: nrExecve, pid: pid, ppid: 100, items: 1, comm: "reader", exe: "/usr/bin/reader"}.rec(),
		execveRec("reader", strconv.Itoa(slot)), cwdRec("/data"), pathRec(0, "/usr/bin/reader", 77, "0100755", "NORMAL"))
	g.proc(ms+0.1, replay.ProcWhatExec, uint32(pid), uint32(pid))
	title := proctitleRec("reader", strconv.Itoa(slot))
	g.recs[slot] = slotRecs{
		open: []rec{call{nr: nrOpenat, pid: pid, ppid: 100, exit: 3, a: [4]uint64{atCWD, 0, 0, 0}, items: 1, comm: "reader", exe: "/usr/bin/reader"}.rec(),
			cwdRec("/data"), pathRec(0, "input.txt", 900+slot, "0100644", "NORMAL"), title},
		close: []rec{call{nr: nrClose, pid: pid, ppid: 100, exit: 0, a: [4]uint64{3}, comm: "reader", exe: "/usr/bin/reader"}.rec(), title},
		failed: []rec{call{nr: nrOpenat, pid: pid, ppid: 100, exit: -2, failed: true, a: [4]uint64{atCWD, 0, 0o1101, 0o644}, items: 1, comm: "reader", exe: "/usr/bin/reader"}.rec(),
			cwdRec("/data"), pathRec(0, "missing/x", 0, "", "UNKNOWN")},
		exit: call{nr: nrExitGroup, pid: pid, ppid: 100, noResult: true}.rec(),
	}
}

func (g *genSource) Next() (format.Record, error) {
	for len(g.queue) == 0 {
		if g.step >= g.steps {
			return format.Record{}, io.EOF
		}
		g.makeStep()
		g.step++
	}
	r := g.queue[0]
	g.queue = g.queue[1:]
	return r, nil
}

func (g *genSource) makeStep() {
	ms := float64(g.step)
	if g.step == 0 {
		b, _ := json.Marshal(format.SnapshotProcess{PID: 100, PPID: 1, Comm: "sh", Exe: "/bin/sh", StartBoot: monoBase - 1e9})
		g.queue = append(g.queue, format.Record{Mono: g.at(0), Source: format.SourceSnapshot, Data: b})
		g.pids, g.counts, g.recs = make([]int, g.procs), make([]int, g.procs), make([]slotRecs, g.procs)
		for i := range g.procs {
			g.spawn(ms, i)
		}
		return
	}
	slot := g.step % g.procs
	pid := g.pids[slot]
	r := &g.recs[slot]
	g.audit(ms, r.open...)
	g.audit(ms+0.1, r.close...)
	g.audit(ms+0.2, r.failed...)
	g.proc(ms+0.3, replay.ProcWhatUID, uint32(pid), uint32(pid), 0, 0)
	g.counts[slot]++
	if g.exitEvery > 0 && g.counts[slot] >= g.exitEvery {
		g.audit(ms+0.5, r.exit)
		g.proc(ms+0.6, replay.ProcWhatExit, uint32(pid), uint32(pid), 0, 17, 100, 100)
		g.spawn(ms+0.7, slot)
	}
}

// peakHeap builds the model of src and returns the largest live heap
// (what the garbage collector found in use, /gc/heap/live:bytes) seen while
// it ran, above what was live before, and the model.
func peakHeap(t testing.TB, src RecordSource, workers int) (uint64, *Model) {
	t.Helper()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	runtime.GC()
	before := read()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	m, err := build(src, readOptions{workers: workers})
	runtime.GC() // what the model keeps counts too
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if v := read(); v > peak.Load() {
		peak.Store(v)
	}
	runtime.KeepAlive(m)
	return peak.Load() - min(before, peak.Load()), m
}

// Peak memory grows with the number of processes, not with the number of
// events: a capture ten times longer with the same number of live
// processes needs less than twice the memory, whether the processes live
// throughout or are replaced as they exit (completed processes keep no
// per-event data).
func TestPerfMemoryGrowsWithProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds captures of up to 2.6 million records")
	}
	old := debug.SetGCPercent(50) // more collections: more samples of the live heap
	defer debug.SetGCPercent(old)
	const procs = 300
	for _, tc := range []struct {
		name      string
		exitEvery int
	}{{"long-lived", 0}, {"short-lived", 20}} {
		short, long := 20000, 200000
		var peaks [2]uint64
		for i, steps := range []int{short, long} {
			p, m := peakHeap(t, newGenSource(procs, steps, tc.exitEvery), runtime.GOMAXPROCS(0))
			if len(m.Processes) < procs {
				t.Fatalf("%d processes", len(m.Processes))
			}
			if tc.exitEvery > 0 {
				// The report grows with the processes that lived.
				if want := procs + steps/tc.exitEvery; len(m.Processes) < want*9/10 {
					t.Fatalf("%d processes, want about %d", len(m.Processes), want)
				}
			}
			peaks[i] = p
		}
		ratio := float64(peaks[1]) / float64(peaks[0])
		t.Logf("%s: %d processes live: peak heap %.1f MB for %d steps, %.1f MB for %d steps: %.2fx",
			tc.name, procs, float64(peaks[0])/1e6, short, float64(peaks[1])/1e6, long, ratio)
		if tc.exitEvery == 0 && ratio >= 2 {
			t.Errorf("%s: ten times the events take %.2fx the memory (want < 2x)", tc.name, ratio)
		}
		if tc.exitEvery > 0 {
			// Ten times as many processes ended: the model's output grows with
			// them, but per event it must keep nothing: compare with what the
			// processes themselves need.
			perProc := float64(peaks[1]-min(peaks[0], peaks[1])) / float64((long-short)/tc.exitEvery)
			t.Logf("%s: %.0f bytes per process that ended", tc.name, perProc)
			if perProc > 4096 {
				t.Errorf("%s: %.0f bytes per ended process: per-event data is kept", tc.name, perProc)
			}
		}
	}
}

// A recording whose proc connector was unavailable has no proc records,
// although its header says it was recorded: the timeline waits procWait
// for one, then streams (and the model is the one of audit alone).
func TestPerfProcUnavailable(t *testing.T) {
	g := newGenSource(50, 60000, 0)
	g.noProc = true
	tl := readTimeline(g, readOptions{workers: 2})
	n := 0
	for it := tl.next(); it != nil; it = tl.next() {
		n++
	}
	tl.close()
	if tl.hasProc || n < 3*60000 {
		t.Fatalf("hasProc %v, %d items", tl.hasProc, n)
	}
	if tl.stats.maxPending > n*2/3 {
		t.Fatalf("%d of %d items held at once: the timeline did not stream", tl.stats.maxPending, n)
	}
	g = newGenSource(50, 60000, 0)
	g.noProc = true
	stream := jsonOf(t, mustBuild(t, g))
	g = newGenSource(50, 60000, 0)
	g.noProc = true
	if whole := jsonOf(t, mustBuildWith(t, g, wholeCapture)); whole != stream {
		t.Fatalf("streaming gives another model:\n%s", firstDiff(stream, whole))
	}
}

// wholeCapture holds the whole capture in the timeline before releasing
// anything: the order of a full sort.
var wholeCapture = readOptions{workers: 2, reorderWindow: 1 << 62, maxPending: 1 << 40}

func mustBuildWith(t testing.TB, src RecordSource, o readOptions) *Model {
	t.Helper()
	m, err := build(src, o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustBuild(t testing.TB, src RecordSource) *Model {
	t.Helper()
	m, err := Build(src)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// ---- benchmarks ----

// BenchmarkPerfBuild measures the analyzer on the synthetic storm, with
// one worker and with GOMAXPROCS (MB/s of raw frames).
func BenchmarkPerfBuild(b *testing.B) {
	c := storm(b, 1, 20000, false)
	path := writeCapture(b, c, 8<<20, true)
	var frames int64
	for _, r := range c.recs {
		frames += int64(len(r.Data))
	}
	for _, w := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			b.SetBytes(frames)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r, err := format.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				r.SetConcurrency(w)
				sum := replay.NewSummarizer(r)
				if _, err := build(r, readOptions{workers: w, sum: sum}); err != nil {
					b.Fatal(err)
				}
				sum.Finish()
				r.Close()
			}
		})
	}
}

// BenchmarkPerfMemory reports the peak heap of the memory test's captures.
func BenchmarkPerfMemory(b *testing.B) {
	for _, steps := range []int{20000, 200000} {
		b.Run(fmt.Sprintf("steps=%d", steps), func(b *testing.B) {
			var peak uint64
			for i := 0; i < b.N; i++ {
				p, _ := peakHeap(b, newGenSource(300, steps, 0), runtime.GOMAXPROCS(0))
				peak = max(peak, p)
			}
			b.ReportMetric(float64(peak)/1e6, "peak-MB")
		})
	}
}

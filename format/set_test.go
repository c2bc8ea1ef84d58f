package format

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// partSpec describes one part of a test capture set.
type partSpec struct {
	set      string
	index    int
	start    time.Time
	recs     []testRec
	noClose  bool // no trailer (a recorder killed)
	enobufs  int64
	lostFrom uint32 // kernel lost counter at the part's start and end
	lostTo   uint32
	noSet    bool
}

// writePart writes a part as the rotating recorder does: the header with
// the set's id and the part's index and clock, small segments, the trailer
// with the part's own losses.
func writePart(t *testing.T, path string, p partSpec) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := Header{Kind: KindRecord, Hostname: "h", ByteOrder: "little", AuditMode: "unicast",
		Clock: ClockPair{RealtimeNS: p.start.UnixNano(), MonotonicNS: p.recs[0].mono}}
	if !p.noSet {
		h.Set = &SetInfo{ID: p.set, Index: p.index}
	}
	w, err := NewWriter(f, h, WriterOptions{SegmentBytes: 600})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.recs {
		if err := w.WriteRecord(r.src, 0, r.mono, []byte(r.data)); err != nil {
			t.Fatal(err)
		}
	}
	if p.noClose {
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		return
	}
	tr := Trailer{StopReason: "rotated", Loss: Loss{KernelLostBefore: p.lostFrom, KernelLostAfter: p.lostTo,
		ENOBUFS: map[string]int64{"audit": p.enobufs}}}
	if err := w.Close(tr); err != nil {
		t.Fatal(err)
	}
}

// setRecords are the records of part i of a test set: a snapshot record
// first (each part begins with one), then audit and proc records.
func setRecords(i, n int) []testRec {
	recs := []testRec{{SourceSnapshot, int64(i*1000 + 1), fmt.Sprintf("snapshot of part %d", i)}}
	for j := 0; j < n; j++ {
		recs = append(recs, testRec{Source(1 + j%2), int64(i*1000 + 2 + j), fmt.Sprintf("part %d record %d %s", i, j, strings.Repeat("x", j%50))})
	}
	return recs
}

// makeSet writes parts 1..n of set "s1" into dir, an hour apart.
func makeSet(t *testing.T, dir string, n int, t0 time.Time) []partSpec {
	t.Helper()
	var ps []partSpec
	for i := 1; i <= n; i++ {
		p := partSpec{set: "s1", index: i, start: t0.Add(time.Duration(i-1) * time.Hour), recs: setRecords(i, 40),
			enobufs: int64(i), lostFrom: uint32(10 * i), lostTo: uint32(10*i + 3)}
		writePart(t, filepath.Join(dir, fmt.Sprintf("capture-%06d.ctr", i)), p)
		ps = append(ps, p)
	}
	return ps
}

type setRead struct {
	recs []Record
	data []string
}

func readSet(t *testing.T, r *Reader) setRead {
	t.Helper()
	var out setRead
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out.recs = append(out.recs, rec)
		out.data = append(out.data, string(rec.Data))
	}
}

func TestOpenSetReadsPartsAsOne(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	ps := makeSet(t, dir, 4, t0)
	r, err := OpenSet([]string{dir}, Window{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := len(r.Parts()); got != 4 {
		t.Fatalf("parts %v", r.Parts())
	}
	got := readSet(t, r)
	// Every record of every part, in order, except the snapshots of the
	// parts after the first.
	var want []string
	for i, p := range ps {
		for _, rec := range p.recs {
			if rec.src == SourceSnapshot && i > 0 {
				continue
			}
			want = append(want, rec.data)
		}
	}
	if strings.Join(got.data, "\n") != strings.Join(want, "\n") {
		t.Fatalf("records:\n%s\nwant:\n%s", strings.Join(got.data, "\n"), strings.Join(want, "\n"))
	}
	// Segment indexes run on across the files, and each names the header
	// (with its clock) of the part the record came from.
	segs := r.Segments()
	last := -1
	for _, rec := range got.recs {
		if rec.Segment < last {
			t.Fatalf("segment index went back from %d to %d", last, rec.Segment)
		}
		last = rec.Segment
		if rec.Segment >= len(segs) || int(segs[rec.Segment].Index) != rec.Segment {
			t.Fatalf("record of segment %d: headers %d", rec.Segment, len(segs))
		}
		part := int(rec.Mono / 1000) // setRecords puts the part in the thousands
		if c := r.ClockFor(rec.Segment); c.RealtimeNS != 0 && c != segs[rec.Segment].Clock {
			t.Fatalf("ClockFor(%d) = %+v, want the segment's", rec.Segment, c)
		}
		_ = part
	}
	if len(segs) <= 4 {
		t.Fatalf("only %d segments: the test wants several per part", len(segs))
	}
	// The trailer adds up the parts' losses; the kernel counter runs from
	// the first part's start to the last part's end.
	tr := r.Trailer()
	if tr == nil {
		t.Fatal("no merged trailer")
	}
	if tr.Loss.ENOBUFS["audit"] != 1+2+3+4 || tr.Loss.KernelLostBefore != 10 || tr.Loss.KernelLostAfter != 43 {
		t.Errorf("merged losses %+v", tr.Loss)
	}
	if r.Truncated() || r.ProblemCount() != 0 {
		t.Errorf("truncated %v problems %v", r.Truncated(), r.Problems())
	}
	var size int64
	for _, p := range r.Parts() {
		st, _ := os.Stat(p)
		size += st.Size()
	}
	if r.Size() != size {
		t.Errorf("size %d, the files hold %d", r.Size(), size)
	}
}

func TestOpenSetOneFileIsOpen(t *testing.T) {
	dir := t.TempDir()
	makeSet(t, dir, 1, time.Now())
	r, err := OpenSet([]string{dir}, Window{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Parts() != nil {
		t.Errorf("one file read as a set: %v", r.Parts())
	}
	got := readSet(t, r)
	if len(got.recs) != 41 || got.recs[0].Source != SourceSnapshot {
		t.Errorf("%d records, first %v", len(got.recs), got.recs[0].Source)
	}
}

func TestOpenSetWindowPicksParts(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	makeSet(t, dir, 5, t0) // parts begin at 6:00, 7:00, 8:00, 9:00, 10:00
	at := func(h, m int) int64 {
		return t0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute).UnixNano()
	}
	for _, c := range []struct {
		name string
		win  Window
		want []int
	}{
		{"inside one", Window{Since: at(1, 10), Until: at(1, 50)}, []int{2}},
		{"across two", Window{Since: at(1, 30), Until: at(2, 30)}, []int{2, 3}},
		{"since only", Window{Since: at(3, 1)}, []int{4, 5}},
		{"until only", Window{Until: at(0, 30)}, []int{1}},
		{"after the last start", Window{Since: at(9, 0)}, []int{5}},
		// A record of part 3 may be stamped a little before 8:00.
		{"at a boundary", Window{Since: at(2, 0) - SetSlack/2, Until: at(2, 0) - SetSlack/2}, []int{2, 3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := OpenSet([]string{dir}, c.win)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var got []int
			parts := r.Parts()
			if parts == nil {
				parts = []string{r.Name()}
			}
			for _, p := range parts {
				var n int
				fmt.Sscanf(filepath.Base(p), "capture-%06d.ctr", &n)
				got = append(got, n)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("parts %v, want %v", got, c.want)
			}
			// The first part read gives the snapshot.
			recs := readSet(t, r).recs
			if len(recs) == 0 || recs[0].Source != SourceSnapshot {
				t.Errorf("the first record is not the first part's snapshot")
			}
		})
	}
	if _, err := OpenSet([]string{dir}, Window{Until: at(-1, 0)}); err == nil || !strings.Contains(err.Error(), "no capture holds records of the window") {
		t.Errorf("a window before the set: %v", err)
	}
}

func TestOpenSetMissingPart(t *testing.T) {
	dir := t.TempDir()
	makeSet(t, dir, 5, time.Now())
	os.Remove(filepath.Join(dir, "capture-000003.ctr"))
	os.Remove(filepath.Join(dir, "capture-000004.ctr"))
	// Retention removes the oldest: a set that begins later is whole.
	os.Remove(filepath.Join(dir, "capture-000001.ctr"))
	r, err := OpenSet([]string{dir}, Window{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	readSet(t, r)
	ps := r.Problems()
	if len(ps) != 1 || r.ProblemCount() != 1 {
		t.Fatalf("problems %v", ps)
	}
	msg := ps[0].Error()
	if !strings.Contains(msg, "parts 3 to 4 of the set") || !strings.Contains(msg, "capture-000002.ctr") || !strings.Contains(msg, "lost") ||
		!strings.Contains(msg, "capture-000005.ctr") {
		t.Errorf("problem %q", msg)
	}
}

func TestOpenSetPartWithoutTrailer(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Now()
	for i := 1; i <= 3; i++ {
		writePart(t, filepath.Join(dir, fmt.Sprintf("capture-%06d.ctr", i)),
			partSpec{set: "s", index: i, start: t0.Add(time.Duration(i) * time.Minute), recs: setRecords(i, 30), noClose: i >= 2})
	}
	r, err := OpenSet([]string{dir}, Window{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := readSet(t, r)
	if len(got.recs) != 31+30+30 {
		t.Errorf("%d records", len(got.recs))
	}
	// The last part is being written (or its recorder was killed): the set
	// is truncated, without a trailer. A part before it without its
	// trailer is damage.
	if !r.Truncated() || r.Trailer() != nil {
		t.Errorf("truncated %v trailer %v", r.Truncated(), r.Trailer())
	}
	if ps := r.Problems(); len(ps) != 1 || !strings.Contains(ps[0].Error(), "capture-000002.ctr") || !strings.Contains(ps[0].Error(), "without its trailer") {
		t.Errorf("problems %v", ps)
	}
}

func TestOpenSetRefusesOtherCaptures(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	t.Run("two recordings", func(t *testing.T) {
		dir := t.TempDir()
		makeSet(t, dir, 2, t0)
		for i := 1; i <= 2; i++ {
			writePart(t, filepath.Join(dir, fmt.Sprintf("capture-%06d.ctr", 2+i)),
				partSpec{set: "s2", index: i, start: t0.Add(time.Duration(4+i) * time.Hour), recs: setRecords(i, 5)})
		}
		_, err := OpenSet([]string{dir}, Window{})
		if !errors.Is(err, ErrNotOneRecording) || !strings.Contains(err.Error(), "2 recordings") ||
			!strings.Contains(err.Error(), "capture-000001.ctr to capture-000002.ctr") || !strings.Contains(err.Error(), "capture-000003.ctr to capture-000004.ctr") {
			t.Fatalf("err %v", err)
		}
		// A window inside one picks it.
		r, err := OpenSet([]string{dir}, Window{Since: t0.Add(5*time.Hour + time.Minute).UnixNano()})
		if err != nil {
			t.Fatal(err)
		}
		if h := r.Header(); h.Set.ID != "s2" || len(r.Parts()) != 2 {
			t.Errorf("picked %+v %v", h.Set, r.Parts())
		}
		r.Close()
		// So do its files.
		r, err = OpenSet([]string{filepath.Join(dir, "capture-000001.ctr"), filepath.Join(dir, "capture-000002.ctr")}, Window{})
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
	})
	t.Run("not a set", func(t *testing.T) {
		dir := t.TempDir()
		makeSet(t, dir, 2, t0)
		lone := filepath.Join(dir, "lone.ctr")
		writePart(t, lone, partSpec{noSet: true, start: t0, recs: setRecords(1, 3)})
		_, err := OpenSet([]string{dir}, Window{})
		if !errors.Is(err, ErrNotOneRecording) || !strings.Contains(err.Error(), "lone.ctr is not part of a capture set") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("a part twice", func(t *testing.T) {
		dir := t.TempDir()
		makeSet(t, dir, 2, t0)
		data, _ := os.ReadFile(filepath.Join(dir, "capture-000002.ctr"))
		os.WriteFile(filepath.Join(dir, "copy.ctr"), data, 0o600)
		_, err := OpenSet([]string{dir}, Window{})
		if !errors.Is(err, ErrNotOneRecording) || !strings.Contains(err.Error(), "both part 2") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("not a capture", func(t *testing.T) {
		dir := t.TempDir()
		makeSet(t, dir, 2, t0)
		os.WriteFile(filepath.Join(dir, "junk.ctr"), []byte("not a capture at all"), 0o600)
		_, err := OpenSet([]string{dir}, Window{})
		if !errors.Is(err, ErrNotCapture) || !strings.Contains(err.Error(), "junk.ctr") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("empty directory", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "capture-000001.ctr"), nil, 0o600) // just created
		_, err := OpenSet([]string{dir}, Window{})
		if err == nil || !strings.Contains(err.Error(), "no capture") {
			t.Fatalf("err %v", err)
		}
	})
}

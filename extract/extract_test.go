package extract

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

func extractFile(t *testing.T, in string, o Options) (string, *Result) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.ctr")
	res, err := File(in, out, o)
	if err != nil {
		t.Fatal(err)
	}
	return out, res
}

func TestSelection(t *testing.T) {
	c := scenario()
	in := c.write(t)
	ancestors := []string{"snap1", "snap40", "snap50"} // leaders only: not snap51
	cases := []struct {
		name string
		o    Options
		want []string
	}{
		{"pid 102", Options{PIDs: []int{102}}, append(ancestors,
			"note-start", "fork100", "exec100", "clone102", "fork102", "exec102", "comm102", "exit102", "exit100", "note-exit")},
		// Both processes of pid 101: the workload's and the host's that
		// reused it (whose parent is init, a bare entry).
		{"pid 101", Options{PIDs: []int{101}}, append(ancestors,
			"note-start", "fork100", "exec100", "clone101", "fork101", "open101", "exit101", "fork101b", "open101b", "exit101b", "exit100", "note-exit")},
		{"command", Options{Command: true}, append(ancestors,
			"note-start", "fork100", "exec100", "open100", "clone101", "fork101", "open101", "exit101", "clone102", "fork102",
			"exec102", "comm102", "exit102", "exit100", "note-exit")},
		{"pid 300", Options{PIDs: []int{300}}, []string{"snap1", "snap300", "snap301", "note-start", "open300", "exit300", "note-exit"}},
		// Everything between 20 and 30 ms, and the identity frames of what
		// was alive then (creations, execs, exits) with their ancestors.
		{"window", Options{Since: "20ms", Until: "30ms"}, []string{"snap1", "snap40", "snap50", "snap51", "snap300", "snap301",
			"note-start", "fork100", "exec100", "clone101", "fork101", "open101", "open300", "exit101", "exit300", "exit100", "note-exit"}},
		// The command and a window: 102 only lived after it.
		{"command+window", Options{Command: true, Until: "30ms"}, append(ancestors,
			"note-start", "fork100", "exec100", "open100", "clone101", "fork101", "open101", "exit101", "exit100", "note-exit")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, res := extractFile(t, in, tc.o)
			got := keptLabels(t, c, out)
			if !slices.Equal(got, tc.want) {
				t.Errorf("kept\n  %v\nwant\n  %v", got, tc.want)
			}
			if res.Kept["audit"]+res.Kept["proc"]+res.Kept["snapshot"]+res.Kept["note"] != int64(len(mustRecords(t, out))) {
				t.Errorf("result counts %v", res.Kept)
			}
		})
	}
}

func mustRecords(t *testing.T, file string) []format.Record {
	recs, _ := readAll(t, file)
	return recs
}

func TestSelectionErrors(t *testing.T) {
	c := scenario()
	in := c.write(t)
	out := filepath.Join(t.TempDir(), "out.ctr")
	if _, err := File(in, out, Options{}); err == nil {
		t.Error("no selector: no error")
	}
	if _, err := File(in, out, Options{PIDs: []int{999}}); !errors.Is(err, ErrNoSuchPID) {
		t.Errorf("--pid 999: %v", err)
	}
	if _, err := File(in, out, Options{Until: "2023-01-01T00:00:00Z"}); !errors.Is(err, ErrEmpty) {
		t.Errorf("a window before everything: %v", err)
	}
	if _, err := File(in, out, Options{Since: "yesterday"}); err == nil {
		t.Error("--since yesterday: no error")
	}
	if _, err := File(in, out, Options{Since: "30ms", Until: "20ms"}); err == nil {
		t.Error("--since after --until: no error")
	}
	if _, err := File(in, out, Options{Containers: []string{"abc"}}); !errors.Is(err, analyze.ErrNoSuchContainer) {
		t.Errorf("--container abc: %v", err)
	}
	if _, err := File(in, in, Options{Command: true}); err == nil {
		t.Error("overwriting the input: no error")
	}
	c.hdr.Command = nil
	c.recs = slices.DeleteFunc(c.recs, func(r trec) bool { return r.src == format.SourceNote })
	c.trailer.CommandPID = 0
	if _, err := File(c.write(t), out, Options{Command: true}); err == nil || !strings.Contains(err.Error(), "no recorded command") {
		t.Errorf("--command without a command: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed extract left its output")
	}
}

// TestSameSubtreeSynthetic: the analyzer's subtree of every process of the
// synthetic capture is the same in its extract.
func TestSameSubtreeSynthetic(t *testing.T) {
	in := scenario().write(t)
	for _, pid := range []int{1, 40, 50, 100, 101, 102, 300, 400} {
		checkSameSubtree(t, in, pid)
	}
}

// TestSegmentsKeepTheirClocks: the extract's records keep the clock pair of
// their segment (the second segment's wall clock was stepped), so that the
// analyzer puts them at the same times.
func TestSegmentsKeepTheirClocks(t *testing.T) {
	c := scenario()
	in := c.write(t)
	out, _ := extractFile(t, in, Options{PIDs: []int{102}})
	recs, r := readAll(t, out)
	segs := r.Segments()
	if len(segs) != 2 {
		t.Fatalf("%d segments, want 2", len(segs))
	}
	for i, s := range segs {
		if s.Clock != c.clocks[i] {
			t.Errorf("segment %d clock %+v, want %+v", i, s.Clock, c.clocks[i])
		}
	}
	for _, rec := range recs {
		if rec.Source == format.SourceProc {
			ev, _ := replay.DecodeProc(rec.Data, le)
			wantSeg := 0
			if ev.Timestamp >= uint64(M0+50e6) {
				wantSeg = 1
			}
			if rec.Segment != wantSeg {
				t.Errorf("proc %s at %d in segment %d, want %d", ev.Kind, ev.Timestamp, rec.Segment, wantSeg)
			}
		}
	}
}

// TestHeaderAndLosses: the header says extract, from which file, with which
// selection; the losses are the original's (serials 18 and 19 never seen,
// the kernel lost 2), not the gaps the extraction made; the trailer keeps
// the original's loss figures and command.
func TestHeaderAndLosses(t *testing.T) {
	c := scenario()
	in := c.write(t)
	orig, err := replay.Summarize(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if orig.Losses.AuditSerialGaps != 2 || orig.Losses.KernelLost != 2 || orig.Lost != 4 {
		t.Fatalf("the scenario's losses %+v", orig.Losses)
	}
	out, res := extractFile(t, in, Options{PIDs: []int{102}})
	h := res.Header
	if h.Kind != "extract" || h.ExtractedFrom != "in.ctr" || len(h.Selection) != 2 || h.Selection[0] != "pid 102: the process and its descendants" {
		t.Errorf("header %+v", h)
	}
	if h.OriginalLosses == nil || *h.OriginalLosses != orig.LossCounts() {
		t.Errorf("original_losses %+v, want %+v", h.OriginalLosses, orig.LossCounts())
	}
	if h.Hostname != c.hdr.Hostname || h.Redaction != nil {
		t.Errorf("without redaction the header changed: %+v", h)
	}
	s, err := replay.Summarize(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Losses != orig.Losses || s.Lost != orig.Lost || s.Kind != "extract" || s.ExtractedFrom != "in.ctr" {
		t.Errorf("the extract's summary: losses %+v lost %d, want %+v %d", s.Losses, s.Lost, orig.Losses, orig.Lost)
	}
	if s.StartNS != orig.StartNS || s.EndNS != orig.EndNS || s.CommandPID != 100 || s.StopReason != "command" {
		t.Errorf("span %d..%d command %d stop %q, want %d..%d 100 command", s.StartNS, s.EndNS, s.CommandPID, s.StopReason, orig.StartNS, orig.EndNS)
	}
	_, r := readAll(t, out)
	if tr := r.Trailer(); tr == nil || tr.Loss.KernelLostAfter != 5 || tr.CommandPID != 100 || tr.Frames["audit"] != res.Kept["audit"] {
		t.Errorf("trailer %+v", r.Trailer())
	}
	// Without original_losses, the same frames would count the serials the
	// extraction left out as lost.
	var plain bytes.Buffer
	h.OriginalLosses = nil
	w, _ := format.NewWriter(&plain, h, format.WriterOptions{})
	recs, _ := readAll(t, out)
	for _, rec := range recs {
		w.WriteRecord(rec.Source, rec.Flags, rec.Mono, rec.Data)
	}
	w.Close(format.Trailer{})
	p := filepath.Join(t.TempDir(), "plain.ctr")
	os.WriteFile(p, plain.Bytes(), 0o600)
	if s, _ := replay.Summarize(p, nil); s.Losses.AuditSerialGaps <= orig.Losses.AuditSerialGaps {
		t.Errorf("the test does not test: without original_losses, %d gaps", s.Losses.AuditSerialGaps)
	}

	// An extract of an extract keeps the first original's losses and
	// adds to the selection.
	again, res2 := extractFile(t, out, Options{Command: true})
	if s2, _ := replay.Summarize(again, nil); s2.Losses != orig.Losses {
		t.Errorf("extract of an extract: losses %+v", s2.Losses)
	}
	if len(res2.Header.Selection) != 4 || res2.Header.Selection[2] != "command (pid 100) and its descendants" || res2.Header.ExtractedFrom != "out.ctr" {
		t.Errorf("extract of an extract: header %+v", res2.Header)
	}
}

// TestUnclosedOriginal: the extract of a capture whose recorder was killed
// has no trailer either; its losses come from the notes.
func TestUnclosedOriginal(t *testing.T) {
	c := scenario()
	c.trailer = nil
	in := c.write(t)
	out, _ := extractFile(t, in, Options{Command: true})
	recs, r := readAll(t, out)
	if r.Trailer() != nil || !r.Truncated() || len(r.Problems()) > 0 || len(recs) == 0 {
		t.Errorf("trailer %v truncated %v problems %v records %d", r.Trailer(), r.Truncated(), r.Problems(), len(recs))
	}
}

// TestByteForByte: without redaction every record of an extract is a record
// of the original, unchanged, in the original's order, with its flags and
// receive time; every record of a kept audit event is kept.
func TestByteForByte(t *testing.T) {
	files := []string{scenario().write(t)}
	files = append(files, mustGlob(t, filepath.Join("..", "testdata", "*", "*.ctr"))...)
	for _, f := range files {
		orig, _ := readAll(t, f)
		for _, o := range []Options{{Command: true}, {Since: "1ms"}} {
			out := filepath.Join(t.TempDir(), "out.ctr")
			if _, err := File(f, out, o); err != nil {
				if errors.Is(err, ErrEmpty) || strings.Contains(err.Error(), "no recorded command") {
					continue
				}
				t.Fatal(err)
			}
			got, _ := readAll(t, out)
			j := 0
			keptEvents := map[[2]uint64]bool{}
			for _, g := range got {
				for j < len(orig) && !(orig[j].Source == g.Source && orig[j].Flags == g.Flags && orig[j].Mono == g.Mono && bytes.Equal(orig[j].Data, g.Data)) {
					j++
				}
				if j == len(orig) {
					t.Fatalf("%s: a record of the extract is not in the original", f)
				}
				if g.Source == format.SourceAudit {
					if a, err := replay.DecodeAudit(g.Data, le); err == nil && a.Kind == replay.AuditEvent && !replay.StandaloneType(a.Type) {
						keptEvents[[2]uint64{uint64(a.TimeMS), a.Serial}] = true
					}
				}
				j++
			}
			n := 0
			for _, rec := range orig {
				if rec.Source != format.SourceAudit {
					continue
				}
				if a, err := replay.DecodeAudit(rec.Data, le); err == nil && a.Kind == replay.AuditEvent && keptEvents[[2]uint64{uint64(a.TimeMS), a.Serial}] {
					n++
				}
			}
			var kept int
			for _, g := range got {
				if a, err := replay.DecodeAudit(g.Data, le); g.Source == format.SourceAudit && err == nil && keptEvents[[2]uint64{uint64(a.TimeMS), a.Serial}] {
					kept++
				}
			}
			if kept != n {
				t.Errorf("%s: %d records of kept audit events in the extract, %d in the original", f, kept, n)
			}
		}
	}
}

// TestDeterministic: the same extraction twice gives the same bytes.
func TestDeterministic(t *testing.T) {
	in := scenario().write(t)
	o := Options{PIDs: []int{102}, Redact: []string{"s3cret"}, HashPaths: true}
	a, _ := extractFile(t, in, o)
	b, _ := extractFile(t, in, o)
	ba, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ba, bb) {
		t.Error("two extractions differ")
	}
	if st, _ := os.Stat(a); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
}

// The window bounds are inclusive: an event at the bound is in.
func TestWindowBounds(t *testing.T) {
	s := &selection{since: 10, until: 20}
	if !s.inWindow(10) || !s.inWindow(20) || s.inWindow(9) || s.inWindow(21) {
		t.Error("inWindow")
	}
	s = &selection{since: math.MinInt64, until: math.MaxInt64}
	if s.windowed() {
		t.Error("windowed without bounds")
	}
}

// jsonOf is a helper for messages.
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestAncestorThreads: an ancestor whose leader exited before one of its
// threads forked the selected process keeps its threads' forks and exits,
// so that it is still alive (and the parent) at that fork.
func TestAncestorThreads(t *testing.T) {
	c := newTCap()
	c.hdr.Snapshot = false
	c.fork("fork200", 10, 1, 200)
	c.proc("thread201", 11, replay.ProcWhatFork, 1, 1, 201, 200)
	c.proc("thread203", 11.5, replay.ProcWhatFork, 1, 1, 203, 200)
	c.exit("leader200", 12, 200, 1, 0)
	c.proc("fork202", 13, replay.ProcWhatFork, 201, 200, 202, 202)
	c.exit("exit202", 14, 202, 200, 0)
	c.proc("exit203", 14.5, replay.ProcWhatExit, 203, 200, 0, 0xffffffff, 0, 0)
	c.proc("exit201", 15, replay.ProcWhatExit, 201, 200, 0, 0xffffffff, 0, 0)
	in := c.write(t)
	out, _ := extractFile(t, in, Options{PIDs: []int{202}})
	want := []string{"fork200", "thread201", "thread203", "leader200", "fork202", "exit202", "exit203", "exit201"}
	if got := keptLabels(t, c, out); !slices.Equal(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	checkSameSubtree(t, in, 202)
	checkSameSubtree(t, in, 200)
}

// TestNoAncestors: with NoAncestors, an extract of a subtree holds the
// subtree alone (its root's parent is not in it); without, the ancestors
// are there as bare entries.
func TestNoAncestors(t *testing.T) {
	in := filepath.Join("..", "testdata", "captures", "orphan.ctr")
	a, err := analyze.AnalyzeFile(in)
	if err != nil {
		t.Fatal(err)
	}
	var root *analyze.Process
	for _, p := range a.Processes {
		if p.Parent != nil && p.Parent.Parent != nil && !p.PreExisting {
			root = p
			break
		}
	}
	if root == nil {
		t.Fatal("no process with a grandparent in the capture")
	}
	want := map[int]bool{}
	var walk func(p *analyze.Process)
	walk = func(p *analyze.Process) {
		want[p.PID] = true
		for _, c := range p.Children {
			walk(c)
		}
	}
	walk(root)
	for _, noAnc := range []bool{true, false} {
		out := filepath.Join(t.TempDir(), "x.ctr")
		if _, err := File(in, out, Options{PIDs: []int{root.PID}, NoAncestors: noAnc}); err != nil {
			t.Fatal(err)
		}
		b, err := analyze.AnalyzeFile(out)
		if err != nil {
			t.Fatal(err)
		}
		outside := 0
		for _, p := range b.Processes {
			if !want[p.PID] {
				outside++
			}
		}
		if noAnc && outside != 0 || !noAnc && outside < 2 {
			t.Errorf("NoAncestors %v: %d processes outside the subtree of %d", noAnc, outside, root.PID)
		}
	}
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctrace/ctrace/format"
)

// splitIntoSet writes the records of a recorded capture as a recording
// (set id) of n parts whose headers begin an hour apart (from t0), as a
// rotating recorder that ran for hours would have, numbered in dir from
// first; it returns the parts.
func splitIntoSet(t *testing.T, capture, dir, id string, first, n int, t0 time.Time) []string {
	t.Helper()
	r, err := format.Open(capture)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	type rec struct {
		src   format.Source
		flags uint8
		mono  int64
		data  []byte
	}
	var recs []rec
	for {
		x, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec{x.Source, x.Flags, x.Mono, append([]byte(nil), x.Data...)})
	}
	var paths []string
	per := (len(recs) + n - 1) / n
	for i := 0; i < n; i++ {
		h := *r.Header()
		h.Set = &format.SetInfo{ID: id, Index: i + 1}
		h.Clock.RealtimeNS = t0.Add(time.Duration(i) * time.Hour).UnixNano()
		p := filepath.Join(dir, fmt.Sprintf("capture-%06d.ctr", first+i))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		w, err := format.NewWriter(f, h, format.WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range recs[min(i*per, len(recs)):min((i+1)*per, len(recs))] {
			if err := w.WriteRecord(x.src, x.flags, x.mono, x.data); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(format.Trailer{StopReason: "rotated"}); err != nil {
			t.Fatal(err)
		}
		f.Close()
		paths = append(paths, p)
	}
	return paths
}

// --since/--until reach format.OpenSet from every command that reads a
// set: absolute times and offsets from the set's start pick the parts.
func TestSetWindowFlags(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	threads := filepath.Join("..", "..", "testdata", "captures", "threads.ctr")
	parts := splitIntoSet(t, threads, dir, "0123456789abcdef", 1, 4, t0)
	infoFiles := func(args ...string) []string {
		t.Helper()
		var out, errb strings.Builder
		if code := run(append([]string{"ctrace", "info", "--format", "json"}, args...), &out, &errb); code != 0 {
			t.Fatalf("info %v: exit %d: %s", args, code, errb.String())
		}
		var s struct{ Files []string }
		if err := json.Unmarshal([]byte(out.String()), &s); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range s.Files {
			names = append(names, filepath.Base(f))
		}
		return names
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{dir}, "[capture-000001.ctr capture-000002.ctr capture-000003.ctr capture-000004.ctr]"},
		{[]string{"--since", "2026-12-04T08:10:00Z", "--until", "2026-12-04T09:20:00Z", dir}, "[capture-000003.ctr capture-000004.ctr]"},
		{[]string{"--since", "1h10m", "--until", "1h50m", dir}, "[]"}, // one part: read as a file
		{[]string{"--until", "30m", parts[0], parts[1], parts[2]}, "[]"},
		{[]string{"--since", "+2h30m", dir}, "[capture-000003.ctr capture-000004.ctr]"},
	} {
		if got := fmt.Sprint(infoFiles(c.args...)); got != c.want {
			t.Errorf("info %v: files %s, want %s", c.args, got, c.want)
		}
	}
	// One part read alone says what it is part of.
	var txt, e strings.Builder
	if code := run([]string{"ctrace", "info", parts[1]}, &txt, &e); code != 0 || !strings.Contains(txt.String(), "part 2 of recording 0123456789abcdef") {
		t.Errorf("info of one part: exit %d\n%s%s", code, txt.String(), e.String())
	}
	// The commands that analyze read the same parts.
	var out, errb strings.Builder
	if code := run([]string{"ctrace", "analyze", "--format", "json", "--since", "2h30m", dir}, &out, &errb); code != 0 {
		t.Fatalf("analyze: %s", errb.String())
	}
	if !strings.Contains(out.String(), `"files": [
      "capture-000003.ctr",
      "capture-000004.ctr"
    ]`) {
		t.Errorf("analyze --since of the set did not read parts 3 and 4:\n%.600s", out.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"ctrace", "timeline", "--format", "jsonl", "--until", "2026-12-04T06:30:00Z", dir}, &out, &errb); code != 0 {
		t.Fatalf("timeline: %s", errb.String())
	}
	// With one file, --since/--until of analyze, info and report would pick
	// nothing: they say so.
	for _, cmd := range []string{"analyze", "info", "report"} {
		errb.Reset()
		if code := run([]string{"ctrace", cmd, "--since", "1h", parts[0]}, io.Discard, &errb); code == 0 || !strings.Contains(errb.String(), "pick the captures of a capture set") {
			t.Errorf("%s --since on one file: exit %d: %s", cmd, code, errb.String())
		}
	}
	// A directory with two recordings: a window inside one picks it, an
	// absolute time as well as an offset (from the earliest capture).
	two := t.TempDir()
	splitIntoSet(t, threads, two, "0123456789abcdef", 1, 2, t0)
	splitIntoSet(t, threads, two, "fedcba9876543210", 3, 2, t0.Add(5*time.Hour))
	if got := fmt.Sprint(infoFiles("--since", "2026-12-04T11:10:00Z", two)); got != "[capture-000003.ctr capture-000004.ctr]" {
		t.Errorf("info --since inside the second recording: files %s", got)
	}
	if got := fmt.Sprint(infoFiles("--until", "30m", two)); got != "[]" {
		t.Errorf("info --until 30m: files %s, want the first capture alone", got)
	}
	errb.Reset()
	if code := run([]string{"ctrace", "analyze", filepath.Join(dir, "nothing-here")}, io.Discard, &errb); code == 0 || !strings.Contains(errb.String(), "nothing-here") {
		t.Errorf("a missing capture: exit %d: %s", code, errb.String())
	}
}

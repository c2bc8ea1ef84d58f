package format

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var testID = [FileIDSize]byte{1, 2, 3, 4, 5, 6, 7, 8}

type testRec struct {
	src  Source
	mono int64
	data string
}

// makeCapture writes records into a capture with small segments.
func makeCapture(t testing.TB, recs []testRec, segBytes int64, close bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Kind: "record", Hostname: "h", ByteOrder: "little", AuditMode: "unicast"},
		WriterOptions{SegmentBytes: segBytes, FileID: &testID})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if err := w.WriteRecord(r.src, 0, r.mono, []byte(r.data)); err != nil {
			t.Fatal(err)
		}
		if i%7 == 6 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if close {
		if err := w.Close(Trailer{StopReason: "test"}); err != nil {
			t.Fatal(err)
		}
	} else if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sampleRecords(n int) []testRec {
	rng := rand.New(rand.NewSource(1))
	var recs []testRec
	for i := 0; i < n; i++ {
		src := Source(1 + i%4)
		b := make([]byte, rng.Intn(300))
		for j := range b {
			b[j] = "abcdefgh =\x00"[rng.Intn(11)]
		}
		recs = append(recs, testRec{src, int64(1000 + i), fmt.Sprintf("rec %d %s", i, b)})
	}
	return recs
}

type readResult struct {
	recs      []testRec
	r         *Reader
	truncated bool
	problems  []*FormatError
}

func readAll(t testing.TB, data []byte) (readResult, error) {
	r, err := NewReader(bytes.NewReader(data), int64(len(data)), "test.ctr")
	if err != nil {
		return readResult{}, err
	}
	var res readResult
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		res.recs = append(res.recs, testRec{rec.Source, rec.Mono, string(rec.Data)})
	}
	r.Close()
	res.r = r
	res.truncated = r.Truncated()
	res.problems = r.Problems()
	return res, nil
}

func TestRoundTrip(t *testing.T) {
	recs := sampleRecords(500)
	data := makeCapture(t, recs, 4096, true)
	res, err := readAll(t, data)
	if err != nil {
		t.Fatal(err)
	}
	if res.truncated || len(res.problems) > 0 {
		t.Fatalf("truncated=%v problems=%v", res.truncated, res.problems)
	}
	if len(res.recs) != len(recs) {
		t.Fatalf("got %d records, want %d", len(res.recs), len(recs))
	}
	for i := range recs {
		if res.recs[i] != recs[i] {
			t.Fatalf("record %d: got %+v want %+v", i, res.recs[i], recs[i])
		}
	}
	tr := res.r.Trailer()
	if tr == nil || tr.StopReason != "test" {
		t.Fatalf("trailer %+v", tr)
	}
	if len(tr.Segments) < 5 || len(res.r.Segments()) != len(tr.Segments) {
		t.Fatalf("segments: trailer %d, read %d", len(tr.Segments), len(res.r.Segments()))
	}
	var total int64
	for i, s := range tr.Segments {
		total += s.Records
		if res.r.Segments()[i].Index != uint32(i) || int64(res.r.Segments()[i].FirstRecord) != total-s.Records {
			t.Fatalf("segment %d header %+v, trailer %+v", i, res.r.Segments()[i], s)
		}
		if s.UncompressedSize > 4096+400 {
			t.Fatalf("segment %d has %d bytes, limit 4096", i, s.UncompressedSize)
		}
	}
	if total != 500 || tr.Frames["audit"] != 125 || tr.Frames["note"] != 125 {
		t.Fatalf("frames %v total %d", tr.Frames, total)
	}
	if h := res.r.Header(); h.Hostname != "h" || h.FormatVersion != Version {
		t.Fatalf("header %+v", h)
	}
}

// Every cut of the file yields a prefix of the records, is reported as
// truncated, and never panics or reports corruption.
func TestTruncationAtEveryOffset(t *testing.T) {
	recs := sampleRecords(60)
	data := makeCapture(t, recs, 2048, true)
	full, _ := readAll(t, data)
	hdrEnd := int(full.r.Segments()[0].FirstRecord) // 0; find the header end below
	_ = hdrEnd
	prev := 0
	for cut := 0; cut < len(data); cut++ {
		res, err := readAll(t, data[:cut])
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("cut %d: error %v is not a FormatError", cut, err)
			}
			if prev > 0 {
				t.Fatalf("cut %d: header error %v after records were readable", cut, err)
			}
			continue
		}
		if !res.truncated {
			t.Fatalf("cut %d of %d: not reported as truncated", cut, len(data))
		}
		if len(res.problems) > 0 {
			t.Fatalf("cut %d: problems %v", cut, res.problems)
		}
		if len(res.recs) < prev {
			t.Fatalf("cut %d: %d records, fewer than %d at a shorter cut", cut, len(res.recs), prev)
		}
		for i := range res.recs {
			if res.recs[i] != recs[i] {
				t.Fatalf("cut %d: record %d differs", cut, i)
			}
		}
		prev = len(res.recs)
	}
	if prev != len(recs) {
		t.Fatalf("cut just before the end gave %d of %d records", prev, len(recs))
	}
}

// A flushed but never closed capture (a recorder killed with SIGKILL) gives
// back every record written before the last flush.
func TestUnclosedCapture(t *testing.T) {
	recs := sampleRecords(100)
	data := makeCapture(t, recs, 1<<20, false)
	res, err := readAll(t, data)
	if err != nil {
		t.Fatal(err)
	}
	if !res.truncated || len(res.recs) != len(recs) || res.r.Trailer() != nil {
		t.Fatalf("truncated=%v records=%d/%d", res.truncated, len(res.recs), len(recs))
	}
}

// Damage in the middle is reported with its offset and reading resumes at
// the next segment.
func TestCorruptionInTheMiddle(t *testing.T) {
	recs := sampleRecords(300)
	data := makeCapture(t, recs, 4096, true)
	full, _ := readAll(t, data)
	segs := full.r.Trailer().Segments
	if len(segs) < 4 {
		t.Fatal("need segments")
	}
	victim := segs[2]
	for _, where := range []string{"data", "segheader", "blockheader"} {
		t.Run(where, func(t *testing.T) {
			bad := bytes.Clone(data)
			var off int64
			switch where {
			case "data":
				off = victim.Offset + 8 + segmentHeaderSize + victim.CompressedSize/2
				for i := int64(0); i < 16; i++ {
					bad[off+i] ^= 0x5a
				}
			case "segheader":
				off = victim.Offset
				copy(bad[off:], "garbage!")
			case "blockheader":
				// The first block header of the zstd frame after its header.
				off = victim.Offset + 8 + segmentHeaderSize + 6
				bad[off], bad[off+1], bad[off+2] = 0xff, 0xff, 0xff
			}
			res, err := readAll(t, bad)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.problems) == 0 {
				t.Fatalf("no problem reported for damage at %d", off)
			}
			p := res.problems[0]
			if p.File != "test.ctr" || p.Offset < segs[1].Offset || p.Offset > segs[3].Offset {
				t.Fatalf("problem %v: offset outside the damaged segment [%d,%d)", p, victim.Offset, segs[3].Offset)
			}
			if res.truncated {
				t.Fatal("reported as truncated")
			}
			// All records of the other segments are there, in order.
			before := int(segs[0].Records + segs[1].Records)
			after := 0
			for _, s := range segs[3:] {
				after += int(s.Records)
			}
			if len(res.recs) < before+after {
				t.Fatalf("%d records, want at least %d", len(res.recs), before+after)
			}
			for i := 0; i < before; i++ {
				if res.recs[i] != recs[i] {
					t.Fatalf("record %d differs", i)
				}
			}
			tail := res.recs[len(res.recs)-after:]
			for i := range tail {
				if tail[i] != recs[len(recs)-after+i] {
					t.Fatalf("record %d from the end differs", after-i)
				}
			}
			if res.r.Trailer() == nil {
				t.Fatal("trailer lost")
			}
		})
	}
}

func TestNotACapture(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":   nil,
		"text":    []byte("type=SYSCALL msg=audit(1.2:3): arch=c000003e\n"),
		"zstd":    {0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0},
		"badjson": appendSkippable(nil, TagHeader, []byte{1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, []byte("{nope")),
	} {
		_, err := NewReader(bytes.NewReader(data), int64(len(data)), "x.ctr")
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if name != "badjson" && !errors.Is(err, ErrNotCapture) {
			t.Errorf("%s: %v, want ErrNotCapture", name, err)
		}
	}
}

func TestVersionCheck(t *testing.T) {
	data := makeCapture(t, sampleRecords(3), 1<<20, true)
	bad := bytes.Clone(data)
	bad[12] = 9 // version field of the header frame
	_, err := NewReader(bytes.NewReader(bad), int64(len(bad)), "new.ctr")
	if !errors.Is(err, ErrVersion) {
		t.Fatalf("got %v, want ErrVersion", err)
	}
	if want := "new.ctr: offset 12:"; err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Fatalf("error %q does not name the file and offset", err)
	}
}

// A hostile length never makes the reader allocate it.
func TestHugeLengths(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Header{ByteOrder: "little"}, WriterOptions{FileID: &testID})
	// A record header claiming 4 GiB, written around the checks.
	hdr := make([]byte, RecordHeaderSize)
	PutRecordHeader(hdr, SourceAudit, 0, 1, 0)
	hdr[0], hdr[1], hdr[2], hdr[3] = 0xff, 0xff, 0xff, 0xff
	w.openSegment()
	w.enc.Write(hdr)
	w.enc.Write(make([]byte, 64))
	w.inSeg = true
	w.Close(Trailer{})
	res, err := readAll(t, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.problems) != 1 || len(res.recs) != 0 {
		t.Fatalf("problems %v records %d", res.problems, len(res.recs))
	}
}

// The file is a valid sequence of zstd frames: `zstd -dc` yields the record
// stream.
func TestZstdCLIReadsRecordStream(t *testing.T) {
	zstdBin, err := exec.LookPath("zstd")
	if err != nil {
		t.Skip("zstd command not installed (apt-get install zstd)")
	}
	recs := sampleRecords(50)
	data := makeCapture(t, recs, 2048, true)
	p := filepath.Join(t.TempDir(), "c.ctr")
	os.WriteFile(p, data, 0o600)
	out, err := exec.Command(zstdBin, "-dc", p).Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, r := range recs {
		want = AppendRecord(want, r.src, 0, r.mono, []byte(r.data))
	}
	if !bytes.Equal(out, want) {
		t.Fatalf("zstd -dc gave %d bytes, want %d", len(out), len(want))
	}
}

// captureSeeds are the captures under testdata (one level down: the
// captures live in testdata/*/), the fuzzer's real starting points; those
// over maxSeed bytes (the big build recordings of testdata/reports) are
// left out: the fuzzer's mutation of inputs that size stalls its workers.
func captureSeeds(tb testing.TB) [][]byte {
	files, _ := filepath.Glob("../testdata/*/*.ctr")
	var out [][]byte
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) <= maxSeed {
			out = append(out, b)
		}
	}
	return out
}

const maxSeed = 128 << 10

// TestFuzzSeesRealCaptures: the fuzzer's seeds include the captures in
// testdata, which its glob must find.
func TestFuzzSeesRealCaptures(t *testing.T) {
	if n := len(captureSeeds(t)); n < 10 {
		t.Fatalf("%d captures under ../testdata/*/ for the fuzzer", n)
	}
}

// readRecords reads every record of a capture in memory, copies of their
// data; an error when the reader refuses it.
func readRecords(data []byte) (*Reader, []Record, error) {
	r, err := NewReader(bytes.NewReader(data), int64(len(data)), "fuzz.ctr")
	if err != nil {
		return nil, nil, err
	}
	var recs []Record
	for i := 0; ; i++ {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			r.Close()
			return nil, nil, err
		}
		rec.Data = bytes.Clone(rec.Data)
		recs = append(recs, rec)
		if i > 1<<20 {
			return nil, nil, errors.New("no end")
		}
	}
	return r, recs, nil
}

// FuzzReader: whatever the input, the reader ends without panicking, never
// yields an oversized record, and what it yields, written again, reads
// back the same (source, flags, receive time, bytes; the header).
func FuzzReader(f *testing.F) {
	f.Add(makeCapture(f, sampleRecords(20), 512, true))
	f.Add(makeCapture(f, sampleRecords(5), 1<<20, false))
	for _, b := range captureSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, recs, err := readRecords(data)
		if err != nil {
			if r == nil && recs == nil && err.Error() == "no end" {
				t.Fatal("no end")
			}
			return
		}
		hdr := *r.Header()
		r.Close()
		for _, rec := range recs {
			if len(rec.Data) > MaxRecordSize {
				t.Fatal("oversized record")
			}
		}
		var again bytes.Buffer
		w, err := NewWriter(&again, hdr, WriterOptions{})
		if err != nil {
			return // a header the writer refuses (the reader is lenient)
		}
		for _, rec := range recs {
			if err := w.WriteRecord(rec.Source, rec.Flags, rec.Mono, rec.Data); err != nil {
				t.Fatalf("writing back a record the reader yielded: %v", err)
			}
		}
		if err := w.Close(Trailer{}); err != nil {
			t.Fatal(err)
		}
		r2, recs2, err := readRecords(again.Bytes())
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		defer r2.Close()
		if len(recs2) != len(recs) {
			t.Fatalf("%d records read back, %d written", len(recs2), len(recs))
		}
		for i := range recs {
			a, b := recs[i], recs2[i]
			if a.Source != b.Source || a.Flags != b.Flags || a.Mono != b.Mono || !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("record %d differs after the round trip", i)
			}
		}
		if h2 := r2.Header(); h2.Kind != hdr.Kind || h2.Hostname != hdr.Hostname || h2.ByteOrder != hdr.ByteOrder {
			t.Fatalf("header differs after the round trip: %+v vs %+v", h2, hdr)
		}
	})
}

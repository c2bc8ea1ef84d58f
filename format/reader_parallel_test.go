package format

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"
)

// readTrace reads a capture with the given concurrency and describes
// everything a caller can see: every record with its position, then the
// damage, the truncation, the trailer and the counters.
func readTrace(t testing.TB, data []byte, conc int) string {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), int64(len(data)), "test.ctr")
	if err != nil {
		return "open: " + err.Error()
	}
	defer r.Close()
	r.SetConcurrency(conc)
	var b strings.Builder
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		fmt.Fprintf(&b, "%d %d %d %d %d %q\n", rec.Source, rec.Flags, rec.Mono, rec.Segment, rec.Offset, rec.Data)
	}
	for _, p := range r.Problems() {
		fmt.Fprintf(&b, "problem %v\n", p)
	}
	fmt.Fprintf(&b, "problems %d truncated %v at %d trailer %v segments %d records %d bytes %d\n",
		r.ProblemCount(), r.Truncated(), r.TruncatedAt(), r.Trailer() != nil, len(r.Segments()), r.Records(), r.UncompressedBytes())
	return b.String()
}

func checkSameReads(t *testing.T, name string, data []byte) {
	t.Helper()
	want := readTrace(t, data, 1)
	for _, conc := range []int{2, 3, 8} {
		if got := readTrace(t, data, conc); got != want {
			t.Fatalf("%s: concurrency %d reads differently:\n%s\nsequential:\n%s", name, conc, clipText(got), clipText(want))
		}
	}
}

func clipText(s string) string {
	if len(s) > 3000 {
		return s[:1500] + "\n...\n" + s[len(s)-1500:]
	}
	return s
}

// Parallel decompression must not change anything Next reports: records,
// damage, truncation, whatever the damage and wherever the cut.
func TestConcurrentReadsMatchSequential(t *testing.T) {
	recs := sampleRecords(400)
	data := makeCapture(t, recs, 4096, true)
	checkSameReads(t, "clean", data)
	checkSameReads(t, "unclosed", makeCapture(t, recs, 4096, false))

	// Large segments: several chunks each.
	var big []testRec
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 3000; i++ {
		b := make([]byte, 1000+rng.Intn(3000))
		rng.Read(b)
		big = append(big, testRec{Source(1 + i%4), int64(i), string(b)})
	}
	bigData := makeCapture(t, big, 3<<20, true)
	checkSameReads(t, "big segments", bigData)
	for _, cut := range []int{len(bigData) / 3, len(bigData) / 2, len(bigData) - 100} {
		checkSameReads(t, fmt.Sprintf("big cut at %d", cut), bigData[:cut])
	}

	for cut := 0; cut < len(data); cut += 97 {
		checkSameReads(t, fmt.Sprintf("cut at %d", cut), data[:cut])
	}
	damages := 150
	if testing.Short() {
		damages = 20
	}
	for i := 0; i < damages; i++ {
		bad := bytes.Clone(data)
		off := rng.Intn(len(bad))
		for k := 0; k < 1+rng.Intn(8) && off+k < len(bad); k++ {
			bad[off+k] ^= byte(1 + rng.Intn(255))
		}
		checkSameReads(t, fmt.Sprintf("damage at %d", off), bad)
	}
}

func BenchmarkReaderConcurrency(b *testing.B) {
	var recs []testRec
	rng := rand.New(rand.NewSource(3))
	words := []string{"type=SYSCALL ", "arch=c000003e ", "syscall=59 ", "success=yes ", "comm=\"true\" ", "exe=\"/usr/bin/true\" "}
	for i := 0; i < 200000; i++ {
		var s strings.Builder
		for s.Len() < 150 {
			s.WriteString(words[rng.Intn(len(words))])
		}
		recs = append(recs, testRec{SourceAudit, int64(i), s.String()})
	}
	data := makeCapture(b, recs, 8<<20, true)
	for _, conc := range []int{1, 2} {
		b.Run(fmt.Sprint(conc), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				r, _ := NewReader(bytes.NewReader(data), int64(len(data)), "x")
				r.SetConcurrency(conc)
				var n int64
				for {
					rec, err := r.Next()
					if err != nil {
						break
					}
					n += int64(len(rec.Data))
				}
				r.Close()
				b.SetBytes(n)
			}
		})
	}
}

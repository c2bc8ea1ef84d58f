//go:build linux

package capture

import (
	"testing"

	"github.com/ctrace/ctrace/format"
)

// The histogram's quantiles are within one bucket (1/8 of a power of two)
// of the exact ones.
func TestLatencyHist(t *testing.T) {
	var h latencyHist
	for i := int64(1); i <= 10000; i++ {
		h.add(i * 1000) // 1 µs .. 10 ms
	}
	for _, c := range []struct {
		q    float64
		want int64
	}{{0.5, 5_000_000}, {0.9, 9_000_000}, {0.99, 9_900_000}} {
		got := h.quantile(c.q)
		if got < c.want || float64(got) > float64(c.want)*1.126 {
			t.Errorf("q%.2f = %d, want %d..+12.5%%", c.q, got, c.want)
		}
	}
	if h.max != 10_000_000 || h.n != 10000 {
		t.Fatalf("max %d n %d", h.max, h.n)
	}
	var small latencyHist
	small.add(3)
	small.add(-5) // a clock step must not break it
	if q := small.quantile(1); q != 3 {
		t.Fatalf("tiny values: q1 = %d", q)
	}
	for i := 0; i < latencyBucket(1<<62); i++ {
		if lo := latencyBucketLow(i); latencyBucket(lo) != i || latencyBucket(latencyBucketLow(i+1)-1) != i {
			t.Fatalf("bucket %d: low %d maps to %d", i, lo, latencyBucket(lo))
		}
	}
}

// addChunk takes frame records only.
func TestLatencyHistChunk(t *testing.T) {
	var b []byte
	b = format.AppendRecord(b, format.SourceAudit, 0, 1000, []byte("audit"))
	b = format.AppendRecord(b, format.SourceNote, 0, 0, []byte("{}"))
	b = format.AppendRecord(b, format.SourceProc, 0, 3000, []byte("proc"))
	var h latencyHist
	h.addChunk(b, 5000)
	if h.n != 2 || h.max != 4000 {
		t.Fatalf("n %d max %d", h.n, h.max)
	}
}

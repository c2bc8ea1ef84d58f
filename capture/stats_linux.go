//go:build linux

package capture

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"os"
	"runtime/pprof"
	"time"

	"github.com/ctrace/ctrace/format"
)

// Diagnostics for benchmarks (bench/record), off unless asked for:
//
//   - Options.StatsFile, or the environment variable CTRACE_STATS: when the
//     recording stops, a JSON file with the hot path's figures (frames and
//     receive passes per source, the time from receive to the writer).
//   - Options.CPUProfile, or CTRACE_CPUPROFILE: a pprof CPU profile of the
//     whole recording.

// latencyHist counts durations in log-linear buckets: 8 per power of two,
// so a quantile is known within 1/8 of its power of two (12.5%).
type latencyHist struct {
	counts [64 * 8]int64
	n      int64
	max    int64
}

// latencyBucket: values 0..7 have a bucket each; from 8 on, bucket
// (e-2)*8+m holds the values whose top bits are 1mmm at bit e.
func latencyBucket(ns int64) int {
	if ns < 8 {
		return int(max(ns, 0))
	}
	e := bits.Len64(uint64(ns)) - 1 // 2^e <= ns < 2^(e+1), e >= 3
	m := int(uint64(ns)>>(e-3)) & 7
	return (e-2)*8 + m
}

// latencyBucketLow is the smallest value of bucket i.
func latencyBucketLow(i int) int64 {
	if i < 8 {
		return int64(i)
	}
	e, m := i/8+2, i%8
	return int64(8+m) << (e - 3)
}

func (h *latencyHist) add(ns int64) {
	h.counts[latencyBucket(ns)]++
	h.n++
	h.max = max(h.max, ns)
}

// quantile returns the upper bound of the bucket holding quantile q (0..1),
// at most the largest value seen.
func (h *latencyHist) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := int64(q * float64(h.n))
	if rank >= h.n {
		rank = h.n - 1
	}
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen > rank {
			return min(latencyBucketLow(i+1)-1, h.max)
		}
	}
	return h.max
}

// addChunk adds, for every frame record of a chunk, the time from its
// receive stamp to now.
func (h *latencyHist) addChunk(b []byte, now int64) {
	for len(b) >= format.RecordHeaderSize {
		n := int(binary.LittleEndian.Uint32(b))
		if src := format.Source(b[4]); src == format.SourceAudit || src == format.SourceProc {
			h.add(now - int64(binary.LittleEndian.Uint64(b[8:])))
		}
		if format.RecordHeaderSize+n > len(b) {
			return
		}
		b = b[format.RecordHeaderSize+n:]
	}
}

// Latency summarizes how long frames took from their receive stamp to the
// writer goroutine (the hot loop's handoff: a frame waits in its chunk until
// the chunk is full or the socket was quiet for a while, then in the queue).
type Latency struct {
	Frames             int64
	P50, P90, P99, Max time.Duration
}

func (h *latencyHist) summary() Latency {
	return Latency{Frames: h.n, P50: time.Duration(h.quantile(0.50)), P90: time.Duration(h.quantile(0.90)),
		P99: time.Duration(h.quantile(0.99)), Max: time.Duration(h.max)}
}

// statsFile is the JSON written to Options.StatsFile.
type statsFile struct {
	ReceiveToWriter struct {
		Frames int64 `json:"frames"`
		P50    int64 `json:"p50_ns"`
		P90    int64 `json:"p90_ns"`
		P99    int64 `json:"p99_ns"`
		Max    int64 `json:"max_ns"`
	} `json:"receive_to_writer"`
	Sources map[string]sourceFigures `json:"sources"`
}

type sourceFigures struct {
	Frames int64 `json:"frames"`
	Bytes  int64 `json:"bytes"`
	// Passes counts receive passes that found at least one frame: frames
	// per pass is how well wakeups are amortized.
	Passes  int64 `json:"passes"`
	ENOBUFS int64 `json:"enobufs"`
	Dropped int64 `json:"dropped"`
}

func (rc *recording) writeStats(path string, l Latency) error {
	var s statsFile
	s.ReceiveToWriter.Frames = l.Frames
	s.ReceiveToWriter.P50, s.ReceiveToWriter.P90 = int64(l.P50), int64(l.P90)
	s.ReceiveToWriter.P99, s.ReceiveToWriter.Max = int64(l.P99), int64(l.Max)
	s.Sources = map[string]sourceFigures{}
	for src, st := range rc.stats {
		s.Sources[src.String()] = sourceFigures{Frames: st.frames.Load(), Bytes: st.bytes.Load(),
			Passes: st.passes.Load(), ENOBUFS: st.enobufs.Load(), Dropped: st.dropped.Load()}
	}
	b, err := json.MarshalIndent(&s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// startCPUProfile starts a pprof CPU profile into path; the returned
// function stops it.
func startCPUProfile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("capture: CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("capture: CPU profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// ctraceInfo is what the benchmark takes from `ctrace info --format json`.
type ctraceInfo struct {
	AuditMode         string  `json:"audit_mode"`
	AuditFrames       int64   `json:"audit_frames"`
	ProcFrames        int64   `json:"proc_frames"`
	CompressedBytes   int64   `json:"compressed_bytes"`
	UncompressedBytes int64   `json:"uncompressed_bytes"`
	Ratio             float64 `json:"ratio"`
	Lost              int64   `json:"lost"`
	Losses            struct {
		KernelLost      int64 `json:"kernel_lost"`
		ENOBUFS         int64 `json:"enobufs"`
		RecorderDropped int64 `json:"recorder_dropped"`
		AuditSerialGaps int64 `json:"audit_serial_gaps"`
		ProcSeqGaps     int64 `json:"proc_seq_gaps"`
		TruncatedFrames int64 `json:"truncated_frames"`
	} `json:"losses"`
	Truncated   bool `json:"truncated"`
	DamageCount int  `json:"damage_count"`
}

func readInfo(ctrace, path string) (*ctraceInfo, error) {
	cmd := exec.Command(ctrace, "info", "--format", "json", path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ctrace info %s: %v: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	var in ctraceInfo
	if err := json.Unmarshal(out, &in); err != nil {
		return nil, fmt.Errorf("ctrace info %s: %w", path, err)
	}
	if in.Truncated || in.DamageCount > 0 {
		return &in, fmt.Errorf("ctrace info %s: the capture is truncated or damaged: %s", path, strings.TrimSpace(stderr.String()))
	}
	return &in, nil
}

// percentiles of a set of durations, in ns.
type percentiles struct {
	N                  int
	P50, P90, P99, Max int64
}

func percentilesOf(v []int64) percentiles {
	if len(v) == 0 {
		return percentiles{}
	}
	slices.Sort(v)
	at := func(q float64) int64 { return v[min(len(v)-1, int(q*float64(len(v))))] }
	return percentiles{N: len(v), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: v[len(v)-1]}
}

func (p percentiles) String() string {
	if p.N == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %s, p90 %s, p99 %s, max %s (%d frames)", ms(p.P50), ms(p.P90), ms(p.P99), ms(p.Max), p.N)
}

func ms(ns int64) string { return fmt.Sprintf("%.2f ms", float64(ns)/1e6) }

// lagOf measures, in a capture, how long frames took from the kernel to the
// recorder: for proc connector frames the event's own CLOCK_MONOTONIC stamp
// against the receive stamp (exact), for audit event frames the header's
// wall-clock time (taken at syscall entry, millisecond precision, jiffy
// granular) against the receive stamp put on the wall clock with the
// capture's clock pair.
func lagOf(path string) (proc, audit percentiles, err error) {
	r, err := format.Open(path)
	if err != nil {
		return proc, audit, err
	}
	defer r.Close()
	h := r.Header()
	order := replay.ByteOrderOf(h.ByteOrder)
	var pl, al []int64
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return proc, audit, err
		}
		switch rec.Source {
		case format.SourceProc:
			ev, err := replay.DecodeProc(rec.Data, order)
			if err != nil || ev.Kind == replay.ProcNone || ev.Timestamp == 0 {
				continue
			}
			pl = append(pl, rec.Mono-int64(ev.Timestamp))
		case format.SourceAudit:
			f, err := replay.DecodeAudit(rec.Data, order)
			if err != nil || f.Kind != replay.AuditEvent {
				continue
			}
			al = append(al, h.Clock.RealtimeOf(rec.Mono)-f.TimeMS*1e6)
		}
	}
	return percentilesOf(pl), percentilesOf(al), nil
}

// recorderStats is the file ctrace record writes when CTRACE_STATS names
// one (see capture/stats_linux.go).
type recorderStats struct {
	ReceiveToWriter struct {
		Frames int64 `json:"frames"`
		P50    int64 `json:"p50_ns"`
		P90    int64 `json:"p90_ns"`
		P99    int64 `json:"p99_ns"`
		Max    int64 `json:"max_ns"`
	} `json:"receive_to_writer"`
	Sources map[string]struct {
		Frames int64 `json:"frames"`
		Passes int64 `json:"passes"`
	} `json:"sources"`
}

// framesPerPass is how many frames a receive pass found on average: how
// well the recorder amortizes its wakeups.
func (s *recorderStats) framesPerPass() float64 {
	if s == nil {
		return 0
	}
	var f, p int64
	for _, src := range s.Sources {
		f += src.Frames
		p += src.Passes
	}
	if p == 0 {
		return 0
	}
	return float64(f) / float64(p)
}

func readRecorderStats(path string) *recorderStats {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var s recorderStats
	if json.Unmarshal(b, &s) != nil {
		return nil
	}
	return &s
}

func (s *recorderStats) handoff() percentiles {
	if s == nil {
		return percentiles{}
	}
	h := s.ReceiveToWriter
	return percentiles{N: int(h.Frames), P50: h.P50, P90: h.P90, P99: h.P99, Max: h.Max}
}

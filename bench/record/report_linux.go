//go:build linux

package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// median of the values f takes over the samples (NaN-free; the upper
// middle for an even count).
func median(ss []*sample, f func(*sample) float64) float64 {
	if len(ss) == 0 {
		return 0
	}
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// medianSample is the round whose rate is the median (for figures that are
// not reduced one by one, like latency percentiles).
func medianSample(ss []*sample) *sample {
	if len(ss) == 0 {
		return nil
	}
	c := slices.Clone(ss)
	slices.SortFunc(c, func(a, b *sample) int {
		switch {
		case a.rate < b.rate:
			return -1
		case a.rate > b.rate:
			return 1
		}
		return 0
	})
	return c[len(c)/2]
}

func perExec(n int64, s *sample) float64 {
	if s.iterations == 0 {
		return 0
	}
	return float64(n) / float64(s.iterations)
}

// summary holds the medians of one setup.
type summary struct {
	n          int
	rate       float64
	cpu        float64
	cpuPer1k   float64 // CPU ms per 1000 execs
	cpuAuditd  float64
	lostMax    int64
	bytesExec  float64
	rawExec    float64
	framesExec float64
	losses     lossTotals
}

// lossTotals add up ctrace's losses over every round.
type lossTotals struct {
	kernel, enobufs, gaps, procGaps, dropped, truncated int64
}

func (l lossTotals) total() int64 {
	return l.kernel + l.enobufs + l.gaps + l.procGaps + l.dropped + l.truncated
}

func summarize(ss []*sample) summary {
	m := summary{n: len(ss)}
	m.rate = median(ss, func(s *sample) float64 { return s.rate })
	m.cpu = median(ss, func(s *sample) float64 { return s.cpu })
	m.cpuPer1k = median(ss, func(s *sample) float64 { return 1e6 * s.cpu / float64(max(s.iterations, 1)) })
	m.cpuAuditd = median(ss, func(s *sample) float64 { return s.cpuAuditd })
	m.bytesExec = median(ss, func(s *sample) float64 { return perExec(s.outBytes, s) })
	m.rawExec = median(ss, func(s *sample) float64 { return perExec(s.rawBytes, s) })
	m.framesExec = median(ss, func(s *sample) float64 { return perExec(s.frames, s) })
	for _, s := range ss {
		m.lostMax = max(m.lostMax, s.lost)
		m.losses.kernel += max(s.lost, 0)
		if in := s.info; in != nil {
			m.losses.kernel = max(m.losses.kernel, in.Losses.KernelLost)
			m.losses.enobufs += in.Losses.ENOBUFS
			m.losses.gaps += in.Losses.AuditSerialGaps
			m.losses.procGaps += in.Losses.ProcSeqGaps
			m.losses.dropped += in.Losses.RecorderDropped
			m.losses.truncated += in.Losses.TruncatedFrames
		}
	}
	return m
}

// roundRatios divides f of setup a by f of setup b round by round (the
// setups of a round run back to back, so load on the machine that drifts
// between rounds mostly cancels out) and returns the median and the values.
func roundRatios(a, b []*sample, f func(*sample) float64) (float64, []float64) {
	var v []float64
	for i := 0; i < len(a) && i < len(b); i++ {
		if d := f(b[i]); d != 0 {
			v = append(v, f(a[i])/d)
		}
	}
	if len(v) == 0 {
		return 0, nil
	}
	sorted := slices.Clone(v)
	slices.Sort(sorted)
	return sorted[len(sorted)/2], v
}

func fmtRounds(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.2f", x)
	}
	return "rounds: " + strings.Join(s, " ")
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// report prints the tables and the targets; it returns false when a target
// is missed.
func (b *bench) report() bool {
	if len(b.results) == 0 {
		return false
	}
	w := os.Stdout
	host, _ := os.Hostname()
	var uts strings.Builder
	if k, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		uts.WriteString(strings.TrimSpace(string(k)))
	}
	fmt.Fprintf(w, "\nctrace recorder benchmark: %s, kernel %s, %d CPUs, %d storm workers, %v storms, auditd flush = %s\n",
		host, uts.String(), runtime.NumCPU(), b.cfg.workers, time.Duration(b.cfg.secs*float64(time.Second)), b.cfg.flush)
	fmt.Fprintf(w, "rule set: ctrace's defaults (`ctrace record --print-rules`, %d rules), backlog limit 8192, for every setup\n", len(b.defaults))
	allMet := true
	var md []string
	for _, storm := range b.cfg.storms {
		rs := b.results[storm]
		if rs == nil {
			continue
		}
		sum := map[string]summary{}
		for setup, ss := range rs {
			sum[setup] = summarize(ss)
		}
		n := 0
		for _, ss := range rs {
			n = max(n, len(ss))
		}
		fmt.Fprintf(w, "\n%s storm: median of %d round(s)\n", storm, n)
		fmt.Fprintf(w, "%-24s %9s %8s %10s %12s %6s %12s %10s\n", "setup", "execs/s", "vs off", "CPU s", "CPU ms/1k", "lost", "out B/exec", "frames/ex")
		off := sum[setupOff].rate
		for _, setup := range allSetups {
			ss, ok := rs[setup]
			if !ok {
				continue
			}
			m := sum[setup]
			row := fmt.Sprintf("%-24s %9.0f %8s", setupTitle[setup], m.rate, fmtRatio(ratio(m.rate, off), off > 0))
			switch setup {
			case setupOff:
				row += fmt.Sprintf(" %10s %12s %6s %12s %10s", "-", "-", "-", "-", "-")
			case setupDiscard:
				row += fmt.Sprintf(" %10.2f %12.1f %6d %12s %10.1f", m.cpu, m.cpuPer1k, m.lostMax, fmt.Sprintf("(raw %.0f)", m.rawExec), m.framesExec)
			case setupAuditd:
				row += fmt.Sprintf(" %10.2f %12.1f %6d %12.0f %10s", m.cpu, m.cpuPer1k, m.lostMax, m.bytesExec, "-")
			case setupCtrace, setupMulticast:
				row += fmt.Sprintf(" %10.2f %12.1f %6d %12.0f %10.1f", m.cpu, m.cpuPer1k, m.lostMax, m.bytesExec, m.framesExec)
				if setup == setupMulticast {
					row += fmt.Sprintf("   (auditd beside it: %.2f CPU s)", m.cpuAuditd)
				}
			}
			fmt.Fprintln(w, row)
			_ = ss
		}
		c, okC := sum[setupCtrace]
		_, okD := sum[setupDiscard]
		_, okA := sum[setupAuditd]
		var rateR, cpuR, cpuExecR, bytesR float64
		fmt.Fprintf(w, "targets (%s storm), median of the rounds' ratios:\n", storm)
		if okC && okD {
			var v []float64
			rateR, v = roundRatios(rs[setupCtrace], rs[setupDiscard], func(s *sample) float64 { return s.rate })
			ok := rateR >= 0.9
			allMet = allMet && ok
			fmt.Fprintf(w, "  exec rate, ctrace / discard-only:   %.2f  (target >= 0.90)  %s   (%s)\n", rateR, verdict(ok), fmtRounds(v))
		}
		if okC && okA {
			var v, ve, vb []float64
			cpuR, v = roundRatios(rs[setupCtrace], rs[setupAuditd], func(s *sample) float64 { return s.cpu })
			cpuExecR, ve = roundRatios(rs[setupCtrace], rs[setupAuditd], func(s *sample) float64 { return s.cpu / float64(max(s.iterations, 1)) })
			ok := cpuR <= 0.5
			allMet = allMet && ok
			fmt.Fprintf(w, "  CPU, ctrace / auditd:               %.2f  (target <= 0.50)  %s   (%s; per exec %.2f, %s)\n", cpuR, verdict(ok), fmtRounds(v), cpuExecR, fmtRounds(ve))
			bytesR, vb = roundRatios(rs[setupCtrace], rs[setupAuditd], func(s *sample) float64 { return perExec(s.outBytes, s) })
			ok = bytesR <= 0.1
			allMet = allMet && ok
			fmt.Fprintf(w, "  bytes per exec, ctrace / auditd:    %.3f (target <= 0.10)  %s   (%s)\n", bytesR, verdict(ok), fmtRounds(vb))
		}
		if okC {
			l := c.losses
			ok := l.total() == 0
			allMet = allMet && ok
			fmt.Fprintf(w, "  lost in unicast over %d round(s):    %d  (kernel %d, ENOBUFS %d, audit serial gaps %d, proc seq gaps %d, recorder drops %d, truncated %d; target 0)  %s\n",
				c.n, l.total(), l.kernel, l.enobufs, l.gaps, l.procGaps, l.dropped, l.truncated, verdict(ok))
			if ms := medianSample(rs[setupCtrace]); ms != nil {
				fmt.Fprintf(w, "  latency (median round): proc event -> receive: %s\n", ms.procLag)
				fmt.Fprintf(w, "                          audit syscall entry -> receive (coarse wall clock, 4 ms steps): %s\n", ms.auditLag)
				fmt.Fprintf(w, "                          receive -> writer (chunk queued and taken): %s\n", ms.handoff)
				if ms.framesPerPass > 0 {
					fmt.Fprintf(w, "                          frames per receive pass: %.1f\n", ms.framesPerPass)
				}
			}
		}
		if mc, ok := sum[setupMulticast]; ok {
			l := mc.losses
			fmt.Fprintf(w, "  multicast (ctrace beside auditd) over %d round(s): lost %d (ENOBUFS %d, audit serial gaps %d, proc seq gaps %d, recorder drops %d); auditd's kernel lost counter: max %d per round\n",
				mc.n, l.enobufs+l.gaps+l.procGaps+l.dropped+l.truncated, l.enobufs, l.gaps, l.procGaps, l.dropped, mc.lostMax)
		}
		md = append(md, b.markdown(storm, sum, rateR, cpuR, bytesR)...)
	}
	fmt.Fprintf(w, "\nREADME table (one run of `make bench-record`):\n\n%s\n", strings.Join(md, "\n"))
	return allMet
}

func fmtRatio(r float64, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.2f", r)
}

// markdown is the README's table for one storm.
func (b *bench) markdown(storm string, sum map[string]summary, rateR, cpuR, bytesR float64) []string {
	var out []string
	out = append(out, fmt.Sprintf("%s storm (median of %d rounds of %gs):", storm, b.cfg.runs, b.cfg.secs), "",
		"| setup | execs/s | collector CPU s | CPU ms per 1k execs | kernel lost | output bytes/exec |",
		"|---|---|---|---|---|---|")
	for _, setup := range allSetups {
		m, ok := sum[setup]
		if !ok {
			continue
		}
		switch setup {
		case setupOff:
			out = append(out, fmt.Sprintf("| %s | %.0f | - | - | - | - |", setupTitle[setup], m.rate))
		case setupDiscard:
			out = append(out, fmt.Sprintf("| %s | %.0f | %.2f | %.1f | %d | (%.0f received) |", setupTitle[setup], m.rate, m.cpu, m.cpuPer1k, m.lostMax, m.rawExec))
		case setupAuditd:
			out = append(out, fmt.Sprintf("| %s | %.0f | %.2f | %.1f | %d | %.0f |", setupTitle[setup], m.rate, m.cpu, m.cpuPer1k, m.lostMax, m.bytesExec))
		case setupCtrace:
			out = append(out, fmt.Sprintf("| %s | %.0f | %.2f | %.1f | %d | %.0f |", setupTitle[setup], m.rate, m.cpu, m.cpuPer1k, m.lostMax, m.bytesExec))
		case setupMulticast:
			l := m.losses
			out = append(out, fmt.Sprintf("| %s | %.0f | %.2f (auditd %.2f) | %.1f | %d | %.0f; lost by ctrace: ENOBUFS %d, serial gaps %d |",
				setupTitle[setup], m.rate, m.cpu, m.cpuAuditd, m.cpuPer1k, m.lostMax, m.bytesExec, l.enobufs, l.gaps))
		}
	}
	if c, ok := sum[setupCtrace]; ok {
		var r []string
		if _, ok := sum[setupDiscard]; ok {
			r = append(r, fmt.Sprintf("exec rate ctrace/discard-only **%.2f** (target >= 0.9)", rateR))
		}
		if _, ok := sum[setupAuditd]; ok {
			r = append(r, fmt.Sprintf("CPU ctrace/auditd **%.2f** (<= 0.5)", cpuR),
				fmt.Sprintf("bytes per exec ctrace/auditd **%.3f** (<= 0.1)", bytesR))
		}
		r = append(r, fmt.Sprintf("lost in unicast over %d rounds **%d** (0: kernel, ENOBUFS, serial gaps, proc sequence gaps, recorder drops)", c.n, c.losses.total()))
		if m, ok := sum[setupMulticast]; ok {
			l := m.losses
			r = append(r, fmt.Sprintf("lost by ctrace beside auditd over %d rounds %d (ENOBUFS %d, serial gaps %d)", m.n, l.enobufs+l.gaps+l.procGaps+l.dropped+l.truncated, l.enobufs, l.gaps))
		}
		out = append(out, "", "Ratios (median of the rounds' ratios; setups of a round run back to back): "+strings.Join(r, "; ")+".")
		if ms := medianSample(b.results[storm][setupCtrace]); ms != nil && ms.handoff.N > 0 {
			out = append(out, fmt.Sprintf("Latency (ctrace, median round): proc event to receive p50 %s, p99 %s; receive to writer p50 %s, p99 %s, max %s; %.0f frames per receive pass.",
				ms2(ms.procLag.P50), ms2(ms.procLag.P99), ms2(ms.handoff.P50), ms2(ms.handoff.P99), ms2(ms.handoff.Max), ms.framesPerPass))
		}
		out = append(out, "")
	}
	return out
}

func ms2(ns int64) string { return fmt.Sprintf("%.1f ms", float64(ns)/1e6) }

//go:build linux

package main

import (
	"os"
	"strings"
	"testing"
)

func TestParseStatCPU(t *testing.T) {
	// comm may hold spaces and parentheses; utime and stime are fields 14, 15.
	line := "4242 (a b) c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 1234 0 0"
	got, err := parseStatCPU(line, 100)
	if err != nil || got != 3.25 {
		t.Fatalf("got %v, %v; want 3.25", got, err)
	}
	if _, err := parseStatCPU("4242 (x) S 1", 100); err == nil {
		t.Fatal("short line accepted")
	}
	self, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip(err)
	}
	if _, err := parseStatCPU(string(self), clockTicks); err != nil {
		t.Fatalf("own stat line: %v", err)
	}
}

func TestRulesFor(t *testing.T) {
	defaults := []string{
		"-a always,exit -F arch=b64 -S execve,clone -F pid!=17 -k ctrace",
		"-a always,exit -F arch=b64 -S openat -F a2&0x643 -F pid!=17 -k ctrace",
	}
	for _, r := range rulesFor(defaults, 4242) {
		if !strings.Contains(r, "-F pid!=4242 ") || strings.Contains(r, "pid!=17") {
			t.Fatalf("rule %q does not exclude the collector", r)
		}
	}
}

func TestMedianAndPercentiles(t *testing.T) {
	ss := []*sample{{rate: 3}, {rate: 1}, {rate: 2}}
	if m := median(ss, func(s *sample) float64 { return s.rate }); m != 2 {
		t.Fatalf("median %v", m)
	}
	if m := medianSample(ss); m.rate != 2 {
		t.Fatalf("median sample %v", m.rate)
	}
	v := make([]int64, 100)
	for i := range v {
		v[i] = int64(100 - i)
	}
	p := percentilesOf(v)
	if p.N != 100 || p.P50 != 51 || p.P99 != 100 || p.Max != 100 {
		t.Fatalf("percentiles %+v", p)
	}
}

func TestRoundRatios(t *testing.T) {
	a := []*sample{{rate: 90}, {rate: 50}, {rate: 200}}
	b := []*sample{{rate: 100}, {rate: 100}, {rate: 200}}
	m, v := roundRatios(a, b, func(s *sample) float64 { return s.rate })
	if m != 0.9 || len(v) != 3 || v[0] != 0.9 || v[1] != 0.5 || v[2] != 1 {
		t.Fatalf("median %v, ratios %v", m, v)
	}
	if m, v := roundRatios(a, nil, func(s *sample) float64 { return s.rate }); m != 0 || v != nil {
		t.Fatalf("no rounds: %v %v", m, v)
	}
}

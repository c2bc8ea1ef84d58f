package replay

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ctrace/ctrace/format"
)

func procExecDatagram(cpu, seq uint32, pid uint32) []byte {
	b := make([]byte, 16+20+16+8)
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	binary.LittleEndian.PutUint16(b[4:], 3)
	binary.LittleEndian.PutUint32(b[16:], 1)
	binary.LittleEndian.PutUint32(b[20:], 1)
	binary.LittleEndian.PutUint32(b[24:], seq)
	binary.LittleEndian.PutUint16(b[32:], 24)
	binary.LittleEndian.PutUint32(b[36:], 2) // PROC_EVENT_EXEC
	binary.LittleEndian.PutUint32(b[40:], cpu)
	binary.LittleEndian.PutUint32(b[52:], pid)
	binary.LittleEndian.PutUint32(b[56:], pid)
	return b
}

// writeSummaryCapture makes a capture with known contents and losses.
func writeSummaryCapture(t *testing.T, closeIt bool) string {
	p := filepath.Join(t.TempDir(), "s.ctr")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	clock := format.ClockPair{RealtimeNS: 1_700_000_000_000_000_000, MonotonicNS: 1_000_000_000}
	w, err := format.NewWriter(f, format.Header{Kind: "record", Hostname: "h", ByteOrder: "little",
		AuditMode: "unicast", Proc: true, Clock: clock, Rules: []string{"-a always,exit -S execve -k ctrace"},
		Command: []string{"make", "test"}}, format.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mono := int64(1_000_000_000)
	rec := func(src format.Source, data []byte) {
		mono += 1_000_000
		if err := w.WriteRecord(src, 0, mono, data); err != nil {
			t.Fatal(err)
		}
	}
	note := func(n format.Note) {
		b, _ := json.Marshal(n)
		rec(format.SourceNote, b)
	}
	lost0, lost1 := uint32(5), uint32(7)
	note(format.Note{Kind: "audit_status", Text: "start", Status: &format.AuditStatus{Lost: lost0}})
	for _, serial := range []int{10, 12, 11, 15} { // 13 and 14 never seen
		rec(format.SourceAudit, auditDatagram(binary.LittleEndian, 1300, fmt.Appendf(nil, "audit(1700000000.%03d:%d): arch=c000003e syscall=59", serial, serial), false))
		rec(format.SourceAudit, auditDatagram(binary.LittleEndian, 1320, fmt.Appendf(nil, "audit(1700000000.%03d:%d): ", serial, serial), false))
	}
	for _, s := range []uint32{1, 2, 3, 6} { // 4 and 5 lost on cpu 0
		rec(format.SourceProc, procExecDatagram(0, s, 100+s))
	}
	rec(format.SourceProc, procExecDatagram(1, 40, 200))
	for _, pt := range [][2]int{{1, 1}, {50, 50}, {50, 51}} {
		b, _ := json.Marshal(format.SnapshotProcess{PID: pt[0], TID: pt[1]})
		rec(format.SourceSnapshot, b)
	}
	note(format.Note{Kind: "enobufs", Source: "proc", Count: 1})
	note(format.Note{Kind: "dropped", Source: "audit", Count: 3, Bytes: 900})
	note(format.Note{Kind: "command_start", PID: 4242})
	code := 2
	note(format.Note{Kind: "command_exit", PID: 4242, ExitCode: &code})
	note(format.Note{Kind: "audit_status", Text: "stop", Status: &format.AuditStatus{Lost: lost1}})
	if closeIt {
		tr := format.Trailer{EndClock: format.ClockPair{RealtimeNS: clock.RealtimeNS + 5e9, MonotonicNS: clock.MonotonicNS + 5e9},
			StopReason: "command", CommandPID: 4242, CommandExitCode: &code,
			Loss: format.Loss{KernelLostBefore: lost0, KernelLostAfter: lost1,
				ENOBUFS: map[string]int64{"proc": 1}, RecorderDropped: map[string]int64{"audit": 3}}}
		if err := w.Close(tr); err != nil {
			t.Fatal(err)
		}
	} else if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSummarize(t *testing.T) {
	for _, closed := range []bool{true, false} {
		t.Run(fmt.Sprintf("closed=%v", closed), func(t *testing.T) {
			s, err := Summarize(writeSummaryCapture(t, closed), nil)
			if err != nil {
				t.Fatal(err)
			}
			if s.AuditFrames != 8 || s.ProcFrames != 5 || s.SnapshotRecords != 3 || s.SnapshotProcesses != 2 || s.NoteRecords != 6 {
				t.Errorf("frames: %+v", s)
			}
			want := Losses{KernelLost: 2, ENOBUFS: 1, RecorderDropped: 3, AuditSerialGaps: 2, ProcSeqGaps: 2}
			if s.Losses != want {
				t.Errorf("losses %+v, want %+v", s.Losses, want)
			}
			if s.Lost != 10 {
				t.Errorf("lost %d, want 10", s.Lost)
			}
			if s.Truncated == closed {
				t.Errorf("truncated = %v for closed=%v", s.Truncated, closed)
			}
			if s.CommandPID != 4242 || s.CommandExitCode == nil || *s.CommandExitCode != 2 || s.Command != "make test" {
				t.Errorf("command %q pid %d exit %v", s.Command, s.CommandPID, s.CommandExitCode)
			}
			if s.Start != "2023-11-14T22:13:20Z" {
				t.Errorf("start %s", s.Start)
			}
			if closed && (s.End != "2023-11-14T22:13:25Z" || s.StopReason != "command") {
				t.Errorf("end %s stop %q", s.End, s.StopReason)
			}
			if s.Segments != 1 || s.Ratio <= 0 || s.UncompressedBytes <= 0 {
				t.Errorf("segments %d ratio %v", s.Segments, s.Ratio)
			}
		})
	}
}

package groundtruth

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

var le = binary.LittleEndian

// auditFrame builds an audit datagram as the recorder stores it.
func auditFrame(typ uint16, serial int, body string) []byte {
	payload := fmt.Sprintf("audit(1700000000.%03d:%d): %s", serial%1000, serial, body)
	b := make([]byte, 16, 16+len(payload))
	le.PutUint32(b[0:], uint32(len(payload)))
	le.PutUint16(b[4:], typ)
	return append(b, payload...)
}

// ackFrame is an NLMSG_ERROR acknowledgement.
func ackFrame() []byte {
	b := make([]byte, 16+20)
	le.PutUint32(b[0:], uint32(len(b)))
	le.PutUint16(b[4:], replay.NlmsgError)
	return b
}

// The synthetic captures' clock: monotonic 0 is the wall clock's
// 1700000000 s, the second of the audit records' stamps.
var synthClock = format.ClockPair{RealtimeNS: 1700000000e9, MonotonicNS: 0}

// procFrame builds a proc connector datagram: what, then the union's words.
// Its kernel time is seq*1 ms, or ms when given.
func procFrame(what uint32, seq uint32, words ...uint32) []byte {
	return procFrameAt(what, seq, float64(seq), words...)
}

func procFrameAt(what uint32, seq uint32, ms float64, words ...uint32) []byte {
	b := make([]byte, 16+20+16+4*6)
	le.PutUint32(b[0:], uint32(len(b)))
	le.PutUint16(b[4:], replay.NlmsgDone)
	cn := b[16:]
	le.PutUint32(cn[0:], 1) // CN_IDX_PROC
	le.PutUint32(cn[4:], 1) // CN_VAL_PROC
	le.PutUint32(cn[8:], seq)
	le.PutUint16(cn[16:], uint16(16+4*6))
	pe := cn[20:]
	le.PutUint32(pe[0:], what)
	le.PutUint64(pe[8:], uint64(ms*1e6))
	for i, w := range words {
		le.PutUint32(pe[16+4*i:], w)
	}
	return b
}

func fork(ppid, ptgid, pid, tgid uint32, seq uint32, ms float64) []byte {
	return procFrameAt(replay.ProcWhatFork, seq, ms, ppid, ptgid, pid, tgid)
}

func exit(pid, tgid, code uint32, seq uint32, ms float64) []byte {
	return procFrameAt(replay.ProcWhatExit, seq, ms, pid, tgid, code, 17, 0, 0)
}

func syscallBody(nr int, exit int, pid, ppid int) string {
	return fmt.Sprintf("arch=c000003e syscall=%d success=yes exit=%d a0=0 a1=0 a2=0 a3=0 items=0 ppid=%d pid=%d comm=\"x\" exe=\"/bin/x\" key=\"ctrace\"", nr, exit, ppid, pid)
}

type testRecord struct {
	src  format.Source
	data []byte
	keep bool
}

// The synthetic capture: recorder 50, command 100, host processes 300 and
// 400. 101 is a thread of 100; 102 a process forked by that thread; 103 a
// process only audit shows (clone by 100); 104 its child, known only by its
// ppid; a host process later reuses the thread id 101. The audit stamps are
// at SERIAL ms, the proc events at the ms given (the clock is synthClock).
func syntheticRecords() []testRecord {
	note, _ := json.Marshal(format.Note{Kind: "command_start", PID: 100, Text: "./w /d"})
	snap, _ := json.Marshal(format.SnapshotProcess{PID: 300, TID: 300, PPID: 1, Comm: "host"})
	const ncClone, ncExecve, ncOpenat, ncExitGroup = 56, 59, 257, 231
	return []testRecord{
		{format.SourceSnapshot, snap, false},
		{format.SourceNote, note, true},
		{format.SourceAudit, ackFrame(), false},
		{format.SourceProc, procFrame(replay.ProcWhatNone, 0), false},
		{format.SourceAudit, auditFrame(1305, 9, `op=add_rule key="ctrace" list=4 res=1`), false}, // CONFIG_CHANGE, recorder
		{format.SourceAudit, auditFrame(replay.TypeSyscall, 9, syscallBody(44, 1064, 50, 1)), false},
		{format.SourceProc, fork(50, 50, 100, 100, 1, 1), true},
		{format.SourceProc, fork(50, 50, 101, 100, 2, 2), true}, // thread: parent is the process's parent
		{format.SourceProc, fork(101, 100, 102, 102, 3, 3), true},
		{format.SourceProc, fork(1, 1, 300, 300, 4, 4), false},
		// 104 before the event that puts its parent 103 in the set.
		{format.SourceAudit, auditFrame(replay.TypeSyscall, 14, syscallBody(ncOpenat, 3, 104, 103)), true},
		{format.SourceAudit, auditFrame(1302, 14, `item=0 name="/d/f" nametype=CREATE`), true},
		{format.SourceAudit, auditFrame(replay.TypeEOE, 14, ""), true},
		{format.SourceAudit, auditFrame(replay.TypeSyscall, 10, syscallBody(ncClone, 101, 100, 50)), true},
		{format.SourceAudit, auditFrame(replay.TypeSyscall, 11, syscallBody(ncClone, 103, 100, 50)), true},
		{format.SourceAudit, auditFrame(replay.TypeSyscall, 12, syscallBody(ncExecve, 0, 103, 100)), true},
		{format.SourceAudit, auditFrame(replay.TypeExecve, 12, `argc=1 a0="/bin/x"`), true},
		{format.SourceAudit, auditFrame(replay.TypeSyscall, 13, syscallBody(ncOpenat, 3, 300, 1)), false},
		{format.SourceAudit, auditFrame(1302, 13, `item=0 name="/etc/x" nametype=NORMAL`), false},
		// A record that arrives before its SYSCALL.
		{format.SourceAudit, auditFrame(1302, 16, `item=0 name="/d/g" nametype=CREATE`), true},
		{format.SourceAudit, auditFrame(replay.TypeSyscall, 16, syscallBody(ncOpenat, 3, 102, 101)), true},
		{format.SourceAudit, auditFrame(1701, 15, `auid=0 uid=0 gid=0 ses=1 pid=102 comm="x" exe="/bin/x" sig=11 res=1`), true}, // ANOM_ABEND
		{format.SourceProc, exit(102, 102, 11, 5, 16.5), true},
		{format.SourceProc, exit(300, 300, 0, 6, 16.6), false},
		{format.SourceProc, exit(101, 100, 0, 7, 16.7), true},
		{format.SourceProc, fork(1, 1, 101, 101, 8, 16.8), false}, // tid 101 reused by a host process
		{format.SourceAudit, auditFrame(replay.TypeSyscall, 17, syscallBody(ncOpenat, 3, 101, 1)), false},
		{format.SourceAudit, auditFrame(replay.TypeSyscall, 18, syscallBody(ncExitGroup, 0, 100, 50)), true},
		{format.SourceProc, exit(100, 100, 0, 9, 19), true},
	}
}

func writeCapture(t *testing.T, file string, recs []testRecord, trailer *format.Trailer) {
	t.Helper()
	h := format.Header{FormatVersion: format.Version, Kind: "record", Hostname: "build-host-7", BootID: "0f0e-boot",
		KernelRelease: "6.1.0", KernelVersion: "#1 SMP Debian 6.1.1 (2024-01-01)", Machine: "x86_64", ByteOrder: "little",
		AuditMode: "unicast", Proc: true, Snapshot: true, RecorderPID: 50, Command: []string{"./w", "/d"}, Clock: synthClock}
	var buf bytes.Buffer
	w, err := format.NewWriter(&buf, h, format.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if err := w.WriteRecord(r.src, 0, int64(1000+i), r.data); err != nil {
			t.Fatal(err)
		}
	}
	if trailer != nil {
		err = w.Close(*trailer)
	} else {
		err = w.Flush()
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readRecords(t *testing.T, file string) (*format.Reader, [][]byte) {
	t.Helper()
	r, err := format.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	var out [][]byte
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.Clone(rec.Data))
	}
	return r, out
}

// TestExtractWorkload: `ctrace extract --command --redact-host` keeps what
// the pid-lineage oracle calls the workload, byte for byte, and nothing
// else; CheckWorkloadOnly and CheckOnlyWorkload fail on the whole capture
// and pass on the extract; extracting again keeps everything.
func TestExtractWorkload(t *testing.T) {
	for _, closed := range []bool{true, false} {
		t.Run(fmt.Sprintf("trailer=%v", closed), func(t *testing.T) {
			dir := t.TempDir()
			in, out := filepath.Join(dir, "in.ctr"), filepath.Join(dir, "out.ctr")
			recs := syntheticRecords()
			var tr *format.Trailer
			if closed {
				code := 0
				tr = &format.Trailer{StopReason: "command", CommandPID: 100, CommandExitCode: &code}
			}
			writeCapture(t, in, recs, tr)
			if len(CheckWorkloadOnly(in)) == 0 || len(CheckOnlyWorkload(in)) == 0 {
				t.Fatal("the checks find nothing wrong with the whole capture")
			}
			if err := ExtractWorkload(ctrace(t), in, out); err != nil {
				t.Fatal(err)
			}
			r, got := readRecords(t, out)
			var want [][]byte
			for _, rec := range recs {
				if rec.keep {
					want = append(want, rec.data)
				}
			}
			if !slices.EqualFunc(got, want, bytes.Equal) {
				t.Errorf("kept %d records, want %d", len(got), len(want))
				for i := 0; i < len(got) || i < len(want); i++ {
					var g, w string
					if i < len(got) {
						g = strings.ToValidUTF8(string(got[i][16:]), "?")
					}
					if i < len(want) {
						w = strings.ToValidUTF8(string(want[i][16:]), "?")
					}
					if g != w {
						t.Errorf("record %d:\n  got  %q\n  want %q", i, g, w)
						break
					}
				}
			}
			h := r.Header()
			if h.Hostname != TestHostname || h.BootID != "" || h.KernelVersion != "" || h.RecorderPID != 50 ||
				h.KernelRelease != "6.1.0" || h.Kind != "extract" || h.ExtractedFrom != "in.ctr" || h.OriginalLosses == nil {
				t.Errorf("header %+v", h)
			}
			if closed {
				if r.Trailer() == nil || r.Trailer().CommandPID != 100 || r.Trailer().Frames["audit"] == 0 {
					t.Errorf("trailer %+v", r.Trailer())
				}
			} else if r.Trailer() != nil || !r.Truncated() {
				t.Errorf("an unclosed capture gave trailer %+v", r.Trailer())
			}
			for _, e := range CheckWorkloadOnly(out) {
				if !strings.Contains(e, "snapshot") { // the header says the recording took one
					t.Errorf("extract: %s", e)
				}
			}
			for _, e := range CheckOnlyWorkload(out) {
				t.Errorf("extract: %s", e)
			}
		})
	}
}

func TestWorkloadSet(t *testing.T) {
	file := filepath.Join(t.TempDir(), "in.ctr")
	writeCapture(t, file, syntheticRecords(), nil)
	c, err := LoadCapture(file)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for pid := range c.WorkloadSet(100) {
		got = append(got, pid)
	}
	slices.Sort(got)
	if want := []int{100, 102, 103, 104}; !slices.Equal(got, want) {
		t.Errorf("workload set %v, want %v (the thread 101 is not a process)", got, want)
	}
}

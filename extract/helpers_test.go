package extract

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

var le = binary.LittleEndian

// The synthetic captures' clocks: wall clock R0 at monotonic M0 and boot
// time B0. A record "at ms" is at monotonic M0 + ms.
const (
	R0 = int64(1_700_000_000_000_000_000)
	M0 = int64(5_000_000_000)
	B0 = int64(6_000_000_000)
)

// trec is one record of a synthetic capture, with a label for the tests.
type trec struct {
	label string
	src   format.Source
	mono  int64
	data  []byte
	seg   int // segment index (records must come by segment)
}

// tcap builds a synthetic capture.
type tcap struct {
	hdr     format.Header
	recs    []trec
	seg     int
	clocks  []format.ClockPair // per segment
	trailer *format.Trailer
}

func newTCap() *tcap {
	clock := format.ClockPair{RealtimeNS: R0, MonotonicNS: M0, BoottimeNS: B0}
	return &tcap{
		hdr: format.Header{Kind: "record", CtraceVersion: "test", Hostname: "build-7.example.com", BootID: "b00t-1d",
			KernelRelease: "6.1.0", KernelVersion: "#1 SMP build string", Machine: "x86_64", ByteOrder: "little",
			Clock: clock, AuditMode: "unicast", Proc: true, Snapshot: true, RecorderPID: 50,
			Command: []string{"./w", "/home/alice/d"}, Rules: []string{"-w /home/alice/secret-dir -p wa -k hunter2"}},
		clocks: []format.ClockPair{clock},
	}
}

// newSegment starts a new segment whose clock pair is the header's with
// the wall clock stepped by step ns.
func (c *tcap) newSegment(step int64) {
	c.seg++
	cl := c.hdr.Clock
	cl.RealtimeNS += step
	c.clocks = append(c.clocks, cl)
}

func (c *tcap) add(label string, src format.Source, ms float64, data []byte) {
	c.recs = append(c.recs, trec{label, src, M0 + int64(ms*1e6), data, c.seg})
}

// auditFrame is an audit datagram: nlmsg_len the payload's length
// (unicast) or the datagram's (multicast).
func auditFrame(typ uint16, ms, serial int, body string, multicast bool) []byte {
	payload := fmt.Sprintf("audit(1700000000.%03d:%d): %s", ms, serial, body)
	b := make([]byte, 16, 16+len(payload))
	n := len(payload)
	if multicast {
		n += 16
	}
	le.PutUint32(b[0:], uint32(n))
	le.PutUint16(b[4:], typ)
	return append(b, payload...)
}

// event adds the records of one audit event (one label for all).
func (c *tcap) event(label string, ms, serial int, recs ...string) {
	for _, r := range recs {
		typ, body, _ := strings.Cut(r, " ")
		t, err := replay.TypeFromName(typ)
		if err != nil {
			panic(err)
		}
		c.add(label, format.SourceAudit, float64(ms), auditFrame(t, ms, serial, body, false))
	}
	c.add(label, format.SourceAudit, float64(ms), auditFrame(replay.TypeEOE, ms, serial, "", false))
}

func sc(nr, exit, pid, ppid int, comm, exe string) string {
	return fmt.Sprintf(`SYSCALL arch=c000003e syscall=%d success=yes exit=%d a0=ffffff9c a1=0 a2=241 a3=0 items=1 ppid=%d pid=%d auid=0 uid=0 comm=%s exe=%s key="ctrace"`,
		nr, exit, ppid, pid, encField(comm), encField(exe))
}

func exitGroup(pid, ppid int) string {
	return fmt.Sprintf(`SYSCALL arch=c000003e syscall=231 a0=0 a1=0 a2=0 a3=0 items=0 ppid=%d pid=%d auid=0 uid=0 comm="w" exe="/home/alice/w" key="ctrace"`, ppid, pid)
}

func encField(s string) string {
	v, q := replay.EncodeUntrustedString(s)
	if q {
		return `"` + v + `"`
	}
	return v
}

func execveRec(argv ...string) string {
	s := fmt.Sprintf("EXECVE argc=%d", len(argv))
	for i, a := range argv {
		s += fmt.Sprintf(" a%d=%s", i, encField(a))
	}
	return s
}

func proctitleRec(argv ...string) string {
	v, q := replay.EncodeUntrustedString(strings.Join(argv, "\x00"))
	if q {
		v = `"` + v + `"`
	}
	return "PROCTITLE proctitle=" + v
}

func cwdRec(cwd string) string { return "CWD cwd=" + encField(cwd) }

func pathRec(item int, name, nametype string) string {
	return fmt.Sprintf("PATH item=%d name=%s inode=%d dev=fd:01 mode=0100644 nametype=%s", item, encField(name), 1000+item, nametype)
}

// procFrame is a proc connector datagram at ms (its kernel timestamp is the
// monotonic time).
func procFrame(what uint32, seq uint32, ms float64, words ...uint32) []byte {
	b := make([]byte, 16+20+16+4*6)
	le.PutUint32(b[0:], uint32(len(b)))
	le.PutUint16(b[4:], replay.NlmsgDone)
	cn := b[16:]
	le.PutUint32(cn[0:], 1)
	le.PutUint32(cn[4:], 1)
	le.PutUint32(cn[8:], seq)
	le.PutUint16(cn[16:], uint16(16+4*6))
	pe := cn[20:]
	le.PutUint32(pe[0:], what)
	le.PutUint64(pe[8:], uint64(M0+int64(ms*1e6)))
	for i, w := range words {
		le.PutUint32(pe[16+4*i:], w)
	}
	return b
}

func (c *tcap) proc(label string, ms float64, what uint32, words ...uint32) {
	seq := uint32(0)
	for _, r := range c.recs {
		if r.src == format.SourceProc {
			seq++
		}
	}
	c.add(label, format.SourceProc, ms, procFrame(what, seq, ms, words...))
}

func (c *tcap) fork(label string, ms float64, parent, child int) {
	c.proc(label, ms, replay.ProcWhatFork, uint32(parent), uint32(parent), uint32(child), uint32(child))
}

func (c *tcap) exec(label string, ms float64, pid int) {
	c.proc(label, ms, replay.ProcWhatExec, uint32(pid), uint32(pid))
}

func (c *tcap) exit(label string, ms float64, pid, parent int, status uint32) {
	c.proc(label, ms, replay.ProcWhatExit, uint32(pid), uint32(pid), status, 17, uint32(parent), uint32(parent))
}

func (c *tcap) comm(label string, ms float64, pid int, comm string) {
	b := procFrame(replay.ProcWhatComm, 0, ms, uint32(pid), uint32(pid))
	copy(b[procCommOffset:procCommOffset+16], comm)
	seq := uint32(0)
	for _, r := range c.recs {
		if r.src == format.SourceProc {
			seq++
		}
	}
	le.PutUint32(b[16+8:], seq)
	c.add(label, format.SourceProc, ms, b)
}

func (c *tcap) snap(label string, p format.SnapshotProcess) {
	b, _ := json.Marshal(p)
	c.add(label, format.SourceSnapshot, 0, b)
}

func (c *tcap) note(label string, n format.Note) {
	b, _ := json.Marshal(n)
	c.add(label, format.SourceNote, 0, b)
}

// write writes the capture to a file and returns its path.
func (c *tcap) write(t testing.TB) string {
	t.Helper()
	var buf bytes.Buffer
	seg := 0
	w, err := format.NewWriter(&buf, c.hdr, format.WriterOptions{
		SegmentBytes: 1 << 30,
		Clock:        func() format.ClockPair { return c.clocks[seg] },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.recs {
		if r.seg != seg {
			if err := w.CloseSegment(); err != nil {
				t.Fatal(err)
			}
			seg = r.seg
		}
		if err := w.WriteRecord(r.src, 0, r.mono, r.data); err != nil {
			t.Fatal(err)
		}
	}
	if c.trailer != nil {
		err = w.Close(*c.trailer)
	} else {
		err = w.Flush()
	}
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "in.ctr")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// readAll returns the records of a capture (data copied) and its reader,
// after EOF.
func readAll(t testing.TB, file string) ([]format.Record, *format.Reader) {
	t.Helper()
	r, err := format.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	var out []format.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rec.Data = bytes.Clone(rec.Data)
		out = append(out, rec)
	}
	return out, r
}

// Syscall numbers (x86_64).
const (
	nrClone     = 56
	nrExecve    = 59
	nrOpenat    = 257
	nrExitGroup = 231
)

// scenario is the synthetic capture most tests use:
//
//	1 init, 40 bash (cwd /home/alice), 50 the recorder: snapshot
//	300 a host daemon with a thread 301: snapshot; writes /etc/x; exits
//	100 the command (fork by 50, exec ./w /home/alice/d), writes d/f
//	  101 (fork by 100) writes rel.txt in /home/alice/d, exits
//	  102 (fork by 100) execs /bin/sh -c 'env TOKEN=s3cret x' and a
//	      hex-encoded argument with a secret; renames its comm
//	400 a host process (fork by 1)
//	101 again: a host process that reuses the pid (fork by 1)
//
// Segment 1 starts at 50 ms with the wall clock stepped by 5 ms.
func scenario() *tcap {
	c := newTCap()
	c.snap("snap1", format.SnapshotProcess{PID: 1, TID: 1, Comm: "init", Exe: "/sbin/init", Argv: []string{"/sbin/init"}, Cwd: "/", StartBoot: 1e9})
	c.snap("snap40", format.SnapshotProcess{PID: 40, TID: 40, PPID: 1, Comm: "bash", Exe: "/bin/bash", Argv: []string{"bash"}, Cwd: "/home/alice", StartBoot: 3e9})
	c.snap("snap50", format.SnapshotProcess{PID: 50, TID: 50, PPID: 40, Comm: "ctrace", Exe: "/usr/bin/ctrace",
		Argv: []string{"ctrace", "record", "--", "./w", "/home/alice/d"}, Cwd: "/home/alice", StartBoot: 4e9})
	c.snap("snap51", format.SnapshotProcess{PID: 50, TID: 51, PPID: 40, Comm: "ctrace", StartBoot: 4e9})
	c.snap("snap300", format.SnapshotProcess{PID: 300, TID: 300, PPID: 1, Comm: "daemon", Exe: "/usr/sbin/daemon", Argv: []string{"daemon", "--token=hunter2"}, Cwd: "/", StartBoot: 2e9})
	c.snap("snap301", format.SnapshotProcess{PID: 300, TID: 301, PPID: 1, Comm: "daemon", StartBoot: 2e9})
	c.note("note-start", format.Note{Kind: "command_start", PID: 100, Text: "./w /home/alice/d"})
	c.add("ack", format.SourceAudit, 1, func() []byte {
		b := make([]byte, 36)
		le.PutUint32(b, 36)
		le.PutUint16(b[4:], replay.NlmsgError)
		return b
	}())
	c.add("proc-ack", format.SourceProc, 1, procFrame(replay.ProcWhatNone, 0, 1))
	c.fork("fork100", 10, 50, 100)
	c.event("exec100", 10, 10,
		sc(nrExecve, 0, 100, 50, "w", "/home/alice/w"),
		execveRec("./w", "/home/alice/d"), cwdRec("/home/alice"),
		pathRec(0, "./w", "NORMAL"), proctitleRec("./w", "/home/alice/d"))
	c.exec("exec100", 11, 100)
	c.event("open100", 12, 11, sc(nrOpenat, 3, 100, 50, "w", "/home/alice/w"), cwdRec("/home/alice"),
		pathRec(0, "/home/alice/d/", "PARENT"), pathRec(1, "/home/alice/d/f", "CREATE"))
	c.event("clone101", 20, 12, sc(nrClone, 101, 100, 50, "w", "/home/alice/w"))
	c.fork("fork101", 20, 100, 101)
	c.event("open101", 21, 13, sc(nrOpenat, 3, 101, 100, "w", "/home/alice/w"), cwdRec("/home/alice/d"),
		pathRec(0, "./", "PARENT"), pathRec(1, "rel.txt", "CREATE"))
	c.event("open300", 25, 15, sc(nrOpenat, 3, 300, 1, "daemon", "/usr/sbin/daemon"), cwdRec("/"),
		pathRec(0, "/etc/", "PARENT"), pathRec(1, "/etc/x", "CREATE"))
	c.event("exit101", 30, 14, exitGroup(101, 100))
	c.exit("exit101", 30, 101, 100, 0)
	c.event("clone102", 40, 16, sc(nrClone, 102, 100, 50, "w", "/home/alice/w"))
	c.fork("fork102", 40, 100, 102)
	c.fork("fork400", 45, 1, 400)

	c.newSegment(5e6)
	c.event("exec102", 52, 17,
		sc(nrExecve, 0, 102, 100, "sh", "/bin/sh"),
		execveRec("/bin/sh", "-c", "env TOKEN=s3cret x", "my s3cret arg"), cwdRec("/home/alice/d"),
		pathRec(0, "/bin/sh", "NORMAL"), proctitleRec("/bin/sh", "-c", "env TOKEN=s3cret x", "my s3cret arg"))
	c.exec("exec102", 52, 102)
	c.comm("comm102", 53, 102, "s3cret-worker")
	c.exit("exit400", 55, 400, 1, 0)
	c.exit("exit300", 60, 300, 1, 0)
	c.exit("exit102", 65, 102, 100, 0)
	c.fork("fork101b", 70, 1, 101)
	c.event("open101b", 75, 20, sc(nrOpenat, 3, 101, 1, "other", "/usr/bin/other"), cwdRec("/"),
		pathRec(0, "/tmp/", "PARENT"), pathRec(1, "/tmp/o", "CREATE"))
	c.exit("exit101b", 80, 101, 1, 0)
	c.event("exit100", 90, 21, exitGroup(100, 50))
	c.exit("exit100", 90, 100, 50, 0)
	code := 0
	c.note("note-exit", format.Note{Kind: "command_exit", PID: 100, ExitCode: &code})
	c.trailer = &format.Trailer{StopReason: "command", CommandPID: 100, CommandExitCode: &code,
		Loss: format.Loss{KernelLostBefore: 3, KernelLostAfter: 5}, EndClock: format.ClockPair{RealtimeNS: R0 + 100e6}}
	return c
}

// labels returns the labels of the records of c (in order) whose data is
// in file, checking that every record of file is a record of c, byte for
// byte, in c's order.
func keptLabels(t *testing.T, c *tcap, file string) []string {
	t.Helper()
	got, _ := readAll(t, file)
	var labels []string
	j := 0
	for _, g := range got {
		for j < len(c.recs) && !(c.recs[j].src == g.Source && c.recs[j].mono == g.Mono && bytes.Equal(c.recs[j].data, g.Data)) {
			j++
		}
		if j == len(c.recs) {
			t.Fatalf("record %s %q of the extract is not a record of the original (in order, byte for byte)", g.Source, g.Data)
		}
		if len(labels) == 0 || labels[len(labels)-1] != c.recs[j].label {
			labels = append(labels, c.recs[j].label)
		}
		j++
	}
	return labels
}

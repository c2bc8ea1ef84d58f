package analyze

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

// Synthetic captures. Times are given in milliseconds (float for the proc
// connector's ns precision) after base, 2023-11-14T22:13:20Z. The clock
// pair maps monotonic (and boottime) monoBase to base.
const (
	base     = int64(1700000000) * 1e9
	monoBase = int64(1000) * 1e9
)

// wall returns the wall-clock ns of a time in ms after base.
func wall(ms float64) int64 { return base + int64(ms*1e6) }

// tcap builds a capture in memory, record by record, in capture order.
type tcap struct {
	t       testing.TB
	hdr     format.Header
	recs    []format.Record
	recv    int64 // receive time of the last record (monotonic)
	trailer format.Trailer
}

func newCap(t testing.TB) *tcap {
	return &tcap{t: t, recv: monoBase, hdr: format.Header{
		FormatVersion: format.Version, CtraceVersion: "test", Kind: "record", Hostname: "testhost",
		KernelRelease: "6.1.0", Machine: "x86_64", ByteOrder: "little", AuditMode: "unicast",
		Proc: true, Snapshot: true,
		Clock: format.ClockPair{RealtimeNS: base, MonotonicNS: monoBase, BoottimeNS: monoBase},
	}}
}

// auditOnly and procOnly set the header of an audit-only (imported or
// --no-proc) or proc-only (--no-audit) capture.
func (c *tcap) auditOnly() *tcap { c.hdr.Proc, c.hdr.Snapshot = false, false; return c }
func (c *tcap) procOnly() *tcap  { c.hdr.AuditMode, c.hdr.Snapshot = "off", false; return c }

// add appends a record received shortly after ms (and after the record
// before it).
func (c *tcap) add(ms float64, src format.Source, data []byte) {
	c.recv = max(c.recv+1000, monoBase+int64(ms*1e6)+100e3)
	c.recs = append(c.recs, format.Record{Mono: c.recv, Source: src, Data: data})
}

// ---- audit ----

// rec is one audit record: its type name (SYSCALL, EXECVE, ...) and body.
type rec struct {
	typ  string
	body string
}

// auditDatagram builds the datagram the kernel sends for one record.
func auditDatagram(typ uint16, text string) []byte {
	b := make([]byte, replay.NetlinkHeaderSize+len(text))
	binary.LittleEndian.PutUint32(b[0:], uint32(len(b)))
	binary.LittleEndian.PutUint16(b[4:], typ)
	copy(b[replay.NetlinkHeaderSize:], text)
	return b
}

func stamp(ms int64, serial int) string {
	return fmt.Sprintf("audit(%d.%03d:%d): ", base/1e9+ms/1000, ms%1000, serial)
}

// record adds one audit record of the event (ms, serial).
func (c *tcap) record(ms int64, serial int, r rec) {
	typ, err := replay.TypeFromName(r.typ)
	if err != nil {
		c.t.Fatal(err)
	}
	c.add(float64(ms), format.SourceAudit, auditDatagram(typ, stamp(ms, serial)+r.body))
}

// event adds the records of one audit event followed by its EOE.
func (c *tcap) event(ms int64, serial int, recs ...rec) {
	for _, r := range recs {
		c.record(ms, serial, r)
	}
	c.record(ms, serial, rec{"EOE", ""})
}

// x86_64 syscall numbers.
const (
	nrOpen, nrClose, nrDup, nrDup2, nrClone, nrFork, nrVfork, nrExecve, nrExit = 2, 3, 32, 33, 56, 57, 58, 59, 60
	nrFcntl, nrTruncate, nrFtruncate, nrChdir, nrRename, nrUnlink, nrCreat     = 72, 76, 77, 80, 82, 87, 85
	nrExitGroup, nrOpenat, nrUnlinkat, nrRenameat, nrLinkat, nrSymlinkat       = 231, 257, 263, 264, 265, 266
	nrRenameat2, nrDup3, nrClone3, nrOpenat2, nrMknodat, nrLink, nrSymlink     = 316, 292, 435, 437, 259, 86, 88
)

// call describes a SYSCALL record.
type call struct {
	nr        int
	pid, ppid int
	exit      int64
	a         [4]uint64
	failed    bool
	noResult  bool // exit and exit_group: no success= and exit=
	items     int
	comm, exe string
}

func (k call) rec() rec {
	var b strings.Builder
	fmt.Fprintf(&b, "arch=c000003e syscall=%d ", k.nr)
	if !k.noResult {
		ok := "yes"
		if k.failed {
			ok = "no"
		}
		fmt.Fprintf(&b, "success=%s exit=%d ", ok, k.exit)
	}
	fmt.Fprintf(&b, "a0=%x a1=%x a2=%x a3=%x items=%d ppid=%d pid=%d auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295",
		k.a[0], k.a[1], k.a[2], k.a[3], k.items, k.ppid, k.pid)
	// Without a comm or exe, (null): the record does not say (the model
	// keeps what it knows).
	comm, exe := "(null)", "(null)"
	if k.comm != "" {
		comm = enc(k.comm)
	}
	if k.exe != "" {
		exe = enc(k.exe)
	}
	fmt.Fprintf(&b, " comm=%s exe=%s key=\"ctrace\"", comm, exe)
	return rec{"SYSCALL", b.String()}
}

// enc encodes a string as the kernel does: quoted, or hex.
func enc(s string) string {
	v, quoted := replay.EncodeUntrustedString(s)
	if quoted {
		return `"` + v + `"`
	}
	return v
}

func cwdRec(cwd string) rec { return rec{"CWD", "cwd=" + enc(cwd)} }

// pathRec is a PATH record; mode "" leaves out inode, dev and mode (as for
// a name that was not found).
func pathRec(item int, name string, inode int, mode, nametype string) rec {
	if mode == "" {
		return rec{"PATH", fmt.Sprintf("item=%d name=%s nametype=%s", item, enc(name), nametype)}
	}
	return rec{"PATH", fmt.Sprintf("item=%d name=%s inode=%d dev=fe:00 mode=%s ouid=0 ogid=0 rdev=00:00 nametype=%s cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0",
		item, enc(name), inode, mode, nametype)}
}

func execveRec(argv ...string) rec {
	var b strings.Builder
	fmt.Fprintf(&b, "argc=%d", len(argv))
	for i, a := range argv {
		fmt.Fprintf(&b, " a%d=%s", i, enc(a))
	}
	return rec{"EXECVE", b.String()}
}

func proctitleRec(argv ...string) rec {
	v, _ := replay.EncodeUntrustedString(strings.Join(argv, "\x00"))
	if !strings.ContainsAny(strings.Join(argv, "\x00"), "\x00 \"") && len(argv) == 1 {
		return rec{"PROCTITLE", `proctitle="` + argv[0] + `"`}
	}
	return rec{"PROCTITLE", "proctitle=" + v}
}

// Common events.

func (c *tcap) auditExec(ms int64, serial, pid, ppid int, exe, cwd string, argv ...string) {
	c.event(ms, serial,
		call{nr: nrExecve, pid: pid, ppid: ppid, items: 2, comm: filepath.Base(exe), exe: exe}.rec(),
		execveRec(argv...), cwdRec(cwd),
		pathRec(0, exe, 1000+pid, "0100755", "NORMAL"),
		pathRec(1, "/lib64/ld-linux-x86-64.so.2", 99, "0100755", "NORMAL"),
		proctitleRec(argv...))
}

func (c *tcap) auditClone(ms int64, serial, pid, ppid, child int, flags uint64) {
	c.event(ms, serial, call{nr: nrClone, pid: pid, ppid: ppid, exit: int64(child), a: [4]uint64{flags}}.rec())
}

// cloneFork is glibc's fork(): CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD.
const cloneFork = 0x1200011

func (c *tcap) auditExitGroup(ms int64, serial, pid, ppid, code int) {
	c.event(ms, serial, call{nr: nrExitGroup, pid: pid, ppid: ppid, a: [4]uint64{uint64(code)}, noResult: true}.rec())
}

func (c *tcap) auditExitThread(ms int64, serial, pid, ppid, code int) {
	c.event(ms, serial, call{nr: nrExit, pid: pid, ppid: ppid, a: [4]uint64{uint64(code)}, noResult: true}.rec())
}

// ---- proc connector ----

var procSeq = map[uint32]uint32{}

// procDatagram builds a proc connector datagram.
func procDatagram(what, cpu, seq uint32, ts int64, words ...uint32) []byte {
	le := binary.LittleEndian
	b := make([]byte, 16+20+16+4*len(words))
	le.PutUint32(b[0:], uint32(len(b)))
	le.PutUint16(b[4:], replay.NlmsgDone)
	le.PutUint32(b[16:], 1) // CN_IDX_PROC
	le.PutUint32(b[20:], 1) // CN_VAL_PROC
	le.PutUint32(b[24:], seq)
	le.PutUint16(b[32:], uint16(16+4*len(words)))
	le.PutUint32(b[36:], what)
	le.PutUint32(b[40:], cpu)
	le.PutUint64(b[44:], uint64(ts))
	for i, w := range words {
		le.PutUint32(b[52+4*i:], w)
	}
	return b
}

func (c *tcap) proc(ms float64, what uint32, words ...uint32) {
	c.procCPU(ms, 0, what, words...)
}

func (c *tcap) procCPU(ms float64, cpu, what uint32, words ...uint32) {
	seq := procSeq[cpu]
	procSeq[cpu]++
	ts := monoBase + int64(ms*1e6)
	c.add(ms, format.SourceProc, procDatagram(what, cpu, seq, ts, words...))
}

// fork: parent thread ptid of process ptgid created task tid of tgid.
func (c *tcap) fork(ms float64, ptid, ptgid, tid, tgid int) {
	c.proc(ms, replay.ProcWhatFork, uint32(ptid), uint32(ptgid), uint32(tid), uint32(tgid))
}

func (c *tcap) exec(ms float64, pid int) {
	c.proc(ms, replay.ProcWhatExec, uint32(pid), uint32(pid))
}

// exit: task tid of tgid exited with the wait status.
func (c *tcap) exit(ms float64, tid, tgid int, status uint32) {
	sig := uint32(17)
	if tid != tgid {
		sig = ^uint32(0)
	}
	c.proc(ms, replay.ProcWhatExit, uint32(tid), uint32(tgid), status, sig, 0, 0)
}

// ---- snapshot and notes ----

// snap adds a snapshot task started at ms.
func (c *tcap) snap(ms float64, p format.SnapshotProcess) {
	if p.TID == 0 {
		p.TID = p.PID
	}
	p.StartBoot = monoBase + int64(ms*1e6)
	b, err := json.Marshal(&p)
	if err != nil {
		c.t.Fatal(err)
	}
	c.add(0, format.SourceSnapshot, b)
}

func (c *tcap) note(n format.Note) {
	b, _ := json.Marshal(&n)
	c.add(0, format.SourceNote, b)
}

// ---- reading ----

// sliceSource serves records from memory.
type sliceSource struct {
	hdr  format.Header
	recs []format.Record
	i    int
}

func (s *sliceSource) Header() *format.Header { return &s.hdr }
func (s *sliceSource) Next() (format.Record, error) {
	if s.i >= len(s.recs) {
		return format.Record{}, io.EOF
	}
	s.i++
	return s.recs[s.i-1], nil
}

func (c *tcap) source() *sliceSource {
	return &sliceSource{hdr: c.hdr, recs: c.recs}
}

func (c *tcap) model() *Model {
	c.t.Helper()
	m, err := Build(c.source())
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

// file writes the capture to a file in a temporary directory.
func (c *tcap) file() string {
	c.t.Helper()
	var buf bytes.Buffer
	id := [format.FileIDSize]byte{1, 2, 3, 4, 5, 6, 7, 8}
	w, err := format.NewWriter(&buf, c.hdr, format.WriterOptions{FileID: &id})
	if err != nil {
		c.t.Fatal(err)
	}
	for _, r := range c.recs {
		if err := w.WriteRecord(r.Source, r.Flags, r.Mono, r.Data); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := w.Close(c.trailer); err != nil {
		c.t.Fatal(err)
	}
	p := filepath.Join(c.t.TempDir(), "test.ctr")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return p
}

// ---- looking at the model ----

// procs returns the processes with pid.
func procs(m *Model, pid int) []*Process {
	var out []*Process
	for _, p := range m.Processes {
		if p.PID == pid {
			out = append(out, p)
		}
	}
	return out
}

// one returns the only process with pid, failing otherwise.
func one(t testing.TB, m *Model, pid int) *Process {
	t.Helper()
	ps := procs(m, pid)
	if len(ps) != 1 {
		t.Fatalf("%d processes with pid %d, want 1\n%s", len(ps), pid, dump(m))
	}
	return ps[0]
}

// dump describes the model for failure messages.
func dump(m *Model) string {
	var b strings.Builder
	for _, p := range m.Processes {
		fmt.Fprintf(&b, "  pid %d ppid %d parent %v start %d end %d exit %v sig %v threads %v execs %d argv %q pre %v vanished %v files %d\n",
			p.PID, p.PPID, parentPID(p), p.Start, p.End, deref(p.ExitCode), deref(p.Signal), p.Threads, len(p.Execs), p.Argv, p.PreExisting, p.Vanished, len(p.Files))
	}
	return b.String()
}

func parentPID(p *Process) any {
	if p.Parent == nil {
		return nil
	}
	return p.Parent.PID
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func wantExit(t testing.TB, p *Process, code int) {
	t.Helper()
	if p.ExitCode == nil || *p.ExitCode != code || p.Signal != nil {
		t.Errorf("pid %d: exit %v signal %v, want exit %d", p.PID, deref(p.ExitCode), deref(p.Signal), code)
	}
}

func wantParent(t testing.TB, p *Process, ppid int) {
	t.Helper()
	if p.PPID != ppid || p.Parent == nil || p.Parent.PID != ppid {
		t.Errorf("pid %d: ppid %d parent %v, want %d", p.PID, p.PPID, parentPID(p), ppid)
	}
}

// ops lists a process's file operations as "op path".
func ops(p *Process) []string {
	var out []string
	for _, f := range p.Files {
		s := f.Op + " " + f.Path
		if f.Unresolved {
			s += " (unresolved)"
		}
		out = append(out, s)
	}
	return out
}

func findOp(p *Process, op, path string) *FileOp {
	for i := range p.Files {
		if p.Files[i].Op == op && p.Files[i].Path == path {
			return &p.Files[i]
		}
	}
	return nil
}

// jsonOf renders the model's JSON report (with an empty capture section).
func jsonOf(t testing.TB, m *Model) string {
	t.Helper()
	a := &Analysis{Processes: m.Processes}
	var b bytes.Buffer
	if err := a.WriteJSON(&b, 0); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

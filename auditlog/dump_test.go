package auditlog

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/format"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// auditDatagram builds an audit netlink datagram in the given byte order.
func auditDatagram(order binary.ByteOrder, typ uint16, payload []byte) []byte {
	b := make([]byte, 16, 16+len(payload))
	order.PutUint32(b[0:], uint32(16+len(payload)))
	order.PutUint16(b[4:], typ)
	order.PutUint32(b[8:], 7) // seq
	return append(b, payload...)
}

// procDatagram builds a proc connector datagram: nlmsghdr, cn_msg,
// proc_event header, then the union's u32 words.
func procDatagram(order binary.ByteOrder, seq, what, cpu uint32, ts uint64, words ...uint32) []byte {
	b := make([]byte, 52+4*len(words))
	order.PutUint32(b[0:], uint32(len(b)))
	order.PutUint16(b[4:], 3) // NLMSG_DONE
	order.PutUint32(b[16:], 1)
	order.PutUint32(b[20:], 1)
	order.PutUint32(b[24:], seq)
	order.PutUint16(b[32:], uint16(len(b)-36))
	order.PutUint32(b[36:], what)
	order.PutUint32(b[40:], cpu)
	order.PutUint64(b[44:], ts)
	for i, w := range words {
		order.PutUint32(b[52+4*i:], w)
	}
	return b
}

// withComm puts a comm into a PROC_EVENT_COMM datagram.
func withComm(b []byte, comm string) []byte {
	copy(b[60:76], comm)
	return b
}

type testRecord struct {
	src   format.Source
	flags uint8
	mono  int64
	data  []byte
}

// buildCapture writes a capture of the records in memory.
func buildCapture(t *testing.T, byteOrder string, recs []testRecord) []byte {
	t.Helper()
	var b bytes.Buffer
	id := [format.FileIDSize]byte{1, 2, 3, 4, 5, 6, 7, 8}
	w, err := format.NewWriter(&b, format.Header{Kind: "record", ByteOrder: byteOrder, AuditMode: "unicast", Proc: true, Snapshot: true},
		format.WriterOptions{FileID: &id})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.WriteRecord(r.src, r.flags, r.mono, r.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(format.Trailer{}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// mixedRecords covers every kind of record Dump knows, in one byte order.
func mixedRecords(t *testing.T, o binary.ByteOrder) []testRecord {
	t.Helper()
	ack := make([]byte, 4+16)
	errno := make([]byte, 4+16)
	o.PutUint32(errno, uint32(0xffffffea)) // -22
	pid := make([]byte, 4)
	o.PutUint32(pid, 4321)
	snap, _ := json.Marshal(format.SnapshotProcess{PID: 100, TID: 100, PPID: 1, Comm: "sh", Exe: "/bin/sh",
		Argv: []string{"sh", "-c", "echo \"a b\"\n"}, Cwd: "/", Root: "/", Cgroup: []string{"0::/docker/abc"}, UID: 0,
		StartTicks: 12345, StartBoot: 123450000000})
	kthread, _ := json.Marshal(format.SnapshotProcess{PID: 2, TID: 2, Comm: "kthreadd", Kernel: true, Errors: []string{"exe: permission denied"}})
	note := []byte(`{ "kind": "enobufs", "source": "proc", "count": 3 }`)
	audit := func(typ uint16, s string) testRecord {
		return testRecord{format.SourceAudit, 0, 1000, auditDatagram(o, typ, []byte(s))}
	}
	return []testRecord{
		{format.SourceSnapshot, 0, 900, snap},
		{format.SourceSnapshot, 0, 900, kthread},
		{format.SourceSnapshot, 0, 900, []byte("{not json")},
		{format.SourceNote, 0, 950, note},
		audit(1300, `audit(1700000001.122:9130): arch=c000003e syscall=56 success=yes exit=4242 a0=1200011 a1=0 a2=0 a3=7f3c5d2a4a10 items=0 ppid=4000 pid=4100 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="bash" exe="/usr/bin/bash" subj=unconfined key="fork"`),
		audit(1320, "audit(1700000001.122:9130): "),
		audit(1334, "audit(1700000001.200:9131): prog-id=12 op=LOAD"),
		audit(1420, "audit(1700000001.200:9132): subj_apparmor=unconfined"),
		{format.SourceAudit, format.FlagTruncated, 1001, auditDatagram(o, 1302, []byte(`audit(1700000001.300:9133): item=0 name="/very/lo`))},
		audit(1307, "audit(1700000001.300:9133): cwd=\"/a\nb\"\x00\x00"),
		audit(1305, "op=set audit_pid=0 old=1234 res=1"),
		audit(1300, "audit(1700000001.300): no serial"),
		{format.SourceAudit, 0, 1002, auditDatagram(o, 2, ack)},
		{format.SourceAudit, 0, 1002, auditDatagram(o, 2, errno)},
		{format.SourceAudit, 0, 1002, auditDatagram(o, 3, nil)},
		{format.SourceAudit, 0, 1002, auditDatagram(o, 1329, pid)},
		{format.SourceAudit, 0, 1002, auditDatagram(o, 1000, make([]byte, 40))},
		{format.SourceAudit, 0, 1002, auditDatagram(o, 4, nil)},
		{format.SourceAudit, 0, 1002, []byte{1, 2, 3}},
		{format.SourceProc, 0, 2000, procDatagram(o, 41, 0x00000001, 1, 1999, 4100, 4100, 4242, 4242)},
		{format.SourceProc, 0, 2001, procDatagram(o, 42, 0x00000002, 1, 2000, 4242, 4242)},
		{format.SourceProc, 0, 2002, withComm(procDatagram(o, 43, 0x00000200, 1, 2001, 4242, 4242, 0, 0, 0, 0), "ls\x7f")},
		{format.SourceProc, 0, 2003, procDatagram(o, 44, 0x00000004, 1, 2002, 4242, 4242, 1000, 0)},
		{format.SourceProc, 0, 2004, procDatagram(o, 45, 0x00000040, 1, 2003, 4242, 4242, 1000, 1000)},
		{format.SourceProc, 0, 2005, procDatagram(o, 46, 0x00000080, 1, 2004, 4242, 4242)},
		{format.SourceProc, 0, 2006, procDatagram(o, 47, 0x00000100, 1, 2005, 4242, 4242, 4100, 4100)},
		{format.SourceProc, 0, 2007, procDatagram(o, 48, 0x40000000, 1, 2006, 4242, 4242, 4100, 4100)},
		{format.SourceProc, 0, 2008, procDatagram(o, 49, 0x80000000, 1, 2007, 4242, 4242, 768, 17, 4100, 4100)},
		{format.SourceProc, 0, 2009, procDatagram(o, 50, 0x80000000, 0, 2008, 4243, 4243, 0x89, 17, 4100, 4100)},
		{format.SourceProc, format.FlagTruncated, 2010, procDatagram(o, 1, 0x00000000, 0, 0, 0)},
		{format.SourceProc, 0, 2011, procDatagram(o, 51, 0x12345678, 1, 2010)},
		{format.SourceProc, 0, 2012, procDatagram(o, 52, 0x80000000, 1, 2011, 1)},
		{format.SourceNote, 0, 3000, []byte("not json")},
	}
}

func TestDumpGolden(t *testing.T) {
	little := buildCapture(t, "little", mixedRecords(t, binary.LittleEndian))
	got := dumpCapture(t, little, DumpAll)
	golden := filepath.Join("testdata", "dump.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	diffLines(t, "dump", strings.Split(got, "\n"), strings.Split(string(want), "\n"))

	// A big-endian capture gives the same text.
	big := buildCapture(t, "big", mixedRecords(t, binary.BigEndian))
	diffLines(t, "big-endian dump", strings.Split(dumpCapture(t, big, DumpAll), "\n"), strings.Split(got, "\n"))

	// Deterministic: the same capture gives the same bytes.
	if again := dumpCapture(t, little, DumpAll); again != got {
		t.Error("a second dump differs")
	}
}

func TestDumpSources(t *testing.T) {
	c := buildCapture(t, "little", mixedRecords(t, binary.LittleEndian))
	all := strings.Split(strings.TrimSuffix(dumpCapture(t, c, DumpAll), "\n"), "\n")
	for _, tc := range []struct {
		spec   string
		prefix []string // a line is kept when it starts with one of these
	}{
		{"audit", []string{"type=", "# audit"}},
		{"proc", []string{"proc ", "# proc"}},
		{"snapshot,note", []string{"snapshot ", "# snapshot", "note ", "# note"}},
		{"all", []string{""}},
	} {
		src, err := ParseSources(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, l := range all {
			for _, p := range tc.prefix {
				if strings.HasPrefix(l, p) {
					want = append(want, l)
					break
				}
			}
		}
		got := strings.Split(strings.TrimSuffix(dumpCapture(t, c, src), "\n"), "\n")
		diffLines(t, tc.spec, got, want)
	}
	if _, err := ParseSources("audit,bogus"); err == nil || !strings.HasPrefix(err.Error(), "auditlog: unknown source \"bogus\"") {
		t.Errorf("bad source: %v", err)
	}
}

func TestDumpReportsDamage(t *testing.T) {
	c := buildCapture(t, "little", mixedRecords(t, binary.LittleEndian))
	path := filepath.Join(t.TempDir(), "cut.ctr")
	os.WriteFile(path, c[:len(c)-40], 0o600) // the trailer is gone
	var out bytes.Buffer
	st, err := DumpFile(&out, path, DumpAll)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Truncated || st.Records == 0 || st.Written != st.Records || st.Lines < st.Records {
		t.Errorf("stats %+v", st)
	}
	if _, err := DumpFile(&out, filepath.Join(t.TempDir(), "none.ctr"), DumpAll); err == nil {
		t.Error("missing file: no error")
	}
}

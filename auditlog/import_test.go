package auditlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

func TestImportRoundTrip(t *testing.T) {
	raw := sampleLog(t)
	for _, tc := range []struct {
		name string
		log  []byte
		node string
	}{
		{"raw", raw, ""},
		{"enriched", enrich(raw, ""), ""},
		{"enriched-node", enrich(raw, "web-1"), "web-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ir := importFiles(t, t.TempDir(), map[string][]byte{"audit.log": tc.log}, []string{"audit.log"}, nil)
			if len(ir.warnings) != 0 {
				t.Errorf("warnings: %v", ir.warnings)
			}
			want := rawLines(t, raw)
			if len(want) != 32 {
				t.Fatalf("sample has %d records", len(want))
			}
			diffLines(t, "dump", auditLines(dumpCapture(t, ir.capture, DumpAll)), want)

			h, recs, tr := readCapture(t, ir.capture)
			if h.Kind != "import" || h.AuditMode != AuditModeImported || h.ByteOrder != "little" || h.Proc || h.Snapshot ||
				h.Machine != "x86_64" || h.KernelRelease != "6.1.0-13-amd64" || h.Hostname != tc.node || h.CtraceVersion != "test" ||
				h.Clock != (format.ClockPair{}) || len(h.ImportedFrom) != 1 || !strings.HasSuffix(h.ImportedFrom[0], "audit.log") {
				t.Errorf("header %+v", h)
			}
			if tr == nil || tr.StopReason != "end of input" || tr.Frames["audit"] != 32 || tr.Frames["note"] != 0 {
				t.Errorf("trailer %+v", tr)
			}
			// Every record is a datagram as the kernel sends it on the multicast group.
			for i, r := range recs {
				f, err := replay.DecodeAudit(r.Data, binary.LittleEndian)
				if err != nil || f.Kind != replay.AuditEvent || r.Source != format.SourceAudit || r.Mono != 0 {
					t.Fatalf("record %d: %v %+v", i, err, f)
				}
				if int(f.NlLen) != len(r.Data) || f.NlFlags != 0 || f.NlSeq != 0 || f.NlPID != 0 {
					t.Errorf("record %d: netlink header %+v", i, f)
				}
				if line := "type=" + f.TypeName() + " msg=" + f.Text; line != want[i] {
					t.Errorf("record %d: %q", i, line)
				}
			}
			if ir.res.Records != 32 || ir.res.Inputs[0].Records != 32 {
				t.Errorf("result %+v", ir.res)
			}
			if tc.node != "" && ir.res.Nodes[tc.node] != 32 {
				t.Errorf("nodes %v", ir.res.Nodes)
			}
		})
	}
}

// splitLog cuts a log into parts at the given line indexes.
func splitLog(log []byte, at ...int) [][]byte {
	lines := strings.SplitAfter(string(log), "\n")
	var parts [][]byte
	prev := 0
	for _, a := range append(at, len(lines)) {
		parts = append(parts, []byte(strings.Join(lines[prev:a], "")))
		prev = a
	}
	return parts
}

func TestImportRotatedSet(t *testing.T) {
	raw := sampleLog(t)
	p := splitLog(raw, 10, 25)
	files := map[string][]byte{
		"audit.log.2":    p[0],
		"audit.log.1.gz": gz(t, enrich(p[1], "")),
		"audit.log":      p[2],
	}
	ir := importFiles(t, t.TempDir(), files, []string{"audit.log", "audit.log.2", "audit.log.1.gz"}, nil)
	if len(ir.warnings) != 0 {
		t.Errorf("warnings: %v", ir.warnings)
	}
	dump := dumpCapture(t, ir.capture, DumpAudit)
	diffLines(t, "rotated set", auditLines(dump), rawLines(t, raw))
	// The vfork child's records (serial 9133) still come before the
	// parent's (9132): arrival order is kept.
	if i, j := strings.Index(dump, ":9133)"), strings.Index(dump, ":9132)"); i < 0 || j < i {
		t.Error("arrival order of serials 9133 and 9132 was changed")
	}
	h, _, _ := readCapture(t, ir.capture)
	var got []string
	for _, f := range h.ImportedFrom {
		got = append(got, filepath.Base(f))
	}
	if want := []string{"audit.log.2", "audit.log.1.gz", "audit.log"}; !slices.Equal(got, want) {
		t.Errorf("imported_from %v, want %v", got, want)
	}
	if c := ir.res.Inputs[1].Compression; c != "gzip" || ir.res.Inputs[1].Enriched != 15 {
		t.Errorf("input 1: %+v", ir.res.Inputs[1])
	}
}

func TestImportStdin(t *testing.T) {
	raw := sampleLog(t)
	p := splitLog(raw, 12)
	// stdin holds the later part, gzip-compressed and enriched; it is given first.
	ir := importFiles(t, t.TempDir(), map[string][]byte{"old.log": p[0]}, []string{"-", "old.log"},
		bytes.NewReader(gz(t, enrich(p[1], "h1"))))
	diffLines(t, "stdin", auditLines(dumpCapture(t, ir.capture, DumpAll)), rawLines(t, raw))
	h, _, _ := readCapture(t, ir.capture)
	if len(h.ImportedFrom) != 2 || h.ImportedFrom[1] != StdinName {
		t.Errorf("imported_from %v", h.ImportedFrom)
	}
	// The header's host is the node of the first record imported: old.log has none.
	if h.Hostname != "" {
		t.Errorf("hostname %q", h.Hostname)
	}
	// A stream that cannot seek is peeked once and then read on; one whose
	// first record comes after many bad lines still loses nothing.
	var junk strings.Builder
	for range peekMaxQueue + 5 {
		junk.WriteString("junk\n")
	}
	junk.Write(raw)
	ir = importFiles(t, t.TempDir(), nil, []string{"-"}, strings.NewReader(junk.String()))
	if ir.res.Skipped != peekMaxQueue+5 || ir.res.Records != 32 {
		t.Errorf("junk then records: %+v", ir.res.Inputs[0])
	}
	diffLines(t, "junk stdin", auditLines(dumpCapture(t, ir.capture, DumpAll)), rawLines(t, raw))
}

func TestImportBadLines(t *testing.T) {
	raw := sampleLog(t)
	lines := strings.SplitAfter(string(raw), "\n")
	var b strings.Builder
	for i, l := range lines {
		switch i {
		case 3:
			b.WriteString("this is not a record\n")
		case 7:
			b.WriteString("type=SYSCALL msg=audit(1700000001.1") // cut by a crash
			b.WriteString("\n")
		case 20:
			b.WriteString("# a comment\n\n")
		}
		b.WriteString(l)
	}
	b.WriteString("type=UNKNOWN[1329] msg=?\n")
	ir := importFiles(t, t.TempDir(), map[string][]byte{"bad.log": []byte(b.String())}, []string{"bad.log"}, nil)
	want := []string{
		`auditlog: bad.log:4: skipped: not an audit record: no type= at the start of "this is not a record"`,
		`auditlog: bad.log:9: skipped: audit header: no ')' in "audit(1700000001.1"`,
		`auditlog: bad.log:37: skipped: record of type 1329 (REPLACE) without an audit(TIME:SERIAL) header: "type=UNKNOWN[1329] msg=?"`,
	}
	if !slices.Equal(ir.warnings, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(ir.warnings, "\n"), strings.Join(want, "\n"))
	}
	in := ir.res.Inputs[0]
	if in.Records != 32 || in.Skipped != 3 || in.Comments != 1 || in.Blank != 1 || ir.res.Skipped != 3 {
		t.Errorf("stats %+v", in)
	}
	diffLines(t, "good lines", auditLines(dumpCapture(t, ir.capture, DumpAll)), rawLines(t, raw))
	_, recs, _ := readCapture(t, ir.capture)
	n := notes(t, recs)
	if len(n) != 1 || n[0].Kind != NoteImportSkipped || n[0].Count != 3 || !strings.HasSuffix(n[0].Text, "bad.log") || n[0].Source != "audit" {
		t.Errorf("notes %+v", n)
	}
	if recs[len(recs)-1].Source != format.SourceNote {
		t.Error("the note does not follow the input's records")
	}

	// Reports are capped per input; the rest are counted.
	var many strings.Builder
	for i := range 150 {
		fmt.Fprintf(&many, "junk %d\n", i)
	}
	many.Write(raw)
	ir = importFiles(t, t.TempDir(), map[string][]byte{"many.log": []byte(many.String())}, []string{"many.log"}, nil)
	if len(ir.warnings) != 101 || ir.warnings[100] != "auditlog: many.log: 50 more skipped lines not shown" || ir.res.Skipped != 150 {
		t.Errorf("%d warnings, last %q", len(ir.warnings), ir.warnings[len(ir.warnings)-1])
	}
}

func TestImportDamagedInput(t *testing.T) {
	var log strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&log, "type=EOE msg=audit(1700000000.%03d:%d): \n", i%1000, i)
	}
	data := gz(t, []byte(log.String()))
	ir := importFiles(t, t.TempDir(), map[string][]byte{
		"audit.log.1.gz": data[:len(data)/2],
		"audit.log":      []byte("type=EOE msg=audit(1800000000.000:99999): \n"),
	}, []string{"audit.log", "audit.log.1.gz"}, nil)
	in := ir.res.Inputs[0]
	if in.Damaged == "" || in.Records == 0 || ir.res.Records != in.Records+1 {
		t.Fatalf("result %+v", ir.res)
	}
	if len(ir.warnings) != 1 || !strings.HasPrefix(ir.warnings[0], "auditlog: audit.log.1.gz: unreadable after line ") {
		t.Errorf("warnings %v", ir.warnings)
	}
	_, recs, _ := readCapture(t, ir.capture)
	n := notes(t, recs)
	if len(n) != 2 || n[0].Kind != NoteImportDamaged || n[0].Count != in.Lines || !strings.Contains(n[0].Text, "audit.log.1.gz: unreadable after line") ||
		n[1].Kind != NoteImportFile || !strings.HasSuffix(n[1].Text, "/audit.log") {
		t.Errorf("notes %+v", n)
	}
	// The damaged input's records, then its note, then the next input's
	// note and records.
	if recs[len(recs)-3].Source != format.SourceNote || recs[len(recs)-2].Source != format.SourceNote ||
		recs[len(recs)-1].Source != format.SourceAudit {
		t.Error("note not at the end of the damaged input")
	}
}

func TestImportHeaderMachine(t *testing.T) {
	sys := func(serial int, arch string) string {
		return fmt.Sprintf("type=SYSCALL msg=audit(1700000000.000:%d): arch=%s syscall=11 success=yes exit=0\n", serial, arch)
	}
	for _, tc := range []struct {
		name, log, machine string
	}{
		{"compat first", sys(1, "40000003") + sys(2, "c000003e"), "x86_64"},
		{"aarch64", sys(1, "c00000b7"), "aarch64"},
		{"i386 only", sys(1, "40000003"), "i386"},
		{"none", "type=EOE msg=audit(1.000:1): \n", ""},
		{"unknown arch", sys(1, "deadbeef"), ""},
	} {
		ir := importFiles(t, t.TempDir(), map[string][]byte{"a.log": []byte(tc.log)}, []string{"a.log"}, nil)
		if h, _, _ := readCapture(t, ir.capture); h.Machine != tc.machine {
			t.Errorf("%s: machine %q, want %q", tc.name, h.Machine, tc.machine)
		}
	}
}

func TestImportNodes(t *testing.T) {
	log := "node=a type=EOE msg=audit(1.000:1): \nnode=b type=EOE msg=audit(1.000:2): \ntype=EOE msg=audit(1.000:3): \n"
	ir := importFiles(t, t.TempDir(), map[string][]byte{"a.log": []byte(log)}, []string{"a.log"}, nil)
	if len(ir.warnings) != 1 || !strings.Contains(ir.warnings[0], "(records per node: a 1, b 1, without node= 1): their pids may collide") {
		t.Errorf("warnings %v", ir.warnings)
	}
	h, recs, _ := readCapture(t, ir.capture)
	if h.Hostname != "a" || len(ir.res.Nodes) != 3 {
		t.Errorf("hostname %q, nodes %v", h.Hostname, ir.res.Nodes)
	}
	if n := notes(t, recs); len(n) != 1 || n[0].Kind != "message" || !strings.HasPrefix(n[0].Text, "import: records of several nodes") {
		t.Errorf("notes %+v", n)
	}
}

func TestImportWarnings(t *testing.T) {
	log := []byte("type=EOE msg=audit(1.000:1): \n")
	ir := importFiles(t, t.TempDir(), map[string][]byte{"a.log": log, "copy.log": log, "empty.log": nil},
		[]string{"a.log", "empty.log", "copy.log"}, nil)
	want := []string{
		`auditlog: a.log and copy.log start with the same record (audit(1.000:1)): the same log given twice?`,
		`auditlog: empty.log: no audit records`,
	}
	if !slices.Equal(ir.warnings, want) {
		t.Errorf("warnings %q", ir.warnings)
	}
}

func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "a.log")
	os.WriteFile(log, []byte("type=EOE msg=audit(1.000:1): \n"), 0o600)
	xz := filepath.Join(dir, "b.xz")
	os.WriteFile(xz, []byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 4, 0xe6, 0xd6, 0xb4, 0x46}, 0o600)
	link := filepath.Join(dir, "link.log")
	os.Symlink(log, link)
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{nil, "auditlog: no input"},
		{[]string{log, filepath.Join(dir, "missing.log")}, "missing.log: no such file"},
		{[]string{dir}, "is a directory"},
		{[]string{log, link}, "are the same file"},
		{[]string{log, xz}, "xz-compressed input is not supported"},
		{[]string{"-", "-"}, "given more than once"},
	} {
		var out bytes.Buffer
		_, err := Import(&out, tc.args, ImportOptions{Stdin: strings.NewReader("")})
		if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "auditlog: ") {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.err)
		}
		if out.Len() != 0 {
			t.Errorf("%v: %d bytes written before the error", tc.args, out.Len())
		}
	}
}

func TestImportFile(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	os.WriteFile(log, sampleLog(t), 0o600)
	out := filepath.Join(dir, "out.ctr")
	if _, err := ImportFile(out, false, []string{log}, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("output: %v %v", st, err)
	}
	if _, err := ImportFile(out, false, []string{log}, ImportOptions{}); !errors.Is(err, ErrExists) {
		t.Errorf("second import without force: %v", err)
	}
	os.WriteFile(out, []byte("old"), 0o644)
	if _, err := ImportFile(out, true, []string{log}, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if s, err := replay.Summarize(out, nil); err != nil || s.AuditFrames != 32 {
		t.Fatalf("after --force: %v %+v", err, s)
	}
	if _, err := ImportFile(log, true, []string{log}, ImportOptions{}); err == nil || !strings.Contains(err.Error(), "is also an input") {
		t.Errorf("output = input: %v", err)
	}
	// A failed import leaves neither the output nor a temporary file.
	bad := filepath.Join(dir, "bad.ctr")
	if _, err := ImportFile(bad, false, []string{filepath.Join(dir, "missing")}, ImportOptions{}); err == nil {
		t.Error("missing input: no error")
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"audit.log", "out.ctr"}; !slices.Equal(names, want) {
		t.Errorf("directory holds %v, want %v", names, want)
	}
}

// ctrace info (replay.Summarize) shows an import's real time span from the
// records' own timestamps, and its notes.
func TestImportSummary(t *testing.T) {
	dir := t.TempDir()
	raw := sampleLog(t)
	log := filepath.Join(dir, "audit.log")
	os.WriteFile(log, append([]byte("bad line\n"), raw...), 0o600)
	out := filepath.Join(dir, "out.ctr")
	if _, err := ImportFile(out, false, []string{log}, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := replay.Summarize(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind != "import" || s.AuditMode != AuditModeImported || s.AuditFrames != 32 || s.NoteRecords != 1 ||
		s.Start != "2023-11-14T22:13:20.002Z" || s.End != "2023-11-14T22:13:22.422Z" || len(s.ImportedFrom) != 1 {
		t.Errorf("summary %+v", s)
	}
	// 9120..9143 with 9122-9129 and 9135-9139 never seen: 13 serial gaps.
	if s.Losses.AuditSerialGaps != 13 {
		t.Errorf("serial gaps %d", s.Losses.AuditSerialGaps)
	}
}

// stormLog writes the RAW log auditd writes: its DAEMON_START record
// (numbered by auditd), then events of serials first..last (a SYSCALL and
// an EOE each) except those in skip, then DAEMON_END.
func stormLog(first, last int, skip map[int]bool) []byte {
	var b strings.Builder
	b.WriteString("type=DAEMON_START msg=audit(1700000000.000:4242): op=start ver=3.0.9 format=raw kernel=6.1.0-13-amd64 auid=4294967295 pid=100 uid=0 ses=4294967295 res=success\n")
	for s := first; s <= last; s++ {
		if skip[s] {
			continue
		}
		ms := 1 + (s-first)/4
		fmt.Fprintf(&b, "type=SYSCALL msg=audit(1700000000.%03d:%d): arch=c000003e syscall=59 success=yes exit=0 a0=0 a1=0 a2=0 a3=0 items=0 ppid=1 pid=%d auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"true\" exe=\"/bin/true\" key=\"ctrace\"\n", ms, s, 1000+s)
		fmt.Fprintf(&b, "type=EOE msg=audit(1700000000.%03d:%d): \n", ms, s)
	}
	b.WriteString("type=DAEMON_END msg=audit(1700000000.999:4243): op=terminate auid=0 pid=1 subj=unconfined res=success\n")
	return []byte(b.String())
}

// Loss accounting on imported logs: auditd's own records open no gap; a
// rotated set loses nothing at its cuts, also with a file of the set not
// given; records taken out are found, with where.
func TestImportSerialGaps(t *testing.T) {
	summary := func(ir importResult) *replay.Summary {
		t.Helper()
		f := filepath.Join(t.TempDir(), "c.ctr")
		if err := os.WriteFile(f, ir.capture, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := replay.Summarize(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	clean := stormLog(130000, 130999, nil)
	if s := summary(importFiles(t, t.TempDir(), map[string][]byte{"audit.log": clean}, []string{"audit.log"}, nil)); s.Lost != 0 {
		t.Errorf("clean log with daemon records: lost %d", s.Lost)
	}
	lines := strings.SplitAfter(string(clean), "\n")
	set := map[string][]byte{
		"audit.log.2": []byte(strings.Join(lines[:500], "")),
		"audit.log.1": []byte(strings.Join(lines[800:1400], "")), // 500..799 in no file
		"audit.log":   []byte(strings.Join(lines[1400:], "")),
	}
	if s := summary(importFiles(t, t.TempDir(), set, []string{"audit.log", "audit.log.1", "audit.log.2"}, nil)); s.Lost != 0 {
		t.Errorf("rotated set with a file not given: lost %d, ranges %+v", s.Lost, s.AuditSerialGapRanges)
	}
	gappy := stormLog(130000, 130999, map[int]bool{130100: true, 130101: true, 130102: true, 130500: true})
	s := summary(importFiles(t, t.TempDir(), map[string][]byte{"audit.log": gappy}, []string{"audit.log"}, nil))
	want := []replay.SerialGap{
		{First: 130100, Last: 130102, After: "2023-11-14T22:13:20.025Z", Until: "2023-11-14T22:13:20.026Z"},
		{First: 130500, Last: 130500, After: "2023-11-14T22:13:20.125Z", Until: "2023-11-14T22:13:20.126Z"},
	}
	if s.Lost != 4 || !slices.Equal(s.AuditSerialGapRanges, want) {
		t.Errorf("records taken out: lost %d, ranges %+v, want %+v", s.Lost, s.AuditSerialGapRanges, want)
	}
}

package analyze

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// fuzzLines turns a capture into the fuzzer's text form, one record per
// line: "A" and an auditd log line, "P" and a proc datagram in hex, "S" or
// "N" and a snapshot or note JSON.
func fuzzLines(t testing.TB, c *tcap) string {
	return recordLines(t, c.recs, binary.LittleEndian)
}

// recordLines is fuzzLines for records.
func recordLines(t testing.TB, recs []format.Record, order binary.ByteOrder) string {
	var b strings.Builder
	for _, r := range recs {
		switch r.Source {
		case format.SourceAudit:
			f, err := replay.DecodeAudit(r.Data, order)
			if err != nil || f.Kind != replay.AuditEvent {
				continue
			}
			b.WriteString("Atype=" + f.TypeName() + " msg=" + f.Text + "\n")
		case format.SourceProc:
			b.WriteString("P" + hex.EncodeToString(r.Data) + "\n")
		case format.SourceSnapshot:
			b.WriteString("S" + string(r.Data) + "\n")
		case format.SourceNote:
			b.WriteString("N" + string(r.Data) + "\n")
		}
	}
	return b.String()
}

// captureSeeds are the captures under testdata in the fuzzer's text form:
// their first maxSeedRecords records each (the fuzzer's starting points
// from real recordings).
func captureSeeds(t testing.TB) []string {
	const maxSeedRecords = 400
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*", "*.ctr"))
	var out []string
	for _, path := range files {
		r, err := format.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var recs []format.Record
		for len(recs) < maxSeedRecords {
			rec, err := r.Next()
			if err != nil {
				break
			}
			rec.Data = bytes.Clone(rec.Data)
			recs = append(recs, rec)
		}
		order := replay.ByteOrderOf(r.Header().ByteOrder)
		r.Close()
		out = append(out, recordLines(t, recs, order))
	}
	return out
}

// TestFuzzBuildSeesRealCaptures: FuzzBuild starts from the captures in
// testdata.
func TestFuzzBuildSeesRealCaptures(t *testing.T) {
	seeds := captureSeeds(t)
	n := 0
	for _, s := range seeds {
		if strings.Count(s, "\n") > 20 {
			n++
		}
	}
	if n < 10 {
		t.Fatalf("%d real captures as seeds", n)
	}
}

// fuzzCapture reads the fuzzer's text form back. Lines that do not parse
// still become records: an audit line as a SYSCALL datagram of its raw
// text, anything else as a proc datagram of its raw bytes.
func fuzzCapture(t testing.TB, data string, auditAlone bool) *tcap {
	c := newCap(t)
	if auditAlone {
		c.auditOnly()
	}
	for i, line := range strings.Split(data, "\n") {
		ms := float64(i)
		if line == "" {
			continue
		}
		body := line[1:]
		switch line[0] {
		case 'A':
			if f, err := replay.ParseLogLine(body); err == nil {
				c.add(ms, format.SourceAudit, auditDatagram(f.Type, f.Text))
			} else {
				c.add(ms, format.SourceAudit, auditDatagram(1300, body))
			}
		case 'P':
			if b, err := hex.DecodeString(body); err == nil {
				c.add(ms, format.SourceProc, b)
			} else {
				c.add(ms, format.SourceProc, []byte(body))
			}
		case 'S':
			c.add(ms, format.SourceSnapshot, []byte(body))
		case 'N':
			c.add(ms, format.SourceNote, []byte(body))
		default:
			c.add(ms, format.SourceAudit, auditDatagram(1300, line))
		}
	}
	return c
}

// FuzzBuild feeds arbitrary records (audit record text above all) to the
// event assembly and the model: it must never panic, and two builds of one
// input must give the same reports.
func FuzzBuild(f *testing.F) {
	f.Add(fuzzLines(f, scenario(f)), false)
	f.Add(fuzzLines(f, scenario(f)), true)
	for i, s := range captureSeeds(f) {
		f.Add(s, i%2 == 1)
	}
	f.Add("Atype=SYSCALL msg=audit(1700000000.001:1): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=0 a2=241 a3=0 items=2 ppid=1 pid=5 comm=\"a\" exe=\"/a\"\n"+
		"Atype=PATH msg=audit(1700000000.001:1): item=1 name=\"x\" inode=1 dev=fe:00 mode=0100644 nametype=CREATE\n"+
		"Atype=PATH msg=audit(1700000000.001:1): item=0 name=(null) nametype=PARENT\n", true)
	f.Add("Atype=SYSCALL msg=audit(1700000000.001:1): arch=zz syscall=-1 success=maybe exit=x a0=q pid=-5 ppid=9999999999999\n", false)
	f.Add("Atype=EXECVE msg=audit(1700000000.001:2): argc=2 a0_len=4 a0[0]=61 a1=\"b\"\nAtype=SYSCALL msg=audit(1700000000.001:2): arch=c000003e syscall=59 success=yes exit=0 pid=7 ppid=1\n", true)
	f.Fuzz(func(t *testing.T, data string, auditAlone bool) {
		c := fuzzCapture(t, data, auditAlone)
		a := &Analysis{Processes: c.model().Processes}
		var j1, j2, txt bytes.Buffer
		if err := a.WriteJSON(&j1, 0); err != nil {
			t.Fatal(err)
		}
		if err := a.WriteText(&txt, 0); err != nil {
			t.Fatal(err)
		}
		b := &Analysis{Processes: c.model().Processes}
		if err := b.WriteJSON(&j2, 0); err != nil {
			t.Fatal(err)
		}
		if j1.String() != j2.String() {
			t.Fatal("two builds of one input differ")
		}
		for _, p := range a.Processes {
			for _, x := range p.Execs {
				if p.Start != 0 && x.Time < p.Start {
					t.Fatalf("pid %d: exec at %d before its start %d", p.PID, x.Time, p.Start)
				}
			}
			if p.Start != 0 && p.End != 0 && p.End < p.Start {
				t.Fatalf("pid %d: end %d before start %d", p.PID, p.End, p.Start)
			}
		}
	})
}

package auditlog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// FuzzReader: the reader never panics and always ends; every record it
// returns is written back by AppendLine as a line that reads back the same
// (after SanitizeText, as Dump does),
// and its frame decodes to the same record; the counts add up.
func FuzzReader(f *testing.F) {
	sample, err := os.ReadFile(filepath.Join("testdata", "sample.log"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	f.Add(enrich(sample, "node-1"))
	var gzb bytes.Buffer
	zw := gzip.NewWriter(&gzb)
	zw.Write(sample[:500])
	zw.Close()
	f.Add(gzb.Bytes())
	for _, s := range []string{
		"", "\n", "#\n", "type=EOE msg=audit(1.000:1): ", "type=UNKNOWN[1329] msg=?\n",
		"node= type=SYSCALL msg=audit(1.1:1):\x1d\x1d\r\n", "type=EOE msg=audit(18446744073709551615.999:18446744073709551615): x\n",
		"type=USER msg=audit(1.000:1): msg='a=b c='d''\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		defer rd.Close()
		var lineErrs int64
		for range len(data) + 2 {
			rec, err := rd.Next()
			if err == io.EOF {
				st := rd.Stats()
				if st.Lines != st.Records+st.Blank+st.Comments+st.Skipped || st.Skipped != lineErrs {
					t.Fatalf("stats do not add up: %+v, %d line errors", st, lineErrs)
				}
				return
			}
			var le *LineError
			var ie *InputError
			switch {
			case errors.As(err, &le):
				lineErrs++
				continue
			case errors.As(err, &ie):
				continue
			case err != nil:
				t.Fatalf("unexpected error %v", err)
			}
			// A dump writes the text sanitized (a '\r' before the ENRICHED
			// separator is the only line-breaking byte a Record can hold).
			text, _ := SanitizeText(rec.Text)
			line := AppendLine(nil, rec.Type, text)
			back, kind, err := ParseLine(bytes.TrimSuffix(line, []byte{'\n'}))
			if kind != LineRecord || err != nil || back.Type != rec.Type || back.Text != text ||
				back.TimeMS != rec.TimeMS || back.Serial != rec.Serial {
				t.Fatalf("line %q reads back as %+v (%v), want %+v", line, back, err, rec)
			}
			fr, err := replay.DecodeAudit(rec.Frame(nil), binary.LittleEndian)
			if err != nil || fr.Kind != replay.AuditEvent || fr.Type != rec.Type || fr.Text != rec.Text ||
				fr.TimeMS != rec.TimeMS || fr.Serial != rec.Serial {
				t.Fatalf("frame of %+v decodes as %+v (%v)", rec, fr, err)
			}
		}
		t.Fatal("the reader does not end")
	})
}

// FuzzDumpRecord: any record dumps as whole lines of the documented forms,
// and an auditd line reads back as the record's (sanitized) text.
func FuzzDumpRecord(f *testing.F) {
	f.Add(uint8(1), auditDatagram(binary.LittleEndian, 1300, []byte("audit(1.000:1): a=b")))
	f.Add(uint8(1), auditDatagram(binary.LittleEndian, 1307, []byte("audit(1.000:1): a=\n\x1d")))
	f.Add(uint8(1), auditDatagram(binary.LittleEndian, 2, make([]byte, 20)))
	f.Add(uint8(2), procDatagram(binary.LittleEndian, 1, 0x80000000, 0, 5, 1, 1, 9, 17, 0, 0))
	f.Add(uint8(2), withComm(procDatagram(binary.LittleEndian, 1, 0x200, 0, 5, 1, 1, 0, 0, 0, 0), "a\nb"))
	f.Add(uint8(3), []byte(`{"pid":1,"tid":1,"comm":"a\nb","argv":["x\u0000y"]}`))
	f.Add(uint8(4), []byte(`{"kind":"message","text":"a\u2028b"}`))
	f.Fuzz(func(t *testing.T, src uint8, data []byte) {
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		d := dumper{w: bw, order: binary.LittleEndian, st: &DumpStats{}}
		rec := format.Record{Source: format.Source(src%4 + 1), Data: data}
		switch rec.Source {
		case format.SourceAudit:
			d.audit(rec)
		case format.SourceProc:
			d.proc(rec)
		case format.SourceSnapshot:
			d.snapshot(rec)
		case format.SourceNote:
			d.note(rec)
		}
		bw.Flush()
		text := out.String()
		if !strings.HasSuffix(text, "\n") {
			t.Fatalf("output %q does not end a line", text)
		}
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		for i, l := range lines {
			if strings.ContainsAny(l, "\r\x00\x1d") {
				t.Fatalf("line %q holds a line-breaking byte", l)
			}
			ok := false
			for _, p := range []string{"# ", "type=", "proc ", "snapshot ", "note "} {
				ok = ok || strings.HasPrefix(l, p)
			}
			if !ok {
				t.Fatalf("line %q has no known form", l)
			}
			if strings.HasPrefix(l, "type=") {
				if i != len(lines)-1 {
					t.Fatalf("the auditd line is not the last of %q", text)
				}
				f, _ := replay.DecodeAudit(data, binary.LittleEndian)
				want, _ := SanitizeText(f.Text)
				back, kind, err := ParseLine([]byte(l))
				if kind != LineRecord || err != nil || back.Text != want || back.Type != f.Type {
					t.Fatalf("line %q reads back as %+v (%v), want text %q", l, back, err, want)
				}
			}
		}
	})
}

package auditlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// importResult is what a test import produced.
type importResult struct {
	res      *ImportResult
	capture  []byte
	warnings []string
}

// importFiles writes files (name → content, in dir) and imports args, which
// name them (or "-" for stdin).
func importFiles(t *testing.T, dir string, files map[string][]byte, args []string, stdin io.Reader) importResult {
	t.Helper()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var paths []string
	for _, a := range args {
		if a != "-" {
			a = filepath.Join(dir, a)
		}
		paths = append(paths, a)
	}
	var out importResult
	var buf bytes.Buffer
	res, err := Import(&buf, paths, ImportOptions{
		Stdin:         stdin,
		Warn:          func(err error) { out.warnings = append(out.warnings, strings.ReplaceAll(err.Error(), dir+"/", "")) },
		CtraceVersion: "test",
	})
	if err != nil {
		t.Fatalf("import %v: %v", args, err)
	}
	out.res, out.capture = res, buf.Bytes()
	return out
}

// captureRecord is a copy of one record of a capture.
type captureRecord struct {
	Source format.Source
	Mono   int64
	Data   []byte
}

// readCapture reads a whole capture held in memory.
func readCapture(t *testing.T, data []byte) (*format.Header, []captureRecord, *format.Trailer) {
	t.Helper()
	r, err := format.NewReader(bytes.NewReader(data), int64(len(data)), "capture")
	if err != nil {
		t.Fatal(err)
	}
	var recs []captureRecord
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		recs = append(recs, captureRecord{rec.Source, rec.Mono, bytes.Clone(rec.Data)})
	}
	if r.Truncated() || len(r.Problems()) > 0 {
		t.Fatalf("capture damaged: truncated %v, %v", r.Truncated(), r.Problems())
	}
	return r.Header(), recs, r.Trailer()
}

// notes returns the note records of a capture.
func notes(t *testing.T, recs []captureRecord) []format.Note {
	t.Helper()
	var out []format.Note
	for _, r := range recs {
		if r.Source == format.SourceNote {
			var n format.Note
			if err := json.Unmarshal(r.Data, &n); err != nil {
				t.Fatal(err)
			}
			out = append(out, n)
		}
	}
	return out
}

// dumpCapture dumps a capture held in memory.
func dumpCapture(t *testing.T, data []byte, sources Sources) string {
	t.Helper()
	r, err := format.NewReader(bytes.NewReader(data), int64(len(data)), "capture")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := Dump(&out, r, sources); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// rawLines returns the audit records of an auditd log as the RAW lines a
// dump must give back: without node= and the ENRICHED part, type names
// normalized, blank, comment and bad lines left out.
func rawLines(t *testing.T, log []byte) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(nil, 2*MaxLineSize)
	for sc.Scan() {
		line := sc.Text()
		if len(line) > MaxLineSize {
			continue
		}
		f, err := replay.ParseLogLine(line)
		if err != nil || f.Kind != replay.AuditEvent || f.Type < 16 || f.Type == replay.TypeReplace || strings.IndexByte(line, 0) >= 0 {
			continue
		}
		out = append(out, "type="+replay.TypeName(f.Type)+" msg="+f.Text)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// auditLines returns the auditd lines of a dump (comments left out).
func auditLines(dump string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(dump, "\n"), "\n") {
		if strings.HasPrefix(l, "type=") {
			out = append(out, l)
		}
	}
	return out
}

// diffLines reports the first difference of two line lists.
func diffLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			t.Errorf("%s: line %d differs:\n got %q\nwant %q", what, i+1, got[i], want[i])
			return
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d lines, want %d", what, len(got), len(want))
	}
}

// enrich turns RAW lines into ENRICHED ones with a node= prefix.
func enrich(log []byte, node string) []byte {
	var b bytes.Buffer
	for _, l := range strings.SplitAfter(string(log), "\n") {
		if strings.HasPrefix(l, "type=") {
			l = strings.TrimSuffix(l, "\n")
			if node != "" {
				b.WriteString("node=" + node + " ")
			}
			b.WriteString(l + "\x1dARCH=x86_64 AUID=\"user\" UID=\"user\"\n")
			continue
		}
		b.WriteString(l)
	}
	return b.Bytes()
}

func sampleLog(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sample.log"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

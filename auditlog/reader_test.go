package auditlog

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/ctrace/ctrace/format"
)

func TestParseLine(t *testing.T) {
	const eoe = "type=EOE msg=audit(1700000001.122:9130): "
	tests := []struct {
		line string
		kind LineKind
		rec  Record // Line is not set by ParseLine
		err  string
	}{
		{eoe, LineRecord, Record{Type: 1320, Text: "audit(1700000001.122:9130): ", TimeMS: 1700000001122, Serial: 9130}, ""},
		{`type=EXECVE msg=audit(1.5:7): argc=1 a0="ls"`, LineRecord,
			Record{Type: 1309, Text: `audit(1.5:7): argc=1 a0="ls"`, TimeMS: 1005, Serial: 7}, ""},
		{"node=web-1 type=CWD msg=audit(1700000001.126:9131): cwd=\"/\"\x1dcwd=\"/\"", LineRecord,
			Record{Type: 1307, Text: `audit(1700000001.126:9131): cwd="/"`, TimeMS: 1700000001126, Serial: 9131, Node: "web-1", Enriched: true}, ""},
		{"type=SYSCALL msg=audit(2.000:3): arch=c000003e syscall=59\x1dARCH=x86_64 SYSCALL=execve AUID=\"user\"", LineRecord,
			Record{Type: 1300, Text: "audit(2.000:3): arch=c000003e syscall=59", TimeMS: 2000, Serial: 3, Enriched: true}, ""},
		{"type=UNKNOWN[1420] msg=audit(2.000:3): subj_apparmor=unconfined\r", LineRecord,
			Record{Type: 1420, Text: "audit(2.000:3): subj_apparmor=unconfined", TimeMS: 2000, Serial: 3}, ""},
		{"", LineBlank, Record{}, ""},
		{" \t\r", LineBlank, Record{}, ""},
		{"# fork + exec by parent shell", LineComment, Record{}, ""},
		{"  #indented", LineComment, Record{}, ""},
		{"This series of files represents", LineBad, Record{}, "no type= at the start"},
		{"type=UNKNOWN[1329] msg=?", LineBad, Record{}, "without an audit(TIME:SERIAL) header"},
		{"type=SYSCALL", LineBad, Record{}, "no msg="},
		{"type=NO_SUCH_TYPE msg=audit(1.0:1): x=1", LineBad, Record{}, "unknown audit record type"},
		{"type=SYSCALL msg=audit(1.0): x=1", LineBad, Record{}, "no serial"},
		{"type=SYSCALL msg=audit(1.0:1) x=\x00", LineBad, Record{}, "NUL byte"},
		{"type=UNKNOWN[2] msg=audit(1.0:1): x=1", LineBad, Record{}, "binary message"},
		{"type=UNKNOWN[1329] msg=audit(1.0:1): x=1", LineBad, Record{}, "binary message"},
	}
	for _, tc := range tests {
		rec, kind, err := ParseLine([]byte(tc.line))
		if kind != tc.kind {
			t.Errorf("%q: kind %d, want %d (err %v)", tc.line, kind, tc.kind, err)
			continue
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one containing %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
		}
		if rec != tc.rec {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.line, rec, tc.rec)
		}
	}
}

func TestFrame(t *testing.T) {
	rec := Record{Type: 1300, Text: "audit(1.002:3): a=b"}
	f := rec.Frame(nil)
	want := append([]byte{35, 0, 0, 0, 0x14, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, rec.Text...)
	if !bytes.Equal(f, want) {
		t.Fatalf("frame %x, want %x", f, want)
	}
}

// readAll reads every record and line error of a log.
func readAll(t *testing.T, data []byte, name string) (recs []Record, lineErrs []*LineError, inErr *InputError, st Stats) {
	t.Helper()
	rd, err := NewReader(bytes.NewReader(data), name)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return recs, lineErrs, inErr, rd.Stats()
		}
		var le *LineError
		switch {
		case err == nil:
			recs = append(recs, rec)
		case errors.As(err, &le):
			lineErrs = append(lineErrs, le)
		case errors.As(err, &inErr):
		default:
			t.Fatalf("unexpected error %T %v", err, err)
		}
	}
}

func TestReaderLinesAndCounts(t *testing.T) {
	log := "# header comment\n" +
		"type=EOE msg=audit(1.000:1): \n" +
		"\n" +
		"garbage here\r\n" +
		"type=EOE msg=audit(1.000:2): \r\n" +
		"node=n1 type=EOE msg=audit(1.000:3): \x1dX=1\n" +
		"type=EOE msg=audit(1.000:4): " // no final newline
	recs, errs, ie, st := readAll(t, []byte(log), "x.log")
	if ie != nil {
		t.Fatal(ie)
	}
	if len(recs) != 4 || recs[0].Line != 2 || recs[1].Line != 5 || recs[2].Line != 6 || recs[3].Line != 7 {
		t.Fatalf("records %+v", recs)
	}
	if recs[3].Text != "audit(1.000:4): " || recs[1].Text != "audit(1.000:2): " {
		t.Errorf("texts %q %q", recs[1].Text, recs[3].Text)
	}
	if len(errs) != 1 || errs[0].Line != 4 || errs[0].File != "x.log" ||
		!strings.HasPrefix(errs[0].Error(), "auditlog: x.log:4: skipped: not an audit record") {
		t.Fatalf("line errors %v", errs)
	}
	want := Stats{Lines: 7, Records: 4, Enriched: 1, Blank: 1, Comments: 1, Skipped: 1, Bytes: int64(len(log))}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}

func TestReaderLongLines(t *testing.T) {
	// A record longer than the read buffer is read whole; a line longer than
	// MaxLineSize is skipped without being kept, and the next line is read.
	big := "type=PATH msg=audit(1.000:1): name=" + strings.Repeat("41", 100_000)
	huge := "type=PATH msg=audit(1.000:2): name=" + strings.Repeat("x", MaxLineSize)
	log := big + "\n" + huge + "\n" + "type=EOE msg=audit(1.000:3): \n" + huge
	recs, errs, ie, st := readAll(t, []byte(log), "big.log")
	if ie != nil {
		t.Fatal(ie)
	}
	if len(recs) != 2 || recs[0].Text != big[len("type=PATH msg="):] || recs[1].Serial != 3 {
		t.Fatalf("got %d records", len(recs))
	}
	if len(errs) != 2 || errs[0].Line != 2 || errs[1].Line != 4 || !strings.Contains(errs[0].Error(), "line of more than") {
		t.Fatalf("line errors %v", errs)
	}
	if st.Lines != 4 || st.Skipped != 2 {
		t.Errorf("stats %+v", st)
	}
	// Exactly MaxLineSize is allowed.
	exact := "type=PATH msg=audit(1.000:2): name=" + strings.Repeat("x", MaxLineSize-len("type=PATH msg=audit(1.000:2): name="))
	recs, errs, _, _ = readAll(t, []byte(exact+"\n"), "exact.log")
	if len(recs) != 1 || len(errs) != 0 {
		t.Fatalf("exact: %d records, %v", len(recs), errs)
	}
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReaderCompressed(t *testing.T) {
	log := []byte("type=EOE msg=audit(1.000:1): \ntype=EOE msg=audit(1.000:2): \n")
	// Two gzip members, as `cat a.gz b.gz` gives.
	twoMembers := append(gz(t, log[:30]), gz(t, log[30:])...)
	var zb bytes.Buffer
	zw, _ := zstd.NewWriter(&zb)
	zw.Write(log)
	zw.Close()
	for name, data := range map[string][]byte{"gzip": gz(t, log), "gzip2": twoMembers, "zstd": zb.Bytes()} {
		rd, err := NewReader(bytes.NewReader(data), "in")
		if err != nil {
			t.Fatal(name, err)
		}
		if want := strings.TrimSuffix(name, "2"); rd.Compression() != want {
			t.Errorf("%s: compression %s", name, rd.Compression())
		}
		rd.Close()
		recs, errs, ie, _ := readAll(t, data, name)
		if len(recs) != 2 || len(errs) != 0 || ie != nil || recs[1].Serial != 2 {
			t.Errorf("%s: %d records, %v, %v", name, len(recs), errs, ie)
		}
	}
}

func TestReaderDamagedGzip(t *testing.T) {
	var log strings.Builder
	for i := range 5000 {
		log.WriteString("type=EOE msg=audit(1.000:")
		log.WriteString(strings.Repeat("1", 1+i%7))
		log.WriteString("): \n")
	}
	data := gz(t, []byte(log.String()))
	cut := data[:len(data)*2/3]
	recs, _, ie, st := readAll(t, cut, "cut.gz")
	if ie == nil {
		t.Fatal("no InputError for a cut gzip stream")
	}
	if len(recs) == 0 || int64(len(recs)) != st.Records || ie.Line != st.Lines || ie.File != "cut.gz" {
		t.Errorf("%d records, stats %+v, error %v", len(recs), st, ie)
	}
	if !strings.HasPrefix(ie.Error(), "auditlog: cut.gz: unreadable after line ") {
		t.Errorf("message %q", ie.Error())
	}
}

func TestReaderRefuses(t *testing.T) {
	var capture bytes.Buffer
	w, err := format.NewWriter(&capture, format.Header{Kind: "import"}, format.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Close(format.Trailer{})
	if _, err := NewReader(&capture, "x.ctr"); !errors.Is(err, ErrCapture) {
		t.Errorf("capture: %v", err)
	}
	xz := []byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 4, 0xe6, 0xd6, 0xb4, 0x46}
	if _, err := NewReader(bytes.NewReader(xz), "x.xz"); !errors.Is(err, ErrXZ) {
		t.Errorf("xz: %v", err)
	}
	if _, err := NewReader(bytes.NewReader([]byte{0x1f, 0x8b, 1}), "bad.gz"); err == nil || !strings.Contains(err.Error(), "bad.gz: gzip") {
		t.Errorf("bad gzip header: %v", err)
	}
	// Empty input: no records, no error.
	recs, errs, ie, _ := readAll(t, nil, "empty")
	if len(recs)+len(errs) != 0 || ie != nil {
		t.Errorf("empty: %v %v %v", recs, errs, ie)
	}
}

func TestMachineFromArch(t *testing.T) {
	for arch, want := range map[string]string{"c000003e": "x86_64", "c00000b7": "aarch64", "40000003": "i386", "80000015": "ppc64", "C000003E": "x86_64"} {
		if m, _, ok := MachineFromArch(arch); !ok || m != want {
			t.Errorf("%s: %q %v, want %q", arch, m, ok, want)
		}
	}
	if _, is64, _ := MachineFromArch("40000003"); is64 {
		t.Error("i386 is not 64-bit")
	}
	for _, bad := range []string{"", "x86_64", "12345", "1ffffffff"} {
		if m, _, ok := MachineFromArch(bad); ok {
			t.Errorf("%q: %q", bad, m)
		}
	}
}

func TestSanitizeText(t *testing.T) {
	if s, ch := SanitizeText("audit(1.0:1): a=b "); ch || s != "audit(1.0:1): a=b " {
		t.Error("clean text changed")
	}
	if s, ch := SanitizeText("a\nb\rc\x00d\x1de"); !ch || s != "a b c d e" {
		t.Errorf("%q %v", s, ch)
	}
}

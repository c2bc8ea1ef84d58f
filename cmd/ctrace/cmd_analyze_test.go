package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/format"
)

// analyzeTestCapture writes a small capture: a shell (pid 10) forks a
// child (11) that execs ls, writes a file and exits 3. It returns the
// file's path and its bytes.
func analyzeTestCapture(t *testing.T) (string, []byte) {
	t.Helper()
	const base = int64(1700000000) * 1e9
	var buf bytes.Buffer
	hdr := format.Header{Kind: "record", Hostname: "h", ByteOrder: "little", AuditMode: "unicast", Proc: true,
		Clock: format.ClockPair{RealtimeNS: base, MonotonicNS: 1e12, BoottimeNS: 1e12}}
	w, err := format.NewWriter(&buf, hdr, format.WriterOptions{SegmentBytes: 600})
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	mono := int64(1e12)
	audit := func(typ uint16, text string) {
		b := make([]byte, 16+len(text))
		le.PutUint32(b[0:], uint32(len(b)))
		le.PutUint16(b[4:], typ)
		copy(b[16:], text)
		mono += 1e5
		if err := w.WriteRecord(format.SourceAudit, 0, mono, b); err != nil {
			t.Fatal(err)
		}
	}
	proc := func(what uint32, msAfter float64, words ...uint32) {
		b := make([]byte, 52+4*len(words))
		le.PutUint16(b[4:], 3)
		le.PutUint32(b[16:], 1)
		le.PutUint32(b[20:], 1)
		le.PutUint32(b[36:], what)
		le.PutUint64(b[44:], uint64(1e12+int64(msAfter*1e6)))
		for i, x := range words {
			le.PutUint32(b[52+4*i:], x)
		}
		mono += 1e5
		if err := w.WriteRecord(format.SourceProc, 0, mono, b); err != nil {
			t.Fatal(err)
		}
	}
	proc(1, 1, 1, 1, 10, 10)
	proc(1, 2, 10, 10, 11, 11)
	audit(1300, `audit(1700000000.002:5): arch=c000003e syscall=59 success=yes exit=0 a0=0 a1=0 a2=0 a3=0 items=1 ppid=10 pid=11 comm="ls" exe="/bin/ls"`)
	audit(1309, `audit(1700000000.002:5): argc=2 a0="ls" a1="-l"`)
	audit(1307, `audit(1700000000.002:5): cwd="/tmp"`)
	audit(1320, `audit(1700000000.002:5): `)
	proc(2, 2.5, 11, 11)
	audit(1300, `audit(1700000000.003:6): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=0 a2=241 a3=0 items=2 ppid=10 pid=11 comm="ls" exe="/bin/ls"`)
	audit(1307, `audit(1700000000.003:6): cwd="/tmp"`)
	audit(1302, `audit(1700000000.003:6): item=0 name="/tmp" inode=2 dev=fe:00 mode=041777 nametype=PARENT`)
	audit(1302, `audit(1700000000.003:6): item=1 name="out.txt" inode=3 dev=fe:00 mode=0100644 nametype=CREATE`)
	proc(0x80000000, 4, 11, 11, 3<<8, 17, 10, 10)
	if err := w.Close(format.Trailer{}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "a.ctr")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, buf.Bytes()
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errs bytes.Buffer
	code = run(append([]string{"ctrace"}, args...), &out, &errs)
	return code, out.String(), errs.String()
}

func TestAnalyzeCommand(t *testing.T) {
	path, _ := analyzeTestCapture(t)
	code, out, errs := runCLI("analyze", path)
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{"host:       h", "losses:     none", "└─ 11 ls -l  exit 3", "/tmp/out.txt: create"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}

	code, out, _ = runCLI("analyze", "--format", "json", "--pid", "11", path)
	var r struct {
		Capture   map[string]any   `json:"capture"`
		Processes []map[string]any `json:"processes"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || len(r.Processes) != 1 || r.Processes[0]["exit_code"].(float64) != 3 {
		t.Errorf("--format json --pid 11: exit %d\n%s", code, out)
	}

	o := filepath.Join(t.TempDir(), "report.txt")
	code, out, _ = runCLI("analyze", "-o", o, path)
	b, err := os.ReadFile(o)
	if code != 0 || out != "" || err != nil || !strings.Contains(string(b), "11 ls -l") {
		t.Errorf("-o: exit %d, stdout %q, file %v %q", code, out, err, b)
	}
}

func TestAnalyzeCommandErrors(t *testing.T) {
	path, _ := analyzeTestCapture(t)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"analyze"}, "analyze: expected a capture file, several captures of a set, or a set's directory"},
		{[]string{"analyze", path, path}, "is not part of a capture set (it was not recorded with --rotate): read it alone"},
		{[]string{"analyze", "--format", "xml", path}, "text or json"},
		{[]string{"analyze", "--pid", "0", path}, "positive pid"},
		{[]string{"analyze", "--pid", "999", path}, "no process with this pid"},
		{[]string{"analyze", filepath.Join(t.TempDir(), "missing.ctr")}, "no such file"},
	} {
		code, out, errs := runCLI(tc.args...)
		if code == 0 || !strings.Contains(errs, tc.msg) || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q (want %q)", tc.args, code, out, errs, tc.msg)
		}
	}
}

// A truncated capture is analyzed up to the cut: a warning, exit status 0.
func TestAnalyzeCommandTruncated(t *testing.T) {
	_, b := analyzeTestCapture(t)
	cut := filepath.Join(t.TempDir(), "cut.ctr")
	if err := os.WriteFile(cut, b[:len(b)-40], 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI("analyze", cut)
	if code != 0 || !strings.Contains(errs, "warning: the capture is truncated") || !strings.Contains(out, "TRUNCATED") {
		t.Errorf("exit %d\nstderr %s\nstdout %s", code, errs, out)
	}
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sampleAuditLog is the auditlog package's hand-written auditd log.
func sampleAuditLog(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "auditlog", "testdata", "sample.log"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recordLines returns the type= lines of a log or dump.
func recordLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "type=") {
			out = append(out, l)
		}
	}
	return out
}

func TestImportDumpCommands(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	raw := sampleAuditLog(t)
	os.WriteFile(log, append([]byte("not an audit record\n"), raw...), 0o600)
	out := filepath.Join(dir, "imported.ctr")

	var stdout, stderr bytes.Buffer
	if code := run([]string{"ctrace", "import", "-o", out, log}, &stdout, &stderr); code != 0 {
		t.Fatalf("import: exit %d\n%s", code, stderr.String())
	}
	wantErr := "ctrace: auditlog: " + log + ":1: skipped: not an audit record: no type= at the start of \"not an audit record\"\n" +
		"ctrace: imported 32 audit records from 1 file(s) into " + out + "; 1 line(s) skipped\n"
	if stderr.String() != wantErr || stdout.Len() != 0 {
		t.Errorf("import stderr:\n%s\nwant:\n%s", stderr.String(), wantErr)
	}

	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"ctrace", "dump", "--source", "audit", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("dump: exit %d\n%s", code, stderr.String())
	}
	if got, want := recordLines(stdout.String()), recordLines(string(raw)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("dump gives back %d lines, want the log's %d:\n%s", len(got), len(want), stdout.String())
	}
	// --source all adds the import_skipped note.
	stdout.Reset()
	if code := run([]string{"ctrace", "dump", out}, &stdout, &stderr); code != 0 {
		t.Fatal(stderr.String())
	}
	if !strings.HasSuffix(stdout.String(), `note mono=0 {"kind":"import_skipped","source":"audit","count":1,"text":"`+log+"\"}\n") {
		t.Errorf("dump --source all ends with %q", stdout.String()[max(0, stdout.Len()-200):])
	}

	stdout.Reset()
	if code := run([]string{"ctrace", "info", out}, &stdout, &stderr); code != 0 {
		t.Fatal(stderr.String())
	}
	for _, want := range []string{"kind:                import", "audit:               imported", "start:               2023-11-14T22:13:20.002Z", "frames:              audit 32, proc 0, snapshot 0, notes 1"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("info lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestImportCommandErrors(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	os.WriteFile(log, sampleAuditLog(t), 0o600)
	out := filepath.Join(dir, "x.ctr")
	os.WriteFile(out, nil, 0o600)
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"import", log}, `Required flag "output" not set`},
		{[]string{"import", "-o", filepath.Join(dir, "y.ctr")}, "ctrace: import: no log file given (use - for stdin)\n"},
		{[]string{"import", "-o", out, log}, "ctrace: import: " + out + " exists (--force overwrites it)\n"},
		{[]string{"import", "-o", "-", log}, "ctrace: import: the capture must be a file, not stdout\n"},
		{[]string{"import", "-o", filepath.Join(dir, "y.ctr"), filepath.Join(dir, "nope.log")}, "ctrace: auditlog: open " + filepath.Join(dir, "nope.log") + ": no such file or directory\n"},
		{[]string{"dump", "--source", "kernel", log}, "ctrace: dump: --source: auditlog: unknown source \"kernel\" (audit, proc, snapshot, note or all)\n"},
		{[]string{"dump", log}, "not a ctrace capture"},
		{[]string{"dump"}, "ctrace: dump: expected one capture file, got 0 arguments\n"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"ctrace"}, tc.args...), &stdout, &stderr)
		if code == 0 || !strings.Contains(stderr.String(), tc.err) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, stderr.String(), tc.err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "y.ctr")); err == nil {
		t.Error("a failed import left its output")
	}
	// --force overwrites.
	var stderr bytes.Buffer
	if code := run([]string{"ctrace", "import", "--force", "-o", out, log}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Errorf("--force: %s", stderr.String())
	}
}

func TestImportStdin(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "stdin.ctr")
	var stderr bytes.Buffer
	err := runImport(importOptions{output: out, inputs: []string{"-"}}, bytes.NewReader(sampleAuditLog(t)), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if want := "ctrace: imported 32 audit records from 1 file(s) into " + out + "\n"; stderr.String() != want {
		t.Errorf("stderr %q", stderr.String())
	}
	var stdout bytes.Buffer
	if err := runDump(out, "audit", &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if n := len(recordLines(stdout.String())); n != 32 {
		t.Errorf("%d lines dumped", n)
	}
}

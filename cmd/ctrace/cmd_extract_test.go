package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/format"
)

func TestExtractCommand(t *testing.T) {
	path, _ := analyzeTestCapture(t)
	out := filepath.Join(t.TempDir(), "x.ctr")
	// A pattern with a comma and a brace stays one pattern.
	code, stdout, errs := runCLI("extract", "-o", out, "--pid", "11", "--redact", "l{1,2}", "--redact", "ou{1,1}t", "--hash-paths", path)
	if code != 0 || stdout != "" || !strings.Contains(errs, "ctrace: extract: kept") || !strings.Contains(errs, "redact: 2 patterns") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, errs)
	}
	if strings.Contains(errs, "l{1,2}") || strings.Contains(errs, "ou{1,1}t") {
		t.Errorf("stderr shows a pattern: %q", errs)
	}
	st, err := os.Stat(out)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("output %v %v", st, err)
	}
	r, err := format.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := r.Header()
	if h.Kind != "extract" || h.ExtractedFrom != "a.ctr" || len(h.Selection) != 2 || len(h.Redaction) != 2 {
		t.Errorf("header %+v", h)
	}

	code, stdout, _ = runCLI("analyze", "--format", "json", out)
	var rep struct {
		Processes []map[string]any `json:"processes"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &rep) != nil || len(rep.Processes) != 2 {
		t.Fatalf("analyze the extract: exit %d\n%s", code, stdout)
	}
	argv := rep.Processes[1]["argv"].([]any)
	files := rep.Processes[1]["files_written"].([]any)
	if argv[0] != "[redacted]s" || argv[1] != "-[redacted]" || files[0] != "/tmp/[redacted].txt" {
		t.Errorf("argv %v, files %v", argv, files)
	}
}

func TestExtractCommandErrors(t *testing.T) {
	path, _ := analyzeTestCapture(t)
	out := filepath.Join(t.TempDir(), "x.ctr")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"extract", path}, `"output" not set`},
		{[]string{"extract", "-o", out}, "extract: expected a capture file, several captures of a set"},
		{[]string{"extract", "-o", out, path}, "at least one of --pid"},
		{[]string{"extract", "-o", out, "--pid", "0", path}, "positive pid"},
		{[]string{"extract", "-o", out, "--pid", "999", path}, "no process with this pid"},
		{[]string{"extract", "-o", out, "--since", "soon", path}, "neither an RFC 3339 time"},
		{[]string{"extract", "-o", out, "--pid", "11", "--redact", "secret[", path}, "pattern 1 of 1 does not compile"},
		{[]string{"extract", "-o", out, "--command", path}, "no recorded command"},
		{[]string{"extract", "-o", out, "--container", "abc", path}, "no container"},
		{[]string{"extract", "-o", path, "--pid", "11", path}, "overwrite the input"},
		{[]string{"extract", "-o", out, "--pid", "11", filepath.Join(t.TempDir(), "missing.ctr")}, "no such file"},
	} {
		code, stdout, errs := runCLI(tc.args...)
		if code == 0 || !strings.Contains(errs, tc.msg) || stdout != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q (want %q)", tc.args, code, stdout, errs, tc.msg)
		}
		if strings.Contains(errs, "secret[") {
			t.Errorf("%q: the error shows the pattern: %q", tc.args, errs)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed extract wrote its output")
	}
}

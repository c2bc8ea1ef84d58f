//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTimelineCommand(t *testing.T) {
	file := filepath.Join("..", "..", "testdata", "containers", "docker_run.ctr")
	want, err := os.ReadFile(filepath.Join("..", "..", "testdata", "containers", "docker_run.timeline.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out, errs, code := ctrace(t, "timeline", file)
	if code != 0 || out != string(want) {
		t.Errorf("ctrace timeline: exit %d, stderr %s, output differs from docker_run.timeline.txt", code, errs)
	}
	out, _, code = ctrace(t, "timeline", "--format", "jsonl", "--path", "/exec.txt", "--since", "0s", file)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) < 3 || !strings.Contains(lines[0], `"kind":"capture"`) || !strings.Contains(lines[0], `"selection":"path /exec.txt"`) ||
		!strings.Contains(out, `"kind":"file","pid"`) || !strings.Contains(out, `"path":"/exec.txt"`) {
		t.Errorf("--format jsonl --path: exit %d\n%s", code, out)
	}
	dst := filepath.Join(t.TempDir(), "t.txt")
	if _, errs, code := ctrace(t, "timeline", "-o", dst, file); code != 0 {
		t.Fatalf("-o: %s", errs)
	}
	if st, err := os.Stat(dst); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("-o: %v %v", st, err)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"timeline", "--format", "json", file}, "--format must be text or jsonl"},
		{[]string{"timeline", "--since", "yesterday", file}, "--since"},
		{[]string{"timeline", "--since", "2s", "--until", "1s", file}, "--until is before --since"},
		{[]string{"timeline", "--path", "[x", file}, "bad glob"},
		{[]string{"timeline", "--pid", "999999", file}, "no process with this pid"},
		{[]string{"timeline", "--container", "ffff", file}, "no container"},
		{[]string{"timeline", filepath.Join(t.TempDir(), "none.ctr")}, "none.ctr"},
		{[]string{"timeline"}, "timeline: expected a capture file, several captures of a set"},
	} {
		out, errs, code := ctrace(t, tc.args...)
		if code == 0 || out != "" || !strings.Contains(errs, tc.msg) {
			t.Errorf("ctrace %q: exit %d, stdout %q, stderr %q; want an error with %q", tc.args, code, out, errs, tc.msg)
		}
	}
}

func TestReportCommand(t *testing.T) {
	file := filepath.Join("..", "..", "testdata", "containers", "docker_run.ctr")
	dst := filepath.Join(t.TempDir(), "r.html")
	if _, errs, code := ctrace(t, "report", "-o", dst, "--path", "/exec.txt", file); code != 0 {
		t.Fatalf("report: %s", errs)
	}
	b, err := os.ReadFile(dst)
	st, _ := os.Stat(dst)
	if err != nil || st.Mode().Perm() != 0o600 || !strings.HasPrefix(string(b), "<!DOCTYPE html>") ||
		!strings.Contains(string(b), `"selection":"path /exec.txt"`) || !strings.Contains(string(b), `"context":true`) {
		t.Errorf("report -o: %v, mode %v, %d bytes", err, st.Mode(), len(b))
	}
	out, _, code := ctrace(t, "report", file)
	if code != 0 || !strings.HasPrefix(out, "<!DOCTYPE html>") || strings.Contains(out, "http://") || strings.Contains(out, "https://") {
		t.Errorf("report to stdout: exit %d, or a network address in the page", code)
	}
	for _, args := range [][]string{{"report"}, {"report", "--pid", "0", file}, {"report", "--exe", "[", file}} {
		if out, _, code := ctrace(t, args...); code == 0 || out != "" {
			t.Errorf("ctrace %q: exit %d", args, code)
		}
	}
}

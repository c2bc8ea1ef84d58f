package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiffCommand: a capture against itself is no difference (exit 0);
// two different captures are (exit 1); errors exit 2.
func TestDiffCommand(t *testing.T) {
	run1 := filepath.Join("..", "..", "testdata", "containers", "docker_run.ctr")
	two := filepath.Join("..", "..", "testdata", "containers", "two_containers.ctr")
	if code, out, errs := runCLI("diff", run1, run1); code != 0 || !strings.Contains(out, "no difference") {
		t.Errorf("same capture: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ := runCLI("diff", "--all", run1, two)
	if code != 1 || !strings.Contains(out, "gone    container") || !strings.Contains(out, "new     container") {
		t.Errorf("two captures: exit %d\n%s", code, out)
	}
	if code, out, _ := runCLI("diff", "--explain"); code != 0 || !strings.Contains(out, "<hex>") {
		t.Errorf("--explain: exit %d\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "ignore")
	os.WriteFile(bad, []byte("path [x\n"), 0o644)
	for _, args := range [][]string{
		{"diff", run1},
		{"diff", run1, filepath.Join(t.TempDir(), "missing.ctr")},
		{"diff", "--format", "xml", run1, run1},
		{"diff", "--ignore", bad, run1, run1},
		{"diff", "--no-such-flag", run1, run1},
	} {
		if code, out, errs := runCLI(args...); code != 2 || out != "" || errs == "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 with a message", args, code, out, errs)
		}
	}
}

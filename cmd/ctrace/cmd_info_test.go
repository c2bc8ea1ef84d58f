package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInfoUnreadable(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "audit.log")
	os.WriteFile(bad, []byte("type=SYSCALL msg=audit(1.2:3): x=1\n"), 0o600)
	for _, p := range []string{bad, filepath.Join(dir, "missing.ctr")} {
		var out, errb bytes.Buffer
		code := run([]string{"ctrace", "info", p}, &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), p) || out.Len() != 0 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", p, code, out.String(), errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"ctrace", "info", "--format", "yaml", bad}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "--format") {
		t.Errorf("bad --format: exit %d %q", code, errb.String())
	}
}

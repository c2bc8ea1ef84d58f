package main

import (
	"bytes"
	"fmt"
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

// A log whose records of one event are more than the analyzer's window
// apart: info and analyze say how many records came late, and the serial
// gaps say where they are.
func TestInfoAndAnalyzeReportLateRecords(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	sys := func(ms, serial int) {
		fmt.Fprintf(&b, "type=SYSCALL msg=audit(1700000000.%03d:%d): arch=c000003e syscall=59 success=yes exit=0 a0=0 a1=0 a2=0 a3=0 items=1 ppid=1 pid=%d auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"true\" exe=\"/bin/true\" key=(null)\n", ms%1000, serial, 100+serial)
	}
	sys(1, 1)
	// 3 s later, enough events for the analyzer to read them in later
	// batches (512 records each) than event 1's release.
	for s := 2; s < 700; s++ {
		fmt.Fprintf(&b, "type=SYSCALL msg=audit(1700000003.%03d:%d): arch=c000003e syscall=59 success=yes exit=0 a0=0 a1=0 a2=0 a3=0 items=0 ppid=1 pid=%d auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"true\" exe=\"/bin/true\" key=(null)\n", s%1000, s, 100+s)
		fmt.Fprintf(&b, "type=EOE msg=audit(1700000003.%03d:%d): \n", s%1000, s)
	}
	b.WriteString("type=PATH msg=audit(1700000000.001:1): item=0 name=\"/bin/true\" inode=1 dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\n")
	b.WriteString("type=EOE msg=audit(1700000000.001:1): \n")
	log := filepath.Join(dir, "audit.log")
	os.WriteFile(log, []byte(b.String()), 0o600)
	out := filepath.Join(dir, "late.ctr")
	if code, _, errs := runCLI("import", "-o", out, log); code != 0 {
		t.Fatalf("import: %s", errs)
	}
	code, info, _ := runCLI("info", out)
	if code != 0 || !strings.Contains(info, "late records:        2 (") {
		t.Errorf("info:\n%s", info)
	}
	code, rep, errs := runCLI("analyze", out)
	if code != 0 || !strings.Contains(rep, "late:       2 AUDIT RECORDS") || !strings.Contains(errs, "2 audit records arrived") {
		t.Errorf("analyze: exit %d\n%s\nstderr: %s", code, rep, errs)
	}
}

package auditlog

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// auditTool finds ausearch or aureport (in /usr/sbin, often not in a
// user's PATH). Without it the test is skipped, unless CI is set: CI
// installs auditd, so a missing tool there is a failure.
func auditTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found, and CI is set (install the auditd package)", name)
	}
	t.Skipf("%s not found: install the auditd package to check that ausearch and aureport read ctrace dump", name)
	return ""
}

func runTool(t *testing.T, tool string, args ...string) string {
	t.Helper()
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(tool), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ausearch and aureport read a dump as they read the log it was imported
// from.
func TestAusearchReadsDump(t *testing.T) {
	ausearch, aureport := auditTool(t, "ausearch"), auditTool(t, "aureport")
	dir := t.TempDir()
	raw := sampleLog(t)
	orig := filepath.Join(dir, "orig.log")
	if err := os.WriteFile(orig, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	// Imported from ENRICHED lines with node=, dumped with every source.
	ir := importFiles(t, dir, map[string][]byte{"enriched.log": enrich(raw, "")}, []string{"enriched.log"}, nil)
	dump := filepath.Join(dir, "dump.log")
	if err := os.WriteFile(dump, []byte(dumpCapture(t, ir.capture, DumpAll)), 0o600); err != nil {
		t.Fatal(err)
	}

	got := runTool(t, ausearch, "-if", dump, "-m", "EXECVE", "--format", "raw")
	if n := strings.Count(got, "type=EXECVE "); n != 3 {
		t.Errorf("ausearch -m EXECVE found %d EXECVE records, want 3:\n%s", n, got)
	}
	for _, args := range [][]string{
		{"--format", "raw"},
		{"-m", "EXECVE", "--format", "raw"},
		{"-k", "exec", "--format", "raw"},
		{"-p", "4243", "--format", "raw"},
		{"-m", "USER_CMD", "--format", "text"},
	} {
		want := runTool(t, ausearch, append([]string{"-if", orig}, args...)...)
		got := runTool(t, ausearch, append([]string{"-if", dump}, args...)...)
		if got != want {
			t.Errorf("ausearch %v differs on the dump:\n%s\nwant:\n%s", args, got, want)
		}
	}
	for _, args := range [][]string{{"-x", "--summary"}, {"-k", "--summary"}, {"--summary"}, {"-e"}} {
		want := runTool(t, aureport, append([]string{"-if", orig}, args...)...)
		got := runTool(t, aureport, append([]string{"-if", dump}, args...)...)
		if got != want {
			t.Errorf("aureport %v differs on the dump:\n%s\nwant:\n%s", args, got, want)
		}
	}
	if got := runTool(t, aureport, "-if", dump, "-x", "--summary"); !strings.Contains(got, "/usr/bin/ls") {
		t.Errorf("aureport -x:\n%s", got)
	}

	// A recording's dump, with proc, snapshot, note and control lines
	// between the audit lines: ausearch finds the audit events.
	rec := filepath.Join(dir, "recording.log")
	os.WriteFile(rec, []byte(dumpCapture(t, buildCapture(t, "little", mixedRecords(t, binary.LittleEndian)), DumpAll)), 0o600)
	got = runTool(t, ausearch, "-if", rec, "-a", "9130", "--format", "raw")
	want := "type=SYSCALL msg=audit(1700000001.122:9130): arch=c000003e syscall=56 success=yes exit=4242 a0=1200011 a1=0 a2=0 a3=7f3c5d2a4a10 items=0 ppid=4000 pid=4100 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm=\"bash\" exe=\"/usr/bin/bash\" subj=unconfined key=\"fork\"\n" +
		"type=EOE msg=audit(1700000001.122:9130): \n"
	if got != want {
		t.Errorf("ausearch -a 9130 on a recording's dump:\n%s\nwant:\n%s", got, want)
	}
}

// normalizeRaw keeps the record lines of ausearch --format raw output,
// without node= and the ENRICHED part, as a dump writes them.
func normalizeRaw(out string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if r, ok := strings.CutPrefix(l, "node="); ok {
			if _, after, ok := strings.Cut(r, " "); ok {
				l = after
			}
		}
		if !strings.HasPrefix(l, "type=") {
			continue
		}
		l, _, _ = strings.Cut(l, "\x1d")
		b.WriteString(l + "\n")
	}
	return b.String()
}

// On every log of the corpus, ausearch finds the same records in the dump
// as in the log, and aureport (on logs without comment lines, which it
// miscounts) reports the same summary.
func TestCorpusAusearch(t *testing.T) {
	ausearch, aureport := auditTool(t, "ausearch"), auditTool(t, "aureport")
	tmp := t.TempDir()
	for _, path := range corpusLogs(t) {
		name := filepath.Base(path)
		if corpusSkips[name] > 0 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			ir := importFiles(t, filepath.Dir(path), nil, []string{name}, nil)
			dump := filepath.Join(tmp, name)
			if err := os.WriteFile(dump, []byte(dumpCapture(t, ir.capture, DumpAll)), 0o600); err != nil {
				t.Fatal(err)
			}
			search := func(file string) string {
				out, _ := exec.Command(ausearch, "-if", file, "--format", "raw").Output() // exit 1: no matches
				return string(out)
			}
			if got, want := search(dump), normalizeRaw(search(path)); got != want {
				t.Errorf("ausearch --format raw differs:\n%s\nwant:\n%s", got, want)
			}
			if ir.res.Inputs[0].Comments == 0 {
				if got, want := runTool(t, aureport, "-if", dump, "--summary"), runTool(t, aureport, "-if", path, "--summary"); got != want {
					t.Errorf("aureport --summary differs:\n%s\nwant:\n%s", got, want)
				}
			}
		})
	}
}

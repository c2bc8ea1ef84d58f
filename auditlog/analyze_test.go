package auditlog

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/analyze"
)

// importAndAnalyze imports one log into a capture file and analyzes it.
func importAndAnalyze(t *testing.T, log string) *analyze.Analysis {
	t.Helper()
	out := filepath.Join(t.TempDir(), "import.ctr")
	if _, err := ImportFile(out, false, []string{log}, ImportOptions{}); err != nil {
		t.Fatalf("import: %v", err)
	}
	a, err := analyze.AnalyzeFile(out)
	if err != nil {
		t.Fatalf("analyze: %v", err)
	}
	return a
}

// Every log of the corpus imports and analyzes without error, and no
// imported record is undecodable.
func TestCorpusAnalyze(t *testing.T) {
	for _, path := range corpusLogs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			a := importAndAnalyze(t, path)
			if a.Capture.Kind != "import" || a.Capture.AuditMode != AuditModeImported {
				t.Errorf("capture %+v", a.Capture)
			}
			for src, n := range a.Capture.Undecodable {
				if n > 0 {
					t.Errorf("%d undecodable %s records", n, src)
				}
			}
		})
	}
}

// processTree renders the process trees of an analysis: one line per
// process, indented under its parent, children by pid, with its execs.
func processTree(a *analyze.Analysis) string {
	var b strings.Builder
	var walk func(p *analyze.Process, depth int)
	byPID := func(x, y *analyze.Process) int { return x.PID - y.PID }
	walk = func(p *analyze.Process, depth int) {
		fmt.Fprintf(&b, "%s%d", strings.Repeat("  ", depth), p.PID)
		for _, e := range p.Execs {
			fmt.Fprintf(&b, " exec %s", strings.Join(e.Argv, " "))
		}
		b.WriteString("\n")
		kids := slices.Clone(p.Children)
		slices.SortFunc(kids, byPID)
		for _, c := range kids {
			walk(c, depth+1)
		}
	}
	var roots []*analyze.Process
	for _, p := range a.Processes {
		if p.Parent == nil {
			roots = append(roots, p)
		}
	}
	slices.SortFunc(roots, byPID)
	for _, r := range roots {
		walk(r, 0)
	}
	return b.String()
}

// The tree documented in the '#' comments of laurel's shell-proc-trace.txt
// comes out exactly, also from the variant whose records arrive reordered
// (all EOE records at the end, in reverse):
//
//	                   (71432)
//	                      | fork
//	                      |
//	                      | exec test-script.sh
//	                   (71505)
//	                    /   \ fork
//	                   /     \
//	                  /       \ exec grep bar
//	               (71506)  (71507)
//	           fork /   \ fork
//	               /     \
//	exec echo foo /       \ exec sed -e s/foo/bar/
//	           (71508     (71509)
//
// The comment says "grep bar" where the log's EXECVE record says
// a0="grep" a1="baz": the record is what the kernel sent, so baz it is.
func TestCorpusShellProcTrees(t *testing.T) {
	const want = `71432
  71505 exec /bin/sh ./src/testdata/double-fork/test-script.sh
    71506
      71508 exec /bin/echo foo
      71509 exec /bin/sed -e s/foo/bar/
    71507 exec grep baz
`
	dir := filepath.Join(corpusDir(t), "laurel")
	for _, name := range []string{"src_testdata_shell-proc-trace.txt", "src_testdata_shell-proc-trace-reordered.txt"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if _, err := os.Stat(path); err != nil {
				t.Skipf("%s not in the corpus", name)
			}
			if got := processTree(importAndAnalyze(t, path)); got != want {
				t.Errorf("process tree:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

package pathtruth

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/analyze"
)

var update = flag.Bool("update", false, "keep the recordings of the kernel tests in testdata/paths (root), and rewrite the golden outputs")

// keptDir holds recordings of the real programs of the kernel tests, cut
// down to the workload (ctrace extract --command --redact-host), with the
// strace log recorded beside them and the analyzer's golden outputs.
const keptDir = "../../testdata/paths"

// TestPathCaptures checks every kept recording without root: the
// analyzer's output is the golden one, no path is wrong against the strace
// log recorded with it, none lies under a regular file, and at least 99%
// are resolved.
func TestPathCaptures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(keptDir, "*.ctr"))
	if len(files) == 0 {
		t.Fatalf("no recordings in %s (make them with go test ./internal/pathtruth -run TestIntegration -update, as root)", keptDir)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".ctr")
		t.Run(name, func(t *testing.T) {
			a, err := analyze.AnalyzeFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var js, txt bytes.Buffer
			if err := a.WriteJSON(&js, 0); err != nil {
				t.Fatal(err)
			}
			if err := a.WriteText(&txt, 0); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(keptDir, name+".analyze.json"), js.Bytes())
			golden(t, filepath.Join(keptDir, name+".analyze.txt"), txt.Bytes())
			rep, err := DecodeReport(js.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			tf, err := os.Open(filepath.Join(keptDir, name+".strace.txt"))
			if err != nil {
				t.Fatal(err)
			}
			defer tf.Close()
			tr, err := ParseStrace(tf, "")
			if err != nil {
				t.Fatal(err)
			}
			verify(t, rep, tr, txt.Bytes())
		})
	}
}

// golden compares got with a golden file, or writes it with -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test ./internal/pathtruth -run TestPathCaptures -update writes it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the analyzer's output (review, then regenerate with -update)", file)
	}
}

// verify requires that no path ctrace reports for the traced processes is
// wrong (every one is an operation strace saw that process make on that
// path), none is under a regular file, at least minResolved of them are
// resolved, and that every operation strace saw is reported.
func verify(t *testing.T, rep *Report, tr *Trace, text []byte) *Result {
	t.Helper()
	res := Compare(rep, tr, tracedPIDs(tr))
	t.Logf("%s; strace could not place %d names", res, tr.Unknown)
	if len(res.Wrong) > 0 {
		t.Errorf("%d paths are not what strace saw:\n%s", len(res.Wrong), Summary(res.Wrong, 30))
	}
	if len(res.Missing) > 0 {
		t.Errorf("%d operations strace saw are missing or unresolved:\n%s", len(res.Missing), Summary(res.Missing, 30))
	}
	if bad := UnderRegularFile(rep); len(bad) > 0 {
		t.Errorf("%d paths under a regular file:\n%s", len(bad), Summary(bad, 30))
	}
	if s := res.ResolvedShare(); s < minResolved {
		t.Errorf("%.2f%% of the operations resolved, want at least %.0f%%", 100*s, 100*minResolved)
	}
	if t.Failed() {
		t.Logf("text report:\n%s", text)
	}
	return res
}

const minResolved = 0.99

// TestCaptureAgainstStrace checks any capture against the strace log
// recorded with it (`ctrace record -- strace -f -yy -qq -o LOG -- CMD`),
// as TestPathCaptures does the kept ones: set CTRACE_PATHTRUTH_CAPTURE,
// CTRACE_PATHTRUTH_STRACE and CTRACE_PATHTRUTH_CWD (the command's working
// directory), or CTRACE_PATHTRUTH_REPORT instead of the capture: a JSON
// report made by another ctrace. Skipped when they are not set.
func TestCaptureAgainstStrace(t *testing.T) {
	capFile, logFile := os.Getenv("CTRACE_PATHTRUTH_CAPTURE"), os.Getenv("CTRACE_PATHTRUTH_STRACE")
	report := os.Getenv("CTRACE_PATHTRUTH_REPORT")
	if (capFile == "" && report == "") || logFile == "" {
		t.Skip("CTRACE_PATHTRUTH_CAPTURE (or _REPORT) and CTRACE_PATHTRUTH_STRACE are not set")
	}
	var js []byte
	if report != "" {
		b, err := os.ReadFile(report)
		if err != nil {
			t.Fatal(err)
		}
		js = b
	} else {
		a, err := analyze.AnalyzeFile(capFile)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := a.WriteJSON(&buf, 0); err != nil {
			t.Fatal(err)
		}
		js = buf.Bytes()
	}
	rep, err := DecodeReport(js)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := ParseStrace(f, os.Getenv("CTRACE_PATHTRUTH_CWD"))
	if err != nil {
		t.Fatal(err)
	}
	verify(t, rep, tr, nil)
}

package groundtruth

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "record the workloads again into testdata/captures (kernel test, root), and rewrite the golden analyzer outputs")

var (
	repoRoot    = filepath.Join("..", "..")
	workloadDir = filepath.Join(repoRoot, "testdata", "workloads")
	capturesDir = filepath.Join(repoRoot, "testdata", "captures")
	ctraceBin   string
)

// maxCaptureSize bounds a workload capture kept in testdata/captures.
const maxCaptureSize = 32 << 10

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildErr  error
	binDir    string
)

// ctrace returns the path of a ctrace binary built from this tree, building
// it on first use: the tests that need no binary still run when the tree's
// command does not build.
func ctrace(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "groundtruth-bin")
		if buildErr != nil {
			return
		}
		ctraceBin = filepath.Join(binDir, "ctrace")
		out, err := exec.Command("go", "build", "-o", ctraceBin, "../../cmd/ctrace").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building ctrace: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return ctraceBin
}

// analyzerMissing says why the analyzer cannot be run, or "" when ctrace
// has an analyze command.
func analyzerMissing(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(ctrace(t), "analyze", "--help").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("ctrace has no analyze command yet (%v: %s)", err, bytes.TrimSpace(out))
	}
	return ""
}

// analyze runs `ctrace analyze --format format file` and returns its
// stdout. The analyzer must succeed (exit 0) on every test capture.
func analyze(t *testing.T, file, format string) []byte {
	t.Helper()
	cmd := exec.Command(ctrace(t), "analyze", "--format", format, "--files", "all", file)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ctrace analyze --format %s %s: %v\n%s", format, file, err, stderr.String())
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Logf("ctrace analyze %s: stderr: %s", filepath.Base(file), s)
	}
	return stdout.Bytes()
}

// compareWithAnalyzer analyzes a capture and compares the model with the
// truth. It returns the JSON and text reports.
func compareWithAnalyzer(t *testing.T, file string, truth Truth) (jsonOut, textOut []byte) {
	t.Helper()
	jsonOut = analyze(t, file, "json")
	m, err := DecodeModel(jsonOut)
	if err != nil {
		t.Error(err)
	}
	if m == nil {
		return jsonOut, nil
	}
	for _, e := range CompareModel(truth, m) {
		t.Error("model: " + e)
	}
	if again := analyze(t, file, "json"); !bytes.Equal(again, jsonOut) {
		t.Error("two analyses of the same capture differ")
	}
	return jsonOut, analyze(t, file, "text")
}

// checkGolden compares got with the golden file, or writes it with -update.
func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Errorf("%v (create it with go test ./internal/groundtruth -run TestCaptures -update)", err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the analyzer's output (review, then regenerate with -update):\n%s", golden, firstDiff(want, got))
	}
}

// firstDiff shows the first differing line of two outputs.
func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n  want %q\n  got  %q", i+1, a, b)
		}
	}
	return "(same lines, different bytes)"
}

package groundtruth

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	model "github.com/ctrace/ctrace/analyze"
)

// keptCaptures returns the workload names of testdata/captures/*.ctr.
func keptCaptures(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(capturesDir, "*.ctr"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no captures in %s: record them as root with go test ./internal/groundtruth -run TestIntegrationWorkloads -update", capturesDir)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".ctr"))
	}
	return names
}

// TestCaptures checks every kept capture against its truth, without a
// kernel: the raw frames, and (once ctrace has an analyze command) the model
// and the golden JSON and text reports.
func TestCaptures(t *testing.T) {
	noAnalyzer := analyzerMissing(t)
	for _, name := range keptCaptures(t) {
		t.Run(name, func(t *testing.T) {
			base := filepath.Join(capturesDir, name)
			truth, err := ReadTruthFile(base + ".truth.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			if err := truth.Check(); err != nil {
				t.Fatal(err)
			}
			c, err := LoadCapture(base + ".ctr")
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range VerifyCapture(truth, c) {
				t.Error("capture: " + e)
			}
			if noAnalyzer != "" {
				t.Skipf("frames checked; model not compared: %s", noAnalyzer)
			}
			jsonOut, textOut := compareWithAnalyzer(t, base+".ctr", truth)
			checkGolden(t, base+".analyze.json", jsonOut)
			checkGolden(t, base+".analyze.txt", textOut)
		})
	}
}

// allCaptures returns every capture kept under testdata, in any directory.
func allCaptures(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(repoRoot, "testdata"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ctr") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestCapturesHoldOnlyTheirWorkload fails if a capture kept anywhere in
// testdata holds anything of the machine it was recorded on beyond its
// workload (its recorded command's processes, or its containers' and
// their runtime's; see CheckOnlyWorkload): `ctrace extract` of that
// workload must keep every record. The workload captures of
// testdata/captures are checked again by an oracle that shares no code
// with extract (CheckWorkloadOnly); a workload without a capture fails.
func TestCapturesHoldOnlyTheirWorkload(t *testing.T) {
	files := allCaptures(t)
	if len(files) == 0 {
		t.Fatal("no captures in testdata")
	}
	for _, file := range files {
		rel, _ := filepath.Rel(filepath.Join(repoRoot, "testdata"), file)
		t.Run(rel, func(t *testing.T) {
			for _, e := range CheckOnlyWorkload(file) {
				t.Error(e)
			}
			if filepath.Dir(file) != filepath.Clean(capturesDir) {
				return
			}
			for _, e := range CheckWorkloadOnly(file) {
				t.Error(e)
			}
			if st, err := os.Stat(file); err == nil && st.Size() > maxCaptureSize {
				t.Errorf("%d bytes: keep captures under %d", st.Size(), maxCaptureSize)
			}
			if _, err := os.Stat(strings.TrimSuffix(file, ".ctr") + ".truth.jsonl"); err != nil {
				t.Error(err)
			}
		})
	}
	names := keptCaptures(t)
	workloads, err := Workloads(workloadDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range workloads {
		if !slices.Contains(names, w) {
			t.Errorf("workload %s has no capture in %s (record with -update)", w, capturesDir)
		}
	}
	for _, n := range names {
		if !slices.Contains(workloads, n) {
			t.Errorf("capture %s has no workload source in %s", n, workloadDir)
		}
	}
}

// TestVerifyCaptureCatchesWrongTruth makes sure the raw checks are not
// vacuous: a truth changed in one fact no longer matches its capture.
func TestVerifyCaptureCatchesWrongTruth(t *testing.T) {
	load := func(name string) (Truth, *Capture) {
		base := filepath.Join(capturesDir, name)
		truth, err := ReadTruthFile(base + ".truth.jsonl")
		if err != nil {
			t.Fatal(err)
		}
		c, err := LoadCapture(base + ".ctr")
		if err != nil {
			t.Fatal(err)
		}
		if errs := VerifyCapture(truth, c); len(errs) > 0 {
			t.Fatalf("%s does not verify unchanged: %v", name, errs)
		}
		return truth, c
	}
	cases := []struct {
		capture, ev, want string
		change            func(*Event)
	}{
		{"orphan", EvProcess, "proc FORK says parent", func(e *Event) {
			if e.Role == "orphan" {
				e.PPID++ // the reaper, or anything else
			}
		}},
		{"fork_from_thread", EvThread, "no proc connector FORK of the thread", func(e *Event) { e.TID += 1000 }},
		{"leader_exit", EvExit, "wait status", func(e *Event) {
			if *e.Code == 13 {
				*e.Code = 0 // the leader's own exit status
			}
		}},
		{"signals", EvKilled, "wait status", func(e *Event) {
			if e.Signal == 11 {
				e.Signal = 6
			}
		}},
		{"vfork_exec", EvExec, "no successful audit execve", func(e *Event) {
			if len(e.Argv) > 4 {
				e.Argv[len(e.Argv)-1] += "x" // the split argument
			}
		}},
		{"files", EvWrite, "no audit event", func(e *Event) {
			if e.Op == OpRenameTo {
				e.Op = OpUnlink
			}
		}},
		{"files", EvWrite, "no audit event", func(e *Event) {
			if strings.HasSuffix(e.Path, "/sub/rel.txt") {
				e.Path = strings.Replace(e.Path, "/sub/", "/", 1) // relative to the old cwd
			}
		}},
		{"files", EvWrite, "no audit event", func(e *Event) {
			if e.FD != nil {
				*e.FD += 10
			}
		}},
		{"threads", EvProcess, "the truth does not name", nil},
	}
	for _, tc := range cases {
		truth, c := load(tc.capture)
		changed := false
		var out Truth
		for _, e := range truth {
			e.Argv = slices.Clone(e.Argv)
			if e.Code != nil {
				code := *e.Code
				e.Code = &code
			}
			if e.FD != nil {
				fd := *e.FD
				e.FD = &fd
			}
			if e.Ev == tc.ev {
				if tc.change == nil {
					changed = true
					continue // dropped
				}
				before := e.String()
				tc.change(&e)
				changed = changed || e.String() != before
			}
			out = append(out, e)
		}
		if !changed {
			t.Fatalf("%s: the change touched no %s line", tc.capture, tc.ev)
		}
		errs := VerifyCapture(out, c)
		if !slices.ContainsFunc(errs, func(s string) bool { return strings.Contains(s, tc.want) }) {
			t.Errorf("%s, %s changed: want an error with %q, got %q", tc.capture, tc.ev, tc.want, errs)
		}
	}
}

// TestCapturesLoseNothing: every capture kept in testdata was recorded
// (or imported) without loss, so none may report one: no serial or
// sequence gap, no late record.
func TestCapturesLoseNothing(t *testing.T) {
	for _, f := range allCaptures(t) {
		s, err := model.Summarize(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.Lost != 0 || s.LateRecords != 0 {
			t.Errorf("%s: lost %d (%+v), %d late records", f, s.Lost, s.Losses, s.LateRecords)
		}
	}
}

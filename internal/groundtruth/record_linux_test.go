//go:build linux

package groundtruth

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ctrace/ctrace/internal/kerneltest"
	"github.com/ctrace/ctrace/internal/reportjson"
)

// TestIntegrationWorkloads compiles every workload, records it for real,
// and checks the raw capture, its extract (`ctrace extract --command
// --redact-host`) and (once ctrace has an analyze command) the model
// against the workload's own truth, and that the model of the workload is
// the same in the extract. With -update it keeps the extract and the
// truth in testdata/captures.
func TestIntegrationWorkloads(t *testing.T) {
	kerneltest.Lock(t)
	names, err := Workloads(workloadDir)
	if err != nil || len(names) == 0 {
		t.Fatalf("no workloads in %s: %v", workloadDir, err)
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("gcc is not installed: CI must install it to build the workloads")
		}
		t.Skip("gcc is not installed: cannot build the workloads")
	}
	bin := t.TempDir()
	noAnalyzer := analyzerMissing(t)
	if noAnalyzer != "" {
		t.Logf("models not compared: %s", noAnalyzer)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			wbin, err := CompileWorkload(workloadDir, name, bin)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "input.txt"), []byte("read only\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			rec, err := Record(ctrace(t), wbin, dir, filepath.Join(bin, name+".ctr"))
			if err != nil {
				t.Fatal(err)
			}
			if rec.Retries > 0 {
				t.Logf("waited for another recorder: %d retries", rec.Retries)
			}
			truth, err := ParseTruth(bytes.NewReader(rec.Stdout))
			if err != nil {
				t.Fatalf("%v\nstderr:\n%s", err, rec.Stderr)
			}
			if err := truth.Check(); err != nil {
				t.Fatalf("inconsistent truth: %v\n%s", err, rec.Stdout)
			}
			root, _ := truth.Root()
			for _, e := range truth.Of(EvExit) {
				if e.PID == root.PID && *e.Code != rec.ExitCode {
					t.Errorf("ctrace record exited %d, the workload %d", rec.ExitCode, *e.Code)
				}
			}

			c := checkRecording(t, rec.Capture, truth)
			if pid, _ := c.CommandPID(); pid != root.PID {
				t.Fatalf("the capture's command is %d, the workload's top process %d", pid, root.PID)
			}

			// The kept capture: the workload cut out with ctrace extract.
			trimmed := filepath.Join(bin, name+".extract.ctr")
			if err := ExtractWorkload(ctrace(t), rec.Capture, trimmed); err != nil {
				t.Fatal(err)
			}
			checkRecording(t, trimmed, truth)
			for _, e := range CheckWorkloadOnly(trimmed) {
				t.Error("extract: " + e)
			}
			for _, e := range CheckOnlyWorkload(trimmed) {
				t.Error("extract: " + e)
			}
			if st, err := os.Stat(trimmed); err != nil {
				t.Error(err)
			} else if st.Size() > maxCaptureSize {
				t.Errorf("trimmed capture of %d bytes, more than %d", st.Size(), maxCaptureSize)
			}

			if noAnalyzer == "" {
				full, _ := compareWithAnalyzer(t, rec.Capture, truth)
				cut, _ := compareWithAnalyzer(t, trimmed, truth)
				sameProcesses(t, full, cut)
			}

			if *update && !t.Failed() {
				saveCapture(t, name, trimmed, rec.Stdout, noAnalyzer == "")
			}
		})
	}
}

// checkRecording loads a capture and checks it against the truth.
func checkRecording(t *testing.T, file string, truth Truth) *Capture {
	t.Helper()
	c, err := LoadCapture(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Truncated || c.Trailer == nil || len(c.Problems) > 0 {
		t.Fatalf("%s: truncated %v, trailer %v, damage %v", file, c.Truncated, c.Trailer != nil, c.Problems)
	}
	if l := c.Trailer.Loss; l.KernelLostAfter != l.KernelLostBefore || sum(l.ENOBUFS)+sum(l.RecorderDropped)+sum(l.Truncated) > 0 {
		t.Fatalf("%s: the recording lost frames (%+v): cannot compare", file, l)
	}
	for _, e := range VerifyCapture(truth, c) {
		t.Errorf("%s: %s", filepath.Base(file), e)
	}
	return c
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// sameProcesses checks that the analyzer shows the same processes, field
// for field, for the recorded command's subtree in the recording and in its
// extract, and nothing else in the extract (the recorder and the rest of the
// machine are gone). Ids number the processes of each capture: they are
// compared as positions in the list.
func sameProcesses(t *testing.T, full, cut []byte) {
	t.Helper()
	type report struct {
		Capture struct {
			CommandPID *int `json:"command_pid"`
		} `json:"capture"`
		Processes []map[string]any `json:"processes"`
	}
	var f, c report
	if err := json.Unmarshal(full, &f); err != nil || f.Capture.CommandPID == nil {
		t.Errorf("the recording's report: %v (command pid %v)", err, f.Capture.CommandPID)
		return
	}
	if err := json.Unmarshal(cut, &c); err != nil {
		t.Error(err)
		return
	}
	in := map[float64]bool{}
	var sub []map[string]any
	for _, p := range f.Processes {
		par, _ := p["parent_id"].(float64)
		if (p["pid"].(float64) == float64(*f.Capture.CommandPID) && len(in) == 0) || in[par] {
			in[p["id"].(float64)] = true
			sub = append(sub, p)
		}
	}
	lines := func(ps []map[string]any) []string {
		pos := map[float64]int{}
		for i, p := range ps {
			pos[p["id"].(float64)] = i
		}
		var out []string
		for i, p := range ps {
			q := maps.Clone(p)
			q["id"] = i
			reportjson.RemapIDs(q, pos, "outside")
			if i == 0 {
				// The command's parent, the recorder, has no frame of its
				// own in a recording without snapshot: it is in the
				// recording's model (from its threads' proc events), not in
				// the extract's.
				q["parent_id"] = "the recorder"
			}
			b, _ := json.Marshal(q)
			out = append(out, string(b))
		}
		return out
	}
	want, got := lines(sub), lines(c.Processes)
	if !slices.Equal(want, got) {
		t.Errorf("the extract's processes differ from the command's subtree in the recording:\n want %q\n got  %q", want, got)
	}
}

// saveCapture keeps a trimmed capture and its truth in testdata/captures,
// and the analyzer's outputs for it when there is an analyzer. The outputs
// are made from the kept file, as TestCaptures reads it.
func saveCapture(t *testing.T, name, trimmed string, truth []byte, withAnalyzer bool) {
	t.Helper()
	if err := os.MkdirAll(capturesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(trimmed)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(capturesDir, name)
	for f, data := range map[string][]byte{base + ".ctr": b, base + ".truth.jsonl": truth} {
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !withAnalyzer {
		// Outputs of an older analysis would not match the new capture.
		os.Remove(base + ".analyze.json")
		os.Remove(base + ".analyze.txt")
		t.Logf("updated %s.{ctr,truth.jsonl}", base)
		return
	}
	truthEvents, err := ParseTruth(bytes.NewReader(truth))
	if err != nil {
		t.Fatal(err)
	}
	jsonOut, textOut := compareWithAnalyzer(t, base+".ctr", truthEvents)
	checkGolden(t, base+".analyze.json", jsonOut) // -update: writes
	checkGolden(t, base+".analyze.txt", textOut)
	t.Logf("updated %s.{ctr,truth.jsonl,analyze.json,analyze.txt}", base)
}

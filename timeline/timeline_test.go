package timeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/auditlog"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// goldenCaptures are the real captures whose timelines are kept as golden
// files beside them: a docker run with a docker exec (containers, started_by,
// a signal-free exit 3), and dpkg installing and purging a package.
var goldenCaptures = []string{
	filepath.Join("..", "testdata", "containers", "docker_run.ctr"),
	filepath.Join("..", "testdata", "paths", "dpkg.ctr"),
}

func render(t *testing.T, file string, s analyze.Selection, w Window) (text, jsonl string) {
	t.Helper()
	a, err := analyze.AnalyzeFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := a.Select(s)
	if err != nil {
		t.Fatal(err)
	}
	ev := Events(a, sel, w)
	h := Header{Capture: &a.Capture, Selection: s.Text(), Window: w}
	var tb, jb bytes.Buffer
	if err := WriteText(&tb, h, ev); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSONL(&jb, h, ev); err != nil {
		t.Fatal(err)
	}
	return tb.String(), jb.String()
}

func TestGolden(t *testing.T) {
	for _, f := range goldenCaptures {
		text, jsonl := render(t, f, analyze.Selection{}, Window{})
		base := strings.TrimSuffix(f, ".ctr")
		for ext, got := range map[string]string{".timeline.txt": text, ".timeline.jsonl": jsonl} {
			golden := base + ext
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the golden file (go test -update rewrites it; review the diff)", golden)
			}
		}
	}
}

// decodeLines decodes JSON Lines.
func decodeLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// TestEveryFact: on every capture in testdata, the timeline lists every
// exec, exit and file operation of the JSON report, and nothing else of
// those kinds, in time order.
func TestEveryFact(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*", "*.ctr"))
	if len(files) < 10 {
		t.Fatalf("%d captures in testdata", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			a, err := analyze.AnalyzeFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var js bytes.Buffer
			if err := a.WriteJSON(&js, 0); err != nil {
				t.Fatal(err)
			}
			var rep struct {
				Processes []struct {
					ID           int     `json:"id"`
					KernelThread bool    `json:"kernel_thread"`
					End          *string `json:"end"`
					Execs        []struct {
						Time string `json:"time"`
					} `json:"execs"`
					Files []struct {
						Time      string  `json:"time"`
						Operation string  `json:"operation"`
						Path      *string `json:"path"`
					} `json:"files"`
				} `json:"processes"`
			}
			if err := json.Unmarshal(js.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			want := map[string]int{}
			for _, p := range rep.Processes {
				if p.KernelThread {
					continue
				}
				for _, x := range p.Execs {
					want[fmt.Sprintf("exec %d %s", p.ID, x.Time)]++
				}
				if p.End != nil {
					want[fmt.Sprintf("exit %d %s", p.ID, *p.End)]++
				}
				for _, x := range p.Files {
					path := ""
					if x.Path != nil {
						path = *x.Path
					}
					want[fmt.Sprintf("file %d %s %s %s", p.ID, x.Time, x.Operation, path)]++
				}
			}
			_, jsonl := render(t, f, analyze.Selection{}, Window{})
			got := map[string]int{}
			last := ""
			for i, e := range decodeLines(t, jsonl) {
				if i == 0 {
					if e["kind"] != "capture" {
						t.Fatalf("first line %v", e)
					}
					continue
				}
				tm := e["time"].(string)
				if tm < last {
					t.Errorf("line %d: time %s before %s", i, tm, last)
				}
				last = tm
				switch e["kind"] {
				case "exec", "exit":
					got[fmt.Sprintf("%s %v %s", e["kind"], e["id"], tm)]++
				case "file":
					path, _ := e["path"].(string)
					got[fmt.Sprintf("file %v %s %s %s", e["id"], tm, e["operation"], path)]++
				}
			}
			for k, n := range want {
				if got[k] != n {
					t.Errorf("JSON report has %d of %q, the timeline %d", n, k, got[k])
				}
			}
			for k, n := range got {
				if want[k] == 0 {
					t.Errorf("the timeline has %d of %q, the JSON report none", n, k)
				}
			}
		})
	}
}

// TestSelectionAndWindow: a --path selection gives the events of the kept
// processes only (their ancestors are context), and the window keeps the
// events within it, bounds included.
func TestSelectionAndWindow(t *testing.T) {
	f := goldenCaptures[0]
	a, err := analyze.AnalyzeFile(f)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := a.Select(analyze.Selection{Paths: []string{"/exec.txt"}})
	if err != nil {
		t.Fatal(err)
	}
	ev := Events(a, sel, Window{})
	if len(ev) == 0 {
		t.Fatal("no events")
	}
	var pids []int
	for _, e := range ev {
		if e.Process != nil && !slices.Contains(pids, e.Process.PID) {
			pids = append(pids, e.Process.PID)
		}
	}
	if len(pids) != 1 {
		t.Errorf("events of pids %v, want the one that wrote /exec.txt", pids)
	}
	all := Events(a, nil, Window{})
	from, to := all[len(all)/3].Time, all[2*len(all)/3].Time
	win := Events(a, nil, Window{Since: from, Until: to})
	var want []Event
	for _, e := range all {
		if e.Time >= from && e.Time <= to {
			want = append(want, e)
		}
	}
	if len(win) != len(want) || win[0].Time != from || win[len(win)-1].Time != to {
		t.Errorf("window: %d events, want %d", len(win), len(want))
	}
	text, _ := render(t, f, analyze.Selection{Paths: []string{"/exec.txt"}}, Window{Since: from})
	if !strings.Contains(text, "# selection: path /exec.txt\n") || !strings.Contains(text, "# window: "+analyze.FormatTime(from)+" to (open)\n") ||
		!strings.Contains(text, "file  create /exec.txt (host ") {
		t.Errorf("text:\n%s", text)
	}
}

// TestLossWhereItHappened: the docker session's auditd log with the
// records of ten events taken out of its middle imports with a serial gap;
// the timeline lists it once, between the events around it, with the
// serials missing.
func TestLossWhereItHappened(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "containers", "docker_session.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	serialOf := func(l string) string {
		i := strings.Index(l, "msg=audit(")
		if i < 0 {
			return ""
		}
		rest := l[i+len("msg=audit("):]
		j, k := strings.IndexByte(rest, ':'), strings.IndexByte(rest, ')')
		if j < 0 || k < j {
			return ""
		}
		return rest[j+1 : k]
	}
	var serials []string
	for _, l := range lines {
		if s := serialOf(l); s != "" && !slices.Contains(serials, s) && !strings.HasPrefix(l, "type=DAEMON") {
			serials = append(serials, s)
		}
	}
	// Ten consecutive events in the middle.
	mid := len(serials) / 2
	drop := serials[mid : mid+10]
	var kept []string
	for _, l := range lines {
		if !slices.Contains(drop, serialOf(l)) {
			kept = append(kept, l)
		}
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "cut.log")
	if err := os.WriteFile(log, []byte(strings.Join(kept, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	capture := filepath.Join(dir, "cut.ctr")
	if _, err := auditlog.ImportFile(capture, false, []string{log}, auditlog.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	// The log is trimmed to the session's processes: it has gaps of its
	// own. The cut adds 10 lost events, in one range that holds the
	// serials taken out, where they were.
	uncut := filepath.Join(dir, "uncut.ctr")
	if _, err := auditlog.ImportFile(uncut, false, []string{filepath.Join("..", "testdata", "containers", "docker_session.log")}, auditlog.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	before, err := analyze.AnalyzeFile(uncut)
	if err != nil {
		t.Fatal(err)
	}
	after, err := analyze.AnalyzeFile(capture)
	if err != nil {
		t.Fatal(err)
	}
	if after.Capture.Lost != before.Capture.Lost+10 {
		t.Errorf("lost %d, want %d + 10", after.Capture.Lost, before.Capture.Lost)
	}
	first, _ := strconv.ParseUint(drop[0], 10, 32)
	last, _ := strconv.ParseUint(drop[9], 10, 32)
	text, jsonl := render(t, capture, analyze.Selection{}, Window{})
	var found []map[string]any
	for _, e := range decodeLines(t, jsonl) {
		if e["kind"] == "loss" && uint64(e["first_serial"].(float64)) <= first && uint64(e["last_serial"].(float64)) >= last {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("loss events holding serials %d to %d: %v", first, last, found)
	}
	// It is placed after the last event before the cut and before the
	// first after it.
	var prevTime string
	for _, l := range lines {
		if s := serialOf(l); s == serials[mid-1] {
			prevTime = l
		}
	}
	if found[0]["time"].(string) > found[0]["until"].(string) || prevTime == "" {
		t.Errorf("loss at %v until %v", found[0]["time"], found[0]["until"])
	}
	if want := fmt.Sprintf("loss  AUDIT SERIALS %d to %d MISSING", uint64(found[0]["first_serial"].(float64)), uint64(found[0]["last_serial"].(float64))); !strings.Contains(text, want) {
		t.Errorf("no %q in the text", want)
	}
	if !strings.Contains(text, fmt.Sprintf("# losses: %d EVENTS LOST", after.Capture.Lost)) {
		t.Errorf("header without the loss:\n%s", text[:300])
	}
}

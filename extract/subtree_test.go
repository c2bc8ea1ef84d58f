package extract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/internal/reportjson"
)

// subtree returns the processes of `ctrace analyze --pid pid --format
// json` on file, normalized for comparison between two captures: ids are
// numbers in the full list of each capture, so they become positions in
// the subtree, and parent_id the parent's position (or "outside" when the
// parent is not in the subtree).
func subtree(t *testing.T, file string, pid int) []map[string]any {
	t.Helper()
	a, err := analyze.AnalyzeFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := a.WriteJSON(&b, pid); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Processes []map[string]any `json:"processes"`
	}
	if err := json.Unmarshal(b.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	return normalizeIDs(rep.Processes)
}

func normalizeIDs(ps []map[string]any) []map[string]any {
	pos := map[float64]int{}
	for i, p := range ps {
		pos[p["id"].(float64)] = i
	}
	for i, p := range ps {
		p["id"] = i
		reportjson.RemapIDs(p, pos, "outside")
	}
	return ps
}

func jsonLines(ps []map[string]any) string {
	var out strings.Builder
	for _, p := range ps {
		line, _ := json.Marshal(p)
		out.Write(line)
		out.WriteByte('\n')
	}
	return out.String()
}

// tolerateDirfd forgives the one known difference (see the package doc): a
// file operation on a name relative to a directory descriptor, resolved in
// the original through what another, unselected process's records said
// about the directory's inode, is unresolved in the extract. It rewrites
// orig's such operations as the extract has them and returns how many.
func tolerateDirfd(orig, ext []map[string]any) int {
	n := 0
	for i := range orig {
		if i >= len(ext) {
			break
		}
		of, _ := orig[i]["files"].([]any)
		ef, _ := ext[i]["files"].([]any)
		if len(of) != len(ef) {
			continue
		}
		dropped := map[string]bool{}
		for j := range of {
			o, e := of[j].(map[string]any), ef[j].(map[string]any)
			op, _ := o["path"].(string)
			ep, _ := e["path"].(string)
			if e["unresolved"] == true && o["unresolved"] == nil && ep != "" && strings.HasSuffix(op, "/"+ep) &&
				o["operation"] == e["operation"] && o["time"] == e["time"] {
				o["path"], o["unresolved"] = ep, true
				// What the extract knows of the directory instead.
				for _, k := range []string{"dir_fd", "dir_inode", "host_path"} {
					if v, ok := e[k]; ok {
						o[k] = v
					} else {
						delete(o, k)
					}
				}
				dropped[op] = true
				n++
			}
		}
		if len(dropped) > 0 {
			var fw []any
			for _, p := range orig[i]["files_written"].([]any) {
				if !dropped[p.(string)] {
					fw = append(fw, p)
				}
			}
			if fw == nil {
				fw = []any{}
			}
			orig[i]["files_written"] = fw
		}
	}
	return n
}

// checkSameSubtree extracts --pid pid from orig and compares the subtree
// of pid in both.
func checkSameSubtree(t *testing.T, orig string, pid int) {
	t.Helper()
	out := filepath.Join(t.TempDir(), fmt.Sprintf("pid%d.ctr", pid))
	if _, err := File(orig, out, Options{PIDs: []int{pid}}); err != nil {
		t.Fatalf("extract --pid %d: %v", pid, err)
	}
	wp, gp := subtree(t, orig, pid), subtree(t, out, pid)
	want, got := jsonLines(wp), jsonLines(gp)
	if want != got {
		if n := tolerateDirfd(wp, gp); n > 0 && jsonLines(wp) == got {
			t.Logf("--pid %d: %d file operations relative to a directory descriptor that only another process's records named stay unresolved (known limit)", pid, n)
			return
		}
		t.Errorf("--pid %d: the extract's subtree differs from the original's:\n%s", pid, lineDiff(want, got))
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("process %d:\n  original %s\n  extract  %s", i, a, b)
		}
	}
	return "(same)"
}

// modelPIDs returns the pids of the processes of a capture that are not
// kernel threads.
func modelPIDs(t *testing.T, file string) []int {
	t.Helper()
	a, err := analyze.AnalyzeFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range a.Processes {
		if !p.KernelThread {
			pids = append(pids, p.PID)
		}
	}
	slices.Sort(pids)
	return slices.Compact(pids)
}

// TestSameSubtreeOfEveryProcess: for every process of every capture kept
// in testdata (and of $CTRACE_EXTRACT_CAPTURE), `analyze OUT` after
// `extract --pid N` shows the subtree `analyze --pid N` shows on the
// original.
func TestSameSubtreeOfEveryProcess(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*", "*.ctr"))
	files = append(files, mustGlob(t, filepath.Join("testdata", "*.ctr"))...)
	if f := os.Getenv("CTRACE_EXTRACT_CAPTURE"); f != "" {
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatal("no captures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			for _, pid := range modelPIDs(t, f) {
				checkSameSubtree(t, f, pid)
			}
		})
	}
}

func mustGlob(t *testing.T, pattern string) []string {
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// containerJSON returns `ctrace analyze --container id --format json` on
// file, normalized: ids of processes become positions, and the container's
// own lists of ids are dropped (they number the full list).
func containerJSON(t *testing.T, file, id string) string {
	t.Helper()
	a, err := analyze.AnalyzeFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := a.Write(&b, analyze.Options{Format: "json", Container: id}); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Processes  []map[string]any `json:"processes"`
		Containers []map[string]any `json:"containers"`
	}
	if err := json.Unmarshal(b.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	pos := map[float64]int{}
	for i, p := range rep.Processes {
		pos[p["id"].(float64)] = i
	}
	var out strings.Builder
	for _, c := range rep.Containers {
		reportjson.DropContainerIDs(c)
		line, _ := json.Marshal(c)
		out.Write(line)
		out.WriteByte('\n')
	}
	for i, p := range rep.Processes {
		p["id"] = i
		reportjson.RemapIDs(p, pos, "outside")
		line, _ := json.Marshal(p)
		out.Write(line)
		out.WriteByte('\n')
	}
	return out.String()
}

// TestSameContainer: for every container of every capture with containers
// in testdata (and of $CTRACE_EXTRACT_CAPTURE), `analyze --container ID`
// shows the same container and processes on `extract --container ID` as
// on the original.
func TestSameContainer(t *testing.T) {
	files := mustGlob(t, filepath.Join("..", "testdata", "containers", "*.ctr"))
	if f := os.Getenv("CTRACE_EXTRACT_CAPTURE"); f != "" {
		files = append(files, f)
	}
	n := 0
	for _, f := range files {
		a, err := analyze.AnalyzeFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range a.Containers {
			n++
			t.Run(filepath.Base(f)+"/"+c.ShortID(), func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "c.ctr")
				if _, err := File(f, out, Options{Containers: []string{c.ShortID()}}); err != nil {
					t.Fatal(err)
				}
				want, got := containerJSON(t, f, c.ID), containerJSON(t, out, c.ID)
				if want != got {
					t.Errorf("--container %s: the extract shows another container:\n%s", c.ShortID(), lineDiff(want, got))
				}
				// The other containers are gone (unless their init is an
				// ancestor of this one's processes).
				b, err := analyze.AnalyzeFile(out)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range b.Containers {
					if o.ID != c.ID && len(o.Processes) > 1 {
						t.Errorf("--container %s: the extract holds container %s with %d processes", c.ShortID(), o.ShortID(), len(o.Processes))
					}
				}
			})
		}
	}
	if n == 0 {
		t.Skip("no capture with containers in testdata/containers (nor $CTRACE_EXTRACT_CAPTURE)")
	}
}

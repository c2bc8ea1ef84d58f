package analyze

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSelectDockerRun: on the docker run capture (its workload: the init
// writes /data.txt, its child /tmp/child.txt, a docker exec /exec.txt and
// /tmp/stop), --path and --exe keep the processes that did it, with their
// ancestors as context.
func TestSelectDockerRun(t *testing.T) {
	a, err := AnalyzeFile(filepath.Join("..", "testdata", "containers", "docker_run.ctr"))
	if err != nil {
		t.Fatal(err)
	}
	c := a.Containers[0]
	kept := func(s Selection) (keep, ctx []*Process) {
		t.Helper()
		sel, err := a.Select(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range sel.Processes {
			if sel.Context[p] {
				ctx = append(ctx, p)
			} else {
				keep = append(keep, p)
			}
		}
		// Context is exactly the ancestors of the kept processes.
		for _, p := range ctx {
			if !slices.ContainsFunc(keep, func(k *Process) bool { return p != k && isAncestor(p, k) }) {
				t.Errorf("%v: context %d is no ancestor of a kept process", s, p.PID)
			}
		}
		for _, k := range keep {
			for q := k.Parent; q != nil; q = q.Parent {
				if !slices.Contains(sel.Processes, q) {
					t.Errorf("%v: ancestor %d of %d missing", s, q.PID, k.PID)
				}
			}
		}
		return keep, ctx
	}
	keep, ctx := kept(Selection{Paths: []string{"/exec.txt"}})
	if len(keep) != 1 || !slices.Equal(keep[0].Execs[0].Argv, []string{"sh", "-c", "echo exec > /exec.txt; touch /tmp/stop"}) || len(ctx) == 0 {
		t.Errorf("--path /exec.txt: kept %v, context %d", pids(keep), len(ctx))
	}
	// /tmp/** in the container: the init's child, and the exec session's
	// touch (the shim's /tmp/runc-process* on the host matches too).
	keep, _ = kept(Selection{Paths: []string{"/tmp/**"}, Container: c.ID})
	var written []string
	for _, p := range keep {
		for _, f := range p.FilesWritten {
			if strings.HasPrefix(f, "/tmp/") {
				written = append(written, f)
			}
		}
	}
	slices.Sort(written)
	if !slices.Equal(slices.Compact(written), []string{"/tmp/child.txt", "/tmp/stop"}) {
		t.Errorf("--path /tmp/**: %q", written)
	}
	// A glob without "/" matches the base name; host paths match too.
	if keep, _ := kept(Selection{Paths: []string{"data.txt"}}); len(keep) != 1 || keep[0] != c.Init {
		t.Errorf("--path data.txt: %v, want the init %d", pids(keep), c.Init.PID)
	}
	if keep, _ := kept(Selection{Paths: []string{c.Rootfs + "/data.txt"}}); len(keep) != 1 || keep[0] != c.Init {
		t.Errorf("--path ROOTFS/data.txt: %v", pids(keep))
	}
	// --exe: every process that exec'd sleep; with --container, the same.
	keep, _ = kept(Selection{Exes: []string{"sleep"}})
	keepC, _ := kept(Selection{Exes: []string{"sleep"}, Container: c.ID[:6]})
	if len(keep) != 3 || !slices.Equal(pids(keep), pids(keepC)) {
		t.Errorf("--exe sleep: %v; with --container: %v", pids(keep), pids(keepC))
	}
	if keep, _ := kept(Selection{Exes: []string{"/usr/bin/runc", "runc"}}); len(keep) == 0 || slices.ContainsFunc(keep, func(p *Process) bool { return p.Container != nil }) {
		t.Errorf("--exe runc: %v", pids(keep))
	}
	// Selectors combine: /exec.txt was not written by a sleep.
	if keep, ctx := kept(Selection{Exes: []string{"sleep"}, Paths: []string{"/exec.txt"}}); len(keep)+len(ctx) != 0 {
		t.Errorf("--exe sleep --path /exec.txt: %v", pids(keep))
	}
	if _, err := a.Select(Selection{Paths: []string{"[a-"}}); !errors.Is(err, ErrBadGlob) {
		t.Errorf("bad glob: %v", err)
	}
	if _, err := a.Select(Selection{Paths: []string{"/x"}, PID: 999999}); !errors.Is(err, ErrNoSuchPID) {
		t.Errorf("no such pid: %v", err)
	}

	// The reports: text shows the kept process with its files and the
	// context without theirs; JSON marks the context.
	var text, js bytes.Buffer
	o := Options{Paths: []string{"/exec.txt"}}
	if err := a.Write(&text, o); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"selection:  path /exec.txt: 1 process kept, ", "/exec.txt: create", "exec session started by"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("no %q in\n%s", want, text.String())
		}
	}
	if strings.Contains(text.String(), "/data.txt") {
		t.Errorf("the text report shows files of other processes:\n%s", text.String())
	}
	o.Format = "json"
	if err := a.Write(&js, o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"context": true`) || !strings.Contains(js.String(), `"selection": "path /exec.txt"`) {
		t.Errorf("JSON report without context or selection")
	}
}

// TestSelectEveryPath: on every capture in testdata, --path P keeps
// exactly the processes with a resolved operation on P.
func TestSelectEveryPath(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*", "*.ctr"))
	if len(files) == 0 {
		t.Fatal("no captures in testdata")
	}
	for _, f := range files {
		a, err := AnalyzeFile(f)
		if err != nil {
			t.Fatal(err)
		}
		byPath := map[string][]*Process{}
		for _, p := range a.Processes {
			for _, op := range p.Files {
				if !op.Unresolved && op.Path != "" && !slices.Contains(byPath[op.Path], p) {
					byPath[op.Path] = append(byPath[op.Path], p)
				}
			}
		}
		n := 0
		for path, want := range byPath {
			if strings.ContainsAny(path, "*?[{\\") || n > 40 {
				continue
			}
			n++
			sel, err := a.Select(Selection{Paths: []string{path}})
			if err != nil {
				t.Fatal(err)
			}
			var got []*Process
			for _, p := range sel.Processes {
				if !sel.Context[p] {
					got = append(got, p)
				}
			}
			for _, p := range want {
				if !slices.Contains(got, p) {
					t.Errorf("%s: --path %s misses pid %d", filepath.Base(f), path, p.PID)
				}
			}
			for _, p := range got {
				if !slices.Contains(want, p) && !touched(p, []string{path}) {
					t.Errorf("%s: --path %s keeps pid %d, which did not touch it", filepath.Base(f), path, p.PID)
				}
			}
		}
	}
}

func pids(ps []*Process) []int {
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.PID
	}
	return out
}

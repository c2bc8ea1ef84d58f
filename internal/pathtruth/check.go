package pathtruth

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
)

// Report is the part of `ctrace analyze --format json` the checks read.
type Report struct {
	Capture struct {
		Lost   int64    `json:"lost"`
		Damage []string `json:"damage"`
		Files  []string `json:"files"` // of a capture set
	} `json:"capture"`
	Processes []Process `json:"processes"`
}

// Process is one process of the report.
type Process struct {
	PID       int      `json:"pid"`
	Argv      []string `json:"argv"`
	Root      string   `json:"root"`
	Container *string  `json:"container"`
	Files     []File   `json:"files"`
}

// File is one file operation of the report.
type File struct {
	Path       *string `json:"path"`
	HostPath   string  `json:"host_path"`
	HostView   bool    `json:"host_view"`
	Operation  string  `json:"operation"`
	Time       string  `json:"time"`
	Unresolved bool    `json:"unresolved"`
	From       string  `json:"from"`
}

// DecodeReport reads a JSON report.
func DecodeReport(b []byte) (*Report, error) {
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("pathtruth: decoding the report: %w", err)
	}
	return &r, nil
}

// Class returns the comparison class of a ctrace operation.
func Class(op string) string {
	switch op {
	case "create", "open_write", "open":
		return ClassOpen
	}
	return op
}

// Where returns the host path of an operation ("" when unresolved).
func (f *File) Where() string {
	if f.Unresolved || f.Path == nil {
		return ""
	}
	if f.HostPath != "" {
		return f.HostPath
	}
	return *f.Path
}

// Result is what Compare found.
type Result struct {
	Ops        int      // operations in the compared processes
	Unresolved int      // of which unresolved
	Wrong      []string // resolved operations the truth does not have
	Missing    []string // truth operations the report does not have
	Matched    int
}

// ResolvedShare is the share of operations that are resolved.
func (r *Result) ResolvedShare() float64 {
	if r.Ops == 0 {
		return 1
	}
	return float64(r.Ops-r.Unresolved) / float64(r.Ops)
}

func (r *Result) String() string {
	return fmt.Sprintf("%d operations, %d matched, %d unresolved (%.2f%% resolved), %d wrong, %d missing",
		r.Ops, r.Matched, r.Unresolved, 100*r.ResolvedShare(), len(r.Wrong), len(r.Missing))
}

// Compare checks the operations of the report's processes whose pid is in
// pids (all when nil) against the trace: every resolved operation must be
// one the trace shows the same process doing on the same path. Missing
// lists the trace's operations the report does not have, resolved.
func Compare(rep *Report, tr *Trace, pids map[int]bool) *Result {
	type key struct {
		pid         int
		class, path string
	}
	truth := map[key]bool{}
	for _, o := range append(tr.Ops[:len(tr.Ops):len(tr.Ops)], tr.Optional...) {
		truth[key{o.PID, o.Class, o.Path}] = true
	}
	res := &Result{}
	seen := map[key]bool{}
	for _, p := range rep.Processes {
		if pids != nil && !pids[p.PID] {
			continue
		}
		for _, f := range p.Files {
			res.Ops++
			w := f.Where()
			if w == "" {
				res.Unresolved++
				continue
			}
			k := key{p.PID, Class(f.Operation), w}
			seen[k] = true
			if truth[k] {
				res.Matched++
				continue
			}
			res.Wrong = append(res.Wrong, fmt.Sprintf("pid %d %s %s", p.PID, f.Operation, w))
		}
	}
	for _, o := range tr.Ops {
		if pids != nil && !pids[o.PID] {
			continue
		}
		if !seen[key{o.PID, o.Class, o.Path}] {
			res.Missing = append(res.Missing, fmt.Sprintf("pid %d %s %s", o.PID, o.Class, o.Path))
		}
	}
	res.Missing = uniq(res.Missing)
	return res
}

func uniq(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// UnderRegularFile lists the operations of the report on a path under a
// path that the report says was a regular file at that time (created or
// opened for writing as a file, not since removed or renamed away): a path
// that cannot be right. Paths are compared as host paths.
func UnderRegularFile(rep *Report) []string {
	type ev struct {
		time, op, path string
	}
	var evs []ev
	for _, p := range rep.Processes {
		for _, f := range p.Files {
			if w := f.Where(); w != "" {
				evs = append(evs, ev{f.Time, f.Operation, w})
			}
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].time < evs[j].time })
	regular := map[string]bool{}
	clearUnder := func(dir string) {
		delete(regular, dir)
		for q := range regular {
			if strings.HasPrefix(q, dir+"/") {
				delete(regular, q)
			}
		}
	}
	var bad []string
	movedRegular := false
	for _, e := range evs {
		for d := path.Dir(e.path); d != "/" && d != "."; d = path.Dir(d) {
			if regular[d] {
				bad = append(bad, fmt.Sprintf("%s %s (under the file %s)", e.op, e.path, d))
				break
			}
		}
		switch e.op {
		case "create", "open_write", "truncate", "mknod":
			regular[e.path] = true
		case "rename_from":
			movedRegular = regular[e.path]
			clearUnder(e.path)
		case "rename_to":
			clearUnder(e.path)
			regular[e.path] = movedRegular
		case "unlink", "rmdir", "mkdir", "symlink":
			clearUnder(e.path)
		}
	}
	return bad
}

// Summary lists a few entries of a long list for a test message.
func Summary(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, "\n")
	}
	return strings.Join(s[:n], "\n") + fmt.Sprintf("\n... and %d more", len(s)-n)
}

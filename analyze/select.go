package analyze

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Selection picks the processes a report shows. Every selector given must
// hold (they combine); an empty Selection is every process.
type Selection struct {
	// PID: the subtrees of the processes with this pid.
	PID int
	// Container: the processes of the container whose id starts with it.
	Container string
	// Paths: globs of paths; a process is kept when one of its (resolved)
	// file operations has a path or host path matching one of them. "**"
	// matches across directories; a glob without "/" matches the base name.
	Paths []string
	// Exes: globs of programs; a process is kept when one of its execs ran
	// a program (exe, or argv[0]) matching one of them. A glob without "/"
	// matches the base name.
	Exes []string
}

// Filtered reports whether the selection filters by path or program.
func (s Selection) Filtered() bool { return len(s.Paths) > 0 || len(s.Exes) > 0 }

// ErrBadGlob is returned for a --path or --exe pattern that is not a valid
// glob.
var ErrBadGlob = errors.New("analyze: bad glob")

// Selected is the outcome of a selection: the processes kept, and their
// ancestors that are shown only as context (where the kept ones come
// from).
type Selected struct {
	// Processes: the kept processes and the context, in model order.
	Processes []*Process
	// Context marks the ancestors kept only for context.
	Context map[*Process]bool
	// Containers: the containers with a kept process.
	Containers []*Container
}

// Select applies a selection. A pid that names no process is ErrNoSuchPID,
// a container prefix that names none ErrNoSuchContainer (or
// ErrAmbiguousContainer), a bad glob ErrBadGlob; a selection that matches
// nothing is not an error (Processes is empty).
func (a *Analysis) Select(s Selection) (*Selected, error) {
	for _, g := range append(append([]string{}, s.Paths...), s.Exes...) {
		if !doublestar.ValidatePattern(g) || g == "" {
			return nil, fmt.Errorf("%w: %q", ErrBadGlob, g)
		}
	}
	keep := map[*Process]bool{}
	for _, p := range a.Processes {
		keep[p] = true
	}
	and := func(ok map[*Process]bool) {
		for p := range keep {
			if !ok[p] {
				delete(keep, p)
			}
		}
	}
	if s.PID > 0 {
		if len(a.roots(s.PID)) == 0 {
			return nil, fmt.Errorf("%w: %d", ErrNoSuchPID, s.PID)
		}
		ok := map[*Process]bool{}
		for _, p := range a.selected(s.PID) {
			ok[p] = true
		}
		and(ok)
	}
	if s.Container != "" {
		c, err := a.FindContainer(s.Container)
		if err != nil {
			return nil, err
		}
		ok := map[*Process]bool{}
		for _, p := range c.Processes {
			ok[p] = true
		}
		and(ok)
	}
	if len(s.Paths) > 0 {
		ok := map[*Process]bool{}
		for _, p := range a.Processes {
			if touched(p, s.Paths) {
				ok[p] = true
			}
		}
		and(ok)
	}
	if len(s.Exes) > 0 {
		ok := map[*Process]bool{}
		for _, p := range a.Processes {
			if ran(p, s.Exes) {
				ok[p] = true
			}
		}
		and(ok)
	}
	out := &Selected{Context: map[*Process]bool{}}
	if s.Filtered() {
		for p := range keep {
			for q := p.Parent; q != nil && !keep[q] && !out.Context[q]; q = q.Parent {
				out.Context[q] = true
			}
		}
	}
	for _, p := range a.Processes {
		if keep[p] || out.Context[p] {
			out.Processes = append(out.Processes, p)
		}
	}
	for _, c := range a.Containers {
		for _, p := range c.Processes {
			if keep[p] {
				out.Containers = append(out.Containers, c)
				break
			}
		}
	}
	return out, nil
}

// globMatch matches a path against a glob: the whole path, or its base name
// when the glob has no "/".
func globMatch(glob, p string) bool {
	if p == "" {
		return false
	}
	if !strings.Contains(glob, "/") {
		p = path.Base(p)
	}
	ok, _ := doublestar.Match(glob, p)
	return ok
}

// touched reports whether one of p's resolved file operations has a path
// or host path matching one of globs.
func touched(p *Process, globs []string) bool {
	for i := range p.Files {
		f := &p.Files[i]
		if f.Unresolved {
			continue
		}
		for _, g := range globs {
			if globMatch(g, f.Path) || globMatch(g, f.HostPath) {
				return true
			}
		}
	}
	return false
}

// ran reports whether one of p's execs (or, without one, its program)
// ran a program matching one of globs.
func ran(p *Process, globs []string) bool {
	var progs []string
	for _, x := range p.Execs {
		progs = append(progs, x.Exe)
		if len(x.Argv) > 0 {
			progs = append(progs, x.Argv[0])
		}
	}
	if len(p.Execs) == 0 {
		progs = append(progs, p.Exe)
		if len(p.Argv) > 0 {
			progs = append(progs, p.Argv[0])
		}
	}
	for _, prog := range progs {
		for _, g := range globs {
			if globMatch(g, prog) {
				return true
			}
		}
	}
	return false
}

// Text describes a selection for the report headers: "pid 12, path
// /etc/**"; "" for everything.
func (s Selection) Text() string {
	var parts []string
	if s.PID > 0 {
		parts = append(parts, fmt.Sprintf("pid %d", s.PID))
	}
	if s.Container != "" {
		parts = append(parts, "container "+s.Container)
	}
	for _, g := range s.Paths {
		parts = append(parts, "path "+g)
	}
	for _, g := range s.Exes {
		parts = append(parts, "exe "+g)
	}
	return strings.Join(parts, ", ")
}

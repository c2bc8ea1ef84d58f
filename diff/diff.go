// Package diff compares the behaviour of two recordings of the same job
// (ctrace diff): the programs executed, the files written, how processes
// ended, the containers, the network endpoints and the credential changes,
// each normalised so that what changes on every run (pids, times, temporary
// names, hashes, container ids) does not count. What is in NEW and not in
// BASE is new, what is in BASE and not in NEW is gone, and a program that
// ran in both but ended differently has changed; each entry carries the
// process chain that did it, grouped by container.
package diff

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/ctrace/ctrace/analyze"
)

// Fact kinds.
const (
	KindExec       = "exec"       // a program ran (exe and argv)
	KindFile       = "file"       // a file was written (operation and path)
	KindConnection = "connection" // a network call (operation and address)
	KindCredential = "credential" // a credential change (call and ids)
	KindContainer  = "container"  // a container ran (its init's command)
)

// Rule is one normalisation: matches of Pattern are replaced by Replace
// (when Mixed, only matches of letters in both cases, as random names
// are).
type Rule struct {
	Name    string
	Pattern *regexp.Regexp
	Replace string
	Mixed   bool
}

// Rules are the normalisations applied to every argument and path, in
// order (shown by --explain).
var Rules = []Rule{
	{Name: "hex ids and hashes (12 hex digits or more: container ids, sha256, build ids)",
		Pattern: regexp.MustCompile(`[0-9a-f]{12,}`), Replace: "<hex>"},
	{Name: "descriptor numbers under /proc (/proc/self/fd/26)",
		Pattern: regexp.MustCompile(`/proc/(self|[0-9]+)/fd/[0-9]+`), Replace: "/proc/$1/fd/<fd>"},
	{Name: "pids under /proc (/proc/812/oom_score_adj)",
		Pattern: regexp.MustCompile(`/proc/[0-9]+/`), Replace: "/proc/<pid>/"},
	{Name: "random names of temporary files (6 letters and digits that mix cases, or letters and digits, as mkstemp makes: /tmp/ccX3fQ2a.s, runc.1vnxvd)",
		Pattern: regexp.MustCompile(`[A-Za-z0-9]{6}`), Replace: "<rand>", Mixed: true},
	{Name: "numbers of 4 digits or more (pids, temporary directory and file suffixes, ports, times)",
		Pattern: regexp.MustCompile(`[0-9]{4,}`), Replace: "<n>"},
}

// Normalize applies Rules to s.
func Normalize(s string) string {
	for _, r := range Rules {
		if !r.Mixed {
			s = r.Pattern.ReplaceAllString(s, r.Replace)
			continue
		}
		s = replaceRandom(s, r)
	}
	return s
}

// replaceRandom replaces the runs of exactly 6 letters and digits that mix
// cases and end a name or precede its extension, after a separator or a
// short lower-case prefix (cc, tmp): the mkstemp XXXXXX.
var randomName = regexp.MustCompile(`(^|[/._-])([a-z]{0,4})([A-Za-z0-9]{6})((?:\.[A-Za-z0-9]{1,8})*)($|[/\s'"])`)

func replaceRandom(s string, r Rule) string {
	return randomName.ReplaceAllStringFunc(s, func(m string) string {
		g := randomName.FindStringSubmatch(m)
		x := g[3]
		cases := strings.ToLower(x) != x && strings.ToUpper(x) != x
		digits := strings.IndexAny(x, "0123456789") >= 0 && strings.Trim(x, "0123456789") != ""
		if !cases && !digits {
			return m
		}
		return g[1] + g[2] + r.Replace + g[4] + g[5]
	})
}

// Ignore says which paths and programs to leave out: lines of an ignore
// file, each a glob ("**" crosses directories) of a path or a program,
// optionally prefixed by "path " or "exe "; '#' starts a comment.
type Ignore struct {
	Paths, Exes []string
}

// ParseIgnore reads an ignore file's text; a bad glob is an error naming
// its line.
func ParseIgnore(text string) (*Ignore, error) {
	ig := &Ignore{}
	for i, line := range strings.Split(text, "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		kind, glob, ok := strings.Cut(line, " ")
		if !ok || (kind != "path" && kind != "exe") {
			kind, glob = "both", line
		}
		glob = strings.TrimSpace(glob)
		if !doublestar.ValidatePattern(glob) {
			return nil, fmt.Errorf("line %d: bad glob %q", i+1, glob)
		}
		if kind != "exe" {
			ig.Paths = append(ig.Paths, glob)
		}
		if kind != "path" {
			ig.Exes = append(ig.Exes, glob)
		}
	}
	return ig, nil
}

func match(globs []string, s string) bool {
	for _, g := range globs {
		t := s
		if !strings.Contains(g, "/") {
			t = path.Base(s)
		}
		if ok, _ := doublestar.Match(g, t); ok {
			return true
		}
	}
	return false
}

func (ig *Ignore) path(p string) bool { return ig != nil && p != "" && match(ig.Paths, p) }
func (ig *Ignore) exe(e string) bool  { return ig != nil && e != "" && match(ig.Exes, e) }

// Fact is one normalised behaviour of a capture, with the processes that
// showed it.
type Fact struct {
	Kind string
	// Container is the container the fact happened in: "#N of CLIENT"
	// for the Nth container a client (docker run, docker build) started,
	// else the normalised command of its init; "" on the host.
	Container string
	// What is the normalised behaviour (the key it is compared by).
	What string
	// Ends are the normalised ways the programs of an exec fact ended
	// ("exit 0", "killed by SIGTERM"), sorted.
	Ends []string
	// Processes showed it (the first is the one reported).
	Processes []*analyze.Process
}

func (f *Fact) key() string { return f.Kind + "\x00" + f.Container + "\x00" + f.What }

// looseKey is key with every name shaped as mkstemp makes them taken for
// one, whatever its letters.
func (f *Fact) looseKey() string {
	return f.Kind + "\x00" + f.Container + "\x00" + randomName.ReplaceAllString(f.What, "${1}${2}<rand>${4}${5}")
}

// looseIndex indexes facts by looseKey.
func looseIndex(fs []*Fact) map[string][]*Fact {
	m := map[string][]*Fact{}
	for _, f := range fs {
		m[f.looseKey()] = append(m[f.looseKey()], f)
	}
	return m
}

// Scope returns the processes of a recorded command's job: the command
// (the process of Capture.CommandPID started in the capture) and its
// descendants, and the processes of the containers they started (their
// started_by) and of the exec sessions they started. nil when the capture
// names no command, or its process is not in it.
func Scope(a *analyze.Analysis) map[*analyze.Process]bool {
	pid := a.Capture.CommandPID
	if pid == 0 {
		return nil
	}
	var root *analyze.Process
	for _, p := range a.Processes {
		if p.PID == pid && !p.PreExisting {
			root = p
			break
		}
	}
	if root == nil {
		return nil
	}
	in := map[*analyze.Process]bool{}
	var walk func(p *analyze.Process)
	walk = func(p *analyze.Process) {
		in[p] = true
		for _, c := range p.Children {
			walk(c)
		}
	}
	walk(root)
	job := maps.Clone(in)
	for _, c := range a.Containers {
		if l := c.StartedBy; l != nil && job[l.Process] {
			for _, p := range c.Processes {
				in[p] = true
			}
			continue
		}
		for _, e := range c.ExecSessions {
			if e.StartedBy != nil && job[e.StartedBy.Process] {
				walk(e.Process)
			}
		}
	}
	return in
}

// Facts returns the normalised behaviour of an analysis (of the processes
// in scope; every process when scope is nil), sorted.
func Facts(a *analyze.Analysis, scope map[*analyze.Process]bool, ig *Ignore) []*Fact {
	ctr := map[*analyze.Process]string{}
	byKey := map[string]*Fact{}
	add := func(kind, container, what string, p *analyze.Process) *Fact {
		f := &Fact{Kind: kind, Container: container, What: what}
		if g := byKey[f.key()]; g != nil {
			g.Processes = append(g.Processes, p)
			return g
		}
		f.Processes = []*analyze.Process{p}
		byKey[f.key()] = f
		return f
	}
	started := map[*analyze.Process]int{}
	for _, c := range a.Containers {
		if scope != nil && (c.Init == nil || !scope[c.Init]) {
			continue
		}
		cmdline := "(init unknown)"
		if c.Init != nil {
			cmdline = Normalize(command(c.Init))
		}
		// A container is known by the client that started it and its
		// place among that client's containers (a build's RUN steps keep
		// their place when their command changes), else by its command.
		key := cmdline
		if l := c.StartedBy; l != nil {
			started[l.Process]++
			key = fmt.Sprintf("#%d of %s", started[l.Process], Normalize(command(l.Process)))
		}
		for _, p := range c.Processes {
			ctr[p] = key
		}
		if c.Init != nil && !ig.exe(c.Init.Exe) {
			add(KindContainer, key, cmdline, c.Init)
		}
	}
	for _, p := range a.Processes {
		if p.KernelThread || (p.PreExisting && len(p.Execs) == 0 && len(p.Files) == 0) || (scope != nil && !scope[p]) {
			continue
		}
		in := ctr[p]
		for _, x := range p.Execs {
			if x.Argv == nil || ig.exe(x.Exe) || (len(x.Argv) > 0 && ig.exe(x.Argv[0])) {
				continue
			}
			f := add(KindExec, in, Normalize(x.Exe+" "+analyze.ArgvText(x.Argv)), p)
			if e := end(p); e != "" && !slices.Contains(f.Ends, e) {
				f.Ends = append(f.Ends, e)
				slices.Sort(f.Ends)
			}
		}
		for i := range p.Files {
			op := &p.Files[i]
			if op.Unresolved || op.Op == analyze.OpOpen || ig.path(op.Path) || ig.path(op.HostPath) {
				continue
			}
			add(KindFile, in, op.Op+" "+Normalize(op.Path), p)
		}
		for i := range p.Connections {
			c := &p.Connections[i]
			add(KindConnection, in, Normalize(c.Op+" "+analyze.ConnectionAddress(c)+": "+c.Result), p)
		}
		for i := range p.CredentialChanges {
			c := &p.CredentialChanges[i]
			add(KindCredential, in, fmt.Sprintf("%s uid %d gid %d euid %d egid %d", c.Syscall, c.UID, c.GID, c.EUID, c.EGID), p)
		}
	}
	out := make([]*Fact, 0, len(byKey))
	for _, f := range byKey {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *Fact) int { return cmp.Compare(a.key(), b.key()) })
	return out
}

// end says how a process ended, normalised.
func end(p *analyze.Process) string {
	switch {
	case p.Signal != nil:
		return "killed by " + analyze.SignalName(*p.Signal)
	case p.ExitCode != nil:
		return fmt.Sprintf("exit %d", *p.ExitCode)
	}
	return ""
}

func command(p *analyze.Process) string {
	if len(p.Execs) > 0 && p.Execs[0].Argv != nil {
		return analyze.ArgvText(p.Execs[0].Argv)
	}
	return analyze.ArgvText(p.Argv)
}

// Entry is one difference.
type Entry struct {
	// Change is new, gone or changed.
	Change string
	Fact   *Fact
	// Was is BASE's fact of a changed one (its Ends differ).
	Was *Fact
}

// Changes.
const (
	New     = "new"
	Gone    = "gone"
	Changed = "changed"
)

// Compare returns what differs between two sets of facts, sorted by
// container, kind and behaviour.
func Compare(base, next []*Fact) []Entry {
	b := map[string]*Fact{}
	for _, f := range base {
		b[f.key()] = f
	}
	n := map[string]*Fact{}
	for _, f := range next {
		n[f.key()] = f
	}
	var out []Entry
	// A name mkstemp made may be six letters of one case (/tmp/ccchxzod.s,
	// /tmp/ccZPVJHG.s), which Normalize keeps, as it does words. A fact is
	// no difference when the other capture has one that differs from it
	// only there, where it has a name Normalize did take for random
	// (<rand>); two words (/tmp/config.s, /tmp/output.s) still differ.
	var bl, nl map[string][]*Fact // built for the first fact without its twin
	counterpart := func(in *map[string][]*Fact, of []*Fact, f *Fact) *Fact {
		if *in == nil {
			*in = looseIndex(of)
		}
		for _, o := range (*in)[f.looseKey()] {
			if strings.Count(o.What, "<rand>") != strings.Count(f.What, "<rand>") {
				return o
			}
		}
		return nil
	}
	for _, f := range next {
		old, ok := b[f.key()]
		if !ok {
			old = counterpart(&bl, base, f)
		}
		switch {
		case old == nil:
			out = append(out, Entry{Change: New, Fact: f})
		case f.Kind == KindExec && !slices.Equal(old.Ends, f.Ends):
			out = append(out, Entry{Change: Changed, Fact: f, Was: old})
		}
	}
	for _, f := range base {
		if _, ok := n[f.key()]; !ok && counterpart(&nl, next, f) == nil {
			out = append(out, Entry{Change: Gone, Fact: f})
		}
	}
	slices.SortFunc(out, func(x, y Entry) int {
		if c := cmp.Compare(x.Fact.Container, y.Fact.Container); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Fact.Kind, y.Fact.Kind); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Fact.What, y.Fact.What); c != 0 {
			return c
		}
		return cmp.Compare(x.Change, y.Change)
	})
	return out
}

// Chain is the process and its ancestors, root first: "pid command".
func Chain(p *analyze.Process) []string {
	var out []string
	for q := p; q != nil; q = q.Parent {
		out = append(out, fmt.Sprintf("%d %s", q.PID, short(command(q))))
	}
	slices.Reverse(out)
	return out
}

func short(s string) string {
	if r := []rune(s); len(r) > 80 {
		return string(r[:79]) + "…"
	}
	return s
}

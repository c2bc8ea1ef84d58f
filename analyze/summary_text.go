package analyze

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// The summary text report (`ctrace analyze`'s default, --files summary):
// the same header and trees as the full listing, but with the files folded
// so that a build or a container's life fits on a screen or two:
//
//   - where the files a process touched under one directory would take
//     more than foldAbove lines (after folding deeper directories), one
//     line gives the directory, the count and the operations;
//   - a container init's runtime setup before it ran the entrypoint (device
//     nodes, /dev links, mount points, /proc writes) is one line, and so
//     are the files of each runtime process of a container (its shim, runc
//     create, start, delete);
//
//   - the same network call to the same address with the same result is
//     one line with a count; accepts that accepted nothing (EAGAIN) and the
//     binds and accepts of unnamed unix sockets are left out.
//
// Unresolved names are never folded. The report's last line says how much
// was folded and how to see it all.

// Files modes of the text report.
const (
	FilesAll     = "all"     // every file (the default of the library's writers)
	FilesSummary = "summary" // folded (the command line's default)
	FilesNone    = "none"    // the trees alone
)

// foldAbove: a directory whose files would take more lines than this under
// one process is one line in the summary.
const foldAbove = 5

// folding counts what the summary folded: files in lines, and network
// calls left out (repeated, or without an address).
type folding struct {
	files, lines int
	net          int
}

// processFileLines are the lines under p in the text report, by mode.
func (v *textView) processFileLines(p *Process) []string {
	switch v.files {
	case FilesNone:
		return nil
	case FilesSummary:
		return append(v.summaryLines(p), v.netSummaryLines(p)...)
	}
	return fileLines(p)
}

// summaryLines folds p's file entries (see above).
func (v *textView) summaryLines(p *Process) []string {
	entries := fileEntries(p)
	var lines []string
	if c := v.runtimeOf[p]; c != nil && len(entries) > 1 {
		// A container runtime's bookkeeping (shim, runc): one line.
		v.folded.files += len(entries)
		v.folded.lines++
		return []string{fmt.Sprintf("  runtime files for container %s: %s (%s)", c.ShortID(), count(len(entries), "file", "files"), strings.Join(kindsOf(entries), ", "))}
	}
	// The runtime's setup of a container, in its init before the
	// entrypoint.
	if c := v.of[p]; c != nil && c.Init == p {
		// Before the entrypoint's exec, by the order the records were
		// applied in (audit times are too coarse to tell); without the
		// exec's audit record, the operations made before entering.
		entry := 0
		if len(p.Execs) > 0 {
			entry = p.Execs[0].opSeq
		}
		var setup, rest []*fileEntry
		for _, e := range entries {
			if e.foldable && (e.hostView || entry > 0 && e.lastSeq <= entry) {
				setup = append(setup, e)
			} else {
				rest = append(rest, e)
			}
		}
		if len(setup) > 1 {
			lines = append(lines, fmt.Sprintf("  runtime setup before the entrypoint: %d files (%s)", len(setup), strings.Join(kindsOf(setup), ", ")))
			v.folded.files += len(setup)
			v.folded.lines++
			entries = rest
		}
	}
	return append(lines, v.foldDirs(entries)...)
}

// dirNode is a directory of a process's files, for folding.
type dirNode struct {
	parent    *dirNode
	direct    []*fileEntry // the entries placed in it
	children  int
	lines     int // lines its subtree takes, once folded below
	files     int // entries in its subtree
	collapsed bool
}

// foldDirs lists the entries, a directory whose subtree would take more
// than foldAbove lines (after folding below it) folded into one line:
// "DIR/  N files: operations". An entry naming a directory that holds
// other entries counts in that directory. The root is never folded.
func (v *textView) foldDirs(entries []*fileEntry) []string {
	nodes := map[string]*dirNode{}
	var node func(d string) *dirNode
	node = func(d string) *dirNode {
		if n := nodes[d]; n != nil {
			return n
		}
		n := &dirNode{}
		nodes[d] = n
		if d != "/" && d != "." {
			n.parent = node(path.Dir(d))
			n.parent.children++
		}
		return n
	}
	for _, e := range entries {
		if e.foldable {
			node(path.Dir(e.path))
		}
	}
	home := map[*fileEntry]string{}
	for _, e := range entries {
		if !e.foldable {
			continue
		}
		d := path.Dir(e.path)
		if nodes[e.path] != nil {
			d = e.path
		}
		home[e] = d
		nodes[d].direct = append(nodes[d].direct, e)
	}
	// Children before parents: deeper directories first.
	dirs := make([]string, 0, len(nodes))
	for d := range nodes {
		dirs = append(dirs, d)
	}
	slices.SortFunc(dirs, func(a, b string) int {
		if c := strings.Count(b, "/") - strings.Count(a, "/"); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, d := range dirs {
		n := nodes[d]
		n.lines += len(n.direct)
		n.files += len(n.direct)
		if n.parent != nil && n.lines > foldAbove {
			n.collapsed, n.lines = true, 1
		}
		if n.parent != nil {
			n.parent.lines += n.lines
			n.parent.files += n.files
		}
	}
	// The outermost folded directory of each entry.
	outer := func(d string) string {
		found := ""
		for {
			if n := nodes[d]; n != nil && n.collapsed {
				found = d
			}
			if d == "/" || d == "." {
				return found
			}
			d = path.Dir(d)
		}
	}
	groups := map[string][]*fileEntry{}
	for _, e := range entries {
		if d, ok := home[e]; ok {
			if o := outer(d); o != "" {
				groups[o] = append(groups[o], e)
			}
		}
	}
	var lines []string
	done := map[string]bool{}
	for _, e := range entries {
		d, ok := home[e]
		o := ""
		if ok {
			o = outer(d)
		}
		if o == "" {
			lines = append(lines, e.line())
			continue
		}
		if done[o] {
			continue
		}
		done[o] = true
		g := groups[o]
		dir := o
		if !strings.HasSuffix(dir, "/") {
			dir += "/"
		}
		lines = append(lines, fmt.Sprintf("  %s  %s: %s", escapeControl(dir), count(len(g), "file", "files"), strings.Join(kindsOf(g), ", ")))
		v.folded.files += len(g)
		v.folded.lines++
	}
	return lines
}

// netSummaryLines are the process's network calls, the same call to the
// same address with the same result once, with a count.
func (v *textView) netSummaryLines(p *Process) []string {
	var order []string
	n := map[string]int{}
	for i := range p.Connections {
		c := &p.Connections[i]
		if c.Op == "accept" && c.Result == "EAGAIN" || c.Family == "unix" && c.Path == "" && (c.Op == "accept" || c.Op == "bind") {
			// Nothing accepted (a non-blocking accept), or an unnamed
			// unix socket's plumbing: no address to show.
			v.folded.net++
			continue
		}
		l := "  " + connectionText(c)
		if n[l] == 0 {
			order = append(order, l)
		}
		n[l]++
	}
	for i, l := range order {
		if n[l] > 1 {
			order[i] = fmt.Sprintf("%s (%d times)", l, n[l])
			v.folded.net += n[l] - 1
		}
	}
	return order
}

// kindsOf is the union of the entries' operations, in order of first use.
func kindsOf(es []*fileEntry) []string {
	var out []string
	for _, e := range es {
		for _, k := range e.kinds {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out
}

// foldedLine is the summary's last line.
func (v *textView) foldedLine(t *textWriter) {
	f := v.folded
	if v.files != FilesSummary || f.files == 0 && f.net == 0 {
		return
	}
	t.printf("\nfolded: %s in %s (directories that would take more than %d lines under one process, containers' runtime setup and runtime processes); %s not shown (repeated, nothing accepted, or unnamed unix sockets); --files all lists every one, --files none shows the trees alone\n",
		count(f.files, "file", "files"), count(f.lines, "line", "lines"), foldAbove, count(f.net, "network call", "network calls"))
}

// FileSummary gives, for each process, the lines under it in the summary
// text report (files folded as above, network calls), without their
// indentation: what other views (the HTML report) show of a process's
// files.
type FileSummary struct {
	v *textView
}

// NewFileSummary prepares the summary of the analysis's processes.
func (a *Analysis) NewFileSummary() *FileSummary {
	v := a.newTextView(true)
	v.files = FilesSummary
	return &FileSummary{v: v}
}

// Lines returns p's summary lines.
func (s *FileSummary) Lines(p *Process) []string {
	lines := s.v.processFileLines(p)
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "  ")
	}
	return lines
}

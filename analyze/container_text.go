package analyze

import (
	"fmt"
	"io"
	"strings"
)

// The containers in the text report. Grouped (the whole capture): one
// section per container, a header line then the trees of its processes
// (its init, the processes exec'd into it) with the files they wrote, as
// the processes saw them; then the host's tree, where a container process
// whose parent is on the host is one line naming its container. With --pid
// the trees are not grouped: container processes carry a flag naming their
// container.

// textView says how trees are cut into sections.
type textView struct {
	grouped bool
	// section is the container being printed, nil for the host.
	section *Container
	of      map[*Process]*Container
	// keep, when not nil, is the processes a selection shows (instead of
	// the active ones); context the ones shown without their files.
	keep, context map[*Process]bool
	// files is the files mode (FilesAll when ""), folded what the summary
	// folded.
	files  string
	folded folding
	// runtimeOf maps a container's runtime processes to it.
	runtimeOf map[*Process]*Container
}

func (a *Analysis) newTextView(grouped bool) *textView {
	v := &textView{grouped: grouped && len(a.Containers) > 0, of: map[*Process]*Container{}, runtimeOf: map[*Process]*Container{}}
	for _, c := range a.Containers {
		for _, p := range c.Processes {
			v.of[p] = c
		}
		for _, p := range c.RuntimeProcesses {
			v.runtimeOf[p] = c
		}
	}
	return v
}

// hostRoots are the roots of the host's tree: the host processes without a
// parent, and those whose parent is in a container (a hook its init ran
// before entering it).
func (v *textView) hostRoots(ps []*Process) []*Process {
	var out []*Process
	for _, p := range ps {
		if v.of[p] == nil && (p.Parent == nil || v.of[p.Parent] != nil) {
			out = append(out, p)
		}
	}
	return out
}

// stub reports whether p belongs to another section than the one printed.
func (v *textView) stub(p *Process) bool {
	return v != nil && v.grouped && v.of[p] != v.section
}

// stubLine is p's line in another section: where its container hangs.
func (v *textView) stubLine(p *Process) string {
	c := v.of[p]
	if c == nil {
		return processLine(p) + "  → on the host"
	}
	return processLine(p) + "  → container " + c.ShortID()
}

// flags are the extra flags of p's line: its container, when the trees are
// not grouped.
func (v *textView) flags(p *Process) []string {
	if v == nil || v.grouped {
		return nil
	}
	if c := v.of[p]; c != nil {
		return []string{"container " + c.ShortID()}
	}
	return nil
}

// containerSection prints a container's header line and its trees.
func (v *textView) containerSection(t *textWriter, c *Container) {
	v.section = c
	defer func() { v.section = nil }()
	t.printf("%s\n", containerLine(c))
	if l := launchLine("started by", c.StartedBy, c.StartedByCandidates); l != "" {
		t.printf("%s\n", l)
	}
	sessions := map[*Process]*ExecSession{}
	for _, s := range c.ExecSessions {
		sessions[s.Process] = s
	}
	shown := map[*Process]bool{}
	var roots []*Process
	for _, p := range c.Processes {
		if p.Parent == nil || v.of[p.Parent] != c {
			if v.markShown(p, shown) || v.keep == nil {
				roots = append(roots, p)
				shown[p] = true
			}
		}
	}
	for _, r := range roots {
		if s := sessions[r]; s != nil {
			if l := launchLine("exec session started by", s.StartedBy, s.Candidates); l != "" {
				t.printf("%s\n", l)
			}
		}
		t.tree(r, "", "", shown, v)
	}
	if len(roots) == 0 {
		t.printf("no process of the container in the capture\n")
	}
}

// containerLine is "container SHORTID  RUNTIME  rootfs PATH  LIFETIME  EXIT".
func containerLine(c *Container) string {
	parts := []string{"container " + c.ShortID()}
	rt := c.Runtime
	if rt == "" {
		rt = "runtime unknown"
	}
	if c.Namespace != "" {
		rt += " (namespace " + c.Namespace + ")"
	}
	parts = append(parts, rt)
	if c.Rootfs != "" {
		parts = append(parts, "rootfs "+c.Rootfs)
	} else {
		parts = append(parts, "rootfs unknown")
	}
	var life string
	switch {
	case c.Init == nil:
		life = "init not seen"
	case c.Start == 0:
		life = "start unknown"
	default:
		life = FormatTime(c.Start)
		if c.PreExisting {
			life += " (before the capture)"
		}
		if c.End != 0 {
			life += " to " + FormatTime(c.End) + " (" + formatDuration(c.End-c.Start) + ")"
		}
	}
	parts = append(parts, life)
	if c.Init != nil {
		parts = append(parts, initStatus(c.Init))
	}
	return strings.Join(parts, "  ")
}

// initStatus says how the container's init ended.
func initStatus(p *Process) string {
	switch {
	case p.Vanished:
		return "init vanished (no exit seen)"
	case p.Signal != nil:
		s := "killed by " + signalText(*p.Signal)
		if p.CoreDumped {
			s += " (core dumped)"
		}
		return s
	case p.ExitCode != nil:
		return fmt.Sprintf("exit %d", *p.ExitCode)
	case p.End != 0:
		return "ended, status unknown"
	}
	return "running at the end"
}

// WriteContainerText writes the text report of one container: the
// capture's header and the container's section.
func (a *Analysis) WriteContainerText(w io.Writer, c *Container) error {
	return a.writeContainerText(w, c, FilesAll)
}

func (a *Analysis) writeContainerText(w io.Writer, c *Container, files string) error {
	tw := &textWriter{w: w}
	a.textHeader(tw, 0)
	tw.printf("selection:  container %s\n\n", c.ID)
	v := a.newTextView(true)
	v.grouped, v.files = true, files
	v.containerSection(tw, c)
	v.foldedLine(tw)
	return tw.err
}

// launchLine is "started by PID ARGV  (user; evidence)", or the candidates
// when the records do not tell which client it was; "" when no client is
// in the records.
func launchLine(what string, l *Launch, cands []*Process) string {
	if l == nil {
		if len(cands) == 0 {
			return ""
		}
		pids := make([]string, len(cands))
		for i, q := range cands {
			pids[i] = fmt.Sprint(q.PID)
		}
		return fmt.Sprintf("%s: unresolved (the records do not tell which of %d clients: %s)", what, len(cands), strings.Join(pids, ", "))
	}
	var ev []string
	if id := l.Process.Identity; id != nil {
		ev = append(ev, userText(id))
	}
	ev = append(ev, "connected to "+shellQuote(l.Socket)+" at "+FormatTime(l.ConnectTime))
	switch {
	case l.CommandMatch:
		ev = append(ev, "the command it gave is the one that ran")
	case l.IDMatch:
		ev = append(ev, "it names the id")
	default:
		ev = append(ev, "inferred from timing alone: its arguments name neither the command nor the id")
	}
	return fmt.Sprintf("%s %d %s  (%s)", what, l.Process.PID, commandText(l.Process), strings.Join(ev, "; "))
}

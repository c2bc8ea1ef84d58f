package analyze

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ctrace/ctrace/format"
)

// The text report: a header with the capture's host, time span, losses and
// state, then one tree per root (box-drawing lines), each process on one
// line (pid, shortened argv, how it ended, duration) with the files it wrote
// under it. When the capture has containers, the report is grouped: each
// container's section (a header line, then its processes' trees), then the
// host's tree, in which a container process appears as one line pointing
// to its container (container_text.go).
//
// To keep the host's background out of the way, the trees leave out kernel
// threads and pre-existing processes in which nothing happened during the
// capture (no exec, no exit, no file written), unless something happened
// under them; the header says how many were left out. The JSON report has
// every process.

// maxArgvText bounds the command line shown for a process.
const maxArgvText = 72

// WriteText writes the text report, limited to the subtrees of the
// processes with pid when pid > 0.
// Every file is listed (see Write and Options.Files for the summary).
func (a *Analysis) WriteText(w io.Writer, pid int) error { return a.writeText(w, pid, FilesAll) }

// WriteTextHeader writes the text report's header alone (host, capture,
// time, losses, state, command, counts).
func (a *Analysis) WriteTextHeader(w io.Writer) error {
	tw := &textWriter{w: w}
	a.textHeader(tw, 0)
	return tw.err
}

func (a *Analysis) writeText(w io.Writer, pid int, files string) error {
	tw := &textWriter{w: w}
	a.textHeader(tw, pid)
	if pid > 0 {
		tw.printf("selection:  pid %d\n", pid)
	}
	v := a.newTextView(pid <= 0)
	v.files = files
	return a.writeTrees(tw, v, a.Containers, a.roots(pid), a.Processes)
}

// WriteSelectedText writes the text report of a selection (Select): the
// kept processes' trees, with their ancestors as context lines (without
// their files), grouped by container; files is the files mode (FilesAll,
// FilesSummary, FilesNone).
func (a *Analysis) WriteSelectedText(w io.Writer, s Selection, sel *Selected, files string) error {
	tw := &textWriter{w: w}
	a.textHeader(tw, 0)
	tw.printf("selection:  %s: %s kept, %s shown as context\n",
		s.Text(), count(len(sel.Processes)-len(sel.Context), "process", "processes"), count(len(sel.Context), "ancestor", "ancestors"))
	v := a.newTextView(true)
	v.files = files
	v.keep, v.context = map[*Process]bool{}, sel.Context
	for _, p := range sel.Processes {
		v.keep[p] = true
	}
	var roots []*Process
	for _, p := range sel.Processes {
		if p.Parent == nil {
			roots = append(roots, p)
		}
	}
	return a.writeTrees(tw, v, sel.Containers, roots, sel.Processes)
}

// writeTrees writes the containers' sections and the trees from roots (the
// host's when grouped).
func (a *Analysis) writeTrees(tw *textWriter, v *textView, containers []*Container, roots, procs []*Process) error {
	if v.grouped {
		for _, c := range containers {
			tw.printf("\n")
			v.containerSection(tw, c)
		}
		tw.printf("\nhost\n")
	}
	if v.grouped {
		roots = v.hostRoots(procs)
	}
	shown := map[*Process]bool{}
	for _, r := range roots {
		if !v.stub(r) {
			v.markShown(r, shown)
		}
	}
	first := true
	for _, r := range roots {
		if !shown[r] {
			continue
		}
		if first {
			tw.printf("\n")
			first = false
		}
		tw.tree(r, "", "", shown, v)
	}
	if first {
		tw.printf("\nno process activity in the capture\n")
	}
	v.foldedLine(tw)
	return tw.err
}

type textWriter struct {
	w   io.Writer
	err error
}

func (t *textWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

// active reports whether something happened to the process during the
// capture.
func (p *Process) active() bool {
	if p.KernelThread {
		return false
	}
	return !p.PreExisting || len(p.Execs) > 0 || p.End != 0 || p.Vanished || len(p.Files) > 0 ||
		len(p.Connections) > 0 || len(p.SignalsSent) > 0 || len(p.Ptraces) > 0
}

// markShown marks the processes of p's subtree the text report shows: the
// active ones and their ancestors up to p, and the processes of another
// section (a container's, shown as one line). It reports whether p is
// shown.
func (v *textView) markShown(p *Process, shown map[*Process]bool) bool {
	any := p.active()
	if v.keep != nil {
		any = v.keep[p]
	}
	for _, c := range p.Children {
		if v.stub(c) {
			if v.keep == nil || v.keep[c] {
				shown[c] = true
				any = true
			}
		} else if v.markShown(c, shown) {
			any = true
		}
	}
	if any {
		shown[p] = true
	}
	return any
}

func (a *Analysis) textHeader(t *textWriter, pid int) {
	c := &a.Capture
	host := c.Host
	if host == "" {
		host = "(unknown host)"
	}
	var details []string
	for _, s := range []string{c.Machine, prefixed("Linux ", c.Kernel)} {
		if s != "" {
			details = append(details, s)
		}
	}
	if len(details) > 0 {
		host += " (" + strings.Join(details, ", ") + ")"
	}
	t.printf("host:       %s\n", host)

	var sources []string
	if c.AuditMode != "" && c.AuditMode != "off" {
		sources = append(sources, "audit ("+c.AuditMode+")")
	} else if c.Kind == format.KindImport {
		sources = append(sources, "audit (imported log)")
	}
	if c.Proc {
		sources = append(sources, "proc connector")
	}
	if c.Snapshot {
		sources = append(sources, "/proc snapshot")
	}
	kind := c.Kind
	if kind == "" {
		kind = "capture"
	}
	if n := len(c.Files); n > 0 {
		kind = fmt.Sprintf("%s (a capture set: %d files, %s to %s)", kind, n, filepath.Base(c.Files[0]), filepath.Base(c.Files[n-1]))
	}
	t.printf("capture:    %s of %s\n", kind, orNone(strings.Join(sources, ", ")))
	if c.Start != 0 {
		t.printf("time:       %s to %s (%s)\n", FormatTime(c.Start), FormatTime(c.End), formatDuration(c.End-c.Start))
	} else {
		t.printf("time:       unknown\n")
	}
	if c.Lost == 0 {
		t.printf("losses:     none (%s)\n", lossText(c.Losses))
	} else {
		t.printf("losses:     %d EVENTS LOST (%s): processes or files may be missing\n", c.Lost, lossText(c.Losses))
	}
	if c.LateRecords > 0 {
		t.printf("late:       %d AUDIT RECORDS arrived more than %s after their event was analyzed: each was taken for an event of its own\n",
			c.LateRecords, ReorderWindowText())
	}
	state := "complete"
	if c.Truncated {
		state = fmt.Sprintf("TRUNCATED at offset %d: analyzed up to the cut", c.TruncatedAt)
	}
	if c.DamageCount > 0 {
		state += fmt.Sprintf("; %d DAMAGED region(s) skipped", c.DamageCount)
	}
	t.printf("state:      %s\n", state)
	if len(c.Command) > 0 {
		cmd := shortArgv(c.Command)
		if c.CommandPID != 0 {
			cmd += fmt.Sprintf(" (pid %d)", c.CommandPID)
		}
		t.printf("command:    %s\n", cmd)
	}
	var pre, kern int
	for _, p := range a.Processes {
		if p.PreExisting {
			pre++
		}
		if p.KernelThread {
			kern++
		}
	}
	t.printf("processes:  %d (%d pre-existing, %d kernel threads); not shown: kernel threads and idle pre-existing processes\n",
		len(a.Processes), pre, kern)
	if ops, unresolved := a.fileCounts(); unresolved > 0 {
		t.printf("files:      %d operations, %d unresolved (marked below: the records do not identify their directory)\n", ops, unresolved)
	} else {
		t.printf("files:      %d operations, all paths resolved\n", ops)
	}
	if len(a.Containers) > 0 {
		var ids []string
		for _, c := range a.Containers {
			ids = append(ids, c.ShortID())
		}
		t.printf("containers: %d (%s)\n", len(a.Containers), strings.Join(ids, ", "))
	}
}

// fileCounts counts the file operations of all processes and the
// unresolved ones.
func (a *Analysis) fileCounts() (ops, unresolved int) {
	for _, p := range a.Processes {
		ops += len(p.Files)
		for i := range p.Files {
			if p.Files[i].Unresolved {
				unresolved++
			}
		}
	}
	return ops, unresolved
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// tree prints p's line, its files and its shown children. first is the
// prefix of p's own line, rest the prefix of the lines under it. A process
// of another section is one line, without its files and children.
func (t *textWriter) tree(p *Process, first, rest string, shown map[*Process]bool, v *textView) {
	if v.stub(p) {
		t.printf("%s%s\n", first, v.stubLine(p))
		return
	}
	t.printf("%s%s\n", first, processLine(p, v.flags(p)...))
	var kids []*Process
	for _, c := range p.Children {
		if shown[c] {
			kids = append(kids, c)
		}
	}
	filePrefix := rest + "   "
	if len(kids) > 0 {
		filePrefix = rest + "│  "
	}
	if !v.context[p] {
		for _, l := range v.processFileLines(p) {
			t.printf("%s%s\n", filePrefix, l)
		}
	}
	for i, c := range kids {
		if i == len(kids)-1 {
			t.tree(c, rest+"└─ ", rest+"   ", shown, v)
		} else {
			t.tree(c, rest+"├─ ", rest+"│  ", shown, v)
		}
	}
}

// processLine is "PID ARGV  STATUS, DURATION [flags]", with extra flags
// last.
func processLine(p *Process, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", p.PID, commandText(p))
	var status []string
	switch {
	case p.Vanished:
		status = append(status, "vanished (no exit seen)")
	case p.Signal != nil:
		s := "killed by " + signalText(*p.Signal)
		if k := p.KilledBy; k != nil {
			s += fmt.Sprintf(" from %d", k.PID)
			if k.Process == p {
				s += " (itself)"
			}
		}
		if p.CoreDumped {
			s += " (core dumped)"
		}
		status = append(status, s)
	case p.ExitCode != nil:
		status = append(status, fmt.Sprintf("exit %d", *p.ExitCode))
	case p.End != 0:
		status = append(status, "ended, status unknown")
	case !p.PreExisting:
		status = append(status, "running at the end")
	}
	if p.Start != 0 && p.End != 0 {
		status = append(status, formatDuration(p.End-p.Start))
	}
	if len(status) > 0 {
		b.WriteString("  " + strings.Join(status, ", "))
	}
	var flags []string
	if p.PreExisting {
		flags = append(flags, "pre-existing")
	}
	if p.Start == 0 && !p.PreExisting {
		flags = append(flags, "start not seen")
	}
	if n := len(p.Threads); n > 0 {
		flags = append(flags, fmt.Sprintf("%d thread%s", n, plural(n)))
	}
	if n := len(p.Execs); n > 1 {
		flags = append(flags, fmt.Sprintf("%d execs", n))
	}
	if p.Root != "" && p.Container == nil {
		flags = append(flags, "root "+p.Root)
	}
	flags = append(flags, identityFlags(p)...)
	flags = append(flags, extra...)
	if len(flags) > 0 {
		b.WriteString("  [" + strings.Join(flags, ", ") + "]")
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func signalText(sig int) string {
	if n, ok := signalNames[sig]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", sig)
}

// commandText is the process's argv, shortened, else its exe or comm.
func commandText(p *Process) string {
	switch {
	case len(p.Argv) > 0:
		return shortArgv(p.Argv)
	case p.Exe != "":
		return p.Exe
	case p.Comm != "":
		return "[" + p.Comm + "]"
	}
	return "(program unknown)"
}

// shortArgv quotes the arguments that need it, the way a shell would read
// them back, and cuts the line at maxArgvText characters.
func shortArgv(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = shellQuote(a)
	}
	s := strings.Join(parts, " ")
	if utf8.RuneCountInString(s) > maxArgvText {
		r := []rune(s)
		s = string(r[:maxArgvText-1]) + "…"
	}
	return s
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	plain := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	q := "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	// Control characters would break the line: show them escaped.
	var b strings.Builder
	for _, r := range q {
		if r < 0x20 || r == 0x7f {
			fmt.Fprintf(&b, "\\x%02x", r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// fileEntry is what a process did to one path: its operations in order.
type fileEntry struct {
	key   string // the path as shown, with its notes
	path  string // the path (or name) itself
	first int64  // the time of its first operation
	// foldable: a resolved path (an unresolved one is always shown).
	foldable bool
	// lastSeq: the seq of its last operation; hostView: all its operations
	// were made before the process entered its container.
	lastSeq  int
	hostView bool
	kinds    []string // the operations without their details
	ops      []string
}

func (e *fileEntry) line() string { return "  " + e.key + ": " + strings.Join(e.ops, ", ") }

// fileLines lists what the process did to files: one line per path, with
// its operations in order, e.g. "/tmp/b.txt: rename_to (from /tmp/a.txt)",
// then its network calls.
func fileLines(p *Process) []string {
	var lines []string
	for _, e := range fileEntries(p) {
		lines = append(lines, e.line())
	}
	return append(lines, netLines(p)...)
}

// netLines lists the process's network calls.
func netLines(p *Process) []string {
	var lines []string
	for _, c := range p.Connections {
		lines = append(lines, "  "+connectionText(&c))
	}
	return lines
}

// fileEntries groups the process's file operations by path, in the order
// of their first operation.
func fileEntries(p *Process) []*fileEntry {
	type entry = fileEntry
	var order []*entry
	byPath := map[string]*entry{}
	for _, f := range p.Files {
		key := escapeControl(f.Path)
		switch {
		case f.Path == "":
			key = fmt.Sprintf("fd %d (unresolved: the descriptor's file is not known)", f.FD)
		case f.Unresolved:
			key = escapeControl(f.Path) + " (" + unresolvedNote(&f) + ")"
		case f.HostView:
			key = escapeControl(f.Path) + " (host path, before entering)"
		case f.HostPath != "" && f.HostPath != f.Path && p.Container == nil:
			key = escapeControl(f.Path) + " (host " + escapeControl(f.HostPath) + ")"
		}
		e := byPath[key]
		if e == nil {
			e = &entry{key: key, path: f.Path, first: f.Time, foldable: f.Path != "" && !f.Unresolved, hostView: true}
			byPath[key] = e
			order = append(order, e)
		}
		e.lastSeq = max(e.lastSeq, f.seq)
		e.hostView = e.hostView && f.HostView
		if !slices.Contains(e.kinds, f.Op) {
			e.kinds = append(e.kinds, f.Op)
		}
		op := f.Op
		switch {
		case f.Op == OpRenameTo && f.From != "":
			op += " (from " + escapeControl(f.From)
			if f.Replaced {
				op += ", replacing a file"
			}
			op += ")"
		case f.Op == OpRenameFrom && f.To != "":
			op += " (to " + escapeControl(f.To) + ")"
		case (f.Op == OpLink || f.Op == OpSymlink) && f.Target != "":
			op += " (to " + escapeControl(f.Target) + ")"
		case openOps[f.Op] && f.ClosedBy == "":
			op += " (open at the end)"
		case f.Op == OpChmod && f.HasMode:
			op += fmt.Sprintf(" %04o", f.Mode)
		case f.Op == OpChown:
			op += " " + idText(f.UID) + ":" + idText(f.GID)
		}
		if n := len(e.ops); n == 0 || e.ops[n-1] != op {
			e.ops = append(e.ops, op)
		}
	}
	return order
}

// connectionText is "net connect inet 127.0.0.1:80: ok".
func connectionText(c *Connection) string {
	return "net " + c.Op + " " + ConnectionAddress(c) + ": " + c.Result
}

// ConnectionAddress is the address of a network call as the text report
// shows it: "inet 127.0.0.1:80", "inet6 [::1]:80", "unix /run/x.sock".
func ConnectionAddress(c *Connection) string {
	var where string
	switch c.Family {
	case "":
		where = "(address unknown)"
	case "inet", "inet6":
		if c.Address == "" {
			where = c.Family + " (peer address not asked for)"
			break
		}
		where = fmt.Sprintf("%s %s:%d", c.Family, c.Address, c.Port)
		if c.Family == "inet6" {
			where = fmt.Sprintf("inet6 [%s]:%d", c.Address, c.Port)
		}
		if c.Port == 0 && c.Op != "connect" {
			where += " (any port: the kernel chose one the records do not give)"
		}
	case "unix":
		where = "unix " + shellQuote(c.Path)
		if c.Path == "" {
			where = "unix (unnamed)"
		}
	case "netlink":
		where = "netlink port " + c.Address
	default:
		where = "family " + c.Family
	}
	return where
}

// unresolvedNote says what is known of the directory of a name that could
// not be resolved.
func unresolvedNote(f *FileOp) string {
	var where string
	switch {
	case f.HasDirFD:
		where = fmt.Sprintf("relative to descriptor %d", f.DirFD)
	default:
		where = "relative to the working directory"
	}
	if f.DirInode != "" {
		return "unresolved: " + where + ", directory inode " + f.DirInode + " not seen by path"
	}
	return "unresolved: " + where + ", directory unknown"
}

// identityFlags show who a process runs as where that differs from its
// parent (or, for a root of the tree, is not root), its credential changes,
// and the signals it sent.
func identityFlags(p *Process) []string {
	var flags []string
	if id := p.Identity; id != nil {
		var par *Identity
		if p.Parent != nil {
			par = p.Parent.Identity
		}
		if par == nil && (id.UID != 0 || id.EUID != 0) || par != nil && (par.UID != id.UID || par.EUID != id.EUID || par.GID != id.GID) {
			flags = append(flags, userText(id))
		}
	}
	// A change is shown where it changed the ids the line shows;
	// setgroups and capset (the groups and capabilities are not in the
	// records) once each.
	cur := p.Identity
	named := map[string]bool{}
	for i := range p.CredentialChanges {
		c := &p.CredentialChanges[i]
		switch c.Syscall {
		case "setgroups", "setgroups32", "capset":
			if !named[c.Syscall] {
				named[c.Syscall] = true
				flags = append(flags, c.Syscall)
			}
		default:
			if cur == nil || userText(cur) != userText(&c.Identity) {
				flags = append(flags, c.Syscall+": "+userText(&c.Identity))
			}
		}
		cur = &c.Identity
	}
	for _, s := range p.SignalsSent {
		flags = append(flags, fmt.Sprintf("sent %s to %d", signalText(s.Signal), s.TargetPID))
	}
	for _, e := range p.Ptraces {
		f := fmt.Sprintf("traced by %d", e.PeerPID)
		if e.Role == "tracer" {
			f = fmt.Sprintf("traced %d", e.PeerPID)
		}
		f += " (ptrace " + e.Request
		if e.Result != "ok" {
			f += ": " + e.Result
		}
		flags = append(flags, f+")")
	}
	return flags
}

// userText is "uid 1000 gid 1000", with the effective ids when they differ.
func userText(id *Identity) string {
	s := fmt.Sprintf("uid %d gid %d", id.UID, id.GID)
	if id.EUID != id.UID {
		s += fmt.Sprintf(" euid %d", id.EUID)
	}
	if id.EGID != id.GID {
		s += fmt.Sprintf(" egid %d", id.EGID)
	}
	return s
}

// idText shows a chown id, "-" when unchanged.
func idText(id int64) string {
	if id < 0 {
		return "-"
	}
	return fmt.Sprint(id)
}

// formatDuration prints a duration to microseconds below a second and to
// milliseconds above.
func formatDuration(ns int64) string {
	d := time.Duration(ns)
	if d < 0 {
		d = 0
	}
	if d < time.Second {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// count is "1 process", "2 processes".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// escapeControl writes a path's control bytes as \xNN so that a hostile
// name cannot break a report's line; every other byte is kept (paths are
// not quoted in the text report).
func escapeControl(p string) string {
	if strings.IndexFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f {
			fmt.Fprintf(&b, "\\x%02x", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ArgvText is a whole command line quoted as a shell would read it back
// (ShellQuote of each argument), not shortened.
func ArgvText(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = shellQuote(a)
	}
	return strings.Join(parts, " ")
}

// ShellQuote quotes s as the text report does: as a shell would read it
// back, control bytes escaped.
func ShellQuote(s string) string { return shellQuote(s) }

// SignalName names a signal as the text report does: SIGTERM, or "signal
// N" for a number without a name.
func SignalName(sig int) string { return signalText(sig) }

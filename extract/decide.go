package extract

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// record decides whether a record of the input is kept and returns its
// data: the input's bytes, or rewritten by the redaction.
func (x *extractor) record(rec format.Record, clock format.ClockPair) ([]byte, bool) {
	switch rec.Source {
	case format.SourceNote:
		if x.red.active() {
			if nd := x.red.rewriteNote(rec.Data); nd != nil {
				return nd, true
			}
		}
		return rec.Data, true
	case format.SourceSnapshot:
		var sp struct{ PID, TID int }
		if json.Unmarshal(rec.Data, &sp) != nil || sp.PID <= 0 {
			return nil, false
		}
		owner := x.sel.snapshotOwner(sp.PID)
		switch x.sel.role(owner) {
		case roleSelected:
		case roleAncestor:
			if sp.TID != sp.PID && sp.TID != 0 {
				return nil, false // a bare entry: the leader only
			}
		default:
			return nil, false
		}
		if x.red.active() {
			if nd := x.red.rewriteSnapshot(rec.Data); nd != nil {
				return nd, true
			}
		}
		return rec.Data, true
	case format.SourceProc:
		ev, err := replay.DecodeProc(rec.Data, x.order)
		if err != nil || !x.keepProc(ev, clock.RealtimeOf(int64(ev.Timestamp))) {
			return nil, false
		}
		if x.red.active() {
			if nd := x.red.rewriteProcComm(rec.Data, ev); nd != nil {
				return nd, true
			}
		}
		return rec.Data, true
	case format.SourceAudit:
		f, err := replay.DecodeAudit(rec.Data, x.order)
		if err != nil || !x.keepAudit(f) {
			return nil, false
		}
		if x.red.active() {
			k := evKey{f.TimeMS, f.Serial}
			cwd := ""
			if !replay.StandaloneType(f.Type) {
				cwd = x.cwd[k]
			}
			if nd := x.red.rewriteAudit(rec.Data, x.order, cwd, x.execEdits[recPos{rec.Segment, rec.Offset}]); nd != nil {
				return nd, true
			}
		}
		return rec.Data, true
	}
	return nil, false
}

// keepAudit decides for an audit record: with its whole event (every
// record of one stamp goes together), by the event's process and time.
// Control frames (acks, replies) are never kept.
func (x *extractor) keepAudit(f replay.AuditFrame) bool {
	if f.Kind != replay.AuditEvent {
		return false
	}
	if replay.StandaloneType(f.Type) {
		return x.keepEvent(standaloneInfo(f))
	}
	k := evKey{f.TimeMS, f.Serial}
	if d, ok := x.decided[k]; ok {
		return d
	}
	info := x.idx.events[k]
	d := info != nil && x.keepEvent(info)
	x.decided[k] = d
	return d
}

func (x *extractor) keepEvent(info *evInfo) bool {
	s := x.sel
	inWin := s.inWindow(info.t)
	if s.all && inWin {
		return true
	}
	if !info.hasPID {
		return false
	}
	owner := s.at(info.pid, info.t, auditSlack)
	switch s.role(owner) {
	case roleSelected:
		return inWin || x.auditIdentity(info, owner, true)
	case roleAncestor:
		return x.auditIdentity(info, owner, s.threads[owner]) || inWin && x.targetsSelected(info)
	}
	return false
}

// targetsSelected reports whether an event's OBJ_PID records name a
// selected process: an ancestor's signal or ptrace attach on it (who killed
// or traced a selected process stays in its story).
func (x *extractor) targetsSelected(info *evInfo) bool {
	for _, pid := range info.targets {
		if x.sel.role(x.sel.at(pid, info.t, auditSlack)) == roleSelected {
			return true
		}
	}
	return false
}

// auditIdentity reports whether an audit event is an identity frame of
// owner: a successful exec, exit_group (and exit, with threads), an
// ANOM_ABEND, a successful change of root or namespaces (pivot_root,
// chroot, setns, unshare: how a process enters a container), or the clone
// that created a kept process.
func (x *extractor) auditIdentity(info *evInfo, owner *analyze.Process, threads bool) bool {
	if info.abend {
		return true
	}
	if !info.sc {
		return false
	}
	switch info.name {
	case "execve", "execveat":
		return info.success
	case "exit_group":
		return true
	case "pivot_root", "chroot", "setns", "unshare":
		// Where it lives: a container's processes are found by them.
		return info.success
	case "exit":
		return threads
	case "clone", "clone3", "fork", "vfork":
		if !info.success || info.exit <= 0 || info.exit > 1<<31 {
			return false
		}
		c := x.createdNear(int(info.exit), info.t)
		return c != nil && x.sel.role(c) != roleNone && (c.Parent == owner || c.PPID == owner.PID)
	}
	return false
}

// createdNear returns the process of pid whose creation is nearest to a
// clone stamped t, within the analyzer's window.
func (x *extractor) createdNear(pid int, t int64) *analyze.Process {
	var best *analyze.Process
	var bestD int64
	for _, c := range x.sel.byPID[pid] {
		d := c.SortTime() - t
		if d < -auditSlack || d > cloneWindow {
			continue
		}
		if d < 0 {
			d = -d
		}
		if best == nil || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// keepProc decides for a proc connector event (t: its wall-clock time).
// Acknowledgements are never kept.
func (x *extractor) keepProc(ev replay.ProcEvent, t int64) bool {
	if ev.Kind == replay.ProcNone || ev.Kind == replay.ProcUnknown {
		return false
	}
	s := x.sel
	inWin := s.inWindow(t)
	if s.all && inWin {
		return true
	}
	owner := s.at(int(ev.TGID), t, 0)
	leader := ev.PID == ev.TGID
	switch s.role(owner) {
	case roleSelected:
		return inWin || procIdentity(ev, leader, false)
	case roleAncestor:
		return procIdentity(ev, leader, s.threads[owner])
	case roleSuccessor:
		return ev.Kind == replay.ProcFork && leader && t == owner.Start
	}
	return false
}

// procIdentity reports whether a proc event is an identity frame: the
// creation, an exec, a comm change or the exit of the leader (with
// threads: also the creation and exit of threads).
func procIdentity(ev replay.ProcEvent, leader, threads bool) bool {
	switch ev.Kind {
	case replay.ProcFork, replay.ProcExit:
		return leader || threads
	case replay.ProcExec:
		return true
	case replay.ProcComm, replay.ProcCoredump:
		return leader
	}
	return false
}

// inheritCwd keeps, for each bare entry that created a kept process, its
// last event with a CWD record before that creation, when the child needs
// it: a child inherits its parent's working directory, and shows it until
// an event of its own (an exec, a syscall with a path) names one. It is
// needed when the child names none before it ended or created a process of
// its own.
func (x *extractor) inheritCwd(m *analyze.Model) {
	type cand struct {
		k evKey
		t int64
	}
	byPID := map[int][]cand{}
	for k, info := range x.idx.events {
		if info.cwd && info.hasPID {
			byPID[info.pid] = append(byPID[info.pid], cand{k, info.t})
		}
	}
	// firstOwn is the time of p's first event with a CWD record.
	firstOwn := func(p *analyze.Process) (int64, bool) {
		var first int64
		found := false
		for _, e := range byPID[p.PID] {
			if x.sel.at(p.PID, e.t, auditSlack) == p && (!found || e.t < first) {
				first, found = e.t, true
			}
		}
		return first, found
	}
	for _, a := range m.Processes {
		if x.sel.role(a) != roleAncestor {
			continue
		}
		for _, c := range a.Children {
			if r := x.sel.role(c); r != roleSelected && r != roleAncestor {
				continue
			}
			if own, ok := firstOwn(c); ok {
				needed := false
				for _, g := range c.Children {
					if x.sel.role(g) != roleNone && g.SortTime() <= own {
						needed = true
					}
				}
				if !needed {
					continue
				}
			}
			at := c.SortTime()
			var best *cand
			for i, e := range byPID[a.PID] {
				if e.t > at || x.sel.at(a.PID, e.t, auditSlack) != a {
					continue
				}
				if best == nil || e.t > best.t || (e.t == best.t && e.k.serial > best.k.serial) {
					best = &byPID[a.PID][i]
				}
			}
			if best != nil {
				x.decided[best.k] = true
			}
		}
	}
}

// plan is the redaction's pass: the original working directory of every
// kept event (to place relative PATH names), and the edits of EXECVE
// records (an argument may be split over several records).
func (x *extractor) plan(open func() (*format.Reader, error)) error {
	r, err := open()
	if err != nil {
		return err
	}
	defer r.Close()
	execs := map[evKey][]execveRecord{}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if rec.Source != format.SourceAudit {
			continue
		}
		f, err := replay.DecodeAudit(rec.Data, x.order)
		if err != nil || replay.StandaloneType(f.Type) || (f.Type != replay.TypeCwd && f.Type != replay.TypeExecve) || !x.keepAudit(f) {
			continue
		}
		k := evKey{f.TimeMS, f.Serial}
		switch f.Type {
		case replay.TypeCwd:
			// A name relative to a directory descriptor is not placed by
			// the working directory: its base stays unknown.
			if info := x.idx.events[k]; info != nil && info.dirfdRelative() {
				continue
			}
			if _, ok := x.cwd[k]; !ok {
				if fl, ok := replay.FindField(f.Fields(), "cwd"); ok {
					if v, ok := replay.DecodeRecordValue(replay.TypeCwd, fl); ok {
						x.cwd[k] = v
					}
				}
			}
		case replay.TypeExecve:
			execs[k] = append(execs[k], execveRecord{recPos{rec.Segment, rec.Offset}, f.Body})
		}
	}
	for _, recs := range execs {
		for pos, e := range x.red.planExecve(recs) {
			x.execEdits[pos] = append(x.execEdits[pos], e...)
		}
	}
	return nil
}

// selectionLines describe the selection for the header.
func selectionLines(o *Options, m *analyze.Model, cmdPID int, s *selection) []string {
	var l []string
	for _, p := range o.PIDs {
		l = append(l, fmt.Sprintf("pid %d: the process and its descendants", p))
	}
	if o.Command {
		l = append(l, fmt.Sprintf("command (pid %d) and its descendants", cmdPID))
	}
	for _, id := range o.Containers {
		if c, err := m.FindContainer(id); err == nil {
			id = c.ID
		}
		l = append(l, fmt.Sprintf("container %s: its processes, exec sessions, runtime processes and the clients that started them", id))
	}
	if s.windowed() {
		w := "window"
		if o.Since != "" {
			w += " since " + time.Unix(0, s.since).UTC().Format(time.RFC3339Nano)
		}
		if o.Until != "" {
			w += " until " + time.Unix(0, s.until).UTC().Format(time.RFC3339Nano)
		}
		if s.all {
			w += ": every process alive in it"
		}
		l = append(l, w)
	}
	if _, bare := s.counts(); bare > 0 {
		what := "the ancestors (and containers' inits)"
		if o.NoAncestors {
			what = "containers' inits"
		}
		l = append(l, "bare entries for "+what+": snapshot leader record, creation, execs, root and namespace changes, exit")
	}
	if o.NoAncestors {
		l = append(l, "no ancestors: the selected processes whose parent is not selected are roots")
	}
	return l
}

// redactionLines describe the redaction for the header, never the
// patterns.
func redactionLines(o *Options) []string {
	var l []string
	if n := len(o.Redact); n > 0 {
		word := "patterns"
		if n == 1 {
			word = "pattern"
		}
		l = append(l, fmt.Sprintf("redact: %d %s", n, word))
	}
	if o.RedactEnv {
		l = append(l, "redact-env")
	}
	if o.HashPaths {
		l = append(l, "hash-paths")
	}
	if o.RedactHost {
		l = append(l, "redact-host")
	}
	return l
}

// fileName is the input's base name for extracted_from, redacted: hashed
// when the input lies under a home (abs: its absolute path, "" unknown).
func (r *redactor) fileName(name, abs string) string {
	base := filepath.Base(name)
	if !r.active() {
		return base
	}
	if r.hash && abs != "" && underHome(filepath.ToSlash(filepath.Clean(abs))) && !isHashed(base) {
		base = hashComponent(base)
	}
	return strings.TrimSpace(r.regex(base))
}

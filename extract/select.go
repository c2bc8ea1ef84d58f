package extract

import (
	"errors"
	"fmt"
	"math"

	"github.com/ctrace/ctrace/analyze"
)

// role is what a process of the original model is in the extract.
type role uint8

const (
	roleNone      role = iota
	roleSelected       // its frames are kept (within the window)
	roleAncestor       // a bare entry: its identity frames only
	roleSuccessor      // took the pid of a selected process that vanished: its creation only
)

// The analyzer's tolerances, for placing a frame in the life of the right
// process when a pid was reused.
const (
	auditSlack  = analyze.AuditSlack      // an audit stamp is the coarse clock at syscall entry
	cloneWindow = analyze.CloneForkWindow // a clone record and the fork of its child
)

// selection is the set of processes an extract keeps, on the original
// model.
type selection struct {
	byPID map[int][]*analyze.Process // in model order (by start)
	roles map[*analyze.Process]role
	// threads: ancestors whose leader exited before they created the next
	// process of the chain: their thread forks and exits are kept too, so
	// that they are still alive at that fork.
	threads map[*analyze.Process]bool
	// all: no process selector, every process alive in the window.
	all          bool
	since, until int64
}

func newSelection(m *analyze.Model) *selection {
	s := &selection{byPID: map[int][]*analyze.Process{}, roles: map[*analyze.Process]role{},
		threads: map[*analyze.Process]bool{}, since: math.MinInt64, until: math.MaxInt64}
	for _, p := range m.Processes {
		s.byPID[p.PID] = append(s.byPID[p.PID], p)
	}
	return s
}

func (s *selection) role(p *analyze.Process) role {
	if p == nil {
		return roleNone
	}
	return s.roles[p]
}

func (s *selection) inWindow(t int64) bool { return t >= s.since && t <= s.until }

func (s *selection) windowed() bool { return s.since != math.MinInt64 || s.until != math.MaxInt64 }

// ended reports whether p had ended (or vanished) by t.
func ended(p *analyze.Process, t int64) bool {
	return p.Vanished || (p.End != 0 && p.End <= t)
}

// at returns the process of pid a frame stamped t is about: the latest one
// created by t; or the next one when that one had ended and the next was
// created within slack after t (an audit stamp can precede the fork).
func (s *selection) at(pid int, t int64, slack int64) *analyze.Process {
	cands := s.byPID[pid]
	switch len(cands) {
	case 0:
		return nil
	case 1:
		return cands[0]
	}
	i := -1
	for j, c := range cands {
		if st := c.SortTime(); st == 0 || st <= t {
			i = j
		}
	}
	if i+1 < len(cands) && cands[i+1].SortTime()-slack <= t && (i < 0 || ended(cands[i], t)) {
		return cands[i+1]
	}
	if i < 0 {
		return cands[0]
	}
	return cands[i]
}

// snapshotOwner returns the process a snapshot record of pid is: the
// pre-existing one.
func (s *selection) snapshotOwner(pid int) *analyze.Process {
	cands := s.byPID[pid]
	for _, c := range cands {
		if c.PreExisting {
			return c
		}
	}
	if len(cands) > 0 {
		return cands[0]
	}
	return nil
}

// alive reports whether p's life meets the window.
func (s *selection) alive(p *analyze.Process) bool {
	start, end := p.SortTime(), p.End
	if start == 0 {
		start = math.MinInt64
	}
	if end == 0 {
		end = math.MaxInt64
	}
	return start <= s.until && end >= s.since
}

// ErrNoSuchPID is returned when --pid names no process of the capture.
var ErrNoSuchPID = errors.New("extract: no process with this pid in the capture")

// ErrEmpty is returned when the selection holds no process.
var ErrEmpty = errors.New("extract: the selection holds no process")

// choose computes the roles. cmdPID is the recorded command's pid (0:
// none); leaderExits are the times the proc connector reported a leader's
// exit, per pid.
func (s *selection) choose(m *analyze.Model, o *Options, cmdPID int, leaderExits map[int][]int64) error {
	picked := map[*analyze.Process]bool{}
	var subtree func(p *analyze.Process)
	subtree = func(p *analyze.Process) {
		if picked[p] {
			return
		}
		picked[p] = true
		for _, c := range p.Children {
			subtree(c)
		}
	}
	for _, pid := range o.PIDs {
		ps := s.byPID[pid]
		if len(ps) == 0 {
			return fmt.Errorf("%w: %d", ErrNoSuchPID, pid)
		}
		for _, p := range ps {
			subtree(p)
		}
	}
	if o.Command {
		if cmdPID <= 0 {
			return errors.New("extract: Command: the capture names no recorded command (not made by record -- COMMAND)")
		}
		p := commandProcess(s.byPID[cmdPID])
		if p == nil {
			return fmt.Errorf("extract: Command: the command's process (pid %d) is not in the capture", cmdPID)
		}
		subtree(p)
	}
	for _, id := range o.Containers {
		c, err := m.FindContainer(id)
		if err != nil {
			return fmt.Errorf("extract: Containers: %w", err)
		}
		for _, p := range c.Processes {
			subtree(p)
		}
		for _, p := range c.RuntimeProcesses {
			picked[p] = true
		}
		// The clients that started it and its exec sessions: the
		// container's started_by stays what it was.
		if l := c.StartedBy; l != nil {
			picked[l.Process] = true
		}
		for _, e := range c.ExecSessions {
			if e.StartedBy != nil {
				picked[e.StartedBy.Process] = true
			}
		}
	}
	s.all = len(o.PIDs) == 0 && !o.Command && len(o.Containers) == 0
	n := 0
	for _, p := range m.Processes {
		if (s.all || picked[p]) && s.alive(p) {
			s.roles[p] = roleSelected
			n++
		}
	}
	if n == 0 {
		return ErrEmpty
	}
	// Ancestors, as bare entries; successors of vanished processes. A
	// process in a container also needs its container's init (whose
	// pivot_root names the container's root) and the init's ancestors (the
	// runtime that made it): bare entries too.
	bare := func(a *analyze.Process) {
		for ; a != nil && s.roles[a] != roleSelected; a = a.Parent {
			if s.roles[a] == roleAncestor {
				break
			}
			s.roles[a] = roleAncestor
		}
	}
	for _, c := range m.Containers() {
		if c.Init == nil || s.roles[c.Init] == roleSelected {
			continue
		}
		for _, p := range c.Processes {
			if s.roles[p] == roleSelected {
				bare(c.Init)
				break
			}
		}
	}
	for _, p := range m.Processes {
		if s.roles[p] != roleSelected {
			continue
		}
		if !o.NoAncestors {
			bare(p.Parent)
		}
		if p.Vanished {
			cands := s.byPID[p.PID]
			for i, c := range cands {
				if c == p && i+1 < len(cands) && s.roles[cands[i+1]] == roleNone {
					s.roles[cands[i+1]] = roleSuccessor
				}
			}
		}
	}
	for _, a := range m.Processes {
		if s.roles[a] != roleAncestor {
			continue
		}
		var last int64
		for _, c := range a.Children {
			if r := s.roles[c]; r == roleSelected || r == roleAncestor {
				last = max(last, c.SortTime())
			}
		}
		for _, l := range leaderExits[a.PID] {
			if l >= a.SortTime() && l < last {
				s.threads[a] = true
			}
		}
	}
	return nil
}

// commandProcess picks the recorded command among the processes of its
// pid: the first created during the capture.
func commandProcess(cands []*analyze.Process) *analyze.Process {
	for _, c := range cands {
		if !c.PreExisting {
			return c
		}
	}
	if len(cands) > 0 {
		return cands[0]
	}
	return nil
}

// counts returns the number of selected processes and of bare entries.
func (s *selection) counts() (selected, bare int) {
	for _, r := range s.roles {
		switch r {
		case roleSelected:
			selected++
		case roleAncestor, roleSuccessor:
			bare++
		}
	}
	return
}

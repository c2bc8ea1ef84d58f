package groundtruth

import (
	"github.com/ctrace/ctrace/replay"
)

// lineage collects the links between tasks that a capture shows, to find
// the set of processes that descend from a command.
type lineage struct {
	forks   []forkLink
	calls   []callLink
	threads map[int]bool // tids the proc connector shows as threads
}

type forkLink struct{ parentTGID, childTGID int }

// callLink is what an audit record says: pid (a tgid) and ppid, and for a
// successful clone-family syscall the new task's id.
type callLink struct{ pid, ppid, child int }

func newLineage() *lineage { return &lineage{threads: map[int]bool{}} }

func (l *lineage) addProc(ev replay.ProcEvent) {
	if ev.Kind != replay.ProcFork {
		return
	}
	l.forks = append(l.forks, forkLink{int(ev.ParentTGID), int(ev.TGID)})
	if ev.PID != ev.TGID {
		l.threads[int(ev.PID)] = true
	}
}

// addRecord takes the pid, ppid and clone result of an audit record that has
// them (SYSCALL records, and standalone records such as ANOM_ABEND).
func (l *lineage) addRecord(r AuditRecord, sc *Syscall) {
	if sc != nil {
		c := callLink{pid: sc.PID, ppid: sc.PPID}
		if IsCloneFamily(sc.Name) && sc.Exit > 0 {
			c.child = int(sc.Exit)
		}
		l.calls = append(l.calls, c)
		return
	}
	pid, _ := r.Int("pid")
	ppid, _ := r.Int("ppid")
	if pid > 0 || ppid > 0 {
		l.calls = append(l.calls, callLink{pid: int(pid), ppid: int(ppid)})
	}
}

// set returns the root and every process descending from it, by proc
// connector forks (parent tgid to child tgid), audit ppid links (a record
// whose ppid is in the set puts its pid in), and audit clone results (the
// task a process of the set created, unless the proc connector says it is a
// thread), iterated to a fixpoint.
func (l *lineage) set(root int) map[int]bool {
	in := map[int]bool{root: true}
	for changed := true; changed; {
		changed = false
		add := func(pid int) {
			if pid > 0 && !in[pid] {
				in[pid] = true
				changed = true
			}
		}
		for _, f := range l.forks {
			if in[f.parentTGID] {
				add(f.childTGID)
			}
		}
		for _, c := range l.calls {
			if in[c.ppid] {
				add(c.pid)
			}
			if in[c.pid] && c.child > 0 && !l.threads[c.child] {
				add(c.child)
			}
		}
	}
	return in
}

// procBelongs reports whether a proc connector event is about the set.
func procBelongs(ev replay.ProcEvent, in map[int]bool) bool {
	switch ev.Kind {
	case replay.ProcNone, replay.ProcUnknown:
		return false
	case replay.ProcFork, replay.ProcExit, replay.ProcCoredump:
		return in[int(ev.TGID)] || in[int(ev.ParentTGID)]
	}
	return in[int(ev.TGID)]
}

// recordBelongs reports whether an audit record names a process of the set
// as its pid= or ppid=.
func recordBelongs(r AuditRecord, in map[int]bool) bool {
	pid, _ := r.Int("pid")
	ppid, _ := r.Int("ppid")
	return in[int(pid)] || in[int(ppid)]
}

// WorkloadSet returns the workload set of a loaded capture: the process root and
// its descendants by pid lineage (see lineage.set).
func (c *Capture) WorkloadSet(root int) map[int]bool {
	l := newLineage()
	for _, ev := range c.Proc {
		l.addProc(ev)
	}
	for _, ev := range c.Audit {
		sc, hasSC := ev.Syscall()
		for _, r := range ev.Records {
			if r.Type == replay.TypeSyscall && hasSC {
				l.addRecord(r, &sc)
			} else {
				l.addRecord(r, nil)
			}
		}
	}
	return l.set(root)
}

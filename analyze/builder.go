package analyze

import (
	"maps"
	"slices"

	"github.com/ctrace/ctrace/replay"
)

// The builder: it replays the timeline into processes (Build), and
// applies the /proc snapshot.

// builder replays a timeline into processes. See Build for the rules.
type builder struct {
	tl     *timeline
	arches archCache

	procs []*Process
	// cur is the latest process of each pid.
	cur map[int]*Process
	// held are events for a pid whose process is not known yet (an exec or
	// exit before the fork that created the task), in timeline order.
	held map[int][]*item
	// creators are the audit clone records not yet matched with their
	// child, by the returned pid.
	creators map[int]*cloneRecord
	// idx maps inodes to the paths they were seen at (paths.go).
	idx     *pathIndex
	rootSeq int

	// flushing: held events are being replayed at the end; a pid without a
	// process gets one now rather than waiting for a fork.
	flushing bool
	opSeq    int

	// ctr collects what container detection needs (container_trace.go);
	// containers is its result (finish).
	ctr        containerTrace
	containers []*Container
}

func newBuilder(tl *timeline) *builder {
	return &builder{
		tl:       tl,
		arches:   archCache{},
		cur:      make(map[int]*Process),
		held:     make(map[int][]*item),
		creators: make(map[int]*cloneRecord),
		idx:      newPathIndex(),
	}
}

// Build replays a capture's records into the process model. The rules:
//
//   - Identity: a process is a thread group with a start. A new process of
//     a pid (a proc connector fork, or with audit alone an audit record after
//     the previous one ended) is a new Process; the previous one, if it had
//     not ended, is marked Vanished.
//   - Order: creation precedes exec precedes exit. Events for a pid whose
//     creation has not been seen yet are held and replayed when the fork
//     arrives (held audit events stamped well before the fork belong to an
//     older process of that pid). Events never claimed by a fork are
//     replayed at the end into processes whose creation was not seen.
//   - Parents: the parent is the creator at creation time: the proc
//     connector fork's parent_tgid (the forking thread's process), or the
//     creator of an audit clone record when the proc connector reports the
//     creator's own parent (CLONE_PARENT). ppid= in later records (a
//     reaper after reparenting) and the parent in thread forks (the
//     process's parent) never change it.
//   - Execs: every successful exec is kept; the audit record and the proc
//     connector event of one exec are merged. An exec right after the proc
//     connector reported the leader's exit is an exec by another thread,
//     which takes over the pid (de_thread).
//   - Exits: see finishProcess.
//   - Files: see files.go.
func Build(src RecordSource) (*Model, error) {
	return build(src, readOptions{workers: workers()})
}

// Model is the result of Build: the processes, sorted by start then pid,
// and what the capture's records said about themselves.
type Model struct {
	Processes []*Process
	// Sources tells which sources the capture holds.
	HasAudit, HasProc, HasSnapshot bool
	// Undecodable counts records that could not be read, per source.
	Undecodable map[string]int
	// LateRecords counts audit records that arrived after their event had
	// been released (more than the reorder window, 2 s, behind): each
	// became part of an event of its own.
	LateRecords int

	containers []*Container
}

func buildModel(tl *timeline) *Model {
	b := newBuilder(tl)
	for it := tl.next(); it != nil; it = tl.next() {
		b.dispatch(it)
	}
	b.flushHeld()
	b.finish()
	m := &Model{
		Processes: b.procs, HasAudit: tl.hasAudit, HasProc: tl.hasProc, HasSnapshot: tl.hasSnapshot,
		Undecodable: map[string]int{}, containers: b.containers, LateRecords: tl.stats.lateRecords,
	}
	for k, n := range map[string]int{"audit": tl.auditUndecodable, "proc": tl.procUndecodable, "snapshot": tl.snapUndecodable} {
		if n > 0 {
			m.Undecodable[k] = n
		}
	}
	return m
}

func (b *builder) dispatch(it *item) {
	switch {
	case it.snap != nil:
		b.applySnapshot(it)
	case it.audit != nil:
		b.auditItem(it)
	case it.proc != nil:
		switch it.proc.Kind {
		case replay.ProcFork:
			b.procFork(it)
		case replay.ProcExec:
			b.procExec(it)
		case replay.ProcExit:
			b.procExit(it)
		case replay.ProcComm:
			b.procComm(it)
		}
	}
}

// hold keeps an event until the fork of its pid arrives (or the end).
func (b *builder) hold(pid int, it *item) {
	b.held[pid] = append(b.held[pid], it)
}

// flushHeld replays the events no fork claimed, in timeline order: their
// processes were created before the capture (and are not in the snapshot),
// or their fork was lost.
func (b *builder) flushHeld() {
	var rest []*item
	for _, items := range b.held {
		rest = append(rest, items...)
	}
	clear(b.held)
	slices.SortFunc(rest, compareItems)
	b.flushing = true
	for _, it := range rest {
		b.dispatch(it)
	}
	b.flushing = false
}

func (b *builder) newProcess(pid int, t int64) *Process {
	p := &Process{PID: pid, FirstSeen: t,
		st: &procState{tasks: map[int]*task{}, fds: map[int]*fdSlot{}, auditAlone: !b.tl.hasProc,
			root: rootInfo{ns: hostRoot}}}
	p.st.tasks[pid] = &task{tid: pid}
	return p
}

// register makes p the current process of its pid. A previous process of
// the pid that had not ended vanished.
func (b *builder) register(p *Process) {
	if old := b.cur[p.PID]; old != nil && old != p && !old.ended() {
		old.Vanished = true
	}
	b.cur[p.PID] = p
	p.seq = len(b.procs)
	b.procs = append(b.procs, p)
}

// newUnknown creates a process whose creation was not seen, first seen at t.
func (b *builder) newUnknown(pid, ppid int, t int64) *Process {
	p := b.newProcess(pid, t)
	p.PPID = ppid
	b.register(p)
	return p
}

// inherit gives a new process what a child gets from its parent at fork: the
// program (exe, argv), the comm, the working directory and a copy of the fd
// table.
func (b *builder) inherit(child, parent *Process) {
	child.st.parentRef = parent
	if parent == nil {
		return
	}
	child.st.exe = parent.st.exe
	child.st.argv = parent.st.argv
	child.st.argvSet = parent.st.argvSet
	child.Comm = parent.Comm
	child.Cwd = parent.Cwd
	child.Root = parent.Root
	child.st.root = parent.st.root
	child.st.fds = copyFDs(parent.st.fds)
	child.st.bound = maps.Clone(parent.st.bound)
	child.st.kernelCand = parent.KernelThread || parent.st.kernelCand
}

// applySnapshot creates a pre-existing process from the /proc snapshot, at
// its start time, with its threads.
func (b *builder) applySnapshot(it *item) {
	g := it.snap
	lead := g.leader
	if lead == nil {
		lead = g.tasks[0]
	}
	p := b.newProcess(g.pid, it.t)
	if it.t == minInt64 {
		p.FirstSeen = 0
	}
	p.Start = g.start
	p.PreExisting = true
	p.PPID = lead.PPID
	p.Comm = lead.Comm
	p.Cwd = lead.Cwd
	p.KernelThread = lead.Kernel
	p.st.created = createdSnapshot
	p.st.snapStart = g.start
	p.st.exe = lead.Exe
	if len(lead.Argv) > 0 {
		p.st.argv, p.st.argvSet = lead.Argv, true
	}
	for _, t := range g.tasks {
		if t.TID != g.pid {
			p.task(t.TID)
		}
	}
	b.ctr.snapshot(p, lead)
	if parseCgroups(lead.Cgroup) != nil {
		// A container's process: its paths are the container's, whose
		// root's host path the snapshot cannot tell.
		p.st.root = b.unknownRoot(p)
	}
	if par := b.cur[p.PPID]; par != nil && !par.finishedForAudit() {
		p.st.parentRef = par
	}
	b.register(p)
	// Events held for the pid since its start are its own.
	b.release(g.pid, g.start, p)
}

// release replays the events held for pid that are stamped at or after
// from-auditSlack into p's life; older ones stay held.
func (b *builder) release(pid int, from int64, p *Process) {
	items := b.held[pid]
	if len(items) == 0 {
		return
	}
	var keep, mine []*item
	for _, h := range items {
		if from != 0 && (h.kind == itemProc && h.t < from || h.kind == itemAudit && h.t < from-auditSlack) {
			keep = append(keep, h)
		} else {
			mine = append(mine, h)
		}
	}
	if len(keep) > 0 {
		b.held[pid] = keep
	} else {
		delete(b.held, pid)
	}
	for _, h := range mine {
		b.dispatch(h)
	}
}

package analyze

import (
	"maps"
	"slices"

	"github.com/ctrace/ctrace/replay"
)

// Process is one process of the model: a thread group (tgid) from its
// creation to its end. A pid reused later in the capture is another Process.
// Threads are part of their process, never processes of their own.
//
// Times are wall-clock nanoseconds since the Unix epoch; 0 means unknown
// (or, for End, that the process did not end within the capture).
type Process struct {
	// ID numbers the processes of an Analysis in their order (1, 2, ...):
	// unlike the pid, it is unique.
	ID int
	// PID is the thread group id.
	PID int
	// PPID is the pid of the parent: the process that created this one, at
	// creation time (see the rules in builder). 0 when unknown.
	PPID int
	// Parent is the parent's Process when it is in the model.
	Parent   *Process
	Children []*Process
	// Threads are the tids of the process's other threads, sorted.
	Threads []int
	Comm    string
	// Exe and Argv are those of the last exec; without an exec in the
	// capture, those of the /proc snapshot, the audit records or the
	// parent at fork. Exe is "" and Argv nil when unknown.
	Exe  string
	Argv []string
	// Cwd is the last working directory seen ("" when unknown).
	Cwd string
	// Root is the host path of the process's root directory when it is not
	// the host's: after a chroot or pivot_root (its own or inherited), when
	// the directory is known. Its file operations then have a HostPath.
	Root  string
	Execs []Exec
	// Start is the creation time: the proc connector's fork, the audit
	// clone record (without the proc connector), or the snapshot's start
	// time. 0 when the creation was not seen; FirstSeen is then the time
	// of the first event of the process.
	Start     int64
	FirstSeen int64
	// End is when the last task of the process exited; 0 while alive at the
	// end of the capture or when Vanished.
	End int64
	// ExitCode is set for a normal exit (exit or exit_group, from any
	// thread), Signal for a death by signal; both nil when unknown.
	ExitCode   *int
	Signal     *int
	CoreDumped bool
	// PreExisting: the process comes from the /proc snapshot and was
	// created before the recording began.
	PreExisting bool
	// Vanished: the process disappeared without an exit being seen (its
	// pid was taken by a new process); End is unknown.
	Vanished bool
	// KernelThread: a kernel thread (from the snapshot, or created by one
	// and never exec'd).
	KernelThread bool
	// Container is the id of the process's container (nil on the host).
	Container *string
	// Identity is the process's credentials at its start, as its first
	// audit record gave them (nil without one); each Exec has its own.
	// CredentialChanges are its calls that changed them.
	Identity          *Identity
	CredentialChanges []CredentialChange
	// SignalsSent are the signals it sent; KilledBy the recorded process
	// that sent the signal it died of (nil when unknown: not recorded, or
	// sent by the kernel).
	SignalsSent []SignalSent
	KilledBy    *KilledBy
	// Connections are its network calls (network.go), in order.
	Connections []Connection
	// Ptraces are the ptrace attaches it made or underwent, in order.
	Ptraces []Ptrace
	// FilesWritten are the sorted unique absolute paths of Files with a
	// writing operation (see writingOps).
	FilesWritten []string
	// Files are the file operations of all threads of the process, in time
	// order.
	Files []FileOp

	st  *procState // builder state, dropped by finish
	seq int        // creation order, the last sort key
}

// Exec is one successful execve or execveat.
type Exec struct {
	Time int64
	Exe  string   // "" when unknown (seen by the proc connector only)
	Argv []string // nil when unknown
	// Identity: the credentials the exec's audit record gives (nil
	// without one).
	Identity *Identity

	fromAudit, fromProc bool
	closed              []*FileOp // close-on-exec files it closed
	// opSeq: the builder's file operation counter when the exec's audit
	// record was applied (audit events are applied in serial order): the
	// process's operations with a lower seq came before it. 0 without an
	// audit record.
	opSeq int
}

// FileOp is one operation of a process on a file.
type FileOp struct {
	// Op is one of create, open_write, open (intent unknown), truncate,
	// rename_from, rename_to, unlink, link, symlink, mknod, mkdir, rmdir,
	// chmod, chown.
	Op string
	// Path is absolute and clean, proved from the records (paths.go). When
	// Unresolved, it is the name as the syscall got it (relative to a
	// directory the analyzer could not identify), or "" when only an
	// unknown file descriptor named the file.
	Path       string
	Unresolved bool
	Time       int64
	// For opens (create, open_write, open): the descriptor, the flags, and
	// when and how it was closed (0 and "" while open at the end of the
	// capture or when the process vanished). ClosedBy is close, dup2 (the
	// number was reused by dup2/dup3), reuse (a later open returned the same
	// number, so it was closed before, at the latest then), exec
	// (close-on-exec), exit.
	FD       int
	HasFD    bool
	Flags    string
	Closed   int64
	ClosedBy string
	// From and To: the other name of a rename; Target: the existing file of
	// a link, the contents of a symlink.
	From, To string
	Target   string
	// Replaced: rename_to replaced an existing file.
	Replaced bool
	// Mode: the new permission bits of a chmod (HasMode). UID and GID: the
	// new owner of a chown, -1 for unchanged.
	Mode     uint32
	HasMode  bool
	UID, GID int64
	// For an Unresolved name relative to a directory descriptor: the
	// descriptor (HasDirFD), and the directory's identity ("DEV:INODE")
	// when the record gave it.
	DirFD    int
	HasDirFD bool
	DirInode string
	// HostPath is the file's path on the host, for an operation of a
	// container process: Path under the container's rootfs when the
	// operation was made inside the container and the rootfs is known;
	// Path itself when HostView. "" otherwise (container_detect.go).
	HostPath string
	// HostView: the operation was made by a container process before it
	// entered the container (the runtime's setup, in the process that
	// becomes the container's init): Path is as the host sees it.
	HostView bool

	seq int
}

// writingOps are the operations that put a path in FilesWritten.
var writingOps = map[string]bool{
	OpCreate: true, OpOpenWrite: true, OpTruncate: true, OpRenameTo: true,
	OpUnlink: true, OpLink: true, OpSymlink: true, OpMknod: true,
	OpChmod: true, OpChown: true,
}

// createdBy says how a process's creation was learnt.
type createdBy uint8

const (
	createdUnknown  createdBy = iota // creation not seen
	createdProc                      // proc connector FORK
	createdAudit                     // audit clone record (audit alone)
	createdSnapshot                  // /proc snapshot
)

// task is one thread of a process (the leader included).
type task struct {
	tid      int
	exited   bool
	exitTime int64
	status   uint32 // wait status, from the proc connector
	// zapped: killed by another thread's exec (de_thread), which is not a
	// death of the process.
	zapped bool
	// tookOver: this thread called execve and took over the pid.
	tookOver bool
	created  int64 // when the thread was created (0: before the capture or unknown)
}

// auditExitInfo is an exit or exit_group record.
type auditExitInfo struct {
	t     int64
	code  int
	group bool
}

type procState struct {
	tasks     map[int]*task
	fds       map[int]*fdSlot
	created   createdBy
	parentRef *Process
	// linked: the creator was taken from an audit clone record.
	linked bool

	exe      string
	argv     []string
	argvSet  bool
	title    []string // last PROCTITLE after the last exec
	sawAudit bool
	// credChanged: a credential change was seen before any other record
	// gave the process's identity, so its identity at start is its
	// parent's at the fork (inheritIdentities).
	credChanged bool

	auditExit  *auditExitInfo // the last exit_group, or the last exit
	auditExits int            // exit records since the last exec (one per thread that called exit)
	lastExec   int64          // time of the last exec
	lastAuditT int64          // time of the last audit event applied
	auditAlone bool           // the capture has no proc connector events
	abendT     int64          // ANOM_ABEND: killed by a core-dumping signal
	abendSig   int
	snapStart  int64
	kernelCand bool
	root       rootInfo         // the root directory, for paths and the index (paths.go)
	bound      map[int]sockAddr // socket descriptors' bound addresses (network.go)
	ops        []*FileOp
}

func (p *Process) leader() *task { return p.st.tasks[p.PID] }

// leaderExited: the proc connector reported the leader's exit (and no exec
// by another thread undid it).
func (p *Process) leaderExited() bool {
	l := p.leader()
	return l != nil && l.exited
}

// liveThreads counts the other threads not known to have exited.
func (p *Process) liveThreads() int {
	n := 0
	for _, t := range p.st.tasks {
		if t.tid != p.PID && !t.exited {
			n++
		}
	}
	return n
}

// finishedForProc: every task of the process has exited as the proc
// connector reported (a leader that called pthread_exit leaves the process
// alive while other threads run). Thread and comm events of the pid after
// this belong to a new process.
func (p *Process) finishedForProc() bool {
	return p.leaderExited() && p.liveThreads() == 0
}

// finishedForAudit: the process ended as far as audit can tell, or every
// task exited.
func (p *Process) finishedForAudit() bool {
	return p.finishedForProc() || p.auditEnded()
}

// ended: the process's end was seen (its leader's exit or an audit exit),
// even if exits of some threads were not. A new process of its pid does
// not make it Vanished.
func (p *Process) ended() bool {
	return p.leaderExited() || p.auditEnded()
}

// auditEnded: audit says the process ended: an exit_group record; or, in a
// capture without the proc connector (which reports every task's exit), an
// exit record that is the process's last record when there were more exit
// records since the last exec than threads created since then that could
// have called exit. (pid= is the thread group, so an exit record may be a
// thread's; threads made by clone3 are not recognisable from audit alone.)
func (p *Process) auditEnded() bool {
	e := p.st.auditExit
	switch {
	case e == nil:
		return false
	case e.group:
		return true
	}
	return p.st.auditAlone && e.t >= p.st.lastAuditT && p.st.auditExits > p.threadsSinceExec()
}

// threadsSinceExec counts the threads created since the last exec (an exec
// leaves one thread), not counting the one that took over the pid.
func (p *Process) threadsSinceExec() int {
	n := 0
	for _, t := range p.st.tasks {
		if t.tid != p.PID && !t.zapped && !t.tookOver && t.created >= p.st.lastExec {
			n++
		}
	}
	return n
}

// task returns the task tid, creating it.
func (p *Process) task(tid int) *task {
	t := p.st.tasks[tid]
	if t == nil {
		t = &task{tid: tid}
		p.st.tasks[tid] = t
	}
	return t
}

// cloneRecord is what an audit clone/fork/vfork/clone3 record says about a
// new process: its creator, the creator's parent at that moment, and when.
// The child pid is the clone's return value, which is in the caller's pid
// namespace: inside a container it is not the host pid, so a record is only
// used when the child's own records or the proc connector agree with it.
type cloneRecord struct {
	creator     int
	creatorPPID int
	t           int64
	flags       uint64
	flagsKnown  bool
}

// AuditSlack and CloneForkWindow are the analyzer's tolerances that other
// packages (extract) must apply the same way to place an audit event in the
// life of the right process; see auditSlack and cloneForkWindow below.
const (
	AuditSlack      = 30e6
	CloneForkWindow = 1e9
)

// Tolerances that follow from how the kernel stamps events.
const (
	// auditSlack: an audit event's time is the coarse clock at syscall
	// entry (truncated to the ms, at most one jiffy behind: 10 ms at
	// HZ=100, more when the timekeeping CPU was idle), so its true time can be
	// later by this much. An audit
	// event of a new process can thus be stamped before the proc connector's
	// fork of that process.
	auditSlack = AuditSlack
	// execMergeSlack: an audit execve record stamped after a proc connector
	// exec of the same process (which the entry-time stamp makes impossible
	// up to the precision of the clock pair) is still the same exec.
	execMergeSlack = 2e6
	// execByThreadWindow: de_thread reports the leader's exit and the exec
	// of the thread that takes its pid within this.
	execByThreadWindow = 1e9
	// cloneForkWindow: the proc connector's fork of a child comes during the
	// clone syscall whose audit record stamps its entry.
	cloneForkWindow = CloneForkWindow
	// snapshotSlack: /proc start times are in clock ticks (10 ms); a fork
	// seen by the proc connector within this of a snapshot process's start
	// is that process's creation.
	snapshotSlack = 25e6
)

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

// ---- snapshot ----

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

// ---- proc connector ----

// procFork handles a proc connector FORK: a new thread of a process, or a
// new process.
func (b *builder) procFork(it *item) {
	ev := it.proc
	tgid, tid := int(ev.TGID), int(ev.PID)
	if tid != tgid {
		// A new thread. Its parent fields name the process's parent, not
		// the creating thread: the process itself created it.
		p := b.cur[tgid]
		if p == nil || p.finishedForProc() {
			if !b.flushing {
				b.hold(tgid, it)
				return
			}
			p = b.newUnknown(tgid, 0, it.t)
		}
		if t := p.st.tasks[tid]; t == nil || t.exited {
			p.st.tasks[tid] = &task{tid: tid, created: it.t}
		}
		if c := b.creators[tid]; c != nil && c.creator == tgid {
			delete(b.creators, tid) // the audit clone record of this thread
		}
		return
	}

	// A new process. Events held for its pid before this fork belong to an
	// older process of the pid, except audit events stamped within
	// auditSlack before the fork (the coarse clock): those are the new
	// process's (typically the exec of a vfork child).
	pid, t := tgid, it.t
	var older, newer []*item
	for _, h := range b.held[pid] {
		if h.kind == itemProc || h.kind == itemSnapshot || h.t < t-auditSlack {
			older = append(older, h)
		} else {
			newer = append(newer, h)
		}
	}
	delete(b.held, pid)
	if len(older) > 0 {
		wasFlushing := b.flushing
		b.flushing = true
		for _, h := range older {
			b.dispatch(h)
		}
		b.flushing = wasFlushing
	}

	parent := int(ev.ParentTGID)
	if c := b.creators[pid]; c != nil && c.t <= t+execMergeSlack && t-c.t <= cloneForkWindow {
		delete(b.creators, pid)
		// CLONE_PARENT (runc, `docker exec`): the kernel makes the caller's
		// parent the child's parent, and the fork event reports it; the
		// creator is the caller.
		if c.creator != parent && c.creatorPPID == parent {
			parent = c.creator
		}
	}

	if old := b.cur[pid]; old != nil && old.st.created == createdSnapshot && old.PreExisting &&
		!old.finishedForProc() && old.st.snapStart != 0 && t >= old.st.snapStart-auditSlack && t-old.st.snapStart <= snapshotSlack {
		// The snapshot caught a process whose fork the recorder also saw:
		// one process, created during the capture.
		old.PreExisting = false
		old.Start, old.FirstSeen = t, t
		old.st.created = createdProc
		old.PPID = parent
		old.st.parentRef = b.live(parent)
		b.releaseItems(newer)
		return
	}

	p := b.newProcess(pid, t)
	p.Start = t
	p.PPID = parent
	p.st.created = createdProc
	b.inherit(p, b.live(parent))
	if p.st.parentRef == nil && parent == 2 {
		p.st.kernelCand = true // kthreadd's children are kernel threads
	}
	b.register(p)
	b.releaseItems(newer)
}

func (b *builder) releaseItems(items []*item) {
	for _, h := range items {
		b.dispatch(h)
	}
}

// live returns the current process of pid if it has not ended.
func (b *builder) live(pid int) *Process {
	if p := b.cur[pid]; p != nil && !p.finishedForProc() && !p.Vanished {
		return p
	}
	return nil
}

// procExec handles a proc connector EXEC.
func (b *builder) procExec(it *item) {
	ev := it.proc
	pid := int(ev.TGID)
	p := b.cur[pid]
	if p == nil {
		if !b.flushing {
			b.hold(pid, it)
			return
		}
		p = b.newUnknown(pid, 0, it.t)
	} else if p.leaderExited() {
		if !b.execByThread(p, it.t) {
			if !b.flushing {
				b.hold(pid, it)
				return
			}
			p = b.newUnknown(pid, 0, it.t)
		}
	}
	b.exec(p, it.t, Exec{Time: it.t, fromProc: true})
}

// execByThread recognises an exec by a non-leader thread after the fact.
// The kernel (de_thread) kills every other thread, the leader included,
// whose EXITs the proc connector reports (status 0 on current kernels,
// SIGKILL on older ones); then the exec'ing thread takes over the leader's
// pid and its EXEC is reported with that pid. So an EXEC shortly after the
// leader's EXIT, with no fork of the pid in between, is this case (the
// alternative, a new process whose fork was lost, would exec later). The
// leader lives on in the exec'ing thread; the threads that exited are
// marked zapped (their exits are not the process's); the exec'ing thread,
// when it is the only one alive, tookOver.
func (b *builder) execByThread(p *Process, t int64) bool {
	l := p.leader()
	if t-l.exitTime > execByThreadWindow || (l.status != 0 && l.status != sigKill) {
		return false
	}
	l.exited, l.exitTime, l.status = false, 0, 0
	var alive []*task
	for _, tid := range sortedTIDs(p.st.tasks) {
		tk := p.st.tasks[tid]
		switch {
		case tk.tid == p.PID:
		case tk.exited:
			tk.zapped = true
		default:
			alive = append(alive, tk)
		}
	}
	if len(alive) == 1 {
		alive[0].tookOver = true
		alive[0].exited, alive[0].exitTime = true, t
	}
	return true
}

// procExit handles a proc connector EXIT of a task.
func (b *builder) procExit(it *item) {
	ev := it.proc
	pid, tid := int(ev.TGID), int(ev.PID)
	p := b.cur[pid]
	// A second exit of the leader is another process's (its fork was not
	// seen).
	if p == nil || (tid == pid && p.leaderExited()) {
		if !b.flushing {
			b.hold(pid, it)
			return
		}
		p = b.newUnknown(pid, int(ev.ParentTGID), it.t)
	}
	tk := p.task(tid)
	if tk.exited && tid != pid {
		return // reported twice
	}
	tk.exited, tk.exitTime, tk.status = true, it.t, ev.ExitCode
}

// procComm handles a comm change (prctl PR_SET_NAME).
func (b *builder) procComm(it *item) {
	ev := it.proc
	pid := int(ev.TGID)
	p := b.cur[pid]
	if p == nil || p.finishedForProc() {
		if !b.flushing {
			b.hold(pid, it)
			return
		}
		p = b.newUnknown(pid, 0, it.t)
	}
	if int(ev.PID) == pid {
		p.Comm = ev.Comm
	}
}

// ---- audit ----

func (b *builder) auditItem(it *item) {
	ev := it.audit
	ev.parse(b.arches)
	sc := ev.sc
	if sc == nil {
		if ev.abend != nil && ev.abend.pid > 0 {
			if p := b.auditTarget(ev.abend.pid, 0, it); p != nil {
				p.st.abendT, p.st.abendSig = b.clamp(p, it.t), ev.abend.sig
			}
		}
		return
	}
	if sc.pid <= 0 {
		return
	}
	if sc.kind == scClone && sc.ok() && sc.exit > 0 {
		b.noteClone(sc, it.t)
	}
	p := b.auditTarget(sc.pid, sc.ppid, it)
	if p == nil {
		return
	}
	b.applySyscall(p, ev, b.clamp(p, it.t))
}

// clamp raises an audit time to the process's start: the coarse stamp is a
// lower bound of the true time, which cannot precede the creation.
func (b *builder) clamp(p *Process, t int64) int64 {
	if p.Start != 0 && t < p.Start {
		return p.Start
	}
	return t
}

// auditTarget returns the process an audit event of pid is about, or nil
// when the event is held. With the proc connector in the capture, an event
// for a pid without a live process waits for its fork. Without it (audit
// alone, or when replaying held events at the end), the event starts a new
// process: created by a matching clone record if there is one, else with
// its creation unknown and the ppid= of its records.
func (b *builder) auditTarget(pid, ppid int, it *item) *Process {
	if p := b.cur[pid]; p != nil && b.auditContinues(p) {
		return p
	}
	if b.tl.hasProc && !b.flushing {
		b.hold(pid, it)
		return nil
	}
	p := b.newProcess(pid, it.t)
	p.PPID = ppid
	if c := b.creators[pid]; c != nil && c.t <= it.t && b.cloneFits(c, ppid) {
		delete(b.creators, pid)
		p.Start = c.t
		p.PPID = c.creator
		p.st.created = createdAudit
		p.st.linked = true
		b.inherit(p, b.liveAudit(c.creator))
	} else if par := b.liveAudit(ppid); par != nil {
		p.st.parentRef = par
	}
	b.register(p)
	return p
}

// auditContinues reports whether a new audit record of p's pid is still
// p's. Not after every task exited (proc connector) or an exit_group. After
// an exit record (audit alone: with the proc connector it may only be a
// thread's), only when more exits than threads were seen and a clone record
// since then returned the pid: a new process took it.
func (b *builder) auditContinues(p *Process) bool {
	if p.finishedForProc() {
		return false
	}
	e := p.st.auditExit
	switch {
	case e == nil:
		return true
	case e.group:
		return false
	case !p.st.auditAlone || p.st.auditExits <= p.threadsSinceExec():
		return true
	}
	c := b.creators[p.PID]
	return c == nil || c.t < e.t
}

// liveAudit returns the current process of pid unless it ended.
func (b *builder) liveAudit(pid int) *Process {
	if p := b.cur[pid]; p != nil && !p.finishedForAudit() && !p.Vanished {
		return p
	}
	return nil
}

// cloneFits reports whether a clone record can be the creation of a process
// whose records say ppid: its creator is that parent, or the creator's own
// parent (CLONE_PARENT), or the creator has ended (the child was reparented
// to a reaper). Otherwise the clone's return value was a pid of another pid
// namespace (a container's), not this process.
func (b *builder) cloneFits(c *cloneRecord, ppid int) bool {
	if ppid == c.creator || ppid == c.creatorPPID {
		return true
	}
	cr := b.cur[c.creator]
	return cr != nil && cr.finishedForAudit()
}

// noteClone records an audit clone record. A clone(CLONE_THREAD) makes a
// thread (added from the record only without the proc connector, which
// reports threads itself); anything else may be a new process. When the
// child's own records came first (a vfork child's exec and exit arrive
// before, and at the same millisecond sort before, its parent's clone
// record), the child is linked now.
func (b *builder) noteClone(sc *syscallRecord, t int64) {
	child := int(sc.exit)
	c := &cloneRecord{creator: sc.pid, creatorPPID: sc.ppid, t: t}
	switch sc.name {
	case "clone":
		c.flags, c.flagsKnown = sc.a[0], true
	case "fork", "vfork":
		c.flagsKnown = true
	}
	if c.flagsKnown && c.flags&cloneThread != 0 {
		if !b.tl.hasProc {
			if p := b.cur[sc.pid]; p != nil && !p.finishedForAudit() {
				if tk := p.st.tasks[child]; tk == nil || tk.exited {
					p.st.tasks[child] = &task{tid: child, created: t}
				}
			}
		}
		return
	}
	if p := b.cur[child]; p != nil && !p.st.linked && p.FirstSeen >= t {
		switch p.st.created {
		case createdUnknown:
			if b.cloneFits(c, p.PPID) {
				p.Start, p.PPID = t, c.creator
				p.st.created, p.st.linked = createdAudit, true
				p.st.parentRef = b.liveAudit(c.creator)
				return
			}
		case createdProc:
			if p.Start-t <= cloneForkWindow && p.PPID != c.creator && p.PPID == c.creatorPPID {
				p.PPID = c.creator
				p.st.linked = true
				p.st.parentRef = b.liveAudit(c.creator)
				return
			}
		}
	}
	b.creators[child] = c
}

// applySyscall applies one audit syscall event to its process.
func (b *builder) applySyscall(p *Process, ev *auditEvent, t int64) {
	b.containerSyscall(p, ev, t) // before p.Cwd takes this event's CWD
	sc := ev.sc
	st := p.st
	st.sawAudit = true
	st.lastAuditT = max(st.lastAuditT, t)
	if sc.comm != "" {
		p.Comm = sc.comm
	}
	p.noteIdentity(sc)
	if ev.cwd != "" {
		p.Cwd = ev.cwd
	}
	if sc.kind != scExec || !sc.ok() {
		// exe= is the program the process runs (after a successful
		// execve, the new one: handled by exec).
		if sc.exe != "" {
			st.exe = sc.exe
		}
		if ev.title != nil {
			st.title = ev.title
		}
	}
	b.netSyscall(p, ev, t) // failed ones too: a refused connect is a fact
	b.ptraceSyscall(p, ev, t)
	if !sc.ok() {
		return // a failed syscall changed nothing else the model tracks
	}
	switch sc.kind {
	case scExec:
		x := Exec{Time: t, Exe: sc.exe, fromAudit: true}
		if ev.argvOK {
			x.Argv = ev.argv
		}
		if id, ok := sc.identity(); ok {
			x.Identity = &id
		}
		b.exec(p, t, x)
	case scExit:
		st.auditExits++
		st.auditExit = &auditExitInfo{t: t, code: int(sc.a[0] & 0xff)}
	case scExitGroup:
		st.auditExit = &auditExitInfo{t: t, code: int(sc.a[0] & 0xff), group: true}
	default:
		b.identitySyscall(p, ev, t)
		b.fileSyscall(p, ev, t)
	}
}

// exec applies one exec, merging the audit record and the proc connector
// event of the same exec. The audit record is stamped at syscall entry with
// a coarse clock, the proc event exactly when the exec is done, so the
// audit parts normally come first, possibly several of them (a vfork
// child's execs can all be stamped before its fork). They pair in order: a
// proc event completes the first exec after the last completed one that
// came from audit alone; an audit record completes the first proc-only exec
// after the last audit one, if stamped no more than execMergeSlack after it
// (which only the clock pair's imprecision allows).
func (b *builder) exec(p *Process, t int64, x Exec) {
	st := p.st
	from := 0
	for i := len(p.Execs) - 1; i >= 0; i-- {
		e := &p.Execs[i]
		if (x.fromProc && e.fromProc) || (x.fromAudit && e.fromAudit) {
			from = i + 1
			break
		}
	}
	for i := from; i < len(p.Execs); i++ {
		e := &p.Execs[i]
		switch {
		case x.fromProc && e.fromAudit && !e.fromProc:
			e.fromProc = true
			e.Time = t // the proc connector's time is exact
			for _, op := range e.closed {
				op.Closed = t
			}
			if i == len(p.Execs)-1 {
				st.lastExec = t
			}
			return
		case x.fromAudit && e.fromProc && !e.fromAudit && t-e.Time <= execMergeSlack:
			e.fromAudit, e.opSeq = true, b.opSeq
			e.Exe, e.Argv, e.Identity = x.Exe, x.Argv, x.Identity
			if i == len(p.Execs)-1 {
				st.exe, st.argv, st.argvSet = x.Exe, x.Argv, x.Argv != nil
				st.title = nil
			}
			return
		}
	}
	x.closed = b.closeOnExec(p, t)
	if x.fromAudit {
		x.opSeq = b.opSeq
	}
	p.Execs = append(p.Execs, x)
	// After an exec the process has one thread: the exit records counted so
	// far were those of threads that are gone.
	st.auditExits = 0
	st.lastExec = t
	if !x.fromAudit {
		// The new program's comm is unknown (the kernel sets it to the
		// file's base name); an audit record will tell.
		p.Comm = ""
	}
	// The process now runs the new program: what is known about it is what
	// this exec says, and nothing else.
	st.exe, st.argv, st.argvSet = x.Exe, x.Argv, x.Argv != nil
	st.title = nil
}

// openOps are the operations of an open(2): they have a descriptor, flags
// and a close.
var openOps = map[string]bool{OpCreate: true, OpOpenWrite: true, OpOpen: true}

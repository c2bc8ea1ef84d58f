package analyze

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

// openOps are the operations of an open(2): they have a descriptor, flags
// and a close.
var openOps = map[string]bool{OpCreate: true, OpOpenWrite: true, OpOpen: true}

package analyze

import (
	"cmp"
	"slices"

	"github.com/ctrace/ctrace/format"
)

// finish completes every process once the timeline has been replayed: ends
// and exit statuses, descriptors closed at the end, the program, threads and
// files, then parents, order and ids.
func (b *builder) finish() {
	cmd := b.commandExit()
	for _, p := range b.procs {
		b.finishProcess(p, cmd)
	}
	b.linkKillers()
	b.linkPtrace()
	b.linkParents()
	slices.SortFunc(b.procs, compareProcesses)
	for i, p := range b.procs {
		p.ID = i + 1
	}
	for _, p := range b.procs {
		if p.Parent != nil {
			p.Parent.Children = append(p.Parent.Children, p)
		}
	}
	b.inheritIdentities()
	b.containers = b.detectContainers()
	linkLaunchers(b.procs, b.containers)
	for _, p := range b.procs {
		p.st = nil
	}
}

// SortTime is the process's place in time in the model's order: its start,
// or when it was first seen if its creation was not.
func (p *Process) SortTime() int64 {
	if p.Start != 0 {
		return p.Start
	}
	return p.FirstSeen
}

// compareProcesses orders processes by start (or first seen), then pid, then
// creation order.
func compareProcesses(a, b *Process) int {
	if c := cmp.Compare(a.SortTime(), b.SortTime()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.PID, b.PID); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// commandNote is what the recorder's notes say about the recorded command
// (`ctrace record -- CMD`): its pid and how it ended, as the recorder's
// wait saw it.
type commandNote struct {
	pid      int
	t        int64
	exitCode *int
	signal   *int
}

func (b *builder) commandExit() *commandNote {
	var c commandNote
	for _, n := range b.tl.notes {
		switch n.Kind {
		case format.NoteCommandStart:
			c.pid = n.PID
		case format.NoteCommandExit:
			if n.PID != 0 {
				c.pid = n.PID
			}
			c.t, c.exitCode, c.signal = n.t, n.ExitCode, n.Signal
		}
	}
	if c.pid == 0 || (c.exitCode == nil && c.signal == nil) {
		return nil
	}
	return &c
}

// waitStatus decodes a wait status into an exit code or a signal.
func waitStatus(status uint32) (code, signal *int, core bool) {
	sig := int(status & 0x7f)
	switch {
	case sig == 0:
		c := int(status>>8) & 0xff
		return &c, nil, false
	case sig != 0x7f:
		return nil, &sig, status&0x80 != 0
	}
	return nil, nil, false // stopped: not an exit
}

// finishProcess decides how the process ended. The rules:
//
//   - It ended when its leader's exit was reported (proc connector), or
//     audit says it exited (exit_group from any thread, or more exit records
//     than it had other threads), or (audit alone) an ANOM_ABEND record
//     reported a core-dumping signal, or it is the recorded command and the
//     recorder saw it end. Otherwise it was alive at the end of the capture
//     (no End), or Vanished.
//   - End is the latest exit of its tasks (threads that exit after the
//     leader keep the process alive), else the audit exit's time. A thread
//     whose exit was not seen ends with its process.
//   - The status is, in order: exit_group's status (audit); a death by
//     signal of any task (fatal signals kill the whole group; threads
//     killed by another thread's exec excepted); the wait status of the
//     task that exited last (all threads of a group exit report the group's
//     status); an exit record's status; ANOM_ABEND's signal; the recorder's
//     note for the command.
//   - Every descriptor still open is closed at End.
func (b *builder) finishProcess(p *Process, cmd *commandNote) {
	st := p.st
	var maxExit int64
	var last, killed *task
	for _, tid := range sortedTIDs(st.tasks) {
		tk := st.tasks[tid]
		if !tk.exited || tk.tookOver {
			continue
		}
		maxExit = max(maxExit, tk.exitTime)
		if tk.zapped {
			continue
		}
		if last == nil || tk.exitTime > last.exitTime {
			last = tk
		}
		if _, sig, _ := waitStatus(tk.status); sig != nil && killed == nil {
			killed = tk
		}
	}

	isCmd := cmd != nil && cmd.pid == p.PID && !p.Vanished && (p.Start == 0 || p.Start <= cmd.t)
	ended := true
	switch {
	case p.Vanished:
		ended = false
	case p.leaderExited():
		p.End = maxExit
	case p.auditEnded():
		p.End = max(st.auditExit.t, maxExit)
	case st.abendT != 0:
		p.End = max(st.abendT, maxExit)
	case isCmd:
		p.End = max(cmd.t, maxExit)
	default:
		ended = false
	}
	if ended {
		switch e := st.auditExit; {
		case e != nil && e.group:
			p.ExitCode = &e.code
		case killed != nil:
			p.ExitCode, p.Signal, p.CoreDumped = waitStatus(killed.status)
		case last != nil:
			p.ExitCode, p.Signal, p.CoreDumped = waitStatus(last.status)
		case e != nil:
			p.ExitCode = &e.code
		case st.abendT != 0:
			sig := st.abendSig
			p.Signal = &sig
		case isCmd:
			p.ExitCode, p.Signal = cmd.exitCode, cmd.signal
		}
		b.closeAll(p, p.End)
	}

	p.Exe = st.exe
	switch {
	case st.argvSet:
		p.Argv = st.argv
	case st.title != nil:
		// No argv from an exec, the snapshot or the parent: the title of
		// the process's own records (PROCTITLE, at most 128 bytes).
		p.Argv = st.title
	}
	for _, tid := range sortedTIDs(st.tasks) {
		if tid != p.PID {
			p.Threads = append(p.Threads, tid)
		}
	}
	if p.Threads == nil {
		p.Threads = []int{}
	}
	if !p.KernelThread {
		p.KernelThread = st.kernelCand && len(p.Execs) == 0 && !st.sawAudit
	}

	slices.SortStableFunc(st.ops, func(a, b *FileOp) int {
		if c := cmp.Compare(a.Time, b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	p.Files = make([]FileOp, len(st.ops))
	written := map[string]bool{}
	for i, op := range st.ops {
		p.Files[i] = *op
		if writingOps[op.Op] && !op.Unresolved && op.Path != "" {
			written[op.Path] = true
		}
	}
	p.FilesWritten = make([]string, 0, len(written))
	for path := range written {
		p.FilesWritten = append(p.FilesWritten, path)
	}
	slices.Sort(p.FilesWritten)
}

func sortedTIDs(m map[int]*task) []int {
	tids := make([]int, 0, len(m))
	for tid := range m {
		tids = append(tids, tid)
	}
	slices.Sort(tids)
	return tids
}

// linkParents sets Parent: the process recorded at creation, else the
// process with pid PPID alive when this one started (or was first seen).
func (b *builder) linkParents() {
	byPID := make(map[int][]*Process)
	for _, p := range b.procs {
		byPID[p.PID] = append(byPID[p.PID], p)
	}
	for _, p := range b.procs {
		q := p.st.parentRef
		if q == nil && p.PPID > 0 {
			q = parentAt(byPID[p.PPID], p)
		}
		if q == nil || q == p || isAncestor(p, q) {
			continue
		}
		p.Parent = q
	}
}

// parentAt returns the candidate (processes of one pid, in creation order)
// alive when child began: the latest one started by then and not ended
// before.
func parentAt(cands []*Process, child *Process) *Process {
	at := child.SortTime()
	for i := len(cands) - 1; i >= 0; i-- {
		q := cands[i]
		if q == child {
			continue
		}
		if at != 0 && q.SortTime() > at+auditSlack {
			continue
		}
		if at != 0 && q.End != 0 && q.End < at-auditSlack {
			return nil
		}
		return q
	}
	return nil
}

// isAncestor reports whether p is q or one of q's ancestors.
func isAncestor(p, q *Process) bool {
	for n, a := 0, q; a != nil && n < 1<<20; a, n = a.Parent, n+1 {
		if a == p {
			return true
		}
	}
	return false
}

package analyze

// Audit events: the syscalls' records applied to their process.

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

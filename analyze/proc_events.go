package analyze

// The proc connector's events: forks, execs, exits, comm changes.

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

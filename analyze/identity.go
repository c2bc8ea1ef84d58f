package analyze

import (
	"cmp"
	"slices"
)

// Who ran a process and who killed it: the identity the audit records carry
// (every SYSCALL record has the task's credentials at the syscall's exit),
// the calls that changed it, and the signals one recorded process sent
// another (kill, tkill, tgkill, pidfd_send_signal, rt_sigqueueinfo and
// rt_tgsigqueueinfo; their OBJ_PID records name each target).

// Identity is the credentials of a task as a SYSCALL record gives them.
// AUID and Ses are -1 when unset (the kernel's 4294967295: no login).
type Identity struct {
	UID, GID, EUID, EGID, SUID, SGID, FSUID, FSGID int64
	AUID, Ses                                      int64
}

// CredentialChange is one successful setuid, setreuid, setresuid, setfsuid,
// setgid, setregid, setresgid, setfsgid, setgroups or capset (and their
// 32-bit forms): the call and the credentials right after it.
type CredentialChange struct {
	Time    int64
	Syscall string
	Identity
}

// SignalSent is a signal a process sent (Signal, to the process of
// TargetPID: Target when it is in the model).
type SignalSent struct {
	Time      int64
	TargetPID int
	Target    *Process
	Signal    int
}

// KilledBy is the process that sent the signal a process died of.
type KilledBy struct {
	PID     int
	Process *Process // nil when not in the model
	Signal  int
}

// Ptrace is a ptrace attach (PTRACE_ATTACH, PTRACE_SEIZE, or
// PTRACE_TRACEME by which a process asks its parent to trace it), as one of
// its two sides saw it.
type Ptrace struct {
	Time int64
	// Request is attach, seize or traceme.
	Request string
	// Role is this process's side: tracer or tracee.
	Role string
	// PeerPID is the other side's pid, Peer its process when in the model.
	PeerPID int
	Peer    *Process
	// Result is "ok" or the error's name (EPERM: refused).
	Result string
}

// ptraceRequests names the ptrace requests the rules record.
var ptraceRequests = map[uint64]string{0: "traceme", 16: "attach", 0x4206: "seize"}

// ptraceSyscall applies a ptrace attach, successful or not (a refused
// attach is a fact too), on the caller's side; linkPtrace adds the other
// side's entry.
func (b *builder) ptraceSyscall(p *Process, ev *auditEvent, t int64) {
	sc := ev.sc
	if sc.name != "ptrace" {
		return
	}
	req, ok := ptraceRequests[sc.a[0]]
	if !ok {
		return
	}
	e := Ptrace{Time: t, Request: req, Role: "tracer", Result: "ok"}
	if !sc.ok() {
		e.Result = errnoName(sc.exit)
	}
	switch {
	case req == "traceme":
		e.Role, e.PeerPID = "tracee", p.PPID
	case len(ev.objPIDs) > 0:
		e.PeerPID = ev.objPIDs[0] // the target's process, in the initial namespace
	default:
		e.PeerPID = int(int32(sc.a[1])) // no such task (ESRCH): the pid asked for
	}
	if q := b.cur[e.PeerPID]; q != nil && !q.finishedForAudit() {
		e.Peer = q
	}
	if n := len(p.Ptraces); n > 0 {
		if l := &p.Ptraces[n-1]; l.Request == e.Request && l.PeerPID == e.PeerPID && l.Role == e.Role && l.Result == e.Result {
			return // the next thread of the same process (strace -p attaches each)
		}
	}
	p.Ptraces = append(p.Ptraces, e)
}

// linkPtrace gives each ptrace entry whose peer is in the model its mirror
// on the peer's side.
func (b *builder) linkPtrace() {
	byPID := map[int][]*Process{}
	for _, p := range b.procs {
		byPID[p.PID] = append(byPID[p.PID], p)
	}
	type mirror struct {
		to *Process
		e  Ptrace
	}
	var add []mirror
	for _, p := range b.procs {
		for i := range p.Ptraces {
			e := &p.Ptraces[i]
			if e.Peer == nil {
				e.Peer = aliveAt(byPID[e.PeerPID], e.Time)
			}
			if e.Peer == nil || e.Peer == p {
				continue
			}
			m := *e
			m.PeerPID, m.Peer = p.PID, p
			m.Role = "tracee"
			if e.Role == "tracee" {
				m.Role = "tracer"
			}
			add = append(add, mirror{e.Peer, m})
		}
	}
	for _, m := range add {
		m.to.Ptraces = append(m.to.Ptraces, m.e)
	}
	for _, p := range b.procs {
		if len(p.Ptraces) > 1 {
			slices.SortStableFunc(p.Ptraces, func(a, b Ptrace) int { return cmp.Compare(a.Time, b.Time) })
		}
	}
}

// identity returns the credentials of a SYSCALL record; ok is false when
// the record has no uid field.
func (s *syscallRecord) identity() (Identity, bool) { return s.ident, s.hasIdent }

// unsetID maps the kernel's "unset" (u32 -1) to -1.
func unsetID(v uint64) int64 {
	if uint32(v) == 0xffffffff {
		return -1
	}
	return int64(uint32(v))
}

// noteIdentity keeps the first identity of a process (its identity at start,
// as far as audit saw it): that of its first record, unless that record is
// a credential change (a record gives the credentials after the call).
func (p *Process) noteIdentity(sc *syscallRecord) {
	if p.Identity != nil || p.st.credChanged {
		return
	}
	if credentialSyscalls[sc.name] && sc.ok() {
		p.st.credChanged = true
		return
	}
	if id, ok := sc.identity(); ok {
		p.Identity = &id
	}
}

// inheritIdentities gives the processes forked during the capture whose
// identity at start no record of their own gives (their first was a
// credential change) the identity their parent had at the fork: a fork
// copies the credentials.
func (b *builder) inheritIdentities() {
	for _, p := range b.procs { // parents first: procs are in start order
		if p.Identity != nil || p.Start == 0 || p.Parent == nil {
			continue
		}
		q := p.Parent
		id := q.Identity
		for i := range q.CredentialChanges {
			if c := &q.CredentialChanges[i]; c.Time <= p.Start {
				id = &c.Identity
			}
		}
		if id != nil {
			cp := *id
			p.Identity = &cp
		}
	}
}

// credentialSyscalls are the syscalls that change credentials.
var credentialSyscalls = map[string]bool{
	"setuid": true, "setreuid": true, "setresuid": true, "setfsuid": true,
	"setgid": true, "setregid": true, "setresgid": true, "setfsgid": true,
	"setgroups": true, "capset": true,
	"setuid32": true, "setreuid32": true, "setresuid32": true, "setfsuid32": true,
	"setgid32": true, "setregid32": true, "setresgid32": true, "setfsgid32": true, "setgroups32": true,
}

// signalArg gives the argument holding the signal number of the signal
// syscalls.
var signalArg = map[string]int{
	"kill": 1, "tkill": 1, "tgkill": 2, "pidfd_send_signal": 1, "rt_sigqueueinfo": 1, "rt_tgsigqueueinfo": 2,
}

// identitySyscall applies what a successful syscall says about identity and
// signals: a credential change, or the signals sent (one per OBJ_PID
// record).
func (b *builder) identitySyscall(p *Process, ev *auditEvent, t int64) {
	sc := ev.sc
	if credentialSyscalls[sc.name] {
		if id, ok := sc.identity(); ok {
			p.CredentialChanges = append(p.CredentialChanges, CredentialChange{Time: t, Syscall: sc.name, Identity: id})
		}
		return
	}
	ai, ok := signalArg[sc.name]
	if !ok {
		return
	}
	sig := int(uint32(sc.a[ai]))
	if sig == 0 {
		return // a probe: no signal sent
	}
	for _, opid := range ev.objPIDs {
		s := SignalSent{Time: t, TargetPID: opid, Signal: sig}
		if q := b.cur[opid]; q != nil && !q.finishedForAudit() {
			s.Target = q
		}
		p.SignalsSent = append(p.SignalsSent, s)
	}
}

// linkKillers sets KilledBy on the processes that died of a signal a
// recorded process sent them: the last such signal sent before the end.
func (b *builder) linkKillers() {
	byPID := map[int][]*Process{}
	for _, p := range b.procs {
		byPID[p.PID] = append(byPID[p.PID], p)
	}
	last := map[*Process]int64{}
	for _, p := range b.procs {
		for i := range p.SignalsSent {
			s := &p.SignalsSent[i]
			if s.Target == nil {
				// The signal's audit time (at syscall entry, coarse) can
				// come before the fork of its target was applied: the
				// target is the process of that pid alive then.
				s.Target = aliveAt(byPID[s.TargetPID], s.Time)
			}
			q := s.Target
			if q == nil || q.Signal == nil || *q.Signal != s.Signal || (q.End != 0 && s.Time > q.End) {
				continue
			}
			if t, ok := last[q]; ok && t > s.Time {
				continue
			}
			last[q] = s.Time
			q.KilledBy = &KilledBy{PID: p.PID, Process: p, Signal: s.Signal}
		}
	}
}

// aliveAt returns the one process of ps alive at t (within the audit
// clock's slack), nil when none or several are.
func aliveAt(ps []*Process, t int64) *Process {
	var found *Process
	for _, q := range ps {
		start := q.Start
		if start == 0 {
			start = q.FirstSeen
		}
		if (start == 0 || start-auditSlack <= t) && (q.End == 0 || t <= q.End) {
			if found != nil {
				return nil
			}
			found = q
		}
	}
	return found
}

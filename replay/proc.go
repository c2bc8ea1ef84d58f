package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Proc connector layout (linux/connector.h, linux/cn_proc.h).
const (
	cnMsgSize       = 20 // idx, val, seq, ack u32; len, flags u16
	procHeaderSize  = 16 // what, cpu u32; timestamp_ns u64
	procEventOffset = NetlinkHeaderSize + cnMsgSize
	procUnionOffset = procEventOffset + procHeaderSize // 52
	cnIdxProc       = 1
	cnValProc       = 1
)

// Proc event types: the proc_event.what values (enum proc_cn_event).
const (
	ProcWhatNone     = 0x00000000
	ProcWhatFork     = 0x00000001
	ProcWhatExec     = 0x00000002
	ProcWhatUID      = 0x00000004
	ProcWhatGID      = 0x00000040
	ProcWhatSID      = 0x00000080
	ProcWhatPtrace   = 0x00000100
	ProcWhatComm     = 0x00000200
	ProcWhatCoredump = 0x40000000
	ProcWhatExit     = 0x80000000
)

// ProcKind says which kind of proc connector event a ProcEvent is.
type ProcKind uint8

const (
	ProcUnknown  ProcKind = iota // a what value this package does not know; only the header is decoded
	ProcNone                     // PROC_EVENT_NONE: the acknowledgement of a LISTEN/IGNORE request (Err)
	ProcFork                     // fork or clone: ParentPID/ParentTGID created PID/TGID
	ProcExec                     // execve: PID/TGID
	ProcUID                      // credentials change: PID/TGID, RealID = ruid, EffectiveID = euid
	ProcGID                      // credentials change: PID/TGID, RealID = rgid, EffectiveID = egid
	ProcSID                      // setsid: PID/TGID
	ProcPtrace                   // ptrace attach/detach: PID/TGID, TracerPID/TracerTGID (0 on detach)
	ProcComm                     // comm change (prctl, exec): PID/TGID, Comm
	ProcCoredump                 // core dump: PID/TGID, ParentPID/ParentTGID
	ProcExit                     // exit: PID/TGID, ExitCode, NotifySignal, ParentPID/ParentTGID
)

var procKindNames = [...]string{"unknown", "none", "fork", "exec", "uid", "gid", "sid", "ptrace", "comm", "coredump", "exit"}

// String returns the kind's name: "fork", "exec", "exit"...
func (k ProcKind) String() string {
	if int(k) < len(procKindNames) {
		return procKindNames[k]
	}
	return "unknown"
}

// procLayout gives, per what, the kind and the size of its union member.
var procLayout = map[uint32]struct {
	kind ProcKind
	size int
}{
	ProcWhatNone:     {ProcNone, 4},      // ack: err
	ProcWhatFork:     {ProcFork, 16},     // parent_pid, parent_tgid, child_pid, child_tgid
	ProcWhatExec:     {ProcExec, 8},      // process_pid, process_tgid
	ProcWhatUID:      {ProcUID, 16},      // process_pid, process_tgid, ruid, euid
	ProcWhatGID:      {ProcGID, 16},      // process_pid, process_tgid, rgid, egid
	ProcWhatSID:      {ProcSID, 8},       // process_pid, process_tgid
	ProcWhatPtrace:   {ProcPtrace, 16},   // process_pid, process_tgid, tracer_pid, tracer_tgid
	ProcWhatComm:     {ProcComm, 24},     // process_pid, process_tgid, comm[16]
	ProcWhatCoredump: {ProcCoredump, 16}, // process_pid, process_tgid, parent_pid, parent_tgid
	ProcWhatExit:     {ProcExit, 24},     // process_pid, process_tgid, exit_code, exit_signal, parent_pid, parent_tgid
}

// ProcEvent is one decoded proc connector datagram. Which of the
// event-specific fields are set depends on Kind (see the ProcKind values).
type ProcEvent struct {
	Kind ProcKind
	What uint32 // proc_event.what as received

	// cn_msg header. Seq is a per-CPU sequence number (the kernel's
	// proc_event_counts); with CPU it detects loss (see ProcSeqTracker).
	// The acknowledgement of a LISTEN/IGNORE request (ProcNone) has Ack =
	// the request's ack + 1; older kernels also echo the request's seq and
	// send CPU = 0xffffffff (-1), newer ones number it like any event.
	Seq   uint32
	Ack   uint32
	Len   uint16 // cn_msg.len: the size of proc_event as the kernel sent it
	Flags uint16

	CPU uint32
	// Timestamp is ktime_get_ns() at the event: CLOCK_MONOTONIC, in ns.
	Timestamp uint64

	// PID and TGID identify the task the event is about; for ProcFork the
	// new child.
	PID, TGID uint32
	// ParentPID and ParentTGID: the parent for ProcFork (for a new thread,
	// the process's parent, not the creating thread), ProcExit and
	// ProcCoredump. A thread's exit reports 0/0.
	ParentPID, ParentTGID uint32
	// RealID and EffectiveID: ruid/euid (ProcUID) or rgid/egid (ProcGID).
	RealID, EffectiveID uint32
	// TracerPID and TracerTGID: ProcPtrace.
	TracerPID, TracerTGID uint32
	// Comm: ProcComm, up to the first NUL.
	Comm string
	// ExitCode is the task's exit_code, a wait status (see ExitStatus,
	// ExitSignal, CoreDumped): ProcExit.
	ExitCode uint32
	// NotifySignal is exit_signal, the signal sent to the parent (17,
	// SIGCHLD, usually), -1 for a thread: ProcExit.
	NotifySignal int32
	// Err is the acknowledgement's error code: ProcNone.
	Err uint32
}

// DecodeProc decodes one datagram read from the proc connector, as stored
// by the recorder: nlmsghdr (16 bytes), cn_msg (20), then proc_event (what,
// cpu, timestamp_ns, then the event's fields), all in the recording host's
// byte order. Every length is checked against the buffer: a datagram too
// short for its event is an error. An unknown what value is not an error:
// the event comes back with Kind ProcUnknown and only its header decoded.
func DecodeProc(data []byte, order binary.ByteOrder) (ProcEvent, error) {
	var ev ProcEvent
	if order == nil {
		return ev, errors.New("replay: proc: no byte order")
	}
	if len(data) < procUnionOffset {
		return ev, fmt.Errorf("replay: proc: datagram of %d bytes, want at least %d", len(data), procUnionOffset)
	}
	if t := order.Uint16(data[4:]); t != NlmsgDone {
		return ev, fmt.Errorf("replay: proc: netlink message type %d, want NLMSG_DONE (3)", t)
	}
	cn := data[NetlinkHeaderSize:]
	if idx, val := order.Uint32(cn[0:]), order.Uint32(cn[4:]); idx != cnIdxProc || val != cnValProc {
		return ev, fmt.Errorf("replay: proc: connector id %d:%d, want %d:%d", idx, val, cnIdxProc, cnValProc)
	}
	ev.Seq = order.Uint32(cn[8:])
	ev.Ack = order.Uint32(cn[12:])
	ev.Len = order.Uint16(cn[16:])
	ev.Flags = order.Uint16(cn[18:])

	pe := data[procEventOffset:]
	ev.What = order.Uint32(pe[0:])
	ev.CPU = order.Uint32(pe[4:])
	ev.Timestamp = order.Uint64(pe[8:])

	layout, known := procLayout[ev.What]
	if !known {
		ev.Kind = ProcUnknown
		return ev, nil
	}
	u := data[procUnionOffset:]
	if len(u) < layout.size {
		return ev, fmt.Errorf("replay: proc: %s event needs %d bytes after the header, datagram has %d",
			layout.kind, layout.size, len(u))
	}
	ev.Kind = layout.kind
	w := func(i int) uint32 { return order.Uint32(u[4*i:]) }
	switch ev.Kind {
	case ProcNone:
		ev.Err = w(0)
	case ProcFork:
		ev.ParentPID, ev.ParentTGID, ev.PID, ev.TGID = w(0), w(1), w(2), w(3)
	case ProcExec, ProcSID:
		ev.PID, ev.TGID = w(0), w(1)
	case ProcUID, ProcGID:
		ev.PID, ev.TGID, ev.RealID, ev.EffectiveID = w(0), w(1), w(2), w(3)
	case ProcPtrace:
		ev.PID, ev.TGID, ev.TracerPID, ev.TracerTGID = w(0), w(1), w(2), w(3)
	case ProcComm:
		ev.PID, ev.TGID = w(0), w(1)
		comm := string(u[8:24])
		if k := strings.IndexByte(comm, 0); k >= 0 {
			comm = comm[:k]
		}
		ev.Comm = comm
	case ProcCoredump:
		ev.PID, ev.TGID, ev.ParentPID, ev.ParentTGID = w(0), w(1), w(2), w(3)
	case ProcExit:
		ev.PID, ev.TGID = w(0), w(1)
		ev.ExitCode, ev.NotifySignal = w(2), int32(w(3))
		ev.ParentPID, ev.ParentTGID = w(4), w(5)
	}
	return ev, nil
}

// ExitStatus returns the exit status of a normal exit (exit(3) → 3) from a
// ProcExit event's wait status; ok is false for other kinds and for a task
// killed by a signal.
func (ev ProcEvent) ExitStatus() (status int, ok bool) {
	if ev.Kind != ProcExit || ev.ExitCode&0x7f != 0 {
		return 0, false
	}
	return int(ev.ExitCode>>8) & 0xff, true
}

// ExitSignal returns the signal that killed the task (SIGKILL → 9) from a
// ProcExit event's wait status; ok is false for other kinds and for a
// normal exit.
func (ev ProcEvent) ExitSignal() (signal int, ok bool) {
	sig := int(ev.ExitCode & 0x7f)
	if ev.Kind != ProcExit || sig == 0 || sig == 0x7f {
		return 0, false
	}
	return sig, true
}

// CoreDumped reports whether a ProcExit event's task dumped core (bit 0x80
// of the wait status).
func (ev ProcEvent) CoreDumped() bool {
	_, killed := ev.ExitSignal()
	return killed && ev.ExitCode&0x80 != 0
}

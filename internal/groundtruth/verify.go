package groundtruth

import (
	"fmt"
	"slices"

	"github.com/ctrace/ctrace/replay"
)

// VerifyCapture checks a workload's truth against the raw capture of its
// recording, before any analysis: that the kernel reported what the
// workload did, and that the workload reported everything the capture shows
// of it. It returns one message per disagreement.
//
//   - process P created by C: a proc FORK of P (pid = tgid = P) whose parent
//     tgid is C, and for all but the recorded command an audit clone, fork or
//     vfork by C that returned P;
//   - thread T of P: a proc FORK with pid T, tgid P, and an audit clone by P
//     that returned T;
//   - exec: a successful audit execve by P with exactly that argv (EXECVE
//     records, split arguments included) and exe; as many successful execve
//     events and proc EXEC events for P as exec lines;
//   - reparent P to R: an audit record of P that says ppid=R;
//   - write: an audit event of P whose syscall and PATH items (resolved
//     against its CWD record) match the operation; an fd-only operation
//     (ftruncate) by P on that fd;
//   - not_written: no audit event of P names the file;
//   - open_at_exit: an audit open of the file by P;
//   - exit / killed: the last proc EXIT of a task of P (by kernel timestamp:
//     the leader may end first, alone, with status 0) has that status or
//     signal;
//   - completeness: every process and thread that the proc connector shows
//     in the workload is in the truth.
//
// no_op lines need the fd table and are left to CompareModel.
func VerifyCapture(t Truth, c *Capture) []string {
	var errs []string
	fail := func(e Event, f string, args ...any) {
		errs = append(errs, fmt.Sprintf("%v: %s", e, fmt.Sprintf(f, args...)))
	}
	root, err := c.CommandPID()
	if err != nil {
		return []string{err.Error()}
	}

	type call struct {
		ev *AuditEvent
		sc Syscall
	}
	var calls []call
	for _, ev := range c.Audit {
		if sc, ok := ev.Syscall(); ok {
			calls = append(calls, call{ev, sc})
		}
	}
	forks := map[int][]replay.ProcEvent{} // by child pid (tid)
	procExecs := map[int]int{}
	lastExit := map[int]replay.ProcEvent{}
	for _, ev := range c.Proc {
		switch ev.Kind {
		case replay.ProcFork:
			forks[int(ev.PID)] = append(forks[int(ev.PID)], ev)
		case replay.ProcExec:
			procExecs[int(ev.TGID)]++
		case replay.ProcExit:
			// The process's status is its last task's: a leader that
			// ended first with exit() reports its own status, 0.
			if last, ok := lastExit[int(ev.TGID)]; !ok || ev.Timestamp >= last.Timestamp {
				lastExit[int(ev.TGID)] = ev
			}
		}
	}
	cloneBy := func(creator, child int) bool {
		for _, k := range calls {
			if k.sc.PID == creator && IsCloneFamily(k.sc.Name) && k.sc.Exit == int64(child) {
				return true
			}
		}
		return false
	}

	execLines := map[int]int{}
	for _, e := range t {
		switch e.Ev {
		case EvProcess:
			var fork *replay.ProcEvent
			for i, f := range forks[e.PID] {
				if int(f.TGID) == e.PID {
					fork = &forks[e.PID][i]
				}
			}
			switch {
			case fork == nil:
				fail(e, "no proc connector FORK of the process")
			case int(fork.ParentTGID) != e.PPID:
				fail(e, "proc FORK says parent tgid %d (pid %d)", fork.ParentTGID, fork.ParentPID)
			}
			if e.PID == root {
				if rp := c.Header.RecorderPID; rp != 0 && e.PPID != rp {
					fail(e, "the command's parent is not the recorder (%d)", rp)
				}
			} else if !cloneBy(e.PPID, e.PID) {
				fail(e, "no audit clone/fork/vfork by %d returning %d", e.PPID, e.PID)
			}
		case EvThread:
			ok := false
			for _, f := range forks[e.TID] {
				ok = ok || int(f.TGID) == e.PID
			}
			if !ok {
				fail(e, "no proc connector FORK of the thread")
			}
			if !cloneBy(e.PID, e.TID) {
				fail(e, "no audit clone by %d returning %d", e.PID, e.TID)
			}
		case EvExec:
			execLines[e.PID]++
			found := false
			for _, k := range calls {
				if k.sc.PID != e.PID || k.sc.Success != "yes" || (k.sc.Name != "execve" && k.sc.Name != "execveat") {
					continue
				}
				argv, _, err := k.ev.Argv()
				if err == nil && slices.Equal(argv, e.Argv) && k.sc.Exe == e.Exe {
					found = true
				}
			}
			if !found {
				fail(e, "no successful audit execve by %d with this exe and argv", e.PID)
			}
		case EvReparent:
			ok := false
			for _, k := range calls {
				ok = ok || (k.sc.PID == e.PID && k.sc.PPID == e.PPID)
			}
			if !ok {
				fail(e, "no audit record of %d with ppid=%d", e.PID, e.PPID)
			}
		case EvWrite:
			ok := false
			for _, k := range calls {
				if k.sc.PID == e.PID && k.sc.Success == "yes" && writeMatches(e, k.ev, k.sc) {
					ok = true
				}
			}
			if !ok {
				fail(e, "no audit event of %d doing %s on the file", e.PID, e.Op)
			}
		case EvOpenAtExit:
			ok := false
			for _, k := range calls {
				if k.sc.PID == e.PID && k.sc.Success == "yes" && isOpen(k.sc.Name) && namesPath(k.ev, e.Path) {
					ok = true
				}
			}
			if !ok {
				fail(e, "no audit open of the file by %d", e.PID)
			}
		case EvNotWritten:
			for _, k := range calls {
				if k.sc.PID == e.PID && namesPath(k.ev, e.Path) {
					fail(e, "audit serial %d (%s) of %d names the file", k.ev.Serial, k.sc.Name, e.PID)
				}
			}
		case EvExit, EvKilled:
			x, ok := lastExit[e.PID]
			if !ok {
				fail(e, "no proc connector EXIT of a task of the process")
				break
			}
			if e.Ev == EvExit {
				if st, ok := x.ExitStatus(); !ok || st != *e.Code {
					fail(e, "last proc EXIT (task %d) has wait status %#x", x.PID, x.ExitCode)
				}
			} else if sig, ok := x.ExitSignal(); !ok || sig != e.Signal {
				fail(e, "last proc EXIT (task %d) has wait status %#x", x.PID, x.ExitCode)
			}
		}
	}

	// Exec counts, and completeness of the truth.
	pids := map[int]bool{}
	for _, p := range t.PIDs() {
		pids[p] = true
	}
	tids := map[int]bool{}
	for _, e := range t.Of(EvThread) {
		tids[e.TID] = true
	}
	for pid := range pids {
		n := 0
		for _, k := range calls {
			if k.sc.PID == pid && k.sc.Success == "yes" && (k.sc.Name == "execve" || k.sc.Name == "execveat") {
				n++
			}
		}
		if n != execLines[pid] || procExecs[pid] != execLines[pid] {
			errs = append(errs, fmt.Sprintf("process %d: %d exec lines in the truth, %d successful audit execve, %d proc EXEC", pid, execLines[pid], n, procExecs[pid]))
		}
	}
	set := c.WorkloadSet(root)
	for _, ev := range c.Proc {
		if ev.Kind != replay.ProcFork || !set[int(ev.TGID)] {
			continue
		}
		if ev.PID == ev.TGID && !pids[int(ev.PID)] {
			errs = append(errs, fmt.Sprintf("the capture shows process %d (forked by %d/%d) that the truth does not name", ev.PID, ev.ParentTGID, ev.ParentPID))
		}
		if ev.PID != ev.TGID && !tids[int(ev.PID)] {
			errs = append(errs, fmt.Sprintf("the capture shows thread %d of %d that the truth does not name", ev.PID, ev.TGID))
		}
	}
	if c.Trailer != nil && c.Trailer.CommandPID == root {
		if r, err := t.Root(); err == nil && r.PID != root {
			errs = append(errs, fmt.Sprintf("the capture's command is %d, the truth's top process %d", root, r.PID))
		}
	}
	return errs
}

func isOpen(name string) bool {
	switch name {
	case "open", "openat", "openat2", "creat":
		return true
	}
	return false
}

// namesPath reports whether an event has a PATH item other than a PARENT
// that resolves to path.
func namesPath(ev *AuditEvent, path string) bool {
	for _, p := range ev.Paths() {
		if p.Nametype != "PARENT" && p.Resolved == path {
			return true
		}
	}
	return false
}

// Open flags (the same on every Linux architecture ctrace records).
const (
	oTRUNC = 0x200
)

// writeMatches reports whether an audit event does the truth line's
// operation.
func writeMatches(e Event, ev *AuditEvent, sc Syscall) bool {
	if e.FD != nil {
		return (sc.Name == "ftruncate" || sc.Name == "ftruncate64") && sc.Args[0] == uint64(*e.FD)
	}
	item := func(nametype string) bool {
		for _, p := range ev.Paths() {
			if p.Resolved == e.Path && (nametype == "" && p.Nametype != "PARENT" || p.Nametype == nametype) {
				return true
			}
		}
		return false
	}
	switch e.Op {
	case OpCreate:
		return isOpen(sc.Name) && item("CREATE")
	case OpTruncate:
		switch sc.Name {
		case "truncate", "truncate64":
			return item("")
		case "open", "creat":
			return item("") && (sc.Name == "creat" || sc.Args[1]&oTRUNC != 0)
		case "openat":
			return item("") && sc.Args[2]&oTRUNC != 0
		}
	case OpRenameTo:
		switch sc.Name {
		case "rename", "renameat", "renameat2":
			return item("CREATE")
		}
	case OpUnlink:
		switch sc.Name {
		case "unlink", "unlinkat":
			return item("DELETE")
		}
	case OpOpenWrite:
		return isOpen(sc.Name) && item("")
	}
	return false
}

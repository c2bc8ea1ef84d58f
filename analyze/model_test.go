package analyze

import (
	"slices"
	"testing"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// Rule: audit records are grouped into events by serial whatever their
// arrival order: an EOE first, records of two events interleaved, a record
// arriving long after the others.
func TestAuditEventsGroupedBySerialInAnyOrder(t *testing.T) {
	c := newCap(t).auditOnly()
	exec := func(serial int) []rec {
		return []rec{
			call{nr: nrExecve, pid: 100 + serial, ppid: 1, items: 1, comm: "sh", exe: "/bin/sh"}.rec(),
			execveRec("sh", "-c", "echo a b"), cwdRec("/root"),
			pathRec(0, "/bin/sh", 5, "0100755", "NORMAL"),
		}
	}
	a, b := exec(41), exec(42)
	c.record(10, 42, rec{"EOE", ""}) // EOE first
	c.record(10, 41, a[0])
	c.record(10, 42, b[3])
	c.record(10, 41, a[2])
	c.record(10, 42, b[0])
	c.record(10, 41, a[3])
	c.record(10, 42, b[2])
	for i := 0; i < 50; i++ { // unrelated events in between
		c.auditExitGroup(11, 1000+i, 5000+i, 1, 0)
	}
	c.record(10, 41, a[1]) // the EXECVE record, very late
	c.record(10, 42, b[1])
	m := c.model()
	for _, pid := range []int{141, 142} {
		p := one(t, m, pid)
		if len(p.Execs) != 1 || !slices.Equal(p.Argv, []string{"sh", "-c", "echo a b"}) || p.Exe != "/bin/sh" || p.Cwd != "/root" {
			t.Errorf("pid %d: execs %d argv %q exe %q cwd %q", pid, len(p.Execs), p.Argv, p.Exe, p.Cwd)
		}
	}
}

// Rule: EXECVE arguments split over several records are reassembled, and
// argv comes from EXECVE, not PROCTITLE (runc init's case).
func TestSplitExecveArgsAndProctitleIgnored(t *testing.T) {
	c := newCap(t).auditOnly()
	long := make([]byte, 9000)
	for i := range long {
		long[i] = 'x'
	}
	hexLong := ""
	for range long {
		hexLong += "78"
	}
	c.event(5, 7,
		call{nr: nrExecve, pid: 300, ppid: 1, items: 1, comm: "sh", exe: "/bin/busybox"}.rec(),
		rec{"EXECVE", "argc=3 a0=\"sh\" a1_len=18000 a1[0]=" + hexLong[:9000]},
		rec{"EXECVE", "a1[1]=" + hexLong[9000:] + " a2=\"z\""},
		cwdRec("/"),
		proctitleRec("runc", "init"))
	p := one(t, c.model(), 300)
	if len(p.Argv) != 3 || p.Argv[0] != "sh" || p.Argv[1] != string(long) || p.Argv[2] != "z" {
		t.Errorf("argv %d args, %q...", len(p.Argv), p.Argv[0])
	}
}

// Rule: records of the standalone types (user space messages) are events of
// their own even when they share a stamp with a syscall event; events
// without an EOE count.
func TestStandaloneRecordsAndMissingEOE(t *testing.T) {
	c := newCap(t).auditOnly()
	c.record(5, 9, call{nr: nrExecve, pid: 400, ppid: 1, comm: "a", exe: "/bin/a"}.rec())
	c.record(5, 9, rec{"USER_CMD", "pid=400 uid=0 msg='cwd=\"/\" cmd=6C73 exe=\"/usr/bin/sudo\" res=success'"})
	c.record(5, 9, execveRec("a"))
	c.record(6, 10, call{nr: nrExitGroup, pid: 400, ppid: 1, a: [4]uint64{3}, noResult: true}.rec()) // no EOE
	p := one(t, c.model(), 400)
	if !slices.Equal(p.Argv, []string{"a"}) {
		t.Errorf("argv %q", p.Argv)
	}
	wantExit(t, p, 3)
}

// Rule: an exec and an exit stamped before the fork that created the task
// (audit's coarse entry-time clock) are held and attached when the fork
// arrives; the audit exec and the proc exec are one exec, at the proc
// connector's exact time. Arrival order does not matter either.
func TestExecAndExitBeforeFork(t *testing.T) {
	c := newCap(t)
	c.fork(0.5, 10, 10, 20, 20)
	// The child's audit records come first in the file and are stamped 4 ms
	// before its fork.
	c.auditExec(100, 50, 21, 20, "/bin/true", "/", "true")
	c.auditExitGroup(100, 51, 21, 20, 0)
	c.fork(104.2, 20, 20, 21, 21)
	c.exec(104.5, 21)
	c.exit(104.9, 21, 21, 0)
	m := c.model()
	p := one(t, m, 21)
	wantParent(t, p, 20)
	wantExit(t, p, 0)
	if p.Start != wall(104.2) || p.End != wall(104.9) {
		t.Errorf("start %d end %d, want %d %d", p.Start, p.End, wall(104.2), wall(104.9))
	}
	if len(p.Execs) != 1 || p.Execs[0].Time != wall(104.5) || p.Execs[0].Exe != "/bin/true" {
		t.Errorf("execs %+v", p.Execs)
	}
}

// Rule: after a vfork the parent's clone record arrives after the child's
// exec and exit records (and carries a higher serial at the same ms). With
// audit alone the child is still created by that clone record.
func TestVforkOrderingAuditOnly(t *testing.T) {
	c := newCap(t).auditOnly()
	c.auditExec(10, 100, 500, 1, "/bin/p", "/", "p")
	c.auditExec(20, 102, 501, 500, "/bin/true", "/", "true") // child, serial 102
	c.auditExitGroup(20, 103, 501, 500, 0)
	c.event(20, 104, call{nr: nrVfork, pid: 500, ppid: 1, exit: 501}.rec()) // parent, higher serial
	c.auditExitGroup(21, 105, 500, 1, 0)
	m := c.model()
	p := one(t, m, 501)
	wantParent(t, p, 500)
	wantExit(t, p, 0)
	if p.Start != wall(20) {
		t.Errorf("start %d, want the clone's %d", p.Start, wall(20))
	}
	if !slices.Equal(p.Argv, []string{"true"}) {
		t.Errorf("argv %q", p.Argv)
	}
}

// The same with the proc connector: every execs of a vfork child stamped
// before its fork pair with the proc connector's execs in order.
func TestVforkTwoExecsBeforeFork(t *testing.T) {
	c := newCap(t)
	c.fork(0.1, 1, 1, 500, 500)
	c.auditExec(20, 102, 501, 500, "/bin/a", "/", "a")
	c.auditExec(20, 103, 501, 500, "/bin/b", "/", "b")
	c.event(20, 101, call{nr: nrVfork, pid: 500, ppid: 1, exit: 501}.rec())
	c.fork(26.0, 500, 500, 501, 501)
	c.exec(26.1, 501)
	c.exec(26.4, 501)
	c.exit(26.9, 501, 501, 6<<8)
	p := one(t, c.model(), 501)
	if len(p.Execs) != 2 || p.Execs[0].Exe != "/bin/a" || p.Execs[0].Time != wall(26.1) || p.Execs[1].Exe != "/bin/b" || p.Execs[1].Time != wall(26.4) {
		t.Errorf("execs %+v", p.Execs)
	}
	if p.Exe != "/bin/b" || !slices.Equal(p.Argv, []string{"b"}) {
		t.Errorf("exe %q argv %q: want the last exec's", p.Exe, p.Argv)
	}
	wantExit(t, p, 6)
}

// Rule: the parent is the creator at creation time; a reparented process's
// later records (ppid=1) and its new threads' fork events (which name the
// process's parent, now the reaper) do not change it.
func TestReparentingKeepsCreator(t *testing.T) {
	for _, mode := range []string{"both", "audit"} {
		t.Run(mode, func(t *testing.T) {
			c := newCap(t)
			if mode == "audit" {
				c.auditOnly()
			}
			c.auditExec(1, 1, 600, 1, "/bin/top", "/", "top")
			c.auditClone(2, 2, 600, 1, 601, cloneFork)
			c.auditClone(3, 3, 601, 600, 602, cloneFork)
			c.auditExitGroup(4, 4, 601, 600, 0)
			if mode == "both" {
				c.fork(1.5, 1, 1, 600, 600)
				c.fork(2.5, 600, 600, 601, 601)
				c.fork(3.5, 601, 601, 602, 602)
				c.exit(4.5, 601, 601, 0)
				c.fork(10.5, 1, 1, 603, 602) // a thread: the fork names the reaper
			}
			c.auditExec(11, 5, 602, 1, "/bin/orphan", "/", "orphan") // ppid=1 now
			c.auditExitGroup(12, 6, 602, 1, 4)
			if mode == "both" {
				c.exec(11.5, 602)
				c.exit(12.5, 603, 602, 4<<8)
				c.exit(12.6, 602, 602, 4<<8)
			}
			m := c.model()
			p := one(t, m, 602)
			wantParent(t, p, 601)
			wantExit(t, p, 4)
			if mode == "both" && !slices.Equal(p.Threads, []int{603}) {
				t.Errorf("threads %v", p.Threads)
			}
			if len(procs(m, 603)) != 0 {
				t.Errorf("a thread became a process:\n%s", dump(m))
			}
		})
	}
}

// Rule: a fork from a non-leader thread has that thread's process as parent
// (the proc connector's parent_pid is the thread).
func TestForkFromNonLeaderThread(t *testing.T) {
	c := newCap(t)
	c.fork(1, 1, 1, 700, 700)
	c.fork(2, 700, 700, 701, 700) // thread 701
	c.fork(3, 701, 700, 702, 702) // process 702, forked by thread 701
	c.exit(4, 702, 702, 5<<8)
	m := c.model()
	p := one(t, m, 702)
	wantParent(t, p, 700)
	wantExit(t, p, 5)
	if len(procs(m, 701)) != 0 || !slices.Equal(one(t, m, 700).Threads, []int{701}) {
		t.Errorf("thread 701 not merged:\n%s", dump(m))
	}
}

// Rule: an exec by a non-leader thread makes it take over the pid. The proc
// connector reports the other threads' exits (the leader's included, status
// 0), then the EXEC with the leader's pid: one process, one exec, alive
// until its real exit.
func TestExecFromNonLeaderThread(t *testing.T) {
	c := newCap(t)
	c.fork(1, 1, 1, 800, 800)
	c.fork(2, 800, 800, 801, 800) // sleeper thread
	c.fork(3, 800, 800, 802, 800) // the thread that execs
	c.auditExec(4, 10, 800, 1, "/bin/after", "/", "after")
	c.exit(4.6, 800, 800, 0) // leader killed by de_thread
	c.exit(4.7, 801, 800, 0)
	c.exec(4.8, 800)
	c.auditExitGroup(5, 11, 800, 1, 3)
	c.exit(5.5, 800, 800, 3<<8)
	m := c.model()
	p := one(t, m, 800)
	wantExit(t, p, 3)
	if p.End != wall(5.5) || len(p.Execs) != 1 || p.Execs[0].Time != wall(4.8) || p.Exe != "/bin/after" {
		t.Errorf("end %d execs %+v exe %q", p.End, p.Execs, p.Exe)
	}
	if !slices.Equal(p.Threads, []int{801, 802}) {
		t.Errorf("threads %v", p.Threads)
	}
}

// Rule: exit_group from a non-leader thread gives the process's exit code.
func TestExitGroupFromNonLeaderThread(t *testing.T) {
	c := newCap(t)
	c.fork(1, 1, 1, 900, 900)
	c.fork(2, 900, 900, 901, 900)
	c.auditExitGroup(3, 10, 900, 1, 42)
	c.exit(3.5, 901, 900, 42<<8)
	c.exit(3.6, 900, 900, 42<<8)
	p := one(t, c.model(), 900)
	wantExit(t, p, 42)
	if p.End != wall(3.6) {
		t.Errorf("end %d", p.End)
	}
}

// Rule: a leader that exits first (pthread_exit) leaves the process alive
// while a thread runs; the thread's later audit records are the process's,
// and the process ends with the last thread.
func TestLeaderExitsBeforeThread(t *testing.T) {
	c := newCap(t)
	c.fork(1, 1, 1, 950, 950)
	c.auditExitThread(2, 10, 950, 1, 0) // the leader's exit (pthread_exit)
	c.fork(2.5, 950, 950, 951, 950)     // stamped after the audit exit
	c.exit(2.8, 950, 950, 0)
	c.event(3, 11, call{nr: nrCreat, pid: 950, ppid: 1, exit: 3, items: 2}.rec(), cwdRec("/w"),
		pathRec(0, "/w", 2, "040755", "PARENT"), pathRec(1, "f", 3, "0100644", "CREATE"))
	c.auditExitGroup(4, 12, 950, 1, 13)
	c.exit(4.5, 951, 950, 13<<8)
	m := c.model()
	p := one(t, m, 950)
	wantExit(t, p, 13)
	if p.End != wall(4.5) || !slices.Equal(p.FilesWritten, []string{"/w/f"}) {
		t.Errorf("end %d files %v", p.End, p.FilesWritten)
	}
}

// Rule: a death by signal sets signal and leaves exit_code null; core dumps
// are flagged; threads of the process die with it.
func TestSignalDeath(t *testing.T) {
	c := newCap(t)
	c.fork(1, 1, 1, 1000, 1000)
	c.fork(1.5, 1000, 1000, 1001, 1000)
	c.exit(2, 1000, 1000, 9)
	c.exit(2.1, 1001, 1000, 9)
	c.fork(3, 1, 1, 1002, 1002)
	c.exit(4, 1002, 1002, 0x80|11)
	m := c.model()
	p := one(t, m, 1000)
	if p.Signal == nil || *p.Signal != 9 || p.ExitCode != nil || p.End != wall(2.1) {
		t.Errorf("signal %v exit %v end %d", deref(p.Signal), deref(p.ExitCode), p.End)
	}
	q := one(t, m, 1002)
	if q.Signal == nil || *q.Signal != 11 || !q.CoreDumped {
		t.Errorf("signal %v core %v", deref(q.Signal), q.CoreDumped)
	}
}

// With audit alone a core-dumping signal is known from ANOM_ABEND; a
// SIGKILL of the recorded command from the recorder's note.
func TestSignalDeathAuditOnly(t *testing.T) {
	c := newCap(t).auditOnly()
	c.note(format.Note{Kind: "command_start", PID: 1100})
	c.auditExec(1, 1, 1100, 1, "/bin/cmd", "/", "cmd")
	c.auditClone(2, 2, 1100, 1, 1101, cloneFork)
	c.event(3, 3, call{nr: nrCreat, pid: 1101, ppid: 1100, exit: 3, items: 1}.rec(), cwdRec("/"),
		pathRec(0, "/x", 7, "0100644", "CREATE"))
	c.event(4, 4, rec{"ANOM_ABEND", "auid=4294967295 uid=0 gid=0 ses=4294967295 pid=1101 comm=\"cmd\" exe=\"/bin/cmd\" sig=11 res=1"})
	sig := 9
	c.note(format.Note{Kind: "command_exit", PID: 1100, Signal: &sig})
	m := c.model()
	child := one(t, m, 1101)
	if child.Signal == nil || *child.Signal != 11 || child.End == 0 {
		t.Errorf("child: signal %v end %d", deref(child.Signal), child.End)
	}
	cmd := one(t, m, 1100)
	if cmd.Signal == nil || *cmd.Signal != 9 || cmd.End == 0 {
		t.Errorf("command: signal %v end %d", deref(cmd.Signal), cmd.End)
	}
}

// Rule: a pid reused later is a new process; a process that disappears
// without an exit (its pid taken by a new fork) is flagged vanished.
func TestPidReuse(t *testing.T) {
	c := newCap(t)
	c.fork(1, 1, 1, 1200, 1200)
	c.exit(2, 1200, 1200, 0)
	c.fork(3, 1, 1, 1200, 1200) // reused
	c.exit(4, 1200, 1200, 1<<8)
	c.fork(5, 1, 1, 1200, 1200) // reused; no exit seen for this one
	c.fork(6, 1, 1, 1200, 1200)
	m := c.model()
	ps := procs(m, 1200)
	if len(ps) != 4 {
		t.Fatalf("%d processes with pid 1200, want 4\n%s", len(ps), dump(m))
	}
	wantExit(t, ps[0], 0)
	wantExit(t, ps[1], 1)
	if !ps[2].Vanished || ps[2].End != 0 || ps[3].Vanished || ps[3].End != 0 {
		t.Errorf("vanished %v end %d; last: vanished %v end %d", ps[2].Vanished, ps[2].End, ps[3].Vanished, ps[3].End)
	}
}

// With audit alone: after exit_group, records of the pid belong to a new
// process (created by the clone record that returned the pid).
func TestPidReuseAuditOnly(t *testing.T) {
	c := newCap(t).auditOnly()
	c.auditExec(1, 1, 1300, 1, "/bin/a", "/", "a")
	c.auditExitGroup(2, 2, 1300, 1, 0)
	c.auditClone(3, 3, 1, 0, 1300, cloneFork)
	c.auditExec(4, 4, 1300, 1, "/bin/b", "/", "b")
	c.auditExitGroup(5, 5, 1300, 1, 2)
	m := c.model()
	ps := procs(m, 1300)
	if len(ps) != 2 || ps[0].Exe != "/bin/a" || ps[1].Exe != "/bin/b" || ps[1].Start != wall(3) {
		t.Fatalf("processes:\n%s", dump(m))
	}
	wantExit(t, ps[1], 2)
}

// Rule: an exit record of a thread (pthread_exit; the record says pid= the
// process) does not end the process; the last exit, with no record after
// it, does (audit alone).
func TestThreadExitRecordAuditOnly(t *testing.T) {
	c := newCap(t).auditOnly()
	c.auditExec(1, 1, 1400, 1, "/bin/a", "/", "a")
	c.event(2, 2, call{nr: nrClone3, pid: 1400, ppid: 1, exit: 1401}.rec()) // a thread, flags unknown
	c.auditExitThread(3, 3, 1400, 1, 0)                                     // the thread's pthread_exit
	c.auditExec(4, 4, 1400, 1, "/bin/b", "/", "b")
	c.auditExitThread(5, 5, 1400, 1, 7)
	m := c.model()
	p := one(t, m, 1400)
	if len(p.Execs) != 2 {
		t.Errorf("execs %d", len(p.Execs))
	}
	wantExit(t, p, 7)
}

// Rule: either source alone gives a tree; with both, one process per
// process (the proc fork and the audit clone are reconciled).
func TestSourcesAloneAndReconciled(t *testing.T) {
	build := func(c *tcap, audit, proc bool) *Model {
		if audit {
			c.auditExec(1, 1, 10, 1, "/bin/sh", "/", "sh")
			c.auditClone(2, 2, 10, 1, 11, cloneFork)
			c.auditExec(3, 3, 11, 10, "/bin/ls", "/", "ls")
			c.auditExitGroup(4, 4, 11, 10, 0)
			c.auditExitGroup(5, 5, 10, 1, 1)
		}
		if proc {
			c.fork(0.5, 1, 1, 10, 10)
			c.exec(1.5, 10)
			c.fork(2.5, 10, 10, 11, 11)
			c.exec(3.5, 11)
			c.exit(4.5, 11, 11, 0)
			c.exit(5.5, 10, 10, 1<<8)
		}
		return c.model()
	}
	for _, tc := range []struct {
		name        string
		audit, proc bool
	}{{"audit", true, false}, {"proc", false, true}, {"both", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCap(t)
			switch {
			case !tc.proc:
				c.auditOnly()
			case !tc.audit:
				c.procOnly()
			}
			m := build(c, tc.audit, tc.proc)
			if len(m.Processes) != 2 {
				t.Fatalf("%d processes\n%s", len(m.Processes), dump(m))
			}
			ls := one(t, m, 11)
			wantParent(t, ls, 10)
			wantExit(t, ls, 0)
			wantExit(t, one(t, m, 10), 1)
			if len(ls.Execs) != 1 {
				t.Errorf("execs %d", len(ls.Execs))
			}
			if tc.audit && !slices.Equal(ls.Argv, []string{"ls"}) {
				t.Errorf("argv %q", ls.Argv)
			}
			if !tc.audit && (ls.Exe != "" || ls.Argv != nil) {
				t.Errorf("proc alone invented exe %q argv %q", ls.Exe, ls.Argv)
			}
		})
	}
}

// Rule: CLONE_PARENT (runc): the proc connector names the caller's parent;
// the audit clone record names the creator, which is the parent.
func TestCloneParentCreator(t *testing.T) {
	c := newCap(t)
	c.fork(0.1, 1, 1, 50, 50)
	c.fork(0.2, 50, 50, 51, 51)
	c.auditClone(3, 3, 51, 50, 52, 0x8000|17) // CLONE_PARENT|SIGCHLD
	c.fork(3.4, 50, 50, 52, 52)               // the kernel's parent: 50
	m := c.model()
	wantParent(t, one(t, m, 52), 51)
}

// Rule: a clone record's return value inside a container is a pid of the
// container's namespace: it must not attach to the host process with that
// pid, whose own records name another parent.
func TestCloneInOtherPidNamespaceNotLinked(t *testing.T) {
	c := newCap(t).auditOnly()
	c.auditExec(1, 1, 20969, 20900, "/bin/sh", "/", "sh")
	c.auditClone(2, 2, 20969, 20900, 7, cloneFork) // exit=7 in the container
	c.auditExec(3, 3, 20998, 20969, "/bin/sleep", "/", "sleep", "2")
	c.auditExec(4, 4, 7, 2, "/usr/sbin/unrelated", "/", "unrelated") // host pid 7, another parent
	m := c.model()
	wantParent(t, one(t, m, 20998), 20969)
	if p := one(t, m, 7); p.PPID != 2 || p.Start != 0 {
		t.Errorf("pid 7: ppid %d start %d: linked to the container's clone", p.PPID, p.Start)
	}
}

// Rule: snapshot processes anchor the tree as pre_existing, with their
// threads; a process the snapshot caught while the recorder also saw its
// fork is one process, not pre-existing.
func TestSnapshotAnchors(t *testing.T) {
	c := newCap(t)
	c.snap(-5000, format.SnapshotProcess{PID: 1, PPID: 0, Comm: "init", Exe: "/sbin/init", Argv: []string{"/sbin/init"}})
	c.snap(-3000, format.SnapshotProcess{PID: 300, PPID: 1, Comm: "bash", Exe: "/bin/bash", Argv: []string{"bash"}, Cwd: "/root"})
	c.snap(-2000, format.SnapshotProcess{PID: 310, PPID: 300, Comm: "d", Exe: "/bin/d", Argv: []string{"d"}})
	c.snap(-1990, format.SnapshotProcess{PID: 310, TID: 311, PPID: 300, Comm: "d"})
	c.fork(1, 300, 300, 320, 320)
	c.snap(0.995, format.SnapshotProcess{PID: 320, PPID: 300, Comm: "bash", Exe: "/bin/bash", Argv: []string{"bash"}})
	c.exec(2, 320)
	c.auditExec(1, 5, 320, 300, "/bin/ls", "/root", "ls")
	c.exit(3, 320, 320, 0)
	m := c.model()
	if len(m.Processes) != 4 {
		t.Fatalf("processes:\n%s", dump(m))
	}
	d := one(t, m, 310)
	if !d.PreExisting || !slices.Equal(d.Threads, []int{311}) || d.Start != wall(-2000) {
		t.Errorf("pid 310: pre %v threads %v start %d", d.PreExisting, d.Threads, d.Start)
	}
	wantParent(t, d, 300)
	wantParent(t, one(t, m, 300), 1)
	ls := one(t, m, 320)
	if ls.PreExisting || ls.Start != wall(1) || len(ls.Execs) != 1 {
		t.Errorf("pid 320: pre %v start %d execs %d", ls.PreExisting, ls.Start, len(ls.Execs))
	}
	wantParent(t, ls, 300)
}

// Rule: a thread whose exit was not seen ends with its process; a process
// alive at the end has no end; a process whose creation was not seen has
// no start (first_seen instead).
func TestAliveAndUnknownStart(t *testing.T) {
	c := newCap(t)
	c.auditExec(5, 1, 1500, 1, "/bin/a", "/", "a") // its fork is not in the capture
	c.exec(5.5, 1500)
	c.fork(6, 1500, 1500, 1501, 1500)
	c.exit(7, 1500, 1500, 0) // thread 1501's exit is not seen
	c.fork(8, 1, 1, 1600, 1600)
	m := c.model()
	p := one(t, m, 1500)
	if p.Start != 0 || p.FirstSeen != wall(5) || p.End != wall(7) || p.Vanished {
		t.Errorf("pid 1500: start %d first %d end %d vanished %v", p.Start, p.FirstSeen, p.End, p.Vanished)
	}
	wantExit(t, p, 0)
	q := one(t, m, 1600)
	if q.End != 0 || q.ExitCode != nil || q.Vanished {
		t.Errorf("pid 1600: end %d exit %v", q.End, deref(q.ExitCode))
	}
}

// Events arriving on several CPUs are ordered by their kernel time.
func TestProcEventsFromSeveralCPUs(t *testing.T) {
	c := newCap(t).procOnly()
	c.procCPU(3, 1, replay.ProcWhatExit, 1700, 1700, 2<<8, 17, 1, 1) // CPU 1, arrives first
	c.procCPU(1, 0, replay.ProcWhatFork, 1, 1, 1700, 1700)
	c.procCPU(2, 0, replay.ProcWhatExec, 1700, 1700)
	m := c.model()
	p := one(t, m, 1700)
	wantExit(t, p, 2)
	if p.Start != wall(1) || len(p.Execs) != 1 {
		t.Errorf("start %d execs %d", p.Start, len(p.Execs))
	}
}

package capture

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ctrace/ctrace/format"
)

// Limits of the /proc snapshot.
const (
	// MaxSnapshotArgvBytes caps the bytes of a task's argv (its cmdline as
	// read, NULs included). A longer argv is cut there and the cut is noted in
	// the record's Errors; a record is limited to format.MaxRecordSize anyway.
	MaxSnapshotArgvBytes = 64 << 10
	// maxProcFileBytes caps every other /proc file read (stat, status,
	// cgroup).
	maxProcFileBytes = 64 << 10

	// pfKthread is PF_KTHREAD in the flags of /proc/PID/stat (field 9).
	pfKthread = 0x00200000

	// DefaultClockTicks is USER_HZ on Linux; see ClockTicks.
	DefaultClockTicks = 100
)

// ClockTicks returns the unit of the start times in /proc/PID/stat, in ticks
// per second: USER_HZ, the value of sysconf(_SC_CLK_TCK). The kernel exports
// times to user space in USER_HZ units regardless of its internal HZ, and
// USER_HZ is 100 on every architecture Linux supports today (glibc's sysconf
// returns the AT_CLKTCK auxv entry, which the kernel sets to USER_HZ), so the
// constant is the honest answer rather than a guess.
func ClockTicks() int { return DefaultClockTicks }

// SnapshotStats counts what a Snapshot saw.
type SnapshotStats struct {
	Processes int // thread groups emitted (their leader at least)
	Threads   int // records emitted: one per task, leaders included
	// Vanished counts the processes and tasks skipped because their stat
	// could not be read or parsed: they exited between the directory listing
	// and the read.
	Vanished int
	// Partial counts the records emitted with something in Errors.
	Partial int
}

// Snapshot walks procRoot (normally "/proc") and calls emit once for every
// task of every process alive: the thread group leader (TID == PID) and each
// thread from task/<tid>, in order of PID then TID.
//
// Each process directory is opened once and every file of the process and
// its threads is read relative to it, so that a process which exits while
// being read makes those reads fail rather than read a new process that took
// over its PID. A task whose stat cannot be read is skipped (counted in
// Vanished); any other failed read leaves its field empty and a short note
// such as "exe: permission denied" in Errors. UID is -1 when status cannot
// be read. A kernel thread's missing exe is not an error.
//
// The executable, argv, cwd, root, cgroup and uid are read once per process
// and shared by its threads; Comm, StartTicks and Kernel are the thread's own.
// The Argv, Cgroup and Errors slices are shared by the records of one
// process: emit must not modify them.
//
// clockTicks is USER_HZ (see ClockTicks); zero or less means
// DefaultClockTicks. Snapshot fails only when procRoot cannot be listed or
// when emit fails; emit's error stops the walk at once and is returned as is.
func Snapshot(procRoot string, clockTicks int, emit func(format.SnapshotProcess) error) (SnapshotStats, error) {
	var st SnapshotStats
	if clockTicks <= 0 {
		clockTicks = DefaultClockTicks
	}
	pids, err := listNumeric(procRoot)
	if err != nil {
		return st, fmt.Errorf("snapshot: %w", err)
	}
	for _, pid := range pids {
		if err := snapshotProcess(procRoot, pid, clockTicks, &st, emit); err != nil {
			return st, err
		}
	}
	return st, nil
}

// snapshotProcess emits the records of one process. It returns only emit's
// errors.
func snapshotProcess(procRoot string, pid, clockTicks int, st *SnapshotStats, emit func(format.SnapshotProcess) error) error {
	dir, err := os.OpenRoot(filepath.Join(procRoot, strconv.Itoa(pid)))
	if err != nil {
		st.Vanished++
		return nil
	}
	defer dir.Close()
	return snapshotDir(dir, pid, clockTicks, st, emit)
}

// snapshotDir emits the records of the process whose /proc directory is
// open as dir.
func snapshotDir(dir *os.Root, pid, clockTicks int, st *SnapshotStats, emit func(format.SnapshotProcess) error) error {
	lead, err := readStat(dir, "stat")
	if err != nil {
		st.Vanished++
		return nil
	}
	proc := readProcess(dir, lead)
	proc.PID = pid

	tids, err := listTasks(dir)
	if err != nil {
		proc.Errors = append(proc.Errors, note("task", err))
	}
	// The leader first, then the other threads by tid (after the pid
	// numbers wrapped, a thread's tid can be lower than its leader's). The
	// leader stays listed while any thread lives, even as a zombie; its
	// record comes from /proc/PID/stat in any case.
	tids = slices.DeleteFunc(tids, func(tid int) bool { return tid == pid })
	tids = append([]int{pid}, tids...)

	for _, tid := range tids {
		ts := lead
		if tid != pid {
			ts, err = readStat(dir, "task/"+strconv.Itoa(tid)+"/stat")
			if err != nil {
				st.Vanished++
				continue
			}
		}
		rec := proc
		rec.TID = tid
		rec.Comm = ts.comm
		rec.StartTicks = ts.start
		rec.StartBoot = ticksToNS(ts.start, clockTicks)
		rec.Kernel = ts.flags&pfKthread != 0
		if len(rec.Errors) > 0 {
			st.Partial++
		}
		if err := emit(rec); err != nil {
			return err
		}
		st.Threads++
	}
	st.Processes++ // the leader at least was emitted
	return nil
}

// readProcess reads what the threads of a process share. The record's TID,
// Comm and times are set per thread by the caller.
func readProcess(dir *os.Root, lead procStat) format.SnapshotProcess {
	p := format.SnapshotProcess{PID: lead.pid, PPID: lead.ppid, UID: -1}
	kernel := lead.flags&pfKthread != 0
	var errs []string

	if s, err := dir.Readlink("exe"); err == nil {
		p.Exe = s // "/path (deleted)" is kept as the kernel says it
	} else if !kernel || !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, note("exe", err))
	}

	if b, cut, err := readLimited(dir, "cmdline", MaxSnapshotArgvBytes); err != nil {
		errs = append(errs, note("argv", err))
	} else {
		p.Argv = splitArgv(b, cut)
		if cut {
			errs = append(errs, fmt.Sprintf("argv: truncated at %d bytes", MaxSnapshotArgvBytes))
		}
	}

	if s, err := dir.Readlink("cwd"); err == nil {
		p.Cwd = s
	} else {
		errs = append(errs, note("cwd", err))
	}
	if s, err := dir.Readlink("root"); err == nil {
		p.Root = s
	} else {
		errs = append(errs, note("root", err))
	}

	if b, cut, err := readLimited(dir, "cgroup", maxProcFileBytes); err != nil {
		errs = append(errs, note("cgroup", err))
	} else {
		p.Cgroup = splitLines(b)
		if cut {
			errs = append(errs, fmt.Sprintf("cgroup: truncated at %d bytes", maxProcFileBytes))
		}
	}

	if b, _, err := readLimited(dir, "status", maxProcFileBytes); err != nil {
		errs = append(errs, note("uid", err))
	} else if uid, ok := statusUID(b); ok {
		p.UID = uid
	} else {
		errs = append(errs, "uid: no Uid line in status")
	}

	p.Errors = errs
	return p
}

// procStat is what the snapshot takes from a stat line.
type procStat struct {
	pid   int
	comm  string
	ppid  int
	flags uint64
	start uint64 // clock ticks since boot
}

func readStat(dir *os.Root, name string) (procStat, error) {
	b, _, err := readLimited(dir, name, maxProcFileBytes)
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// parseStat parses a /proc/PID/stat line: "pid (comm) state ppid ...". The
// comm may hold spaces, parentheses and newlines, so it runs from the first
// '(' to the last ')'; nothing after it can hold a ')'.
func parseStat(b []byte) (procStat, error) {
	var ps procStat
	s := string(b)
	open := strings.IndexByte(s, '(')
	end := strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return ps, errors.New("stat: no (comm)")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return ps, fmt.Errorf("stat: pid: %w", err)
	}
	ps.pid = pid
	ps.comm = s[open+1 : end]
	// f[0] is field 3 (state), so field n is f[n-3].
	f := strings.Fields(s[end+1:])
	if len(f) < 22-3+1 {
		return ps, fmt.Errorf("stat: %d fields after comm, want at least 20", len(f))
	}
	if ps.ppid, err = strconv.Atoi(f[4-3]); err != nil {
		return ps, fmt.Errorf("stat: ppid: %w", err)
	}
	if ps.flags, err = strconv.ParseUint(f[9-3], 10, 64); err != nil {
		return ps, fmt.Errorf("stat: flags: %w", err)
	}
	if ps.start, err = strconv.ParseUint(f[22-3], 10, 64); err != nil {
		return ps, fmt.Errorf("stat: starttime: %w", err)
	}
	return ps, nil
}

// ticksToNS converts clock ticks to ns without overflowing for any uptime.
func ticksToNS(ticks uint64, hz int) int64 {
	h := uint64(hz)
	return int64(ticks/h*1e9 + ticks%h*1e9/h)
}

// splitArgv splits a cmdline on NUL. One trailing NUL ends the last
// argument; a cmdline without it (the process rewrote its argv, or the read
// was cut) keeps its last argument as is.
func splitArgv(b []byte, cut bool) []string {
	if len(b) == 0 {
		return nil
	}
	if !cut && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return strings.Split(string(b), "\x00")
}

// splitLines returns the lines of b without the final newline.
func splitLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// statusUID returns the real uid from the "Uid:" line of a status file.
func statusUID(b []byte) (int, bool) {
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "Uid:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, false
		}
		uid, err := strconv.Atoi(f[0])
		return uid, err == nil
	}
	return 0, false
}

// readLimited reads at most limit bytes of name. cut reports that the file
// held more.
func readLimited(dir *os.Root, name string, limit int) (b []byte, cut bool, err error) {
	f, err := dir.Open(name)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	b = make([]byte, 0, min(limit+1, 4096))
	for len(b) <= limit {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(cap(b), limit+1-len(b)))
		}
		n, err := f.Read(b[len(b):min(cap(b), limit+1)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, false, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
	return b[:limit], true, nil
}

// listNumeric returns the numeric entries of a directory, sorted.
func listNumeric(path string) ([]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return numericNames(f)
}

func listTasks(dir *os.Root) ([]int, error) {
	f, err := dir.Open("task")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return numericNames(f)
}

func numericNames(f *os.File) ([]int, error) {
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	ids := make([]int, 0, len(names))
	for _, n := range names {
		if n == "" || n[0] < '1' || n[0] > '9' {
			continue
		}
		if id, err := strconv.Atoi(n); err == nil && id > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// note makes a short "what: why" message, "exe: permission denied" rather
// than the full path error.
func note(what string, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return what + ": " + err.Error()
}

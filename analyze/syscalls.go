package analyze

import (
	"strconv"
	"strings"

	"github.com/elastic/go-libaudit/v2/auparse"
)

// A SYSCALL record names its syscall by number and its ABI by the audit
// arch (arch=c000003e). Numbers and open(2) flag values differ between
// architectures, so both are looked up per arch: the syscall names in
// go-libaudit's tables (the ones auditctl uses), the flag values below.

// archInfo describes the ABI of one SYSCALL record.
type archInfo struct {
	name  string // go-libaudit's name: x86_64, i386, aarch64, arm, ...
	flags *openFlagSet
}

// openFlagSet holds the values of the open(2) flags the model needs. Most
// architectures use the asm-generic values; alpha, mips, parisc and sparc
// have their own.
type openFlagSet struct {
	creat, excl, trunc, append, cloexec, directory uint64
}

var (
	genericOpenFlags = &openFlagSet{creat: 0o100, excl: 0o200, trunc: 0o1000, append: 0o2000, cloexec: 0o2000000, directory: 0o200000}
	armOpenFlags     = &openFlagSet{creat: 0o100, excl: 0o200, trunc: 0o1000, append: 0o2000, cloexec: 0o2000000, directory: 0o40000}
	mipsOpenFlags    = &openFlagSet{creat: 0x100, excl: 0x400, trunc: 0x200, append: 0x8, cloexec: 0o2000000, directory: 0o200000}
	pariscOpenFlags  = &openFlagSet{creat: 0o400, excl: 0o2000, trunc: 0o1000, append: 0o10, cloexec: 0o10000000, directory: 0o10000}
	sparcOpenFlags   = &openFlagSet{creat: 0x200, excl: 0x800, trunc: 0x400, append: 0x8, cloexec: 0x400000, directory: 0x10000}
)

// The access mode is the same everywhere.
const (
	oAccMode = 3
	oWronly  = 1
	oRdwr    = 2
)

func openFlagsOf(arch string) *openFlagSet {
	switch {
	case strings.HasPrefix(arch, "mips"):
		return mipsOpenFlags
	case strings.HasPrefix(arch, "parisc"):
		return pariscOpenFlags
	case strings.HasPrefix(arch, "sparc"):
		return sparcOpenFlags
	case strings.HasPrefix(arch, "arm"), strings.HasPrefix(arch, "aarch64"):
		return armOpenFlags
	}
	return genericOpenFlags
}

// archCache maps the arch field's text to its description; arches are few.
type archCache map[string]archInfo

func (c archCache) lookup(text string) archInfo {
	if a, ok := c[text]; ok {
		return a
	}
	var a archInfo
	if v, err := strconv.ParseUint(text, 16, 32); err == nil {
		if name, ok := auparse.AuditArchNames[auparse.AuditArch(v)]; ok {
			a.name = name
		}
	}
	a.flags = openFlagsOf(a.name)
	c[text] = a
	return a
}

// syscallName returns the name of syscall nr of the arch, or "" when unknown.
func syscallName(arch string, nr int) string {
	if arch == "" {
		return ""
	}
	return auparse.AuditSyscalls[arch][nr]
}

// writeIntent reports whether open(2) flags ask for write access: an open with
// O_WRONLY, O_RDWR, O_CREAT, O_TRUNC or O_APPEND may change the file system
// (the same test as the recorder's open/openat rules, -F a2&0x643).
func (f *openFlagSet) writeIntent(flags uint64) bool {
	acc := flags & oAccMode
	return acc == oWronly || acc == oRdwr || flags&(f.creat|f.trunc|f.append) != 0
}

// format renders open flags symbolically: the access mode, then O_CREAT,
// O_EXCL, O_TRUNC, O_APPEND, O_CLOEXEC and O_DIRECTORY, then any other
// bits in hex.
func (f *openFlagSet) format(flags uint64) string {
	var parts []string
	switch flags & oAccMode {
	case 0:
		parts = append(parts, "O_RDONLY")
	case oWronly:
		parts = append(parts, "O_WRONLY")
	case oRdwr:
		parts = append(parts, "O_RDWR")
	default:
		parts = append(parts, "O_ACCMODE")
	}
	rest := flags &^ oAccMode
	for _, b := range []struct {
		bit  uint64
		name string
	}{{f.creat, "O_CREAT"}, {f.excl, "O_EXCL"}, {f.trunc, "O_TRUNC"}, {f.append, "O_APPEND"}, {f.cloexec, "O_CLOEXEC"}, {f.directory, "O_DIRECTORY"}} {
		if rest&b.bit != 0 {
			parts = append(parts, b.name)
			rest &^= b.bit
		}
	}
	if rest != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(rest, 16))
	}
	return strings.Join(parts, "|")
}

// Other constants the model decodes from syscall arguments (the same on
// every architecture).
const (
	atFDCWD           = -100    // AT_FDCWD: a path relative to the working directory
	atRemoveDir       = 0x200   // unlinkat: remove a directory
	cloneVM           = 0x100   // CLONE_VM
	cloneParent       = 0x8000  // CLONE_PARENT: the child's parent is the caller's parent
	cloneThread       = 0x10000 // CLONE_THREAD: a new thread of the caller's process
	fDupFD            = 0       // fcntl F_DUPFD
	fSetFD            = 2       // fcntl F_SETFD
	fDupFDCloexec     = 1030    // fcntl F_DUPFD_CLOEXEC
	fdCloexec         = 1       // FD_CLOEXEC
	closeRangeCloexec = 1 << 2  // close_range CLOSE_RANGE_CLOEXEC
	mfdCloexec        = 1       // memfd_create MFD_CLOEXEC
	sigKill           = 9
)

// syscallKind classifies the syscalls the model understands. Syscalls not
// listed are ignored (their records still update the process's comm, exe
// and working directory).
type syscallKind uint8

const (
	scOther      syscallKind = iota
	scExec                   // execve, execveat
	scClone                  // clone, clone3, fork, vfork
	scExit                   // exit: the calling thread ends
	scExitGroup              // exit_group: the whole process ends
	scOpen                   // open(path, flags)
	scOpenat                 // openat(dirfd, path, flags)
	scOpenat2                // openat2(dirfd, path, how): flags in the OPENAT2 record
	scCreat                  // creat(path): O_CREAT|O_WRONLY|O_TRUNC
	scRename                 // rename(old, new)
	scRenameat               // renameat(olddirfd, old, newdirfd, new), renameat2
	scUnlink                 // unlink(path)
	scUnlinkat               // unlinkat(dirfd, path, flags)
	scRmdir                  // rmdir(path)
	scMkdir                  // mkdir(path)
	scMkdirat                // mkdirat(dirfd, path)
	scTruncate               // truncate(path), truncate64
	scFtruncate              // ftruncate(fd), ftruncate64
	scLink                   // link(old, new)
	scLinkat                 // linkat(olddirfd, old, newdirfd, new)
	scSymlink                // symlink(target, new)
	scSymlinkat              // symlinkat(target, newdirfd, new)
	scMknod                  // mknod(path)
	scMknodat                // mknodat(dirfd, path)
	scChdir                  // chdir(path)
	scFchdir                 // fchdir(fd)
	scClose                  // close(fd)
	scCloseRange             // close_range(first, last, flags)
	scDup                    // dup(fd)
	scDup2                   // dup2(fd, newfd)
	scDup3                   // dup3(fd, newfd, flags)
	scFcntl                  // fcntl(fd, cmd, arg), fcntl64
	scChmod                  // chmod(path, mode)
	scFchmod                 // fchmod(fd, mode)
	scFchmodat               // fchmodat(dirfd, path, mode), fchmodat2
	scChown                  // chown(path, uid, gid), chown32
	scLchown                 // lchown(path, uid, gid), lchown32
	scFchown                 // fchown(fd, uid, gid), fchown32
	scFchownat               // fchownat(dirfd, path, uid, gid, flags)
	scMemfd                  // memfd_create(name, flags)
	scPipe                   // pipe, pipe2: descriptors in the FD_PAIR record
)

var syscallKinds = map[string]syscallKind{
	"execve": scExec, "execveat": scExec,
	"clone": scClone, "clone3": scClone, "fork": scClone, "vfork": scClone,
	"exit": scExit, "exit_group": scExitGroup,
	"open": scOpen, "openat": scOpenat, "openat2": scOpenat2, "creat": scCreat,
	"rename": scRename, "renameat": scRenameat, "renameat2": scRenameat,
	"unlink": scUnlink, "unlinkat": scUnlinkat, "rmdir": scRmdir,
	"mkdir": scMkdir, "mkdirat": scMkdirat,
	"truncate": scTruncate, "truncate64": scTruncate,
	"ftruncate": scFtruncate, "ftruncate64": scFtruncate,
	"link": scLink, "linkat": scLinkat,
	"symlink": scSymlink, "symlinkat": scSymlinkat,
	"mknod": scMknod, "mknodat": scMknodat,
	"chdir": scChdir, "fchdir": scFchdir,
	"close": scClose, "close_range": scCloseRange,
	"dup": scDup, "dup2": scDup2, "dup3": scDup3,
	"fcntl": scFcntl, "fcntl64": scFcntl,
	"chmod": scChmod, "fchmod": scFchmod, "fchmodat": scFchmodat, "fchmodat2": scFchmodat,
	"chown": scChown, "chown32": scChown, "lchown": scLchown, "lchown32": scLchown,
	"fchown": scFchown, "fchown32": scFchown, "fchownat": scFchownat,
	"memfd_create": scMemfd, "pipe": scPipe, "pipe2": scPipe,
}

// signalNames names the signals 1 to 31 (the generic numbering: x86, arm
// and arm64) for the reports; signals sent (signals_sent) include the job
// control ones (SIGSTOP, SIGCONT) that tracers and shells send.
var signalNames = map[int]string{
	1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
	7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
	13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT",
	19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU",
	25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS",
}

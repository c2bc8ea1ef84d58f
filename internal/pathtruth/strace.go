// Package pathtruth checks the file paths of ctrace's analysis against a
// truth taken from outside ctrace: `strace -f -yy` (which prints the path
// behind every descriptor, and the working directory behind AT_FDCWD) and
// the file system. Its tests record real programs (coreutils, findutils,
// Go's os.RemoveAll, dpkg, go build, chroot, docker build) and require
// that no path ctrace reports is wrong, and that nearly all are resolved.
package pathtruth

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// Op is one file operation: a class (the ctrace operation it corresponds
// to: create and open_write are both "open"), and the absolute host path.
type Op struct {
	PID   int // thread group
	Class string
	Path  string
}

// Classes of operations, as compared.
const (
	ClassOpen     = "open" // create, open_write, open
	ClassTruncate = "truncate"
	ClassUnlink   = "unlink"
	ClassRmdir    = "rmdir"
	ClassMkdir    = "mkdir"
	ClassRenameFr = "rename_from"
	ClassRenameTo = "rename_to"
	ClassLink     = "link"
	ClassSymlink  = "symlink"
	ClassMknod    = "mknod"
	ClassChmod    = "chmod"
	ClassChown    = "chown"
)

// Trace is what a strace log says: the file operations, the ones that may
// be reported but need not (the truncation by O_TRUNC, which ctrace reports
// only for a file that existed), and the number of names whose path it
// could not tell (a relative name before the process's working directory
// was seen).
type Trace struct {
	Ops      []Op
	Optional []Op
	Unknown  int
}

// straceLine is "PID syscall(args) = ret ..." with args possibly holding
// nested parentheses and quoted strings.
var straceHead = regexp.MustCompile(`^(\d+)\s+([a-z0-9_]+)\((.*)$`)

// CwdLine starts a line that a kept trace begins with: the working
// directory of its first process ("# cwd: /tmp/x").
const CwdLine = "# cwd: "

// ParseStrace reads the log of `strace -f -yy -qq -o FILE` (one line per
// syscall; "<unfinished ...>" and "<... resumed>" pieces are joined). start
// is the working directory of the first process; a CwdLine in the log
// overrides it.
func ParseStrace(r io.Reader, startCwd string) (*Trace, error) {
	p := &parser{cwd: map[int]string{}, root: map[int]string{}, tgid: map[int]int{}, pending: map[int]string{}, startCwd: startCwd}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		p.line(sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("pathtruth: reading strace log: %w", err)
	}
	// Operations were noted by thread; a thread's first calls can be
	// logged before its creator's clone returns: map them to their thread
	// group now that every clone was seen.
	for _, ops := range [][]Op{p.tr.Ops, p.tr.Optional} {
		for i := range ops {
			ops[i].PID = p.group(ops[i].PID)
		}
	}
	return &p.tr, nil
}

// group returns the thread group of tid.
func (p *parser) group(tid int) int {
	for range 64 {
		g, ok := p.tgid[tid]
		if !ok || g == tid {
			return tid
		}
		tid = g
	}
	return tid
}

type parser struct {
	tr       Trace
	cwd      map[int]string // per tid
	root     map[int]string // per tid: "" for "/"
	tgid     map[int]int
	pending  map[int]string // unfinished lines by tid
	startCwd string
	first    bool
}

func (p *parser) line(l string) {
	if d, ok := strings.CutPrefix(l, CwdLine); ok {
		p.startCwd = d
		return
	}
	// Join unfinished calls with their resumption.
	if i := strings.Index(l, " <unfinished ...>"); i >= 0 {
		pid, _ := strconv.Atoi(strings.Fields(l)[0])
		p.pending[pid] = l[:i]
		return
	}
	if i := strings.Index(l, "<... "); i >= 0 {
		pid, _ := strconv.Atoi(strings.Fields(l)[0])
		head, ok := p.pending[pid]
		if !ok {
			return
		}
		delete(p.pending, pid)
		rest := l[i:]
		j := strings.Index(rest, " resumed>")
		if j < 0 {
			return
		}
		l = head + rest[j+len(" resumed>"):]
	}
	m := straceHead.FindStringSubmatch(l)
	if m == nil {
		return
	}
	tid, _ := strconv.Atoi(m[1])
	if !p.first {
		p.first = true
		p.cwd[tid] = p.startCwd
		p.tgid[tid] = tid
	}
	if _, ok := p.tgid[tid]; !ok {
		p.tgid[tid] = tid
	}
	name := m[2]
	argsRet := m[3]
	// "args)   = ret": strace pads short calls to a column.
	k := strings.LastIndex(argsRet, " = ")
	if k < 0 {
		return
	}
	call := strings.TrimRight(argsRet[:k], " ")
	if !strings.HasSuffix(call, ")") {
		return
	}
	args := splitArgs(call[:len(call)-1])
	ret := strings.TrimSpace(argsRet[k+len(" = "):])
	if strings.HasPrefix(ret, "-1") || strings.HasPrefix(ret, "?") {
		return
	}
	p.syscall(tid, name, args, ret)
}

// splitArgs splits a strace argument list at top-level commas.
func splitArgs(s string) []string {
	var out []string
	depth, inStr, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr:
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '(' || c == '[' || c == '{' || c == '<':
			depth++
		case c == ')' || c == ']' || c == '}' || c == '>':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if strings.TrimSpace(s[start:]) != "" {
		out = append(out, strings.TrimSpace(s[start:]))
	}
	return out
}

// fdPath returns the path strace -yy printed for a descriptor argument
// ("3</tmp/x>", "AT_FDCWD</tmp>"), "" when none.
func fdPath(arg string) string {
	i := strings.Index(arg, "<")
	if i < 0 || !strings.HasSuffix(arg, ">") {
		return ""
	}
	p := arg[i+1 : len(arg)-1]
	if j := strings.LastIndex(p, "<"); j > 0 && strings.HasSuffix(p, ">") {
		p = p[:j] // a device: "/dev/null<char 1:3>"
	}
	p = strings.TrimSuffix(p, " (deleted)")
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "/memfd:") {
		return "" // a socket, pipe, anon inode, anonymous memory
	}
	return p
}

// strArg decodes a quoted string argument.
func strArg(arg string) (string, bool) {
	if !strings.HasPrefix(arg, "\"") {
		return "", false
	}
	arg = strings.TrimSuffix(arg, "...")
	s, err := strconv.Unquote(arg)
	if err != nil {
		return "", false
	}
	return s, true
}

// at resolves a name relative to a dirfd argument (nil for the working
// directory) as the host sees it.
func (p *parser) at(tid int, dirArg *string, name string) (string, bool) {
	if strings.HasPrefix(name, "/") {
		return path.Join("/", p.root[tid], name), true
	}
	var dir string
	if dirArg != nil {
		dir = fdPath(*dirArg)
		if strings.HasPrefix(*dirArg, "AT_FDCWD") {
			if dir != "" {
				p.cwd[tid] = dir
			} else {
				dir = p.cwd[tid]
			}
		}
	} else {
		dir = p.cwd[tid]
	}
	if dir == "" {
		return "", false
	}
	return path.Join(dir, name), true
}

// add notes an operation of thread tid (mapped to its thread group at the
// end).
func (p *parser) add(tid int, class, pth string) {
	p.tr.Ops = append(p.tr.Ops, Op{PID: tid, Class: class, Path: pth})
}

// named adds an operation on a name relative to dirArg.
func (p *parser) named(tid int, class string, dirArg *string, nameArg string) {
	name, ok := strArg(nameArg)
	if !ok {
		return
	}
	if pth, ok := p.at(tid, dirArg, name); ok {
		p.add(tid, class, pth)
	} else {
		p.tr.Unknown++
	}
}

func (p *parser) syscall(tid int, name string, a []string, ret string) {
	arg := func(i int) string {
		if i < len(a) {
			return a[i]
		}
		return ""
	}
	dir := func(i int) *string { s := arg(i); return &s }
	// Note the working directory behind AT_FDCWD whatever the call.
	for _, x := range a {
		if strings.HasPrefix(x, "AT_FDCWD<") {
			if d := fdPath(x); d != "" {
				p.cwd[tid] = d
			}
		}
	}
	switch name {
	case "clone", "clone3", "fork", "vfork":
		child, err := strconv.Atoi(strings.Fields(ret)[0])
		if err != nil {
			return
		}
		p.cwd[child] = p.cwd[tid]
		p.root[child] = p.root[tid]
		if strings.Contains(strings.Join(a, ","), "CLONE_THREAD") {
			p.tgid[child] = tid // its creator's group (see group)
		} else {
			p.tgid[child] = child
		}
	case "chdir":
		if n, ok := strArg(arg(0)); ok {
			if pth, ok := p.at(tid, nil, n); ok {
				p.cwd[tid] = pth
			}
		}
	case "fchdir":
		if d := fdPath(arg(0)); d != "" {
			p.cwd[tid] = d
		}
	case "chroot":
		if n, ok := strArg(arg(0)); ok {
			if pth, ok := p.at(tid, nil, n); ok {
				p.root[tid] = pth
			}
		}
	case "open", "openat", "openat2", "creat":
		fi := 1
		if name == "openat" || name == "openat2" {
			fi = 2
		}
		flags := arg(fi)
		if name == "creat" {
			flags = "O_WRONLY|O_CREAT|O_TRUNC"
		}
		if !writeIntent(flags) {
			return
		}
		pth := fdPath(ret)
		if pth == "" || strings.Contains(flags, "O_DIRECTORY") {
			return
		}
		p.add(tid, ClassOpen, pth)
		if strings.Contains(flags, "O_TRUNC") {
			p.tr.Optional = append(p.tr.Optional, Op{PID: tid, Class: ClassTruncate, Path: pth})
		}
	case "unlinkat":
		class := ClassUnlink
		if strings.Contains(arg(2), "AT_REMOVEDIR") {
			class = ClassRmdir
		}
		p.named(tid, class, dir(0), arg(1))
	case "rename":
		p.named(tid, ClassRenameFr, nil, arg(0))
		p.named(tid, ClassRenameTo, nil, arg(1))
	case "renameat", "renameat2":
		p.named(tid, ClassRenameFr, dir(0), arg(1))
		p.named(tid, ClassRenameTo, dir(2), arg(3))
	case "fchownat":
		if n, _ := strArg(arg(1)); n == "" && strings.Contains(arg(4), "AT_EMPTY_PATH") {
			if d := fdPath(arg(0)); d != "" {
				p.add(tid, ClassChown, d)
			}
			return
		}
		p.named(tid, ClassChown, dir(0), arg(1))
	default:
		if c, ok := namedCalls[name]; ok {
			var d *string
			if c.dir >= 0 {
				d = dir(c.dir)
			}
			p.named(tid, c.class, d, arg(c.name))
		} else if class, ok := fdCalls[name]; ok {
			if d := fdPath(arg(0)); d != "" {
				p.add(tid, class, d)
			}
		}
	}
}

// namedCalls are the calls of one operation on a name: its class, the
// argument of the directory descriptor (-1: the working directory) and of
// the name.
var namedCalls = map[string]struct {
	class     string
	dir, name int
}{
	"truncate": {ClassTruncate, -1, 0}, "unlink": {ClassUnlink, -1, 0}, "rmdir": {ClassRmdir, -1, 0},
	"mkdir": {ClassMkdir, -1, 0}, "mkdirat": {ClassMkdir, 0, 1},
	"mknod": {ClassMknod, -1, 0}, "mknodat": {ClassMknod, 0, 1},
	"link": {ClassLink, -1, 1}, "linkat": {ClassLink, 2, 3},
	"symlink": {ClassSymlink, -1, 1}, "symlinkat": {ClassSymlink, 1, 2},
	"chmod": {ClassChmod, -1, 0}, "fchmodat": {ClassChmod, 0, 1}, "fchmodat2": {ClassChmod, 0, 1},
	"chown": {ClassChown, -1, 0}, "lchown": {ClassChown, -1, 0}, "chown32": {ClassChown, -1, 0}, "lchown32": {ClassChown, -1, 0},
}

// fdCalls are the calls of one operation on the file of their first
// argument, a descriptor.
var fdCalls = map[string]string{
	"ftruncate": ClassTruncate, "fchmod": ClassChmod, "fchown": ClassChown, "fchown32": ClassChown,
}

// KeepTrace returns a strace log without the opens that neither write nor
// open a directory: what ParseStrace needs of it, without the files of the
// machine a program only read.
func KeepTrace(log []byte) []byte {
	var out []byte
	for _, l := range strings.SplitAfter(string(log), "\n") {
		if m := straceHead.FindStringSubmatch(strings.TrimRight(l, "\n")); m != nil {
			switch m[2] {
			case "open", "openat", "openat2":
				if !writeIntent(l) && !strings.Contains(l, "O_DIRECTORY") && !strings.Contains(l, "resumed>") {
					continue
				}
			}
		}
		out = append(out, l...)
	}
	return out
}

// writeIntent: flags with O_WRONLY, O_RDWR, O_CREAT, O_TRUNC or O_APPEND.
func writeIntent(flags string) bool {
	for _, f := range []string{"O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND"} {
		if strings.Contains(flags, f) {
			return true
		}
	}
	return false
}

package analyze

import (
	"path"
	"slices"
)

// Files written, per process (all threads together).
//
// Operations come from the audit records of file syscalls:
//
//   - open, openat, openat2, creat with write intent (O_WRONLY, O_RDWR,
//     O_CREAT, O_TRUNC or O_APPEND in the flags: a1 of open, a2 of openat,
//     the OPENAT2 record's oflag for openat2, whose how argument is a
//     pointer): "create" when a PATH item says CREATE (the file did not
//     exist), else "open_write"; plus "truncate" for O_TRUNC on an existing
//     regular file. An openat2 without an OPENAT2 record whose PATH item is
//     not CREATE is "open" (intent unknown). Read-only opens write nothing
//     but still take their descriptor.
//   - truncate (path), ftruncate (descriptor, through the fd table):
//     "truncate".
//   - rename, renameat, renameat2: PATH items PARENT, PARENT, DELETE (the
//     old name), [DELETE (a file replaced by the new name)], CREATE (the new
//     name): "rename_from" and "rename_to".
//   - unlink, unlinkat: "unlink" ("rmdir" with AT_REMOVEDIR or a directory
//     item); rmdir: "rmdir"; mkdir, mkdirat: "mkdir".
//   - link, linkat: "link" (the new name; Target the existing one);
//     symlink, symlinkat: "symlink" (Target the contents); mknod, mknodat:
//     "mknod".
//
// Paths are made absolute and clean. A relative name is resolved against
// the working directory of the event (its CWD record) when the syscall used
// it (no dirfd, or AT_FDCWD), else against its directory descriptor: the
// path the fd table has for it when the directory's open was recorded, else
// the path known for the inode of the event's PARENT item (the directory
// holding the name's last component) from an earlier event. The PARENT
// item's own name cannot be used for this: for a name relative to a
// descriptor the kernel logs the working directory there. When nothing is
// known the name is kept as given and marked Unresolved: never guessed.
//
// The fd table of each process maps descriptors to open files: an open's
// return value; close, dup, dup2, dup3, fcntl(F_DUPFD*, F_SETFD) and
// close_range when the rules recorded them; close-on-exec descriptors
// closed by a successful exec; all closed at the process's end (close time
// = the end). A new open returning a descriptor still in the table means
// the old one was closed before (ClosedBy "reuse"). A child gets a copy of
// its parent's table at fork (used to resolve paths; the operations stay
// the parent's).

// openFile is an open file description.
type openFile struct {
	path     string // absolute, or "" when unknown
	resolved bool
	op       *FileOp // the operation that opened it; nil if not this process's
	refs     int
}

// fdSlot is one descriptor of a process.
type fdSlot struct {
	of      *openFile
	cloexec bool
}

func copyFDs(src map[int]*fdSlot) map[int]*fdSlot {
	dst := make(map[int]*fdSlot, len(src))
	copies := make(map[*openFile]*openFile)
	for fd, s := range src {
		c := copies[s.of]
		if c == nil {
			c = &openFile{path: s.of.path, resolved: s.of.resolved}
			copies[s.of] = c
		}
		c.refs++
		dst[fd] = &fdSlot{of: c, cloexec: s.cloexec}
	}
	return dst
}

// setFD installs a descriptor, closing the file it replaces.
func (b *builder) setFD(p *Process, fd int, of *openFile, cloexec bool, t int64, replacedBy string) {
	if fd < 0 {
		return
	}
	if p.st.fds[fd] != nil {
		b.closeFD(p, fd, t, replacedBy)
	}
	of.refs++
	p.st.fds[fd] = &fdSlot{of: of, cloexec: cloexec}
}

// closeFD closes a descriptor; the open's operation is closed with the
// last descriptor of its file.
func (b *builder) closeFD(p *Process, fd int, t int64, by string) *FileOp {
	s := p.st.fds[fd]
	if s == nil {
		return nil
	}
	delete(p.st.fds, fd)
	s.of.refs--
	if s.of.refs <= 0 && s.of.op != nil && s.of.op.ClosedBy == "" {
		s.of.op.Closed, s.of.op.ClosedBy = t, by
		return s.of.op
	}
	return nil
}

// closeOnExec closes the close-on-exec descriptors, in descriptor order, and
// returns the operations it closed.
func (b *builder) closeOnExec(p *Process, t int64) []*FileOp {
	var closed []*FileOp
	for _, fd := range sortedFDs(p.st.fds) {
		if p.st.fds[fd].cloexec {
			if op := b.closeFD(p, fd, t, "exec"); op != nil {
				closed = append(closed, op)
			}
		}
	}
	return closed
}

// closeAll closes every descriptor at the process's end.
func (b *builder) closeAll(p *Process, t int64) {
	for _, fd := range sortedFDs(p.st.fds) {
		b.closeFD(p, fd, t, "exit")
	}
}

func sortedFDs(m map[int]*fdSlot) []int {
	fds := make([]int, 0, len(m))
	for fd := range m {
		fds = append(fds, fd)
	}
	slices.Sort(fds)
	return fds
}

// addOp appends a file operation to the process and returns it (the
// pointer stays valid: closing an open updates it later).
func (b *builder) addOp(p *Process, op FileOp) *FileOp {
	b.opSeq++
	op.seq = b.opSeq
	ptr := &op
	p.st.ops = append(p.st.ops, ptr)
	return ptr
}

// ---- path resolution ----

// resolve returns the absolute clean path of a name given to a syscall,
// relative to dirfd (atFDCWD: the working directory), with parent the
// event's PARENT item for the name's directory (nil if none). ok is false
// when the name stays relative (returned as given) or is empty.
func (b *builder) resolve(p *Process, ev *auditEvent, name string, dirfd int, parent *pathItem) (string, bool) {
	if name == "" {
		return "", false
	}
	if name[0] == '/' {
		return path.Clean(name), true
	}
	if dirfd == atFDCWD {
		cwd := ev.cwd
		if cwd == "" {
			cwd = p.Cwd
		}
		if cwd != "" && cwd[0] == '/' {
			return path.Join(cwd, name), true
		}
		return name, false
	}
	if s := p.st.fds[dirfd]; s != nil && s.of.resolved {
		return path.Join(s.of.path, name), true
	}
	if parent != nil {
		if k, ok := parent.key(); ok {
			if d, ok := b.dirs[k]; ok {
				return path.Join(d, path.Base(name)), true
			}
		}
	}
	return name, false
}

// learn remembers the paths of directory inodes: the PARENT item of a
// resolved name is the directory of that path; an item that is a directory
// is its own path.
func (b *builder) learn(item *pathItem, abs string, parent *pathItem) {
	if parent != nil {
		if k, ok := parent.key(); ok {
			b.dirs[k] = path.Dir(abs)
		}
	}
	if item != nil && item.hasMode && item.mode&sIFMT == sIFDIR {
		if k, ok := item.key(); ok {
			b.dirs[k] = abs
		}
	}
}

// forget drops a removed directory's inode.
func (b *builder) forget(item *pathItem, abs string) {
	if k, ok := item.key(); ok && b.dirs[k] == abs {
		delete(b.dirs, k)
	}
}

// items of one event, by role.
type eventItems struct {
	parents []*pathItem
	others  []*pathItem // not PARENT, in item order
}

func splitItems(ev *auditEvent) eventItems {
	var e eventItems
	for i := range ev.paths {
		it := &ev.paths[i]
		if it.nametype == "PARENT" {
			e.parents = append(e.parents, it)
		} else {
			e.others = append(e.others, it)
		}
	}
	return e
}

func (e eventItems) parent(i int) *pathItem {
	if i < len(e.parents) {
		return e.parents[i]
	}
	return nil
}

// first returns the first non-PARENT item with one of the name types.
func (e eventItems) first(types ...string) *pathItem {
	for _, it := range e.others {
		if slices.Contains(types, it.nametype) && it.hasName {
			return it
		}
	}
	return nil
}

// named resolves an item's name and learns from it. A nil item gives an
// unresolved empty path.
func (b *builder) named(p *Process, ev *auditEvent, it *pathItem, dirfd int, parent *pathItem) (string, bool) {
	if it == nil {
		return "", false
	}
	abs, ok := b.resolve(p, ev, it.name, dirfd, parent)
	if ok {
		b.learn(it, abs, parent)
	}
	return abs, ok
}

// ---- syscalls ----

// fileSyscall applies a successful file syscall.
func (b *builder) fileSyscall(p *Process, ev *auditEvent, t int64) {
	sc := ev.sc
	items := splitItems(ev)
	switch sc.kind {
	case scOpen:
		b.open(p, ev, t, atFDCWD, sc.a[1], true, items)
	case scOpenat:
		b.open(p, ev, t, sc.fd(0), sc.a[2], true, items)
	case scOpenat2:
		b.open(p, ev, t, sc.fd(0), ev.oflag, ev.hasOflag, items)
	case scCreat:
		f := sc.arch.flags
		b.open(p, ev, t, atFDCWD, oWronly|f.creat|f.trunc, true, items)
	case scTruncate:
		it := items.first("NORMAL", "CREATE", "UNKNOWN")
		abs, ok := b.named(p, ev, it, atFDCWD, nil)
		b.addPathOp(p, FileOp{Op: "truncate", Time: t}, abs, ok, it)
	case scFtruncate:
		fd := sc.fd(0)
		op := FileOp{Op: "truncate", Time: t, FD: fd, HasFD: true}
		if s := p.st.fds[fd]; s != nil && s.of.resolved {
			op.Path = s.of.path
		} else {
			op.Unresolved = true
		}
		b.addOp(p, op)
	case scRename, scRenameat:
		oldDir, newDir := atFDCWD, atFDCWD
		if sc.kind == scRenameat {
			oldDir, newDir = sc.fd(0), sc.fd(2)
		}
		b.rename(p, ev, t, oldDir, newDir, items)
	case scUnlink, scUnlinkat, scRmdir:
		dirfd, op := atFDCWD, "unlink"
		if sc.kind == scUnlinkat {
			dirfd = sc.fd(0)
			if sc.a[2]&atRemoveDir != 0 {
				op = "rmdir"
			}
		}
		if sc.kind == scRmdir {
			op = "rmdir"
		}
		it := items.first("DELETE", "NORMAL")
		if it != nil && it.hasMode && it.mode&sIFMT == sIFDIR {
			op = "rmdir"
		}
		abs, ok := b.named(p, ev, it, dirfd, items.parent(0))
		if ok && it != nil {
			b.forget(it, abs)
		}
		b.addPathOp(p, FileOp{Op: op, Time: t}, abs, ok, it)
	case scMkdir, scMkdirat, scMknod, scMknodat:
		dirfd := atFDCWD
		if sc.kind == scMkdirat || sc.kind == scMknodat {
			dirfd = sc.fd(0)
		}
		op := "mkdir"
		if sc.kind == scMknod || sc.kind == scMknodat {
			op = "mknod"
		}
		it := items.first("CREATE", "NORMAL")
		abs, ok := b.named(p, ev, it, dirfd, items.parent(0))
		b.addPathOp(p, FileOp{Op: op, Time: t}, abs, ok, it)
	case scLink, scLinkat:
		oldDir, newDir := atFDCWD, atFDCWD
		if sc.kind == scLinkat {
			oldDir, newDir = sc.fd(0), sc.fd(2)
		}
		old := items.first("NORMAL", "UNKNOWN")
		nw := items.first("CREATE")
		oldAbs, oldOK := b.named(p, ev, old, oldDir, nil)
		abs, ok := b.named(p, ev, nw, newDir, items.parent(0))
		op := FileOp{Op: "link", Time: t, Target: oldAbs}
		if !oldOK && old != nil {
			op.Target = old.name
		}
		b.addPathOp(p, op, abs, ok, nw)
	case scSymlink, scSymlinkat:
		newDir := atFDCWD
		if sc.kind == scSymlinkat {
			newDir = sc.fd(1)
		}
		nw := items.first("CREATE")
		abs, ok := b.named(p, ev, nw, newDir, items.parent(0))
		op := FileOp{Op: "symlink", Time: t}
		if target := items.first("UNKNOWN", "NORMAL"); target != nil {
			op.Target = target.name // the link's contents, as given
		}
		b.addPathOp(p, op, abs, ok, nw)
	case scChdir:
		it := items.first("NORMAL")
		if abs, ok := b.named(p, ev, it, atFDCWD, nil); ok {
			p.Cwd = abs
			if k, ok := it.key(); ok {
				b.dirs[k] = abs
			}
		}
	case scFchdir:
		if s := p.st.fds[sc.fd(0)]; s != nil && s.of.resolved {
			p.Cwd = s.of.path
		}
	case scClose:
		b.closeFD(p, sc.fd(0), t, "close")
	case scCloseRange:
		first, last := uint32(sc.a[0]), uint32(sc.a[1])
		for _, fd := range sortedFDs(p.st.fds) {
			if uint32(fd) >= first && uint32(fd) <= last {
				if sc.a[2]&closeRangeCloexec != 0 {
					p.st.fds[fd].cloexec = true
				} else {
					b.closeFD(p, fd, t, "close")
				}
			}
		}
	case scDup:
		b.dup(p, sc.fd(0), int(sc.exit), false, t)
	case scDup2:
		b.dup(p, sc.fd(0), int(sc.exit), false, t)
	case scDup3:
		b.dup(p, sc.fd(0), int(sc.exit), sc.a[2]&sc.arch.flags.cloexec != 0, t)
	case scFcntl:
		switch sc.a[1] {
		case fDupFD:
			b.dup(p, sc.fd(0), int(sc.exit), false, t)
		case fDupFDCloexec:
			b.dup(p, sc.fd(0), int(sc.exit), true, t)
		case fSetFD:
			if s := p.st.fds[sc.fd(0)]; s != nil {
				s.cloexec = sc.a[2]&fdCloexec != 0
			}
		}
	}
}

// addPathOp adds an operation on a path that may be unresolved (then the
// name as given is kept, or "" without an item).
func (b *builder) addPathOp(p *Process, op FileOp, abs string, ok bool, it *pathItem) *FileOp {
	op.Path = abs
	if !ok {
		op.Unresolved = true
		if it != nil {
			op.Path = it.name
		}
	}
	return b.addOp(p, op)
}

// open applies a successful open: the new descriptor, and the operations
// for a write intent. flagsKnown is false for an openat2 without its
// OPENAT2 record.
func (b *builder) open(p *Process, ev *auditEvent, t int64, dirfd int, flags uint64, flagsKnown bool, items eventItems) {
	fs := ev.sc.arch.flags
	it := items.first("CREATE")
	created := it != nil
	if it == nil {
		it = items.first("NORMAL")
	}
	var parent *pathItem
	if created {
		parent = items.parent(0)
	}
	abs, ok := b.named(p, ev, it, dirfd, parent)
	of := &openFile{path: abs, resolved: ok}
	fd := int(ev.sc.exit)

	var opName string
	switch {
	case created:
		opName = "create"
	case !flagsKnown:
		opName = "open"
	case fs.writeIntent(flags):
		opName = "open_write"
	}
	cloexec := flagsKnown && flags&fs.cloexec != 0
	if opName == "" {
		b.setFD(p, fd, of, cloexec, t, "reuse")
		return
	}
	op := FileOp{Op: opName, Time: t, FD: fd, HasFD: true}
	if flagsKnown {
		op.Flags = fs.format(flags)
	}
	// Install the descriptor first: a reused number closes the old file at
	// this time, before this open's operation exists.
	b.setFD(p, fd, of, cloexec, t, "reuse")
	of.op = b.addPathOp(p, op, abs, ok, it)
	if !created && flagsKnown && flags&fs.trunc != 0 {
		if reg, known := it.isRegularOrNil(); reg || !known {
			b.addPathOp(p, FileOp{Op: "truncate", Time: t}, abs, ok, it)
		}
	}
}

// isRegularOrNil is isRegular for a possibly missing item.
func (p *pathItem) isRegularOrNil() (regular, known bool) {
	if p == nil {
		return false, false
	}
	return p.isRegular()
}

// rename applies rename, renameat or renameat2.
func (b *builder) rename(p *Process, ev *auditEvent, t int64, oldDir, newDir int, items eventItems) {
	var old, nw, victim *pathItem
	for _, it := range items.others {
		switch it.nametype {
		case "DELETE":
			if old == nil {
				old = it
			} else if victim == nil {
				victim = it
			}
		case "CREATE":
			if nw == nil {
				nw = it
			}
		}
	}
	oldParent, newParent := items.parent(0), items.parent(1)
	if newParent == nil {
		newParent = oldParent
	}
	oldAbs, oldOK := b.named(p, ev, old, oldDir, oldParent)
	newAbs, newOK := b.named(p, ev, nw, newDir, newParent)
	if oldOK && old != nil {
		b.forget(old, oldAbs)
	}
	if newOK && nw != nil && nw.hasMode && nw.mode&sIFMT == sIFDIR {
		if k, ok := nw.key(); ok {
			b.dirs[k] = newAbs
		}
	}
	from, to := oldAbs, newAbs
	if !oldOK && old != nil {
		from = old.name
	}
	if !newOK && nw != nil {
		to = nw.name
	}
	b.addPathOp(p, FileOp{Op: "rename_from", Time: t, To: to}, oldAbs, oldOK, old)
	b.addPathOp(p, FileOp{Op: "rename_to", Time: t, From: from, Replaced: victim != nil}, newAbs, newOK, nw)
}

// dup makes newfd refer to oldfd's file. An unknown oldfd gives newfd an
// unknown file, so that it no longer resolves to what it was before.
func (b *builder) dup(p *Process, oldfd, newfd int, cloexec bool, t int64) {
	if newfd < 0 || newfd == oldfd {
		return
	}
	var of *openFile
	if s := p.st.fds[oldfd]; s != nil {
		of = s.of
	} else {
		of = &openFile{}
	}
	b.setFD(p, newfd, of, cloexec, t, "dup2")
}

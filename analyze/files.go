package analyze

import (
	"slices"
	"strconv"
	"strings"
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
//   - chmod, fchmod, fchmodat(2): "chmod" (Mode); chown, fchown, fchownat,
//     lchown: "chown" (UID, GID). Of a pipe or anonymous memory, nothing.
//
// Paths are made absolute and clean, and proved or marked Unresolved: see
// paths.go.
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
	// id is the inode the open's PATH item named (hasID); dir: it is a
	// directory.
	id    devino
	hasID bool
	dir   bool
	// anon: anonymous memory (memfd_create) or a pipe, in no file
	// system.
	anon bool
	op   *FileOp // the operation that opened it; nil if not this process's
	refs int
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
			c = &openFile{path: s.of.path, resolved: s.of.resolved, id: s.of.id, hasID: s.of.hasID, dir: s.of.dir, anon: s.of.anon}
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
			if op := b.closeFD(p, fd, t, ClosedByExec); op != nil {
				closed = append(closed, op)
			}
		}
	}
	return closed
}

// closeAll closes every descriptor at the process's end.
func (b *builder) closeAll(p *Process, t int64) {
	for _, fd := range sortedFDs(p.st.fds) {
		b.closeFD(p, fd, t, ClosedByExit)
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

// ---- path resolution (paths.go) ----

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

// any returns the first non-PARENT item, named or not (fchmod and fchown
// log the descriptor's inode without a name).
func (e eventItems) any() *pathItem {
	if len(e.others) > 0 {
		return e.others[0]
	}
	return nil
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
// unresolved empty name.
func (b *builder) named(p *Process, ev *auditEvent, it *pathItem, dirfd int, parent *pathItem, t int64) resolution {
	if it == nil || !it.hasName {
		return resolution{}
	}
	r := b.resolveName(p, ev, it.name, dirfd, parent, it, t)
	if r.ok {
		b.learn(p, it, r.path, parent)
	} else {
		b.unlearn(p, it)
	}
	return r
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
		b.addPathOp(p, FileOp{Op: OpTruncate, Time: t}, b.named(p, ev, it, atFDCWD, nil, t))
	case scFtruncate:
		fd := sc.fd(0)
		if s := p.st.fds[fd]; s != nil && s.of.anon {
			return // anonymous memory: no file changed
		}
		op := FileOp{Op: OpTruncate, Time: t, FD: fd, HasFD: true}
		b.addPathOp(p, op, b.byFD(p, fd, nil, t))
	case scRename, scRenameat:
		oldDir, newDir := atFDCWD, atFDCWD
		if sc.kind == scRenameat {
			oldDir, newDir = sc.fd(0), sc.fd(2)
		}
		b.rename(p, ev, t, oldDir, newDir, items)
	case scUnlink, scUnlinkat, scRmdir:
		dirfd, op := atFDCWD, OpUnlink
		if sc.kind == scUnlinkat {
			dirfd = sc.fd(0)
			if sc.a[2]&atRemoveDir != 0 {
				op = OpRmdir
			}
		}
		if sc.kind == scRmdir {
			op = OpRmdir
		}
		it := items.first("DELETE", "NORMAL")
		if it != nil && it.hasMode && it.mode&sIFMT == sIFDIR {
			op = OpRmdir
		}
		r := b.named(p, ev, it, dirfd, items.parent(0), t)
		if r.ok {
			b.forget(p, it, r.path)
		}
		b.addPathOp(p, FileOp{Op: op, Time: t}, r)
	case scMkdir, scMkdirat, scMknod, scMknodat:
		dirfd := atFDCWD
		if sc.kind == scMkdirat || sc.kind == scMknodat {
			dirfd = sc.fd(0)
		}
		op := OpMkdir
		if sc.kind == scMknod || sc.kind == scMknodat {
			op = OpMknod
		}
		it := items.first("CREATE", "NORMAL")
		b.addPathOp(p, FileOp{Op: op, Time: t}, b.named(p, ev, it, dirfd, items.parent(0), t))
	case scLink, scLinkat:
		oldDir, newDir := atFDCWD, atFDCWD
		if sc.kind == scLinkat {
			oldDir, newDir = sc.fd(0), sc.fd(2)
		}
		old := items.first("NORMAL", "UNKNOWN")
		nw := items.first("CREATE")
		// The existing file's item is not learnt from: a hard link's
		// inode keeps the path it was first seen at.
		var oldR resolution
		if old != nil && old.hasName {
			oldR = b.resolveName(p, ev, old.name, oldDir, nil, old, t)
		}
		r := b.named(p, ev, nw, newDir, items.parent(0), t)
		op := FileOp{Op: OpLink, Time: t, Target: oldR.path}
		b.addPathOp(p, op, r)
	case scSymlink, scSymlinkat:
		newDir := atFDCWD
		if sc.kind == scSymlinkat {
			newDir = sc.fd(1)
		}
		nw := items.first("CREATE")
		r := b.named(p, ev, nw, newDir, items.parent(0), t)
		op := FileOp{Op: OpSymlink, Time: t}
		if target := items.first("UNKNOWN", "NORMAL"); target != nil {
			op.Target = target.name // the link's contents, as given
		}
		b.addPathOp(p, op, r)
	case scChmod, scFchmodat, scChown, scLchown, scFchownat:
		dirfd, ai := atFDCWD, 1
		if sc.kind == scFchmodat || sc.kind == scFchownat {
			dirfd, ai = sc.fd(0), 2
		}
		it := items.first("NORMAL", "UNKNOWN")
		r := b.named(p, ev, it, dirfd, nil, t)
		if it == nil && dirfd != atFDCWD {
			// AT_EMPTY_PATH: the descriptor itself (an item without a name).
			r = b.byFD(p, dirfd, items.any(), t)
		}
		b.addPathOp(p, b.metaOp(sc, ai, t), r)
	case scFchmod, scFchown:
		fd := sc.fd(0)
		if s := p.st.fds[fd]; s != nil && s.of.anon {
			if it := items.any(); it == nil || !it.hasMode || it.mode&sIFMT == sIFIFO {
				return // a pipe's owner or mode: no file changed
			}
		}
		op := b.metaOp(sc, 1, t)
		op.FD, op.HasFD = fd, true
		b.addPathOp(p, op, b.byFD(p, fd, items.any(), t))
	case scMemfd:
		// An anonymous file: its number no longer names what it did.
		b.setFD(p, int(sc.exit), &openFile{anon: true}, sc.a[1]&mfdCloexec != 0, t, "reuse")
	case scPipe:
		if ev.hasFDPair {
			cloexec := sc.name == "pipe2" && sc.a[1]&sc.arch.flags.cloexec != 0
			for _, fd := range ev.fdPair {
				b.setFD(p, fd, &openFile{anon: true}, cloexec, t, ClosedByReuse)
			}
		}
	case scChdir:
		it := items.first("NORMAL")
		if r := b.named(p, ev, it, atFDCWD, nil, t); r.ok {
			p.Cwd = r.path
		}
	case scFchdir:
		if s := p.st.fds[sc.fd(0)]; s != nil && s.of.resolved && s.of.dir {
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
					b.closeFD(p, fd, t, ClosedByClose)
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

// metaOp is the operation of a chmod or chown family syscall, whose mode or
// owner arguments start at argument ai.
func (b *builder) metaOp(sc *syscallRecord, ai int, t int64) FileOp {
	switch sc.kind {
	case scChmod, scFchmod, scFchmodat:
		return FileOp{Op: OpChmod, Time: t, Mode: uint32(sc.a[ai]) & 0o7777, HasMode: true}
	}
	op := FileOp{Op: OpChown, Time: t, UID: -1, GID: -1}
	// The 16-bit calls of i386 and arm (chown, lchown, fchown; the 32-bit
	// ones are chown32...) leave an id unchanged with 0xffff.
	small := (sc.arch.name == "i386" || sc.arch.name == "arm") && !strings.HasSuffix(sc.name, "32")
	for i, dst := range []*int64{&op.UID, &op.GID} {
		v := sc.a[ai+i]
		switch {
		case small && uint16(v) == 0xffff, !small && uint32(v) == 0xffffffff:
		case small:
			*dst = int64(uint16(v))
		default:
			*dst = int64(uint32(v))
		}
	}
	return op
}

// byFD resolves the file behind a descriptor: the file its recorded open
// named, when the event's item (if any) has the same identity. An item
// that contradicts the descriptor's file shows the descriptor is stale;
// the item's inode is then looked up in the index.
func (b *builder) byFD(p *Process, fd int, it *pathItem, t int64) resolution {
	un := resolution{dirFD: fd}
	s := p.st.fds[fd]
	var id devino
	hasID := false
	if it != nil {
		id, hasID = it.key()
	}
	if s != nil && hasID && s.of.hasID && s.of.id != id {
		b.closeFD(p, fd, t, ClosedByReuse)
		s = nil
	}
	if s != nil && s.of.resolved {
		return resolution{path: s.of.path, ok: true}
	}
	if hasID {
		if q, ok := b.idx.get(p.st.root, id); ok {
			return resolution{path: q, ok: true}
		}
	}
	return un
}

// unknownRoot returns a root of its own for a process whose new root's
// host path is not known.
func (b *builder) unknownRoot(p *Process) rootInfo {
	b.rootSeq++
	return rootInfo{ns: "?" + strconv.Itoa(p.PID) + "." + strconv.Itoa(b.rootSeq)}
}

// addPathOp adds an operation on a path that may be unresolved (then the
// name as given is kept, or "" without a name), and its host path when the
// process's root is not the host's.
func (b *builder) addPathOp(p *Process, op FileOp, r resolution) *FileOp {
	op.Path = r.path
	if !r.ok {
		op.Unresolved = true
		if r.hasDirFD && r.dirFD != atFDCWD {
			op.DirFD, op.HasDirFD = r.dirFD, true
		}
		if r.hasDirID {
			op.DirInode = r.dirID.String()
		}
	} else if hp := p.st.root.hostPath(op.Path); hp != "" {
		op.HostPath = hp
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
	r := b.named(p, ev, it, dirfd, parent, t)
	if r.ok && it != nil {
		// /proc/self/fd/N names the file behind descriptor N.
		if q, ok := b.throughProcFD(p, r.path, it); ok {
			r.path = q
		}
	}
	of := &openFile{path: r.path, resolved: r.ok}
	if it != nil {
		of.id, of.hasID = it.key()
		of.dir = it.hasMode && it.mode&sIFMT == sIFDIR
	}
	fd := int(ev.sc.exit)

	var opName string
	switch {
	case created:
		opName = OpCreate
	case !flagsKnown:
		opName = OpOpen
	case fs.writeIntent(flags):
		opName = OpOpenWrite
	}
	cloexec := flagsKnown && flags&fs.cloexec != 0
	if opName == "" || of.dir {
		b.setFD(p, fd, of, cloexec, t, ClosedByReuse)
		return
	}
	op := FileOp{Op: opName, Time: t, FD: fd, HasFD: true}
	if flagsKnown {
		op.Flags = fs.format(flags)
	}
	// Install the descriptor first: a reused number closes the old file at
	// this time, before this open's operation exists.
	b.setFD(p, fd, of, cloexec, t, ClosedByReuse)
	of.op = b.addPathOp(p, op, r)
	if !created && flagsKnown && flags&fs.trunc != 0 {
		if reg, known := it.isRegularOrNil(); reg || !known {
			b.addPathOp(p, FileOp{Op: OpTruncate, Time: t}, r)
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
	oldR := b.named(p, ev, old, oldDir, oldParent, t)
	if oldR.ok {
		b.forget(p, old, oldR.path)
	}
	if victim != nil {
		if k, ok := victim.key(); ok {
			b.idx.drop(p.st.root, k, "")
		}
	}
	newR := b.named(p, ev, nw, newDir, newParent, t)
	if oldR.ok && newR.ok && nw != nil && nw.hasMode && nw.mode&sIFMT == sIFDIR {
		b.idx.move(p.st.root, oldR.path, newR.path)
	}
	b.addPathOp(p, FileOp{Op: OpRenameFrom, Time: t, To: newR.path}, oldR)
	b.addPathOp(p, FileOp{Op: OpRenameTo, Time: t, From: oldR.path, Replaced: victim != nil}, newR)
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
	b.setFD(p, newfd, of, cloexec, t, ClosedByDup2)
}

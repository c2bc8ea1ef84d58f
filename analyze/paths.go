package analyze

import (
	"path"
	"strconv"
	"strings"
)

// Paths are proved, never guessed. A name a syscall got is made absolute
// only from:
//
//   - the name itself, when it is absolute (relative to the process's root
//     directory, like every path of the process);
//   - the event's CWD record, for a name relative to the working directory:
//     the kernel writes the directory the syscall used;
//   - a directory descriptor, for a name relative to one (openat, unlinkat,
//     mkdirat, ...): the path of the directory the descriptor was opened on,
//     when its open was recorded (the rules record every open of a
//     directory, and dup, dup2, dup3 and fcntl(F_DUPFD), so that a
//     descriptor's number is not silently taken by another directory), and
//     when the identity (device and inode) the event's PATH items give the
//     directory matches the descriptor's. A descriptor whose identity does
//     not match is stale (its close was not recorded): it is dropped;
//   - the index: every PATH item of a resolved name tells the path of its
//     inode (and a PARENT item, the path of the directory holding the
//     name), so a name relative to a directory whose path was seen anywhere
//     in the capture is placed by the directory's identity. Creations,
//     renames and removals keep the index current.
//
// Anything else stays unresolved: the name as given, with the descriptor
// and the directory's identity when the record has them. The kernel's own
// name for a PARENT item cannot be used: for a name relative to a
// descriptor it logs the working directory there.
//
// Paths live in a root: the host's ("/"), a directory a process chroot'ed
// or pivot_root'ed into (its host path), or a root whose host path is not
// known (a setns into another mount namespace, a container process that
// existed before the recording): then a token of its own, so that the
// paths of different roots never mix in the index.

// hostRoot is the namespace of the host's root directory.
const hostRoot = "/"

// rootInfo is a process's root directory.
type rootInfo struct {
	// ns names the root for the index: hostRoot, a host path, or a token
	// starting with "?" when the host path is unknown.
	ns string
	// chroot: the root was changed by chroot in the mount namespace of the
	// host (so that the host sees every path of the process under it,
	// /proc and /dev included).
	chroot bool
}

// known reports whether ns is a host path.
func (r rootInfo) known() bool { return !strings.HasPrefix(r.ns, "?") }

// changed reports whether the root is not the host's.
func (r rootInfo) changed() bool { return r.ns != hostRoot && r.ns != "" }

// hostPath returns the host path of a path p of a process with this root,
// "" when it cannot be known: an unknown root, or, after pivot_root into
// another mount namespace, the kernel's virtual file systems that the new
// namespace mounts on its own.
func (r rootInfo) hostPath(p string) string {
	if !r.changed() || !r.known() || !path.IsAbs(p) {
		return ""
	}
	if !r.chroot && virtualPath(p) {
		return ""
	}
	return path.Join(r.ns, p)
}

// idxKey is one inode in one root.
type idxKey struct {
	ns string
	id devino
}

// pathIndex maps inodes to the path they were last seen at, per root.
type pathIndex struct {
	m map[idxKey]string
}

func newPathIndex() *pathIndex { return &pathIndex{m: make(map[idxKey]string)} }

// get returns the path of inode id for a process with root r. A root with a
// known host path also sees the host's entries under it.
func (x *pathIndex) get(r rootInfo, id devino) (string, bool) {
	if p, ok := x.m[idxKey{r.ns, id}]; ok {
		return p, true
	}
	if r.changed() && r.known() {
		if hp, ok := x.m[idxKey{hostRoot, id}]; ok {
			if rel, ok := under(hp, r.ns); ok && (r.chroot || !virtualPath(rel)) {
				return rel, true
			}
		}
	}
	return "", false
}

// set records that inode id is at p.
func (x *pathIndex) set(r rootInfo, id devino, p string) {
	x.m[idxKey{r.ns, id}] = p
}

// drop forgets inode id; only at p when p is not "".
func (x *pathIndex) drop(r rootInfo, id devino, p string) {
	k := idxKey{r.ns, id}
	if cur, ok := x.m[k]; ok && (p == "" || cur == p) {
		delete(x.m, k)
	}
}

// move renames a directory: every path under old is now under nw.
func (x *pathIndex) move(r rootInfo, old, nw string) {
	prefix := old + "/"
	for k, p := range x.m {
		if k.ns == r.ns && strings.HasPrefix(p, prefix) {
			x.m[k] = nw + p[len(old):]
		}
	}
}

// under returns p relative to root dir as an absolute path ("/" for dir
// itself), and whether p is under dir.
func under(p, dir string) (string, bool) {
	if p == dir {
		return "/", true
	}
	if strings.HasPrefix(p, dir+"/") {
		return p[len(dir):], true
	}
	return "", false
}

// resolution is the outcome of resolving one name.
type resolution struct {
	path string // absolute and clean when ok; else the name as given
	ok   bool
	// For an unresolved name: the descriptor it was relative to (-1: the
	// working directory; dirFD is only meaningful when hasDirFD), and the
	// directory's identity when a PARENT item gave it.
	dirFD    int
	hasDirFD bool
	dirID    devino
	hasDirID bool
}

// resolveName makes the name of an item absolute. dirfd is the directory
// the syscall resolved it against (atFDCWD for the working directory);
// parent is the event's PARENT item for the directory holding the name's
// last component (nil when the syscall has none: an open of an existing
// file, chmod, ...); self is the item of the name itself (nil when the
// event has none). It never guesses: see the comment at the top.
func (b *builder) resolveName(p *Process, ev *auditEvent, name string, dirfd int, parent, self *pathItem, t int64) resolution {
	if name == "" {
		return resolution{}
	}
	if name[0] == '/' {
		return resolution{path: path.Clean(name), ok: true}
	}
	un := resolution{path: name, dirFD: dirfd, hasDirFD: true}
	var pid devino
	hasPID := false
	if parent != nil {
		pid, hasPID = parent.key()
		un.dirID, un.hasDirID = pid, hasPID
	}
	// The last component and the directories before it ("a/b/" names b,
	// as mkdir -p gives it).
	dirPart, last := path.Split(strings.TrimRight(name, "/"))
	dirPart = strings.TrimSuffix(dirPart, "/")

	if dirfd == atFDCWD {
		if ev.cwd != "" && ev.cwd[0] == '/' {
			return resolution{path: path.Join(ev.cwd, name), ok: true}
		}
		// No CWD record (an imported log without them): the working
		// directory seen earlier may have changed since.
		if hasPID {
			if d, ok := b.idx.get(p.st.root, pid); ok {
				return resolution{path: path.Join(d, last), ok: true}
			}
		}
		return un
	}

	s := p.st.fds[dirfd]
	if s != nil && s.of.hasID && !s.of.dir {
		// A file that is no directory: the syscall succeeded, so the
		// number was reused by an open that was not recorded.
		b.closeFD(p, dirfd, t, ClosedByReuse)
		s = nil
	}
	if s != nil && (!s.of.dir || !s.of.resolved) {
		s = nil // not a directory this analysis can name
	}
	if hasPID {
		if s != nil && dirPart == "" {
			if s.of.hasID && s.of.id == pid {
				return resolution{path: path.Join(s.of.path, name), ok: true}
			}
			if s.of.hasID {
				// The descriptor names another directory now: its close
				// and the open that reused the number were not recorded.
				b.closeFD(p, dirfd, t, ClosedByReuse)
				s = nil
			}
		}
		if d, ok := b.idx.get(p.st.root, pid); ok {
			return resolution{path: path.Join(d, last), ok: true}
		}
		if s != nil && dirPart != "" {
			// dirfd/dir/last: the descriptor is the recorded directory;
			// the directory in between is what the name says.
			return resolution{path: path.Join(s.of.path, name), ok: true}
		}
		return un
	}
	// No PARENT item: the name of an existing file (open without O_CREAT,
	// chmod, chown, ...). The descriptor's directory is the recorded one;
	// the file's own identity, when the index knows it elsewhere, must not
	// contradict it.
	var sid devino
	hasSID := false
	if self != nil {
		sid, hasSID = self.key()
	}
	if s != nil {
		cand := path.Join(s.of.path, name)
		if hasSID {
			if q, ok := b.idx.get(p.st.root, sid); ok && q != cand && path.Base(q) == last {
				return un // two different answers: prove neither
			}
		}
		return resolution{path: cand, ok: true}
	}
	if hasSID {
		if q, ok := b.idx.get(p.st.root, sid); ok && path.Base(q) == last {
			return resolution{path: q, ok: true}
		}
	}
	return un
}

// learn records what a resolved name tells about inodes: the item's own
// inode is at abs, and the PARENT item's is the directory holding it. A
// created inode (CREATE) is new: whatever the index had for its number
// was an older inode.
func (b *builder) learn(p *Process, item *pathItem, abs string, parent *pathItem) {
	r := p.st.root
	if parent != nil {
		if k, ok := parent.key(); ok {
			b.idx.set(r, k, path.Dir(abs))
		}
	}
	if item != nil {
		if k, ok := item.key(); ok {
			b.idx.set(r, k, abs)
		}
	}
}

// unlearn forgets what the index says of an item whose name could not be
// resolved but which is new (CREATE): the number's earlier inode is gone.
func (b *builder) unlearn(p *Process, item *pathItem) {
	if item == nil || item.nametype != "CREATE" {
		return
	}
	if k, ok := item.key(); ok {
		b.idx.drop(p.st.root, k, "")
	}
}

// forget drops a removed name from the index.
func (b *builder) forget(p *Process, item *pathItem, abs string) {
	if item == nil {
		return
	}
	if k, ok := item.key(); ok {
		b.idx.drop(p.st.root, k, abs)
	}
}

// procFDPath recognises /proc/self/fd/N, /proc/thread-self/fd/N and
// /proc/PID/fd/N: the process whose descriptor it names (nil when it is
// not in the model or PID is of another pid namespace) and the number.
func (b *builder) procFDPath(p *Process, abs string) (*Process, int, bool) {
	rest, ok := strings.CutPrefix(abs, "/proc/")
	if !ok {
		return nil, 0, false
	}
	who, rest, ok := strings.Cut(rest, "/fd/")
	if !ok {
		return nil, 0, false
	}
	fd, err := strconv.Atoi(rest)
	if err != nil || fd < 0 {
		return nil, 0, false
	}
	switch who {
	case "self", "thread-self":
		return p, fd, true
	}
	pid, err := strconv.Atoi(who)
	if err != nil || p.st.root.changed() {
		return nil, 0, false // a pid of another pid namespace, maybe
	}
	return b.cur[pid], fd, true
}

// throughProcFD returns the file an open of /proc/.../fd/N reached: the
// descriptor's file when its identity is the item's, else the path the
// index has for the item's inode.
func (b *builder) throughProcFD(p *Process, abs string, it *pathItem) (string, bool) {
	owner, fd, ok := b.procFDPath(p, abs)
	if !ok || it == nil {
		return "", false
	}
	id, hasID := it.key()
	if !hasID {
		return "", false
	}
	if owner != nil && owner.st != nil && owner.st.root == p.st.root {
		if s := owner.st.fds[fd]; s != nil && s.of.resolved && s.of.hasID && s.of.id == id {
			return s.of.path, true
		}
	}
	return b.idx.get(p.st.root, id)
}

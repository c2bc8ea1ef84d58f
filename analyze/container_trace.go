package analyze

import (
	"path"
	"strings"

	"github.com/ctrace/ctrace/format"
)

// While the timeline is replayed, the builder notes what container
// detection (container_detect.go) needs and the process model does not
// keep: the syscalls by which a process changes its mount namespace or its
// root directory, the clones that create namespaces, the directories its
// mount calls named, and the cgroups of snapshot processes.

// Namespace flags of clone, unshare and setns (the same on every
// architecture).
const (
	cloneNewNS     = 0x00020000
	cloneNewCgroup = 0x02000000
	cloneNewUTS    = 0x04000000
	cloneNewIPC    = 0x08000000
	cloneNewUser   = 0x10000000
	cloneNewPID    = 0x20000000
	cloneNewNet    = 0x40000000

	cloneNewAny = cloneNewNS | cloneNewCgroup | cloneNewUTS | cloneNewIPC | cloneNewUser | cloneNewPID | cloneNewNet
)

// enterKind is how a process moved towards a container's view of the
// world.
type enterKind uint8

const (
	// enterUnshare: unshare(CLONE_NEWNS): a mount namespace of its own
	// (the root directory is still the host's).
	enterUnshare enterKind = iota + 1
	// enterSetns: setns into another mount namespace (nstype CLONE_NEWNS,
	// or 0: any): it now sees that namespace's root, e.g. a container's.
	enterSetns
	// enterPivotRoot, enterChroot: a new root directory.
	enterPivotRoot
	enterChroot
)

// changesRoot reports whether paths after the event are relative to
// another root directory than before.
func (k enterKind) changesRoot() bool { return k != enterUnshare }

// nsEvent is one successful unshare, setns, pivot_root or chroot.
type nsEvent struct {
	kind  enterKind
	t     int64
	flags uint64 // unshare's flags, setns's nstype
	// root is the new root directory on the host (pivot_root, chroot): ""
	// when unknown.
	root string
	// opSeq is the builder's file operation counter when the event was
	// applied: the process's operations with a greater seq came after it.
	opSeq int
}

// nsClone is a clone record whose flags create namespaces (crun creates
// the container's process that way rather than by unshare).
type nsClone struct {
	child int // the clone's return value
	flags uint64
	t     int64
}

// ctrProc is what container detection knows about one process.
type ctrProc struct {
	events []nsEvent
	clones []nsClone
	// dirs maps directory inodes to the absolute paths the process's mount
	// calls named them by, before it changed its root: runc bind-mounts
	// the rootfs onto itself before pivot_root(".", ".").
	dirs map[devino]string
	// cgroup is the snapshot's /proc/PID/cgroup.
	cgroup []string
}

// containerTrace is the builder's collection of ctrProc, by process.
type containerTrace struct {
	procs map[*Process]*ctrProc
}

func (c *containerTrace) of(p *Process) *ctrProc {
	if c.procs == nil {
		c.procs = make(map[*Process]*ctrProc)
	}
	cp := c.procs[p]
	if cp == nil {
		cp = &ctrProc{}
		c.procs[p] = cp
	}
	return cp
}

// get returns p's record, nil when nothing was noted.
func (c *containerTrace) get(p *Process) *ctrProc { return c.procs[p] }

// snapshot notes the cgroups of a snapshot process.
func (c *containerTrace) snapshot(p *Process, sp *format.SnapshotProcess) {
	if len(sp.Cgroup) > 0 {
		c.of(p).cgroup = sp.Cgroup
	}
}

// rootEvent returns the process's first event that changed its root
// directory (pivot_root, chroot, setns), or nil.
func (cp *ctrProc) rootEvent() *nsEvent {
	if cp == nil {
		return nil
	}
	for i := range cp.events {
		if cp.events[i].kind.changesRoot() {
			return &cp.events[i]
		}
	}
	return nil
}

// newRootEvent returns the process's first pivot_root or chroot, or nil.
func (cp *ctrProc) newRootEvent() *nsEvent {
	if cp == nil {
		return nil
	}
	for i := range cp.events {
		if k := cp.events[i].kind; k == enterPivotRoot || k == enterChroot {
			return &cp.events[i]
		}
	}
	return nil
}

// containerSyscall notes a syscall that matters to container detection. It
// is called for every audit syscall event of a process, before the event
// changes the process (p.Cwd is still the working directory before it).
func (b *builder) containerSyscall(p *Process, ev *auditEvent, t int64) {
	sc := ev.sc
	switch sc.name {
	case "clone", "unshare", "setns", "mount", "pivot_root", "chroot":
	default:
		return
	}
	if !sc.ok() {
		return
	}
	switch sc.name {
	case "clone":
		if sc.a[0]&cloneThread == 0 && sc.a[0]&cloneNewAny != 0 && sc.exit > 0 {
			cp := b.ctr.of(p)
			cp.clones = append(cp.clones, nsClone{child: int(sc.exit), flags: sc.a[0], t: t})
		}
	case "unshare":
		if sc.a[0]&cloneNewNS != 0 {
			b.ctr.of(p).addEvent(nsEvent{kind: enterUnshare, t: t, flags: sc.a[0], opSeq: b.opSeq})
		}
	case "setns":
		if nstype := sc.a[1]; nstype == 0 || nstype&cloneNewNS != 0 {
			b.ctr.of(p).addEvent(nsEvent{kind: enterSetns, t: t, flags: nstype, opSeq: b.opSeq})
			// Another mount namespace: its root's host path is not known
			// here (a container's rootfs, found later).
			p.st.root = b.unknownRoot(p)
			p.Root = ""
		}
	case "mount":
		cp := b.ctr.get(p)
		if cp.rootEvent() != nil {
			return // names are relative to another root now
		}
		for i := range ev.paths {
			it := &ev.paths[i]
			k, ok := it.key()
			if !ok || !it.hasName || !path.IsAbs(it.name) || !it.hasMode || it.mode&sIFMT != sIFDIR ||
				strings.HasPrefix(it.name, "/proc/") {
				continue
			}
			if cp == nil {
				cp = b.ctr.of(p)
			}
			if cp.dirs == nil {
				cp.dirs = make(map[devino]string)
			}
			cp.dirs[k] = path.Clean(it.name)
		}
	case "pivot_root", "chroot":
		kind := enterPivotRoot
		if sc.name == "chroot" {
			kind = enterChroot
		}
		root := b.newRoot(p, ev)
		b.ctr.of(p).addEvent(nsEvent{kind: kind, t: t, root: root, opSeq: b.opSeq})
		prev := p.st.root
		switch {
		case root == "":
			p.st.root, p.Root = b.unknownRoot(p), ""
		case kind == enterChroot:
			// In the same mount namespace: the host sees all of the
			// process's paths under the new root.
			p.st.root = rootInfo{ns: root, chroot: prev.chroot || !prev.changed()}
			p.Root = root
		default:
			p.st.root, p.Root = rootInfo{ns: root}, root
		}
	}
}

func (cp *ctrProc) addEvent(e nsEvent) { cp.events = append(cp.events, e) }

// newRoot returns the host path of the new root directory of a pivot_root
// or chroot: its first PATH item. The event's own CWD record cannot tell:
// it is written at the syscall's exit, relative to the new root ("/" after
// runc's pivot_root(".", ".")). In order: the path the process's mount
// calls gave that inode; an absolute name; a relative name under the
// working directory the process had before; the path another event gave
// the inode. "" when none applies. After an earlier root change of the
// process, the result is under that root.
func (b *builder) newRoot(p *Process, ev *auditEvent) string {
	if len(ev.paths) == 0 {
		return ""
	}
	it := &ev.paths[0]
	cp := b.ctr.get(p)
	k, hasKey := it.key()
	var indexed string
	inIndex := false
	if hasKey {
		indexed, inIndex = b.idx.get(p.st.root, k)
	}
	var root string
	switch {
	case hasKey && cp != nil && cp.dirs[k] != "":
		root = cp.dirs[k]
	case inIndex:
		root = indexed
	case it.hasName && path.IsAbs(it.name):
		root = path.Clean(it.name)
	case it.hasName && path.IsAbs(p.Cwd):
		root = path.Join(p.Cwd, it.name)
	}
	if prev := cp.rootEvent(); prev != nil && root != "" {
		if prev.root == "" {
			return ""
		}
		root = path.Join(prev.root, root)
	}
	return root
}

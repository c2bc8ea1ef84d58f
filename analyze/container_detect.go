package analyze

import (
	"path"
	"slices"
	"strings"
)

// Container detection, once the process model is complete (parents,
// execs, ends and files known). It needs audit records only; the /proc
// snapshot adds the containers that started before the recording.
//
// Runtime processes are recognised by their command lines
// (container_runtime.go). A process belongs to a container when:
//
//  1. its parent (its creator) belongs to it: every descendant of a
//     container process is in the container, whatever it runs (except a
//     child the init made before it changed its root: an OCI
//     createContainer hook, the runtime's);
//  2. otherwise, it is not a runtime process on the host, and
//     - it is a snapshot process whose cgroup names a container
//     (container_runtime.go: parseCgroups), or
//     - its nearest ancestors are an OCI runtime invoked with a container
//     id to create, run or exec (`runc create --bundle B ID`, `runc exec
//     ID`), through the runtime's own children only (`runc init`), and
//     it entered the container: it (or the process that created it, at
//     that time) changed its mount namespace or root (unshare
//     CLONE_NEWNS, setns into a mount namespace, pivot_root, chroot, a
//     clone with CLONE_NEWNS), and then either exec'd (the entrypoint, or
//     the command of `docker exec`) or changed its root itself.
//
// So dockerd's own setns calls, the runtime's hooks, runc before its child
// joins the namespaces, the shim and containerd are host processes. The
// processes of create and run are the container's init (the one that
// called pivot_root, else the first); those of exec joined an existing
// container. A runtime process with a container id that changed its own
// root (runc init of a container created but not started) is the
// container's too.
//
// A container is keyed by its id. A create or run of an id whose previous
// container's init has ended starts a new Container; processes exec'd
// into an id join the latest container of that id begun by then.
//
// The runtime processes of a container are the runtime processes with its
// id and their descendants that are not in a container (when an id was
// used by several containers, the one they are above, else the last one
// begun by then), and the hooks its init ran before changing its root.

type containerRole uint8

const (
	roleNone   containerRole = iota
	roleChild                // a descendant of a container process
	roleCgroup               // a snapshot process in the container's cgroup
	roleInit                 // made by the runtime's create or run
	roleExec                 // exec'd into the container
)

// cbuild is a container being built.
type cbuild struct {
	c     *Container
	first int64 // the sort time of its first process
	hint  *cgroupContainer
}

type detector struct {
	b        *builder
	rt       map[*Process]*runtimeArgs
	entries  map[*Process]entry
	assigned map[*Process]*Container
	roles    map[*Process]containerRole
	chains   map[*Process]*Container
	byID     map[string][]*cbuild
	builds   map[*Container]*cbuild
	list     []*cbuild
	// above maps the runtime processes above a container's first processes
	// to the container (lookup).
	above map[*Process]*Container
}

// entry says whether and since when a process sees (or will see) the
// world from a container's namespaces: t is the time of its own first
// namespace or root change, or its start when it inherited one.
type entry struct {
	ok bool
	t  int64
}

// detectContainers finds the containers, sets each process's Container and
// the HostPath of container file operations, and returns the containers
// sorted.
func (b *builder) detectContainers() []*Container {
	d := &detector{
		b: b, rt: map[*Process]*runtimeArgs{}, entries: map[*Process]entry{},
		assigned: map[*Process]*Container{}, roles: map[*Process]containerRole{},
		chains: map[*Process]*Container{}, byID: map[string][]*cbuild{}, builds: map[*Container]*cbuild{},
	}
	for _, p := range b.procs {
		if r := parseRuntimeArgs(p.Argv, p.Exe); r != nil {
			d.rt[p] = r
		}
	}
	for _, p := range b.procs {
		d.assign(p)
	}
	if len(d.list) == 0 {
		return []*Container{}
	}
	for _, p := range b.procs {
		if c := d.assigned[p]; c != nil {
			c.Processes = append(c.Processes, p)
		}
	}
	for _, cb := range d.list {
		d.pickInit(cb.c)
	}
	for _, p := range b.procs {
		if c := d.chain(p); c != nil {
			c.RuntimeProcesses = append(c.RuntimeProcesses, p)
		}
	}
	out := make([]*Container, 0, len(d.list))
	for _, cb := range d.list {
		d.describe(cb)
		d.hostPaths(cb.c)
		id := cb.c.ID
		for _, p := range cb.c.Processes {
			p.Container = &id
			if d.roles[p] == roleExec && (p.Parent == nil || d.assigned[p.Parent] != cb.c) {
				cb.c.ExecSessions = append(cb.c.ExecSessions, &ExecSession{Process: p})
			}
		}
		out = append(out, cb.c)
	}
	slices.SortStableFunc(out, compareContainers)
	return out
}

// entry returns when p entered a container's view (see entry).
func (d *detector) entry(p *Process) entry {
	if e, ok := d.entries[p]; ok {
		return e
	}
	d.entries[p] = entry{} // a cycle would stop here
	var e entry
	cp := d.b.ctr.get(p)
	if cp != nil && len(cp.events) > 0 {
		e = entry{ok: true, t: cp.events[0].t}
	}
	if q := p.Parent; q != nil {
		at := p.SortTime()
		inherited := false
		if qe := d.entry(q); qe.ok && (at == 0 || qe.t <= at) {
			inherited = true
		}
		if qc := d.b.ctr.get(q); !inherited && qc != nil {
			for _, c := range qc.clones {
				if c.child == p.PID && c.flags&cloneNewNS != 0 && (at == 0 || abs64(at-c.t) <= cloneForkWindow) {
					inherited = true
				}
			}
		}
		if inherited && (!e.ok || at < e.t) {
			e = entry{ok: true, t: at}
		}
	}
	d.entries[p] = e
	return e
}

func abs64(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// inside reports whether p entered a container and then exec'd or changed
// its own root.
func (d *detector) inside(p *Process) bool {
	e := d.entry(p)
	if !e.ok {
		return false
	}
	if d.b.ctr.get(p).newRootEvent() != nil {
		return true
	}
	for _, x := range p.Execs {
		if x.Time >= e.t {
			return true
		}
	}
	return false
}

// runtimeAncestor returns the OCI runtime invocation with a container id
// that p descends from through the runtime's own processes only (runc
// init), or nil.
func (d *detector) runtimeAncestor(p *Process) *Process {
	for q, n := p.Parent, 0; q != nil && n < 64; q, n = q.Parent, n+1 {
		r := d.rt[q]
		if r == nil || r.kind != rtOCI {
			return nil
		}
		if r.id != "" {
			return q
		}
	}
	return nil
}

// assign decides p's container (nil: the host), parents first.
func (d *detector) assign(p *Process) *Container {
	if c, ok := d.assigned[p]; ok {
		return c
	}
	d.assigned[p] = nil // a cycle would stop here
	var c *Container
	role := roleNone
	if q := p.Parent; q != nil {
		// A child the container's init made before it changed its root
		// (an OCI createContainer hook) is the runtime's.
		if pc := d.assign(q); pc != nil && !d.beforeRoot(q, p) {
			c, role = pc, roleChild
		}
	}
	if c == nil {
		cp := d.b.ctr.get(p)
		hostRuntime := d.rt[p] != nil && cp.newRootEvent() == nil
		var cg *cgroupContainer
		if !hostRuntime && p.PreExisting && cp != nil {
			cg = parseCgroups(cp.cgroup)
		}
		switch {
		case hostRuntime:
		case cg != nil:
			role = roleCgroup
			c = d.container(cg.id, p, role)
			if cb := d.builds[c]; cb.hint == nil {
				cb.hint = cg
			}
		default:
			if r := d.runtimeAncestor(p); r != nil && d.rt[r].entersContainer() && d.inside(p) {
				role = roleExec
				if d.rt[r].createsContainer() {
					role = roleInit
				}
				c = d.container(d.rt[r].id, p, role)
			}
		}
	}
	d.assigned[p], d.roles[p] = c, role
	return c
}

// beforeRoot reports whether child was created before its parent changed
// its root.
func (d *detector) beforeRoot(parent, child *Process) bool {
	e := d.b.ctr.get(parent).rootEvent()
	at := child.SortTime()
	return e != nil && at != 0 && at < e.t
}

// container returns the container of id that p (with its role) belongs to,
// creating it when needed.
func (d *detector) container(id string, p *Process, role containerRole) *Container {
	at := p.SortTime()
	var cb *cbuild
	cands := d.byID[id]
	for i := len(cands) - 1; i >= 0; i-- {
		if at == 0 || cands[i].first == 0 || cands[i].first <= at {
			cb = cands[i]
			break
		}
	}
	if cb == nil && len(cands) > 0 {
		cb = cands[0]
	}
	if cb != nil && role == roleInit && at != 0 {
		// A create of an id whose container's init has ended: a new one.
		for q, r := range d.roles {
			if r == roleInit && d.assigned[q] == cb.c && q.End != 0 && q.End <= at {
				cb = nil
				break
			}
		}
	}
	if cb == nil {
		cb = &cbuild{c: &Container{ID: id}, first: at}
		d.byID[id] = append(d.byID[id], cb)
		d.builds[cb.c] = cb
		d.list = append(d.list, cb)
	}
	return cb.c
}

// pickInit chooses the container's init: the create/run process that
// changed its root, else the first create/run process, else the first
// snapshot process of its cgroup whose parent is outside the container.
func (d *detector) pickInit(c *Container) {
	var pivoted, made, cg *Process
	for _, p := range c.Processes {
		switch d.roles[p] {
		case roleInit:
			if pivoted == nil && d.b.ctr.get(p).newRootEvent() != nil {
				pivoted = p
			}
			if made == nil {
				made = p
			}
		case roleCgroup:
			if cg == nil && (p.Parent == nil || d.assigned[p.Parent] != c) {
				cg = p
			}
		}
	}
	switch {
	case pivoted != nil:
		c.Init = pivoted
	case made != nil:
		c.Init = made
	case cg != nil:
		c.Init = cg
		c.PreExisting = true
	}
	if c.Init != nil {
		c.Start, c.End, c.ExitCode, c.Signal = c.Init.Start, c.Init.End, c.Init.ExitCode, c.Init.Signal
		if c.Init.PreExisting {
			c.PreExisting = true
		}
	}
}

// chain returns the container whose runtime process p is (nil: none): a
// runtime process with its id, a descendant of one that is in no container,
// a child the container's init made before it changed its root.
func (d *detector) chain(p *Process) *Container {
	if c, ok := d.chains[p]; ok {
		return c
	}
	d.chains[p] = nil
	var c *Container
	switch r := d.rt[p]; {
	case d.assigned[p] != nil:
	case r != nil && r.id != "":
		c = d.lookup(r.id, p)
	case p.Parent != nil && d.assigned[p.Parent] != nil:
		c = d.assigned[p.Parent]
	case p.Parent != nil:
		c = d.chain(p.Parent)
	}
	d.chains[p] = c
	return c
}

// lookup returns the container of id that a runtime process p worked for:
// the one it is an ancestor of (through runtime processes), else the last
// one of the id begun by the time p began; nil when the id has no
// container.
func (d *detector) lookup(id string, p *Process) *Container {
	cands := d.byID[id]
	if len(cands) == 0 {
		return nil
	}
	if d.above == nil {
		d.above = map[*Process]*Container{}
		for _, cb := range d.list {
			for _, q := range cb.c.Processes {
				if q.Parent != nil && d.assigned[q.Parent] == cb.c {
					continue
				}
				for a, n := q.Parent, 0; a != nil && n < 64 && d.rt[a] != nil && d.assigned[a] == nil; a, n = a.Parent, n+1 {
					if d.above[a] == nil {
						d.above[a] = cb.c
					}
				}
			}
		}
	}
	if c := d.above[p]; c != nil && c.ID == id {
		return c
	}
	at := p.SortTime()
	c := cands[0].c
	for _, cb := range cands[1:] {
		if at == 0 || cb.c.sortTime() <= at {
			c = cb.c
		}
	}
	return c
}

// describe sets the runtime, namespace, bundle and rootfs from the
// runtime processes and the ancestors of the container's first processes,
// and from the cgroup path.
func (d *detector) describe(cb *cbuild) {
	c := cb.c
	var manager, namespace, rootManager, rootNamespace, oci string
	var bundle, shimBundle, conmonBundle string
	note := func(q *Process) {
		r := d.rt[q]
		if r == nil {
			return
		}
		switch r.kind {
		case rtShim, rtConmon:
			if manager == "" {
				manager = r.manager
			}
			if namespace == "" {
				namespace = r.namespace
			}
			if r.id == c.ID {
				b := r.bundle
				if b == "" && r.kind == rtShim && path.IsAbs(q.Cwd) && path.Base(q.Cwd) == c.ID {
					b = q.Cwd // containerd starts the v2 shim in the bundle
				}
				if r.kind == rtShim && shimBundle == "" {
					shimBundle = b
				}
				if r.kind == rtConmon && conmonBundle == "" {
					conmonBundle = b
				}
			}
		case rtOCI:
			if oci == "" {
				oci = r.name
			}
			if rootManager == "" {
				rootManager, rootNamespace = r.manager, r.namespace
			}
			if r.id == c.ID && r.createsContainer() && bundle == "" {
				bundle = r.bundle
				if bundle == "" && path.IsAbs(q.Cwd) {
					bundle = q.Cwd // the default bundle: the working directory
				}
			}
		}
	}
	// Nearest first: the ancestors of the container's first processes, then
	// the other runtime processes of its id.
	for _, p := range c.Processes {
		if p.Parent != nil && d.assigned[p.Parent] == c {
			continue
		}
		for q, n := p.Parent, 0; q != nil && n < 64; q, n = q.Parent, n+1 {
			note(q)
		}
	}
	for _, q := range c.RuntimeProcesses {
		note(q)
	}
	if h := cb.hint; h != nil {
		if manager == "" && rootManager == "" {
			manager = h.manager
		}
		if namespace == "" && rootNamespace == "" {
			namespace = h.namespace
		}
	}
	c.Runtime = firstNonEmpty(manager, rootManager, oci)
	c.Namespace = firstNonEmpty(namespace, rootNamespace)
	c.Bundle = firstNonEmpty(bundle, shimBundle, conmonBundle)
	if c.Init != nil {
		if e := d.b.ctr.get(c.Init).newRootEvent(); e != nil {
			c.Rootfs = e.root
		}
	}
	if c.Rootfs == "" {
		for _, p := range c.Processes {
			if e := d.b.ctr.get(p).newRootEvent(); e != nil && e.root != "" && d.roles[p] == roleInit {
				c.Rootfs = e.root
				break
			}
		}
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// hostPaths sets HostView and HostPath on the file operations of the
// container's processes. Inside the container means after the process's
// own root change (pivot_root, chroot, setns), or from its creation when it
// inherited the container's view; operations before are HostView, with
// HostPath their path. Operations inside get, when the rootfs is known,
// HostPath: the path under the rootfs; except paths in the kernel's
// virtual file systems (/proc, /sys, /dev), which a container mounts on
// its own. Mounts inside the container (volumes, the /etc/hosts docker
// binds) are not followed.
func (d *detector) hostPaths(c *Container) {
	for _, p := range c.Processes {
		if p.Root == "" && c.Rootfs != "" {
			p.Root = c.Rootfs
		}
		from := 0
		if e := d.b.ctr.get(p).rootEvent(); e != nil {
			from = e.opSeq
		}
		for i := range p.Files {
			f := &p.Files[i]
			resolved := !f.Unresolved && f.Path != "" && path.IsAbs(f.Path)
			switch {
			case f.seq <= from:
				f.HostView = true
				if resolved {
					f.HostPath = f.Path
				}
			case c.Rootfs != "" && resolved && !virtualPath(f.Path):
				f.HostPath = path.Join(c.Rootfs, f.Path)
			}
		}
	}
}

// virtualPath reports whether a path is in /proc, /sys or /dev.
func virtualPath(p string) bool {
	for _, v := range []string{"/proc", "/sys", "/dev"} {
		if p == v || strings.HasPrefix(p, v+"/") {
			return true
		}
	}
	return false
}

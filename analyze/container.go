package analyze

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Container is a container found in the capture: the processes that ran in
// it, and what its runtime's command lines and the kernel's records say
// about it.
//
// Times are wall-clock nanoseconds since the Unix epoch, 0 when unknown.
type Container struct {
	// ID is the container's id as its runtime names it (the full 64 hex
	// digits for docker, containerd, podman and CRI-O).
	ID string
	// Runtime is the outermost manager found: docker, containerd, podman,
	// cri-o; or, for a runtime run by hand, runc, crun or youki. "" when
	// unknown.
	Runtime string
	// Namespace is the containerd namespace (moby for docker, k8s.io for
	// Kubernetes); "" when there is none or it is unknown.
	Namespace string
	// Rootfs is the container's root directory on the host: the new root
	// of its init's pivot_root (or chroot). "" when unknown (the container
	// started before the capture).
	Rootfs string
	// Bundle is the OCI bundle directory the runtime was given (--bundle,
	// or its working directory), "" when unknown.
	Bundle string
	// Init is the container's first process: the one that called
	// pivot_root and exec'd the entrypoint, or (for a container started
	// before the capture) the snapshot process of its cgroup whose parent
	// is outside. nil when unknown (only processes exec'd into the
	// container were seen).
	Init *Process
	// Processes are every process that belonged to the container, in model
	// order: its init, the processes exec'd into it (docker exec), and
	// their descendants.
	Processes []*Process
	// RuntimeProcesses are the runtime's processes that worked for this
	// container, in model order: its containerd shim, conmon, the OCI
	// runtime's invocations with its id (create, start, exec, kill,
	// delete...), their children that did not enter the container (runc
	// init before the exec, hooks). They are host processes.
	RuntimeProcesses []*Process
	// PreExisting: the container was found in the /proc snapshot (its
	// processes' cgroups): it started before the recording.
	PreExisting bool
	// Start and End are the init's; ExitCode and Signal how the init
	// ended (nil when unknown or still running).
	Start, End int64
	ExitCode   *int
	Signal     *int
	// StartedBy is the client that asked for the container to run (see
	// Launch), nil when the records do not show one. When several clients
	// could have and the records do not tell which, StartedBy is nil and
	// StartedByCandidates holds them.
	StartedBy           *Launch
	StartedByCandidates []*Process
	// ExecSessions are the processes exec'd into the container (docker
	// exec), in model order.
	ExecSessions []*ExecSession
}

// ShortID returns the first 12 characters of the id, as docker shows it.
func (c *Container) ShortID() string {
	if len(c.ID) > 12 && cgroupIDRE.MatchString(c.ID) {
		return c.ID[:12]
	}
	return c.ID
}

// InitPID returns the pid of the init, 0 when unknown.
func (c *Container) InitPID() int {
	if c.Init == nil {
		return 0
	}
	return c.Init.PID
}

// PIDs returns the sorted unique pids of the container's processes.
func (c *Container) PIDs() []int { return uniquePIDs(c.Processes) }

// RuntimePIDs returns the sorted unique pids of the runtime processes.
func (c *Container) RuntimePIDs() []int { return uniquePIDs(c.RuntimeProcesses) }

// Contains reports whether p is one of the container's processes.
func (c *Container) Contains(p *Process) bool {
	return p != nil && p.Container != nil && *p.Container == c.ID && slices.Contains(c.Processes, p)
}

func uniquePIDs(ps []*Process) []int {
	out := make([]int, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.PID)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sortTime is the container's place in time: its start, else the earliest
// of its processes.
func (c *Container) sortTime() int64 {
	if c.Start != 0 {
		return c.Start
	}
	var t int64
	for _, p := range c.Processes {
		if st := p.SortTime(); st != 0 && (t == 0 || st < t) {
			t = st
		}
	}
	return t
}

// Containers returns the containers found in the capture, sorted by start
// (or first process), then id.
func (m *Model) Containers() []*Container { return m.containers }

// Errors of FindContainer.
var (
	ErrNoSuchContainer    = errors.New("analyze: no container with this id in the capture")
	ErrAmbiguousContainer = errors.New("analyze: the id prefix names several containers")
)

// FindContainer returns the container whose id is idPrefix or starts with
// it. No match is ErrNoSuchContainer; several (different ids, or several
// containers that had the same id one after the other) are
// ErrAmbiguousContainer, with the candidates in the message.
func (m *Model) FindContainer(idPrefix string) (*Container, error) {
	return findContainer(m.containers, idPrefix)
}

// FindContainer is Model.FindContainer for the analysis's containers.
func (a *Analysis) FindContainer(idPrefix string) (*Container, error) {
	return findContainer(a.Containers, idPrefix)
}

func findContainer(cs []*Container, prefix string) (*Container, error) {
	if prefix == "" {
		return nil, fmt.Errorf("%w: empty id", ErrNoSuchContainer)
	}
	var found []*Container
	for _, c := range cs {
		if c.ID == prefix {
			found = append(found, c)
		}
	}
	if len(found) == 0 {
		for _, c := range cs {
			if strings.HasPrefix(c.ID, prefix) {
				found = append(found, c)
			}
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: %s", ErrNoSuchContainer, prefix)
	case 1:
		return found[0], nil
	}
	var names []string
	for _, c := range found {
		names = append(names, fmt.Sprintf("%s (init pid %d)", c.ID, c.InitPID()))
	}
	return nil, fmt.Errorf("%w: %s: %s", ErrAmbiguousContainer, prefix, strings.Join(names, ", "))
}

func compareContainers(a, b *Container) int {
	if c := cmp.Compare(a.sortTime(), b.sortTime()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	return cmp.Compare(a.InitPID(), b.InitPID())
}

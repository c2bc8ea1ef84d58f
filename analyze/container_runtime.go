package analyze

import (
	"path"
	"regexp"
	"strings"
)

// What the command lines of container runtimes and the cgroup paths of
// container processes say about containers.
//
// Runtimes, by the base name of argv[0] (or of the executable):
//
//   - OCI runtimes: runc, crun, youki. `runc [global options] COMMAND
//     [options] ID [...]`: the container id is the first argument after the
//     command and its options; create and run take the bundle from
//     --bundle/-b (default: the working directory). `runc init` (the
//     runtime's own child that becomes the container) names no id.
//   - containerd shims: containerd-shim-runc-v2 (and -v1, and the v1
//     containerd-shim) with `-namespace NS -id ID` (v1: `-workdir
//     .../NS/ID`). One shim may serve several containers (a Kubernetes pod:
//     its -id is the sandbox's), so the id of a container is taken from the
//     OCI runtime nearest to it, the namespace from the shim.
//   - conmon (podman, CRI-O): `-c ID` / `--cid ID`, `-b BUNDLE`.
//
// The runtime reported for a container is the outermost manager found:
// docker (a containerd shim in namespace moby, or runc with a --root under
// docker's state directory), containerd (another namespace), podman or
// cri-o (conmon), else the OCI runtime itself (runc, crun, youki).

// runtimeKind classifies a runtime process.
type runtimeKind uint8

const (
	rtNone   runtimeKind = iota
	rtOCI                // runc, crun, youki
	rtShim               // containerd-shim*
	rtConmon             // conmon
)

// runtimeArgs is what a runtime's command line says.
type runtimeArgs struct {
	kind runtimeKind
	name string // runc, crun, youki, containerd-shim-runc-v2, conmon
	// command is the OCI runtime's command: create, run, exec, start,
	// delete, kill, init, ...; "" for shims and conmon.
	command   string
	id        string
	bundle    string // --bundle (OCI create/run), -b (conmon), "" if not given
	root      string // the OCI runtime's --root state directory
	namespace string // the shim's containerd namespace
	manager   string // docker, containerd, podman, cri-o: from the shim or conmon
}

// createsContainer reports whether the OCI runtime command starts a new
// container (its child becomes the container's init).
func (r *runtimeArgs) createsContainer() bool {
	return r.kind == rtOCI && (r.command == "create" || r.command == "run")
}

// entersContainer reports whether the OCI runtime command makes a process
// inside a container: create, run, or exec into an existing one.
func (r *runtimeArgs) entersContainer() bool {
	return r.createsContainer() || (r.kind == rtOCI && r.command == "exec")
}

var ociRuntimes = map[string]bool{"runc": true, "crun": true, "youki": true, "docker-runc": true}

// OCI runtime options that take a value, global and per command. Options
// not listed are flags; "--opt=value" is always one argument. The lists
// are those of runc 1.1 and crun 1.x.
var (
	ociGlobalValueOpts = map[string]bool{
		"root": true, "log": true, "log-format": true, "log-level": true, "criu": true,
		"rootless": true, "cgroup-manager": true,
	}
	ociCommandValueOpts = map[string]bool{
		"bundle": true, "b": true, "console-socket": true, "pid-file": true, "preserve-fds": true,
		"cwd": true, "env": true, "e": true, "user": true, "u": true, "additional-gids": true, "g": true,
		"process": true, "p": true, "apparmor": true, "process-label": true, "cap": true, "c": true,
		"cgroup": true, "config": true, "f": true, "format": true, "image-path": true, "work-path": true,
		"parent-path": true, "page-server": true, "manage-cgroups-mode": true, "empty-ns": true,
		"status-fd": true,
	}
)

// parseRuntimeArgs recognises a runtime's command line; nil when argv is
// not one. exe is the executable, used when argv[0] was changed.
func parseRuntimeArgs(argv []string, exe string) *runtimeArgs {
	if len(argv) == 0 {
		return nil
	}
	name := path.Base(argv[0])
	kind := runtimeKindOf(name)
	if kind == rtNone && exe != "" {
		if k := runtimeKindOf(path.Base(exe)); k != rtNone {
			name, kind = path.Base(exe), k
		}
	}
	switch kind {
	case rtOCI:
		return parseOCIArgs(name, argv[1:])
	case rtShim:
		return parseShimArgs(name, argv[1:])
	case rtConmon:
		return parseConmonArgs(argv[1:])
	}
	return nil
}

func runtimeKindOf(name string) runtimeKind {
	switch {
	case ociRuntimes[name]:
		return rtOCI
	case strings.HasPrefix(name, "containerd-shim"):
		return rtShim
	case name == "conmon":
		return rtConmon
	}
	return rtNone
}

// optName returns the name of an option argument ("--bundle" → "bundle")
// and whether it carries its value ("--bundle=/x").
func optName(a string) (name, value string, inline bool) {
	name = strings.TrimLeft(a, "-")
	if i := strings.IndexByte(name, '='); i >= 0 {
		return name[:i], name[i+1:], true
	}
	return name, "", false
}

// scanOptions walks the options of args from i (up to "--" or the first
// argument that is not an option), calling fn with each option's name and
// value; valueOpts names the options whose value is the next argument. It
// returns the index of the first argument after the options.
func scanOptions(args []string, i int, valueOpts map[string]bool, fn func(name, value string)) int {
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return i + 1
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return i
		}
		n, v, inline := optName(a)
		if valueOpts[n] && !inline && i+1 < len(args) {
			i++
			v = args[i]
		}
		fn(n, v)
	}
	return i
}

func parseOCIArgs(name string, args []string) *runtimeArgs {
	r := &runtimeArgs{kind: rtOCI, name: name}
	// Global options, then the command.
	i := scanOptions(args, 0, ociGlobalValueOpts, func(n, v string) {
		if n == "root" {
			r.root = v
		}
	})
	if i >= len(args) {
		return r
	}
	r.command = args[i]
	// The command's options, then the id.
	i = scanOptions(args, i+1, ociCommandValueOpts, func(n, v string) {
		if n == "bundle" || n == "b" {
			r.bundle = v
		}
	})
	if i < len(args) && r.command != "init" && r.command != "list" && r.command != "spec" &&
		r.command != "features" && r.command != "help" {
		r.id = args[i]
	}
	r.manager, r.namespace = managerFromRoot(r.root)
	return r
}

// managerFromRoot recognises the state directories containerd and docker
// give runc (--root): /run/containerd/runc/NS and
// /var/run/docker/runtime-runc/NS (docker 20.10: the namespace is moby).
func managerFromRoot(root string) (manager, namespace string) {
	root = path.Clean(root)
	dir, ns := path.Split(root)
	dir = path.Clean(dir)
	switch {
	case root == "." || ns == "":
	case strings.HasSuffix(dir, "/docker/runtime-runc"):
		return "docker", ns
	case strings.HasSuffix(dir, "/containerd/runc"):
		if ns == "moby" {
			return "docker", ns
		}
		return "containerd", ns
	}
	return "", ""
}

func parseShimArgs(name string, args []string) *runtimeArgs {
	r := &runtimeArgs{kind: rtShim, name: name}
	var workdir string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			continue // start, delete: the shim's own commands
		}
		n, v, inline := optName(a)
		switch n {
		case "namespace", "id", "workdir", "address", "publish-binary", "bundle", "containerd-binary", "runtime-root", "socket":
			if !inline && i+1 < len(args) {
				i++
				v = args[i]
			}
		default:
			continue // -debug, -systemd-cgroup, ...
		}
		switch n {
		case "namespace":
			r.namespace = v
		case "id":
			r.id = v
		case "workdir":
			workdir = v
		case "bundle":
			r.bundle = v
		}
	}
	if r.id == "" && workdir != "" {
		// containerd-shim v1: -workdir /var/lib/containerd/io.containerd.runtime.v1.linux/NS/ID
		r.id = path.Base(path.Clean(workdir))
		if r.namespace == "" {
			r.namespace = path.Base(path.Dir(path.Clean(workdir)))
		}
	}
	r.manager = "containerd"
	if r.namespace == "moby" {
		r.manager = "docker"
	}
	return r
}

func parseConmonArgs(args []string) *runtimeArgs {
	r := &runtimeArgs{kind: rtConmon, name: "conmon", manager: "podman"}
	crio := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.Contains(a, "crio") || strings.Contains(a, "/var/log/pods/") {
			crio = true
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		n, v, inline := optName(a)
		switch n {
		case "c", "cid", "b", "bundle":
			if !inline && i+1 < len(args) {
				i++
				v = args[i]
			}
			if n == "c" || n == "cid" {
				r.id = v
			} else {
				r.bundle = v
			}
		}
	}
	if crio {
		r.manager = "cri-o"
	}
	return r
}

// cgroupContainer is what a cgroup path says about a container.
type cgroupContainer struct {
	id        string
	manager   string // docker, containerd, podman, cri-o, or "" (kubepods alone)
	namespace string
}

// Container ids in cgroup paths are 64 hex digits.
var (
	cgroupScopeRE = regexp.MustCompile(`^(docker|libpod|crio|cri-containerd)-([0-9a-f]{64})\.scope$`)
	cgroupIDRE    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// parseCgroups reads the lines of /proc/PID/cgroup ("ID:CONTROLLERS:PATH",
// cgroup v1 and v2) and returns the container the paths name, if any:
//
//   - systemd driver: .../docker-ID.scope, libpod-ID.scope (podman),
//     crio-ID.scope (CRI-O), cri-containerd-ID.scope (containerd's CRI);
//     libpod-conmon-ID.scope and crio-conmon-ID.scope are conmon's, not
//     the container's;
//   - cgroupfs driver: /docker/ID, /libpod_parent/libpod-ID,
//     /kubepods/.../podUID/ID, /NS/ID (containerd: nerdctl, ctr).
//
// The v2 line (0::) is preferred; otherwise the first v1 line that names a
// container.
func parseCgroups(lines []string) *cgroupContainer {
	var found *cgroupContainer
	for _, l := range lines {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		c := cgroupPathContainer(parts[2])
		if c == nil {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			return c
		}
		if found == nil {
			found = c
		}
	}
	return found
}

func cgroupPathContainer(p string) *cgroupContainer {
	elems := strings.Split(strings.Trim(p, "/"), "/")
	for i := len(elems) - 1; i >= 0; i-- {
		e := elems[i]
		if m := cgroupScopeRE.FindStringSubmatch(e); m != nil {
			c := &cgroupContainer{id: m[2]}
			switch m[1] {
			case "docker":
				c.manager, c.namespace = "docker", "moby"
			case "libpod":
				c.manager = "podman"
			case "crio":
				c.manager = "cri-o"
			case "cri-containerd":
				c.manager, c.namespace = "containerd", "k8s.io"
			}
			return c
		}
		if strings.HasPrefix(e, "libpod-") && cgroupIDRE.MatchString(strings.TrimPrefix(e, "libpod-")) {
			return &cgroupContainer{id: strings.TrimPrefix(e, "libpod-"), manager: "podman"}
		}
		if !cgroupIDRE.MatchString(e) {
			continue
		}
		c := &cgroupContainer{id: e}
		if i > 0 {
			switch parent := elems[i-1]; {
			case parent == "docker":
				c.manager, c.namespace = "docker", "moby"
			case strings.HasPrefix(parent, "pod") || strings.HasPrefix(elems[0], "kubepods"):
				// a Kubernetes pod: the runtime is not named
			case i == 1:
				c.manager, c.namespace = "containerd", parent
			}
		}
		return c
	}
	return nil
}

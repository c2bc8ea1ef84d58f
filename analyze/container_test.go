package analyze

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/format"
)

// x86_64 numbers of the syscalls container detection reads.
const (
	nrMount, nrPivotRoot, nrChroot, nrUnshare, nrSetns = 165, 155, 161, 272, 308
	nrMknodat2                                         = 259
)

const (
	ctrID     = "a098d070a1bf8b4fe13d763027849675c2b46c0dbef6fe97744c3931f894fb68"
	ctrBundle = "/run/docker/containerd/daemon/io.containerd.runtime.v2.task/moby/" + ctrID
	ctrRootfs = "/var/lib/docker/overlay2/0d55b962f4b8/merged"
	runcRoot  = "/var/run/docker/runtime-runc/moby"
	// runc's clone for its children: CLONE_PARENT|SIGCHLD.
	cloneParentFlags = 0x8011
	// runc:[1:CHILD]'s unshare: NEWNS|NEWUTS|NEWIPC|NEWPID|NEWNET|NEWCGROUP.
	runcUnshare = 0x6c020000
)

// ctrCall is a SYSCALL record of process pid (ppid) with comm and exe.
func ctrCall(nr, pid, ppid int, exit int64, comm, exe string, a ...uint64) call {
	k := call{nr: nr, pid: pid, ppid: ppid, exit: exit, comm: comm, exe: exe}
	copy(k.a[:], a)
	return k
}

// dockerScenario is what audit records of a docker run and a docker exec
// look like (a real trace, shortened): the shim, runc create, runc init,
// runc:[1:CHILD] unsharing the namespaces, runc:[2:INIT] (created with
// CLONE_PARENT) bind-mounting the rootfs onto itself, making /dev nodes,
// pivot_root(".", "."), exec'ing the entrypoint; the entrypoint writing a
// file and forking a child (whose clone returns a pid of the container's
// namespace); a runc hook; dockerd's own setns; then runc exec, whose
// runc:[1:CHILD] joins the mount namespace with setns and whose
// runc:[2:INIT] execs the command.
func dockerScenario(t testing.TB, auditAlone bool) *tcap {
	c := newCap(t)
	if auditAlone {
		c.auditOnly()
	}
	serial := 100
	ev := func(ms int64, recs ...rec) {
		serial++
		c.event(ms, serial, recs...)
	}
	execve := func(ms int64, pid, ppid int, exe, cwd string, argv ...string) {
		serial++
		c.auditExec(ms, serial, pid, ppid, exe, cwd, argv...)
	}
	clone := func(ms int64, pid, ppid, child int, flags uint64, comm, exe string) {
		ev(ms, ctrCall(nrClone, pid, ppid, int64(child), comm, exe, flags).rec())
	}
	fork := func(ms float64, parent, child int) {
		if !auditAlone {
			c.fork(ms, parent, parent, child, child)
		}
	}
	exit := func(ms int64, pid, ppid, code int) {
		serial++
		c.auditExitGroup(ms, serial, pid, ppid, code)
		if !auditAlone {
			c.exit(float64(ms)+0.5, pid, pid, uint32(code)<<8)
		}
	}
	shim := "/usr/bin/containerd-shim-runc-v2"
	if !auditAlone {
		c.snap(-5000, format.SnapshotProcess{PID: 1, Comm: "init", Exe: "/sbin/init", Argv: []string{"/sbin/init"}, Cwd: "/"})
		c.snap(-4000, format.SnapshotProcess{PID: 50, PPID: 1, Comm: "dockerd", Exe: "/usr/sbin/dockerd", Argv: []string{"dockerd"}, Cwd: "/",
			Cgroup: []string{"0::/system.slice/docker.service"}})
		c.snap(-3000, format.SnapshotProcess{PID: 60, PPID: 50, Comm: "containerd", Exe: "/usr/bin/containerd", Argv: []string{"containerd"}, Cwd: "/"})
	}
	// dockerd joins a network namespace: not a container.
	ev(1, ctrCall(nrSetns, 50, 1, 0, "dockerd", "/usr/sbin/dockerd", 0x1c, cloneNewNet).rec())

	// The shim, started by containerd.
	fork(2, 60, 200)
	clone(2, 60, 50, 200, cloneFork, "containerd", "/usr/bin/containerd")
	execve(3, 200, 60, shim, ctrBundle, shim, "-namespace", "moby", "-id", ctrID, "-address", "/run/containerd/containerd.sock")
	// runc create.
	fork(4, 200, 300)
	clone(4, 200, 60, 300, cloneFork, "containerd-shim", shim)
	execve(5, 300, 200, "/usr/sbin/runc", ctrBundle, "runc", "--root", runcRoot, "--log", ctrBundle+"/log.json", "--log-format", "json",
		"create", "--bundle", ctrBundle, "--pid-file", ctrBundle+"/init.pid", ctrID)
	// runc init ([0:PARENT]) and runc:[1:CHILD].
	fork(6, 300, 301)
	clone(6, 300, 200, 301, cloneFork, "runc", "/usr/sbin/runc")
	execve(7, 301, 300, "/usr/sbin/runc", ctrBundle, "runc", "init")
	fork(8, 301, 302)
	clone(8, 301, 300, 302, cloneParentFlags, "runc:[0:PARENT]", "/")
	ev(9, ctrCall(nrUnshare, 302, 300, 0, "runc:[1:CHILD]", "/", runcUnshare).rec())
	// runc:[2:INIT]: CLONE_PARENT makes runc create its parent.
	clone(10, 302, 300, 303, cloneParentFlags, "runc:[1:CHILD]", "/")
	if !auditAlone {
		c.fork(10.2, 300, 300, 303, 303)
	}
	exit(11, 302, 300, 0)
	// Its setup: the rootfs bind-mounted onto itself, /dev nodes, then
	// pivot_root(".", "."), whose CWD record is the new root.
	ev(12, ctrCall(nrMount, 303, 300, 0, "runc:[2:INIT]", "/", 0, 0, 0, 0x5000).rec(), cwdRec(ctrRootfs),
		pathRec(0, ctrRootfs, 5000, "040755", "NORMAL"), pathRec(1, ctrRootfs, 5000, "040755", "NORMAL"))
	ev(13, ctrCall(nrMknodat2, 303, 300, 0, "runc:[2:INIT]", "/", atCWD, 0, 0o20666, 0x103).rec(), cwdRec(ctrRootfs),
		pathRec(0, ctrRootfs+"/dev", 5001, "040755", "PARENT"), pathRec(1, ctrRootfs+"/dev/null", 5002, "020666", "CREATE"))
	ev(14, ctrCall(nrPivotRoot, 303, 300, 0, "runc:[2:INIT]", "/").rec(), cwdRec("/"),
		pathRec(0, ".", 5000, "040755", "NORMAL"), pathRec(1, ".", 5000, "040755", "NORMAL"))
	ev(15, ctrCall(nrOpenat, 303, 300, 3, "runc:[2:INIT]", "/", atCWD, 0, 0o1).rec(), cwdRec("/"),
		pathRec(0, "/proc/sys/net/ipv4/ping_group_range", 7, "0100644", "NORMAL"))
	// A hook run by runc create: on the host.
	fork(15, 300, 310)
	clone(15, 300, 200, 310, cloneFork, "runc", "/usr/sbin/runc")
	execve(15, 310, 300, "/usr/sbin/dockerd", ctrBundle, "libnetwork-setkey", "-exec-root=/var/run/docker", ctrID)
	ev(16, ctrCall(nrSetns, 310, 300, 0, "exe", "/usr/sbin/dockerd", 7, cloneNewNet).rec())
	exit(16, 310, 300, 0)
	exit(17, 300, 200, 0)
	// The entrypoint.
	execve(20, 303, 200, "/bin/busybox", "/", "sh", "-c", "echo hi > /data.txt; (echo c > /tmp/c.txt) & wait; exit 3")
	ev(21, ctrCall(nrOpenat, 303, 200, 3, "sh", "/bin/busybox", atCWD, 0, 0o1101, 0o666).rec(), cwdRec("/"),
		pathRec(0, "/", 5000, "040755", "PARENT"), pathRec(1, "/data.txt", 6000, "0100644", "CREATE"))
	// The child: the clone returns 7, the child's own records say 304.
	clone(22, 303, 200, 7, cloneFork, "sh", "/bin/busybox")
	fork(22.1, 303, 304)
	ev(23, ctrCall(nrOpenat, 304, 303, 3, "sh", "/bin/busybox", atCWD, 0, 0o1101, 0o666).rec(), cwdRec("/"),
		pathRec(0, "/tmp", 5003, "041777", "PARENT"), pathRec(1, "/tmp/c.txt", 6001, "0100644", "CREATE"))
	exit(24, 304, 303, 0)

	// docker exec: runc exec, runc init, runc:[1:CHILD] joins with setns,
	// runc:[2:INIT] execs the command.
	fork(30, 200, 400)
	clone(30, 200, 60, 400, cloneFork, "containerd-shim", shim)
	execve(31, 400, 200, "/usr/sbin/runc", ctrBundle, "runc", "--root", runcRoot, "--log", ctrBundle+"/log.json", "--log-format", "json",
		"exec", "--process", "/tmp/runc-process1", "--detach", "--pid-file", ctrBundle+"/e1.pid", ctrID)
	fork(32, 400, 401)
	clone(32, 400, 200, 401, cloneFork, "runc", "/usr/sbin/runc")
	execve(33, 401, 400, "/usr/sbin/runc", ctrBundle, "runc", "init")
	fork(34, 401, 402)
	clone(34, 401, 400, 402, cloneParentFlags, "runc:[0:PARENT]", "/")
	for i, ns := range []uint64{cloneNewIPC, cloneNewUTS, cloneNewNet, cloneNewPID, cloneNewNS} {
		ev(35, ctrCall(nrSetns, 402, 400, 0, "runc:[1:CHILD]", "/", uint64(6+i), ns).rec())
	}
	clone(36, 402, 400, 403, cloneParentFlags, "runc:[1:CHILD]", "/")
	if !auditAlone {
		c.fork(36.2, 400, 400, 403, 403)
	}
	exit(37, 402, 400, 0)
	exit(37, 401, 400, 0)
	execve(38, 403, 400, "/bin/busybox", "/", "sh", "-c", "echo x > /exec.txt")
	ev(39, ctrCall(nrOpenat, 403, 400, 3, "sh", "/bin/busybox", atCWD, 0, 0o1101, 0o666).rec(), cwdRec("/"),
		pathRec(0, "/", 5000, "040755", "PARENT"), pathRec(1, "/exec.txt", 6002, "0100644", "CREATE"))
	exit(40, 400, 200, 0)
	exit(41, 403, 400, 0)

	exit(50, 303, 200, 3)
	return c
}

func TestContainerDockerRunAndExec(t *testing.T) {
	for _, auditAlone := range []bool{false, true} {
		name := "all sources"
		if auditAlone {
			name = "audit alone"
		}
		t.Run(name, func(t *testing.T) {
			m := dockerScenario(t, auditAlone).model()
			cs := m.Containers()
			if len(cs) != 1 {
				t.Fatalf("%d containers, want 1\n%s", len(cs), dump(m))
			}
			c := cs[0]
			if c.ID != ctrID || c.ShortID() != ctrID[:12] || c.Runtime != "docker" || c.Namespace != "moby" ||
				c.Rootfs != ctrRootfs || c.Bundle != ctrBundle || c.PreExisting {
				t.Errorf("container %+v", c)
			}
			if c.InitPID() != 303 || c.ExitCode == nil || *c.ExitCode != 3 || c.Start == 0 || c.End == 0 {
				t.Errorf("init %d exit %v start %d end %d", c.InitPID(), deref(c.ExitCode), c.Start, c.End)
			}
			if got := c.PIDs(); !slices.Equal(got, []int{303, 304, 403}) {
				t.Errorf("pids %v, want [303 304 403]\n%s", got, dump(m))
			}
			if got := c.RuntimePIDs(); !slices.Equal(got, []int{200, 300, 301, 302, 310, 400, 401, 402}) {
				t.Errorf("runtime pids %v", got)
			}
			for _, p := range m.Processes {
				in := slices.Contains(c.PIDs(), p.PID)
				if in != (p.Container != nil) || (in && *p.Container != ctrID) {
					t.Errorf("pid %d: container %v", p.PID, p.Container)
				}
			}
			// The files, as the processes saw them, and on the host.
			init := one(t, m, 303)
			for _, w := range []struct {
				pid            int
				op, path, host string
				hostView       bool
			}{
				{303, "mknod", ctrRootfs + "/dev/null", ctrRootfs + "/dev/null", true},
				{303, "open_write", "/proc/sys/net/ipv4/ping_group_range", "", false},
				{303, "create", "/data.txt", ctrRootfs + "/data.txt", false},
				{304, "create", "/tmp/c.txt", ctrRootfs + "/tmp/c.txt", false},
				{403, "create", "/exec.txt", ctrRootfs + "/exec.txt", false},
			} {
				f := findOp(one(t, m, w.pid), w.op, w.path)
				if f == nil {
					t.Errorf("pid %d: no %s %s: %q", w.pid, w.op, w.path, ops(one(t, m, w.pid)))
					continue
				}
				if f.HostPath != w.host || f.HostView != w.hostView {
					t.Errorf("pid %d: %s %s: host path %q view %v, want %q %v", w.pid, w.op, w.path, f.HostPath, f.HostView, w.host, w.hostView)
				}
			}
			if !slices.Equal(init.Argv[:2], []string{"sh", "-c"}) {
				t.Errorf("init argv %q", init.Argv)
			}
			// The hook's files would have no host path: it is not in the
			// container.
			for _, p := range procs(m, 310) {
				if p.Container != nil {
					t.Errorf("the hook is in container %s", *p.Container)
				}
			}
		})
	}
}

func TestContainerReports(t *testing.T) {
	a := analyzeCap(t, dockerScenario(t, false))
	text := report(t, a, Options{Format: "text"})
	golden(t, "containers.txt", text)
	golden(t, "containers.json", report(t, a, Options{Format: "json"}))
	golden(t, "containers-one.txt", report(t, a, Options{Format: "text", Container: "a098"}))
	golden(t, "containers-pid300.txt", report(t, a, Options{Format: "text", PID: 300}))

	for _, s := range []string{
		"containers: 1 (a098d070a1bf)\n",
		"\ncontainer a098d070a1bf  docker (namespace moby)  rootfs " + ctrRootfs + "  ",
		"  exit 3\n303 sh -c ",
		"\nhost\n",
		"→ container a098d070a1bf",
		ctrRootfs + "/dev/null (host path, before entering): mknod",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("the text report has no %q:\n%s", s, text)
		}
	}
	// The container's processes are in its section only.
	host := text[strings.Index(text, "\nhost\n"):]
	if strings.Contains(host, "/data.txt: create") || strings.Contains(host, "/exec.txt: create") {
		t.Errorf("container files in the host tree:\n%s", host)
	}

	var r struct {
		Processes []struct {
			PID       int     `json:"pid"`
			Container *string `json:"container"`
			Files     []struct {
				Path     string `json:"path"`
				HostPath string `json:"host_path"`
				HostView bool   `json:"host_view"`
			} `json:"files"`
		} `json:"processes"`
		Containers []map[string]any `json:"containers"`
	}
	if err := json.Unmarshal([]byte(report(t, a, Options{Format: "json", Container: ctrID})), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Containers) != 1 || r.Containers[0]["id"] != ctrID || r.Containers[0]["init_pid"] != 303.0 ||
		r.Containers[0]["rootfs"] != ctrRootfs || r.Containers[0]["exit_code"] != 3.0 {
		t.Errorf("containers %v", r.Containers)
	}
	for _, k := range []string{"id", "runtime", "namespace", "rootfs", "bundle", "init_pid", "pids", "start", "end", "exit_code"} {
		if _, ok := r.Containers[0][k]; !ok {
			t.Errorf("container without %q", k)
		}
	}
	var pids []int
	for _, p := range r.Processes {
		pids = append(pids, p.PID)
		if p.Container == nil || *p.Container != ctrID {
			t.Errorf("pid %d: container %v", p.PID, p.Container)
		}
	}
	if !slices.Equal(pids, []int{303, 304, 403}) {
		t.Errorf("--container: processes %v", pids)
	}
}

func TestContainerSelectionErrors(t *testing.T) {
	file := dockerScenario(t, false).file()
	a, err := AnalyzeFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		o    Options
		want error
	}{
		{Options{Container: "ffff"}, ErrNoSuchContainer},
		{Options{Container: "a098", PID: 303}, nil},
	} {
		err := a.Write(&strings.Builder{}, tc.o)
		if tc.want != nil && !errors.Is(err, tc.want) || tc.want == nil && err == nil {
			t.Errorf("%+v: %v, want %v", tc.o, err, tc.want)
		}
	}
	c, err := a.FindContainer(ctrID[:5])
	if err != nil || c.ID != ctrID {
		t.Errorf("FindContainer(prefix): %v, %v", c, err)
	}
	two := []*Container{{ID: "abc1"}, {ID: "abc2"}, {ID: "abc"}}
	if _, err := findContainer(two, "abc"); err != nil {
		t.Errorf("an exact id is not ambiguous: %v", err)
	}
	if _, err := findContainer(two, "ab"); !errors.Is(err, ErrAmbiguousContainer) {
		t.Errorf("ambiguous prefix: %v", err)
	}
}

// A container started before the recording: its processes are in the
// snapshot with its cgroup; a child it forks during the capture is its too.
func TestContainerFromSnapshotCgroup(t *testing.T) {
	c := newCap(t)
	scope := "0::/system.slice/docker-" + ctrID + ".scope"
	c.snap(-9000, format.SnapshotProcess{PID: 1, Comm: "systemd", Argv: []string{"/sbin/init"}, Cgroup: []string{"0::/init.scope"}})
	c.snap(-8000, format.SnapshotProcess{PID: 200, PPID: 1, Comm: "containerd-shim", Exe: "/usr/bin/containerd-shim-runc-v2", Cwd: ctrBundle,
		Argv:   []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "moby", "-id", ctrID, "-address", "/run/containerd/containerd.sock"},
		Cgroup: []string{"0::/system.slice/containerd.service"}})
	c.snap(-7000, format.SnapshotProcess{PID: 300, PPID: 200, Comm: "nginx", Exe: "/usr/sbin/nginx", Argv: []string{"nginx"}, Cwd: "/", Cgroup: []string{scope}})
	c.snap(-6000, format.SnapshotProcess{PID: 301, PPID: 300, Comm: "nginx", Exe: "/usr/sbin/nginx", Argv: []string{"nginx: worker"}, Cwd: "/", Cgroup: []string{scope}})
	c.snap(-5000, format.SnapshotProcess{PID: 400, PPID: 1, Comm: "bash", Exe: "/bin/bash", Argv: []string{"bash"}, Cwd: "/root", Cgroup: []string{"0::/user.slice/user-0.slice/session-1.scope"}})
	c.fork(1, 301, 301, 302, 302)
	c.auditExec(2, 10, 302, 301, "/bin/logrotate", "/", "logrotate")
	c.exec(2.5, 302)
	c.event(3, 11, call{nr: nrOpenat, pid: 302, ppid: 301, exit: 3, a: [4]uint64{atCWD, 0, 0o1101}, items: 2, comm: "logrotate", exe: "/bin/logrotate"}.rec(),
		cwdRec("/"), pathRec(0, "/var/log", 2, "040755", "PARENT"), pathRec(1, "/var/log/x.1", 300, "0100644", "CREATE"))
	c.auditExitGroup(4, 12, 302, 301, 0)
	c.exit(4.5, 302, 302, 0)
	m := c.model()
	cs := m.Containers()
	if len(cs) != 1 {
		t.Fatalf("%d containers\n%s", len(cs), dump(m))
	}
	ctr := cs[0]
	if ctr.ID != ctrID || !ctr.PreExisting || ctr.InitPID() != 300 || ctr.Runtime != "docker" || ctr.Namespace != "moby" ||
		ctr.Rootfs != "" || ctr.Bundle != ctrBundle {
		t.Errorf("container %+v (init %d)", ctr, ctr.InitPID())
	}
	if got := ctr.PIDs(); !slices.Equal(got, []int{300, 301, 302}) {
		t.Errorf("pids %v", got)
	}
	if got := ctr.RuntimePIDs(); !slices.Equal(got, []int{200}) {
		t.Errorf("runtime pids %v", got)
	}
	if f := findOp(one(t, m, 302), "create", "/var/log/x.1"); f == nil || f.HostPath != "" || f.HostView {
		t.Errorf("a file with the rootfs unknown: %+v", f)
	}
	if p := one(t, m, 400); p.Container != nil {
		t.Errorf("bash on the host is in %s", *p.Container)
	}
}

// A bare `runc run` twice with the same name: two containers, runtime runc,
// the bundle from the working directory.
func TestContainerRuncRunTwice(t *testing.T) {
	c := newCap(t).auditOnly()
	serial := 0
	ev := func(ms int64, recs ...rec) { serial++; c.event(ms, serial, recs...) }
	for i, base := range []int{100, 200} {
		ms := int64(i * 100)
		run, initp, child, ctr := base, base+1, base+2, base+3
		bundle := "/srv/bundle"
		ev(ms+1, ctrCall(nrExecve, run, 10, 0, "runc", "/usr/sbin/runc").rec(), execveRec("runc", "run", "web"), cwdRec(bundle))
		ev(ms+2, ctrCall(nrClone, run, 10, int64(initp), "runc", "/usr/sbin/runc", cloneFork).rec())
		ev(ms+3, ctrCall(nrExecve, initp, run, 0, "runc", "/usr/sbin/runc").rec(), execveRec("runc", "init"), cwdRec(bundle))
		ev(ms+4, ctrCall(nrClone, initp, run, int64(child), "runc:[0:PARENT]", "/", cloneParentFlags).rec())
		ev(ms+5, ctrCall(nrUnshare, child, run, 0, "runc:[1:CHILD]", "/", runcUnshare).rec())
		ev(ms+6, ctrCall(nrClone, child, run, int64(ctr), "runc:[1:CHILD]", "/", cloneParentFlags).rec())
		ev(ms+7, ctrCall(nrMount, ctr, run, 0, "runc:[2:INIT]", "/", 0, 0, 0, 0x5000).rec(), cwdRec(bundle+"/rootfs"),
			pathRec(0, bundle+"/rootfs", 900, "040755", "NORMAL"), pathRec(1, bundle+"/rootfs", 900, "040755", "NORMAL"))
		ev(ms+8, ctrCall(nrPivotRoot, ctr, run, 0, "runc:[2:INIT]", "/").rec(), cwdRec("/"),
			pathRec(0, ".", 900, "040755", "NORMAL"), pathRec(1, ".", 900, "040755", "NORMAL"))
		ev(ms+9, ctrCall(nrExecve, ctr, run, 0, "sh", "/bin/busybox").rec(), execveRec("sh"), cwdRec("/"))
		ev(ms+10, ctrCall(nrExitGroup, ctr, run, 0, "sh", "/bin/busybox", uint64(i)).rec())
		ev(ms+11, ctrCall(nrExitGroup, run, 10, 0, "runc", "/usr/sbin/runc", uint64(i)).rec())
	}
	m := c.model()
	cs := m.Containers()
	if len(cs) != 2 {
		t.Fatalf("%d containers\n%s", len(cs), dump(m))
	}
	for i, ctr := range cs {
		if ctr.ID != "web" || ctr.Runtime != "runc" || ctr.Namespace != "" || ctr.Bundle != "/srv/bundle" ||
			ctr.Rootfs != "/srv/bundle/rootfs" || ctr.InitPID() != 103+100*i || ctr.ExitCode == nil || *ctr.ExitCode != i {
			t.Errorf("container %d: %+v init %d exit %v", i, ctr, ctr.InitPID(), deref(ctr.ExitCode))
		}
		if want := []int{100 + 100*i, 101 + 100*i, 102 + 100*i}; !slices.Equal(ctr.RuntimePIDs(), want) {
			t.Errorf("container %d: runtime pids %v, want %v", i, ctr.RuntimePIDs(), want)
		}
	}
	if _, err := m.FindContainer("web"); !errors.Is(err, ErrAmbiguousContainer) {
		t.Errorf("two containers named web: %v", err)
	}
}

// crun makes the container's process with clone(CLONE_NEWNS|...) and
// without exec until the entrypoint's.
func TestContainerCrunClone(t *testing.T) {
	c := newCap(t).auditOnly()
	c.event(1, 1, ctrCall(nrExecve, 500, 1, 0, "crun", "/usr/bin/crun").rec(),
		execveRec("crun", "--cgroup-manager=systemd", "create", "--bundle", "/b", "c1"), cwdRec("/"))
	c.event(2, 2, ctrCall(nrClone, 500, 1, 501, "crun", "/usr/bin/crun", cloneNewNS|cloneNewPID|cloneNewUTS|0x11).rec())
	c.event(3, 3, ctrCall(nrMount, 501, 500, 0, "crun", "/usr/bin/crun", 0, 0, 0, 0x5000).rec(), cwdRec("/"),
		pathRec(0, "/b/rootfs", 70, "040755", "NORMAL"), pathRec(1, "/b/rootfs", 70, "040755", "NORMAL"))
	c.event(4, 4, ctrCall(nrPivotRoot, 501, 500, 0, "crun", "/usr/bin/crun").rec(), cwdRec("/"),
		pathRec(0, ".", 70, "040755", "NORMAL"), pathRec(1, ".", 70, "040755", "NORMAL"))
	c.event(5, 5, ctrCall(nrExecve, 501, 1, 0, "app", "/app").rec(), execveRec("/app"), cwdRec("/"))
	m := c.model()
	cs := m.Containers()
	if len(cs) != 1 || cs[0].ID != "c1" || cs[0].Runtime != "crun" || cs[0].InitPID() != 501 || cs[0].Rootfs != "/b/rootfs" ||
		cs[0].Bundle != "/b" || !slices.Equal(cs[0].RuntimePIDs(), []int{500}) {
		t.Fatalf("containers %+v\n%s", cs, dump(m))
	}
}

// Namespaces and root changes outside a container runtime make no
// container: unshare -m and chroot, dockerd's setns, a runtime's hook.
func TestContainerNotWithoutRuntime(t *testing.T) {
	c := newCap(t).auditOnly()
	c.event(1, 1, ctrCall(nrExecve, 10, 1, 0, "unshare", "/usr/bin/unshare").rec(), execveRec("unshare", "-m", "chroot", "/srv/r", "sh"), cwdRec("/"))
	c.event(2, 2, ctrCall(nrUnshare, 10, 1, 0, "unshare", "/usr/bin/unshare", cloneNewNS).rec())
	c.event(3, 3, ctrCall(nrExecve, 10, 1, 0, "chroot", "/usr/sbin/chroot").rec(), execveRec("chroot", "/srv/r", "sh"), cwdRec("/"))
	c.event(4, 4, ctrCall(nrChroot, 10, 1, 0, "chroot", "/usr/sbin/chroot").rec(), cwdRec("/"), pathRec(0, "/srv/r", 80, "040755", "NORMAL"))
	c.event(5, 5, ctrCall(nrExecve, 10, 1, 0, "sh", "/bin/sh").rec(), execveRec("sh"), cwdRec("/"))
	c.event(6, 6, ctrCall(nrSetns, 20, 1, 0, "dockerd", "/usr/sbin/dockerd", 0x1c, cloneNewNet).rec())
	// runc state (no container made) and a process it runs.
	c.event(7, 7, ctrCall(nrExecve, 30, 1, 0, "runc", "/usr/sbin/runc").rec(), execveRec("runc", "state", "x"), cwdRec("/"))
	m := c.model()
	if cs := m.Containers(); len(cs) != 0 {
		t.Fatalf("containers %+v", cs)
	}
	a := &Analysis{Processes: m.Processes, Containers: m.Containers()}
	if text := report(t, a, Options{}); strings.Contains(text, "container") || strings.Contains(text, "\nhost\n") {
		t.Errorf("a report without containers mentions them:\n%s", text)
	}
}

func TestParseRuntimeArgs(t *testing.T) {
	id := ctrID
	for _, tc := range []struct {
		argv                                           []string
		exe                                            string
		kind                                           runtimeKind
		command, wantID, bundle, root, ns, manager, nm string
	}{
		{argv: []string{"runc", "--root", runcRoot, "--log", "/l.json", "--log-format", "json", "create", "--bundle", "/b", "--pid-file", "/p", id},
			kind: rtOCI, command: "create", wantID: id, bundle: "/b", root: runcRoot, ns: "moby", manager: "docker", nm: "runc"},
		{argv: []string{"runc", "--root", runcRoot, "exec", "--process", "/tmp/p", "--detach", "--pid-file", "/x.pid", id},
			kind: rtOCI, command: "exec", wantID: id, root: runcRoot, ns: "moby", manager: "docker", nm: "runc"},
		{argv: []string{"runc", "--root=/run/containerd/runc/k8s.io", "run", "-b", "/b", "-d", "web"},
			kind: rtOCI, command: "run", wantID: "web", bundle: "/b", root: "/run/containerd/runc/k8s.io", ns: "k8s.io", manager: "containerd", nm: "runc"},
		{argv: []string{"runc", "exec", "-t", "--user", "0", "web", "sh", "-c", "x"}, kind: rtOCI, command: "exec", wantID: "web", nm: "runc"},
		{argv: []string{"runc", "kill", "web", "KILL"}, kind: rtOCI, command: "kill", wantID: "web", nm: "runc"},
		{argv: []string{"runc", "init"}, kind: rtOCI, command: "init", nm: "runc"},
		{argv: []string{"/usr/bin/crun", "--cgroup-manager", "systemd", "--log-level=debug", "create", "--bundle=/b", "c1"},
			kind: rtOCI, command: "create", wantID: "c1", bundle: "/b", nm: "crun"},
		{argv: []string{"runc:[2:INIT]"}, exe: "/usr/sbin/runc", kind: rtOCI, nm: "runc"},
		{argv: []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "moby", "-id", id, "-address", "/run/containerd/containerd.sock"},
			kind: rtShim, wantID: id, ns: "moby", manager: "docker", nm: "containerd-shim-runc-v2"},
		{argv: []string{"containerd-shim-runc-v2", "-namespace=k8s.io", "-address", "/a", "-publish-binary", "/c", "-id", "sandbox", "start"},
			kind: rtShim, wantID: "sandbox", ns: "k8s.io", manager: "containerd", nm: "containerd-shim-runc-v2"},
		{argv: []string{"containerd-shim", "-namespace", "moby", "-workdir", "/var/lib/containerd/io.containerd.runtime.v1.linux/moby/" + id, "-address", "/a"},
			kind: rtShim, wantID: id, ns: "moby", manager: "docker", nm: "containerd-shim"},
		{argv: []string{"/usr/bin/conmon", "--api-version", "1", "-c", id, "-u", "u1", "-r", "/usr/bin/crun", "-b", "/b", "--exit-command", "/usr/bin/podman"},
			kind: rtConmon, wantID: id, bundle: "/b", manager: "podman", nm: "conmon"},
		{argv: []string{"conmon", "-c", id, "--log-path", "/var/log/pods/ns_pod_uid/c/0.log", "-r", "/usr/bin/runc"},
			kind: rtConmon, wantID: id, manager: "cri-o", nm: "conmon"},
		{argv: []string{"sh", "-c", "runc run x"}},
		{argv: []string{"dockerd"}, exe: "/usr/sbin/dockerd"},
	} {
		r := parseRuntimeArgs(tc.argv, tc.exe)
		if tc.kind == rtNone {
			if r != nil {
				t.Errorf("%q: %+v, want none", tc.argv, r)
			}
			continue
		}
		if r == nil || r.kind != tc.kind || r.command != tc.command || r.id != tc.wantID || r.bundle != tc.bundle ||
			r.root != tc.root || r.namespace != tc.ns || r.manager != tc.manager || r.name != tc.nm {
			t.Errorf("%q: %+v", tc.argv, r)
		}
	}
}

func TestParseCgroups(t *testing.T) {
	id := ctrID
	for _, tc := range []struct {
		lines           []string
		id, manager, ns string
	}{
		{lines: []string{"12:memory:/docker/" + id, "1:name=systemd:/docker/" + id, "0::/"}, id: id, manager: "docker", ns: "moby"},
		{lines: []string{"0::/system.slice/docker-" + id + ".scope"}, id: id, manager: "docker", ns: "moby"},
		{lines: []string{"0::/docker/" + id}, id: id, manager: "docker", ns: "moby"},
		{lines: []string{"0::/machine.slice/libpod-" + id + ".scope/container"}, id: id, manager: "podman"},
		{lines: []string{"0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope"}, id: id, manager: "podman"},
		{lines: []string{"0::/machine.slice/libpod-conmon-" + id + ".scope"}},
		{lines: []string{"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/crio-" + id + ".scope"}, id: id, manager: "cri-o"},
		{lines: []string{"0::/kubepods.slice/kubepods-pod1.slice/crio-conmon-" + id + ".scope"}},
		{lines: []string{"0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-" + id + ".scope"}, id: id, manager: "containerd", ns: "k8s.io"},
		{lines: []string{"11:cpu:/kubepods/burstable/pod5c3f/" + id}, id: id},
		{lines: []string{"0::/default/" + id}, id: id, manager: "containerd", ns: "default"},
		{lines: []string{"4:memory:/docker/" + id, "0::/system.slice/docker-" + strings.Repeat("b", 64) + ".scope"}, id: strings.Repeat("b", 64), manager: "docker", ns: "moby"},
		{lines: []string{"0::/user.slice/user-0.slice/session-1.scope"}},
		{lines: []string{"0::/"}},
		{lines: []string{"garbage"}},
	} {
		c := parseCgroups(tc.lines)
		if tc.id == "" {
			if c != nil {
				t.Errorf("%q: %+v, want none", tc.lines, c)
			}
			continue
		}
		if c == nil || c.id != tc.id || c.manager != tc.manager || c.namespace != tc.ns {
			t.Errorf("%q: %+v", tc.lines, c)
		}
	}
}

// A capture without containers keeps its reports as before: the scenario's
// golden files are unchanged (TestGoldenReports), and the JSON has
// "containers": [].
func TestNoContainersJSON(t *testing.T) {
	a := analyzeCap(t, scenario(t))
	if len(a.Containers) != 0 || a.Containers == nil {
		t.Fatalf("containers %v", a.Containers)
	}
	js := report(t, a, Options{Format: "json"})
	if !strings.Contains(js, `"containers": []`) || strings.Contains(js, "host_path") {
		t.Errorf("json: %s", js[len(js)-200:])
	}
}

// A process the init-to-be forks before pivot_root (an OCI createContainer
// hook) is the runtime's, not the container's; one it forks after is the
// container's.
func TestContainerHookBeforePivot(t *testing.T) {
	c := newCap(t).auditOnly()
	serial := 0
	ev := func(ms int64, recs ...rec) { serial++; c.event(ms, serial, recs...) }
	ev(1, ctrCall(nrExecve, 100, 10, 0, "runc", "/usr/sbin/runc").rec(), execveRec("runc", "run", "-b", "/b", "h1"), cwdRec("/"))
	ev(2, ctrCall(nrClone, 100, 10, 101, "runc", "/usr/sbin/runc", cloneFork).rec())
	ev(3, ctrCall(nrExecve, 101, 100, 0, "runc", "/usr/sbin/runc").rec(), execveRec("runc", "init"), cwdRec("/b"))
	ev(4, ctrCall(nrUnshare, 101, 100, 0, "runc:[1:CHILD]", "/", runcUnshare).rec())
	ev(5, ctrCall(nrClone, 101, 100, 102, "runc:[1:CHILD]", "/", cloneParentFlags).rec())
	ev(6, ctrCall(nrClone, 102, 100, 103, "runc:[2:INIT]", "/", cloneFork).rec())
	ev(7, ctrCall(nrExecve, 103, 102, 0, "hook", "/usr/bin/hook").rec(), execveRec("/usr/bin/hook"), cwdRec("/b"))
	ev(8, ctrCall(nrExitGroup, 103, 102, 0, "hook", "/usr/bin/hook").rec())
	ev(9, ctrCall(nrPivotRoot, 102, 100, 0, "runc:[2:INIT]", "/").rec(), cwdRec("/"),
		pathRec(0, "/b/rootfs", 900, "040755", "NORMAL"), pathRec(1, "/b/rootfs", 900, "040755", "NORMAL"))
	ev(10, ctrCall(nrExecve, 102, 100, 0, "sh", "/bin/sh").rec(), execveRec("sh"), cwdRec("/"))
	ev(11, ctrCall(nrClone, 102, 100, 2, "sh", "/bin/sh", cloneFork).rec())
	ev(12, ctrCall(nrExecve, 104, 102, 0, "ls", "/bin/ls").rec(), execveRec("ls"), cwdRec("/"))
	m := c.model()
	cs := m.Containers()
	if len(cs) != 1 || cs[0].InitPID() != 102 || !slices.Equal(cs[0].PIDs(), []int{102, 104}) ||
		!slices.Equal(cs[0].RuntimePIDs(), []int{100, 101, 103}) || cs[0].Rootfs != "/b/rootfs" {
		t.Fatalf("containers %+v\n%s", cs, dump(m))
	}
	// The hook is a root of the host's tree, and a line in the container's.
	text := report(t, &Analysis{Processes: m.Processes, Containers: cs}, Options{})
	host := text[strings.Index(text, "\nhost\n"):]
	if !strings.Contains(host, "\n103 /usr/bin/hook") || !strings.Contains(text, "103 /usr/bin/hook  exit 0, 2ms  → on the host") {
		t.Errorf("the hook in the text report:\n%s", text)
	}
}

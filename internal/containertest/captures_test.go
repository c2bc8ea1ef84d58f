package containertest

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/auditlog"
	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/internal/groundtruth"
)

var update = flag.Bool("update", false, "record the containers again into testdata/containers (kernel tests: root, docker), and rewrite the golden analyzer outputs")

var (
	repoRoot      = filepath.Join("..", "..")
	containersDir = filepath.Join(repoRoot, "testdata", "containers")
)

// maxCaptureSize bounds a trimmed capture kept in testdata.
const maxCaptureSize = 64 << 10

// The workloads: sh scripts run by busybox in the containers.
const (
	// The init writes a file, forks a child that writes another, waits
	// for a docker exec to create /tmp/stop, and exits 3.
	runInit = `echo init > /data.txt; (echo child > /tmp/child.txt) & wait; while [ ! -e /tmp/stop ]; do sleep 0.05; done; echo done >> /data.txt; exit 3`
	runExec = `echo exec > /exec.txt; touch /tmp/stop`
	twoA    = `echo a > /a.txt; sleep 0.3; exit 5`
	twoB    = `echo b > /b.txt; sleep 0.3; exit 6`
	preInit = `while [ ! -e /tmp/stop ]; do sleep 0.05; done; echo bye > /bye.txt; exit 7`
	preExec = `echo exec > /exec.txt; touch /tmp/stop`
	// runcInit is the process of the bare runc bundle.
	runcInit = `echo runc > /runc.txt; (echo child > /tmp/child.txt) & wait; exit 2`
)

// wantContainer is what a test knows about one of its containers.
type wantContainer struct {
	// marker is a file only this container's processes write: it finds
	// the container in the analysis.
	marker string
	// id, initPID, bundle and rootfs: "" or 0 when the test does not know
	// them (the kept captures).
	id          string
	initPID     int
	bundle      string
	rootfs      string
	runtime     string
	namespace   string
	rootfsKnown bool
	preExisting bool
	initArgv    []string
	exitCode    int
	// Files (as the container's processes saw them) written by the init,
	// by its descendants, and by the processes exec'd into the container
	// and theirs.
	initFiles, childFiles, execFiles []string
	// startedBy and execStartedBy: the start of the argv of the docker
	// client that started the container and its exec session (nil: none
	// may be found); their pids when the test knows them.
	startedBy, execStartedBy       []string
	startedByPID, execStartedByPID int
}

func wantDockerRun() []wantContainer {
	return []wantContainer{{
		marker: "/data.txt", runtime: "docker", namespace: "moby", rootfsKnown: true,
		initArgv: []string{"sh", "-c", runInit}, exitCode: 3,
		initFiles: []string{"/data.txt"}, childFiles: []string{"/tmp/child.txt"},
		execFiles:     []string{"/exec.txt", "/tmp/stop"},
		startedBy:     []string{"docker", "run", "-d", "--name", "ctrace-test-run"},
		execStartedBy: []string{"docker", "exec", "ctrace-test-run", "sh", "-c", runExec},
	}}
}

func wantTwo() []wantContainer {
	return []wantContainer{
		{marker: "/a.txt", runtime: "docker", namespace: "moby", rootfsKnown: true,
			initArgv: []string{"sh", "-c", twoA}, exitCode: 5, initFiles: []string{"/a.txt"},
			startedBy: []string{"docker", "run", "-d", "--name", "ctrace-test-a"}},
		{marker: "/b.txt", runtime: "docker", namespace: "moby", rootfsKnown: true,
			initArgv: []string{"sh", "-c", twoB}, exitCode: 6, initFiles: []string{"/b.txt"},
			startedBy: []string{"docker", "run", "-d", "--name", "ctrace-test-b"}},
	}
}

func wantPre() []wantContainer {
	return []wantContainer{{
		marker: "/exec.txt", runtime: "docker", namespace: "moby", preExisting: true,
		initArgv: []string{"sh", "-c", preInit}, exitCode: 7,
		initFiles: []string{"/bye.txt"}, execFiles: []string{"/exec.txt", "/tmp/stop"},
		execStartedBy: []string{"docker", "exec", "ctrace-test-pre", "sh", "-c", preExec},
	}}
}

func wantRunc() []wantContainer {
	return []wantContainer{{
		marker: "/runc.txt", runtime: "runc", rootfsKnown: true,
		initArgv: []string{"sh", "-c", runcInit}, exitCode: 2,
		initFiles: []string{"/runc.txt"}, childFiles: []string{"/tmp/child.txt"},
	}}
}

// wantSession is the docker session of the auditd log: the docker run
// workload, from audit records alone.
func wantSession() []wantContainer {
	w := wantDockerRun()
	w[0].startedBy = []string{"docker", "run", "-d", "--name", "ctrace-test-auditd"}
	w[0].execStartedBy = []string{"docker", "exec", "ctrace-test-auditd", "sh", "-c", runExec}
	return w
}

// keptCaptures are the captures in testdata/containers and what they hold.
var keptCaptures = map[string]func() []wantContainer{
	"docker_run":     wantDockerRun,
	"two_containers": wantTwo,
	"pre_existing":   wantPre,
	"runc_run":       wantRunc,
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// containerWriting returns the container one of whose processes wrote path.
func containerWriting(cs []*analyze.Container, file string) *analyze.Container {
	for _, c := range cs {
		for _, p := range c.Processes {
			if slices.Contains(p.FilesWritten, file) {
				return c
			}
		}
	}
	return nil
}

// checkContainers checks an analysis against what the test knows. A full
// recording may hold other containers of the machine (only false); a kept
// capture holds its own only.
func checkContainers(t *testing.T, a *analyze.Analysis, want []wantContainer, only bool) {
	t.Helper()
	if only && len(a.Containers) != len(want) || len(a.Containers) < len(want) {
		var ids []string
		for _, c := range a.Containers {
			ids = append(ids, c.ID)
		}
		t.Errorf("%d containers %q, want %d", len(a.Containers), ids, len(want))
	}
	for _, w := range want {
		c := containerWriting(a.Containers, w.marker)
		if c == nil {
			t.Errorf("no container wrote %s", w.marker)
			continue
		}
		checkContainer(t, a, c, w)
	}
	// Runtime processes are never in a container, and every process of a
	// container names it.
	for _, p := range a.Processes {
		if len(p.Argv) == 0 || p.Container == nil {
			continue
		}
		switch base := path.Base(p.Argv[0]); {
		case base == "runc" || strings.HasPrefix(base, "containerd-shim") || base == "docker" || base == "containerd" || base == "dockerd":
			t.Errorf("pid %d (%s) is in container %s", p.PID, base, *p.Container)
		}
	}
}

func checkContainer(t *testing.T, a *analyze.Analysis, c *analyze.Container, w wantContainer) {
	t.Helper()
	name := w.marker
	errorf := func(format string, args ...any) {
		t.Helper()
		t.Errorf("container of %s (%s): "+format, append([]any{name, c.ID}, args...)...)
	}
	switch {
	case w.id != "" && c.ID != w.id:
		errorf("id %s, want %s", c.ID, w.id)
	case w.runtime == "docker" && !hex64.MatchString(c.ID):
		errorf("id is not 64 hex digits")
	}
	if c.Runtime != w.runtime || c.Namespace != w.namespace {
		errorf("runtime %q namespace %q, want %q %q", c.Runtime, c.Namespace, w.runtime, w.namespace)
	}
	if (c.Rootfs != "") != w.rootfsKnown || (w.rootfs != "" && c.Rootfs != w.rootfs) {
		errorf("rootfs %q, want known %v (%q)", c.Rootfs, w.rootfsKnown, w.rootfs)
	}
	switch {
	case w.bundle != "" && c.Bundle != w.bundle:
		errorf("bundle %q, want %q", c.Bundle, w.bundle)
	case w.runtime == "docker" && path.Base(c.Bundle) != c.ID:
		errorf("bundle %q, want containerd's directory of the id", c.Bundle)
	case w.runtime == "runc" && c.Rootfs != path.Join(c.Bundle, "rootfs"):
		errorf("rootfs %q, want the bundle's rootfs (bundle %q)", c.Rootfs, c.Bundle)
	}
	if c.PreExisting != w.preExisting {
		errorf("pre-existing %v, want %v", c.PreExisting, w.preExisting)
	}
	if c.Init == nil {
		errorf("no init")
		return
	}
	if w.initPID != 0 && c.Init.PID != w.initPID {
		errorf("init pid %d, want %d", c.Init.PID, w.initPID)
	}
	if !slices.Equal(c.Init.Argv, w.initArgv) {
		errorf("init argv %q, want %q", c.Init.Argv, w.initArgv)
	}
	if c.ExitCode == nil || *c.ExitCode != w.exitCode || c.Signal != nil {
		errorf("exit %v signal %v, want exit %d", ptr(c.ExitCode), ptr(c.Signal), w.exitCode)
	}
	if c.Start == 0 || c.End == 0 || c.End < c.Start {
		errorf("start %d end %d", c.Start, c.End)
	}
	for _, f := range w.initFiles {
		if !slices.Contains(c.Init.FilesWritten, f) {
			errorf("the init (pid %d) did not write %s: %q", c.Init.PID, f, c.Init.FilesWritten)
		}
	}
	in := map[*analyze.Process]bool{}
	for _, p := range c.Processes {
		in[p] = true
	}
	// root climbs to the first process of the container above p.
	root := func(p *analyze.Process) *analyze.Process {
		for p.Parent != nil && in[p.Parent] {
			p = p.Parent
		}
		return p
	}
	writer := func(f string, ok func(p *analyze.Process) bool) bool {
		for _, p := range c.Processes {
			if slices.Contains(p.FilesWritten, f) && ok(p) {
				return true
			}
		}
		return false
	}
	for _, f := range w.childFiles {
		if !writer(f, func(p *analyze.Process) bool { return p != c.Init && root(p) == c.Init }) {
			errorf("no descendant of the init wrote %s", f)
		}
	}
	for _, f := range w.execFiles {
		if !writer(f, func(p *analyze.Process) bool { return root(p) != c.Init }) {
			errorf("no process exec'd into the container wrote %s", f)
		}
	}
	checkLaunch(t, "started by", c.StartedBy, w.startedBy, w.startedByPID)
	var sessions []*analyze.ExecSession
	for _, s := range c.ExecSessions {
		if root(s.Process) == s.Process && s.Process != c.Init {
			sessions = append(sessions, s)
		}
	}
	switch {
	case w.execFiles == nil && len(sessions) != 0:
		errorf("%d exec sessions, want none", len(sessions))
	case w.execFiles != nil && len(sessions) != 1:
		errorf("%d exec sessions, want 1", len(sessions))
	case w.execFiles != nil:
		checkLaunch(t, "exec session started by", sessions[0].StartedBy, w.execStartedBy, w.execStartedByPID)
	}
	for _, p := range c.Processes {
		if p.Container == nil || *p.Container != c.ID {
			errorf("process %d is listed, but its container is %v", p.PID, ptr(p.Container))
		}
		checkHostPaths(t, c, p)
	}
	// Nobody outside wrote the marker.
	for _, p := range a.Processes {
		if !in[p] && slices.Contains(p.FilesWritten, w.marker) {
			errorf("pid %d, not in the container, wrote %s", p.PID, w.marker)
		}
	}
	if len(c.RuntimeProcesses) == 0 {
		errorf("no runtime process")
	}
	var rt []string
	for _, p := range c.RuntimeProcesses {
		if p.Container != nil {
			errorf("runtime process %d is in container %s", p.PID, *p.Container)
		}
		if len(p.Argv) > 0 {
			rt = append(rt, path.Base(p.Argv[0]))
		}
	}
	needRT := []string{"runc"}
	if w.runtime == "docker" {
		needRT = append(needRT, "containerd-shim-runc-v2")
	}
	for _, n := range needRT {
		if !slices.Contains(rt, n) {
			errorf("no %s among the runtime processes %q", n, rt)
		}
	}
}

// checkHostPaths checks the host paths of a container process's files.
func checkHostPaths(t *testing.T, c *analyze.Container, p *analyze.Process) {
	t.Helper()
	for _, f := range p.Files {
		resolved := !f.Unresolved && strings.HasPrefix(f.Path, "/")
		var want string
		switch {
		case f.HostView:
			if p != c.Init {
				t.Errorf("pid %d: %s %s: host view in a process other than the init", p.PID, f.Op, f.Path)
			}
			if resolved {
				want = f.Path
			}
		case c.Rootfs != "" && resolved && !virtual(f.Path):
			want = path.Join(c.Rootfs, f.Path)
		}
		if f.HostPath != want {
			t.Errorf("pid %d: %s %s: host path %q, want %q", p.PID, f.Op, f.Path, f.HostPath, want)
		}
	}
}

func virtual(p string) bool {
	for _, v := range []string{"/proc", "/sys", "/dev"} {
		if p == v || strings.HasPrefix(p, v+"/") {
			return true
		}
	}
	return false
}

func ptr[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// checkKept checks a trimmed capture: only its containers, trimming it
// again keeps every record, small enough, its analysis, and its analysis
// from the audit records alone.
func checkKept(t *testing.T, file string, want []wantContainer) {
	t.Helper()
	for _, e := range CheckContainersOnly(file) {
		t.Error(e)
	}
	a, err := analyze.AnalyzeFile(file)
	if err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(t.TempDir(), "again.ctr")
	if err := Trim(file, again, KeepSet(a.Containers), trimSelection); err != nil {
		t.Fatal(err)
	}
	if err := groundtruth.SameRecords(file, again); err != nil {
		t.Errorf("trimming the capture again changes it: %v", err)
	}
	if st, err := os.Stat(file); err == nil && st.Size() > maxCaptureSize {
		t.Errorf("%d bytes: keep captures under %d", st.Size(), maxCaptureSize)
	}
	checkContainers(t, a, want, true)
	checkAuditOnly(t, file, a)
}

// checkAuditOnly analyzes the capture's audit records alone (no proc
// connector, no snapshot: what an imported auditd log gives) and compares
// its containers with the full analysis's. A container started before the
// capture is found through the processes exec'd into it only.
func checkAuditOnly(t *testing.T, file string, full *analyze.Analysis) {
	t.Helper()
	src, err := auditOnly(file)
	if err != nil {
		t.Fatal(err)
	}
	m, err := analyze.Build(src)
	if err != nil {
		t.Fatal(err)
	}
	got := m.Containers()
	if len(got) != len(full.Containers) {
		t.Fatalf("audit only: %d containers, want %d", len(got), len(full.Containers))
	}
	for _, c := range full.Containers {
		var o *analyze.Container
		for _, g := range got {
			if g.ID == c.ID {
				o = g
			}
		}
		if o == nil {
			t.Errorf("audit only: container %s not found", c.ID)
			continue
		}
		if c.PreExisting {
			for _, pid := range o.PIDs() {
				if !slices.Contains(c.PIDs(), pid) {
					t.Errorf("audit only: container %s: pid %d is not the container's", c.ID, pid)
				}
			}
			if len(o.PIDs()) == 0 {
				t.Errorf("audit only: container %s: no process", c.ID)
			}
			continue
		}
		if o.InitPID() != c.InitPID() || !slices.Equal(o.PIDs(), c.PIDs()) || o.Rootfs != c.Rootfs ||
			o.Runtime != c.Runtime || o.Namespace != c.Namespace || o.Bundle != c.Bundle || ptr(o.ExitCode) != ptr(c.ExitCode) {
			t.Errorf("audit only: container %s: init %d pids %v rootfs %q runtime %q/%q bundle %q exit %v; with all sources: init %d pids %v rootfs %q runtime %q/%q bundle %q exit %v",
				c.ID, o.InitPID(), o.PIDs(), o.Rootfs, o.Runtime, o.Namespace, o.Bundle, ptr(o.ExitCode),
				c.InitPID(), c.PIDs(), c.Rootfs, c.Runtime, c.Namespace, c.Bundle, ptr(c.ExitCode))
		}
	}
}

// auditOnly serves the audit records and notes of a capture, with a
// header that says so.
func auditOnly(file string) (analyze.RecordSource, error) {
	r, err := format.Open(file)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	s := &memSource{hdr: *r.Header()}
	s.hdr.Proc, s.hdr.Snapshot = false, false
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if rec.Source == format.SourceAudit || rec.Source == format.SourceNote {
			rec.Data = bytes.Clone(rec.Data)
			s.recs = append(s.recs, rec)
		}
	}
	return s, nil
}

type memSource struct {
	hdr  format.Header
	recs []format.Record
}

func (s *memSource) Header() *format.Header { return &s.hdr }
func (s *memSource) Next() (format.Record, error) {
	if len(s.recs) == 0 {
		return format.Record{}, io.EOF
	}
	r := s.recs[0]
	s.recs = s.recs[1:]
	return r, nil
}

// reports returns the text and JSON reports of a capture, and the text
// report of its first container alone.
func reports(t *testing.T, file string) (text, js, one string) {
	t.Helper()
	a, err := analyze.AnalyzeFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var tb, jb, ob bytes.Buffer
	if err := a.Write(&tb, analyze.Options{Format: "text"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Write(&jb, analyze.Options{Format: "json"}); err != nil {
		t.Fatal(err)
	}
	if len(a.Containers) > 0 {
		if err := a.Write(&ob, analyze.Options{Format: "text", Container: a.Containers[0].ShortID()}); err != nil {
			t.Fatal(err)
		}
	}
	return tb.String(), jb.String(), ob.String()
}

// writeGoldens writes the golden outputs of a capture (or an imported log,
// given as the capture it was imported into, with base the log's name).
func writeGoldens(t *testing.T, file string) {
	t.Helper()
	writeGoldensAs(t, file, strings.TrimSuffix(file, ".ctr"))
}

func writeGoldensAs(t *testing.T, file, base string) {
	t.Helper()
	text, js, one := reports(t, file)
	for suffix, out := range map[string]string{".analyze.txt": text, ".analyze.json": js, ".container.txt": one} {
		if err := os.WriteFile(base+suffix, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// compareGoldens compares the reports with the golden files (rewritten with
// -update).
func compareGoldens(t *testing.T, file, base string) {
	t.Helper()
	if *update {
		writeGoldensAs(t, file, base)
		return
	}
	text, js, one := reports(t, file)
	for suffix, got := range map[string]string{".analyze.txt": text, ".analyze.json": js, ".container.txt": one} {
		want, err := os.ReadFile(base + suffix)
		if err != nil {
			t.Errorf("%v (go test -update writes it)", err)
			continue
		}
		if string(want) != got {
			t.Errorf("%s differs from the golden file (go test -update rewrites it; review the diff):\n%s", base+suffix, got)
		}
	}
}

// importLog imports an auditd log into a capture in a temporary directory.
func importLog(t *testing.T, logFile string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "imported.ctr")
	if _, err := auditlog.ImportFile(out, true, []string{logFile}, auditlog.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkLog checks a trimmed auditd log of a docker session: imported, its
// analysis finds the containers, and it holds nothing but the session (the
// containers, their runtime, the docker commands).
func checkLog(t *testing.T, logFile string, want []wantContainer) {
	t.Helper()
	imported := importLog(t, logFile)
	a, err := analyze.AnalyzeFile(imported)
	if err != nil {
		t.Fatal(err)
	}
	if a.Capture.Proc || a.Capture.Snapshot || a.Capture.Kind != "import" {
		t.Errorf("imported capture: kind %q proc %v snapshot %v", a.Capture.Kind, a.Capture.Proc, a.Capture.Snapshot)
	}
	checkContainers(t, a, want, true)
	keep := KeepSet(a.Containers)
	for _, p := range a.Processes {
		if len(p.Argv) > 0 && p.Argv[0] == "docker" {
			keep[p.PID] = true
		}
	}
	for _, p := range a.Processes {
		if !keep[p.PID] {
			t.Errorf("pid %d (%q) is neither a docker command nor a container's or its runtime's", p.PID, p.Argv)
		}
	}
}

// TestContainerCaptures checks every kept capture: its containers, that
// it holds nothing else, its audit-only analysis, and its golden outputs.
func TestContainerCaptures(t *testing.T) {
	for name, want := range keptCaptures {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(containersDir, name+".ctr")
			if _, err := os.Stat(file); err != nil {
				t.Fatalf("%v: record it as root with go test ./internal/containertest -run TestIntegration -update", err)
			}
			checkKept(t, file, want())
			compareGoldens(t, file, strings.TrimSuffix(file, ".ctr"))
		})
	}
}

// TestDockerSessionLog imports the kept auditd log of a docker session and
// checks the containers found from it alone, and its golden outputs.
func TestDockerSessionLog(t *testing.T) {
	logFile := filepath.Join(containersDir, "docker_session.log")
	if _, err := os.Stat(logFile); err != nil {
		t.Fatalf("%v: record it as root with go test ./internal/containertest -run TestIntegrationAuditdLog -update", err)
	}
	checkLog(t, logFile, wantSession())
	compareGoldens(t, importLog(t, logFile), strings.TrimSuffix(logFile, ".log"))
}

// writeLogGoldens writes the golden outputs of a kept auditd log.
func writeLogGoldens(t *testing.T, logFile string) {
	t.Helper()
	writeGoldensAs(t, importLog(t, logFile), strings.TrimSuffix(logFile, ".log"))
}

// checkLaunch checks a container's or exec session's client: its argv
// starts with want (nil: no client may be found) and its pid is pid (0:
// not known).
func checkLaunch(t *testing.T, what string, l *analyze.Launch, want []string, pid int) {
	t.Helper()
	switch {
	case want == nil && l != nil:
		t.Errorf("%s %d %q, want none", what, l.Process.PID, l.Process.Argv)
	case want == nil:
	case l == nil:
		t.Errorf("%s: none, want %q", what, want)
	case len(l.Process.Argv) < len(want) || !slices.Equal(l.Process.Argv[:len(want)], want) || pid != 0 && l.Process.PID != pid:
		t.Errorf("%s %d %q, want %d %q", what, l.Process.PID, l.Process.Argv, pid, want)
	case !l.CommandMatch || path.Base(l.Socket) != "docker.sock" || l.ConnectTime == 0:
		t.Errorf("%s: evidence %+v", what, l)
	}
}

//go:build linux

package containertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/auditlog"
	"github.com/ctrace/ctrace/internal/kerneltest"
	"github.com/ctrace/ctrace/internal/testbin"
)

var ctraceBin string

func TestMain(m *testing.M) { testbin.Main(m, "../../cmd/ctrace", &ctraceBin) }

// requireDocker makes docker usable (testdata/docker/setup.sh: installs
// docker.io and busybox-static if needed, starts dockerd, builds the busybox
// image) and returns the image name.
func requireDocker(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("bash", filepath.Join(repoRoot, "testdata", "docker", "setup.sh")).CombinedOutput()
	if err != nil {
		testbin.Unavailable(t, "docker is not usable (testdata/docker/setup.sh: %v):\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// run runs a command and returns its trimmed stdout; a failure (or an exit
// status other than wantCode) fails the test.
func run(t *testing.T, wantCode int, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s %q: %v", name, args, err)
		}
		code = ee.ExitCode()
	}
	if code != wantCode {
		t.Fatalf("%s %q: exit %d, want %d\nstdout: %s\nstderr: %s", name, args, code, wantCode, o.String(), e.String())
	}
	return strings.TrimSpace(o.String())
}

// docker runs the docker CLI, which must succeed.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, _ := dockerPID(t, args...)
	return out
}

// dockerPID runs the docker CLI, which must succeed, and returns its
// trimmed stdout and its pid.
func dockerPID(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("docker", args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker %q: %v\nstdout: %s\nstderr: %s", args, err, o.String(), e.String())
	}
	return strings.TrimSpace(o.String()), cmd.Process.Pid
}

// removeContainer removes a container now (a leftover) and at the end of
// the test, whatever happens.
func removeContainer(t *testing.T, name string) {
	t.Helper()
	exec.Command("docker", "rm", "-f", name).Run()
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "rm", "-f", name).CombinedOutput(); err != nil && !strings.Contains(string(out), "No such container") {
			t.Errorf("docker rm -f %s: %v\n%s", name, err, out)
		}
	})
}

// recorder is a `ctrace record` process.
type recorder struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan error
	waited bool
}

// startRecorder starts `ctrace record -o out` (with the /proc snapshot and
// the proc connector) and waits until it records. Another recorder running
// (another engineer's, a benchmark) is waited for: the recorder is started
// again until it can run, for at most five minutes.
func startRecorder(t *testing.T, out string) *recorder {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		r, busy := tryRecorder(t, out)
		if r != nil {
			return r
		}
		if !busy || time.Now().After(deadline) {
			t.Fatal("ctrace record could not start in 5 minutes: another recorder kept running")
		}
		time.Sleep(2 * time.Second)
	}
}

func tryRecorder(t *testing.T, out string) (*recorder, bool) {
	t.Helper()
	cmd := exec.Command(ctraceBin, "record", "--force", "-o", out)
	pr, pw := io.Pipe()
	r := &recorder{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = io.MultiWriter(pw, r.stderr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	go func() { r.done <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() { r.stop(t) })
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				lines = nil
				continue
			}
			if strings.HasPrefix(l, "recording") {
				return r, false
			}
		case <-r.done:
			r.waited = true
			busy := strings.Contains(r.stderr.String(), "another ctrace recorder") ||
				strings.Contains(r.stderr.String(), "another audit daemon")
			if !busy {
				t.Fatalf("ctrace record exited before recording:\n%s", r.stderr)
			}
			t.Logf("another recorder runs; waiting: %s", strings.TrimSpace(r.stderr.String()))
			return nil, true
		case <-timeout:
			t.Fatalf("ctrace record: no \"recording\" line in 30s:\n%s", r.stderr)
		}
	}
}

// stop stops the recorder (SIGINT) and waits for it; it must exit 0.
func (r *recorder) stop(t *testing.T) {
	t.Helper()
	if r.waited {
		return
	}
	r.waited = true
	r.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
		t.Errorf("ctrace record did not stop on SIGINT:\n%s", r.stderr)
		return
	}
	if code := r.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("ctrace record exited %d:\n%s", code, r.stderr)
	}
}

// settle waits for the runtime's cleanup after a container exited (runc
// delete, the shim's exit), so that the recording holds it.
func settle() { time.Sleep(500 * time.Millisecond) }

// recordCase analyzes a fresh recording, checks it, trims it to its
// containers, checks the trimmed capture and its audit-only analysis, and
// with -update keeps the trimmed capture and its golden outputs in
// testdata/containers as NAME.ctr.
func recordCase(t *testing.T, name, full string, want []wantContainer) {
	t.Helper()
	a, err := analyze.AnalyzeFile(full)
	if err != nil {
		t.Fatal(err)
	}
	if a.Capture.Lost > 0 {
		t.Logf("the recording lost %d events", a.Capture.Lost)
	}
	t.Run("full", func(t *testing.T) { checkContainers(t, a, want, false) })

	// Other containers of the machine are left out.
	var mine []*analyze.Container
	for _, w := range want {
		if c := containerWriting(a.Containers, w.marker); c != nil {
			mine = append(mine, c)
		}
	}
	trimmed := filepath.Join(t.TempDir(), name+".ctr")
	if err := Trim(full, trimmed, KeepSet(mine), trimSelection); err != nil {
		t.Fatal(err)
	}
	t.Run("trimmed", func(t *testing.T) { checkKept(t, trimmed, want) })
	if t.Failed() {
		// Keep the recording for a look: ctrace analyze, ctrace dump.
		kept := filepath.Join(os.TempDir(), "containertest-"+name+"-full.ctr")
		keep(t, full, kept)
		t.Logf("the recording is kept in %s (losses: %d: %+v)", kept, a.Capture.Lost, a.Capture.Losses)
		return
	}
	if !*update {
		return
	}
	keep(t, trimmed, filepath.Join(containersDir, name+".ctr"))
	writeGoldens(t, filepath.Join(containersDir, name+".ctr"))
}

const trimSelection = "containers: the processes of the containers found, of their runtime (shim, runc and its children, hooks) and the docker clients that started them; their audit events, proc connector events and snapshot records; notes"

// keep copies a file into testdata.
func keep(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationDockerRun: `docker run` whose init writes a file, forks a
// child that writes another, waits, and exits 3 once a `docker exec` into
// it (which writes a file and runs a child of its own) says so.
func TestIntegrationDockerRun(t *testing.T) {
	kerneltest.Lock(t)
	img := requireDocker(t)
	const name = "ctrace-test-run"
	removeContainer(t, name)
	full := filepath.Join(t.TempDir(), "full.ctr")
	rec := startRecorder(t, full)
	id, runPID := dockerPID(t, "run", "-d", "--name", name, "--network", "none", img, "sh", "-c", runInit)
	_, execPID := dockerPID(t, "exec", name, "sh", "-c", runExec)
	if code := docker(t, "wait", name); code != "3" {
		t.Errorf("docker wait: %s, want 3", code)
	}
	settle()
	rec.stop(t)
	want := wantDockerRun()
	want[0].id, want[0].startedByPID, want[0].execStartedByPID = id, runPID, execPID
	recordCase(t, "docker_run", full, want)
}

// TestIntegrationTwoContainers: two containers started at the same time.
func TestIntegrationTwoContainers(t *testing.T) {
	kerneltest.Lock(t)
	img := requireDocker(t)
	names := []string{"ctrace-test-a", "ctrace-test-b"}
	scripts := []string{twoA, twoB}
	for _, n := range names {
		removeContainer(t, n)
	}
	full := filepath.Join(t.TempDir(), "full.ctr")
	rec := startRecorder(t, full)
	ids := make([]string, 2)
	pids := make([]int, 2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command("docker", "run", "-d", "--name", names[i], "--network", "none", img, "sh", "-c", scripts[i])
			out, err := cmd.Output()
			ids[i], errs[i] = strings.TrimSpace(string(out)), err
			if cmd.Process != nil {
				pids[i] = cmd.Process.Pid
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("docker run %s: %v", names[i], err)
		}
	}
	for i, code := range []string{"5", "6"} {
		if got := docker(t, "wait", names[i]); got != code {
			t.Errorf("docker wait %s: %s, want %s", names[i], got, code)
		}
	}
	settle()
	rec.stop(t)
	want := wantTwo()
	want[0].id, want[1].id = ids[0], ids[1]
	want[0].startedByPID, want[1].startedByPID = pids[0], pids[1]
	recordCase(t, "two_containers", full, want)
}

// TestIntegrationPreExisting: a container started before the recording;
// a `docker exec` into it during the recording makes its init write a file
// and exit 7.
func TestIntegrationPreExisting(t *testing.T) {
	kerneltest.Lock(t)
	img := requireDocker(t)
	const name = "ctrace-test-pre"
	removeContainer(t, name)
	id := docker(t, "run", "-d", "--name", name, "--network", "none", img, "sh", "-c", preInit)
	initPID, err := strconv.Atoi(docker(t, "inspect", "-f", "{{.State.Pid}}", name))
	if err != nil || initPID <= 0 {
		t.Fatalf("docker inspect: pid %d, %v", initPID, err)
	}
	time.Sleep(300 * time.Millisecond)
	full := filepath.Join(t.TempDir(), "full.ctr")
	rec := startRecorder(t, full)
	_, execPID := dockerPID(t, "exec", name, "sh", "-c", preExec)
	if code := docker(t, "wait", name); code != "7" {
		t.Errorf("docker wait: %s, want 7", code)
	}
	settle()
	rec.stop(t)
	want := wantPre()
	want[0].id, want[0].initPID, want[0].execStartedByPID = id, initPID, execPID
	recordCase(t, "pre_existing", full, want)
}

// TestIntegrationRuncRun: a bare `runc run` of an OCI bundle made with
// `runc spec` and a rootfs holding the busybox binary.
func TestIntegrationRuncRun(t *testing.T) {
	kerneltest.Lock(t)
	runc, err := exec.LookPath("runc")
	if err != nil {
		testbin.Unavailable(t, "runc is not installed (Debian: runc, which docker.io depends on)")
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		testbin.Unavailable(t, "busybox is not installed (Debian: busybox-static)")
	}
	// A fixed place, so that the kept capture's paths do not change with
	// each recording.
	bundle := "/tmp/ctrace-test-runc/bundle"
	os.RemoveAll(filepath.Dir(bundle))
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(bundle)) })
	makeBundle(t, runc, busybox, bundle, runcInit)
	const id = "ctrace-test-runc"
	exec.Command(runc, "delete", "-f", id).Run()
	t.Cleanup(func() { exec.Command(runc, "delete", "-f", id).Run() })
	full := filepath.Join(t.TempDir(), "full.ctr")
	rec := startRecorder(t, full)
	run(t, 2, runc, "run", "--bundle", bundle, id)
	settle()
	rec.stop(t)
	want := wantRunc()
	want[0].id, want[0].bundle, want[0].rootfs = id, bundle, filepath.Join(bundle, "rootfs")
	recordCase(t, "runc_run", full, want)
}

// makeBundle makes an OCI bundle: config.json from `runc spec`, changed to
// run script with sh, without a terminal, on a writable rootfs holding
// busybox.
func makeBundle(t *testing.T, runc, busybox, bundle, script string) {
	t.Helper()
	rootfs := filepath.Join(bundle, "rootfs")
	for _, d := range []string{"bin", "tmp", "proc", "sys", "dev"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "sleep", "touch", "cat"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(runc, "spec")
	cmd.Dir = bundle
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v\n%s", err, out)
	}
	cfgPath := filepath.Join(bundle, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	proc := cfg["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = []string{"sh", "-c", script}
	cfg["root"] = map[string]any{"path": "rootfs", "readonly": false}
	if raw, err = json.MarshalIndent(cfg, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationAuditdLog records a docker session with auditd itself (a
// temporary configuration writing a RAW log, ctrace's default rules loaded
// with auditctl), imports the log, and checks that the containers are found
// from it alone. With -update it keeps the log, trimmed to the session's
// processes (the docker commands, the runtime's processes and the
// containers'), as testdata/containers/docker_session.log.
func TestIntegrationAuditdLog(t *testing.T) {
	kerneltest.Lock(t) // restores the rules and settings auditd and auditctl change
	img := requireDocker(t)
	auditd, err := exec.LookPath("auditd")
	if err != nil {
		testbin.Unavailable(t, "auditd is not installed (Debian: auditd)")
	}
	auditctl, err := exec.LookPath("auditctl")
	if err != nil {
		testbin.Unavailable(t, "auditctl is not installed (Debian: auditd)")
	}
	const name = "ctrace-test-auditd"
	removeContainer(t, name)

	dir := t.TempDir()
	logFile := filepath.Join(dir, "audit.log")
	ad := startAuditd(t, auditd, dir, logFile)
	rules := run(t, 0, ctraceBin, "record", "--print-rules")
	for _, line := range strings.Split(rules, "\n") {
		// Loaded one by one: an auditctl older than the kernel does not
		// know every syscall (fchmodat2), and only that rule is left out.
		out, err := exec.Command(auditctl, strings.Fields(line)...).CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "Syscall name unknown") {
				t.Logf("auditctl cannot load %q: %s", line, bytes.TrimSpace(out))
				continue
			}
			t.Fatalf("auditctl %s: %v\n%s", line, err, out)
		}
	}

	// The session. The docker commands are kept in the trimmed log.
	var cli []int
	dockerPID := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("docker", args...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		cli = append(cli, cmd.Process.Pid)
		if err != nil {
			t.Fatalf("docker %q: %v\n%s", args, err, e.String())
		}
		return strings.TrimSpace(o.String())
	}
	id := dockerPID("run", "-d", "--name", name, "--network", "none", img, "sh", "-c", runInit)
	dockerPID("exec", name, "sh", "-c", runExec)
	if code := dockerPID("wait", name); code != "3" {
		t.Errorf("docker wait: %s, want 3", code)
	}
	dockerPID("rm", name)
	settle()
	ad.stop(t)

	imported := filepath.Join(dir, "full.ctr")
	if _, err := auditlog.ImportFile(imported, true, []string{logFile}, auditlog.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	a, err := analyze.AnalyzeFile(imported)
	if err != nil {
		t.Fatal(err)
	}
	want := wantSession()
	want[0].id = id
	t.Run("full", func(t *testing.T) { checkContainers(t, a, want, false) })

	var mine []*analyze.Container
	for _, w := range want {
		if c := containerWriting(a.Containers, w.marker); c != nil {
			mine = append(mine, c)
		}
	}
	keepPIDs := KeepSet(mine)
	for _, pid := range cli {
		keepPIDs[pid] = true
	}
	trimmed := filepath.Join(dir, "docker_session.log")
	if err := TrimAuditLog(logFile, trimmed, keepPIDs, sessionHeader); err != nil {
		t.Fatal(err)
	}
	t.Run("trimmed", func(t *testing.T) { checkLog(t, trimmed, want) })
	if t.Failed() || !*update {
		return
	}
	keep(t, trimmed, filepath.Join(containersDir, "docker_session.log"))
	writeLogGoldens(t, filepath.Join(containersDir, "docker_session.log"))
}

var sessionHeader = []string{
	"An auditd RAW log of a docker session (docker run, docker exec, docker wait, docker rm), recorded by",
	"internal/containertest's TestIntegrationAuditdLog with auditd and ctrace's default rules (ctrace record",
	"--print-rules, loaded with auditctl), trimmed to the events of the session's processes: the docker",
	"commands, the containerd shim, runc and its children, the container's processes. The serials of the",
	"events left out are gaps.",
}

// auditdProc is the auditd a test started.
type auditdProc struct {
	cmd    *exec.Cmd
	done   chan error
	out    *bytes.Buffer
	waited bool
}

// startAuditd starts auditd in the foreground with a configuration in dir
// that writes a RAW log to logFile and nothing else, and waits until it is
// the registered audit daemon; while another audit daemon (a recorder)
// runs, it tries again, for at most five minutes. The audit state auditd
// changes is restored by kerneltest.Lock.
func startAuditd(t *testing.T, auditd, dir, logFile string) *auditdProc {
	t.Helper()
	plugins := filepath.Join(dir, "plugins.d")
	if err := os.MkdirAll(plugins, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := strings.Join([]string{
		"local_events = yes", "write_logs = yes", "log_file = " + logFile, "log_group = root",
		"log_format = RAW", "flush = INCREMENTAL_ASYNC", "freq = 50", "max_log_file = 100", "num_logs = 1",
		"priority_boost = 0", "name_format = NONE", "max_log_file_action = IGNORE",
		"space_left = 2", "space_left_action = IGNORE", "admin_space_left = 1", "admin_space_left_action = IGNORE",
		"disk_full_action = IGNORE", "disk_error_action = IGNORE", "use_libwrap = no",
		"tcp_listen_queue = 5", "tcp_max_per_addr = 1", "tcp_client_max_idle = 0", "transport = TCP",
		"distribute_network = no", "q_depth = 2000", "overflow_action = IGNORE", "max_restarts = 10",
		"plugin_dir = " + plugins, "end_of_event_timeout = 2",
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "auditd.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		a := tryAuditd(t, auditd, dir)
		if a != nil {
			t.Cleanup(func() { a.stop(t) })
			return a
		}
		if time.Now().After(deadline) {
			t.Fatal("auditd could not register as the audit daemon in 5 minutes")
		}
		time.Sleep(2 * time.Second)
	}
}

// tryAuditd starts auditd once; nil when it exited (another audit daemon
// is registered).
func tryAuditd(t *testing.T, auditd, dir string) *auditdProc {
	t.Helper()
	a := &auditdProc{out: &bytes.Buffer{}, done: make(chan error, 1)}
	a.cmd = exec.Command(auditd, "-n", "-s", "enable", "-c", dir)
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.done <- a.cmd.Wait() }()
	registered := fmt.Sprintf("pid %d\n", a.cmd.Process.Pid)
	for i := 0; i < 50; i++ {
		select {
		case err := <-a.done:
			a.waited = true
			t.Logf("auditd exited (%v), another audit daemon may be registered; retrying\n%s", err, a.out)
			return nil
		default:
		}
		if st := run(t, 0, "auditctl", "-s"); strings.Contains(st+"\n", registered) {
			return a
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.stop(t)
	t.Fatalf("auditd did not register in 5s:\n%s", a.out)
	return nil
}

// stop stops auditd (SIGTERM: it writes the rest of the log) and waits.
func (a *auditdProc) stop(t *testing.T) {
	t.Helper()
	if a.waited {
		return
	}
	a.waited = true
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		a.cmd.Process.Kill()
		<-a.done
		t.Error("auditd did not stop on SIGTERM")
	}
}

// TestCLIContainer runs `ctrace analyze --container` on a kept capture.
func TestCLIContainer(t *testing.T) {
	file := filepath.Join(containersDir, "docker_run.ctr")
	a, err := analyze.AnalyzeFile(file)
	if err != nil || len(a.Containers) != 1 {
		t.Fatalf("%v, %d containers", err, len(a.Containers))
	}
	id := a.Containers[0].ID
	want, err := os.ReadFile(filepath.Join(containersDir, "docker_run.container.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, 0, ctraceBin, "analyze", "--files", "all", "--container", id[:4], file); got != strings.TrimSpace(string(want)) {
		t.Errorf("ctrace analyze --files all --container %s:\n%s\nwant\n%s", id[:4], got, want)
	}
	// The default is the summary: the runtime's setup of the init is one
	// line, the rest as in the full listing.
	summary := run(t, 0, ctraceBin, "analyze", "--container", id[:4], file)
	if !strings.Contains(summary, "runtime setup before the entrypoint: ") || !strings.Contains(summary, "/data.txt: ") ||
		strings.Contains(summary, "(host path, before entering)") || !strings.Contains(summary, "\nfolded: ") {
		t.Errorf("ctrace analyze --container %s (summary):\n%s", id[:4], summary)
	}
	var r struct {
		Processes  []map[string]any `json:"processes"`
		Containers []map[string]any `json:"containers"`
	}
	if err := json.Unmarshal([]byte(run(t, 0, ctraceBin, "analyze", "--format", "json", "--container", id, file)), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Containers) != 1 || r.Containers[0]["id"] != id || len(r.Processes) != len(a.Containers[0].Processes) {
		t.Errorf("--format json --container: %d containers, %d processes", len(r.Containers), len(r.Processes))
	}
	if out, err := exec.Command(ctraceBin, "analyze", "--files", "some", file).CombinedOutput(); err == nil || !strings.Contains(string(out), "--files must be summary, all or none") {
		t.Errorf("ctrace analyze --files some: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"analyze", "--container", "nosuchid", file},
		{"analyze", "--container", id, "--pid", "1", file},
		{"analyze", "--container", "", file},
	} {
		cmd := exec.Command(ctraceBin, args...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "container") {
			t.Errorf("ctrace %q: %v\n%s", args, err, out)
		}
	}
}

// TestIntegrationAuditdStormLogLosesNothing: a RAW log that auditd wrote
// of a 2-second exec storm, in which the kernel lost nothing (its lost
// counter unchanged), imports with nothing lost: auditd's own records
// (DAEMON_START, DAEMON_END), numbered by auditd, open no serial gap. The
// same log cut in two at a record boundary and imported as a rotated set
// loses nothing either; with records of events taken out in the middle,
// the gap is found, and info says where.
func TestIntegrationAuditdStormLogLosesNothing(t *testing.T) {
	kerneltest.Lock(t)
	auditd, err := exec.LookPath("auditd")
	if err != nil {
		testbin.Unavailable(t, "auditd is not installed (Debian: auditd)")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		testbin.Unavailable(t, "gcc is not installed")
	}
	dir := t.TempDir()
	storm := filepath.Join(dir, "storm")
	if out, err := exec.Command("gcc", "-O2", "-o", storm, filepath.Join(repoRoot, "bench", "storm.c"), "-lpthread").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	logFile := filepath.Join(dir, "audit.log")
	lostBefore := auditLost(t)
	ad := startAuditd(t, auditd, dir, logFile)
	for _, line := range strings.Split(run(t, 0, ctraceBin, "record", "--print-rules"), "\n") {
		if out, err := exec.Command("auditctl", strings.Fields(line)...).CombinedOutput(); err != nil && !strings.Contains(string(out), "Syscall name unknown") {
			t.Fatalf("auditctl %s: %v\n%s", line, err, out)
		}
	}
	run(t, 0, storm, "-w", "2", "-t", "2", "-m", "exec")
	ad.stop(t)
	if lost := auditLost(t) - lostBefore; lost != 0 {
		t.Skipf("the kernel lost %d events during the storm: the log is not clean", lost)
	}
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("type=DAEMON_START")) {
		t.Fatalf("the log has no DAEMON_START record:\n%.500s", raw)
	}

	info := func(files ...string) replayLosses {
		t.Helper()
		out := filepath.Join(t.TempDir(), "log.ctr")
		run(t, 0, ctraceBin, append([]string{"import", "-o", out}, files...)...)
		var s replayLosses
		if err := json.Unmarshal([]byte(run(t, 0, ctraceBin, "info", "--format", "json", out)), &s); err != nil {
			t.Fatal(err)
		}
		s.text = run(t, 0, ctraceBin, "info", out)
		return s
	}
	s := info(logFile)
	t.Logf("%d audit frames imported", s.AuditFrames)
	if s.Lost != 0 || s.Losses.AuditSerialGaps != 0 || s.AuditFrames < 1000 {
		t.Errorf("clean log: lost %d (serial gaps %d) in %d frames\n%s", s.Lost, s.Losses.AuditSerialGaps, s.AuditFrames, s.text)
	}

	// A rotated set: the log cut at a line in the middle.
	lines := bytes.SplitAfter(raw, []byte("\n"))
	half := len(lines) / 2
	rot1, rot0 := filepath.Join(dir, "set", "audit.log.1"), filepath.Join(dir, "set", "audit.log")
	os.MkdirAll(filepath.Dir(rot1), 0o700)
	os.WriteFile(rot1, bytes.Join(lines[:half], nil), 0o600)
	os.WriteFile(rot0, bytes.Join(lines[half:], nil), 0o600)
	if s := info(rot0, rot1); s.Lost != 0 {
		t.Errorf("rotated set: lost %d\n%s", s.Lost, s.text)
	}
	// The older file missing from the set: the gap at the cut is none of
	// the kernel's.
	// The cuts are where no event is delivered out of order across them:
	// a serial the kernel sent before its predecessor, on the other side of
	// a cut into a missing file, is not seen and cannot be told from one
	// the kernel lost.
	third, sixth := cleanCut(lines, len(lines)/3), cleanCut(lines, len(lines)/6)
	os.WriteFile(rot1, bytes.Join(lines[third:half], nil), 0o600)
	old := filepath.Join(dir, "set", "audit.log.2")
	os.WriteFile(old, bytes.Join(lines[:sixth], nil), 0o600)
	if s := info(rot0, rot1, old); s.Lost != 0 {
		t.Errorf("rotated set with a file missing: lost %d\n%s", s.Lost, s.text)
	}

	// Records removed in the middle of one file: a real gap, found.
	cut := filepath.Join(dir, "cut.log")
	var kept [][]byte
	removed := map[string]bool{}
	for i, l := range lines {
		if i > half && i < half+200 {
			if m := serialOf(l); m != "" {
				removed[m] = true
				continue
			}
		}
		kept = append(kept, l)
	}
	// Serials whose records were only partly removed are still seen.
	for _, l := range kept {
		delete(removed, serialOf(l))
	}
	os.WriteFile(cut, bytes.Join(kept, nil), 0o600)
	s = info(cut)
	if s.Losses.AuditSerialGaps != int64(len(removed)) || len(removed) == 0 {
		t.Errorf("records of %d events removed: serial gaps %d\n%s", len(removed), s.Losses.AuditSerialGaps, s.text)
	}
	if !strings.Contains(s.text, "serials ") {
		t.Errorf("info does not say where the gap is:\n%s", s.text)
	}
}

// replayLosses is what these tests read of `ctrace info --format json`.
type replayLosses struct {
	AuditFrames int64 `json:"audit_frames"`
	Lost        int64 `json:"lost"`
	Losses      struct {
		AuditSerialGaps int64 `json:"audit_serial_gaps"`
	} `json:"losses"`
	text string
}

// serialOf returns the serial of an audit log line, "" for none.
// cleanCut returns the first line from i on before which every kernel
// serial of the 200 lines before is lower than every one of the 200 lines
// from it.
func cleanCut(lines [][]byte, i int) int {
	kernelSerial := func(l []byte) (uint64, bool) {
		if bytes.HasPrefix(l, []byte("type=DAEMON_")) {
			return 0, false
		}
		n, err := strconv.ParseUint(serialOf(l), 10, 64)
		return n, err == nil
	}
	for j := i; j < len(lines); j++ {
		var hi uint64
		lo := uint64(math.MaxUint64)
		for _, l := range lines[max(0, j-200):j] {
			if n, ok := kernelSerial(l); ok {
				hi = max(hi, n)
			}
		}
		for _, l := range lines[j:min(len(lines), j+200)] {
			if n, ok := kernelSerial(l); ok {
				lo = min(lo, n)
			}
		}
		if hi < lo {
			return j
		}
	}
	return i
}

func serialOf(line []byte) string {
	i := bytes.Index(line, []byte("msg=audit("))
	if i < 0 {
		return ""
	}
	rest := line[i+len("msg=audit("):]
	j := bytes.IndexByte(rest, ':')
	k := bytes.IndexByte(rest, ')')
	if j < 0 || k < j {
		return ""
	}
	return string(rest[j+1 : k])
}

// auditLost returns the kernel's lost counter.
func auditLost(t *testing.T) int64 {
	t.Helper()
	for _, l := range strings.Split(run(t, 0, "auditctl", "-s"), "\n") {
		if v, ok := strings.CutPrefix(l, "lost "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	t.Fatal("auditctl -s shows no lost counter")
	return 0
}

// TestIntegrationStartedBy: a shell runs `docker run` (a server and a client
// on the loopback of a `--network none` container), `docker create` then
// `docker start ID` of a second container, and `docker exec` into it. The
// shell prints the pid of each docker client it starts ($!): each
// container's started_by and the exec session's are that client, with
// their evidence; the server's and the client's calls are in the
// container's processes' connections, and the client got the server's
// answer.
func TestIntegrationStartedBy(t *testing.T) {
	kerneltest.Lock(t)
	img := requireDocker(t)
	names := []string{"ctrace-test-served", "ctrace-test-started"}
	for _, n := range names {
		removeContainer(t, n)
	}
	dir := t.TempDir()
	script := `set -e
docker run --name ` + names[0] + ` --network none ` + img + ` sh -c 'echo > /srv.txt; nc -l -p 8080 -e echo hi & sleep 0.3; nc 127.0.0.1 8080' > ` + dir + `/run.out &
echo "run $!"; wait $!
id=$(docker create --name ` + names[1] + ` --network none ` + img + ` sh -c 'echo > /created.txt; sleep 1')
echo "id $id"
docker start "$id" > /dev/null &
echo "start $!"; wait $!
docker exec ` + names[1] + ` sh -c 'echo > /exec2.txt' &
echo "exec $!"; wait $!
docker wait ` + names[1] + ` > /dev/null
`
	full := filepath.Join(dir, "full.ctr")
	rec := startRecorder(t, full)
	out := run(t, 0, "sh", "-c", script)
	settle()
	rec.stop(t)
	truth := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, " "); ok {
			truth[k] = v
		}
	}
	pid := func(k string) int {
		n, err := strconv.Atoi(truth[k])
		if err != nil {
			t.Fatalf("shell output %q: no pid for %s", out, k)
		}
		return n
	}
	runPID, startPID, execPID := pid("run"), pid("start"), pid("exec")
	if b, _ := os.ReadFile(filepath.Join(dir, "run.out")); strings.TrimSpace(string(b)) != "hi" {
		t.Errorf("the client in the container read %q, want the server's hi", b)
	}

	a, err := analyze.AnalyzeFile(full)
	if err != nil {
		t.Fatal(err)
	}
	served, started := containerWriting(a.Containers, "/srv.txt"), containerWriting(a.Containers, "/created.txt")
	if served == nil || started == nil {
		t.Fatalf("containers not found: %v %v", served, started)
	}
	if started.ID != truth["id"] {
		t.Errorf("started container %s, docker create said %s", started.ID, truth["id"])
	}
	check := func(what string, l *analyze.Launch, cands []*analyze.Process, pid int, sub string, commandMatch, idMatch bool, image string) {
		t.Helper()
		if l == nil {
			t.Errorf("%s: no started_by (candidates %d), want docker client %d", what, len(cands), pid)
			return
		}
		if l.Process.PID != pid || l.Subcommand != sub || l.CommandMatch != commandMatch || l.IDMatch != idMatch || l.Image != image {
			t.Errorf("%s: started by %d %q (%s, command match %v, id match %v, image %q), want %d %s %v %v %q",
				what, l.Process.PID, l.Process.Argv, l.Subcommand, l.CommandMatch, l.IDMatch, l.Image, pid, sub, commandMatch, idMatch, image)
		}
		if path.Base(l.Socket) != "docker.sock" || l.ConnectTime == 0 || l.ConnectTime > l.Process.End {
			t.Errorf("%s: socket %q connected at %d", what, l.Socket, l.ConnectTime)
		}
	}
	check("docker run", served.StartedBy, served.StartedByCandidates, runPID, "run", true, false, img)
	check("docker start", started.StartedBy, started.StartedByCandidates, startPID, "start", false, true, "")
	if len(started.ExecSessions) != 1 {
		t.Fatalf("%d exec sessions in the started container, want 1", len(started.ExecSessions))
	}
	s := started.ExecSessions[0]
	if !slices.Equal(s.Process.Execs[0].Argv, []string{"sh", "-c", "echo > /exec2.txt"}) {
		t.Errorf("exec session runs %q", s.Process.Execs[0].Argv)
	}
	check("docker exec", s.StartedBy, s.Candidates, execPID, "exec", true, false, "")
	if len(served.ExecSessions) != 0 {
		t.Errorf("exec sessions in the served container: %d", len(served.ExecSessions))
	}

	// The server and the client on the container's loopback.
	var calls []string
	for _, p := range served.Processes {
		for _, c := range p.Connections {
			if c.Family == "inet" || c.Family == "inet6" {
				calls = append(calls, fmt.Sprintf("%s %s %d %s", c.Op, c.Family, c.Port, c.Result))
			}
		}
	}
	for _, want := range []string{"bind inet6 8080 ok", "listen inet6 8080 ok", "connect inet 8080 ok"} {
		if !slices.Contains(calls, want) {
			t.Errorf("no %q in the container's connections %q", want, calls)
		}
	}

	// The text report says it, and the JSON report has it.
	var text, js bytes.Buffer
	if err := a.WriteText(&text, 0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("started by %d docker run --name %s", runPID, names[0]),
		fmt.Sprintf("started by %d docker start %s", startPID, started.ID[:12]),
		fmt.Sprintf("exec session started by %d docker exec %s", execPID, names[1]),
		"net connect inet 127.0.0.1:8080: ok",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("no %q in the text report", want)
		}
	}
	if err := a.WriteJSON(&js, 0); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Containers []struct {
			ID        string `json:"id"`
			StartedBy *struct {
				PID      int      `json:"pid"`
				Argv     []string `json:"argv"`
				UID      *int     `json:"uid"`
				Evidence struct {
					Subcommand  string  `json:"subcommand"`
					ConnectTime string  `json:"connect_time"`
					Image       *string `json:"image"`
				} `json:"evidence"`
			} `json:"started_by"`
			ExecSessions []struct {
				PID       int `json:"pid"`
				StartedBy *struct {
					PID int `json:"pid"`
				} `json:"started_by"`
			} `json:"exec_sessions"`
		} `json:"containers"`
	}
	if err := json.Unmarshal(js.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, c := range rep.Containers {
		switch c.ID {
		case served.ID:
			seen++
			if b := c.StartedBy; b == nil || b.PID != runPID || b.Argv[1] != "run" || b.UID == nil || *b.UID != int(os.Getuid()) ||
				b.Evidence.Subcommand != "run" || b.Evidence.ConnectTime == "" || b.Evidence.Image == nil || *b.Evidence.Image != img {
				t.Errorf("JSON started_by of the served container: %+v", b)
			}
		case started.ID:
			seen++
			if len(c.ExecSessions) != 1 || c.ExecSessions[0].StartedBy == nil || c.ExecSessions[0].StartedBy.PID != execPID {
				t.Errorf("JSON exec_sessions: %+v", c.ExecSessions)
			}
		}
	}
	if seen != 2 {
		t.Errorf("JSON report: %d of the 2 containers", seen)
	}
}

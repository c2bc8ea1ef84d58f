//go:build linux

package pathtruth

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctrace/ctrace/internal/kerneltest"
	"github.com/ctrace/ctrace/internal/testbin"
)

var ctraceBin string

func TestMain(m *testing.M) { testbin.Main(m, "../../cmd/ctrace", &ctraceBin) }

// tracedSyscalls are the calls strace logs: every file operation ctrace
// reports, and what places names (working directory, root, processes).
const tracedSyscalls = "open,openat,openat2,creat,truncate,ftruncate,unlink,unlinkat,rmdir,mkdir,mkdirat," +
	"mknod,mknodat,rename,renameat,renameat2,link,linkat,symlink,symlinkat,chmod,fchmod,fchmodat," +
	"chown,fchown,fchownat,lchown,chdir,fchdir,chroot,clone,clone3,fork,vfork"

// run records `sh -c script` in dir with ctrace, under `strace -f -yy`,
// and returns the analysis (JSON) and the trace. env is added to the
// script's environment. With -update and a name, the recording is kept in
// testdata/paths (see keep), or, for a name "reports/NAME", without its
// strace log in testdata/reports (see keepReport).
func run(t *testing.T, name, dir, script string, env ...string) (*Report, *Trace, []byte) {
	t.Helper()
	return runRecorded(t, name, dir, script, nil, env...)
}

// runRecorded is run with more record flags: with rotate ("--rotate",
// SIZE), the recording is a capture set, analyzed as one recording from its
// directory.
func runRecorded(t *testing.T, name, dir, script string, rotate []string, env ...string) (*Report, *Trace, []byte) {
	t.Helper()
	work := t.TempDir()
	capFile := filepath.Join(work, "session.ctr")
	if rotate != nil {
		capFile = filepath.Join(work, "set")
	}
	traceFile := filepath.Join(work, "strace.txt")
	args := append([]string{"record", "--no-snapshot", "--force", "-o", capFile}, rotate...)
	args = append(args, "--",
		"strace", "-f", "-yy", "-qq", "--seccomp-bpf", "-s", "4096", "-o", traceFile, "-e", "trace="+tracedSyscalls,
		"--", "sh", "-c", script)
	recordCommand(t, dir, env, args...)
	rep := analyzeJSON(t, capFile)
	f, err := os.Open(traceFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := ParseStrace(f, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Ops) == 0 {
		t.Fatalf("strace logged no file operation:\n%s", traceFile)
	}
	text, _ := exec.Command(ctraceBin, "analyze", capFile).Output()
	switch {
	case !*update || name == "":
	case strings.HasPrefix(name, "reports/"):
		keepReport(t, capFile, strings.TrimPrefix(name, "reports/"), "--command")
	default:
		keep(t, name, capFile, traceFile, dir)
	}
	return rep, tr, text
}

// keep cuts a recording down to its workload (ctrace extract --command
// --redact-host) into testdata/paths/NAME.ctr, with its strace log (the
// first process's working directory in a first line, the opens that only
// read left out: they name files of the machine, not of the workload);
// TestPathCaptures writes the golden outputs.
func keep(t *testing.T, name, capFile, traceFile, dir string) {
	t.Helper()
	out := filepath.Join(keptDir, name+".ctr")
	if err := os.MkdirAll(keptDir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Remove(out)
	if b, err := exec.Command(ctraceBin, "extract", "--command", "--redact-host", "-o", out, capFile).CombinedOutput(); err != nil {
		t.Fatalf("ctrace extract: %v\n%s", err, b)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() > maxKept {
		t.Fatalf("%s: %v, larger than %d bytes: not kept", out, err, maxKept)
	}
	trace, err := os.ReadFile(traceFile)
	if err != nil {
		t.Fatal(err)
	}
	trace = append([]byte(CwdLine+dir+"\n"), KeepTrace(trace)...)
	if err := os.WriteFile(filepath.Join(keptDir, name+".strace.txt"), trace, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("kept %s", out)
}

// maxKept bounds a recording kept in testdata/paths.
const maxKept = 96 << 10

// recordCommand runs `ctrace ARGS...` (a record command) in dir with env
// added, and waits while another recorder runs (an engineer recording by
// hand, a benchmark), for at most 3 minutes.
func recordCommand(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		cmd := exec.Command(ctraceBin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if strings.Contains(string(out), "another ctrace recorder") && time.Now().Before(deadline) {
			time.Sleep(5 * time.Second)
			continue
		}
		if err != nil {
			t.Fatalf("ctrace %q: %v\n%s", args, err, out)
		}
		return
	}
}

// analyzeJSON returns the JSON report of a capture.
func analyzeJSON(t *testing.T, capFile string) *Report {
	t.Helper()
	out, err := exec.Command(ctraceBin, "analyze", "--format", "json", capFile).Output()
	if err != nil {
		t.Fatalf("ctrace analyze: %v", err)
	}
	rep, err := DecodeReport(out)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// tracedPIDs are the processes strace followed.
func tracedPIDs(tr *Trace) map[int]bool {
	pids := map[int]bool{}
	for _, o := range tr.Ops {
		pids[o.PID] = true
	}
	return pids
}

// makeTree makes dir/a/b/c with files in each directory.
func makeTree(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{"a", "a/b", "a/b/c"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, d, "f.txt"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// hasOp reports whether a process of the report made op on the host path.
func hasOp(rep *Report, op, host string) bool {
	for _, p := range rep.Processes {
		for _, f := range p.Files {
			if f.Operation == op && f.Where() == host {
				return true
			}
		}
	}
	return false
}

// TestIntegrationCoreutils: rm -rf, find -delete, cp -r, mv, chmod, ln on
// trees made before the recording and during it, from the working
// directory and by absolute names.
func TestIntegrationCoreutils(t *testing.T) {
	kerneltest.Lock(t)
	testbin.Need(t, "strace")
	dir := t.TempDir()
	makeTree(t, filepath.Join(dir, "before"))
	makeTree(t, filepath.Join(dir, "before2"))
	script := `set -e
rm -rf before
mkdir -p during/x/y && echo 1 > during/x/f && echo 2 > during/x/y/g
cp -r during copy
chmod 755 copy/x/f
chown 1:1 copy/x/y/g
ln -s f copy/x/link
ln copy/x/f copy/x/hard
mv copy moved
find during -delete
find ` + dir + `/before2 -name '*.txt' -delete
rm -r moved before2
`
	rep, tr, text := run(t, "coreutils", dir, script)
	verify(t, rep, tr, text)
	for _, want := range []struct{ op, path string }{
		{"rmdir", dir + "/before/a/b/c"}, {"rmdir", dir + "/before"}, {"unlink", dir + "/before/a/f.txt"},
		{"rmdir", dir + "/during/x/y"}, {"rmdir", dir + "/moved/x"}, {"chmod", dir + "/copy/x/f"},
		{"chown", dir + "/copy/x/y/g"}, {"rename_to", dir + "/moved"}, {"rmdir", dir + "/before2/a/b/c"},
	} {
		if !hasOp(rep, want.op, want.path) {
			t.Errorf("no %s of %s", want.op, want.path)
		}
	}
}

// TestIntegrationBusybox: busybox rm -r removes directories with rmdir(2).
func TestIntegrationBusybox(t *testing.T) {
	kerneltest.Lock(t)
	testbin.Need(t, "strace", "busybox")
	dir := t.TempDir()
	makeTree(t, filepath.Join(dir, "before"))
	rep, tr, text := run(t, "busybox", dir, "busybox rm -r before && busybox mkdir -p n/m && busybox rm -r n")
	verify(t, rep, tr, text)
	for _, p := range []string{"/before/a/b/c", "/before", "/n/m", "/n"} {
		if !hasOp(rep, "rmdir", dir+p) {
			t.Errorf("no rmdir of %s", dir+p)
		}
	}
}

// goRemoveAll is a Go program that makes a tree and removes it and a tree
// that existed before with os.RemoveAll, which walks them with openat and
// unlinkat relative to directory descriptors.
const goRemoveAll = `package main

import (
	"os"
	"path/filepath"
)

func main() {
	root := os.Args[1]
	t := filepath.Join(root, "made")
	for _, d := range []string{"p/q/r", "p/s"} {
		if err := os.MkdirAll(filepath.Join(t, d), 0o755); err != nil {
			panic(err)
		}
		if err := os.WriteFile(filepath.Join(t, d, "file"), []byte("x"), 0o600); err != nil {
			panic(err)
		}
	}
	if err := os.Rename(filepath.Join(t, "p", "s"), filepath.Join(t, "p", "s2")); err != nil {
		panic(err)
	}
	for _, d := range []string{t, filepath.Join(root, "before")} {
		if err := os.RemoveAll(d); err != nil {
			panic(err)
		}
	}
}
`

// TestIntegrationGoRemoveAll: Go's os.RemoveAll on a tree made during the
// recording and on one made before.
func TestIntegrationGoRemoveAll(t *testing.T) {
	kerneltest.Lock(t)
	testbin.Need(t, "strace", "go")
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(goRemoveAll), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(src, "removeall")
	cmd := exec.Command("go", "build", "-o", bin, "main.go")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	makeTree(t, filepath.Join(dir, "before"))
	rep, tr, text := run(t, "go_removeall", dir, bin+" "+dir)
	verify(t, rep, tr, text)
	for _, p := range []string{"/made/p/q/r", "/made/p/s2", "/made", "/before/a/b", "/before"} {
		if !hasOp(rep, "rmdir", dir+p) {
			t.Errorf("no rmdir of %s", dir+p)
		}
	}
}

// TestIntegrationDescriptorReuse: a program that reuses descriptor numbers
// across write opens, read-only directory opens, dup2 and memfd_create,
// without the closes being recorded (testdata/fdreuse.c).
func TestIntegrationDescriptorReuse(t *testing.T) {
	kerneltest.Lock(t)
	testbin.Need(t, "strace", "gcc")
	bin := filepath.Join(t.TempDir(), "fdreuse")
	if out, err := exec.Command("gcc", "-O1", "-o", bin, "testdata/fdreuse.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	dir := t.TempDir()
	rep, tr, text := run(t, "fdreuse", dir, bin)
	res := verify(t, rep, tr, text)
	if res.Matched < 10 {
		t.Errorf("only %d operations matched", res.Matched)
	}
	for _, want := range []struct{ op, path string }{
		{"create", dir + "/d1/in-d1"}, {"create", dir + "/d2/in-d2"}, {"unlink", dir + "/d2/in-d2"},
		{"open_write", dir + "/d1/in-d1"}, {"chmod", dir + "/file2"}, {"rmdir", dir + "/d1"},
	} {
		if !hasOp(rep, want.op, want.path) {
			t.Errorf("no %s of %s", want.op, want.path)
		}
	}
}

// TestIntegrationChroot: coreutils chroot runs a static busybox in a
// directory; its writes are shown as the process saw them, with the host
// path under the root.
func TestIntegrationChroot(t *testing.T) {
	kerneltest.Lock(t)
	testbin.Need(t, "strace", "busybox", "chroot")
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	bb, _ := exec.LookPath("busybox")
	if out, err := exec.Command("cp", bb, filepath.Join(root, "bin", "busybox")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	rep, tr, text := run(t, "chroot", dir, `chroot root /bin/busybox sh -c 'echo hi > /out.txt; /bin/busybox mkdir -p /d/e; /bin/busybox cp /out.txt /d/e/copy; /bin/busybox rm -r /d; cd /bin && /bin/busybox rm ../out.txt'`)
	verify(t, rep, tr, text)
	found := false
	for _, p := range rep.Processes {
		for _, f := range p.Files {
			if f.Path != nil && *f.Path == "/out.txt" && f.Operation == "create" {
				found = true
				if f.HostPath != root+"/out.txt" || p.Root != root {
					t.Errorf("/out.txt: host path %q, root %q; want under %s", f.HostPath, p.Root, root)
				}
			}
		}
	}
	if !found {
		t.Errorf("no create of /out.txt in the chroot")
	}
	for _, want := range []struct{ op, path string }{
		{"rmdir", root + "/d/e"}, {"rmdir", root + "/d"}, {"unlink", root + "/out.txt"}, {"create", root + "/d/e/copy"},
	} {
		if !hasOp(rep, want.op, want.path) {
			t.Errorf("no %s of %s", want.op, want.path)
		}
	}
}

// TestIntegrationDpkg: dpkg -i and dpkg --purge of a small package built
// with dpkg-deb --build.
func TestIntegrationDpkg(t *testing.T) {
	kerneltest.Lock(t)
	testbin.Need(t, "strace", "dpkg", "dpkg-deb")
	const pkg = "ctrace-pathtruth-test"
	if exec.Command("dpkg", "-s", pkg).Run() == nil {
		t.Fatalf("%s is installed already: remove it with dpkg --purge %s", pkg, pkg)
	}
	t.Cleanup(func() { exec.Command("dpkg", "--purge", pkg).Run() })
	dir := t.TempDir()
	tree := filepath.Join(dir, "pkg")
	for _, f := range []string{"DEBIAN/control", "usr/share/" + pkg + "/hello.txt", "usr/share/" + pkg + "/sub/deep.txt"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tree, f)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	control := "Package: " + pkg + "\nVersion: 1.0\nArchitecture: all\nMaintainer: test <test@example.invalid>\nDescription: test package\n"
	for f, body := range map[string]string{"DEBIAN/control": control, "usr/share/" + pkg + "/hello.txt": "hello\n",
		"usr/share/" + pkg + "/sub/deep.txt": "deep\n"} {
		if err := os.WriteFile(filepath.Join(tree, f), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", tree, filepath.Join(dir, pkg+".deb")).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, out)
	}
	rep, tr, text := run(t, "dpkg", dir, "dpkg -i "+pkg+".deb >/dev/null && dpkg --purge "+pkg+" >/dev/null")
	verify(t, rep, tr, text)
	for _, want := range []struct{ op, path string }{
		{"rename_to", "/usr/share/" + pkg + "/hello.txt"}, {"unlink", "/usr/share/" + pkg + "/sub/deep.txt"},
		{"rmdir", "/usr/share/" + pkg + "/sub"}, {"rmdir", "/usr/share/" + pkg},
	} {
		if !hasOp(rep, want.op, want.path) {
			t.Errorf("no %s of %s", want.op, want.path)
		}
	}
}

// helloModule writes a hello program's module into a new directory and
// returns it with the environment that builds it with an empty GOCACHE.
func helloModule(t *testing.T) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	main := "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() { fmt.Fprintln(os.Stdout, \"hello\") }\n"
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, []string{"GOCACHE=" + filepath.Join(dir, "gocache"), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOMAXPROCS=2"}
}

// TestIntegrationGoBuild: go build of a small program with an empty
// GOCACHE (the toolchain compiles the standard library it needs into
// temporary directories it then removes).
func TestIntegrationGoBuild(t *testing.T) {
	kerneltest.Lock(t)
	testbin.Need(t, "strace", "go")
	if testing.Short() {
		t.Skip("go build with an empty cache takes minutes under strace")
	}
	dir, env := helloModule(t)
	rep, tr, text := run(t, "reports/go_build", dir, "go build -o hello .", env...)
	verify(t, rep, tr, text)
	if _, err := os.Stat(filepath.Join(dir, "hello")); err != nil {
		t.Fatalf("go build made no binary: %v", err)
	}
	if !hasOp(rep, "rename_to", filepath.Join(dir, "hello")) && !hasOp(rep, "create", filepath.Join(dir, "hello")) {
		t.Errorf("the binary's write is not in the report")
	}
}

// TestIntegrationGoBuildRotating: the same go build, recorded by a
// rotating recorder that starts a new capture every 64 KiB or second: the set,
// analyzed as one recording, gives exactly what strace saw, however the
// processes and their file operations fall across the captures.
func TestIntegrationGoBuildRotating(t *testing.T) {
	kerneltest.Lock(t)
	testbin.Need(t, "strace", "go")
	if testing.Short() {
		t.Skip("go build with an empty cache takes minutes under strace")
	}
	dir, env := helloModule(t)
	rep, tr, text := runRecorded(t, "", dir, "go build -o hello .", []string{"--rotate", "64KiB,1s"}, env...)
	if n := len(rep.Capture.Files); n < 5 {
		t.Fatalf("the go build filled %d captures: the test wants several", n)
	}
	if rep.Capture.Lost != 0 || len(rep.Capture.Damage) > 0 {
		t.Errorf("the set lost %d events, damage %v", rep.Capture.Lost, rep.Capture.Damage)
	}
	res := verify(t, rep, tr, text)
	t.Logf("%d captures, %d operations checked", len(rep.Capture.Files), res.Matched)
	if !hasOp(rep, "rename_to", filepath.Join(dir, "hello")) && !hasOp(rep, "create", filepath.Join(dir, "hello")) {
		t.Errorf("the binary's write is not in the report")
	}
}

// requireDocker makes docker usable (testdata/docker/setup.sh starts
// dockerd and builds the busybox image) and returns the image name.
func requireDocker(t *testing.T) string {
	t.Helper()
	testbin.Need(t, "docker", "dockerd")
	out, err := exec.Command("bash", "../../testdata/docker/setup.sh").CombinedOutput()
	if err != nil {
		testbin.Unavailable(t, "docker is not usable (testdata/docker/setup.sh: %v):\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// TestIntegrationDockerBuild: `docker build` (the legacy builder) of a
// Dockerfile whose RUN steps create, copy, chmod and remove files and
// directories. The whole machine is recorded: dockerd's layer bookkeeping
// (its docker-applyLayer helper chroots into the layer), runc, and the RUN
// containers. No path may be under a regular file, nearly all must be
// resolved, the RUN steps' operations must be there with their host paths
// under the container's rootfs, and the chroot'ed helper's writes must
// carry host paths under its root.
func TestIntegrationDockerBuild(t *testing.T) {
	kerneltest.Lock(t)
	image := requireDocker(t)
	const tag = "ctrace-pathtruth-build:test"
	exec.Command("docker", "rmi", "-f", tag).Run()
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	dir := t.TempDir()
	dockerfile := "FROM " + image + `
COPY payload.txt /app/payload.txt
RUN mkdir -p /app/sub/deeper && echo v1 > /app/version.txt && cp /app/version.txt /app/copy.txt && rm -r /app/sub && chmod 755 /app/copy.txt
RUN rm /app/version.txt && mkdir /app/d2 && touch /app/d2/f && rm -rf /app/d2
`
	for f, body := range map[string]string{"Dockerfile": dockerfile, "payload.txt": "payload\n"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	capFile := filepath.Join(t.TempDir(), "build.ctr")
	recordCommand(t, "", []string{"DOCKER_BUILDKIT=0"}, "record", "--force", "-o", capFile, "--", "docker", "build", "--no-cache", "-q", "-t", tag, dir)
	rep := analyzeJSON(t, capFile)
	if *update {
		keepDockerBuild(t, capFile)
	}
	text, _ := exec.Command(ctraceBin, "analyze", capFile).Output()
	defer func() {
		if t.Failed() {
			t.Logf("text report:\n%s", text)
		}
	}()

	ops, unresolved := 0, 0
	var unres []string
	for _, p := range rep.Processes {
		for _, f := range p.Files {
			ops++
			if f.Where() == "" {
				unresolved++
				name := ""
				if f.Path != nil {
					name = *f.Path
				}
				unres = append(unres, fmt.Sprintf("pid %d %s %q", p.PID, f.Operation, name))
			}
		}
	}
	share := float64(ops-unresolved) / float64(ops)
	t.Logf("%d operations, %d unresolved (%.2f%% resolved)", ops, unresolved, 100*share)
	if share < minResolved {
		t.Errorf("%.2f%% resolved, want at least %.0f%%:\n%s", 100*share, 100*minResolved, Summary(unres, 30))
	}
	if bad := UnderRegularFile(rep); len(bad) > 0 {
		t.Errorf("%d paths under a regular file:\n%s", len(bad), Summary(bad, 30))
	}

	// The RUN steps, in their containers, with host paths under the
	// container's rootfs.
	type step struct{ op, path string }
	want := map[step]bool{
		{"mkdir", "/app/sub/deeper"}: false, {"create", "/app/version.txt"}: false, {"create", "/app/copy.txt"}: false,
		{"rmdir", "/app/sub/deeper"}: false, {"rmdir", "/app/sub"}: false, {"chmod", "/app/copy.txt"}: false,
		{"unlink", "/app/version.txt"}: false, {"mkdir", "/app/d2"}: false, {"create", "/app/d2/f"}: false,
		{"unlink", "/app/d2/f"}: false, {"rmdir", "/app/d2"}: false,
	}
	for _, p := range rep.Processes {
		if p.Container == nil {
			continue
		}
		for _, f := range p.Files {
			if f.Path == nil || f.Unresolved || f.HostView {
				continue
			}
			k := step{f.Operation, *f.Path}
			if _, ok := want[k]; !ok {
				continue
			}
			want[k] = true
			if p.Root == "" || f.HostPath != p.Root+*f.Path {
				t.Errorf("%s %s in container %s: host path %q, root %q", f.Operation, *f.Path, *p.Container, f.HostPath, p.Root)
			}
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("the RUN steps' %s %s is not in a container's operations", k.op, k.path)
		}
	}

	// dockerd's helpers that change their root into a layer (docker-untar,
	// docker-applyLayer: pivot_root, or chroot): the operations after the
	// change have their host path under the root (those before it are host
	// paths already).
	rooted := map[string]int{}
	for _, p := range rep.Processes {
		if p.Container != nil || p.Root == "" {
			continue
		}
		if !strings.HasPrefix(p.Root, "/var/lib/docker/") {
			t.Errorf("pid %d %q: root %s is not under /var/lib/docker", p.PID, p.Argv, p.Root)
		}
		for _, f := range p.Files {
			if f.HostPath == "" || f.Path == nil {
				continue
			}
			if len(p.Argv) > 0 {
				rooted[p.Argv[0]]++
			}
			if f.HostPath != filepath.Join(p.Root, *f.Path) {
				t.Errorf("pid %d (root %s) %s %s: host path %q", p.PID, p.Root, f.Operation, *f.Path, f.HostPath)
			}
		}
	}
	t.Logf("operations with host paths under a changed root: %v", rooted)
	if rooted["docker-applyLayer"] == 0 {
		t.Errorf("no file operation of docker-applyLayer inside its layer")
	}
	// The second RUN step removed /app/version.txt: its layer holds a
	// whiteout, which docker-applyLayer applies by removing the file in
	// the new layer.
	whiteout := false
	for _, p := range rep.Processes {
		for _, f := range p.Files {
			if p.Container == nil && f.Operation == "unlink" && f.Path != nil && *f.Path == "/app/version.txt" &&
				strings.HasPrefix(f.HostPath, "/var/lib/docker/") {
				whiteout = true
			}
		}
	}
	if !whiteout {
		t.Errorf("docker-applyLayer's removal of /app/version.txt (a whiteout) is not there with its host path")
	}
}

// keepDockerBuild cuts the docker build recording down to the docker client
// and dockerd's subtree (containerd, the shims, runc, the RUN containers,
// dockerd's helpers) into testdata/reports/docker_build.ctr.
func keepDockerBuild(t *testing.T, capFile string) {
	t.Helper()
	pid, err := exec.Command("pidof", "dockerd").Output()
	if err != nil {
		t.Fatalf("pidof dockerd: %v", err)
	}
	keepReport(t, capFile, "docker_build", "--command", "--pid", strings.TrimSpace(string(pid)))
}

// keepReport cuts a recording down to the selection (extract flags), without
// the selected processes' ancestors (the machine's), host redacted, into
// testdata/reports/NAME.ctr: real captures for the reports' tests (analyze's
// TestSummaryReports, timeline's TestEveryFact), at most maxReport bytes.
func keepReport(t *testing.T, capFile, name string, selection ...string) {
	t.Helper()
	out := filepath.Join("..", "..", "testdata", "reports", name+".ctr")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Remove(out)
	args := append(append([]string{"extract"}, selection...), "--no-ancestors", "--redact-host", "-o", out, capFile)
	if b, err := exec.Command(ctraceBin, args...).CombinedOutput(); err != nil {
		t.Fatalf("ctrace extract: %v\n%s", err, b)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() > maxReport {
		t.Fatalf("%s: %v, larger than %d bytes: not kept", out, err, maxReport)
	}
	if err := os.Chmod(out, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("kept %s", out)
}

// maxReport bounds a recording kept in testdata/reports.
const maxReport = 400 << 10

// TestIntegrationDiffDockerBuild records the same `docker build --no-cache`
// twice (ctrace diff finds nothing), then with its RUN step also writing a
// file outside /app and running an extra program: the diff shows exactly
// those, in the RUN step's container, with the chain that did them.
func TestIntegrationDiffDockerBuild(t *testing.T) {
	kerneltest.Lock(t)
	image := requireDocker(t)
	const tag = "ctrace-diff-build:test"
	exec.Command("docker", "rmi", "-f", tag).Run()
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	dir := t.TempDir()
	ctx := filepath.Join(dir, "ctx")
	os.MkdirAll(ctx, 0o755)
	build := func(name, run string) string {
		df := "FROM " + image + "\nRUN " + run + "\n"
		if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, name+".ctr")
		recordCommand(t, "", []string{"DOCKER_BUILDKIT=0"}, "record", "--force", "-o", out, "--", "docker", "build", "--no-cache", "-q", "-t", tag, ctx)
		return out
	}
	const step = "mkdir -p /app && echo v1 > /app/version.txt && cp /app/version.txt /app/copy.txt"
	a := build("a", step)
	b := build("b", step)
	diff := func(args ...string) (string, int) {
		cmd := exec.Command(ctraceBin, append([]string{"diff"}, args...)...)
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code == 2 {
			t.Fatalf("diff: %s", err.(*exec.ExitError).Stderr)
		}
		return string(out), code
	}
	if out, code := diff(a, b); code != 0 {
		t.Errorf("the same build twice: exit %d\n%s", code, out)
	}
	// busybox's sh runs some applets in its own process: the extra program
	// is run by its path, which it must exec.
	extra := step + " && echo x > /etc/extra.conf && /bin/busybox md5sum /app/copy.txt > /dev/null"
	c := build("c", extra)
	out, code := diff("--format", "json", a, c)
	if code != 1 {
		t.Fatalf("variant: exit %d\n%s", code, out)
	}
	var rep struct {
		Differences []struct {
			Change    string   `json:"change"`
			Kind      string   `json:"kind"`
			Container *string  `json:"container"`
			What      string   `json:"what"`
			Chain     []string `json:"chain"`
		} `json:"differences"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	file, prog := false, false
	for _, e := range rep.Differences {
		chain := strings.Join(e.Chain, " > ")
		runStep := strings.HasSuffix(e.What, "/bin/sh -c '"+step+"'") || strings.HasSuffix(e.What, "/bin/sh -c '"+extra+"'")
		switch {
		case (e.Kind == "container" || e.Kind == "exec") && runStep:
			// The RUN step's command itself changed: the same step (#1 of
			// the build), another command.
		case e.Kind == "file" && e.What == "create /etc/extra.conf" && e.Change == "new":
			file = true
		case e.Kind == "exec" && e.What == "/bin/busybox /bin/busybox md5sum /app/copy.txt" && e.Change == "new":
			prog = true
		default:
			t.Errorf("%s %s %s: not what the variant added", e.Change, e.Kind, e.What)
		}
		container := ""
		if e.Container != nil {
			container = *e.Container
		}
		if !strings.HasPrefix(container, "#1 of docker build") || !strings.Contains(chain, "runc init") {
			t.Errorf("%s %s: container %q, chain %s", e.Kind, e.What, container, chain)
		}
	}
	if !file || !prog {
		t.Errorf("the extra file (%v) or program (%v) not found:\n%s", file, prog, out)
	}
}

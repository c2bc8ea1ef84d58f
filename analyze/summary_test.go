package analyze

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// processLineRE matches a process's line in a text report (after the tree
// drawing): its pid and command.
var processLineRE = regexp.MustCompile(`^[│├└─ ]*(\d+ \S.*)$`)

// processLines returns the process lines of a text report, without their
// tree drawing, in order.
func processLines(report string) []string {
	var out []string
	for _, l := range strings.Split(report, "\n") {
		if m := processLineRE.FindStringSubmatch(l); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

// fileLineRE matches a line under a process: a path or a network call.
var fileLineRE = regexp.MustCompile(`^[│ ]*  +(/|net |runtime |fd )`)

// TestSummaryHidesNoProcess: on every capture in testdata, the summary
// (--files summary) and the trees alone (--files none) show exactly the
// process lines of the full listing (--files all), in the same order; the
// trees alone have no line under a process.
func TestSummaryHidesNoProcess(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*", "*.ctr"))
	if len(files) < 10 {
		t.Fatalf("%d captures", len(files))
	}
	for _, f := range files {
		a, err := AnalyzeFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all := report(t, a, Options{Files: FilesAll})
		if full := report(t, a, Options{}); full != all {
			t.Errorf("%s: the default of the library's report is not the full listing", f)
		}
		want := processLines(all)
		for _, mode := range []string{FilesSummary, FilesNone} {
			got := report(t, a, Options{Files: mode})
			if !slices.Equal(processLines(got), want) {
				t.Errorf("%s --files %s: process lines differ from --files all", filepath.Base(f), mode)
			}
			if mode == FilesNone {
				for _, l := range strings.Split(got, "\n") {
					if fileLineRE.MatchString(l) {
						t.Errorf("%s --files none: %q", filepath.Base(f), l)
						break
					}
				}
			}
		}
	}
}

// TestSummaryReports: the summaries of the real captures in
// testdata/reports (a docker build, a go build) against their golden files.
func TestSummaryReports(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "reports", "*.ctr"))
	if len(files) < 2 {
		t.Fatalf("%d captures in testdata/reports", len(files))
	}
	for _, f := range files {
		a, err := AnalyzeFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got := report(t, a, Options{Files: FilesSummary})
		golden := strings.TrimSuffix(f, ".ctr") + ".summary.txt"
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if want, err := os.ReadFile(golden); err != nil || string(want) != got {
			t.Errorf("%s differs from the golden file (go test -update rewrites it; review the diff): %v", golden, err)
		}
	}
}

// TestSummaryDockerBuild: the default report of a two-step docker build
// (legacy builder) fits on two screens, and still shows both RUN
// containers with their files, who started them, and the folding.
func TestSummaryDockerBuild(t *testing.T) {
	f := filepath.Join("..", "testdata", "reports", "docker_build.ctr")
	a, err := AnalyzeFile(f)
	if err != nil {
		t.Fatal(err)
	}
	got := report(t, a, Options{Files: FilesSummary})
	lines := strings.Count(got, "\n")
	all := strings.Count(report(t, a, Options{Files: FilesAll}), "\n")
	t.Logf("summary %d lines, full listing %d", lines, all)
	if lines >= 150 || all < 1000 {
		t.Errorf("summary %d lines (want < 150), full listing %d", lines, all)
	}
	if len(a.Containers) != 2 {
		t.Fatalf("%d containers", len(a.Containers))
	}
	// The RUN steps' files, under their containers' sections.
	sections := strings.Split(got, "\ncontainer ")
	if len(sections) != 3 {
		t.Fatalf("%d container sections", len(sections)-1)
	}
	for i, want := range [][]string{
		{"/app/version.txt: create", "/app/copy.txt: create", "/app/copy.txt: chmod 0755", "/app/sub/deeper: mkdir", "/app/sub: rmdir"},
		{"/app/version.txt: unlink", "/app/d2: mkdir", "/app/d2/f: create", "/app/d2/f: unlink", "/app/d2: rmdir"},
	} {
		sec := sections[i+1]
		if j := strings.Index(sec, "\nhost\n"); j >= 0 {
			sec = sec[:j]
		}
		for _, w := range want {
			if !strings.Contains(sec, w) {
				t.Errorf("container section %d has no %q", i+1, w)
			}
		}
		for _, w := range []string{"runtime setup before the entrypoint: ", "started by "} {
			if !strings.Contains(sec, w) {
				t.Errorf("container section %d has no %q", i+1, w)
			}
		}
	}
	for _, w := range []string{"/var/lib/docker/  ", "runtime files for container ", "\nfolded: "} {
		if !strings.Contains(got, w) {
			t.Errorf("no %q in the summary", w)
		}
	}
}

// TestControlBytesInPaths: a path with a newline or an escape sequence
// stays on its line in every text listing.
func TestControlBytesInPaths(t *testing.T) {
	code := 0
	p := &Process{ID: 1, PID: 7, Start: 1e9, End: 2e9, ExitCode: &code, Argv: []string{"evil"}}
	for i, name := range []string{"/tmp/a\nfake: create", "/tmp/b\x1b[2J", "/tmp/c\rover"} {
		p.Files = append(p.Files, FileOp{Op: OpCreate, Path: name, Time: 1.1e9 + int64(i)})
	}
	a := &Analysis{Processes: []*Process{p}, Containers: []*Container{}}
	for _, mode := range []string{FilesAll, FilesSummary} {
		out := report(t, a, Options{Files: mode})
		if strings.Contains(out, "\nfake: create") || strings.ContainsAny(out, "\x1b\r") {
			t.Errorf("--files %s: a control byte reached the report:\n%q", mode, out)
		}
		for _, want := range []string{`/tmp/a\x0afake: create: create`, `/tmp/b\x1b[2J: create`, `/tmp/c\x0dover: create`} {
			if !strings.Contains(out, want) {
				t.Errorf("--files %s: no %q in\n%s", mode, want, out)
			}
		}
	}
}

// Command bench-report measures the HTML report (`ctrace report`) on
// models of growing size: the page's size against the JSON report's, and
// its render time in headless Chromium (the page's own measure, from its
// script's start to the first drawing: JSON parse, rows, bars), with the
// wall time of Chromium loading the page against loading an empty page in
// the same run. It prints a Markdown table.
//
//	go run ./bench/report [-sizes 1000x10000,10000x100000] [-runs 3]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/report"
)

func main() {
	sizes := flag.String("sizes", "1000x10000,10000x100000", "PROCESSESxFILE_OPERATIONS,...")
	runs := flag.Int("runs", 3, "Chromium loads per size (the median is kept)")
	flag.Parse()
	bin := ""
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		fmt.Fprintln(os.Stderr, "bench-report: chromium is not installed (Debian: chromium)")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "ctrace-bench-report")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	empty := filepath.Join(dir, "empty.html")
	os.WriteFile(empty, []byte(`<!DOCTYPE html><html><body data-ready="1" data-render-ms="0"></body></html>`), 0o644)

	fmt.Println("| processes | file operations | page bytes | JSON report bytes | page / JSON | render in page (ms, median) | Chromium load (s, median) | empty page load (s) |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, s := range strings.Split(*sizes, ",") {
		var np, nf int
		if _, err := fmt.Sscanf(s, "%dx%d", &np, &nf); err != nil {
			fail(fmt.Errorf("size %q: %v", s, err))
		}
		a := model(np, nf)
		var page, js bytes.Buffer
		if err := report.Write(&page, a, nil, report.Options{Source: "bench"}); err != nil {
			fail(err)
		}
		if err := a.WriteJSON(&js, 0); err != nil {
			fail(err)
		}
		file := filepath.Join(dir, s+".html")
		if err := os.WriteFile(file, page.Bytes(), 0o644); err != nil {
			fail(err)
		}
		var render, load, base []float64
		for i := 0; i < *runs; i++ {
			r, l := load1(bin, dir, file)
			_, b := load1(bin, dir, empty)
			render, load, base = append(render, r), append(load, l), append(base, b)
		}
		fmt.Printf("| %d | %d | %d | %d | %.2f | %.0f | %.2f | %.2f |\n", np, nf, page.Len(), js.Len(),
			float64(page.Len())/float64(js.Len()), median(render), median(load), median(base))
	}
}

var renderRE = regexp.MustCompile(`data-render-ms="([0-9.]+)"`)

// load1 loads a page in headless Chromium: the page's render time (ms) and
// Chromium's wall time (s).
func load1(bin, dir, file string) (float64, float64) {
	start := time.Now()
	out, err := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1400,1000", "--dump-dom", "file://"+file).Output()
	wall := time.Since(start).Seconds()
	if err != nil {
		fail(fmt.Errorf("chromium %s: %v", file, err))
	}
	m := renderRE.FindSubmatch(out)
	if m == nil || !bytes.Contains(out, []byte(`data-ready="1"`)) {
		fail(fmt.Errorf("%s: the page did not finish rendering", file))
	}
	ms, _ := strconv.ParseFloat(string(m[1]), 64)
	return ms, wall
}

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}

// model builds an analysis of np processes (a build-like tree: a root,
// 1/20 of them drivers, the rest their children, a few in containers) with
// nf file operations spread over them and over directories.
func model(np, nf int) *analyze.Analysis {
	const start = int64(1_700_000_000_000_000_000)
	span := int64(60e9)
	a := &analyze.Analysis{Containers: []*analyze.Container{}}
	a.Capture.Host, a.Capture.Start, a.Capture.End, a.Capture.Kind = "bench", start, start+span, "record"
	code := 0
	bad := 2
	var drivers []*analyze.Process
	for i := 0; i < np; i++ {
		t0 := start + int64(i)*span/int64(np+1)
		p := &analyze.Process{ID: i + 1, PID: 1000 + i, Start: t0, End: t0 + span/int64(20+i%50), ExitCode: &code,
			Exe: "/usr/bin/cc", Argv: []string{"cc", "-c", fmt.Sprintf("src/pkg%d/file%d.c", i%97, i), "-o", fmt.Sprintf("out/file%d.o", i)}}
		if i%13 == 0 {
			p.ExitCode = &bad
		}
		p.Execs = []analyze.Exec{{Time: t0 + 1e5, Exe: p.Exe, Argv: p.Argv}}
		switch {
		case i == 0:
			p.End = start + span
			p.Argv = []string{"make", "-j4"}
		case i%20 == 1 || len(drivers) == 0:
			p.Parent = a.Processes[0]
			drivers = append(drivers, p)
		default:
			p.Parent = drivers[i%len(drivers)]
		}
		if p.Parent != nil {
			p.PPID = p.Parent.PID
			p.Parent.Children = append(p.Parent.Children, p)
		}
		a.Processes = append(a.Processes, p)
	}
	for k := 0; k < nf; k++ {
		p := a.Processes[k%np]
		p.Files = append(p.Files, analyze.FileOp{Op: []string{"create", "open_write", "unlink", "rename_to"}[k%4],
			Path: fmt.Sprintf("/build/out/dir%d/sub%d/obj%d.o", k%211, k%7, k), Time: p.Start + int64(k%1000)})
	}
	for c := 0; c < 3 && c*100 < np; c++ {
		init := a.Processes[c*100+1]
		id := strings.Repeat(strconv.Itoa(c+1), 64)
		ctr := &analyze.Container{ID: id, Runtime: "docker", Rootfs: "/var/lib/docker/vfs/dir/" + id, Init: init, Start: init.Start, End: init.End, ExitCode: init.ExitCode}
		for _, p := range append([]*analyze.Process{init}, init.Children...) {
			p.Container = &ctr.ID
			ctr.Processes = append(ctr.Processes, p)
		}
		a.Containers = append(a.Containers, ctr)
	}
	return a
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench-report:", err)
	os.Exit(1)
}

// Command bench-report measures the HTML report (`ctrace report`) on
// models of growing size, in headless Chromium driven over the DevTools
// protocol: the page's size against the JSON report's, the time to its
// load event, its script's own render time, and the intervals between
// frames while scrolling through the rows and while zooming the timeline;
// the same rows as a static page (same style, no script) are scrolled too,
// as the baseline of what this browser and machine can do. It prints a
// Markdown table.
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
	"slices"
	"strconv"
	"strings"

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
	fmt.Println("| processes | file operations | page bytes | JSON report bytes | page / JSON | load (s) | script at load (ms) | scroll frames p50 / p95 / max (ms) | static page of the same rows: scroll p50 / p95 (ms) | zoom frames p95 / max (ms) |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
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
		// The same rows as a static page (the same style, no script): what
		// scrolling that many rows costs this browser by itself.
		plain := filepath.Join(dir, s+"-plain.html")
		if err := os.WriteFile(plain, plainPage(a), 0o644); err != nil {
			fail(err)
		}
		var plainScroll []float64
		var load, render []float64
		var scroll, zoom []float64
		for i := 0; i < *runs; i++ {
			m := measure(bin, filepath.Join(dir, fmt.Sprintf("profile-%s-%d", s, i)), file)
			load, render = append(load, m.load), append(render, m.render)
			scroll, zoom = append(scroll, m.scroll...), append(zoom, m.zoom...)
			pm := measure(bin, filepath.Join(dir, fmt.Sprintf("profile-plain-%s-%d", s, i)), plain)
			plainScroll = append(plainScroll, pm.scroll...)
		}
		fmt.Printf("| %d | %d | %d | %d | %.2f | %.2f | %.0f | %.1f / %.1f / %.1f | %.1f / %.1f | %.1f / %.1f |\n", np, nf, page.Len(), js.Len(),
			float64(page.Len())/float64(js.Len()), median(load), median(render),
			quantile(scroll, 0.5), quantile(scroll, 0.95), quantile(scroll, 1), quantile(plainScroll, 0.5), quantile(plainScroll, 0.95),
			quantile(zoom, 0.95), quantile(zoom, 1))
	}
}

// measurement is one load of a page: the time to its load event (s), its
// script's own render time (ms), and the intervals between the frames of a
// scroll through the rows and of a series of zooms (ms).
type measurement struct {
	load, render float64
	scroll, zoom []float64
}

// scrollJS scrolls the page 600 px a frame to its end (at most 300
// frames) and returns the intervals between the frames.
const scrollJS = `new Promise(function (resolve) {
  var out = [], last = -1, n = 0;
  function step(t) {
    if (last >= 0) out.push(t - last);
    last = t;
    window.scrollBy(0, 600);
    if (++n < 300 && window.scrollY + window.innerHeight < document.documentElement.scrollHeight) requestAnimationFrame(step);
    else resolve(out);
  }
  requestAnimationFrame(step);
})`

// zoomJS zooms in 20 times then out 20 times on the middle of the
// timeline (ctrl+wheel, as a reader does), a step a frame, at the top of
// the page, and returns the intervals between the frames.
const zoomJS = `new Promise(function (resolve) {
  window.scrollTo(0, 0);
  var lane = document.querySelector('#rows .row:not(.axis-row):not(.section) .lane') || document.getElementById('axis');
  var box = lane.getBoundingClientRect();
  var out = [], last = -1, n = 0;
  function step(t) {
    if (last >= 0) out.push(t - last);
    last = t;
    lane.dispatchEvent(new WheelEvent('wheel', { deltaY: n < 20 ? -100 : 100, ctrlKey: true, bubbles: true, cancelable: true,
      clientX: box.left + box.width / 2, clientY: box.top + 5 }));
    if (++n < 40) requestAnimationFrame(step); else resolve(out);
  }
  requestAnimationFrame(step);
})`

func measure(bin, profile, file string) measurement {
	b, err := startBrowser(bin, profile)
	if err != nil {
		fail(err)
	}
	defer b.close()
	d, err := b.navigate("file://" + file)
	if err != nil {
		fail(err)
	}
	m := measurement{load: d.Seconds()}
	var ready struct {
		Ready  string `json:"ready"`
		Render string `json:"render"`
	}
	if err := b.eval(`({ready: document.body.dataset.ready, render: document.body.dataset.renderMs})`, &ready); err != nil || ready.Ready != "1" {
		fail(fmt.Errorf("%s: the page did not finish rendering: %v", file, err))
	}
	m.render, _ = strconv.ParseFloat(ready.Render, 64)
	if err := b.eval(scrollJS, &m.scroll); err != nil {
		fail(err)
	}
	if err := b.eval(zoomJS, &m.zoom); err != nil {
		fail(err)
	}
	return m
}

// plainPage is the analysis's processes as static rows: a label and a
// bar each, with the report's style and no script.
func plainPage(a *analyze.Analysis) []byte {
	var b bytes.Buffer
	b.WriteString(`<!DOCTYPE html><html><head><meta charset="utf-8"><style>`)
	b.WriteString(report.Style())
	b.WriteString(`</style></head><body data-ready="1" data-render-ms="0"><div id="rows">`)
	span := float64(a.Capture.End - a.Capture.Start)
	for _, p := range a.Processes {
		x0 := float64(p.Start-a.Capture.Start) / span * 100
		x1 := float64(p.End-a.Capture.Start) / span * 100
		fmt.Fprintf(&b, `<div class="row"><div class="label">%d %s</div><div class="lane"><div class="bar ok" style="left:%.3f%%;width:%.3f%%"></div></div></div>`,
			p.PID, strings.Join(p.Argv, " "), x0, x1-x0)
	}
	b.WriteString(`</div></body></html>`)
	return b.Bytes()
}

func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(q * float64(len(s)-1))
	return s[i]
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

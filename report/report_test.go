package report

import (
	"bytes"
	"encoding/json"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/internal/testbin"
	"github.com/ctrace/ctrace/replay"
)

// hostile are strings a recorded program can choose: they must stay text.
var hostile = []string{
	`</script><script>document.title="pwned"</script>`,
	`"><img src=x onerror=alert(1)>`,
	"quote ' and \" and `",
	"control \x01\x1b[31m\x7f bytes",
	"invalid \xff\xfe utf-8",
	"\u2028 line separators \u2029",
	`<!-- comment --> <![CDATA[ x ]]>`,
}

// hostileAnalysis is a small model whose argv and paths are hostile.
func hostileAnalysis() *analyze.Analysis {
	code := 0
	root := &analyze.Process{ID: 1, PID: 100, Start: 1e9, End: 2e9, ExitCode: &code, Argv: hostile, Exe: hostile[0]}
	child := &analyze.Process{ID: 2, PID: 101, PPID: 100, Parent: root, Start: 1.2e9, End: 1.5e9, ExitCode: &code,
		Argv: []string{"sh", "-c", hostile[1]}, Cwd: hostile[2]}
	for i, h := range hostile {
		child.Files = append(child.Files, analyze.FileOp{Op: "create", Path: "/tmp/" + h, Time: 1.3e9 + int64(i)})
	}
	root.Children = []*analyze.Process{child}
	a := &analyze.Analysis{Processes: []*analyze.Process{root, child}, Containers: []*analyze.Container{}}
	a.Capture.Host, a.Capture.Start, a.Capture.End = hostile[0], 0.9e9, 2.1e9
	return a
}

var dataRE = regexp.MustCompile(`(?s)<script type="application/json" id="ctrace-data">(.*?)</script>`)

// TestHostileStringsStayText: the page has exactly its two script
// elements whatever the strings, and the data decodes to the strings
// themselves (invalid UTF-8 as U+FFFD).
func TestHostileStringsStayText(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, hostileAnalysis(), nil, Options{Source: hostile[1]}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if n := strings.Count(strings.ToLower(page), "<script"); n != 2 {
		t.Errorf("%d script elements, want 2", n)
	}
	if strings.Contains(page, "<img") || strings.Contains(page, "pwned\"</script>") {
		t.Errorf("a hostile string is markup in the page")
	}
	m := dataRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no data element")
	}
	var d data
	if err := json.Unmarshal([]byte(m[1]), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Procs) != 2 || d.Procs[1].Cwd != hostile[2] || d.Procs[1].Cmd != analyze.ArgvText([]string{"sh", "-c", hostile[1]}) {
		t.Errorf("data: %+v", d.Procs)
	}
	found := 0
	for _, p := range d.Procs[1].Paths {
		for _, h := range hostile {
			// JSON carries each invalid byte as U+FFFD.
			var want string
			b, _ := json.Marshal("/tmp/" + h)
			json.Unmarshal(b, &want)
			if p == want {
				found++
			}
		}
	}
	if found != len(hostile) {
		t.Errorf("paths %q: %d of %d hostile paths", d.Procs[1].Paths, found, len(hostile))
	}
	if !strings.Contains(page, "<title>ctrace report: "+html.EscapeString(hostile[1])+"</title>") {
		t.Errorf("title not escaped as text")
	}
}

// chromium runs headless Chromium on the page with an address fragment
// and returns the DOM after its script ran, the console lines Chromium
// logged, and writes a screenshot into the artifact folder.
func chromium(t *testing.T, page, fragment, shot string) (dom string, console []string) {
	t.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		testbin.Unavailable(t, "chromium is not installed (Debian: chromium)")
	}
	url := "file://" + page + fragment
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=10000", "--window-size=1400,1000"}
	cmd := exec.Command(bin, append(flags, "--enable-logging=stderr", "--v=0", "--dump-dom", url)...)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errs.String())
	}
	for _, l := range strings.Split(errs.String(), "\n") {
		if strings.Contains(l, "CONSOLE") {
			console = append(console, l)
		}
	}
	dir := os.Getenv("CTRACE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "ctrace-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err == nil && shot != "" {
		png := filepath.Join(dir, shot)
		sc := exec.Command(bin, append(flags, "--screenshot="+png, url)...)
		if b, err := sc.CombinedOutput(); err != nil {
			t.Errorf("chromium --screenshot: %v\n%s", err, b)
		} else {
			t.Logf("screenshot: %s", png)
		}
	}
	return out.String(), console
}

// consoleErrors are the console lines that report an error.
func consoleErrors(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, "Uncaught") || strings.Contains(l, "Error") || strings.Contains(l, ":ERROR:") {
			out = append(out, l)
		}
	}
	return out
}

func writePage(t *testing.T, a *analyze.Analysis, sel *analyze.Selected) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, a, sel, Options{Source: "test.ctr"}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBrowserDockerRun: the page of the docker run capture, rendered by
// Chromium: the container, a searched path that finds the process of the
// docker exec session, that process's details (argv), no console error.
func TestBrowserDockerRun(t *testing.T) {
	a, err := analyze.AnalyzeFile(filepath.Join("..", "testdata", "containers", "docker_run.ctr"))
	if err != nil {
		t.Fatal(err)
	}
	c := a.Containers[0]
	session := c.ExecSessions[0].Process
	// The processes the search must find: a path, or the command line
	// (the docker exec client names the file too).
	const q = "/exec.txt"
	found := 0
	for _, p := range a.Processes {
		hit := strings.Contains(analyze.ArgvText(p.Argv), q)
		for _, x := range p.Execs {
			hit = hit || strings.Contains(analyze.ArgvText(x.Argv), q)
		}
		for _, f := range p.Files {
			hit = hit || strings.Contains(f.Path, q) || strings.Contains(f.HostPath, q)
		}
		if hit {
			found++
		}
	}
	if found < 2 {
		t.Fatalf("%d processes name %s", found, q)
	}
	page := writePage(t, a, nil)
	dom, console := chromium(t, page, "#q=/exec.txt&pid="+itoa(session.PID), "docker_run.png")
	if errs := consoleErrors(console); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
	for _, want := range []string{
		`data-ready="1"`,
		"container " + c.ShortID(),
		"id " + c.ID,
		`<span id="search-count">` + itoa(found) + ` processes</span>`,
		textEscape("sh -c 'echo exec > /exec.txt; touch /tmp/stop'"),
		"/exec.txt: create",
		"started by ",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("no %q in the rendered page", want)
		}
	}
	if n := strings.Count(dom, `class="row match"`); n < 1 {
		t.Errorf("%d highlighted rows", n)
	}
	// The whole capture's axis, then a window of 100 ms of it.
	if !strings.Contains(dom, ">0 ms</span>") {
		t.Errorf("the axis does not start at 0 ms")
	}
	dom, _ = chromium(t, page, "#from=300&to=400", "docker_run_zoom.png")
	for _, want := range []string{">300 ms</span>", ">340 ms</span>", ">400 ms</span>"} {
		if !strings.Contains(dom, want) {
			t.Errorf("zoomed to 300-400 ms: no %q on the axis", want)
		}
	}
	if strings.Contains(dom, ">0 ms</span>") || strings.Contains(dom, ">500 ms</span>") {
		t.Errorf("zoomed to 300-400 ms: the axis shows the whole capture")
	}
}

// TestBrowserHostile: hostile strings render as text, run nothing, and
// leave the console clean; a page with an error is caught by the same
// check (the check can fail).
func TestBrowserHostile(t *testing.T) {
	page := writePage(t, hostileAnalysis(), nil)
	dom, console := chromium(t, page, "#pid=101", "hostile.png")
	if errs := consoleErrors(console); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
	if strings.Contains(dom, "<title>pwned") || strings.Contains(dom, "<img src=\"x\"") || !strings.Contains(dom, `data-ready="1"`) {
		t.Errorf("the hostile strings were not text:\n%s", dom)
	}
	if !strings.Contains(dom, textEscape(`"><img src=x onerror=alert(1)>`)) {
		t.Errorf("the hostile argv is not shown as text")
	}
	broken := filepath.Join(t.TempDir(), "broken.html")
	os.WriteFile(broken, []byte(`<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>`), 0o644)
	if _, console := chromium(t, broken, "", ""); len(consoleErrors(console)) == 0 {
		t.Errorf("a page with an uncaught error: no console error seen:\n%s", strings.Join(console, "\n"))
	}
}

// TestSizeBelowJSON: the page of the docker build capture is smaller than
// its JSON report.
func TestSizeBelowJSON(t *testing.T) {
	a, err := analyze.AnalyzeFile(filepath.Join("..", "testdata", "reports", "docker_build.ctr"))
	if err != nil {
		t.Fatal(err)
	}
	var h, j bytes.Buffer
	if err := Write(&h, a, nil, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteJSON(&j, 0); err != nil {
		t.Fatal(err)
	}
	t.Logf("page %d bytes, JSON report %d", h.Len(), j.Len())
	if h.Len() >= j.Len() {
		t.Errorf("page %d bytes, JSON report %d", h.Len(), j.Len())
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// textEscape escapes text as a browser serializes a text node.
func textEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\u00a0", "&nbsp;").Replace(s)
}

// TestBrowserBuilds: the pages of the docker build and go build captures
// render in Chromium without a console error, with the build's command
// found by the search.
func TestBrowserBuilds(t *testing.T) {
	for name, q := range map[string]string{"docker_build": "docker build", "go_build": "go build -o hello"} {
		a, err := analyze.AnalyzeFile(filepath.Join("..", "testdata", "reports", name+".ctr"))
		if err != nil {
			t.Fatal(err)
		}
		dom, console := chromium(t, writePage(t, a, nil), "#q="+strings.ReplaceAll(q, " ", "%20"), name+".png")
		if errs := consoleErrors(console); len(errs) > 0 {
			t.Errorf("%s: console errors:\n%s", name, strings.Join(errs, "\n"))
		}
		if !strings.Contains(dom, `data-ready="1"`) || !regexp.MustCompile(`<span id="search-count">[1-9][0-9]* process`).MatchString(dom) {
			t.Errorf("%s: the page did not render, or the search found nothing", name)
		}
	}
}

// TestBrowserLossWarning: a capture that lost events says so at the top of
// the page, and its serial gaps are marked on the time axis.
func TestBrowserLossWarning(t *testing.T) {
	a := hostileAnalysis()
	a.Capture.Lost, a.Capture.Losses.AuditSerialGaps = 10, 10
	a.Capture.SerialGaps = []replay.SerialGap{{First: 100, Last: 109, After: "1970-01-01T00:00:01.100Z", Until: "1970-01-01T00:00:01.200Z"}}
	dom, console := chromium(t, writePage(t, a, nil), "", "losses.png")
	if errs := consoleErrors(console); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
	if !strings.Contains(dom, `<div id="warning">10 events were lost: processes or files may be missing.</div>`) {
		t.Errorf("no visible loss warning in the page")
	}
	if !strings.Contains(dom, `class="mark loss" title="audit serials 100 to 109 missing"`) {
		t.Errorf("no loss mark on the axis")
	}
}

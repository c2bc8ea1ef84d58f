// Package report writes the HTML report of an analysis: one self-contained
// file (no network access, no external script, font or style) that a
// reader opens from a bug report: the capture's header, a timeline of the
// processes on a shared time axis (zoom and pan), the process tree with
// each process's details on click, the containers, and a search by path,
// program or pid. It reads an analyze.Analysis.
//
// The page's script and style are files of this package (assets/),
// embedded at build time; the data goes into the page as JSON inside a
// <script type="application/json"> element, encoded with HTML escaping so
// that no string of the capture (argv, paths: attacker-controlled) can end
// the element, and the script only ever sets it as text.
package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"

	"github.com/ctrace/ctrace/analyze"
)

//go:embed assets/report.html
var pageHTML string

//go:embed assets/report.css
var pageCSS string

//go:embed assets/report.js
var pageJS string

var page = template.Must(template.New("report").Parse(pageHTML))

// Options are what the page says of how it was made.
type Options struct {
	// Selection describes the selection ("" for the whole capture).
	Selection string
	// Source is the capture's file name, shown in the title.
	Source string
}

// data is the JSON the page's script reads. Times are milliseconds from
// the capture's start (floats), null when unknown.
type data struct {
	Capture    capture     `json:"capture"`
	Procs      []proc      `json:"procs"`
	Containers []container `json:"containers"`
	Losses     []loss      `json:"losses"`
}

type capture struct {
	Source     string   `json:"source"`
	Header     []string `json:"header"` // the text report's header lines
	Start      string   `json:"start"`
	DurationMS float64  `json:"duration_ms"`
	Lost       int64    `json:"lost"`
	Truncated  bool     `json:"truncated"`
	Damaged    int      `json:"damaged"`
	Selection  string   `json:"selection"`
}

type proc struct {
	PID     int        `json:"pid"`
	Parent  int        `json:"parent"` // index in procs, -1 for a root
	Start   *float64   `json:"t0"`
	End     *float64   `json:"t1"`
	Cmd     string     `json:"cmd"`
	Exe     string     `json:"exe,omitempty"`
	Execs   []execMark `json:"execs,omitempty"`
	Exit    *int       `json:"exit,omitempty"`
	Signal  string     `json:"sig,omitempty"`
	Killer  int        `json:"killer,omitempty"`
	Ctr     int        `json:"ctr"` // index in containers, -1 on the host
	User    string     `json:"user,omitempty"`
	Cwd     string     `json:"cwd,omitempty"`
	Threads int        `json:"threads,omitempty"`
	Pre     bool       `json:"pre,omitempty"`
	Vanish  bool       `json:"vanished,omitempty"`
	Context bool       `json:"context,omitempty"`
	Files   []string   `json:"files,omitempty"` // grouped as in the text summary
	NFiles  int        `json:"nfiles,omitempty"`
	Paths   []string   `json:"paths,omitempty"` // every path it touched, for the search
}

type execMark struct {
	T    *float64 `json:"t"`
	Argv string   `json:"argv"`
}

type container struct {
	ID        string   `json:"id"`
	Short     string   `json:"short"`
	Runtime   string   `json:"runtime"`
	Rootfs    string   `json:"rootfs"`
	Start     *float64 `json:"t0"`
	End       *float64 `json:"t1"`
	Exit      *int     `json:"exit,omitempty"`
	Signal    string   `json:"sig,omitempty"`
	Init      int      `json:"init"` // index in procs, -1
	StartedBy string   `json:"started_by,omitempty"`
	Pre       bool     `json:"pre,omitempty"`
}

type loss struct {
	T    float64 `json:"t"`
	Text string  `json:"text"`
}

// Write writes the page of the selected processes (every process when sel
// is nil).
func Write(w io.Writer, a *analyze.Analysis, sel *analyze.Selected, o Options) error {
	procs, containers := a.Processes, a.Containers
	var context map[*analyze.Process]bool
	if sel != nil {
		procs, containers, context = sel.Processes, sel.Containers, sel.Context
	}
	d := build(a, procs, containers, context, o)
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(true) // no '<', '>', '&': the data cannot end its element
	if err := enc.Encode(d); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	title := a.Capture.Host
	if o.Source != "" {
		title = o.Source
	}
	return page.Execute(w, map[string]any{
		"Title": title,
		"CSS":   template.CSS(pageCSS),
		"JS":    template.JS(pageJS),
		"Data":  template.JS(bytes.TrimSpace(js.Bytes())),
	})
}

func build(a *analyze.Analysis, procs []*analyze.Process, containers []*analyze.Container, context map[*analyze.Process]bool, o Options) *data {
	c := &a.Capture
	ms := func(t int64) *float64 {
		if t == 0 || c.Start == 0 {
			return nil
		}
		v := float64(t-c.Start) / 1e6
		return &v
	}
	var head bytes.Buffer
	a.WriteTextHeader(&head)
	header := strings.Split(strings.TrimSuffix(head.String(), "\n"), "\n")
	d := &data{
		Capture: capture{Source: o.Source, Header: header, Start: analyze.FormatTime(c.Start),
			DurationMS: float64(max(c.End-c.Start, 0)) / 1e6, Lost: c.Lost, Truncated: c.Truncated,
			Damaged: c.DamageCount, Selection: o.Selection},
		Procs: []proc{}, Containers: []container{}, Losses: []loss{},
	}
	index := map[*analyze.Process]int{}
	for i, p := range procs {
		index[p] = i
	}
	ctrIndex := map[*analyze.Container]int{}
	ctrOf := map[*analyze.Process]int{}
	for i, k := range containers {
		ctrIndex[k] = i
		for _, p := range k.Processes {
			ctrOf[p] = i
		}
	}
	sum := a.NewFileSummary()
	for _, p := range procs {
		j := proc{PID: p.PID, Parent: -1, Start: ms(p.Start), End: ms(p.End), Cmd: analyze.ArgvText(p.Argv), Exe: p.Exe,
			Exit: p.ExitCode, Ctr: -1, Cwd: p.Cwd, Threads: len(p.Threads), Pre: p.PreExisting, Vanish: p.Vanished,
			Context: context[p], NFiles: len(p.Files)}
		if j.Cmd == "" {
			j.Cmd = p.Exe
			if j.Cmd == "" && p.Comm != "" {
				j.Cmd = "[" + p.Comm + "]"
			}
		}
		if p.Parent != nil {
			if i, ok := index[p.Parent]; ok {
				j.Parent = i
			}
		}
		if i, ok := ctrOf[p]; ok {
			j.Ctr = i
		}
		for _, x := range p.Execs {
			j.Execs = append(j.Execs, execMark{T: ms(x.Time), Argv: analyze.ArgvText(x.Argv)})
		}
		if p.Signal != nil {
			j.Signal = analyze.SignalName(*p.Signal)
			if p.KilledBy != nil {
				j.Killer = p.KilledBy.PID
			}
		}
		if id := p.Identity; id != nil {
			j.User = fmt.Sprintf("uid %d gid %d", id.UID, id.GID)
			if id.EUID != id.UID {
				j.User += fmt.Sprintf(" euid %d", id.EUID)
			}
		}
		if !context[p] {
			j.Files = sum.Lines(p)
			j.Paths = paths(p)
		}
		d.Procs = append(d.Procs, j)
	}
	for _, k := range containers {
		j := container{ID: k.ID, Short: k.ShortID(), Runtime: k.Runtime, Rootfs: k.Rootfs, Start: ms(k.Start), End: ms(k.End),
			Exit: k.ExitCode, Init: -1, Pre: k.PreExisting}
		if k.Signal != nil {
			j.Signal = analyze.SignalName(*k.Signal)
		}
		if k.Init != nil {
			if i, ok := index[k.Init]; ok {
				j.Init = i
			}
		}
		if l := k.StartedBy; l != nil {
			j.StartedBy = fmt.Sprintf("%d %s", l.Process.PID, analyze.ArgvText(l.Process.Argv))
		}
		d.Containers = append(d.Containers, j)
	}
	for _, g := range a.SerialGapTimes() {
		t := g.After
		if t == 0 {
			t = c.Start
		}
		if v := ms(t); v != nil {
			d.Losses = append(d.Losses, loss{T: *v, Text: fmt.Sprintf("audit serials %d to %d missing", g.First, g.Last)})
		}
	}
	return d
}

// paths are the sorted unique paths (and host paths) a process touched.
func paths(p *analyze.Process) []string {
	var out []string
	for i := range p.Files {
		f := &p.Files[i]
		for _, s := range []string{f.Path, f.HostPath} {
			if s != "" {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Style returns the page's style sheet (for benchmarks that compare the
// page with a static one).
func Style() string { return pageCSS }

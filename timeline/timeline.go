// Package timeline lists what happened in a capture, in time order, one
// fact per line: the view `ausearch -i` gives of raw records, but of the
// reconstructed model (threads merged, parents fixed, paths proved,
// containers found). It reads an analyze.Analysis; it does not decode
// captures itself.
//
// The facts (Event.Kind): process_start (with its parent), exec (argv),
// exit (code, or signal and its sender), file (operation, path, host path),
// connection, signal (sent), credential_change, ptrace (from the tracer's
// side, or the tracee's for traceme), container_start, container_end, and
// loss (a run of missing audit serials, where it happened).
package timeline

import (
	"cmp"
	"slices"

	"github.com/ctrace/ctrace/analyze"
)

// Event kinds.
const (
	KindProcessStart     = "process_start"
	KindExec             = "exec"
	KindExit             = "exit"
	KindFile             = "file"
	KindConnection       = "connection"
	KindSignal           = "signal"
	KindCredentialChange = "credential_change"
	KindPtrace           = "ptrace"
	KindContainerStart   = "container_start"
	KindContainerEnd     = "container_end"
	KindLoss             = "loss"
)

// Event is one fact. Process is nil for container and loss events;
// Container is the process's container (nil on the host), or the container
// of a container event.
type Event struct {
	Time      int64
	Kind      string
	Process   *analyze.Process
	Container *analyze.Container

	Exec       *analyze.Exec
	File       *analyze.FileOp
	Connection *analyze.Connection
	Signal     *analyze.SignalSent
	Credential *analyze.CredentialChange
	Ptrace     *analyze.Ptrace
	Loss       *analyze.SerialGapTimes

	// seq keeps the model's order among events of the same time.
	seq int
}

// Window bounds the events by time (wall clock ns); 0 is no bound. Both
// bounds are inclusive.
type Window struct {
	Since, Until int64
}

func (w Window) holds(t int64) bool {
	return (w.Since == 0 || t >= w.Since) && (w.Until == 0 || t <= w.Until)
}

// Events returns the events of the selected processes (sel; every process
// when nil) and of their containers, within the window, in time order (the
// model's order among events of the same time). Context processes (the
// ancestors a --path or --exe selection adds) contribute no events. Losses
// are listed whatever the selection: a gap may hide anyone's events.
func Events(a *analyze.Analysis, sel *analyze.Selected, w Window) []Event {
	procs, containers := a.Processes, a.Containers
	var context map[*analyze.Process]bool
	if sel != nil {
		procs, containers, context = sel.Processes, sel.Containers, sel.Context
	}
	ctrOf := map[*analyze.Process]*analyze.Container{}
	for _, c := range a.Containers {
		for _, p := range c.Processes {
			ctrOf[p] = c
		}
	}
	var out []Event
	add := func(e Event) {
		if e.Time != 0 && w.holds(e.Time) {
			e.seq = len(out)
			out = append(out, e)
		}
	}
	for _, p := range procs {
		if context[p] || p.KernelThread {
			continue
		}
		c := ctrOf[p]
		if p.Start != 0 && !p.PreExisting {
			add(Event{Time: p.Start, Kind: KindProcessStart, Process: p, Container: c})
		}
		for i := range p.Execs {
			add(Event{Time: p.Execs[i].Time, Kind: KindExec, Process: p, Container: c, Exec: &p.Execs[i]})
		}
		for i := range p.Files {
			add(Event{Time: p.Files[i].Time, Kind: KindFile, Process: p, Container: c, File: &p.Files[i]})
		}
		for i := range p.Connections {
			add(Event{Time: p.Connections[i].Time, Kind: KindConnection, Process: p, Container: c, Connection: &p.Connections[i]})
		}
		for i := range p.SignalsSent {
			add(Event{Time: p.SignalsSent[i].Time, Kind: KindSignal, Process: p, Container: c, Signal: &p.SignalsSent[i]})
		}
		for i := range p.CredentialChanges {
			add(Event{Time: p.CredentialChanges[i].Time, Kind: KindCredentialChange, Process: p, Container: c, Credential: &p.CredentialChanges[i]})
		}
		for i := range p.Ptraces {
			// One event per attach: the caller's side (the tracer's, the
			// tracee's for traceme), or the recorded side when the other
			// is not in the model.
			e := &p.Ptraces[i]
			caller := e.Role == "tracer" && e.Request != "traceme" || e.Role == "tracee" && e.Request == "traceme"
			if caller || e.Peer == nil {
				add(Event{Time: e.Time, Kind: KindPtrace, Process: p, Container: c, Ptrace: e})
			}
		}
		if p.End != 0 {
			add(Event{Time: p.End, Kind: KindExit, Process: p, Container: c})
		}
	}
	for _, c := range containers {
		if c.Start != 0 {
			add(Event{Time: c.Start, Kind: KindContainerStart, Container: c})
		}
		if c.End != 0 {
			add(Event{Time: c.End, Kind: KindContainerEnd, Container: c})
		}
	}
	for _, g := range a.SerialGapTimes() {
		t := g.After
		if t == 0 {
			t = g.Until
		}
		if t == 0 {
			t = a.Capture.Start // where is unknown: listed first
		}
		add(Event{Time: t, Kind: KindLoss, Loss: &g})
	}
	slices.SortStableFunc(out, func(x, y Event) int {
		if c := cmp.Compare(x.Time, y.Time); c != 0 {
			return c
		}
		return cmp.Compare(x.seq, y.seq)
	})
	return out
}

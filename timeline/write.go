package timeline

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/replay"
)

// Header is what the output says of the capture before the events.
type Header struct {
	Capture   *analyze.Capture
	Selection string // "" for the whole capture
	Window    Window
}

// WriteText writes the header as "#" lines, then one line per event:
// "TIME  PID  KIND  DETAILS", and the container's short id last for a
// container process.
func WriteText(w io.Writer, h Header, events []Event) error {
	bw := bufio.NewWriter(w)
	c := h.Capture
	fmt.Fprintf(bw, "# capture: %s, %s to %s\n", orUnknown(c.Host), analyze.FormatTime(c.Start), analyze.FormatTime(c.End))
	if c.Lost == 0 {
		fmt.Fprintf(bw, "# losses: none\n")
	} else {
		fmt.Fprintf(bw, "# losses: %d EVENTS LOST (%s): events may be missing; the audit serial gaps are listed where they happened\n",
			c.Lost, analyze.LossText(c.Losses))
	}
	if h.Selection != "" {
		fmt.Fprintf(bw, "# selection: %s\n", h.Selection)
	}
	if h.Window.Since != 0 || h.Window.Until != 0 {
		fmt.Fprintf(bw, "# window: %s to %s\n", timeOrOpen(h.Window.Since), timeOrOpen(h.Window.Until))
	}
	fmt.Fprintf(bw, "# %d events\n", len(events))
	for i := range events {
		e := &events[i]
		pid := "-"
		if e.Process != nil {
			pid = fmt.Sprint(e.Process.PID)
		}
		line := fmt.Sprintf("%s  %s  %s  %s", analyze.FormatTime(e.Time), pid, e.Kind, details(e))
		if e.Process != nil && e.Container != nil {
			line += "  [container " + e.Container.ShortID() + "]"
		}
		bw.WriteString(line)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown host)"
	}
	return s
}

func timeOrOpen(t int64) string {
	if t == 0 {
		return "(open)"
	}
	return analyze.FormatTime(t)
}

// details is the text of an event after its kind.
func details(e *Event) string {
	p := e.Process
	switch e.Kind {
	case KindProcessStart:
		if p.Parent != nil {
			return fmt.Sprintf("parent %d", p.Parent.PID)
		}
		if p.PPID != 0 {
			return fmt.Sprintf("parent %d (not in the capture)", p.PPID)
		}
		return "parent unknown"
	case KindExec:
		if e.Exec.Argv == nil {
			if e.Exec.Exe != "" {
				return e.Exec.Exe + " (arguments not recorded)"
			}
			return "(program not recorded: proc connector only)"
		}
		return analyze.ArgvText(e.Exec.Argv)
	case KindExit:
		switch {
		case p.Signal != nil:
			s := "killed by " + analyze.SignalName(*p.Signal)
			if k := p.KilledBy; k != nil {
				s += fmt.Sprintf(" from %d", k.PID)
			}
			if p.CoreDumped {
				s += " (core dumped)"
			}
			return s
		case p.ExitCode != nil:
			return fmt.Sprintf("exit %d", *p.ExitCode)
		}
		return "ended, status unknown"
	case KindFile:
		f := e.File
		s := f.Op + " " + pathText(f)
		switch {
		case f.Op == analyze.OpRenameFrom && f.To != "":
			s += " (to " + analyze.ShellQuote(f.To) + ")"
		case f.Op == analyze.OpRenameTo && f.From != "":
			s += " (from " + analyze.ShellQuote(f.From) + ")"
		case (f.Op == analyze.OpSymlink || f.Op == analyze.OpLink) && f.Target != "":
			s += " (to " + analyze.ShellQuote(f.Target) + ")"
		case f.Op == analyze.OpChmod && f.HasMode:
			s += fmt.Sprintf(" %04o", f.Mode)
		}
		if f.HostPath != "" && f.HostPath != f.Path {
			s += " (host " + analyze.ShellQuote(f.HostPath) + ")"
		}
		return s
	case KindConnection:
		c := e.Connection
		return c.Op + " " + analyze.ConnectionAddress(c) + ": " + c.Result
	case KindSignal:
		return fmt.Sprintf("sent %s to %d", analyze.SignalName(e.Signal.Signal), e.Signal.TargetPID)
	case KindCredentialChange:
		id := &e.Credential.Identity
		return fmt.Sprintf("%s: uid %d gid %d euid %d egid %d", e.Credential.Syscall, id.UID, id.GID, id.EUID, id.EGID)
	case KindPtrace:
		t := e.Ptrace
		verb := "traced"
		if t.Role == "tracee" {
			verb = "traced by"
		}
		return fmt.Sprintf("%s %d (%s): %s", verb, t.PeerPID, t.Request, t.Result)
	case KindContainerStart:
		c := e.Container
		s := fmt.Sprintf("%s %s", c.ShortID(), orDash(c.Runtime))
		if c.Init != nil {
			s += fmt.Sprintf(" init %d", c.Init.PID)
		}
		if c.Rootfs != "" {
			s += " rootfs " + analyze.ShellQuote(c.Rootfs)
		}
		if l := c.StartedBy; l != nil {
			s += fmt.Sprintf(" started by %d", l.Process.PID)
		}
		return s
	case KindContainerEnd:
		c := e.Container
		s := c.ShortID()
		switch {
		case c.Signal != nil:
			s += " killed by " + analyze.SignalName(*c.Signal)
		case c.ExitCode != nil:
			s += fmt.Sprintf(" exit %d", *c.ExitCode)
		}
		return s
	case KindLoss:
		g := e.Loss
		s := fmt.Sprintf("AUDIT SERIALS %d to %d MISSING (%d events lost)", g.First, g.Last, uint64(g.Last)-uint64(g.First)+1)
		if g.After == 0 && g.Until == 0 {
			s += ", time unknown"
		} else if g.Until != 0 {
			s += " until " + analyze.FormatTime(g.Until)
		}
		return s
	}
	return ""
}

func pathText(f *analyze.FileOp) string {
	switch {
	case f.Path == "":
		return "(unknown file)"
	case f.Unresolved:
		return analyze.ShellQuote(f.Path) + " (unresolved: relative to an unidentified directory)"
	}
	return analyze.ShellQuote(f.Path)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// jsonEvent is one line of --format jsonl (timeline/SCHEMA.md).
type jsonEvent struct {
	Time      string  `json:"time"`
	Kind      string  `json:"kind"`
	PID       *int    `json:"pid,omitempty"`
	ID        *int    `json:"id,omitempty"`
	Container *string `json:"container,omitempty"`

	// capture
	Host      string         `json:"host,omitempty"`
	BootID    string         `json:"boot_id,omitempty"`
	Start     string         `json:"start,omitempty"`
	End       string         `json:"end,omitempty"`
	Lost      *int64         `json:"lost,omitempty"`
	Losses    *replay.Losses `json:"losses,omitempty"`
	Selection string         `json:"selection,omitempty"`

	// process_start
	PPID     *int `json:"ppid,omitempty"`
	ParentID *int `json:"parent_id,omitempty"`
	// exec
	Exe  string   `json:"exe,omitempty"`
	Argv []string `json:"argv,omitempty"`
	UID  *int64   `json:"uid,omitempty"`
	EUID *int64   `json:"euid,omitempty"`
	GID  *int64   `json:"gid,omitempty"`
	EGID *int64   `json:"egid,omitempty"`
	// exit
	ExitCode   *int `json:"exit_code,omitempty"`
	Signal     *int `json:"signal,omitempty"`
	KilledBy   *int `json:"killed_by,omitempty"`
	CoreDumped bool `json:"core_dumped,omitempty"`
	// file
	Operation  string `json:"operation,omitempty"`
	Path       string `json:"path,omitempty"`
	HostPath   string `json:"host_path,omitempty"`
	Unresolved bool   `json:"unresolved,omitempty"`
	From       string `json:"from,omitempty"`
	To         string `json:"to,omitempty"`
	Target     string `json:"target,omitempty"`
	Mode       string `json:"mode,omitempty"`
	// connection
	Family  string `json:"family,omitempty"`
	Address string `json:"address,omitempty"`
	Port    *int   `json:"port,omitempty"`
	Result  string `json:"result,omitempty"`
	// signal
	TargetPID *int `json:"target_pid,omitempty"`
	TargetID  *int `json:"target_id,omitempty"`
	// credential_change
	Syscall string `json:"syscall,omitempty"`
	// ptrace
	Request string `json:"request,omitempty"`
	Role    string `json:"role,omitempty"`
	PeerPID *int   `json:"peer_pid,omitempty"`
	PeerID  *int   `json:"peer_id,omitempty"`
	// container_start, container_end
	Runtime   string `json:"runtime,omitempty"`
	Rootfs    string `json:"rootfs,omitempty"`
	InitPID   *int   `json:"init_pid,omitempty"`
	StartedBy *int   `json:"started_by,omitempty"`
	// loss
	FirstSerial *uint32 `json:"first_serial,omitempty"`
	LastSerial  *uint32 `json:"last_serial,omitempty"`
	Until       string  `json:"until,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// WriteJSONL writes one JSON object per line: a "capture" line, then the
// events.
func WriteJSONL(w io.Writer, h Header, events []Event) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	c := h.Capture
	head := jsonEvent{Time: analyze.FormatTime(c.Start), Kind: "capture", Host: c.Host, BootID: c.BootID,
		Start: analyze.FormatTime(c.Start), End: analyze.FormatTime(c.End), Lost: ptr(c.Lost), Losses: &c.Losses, Selection: h.Selection}
	if err := enc.Encode(&head); err != nil {
		return err
	}
	for i := range events {
		j := jsonOf(&events[i])
		if err := enc.Encode(&j); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func jsonOf(e *Event) jsonEvent {
	j := jsonEvent{Time: analyze.FormatTime(e.Time), Kind: e.Kind}
	if p := e.Process; p != nil {
		j.PID, j.ID = ptr(p.PID), ptr(p.ID)
	}
	if e.Container != nil {
		j.Container = ptr(e.Container.ID)
	}
	p := e.Process
	switch e.Kind {
	case KindProcessStart:
		if p.PPID != 0 {
			j.PPID = ptr(p.PPID)
		}
		if p.Parent != nil {
			j.ParentID = ptr(p.Parent.ID)
		}
	case KindExec:
		j.Exe, j.Argv = e.Exec.Exe, e.Exec.Argv
		if id := e.Exec.Identity; id != nil {
			j.UID, j.EUID, j.GID, j.EGID = ptr(id.UID), ptr(id.EUID), ptr(id.GID), ptr(id.EGID)
		}
	case KindExit:
		j.ExitCode, j.Signal, j.CoreDumped = p.ExitCode, p.Signal, p.CoreDumped
		if k := p.KilledBy; k != nil {
			j.KilledBy = ptr(k.PID)
		}
	case KindFile:
		f := e.File
		j.Operation, j.Path, j.HostPath, j.Unresolved = f.Op, f.Path, f.HostPath, f.Unresolved
		j.From, j.To, j.Target = f.From, f.To, f.Target
		if f.HasMode {
			j.Mode = fmt.Sprintf("%04o", f.Mode)
		}
	case KindConnection:
		c := e.Connection
		j.Operation, j.Family, j.Result = c.Op, c.Family, c.Result
		switch c.Family {
		case "inet", "inet6":
			if c.Address != "" {
				j.Address, j.Port = c.Address, ptr(c.Port)
			}
		case "netlink":
			j.Address = c.Address
		case "unix":
			j.Path = c.Path
		}
	case KindSignal:
		j.TargetPID, j.Signal = ptr(e.Signal.TargetPID), ptr(e.Signal.Signal)
		if e.Signal.Target != nil {
			j.TargetID = ptr(e.Signal.Target.ID)
		}
	case KindCredentialChange:
		id := &e.Credential.Identity
		j.Syscall = e.Credential.Syscall
		j.UID, j.EUID, j.GID, j.EGID = ptr(id.UID), ptr(id.EUID), ptr(id.GID), ptr(id.EGID)
	case KindPtrace:
		t := e.Ptrace
		j.Request, j.Role, j.PeerPID, j.Result = t.Request, t.Role, ptr(t.PeerPID), t.Result
		if t.Peer != nil {
			j.PeerID = ptr(t.Peer.ID)
		}
	case KindContainerStart, KindContainerEnd:
		c := e.Container
		j.Runtime, j.Rootfs = c.Runtime, c.Rootfs
		if c.Init != nil {
			j.InitPID = ptr(c.Init.PID)
		}
		if e.Kind == KindContainerStart && c.StartedBy != nil {
			j.StartedBy = ptr(c.StartedBy.Process.PID)
		}
		if e.Kind == KindContainerEnd {
			j.ExitCode, j.Signal = c.ExitCode, c.Signal
		}
	case KindLoss:
		g := e.Loss
		j.FirstSerial, j.LastSerial = ptr(g.First), ptr(g.Last)
		if g.Until != 0 {
			j.Until = analyze.FormatTime(g.Until)
		}
	}
	return j
}

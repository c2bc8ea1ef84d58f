package analyze

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/ctrace/ctrace/replay"
)

// The JSON report. Its field names are a contract (SCHEMA.md): add fields,
// never rename or remove one. Structs, not maps, so that the field order is
// fixed and the output is byte-identical for the same capture.

type jsonReport struct {
	Capture    jsonCapture     `json:"capture"`
	Processes  []jsonProcess   `json:"processes"`
	Containers []jsonContainer `json:"containers"`
}

type jsonContainer struct {
	ID          string  `json:"id"`
	Runtime     *string `json:"runtime"`
	Namespace   *string `json:"namespace"`
	Rootfs      *string `json:"rootfs"`
	Bundle      *string `json:"bundle"`
	InitPID     *int    `json:"init_pid"`
	InitID      *int    `json:"init_id"`
	PIDs        []int   `json:"pids"`
	ProcessIDs  []int   `json:"process_ids"`
	RuntimePIDs []int   `json:"runtime_pids"`
	PreExisting bool    `json:"pre_existing"`
	Start       *string `json:"start"`
	End         *string `json:"end"`
	ExitCode    *int    `json:"exit_code"`
	Signal      *int    `json:"signal"`
	// StartedBy and its candidates: see Container.StartedBy.
	StartedBy           *jsonLaunch       `json:"started_by"`
	StartedByCandidates []int             `json:"started_by_candidates"`
	ExecSessions        []jsonExecSession `json:"exec_sessions"`
}

// jsonLaunch is the client that started a container or an exec session.
type jsonLaunch struct {
	PID  int      `json:"pid"`
	ID   int      `json:"id"`
	Argv []string `json:"argv"`
	jsonIdentity
	Evidence jsonLaunchEvidence `json:"evidence"`
}

type jsonLaunchEvidence struct {
	Subcommand   string  `json:"subcommand"`
	Socket       string  `json:"socket"`
	ConnectTime  string  `json:"connect_time"`
	Image        *string `json:"image"`
	CommandMatch bool    `json:"command_match"`
	IDMatch      bool    `json:"id_match"`
}

type jsonExecSession struct {
	PID                 int         `json:"pid"`
	ID                  int         `json:"id"`
	Start               *string     `json:"start"`
	Argv                []string    `json:"argv"`
	StartedBy           *jsonLaunch `json:"started_by"`
	StartedByCandidates []int       `json:"started_by_candidates"`
}

type jsonCapture struct {
	Kind        string         `json:"kind"`
	Host        string         `json:"host"`
	Kernel      string         `json:"kernel"`
	Machine     string         `json:"machine"`
	BootID      string         `json:"boot_id"`
	AuditMode   string         `json:"audit_mode"`
	Proc        bool           `json:"proc"`
	Snapshot    bool           `json:"snapshot"`
	Command     []string       `json:"command"`
	CommandPID  *int           `json:"command_pid"`
	Start       *string        `json:"start"`
	End         *string        `json:"end"`
	DurationNS  int64          `json:"duration_ns"`
	Selection   string         `json:"selection,omitempty"`
	Lost        int64          `json:"lost"`
	Losses      replay.Losses  `json:"losses"`
	Truncated   bool           `json:"truncated"`
	TruncatedAt *int64         `json:"truncated_at"`
	Damage      []string       `json:"damage"`
	DamageCount int            `json:"damage_count"`
	Undecodable map[string]int `json:"undecodable"`
	Processes   int            `json:"processes"`
	// FileOperations counts the file operations of all processes, and
	// UnresolvedFiles those whose path could not be proved.
	FileOperations  int `json:"file_operations"`
	UnresolvedFiles int `json:"unresolved_file_operations"`
	// LateRecords: audit records that arrived after their event was
	// analyzed (Capture.LateRecords).
	LateRecords int `json:"late_records"`
	// Files: the base names of the captures of a capture set read as one.
	Files []string `json:"files,omitempty"`
}

type jsonProcess struct {
	ID           int        `json:"id"`
	PID          int        `json:"pid"`
	PPID         *int       `json:"ppid"`
	ParentID     *int       `json:"parent_id"`
	Threads      []int      `json:"threads"`
	Comm         *string    `json:"comm"`
	Exe          *string    `json:"exe"`
	Argv         []string   `json:"argv"`
	Cwd          *string    `json:"cwd"`
	Root         string     `json:"root,omitempty"`
	Execs        []jsonExec `json:"execs"`
	Start        *string    `json:"start"`
	FirstSeen    *string    `json:"first_seen"`
	End          *string    `json:"end"`
	ExitCode     *int       `json:"exit_code"`
	Signal       *int       `json:"signal"`
	CoreDumped   bool       `json:"core_dumped"`
	Container    *string    `json:"container"`
	PreExisting  bool       `json:"pre_existing"`
	Vanished     bool       `json:"vanished"`
	KernelThread bool       `json:"kernel_thread"`
	FilesWritten []string   `json:"files_written"`
	Files        []jsonFile `json:"files"`
	jsonIdentity
	CredentialChanges []jsonCredChange `json:"credential_changes"`
	SignalsSent       []jsonSignal     `json:"signals_sent"`
	KilledBy          *jsonKiller      `json:"killed_by"`
	Connections       []jsonConnection `json:"connections"`
	Ptrace            []jsonPtrace     `json:"ptrace"`
	// Context: shown only as an ancestor of a selected process (--path,
	// --exe).
	Context bool `json:"context,omitempty"`
}

type jsonPtrace struct {
	Time    string `json:"time"`
	Request string `json:"request"`
	Role    string `json:"role"`
	PID     int    `json:"pid"`
	ID      *int   `json:"id"`
	Result  string `json:"result"`
}

type jsonConnection struct {
	Time      string  `json:"time"`
	Operation string  `json:"operation"`
	Family    *string `json:"family"`
	Address   *string `json:"address"`
	Port      *int    `json:"port"`
	Path      *string `json:"path"`
	Result    string  `json:"result"`
}

// jsonIdentity is the credentials of a process or an exec, flattened;
// nulls when unknown.
type jsonIdentity struct {
	UID  *int64 `json:"uid"`
	GID  *int64 `json:"gid"`
	EUID *int64 `json:"euid"`
	EGID *int64 `json:"egid"`
	AUID *int64 `json:"auid"`
	Ses  *int64 `json:"ses"`
}

func jsonIdentityOf(id *Identity) jsonIdentity {
	if id == nil {
		return jsonIdentity{}
	}
	return jsonIdentity{UID: &id.UID, GID: &id.GID, EUID: &id.EUID, EGID: &id.EGID, AUID: &id.AUID, Ses: &id.Ses}
}

type jsonCredChange struct {
	Time    string `json:"time"`
	Syscall string `json:"syscall"`
	UID     int64  `json:"uid"`
	GID     int64  `json:"gid"`
	EUID    int64  `json:"euid"`
	EGID    int64  `json:"egid"`
	SUID    int64  `json:"suid"`
	SGID    int64  `json:"sgid"`
	FSUID   int64  `json:"fsuid"`
	FSGID   int64  `json:"fsgid"`
}

type jsonSignal struct {
	Time      string `json:"time"`
	TargetPID int    `json:"target_pid"`
	Target    *int   `json:"target"`
	Signal    int    `json:"signal"`
}

type jsonKiller struct {
	PID    int  `json:"pid"`
	ID     *int `json:"id"`
	Signal int  `json:"signal"`
}

type jsonExec struct {
	Time string   `json:"time"`
	Exe  *string  `json:"exe"`
	Argv []string `json:"argv"`
	jsonIdentity
}

type jsonFile struct {
	Path       *string `json:"path"`
	HostPath   string  `json:"host_path,omitempty"`
	HostView   bool    `json:"host_view,omitempty"`
	Operation  string  `json:"operation"`
	Time       string  `json:"time"`
	Unresolved bool    `json:"unresolved,omitempty"`
	DirFD      *int    `json:"dir_fd,omitempty"`
	DirInode   string  `json:"dir_inode,omitempty"`
	FD         *int    `json:"fd,omitempty"`
	*jsonOpenInfo
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
	Target   string `json:"target,omitempty"`
	Replaced bool   `json:"replaced,omitempty"`
	Mode     string `json:"mode,omitempty"`
	UID      *int64 `json:"uid,omitempty"`
	GID      *int64 `json:"gid,omitempty"`
}

// jsonOpenInfo is present, flattened, exactly in open operations (create,
// open_write, open), with nulls when unknown.
type jsonOpenInfo struct {
	Flags    *string `json:"flags"`
	Closed   *string `json:"closed"`
	ClosedBy *string `json:"closed_by"`
}

// timeFormat is RFC 3339 in UTC with exactly nine fractional digits, so that
// times sort as strings.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// FormatTime formats a wall-clock time in ns as the reports do.
func FormatTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format(timeFormat)
}

func optTime(ns int64) *string {
	if ns == 0 {
		return nil
	}
	s := FormatTime(ns)
	return &s
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

// WriteJSON writes the JSON report (SCHEMA.md), limited to the subtrees of
// the processes with pid when pid > 0 (and to the containers of those
// processes).
func (a *Analysis) WriteJSON(w io.Writer, pid int) error {
	procs := a.selected(pid)
	if pid <= 0 {
		return a.writeJSON(w, procs, a.Containers, nil, "")
	}
	return a.writeJSON(w, procs, containersOf(a.Containers, procs), nil, fmt.Sprintf("pid %d", pid))
}

// WriteSelectedJSON writes the JSON report of a selection (Select): the
// kept processes and their ancestors (with "context": true), and the
// containers with a kept process.
func (a *Analysis) WriteSelectedJSON(w io.Writer, s Selection, sel *Selected) error {
	return a.writeJSON(w, sel.Processes, sel.Containers, sel.Context, s.Text())
}

// WriteContainerJSON writes the JSON report of one container: its
// processes, and it alone in containers.
func (a *Analysis) WriteContainerJSON(w io.Writer, ctr *Container) error {
	return a.writeJSON(w, ctr.Processes, []*Container{ctr}, nil, "container "+ctr.ID)
}

// containersOf returns the containers with a process in procs.
func containersOf(cs []*Container, procs []*Process) []*Container {
	in := map[*Process]bool{}
	for _, p := range procs {
		in[p] = true
	}
	var out []*Container
	for _, c := range cs {
		for _, p := range c.Processes {
			if in[p] {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

func (a *Analysis) writeJSON(w io.Writer, procs []*Process, containers []*Container, context map[*Process]bool, selection string) error {
	c := &a.Capture
	r := jsonReport{
		Capture: jsonCapture{
			Kind: c.Kind, Host: c.Host, Kernel: c.Kernel, Machine: c.Machine, BootID: c.BootID,
			AuditMode: c.AuditMode, Proc: c.Proc, Snapshot: c.Snapshot, Command: c.Command,
			CommandPID: optInt(c.CommandPID), Start: optTime(c.Start), End: optTime(c.End),
			DurationNS: max(c.End-c.Start, 0), Lost: c.Lost, Losses: c.Losses, Truncated: c.Truncated,
			Damage: c.Damage, DamageCount: c.DamageCount, Undecodable: c.Undecodable,
			Processes: len(a.Processes),
		},
		Processes:  []jsonProcess{},
		Containers: []jsonContainer{},
	}
	r.Capture.FileOperations, r.Capture.UnresolvedFiles = a.fileCounts()
	r.Capture.Selection = selection
	r.Capture.LateRecords = c.LateRecords
	for _, f := range c.Files {
		r.Capture.Files = append(r.Capture.Files, filepath.Base(f))
	}
	if r.Capture.Damage == nil {
		r.Capture.Damage = []string{}
	}
	if r.Capture.Undecodable == nil {
		r.Capture.Undecodable = map[string]int{}
	}
	if c.Truncated {
		r.Capture.TruncatedAt = &c.TruncatedAt
	}
	for _, ctr := range containers {
		r.Containers = append(r.Containers, jsonContainerOf(ctr))
	}
	r.Processes = []jsonProcess{}
	var wrapper bytes.Buffer
	enc := json.NewEncoder(&wrapper)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&r); err != nil {
		return err
	}
	if len(procs) == 0 {
		_, err := w.Write(wrapper.Bytes())
		return err
	}
	// The processes, the bulk of the report, are encoded on every core and
	// spliced into the wrapper at their place: the bytes are exactly those
	// of encoding the whole report at once.
	const empty = "\n  \"processes\": [],\n"
	out := wrapper.Bytes()
	at := bytes.Index(out, []byte(empty))
	if at < 0 {
		return errors.New("analyze: JSON report layout changed: processes not found")
	}
	parts, err := encodeProcesses(procs, context)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	bw.Write(out[:at])
	bw.WriteString("\n  \"processes\": [\n")
	for i, b := range parts {
		bw.WriteString("    ")
		bw.Write(b)
		if i < len(parts)-1 {
			bw.WriteString(",")
		}
		bw.WriteString("\n")
	}
	bw.WriteString("  ],\n")
	bw.Write(out[at+len(empty):])
	return bw.Flush()
}

// encodeProcesses renders each process as an element of the report's
// processes array (indented for depth 2, without the leading indentation
// and trailing newline), in parallel, in order.
func encodeProcesses(procs []*Process, context map[*Process]bool) ([][]byte, error) {
	parts := make([][]byte, len(procs))
	errs := make([]error, len(procs))
	workers := min(runtime.GOMAXPROCS(0), 8, len(procs))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetIndent("    ", "  ")
			enc.SetEscapeHTML(false)
			for i := w; i < len(procs); i += workers {
				buf.Reset()
				jp := jsonProcessOf(procs[i])
				jp.Context = context[procs[i]]
				if errs[i] = enc.Encode(&jp); errs[i] == nil {
					parts[i] = bytes.Clone(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
				}
			}
		}(w)
	}
	wg.Wait()
	return parts, errors.Join(errs...)
}

func jsonProcessOf(p *Process) jsonProcess {
	j := jsonProcess{
		ID: p.ID, PID: p.PID, PPID: optInt(p.PPID), Threads: p.Threads,
		Comm: optString(p.Comm), Exe: optString(p.Exe), Argv: p.Argv, Cwd: optString(p.Cwd), Root: p.Root,
		Execs: []jsonExec{}, Start: optTime(p.Start), End: optTime(p.End),
		ExitCode: p.ExitCode, Signal: p.Signal, CoreDumped: p.CoreDumped, Container: p.Container,
		PreExisting: p.PreExisting, Vanished: p.Vanished, KernelThread: p.KernelThread,
		FilesWritten: p.FilesWritten, Files: []jsonFile{},
	}
	if p.Parent != nil {
		j.ParentID = &p.Parent.ID
	}
	if p.Start == 0 && p.FirstSeen != 0 {
		j.FirstSeen = optTime(p.FirstSeen)
	}
	if j.Threads == nil {
		j.Threads = []int{}
	}
	if j.FilesWritten == nil {
		j.FilesWritten = []string{}
	}
	for _, x := range p.Execs {
		j.Execs = append(j.Execs, jsonExec{Time: FormatTime(x.Time), Exe: optString(x.Exe), Argv: x.Argv, jsonIdentity: jsonIdentityOf(x.Identity)})
	}
	j.jsonIdentity = jsonIdentityOf(p.Identity)
	j.CredentialChanges = []jsonCredChange{}
	for _, c := range p.CredentialChanges {
		j.CredentialChanges = append(j.CredentialChanges, jsonCredChange{Time: FormatTime(c.Time), Syscall: c.Syscall,
			UID: c.UID, GID: c.GID, EUID: c.EUID, EGID: c.EGID, SUID: c.SUID, SGID: c.SGID, FSUID: c.FSUID, FSGID: c.FSGID})
	}
	j.SignalsSent = []jsonSignal{}
	for _, s := range p.SignalsSent {
		js := jsonSignal{Time: FormatTime(s.Time), TargetPID: s.TargetPID, Signal: s.Signal}
		if s.Target != nil {
			js.Target = &s.Target.ID
		}
		j.SignalsSent = append(j.SignalsSent, js)
	}
	j.Connections = []jsonConnection{}
	for _, c := range p.Connections {
		jc := jsonConnection{Time: FormatTime(c.Time), Operation: c.Op, Family: optString(c.Family), Result: c.Result}
		switch c.Family {
		case "inet", "inet6":
			if c.Address != "" { // "": an accept that did not ask for the peer
				port := c.Port
				jc.Address, jc.Port = optString(c.Address), &port
			}
		case "netlink":
			jc.Address = optString(c.Address)
		case "unix":
			path := c.Path
			jc.Path = &path
		}
		j.Connections = append(j.Connections, jc)
	}
	j.Ptrace = []jsonPtrace{}
	for _, e := range p.Ptraces {
		jp := jsonPtrace{Time: FormatTime(e.Time), Request: e.Request, Role: e.Role, PID: e.PeerPID, Result: e.Result}
		if e.Peer != nil {
			jp.ID = &e.Peer.ID
		}
		j.Ptrace = append(j.Ptrace, jp)
	}
	if k := p.KilledBy; k != nil {
		j.KilledBy = &jsonKiller{PID: k.PID, Signal: k.Signal}
		if k.Process != nil {
			j.KilledBy.ID = &k.Process.ID
		}
	}
	for _, f := range p.Files {
		jf := jsonFile{
			Path: optString(f.Path), HostPath: f.HostPath, HostView: f.HostView, Operation: f.Op, Time: FormatTime(f.Time), Unresolved: f.Unresolved,
			From: f.From, To: f.To, Target: f.Target, Replaced: f.Replaced,
		}
		if f.HasFD {
			fd := f.FD
			jf.FD = &fd
		}
		if f.HasDirFD {
			fd := f.DirFD
			jf.DirFD = &fd
		}
		jf.DirInode = f.DirInode
		if f.HasMode {
			jf.Mode = fmt.Sprintf("%04o", f.Mode)
		}
		if f.Op == OpChown {
			if f.UID >= 0 {
				jf.UID = &f.UID
			}
			if f.GID >= 0 {
				jf.GID = &f.GID
			}
		}
		if openOps[f.Op] {
			jf.jsonOpenInfo = &jsonOpenInfo{Flags: optString(f.Flags), ClosedBy: optString(f.ClosedBy)}
			if f.ClosedBy != "" {
				jf.Closed = optTime(f.Closed)
			}
		}
		j.Files = append(j.Files, jf)
	}
	return j
}

func jsonContainerOf(c *Container) jsonContainer {
	j := jsonContainer{
		ID: c.ID, Runtime: optString(c.Runtime), Namespace: optString(c.Namespace),
		Rootfs: optString(c.Rootfs), Bundle: optString(c.Bundle),
		PIDs: c.PIDs(), ProcessIDs: []int{}, RuntimePIDs: c.RuntimePIDs(), PreExisting: c.PreExisting,
		Start: optTime(c.Start), End: optTime(c.End), ExitCode: c.ExitCode, Signal: c.Signal,
	}
	if c.Init != nil {
		j.InitPID, j.InitID = optInt(c.Init.PID), optInt(c.Init.ID)
	}
	for _, p := range c.Processes {
		j.ProcessIDs = append(j.ProcessIDs, p.ID)
	}
	j.StartedBy, j.StartedByCandidates = jsonLaunchOf(c.StartedBy), processIDs(c.StartedByCandidates)
	j.ExecSessions = []jsonExecSession{}
	for _, s := range c.ExecSessions {
		p := s.Process
		j.ExecSessions = append(j.ExecSessions, jsonExecSession{PID: p.PID, ID: p.ID, Start: optTime(p.Start), Argv: firstArgv(p),
			StartedBy: jsonLaunchOf(s.StartedBy), StartedByCandidates: processIDs(s.Candidates)})
	}
	return j
}

func jsonLaunchOf(l *Launch) *jsonLaunch {
	if l == nil {
		return nil
	}
	p := l.Process
	return &jsonLaunch{PID: p.PID, ID: p.ID, Argv: p.Argv, jsonIdentity: jsonIdentityOf(p.Identity),
		Evidence: jsonLaunchEvidence{Subcommand: l.Subcommand, Socket: l.Socket, ConnectTime: FormatTime(l.ConnectTime),
			Image: optString(l.Image), CommandMatch: l.CommandMatch, IDMatch: l.IDMatch}}
}

// processIDs returns the model ids of ps, never nil.
func processIDs(ps []*Process) []int {
	out := make([]int, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

// firstArgv is the argv of a process's first exec, else its argv.
func firstArgv(p *Process) []string {
	if len(p.Execs) > 0 && p.Execs[0].Argv != nil {
		return p.Execs[0].Argv
	}
	return p.Argv
}

package analyze

import (
	"path"
	"slices"
	"strings"
)

// Who started a container: the client (docker, nerdctl, podman --remote)
// that asked a daemon over its unix socket to run, start or build one, or
// to exec a command in one. The records show the client's arguments and its
// socket connects, and the daemon's work (the runtime's processes, the
// container's init) at the times it happened; they do not show which API
// request caused what. A client is taken as the starter only on evidence:
// its subcommand starts containers, it connected to a socket before the
// container's first runtime process started and was still running then,
// and, when several clients could have, its arguments name the container's
// command or id while the others' do not. When the records cannot tell two
// clients apart, the container is marked unresolved with the candidates.

// Launch is the client a container or an exec session was started by, and
// the evidence for it.
type Launch struct {
	Process *Process
	// Subcommand is the client's: run, start, build or exec.
	Subcommand string
	// Socket is the unix socket the client connected to last before the
	// start, at ConnectTime.
	Socket      string
	ConnectTime int64
	// Image is the image its arguments name (run), "" otherwise.
	Image string
	// CommandMatch: the command in the client's arguments is the one the
	// container's init (or the exec session's process) ran.
	CommandMatch bool
	// IDMatch: the client's arguments name the container by (a prefix of)
	// its id.
	IDMatch bool
}

// ExecSession is a process a runtime exec'd into a running container
// (docker exec): the first process of the session, whose parent is the
// runtime on the host.
type ExecSession struct {
	Process   *Process
	StartedBy *Launch
	// Candidates are the clients that could have started it when the
	// records do not tell which (StartedBy is nil then).
	Candidates []*Process
}

// clientCall is a container client's invocation, from its arguments.
type clientCall struct {
	sub     string   // run, create, start, exec, build
	image   string   // run, create
	target  string   // start, exec: the container named (name or id)
	command []string // run, create, exec: the command given, nil when none
}

// containerClients are the clients whose command line follows docker's.
var containerClients = map[string]bool{"docker": true, "nerdctl": true, "podman": true}

// clientValueOptions are the options of the clients' top level that take a
// value as the next argument (given without "=").
var clientValueOptions = map[string]bool{
	"-H": true, "--host": true, "-c": true, "--context": true, "--config": true, "-l": true, "--log-level": true,
	"--tlscacert": true, "--tlscert": true, "--tlskey": true, "--url": true, "--connection": true,
	"--address": true, "-a": true, "--namespace": true, "-n": true, "--root": true, "--runroot": true,
	"--cgroup-manager": true, "--storage-driver": true, "--identity": true,
}

// runBoolOptions are the long options of run, create and exec that take
// no value; every other option does (as the next argument unless given
// with "=").
var runBoolOptions = map[string]bool{
	"--detach": true, "--interactive": true, "--tty": true, "--rm": true, "--init": true, "--privileged": true,
	"--read-only": true, "--publish-all": true, "--oom-kill-disable": true, "--no-healthcheck": true, "--quiet": true,
	"--help": true, "--disable-content-trust": true, "--sig-proxy": true, "--use-api-socket": true, "--replace": true,
}

// startBoolOptions are start's options without a value (run's --attach
// takes one, start's does not).
var startBoolOptions = map[string]bool{"--attach": true, "--interactive": true, "--help": true}

// shortBools are the one-letter options without a value of run and create,
// exec, and start, as they combine (-it, -dit).
const (
	runShortBools   = "ditPq"
	execShortBools  = "dit"
	startShortBools = "ai"
)

// parseClientCall reads a container client's arguments; nil when p is not
// such a client or its subcommand does not start anything.
func parseClientCall(p *Process) *clientCall {
	argv := p.Argv
	if len(argv) < 2 {
		return nil
	}
	if !containerClients[path.Base(argv[0])] && !containerClients[path.Base(p.Exe)] {
		return nil
	}
	i := 1
	for i < len(argv) && strings.HasPrefix(argv[i], "-") {
		if clientValueOptions[argv[i]] {
			i++
		}
		i++
	}
	if i < len(argv) && argv[i] == "container" {
		i++
	}
	if i >= len(argv) {
		return nil
	}
	call := &clientCall{sub: argv[i]}
	rest := argv[i+1:]
	switch call.sub {
	case "run", "create":
		if pos := positional(rest, runShortBools, runBoolOptions); len(pos) > 0 {
			call.image, call.command = pos[0], pos[1:]
		}
	case "exec":
		if pos := positional(rest, execShortBools, runBoolOptions); len(pos) > 0 {
			call.target, call.command = pos[0], pos[1:]
		}
	case "start":
		if pos := positional(rest, startShortBools, startBoolOptions); len(pos) == 1 {
			call.target = pos[0]
		}
	case "build":
	default:
		return nil
	}
	return call
}

// positional returns the arguments of run, create or exec from the first
// one that is not an option (the image or container, then the command).
func positional(args []string, shortBools string, longBools map[string]bool) []string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return args[i+1:]
		case !strings.HasPrefix(a, "-") || a == "-":
			return args[i:]
		case strings.HasPrefix(a, "--"):
			if !strings.Contains(a, "=") && !longBools[a] {
				i++
			}
		default:
			// -it, -dit, -eFOO=1, -e FOO=1
			for j := 1; j < len(a); j++ {
				if strings.IndexByte(shortBools, a[j]) >= 0 {
					continue
				}
				if j == len(a)-1 {
					i++ // the value is the next argument
				}
				break
			}
		}
	}
	return nil
}

// lastUnixConnect returns the client's last successful connect to a named
// unix socket at or before t (within the audit clock's slack).
func lastUnixConnect(p *Process, t int64) (Connection, bool) {
	var found Connection
	ok := false
	for _, c := range p.Connections {
		if c.Op == "connect" && c.Family == "unix" && c.Path != "" && c.Result == "ok" && c.Time <= t+auditSlack {
			found, ok = c, true
		}
	}
	return found, ok
}

// launchCandidate is a client that could have started something at a time.
type launchCandidate struct {
	launch Launch
	strong bool // its command or id matches
}

// candidates returns the clients whose subcommand is one of subs, that were
// running at t and had connected to a unix socket by then.
func candidates(clients map[*Process]*clientCall, t int64, subs ...string) []launchCandidate {
	var out []launchCandidate
	for q, call := range clients {
		if !slices.Contains(subs, call.sub) {
			continue
		}
		start := q.SortTime()
		if start == 0 || start > t || (q.End != 0 && q.End < t-auditSlack) {
			continue
		}
		conn, ok := lastUnixConnect(q, t)
		if !ok {
			continue
		}
		out = append(out, launchCandidate{launch: Launch{Process: q, Subcommand: call.sub, Socket: conn.Path, ConnectTime: conn.Time, Image: call.image}})
	}
	slices.SortFunc(out, func(a, b launchCandidate) int { return compareProcesses(a.launch.Process, b.launch.Process) })
	return out
}

// choose returns the one candidate the evidence points to: the only one,
// or the only one whose command or id matches. Otherwise it returns the
// candidates the records cannot tell apart.
func choose(cands []launchCandidate) (*Launch, []*Process) {
	var strong []launchCandidate
	for _, c := range cands {
		if c.strong {
			strong = append(strong, c)
		}
	}
	if len(strong) > 0 {
		cands = strong
	}
	switch len(cands) {
	case 0:
		return nil, nil
	case 1:
		l := cands[0].launch
		return &l, nil
	}
	ps := make([]*Process, len(cands))
	for i, c := range cands {
		ps[i] = c.launch.Process
	}
	return nil, ps
}

// ranCommand reports whether one of p's execs ran argv.
func ranCommand(p *Process, argv []string) bool {
	if p == nil || len(argv) == 0 {
		return false
	}
	for _, x := range p.Execs {
		if slices.Equal(x.Argv, argv) {
			return true
		}
	}
	return false
}

// namesID reports whether ref is the container's id or a prefix of it that
// docker would accept (at least one hex digit; names are not in the
// records).
func namesID(ref, id string) bool {
	return ref != "" && len(ref) <= len(id) && strings.HasPrefix(id, ref)
}

// looksLikeID reports whether ref is a hex string a client takes as an id.
func looksLikeID(ref string) bool {
	if len(ref) < 12 {
		return false
	}
	for _, c := range ref {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// launchTarget is something a client may have started: a container or an
// exec session, with its candidates.
type launchTarget struct {
	container *Container
	session   *ExecSession
	cands     []launchCandidate
}

// linkLaunchers sets StartedBy of the containers and their exec sessions.
// A run, start or exec starts one thing: a client that matches one target
// by its command or id is not a candidate for another, and one that would
// be taken for several is taken for none.
func linkLaunchers(procs []*Process, containers []*Container) {
	clients := map[*Process]*clientCall{}
	for _, p := range procs {
		if call := parseClientCall(p); call != nil {
			clients[p] = call
		}
	}
	if len(clients) == 0 {
		return
	}
	var targets []*launchTarget
	for _, c := range containers {
		if t := c.createdAt(); t != 0 && !c.PreExisting {
			tg := &launchTarget{container: c}
			for _, k := range candidates(clients, t, "run", "start", "build") {
				call := clients[k.launch.Process]
				if call.sub == "start" && looksLikeID(call.target) && !namesID(call.target, c.ID) {
					continue // it names another container
				}
				k.launch.CommandMatch = call.sub == "run" && ranCommand(c.Init, call.command)
				k.launch.IDMatch = call.sub == "start" && namesID(call.target, c.ID)
				k.strong = k.launch.CommandMatch || k.launch.IDMatch
				tg.cands = append(tg.cands, k)
			}
			targets = append(targets, tg)
		}
		for _, s := range c.ExecSessions {
			t := s.Process.SortTime()
			if t == 0 {
				continue
			}
			tg := &launchTarget{container: c, session: s}
			for _, k := range candidates(clients, t, "exec") {
				call := clients[k.launch.Process]
				if looksLikeID(call.target) && !namesID(call.target, c.ID) {
					continue
				}
				k.launch.CommandMatch = ranCommand(s.Process, call.command)
				k.launch.IDMatch = namesID(call.target, c.ID)
				k.strong = k.launch.CommandMatch || k.launch.IDMatch
				tg.cands = append(tg.cands, k)
			}
			targets = append(targets, tg)
		}
	}
	// A client whose command or id matches a target is that target's.
	strongFor := map[*Process][]*launchTarget{}
	for _, tg := range targets {
		for _, k := range tg.cands {
			if k.strong {
				strongFor[k.launch.Process] = append(strongFor[k.launch.Process], tg)
			}
		}
	}
	chosen := map[*Process][]*launchTarget{}
	for _, tg := range targets {
		keep := tg.cands[:0]
		for _, k := range tg.cands {
			if !k.strong && len(strongFor[k.launch.Process]) > 0 && clients[k.launch.Process].sub != "build" {
				continue // it started something else
			}
			keep = append(keep, k)
		}
		l, others := choose(keep)
		if l != nil {
			chosen[l.Process] = append(chosen[l.Process], tg)
		}
		tg.setResult(l, others)
	}
	for q, tgs := range chosen {
		if len(tgs) < 2 || clients[q].sub == "build" {
			continue
		}
		for _, tg := range tgs {
			tg.setResult(nil, []*Process{q})
		}
	}
}

// setResult records the launcher found, or the candidates.
func (tg *launchTarget) setResult(l *Launch, cands []*Process) {
	if tg.session != nil {
		tg.session.StartedBy, tg.session.Candidates = l, cands
		return
	}
	tg.container.StartedBy, tg.container.StartedByCandidates = l, cands
}

// createdAt is when the runtime began the container: the start of its first
// runtime process (the shim, or runc create), else its init's.
func (c *Container) createdAt() int64 {
	var t int64
	for _, p := range c.RuntimeProcesses {
		if st := p.Start; st != 0 && (t == 0 || st < t) {
			t = st
		}
	}
	if t == 0 && c.Init != nil {
		t = c.Init.Start
	}
	return t
}

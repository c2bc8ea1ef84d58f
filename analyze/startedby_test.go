package analyze

import (
	"slices"
	"testing"
)

func TestParseClientCall(t *testing.T) {
	for _, tc := range []struct {
		argv            []string
		sub, image      string
		target          string
		command         []string
		notAnInvocation bool
	}{
		{argv: []string{"docker", "run", "-it", "--rm", "-e", "A=1", "--env=B=2", "-v", "/x:/y", "busybox", "sh", "-c", "ls -l"},
			sub: "run", image: "busybox", command: []string{"sh", "-c", "ls -l"}},
		{argv: []string{"/usr/bin/docker", "-H", "unix:///run/d.sock", "--debug", "container", "run", "-d", "--name", "x", "img:1"},
			sub: "run", image: "img:1", command: []string{}},
		{argv: []string{"docker", "run", "-eFOO=1", "-dit", "--network", "none", "--", "alpine", "--weird"},
			sub: "run", image: "alpine", command: []string{"--weird"}},
		{argv: []string{"nerdctl", "run", "--privileged", "-u", "1000", "nginx"}, sub: "run", image: "nginx", command: []string{}},
		{argv: []string{"podman", "--remote", "create", "-t", "fedora", "bash"}, sub: "create", image: "fedora", command: []string{"bash"}},
		{argv: []string{"docker", "exec", "-it", "-u", "0", "-w", "/tmp", "web", "cat", "/etc/passwd"},
			sub: "exec", target: "web", command: []string{"cat", "/etc/passwd"}},
		{argv: []string{"docker", "start", "-a", "0123456789ab"}, sub: "start", target: "0123456789ab"},
		{argv: []string{"docker", "start", "--attach", "--detach-keys", "ctrl-x", "web"}, sub: "start", target: "web"},
		{argv: []string{"docker", "run", "--attach", "STDOUT", "-a", "STDERR", "img", "true"}, sub: "run", image: "img", command: []string{"true"}},
		{argv: []string{"docker", "start", "a", "b"}, sub: "start"},
		{argv: []string{"docker", "build", "-t", "x", "."}, sub: "build"},
		{argv: []string{"docker", "ps", "-a"}, notAnInvocation: true},
		{argv: []string{"docker"}, notAnInvocation: true},
		{argv: []string{"ctr", "run", "img", "id"}, notAnInvocation: true},
		{argv: []string{"sh", "-c", "docker run x"}, notAnInvocation: true},
	} {
		got := parseClientCall(&Process{Argv: tc.argv})
		if tc.notAnInvocation {
			if got != nil {
				t.Errorf("%q: %+v, want nothing", tc.argv, got)
			}
			continue
		}
		if got == nil {
			t.Errorf("%q: nothing, want %s", tc.argv, tc.sub)
			continue
		}
		if got.sub != tc.sub || got.image != tc.image || got.target != tc.target || (tc.command != nil && !slices.Equal(got.command, tc.command)) {
			t.Errorf("%q: %+v, want sub %s image %q target %q command %q", tc.argv, got, tc.sub, tc.image, tc.target, tc.command)
		}
	}
}

// launchModel is two containers and the given docker clients, each
// connected to the daemon before the containers started and running
// after.
func launchModel(clients ...[]string) ([]*Process, []*Container) {
	var procs []*Process
	for i, argv := range clients {
		procs = append(procs, &Process{PID: 100 + i, ID: 1 + i, Start: 1e9, End: 5e9, Argv: argv,
			Connections: []Connection{{Time: 1.1e9, Op: "connect", Family: "unix", Path: "/var/run/docker.sock", Result: "ok"}}})
	}
	var cs []*Container
	for i, cmd := range [][]string{{"sh", "-c", "one"}, {"sh", "-c", "two"}} {
		init := &Process{PID: 200 + i, Start: 2e9 + int64(i)*1e6, Execs: []Exec{{Argv: cmd}}}
		shim := &Process{PID: 300 + i, Start: 1.9e9 + int64(i)*1e6}
		cs = append(cs, &Container{ID: []string{"aaaa", "bbbb"}[i], Init: init, RuntimeProcesses: []*Process{shim}})
		procs = append(procs, init, shim)
	}
	return procs, cs
}

func TestLinkLaunchers(t *testing.T) {
	pidOf := func(l *Launch) int {
		if l == nil {
			return 0
		}
		return l.Process.PID
	}
	// Two runs at the same time: each is told by its command.
	procs, cs := launchModel([]string{"docker", "run", "img", "sh", "-c", "two"}, []string{"docker", "run", "img", "sh", "-c", "one"})
	linkLaunchers(procs, cs)
	if pidOf(cs[0].StartedBy) != 101 || pidOf(cs[1].StartedBy) != 100 || !cs[0].StartedBy.CommandMatch {
		t.Errorf("by command: %d, %d", pidOf(cs[0].StartedBy), pidOf(cs[1].StartedBy))
	}
	// Two runs of the image's own command: the records cannot tell.
	procs, cs = launchModel([]string{"docker", "run", "img"}, []string{"docker", "run", "img"})
	linkLaunchers(procs, cs)
	for _, c := range cs {
		if c.StartedBy != nil || len(c.StartedByCandidates) != 2 {
			t.Errorf("ambiguous runs: started by %d, %d candidates", pidOf(c.StartedBy), len(c.StartedByCandidates))
		}
	}
	// One run without a command and one with: the one without is not
	// taken for the other's container, and is the only one left for the
	// first.
	procs, cs = launchModel([]string{"docker", "run", "img"}, []string{"docker", "run", "img", "sh", "-c", "two"})
	linkLaunchers(procs, cs)
	if pidOf(cs[0].StartedBy) != 100 || cs[0].StartedBy.CommandMatch || pidOf(cs[1].StartedBy) != 101 {
		t.Errorf("by elimination: %d, %d", pidOf(cs[0].StartedBy), pidOf(cs[1].StartedBy))
	}
	// One run without a command for two containers: one run starts one
	// container, so neither is it.
	procs, cs = launchModel([]string{"docker", "run", "img"})
	linkLaunchers(procs, cs)
	for _, c := range cs {
		if c.StartedBy != nil || len(c.StartedByCandidates) != 1 {
			t.Errorf("one run, two containers: started by %d, %d candidates", pidOf(c.StartedBy), len(c.StartedByCandidates))
		}
	}
	// A start names its container by id; a build may start several.
	procs, cs = launchModel([]string{"docker", "start", "bbbb"}, []string{"docker", "build", "."})
	linkLaunchers(procs, cs)
	if pidOf(cs[1].StartedBy) != 100 || !cs[1].StartedBy.IDMatch || pidOf(cs[0].StartedBy) != 101 {
		t.Errorf("start and build: %d, %d", pidOf(cs[0].StartedBy), pidOf(cs[1].StartedBy))
	}
	// A client that connected only after the start, or ended before it,
	// or never connected, is no candidate.
	procs, cs = launchModel([]string{"docker", "run", "img", "sh", "-c", "one"})
	procs[0].Connections[0].Time = 3e9
	linkLaunchers(procs, cs)
	procs2, cs2 := launchModel([]string{"docker", "run", "img", "sh", "-c", "one"})
	procs2[0].End = 1.5e9
	linkLaunchers(procs2, cs2)
	procs3, cs3 := launchModel([]string{"docker", "run", "img", "sh", "-c", "one"})
	procs3[0].Connections = nil
	linkLaunchers(procs3, cs3)
	for _, c := range []*Container{cs[0], cs2[0], cs3[0]} {
		if c.StartedBy != nil || len(c.StartedByCandidates) != 0 {
			t.Errorf("no evidence: started by %d", pidOf(c.StartedBy))
		}
	}
}

func TestLaunchLine(t *testing.T) {
	procs, cs := launchModel([]string{"docker", "run", "img"}, []string{"docker", "run", "img", "sh", "-c", "two"})
	linkLaunchers(procs, cs)
	if got, want := launchLine("started by", cs[0].StartedBy, cs[0].StartedByCandidates),
		"started by 100 docker run img  (connected to /var/run/docker.sock at 1970-01-01T00:00:01.100000000Z; inferred from timing alone: its arguments name neither the command nor the id)"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	procs, cs = launchModel([]string{"docker", "run", "img"}, []string{"docker", "run", "img"})
	linkLaunchers(procs, cs)
	if got, want := launchLine("started by", cs[0].StartedBy, cs[0].StartedByCandidates),
		"started by: unresolved (the records do not tell which of 2 clients: 100, 101)"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := launchLine("started by", nil, nil); got != "" {
		t.Errorf("no client: %q", got)
	}
}

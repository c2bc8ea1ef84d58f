package extract

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// fieldsOf returns the records of the extract with the given audit type
// (as parsed fields), by record.
func auditRecords(t *testing.T, file string, typ uint16) [][]replay.Field {
	t.Helper()
	recs, _ := readAll(t, file)
	var out [][]replay.Field
	for _, r := range recs {
		if r.Source != format.SourceAudit {
			continue
		}
		f, err := replay.DecodeAudit(r.Data, le)
		if err != nil {
			t.Fatalf("undecodable audit record %q: %v", r.Data, err)
		}
		if f.Kind == replay.AuditEvent && f.Type == typ {
			out = append(out, f.Fields())
		}
	}
	return out
}

func value(t *testing.T, typ uint16, fs []replay.Field, key string) string {
	t.Helper()
	f, ok := replay.FindField(fs, key)
	if !ok {
		t.Fatalf("no %s in %v", key, fs)
	}
	v, _ := replay.DecodeRecordValue(typ, f)
	return v
}

// TestRedaction redacts the scenario's command and checks every place a
// secret or a home path was: EXECVE arguments (one hex-encoded because of
// its space), PATH names (absolute and relative to the cwd), CWD,
// PROCTITLE (hex, with NULs), SYSCALL exe and comm, the proc connector's
// comm, snapshot argv, cwd and exe, the notes, the header and trailer.
func TestRedaction(t *testing.T) {
	c := scenario()
	in := c.write(t)
	o := Options{Command: true, Redact: []string{`s3cret`, `hunter\d`}, RedactEnv: true, HashPaths: true, RedactHost: true}
	out, res := extractFile(t, in, o)
	alice, d, w := hashComponent("alice"), hashComponent("d"), hashComponent("w")

	var argvs [][]string
	for _, fs := range auditRecords(t, out, replay.TypeExecve) {
		argv, err := replay.ExecveArgs([][]replay.Field{fs})
		if err != nil {
			t.Fatal(err)
		}
		argvs = append(argvs, argv)
	}
	wantArgv := [][]string{
		{"./w", "/home/" + alice + "/" + d},
		{"/bin/sh", "-c", "env TOKEN=[redacted] x", "my [redacted] arg"},
	}
	if !slices.EqualFunc(argvs, wantArgv, slices.Equal) {
		t.Errorf("EXECVE argv %q, want %q", argvs, wantArgv)
	}
	// The argument with a space is still hex-encoded, the others quoted.
	for _, fs := range auditRecords(t, out, replay.TypeExecve) {
		for _, f := range fs {
			if f.Key == "a3" && (f.Quoted || f.Value != strings.ToUpper(fmt.Sprintf("%x", "my [redacted] arg"))) {
				t.Errorf("a3 %+v", f)
			}
		}
	}

	var names []string
	for _, fs := range auditRecords(t, out, replay.TypePath) {
		names = append(names, value(t, replay.TypePath, fs, "name"))
	}
	wantNames := []string{"./" + w, "/home/" + alice + "/" + d + "/", "/home/" + alice + "/" + d + "/" + hashComponent("f"),
		"./", hashComponent("rel.txt"), "/bin/sh"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("PATH names %q, want %q", names, wantNames)
	}
	var cwds []string
	for _, fs := range auditRecords(t, out, replay.TypeCwd) {
		cwds = append(cwds, value(t, replay.TypeCwd, fs, "cwd"))
	}
	if want := []string{"/home/" + alice, "/home/" + alice, "/home/" + alice + "/" + d, "/home/" + alice + "/" + d}; !slices.Equal(cwds, want) {
		t.Errorf("CWD %q, want %q", cwds, want)
	}
	var titles [][]string
	for _, fs := range auditRecords(t, out, replay.TypeProctitle) {
		f, _ := replay.FindField(fs, "proctitle")
		title, err := replay.DecodeProctitle(f)
		if err != nil {
			t.Fatal(err)
		}
		titles = append(titles, title)
	}
	if !slices.EqualFunc(titles, wantArgv, slices.Equal) {
		t.Errorf("PROCTITLE %q, want %q", titles, wantArgv)
	}
	for _, fs := range auditRecords(t, out, replay.TypeSyscall) {
		exe, comm := value(t, replay.TypeSyscall, fs, "exe"), value(t, replay.TypeSyscall, fs, "comm")
		if strings.Contains(exe, "alice") || comm == "w" {
			t.Errorf("SYSCALL exe %q comm %q", exe, comm)
		}
		if strings.HasPrefix(exe, "/home/") && (exe != "/home/"+alice+"/"+w || comm != w) {
			t.Errorf("SYSCALL exe %q comm %q, want %q %q", exe, comm, "/home/"+alice+"/"+w, w)
		}
	}

	recs, r := readAll(t, out)
	for _, rec := range recs {
		switch rec.Source {
		case format.SourceProc:
			ev, _ := replay.DecodeProc(rec.Data, le)
			if ev.Kind == replay.ProcComm && ev.Comm != "[redacted]-work" {
				t.Errorf("proc comm %q", ev.Comm)
			}
		case format.SourceSnapshot:
			var sp format.SnapshotProcess
			json.Unmarshal(rec.Data, &sp)
			switch sp.PID {
			case 40:
				if sp.Cwd != "/home/"+alice || sp.Exe != "/bin/bash" {
					t.Errorf("snapshot of 40: %+v", sp)
				}
			case 50:
				if !slices.Equal(sp.Argv, []string{"ctrace", "record", "--", "./w", "/home/" + alice + "/" + d}) || sp.Cwd != "/home/"+alice {
					t.Errorf("snapshot of 50: %+v", sp)
				}
			}
		case format.SourceNote:
			var n format.Note
			json.Unmarshal(rec.Data, &n)
			if n.Kind == "command_start" && n.Text != "./w /home/"+alice+"/"+d {
				t.Errorf("note %+v", n)
			}
		}
	}

	// The header and trailer: what was applied, never the secrets, the
	// patterns or the home's names.
	h := r.Header()
	if !slices.Equal(h.Redaction, []string{"redact: 2 patterns", "redact-env", "hash-paths", "redact-host"}) {
		t.Errorf("redaction %q", h.Redaction)
	}
	if h.Hostname != Redacted || h.BootID != "" || h.KernelVersion != "" {
		t.Errorf("host %q boot %q kernel %q", h.Hostname, h.BootID, h.KernelVersion)
	}
	if !slices.Equal(h.Command, []string{"./w", "/home/" + alice + "/" + d}) {
		t.Errorf("command %q", h.Command)
	}
	meta, _ := json.Marshal(struct {
		H *format.Header
		T *format.Trailer
		R *Result
	}{h, r.Trailer(), res})
	for _, secret := range []string{"s3cret", "hunter", `hunter\\d`, "alice", "secret-dir", "build-7", "b00t"} {
		if strings.Contains(string(meta), secret) {
			t.Errorf("the header, trailer or result holds %q: %s", secret, meta)
		}
	}

	// The analyzer reads the redacted capture: the same tree, redacted.
	a, err := analyze.AnalyzeFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range a.Processes {
		if p.PID == 102 && !slices.Equal(p.Argv, wantArgv[1]) {
			t.Errorf("analyzer: argv of 102 %q", p.Argv)
		}
		if p.PID == 101 && (len(p.FilesWritten) != 1 || p.FilesWritten[0] != "/home/"+alice+"/"+d+"/"+hashComponent("rel.txt")) {
			t.Errorf("analyzer: files of 101 %q", p.FilesWritten)
		}
	}
	if len(a.Processes) != 6 {
		t.Errorf("analyzer: %d processes", len(a.Processes))
	}

	// Redacting again changes nothing.
	again, res2 := extractFile(t, out, o)
	if res2.Rewritten != 0 {
		t.Errorf("redacting the redacted extract rewrote %d records", res2.Rewritten)
	}
	a1, _ := readAll(t, out)
	a2, _ := readAll(t, again)
	if len(a1) != len(a2) {
		t.Errorf("%d records, then %d", len(a1), len(a2))
	}
}

// TestRedactSnapshotArgs: the snapshot's argv of a selected process.
func TestRedactSnapshotArgs(t *testing.T) {
	in := scenario().write(t)
	out, _ := extractFile(t, in, Options{PIDs: []int{300}, Redact: []string{"hunter2"}})
	recs, _ := readAll(t, out)
	found := false
	for _, rec := range recs {
		if rec.Source == format.SourceSnapshot && strings.Contains(string(rec.Data), `"pid":300,"tid":300`) || strings.Contains(string(rec.Data), "daemon\",\"--token") {
			found = true
		}
		if strings.Contains(string(rec.Data), "hunter2") {
			t.Errorf("record holds the secret: %s", rec.Data)
		}
		if rec.Source == format.SourceSnapshot {
			var sp format.SnapshotProcess
			json.Unmarshal(rec.Data, &sp)
			if sp.TID == 300 && !slices.Equal(sp.Argv, []string{"daemon", "--token=[redacted]"}) {
				t.Errorf("argv %q", sp.Argv)
			}
		}
	}
	_ = found
}

// TestRewriteAuditLength: a rewritten datagram keeps the netlink length
// convention it was received with; encodings follow the kernel's rules (a
// value that no longer needs hex is quoted, one that now needs it is hex).
func TestRewriteAuditLength(t *testing.T) {
	r := &redactor{patterns: []*regexp.Regexp{regexp.MustCompile(`pass"word`), regexp.MustCompile(`b`)}}
	body := `argc=3 a0="sh" a1=70617373227776F7264 a2="abc"`
	body = strings.Replace(body, "70617373227776F7264", strings.ToUpper(fmt.Sprintf("%x", `pass"word`)), 1)
	for _, multicast := range []bool{false, true} {
		in := auditFrame(replay.TypeExecve, 1, 1, body, multicast)
		recs := []execveRecord{{recPos{0, 0}, body}}
		edits := r.planExecve(recs)[recPos{0, 0}]
		out := r.rewriteAudit(in, le, "", edits)
		if out == nil {
			t.Fatal("nothing rewritten")
		}
		f, err := replay.DecodeAudit(out, le)
		if err != nil {
			t.Fatal(err)
		}
		want := `argc=3 a0="sh" a1="[redacted]" a2="a[redacted]c"`
		if f.Body != want {
			t.Errorf("body %q, want %q", f.Body, want)
		}
		nl := int(le.Uint32(out))
		if multicast && nl != len(out) || !multicast && nl != len(out)-16 {
			t.Errorf("multicast %v: nlmsg_len %d for %d bytes", multicast, nl, len(out))
		}
	}
	// Plain text that gets a space after redaction would be hex; the
	// marker has none, so a value only changes encoding when its own text
	// needs it.
	r = &redactor{patterns: []*regexp.Regexp{regexp.MustCompile(`x`)}}
	out := r.rewriteAudit(auditFrame(replay.TypeCwd, 1, 1, `cwd=2F6120782062`, false), le, "", nil) // "/a x b"
	f, _ := replay.DecodeAudit(out, le)
	if f.Body != `cwd=`+strings.ToUpper(fmt.Sprintf("%x", "/a [redacted] b")) {
		t.Errorf("cwd %q", f.Body)
	}
	// Trailing NULs (padding) are kept, after the text.
	in := append(auditFrame(replay.TypeCwd, 1, 1, `cwd="/x"`, false), 0, 0)
	le.PutUint32(in, uint32(len(in)-16))
	out = r.rewriteAudit(in, le, "", nil)
	if !strings.HasSuffix(string(out), `cwd="/[redacted]"`+"\x00\x00") || int(le.Uint32(out)) != len(out)-16 {
		t.Errorf("padded frame %q", out)
	}
}

// TestSplitArgument: a split argument (aN_len, aN[i] over two records)
// whose secret spans the pieces is rebuilt, redacted and cut again;
// aN_len follows, pieces stay hex.
func TestSplitArgument(t *testing.T) {
	arg := strings.Repeat("x", 20) + "hunter2" + strings.Repeat("y", 20)
	h := strings.ToUpper(fmt.Sprintf("%x", arg))
	rec1 := fmt.Sprintf(`argc=2 a0="cat" a1_len=%d a1[0]=%s`, len(h), h[:46]) // 23 bytes: ...hun
	rec2 := fmt.Sprintf(`a1[1]=%s`, h[46:])
	r := &redactor{patterns: []*regexp.Regexp{regexp.MustCompile(`hunter2`)}}
	recs := []execveRecord{{recPos{0, 1}, rec1}, {recPos{0, 2}, rec2}}
	edits := r.planExecve(recs)
	b1 := applyEdits(rec1, edits[recPos{0, 1}])
	b2 := applyEdits(rec2, edits[recPos{0, 2}])
	argv, err := replay.ExecveArgs([][]replay.Field{replay.ParseFields(b1), replay.ParseFields(b2)})
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, b1, b2)
	}
	want := strings.Repeat("x", 20) + "[redacted]" + strings.Repeat("y", 20)
	if len(argv) != 2 || argv[1] != want {
		t.Errorf("argv %q", argv)
	}
	for _, f := range replay.ParseFields(b1 + " " + b2) {
		if strings.HasPrefix(f.Key, "a1[") && f.Quoted {
			t.Errorf("piece %s quoted", f.Key)
		}
	}
}

func TestRedactEnvArgs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"env A=1 B=two cmd C=3", "env A=[redacted] B=[redacted] cmd C=3"},
		{"/usr/bin/env -i -u X --chdir=/ A=1 sh -c x", "/usr/bin/env -i -u X --chdir=/ A=[redacted] sh -c x"},
		{"env -S A=1_B=2_cmd", "env -S A=[redacted]_B=[redacted]_cmd"},
		{"sudo -u bob TOKEN=x env K=v make", "sudo -u bob TOKEN=[redacted] env K=[redacted] make"},
		{"docker run -e A=1 --env=B=2 -eC=3 -e D img E=4", "docker run -e A=[redacted] --env=B=[redacted] -eC=[redacted] -e D img E=4"},
		{"systemd-run -E A=1 --setenv=B=2 cmd", "systemd-run -E A=[redacted] --setenv=B=[redacted] cmd"},
		{"sh -c A=1_B=2_cmd;_export_C=3;_x_D=4", "sh -c A=[redacted]_B=[redacted]_cmd;_export_C=[redacted];_x_D=4"},
		{"bash -xc K='a_b'_cmd", "bash -xc K=[redacted]_cmd"},
		{"mytool --env A=1 --setenv=B=2 --other=x", "mytool --env A=[redacted] --setenv=B=[redacted] --other=x"},
		{"make CC=gcc", "make CC=gcc"},
		{"grep -e A=1", "grep -e A=1"},
	} {
		in := strings.Split(tc.in, " ")
		for i := range in {
			in[i] = strings.ReplaceAll(in[i], "_", " ")
		}
		got := strings.Join(redactEnvArgs(in), " ")
		if want := strings.ReplaceAll(tc.want, "_", " "); got != want {
			t.Errorf("%s:\n  got  %q\n  want %q", tc.in, got, want)
		}
	}
}

func TestHashPaths(t *testing.T) {
	h := hashComponent
	for _, tc := range []struct{ p, base, want string }{
		{"/home/alice/x.c", "/", "/home/" + h("alice") + "/" + h("x.c")},
		{"/home", "/", "/home"},
		{"/home/", "/", "/home/"},
		{"/root", "/", "/root"},
		{"/root/.ssh/id", "/", "/root/" + h(".ssh") + "/" + h("id")},
		{"/rootfs/x", "/", "/rootfs/x"},
		{"/etc/passwd", "/", "/etc/passwd"},
		{"x.c", "/home/alice", h("x.c")},
		{"../bob/x", "/home/alice", "../" + h("bob") + "/" + h("x")},
		{"../../etc/x", "/home/alice", "../../etc/x"},
		{"x.c", "/tmp", "x.c"},
		{"x.c", "", h("x.c")},
		{"/home/" + h("alice"), "/", "/home/" + h("alice")},
	} {
		if got := hashPath(tc.p, tc.base); got != tc.want {
			t.Errorf("hashPath(%q, %q) = %q, want %q", tc.p, tc.base, got, tc.want)
		}
	}
	r := &redactor{hash: true}
	for _, tc := range []struct{ in, want string }{
		{"cat /home/alice/a b", "cat /home/" + h("alice") + "/" + h("a") + " b"},
		{"--out=/root/x:/home/bob", "--out=/root/" + h("x") + ":/home/" + h("bob")},
		{"/var/home/x /xroot/y", "/var/home/x /xroot/y"},
	} {
		if got := r.hashText(tc.in); got != tc.want {
			t.Errorf("hashText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if c := (&redactor{hash: true}).comm("w", "/home/alice/w"); c != h("w") {
		t.Errorf("comm of a home program: %q", c)
	}
	if c := (&redactor{hash: true}).comm("sh", "/bin/sh"); c != "sh" {
		t.Errorf("comm of /bin/sh: %q", c)
	}
}

// TestPatternErrorsHideThePattern: a pattern that does not compile is
// reported without its text.
func TestPatternErrorsHideThePattern(t *testing.T) {
	o := Options{Command: true, Redact: []string{"ok", "hunter2(["}}
	err := o.Check()
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "2 of 2") {
		t.Errorf("error %v", err)
	}
	if err := (&Options{Command: true, Redact: []string{""}}).Check(); err == nil {
		t.Error("empty pattern accepted")
	}
	// A pattern that can match nothing inserts nothing.
	r := &redactor{patterns: []*regexp.Regexp{regexp.MustCompile(`x*`)}}
	if got := r.regex("abxxc"); got != "ab[redacted]c" {
		t.Errorf("x* on abxxc: %q", got)
	}
}

// TestRedactAllCapturesInTestdata: redaction keeps every test capture
// readable by the analyzer, with the same number of processes.
func TestRedactAllCapturesInTestdata(t *testing.T) {
	for _, f := range mustGlob(t, filepath.Join("..", "testdata", "*", "*.ctr")) {
		out := filepath.Join(t.TempDir(), "r.ctr")
		_, err := File(f, out, Options{Since: "0s", Redact: []string{"[0-9]{3}"}, RedactEnv: true, HashPaths: true, RedactHost: true})
		if err != nil {
			t.Fatal(err)
		}
		a, err := analyze.AnalyzeFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := analyze.AnalyzeFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Processes) != len(b.Processes) || b.Capture.Undecodable["audit"] != 0 || b.Capture.DamageCount != 0 {
			t.Errorf("%s: %d processes, redacted %d (undecodable %v, damage %d)", f, len(a.Processes), len(b.Processes), b.Capture.Undecodable, b.Capture.DamageCount)
		}
	}
}

// TestDirfdRelative: a relative name of an *at syscall with a descriptor
// is not placed by the working directory, so --hash-paths hashes it whole.
func TestDirfdRelative(t *testing.T) {
	for _, tc := range []struct {
		name string
		args [4]uint64
		want bool
	}{
		{"openat", [4]uint64{atFDCWD}, false},
		{"openat", [4]uint64{0xffffffffffffff9c}, false},
		{"openat", [4]uint64{3}, true},
		{"unlinkat", [4]uint64{7}, true},
		{"renameat2", [4]uint64{atFDCWD, 0, 4}, true},
		{"symlinkat", [4]uint64{0, 5}, true},
		{"open", [4]uint64{3}, false},
		{"execve", [4]uint64{3}, false},
	} {
		info := &evInfo{name: tc.name, args: tc.args}
		if got := info.dirfdRelative(); got != tc.want {
			t.Errorf("%s %x: %v", tc.name, tc.args, got)
		}
	}
	c := scenario()
	c.event("open101dirfd", 22, 18, strings.Replace(sc(nrOpenat, 3, 101, 100, "w", "/home/alice/w"), "a0=ffffff9c", "a0=5", 1),
		cwdRec("/tmp"), pathRec(0, "./", "PARENT"), pathRec(1, "secret.txt", "CREATE"))
	out, _ := extractFile(t, c.write(t), Options{PIDs: []int{101}, HashPaths: true})
	var names []string
	for _, fs := range auditRecords(t, out, replay.TypePath) {
		names = append(names, value(t, replay.TypePath, fs, "name"))
	}
	if !slices.Contains(names, hashComponent("secret.txt")) || !slices.Contains(names, "./") {
		t.Errorf("names %q", names)
	}
}

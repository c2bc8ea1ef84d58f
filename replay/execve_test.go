package replay

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// execveRecords parses EXECVE bodies.
func execveRecords(bodies ...string) [][]Field {
	recs := make([][]Field, len(bodies))
	for i, b := range bodies {
		recs[i] = ParseFields(b)
	}
	return recs
}

// logEvents groups the records of a log file by serial, in file order.
func logEvents(t *testing.T, path string) (map[uint64][]AuditFrame, []uint64) {
	t.Helper()
	lines, err := fileLines(path)
	if err != nil {
		t.Fatal(err)
	}
	events := make(map[uint64][]AuditFrame)
	var order []uint64
	for _, l := range lines {
		fr, err := ParseLogLine(strings.TrimLeft(l, " "))
		if err != nil || fr.Kind != AuditEvent {
			continue
		}
		if _, ok := events[fr.Serial]; !ok {
			order = append(order, fr.Serial)
		}
		events[fr.Serial] = append(events[fr.Serial], fr)
	}
	return events, order
}

func recordsOfType(frames []AuditFrame, typ uint16) [][]Field {
	var out [][]Field
	for _, fr := range frames {
		if fr.Type == typ {
			out = append(out, fr.Fields())
		}
	}
	return out
}

func TestExecveArgsLaurelLong(t *testing.T) {
	events, _ := logEvents(t, corpusFile(t, "laurel/src_testdata_record-execve-long.txt"))
	ev := events[21028]
	recs := recordsOfType(ev, TypeExecve)
	if len(recs) != 3 {
		t.Fatalf("%d EXECVE records", len(recs))
	}
	args, err := ExecveArgs(recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(args) != 2 || args[0] != "/bin/echo" || len(args[1]) != 8192 {
		t.Fatalf("args: %d, %q, len %d", len(args), args[0], len(args[1]))
	}
	// The test data marks where each piece starts and ends (b..c, d..e,
	// f..g) in a run of 'a'.
	marks := map[int]byte{0: 'b', 3731: 'c', 3732: 'd', 7477: 'e', 7478: 'f', 8191: 'g'}
	for i := 0; i < len(args[1]); i++ {
		want, ok := marks[i]
		if !ok {
			want = 'a'
		}
		if args[1][i] != want {
			t.Fatalf("byte %d of argument 1 is %q, want %q", i, args[1][i], want)
		}
	}
	// PROCTITLE is cut at 128 bytes (the test data's title is all 'a').
	title, err := DecodeProctitle(recordsOfType(ev, TypeProctitle)[0][0])
	if err != nil {
		t.Fatal(err)
	}
	if len(title) != 2 || title[0] != "/bin/echo" || strings.Trim(title[1], "a") != "" || len(title[0])+1+len(title[1]) != MaxProctitleLen {
		t.Errorf("proctitle %q", title)
	}

	// The kernel simulation writes exactly these records for this argv.
	var bodies []string
	for _, fr := range ev {
		if fr.Type == TypeExecve {
			bodies = append(bodies, fr.Body)
		}
	}
	if sim := kernelExecveBodies(args); !reflect.DeepEqual(sim, bodies) {
		t.Errorf("simulation differs from the kernel: %d records vs %d", len(sim), len(bodies))
		for i := range min(len(sim), len(bodies)) {
			if sim[i] != bodies[i] {
				t.Errorf("record %d: sim %d bytes %q..., kernel %d bytes %q...", i, len(sim[i]), clip(sim[i]), len(bodies[i]), clip(bodies[i]))
			}
		}
	}
}

func TestExecveArgs48(t *testing.T) {
	events, order := logEvents(t, corpusFile(t, "audit-userspace/auparse_test_test4.log"))
	found := map[int]bool{}
	for _, serial := range order {
		recs := recordsOfType(events[serial], TypeExecve)
		if len(recs) == 0 {
			continue
		}
		args, err := ExecveArgs(recs)
		if err != nil {
			t.Errorf("serial %d: %v", serial, err)
			continue
		}
		found[len(args)] = true
		if len(args) == 48 {
			if args[0] != "/bin/sh" || args[1] != "-efu" || args[2] != "/usr/bin/ld" {
				t.Errorf("48 args: %q", args[:3])
			}
			for i, a := range args {
				if a == "" {
					t.Errorf("argument %d empty", i)
				}
			}
		}
		if len(args) == 216 && (args[0] != "/usr/bin/m4" || args[1] != "--nesting-limit=1024") {
			t.Errorf("216 args: %q", args[:2])
		}
	}
	if !found[48] || !found[216] {
		t.Errorf("argument counts found: %v", found)
	}
}

// Every EXECVE event of the corpus reassembles without error, with argc
// arguments; hex-encoded arguments decode to strings that needed it.
func TestExecveArgsCorpus(t *testing.T) {
	lines := mustCorpusLines(t)
	type key struct {
		file   string
		serial uint64
	}
	events := map[key][][]Field{}
	var keys []key
	for _, l := range lines {
		fr, err := ParseLogLine(l.text)
		if err != nil || fr.Type != TypeExecve {
			continue
		}
		k := key{l.file, fr.Serial}
		if _, ok := events[k]; !ok {
			keys = append(keys, k)
		}
		events[k] = append(events[k], fr.Fields())
	}
	hexArgs := 0
	for _, k := range keys {
		recs := events[k]
		args, err := ExecveArgs(recs)
		if err != nil {
			t.Errorf("%s serial %d: %v", k.file, k.serial, err)
			continue
		}
		argc, _ := FindField(recs[0], "argc")
		if n, _ := parseDigits(argc.Value, MaxArgc); int(n) != len(args) {
			t.Errorf("%s serial %d: %d args for argc=%s", k.file, k.serial, len(args), argc.Value)
		}
		for _, rec := range recs {
			for _, fl := range rec {
				if kind, n, _ := ParseArgKey(fl.Key); kind == ArgWhole && !fl.Quoted {
					hexArgs++
					if !needsHex(args[n]) {
						t.Errorf("%s serial %d: a%d=%s decodes to %q, which the kernel would have quoted", k.file, k.serial, n, fl.Value, args[n])
					}
				}
			}
		}
	}
	if len(keys) < 50 || hexArgs == 0 {
		t.Errorf("%d events, %d hex arguments", len(keys), hexArgs)
	}
	t.Logf("%d execve events, %d hex-encoded arguments", len(keys), hexArgs)
}

// Arguments run through a simulation of the kernel's encoder come back.
func TestExecveArgsKernelSimulation(t *testing.T) {
	long := func(n int, c byte) string { return strings.Repeat(string(c), n) }
	argvs := [][]string{
		{"/bin/true"},
		{""},
		{"sh", "-c", "echo hello world", "", "x"},
		{"a\"b", "tab\there", "\x7f\xff", "é"},
		{"x", long(7400, 'a')},           // fits the buffer but not the record with the margin: a1_len= and one quoted piece
		{"x", long(7400, 'a') + " "},     // the same, hex
		{long(7499, 'b')},                // just below the buffer
		{long(7500, 'c')},                // exactly the buffer: forced hex, split
		{long(7501, 'd')},                // just above
		{long(20000, 'e') + " ", "tail"}, // three buffers
		{long(131071, 'f')},              // MAX_ARG_STRLEN - 1
		{"x", long(3000, 'g'), long(3000, 'h'), long(3000, 'i'), long(3000, 'j')},
	}
	many := make([]string, 3000)
	for i := range many {
		many[i] = "--option-" + strings.Repeat("z", i%40)
	}
	argvs = append(argvs, many)
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		argv := make([]string, 1+r.IntN(40))
		for i := range argv {
			n := r.IntN(64)
			switch r.IntN(10) {
			case 0:
				n = r.IntN(20000)
			case 1:
				n = 7400 + r.IntN(200)
			}
			b := make([]byte, n)
			for j := range b {
				if r.IntN(50) == 0 {
					b[j] = byte(1 + r.IntN(255)) // anything but NUL
				} else {
					b[j] = byte('a' + r.IntN(26))
				}
			}
			argv[i] = string(b)
		}
		argvs = append(argvs, argv)
	}
	split, quotedPieces := 0, 0
	for i, argv := range argvs {
		bodies := kernelExecveBodies(argv)
		if len(bodies) > 1 {
			split++
		}
		if strings.Contains(strings.Join(bodies, ""), `[1]="`) {
			quotedPieces++
		}
		for _, b := range bodies {
			if len(b) > 7600 {
				t.Fatalf("argv %d: record of %d bytes", i, len(b))
			}
		}
		got, err := ExecveArgs(execveRecords(bodies...))
		if err != nil {
			t.Errorf("argv %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, argv) {
			t.Errorf("argv %d: %d args back, want %d", i, len(got), len(argv))
		}
	}
	if split < 20 || quotedPieces == 0 {
		t.Errorf("only %d argvs needed several records, %d had quoted pieces", split, quotedPieces)
	}
}

func argErrorFor(t *testing.T, err error, index int, reason string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want argument %d: %s", index, reason)
	}
	if !strings.HasPrefix(err.Error(), "replay: ") {
		t.Errorf("error without prefix: %v", err)
	}
	var ae *ArgError
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		if errors.As(e, &ae) && ae.Index == index && strings.Contains(ae.Reason, reason) {
			return
		}
	}
	t.Errorf("error %q lacks argument %d: %s", err, index, reason)
}

func TestExecveArgsDamage(t *testing.T) {
	long := strings.Repeat("q", 9000)
	bodies := kernelExecveBodies([]string{"cmd", long, "end"})
	if len(bodies) < 2 {
		t.Fatal("expected a split argument")
	}

	// A lost continuation record: argument 1 is truncated, 2 missing.
	args, err := ExecveArgs(execveRecords(bodies[0]))
	argErrorFor(t, err, 1, "truncated")
	argErrorFor(t, err, 2, "missing")
	if len(args) != 3 || args[0] != "cmd" || !strings.HasPrefix(long, args[1]) || len(args[1]) == 0 || args[2] != "" {
		t.Errorf("partial args: %d %q", len(args), args[0])
	}

	// A lost middle piece.
	recs := execveRecords(`argc=2 a0="x" a1_len=12 a1[0]=4142`, ` a1[2]=4546`)
	args, err = ExecveArgs(recs)
	argErrorFor(t, err, 1, "piece 1 missing")
	argErrorFor(t, err, 1, "truncated: 8 of 12")
	_ = args

	// Missing a1_len.
	_, err = ExecveArgs(execveRecords(`argc=2 a0="x" a1[0]=41`))
	argErrorFor(t, err, 1, "without a1_len")

	// More than declared.
	_, err = ExecveArgs(execveRecords(`argc=1 a0_len=2 a0[0]=4142`))
	argErrorFor(t, err, 0, "more than a0_len=2")

	// A NUL inside a hex argument: kept up to it.
	args, err = ExecveArgs(execveRecords(`argc=2 a0="x" a1=41420043`))
	argErrorFor(t, err, 1, "NUL at byte 2")
	if args[1] != "AB" {
		t.Errorf("cut at NUL: %q", args[1])
	}

	// Not hex.
	args, err = ExecveArgs(execveRecords(`argc=1 a0=zz`))
	argErrorFor(t, err, 0, "neither quoted nor hex")
	if args[0] != "zz" {
		t.Errorf("raw kept: %q", args[0])
	}

	// Beyond argc, conflicts, duplicates.
	_, err = ExecveArgs(execveRecords(`argc=1 a0="x" a1="y"`))
	argErrorFor(t, err, 1, "beyond argc")
	_, err = ExecveArgs(execveRecords(`argc=1 a0="x"`, `argc=1 a0="y"`))
	argErrorFor(t, err, 0, "conflicting")
	args, err = ExecveArgs(execveRecords(`argc=2 a0="x" a1="y"`, `argc=2 a0="x" a1="y"`))
	if err != nil || !reflect.DeepEqual(args, []string{"x", "y"}) {
		t.Errorf("identical duplicates: %q %v", args, err)
	}

	// No argc: as many as seen, with an error.
	args, err = ExecveArgs(execveRecords(`a0="x" a2="z"`))
	if err == nil || len(args) != 3 || args[2] != "z" {
		t.Errorf("no argc: %q %v", args, err)
	}
	_, err = ExecveArgs(execveRecords(`argc=x`))
	if err == nil {
		t.Error("argc=x accepted")
	}
	args, err = ExecveArgs(execveRecords(`argc=99999999999 a0="x"`))
	if err == nil || len(args) != 1 {
		t.Errorf("huge argc: %d args, %v", len(args), err)
	}

	// Many missing arguments: the error stays short.
	args, err = ExecveArgs(execveRecords(`argc=1000`))
	if len(args) != 1000 || err == nil || !strings.Contains(err.Error(), "and 984 more") {
		t.Errorf("1000 missing: %d, %v", len(args), err)
	}
	if args, err := ExecveArgs(nil); err == nil || len(args) != 0 {
		t.Errorf("nil: %q %v", args, err)
	}
}

func TestDecodeProctitle(t *testing.T) {
	cases := []struct {
		in   Field
		want []string
	}{
		{qf("proctitle", "whoami"), []string{"whoami"}},
		{qf("proctitle", "sh -c x"), []string{"sh -c x"}}, // one argument: quoted, spaces and all
		{pf("proctitle", "2F62696E2F7368002D630065636686F2061"), nil},
		{pf("proctitle", "2F62696E2F7368002D6300656368"), []string{"/bin/sh", "-c", "ech"}},
		{pf("proctitle", "61000062"), []string{"a", "", "b"}},
		{pf("proctitle", "6100"), []string{"a"}},
		{pf("proctitle", "610000"), []string{"a", ""}},
		{pf("proctitle", "72756E6300696E6974"), []string{"runc", "init"}},
	}
	for _, c := range cases {
		got, err := DecodeProctitle(c.in)
		if c.want == nil {
			if err == nil {
				t.Errorf("%v: no error", c.in)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("DecodeProctitle(%+v) = %q, %v", c.in, got, err)
		}
	}
	if _, err := DecodeProctitle(pf("proctitle", "(null)")); err == nil {
		t.Error("(null) accepted")
	}
}

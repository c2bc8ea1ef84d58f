package auditlog

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/replay"
)

// repoRoot is the directory holding go.mod, found upward from the test's
// working directory (the package directory).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// corpusDir returns the public log corpus (../shared/corpus beside the
// repository, or $CTRACE_CORPUS), skipping the test when it is absent, as on
// a user's machine. Its files are read in place, never copied.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CTRACE_CORPUS")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), "..", "shared", "corpus")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Skipf("public audit log corpus not found at %s (set CTRACE_CORPUS to run the conformance tests)", dir)
	}
	return dir
}

// corpusLogs lists the corpus's .log and .txt files.
func corpusLogs(t *testing.T) []string {
	t.Helper()
	dir := corpusDir(t)
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".log") || strings.HasSuffix(p, ".txt")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("no .log or .txt files in %s", dir)
	}
	return files
}

// corpusSkips are the lines of the corpus that are not audit records.
var corpusSkips = map[string]int64{
	"auparse_testdata_audit-rhel7.log": 1, // type=UNKNOWN[1329] msg=? (AUDIT_REPLACE: a binary pid)
	"src_testdata_tree_README.txt":     3, // prose
}

// Every log of the corpus imports without error, loses no record, and
// dumps back to its own RAW lines.
func TestCorpusImport(t *testing.T) {
	for _, path := range corpusLogs(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			log, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ir := importFiles(t, filepath.Dir(path), nil, []string{name}, nil)
			in := ir.res.Inputs[0]
			if in.Skipped != corpusSkips[name] || in.Damaged != "" {
				t.Errorf("%d lines skipped, want %d: %v", in.Skipped, corpusSkips[name], ir.warnings)
			}
			want := rawLines(t, log)
			if int64(len(want)) != in.Records {
				t.Errorf("%d records imported, the file has %d", in.Records, len(want))
			}
			diffLines(t, "dump", auditLines(dumpCapture(t, ir.capture, DumpAudit)), want)
			// Serial gaps never cry wolf: a log that has every kernel
			// serial between its lowest and its highest (counted by code
			// that shares nothing with the tracker; the daemon's own
			// records do not count) loses nothing, and no log loses more
			// than it misses. (The corpus's excerpts, a few records of a
			// longer log or sessions with sshd's records taken out, miss
			// serials; a log across a reboot starts its serials again.)
			s := summarizeBytes(t, ir.capture)
			missing := missingSerials(t, want)
			if s.Lost != s.Losses.AuditSerialGaps || s.Lost > missing || (missing == 0 && s.Lost != 0) {
				t.Errorf("serial gaps %d, lost %d; the file misses %d kernel serials", s.Losses.AuditSerialGaps, s.Lost, missing)
			}
		})
	}
}

// summarizeBytes is replay.Summarize of a capture held in memory.
func summarizeBytes(t *testing.T, capture []byte) *replay.Summary {
	t.Helper()
	f := filepath.Join(t.TempDir(), "c.ctr")
	if err := os.WriteFile(f, capture, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := replay.Summarize(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// missingSerials counts the serials between the lowest and the highest of
// the kernel's records (not 1200-1299, the audit daemon's own) that no
// line has.
func missingSerials(t *testing.T, lines []string) int64 {
	t.Helper()
	seen := map[uint64]bool{}
	for _, l := range lines {
		typ, rest, ok := strings.Cut(strings.TrimPrefix(l, "type="), " msg=audit(")
		if !ok {
			continue
		}
		num, err := replay.TypeFromName(typ)
		if err != nil {
			t.Fatalf("record type %q: %v", typ, err)
		}
		if num >= 1200 && num <= 1299 {
			continue
		}
		stamp, _, _ := strings.Cut(rest, ")")
		_, serial, _ := strings.Cut(stamp, ":")
		n, err := strconv.ParseUint(serial, 10, 64)
		if err != nil {
			t.Fatalf("serial in %q", l)
		}
		seen[n] = true
	}
	if len(seen) == 0 {
		return 0
	}
	lo, hi := uint64(math.MaxUint64), uint64(0)
	for n := range seen {
		lo, hi = min(lo, n), max(hi, n)
	}
	return int64(hi-lo+1) - int64(len(seen))
}

func TestCorpusHeaders(t *testing.T) {
	dir := corpusDir(t)
	for file, machine := range map[string]string{
		"laurel/src_testdata_fork-sleep-exec.txt":            "aarch64",
		"laurel/src_testdata_record-bind-ipv4-bigendian.txt": "ppc64",
		"laurel/src_testdata_shell-proc-trace.txt":           "x86_64",
	} {
		ir := importFiles(t, dir, nil, []string{file}, nil)
		if ir.res.Header.Machine != machine {
			t.Errorf("%s: machine %q, want %q", file, ir.res.Header.Machine, machine)
		}
	}
	ir := importFiles(t, dir, nil, []string{"spade-unit-tests/unit_tests_tests_fork-1.bin.log"}, nil)
	if k := ir.res.Header.KernelRelease; k != "3.13.0-116-generic" {
		t.Errorf("kernel %q from DAEMON_START", k)
	}
	ir = importFiles(t, dir, nil, []string{"audit-userspace/auparse_test_test3.log"}, nil)
	if h := ir.res.Header.Hostname; h != "auditdtest.a1959.org" {
		t.Errorf("hostname %q from node=", h)
	}
}

// laurel's tree_00..16 are consecutive slices of one log: given in any
// order, they come out in their order, as a rotated set does.
func TestCorpusSlicesAsRotatedSet(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "laurel")
	var names []string
	var want []string
	for i := 0; i <= 16; i++ {
		name := "src_testdata_tree_" + twoDigits(i) + ".txt"
		log, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			t.Skipf("%s not in the corpus", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
		want = append(want, rawLines(t, log)...)
	}
	shuffled := slices.Clone(names)
	slices.Reverse(shuffled)
	shuffled[3], shuffled[11] = shuffled[11], shuffled[3]
	ir := importFiles(t, dir, nil, shuffled, nil)
	if !slices.Equal(ir.res.Header.ImportedFrom, prefixAll(dir+"/", names)) {
		t.Errorf("import order %v", ir.res.Header.ImportedFrom)
	}
	diffLines(t, "slices", auditLines(dumpCapture(t, ir.capture, DumpAudit)), want)
	// Followed across the files, the set loses what its files miss inside
	// them, and nothing at the cuts.
	s := summarizeBytes(t, ir.capture)
	var inside int64
	for _, name := range names {
		log, _ := os.ReadFile(filepath.Join(dir, name))
		inside += missingSerials(t, rawLines(t, log))
	}
	if s.Losses.AuditSerialGaps != inside {
		t.Errorf("serial gaps %d over the slices; their files miss %d kernel serials inside them", s.Losses.AuditSerialGaps, inside)
	}
}

func twoDigits(i int) string { return string([]byte{byte('0' + i/10), byte('0' + i%10)}) }

func prefixAll(p string, s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = p + x
	}
	return out
}

// Package testbin builds the ctrace command for the tests that run it as
// a program: once per test binary, into a temporary directory removed when
// the tests end.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Main builds cmd/ctrace (cmdDir: its directory relative to the test's
// package), sets *bin to the binary, runs the tests and exits with their
// status. A build failure fails the whole test binary with the compiler's
// output.
func Main(m *testing.M, cmdDir string, bin *string) {
	dir, err := os.MkdirTemp("", "ctrace-testbin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = filepath.Join(dir, "ctrace")
	out, err := exec.Command("go", "build", "-o", *bin, cmdDir).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building ctrace: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Unavailable skips the test for the reason given, or fails it when the
// environment variable CI is set: CI machines have what the tests need
// (.ci/run installs it), so there a missing tool is a failure.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set: failing instead of skipping)")
	}
	t.Skip(msg)
}

// Need calls Unavailable when one of the programs is not on the PATH.
func Need(t testing.TB, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			Unavailable(t, "%s is not installed", p)
		}
	}
}

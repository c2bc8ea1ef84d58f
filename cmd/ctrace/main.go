// Command ctrace records what processes do on a Linux host (kernel audit and
// the proc connector) into a capture file, and analyzes captures offline.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "0.1.0"

// exitError carries a specific exit status (a recorded command's) without a
// message.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:            "ctrace",
		Usage:           "record and analyze what processes did in Linux containers",
		Version:         version,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		Commands:        []*cli.Command{recordCommand(), infoCommand(), importCommand(), dumpCommand(), analyzeCommand(), timelineCommand(), reportCommand(), diffCommand(), exportCommand(), extractCommand()},
		ExitErrHandler:  func(*cli.Context, error) {},
	}
}

// run runs the CLI and returns the process exit status. It is the one place
// where errors become messages.
func run(args []string, stdout, stderr io.Writer) int {
	err := newApp(stdout, stderr).Run(args)
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if j, ok := stderr.(*journalWriter); ok {
		j.errorLine(fmt.Sprintf("ctrace: %v", err))
	} else {
		fmt.Fprintf(stderr, "ctrace: %v\n", err)
	}
	var ce cli.ExitCoder
	if errors.As(err, &ce) && ce.ExitCode() != 0 {
		return ce.ExitCode()
	}
	return 1
}

func main() {
	if journalStream(os.Stderr) {
		j := &journalWriter{w: os.Stderr}
		code := run(os.Args, os.Stdout, j)
		j.flush()
		os.Exit(code)
	}
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

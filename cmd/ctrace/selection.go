package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/ctrace/ctrace/analyze"
)

// selectionFlags are the flags that choose processes, shared by analyze and
// timeline.
func selectionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "pid", Usage: "only the subtree of the process(es) with pid `N`"},
		&cli.StringFlag{Name: "container", Usage: "only the container whose id starts with `ID`"},
		&cli.StringSliceFlag{Name: "path", Usage: "keep the processes that touched a path matching `GLOB` (** crosses directories; without /, the base name), with their ancestors; repeatable"},
		&cli.StringSliceFlag{Name: "exe", Usage: "keep the processes that ran a program matching `GLOB` (without /, the base name), with their ancestors; repeatable"},
	}
}

// selectionOf reads the selection flags of the command named cmd.
func selectionOf(c *cli.Context, cmd string) (analyze.Selection, error) {
	if c.IsSet("pid") && c.Int("pid") <= 0 {
		return analyze.Selection{}, fmt.Errorf("%s: --pid must be a positive pid, not %d", cmd, c.Int("pid"))
	}
	if c.IsSet("container") && c.String("container") == "" {
		return analyze.Selection{}, fmt.Errorf("%s: --container needs a container id (or a prefix of one)", cmd)
	}
	return analyze.Selection{PID: c.Int("pid"), Container: c.String("container"), Paths: c.StringSlice("path"), Exes: c.StringSlice("exe")}, nil
}

// readOptions are how the analyzing commands read a capture: the
// environment variable CTRACE_ANALYZE_WORKERS sets the number of parsing
// goroutines (1: the calling goroutine alone; the reports are the same).
func readOptions() analyze.ReadOptions {
	var o analyze.ReadOptions
	if v := os.Getenv("CTRACE_ANALYZE_WORKERS"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 1 {
			o.Workers = n
		}
	}
	return o
}

// analyzeSelected analyzes the command's recording, prints the analysis's
// warnings, and applies the selection.
func analyzeSelected(c *cli.Context, cmd string, rec *recording, s analyze.Selection) (*analyze.Analysis, *analyze.Selected, error) {
	a, err := rec.analyze()
	if err != nil {
		return nil, nil, err
	}
	for _, w := range a.Warnings() {
		fmt.Fprintf(c.App.ErrWriter, "ctrace: warning: %s\n", w)
	}
	sel, err := a.Select(s)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", cmd, err)
	}
	return a, sel, nil
}

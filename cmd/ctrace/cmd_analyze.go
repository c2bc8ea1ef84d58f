package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/ctrace/ctrace/analyze"
)

func analyzeCommand() *cli.Command {
	return &cli.Command{
		Name:      "analyze",
		Usage:     "build the process tree of a capture: processes, threads, execs, exits and the files they wrote",
		ArgsUsage: "FILE",
		Description: "Replays the capture offline into a process model and reports it as a text tree (default)\n" +
			"or as JSON (schema: analyze/SCHEMA.md). Losses and truncation are always reported; a\n" +
			"truncated capture is analyzed up to the cut, with a warning.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Usage: "text or json", Value: "text"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the report to `FILE` (mode 0600) instead of stdout"},
			&cli.IntFlag{Name: "pid", Usage: "show only the subtree of the process(es) with pid `N`"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("analyze: expected one capture file, got %d arguments", c.NArg())
			}
			if c.IsSet("pid") && c.Int("pid") <= 0 {
				return fmt.Errorf("analyze: --pid must be a positive pid, not %d", c.Int("pid"))
			}
			o := analyze.Options{Format: c.String("format"), PID: c.Int("pid"), Output: c.String("output")}
			return analyze.Run(c.Args().First(), o, c.App.Writer, c.App.ErrWriter)
		},
	}
}

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
			"truncated capture is analyzed up to the cut, with a warning. Containers (docker,\n" +
			"containerd, podman, CRI-O, runc, crun) are found from the audit records and the /proc\n" +
			"snapshot; the text report shows each container's tree, then the host's. The text report is a\n" +
			"summary by default (--files summary: files folded by directory, a container's runtime setup and\n" +
			"runtime processes one line each); --files all lists every file, --files none the trees alone.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "format", Usage: "text or json", Value: "text"},
			&cli.StringFlag{Name: "files", Usage: "text: `summary` (files folded by directory, each container's runtime setup one line), all (every file) or none (the trees alone)", Value: "summary"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the report to `FILE` (mode 0600) instead of stdout"},
		}, selectionFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("analyze: expected one capture file, got %d arguments", c.NArg())
			}
			s, err := selectionOf(c, "analyze")
			if err != nil {
				return err
			}
			o := analyze.Options{Format: c.String("format"), Files: c.String("files"), PID: s.PID, Container: s.Container,
				Output: c.String("output"), Paths: s.Paths, Exes: s.Exes, Read: readOptions()}
			return analyze.Run(c.Args().First(), o, c.App.Writer, c.App.ErrWriter)
		},
	}
}

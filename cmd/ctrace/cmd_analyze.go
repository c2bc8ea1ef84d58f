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
			"snapshot; the text report shows each container's tree, then the host's.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Usage: "text or json", Value: "text"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the report to `FILE` (mode 0600) instead of stdout"},
			&cli.IntFlag{Name: "pid", Usage: "show only the subtree of the process(es) with pid `N`"},
			&cli.StringFlag{Name: "container", Usage: "show only the container whose id starts with `ID`"},
			&cli.StringSliceFlag{Name: "path", Usage: "keep the processes that touched a path matching `GLOB` (** crosses directories; without /, the base name), with their ancestors; repeatable"},
			&cli.StringSliceFlag{Name: "exe", Usage: "keep the processes that ran a program matching `GLOB` (without /, the base name), with their ancestors; repeatable"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("analyze: expected one capture file, got %d arguments", c.NArg())
			}
			if c.IsSet("pid") && c.Int("pid") <= 0 {
				return fmt.Errorf("analyze: --pid must be a positive pid, not %d", c.Int("pid"))
			}
			if c.IsSet("container") && c.String("container") == "" {
				return fmt.Errorf("analyze: --container needs a container id (or a prefix of one)")
			}
			o := analyze.Options{Format: c.String("format"), PID: c.Int("pid"), Container: c.String("container"), Output: c.String("output"),
				Paths: c.StringSlice("path"), Exes: c.StringSlice("exe")}
			return analyze.Run(c.Args().First(), o, c.App.Writer, c.App.ErrWriter)
		},
	}
}

package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ctrace/ctrace/report"
)

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "write one self-contained HTML page of a capture: header, timeline, process tree, containers, search",
		ArgsUsage: captureArgsUsage,
		Description: "Writes one HTML file that opens from a local file in a current browser, with no network\n" +
			"access: the capture's header (losses shown as a warning), every process as a bar on a shared\n" +
			"time axis (zoom with ctrl+wheel, pan by dragging), the process tree (collapsible; a process's\n" +
			"argv, execs, user, exit, container, files and ancestors on click), the containers, and a\n" +
			"search by path, program or pid (also from the address: report.html#q=/etc/passwd). The\n" +
			"selection flags are analyze's. Several captures of a capture set, or its directory, are one\n" +
			"recording; --since/--until then read only the captures that hold the window.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the page to `FILE` (mode 0600) instead of stdout"},
		}, append(selectionFlags(), setWindowFlags()...)...),
		Action: func(c *cli.Context) error {
			rec, err := setRecordingOf(c, "report")
			if err != nil {
				return err
			}
			s, err := selectionOf(c, "report")
			if err != nil {
				return err
			}
			a, sel, err := analyzeSelected(c, "report", rec, s)
			if err != nil {
				return err
			}
			var b bytes.Buffer
			if err := report.Write(&b, a, sel, report.Options{Selection: s.Text(), Source: rec.source()}); err != nil {
				return err
			}
			if c.String("output") == "" {
				_, err := c.App.Writer.Write(b.Bytes())
				return err
			}
			if err := os.WriteFile(c.String("output"), b.Bytes(), 0o600); err != nil {
				return fmt.Errorf("report: %w", err)
			}
			return nil
		},
	}
}

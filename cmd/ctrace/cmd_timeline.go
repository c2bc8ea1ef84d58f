package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/timeline"
)

func timelineCommand() *cli.Command {
	return &cli.Command{
		Name:      "timeline",
		Usage:     "list what happened in a capture in time order, one fact per line",
		ArgsUsage: captureArgsUsage,
		Description: "Replays the capture into the same model as analyze and lists its facts in time order:\n" +
			"process starts (with the parent), execs, exits, file operations, network calls, signals,\n" +
			"credential changes, ptrace attaches, container starts and ends, and audit serial gaps\n" +
			"where they happened. --format jsonl writes one JSON object per line (timeline/SCHEMA.md).\n" +
			"The selection flags are analyze's; --since and --until take an RFC 3339 time or an\n" +
			"offset from the capture's start (2s, +1m30s). Several captures of a capture set, or its\n" +
			"directory, are one recording: --since/--until then also pick the captures to read.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "format", Usage: "text or jsonl", Value: "text"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` (mode 0600) instead of stdout"},
			&cli.StringFlag{Name: "since", Usage: "from `TIME` (RFC 3339, or an offset from the start: 2s)"},
			&cli.StringFlag{Name: "until", Usage: "up to `TIME` (inclusive)"},
		}, selectionFlags()...),
		Action: func(c *cli.Context) error {
			rec, err := recordingOf(c, "timeline")
			if err != nil {
				return err
			}
			format := c.String("format")
			if format != "text" && format != "jsonl" {
				return fmt.Errorf("timeline: --format must be text or jsonl, not %q", format)
			}
			s, err := selectionOf(c, "timeline")
			if err != nil {
				return err
			}
			a, sel, err := analyzeSelected(c, "timeline", rec, s)
			if err != nil {
				return err
			}
			var win timeline.Window
			if rec.set() {
				win.Since, win.Until = rec.window.Since, rec.window.Until
			} else {
				win.Since, _ = analyze.ParseTime(c.String("since"), a.Capture.Start)
				win.Until, _ = analyze.ParseTime(c.String("until"), a.Capture.Start)
			}
			if win.Since != 0 && win.Until != 0 && win.Until < win.Since {
				return fmt.Errorf("timeline: --until is before --since")
			}
			h := timeline.Header{Capture: &a.Capture, Selection: s.Text(), Window: win}
			events := timeline.Events(a, sel, win)
			var b bytes.Buffer
			out := io.Writer(&b)
			if c.String("output") == "" {
				out = c.App.Writer
			}
			if format == "jsonl" {
				err = timeline.WriteJSONL(out, h, events)
			} else {
				err = timeline.WriteText(out, h, events)
			}
			if err != nil || c.String("output") == "" {
				return err
			}
			if err := os.WriteFile(c.String("output"), b.Bytes(), 0o600); err != nil {
				return fmt.Errorf("timeline: %w", err)
			}
			return nil
		},
	}
}

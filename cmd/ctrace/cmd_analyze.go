package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ctrace/ctrace/analyze"
)

func analyzeCommand() *cli.Command {
	return &cli.Command{
		Name:      "analyze",
		Usage:     "build the process tree of a capture: processes, threads, execs, exits and the files they wrote",
		ArgsUsage: captureArgsUsage,
		Description: "Replays the capture offline into a process model and reports it as a text tree (default)\n" +
			"or as JSON (schema: analyze/SCHEMA.md). Losses and truncation are always reported; a\n" +
			"truncated capture is analyzed up to the cut, with a warning. Containers (docker,\n" +
			"containerd, podman, CRI-O, runc, crun) are found from the audit records and the /proc\n" +
			"snapshot; the text report shows each container's tree, then the host's. The text report is a\n" +
			"summary by default (--files summary: files folded by directory, a container's runtime setup and\n" +
			"runtime processes one line each); --files all lists every file, --files none the trees alone.\n" +
			"Several captures of a capture set (record --rotate), or its directory, are analyzed as one\n" +
			"recording; --since/--until then read only the captures that hold the window.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "format", Usage: "text or json", Value: "text"},
			&cli.StringFlag{Name: "files", Usage: "text: `summary` (files folded by directory, each container's runtime setup one line), all (every file) or none (the trees alone)", Value: "summary"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the report to `FILE` (mode 0600) instead of stdout"},
		}, append(selectionFlags(), setWindowFlags()...)...),
		Action: func(c *cli.Context) error {
			rec, err := setRecordingOf(c, "analyze")
			if err != nil {
				return err
			}
			s, err := selectionOf(c, "analyze")
			if err != nil {
				return err
			}
			o := analyze.Options{Format: c.String("format"), Files: c.String("files"), PID: s.PID, Container: s.Container,
				Paths: s.Paths, Exes: s.Exes}
			return runAnalyze(rec, o, c.String("output"), c.App.Writer, c.App.ErrWriter)
		},
	}
}

// runAnalyze analyzes the recording and writes the report: the
// warnings (Analysis.Warnings) to stderr, the report to stdout or to output
// (mode 0600: it holds command lines and paths). A truncated capture is not
// an error.
func runAnalyze(rec *recording, o analyze.Options, output string, stdout, stderr io.Writer) error {
	if o.Format != "text" && o.Format != "json" {
		return fmt.Errorf("analyze: --format must be text or json, not %q", o.Format)
	}
	switch o.Files {
	case analyze.FilesSummary, analyze.FilesAll, analyze.FilesNone:
	default:
		return fmt.Errorf("analyze: --files must be summary, all or none, not %q", o.Files)
	}
	if o.PID > 0 && o.Container != "" && len(o.Paths) == 0 && len(o.Exes) == 0 {
		return errors.New("analyze: --pid and --container cannot be used together (but each with --path or --exe)")
	}
	a, err := rec.analyze()
	if err != nil {
		return err
	}
	for _, w := range a.Warnings() {
		fmt.Fprintf(stderr, "ctrace: warning: %s\n", w)
	}
	var b bytes.Buffer
	if err := a.Write(&b, o); err != nil {
		return err
	}
	if output == "" {
		_, err := stdout.Write(b.Bytes())
		return err
	}
	if err := os.WriteFile(output, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/diff"
)

func diffCommand() *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "what changed in behaviour between two recordings of the same job",
		ArgsUsage: "BASE NEW",
		Description: "Compares behaviour, not pids or times: the programs executed (exe and argv), the files\n" +
			"written, how programs ended, the containers (their init's command), network calls and\n" +
			"credential changes, after normalising what changes on every run (--explain lists the\n" +
			"rules). Prints what is new in NEW, gone from BASE and changed, each with the process chain\n" +
			"that did it, grouped by container. A capture of `record -- COMMAND` is compared by the\n" +
			"command's job (its processes, the containers and exec sessions they started) unless --all.\n" +
			"Exit status as diff(1): 0 when nothing differs beyond\n" +
			"--ignore, 1 when something does, 2 on error.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Usage: "text or json", Value: "text"},
			&cli.StringFlag{Name: "ignore", Usage: "leave out the paths and programs matching the globs of `FILE` (one a line; 'path GLOB', 'exe GLOB' or a bare GLOB for both; # comments)"},
			&cli.BoolFlag{Name: "explain", Usage: "print the normalisation rules and exit"},
			&cli.BoolFlag{Name: "all", Usage: "compare every process of the captures (default for `record -- COMMAND` captures: the command's job: its processes and the containers and exec sessions they started)"},
		},
		OnUsageError: func(c *cli.Context, err error, _ bool) error { return cli.Exit("diff: "+err.Error(), 2) },
		Action: func(c *cli.Context) error {
			if c.Bool("explain") {
				return diff.Explain(c.App.Writer)
			}
			fail := func(err error) error { return cli.Exit("diff: "+err.Error(), 2) }
			if c.NArg() != 2 {
				return fail(fmt.Errorf("expected two captures (BASE NEW), got %d arguments", c.NArg()))
			}
			format := c.String("format")
			if format != "text" && format != "json" {
				return fail(fmt.Errorf("--format must be text or json, not %q", format))
			}
			var ig *diff.Ignore
			if f := c.String("ignore"); f != "" {
				text, err := os.ReadFile(f)
				if err != nil {
					return fail(err)
				}
				if ig, err = diff.ParseIgnore(string(text)); err != nil {
					return fail(fmt.Errorf("--ignore %s: %w", f, err))
				}
			}
			var facts [2][]*diff.Fact
			for i, path := range c.Args().Slice() {
				a, err := analyze.AnalyzeFileWith(path, readOptions())
				if err != nil {
					return fail(err)
				}
				for _, w := range a.Warnings() {
					fmt.Fprintf(c.App.ErrWriter, "ctrace: warning: %s: %s\n", path, w)
				}
				var scope map[*analyze.Process]bool
				if !c.Bool("all") {
					scope = diff.Scope(a)
				}
				facts[i] = diff.Facts(a, scope, ig)
			}
			r := &diff.Report{Base: c.Args().Get(0), New: c.Args().Get(1), Entries: diff.Compare(facts[0], facts[1])}
			var b bytes.Buffer
			var err error
			if format == "json" {
				err = r.WriteJSON(&b)
			} else {
				err = r.WriteText(&b)
			}
			if err != nil {
				return fail(err)
			}
			if _, err := c.App.Writer.Write(b.Bytes()); err != nil {
				return fail(err)
			}
			if len(r.Entries) > 0 {
				return exitError{1}
			}
			return nil
		},
	}
}

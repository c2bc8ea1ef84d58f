package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/extract"
)

// repeated is a string flag that may be given several times, each value
// kept whole (cli's StringSliceFlag would split a pattern at its commas).
type repeated struct{ values []string }

func (r *repeated) Set(v string) error { r.values = append(r.values, v); return nil }

// String never shows the values: --redact patterns may be secrets.
func (r *repeated) String() string {
	if r == nil || len(r.values) == 0 {
		return ""
	}
	return fmt.Sprintf("%d values", len(r.values))
}

func extractCommand() *cli.Command {
	return &cli.Command{
		Name:      "extract",
		Usage:     "cut a capture down to some processes, with redaction, to attach it to a bug report",
		ArgsUsage: captureArgsUsage,
		Description: "Writes the frames of FILE that concern the selected processes, byte for byte, to a new\n" +
			"capture (-o, mode 0600): their audit events (every record of an event), proc connector\n" +
			"events and /proc snapshot entries, and all the recorder's notes. Selectors add up; the\n" +
			"time window narrows them; at least one is needed. The ancestors of the selected processes\n" +
			"(and the init of a selected process's container) are kept as bare entries: snapshot leader\n" +
			"record, creation, execs, root and namespace changes, exit; so the tree keeps its root. The\n" +
			"header says it is an extract, from which file, with which selection and redaction (never\n" +
			"the patterns), and keeps the original recording's losses (original_losses), so that the\n" +
			"gaps the extraction leaves are not counted as lost. `ctrace analyze OUT` then shows what\n" +
			"`ctrace analyze --pid N FILE` shows. Details: package extract (extract/doc.go).\n\n" +
			"Redaction rewrites the frames that hold the text (the netlink lengths follow):\n" +
			"--redact REGEX replaces matches in arguments, paths, working directories, process titles\n" +
			"and command names with [redacted], hex-encoded values included; --redact-env drops the\n" +
			"values of environment assignments in arguments (env, sudo, docker -e, systemd-run -E,\n" +
			"sh -c; the kernel records no environment otherwise); --hash-paths replaces each path\n" +
			"component under /home/* and /root with a stable short hash (#1a2b3c4d).\n\n" +
			"Several captures of a capture set (record --rotate), or its directory, are read as one\n" +
			"recording, and --since/--until then read only the captures that hold the window; the\n" +
			"extract is one capture file.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the extract to `OUT.ctr`", Required: true},
			&cli.IntSliceFlag{Name: "pid", Usage: "process `N` (every process that had the pid) and its descendants; repeatable"},
			&cli.BoolFlag{Name: "command", Usage: "the command of a 'record -- COMMAND' capture and its descendants"},
			&cli.GenericFlag{Name: "container", Value: &repeated{}, Usage: "the container whose id starts with `ID`: its processes, exec sessions, runtime processes and the clients that started them; repeatable"},
			&cli.StringFlag{Name: "since", Usage: "keep what happened from `TIME` on: RFC 3339, or an offset from the start (2s, +1m30s)"},
			&cli.StringFlag{Name: "until", Usage: "keep what happened up to `TIME` (as --since)"},
			&cli.GenericFlag{Name: "redact", Value: &repeated{}, Usage: "replace text matching `REGEX` (Go syntax) with [redacted]; repeatable"},
			&cli.BoolFlag{Name: "redact-env", Usage: "drop environment values from arguments"},
			&cli.BoolFlag{Name: "hash-paths", Usage: "hash each path component under /home/* and /root"},
			&cli.BoolFlag{Name: "redact-host", Usage: "replace the host name, drop the boot id and kernel build string"},
			&cli.BoolFlag{Name: "no-ancestors", Usage: "leave out the ancestors of the selected processes (kept as bare entries otherwise)"},
		},
		Action: func(c *cli.Context) error {
			rec, err := recordingOf(c, "extract")
			if err != nil {
				return err
			}
			o := extract.Options{
				PIDs:       c.IntSlice("pid"),
				Command:    c.Bool("command"),
				Containers: c.Generic("container").(*repeated).values,
				Since:      c.String("since"),
				Until:      c.String("until"),
				Redact:     c.Generic("redact").(*repeated).values,
				RedactEnv:  c.Bool("redact-env"),
				HashPaths:  c.Bool("hash-paths"),
				RedactHost: c.Bool("redact-host"), NoAncestors: c.Bool("no-ancestors"),
			}
			if err := checkExtractFlags(o); err != nil {
				return err
			}
			if rec.set() {
				// The window in absolute times: offsets count from the
				// earliest capture given, not from the first one read.
				o.Since, o.Until = rfc3339(rec.window.Since), rfc3339(rec.window.Until)
			}
			res, err := extract.Files(rec.args, rec.window, c.String("output"), o)
			if err != nil {
				if errors.Is(err, extract.ErrNoSuchPID) || errors.Is(err, extract.ErrEmpty) {
					return cli.Exit(err.Error(), 1)
				}
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(c.App.ErrWriter, "ctrace: warning: %s\n", w)
			}
			var kept, read int64
			for _, n := range res.Kept {
				kept += n
			}
			for _, n := range res.Read {
				read += n
			}
			msg := fmt.Sprintf("ctrace: extract: kept %d of %d records (%d processes selected, %d bare entries)",
				kept, read, res.Selected, res.Bare)
			if len(res.Header.Redaction) > 0 {
				msg += fmt.Sprintf("; %d records redacted (%s)", res.Rewritten, strings.Join(res.Header.Redaction, ", "))
			}
			fmt.Fprintln(c.App.ErrWriter, msg)
			return nil
		},
	}
}

// checkExtractFlags says what is wrong with extract's flags, by their names
// (the library checks the same options again, by its own names).
func checkExtractFlags(o extract.Options) error {
	if len(o.PIDs) == 0 && !o.Command && len(o.Containers) == 0 && o.Since == "" && o.Until == "" {
		return errors.New("extract: give at least one of --pid, --command, --container, --since, --until")
	}
	for _, p := range o.PIDs {
		if p <= 0 {
			return fmt.Errorf("extract: --pid must be a positive pid, not %d", p)
		}
	}
	for _, c := range o.Containers {
		if c == "" {
			return errors.New("extract: --container needs an id (a prefix is enough)")
		}
	}
	for _, f := range []struct{ name, v string }{{"since", o.Since}, {"until", o.Until}} {
		if _, err := analyze.ParseTime(f.v, 0); err != nil {
			return fmt.Errorf("extract: --%s: %w", f.name, err)
		}
	}
	return nil
}

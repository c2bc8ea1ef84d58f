package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/ctrace/ctrace/auditlog"
)

func dumpCommand() *cli.Command {
	return &cli.Command{
		Name:      "dump",
		Usage:     "write a capture as text: audit records as auditd log lines (for ausearch -if, aureport -if), the rest in ctrace's line forms",
		ArgsUsage: "FILE",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "source", Usage: "records to write: audit, proc, snapshot, note or all (comma-separated)", Value: "all"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("dump: expected one capture file, got %d arguments", c.NArg())
			}
			return runDump(c.Args().First(), c.String("source"), c.App.Writer, c.App.ErrWriter)
		},
	}
}

func runDump(path, source string, stdout, stderr io.Writer) error {
	sources, err := auditlog.ParseSources(source)
	if err != nil {
		return fmt.Errorf("dump: --source: %w", err)
	}
	st, err := auditlog.DumpFile(stdout, path, sources)
	if err != nil {
		return err
	}
	for _, p := range st.Problems {
		fmt.Fprintf(stderr, "ctrace: warning: %s\n", p)
	}
	if st.Truncated {
		fmt.Fprintf(stderr, "ctrace: warning: %s is truncated at offset %d (the recorder did not close it): everything before is dumped\n", path, st.TruncatedAt)
	}
	return nil
}

package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/export"
	"github.com/ctrace/ctrace/format"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write captures as tables that DuckDB, ClickHouse and Spark read (Parquet or JSON Lines)",
		ArgsUsage: "CAPTURE|SET-DIRECTORY...",
		Description: "Writes the tables processes, execs, files, containers and connections of each capture,\n" +
			"one row per fact, laid out Hive-style: DIR/<table>/host=<host>/date=<YYYY-MM-DD>/<capture>.<ext>,\n" +
			"so that the exports of many hosts are one dataset. Columns: export/SCHEMA.md. The directory of a\n" +
			"capture set (record --rotate) is exported as one recording, under the set's id.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Usage: "parquet or jsonl", Value: "parquet"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "the dataset's `DIR`", Required: true},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return fmt.Errorf("export: expected one capture or more")
			}
			f := c.String("format")
			if f != export.Parquet && f != export.JSONL {
				return fmt.Errorf("export: --format must be parquet or jsonl, not %q", f)
			}
			total := map[string]int{}
			for _, path := range c.Args().Slice() {
				id, err := export.CaptureID(path)
				if err != nil {
					return err
				}
				a, err := analyze.AnalyzeCaptures([]string{path}, format.Window{}, readOptions())
				if err != nil {
					return err
				}
				for _, w := range a.Warnings() {
					fmt.Fprintf(c.App.ErrWriter, "ctrace: warning: %s: %s\n", path, w)
				}
				res, err := export.Write(c.String("output"), f, id, a)
				if err != nil {
					return err
				}
				for t, n := range res.Rows {
					total[t] += n
				}
			}
			var parts []string
			for t, n := range total {
				parts = append(parts, fmt.Sprintf("%s %d", t, n))
			}
			sort.Strings(parts)
			fmt.Fprintf(c.App.ErrWriter, "ctrace: export: %d captures into %s: %s rows\n", c.NArg(), c.String("output"), strings.Join(parts, ", "))
			return nil
		},
	}
}

package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/ctrace/ctrace/auditlog"
)

// importOptions are the parsed flags of `ctrace import`.
type importOptions struct {
	output string
	force  bool
	inputs []string
}

func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "convert auditd logs (RAW or ENRICHED, plain or compressed, a rotated set in any order) into a capture file",
		ArgsUsage: "LOG... (- reads stdin)",
		Description: "Each audit record becomes an audit record of the capture, as the kernel sent it. Inputs are ordered by\n" +
			"their first record; each keeps its own order. Lines that are not audit records are reported, skipped and\n" +
			"counted in the capture (ctrace info).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "capture `FILE` to write (mode 0600)", Required: true},
			&cli.BoolFlag{Name: "force", Usage: "overwrite an existing output file"},
		},
		Action: func(c *cli.Context) error {
			o := importOptions{output: c.String("output"), force: c.Bool("force"), inputs: c.Args().Slice()}
			return runImport(o, c.App.Reader, c.App.ErrWriter)
		},
	}
}

// runImport imports o.inputs into o.output; problems that do not stop the
// import and the closing summary go to stderr.
func runImport(o importOptions, stdin io.Reader, stderr io.Writer) error {
	if len(o.inputs) == 0 {
		return errors.New("import: no log file given (use - for stdin)")
	}
	if o.output == "-" {
		return errors.New("import: the capture must be a file, not stdout")
	}
	res, err := auditlog.ImportFile(o.output, o.force, o.inputs, auditlog.ImportOptions{
		Stdin:         stdin,
		Warn:          func(err error) { fmt.Fprintf(stderr, "ctrace: %v\n", err) },
		CtraceVersion: version,
	})
	if errors.Is(err, auditlog.ErrExists) {
		return fmt.Errorf("import: %s exists (--force overwrites it)", o.output)
	}
	if err != nil {
		return err
	}
	var comments int64
	for _, in := range res.Inputs {
		comments += in.Comments
	}
	fmt.Fprintf(stderr, "ctrace: imported %d audit records from %d file(s) into %s", res.Records, len(res.Inputs), o.output)
	if res.Skipped > 0 {
		fmt.Fprintf(stderr, "; %d line(s) skipped", res.Skipped)
	}
	if comments > 0 {
		fmt.Fprintf(stderr, "; %d comment line(s) ignored", comments)
	}
	fmt.Fprintln(stderr)
	return nil
}

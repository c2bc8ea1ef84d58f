package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// recordOptions are the parsed flags of `ctrace record`.
type recordOptions struct {
	output        string
	force         bool
	noAudit       bool
	noProc        bool
	noSnapshot    bool
	rulesFile     string
	printRules    bool
	backlogLimit  uint32
	queueCap      int64
	segmentBytes  int64
	segmentAge    time.Duration
	duration      time.Duration
	receiveBuffer int64
	command       []string
}

func recordCommand() *cli.Command {
	return &cli.Command{
		Name:      "record",
		Usage:     "record audit and proc-connector frames into a capture file",
		ArgsUsage: "[-- COMMAND ARGS...]",
		Description: "Records until SIGINT/SIGTERM or --duration; with a command, runs it and stops when it exits,\n" +
			"exiting with its status. Needs root. The kernel's audit state is restored when recording stops.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "capture file to write (mode 0600)", Value: "session.ctr"},
			&cli.BoolFlag{Name: "force", Usage: "overwrite an existing output file"},
			&cli.BoolFlag{Name: "no-audit", Usage: "do not record kernel audit"},
			&cli.BoolFlag{Name: "no-proc", Usage: "do not record the proc connector"},
			&cli.BoolFlag{Name: "no-snapshot", Usage: "do not snapshot /proc at start"},
			&cli.StringFlag{Name: "rules", Usage: "auditctl-style rules `FILE` to use instead of the default set"},
			&cli.BoolFlag{Name: "print-rules", Usage: "print the audit rules that would be loaded, and exit"},
			&cli.UintFlag{Name: "backlog-limit", Usage: "kernel audit backlog limit while recording", Value: 8192},
			&cli.StringFlag{Name: "queue-cap", Usage: "memory for frames waiting to be written; past it frames are counted as dropped", Value: "256MiB"},
			&cli.StringFlag{Name: "segment-size", Usage: "uncompressed size at which a segment closes", Value: "8MiB"},
			&cli.DurationFlag{Name: "segment-age", Usage: "age at which a segment closes", Value: time.Minute},
			&cli.DurationFlag{Name: "duration", Usage: "stop after this long (0: until a signal or the command exits)"},
			&cli.StringFlag{Name: "receive-buffer", Usage: "socket receive buffer (at least 8MiB)", Value: "8MiB"},
		},
		Action: func(c *cli.Context) error {
			o := recordOptions{
				output:       c.String("output"),
				force:        c.Bool("force"),
				noAudit:      c.Bool("no-audit"),
				noProc:       c.Bool("no-proc"),
				noSnapshot:   c.Bool("no-snapshot"),
				rulesFile:    c.String("rules"),
				printRules:   c.Bool("print-rules"),
				backlogLimit: uint32(c.Uint("backlog-limit")),
				segmentAge:   c.Duration("segment-age"),
				duration:     c.Duration("duration"),
				command:      c.Args().Slice(),
			}
			var err error
			if o.queueCap, err = parseSize(c.String("queue-cap")); err != nil {
				return fmt.Errorf("--queue-cap: %w", err)
			}
			if o.segmentBytes, err = parseSize(c.String("segment-size")); err != nil {
				return fmt.Errorf("--segment-size: %w", err)
			}
			if o.receiveBuffer, err = parseSize(c.String("receive-buffer")); err != nil {
				return fmt.Errorf("--receive-buffer: %w", err)
			}
			return runRecord(c, o)
		},
	}
}

// parseSize reads sizes like 256MiB, 8M, 1GiB, 4096.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1e6}, {"GB", 1e9},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q (examples: 256MiB, 8M, 4096)", s)
	}
	return int64(n * float64(mult)), nil
}

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

	// --rotate SIZE|DURATION, --keep N|SIZE
	rotateBytes int64
	rotateEvery time.Duration
	keepFiles   int
	keepBytes   int64
}

func recordCommand() *cli.Command {
	return &cli.Command{
		Name:      "record",
		Usage:     "record audit and proc-connector frames into a capture file",
		ArgsUsage: "[-- COMMAND ARGS...]",
		Description: "Records until SIGINT/SIGTERM or --duration; with a command, runs it and stops when it exits,\n" +
			"exiting with its status. Needs root. The kernel's audit state is restored when recording stops.\n\n" +
			"With --rotate, -o is a directory that receives a capture set: capture-000001.ctr, capture-000002.ctr, ...,\n" +
			"each complete on its own; a new one begins at the --rotate size or age and on SIGHUP, and the oldest\n" +
			"are removed past --keep. analyze, timeline, info, extract and report read the directory as one recording.\n" +
			"Without --rotate, SIGHUP stops the recording as SIGTERM does.",
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
			&cli.StringFlag{Name: "rotate", Usage: "write a capture set into the -o directory, starting a new capture at this `SIZE|DURATION` on disk (512MiB) or of age (1h), or both (256MiB,1h)"},
			&cli.StringFlag{Name: "keep", Usage: "with --rotate, remove the oldest captures of the directory past `N|SIZE` (24 captures, or 10GiB in all)"},
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
			if v := c.String("rotate"); v != "" {
				if o.rotateBytes, o.rotateEvery, err = parseRotate(v); err != nil {
					return fmt.Errorf("--rotate: %w", err)
				}
				if !c.IsSet("output") {
					return fmt.Errorf("--rotate needs -o DIR, the directory of the capture set")
				}
			}
			if v := c.String("keep"); v != "" {
				if c.String("rotate") == "" {
					return fmt.Errorf("--keep needs --rotate")
				}
				if o.keepFiles, o.keepBytes, err = parseKeep(v); err != nil {
					return fmt.Errorf("--keep: %w", err)
				}
			}
			return runRecord(c, o)
		},
	}
}

// parseRotate reads --rotate: a size (512MiB), a duration (90s, 15m, 1h),
// or both separated by a comma (256MiB,1h: whichever comes first).
func parseRotate(s string) (size int64, every time.Duration, err error) {
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		if d, err := time.ParseDuration(v); err == nil {
			if d < time.Second {
				return 0, 0, fmt.Errorf("a rotation every %s is too often (at least 1s)", d)
			}
			if every != 0 {
				return 0, 0, fmt.Errorf("%q gives two durations", s)
			}
			every = d
			continue
		}
		n, err := parseSize(v)
		if err != nil {
			return 0, 0, fmt.Errorf("%q is neither a size (512MiB) nor a duration (1h)", v)
		}
		if n < 64<<10 {
			return 0, 0, fmt.Errorf("captures of %d bytes are too small (at least 64KiB)", n)
		}
		if size != 0 {
			return 0, 0, fmt.Errorf("%q gives two sizes", s)
		}
		size = n
	}
	return size, every, nil
}

// parseKeep reads --keep: a number of captures (24) or a size (10GiB).
func parseKeep(s string) (int, int64, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.Atoi(t); err == nil {
		if n < 1 {
			return 0, 0, fmt.Errorf("keep at least 1 capture")
		}
		return n, 0, nil
	}
	n, err := parseSize(t)
	if err != nil || n <= 0 {
		return 0, 0, fmt.Errorf("%q is neither a number of captures (24) nor a size (10GiB)", s)
	}
	return 0, n, nil
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

//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/ctrace/ctrace/capture"
)

func runRecord(c *cli.Context, o recordOptions) error {
	stderr := c.App.ErrWriter
	if o.printRules {
		rules := capture.DefaultRules(os.Getpid())
		if o.rulesFile != "" {
			f, err := os.Open(o.rulesFile)
			if err != nil {
				return err
			}
			defer f.Close()
			if rules, err = capture.ParseRulesFile(f, o.rulesFile, os.Getpid()); err != nil {
				return err
			}
		}
		fmt.Fprintln(c.App.Writer, strings.Join(rules, "\n"))
		return nil
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	res, err := capture.Record(context.Background(), capture.Options{
		Output:        o.output,
		Force:         o.force,
		Version:       version,
		NoAudit:       o.noAudit,
		NoProc:        o.noProc,
		NoSnapshot:    o.noSnapshot,
		RulesFile:     o.rulesFile,
		BacklogLimit:  o.backlogLimit,
		QueueCap:      o.queueCap,
		SegmentBytes:  o.segmentBytes,
		SegmentAge:    o.segmentAge,
		Duration:      o.duration,
		ReceiveBuffer: int(o.receiveBuffer),
		Command:       o.command,
		Stdin:         os.Stdin,
		Stdout:        c.App.Writer,
		Stderr:        stderr,
		StatusLine:    isTerminal(stderr),
		Signals:       sigs,
	})
	if err != nil {
		return err
	}
	if len(o.command) > 0 {
		if res.Signal > 0 {
			return exitError{128 + res.Signal}
		}
		if res.ExitCode != 0 {
			return exitError{res.ExitCode}
		}
	}
	return nil
}

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
	stops := make(chan os.Signal, 2)
	rotate := make(chan struct{}, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer func() {
		signal.Stop(sigs)
		close(sigs) // ends the goroutine below
	}()
	rotating := o.rotateBytes > 0 || o.rotateEvery > 0
	go func() {
		// SIGHUP starts the next capture of a set; without --rotate it
		// stops the recording as SIGTERM does.
		for s := range sigs {
			switch {
			case s == syscall.SIGHUP && rotating:
				select {
				case rotate <- struct{}{}:
				default:
				}
			case s == syscall.SIGHUP:
				stops <- syscall.SIGTERM
			default:
				stops <- s
			}
		}
	}()
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
		RotateBytes:   o.rotateBytes,
		RotateEvery:   o.rotateEvery,
		KeepFiles:     o.keepFiles,
		KeepBytes:     o.keepBytes,
		Rotate:        rotate,
		Command:       o.command,
		Stdin:         os.Stdin,
		Stdout:        c.App.Writer,
		Stderr:        stderr,
		StatusLine:    isTerminal(stderr),
		Signals:       stops,
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

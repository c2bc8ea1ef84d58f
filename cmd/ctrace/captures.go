package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/format"
)

// captureArgsUsage is the ArgsUsage of the commands that read a recording.
const captureArgsUsage = "CAPTURE... | SET-DIRECTORY"

// setWindowFlags are --since and --until for the commands whose only use of
// them is to pick the captures of a set (analyze, report, info).
func setWindowFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "since", Usage: "of a capture set, read only the captures that hold records from `TIME` on (RFC 3339, or an offset from the start of the earliest capture: 2h)"},
		&cli.StringFlag{Name: "until", Usage: "of a capture set, read only the captures that hold records up to `TIME`"},
	}
}

// recording is what a command's arguments name: one capture file, or
// several captures (the files of a capture set, or its directory) read as
// one recording.
type recording struct {
	args  []string
	files []string
	// window picks the captures of a set (absolute, wall clock ns).
	window format.Window
}

// set reports whether the recording is more than one file.
func (r *recording) set() bool { return len(r.files) > 1 }

// recordingOf reads the command's capture arguments and its --since and
// --until (when it has them; offsets count from the start of the earliest
// capture). For one file the window is left to the command.
func recordingOf(c *cli.Context, cmd string) (*recording, error) {
	if c.NArg() == 0 {
		return nil, fmt.Errorf("%s: expected a capture file, several captures of a set, or a set's directory", cmd)
	}
	r := &recording{args: c.Args().Slice()}
	var err error
	if r.files, err = format.SetFiles(r.args); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	since, until := c.String("since"), c.String("until")
	for _, f := range []struct{ name, v string }{{"since", since}, {"until", until}} {
		if _, err := analyze.ParseTime(f.v, 0); err != nil {
			return nil, fmt.Errorf("%s: --%s: %w", cmd, f.name, err)
		}
	}
	if !r.set() || (since == "" && until == "") {
		return r, nil
	}
	// Offsets count from the start of the earliest capture given; the
	// headers are read only for an offset.
	var start int64
	if isOffset(since) || isOffset(until) {
		if start, err = earliestStart(r.files); err != nil {
			return nil, err
		}
	}
	r.window.Since, _ = analyze.ParseTime(since, start)
	r.window.Until, _ = analyze.ParseTime(until, start)
	if r.window.Since != 0 && r.window.Until != 0 && r.window.Until < r.window.Since {
		return nil, fmt.Errorf("%s: --until is before --since", cmd)
	}
	return r, nil
}

// isOffset reports whether a --since/--until value counts from the start
// (rather than being a time).
func isOffset(v string) bool {
	a, _ := analyze.ParseTime(v, 0)
	b, _ := analyze.ParseTime(v, 1)
	return a != b
}

// earliestStart is the earliest start (header clock) of the captures.
func earliestStart(files []string) (int64, error) {
	var start int64
	for _, f := range files {
		r, err := format.Open(f)
		if err != nil {
			return 0, err
		}
		if t := r.Header().Clock.RealtimeNS; start == 0 || t < start {
			start = t
		}
		r.Close()
	}
	return start, nil
}

// errSetWindowOnFile is returned when --since/--until, which pick the
// captures of a set, are given with one capture file.
var errSetWindowOnFile = errors.New("--since and --until pick the captures of a capture set; for a window of one capture use timeline or extract")

// setRecordingOf is recordingOf for the commands whose --since/--until
// only pick the captures of a set (setWindowFlags): with one file they are
// refused.
func setRecordingOf(c *cli.Context, cmd string) (*recording, error) {
	r, err := recordingOf(c, cmd)
	if err == nil && !r.set() && (c.String("since") != "" || c.String("until") != "") {
		err = fmt.Errorf("%s: %w", cmd, errSetWindowOnFile)
	}
	return r, err
}

// analyze analyzes the recording (for a set, the captures of the window).
func (r *recording) analyze() (*analyze.Analysis, error) {
	return analyze.AnalyzeCaptures(r.args, r.window, readOptions())
}

// source names the recording in reports: the file's base name, or the
// set's.
func (r *recording) source() string {
	if len(r.args) == 1 {
		return filepath.Base(r.args[0])
	}
	return fmt.Sprintf("%s and %d more", filepath.Base(r.args[0]), len(r.args)-1)
}

// rfc3339 writes a wall-clock time for ParseTime ("" for 0).
func rfc3339(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/replay"
)

func infoCommand() *cli.Command {
	return &cli.Command{
		Name:      "info",
		Usage:     "summarize a capture file: host, time span, frames, sizes, losses, damage",
		ArgsUsage: captureArgsUsage,
		Description: "Several captures of a capture set (record --rotate), or its directory, are summarized as one\n" +
			"recording (files: lists them); --since/--until then read only the captures that hold the window.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "format", Usage: "text or json", Value: "text"},
		}, setWindowFlags()...),
		Action: func(c *cli.Context) error {
			rec, err := setRecordingOf(c, "info")
			if err != nil {
				return err
			}
			return runInfo(rec, c.String("format"), c.App.Writer, c.App.ErrWriter)
		},
	}
}

func runInfo(rec *recording, outFormat string, stdout, stderr io.Writer) error {
	path := strings.Join(rec.args, " ")
	if outFormat != "text" && outFormat != "json" {
		return fmt.Errorf("info: --format must be text or json, not %q", outFormat)
	}
	var progress func(records int64)
	if isTerminal(stderr) {
		progress = func(records int64) {
			fmt.Fprintf(stderr, "\r\033[Kreading %s: %d records", path, records)
		}
	}
	s, err := analyze.SummarizeCaptures(rec.args, rec.window, progress)
	if progress != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		return err
	}
	for _, p := range s.Damage {
		fmt.Fprintf(stderr, "ctrace: warning: %s\n", p)
	}
	for _, d := range s.ImportDamaged {
		fmt.Fprintf(stderr, "ctrace: warning: imported input damaged: %s\n", d)
	}
	if s.Truncated {
		fmt.Fprintf(stderr, "ctrace: warning: %s is truncated at offset %d (the recorder did not close it): everything before is read\n", path, s.TruncatedAt)
	}
	if outFormat == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	writeInfoText(stdout, s)
	return nil
}

func writeInfoText(w io.Writer, s *replay.Summary) {
	p := func(k, f string, a ...any) { fmt.Fprintf(w, "%-20s %s\n", k+":", fmt.Sprintf(f, a...)) }
	p("file", "%s", s.File)
	if len(s.Files) > 0 {
		first, last := filepath.Base(s.Files[0]), filepath.Base(s.Files[len(s.Files)-1])
		p("capture set", "%d captures read as one recording: %s to %s", len(s.Files), first, last)
	} else if s.Set != nil {
		p("capture set", "part %d of recording %s (record --rotate): its directory, or several of its captures, read as one", s.Set.Index, s.Set.ID)
	}
	p("kind", "%s (format %d, ctrace %s)", s.Kind, s.FormatVersion, s.CtraceVersion)
	if len(s.ImportedFrom) > 0 {
		p("imported from", "%s", strings.Join(s.ImportedFrom, ", "))
		p("skipped lines", "%d (not audit records)", s.ImportSkipped)
	}
	if s.ExtractedFrom != "" {
		p("extracted from", "%s", s.ExtractedFrom)
		p("selection", "%s", strings.Join(s.Selection, "; "))
		if len(s.Redaction) > 0 {
			p("redaction", "%s", strings.Join(s.Redaction, "; "))
		}
	}
	p("host", "%s (%s, %s, %s-endian)", s.Host, s.Machine, s.Kernel, s.ByteOrder)
	p("start", "%s", s.Start)
	p("end", "%s", s.End)
	p("duration", "%s", time.Duration(s.DurationNS).Round(time.Millisecond))
	p("audit", "%s", s.AuditMode)
	p("frames", "audit %d, proc %d, snapshot %d, notes %d", s.AuditFrames, s.ProcFrames, s.SnapshotRecords, s.NoteRecords)
	p("snapshot processes", "%d", s.SnapshotProcesses)
	p("segments", "%d", s.Segments)
	p("size", "%s compressed, %s uncompressed, ratio %.1fx", humanBytes(s.CompressedBytes), humanBytes(s.UncompressedBytes), s.Ratio)
	l := s.Losses
	p("lost", "%d in total: kernel %d, ENOBUFS %d, recorder dropped %d, audit serial gaps %d, proc sequence gaps %d, truncated frames %d",
		s.Lost, l.KernelLost, l.ENOBUFS, l.RecorderDropped, l.AuditSerialGaps, l.ProcSeqGaps, l.TruncatedFrames)
	p("late records", "%d (audit records that arrived more than %s after their event was analyzed: analyze takes each for an event of its own)",
		s.LateRecords, analyze.ReorderWindowText())
	for i, g := range s.AuditSerialGapRanges {
		key := ""
		if i == 0 {
			key = "serial gaps:"
		}
		if i == maxGapLines {
			fmt.Fprintf(w, "%-20s ... %d more runs of missing serials (--format json lists %d)\n", key,
				s.AuditSerialGapRangeCount-i, len(s.AuditSerialGapRanges))
			break
		}
		fmt.Fprintf(w, "%-20s %s\n", key, gapText(g))
	}
	state := "complete"
	if s.Truncated {
		state = fmt.Sprintf("TRUNCATED at offset %d", s.TruncatedAt)
	}
	if len(s.Damage) > 0 {
		state += fmt.Sprintf(", %d damaged region(s)", s.DamageCount)
	}
	p("state", "%s", state)
	if s.StopReason != "" {
		p("stopped by", "%s", s.StopReason)
	}
	if s.Command != "" {
		c := s.Command
		if s.CommandPID != 0 {
			c += fmt.Sprintf(" (pid %d", s.CommandPID)
			switch {
			case s.CommandExitCode != nil:
				c += fmt.Sprintf(", exit %d)", *s.CommandExitCode)
			case s.CommandSignal != nil:
				c += fmt.Sprintf(", killed by signal %d)", *s.CommandSignal)
			default:
				c += ")"
			}
		}
		p("command", "%s", c)
	}
	if len(s.Rules) > 0 {
		fmt.Fprintf(w, "rules:\n")
		for _, r := range s.Rules {
			fmt.Fprintf(w, "  %s\n", r)
		}
	}
}

// maxGapLines bounds the runs of missing serials the text shows.
const maxGapLines = 10

// gapText describes a run of missing audit serials.
func gapText(g replay.SerialGap) string {
	s := fmt.Sprintf("serials %d to %d (%d)", g.First, g.Last, g.Last-g.First+1)
	if g.First == g.Last {
		s = fmt.Sprintf("serial %d", g.First)
	}
	switch {
	case g.After != "" && g.Until != "":
		s += fmt.Sprintf(", between %s and %s", g.After, g.Until)
	case g.After != "":
		s += ", after " + g.After
	case g.Until != "":
		s += ", before " + g.Until
	}
	return s
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

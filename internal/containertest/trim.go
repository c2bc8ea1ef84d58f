package containertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/internal/groundtruth"
	"github.com/ctrace/ctrace/replay"
)

// TestHostname is the hostname of every trimmed capture.
const TestHostname = "ctrace-test"

// KeepSet returns the pids a trimmed capture keeps for the given containers
// of an analysis: their processes, their runtime processes and the clients
// that started them and their exec sessions.
func KeepSet(cs []*analyze.Container) map[int]bool {
	set := map[int]bool{}
	for _, c := range cs {
		for _, pid := range c.PIDs() {
			set[pid] = true
		}
		for _, pid := range c.RuntimePIDs() {
			set[pid] = true
		}
		if l := c.StartedBy; l != nil {
			set[l.Process.PID] = true
		}
		for _, s := range c.ExecSessions {
			if s.StartedBy != nil {
				set[s.StartedBy.Process.PID] = true
			}
		}
	}
	return set
}

// Trim rewrites the capture in as out, keeping what belongs to the
// processes of keep: the audit events whose records name one of them as
// pid= (all records of such a serial), the proc connector events of their
// tasks (a fork: of the new task), the snapshot records of those processes,
// and the recorder's notes. Dropped: everything else (dockerd, containerd
// and the rest of the host), audit control replies, the proc connector's
// listen acknowledgement.
//
// The header gets hostname TestHostname, no boot id and kernel build
// string, kind "extract", extracted_from the input's base name, a selection
// line (what), the snapshot flag only when snapshot records are kept, and
// the input's losses (OriginalLosses: the serial and sequence gaps the trim
// makes are not losses). The trailer is copied; a capture without one gives
// one without. A damaged input is an error.
func Trim(in, out string, keep map[int]bool, what string) error {
	sum, err := replay.Summarize(in, nil)
	if err != nil {
		return fmt.Errorf("containertest: trim %s: %w", in, err)
	}
	// Pass 1: the serials to keep.
	keepSerial := map[uint64]bool{}
	err = groundtruth.EachRecord(in, func(h *format.Header, rec format.Record) error {
		if rec.Source != format.SourceAudit {
			return nil
		}
		f, err := replay.DecodeAudit(rec.Data, replay.ByteOrderOf(h.ByteOrder))
		if err != nil || f.Kind != replay.AuditEvent {
			return nil
		}
		if pid, ok := recordPID(f); ok && keep[pid] {
			keepSerial[f.Serial] = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("containertest: trim %s: %w", in, err)
	}

	r, err := format.Open(in)
	if err != nil {
		return fmt.Errorf("containertest: trim: %w", err)
	}
	defer r.Close()
	h := *r.Header()
	order := replay.ByteOrderOf(h.ByteOrder)
	keepRec := func(rec format.Record) bool {
		switch rec.Source {
		case format.SourceNote:
			return true
		case format.SourceProc:
			ev, err := replay.DecodeProc(rec.Data, order)
			return err == nil && procKept(ev, keep)
		case format.SourceAudit:
			f, err := replay.DecodeAudit(rec.Data, order)
			return err == nil && f.Kind == replay.AuditEvent && keepSerial[f.Serial]
		case format.SourceSnapshot:
			var sp format.SnapshotProcess
			return json.Unmarshal(rec.Data, &sp) == nil && keep[sp.PID]
		}
		return false
	}
	// Pass 2 decides the snapshot flag before the header is written.
	snap := false
	err = groundtruth.EachRecord(in, func(_ *format.Header, rec format.Record) error {
		if rec.Source == format.SourceSnapshot && keepRec(rec) {
			snap = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("containertest: trim %s: %w", in, err)
	}
	h.Hostname = TestHostname
	h.BootID = ""
	h.KernelVersion = ""
	h.Snapshot = snap
	h.Kind = format.KindExtract
	h.ExtractedFrom = filepath.Base(in)
	h.Selection = append(slices.Clone(h.Selection), what)
	lc := sum.LossCounts()
	h.OriginalLosses = &lc
	id := r.FileID()
	var buf bytes.Buffer
	w, err := format.NewWriter(&buf, h, format.WriterOptions{FileID: &id})
	if err != nil {
		return fmt.Errorf("containertest: trim: %w", err)
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("containertest: trim %s: %w", in, err)
		}
		if keepRec(rec) {
			if err := w.WriteRecord(rec.Source, rec.Flags, rec.Mono, rec.Data); err != nil {
				return fmt.Errorf("containertest: trim: %w", err)
			}
		}
	}
	if p := r.Problems(); len(p) > 0 {
		return fmt.Errorf("containertest: trim %s: damaged capture: %v", in, p[0])
	}
	if tr := r.Trailer(); tr != nil {
		t := *tr
		t.Segments, t.Frames = nil, nil
		if err := w.Close(t); err != nil {
			return fmt.Errorf("containertest: trim: %w", err)
		}
	} else if err := w.Flush(); err != nil {
		return fmt.Errorf("containertest: trim: %w", err)
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

// recordPID returns the pid= of an audit record.
func recordPID(f replay.AuditFrame) (int, bool) {
	fl, ok := replay.FindField(replay.ParseFields(f.Body), "pid")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(fl.Value)
	return n, err == nil
}

// procKept: a proc connector event of a task of a kept process (a fork:
// the new task's).
func procKept(ev replay.ProcEvent, keep map[int]bool) bool {
	switch ev.Kind {
	case replay.ProcNone, replay.ProcUnknown:
		return false
	}
	return keep[int(ev.TGID)]
}

// CheckContainersOnly checks that a capture kept in testdata holds its
// containers and nothing else of the machine it was recorded on: hostname
// TestHostname, no boot id or kernel build string, and every audit event,
// proc connector event and snapshot record about a process of a container
// or of its runtime, as the analyzer finds them in the capture itself.
func CheckContainersOnly(file string) []string {
	var errs []string
	bad := func(f string, args ...any) { errs = append(errs, fmt.Sprintf(f, args...)) }
	a, err := analyze.AnalyzeFile(file)
	if err != nil {
		return []string{err.Error()}
	}
	if len(a.Containers) == 0 {
		bad("no container found")
	}
	keep := KeepSet(a.Containers)
	err = groundtruth.EachRecord(file, func(h *format.Header, rec format.Record) error {
		if h.Hostname != TestHostname {
			return fmt.Errorf("header hostname %q, want %q", h.Hostname, TestHostname)
		}
		if h.BootID != "" || h.KernelVersion != "" {
			return fmt.Errorf("header keeps the host's boot_id %q / kernel_version %q", h.BootID, h.KernelVersion)
		}
		order := replay.ByteOrderOf(h.ByteOrder)
		switch rec.Source {
		case format.SourceAudit:
			f, err := replay.DecodeAudit(rec.Data, order)
			switch {
			case err != nil:
				bad("undecodable audit frame")
			case f.Kind != replay.AuditEvent:
				bad("audit %s frame", f.Kind)
			default:
				if pid, ok := recordPID(f); ok && !keep[pid] {
					bad("audit serial %d: %s record of pid %d, outside the containers", f.Serial, f.TypeName(), pid)
				}
			}
		case format.SourceProc:
			ev, err := replay.DecodeProc(rec.Data, order)
			if err != nil || !procKept(ev, keep) {
				bad("proc %s event of pid %d tgid %d, outside the containers", ev.Kind, ev.PID, ev.TGID)
			}
		case format.SourceSnapshot:
			var sp format.SnapshotProcess
			if err := json.Unmarshal(rec.Data, &sp); err != nil || !keep[sp.PID] {
				bad("snapshot record of pid %d, outside the containers", sp.PID)
			}
		}
		return nil
	})
	if err != nil {
		bad("%v", err)
	}
	if len(errs) > 20 {
		errs = append(errs[:20], fmt.Sprintf("... %d more", len(errs)-20))
	}
	return errs
}

// TrimAuditLog copies the auditd RAW log in to out, keeping the lines of
// the events (all records of a serial) one of whose records names a
// process of keep as pid=, and comment lines. header lines are written
// first, each as a '#' comment.
func TrimAuditLog(in, out string, keep map[int]bool, header []string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	lines := strings.SplitAfter(string(data), "\n")
	type key struct {
		ms     int64
		serial uint64
	}
	keepEv := map[key]bool{}
	for _, l := range lines {
		f, err := replay.ParseLogLine(strings.TrimRight(l, "\n"))
		if err != nil {
			continue
		}
		if pid, ok := recordPID(f); ok && keep[pid] {
			keepEv[key{f.TimeMS, f.Serial}] = true
		}
	}
	var b strings.Builder
	for _, h := range header {
		b.WriteString("# " + h + "\n")
	}
	n := 0
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		f, err := replay.ParseLogLine(strings.TrimRight(l, "\n"))
		if err != nil || !keepEv[key{f.TimeMS, f.Serial}] {
			continue
		}
		b.WriteString(l)
		if !strings.HasSuffix(l, "\n") {
			b.WriteByte('\n')
		}
		n++
	}
	if n == 0 {
		return errors.New("containertest: trim audit log: nothing kept")
	}
	return os.WriteFile(out, []byte(b.String()), 0o644)
}

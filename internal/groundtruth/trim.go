package groundtruth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// TestHostname is the hostname of every trimmed capture.
const TestHostname = "ctrace-test"

// TrimToWorkload rewrites the capture in as out, keeping only what belongs to
// the workload of rootPID: the process rootPID and all its descendants (by
// proc connector FORK events, audit ppid= links and audit clone results,
// iterated to a fixpoint).
//
// Kept: every record of an audit serial one of whose records (the SYSCALL, or
// a standalone record such as ANOM_ABEND) has its pid= or ppid= in the set;
// proc connector events whose tgid (or, for fork and exit, parent tgid) is in
// the set; all notes. Dropped: everything else, including the snapshot, audit
// control replies and the proc connector's listen acknowledgement. Kept
// records are copied byte for byte with their receive time and flags, in
// their order.
//
// The header is copied with hostname TestHostname, boot_id and
// kernel_version emptied, snapshot off, kind "extract", extracted_from the
// input's base name and a selection line saying what was kept; recorder_pid
// stays. The trailer is copied (its frame counts and segments describe the
// new file); a capture without a trailer gives one without a trailer.
// A damaged input is an error: test captures must be whole.
func TrimToWorkload(in, out string, rootPID int) error {
	if rootPID <= 0 {
		return fmt.Errorf("groundtruth: trim %s: no root pid", in)
	}
	// Pass 1: the lineage, and the pids each audit serial names.
	l := newLineage()
	serialPIDs := map[uint64][]AuditRecord{}
	err := eachRecord(in, func(h *format.Header, rec format.Record) error {
		order := replay.ByteOrderOf(h.ByteOrder)
		switch rec.Source {
		case format.SourceProc:
			if ev, err := replay.DecodeProc(rec.Data, order); err == nil {
				l.addProc(ev)
			}
		case format.SourceAudit:
			f, err := replay.DecodeAudit(rec.Data, order)
			if err != nil || f.Kind != replay.AuditEvent {
				return nil
			}
			r := AuditRecord{Type: f.Type, Fields: f.Fields()}
			if f.Type == replay.TypeSyscall {
				ev := AuditEvent{Records: []AuditRecord{r}}
				sc, _ := ev.Syscall()
				l.addRecord(r, &sc)
			} else {
				l.addRecord(r, nil)
			}
			if _, ok := r.Value("pid"); ok {
				serialPIDs[f.Serial] = append(serialPIDs[f.Serial], pidOnly(r))
			} else if _, ok := r.Value("ppid"); ok {
				serialPIDs[f.Serial] = append(serialPIDs[f.Serial], pidOnly(r))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("groundtruth: trim %s: %w", in, err)
	}
	set := l.set(rootPID)
	keepSerial := map[uint64]bool{}
	for s, recs := range serialPIDs {
		for _, r := range recs {
			if recordBelongs(r, set) {
				keepSerial[s] = true
			}
		}
	}

	// Pass 2: copy what belongs.
	r, err := format.Open(in)
	if err != nil {
		return fmt.Errorf("groundtruth: trim: %w", err)
	}
	defer r.Close()
	h := *r.Header()
	h.Hostname = TestHostname
	h.BootID = ""
	h.KernelVersion = ""
	h.Snapshot = false
	h.Kind = "extract"
	h.ExtractedFrom = filepath.Base(in)
	h.Selection = append(append([]string(nil), h.Selection...),
		fmt.Sprintf("workload of pid %d: the process and its descendants (proc fork, audit ppid and clone links); audit events and proc events of those processes, notes; no snapshot", rootPID))
	id := r.FileID()
	var buf bytes.Buffer
	w, err := format.NewWriter(&buf, h, format.WriterOptions{FileID: &id})
	if err != nil {
		return fmt.Errorf("groundtruth: trim: %w", err)
	}
	order := replay.ByteOrderOf(h.ByteOrder)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("groundtruth: trim %s: %w", in, err)
		}
		keep := false
		switch rec.Source {
		case format.SourceNote:
			keep = true
		case format.SourceProc:
			ev, err := replay.DecodeProc(rec.Data, order)
			keep = err == nil && procBelongs(ev, set)
		case format.SourceAudit:
			f, err := replay.DecodeAudit(rec.Data, order)
			keep = err == nil && f.Kind == replay.AuditEvent && keepSerial[f.Serial]
		}
		if keep {
			if err := w.WriteRecord(rec.Source, rec.Flags, rec.Mono, rec.Data); err != nil {
				return fmt.Errorf("groundtruth: trim: %w", err)
			}
		}
	}
	if p := r.Problems(); len(p) > 0 {
		return fmt.Errorf("groundtruth: trim %s: damaged capture: %v", in, p[0])
	}
	if tr := r.Trailer(); tr != nil {
		t := *tr
		t.Segments, t.Frames = nil, nil
		if err := w.Close(t); err != nil {
			return fmt.Errorf("groundtruth: trim: %w", err)
		}
	} else if err := w.Flush(); err != nil {
		return fmt.Errorf("groundtruth: trim: %w", err)
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

// pidOnly keeps the pid and ppid fields of a record.
func pidOnly(r AuditRecord) AuditRecord {
	var fs []replay.Field
	for _, f := range r.Fields {
		if f.Key == "pid" || f.Key == "ppid" {
			fs = append(fs, f)
		}
	}
	return AuditRecord{Type: r.Type, Fields: fs}
}

// eachRecord calls fn for every record of a capture, in order.
func eachRecord(file string, fn func(*format.Header, format.Record) error) error {
	r, err := format.Open(file)
	if err != nil {
		return err
	}
	defer r.Close()
	h := r.Header()
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := fn(h, rec); err != nil {
			return err
		}
	}
	if p := r.Problems(); len(p) > 0 {
		return fmt.Errorf("damaged capture: %v", p[0])
	}
	return nil
}

// SameRecords reports how the record streams of two captures differ (source,
// flags, receive time and bytes of each record), nil if they do not.
func SameRecords(a, b string) error {
	type rec struct {
		src   format.Source
		flags uint8
		mono  int64
		data  []byte
	}
	read := func(file string) ([]rec, error) {
		var out []rec
		err := eachRecord(file, func(_ *format.Header, r format.Record) error {
			out = append(out, rec{r.Source, r.Flags, r.Mono, bytes.Clone(r.Data)})
			return nil
		})
		return out, err
	}
	ra, err := read(a)
	if err != nil {
		return err
	}
	rb, err := read(b)
	if err != nil {
		return err
	}
	var errs []error
	for i := 0; i < len(ra) || i < len(rb); i++ {
		switch {
		case i >= len(ra):
			errs = append(errs, fmt.Errorf("record %d only in %s", i, b))
		case i >= len(rb):
			errs = append(errs, fmt.Errorf("record %d only in %s", i, a))
		case ra[i].src != rb[i].src || ra[i].flags != rb[i].flags || ra[i].mono != rb[i].mono || !bytes.Equal(ra[i].data, rb[i].data):
			errs = append(errs, fmt.Errorf("record %d differs", i))
		}
		if len(errs) >= 10 {
			errs = append(errs, errors.New("..."))
			break
		}
	}
	return errors.Join(errs...)
}

// CheckWorkloadOnly checks that a capture kept in testdata holds its workload
// and nothing else of the machine it was recorded on: hostname TestHostname,
// no boot id or kernel build string, no snapshot, no audit control frames,
// every audit event naming (pid= or ppid=) a process of the workload and no
// record naming another, every proc event about the workload. The workload
// is computed from the capture itself, from its command pid.
func CheckWorkloadOnly(file string) []string {
	c, err := LoadCapture(file)
	if err != nil {
		return []string{err.Error()}
	}
	var errs []string
	bad := func(f string, args ...any) { errs = append(errs, fmt.Sprintf(f, args...)) }
	if c.Header.Hostname != TestHostname {
		bad("header hostname %q, want %q", c.Header.Hostname, TestHostname)
	}
	if c.Header.BootID != "" || c.Header.KernelVersion != "" {
		bad("header keeps the host's boot_id %q / kernel_version %q", c.Header.BootID, c.Header.KernelVersion)
	}
	if c.Snapshots > 0 || c.Header.Snapshot {
		bad("%d snapshot records (header snapshot %v)", c.Snapshots, c.Header.Snapshot)
	}
	if c.OtherAudit > 0 || c.Undecodable > 0 {
		bad("%d audit control frames, %d undecodable frames", c.OtherAudit, c.Undecodable)
	}
	if len(c.Problems) > 0 {
		bad("damaged: %v", c.Problems)
	}
	root, err := c.CommandPID()
	if err != nil {
		return append(errs, err.Error())
	}
	set := c.WorkloadSet(root)
	for _, ev := range c.Audit {
		named := false
		for _, r := range ev.Records {
			_, hasPID := r.Value("pid")
			_, hasPPID := r.Value("ppid")
			if !hasPID && !hasPPID {
				continue
			}
			if !recordBelongs(r, set) {
				bad("audit serial %d: %s record of a process outside the workload", ev.Serial, replay.TypeName(r.Type))
			}
			named = true
		}
		if !named {
			bad("audit serial %d (%s) names no process", ev.Serial, replay.TypeName(ev.Records[0].Type))
		}
	}
	for _, ev := range c.Proc {
		if !procBelongs(ev, set) {
			bad("proc %s event of pid %d tgid %d, outside the workload", ev.Kind, ev.PID, ev.TGID)
		}
	}
	return errs
}

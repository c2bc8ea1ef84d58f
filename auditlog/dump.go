package auditlog

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// Sources selects the records Dump writes.
type Sources uint8

const (
	DumpAudit Sources = 1 << iota
	DumpProc
	DumpSnapshot
	DumpNotes
	DumpAll = DumpAudit | DumpProc | DumpSnapshot | DumpNotes
)

// ParseSources reads a comma-separated list of "audit", "proc",
// "snapshot", "note" and "all".
func ParseSources(s string) (Sources, error) {
	var out Sources
	for _, w := range strings.Split(s, ",") {
		switch strings.TrimSpace(w) {
		case "audit":
			out |= DumpAudit
		case "proc":
			out |= DumpProc
		case "snapshot":
			out |= DumpSnapshot
		case "note", "notes":
			out |= DumpNotes
		case "all":
			out |= DumpAll
		default:
			return 0, fmt.Errorf("auditlog: unknown source %q (audit, proc, snapshot, note or all)", w)
		}
	}
	return out, nil
}

func (s Sources) has(src format.Source) bool {
	switch src {
	case format.SourceAudit:
		return s&DumpAudit != 0
	case format.SourceProc:
		return s&DumpProc != 0
	case format.SourceSnapshot:
		return s&DumpSnapshot != 0
	case format.SourceNote:
		return s&DumpNotes != 0
	}
	return false
}

// DumpStats count what Dump read and wrote.
type DumpStats struct {
	Records  int64 // records read from the capture
	Written  int64 // records written (as a line, or as comments)
	Lines    int64 // lines written
	Comments int64 // of which '#' comment lines
	// The reader's findings, for the caller to report: damage (see
	// format.Reader.Problems) and a cut-off end.
	Problems    []string
	Truncated   bool
	TruncatedAt int64
}

// Dump writes the records of the capture read by r as text, one line per
// record, in capture order; the line forms are documented in README.md.
// Audit records become auditd RAW log lines (type=NAME msg=audit(...): ...)
// that ausearch and aureport read; whatever is not an audit event (control
// messages, undecodable records) becomes a '#' comment line, which those
// tools skip. The output depends only on the capture.
func Dump(w io.Writer, r *format.Reader, sources Sources) (DumpStats, error) {
	var st DumpStats
	bw := bufio.NewWriterSize(w, 64<<10)
	d := dumper{w: bw, order: replay.ByteOrderOf(r.Header().ByteOrder), st: &st}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, err
		}
		st.Records++
		if !sources.has(rec.Source) {
			continue
		}
		st.Written++
		switch rec.Source {
		case format.SourceAudit:
			d.audit(rec)
		case format.SourceProc:
			d.proc(rec)
		case format.SourceSnapshot:
			d.snapshot(rec)
		case format.SourceNote:
			d.note(rec)
		}
		if d.err != nil {
			return st, fmt.Errorf("auditlog: dump: %w", d.err)
		}
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("auditlog: dump: %w", err)
	}
	for _, p := range r.Problems() {
		st.Problems = append(st.Problems, p.Error())
	}
	st.Truncated, st.TruncatedAt = r.Truncated(), r.TruncatedAt()
	return st, nil
}

// DumpFile dumps the capture file at path.
func DumpFile(w io.Writer, path string, sources Sources) (DumpStats, error) {
	r, err := format.Open(path)
	if err != nil {
		return DumpStats{}, err
	}
	defer r.Close()
	return Dump(w, r, sources)
}

type dumper struct {
	w     *bufio.Writer
	order binary.ByteOrder
	st    *DumpStats
	buf   []byte
	err   error
}

func (d *dumper) line(b []byte) {
	if d.err != nil {
		return
	}
	d.st.Lines++
	if len(b) > 0 && b[0] == '#' {
		d.st.Comments++
	}
	_, d.err = d.w.Write(b)
}

func (d *dumper) comment(f string, a ...any) {
	d.buf = append(d.buf[:0], "# "...)
	d.buf = fmt.Appendf(d.buf, f, a...)
	d.buf = append(d.buf, '\n')
	d.line(d.buf)
}

func (d *dumper) audit(rec format.Record) {
	f, err := replay.DecodeAudit(rec.Data, d.order)
	if err != nil {
		if f.Text != "" {
			d.comment("audit type=%s not decodable (%s): %q", replay.TypeName(f.Type), trimPkg(err), f.Text)
		} else {
			d.comment("audit record not decodable (%s): %d bytes", trimPkg(err), len(rec.Data))
		}
		return
	}
	switch f.Kind {
	case replay.AuditEvent:
		if rec.Flags&format.FlagTruncated != 0 {
			d.comment("audit record cut by the receive buffer: the next line is its beginning")
		}
		text, changed := SanitizeText(f.Text)
		if changed {
			d.comment("audit record holding line-breaking bytes, replaced by spaces in the next line; it was %q", f.Text)
		}
		d.buf = AppendLine(d.buf[:0], f.Type, text)
		d.line(d.buf)
	case replay.AuditText:
		d.comment("audit type=%s without an audit(TIME:SERIAL) header: %q", replay.TypeName(f.Type), f.Text)
	case replay.AuditBinary:
		d.comment("audit type=%s binary control message, %d bytes", replay.TypeName(f.Type), len(f.Binary))
	case replay.AuditReplace:
		d.comment("audit type=REPLACE pid=%d (the audit daemon was replaced)", f.ReplacePID)
	case replay.AuditError:
		if f.Error == 0 {
			d.comment("audit NLMSG_ERROR error=0 (ack) seq=%d", f.NlSeq)
		} else {
			d.comment("audit NLMSG_ERROR error=%d seq=%d", f.Error, f.NlSeq)
		}
	case replay.AuditDone:
		d.comment("audit NLMSG_DONE")
	default:
		d.comment("audit netlink type=%d, %d bytes", f.Type, len(f.Binary))
	}
}

func (d *dumper) proc(rec format.Record) {
	ev, err := replay.DecodeProc(rec.Data, d.order)
	if err != nil {
		d.comment("proc record not decodable (%s): %d bytes", trimPkg(err), len(rec.Data))
		return
	}
	b := append(d.buf[:0], "proc mono="...)
	b = strconv.AppendInt(b, rec.Mono, 10)
	b = append(b, " ts="...)
	b = strconv.AppendUint(b, ev.Timestamp, 10)
	b = append(b, " cpu="...)
	b = strconv.AppendUint(b, uint64(ev.CPU), 10)
	b = append(b, " seq="...)
	b = strconv.AppendUint(b, uint64(ev.Seq), 10)
	b = append(b, ' ')
	u := func(b []byte, k string, v uint32) []byte {
		b = append(b, ' ')
		b = append(b, k...)
		b = append(b, '=')
		return strconv.AppendUint(b, uint64(v), 10)
	}
	switch ev.Kind {
	case replay.ProcNone:
		b = append(b, "ack"...)
		b = u(b, "ack", ev.Ack)
		b = u(b, "err", ev.Err)
	case replay.ProcUnknown:
		b = fmt.Appendf(b, "unknown what=0x%08x", ev.What)
	default:
		b = append(b, ev.Kind.String()...)
	}
	switch ev.Kind {
	case replay.ProcFork:
		b = u(b, "parent_pid", ev.ParentPID)
		b = u(b, "parent_tgid", ev.ParentTGID)
		b = u(b, "child_pid", ev.PID)
		b = u(b, "child_tgid", ev.TGID)
	case replay.ProcExec, replay.ProcSID:
		b = u(b, "pid", ev.PID)
		b = u(b, "tgid", ev.TGID)
	case replay.ProcUID:
		b = u(b, "pid", ev.PID)
		b = u(b, "tgid", ev.TGID)
		b = u(b, "ruid", ev.RealID)
		b = u(b, "euid", ev.EffectiveID)
	case replay.ProcGID:
		b = u(b, "pid", ev.PID)
		b = u(b, "tgid", ev.TGID)
		b = u(b, "rgid", ev.RealID)
		b = u(b, "egid", ev.EffectiveID)
	case replay.ProcPtrace:
		b = u(b, "pid", ev.PID)
		b = u(b, "tgid", ev.TGID)
		b = u(b, "tracer_pid", ev.TracerPID)
		b = u(b, "tracer_tgid", ev.TracerTGID)
	case replay.ProcComm:
		b = u(b, "pid", ev.PID)
		b = u(b, "tgid", ev.TGID)
		b = append(b, " comm="...)
		b = strconv.AppendQuote(b, ev.Comm)
	case replay.ProcCoredump:
		b = u(b, "pid", ev.PID)
		b = u(b, "tgid", ev.TGID)
		b = u(b, "parent_pid", ev.ParentPID)
		b = u(b, "parent_tgid", ev.ParentTGID)
	case replay.ProcExit:
		b = u(b, "pid", ev.PID)
		b = u(b, "tgid", ev.TGID)
		b = u(b, "exit_code", ev.ExitCode)
		b = append(b, " exit_signal="...)
		b = strconv.AppendInt(b, int64(ev.NotifySignal), 10)
		b = u(b, "parent_pid", ev.ParentPID)
		b = u(b, "parent_tgid", ev.ParentTGID)
		if st, ok := ev.ExitStatus(); ok {
			b = append(b, " status="...)
			b = strconv.AppendInt(b, int64(st), 10)
		} else if sig, ok := ev.ExitSignal(); ok {
			b = append(b, " signal="...)
			b = strconv.AppendInt(b, int64(sig), 10)
			if ev.CoreDumped() {
				b = append(b, " core=yes"...)
			}
		}
	}
	if rec.Flags&format.FlagTruncated != 0 {
		b = append(b, " truncated=yes"...)
	}
	d.buf = append(b, '\n')
	d.line(d.buf)
}

func (d *dumper) snapshot(rec format.Record) {
	var p format.SnapshotProcess
	if err := json.Unmarshal(rec.Data, &p); err != nil {
		d.comment("snapshot record not decodable (not a snapshot JSON object): %d bytes", len(rec.Data))
		return
	}
	b := append(d.buf[:0], "snapshot mono="...)
	b = strconv.AppendInt(b, rec.Mono, 10)
	i := func(b []byte, k string, v int64) []byte {
		b = append(b, ' ')
		b = append(b, k...)
		b = append(b, '=')
		return strconv.AppendInt(b, v, 10)
	}
	s := func(b []byte, k, v string) []byte {
		if v == "" {
			return b
		}
		b = append(b, ' ')
		b = append(b, k...)
		b = append(b, '=')
		return strconv.AppendQuote(b, v)
	}
	l := func(b []byte, k string, v []string) []byte {
		if len(v) == 0 {
			return b
		}
		b = append(b, ' ')
		b = append(b, k...)
		b = append(b, "=["...)
		for j, x := range v {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, x)
		}
		return append(b, ']')
	}
	b = i(b, "pid", int64(p.PID))
	b = i(b, "tid", int64(p.TID))
	b = i(b, "ppid", int64(p.PPID))
	b = i(b, "uid", int64(p.UID))
	b = append(b, " start_ticks="...)
	b = strconv.AppendUint(b, p.StartTicks, 10)
	b = i(b, "start_boottime_ns", p.StartBoot)
	b = append(b, " comm="...)
	b = strconv.AppendQuote(b, p.Comm)
	b = s(b, "exe", p.Exe)
	b = s(b, "cwd", p.Cwd)
	b = s(b, "root", p.Root)
	b = l(b, "argv", p.Argv)
	b = l(b, "cgroup", p.Cgroup)
	if p.Kernel {
		b = append(b, " kernel_thread=yes"...)
	}
	b = l(b, "errors", p.Errors)
	d.buf = append(b, '\n')
	d.line(d.buf)
}

func (d *dumper) note(rec format.Record) {
	var c bytes.Buffer
	if err := json.Compact(&c, rec.Data); err != nil {
		d.comment("note not decodable (not JSON): %q", rec.Data)
		return
	}
	b := append(d.buf[:0], "note mono="...)
	b = strconv.AppendInt(b, rec.Mono, 10)
	b = append(b, ' ')
	b = append(b, c.Bytes()...)
	d.buf = append(b, '\n')
	d.line(d.buf)
}

// trimPkg drops the "replay: " of a decoder's error.
func trimPkg(err error) string { return strings.TrimPrefix(err.Error(), "replay: ") }

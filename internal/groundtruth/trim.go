package groundtruth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	model "github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/extract"
	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// TestHostname is the hostname of every workload capture kept in
// testdata: `ctrace extract --redact-host` writes it.
const TestHostname = extract.Redacted

// ExtractWorkload cuts the capture in down to the workload of its recorded
// command, as the captures kept in testdata are: `ctrace extract --command
// --redact-host -o out in`, run with the ctrace binary given. The extract
// holds the command's process and its descendants (their audit events,
// proc connector events and snapshot entries; the command's ancestors as
// bare entries: nothing of the recorder, whose own events the rules leave
// out), the recorder's notes; hostname TestHostname, no boot id or kernel
// build string; the original's losses in its header.
func ExtractWorkload(ctraceBin, in, out string) error {
	cmd := exec.Command(ctraceBin, "extract", "--command", "--redact-host", "-o", out, in)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("groundtruth: ctrace extract --command %s: %v\n%s", in, err, b)
	}
	return nil
}

// WorkloadSelection returns the extract selection that gives a kept
// capture's workload: its recorded command (workload captures), else
// every container it holds (the container captures of testdata/containers,
// see their README): their processes and runtime processes.
func WorkloadSelection(file string) (extract.Options, error) {
	s, err := replay.Summarize(file, nil)
	if err != nil {
		return extract.Options{}, err
	}
	if len(s.Selection) > 0 && s.ExtractedFrom != "" {
		// An extract: its own selection, from its header.
		var o extract.Options
		for _, l := range s.Selection {
			var pid int
			switch {
			case strings.HasPrefix(l, "command "):
				o.Command = true
			case strings.HasPrefix(l, "no ancestors"):
				o.NoAncestors = true
			case strings.HasPrefix(l, "container "):
				o.Containers = append(o.Containers, strings.TrimSuffix(strings.Fields(l)[1], ":"))
			default:
				if n, _ := fmt.Sscanf(l, "pid %d:", &pid); n == 1 {
					o.PIDs = append(o.PIDs, pid)
				}
			}
		}
		if o.Command || len(o.PIDs) > 0 || len(o.Containers) > 0 {
			return o, nil
		}
	}
	if s.CommandPID > 0 {
		return extract.Options{Command: true}, nil
	}
	a, err := model.AnalyzeFile(file)
	if err != nil {
		return extract.Options{}, err
	}
	var o extract.Options
	for _, c := range a.Containers {
		o.Containers = append(o.Containers, c.ID)
	}
	if len(o.Containers) == 0 {
		return o, fmt.Errorf("%s names no recorded command and holds no container: no workload", file)
	}
	return o, nil
}

// CheckOnlyWorkload checks a capture kept in testdata, whatever it was
// recorded for: its header names no machine (hostname TestHostname or
// "ctrace-test", internal/containertest's; no boot id or kernel build
// string), it is undamaged, and extracting its workload (WorkloadSelection)
// again keeps every record: nothing in it is outside the workload.
func CheckOnlyWorkload(file string) []string {
	var errs []string
	r, err := format.Open(file)
	if err != nil {
		return []string{err.Error()}
	}
	h := *r.Header()
	r.Close()
	if h.Hostname != TestHostname && h.Hostname != "ctrace-test" {
		errs = append(errs, fmt.Sprintf("header hostname %q: cut it with extract --redact-host", h.Hostname))
	}
	if h.BootID != "" || h.KernelVersion != "" {
		errs = append(errs, fmt.Sprintf("header keeps the host's boot_id %q / kernel_version %q", h.BootID, h.KernelVersion))
	}
	o, err := WorkloadSelection(file)
	if err != nil {
		return append(errs, err.Error())
	}
	dir, err := os.MkdirTemp("", "ctrace-hygiene")
	if err != nil {
		return append(errs, err.Error())
	}
	defer os.RemoveAll(dir)
	again := filepath.Join(dir, filepath.Base(file))
	res, err := extract.File(file, again, o)
	if err != nil {
		return append(errs, fmt.Sprintf("extracting the workload: %v", err))
	}
	for _, w := range res.Warnings {
		errs = append(errs, w)
	}
	if err := SameRecords(file, again); err != nil {
		errs = append(errs, fmt.Sprintf("records outside the workload (extract %s drops them): %v", strings.Join(selectionFlags(o), " "), err))
	}
	return errs
}

func selectionFlags(o extract.Options) []string {
	var f []string
	if o.Command {
		f = append(f, "--command")
	}
	for _, p := range o.PIDs {
		f = append(f, "--pid", fmt.Sprint(p))
	}
	if o.NoAncestors {
		f = append(f, "--no-ancestors")
	}
	for _, c := range o.Containers {
		f = append(f, "--container", c)
	}
	return f
}

// EachRecord calls fn for every record of a capture, in order, and fails
// on a damaged capture.
func EachRecord(file string, fn func(*format.Header, format.Record) error) error {
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
		err := EachRecord(file, func(_ *format.Header, r format.Record) error {
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

// CheckWorkloadOnly checks that a workload capture kept in testdata holds its
// workload and nothing else of the machine it was recorded on, with an oracle
// that shares no code with extract or the analyzer: hostname TestHostname,
// no boot id or kernel build string, no snapshot, no audit control frames,
// every audit event naming (pid= or ppid=) a process of the workload and no
// record naming another, every proc event about the workload. The workload
// is computed from the capture itself, from its command pid, by pid lineage
// (proc connector forks, audit ppid= links and clone results).
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

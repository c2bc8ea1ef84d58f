//go:build linux

package capture

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/ctrace/ctrace/format"
)

// A rotating recording (Options.Rotating) writes a capture set: Output is a
// directory, and the recording goes into numbered captures in it
// (capture-000001.ctr, ...), each complete on its own (header, /proc
// snapshot, trailer). A new part begins when the current one reaches
// RotateBytes on disk or RotateEvery of age, or on Options.Rotate. The
// switch happens in the writer, between two queued chunks: every frame
// queued before the request goes into the old part, every frame after it
// into the new one, so nothing is lost or written twice.

// partPattern matches the names of the parts in a set directory.
var partPattern = regexp.MustCompile(`^capture-([0-9]{6,})\.ctr$`)

// partName is the file name of part n of a capture set.
func partName(n int) string { return fmt.Sprintf("capture-%06d.ctr", n) }

// setPart is a file of the set directory.
type setPart struct {
	path string
	num  int
	size int64
}

// listParts returns the parts in dir, oldest (lowest number) first.
func listParts(dir string) ([]setPart, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ps []setPart
	for _, e := range ents {
		m := partPattern.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		var size int64
		if info, err := e.Info(); err == nil {
			size = info.Size()
		}
		ps = append(ps, setPart{path: filepath.Join(dir, e.Name()), num: n, size: size})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].num < ps[j].num })
	return ps, nil
}

// rotation is the state of a rotating recording.
type rotation struct {
	dir    string
	setID  string
	index  int // the current part's index in the set (from 1)
	number int // the current part's file number in the directory
	path   string
	opened time.Time

	// The counters when the current part began: its trailer holds what
	// was lost while it was written.
	lostBefore uint32
	lossBase   format.Loss

	// A part switch in flight: the writer has not reached it yet.
	pending bool
	// Another rotation was asked for meanwhile.
	again  bool
	closed []format.WriterStats // of the parts closed so far
}

// rotateRequest goes to the writer with the nil chunk that marks where the
// old part ends.
type rotateRequest struct {
	w       *format.Writer
	file    *os.File
	old     string // the part it closes
	trailer format.Trailer
}

// rotateDone is the writer's answer.
type rotateDone struct {
	closed string // the part that was closed
	stats  format.WriterStats
	err    error
}

// openFirstPart prepares the directory and creates the first part.
func (rc *recording) openFirstPart() error {
	o := &rc.opts
	if err := os.MkdirAll(o.Output, 0o700); err != nil {
		return fmt.Errorf("capture: cannot create the output directory: %w", err)
	}
	parts, err := listParts(o.Output)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	rc.rot = &rotation{dir: o.Output, setID: hex.EncodeToString(id[:]), index: 1, number: 1}
	if len(parts) > 0 {
		rc.rot.number = parts[len(parts)-1].num + 1
	}
	rc.rot.path = filepath.Join(o.Output, partName(rc.rot.number))
	rc.file, err = os.OpenFile(rc.rot.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("capture: cannot create the output: %w", err)
	}
	return nil
}

// outputName is where frames go now: the capture file, or the current part.
func (rc *recording) outputName() string {
	if rc.rot != nil {
		return rc.rot.path
	}
	return rc.opts.Output
}

// rotateDue reports whether the current part is full or old enough.
func (rc *recording) rotateDue() bool {
	o, r := &rc.opts, rc.rot
	if r == nil || r.pending {
		return false
	}
	if o.RotateEvery > 0 && time.Since(r.opened) >= o.RotateEvery {
		return true
	}
	return o.RotateBytes > 0 && rc.writer().Stats().CompressedBytes >= o.RotateBytes
}

// rotate starts a new part: it creates the file, writes its header, and
// queues the switch behind every frame received so far, then the new
// part's start note and /proc snapshot. The writer answers on rotated.
func (rc *recording) rotate() error {
	r := rc.rot
	if r.pending {
		r.again = true
		return nil
	}
	number := r.number + 1
	path := filepath.Join(r.dir, partName(number))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("capture: cannot create the next part: %w", err)
	}
	var status format.AuditStatus
	if rc.ctl != nil {
		if status, err = rc.ctl.Status(); err != nil {
			f.Close()
			os.Remove(path)
			return err
		}
	}
	tr := format.Trailer{EndClock: readClocks(), StopReason: "rotated"}
	now := rc.loss()
	tr.Loss = lossSince(now, r.lossBase, r.lostBefore)
	if rc.ctl != nil {
		tr.Loss.KernelLostAfter = status.Lost
		st := status
		tr.AuditAfter = &st
	}
	hdr := rc.header(rc.rules, status, r.index+1)
	w, err := format.NewWriter(f, hdr, rc.writerOptions())
	if err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("capture: %s: %w", path, err)
	}
	rc.rotations <- rotateRequest{w: w, file: f, old: r.path, trailer: tr}
	r.pending = true
	r.index++
	r.number = number
	r.path = path
	r.opened = time.Now()
	r.lossBase = now
	r.lostBefore = status.Lost // 0 without audit
	rc.queue <- nil
	rc.writeNote(format.Note{Kind: format.NoteAuditStatus, Status: &status, Text: "start"})
	if !rc.opts.NoSnapshot {
		if err := rc.snapshot(); err != nil {
			rc.notice("the /proc snapshot of %s failed: %v", filepath.Base(path), err)
		}
	}
	return nil
}

// lossSince is what was lost between base and now (cumulative counters),
// with the kernel counter as it was when the part began.
func lossSince(now, base format.Loss, lostBefore uint32) format.Loss {
	l := format.Loss{KernelLostBefore: lostBefore, KernelLostAfter: lostBefore,
		ENOBUFS: map[string]int64{}, RecorderDropped: map[string]int64{}, Truncated: map[string]int64{}}
	for k, v := range now.ENOBUFS {
		l.ENOBUFS[k] = v - base.ENOBUFS[k]
	}
	for k, v := range now.RecorderDropped {
		l.RecorderDropped[k] = v - base.RecorderDropped[k]
	}
	for k, v := range now.Truncated {
		l.Truncated[k] = v - base.Truncated[k]
	}
	return l
}

// switchPart runs on the writer goroutine at the nil chunk: it closes the
// old part with its trailer and makes the new part current.
func (rc *recording) switchPart(werr error) error {
	req := <-rc.rotations
	err := werr
	if err == nil {
		err = rc.w.Close(req.trailer)
	}
	if cerr := rc.file.Close(); cerr != nil && err == nil {
		err = cerr
	}
	rc.wmu.Lock()
	stats := rc.w.Stats()
	rc.w, rc.file = req.w, req.file
	rc.wmu.Unlock()
	rc.rotated <- rotateDone{closed: req.old, stats: stats, err: err}
	return err
}

// rotationDone takes the writer's answer: it applies the retention and
// starts a rotation asked for meanwhile.
func (rc *recording) rotationDone(d rotateDone) error {
	r := rc.rot
	r.pending = false
	r.closed = append(r.closed, d.stats)
	if d.err != nil {
		return fmt.Errorf("capture: closing %s: %w", d.closed, d.err)
	}
	rc.retain()
	if r.again {
		r.again = false
		return rc.rotate()
	}
	return nil
}

// retain removes the oldest captures of the directory past the retention
// (KeepFiles files, KeepBytes bytes); never the part being written.
func (rc *recording) retain() {
	o := &rc.opts
	if o.KeepFiles <= 0 && o.KeepBytes <= 0 {
		return
	}
	parts, err := listParts(rc.rot.dir)
	if err != nil {
		rc.notice("retention: %v", err)
		return
	}
	var total int64
	for _, p := range parts {
		total += p.size
	}
	for len(parts) > 1 {
		p := parts[0]
		if p.num >= rc.rot.number {
			break
		}
		over := (o.KeepFiles > 0 && len(parts) > o.KeepFiles) || (o.KeepBytes > 0 && total > o.KeepBytes)
		if !over {
			break
		}
		if err := os.Remove(p.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			rc.notice("retention: %v", err)
			return
		}
		total -= p.size
		parts = parts[1:]
	}
}

// writer is the current part's writer (safe from any goroutine).
func (rc *recording) writer() *format.Writer {
	rc.wmu.Lock()
	defer rc.wmu.Unlock()
	return rc.w
}

// writerStats adds up the parts written so far (on the goroutine of run,
// which alone keeps rot.closed).
func (rc *recording) writerStats() format.WriterStats {
	s := rc.writer().Stats()
	if rc.rot != nil {
		for _, c := range rc.rot.closed {
			s.Records += c.Records
			s.UncompressedBytes += c.UncompressedBytes
			s.CompressedBytes += c.CompressedBytes
			s.Segments += c.Segments
		}
	}
	return s
}

package format

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// A capture set is what `ctrace record --rotate` writes: numbered captures
// in one directory, each complete on its own, that together hold one
// recording (Header.Set). OpenSet reads them as one capture.

// Window is a wall-clock time window in ns since the epoch; 0 leaves a
// side open. OpenSet reads only the parts of a set that can hold records of
// the window.
type Window struct{ Since, Until int64 }

// SetSlack is how far beyond a window OpenSet still takes a part: a record
// can reach the recorder after the part it belongs to by time has been
// closed, and audit times are those of the kernel, not of the receive.
const SetSlack = 5 * int64(time.Second)

// ErrNotOneRecording is returned by OpenSet for captures that are not parts
// of one recording.
var ErrNotOneRecording = errors.New("format: the captures are not one recording")

// SetPart describes one capture of a set, from its header.
type SetPart struct {
	Path  string
	SetID string
	Index int
	Start int64 // wall clock at the part's start (header clock), ns
	Size  int64
}

// SetFiles lists the captures that args name: files as given, and the
// *.ctr files of directories in name order (empty files, which a recorder
// has just created, are left out).
func SetFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		ents, err := os.ReadDir(a)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, e := range ents {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".ctr") {
				continue
			}
			if info, err := e.Info(); err != nil || info.Size() == 0 {
				continue
			}
			files = append(files, filepath.Join(a, e.Name()))
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: no capture (*.ctr) in this directory", a)
		}
	}
	return files, nil
}

// OpenSet opens the captures args name (capture files, or directories of
// a capture set) as one capture. One file is opened as Open does. Several
// must be parts of one recording (Header.Set); they are read in their
// order, as one stream of records:
//   - segment indexes run on across the files (Record.Segment, Segments);
//   - the /proc snapshot is taken from the first part read: the snapshots
//     that later parts begin with (so that each reads on its own) describe
//     processes the earlier parts already told of;
//   - a part missing between two that are read is reported in Problems
//     (what it held is lost), as is a part that ends without its trailer
//     before the last;
//   - Trailer merges the parts' trailers (nil when one has none).
//
// win, when set, leaves out the parts that cannot hold records of it
// (without reading more than their headers).
func OpenSet(args []string, win Window) (*Reader, error) {
	files, err := SetFiles(args)
	if err != nil {
		return nil, err
	}
	if len(files) == 1 {
		return Open(files[0])
	}
	name := strings.Join(args, " ")
	if len(args) == 1 {
		name = args[0]
	}
	var all []*Reader
	closeAll := func() {
		for _, r := range all {
			r.Close()
		}
	}
	groups := map[string][]*Reader{}
	var order []string
	for _, f := range files {
		r, err := Open(f)
		if err != nil {
			closeAll()
			return nil, err
		}
		all = append(all, r)
		h := r.Header()
		if h.Set == nil {
			closeAll()
			return nil, fmt.Errorf("%w: %s is not part of a capture set (it was not recorded with --rotate): read it alone", ErrNotOneRecording, f)
		}
		if _, ok := groups[h.Set.ID]; !ok {
			order = append(order, h.Set.ID)
		}
		groups[h.Set.ID] = append(groups[h.Set.ID], r)
	}
	type pick struct {
		id    string
		parts []*Reader
		from  int64
	}
	var picks []pick
	for _, id := range order {
		g := groups[id]
		sort.SliceStable(g, func(i, j int) bool { return g[i].Header().Set.Index < g[j].Header().Set.Index })
		for i := 1; i < len(g); i++ {
			if g[i].Header().Set.Index == g[i-1].Header().Set.Index {
				closeAll()
				return nil, fmt.Errorf("%w: %s and %s are both part %d of recording %s", ErrNotOneRecording, g[i-1].Name(), g[i].Name(), g[i].Header().Set.Index, id)
			}
		}
		if sel := inWindow(g, all, win); len(sel) > 0 {
			picks = append(picks, pick{id: id, parts: sel, from: sel[0].Header().Clock.RealtimeNS})
		}
	}
	switch {
	case len(picks) == 0:
		closeAll()
		return nil, fmt.Errorf("%s: no capture holds records of the window", name)
	case len(picks) > 1:
		sort.Slice(picks, func(i, j int) bool { return picks[i].from < picks[j].from })
		var b strings.Builder
		for _, p := range picks {
			first, last := p.parts[0], p.parts[len(p.parts)-1]
			fmt.Fprintf(&b, "; %s to %s (from %s)", filepath.Base(first.Name()), filepath.Base(last.Name()),
				time.Unix(0, p.from).UTC().Format(time.RFC3339))
		}
		closeAll()
		return nil, fmt.Errorf("%w: %s holds %d recordings (the recorder was restarted)%s: give the files of one, or a --since/--until inside one",
			ErrNotOneRecording, name, len(picks), b.String())
	}
	sel := picks[0].parts
	kept := map[*Reader]bool{}
	for _, r := range sel {
		kept[r] = true
	}
	for _, r := range all {
		if !kept[r] {
			r.Close()
		}
	}
	if len(sel) == 1 {
		return sel[0], nil
	}
	first := sel[0]
	r := &Reader{name: name, hdr: first.hdr, fileID: first.fileID, segIdx: -1, set: &partSet{parts: sel}}
	s := r.set
	for i := 1; i < len(sel); i++ {
		a, b := sel[i-1].Header().Set.Index, sel[i].Header().Set.Index
		if b != a+1 {
			missing := fmt.Sprintf("part %d of the set is", a+1)
			if b > a+2 {
				missing = fmt.Sprintf("parts %d to %d of the set are", a+1, b-1)
			}
			s.problems = append(s.problems, &FormatError{File: sel[i].Name(), Offset: 0, Segment: -1,
				Err: fmt.Errorf("%s missing (between %s and this file): what was recorded there is lost", missing, filepath.Base(sel[i-1].Name()))})
		}
	}
	return r, nil
}

// inWindow returns the parts of one recording (g, in order) that can hold
// records of win. A part ends where the next begins; the last where a later
// recording among all begins, else it is open.
func inWindow(g, all []*Reader, win Window) []*Reader {
	var sel []*Reader
	for i, r := range g {
		start := r.Header().Clock.RealtimeNS
		if win.Until != 0 && start-SetSlack > win.Until {
			continue
		}
		end, open := int64(0), true
		if i+1 < len(g) {
			end, open = g[i+1].Header().Clock.RealtimeNS, false
		} else {
			for _, o := range all {
				if st := o.Header().Clock.RealtimeNS; o.Header().Set.ID != r.Header().Set.ID && st > start && (open || st < end) {
					end, open = st, false
				}
			}
		}
		if !open && win.Since != 0 && end+SetSlack < win.Since {
			continue
		}
		sel = append(sel, r)
	}
	return sel
}

// partSet is the state of a Reader over several parts of a set.
type partSet struct {
	parts   []*Reader
	cur     int
	started bool // the current part's concurrency is set
	conc    int
	segBase int             // set-wide index of the current part's segment 0
	segs    []SegmentHeader // the segment headers met so far, set-wide indexes
	curSegs int             // how many of the current part's headers are in segs
	closed  bool

	problems []*FormatError // of the set itself: missing parts, parts cut short
	trailer  *Trailer
	eof      bool
}

// Parts returns the files of a capture set read as one, in order; nil for a
// single file.
func (r *Reader) Parts() []string {
	if r.set == nil {
		return nil
	}
	var p []string
	for _, x := range r.set.parts {
		p = append(p, x.Name())
	}
	return p
}

func (r *Reader) nextInSet() (Record, error) {
	s := r.set
	for s.cur < len(s.parts) {
		p := s.parts[s.cur]
		if !s.started {
			p.SetConcurrency(s.conc)
			s.started = true
		}
		rec, err := p.Next()
		if errors.Is(err, io.EOF) {
			s.endPart()
			continue
		}
		if err != nil {
			return rec, err
		}
		if rec.Source == SourceSnapshot && s.cur > 0 {
			continue
		}
		rec.Segment += s.segBase
		return rec, nil
	}
	if !s.eof {
		s.eof = true
		s.trailer = mergeTrailers(s.parts)
	}
	return Record{}, io.EOF
}

// sum adds up f over the parts.
func (s *partSet) sum(f func(*Reader) int64) int64 {
	var n int64
	for _, p := range s.parts {
		n += f(p)
	}
	return n
}

// syncSegs appends the current part's new segment headers.
func (s *partSet) syncSegs() {
	if s.cur >= len(s.parts) {
		return
	}
	hs := s.parts[s.cur].Segments()
	for _, h := range hs[s.curSegs:] {
		h.Index += uint32(s.segBase)
		s.segs = append(s.segs, h)
	}
	s.curSegs = len(hs)
}

// endPart moves on to the next part.
func (s *partSet) endPart() {
	p := s.parts[s.cur]
	s.syncSegs()
	next := 0
	for _, h := range p.Segments() {
		next = max(next, int(h.Index)+1)
	}
	if s.cur < len(s.parts)-1 && p.Truncated() {
		s.problems = append(s.problems, &FormatError{File: p.Name(), Offset: p.TruncatedAt(), Segment: -1,
			Err: errors.New("the part ends here without its trailer, before the parts that follow it")})
	}
	p.cancelJobs(-1)
	s.segBase += next
	s.cur++
	s.curSegs = 0
	s.started = false
}

// mergeTrailers is the trailer of a set: the last part's, with the losses
// and frames of all of them; nil when a part has none.
func mergeTrailers(parts []*Reader) *Trailer {
	for _, p := range parts {
		if p.Trailer() == nil {
			return nil
		}
	}
	last := *parts[len(parts)-1].Trailer()
	t := last
	t.Segments = nil // offsets of different files
	t.Frames = map[string]int64{}
	t.Loss = Loss{KernelLostBefore: parts[0].Trailer().Loss.KernelLostBefore, KernelLostAfter: last.Loss.KernelLostAfter,
		ENOBUFS: map[string]int64{}, RecorderDropped: map[string]int64{}, Truncated: map[string]int64{}}
	for _, p := range parts {
		pt := p.Trailer()
		for k, v := range pt.Frames {
			t.Frames[k] += v
		}
		for k, v := range pt.Loss.ENOBUFS {
			t.Loss.ENOBUFS[k] += v
		}
		for k, v := range pt.Loss.RecorderDropped {
			t.Loss.RecorderDropped[k] += v
		}
		for k, v := range pt.Loss.Truncated {
			t.Loss.Truncated[k] += v
		}
		if pt.CommandPID != 0 && t.CommandPID == 0 {
			t.CommandPID = pt.CommandPID
		}
	}
	return &t
}

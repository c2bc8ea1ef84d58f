//go:build linux

package capture

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctrace/ctrace/format"
)

// drainGrace is how long the readers keep reading after the rules are gone,
// for the events the kernel still holds.
const drainGrace = 300 * time.Millisecond

// lockRecorder makes sure only one recorder runs on this machine.
func lockRecorder(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	p := filepath.Join(dir, "record.lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b, _ := os.ReadFile(p)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (pid %s holds %s)", ErrAnotherRecorder, strings.TrimSpace(string(b)), p)
		}
		return nil, fmt.Errorf("capture: locking %s: %w", p, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Close() }, nil
}

func (rc *recording) readerFailure() error {
	for _, r := range rc.readers {
		if err := r.err(); err != nil && !r.stopping.Load() {
			return fmt.Errorf("capture: receiving from the %s socket: %w", r.name, err)
		}
	}
	return nil
}

func (rc *recording) run(ctx context.Context) (*Result, error) {
	o := &rc.opts
	start := time.Now()
	res := &Result{Path: o.Output, AuditMode: rc.auditMode, ExitCode: -1}
	if rc.rot != nil {
		fmt.Fprintf(o.Stderr, "recording to the capture set %s from %s (audit: %s, proc connector: %s; %s)\n",
			o.Output, filepath.Base(rc.rot.path), rc.auditMode, onOff(rc.proc != nil), rc.rotationText())
		rc.retain()
	} else {
		fmt.Fprintf(o.Stderr, "recording to %s (audit: %s, proc connector: %s)\n", o.Output, rc.auditMode, onOff(rc.proc != nil))
	}

	var cmd *exec.Cmd
	cmdDone := make(chan error, 1)
	var runErr error
	reason := ""
	if len(o.Command) > 0 {
		cmd = exec.Command(o.Command[0], o.Command[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
		if err := cmd.Start(); err != nil {
			runErr = fmt.Errorf("capture: starting %s: %w", o.Command[0], err)
			reason = "error"
			cmd = nil
		} else {
			res.CommandPID = cmd.Process.Pid
			rc.writeNote(format.Note{Kind: format.NoteCommandStart, PID: cmd.Process.Pid, Text: strings.Join(o.Command, " ")})
			go func() { cmdDone <- cmd.Wait() }()
		}
	}
	var durC <-chan time.Time
	if o.Duration > 0 {
		t := time.NewTimer(o.Duration)
		defer t.Stop()
		durC = t.C
	}
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	cmdRunning := cmd != nil
	interrupts := 0
	for reason == "" {
		select {
		case <-ctx.Done():
			reason = "canceled"
		case sig := <-o.Signals:
			interrupts++
			if cmdRunning && interrupts == 1 {
				if sig == syscall.SIGINT {
					rc.clearStatus()
					fmt.Fprintln(o.Stderr, "ctrace: waiting for the command to exit (interrupt again to stop now)")
				} else {
					_ = cmd.Process.Signal(sig)
				}
				continue
			}
			reason = "signal"
		case <-durC:
			reason = "duration"
		case <-cmdDone:
			cmdRunning = false
			reason = "command"
		case err := <-rc.writerFail:
			reason = "error"
			runErr = fmt.Errorf("capture: recording stopped: %w", err)
		case <-o.Rotate:
			if rc.rot != nil {
				if err := rc.rotate(); err != nil {
					reason, runErr = "error", err
				}
			}
		case d := <-rc.rotated:
			if err := rc.rotationDone(d); err != nil {
				reason, runErr = "error", err
			}
		case <-poll.C:
			if err := rc.readerFailure(); err != nil {
				reason = "error"
				runErr = err
			}
			if reason == "" && rc.rotateDue() {
				if err := rc.rotate(); err != nil {
					reason, runErr = "error", err
				}
			}
			if o.StatusLine {
				rc.drawStatus(start)
			}
		}
	}
	if cmdRunning {
		// Stopped before the command ended: end it, as a terminal would.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-cmdDone:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-cmdDone
		}
	}
	if cmd != nil && cmd.ProcessState != nil {
		res.ExitCode, res.Signal = exitOf(cmd.ProcessState)
		n := format.Note{Kind: format.NoteCommandExit, PID: res.CommandPID}
		if res.Signal > 0 {
			n.Signal = &res.Signal
		} else {
			n.ExitCode = &res.ExitCode
		}
		rc.writeNote(n)
	}
	rc.clearStatus()

	// Stop: rules out first, then drain what the kernel still holds.
	rc.restore()
	for _, r := range rc.readers {
		r.stop(drainGrace)
	}
	rc.rwg.Wait()
	if err := rc.readerFailure(); err != nil && runErr == nil {
		runErr = err
	}
	if rc.auditMode == "unicast" {
		_ = unregisterAuditDaemon(rc.audit)
	}
	if rc.proc != nil {
		_ = procConnectorOp(rc.proc, procCnMcastIgnore)
	}
	tr := format.Trailer{EndClock: readClocks(), StopReason: reason}
	total := rc.loss()
	tr.Loss = total
	if rc.rot != nil {
		// The last part's trailer holds what was lost while it was written.
		tr.Loss = lossSince(total, rc.rot.lossBase, rc.rot.lostBefore)
	}
	if rc.ctl != nil {
		if st, err := rc.ctl.Status(); err == nil {
			tr.Loss.KernelLostAfter = st.Lost
			total.KernelLostAfter = st.Lost
			tr.AuditAfter = &st
			rc.writeNote(format.Note{Kind: format.NoteAuditStatus, Status: &st, Text: "stop"})
		}
	}
	if cmd != nil {
		tr.CommandPID = res.CommandPID
		if cmd.ProcessState != nil {
			if res.Signal > 0 {
				tr.CommandSignal = &res.Signal
			} else {
				tr.CommandExitCode = &res.ExitCode
			}
		}
	}
	if runErr != nil {
		tr.Error = runErr.Error()
	}
	close(rc.queue)
	werr := <-rc.writerDone
	if rc.rot != nil && rc.rot.pending {
		// The writer switched parts on its way to the end.
		rc.rot.again = false
		if err := rc.rotationDone(<-rc.rotated); err != nil && runErr == nil {
			runErr = err
		}
	}
	if werr == nil {
		werr = rc.w.Close(tr)
	}
	if werr != nil && runErr == nil {
		runErr = fmt.Errorf("capture: writing %s: %w", rc.outputName(), werr)
	}
	if rc.rot != nil {
		rc.retain()
	}
	res.Stats = rc.writerStats()
	res.ReceiveToWriter = rc.latency.summary()
	if o.StatsFile != "" {
		if err := rc.writeStats(o.StatsFile, res.ReceiveToWriter); err != nil {
			rc.notice("writing the statistics file: %v", err)
		}
	}
	res.Loss = total
	res.StopReason = reason
	res.Duration = time.Since(start)
	res.Notices = rc.notices
	res.Frames = map[string]int64{}
	for src, st := range rc.stats {
		res.Frames[src.String()] = st.frames.Load()
	}
	rc.summary(res)
	return res, runErr
}

// rotationText says when parts rotate.
func (rc *recording) rotationText() string {
	o := &rc.opts
	var t []string
	if o.RotateBytes > 0 {
		t = append(t, "a new part at "+sizeString(o.RotateBytes))
	}
	if o.RotateEvery > 0 {
		t = append(t, "a new part every "+o.RotateEvery.String())
	}
	t = append(t, "on SIGHUP")
	switch {
	case o.KeepFiles > 0 && o.KeepBytes > 0:
		t = append(t, fmt.Sprintf("keeping %d captures and %s", o.KeepFiles, sizeString(o.KeepBytes)))
	case o.KeepFiles > 0:
		t = append(t, fmt.Sprintf("keeping %d captures", o.KeepFiles))
	case o.KeepBytes > 0:
		t = append(t, "keeping "+sizeString(o.KeepBytes))
	}
	return strings.Join(t, ", ")
}

func (rc *recording) loss() format.Loss {
	l := format.Loss{KernelLostBefore: rc.lostBefore, KernelLostAfter: rc.lostBefore,
		ENOBUFS: map[string]int64{}, RecorderDropped: map[string]int64{}, Truncated: map[string]int64{}}
	for src, st := range rc.stats {
		l.ENOBUFS[src.String()] = st.enobufs.Load()
		l.RecorderDropped[src.String()] = st.dropped.Load()
		l.Truncated[src.String()] = st.truncated.Load()
	}
	return l
}

// unregisterAuditDaemon clears the audit pid (AUDIT_SET pid=0).
func unregisterAuditDaemon(s *dataSocket) error {
	if s == nil {
		return nil
	}
	return sendAuditSetPID(s, 0)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func (rc *recording) totals() (frames, lost int64) {
	for _, st := range rc.stats {
		frames += st.frames.Load()
		lost += st.enobufs.Load() + st.dropped.Load()
	}
	return frames, lost
}

// drawStatus redraws the live status line.
func (rc *recording) drawStatus(start time.Time) {
	el := time.Since(start)
	frames, lost := rc.totals()
	ws := rc.writerStats()
	ratio := 0.0
	if ws.CompressedBytes > 0 {
		ratio = float64(ws.UncompressedBytes) / float64(ws.CompressedBytes)
	}
	rate := float64(frames) / max(el.Seconds(), 0.001)
	fmt.Fprintf(rc.opts.Stderr, "\r\033[K%s  %.0f frames/s  %s written  ratio %.1fx  lost %d",
		el.Round(time.Second), rate, sizeString(ws.CompressedBytes), ratio, lost)
	rc.statusShown = true
}

func (rc *recording) clearStatus() {
	if rc.statusShown {
		fmt.Fprint(rc.opts.Stderr, "\r\033[K")
		rc.statusShown = false
	}
}

func (rc *recording) summary(res *Result) {
	l := res.Loss
	var enobufs, dropped int64
	for _, v := range l.ENOBUFS {
		enobufs += v
	}
	for _, v := range l.RecorderDropped {
		dropped += v
	}
	ratio := 0.0
	if res.Stats.CompressedBytes > 0 {
		ratio = float64(res.Stats.UncompressedBytes) / float64(res.Stats.CompressedBytes)
	}
	what := res.Path
	if rc.rot != nil {
		what = fmt.Sprintf("%s (%d captures, the last %s)", res.Path, len(rc.rot.closed)+1, filepath.Base(rc.rot.path))
	}
	fmt.Fprintf(rc.opts.Stderr, "recorded %s in %s (stopped: %s): %d audit, %d proc frames; %s on disk, ratio %.1fx; lost: kernel %d, ENOBUFS %d, dropped %d\n",
		what, res.Duration.Round(time.Millisecond), res.StopReason, res.Frames["audit"], res.Frames["proc"],
		sizeString(res.Stats.CompressedBytes), ratio, int64(l.KernelLostAfter)-int64(l.KernelLostBefore), enobufs, dropped)
}

// sizeString shows a byte count for people.
func sizeString(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}

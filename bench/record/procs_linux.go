//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a child process of the benchmark: a collector or the storm. Every
// child runs in its own process group (a terminal's ^C reaches only this
// program, which stops them in order) and gets stopSig if this program dies.
type proc struct {
	name    string
	cmd     *exec.Cmd
	stopSig syscall.Signal

	mu    sync.Mutex
	out   strings.Builder // stdout and stderr, interleaved by line
	lines chan string
	done  chan struct{}
	err   error // Wait's result, once done is closed
}

var (
	procsMu sync.Mutex
	procs   = map[*proc]bool{}
)

// ours reports whether pid is a live child of the benchmark.
func ours(pid int) bool {
	procsMu.Lock()
	defer procsMu.Unlock()
	for p := range procs {
		if p.cmd.Process != nil && p.cmd.Process.Pid == pid {
			return true
		}
	}
	return false
}

// startProc starts name args...; stopSig is what stop and the parent's
// death send.
func startProc(label string, env []string, stopSig syscall.Signal, name string, args ...string) (*proc, error) {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: stopSig}
	if env != nil {
		cmd.Env = env
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &proc{name: label, cmd: cmd, stopSig: stopSig, lines: make(chan string, 1024), done: make(chan struct{})}
	// Started and registered under the lock, after checking for an abort:
	// stopAll, which runs once aborting is set, sees every child.
	procsMu.Lock()
	if aborting.Load() {
		procsMu.Unlock()
		return nil, errAborted
	}
	if err := cmd.Start(); err != nil {
		procsMu.Unlock()
		return nil, fmt.Errorf("starting %s: %w", label, err)
	}
	procs[p] = true
	procsMu.Unlock()
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out.WriteString(line + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- line:
			default:
			}
		}
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		<-scanned
		procsMu.Lock()
		delete(procs, p)
		procsMu.Unlock()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// output is what the process printed so far.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitLine waits for a line containing want. It fails when the process
// exits first or timeout passes.
func (p *proc) waitLine(want string, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case l := <-p.lines:
			if strings.Contains(l, want) {
				return nil
			}
		case <-p.done:
			// Every line is in the channel by now (or was dropped when it
			// was full: then it is in the output).
			for {
				select {
				case l := <-p.lines:
					if strings.Contains(l, want) {
						return nil
					}
				default:
					if strings.Contains(p.output(), want) {
						return nil
					}
					return fmt.Errorf("%s exited (%v) before saying %q: %s", p.name, p.err, want, strings.TrimSpace(p.output()))
				}
			}
		case <-t.C:
			return fmt.Errorf("%s did not say %q within %v: %s", p.name, want, timeout, strings.TrimSpace(p.output()))
		}
	}
}

// wait waits for the process to exit by itself.
func (p *proc) wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("%s still running after %v", p.name, timeout)
	}
}

// stop sends stopSig, waits up to grace, then kills the process group.
// It returns the exit error, nil for a clean exit.
func (p *proc) stop(grace time.Duration) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = syscall.Kill(-p.pid(), p.stopSig) // its process group: the storm's workers too
	select {
	case <-p.done:
		return p.err
	case <-time.After(grace):
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("%s did not stop within %v after %v: killed", p.name, grace, p.stopSig)
}

// stopAll stops every child still running, collectors first with their own
// signal (ctrace record restores the audit state on SIGTERM), in parallel.
func stopAll() {
	procsMu.Lock()
	var live []*proc
	for p := range procs {
		live = append(live, p)
	}
	procsMu.Unlock()
	var wg sync.WaitGroup
	for _, p := range live {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.stop(10 * time.Second); err != nil && !isSignalExit(err) {
				logf("stopping %s: %v", p.name, err)
			}
		}()
	}
	wg.Wait()
}

func isSignalExit(err error) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return true
		}
	}
	return false
}

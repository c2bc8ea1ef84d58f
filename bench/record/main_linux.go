//go:build linux

// Command record is `make bench-record`: it measures the recorder against
// the physical limit of kernel audit and against auditd, side by side in
// one run, on one rule set (ctrace's defaults, `ctrace record
// --print-rules`), and checks the targets of issue 6.
//
// For each storm (bench/storm.c: "exec", trivial processes; "mixed", an
// exec, a file written, renamed and removed, and a thread per iteration) and
// each round, it runs the storm:
//
//  1. with audit off (no rules, enabled=0);
//  2. while bench/nullaudit.c, which reads and discards every frame, is the
//     audit daemon: the physical limit of any collector on this kernel;
//  3. while auditd (Debian's, started here with a temporary auditd.conf:
//     log_format = RAW, flush = INCREMENTAL_ASYNC by default) is the audit
//     daemon;
//  4. under `ctrace record` (unicast: ctrace is the audit daemon);
//  5. under `ctrace record` beside a running auditd (multicast).
//
// (2) and (3) get ctrace's default rules loaded with auditctl, their
// self-exclusion pointed at the collector, and the backlog limit ctrace
// sets. It reports the storm's rate, the collector's CPU (utime+stime of
// /proc/PID/stat, read before the storm and once the collector is idle
// again), the kernel's lost counter, output bytes per exec, ctrace's losses
// (`ctrace info --format json`: ENOBUFS, audit serial gaps, proc sequence
// gaps, recorder drops) and latencies, with the median of the rounds.
//
// It takes the kernel test lock (internal/kerneltest) and, except while
// ctrace records, the recorder lock; it restores the audit rules and
// settings it found on every way out (normal end, error, SIGINT, SIGTERM,
// SIGHUP) and stops every process it started.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ctrace/ctrace/capture"
)

var clockTicks = capture.ClockTicks()

func logf(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench-record: "+f+"\n", a...)
}

type config struct {
	ctrace    string
	extra     []string // more `ctrace record` arguments
	src       string
	secs      float64
	runs      int
	workers   int
	storms    []string
	setups    []string
	flush     string
	keep      bool
	wait      time.Duration
	cc        string
	readyWait time.Duration
}

// Setups, in the order they run in each round.
const (
	setupOff       = "off"
	setupDiscard   = "discard"
	setupAuditd    = "auditd"
	setupCtrace    = "ctrace"
	setupMulticast = "multicast"
)

var allSetups = []string{setupOff, setupDiscard, setupAuditd, setupCtrace, setupMulticast}

var setupTitle = map[string]string{
	setupOff:       "audit off",
	setupDiscard:   "discard-only consumer",
	setupAuditd:    "auditd (RAW log)",
	setupCtrace:    "ctrace record",
	setupMulticast: "ctrace beside auditd",
}

// sample is one storm under one setup.
type sample struct {
	iterations int64
	seconds    float64
	rate       float64

	cpu       float64 // the collector's CPU seconds (ctrace's in multicast)
	cpuAuditd float64 // multicast: auditd's
	lost      int64   // the kernel's lost counter, after minus before
	outBytes  int64   // capture or log bytes
	rawBytes  int64   // discard: bytes of the datagrams received
	frames    int64   // discard: datagrams received; ctrace: audit+proc frames
	idleWait  time.Duration

	info              *ctraceInfo
	procLag, auditLag percentiles
	handoff           percentiles
	framesPerPass     float64 // audit and proc frames per receive pass
	auditdBytes       int64   // multicast: auditd's log
	notices           string
}

type bench struct {
	cfg       config
	dir       string
	storm     string
	nullaudit string
	k         *auditKernel
	kLock     *fileLock
	rLock     *fileLock
	defaults  []string
	seq       int

	results map[string]map[string][]*sample // storm -> setup -> rounds
}

var aborting atomic.Bool

// savedStatePath keeps the audit state found at the start, as auditctl
// prints it, until it is restored (for a person if restoring fails).
const savedStatePath = "/run/ctrace-bench-record.saved-audit-state"

func main() { os.Exit(run()) }

func run() int {
	var cfg config
	var storms, setups string
	flag.StringVar(&cfg.ctrace, "ctrace", "bin/ctrace", "the ctrace binary to measure")
	var extra string
	flag.StringVar(&extra, "record-args", "", "more `ctrace record` arguments, space-separated (experiments: --no-proc, --queue-cap 64MiB...)")
	flag.StringVar(&cfg.src, "src", "bench", "directory holding storm.c and nullaudit.c")
	flag.Float64Var(&cfg.secs, "secs", 5, "storm length in seconds, per setup and round")
	flag.IntVar(&cfg.runs, "runs", 3, "rounds (the median is reported)")
	flag.IntVar(&cfg.workers, "workers", runtime.NumCPU(), "storm worker processes")
	flag.StringVar(&storms, "storms", "exec,mixed", "storms to run: exec, mixed")
	flag.StringVar(&setups, "setups", strings.Join(allSetups, ","), "setups to run: "+strings.Join(allSetups, ", "))
	flag.StringVar(&cfg.flush, "auditd-flush", "INCREMENTAL_ASYNC", "auditd.conf flush setting: NONE, INCREMENTAL, INCREMENTAL_ASYNC, DATA, SYNC")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory (captures, auditd logs)")
	flag.DurationVar(&cfg.wait, "wait", 15*time.Minute, "how long to wait for locks held by tests or other recorders")
	flag.StringVar(&cfg.cc, "cc", "gcc", "C compiler")
	flag.Parse()
	cfg.extra = strings.Fields(extra)
	cfg.storms = strings.Split(storms, ",")
	cfg.setups = strings.Split(setups, ",")
	cfg.readyWait = 60 * time.Second
	for _, s := range cfg.storms {
		if s != "exec" && s != "mixed" {
			logf("unknown storm %q", s)
			return 2
		}
	}
	for _, s := range cfg.setups {
		if !slices.Contains(allSetups, s) {
			logf("unknown setup %q", s)
			return 2
		}
	}
	if cfg.runs < 1 || cfg.secs <= 0 || cfg.workers < 1 {
		logf("-runs, -secs and -workers must be positive")
		return 2
	}
	if os.Geteuid() != 0 {
		logf("needs root (kernel audit)")
		return 1
	}
	b := &bench{cfg: cfg, results: map[string]map[string][]*sample{}}

	var once sync.Once
	cleanup := func() {
		once.Do(func() {
			aborting.Store(true)
			stopAll()
			if b.k != nil && b.k.savedOK {
				if err := b.k.restore(); err != nil {
					logf("RESTORING THE AUDIT STATE FAILED: %v\nthe state found at the start is in %s: compare `auditctl -s`, `auditctl -l`", err, savedStatePath)
				} else {
					logf("audit rules and settings restored")
					os.Remove(savedStatePath)
				}
			}
			b.rLock.unlock()
			b.kLock.unlock()
			if b.dir != "" {
				if cfg.keep {
					logf("kept %s", b.dir)
				} else {
					os.RemoveAll(b.dir)
				}
			}
		})
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		logf("%v: stopping the collectors and restoring the audit state", s)
		cleanup()
		os.Exit(130)
	}()
	defer cleanup()
	defer func() {
		if r := recover(); r != nil {
			cleanup()
			panic(r)
		}
	}()

	if err := b.prepare(); err != nil {
		if aborting.Load() {
			select {} // the signal handler cleans up and exits
		}
		logf("%v", err)
		return 1
	}
	if err := b.rounds(); err != nil {
		if aborting.Load() {
			select {}
		}
		logf("%v", err)
		cleanup()
		b.report()
		return 1
	}
	cleanup()
	if !b.report() {
		return 3
	}
	return 0
}

// prepare builds the workload, takes the locks and saves the audit state.
func (b *bench) prepare() error {
	var err error
	if _, err := os.Stat(b.cfg.ctrace); err != nil {
		return fmt.Errorf("ctrace binary: %w (run `make build` first)", err)
	}
	if b.cfg.ctrace, err = filepath.Abs(b.cfg.ctrace); err != nil {
		return err
	}
	for _, tool := range []string{"auditctl", b.cfg.cc} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is needed: %w", tool, err)
		}
	}
	if _, err := exec.LookPath("auditd"); err != nil {
		var kept []string
		for _, s := range b.cfg.setups {
			if s != setupAuditd && s != setupMulticast {
				kept = append(kept, s)
			}
		}
		logf("auditd is not installed (apt-get install auditd): skipping the auditd and multicast setups")
		b.cfg.setups = kept
	}
	b.dir, err = os.MkdirTemp("", "ctrace-bench-")
	if err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(b.dir, "files"), 0o700); err != nil {
		return err
	}
	b.storm = filepath.Join(b.dir, "storm")
	b.nullaudit = filepath.Join(b.dir, "nullaudit")
	for _, c := range [][]string{
		{"-O2", "-Wall", "-o", b.storm, filepath.Join(b.cfg.src, "storm.c"), "-lpthread"},
		{"-O2", "-Wall", "-o", b.nullaudit, filepath.Join(b.cfg.src, "nullaudit.c")},
	} {
		if out, err := exec.Command(b.cfg.cc, c...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s %s: %v\n%s", b.cfg.cc, strings.Join(c, " "), err, out)
		}
	}
	out, err := exec.Command(b.cfg.ctrace, "record", "--print-rules").Output()
	if err != nil {
		return fmt.Errorf("ctrace record --print-rules: %w", err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			b.defaults = append(b.defaults, l)
		}
	}
	if len(b.defaults) == 0 {
		return fmt.Errorf("ctrace record --print-rules printed no rules")
	}

	if b.kLock, err = lockFile(kernelTestLock, b.cfg.wait, "kernel tests are running"); err != nil {
		return err
	}
	if err := b.lockRecorder(); err != nil {
		return err
	}
	if b.k, err = openAuditKernel(); err != nil {
		return err
	}
	if err := b.k.waitNoDaemon(b.cfg.wait); err != nil {
		return err
	}
	if err := b.k.save(savedStatePath); err != nil {
		return err
	}
	return b.k.quiet()
}

func (b *bench) lockRecorder() error {
	var err error
	b.rLock, err = lockFile(recorderLock, b.cfg.wait, "a ctrace recorder is running")
	if err == nil {
		b.rLock.writePID()
	}
	return err
}

func (b *bench) rounds() error {
	logf("%d round(s) of %v per setup, %d storm workers, storms %s, setups %s; working in %s",
		b.cfg.runs, time.Duration(b.cfg.secs*float64(time.Second)), b.cfg.workers,
		strings.Join(b.cfg.storms, ","), strings.Join(b.cfg.setups, ","), b.dir)
	for round := 1; round <= b.cfg.runs; round++ {
		for _, storm := range b.cfg.storms {
			for _, setup := range b.cfg.setups {
				if aborting.Load() {
					return errAborted
				}
				s, err := b.runSetup(setup, storm)
				if err != nil {
					return fmt.Errorf("round %d, %s storm, %s: %w", round, storm, setupTitle[setup], err)
				}
				if b.results[storm] == nil {
					b.results[storm] = map[string][]*sample{}
				}
				b.results[storm][setup] = append(b.results[storm][setup], s)
				logf("round %d %-5s %-22s %s", round, storm, setupTitle[setup], s.line(setup))
			}
		}
	}
	return nil
}

func (b *bench) runSetup(setup, storm string) (*sample, error) {
	switch setup {
	case setupOff:
		return b.runStorm(storm)
	case setupDiscard:
		return b.runDiscard(storm)
	case setupAuditd:
		return b.runAuditd(storm)
	case setupCtrace:
		return b.runCtrace(storm, false)
	case setupMulticast:
		return b.runCtrace(storm, true)
	}
	return nil, fmt.Errorf("unknown setup %s", setup)
}

func (b *bench) next(name string) string {
	b.seq++
	return filepath.Join(b.dir, fmt.Sprintf("%02d-%s", b.seq, name))
}

// runStorm runs the storm once and parses its line.
func (b *bench) runStorm(mode string) (*sample, error) {
	p, err := startProc("storm", nil, syscall.SIGKILL, b.storm, "-w", strconv.Itoa(b.cfg.workers),
		"-t", strconv.FormatFloat(b.cfg.secs, 'f', -1, 64), "-m", mode, "-d", filepath.Join(b.dir, "files"))
	if err != nil {
		return nil, err
	}
	if err := p.wait(time.Duration(b.cfg.secs*float64(time.Second)) + 5*time.Minute); err != nil {
		p.stop(time.Second)
		return nil, fmt.Errorf("storm: %v: %s", err, p.output())
	}
	s := &sample{}
	for _, f := range strings.Fields(p.output()) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "iterations":
			s.iterations, _ = strconv.ParseInt(v, 10, 64)
		case "seconds":
			s.seconds, _ = strconv.ParseFloat(v, 64)
		case "rate":
			s.rate, _ = strconv.ParseFloat(v, 64)
		}
	}
	if s.iterations == 0 {
		return nil, fmt.Errorf("storm printed %q", p.output())
	}
	return s, nil
}

// measured runs the storm between two readings of the collectors' CPU and of
// the kernel's lost counter; the second reading waits until the kernel's
// backlog is empty and the collectors are idle again.
func (b *bench) measured(storm string, pids ...int) (s *sample, cpu []float64, err error) {
	st0, err := b.k.status()
	if err != nil {
		return nil, nil, err
	}
	cpu0 := make([]float64, len(pids))
	for i, pid := range pids {
		if cpu0[i], err = cpuSeconds(pid); err != nil {
			return nil, nil, err
		}
	}
	s, err = b.runStorm(storm)
	if err != nil {
		return nil, nil, err
	}
	t0 := time.Now()
	cpu1, err := b.waitIdle(pids)
	if err != nil {
		return nil, nil, err
	}
	s.idleWait = time.Since(t0)
	st1, err := b.k.status()
	if err != nil {
		return nil, nil, err
	}
	s.lost = int64(st1.Lost) - int64(st0.Lost)
	cpu = make([]float64, len(pids))
	for i := range pids {
		cpu[i] = cpu1[i] - cpu0[i]
	}
	return s, cpu, nil
}

// waitIdle waits until the kernel's audit backlog is empty, then 500 ms
// for the collectors to empty their sockets, then until a 250 ms step adds
// at most one clock tick to each collector's CPU time (at most 10 s). Other
// processes on the machine make audit events too, which every collector
// records: a fixed settling time charges each about the same for them, and
// the step rule still waits for a collector that lags behind. It returns
// the last readings.
func (b *bench) waitIdle(pids []int) ([]float64, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := b.k.status()
		if err != nil {
			return nil, err
		}
		if st.Backlog == 0 {
			break
		}
		if time.Now().After(deadline) {
			logf("warning: the kernel's audit backlog is still %d 60 s after the storm; reading the CPU now", st.Backlog)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	read := func() ([]float64, error) {
		v := make([]float64, len(pids))
		for i, pid := range pids {
			c, err := cpuSeconds(pid)
			if err != nil {
				return nil, fmt.Errorf("collector pid %d: %w", pid, err)
			}
			v[i] = c
		}
		return v, nil
	}
	last, err := read()
	if err != nil {
		return nil, err
	}
	tick := 1.0 / float64(clockTicks)
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		time.Sleep(250 * time.Millisecond)
		now, err := read()
		if err != nil {
			return nil, err
		}
		busy := false
		for i := range now {
			if now[i]-last[i] > tick*1.5 {
				busy = true
			}
		}
		last = now
		if !busy {
			break
		}
	}
	return last, nil
}

func (b *bench) runDiscard(storm string) (*sample, error) {
	p, err := startProc("nullaudit", nil, syscall.SIGTERM, b.nullaudit)
	if err != nil {
		return nil, err
	}
	defer p.stop(5 * time.Second)
	if err := p.waitLine("ready", 10*time.Second); err != nil {
		return nil, err
	}
	rules := rulesFor(b.defaults, p.pid())
	if err := b.k.loadRules(rules); err != nil {
		b.k.unloadRules(rules)
		return nil, err
	}
	s, cpu, err := b.measured(storm, p.pid())
	if uerr := b.k.unloadRules(rules); err == nil {
		err = uerr
	}
	if err != nil {
		return nil, err
	}
	s.cpu = cpu[0]
	if err := p.stop(5 * time.Second); err != nil {
		return nil, fmt.Errorf("nullaudit: %v: %s", err, p.output())
	}
	for _, f := range strings.Fields(p.output()) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "frames":
			s.frames, _ = strconv.ParseInt(v, 10, 64)
		case "bytes":
			s.rawBytes, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return s, nil
}

// startAuditd starts Debian's auditd with a temporary configuration that
// writes a RAW log into dir, and waits until it is the audit daemon.
func (b *bench) startAuditd(dir string) (*proc, error) {
	if err := os.MkdirAll(filepath.Join(dir, "plugins.d"), 0o750); err != nil {
		return nil, err
	}
	conf := strings.Join([]string{
		"local_events = yes",
		"write_logs = yes",
		"log_file = " + filepath.Join(dir, "audit.log"),
		"log_group = root",
		"log_format = RAW",
		"flush = " + b.cfg.flush,
		"freq = 50", // Debian's default, used by INCREMENTAL(_ASYNC)
		"max_log_file = 100000",
		"num_logs = 1",
		"priority_boost = 4", // Debian's default
		"name_format = NONE",
		"max_log_file_action = IGNORE",
		// Space checks in MB: space_left must be above admin_space_left.
		"space_left = 2",
		"space_left_action = IGNORE",
		"admin_space_left = 1",
		"admin_space_left_action = IGNORE",
		"disk_full_action = IGNORE",
		"disk_error_action = SYSLOG",
		"plugin_dir = " + filepath.Join(dir, "plugins.d"), // none: no dispatcher work
		"q_depth = 2000",
		"overflow_action = SYSLOG",
		"end_of_event_timeout = 2",
		"",
	}, "\n")
	if err := os.WriteFile(filepath.Join(dir, "auditd.conf"), []byte(conf), 0o640); err != nil {
		return nil, err
	}
	// -n: no fork (it stays our child); -s nochange: it leaves the enabled
	// flag alone (by default it enables audit at start and disables it at
	// exit).
	p, err := startProc("auditd", nil, syscall.SIGTERM, "auditd", "-n", "-s", "nochange", "-c", dir)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := b.k.status()
		if err != nil {
			p.stop(5 * time.Second)
			return nil, err
		}
		if int(st.PID) == p.pid() {
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("auditd exited (%v): %s", p.err, p.output())
		default:
		}
		if time.Now().After(deadline) {
			p.stop(5 * time.Second)
			return nil, fmt.Errorf("auditd did not register as the audit daemon (pid %d is): %s", st.PID, p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopAuditd stops auditd and returns the bytes of its log.
func stopAuditd(p *proc, dir string) (int64, error) {
	if err := p.stop(15 * time.Second); err != nil {
		return 0, fmt.Errorf("auditd: %v: %s", err, p.output())
	}
	m, _ := filepath.Glob(filepath.Join(dir, "audit.log*"))
	var n int64
	for _, f := range m {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("auditd wrote no log in %s", dir)
	}
	return n, nil
}

func (b *bench) runAuditd(storm string) (*sample, error) {
	dir := b.next("auditd")
	p, err := b.startAuditd(dir)
	if err != nil {
		return nil, err
	}
	defer p.stop(15 * time.Second)
	rules := rulesFor(b.defaults, p.pid())
	if err := b.k.loadRules(rules); err != nil {
		b.k.unloadRules(rules)
		return nil, err
	}
	s, cpu, err := b.measured(storm, p.pid())
	if uerr := b.k.unloadRules(rules); err == nil {
		err = uerr
	}
	if err != nil {
		return nil, err
	}
	s.cpu = cpu[0]
	if s.outBytes, err = stopAuditd(p, dir); err != nil {
		return nil, err
	}
	return s, nil
}

// runCtrace measures `ctrace record` as the audit daemon (multicast false),
// or beside auditd (multicast true).
func (b *bench) runCtrace(storm string, multicast bool) (*sample, error) {
	var auditd *proc
	var adir string
	if multicast {
		adir = b.next("auditd-mc")
		var err error
		if auditd, err = b.startAuditd(adir); err != nil {
			return nil, err
		}
		defer auditd.stop(15 * time.Second)
	}
	out := b.next("record.ctr")
	statsPath := out + ".stats.json"
	env := append(os.Environ(), "CTRACE_STATS="+statsPath)
	// The recorder takes the recorder lock itself.
	b.rLock.unlock()
	defer func() {
		if err := b.lockRecorder(); err != nil {
			logf("%v", err)
		}
	}()
	var p *proc
	deadline := time.Now().Add(b.cfg.wait)
	for {
		var err error
		args := append([]string{"record", "-o", out}, b.cfg.extra...)
		p, err = startProc("ctrace record", env, syscall.SIGINT, b.cfg.ctrace, args...)
		if err != nil {
			return nil, err
		}
		err = p.waitLine("recording to ", b.cfg.readyWait)
		if err == nil {
			break
		}
		p.stop(30 * time.Second)
		if !strings.Contains(p.output(), "another ctrace recorder is running") || time.Now().After(deadline) {
			return nil, err
		}
		logf("another ctrace recorder is running: waiting for it")
		os.Remove(out)
		l, lerr := lockFile(recorderLock, time.Until(deadline), "a ctrace recorder is running")
		if lerr != nil {
			return nil, lerr
		}
		l.unlock()
	}
	defer p.stop(30 * time.Second)
	wantMode := "audit: unicast"
	if multicast {
		wantMode = "audit: multicast"
	}
	if !strings.Contains(p.output(), wantMode) {
		return nil, fmt.Errorf("ctrace record is not in the expected mode (%s): %s", wantMode, p.output())
	}
	pids := []int{p.pid()}
	if multicast {
		pids = append(pids, auditd.pid())
	}
	s, cpu, err := b.measured(storm, pids...)
	if err != nil {
		return nil, err
	}
	s.cpu = cpu[0]
	if multicast {
		s.cpuAuditd = cpu[1]
	}
	if err := p.stop(60 * time.Second); err != nil {
		return nil, fmt.Errorf("ctrace record: %v: %s", err, p.output())
	}
	s.notices = strings.TrimSpace(p.output())
	if multicast {
		if s.auditdBytes, err = stopAuditd(auditd, adir); err != nil {
			return nil, err
		}
	}
	fi, err := os.Stat(out)
	if err != nil {
		return nil, err
	}
	s.outBytes = fi.Size()
	if s.info, err = readInfo(b.cfg.ctrace, out); err != nil {
		return nil, err
	}
	s.frames = s.info.AuditFrames + s.info.ProcFrames
	if s.procLag, s.auditLag, err = lagOf(out); err != nil {
		return nil, err
	}
	st := readRecorderStats(statsPath)
	s.handoff = st.handoff()
	s.framesPerPass = st.framesPerPass()
	if !b.cfg.keep {
		os.Remove(out)
	}
	return s, nil
}

// line is a one-line account of a sample, printed as the rounds go.
func (s *sample) line(setup string) string {
	l := fmt.Sprintf("%7.0f execs/s", s.rate)
	if setup == setupOff {
		return l
	}
	l += fmt.Sprintf("  cpu %.2f s  lost %d", s.cpu, s.lost)
	switch setup {
	case setupDiscard:
		l += fmt.Sprintf("  %d frames, %d B", s.frames, s.rawBytes)
	case setupAuditd:
		l += fmt.Sprintf("  log %d B", s.outBytes)
	case setupCtrace, setupMulticast:
		l += fmt.Sprintf("  capture %d B", s.outBytes)
		if setup == setupMulticast {
			l += fmt.Sprintf("  auditd cpu %.2f s, log %d B", s.cpuAuditd, s.auditdBytes)
		}
		if in := s.info; in != nil {
			l += fmt.Sprintf("  enobufs %d gaps %d/%d dropped %d", in.Losses.ENOBUFS, in.Losses.AuditSerialGaps,
				in.Losses.ProcSeqGaps, in.Losses.RecorderDropped)
		}
	}
	return l + fmt.Sprintf("  (idle after %.1f s)", s.idleWait.Seconds())
}

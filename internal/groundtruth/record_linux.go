//go:build linux

package groundtruth

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Recording is the result of Record.
type Recording struct {
	Capture  string // the capture file
	Stdout   []byte // the workload's stdout: its truth
	Stderr   string // the recorder's and the workload's stderr
	ExitCode int    // of ctrace record: the workload's status
	Retries  int    // times another recorder was running
}

// RecordBusyWait bounds how long Record waits for another recorder (an
// engineer recording by hand) to finish.
var RecordBusyWait = 3 * time.Minute

// Record runs `ctrace record --no-snapshot -o out -- ./NAME dir` in the
// directory of the workload binary, as root, and returns the workload's
// stdout. When ctrace says another recorder is running, it retries every few
// seconds for up to RecordBusyWait. A nonzero exit is not an error: it is
// the workload's status.
func Record(ctraceBin, workloadBin, dir, out string) (*Recording, error) {
	deadline := time.Now().Add(RecordBusyWait)
	for retries := 0; ; retries++ {
		os.Remove(out)
		cmd := exec.Command(ctraceBin, "record", "--no-snapshot", "-o", out, "--", "./"+filepath.Base(workloadBin), dir)
		cmd.Dir = filepath.Dir(workloadBin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			return nil, fmt.Errorf("groundtruth: running ctrace record: %w", err)
		}
		rec := &Recording{Capture: out, Stdout: stdout.Bytes(), Stderr: stderr.String(), ExitCode: cmd.ProcessState.ExitCode(), Retries: retries}
		if strings.Contains(rec.Stderr, "another ctrace recorder") {
			if time.Now().After(deadline) {
				return rec, fmt.Errorf("groundtruth: another ctrace recorder kept running for %v:\n%s", RecordBusyWait, rec.Stderr)
			}
			time.Sleep(5 * time.Second)
			continue
		}
		if _, err := os.Stat(out); err != nil {
			return rec, fmt.Errorf("groundtruth: ctrace record wrote no capture (exit %d):\n%s", rec.ExitCode, rec.Stderr)
		}
		return rec, nil
	}
}

// Command check is the helper of `make bench-analyze` (bench/analyze.sh):
// it counts what each tool found of the execs in an audit log.
//
//	check frames CAPTURE         bytes and count of the capture's raw frames (record data)
//	check model LOG REPORT.json  execs of LOG found in a `ctrace analyze --format json` report
//	check laurel LOG OUT...      execs of LOG found as events with EXECVE in laurel's output
//	check ausearch LOG OUT       execs of LOG found in `ausearch -i` output
//
// LOG is an auditd RAW log (or `ctrace dump --source audit` output). An exec
// is a SYSCALL record of execve or execveat (x86_64) with success=yes. It
// prints "FOUND/IN_LOG" (and, for a model, the number of processes) and
// fails when an exec is missing.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ctrace/ctrace/format"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: check frames CAPTURE | model LOG REPORT | laurel LOG OUT... | ausearch LOG OUT")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "frames":
		err = frames(os.Args[2])
	case "model":
		err = model(os.Args[2], os.Args[3])
	case "laurel":
		err = laurel(os.Args[2], os.Args[3:])
	case "ausearch":
		err = ausearch(os.Args[2], os.Args[3])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		os.Exit(1)
	}
}

func frames(path string) error {
	r, err := format.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	var bytes, n int64
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		bytes += int64(len(rec.Data))
		n++
	}
	fmt.Println(bytes, n)
	return nil
}

// logExecs counts the successful execs of a RAW log per pid.
func logExecs(path string) (map[int]int, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	execs := map[int]int{}
	total := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "type=SYSCALL ") {
			continue
		}
		var nr, success string
		pid := -1
		for _, w := range strings.Fields(line) {
			k, v, _ := strings.Cut(w, "=")
			switch k {
			case "syscall":
				nr = v
			case "success":
				success = v
			case "pid":
				fmt.Sscan(v, &pid)
			}
		}
		if (nr == "59" || nr == "322") && success == "yes" && pid > 0 {
			execs[pid]++
			total++
		}
	}
	return execs, total, sc.Err()
}

// found counts the execs of want present in got, pid by pid.
func found(want, got map[int]int) int {
	n := 0
	for pid, w := range want {
		n += min(w, got[pid])
	}
	return n
}

func result(n, total int, extra string) error {
	fmt.Printf("%d/%d%s\n", n, total, extra)
	if n != total {
		return fmt.Errorf("%d execs of the log are missing", total-n)
	}
	return nil
}

func model(logPath, reportPath string) error {
	want, total, err := logExecs(logPath)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(reportPath)
	if err != nil {
		return err
	}
	var rep struct {
		Processes []struct {
			PID   int `json:"pid"`
			Execs []struct {
				Exe *string `json:"exe"`
			} `json:"execs"`
		} `json:"processes"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return err
	}
	got := map[int]int{}
	for _, p := range rep.Processes {
		got[p.PID] += len(p.Execs)
	}
	return result(found(want, got), total, fmt.Sprintf(" (%d processes)", len(rep.Processes)))
}

func laurel(logPath string, outs []string) error {
	want, total, err := logExecs(logPath)
	if err != nil {
		return err
	}
	got := map[int]int{}
	for _, o := range outs {
		f, err := os.Open(o)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 16<<20), 16<<20)
		for sc.Scan() {
			// Maps, not structs: encoding/json matches keys without regard
			// to case, and laurel's SYSCALL has both pid and PID.
			var ev map[string]json.RawMessage
			if json.Unmarshal(sc.Bytes(), &ev) != nil || ev["SYSCALL"] == nil || ev["EXECVE"] == nil {
				continue
			}
			var sys map[string]json.RawMessage
			var success string
			var pid int
			if json.Unmarshal(ev["SYSCALL"], &sys) != nil || json.Unmarshal(sys["success"], &success) != nil ||
				json.Unmarshal(sys["pid"], &pid) != nil {
				continue
			}
			if success == "yes" {
				got[pid]++
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return err
		}
	}
	return result(found(want, got), total, "")
}

func ausearch(logPath, out string) error {
	want, total, err := logExecs(logPath)
	if err != nil {
		return err
	}
	f, err := os.Open(out)
	if err != nil {
		return err
	}
	defer f.Close()
	got := map[int]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "type=SYSCALL ") || !strings.Contains(line, " syscall=execve") || !strings.Contains(line, " success=yes ") {
			continue
		}
		for _, w := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(w, "pid="); ok {
				var pid int
				fmt.Sscan(v, &pid)
				got[pid]++
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return result(found(want, got), total, "")
}

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// Under systemd, a service's stderr is often a stream to the journal, and
// the service is told so by JOURNAL_STREAM ("device:inode" of that stream).
// journald then reads a "<N>" at the start of a line as the line's syslog
// priority. ctrace writes its errors as <3>, its warnings and notices
// ("ctrace: ...") as <4> and the rest (the recorder's start and summary
// lines) as <6>, so that `journalctl -p warning -u ctrace` shows what needs
// attention.

// journalStream reports whether f is the journal stream JOURNAL_STREAM
// names.
func journalStream(f *os.File) bool {
	v := os.Getenv("JOURNAL_STREAM")
	if v == "" {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	return v == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// journalWriter prefixes each line written to w with its priority.
type journalWriter struct {
	w   io.Writer
	buf []byte
}

// Syslog priorities of the lines.
const (
	prioError   = 3
	prioWarning = 4
	prioInfo    = 6
)

func (j *journalWriter) Write(p []byte) (int, error) {
	j.buf = append(j.buf, p...)
	for {
		i := bytes.IndexByte(j.buf, '\n')
		if i < 0 {
			break
		}
		if err := j.line(j.buf[:i+1], priorityOf(j.buf[:i])); err != nil {
			return len(p), err
		}
		j.buf = j.buf[i+1:]
	}
	return len(p), nil
}

// line writes one line (with its newline) at priority prio; a status
// line's redraws (carriage returns, erase to the end of the line) are
// dropped.
func (j *journalWriter) line(l []byte, prio int) error {
	l = bytes.ReplaceAll(bytes.ReplaceAll(l, []byte("\r"), nil), []byte("\033[K"), nil)
	_, err := fmt.Fprintf(j.w, "<%d>%s", prio, l)
	return err
}

// errorLine writes the message of the error that ends ctrace.
func (j *journalWriter) errorLine(msg string) {
	j.flush()
	_ = j.line([]byte(strings.TrimSuffix(msg, "\n")+"\n"), prioError)
}

// flush writes a last line without its newline.
func (j *journalWriter) flush() {
	if len(j.buf) > 0 {
		_ = j.line(append(j.buf, '\n'), priorityOf(j.buf))
		j.buf = nil
	}
}

func priorityOf(line []byte) int {
	if bytes.HasPrefix(line, []byte("ctrace: ")) {
		return prioWarning
	}
	return prioInfo
}

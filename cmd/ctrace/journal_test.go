package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestJournalWriterPriorities(t *testing.T) {
	var out bytes.Buffer
	j := &journalWriter{w: &out}
	// Lines arrive in pieces, and a status line's redraws carry \r.
	for _, p := range []string{"recording to x", " (audit: unicast)\nctrace: removed a rule", " left by an earlier recorder\n", "\r\033[K", "recorded x\n", "no newline"} {
		fmt.Fprint(j, p)
	}
	j.errorLine("ctrace: capture: writing: no space left on device")
	want := "<6>recording to x (audit: unicast)\n" +
		"<4>ctrace: removed a rule left by an earlier recorder\n" +
		"<6>recorded x\n" +
		"<6>no newline\n" +
		"<3>ctrace: capture: writing: no space left on device\n"
	if out.String() != want {
		t.Errorf("got:\n%q\nwant:\n%q", out.String(), want)
	}
}

func TestJournalStream(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	st := fi.Sys().(*syscall.Stat_t)
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	if !journalStream(f) {
		t.Error("the stream JOURNAL_STREAM names is not recognized")
	}
	if journalStream(os.Stdin) {
		t.Error("another file is taken for the journal stream")
	}
	t.Setenv("JOURNAL_STREAM", "")
	if journalStream(f) {
		t.Error("without JOURNAL_STREAM, a file is taken for the journal")
	}
}

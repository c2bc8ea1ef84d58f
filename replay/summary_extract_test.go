package replay

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ctrace/ctrace/format"
)

// writeExtractLike writes the frames of an extract: serials 10, 20, 30 and
// proc sequences 1, 9 (gaps the extraction made), with the header h.
func writeExtractLike(t *testing.T, h format.Header) string {
	p := filepath.Join(t.TempDir(), "x.ctr")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := format.NewWriter(f, h, format.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, serial := range []int{10, 20, 30} {
		w.WriteRecord(format.SourceAudit, 0, int64(i+1), auditDatagram(binary.LittleEndian, 1300,
			fmt.Appendf(nil, "audit(1700000000.%03d:%d): arch=c000003e syscall=59", serial, serial), false))
	}
	w.WriteRecord(format.SourceProc, 0, 5, procExecDatagram(0, 1, 100))
	w.WriteRecord(format.SourceProc, format.FlagTruncated, 6, procExecDatagram(0, 9, 100))
	if err := w.Close(format.Trailer{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSummarizeExtract: the losses of an extract are its original's
// (original_losses), not the gaps the extraction made; without
// original_losses (older extracts) they are counted from the records.
func TestSummarizeExtract(t *testing.T) {
	orig := format.LossCounts{KernelLost: 1, ENOBUFS: 2, RecorderDropped: 3, AuditSerialGaps: 4, ProcSeqGaps: 5, TruncatedFrames: 6}
	h := format.Header{Kind: "extract", ByteOrder: "little", ExtractedFrom: "rec.ctr",
		Selection: []string{"pid 1"}, Redaction: []string{"redact: 1 pattern"}, OriginalLosses: &orig}
	s, err := Summarize(writeExtractLike(t, h), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Losses{KernelLost: 1, ENOBUFS: 2, RecorderDropped: 3, AuditSerialGaps: 4, ProcSeqGaps: 5, TruncatedFrames: 6}
	if s.Losses != want || s.Lost != 21 {
		t.Errorf("losses %+v lost %d, want %+v 21", s.Losses, s.Lost, want)
	}
	if s.ExtractedFrom != "rec.ctr" || len(s.Selection) != 1 || len(s.Redaction) != 1 || s.LossCounts() != orig {
		t.Errorf("summary %+v", s)
	}
	if len(s.AuditSerialGapRanges) != 0 || s.AuditSerialGapRangeCount != 0 {
		t.Errorf("the extraction's own gaps are listed: %+v", s.AuditSerialGapRanges)
	}

	h.OriginalLosses = nil
	s, err = Summarize(writeExtractLike(t, h), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Losses.AuditSerialGaps != 18 || s.Losses.ProcSeqGaps != 7 || s.Losses.TruncatedFrames != 1 || len(s.AuditSerialGapRanges) != 2 {
		t.Errorf("without original_losses: %+v, ranges %+v", s.Losses, s.AuditSerialGapRanges)
	}
	// original_losses only counts for extracts.
	h.Kind, h.OriginalLosses = "record", &orig
	if s, _ := Summarize(writeExtractLike(t, h), nil); s.Losses.AuditSerialGaps != 18 {
		t.Errorf("a recording's original_losses were used: %+v", s.Losses)
	}
}

// TestSummarizer: a Summarizer fed by someone else's reading gives what
// Summarize gives.
func TestSummarizer(t *testing.T) {
	p := writeSummaryCapture(t, true)
	want, err := Summarize(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := format.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	z := NewSummarizer(r)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		z.Observe(rec)
	}
	got, _ := json.Marshal(z.Finish())
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		t.Errorf("Summarizer:\n%s\nSummarize:\n%s", got, wantJSON)
	}
}

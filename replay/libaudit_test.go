//go:build !windows

// go-libaudit's auparse does not build on Windows (unix.SignalName), so the
// cross-checks against it live here.

package replay

import (
	"testing"

	"github.com/elastic/go-libaudit/v2/auparse"
)

// The copied name table (msgtypes.go) matches auparse in both directions.
func TestTypeNamesMatchAuparse(t *testing.T) {
	for i := 0; i <= 0xffff; i++ {
		typ := uint16(i)
		want := auparse.AuditMessageType(typ).String()
		if got := TypeName(typ); got != want {
			t.Fatalf("TypeName(%d) = %q, auparse says %q (regenerate with go run gen_msgtypes.go)", typ, got, want)
		}
		back, err := TypeFromName(want)
		ref, refErr := auparse.GetAuditMessageType(want)
		if err != nil || refErr != nil || back != uint16(ref) {
			t.Fatalf("TypeFromName(%q) = %d, %v; auparse %d, %v", want, back, err, ref, refErr)
		}
	}
}

// Timestamps and serials agree with auparse.ParseLogLine on the corpus.
func TestHeadersMatchAuparse(t *testing.T) {
	lines := mustCorpusLines(t)
	for _, l := range lines {
		f, err := ParseLogLine(l.text)
		if err != nil || f.Kind != AuditEvent || f.Node != "" || f.Enriched != nil {
			continue // auparse reads neither node= nor ENRICHED lines
		}
		m, err := auparse.ParseLogLine(l.text)
		if err != nil {
			t.Errorf("%v: auparse: %v", l, err)
			continue
		}
		if uint16(m.RecordType) != f.Type || m.Timestamp.UnixMilli() != f.TimeMS || uint64(m.Sequence) != f.Serial {
			t.Errorf("%v: auparse %v %d %d, replay %d %d %d", l, m.RecordType, m.Timestamp.UnixMilli(), m.Sequence, f.Type, f.TimeMS, f.Serial)
		}
	}
}

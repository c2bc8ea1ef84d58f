package extract

import (
	"testing"

	"github.com/ctrace/ctrace/replay"
)

// TestScanFieldsIsParseFields: the located fields an extract rewrites are
// exactly the fields the analyzer reads.
func TestScanFieldsIsParseFields(t *testing.T) {
	for _, body := range []string{
		`arch=c000003e syscall=59 success=yes exit=0 a0=55 pid=12 comm="sh" exe="/bin/sh" key=(null)`,
		`pid=1 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:session_open acct="root" exe="/usr/sbin/sshd" hostname=? res=success'`,
		`a="unterminated`, `b='unterminated nested=1`, `x= y="" z=''`, `bare word=1 "q"=2 'x'=3`, "tab\tsep=1\nnl=2",
		`msg='it''s a=1' c=2`, `argc=2 a0="ls" a1=2D6C`,
	} {
		want := replay.ParseFields(body)
		got := scanFields(body, 0, false)
		if len(got) != len(want) {
			t.Errorf("%q: %d fields, ParseFields %d", body, len(got), len(want))
			continue
		}
		for i, sp := range got {
			f := sp.field(body)
			w := want[i]
			if f.Key != w.Key || f.Value != w.Value || f.Quoted != w.Quoted || (sp.quote == '\'') != (w.Nested != nil) {
				t.Errorf("%q: field %d %+v, ParseFields %+v", body, i, f, w)
			}
			if w.Nested != nil && len(sp.nested) != len(w.Nested) {
				t.Errorf("%q: nested %d fields, ParseFields %d", body, len(sp.nested), len(w.Nested))
			}
		}
	}
}

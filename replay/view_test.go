package replay

import (
	"encoding/binary"
	"testing"
)

// ViewAudit must agree with DecodeAudit on every datagram: same error or
// not, same kind, type and event header, and a body equal to the copy's.
func checkViewAudit(t *testing.T, data []byte, order binary.ByteOrder) {
	t.Helper()
	fr, err1 := DecodeAudit(data, order)
	v, err2 := ViewAudit(data, order)
	if (err1 == nil) != (err2 == nil) {
		t.Fatalf("DecodeAudit error %v, ViewAudit error %v", err1, err2)
	}
	if fr.Kind != v.Kind || fr.Type != v.Type {
		t.Fatalf("kind/type: DecodeAudit %v %d, ViewAudit %v %d", fr.Kind, fr.Type, v.Kind, v.Type)
	}
	if fr.Kind == AuditEvent && (fr.TimeMS != v.TimeMS || fr.Serial != v.Serial || fr.Body != v.Body) {
		t.Fatalf("event: DecodeAudit %d %d %q, ViewAudit %d %d %q", fr.TimeMS, fr.Serial, fr.Body, v.TimeMS, v.Serial, v.Body)
	}
}

func TestViewAuditCorpus(t *testing.T) {
	le := binary.LittleEndian
	for _, line := range seedLines(t) {
		fr, err := ParseLogLine(line)
		if err != nil {
			continue
		}
		checkViewAudit(t, auditDatagram(le, fr.Type, []byte(fr.Text), false), le)
		checkViewAudit(t, auditDatagram(le, fr.Type, append([]byte(fr.Text), 0, 0), false), le)
	}
	for _, d := range [][]byte{
		auditDatagram(le, NlmsgError, words(le, 0xffffffef, 0, 0, 0, 0), false),
		auditDatagram(le, NlmsgError, nil, false),
		auditDatagram(le, TypeReplace, words(le, 4242), false),
		auditDatagram(le, TypeReplace, []byte{1}, false),
		auditDatagram(le, 1000, words(le, 1, 1, 4242), false),
		auditDatagram(le, 1000, []byte("audit(1.002:3): x=1"), false),
		auditDatagram(le, 1300, []byte("audit(1.0002:3): x=1"), false),
		auditDatagram(le, 1300, []byte("audit(1.002:): x=1"), false),
		auditDatagram(le, 1300, []byte("no header"), false),
		auditDatagram(le, NlmsgDone, nil, false),
		auditDatagram(le, 4, nil, false),
		{1, 2, 3},
		{},
	} {
		checkViewAudit(t, d, le)
	}
}

func FuzzViewAudit(f *testing.F) {
	le, be := binary.LittleEndian, binary.BigEndian
	for _, line := range seedLines(f) {
		if fr, err := ParseLogLine(line); err == nil {
			f.Add(auditDatagram(le, fr.Type, []byte(fr.Text), false), false)
		}
	}
	f.Add(auditDatagram(be, TypeReplace, words(be, 4242), true), true)
	f.Fuzz(func(t *testing.T, data []byte, big bool) {
		var order binary.ByteOrder = le
		if big {
			order = be
		}
		checkViewAudit(t, data, order)
	})
}

// FieldScanner is what ParseFields is built on: check that it allocates
// nothing.
func TestFieldScannerAllocs(t *testing.T) {
	body := `arch=c000003e syscall=59 success=yes exit=0 a0=55d1 items=2 ppid=1 pid=2 comm="true" exe="/usr/bin/true" key=(null) msg='a=b c'`
	n := testing.AllocsPerRun(100, func() {
		sc := NewFieldScanner(body)
		for sc.Next() {
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per scan", n)
	}
	v := auditDatagram(binary.LittleEndian, 1300, []byte("audit(1700000000.002:3): "+body), false)
	n = testing.AllocsPerRun(100, func() { ViewAudit(v, binary.LittleEndian) })
	if n != 0 {
		t.Fatalf("%v allocations per ViewAudit", n)
	}
}

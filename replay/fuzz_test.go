package replay

import (
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
)

// seedLines returns hand-made log lines plus, when the corpus is present,
// up to five lines of each record type found there.
func seedLines(tb testing.TB) []string {
	seeds := []string{
		"type=SYSCALL msg=" + syscallPayload,
		"type=EOE msg=" + eoePayload,
		"type=USER_AUTH msg=" + userPayload,
		"node=work type=EXECVE msg=audit(1615114232.375:15558): argc=1 a0=\"whoami\"",
		"type=UNKNOWN[1329] msg=?",
		"type=UNKNOWN[1420] msg=audit(1661853391.646:4486226): subj_apparmor=unconfined",
		"type=USER_ACCT msg=audit(1615113648.981:15220): pid=9460 msg='op=PAM:accounting acct=\"user\" res=success'\x1dUID=\"user\" AUID=\"user\"",
		"type=EXECVE msg=audit(1615150974.493:21028):  a1[2]=6661616161",
		"type=PROCTITLE msg=audit(1.002:3): proctitle=2F62696E2F7368002D63",
		"type=AVC msg=audit(1170021493.977:293): avc:  denied  { read write } for  pid=13010 comm=\"pickup\"",
	}
	lines, err := readCorpusLines()
	if err != nil {
		tb.Fatal(err)
	}
	perType := map[string]int{}
	for _, l := range lines {
		name, _, _ := strings.Cut(strings.TrimPrefix(l.text, "type="), " ")
		if perType[name] < 5 {
			perType[name]++
			seeds = append(seeds, l.text)
		}
	}
	return seeds
}

func FuzzDecodeAudit(f *testing.F) {
	le, be := binary.LittleEndian, binary.BigEndian
	for _, line := range seedLines(f) {
		fr, err := ParseLogLine(line)
		if err != nil {
			continue
		}
		f.Add(auditDatagram(le, fr.Type, []byte(fr.Text), false), false)
		f.Add(auditDatagram(be, fr.Type, []byte(fr.Text), true), true)
	}
	f.Add(auditDatagram(le, NlmsgError, words(le, 0xffffffef, 0, 0, 0, 0), false), false)
	f.Add(auditDatagram(le, TypeReplace, words(le, 4242), false), false)
	f.Add(auditDatagram(le, 1000, words(le, 1, 1, 4242), false), false)
	f.Add(auditDatagram(le, NlmsgDone, nil, false), false)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, data []byte, big bool) {
		var order binary.ByteOrder = le
		if big {
			order = be
		}
		fr, err := DecodeAudit(data, order)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "replay: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if fr.Kind == AuditEvent {
			if !strings.HasPrefix(fr.Text, "audit(") || !strings.HasSuffix(fr.Text, fr.Body) {
				t.Fatalf("event text %q body %q", fr.Text, fr.Body)
			}
			if fr.TimeMS < 0 {
				t.Fatalf("negative time %d", fr.TimeMS)
			}
			fr.Fields()
		}
		// The nlmsg_len field never matters.
		cp := append([]byte(nil), data...)
		order.PutUint32(cp, ^order.Uint32(cp))
		fr2, err := DecodeAudit(cp, order)
		if err != nil || fr2.Kind != fr.Kind || fr2.Text != fr.Text || fr2.Serial != fr.Serial {
			t.Fatalf("nlmsg_len changed the result: %+v vs %+v (%v)", fr2, fr, err)
		}
	})
}

func FuzzParseFields(f *testing.F) {
	for _, line := range seedLines(f) {
		if fr, err := ParseLogLine(line); err == nil {
			f.Add(fr.Body)
		}
	}
	for _, s := range []string{
		`a=1 b="x y" c='d=e f="g"' h=(null) i=?`, `msg='x'' y="`, `=`, `a=`, `'`, `"`, `a='`, `a="`,
		`msg='a='b c'`, "a=\x1d b=\xff", `subj==x`, `a1[0]=41 a1_len=2`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fs := ParseFields(s)
		for _, fl := range fs {
			if fl.Key == "" || strings.ContainsAny(fl.Key, "= \t\n\r\v\f") {
				t.Fatalf("bad key %q", fl.Key)
			}
			if fl.Nested != nil && !fl.Quoted {
				t.Fatalf("nested but not quoted: %+v", fl)
			}
			DecodeValue(fl)
			DecodeRecordValue(TypeExecve, fl)
			if fl.Key == "proctitle" {
				DecodeProctitle(fl)
			}
		}
		again := ParseFields(FormatFields(fs))
		if !reflect.DeepEqual(fs, again) {
			t.Fatalf("round trip of %q:\n%#v\n%#v", s, fs, again)
		}
		ExecveArgs([][]Field{fs})
	})
}

func FuzzDecodeProc(f *testing.F) {
	for _, o := range orders {
		for _, c := range procCases(o.order) {
			f.Add(procDatagram(o.order, c.what, 1, 42, 123456789, c.union), o.name == "big")
		}
	}
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, data []byte, big bool) {
		var order binary.ByteOrder = binary.LittleEndian
		if big {
			order = binary.BigEndian
		}
		ev, err := DecodeProc(data, order)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "replay: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if l, ok := procLayout[ev.What]; ok {
			if ev.Kind != l.kind || len(data) < procUnionOffset+l.size {
				t.Fatalf("kind %v from %d bytes", ev.Kind, len(data))
			}
		} else if ev.Kind != ProcUnknown {
			t.Fatalf("what %#x gave kind %v", ev.What, ev.Kind)
		}
		ev.ExitStatus()
		ev.ExitSignal()
		ev.CoreDumped()
		var tr ProcSeqTracker
		tr.ObserveEvent(ev)
		tr.Gaps()
	})
}

func FuzzParseLogLine(f *testing.F) {
	for _, line := range seedLines(f) {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		fr, err := ParseLogLine(line)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "replay: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if strings.ContainsRune(fr.Text, EnrichedSeparator) {
			t.Fatalf("separator in text %q", fr.Text)
		}
		if fr.Kind == AuditEvent {
			if !strings.HasPrefix(fr.Text, "audit(") || !strings.HasSuffix(fr.Text, fr.Body) {
				t.Fatalf("event text %q body %q", fr.Text, fr.Body)
			}
			// The same payload as a datagram decodes the same way.
			if fr.Type != TypeReplace && fr.Type >= nlmsgMinType && !strings.Contains(fr.Text, "\x00") {
				g, err := DecodeAudit(auditDatagram(binary.LittleEndian, fr.Type, []byte(fr.Text), false), binary.LittleEndian)
				if err != nil || g.Kind != AuditEvent || g.Serial != fr.Serial || g.TimeMS != fr.TimeMS || g.Body != fr.Body {
					t.Fatalf("datagram differs: %+v vs %+v (%v)", g, fr, err)
				}
			}
		}
	})
}

// FuzzExecveArgs feeds EXECVE-like records, one per line.
func FuzzExecveArgs(f *testing.F) {
	f.Add("argc=2 a0=\"x\" a1_len=4 a1[0]=41\n a1[1]=42")
	f.Add("argc=3 a0=41 a2=\"\"")
	f.Add("argc=1 a0_len=999999999 a0[7]=00")
	f.Add(strings.Join(kernelExecveBodies([]string{"sh", strings.Repeat("x ", 5000)}), "\n"))
	f.Fuzz(func(t *testing.T, s string) {
		var recs [][]Field
		for _, l := range strings.Split(s, "\n") {
			recs = append(recs, ParseFields(l))
		}
		args, err := ExecveArgs(recs)
		if err == nil {
			argc := ""
		find:
			for _, r := range recs {
				for _, fl := range r {
					if fl.Key == "argc" {
						argc = fl.Value
						break find
					}
				}
			}
			if n, perr := parseDigits(argc, MaxArgc); perr != nil || int(n) != len(args) {
				t.Fatalf("no error but %d args for argc=%q", len(args), argc)
			}
		}
	})
}

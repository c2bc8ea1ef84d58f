package replay

import (
	"encoding/binary"
	"strings"
	"testing"
)

func commBytes(s string) []byte {
	b := make([]byte, 16)
	copy(b, s)
	return b
}

// procCases are hand-built events of every kind, with the values observed
// on a real kernel where there are some (FORK/EXEC/EXIT of /bin/true).
func procCases(o binary.ByteOrder) []struct {
	name  string
	what  uint32
	union []byte
	want  ProcEvent
} {
	return []struct {
		name  string
		what  uint32
		union []byte
		want  ProcEvent
	}{
		{"none", ProcWhatNone, words(o, 0), ProcEvent{Kind: ProcNone}},
		{"fork", ProcWhatFork, words(o, 10574, 10574, 10580, 10580),
			ProcEvent{Kind: ProcFork, ParentPID: 10574, ParentTGID: 10574, PID: 10580, TGID: 10580}},
		{"thread fork", ProcWhatFork, words(o, 10574, 10574, 10585, 10584),
			ProcEvent{Kind: ProcFork, ParentPID: 10574, ParentTGID: 10574, PID: 10585, TGID: 10584}},
		{"exec", ProcWhatExec, words(o, 10580, 10580), ProcEvent{Kind: ProcExec, PID: 10580, TGID: 10580}},
		{"uid", ProcWhatUID, words(o, 7, 7, 1000, 0), ProcEvent{Kind: ProcUID, PID: 7, TGID: 7, RealID: 1000, EffectiveID: 0}},
		{"gid", ProcWhatGID, words(o, 7, 7, 100, 5), ProcEvent{Kind: ProcGID, PID: 7, TGID: 7, RealID: 100, EffectiveID: 5}},
		{"sid", ProcWhatSID, words(o, 8, 8), ProcEvent{Kind: ProcSID, PID: 8, TGID: 8}},
		{"ptrace", ProcWhatPtrace, words(o, 9, 9, 10, 10), ProcEvent{Kind: ProcPtrace, PID: 9, TGID: 9, TracerPID: 10, TracerTGID: 10}},
		{"comm", ProcWhatComm, append(words(o, 11, 11), commBytes("runc:[2:INIT]")...),
			ProcEvent{Kind: ProcComm, PID: 11, TGID: 11, Comm: "runc:[2:INIT]"}},
		{"comm full", ProcWhatComm, append(words(o, 11, 12), []byte("0123456789abcdef")...),
			ProcEvent{Kind: ProcComm, PID: 11, TGID: 12, Comm: "0123456789abcdef"}},
		{"coredump", ProcWhatCoredump, words(o, 12, 12, 1, 1), ProcEvent{Kind: ProcCoredump, PID: 12, TGID: 12, ParentPID: 1, ParentTGID: 1}},
		{"exit", ProcWhatExit, words(o, 10580, 10580, 0, 17, 10574, 10574),
			ProcEvent{Kind: ProcExit, PID: 10580, TGID: 10580, ExitCode: 0, NotifySignal: 17, ParentPID: 10574, ParentTGID: 10574}},
		{"thread exit", ProcWhatExit, words(o, 10585, 10584, 0, 0xffffffff, 0, 0),
			ProcEvent{Kind: ProcExit, PID: 10585, TGID: 10584, NotifySignal: -1}},
		{"unknown", 0x1000, words(o, 1, 2, 3), ProcEvent{Kind: ProcUnknown}},
		{"nonzero-exit filter bit", 0x20000000, nil, ProcEvent{Kind: ProcUnknown}},
	}
}

func TestDecodeProc(t *testing.T) {
	for _, o := range orders {
		for _, c := range procCases(o.order) {
			d := procDatagram(o.order, c.what, 1, 42, 123456789012, c.union)
			ev, err := DecodeProc(d, o.order)
			if err != nil {
				t.Errorf("%s %s: %v", o.name, c.name, err)
				continue
			}
			want := c.want
			want.What, want.CPU, want.Seq, want.Timestamp, want.Len = c.what, 1, 42, 123456789012, 40
			if ev != want {
				t.Errorf("%s %s:\n got %+v\nwant %+v", o.name, c.name, ev, want)
			}
		}
	}
}

// Every truncation of every event is an error once it cuts into the
// event's fields, never a panic, and a success before that.
func TestDecodeProcTruncated(t *testing.T) {
	for _, o := range orders {
		for _, c := range procCases(o.order) {
			d := procDatagram(o.order, c.what, 0, 0, 0, c.union)
			need := procUnionOffset
			if l, ok := procLayout[c.what]; ok {
				need += l.size
			}
			for n := 0; n <= len(d); n++ {
				_, err := DecodeProc(d[:n], o.order)
				if (err != nil) != (n < need) {
					t.Errorf("%s %s: %d of %d bytes: err %v", o.name, c.name, n, len(d), err)
				}
				if err != nil && !strings.HasPrefix(err.Error(), "replay: ") {
					t.Errorf("error without prefix: %v", err)
				}
			}
		}
	}
}

func TestDecodeProcRejects(t *testing.T) {
	le := binary.LittleEndian
	d := procDatagram(le, ProcWhatExec, 0, 0, 0, words(le, 1, 1))
	bad := append([]byte(nil), d...)
	le.PutUint16(bad[4:], NlmsgError)
	if _, err := DecodeProc(bad, le); err == nil {
		t.Error("NLMSG_ERROR accepted")
	}
	bad = append([]byte(nil), d...)
	le.PutUint32(bad[16:], 2) // another connector
	if _, err := DecodeProc(bad, le); err == nil {
		t.Error("connector 2:1 accepted")
	}
	if _, err := DecodeProc(d, binary.BigEndian); err == nil {
		t.Error("wrong byte order accepted")
	}
	if _, err := DecodeProc(d, nil); err == nil {
		t.Error("nil order accepted")
	}
}

func TestProcExitStatus(t *testing.T) {
	cases := []struct {
		code     uint32
		status   int
		statusOK bool
		signal   int
		sigOK    bool
		core     bool
	}{
		{0, 0, true, 0, false, false},
		{768, 3, true, 0, false, false}, // exit 3, as observed
		{255 << 8, 255, true, 0, false, false},
		{9, 0, false, 9, true, false},         // SIGKILL, as observed
		{11 | 0x80, 0, false, 11, true, true}, // SIGSEGV with core
		{15, 0, false, 15, true, false},
		{0x137f, 0, false, 0, false, false}, // stopped (SIGSTOP): neither
	}
	for _, c := range cases {
		ev := ProcEvent{Kind: ProcExit, ExitCode: c.code}
		st, ok := ev.ExitStatus()
		sig, sok := ev.ExitSignal()
		if st != c.status || ok != c.statusOK || sig != c.signal || sok != c.sigOK || ev.CoreDumped() != c.core {
			t.Errorf("code %#x: status %d %v signal %d %v core %v", c.code, st, ok, sig, sok, ev.CoreDumped())
		}
	}
	ev := ProcEvent{Kind: ProcFork, ExitCode: 768}
	if _, ok := ev.ExitStatus(); ok {
		t.Error("ExitStatus on a fork")
	}
	if _, ok := ev.ExitSignal(); ok {
		t.Error("ExitSignal on a fork")
	}
}

func TestProcKindString(t *testing.T) {
	if ProcExit.String() != "exit" || ProcUnknown.String() != "unknown" || ProcKind(200).String() != "unknown" {
		t.Error(ProcExit.String(), ProcUnknown.String())
	}
}

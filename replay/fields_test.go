package replay

import (
	"reflect"
	"strings"
	"testing"
)

func pf(k, v string) Field { return Field{Key: k, Value: v} }
func qf(k, v string) Field { return Field{Key: k, Value: v, Quoted: true} }

func TestParseFields(t *testing.T) {
	cases := []struct {
		in   string
		want []Field
	}{
		{"", nil},
		{"   ", nil},
		{`a=1 b="two words" c=(null) d=? e=`, []Field{pf("a", "1"), qf("b", "two words"), pf("c", "(null)"), pf("d", "?"), pf("e", "")}},
		{`key=1 key=2`, []Field{pf("key", "1"), pf("key", "2")}},
		{`subj==unconfined key=(null)`, []Field{pf("subj", "=unconfined"), pf("key", "(null)")}},
		{`name="unterminated`, []Field{qf("name", "unterminated")}},
		{`a="x"b=1`, []Field{qf("a", "x"), pf("b", "1")}},
		{`  a1[1]=41 a1_len=2`, []Field{pf("a1[1]", "41"), pf("a1_len", "2")}},
		{`avc:  denied  { read write } for  pid=13010 comm="pickup"`, []Field{pf("pid", "13010"), qf("comm", "pickup")}},
		{`auditd start, ver=2.4.1 format=raw`, []Field{pf("ver", "2.4.1"), pf("format", "raw")}},
		{`=x "a=b" 'c=d' y=1`, []Field{pf("y", "1")}},
		{"a=1\tb=2\nc=3", []Field{pf("a", "1"), pf("b", "2"), pf("c", "3")}},
		{`a=it's b=1`, []Field{pf("a", "it's"), pf("b", "1")}},
	}
	for _, c := range cases {
		if got := ParseFields(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseFields(%q)\n got %#v\nwant %#v", c.in, got, c.want)
		}
	}
}

func TestParseFieldsNested(t *testing.T) {
	body := `pid=14257 uid=0 auid=1004 ses=74 msg='op=PAM:authentication acct="local" exe="/bin/su" hostname=? addr=? terminal=/dev/pts/1 res=success'`
	fs := ParseFields(body)
	if len(fs) != 5 {
		t.Fatalf("%d fields: %#v", len(fs), fs)
	}
	msg := fs[4]
	if msg.Key != "msg" || !msg.Quoted || msg.Nested == nil || !strings.HasPrefix(msg.Value, "op=PAM") || !strings.HasSuffix(msg.Value, "res=success") {
		t.Fatalf("msg field %#v", msg)
	}
	want := []Field{pf("op", "PAM:authentication"), qf("acct", "local"), qf("exe", "/bin/su"), pf("hostname", "?"), pf("addr", "?"), pf("terminal", "/dev/pts/1"), pf("res", "success")}
	if !reflect.DeepEqual(msg.Nested, want) {
		t.Errorf("nested %#v", msg.Nested)
	}
	if g, ok := FindField(fs, "exe"); !ok || g.Value != "/bin/su" {
		t.Errorf("FindField exe: %#v %v", g, ok)
	}
	if g, ok := FindField(fs, "pid"); !ok || g.Value != "14257" {
		t.Errorf("FindField pid: %#v %v", g, ok)
	}
	if _, ok := FindField(fs, "nope"); ok {
		t.Error("FindField nope found")
	}

	// The closing quote is the one followed by a space or the end; a quote
	// inside is kept; an empty msg has a non-nil empty list.
	fs = ParseFields(`msg='a=b'c d=e' x=1 m=''`)
	if len(fs) != 3 || fs[0].Value != "a=b'c d=e" || !reflect.DeepEqual(fs[1], pf("x", "1")) || fs[2].Nested == nil || len(fs[2].Nested) != 0 {
		t.Errorf("%#v", fs)
	}
	// Inside, single quotes are ordinary.
	if n := fs[0].Nested; !reflect.DeepEqual(n, []Field{pf("a", "b'c"), pf("d", "e")}) {
		t.Errorf("nested %#v", n)
	}
	fs = ParseFields(`msg='unterminated a=1`)
	if len(fs) != 1 || fs[0].Value != "unterminated a=1" || len(fs[0].Nested) != 1 {
		t.Errorf("%#v", fs)
	}
}

func TestFormatFieldsRoundTrip(t *testing.T) {
	for _, s := range []string{
		`a=1 b="two words" c=(null) d=? e=`,
		userPayload[strings.Index(userPayload, ": ")+2:],
		`msg='a=b'c d=e' x=1 m=''`,
		`name="unterminated`,
		`msg='x'' y="`,
	} {
		fs := ParseFields(s)
		again := ParseFields(FormatFields(fs))
		if !reflect.DeepEqual(fs, again) {
			t.Errorf("%q: round trip\n%#v\n%#v", s, fs, again)
		}
	}
}

func TestCorpusFieldsRoundTrip(t *testing.T) {
	for _, l := range mustCorpusLines(t) {
		fr, err := ParseLogLine(l.text)
		if err != nil {
			continue
		}
		fs := fr.Fields()
		again := ParseFields(FormatFields(fs))
		if !reflect.DeepEqual(fs, again) {
			t.Errorf("%v: round trip differs", l)
		}
		for _, x := range fs {
			DecodeRecordValue(fr.Type, x)
		}
	}
}

func TestDecodeValue(t *testing.T) {
	cases := []struct {
		typ  uint16
		in   Field
		want string
		ok   bool
	}{
		{0, qf("comm", "echo"), "echo", true},
		{0, pf("comm", "6120622063"), "a b c", true},
		{0, pf("comm", "6162"), "ab", true},
		{0, pf("cwd", "2f746d702f6120"), "/tmp/a ", true}, // lower case accepted
		{0, pf("name", "(null)"), "(null)", false},
		{0, pf("key", "(null)"), "(null)", false},
		{0, pf("path", "<too_long>"), "<too_long>", false},
		{0, pf("exe", "616"), "616", false}, // odd length
		{0, pf("proctitle", "2F62696E2F7368002D63"), "/bin/sh\x00-c", true},
		{TypeSyscall, pf("a0", "7ffd1234"), "7ffd1234", true}, // a number
		{0, pf("a0", "41"), "41", true},                       // unknown type: a number
		{TypeExecve, pf("a0", "41"), "A", true},               // an argument
		{TypeExecve, pf("a1[0]", "4142"), "AB", true},
		{0, pf("a1[0]", "4142"), "AB", true},
		{TypeExecve, pf("a1_len", "4142"), "4142", true}, // a length
		{TypeExecve, pf("argc", "12"), "12", true},
		{0, pf("syscall", "59"), "59", true},
		{0, pf("tty", "(none)"), "(none)", false},
		{0, pf("hostname", "?"), "?", false},
		{0, pf("exit", ""), "", false},
		{0, pf("saddr", "0100"), "0100", true}, // binary, not a string
		{0, Field{Key: "msg", Value: "op=x", Quoted: true, Nested: []Field{pf("op", "x")}}, "op=x", true},
	}
	for _, c := range cases {
		got, ok := DecodeRecordValue(c.typ, c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("DecodeRecordValue(%d, %+v) = %q, %v; want %q, %v", c.typ, c.in, got, ok, c.want, c.ok)
		}
		if c.typ == 0 {
			if got2, ok2 := DecodeValue(c.in); got2 != got || ok2 != ok {
				t.Errorf("DecodeValue(%+v) differs", c.in)
			}
		}
	}
}

func TestIsUntrustedString(t *testing.T) {
	yes := []struct {
		typ uint16
		key string
	}{{0, "comm"}, {0, "exe"}, {0, "cwd"}, {0, "name"}, {0, "key"}, {0, "proctitle"}, {0, "path"}, {0, "ocomm"}, {TypeExecve, "a0"}, {TypeExecve, "a17"}, {0, "a1[0]"}, {TypeSyscall, "a1[2]"}}
	no := []struct {
		typ uint16
		key string
	}{{TypeSyscall, "a0"}, {0, "a0"}, {TypeExecve, "argc"}, {TypeExecve, "a1_len"}, {TypeExecve, "a01"}, {TypeExecve, "a"}, {0, "a1[]"}, {0, "a1[x]"}, {0, "pid"}, {0, "saddr"}, {0, "dev"}, {0, "tty"}}
	for _, c := range yes {
		if !IsUntrustedString(c.typ, c.key) {
			t.Errorf("IsUntrustedString(%d, %q) = false", c.typ, c.key)
		}
	}
	for _, c := range no {
		if IsUntrustedString(c.typ, c.key) {
			t.Errorf("IsUntrustedString(%d, %q) = true", c.typ, c.key)
		}
	}
}

func TestEncodeUntrustedString(t *testing.T) {
	for in, want := range map[string]struct {
		v string
		q bool
	}{
		"/bin/echo": {"/bin/echo", true},
		"a b":       {"612062", false},
		`a"b`:       {"612262", false},
		"\x7f":      {"7F", false},
		"é":         {"C3A9", false},
		"":          {"", true},
	} {
		v, q := EncodeUntrustedString(in)
		if v != want.v || q != want.q {
			t.Errorf("EncodeUntrustedString(%q) = %q, %v", in, v, q)
		}
		if got, _ := DecodeValue(Field{Key: "name", Value: v, Quoted: q}); got != in {
			t.Errorf("decode(encode(%q)) = %q", in, got)
		}
	}
}

func TestDecodeHex(t *testing.T) {
	for in, want := range map[string]string{"41": "A", "00ff": "\x00\xff", "4A4b": "JK"} {
		if b, ok := DecodeHex(in); !ok || string(b) != want {
			t.Errorf("DecodeHex(%q) = %q, %v", in, b, ok)
		}
	}
	for _, in := range []string{"", "4", "4G", "(null)", "0x41", " 41"} {
		if _, ok := DecodeHex(in); ok {
			t.Errorf("DecodeHex(%q) accepted", in)
		}
	}
}

// TestFieldScannerOffsets: the scanner's offsets locate each value in the
// payload, quotes excluded, and Closed says whether the closing quote is
// there.
func TestFieldScannerOffsets(t *testing.T) {
	for _, body := range []string{
		`pid=12 comm="sh" exe="/bin/sh" key=(null)`,
		`msg='op=PAM:session_open acct="root" exe="/usr/sbin/sshd" res=success'`,
		`a="unterminated`, `b='unterminated nested=1`, `x= y=""`, `  lead=1   trail=2  `,
	} {
		sc := NewFieldScanner(body)
		for sc.Next() {
			if body[sc.ValueStart:sc.ValueEnd] != sc.Value {
				t.Errorf("%q: %s: offsets %d-%d give %q, value %q", body, sc.Key, sc.ValueStart, sc.ValueEnd, body[sc.ValueStart:sc.ValueEnd], sc.Value)
			}
			closed := sc.Quoted && sc.ValueEnd < len(body) && (body[sc.ValueEnd] == '"' || body[sc.ValueEnd] == '\'')
			if sc.Quoted && sc.Closed != closed {
				t.Errorf("%q: %s: closed %v, want %v", body, sc.Key, sc.Closed, closed)
			}
			if sc.SingleQuoted {
				n := NewNestedFieldScanner(sc.Value)
				for n.Next() {
					if sc.Value[n.ValueStart:n.ValueEnd] != n.Value {
						t.Errorf("%q: nested %s offsets", body, n.Key)
					}
				}
			}
		}
	}
}

package replay

import (
	"strings"
)

// Field is one key=value pair of an audit record.
//
// Values are stored without their quotes. Quoted says the value was quoted,
// with "..." or '...'. A single-quoted value (the msg='...' of records sent
// by user space: USER_*, CRED_*, USER_AVC ...) is itself a list of fields:
// Nested holds them, parsed, in order, and is non-nil (possibly empty)
// exactly when the value was single-quoted; Value keeps the inner text. The
// inner fields are not flattened into the outer list because user records
// carry some keys (pid, uid, msg) at both levels; FindField looks in both.
type Field struct {
	Key    string
	Value  string
	Quoted bool
	Nested []Field
}

// isSpace reports whether c separates fields.
func isSpace(c byte) bool { return byteClass[c]&classSpace != 0 }

// byteClass classifies bytes for the field scanner.
var byteClass = func() (t [256]uint8) {
	for _, c := range []byte(" \t\n\r\v\f") {
		t[c] |= classSpace
	}
	t['='] |= classEqual
	return t
}()

const (
	classSpace = 1 << iota // separates fields
	classEqual             // '='
)

// ParseFields splits an audit record body into its key=value fields, in
// order, keeping duplicate keys. Value forms:
//
//	key="text"   Quoted; ends at the next '"' (the kernel hex-encodes any
//	             string containing '"', so there is no escaping)
//	key='a=1 b'  Quoted, Nested = ParseFields("a=1 b"); ends at the first
//	             single quote followed by a space or the end of the payload.
//	             Only at the top level: inside, a single quote is an ordinary
//	             character.
//	key=value    anything up to the next space, kept as is: 7ffd1234,
//	             (null), ?, (none), ==unconfined
//
// An unterminated quote runs to the end of the payload. Words without '='
// ("avc:  denied  { read }", "auditd start,") are skipped. ParseFields never
// fails: whatever it cannot read as a field is skipped.
func ParseFields(payload string) []Field {
	return parseFields(payload, false)
}

func parseFields(s string, nested bool) []Field {
	var out []Field
	sc := FieldScanner{s: s, nested: nested}
	for sc.Next() {
		f := Field{Key: sc.Key, Value: sc.Value, Quoted: sc.Quoted}
		if sc.SingleQuoted {
			f.Nested = parseFields(f.Value, true)
			if f.Nested == nil {
				f.Nested = []Field{}
			}
		}
		out = append(out, f)
	}
	return out
}

// FieldScanner walks the fields of a record body one at a time without
// allocating: what ParseFields returns, in the same order, with Key and
// Value substrings of the body. A single-quoted value is not split into its
// nested fields (SingleQuoted says it was one; ParseFields(Value) splits
// it). The zero value scans nothing; use NewFieldScanner.
//
//	sc := replay.NewFieldScanner(body)
//	for sc.Next() {
//		switch sc.Key { ... }
//	}
type FieldScanner struct {
	s      string
	i      int
	nested bool

	// The current field, after Next returned true.
	Key, Value   string
	Quoted       bool // "..." or '...'
	SingleQuoted bool // '...'
	// ValueStart and ValueEnd locate Value in the payload (without its
	// quotes); Closed says a quoted value's closing quote is there (an
	// unterminated quote runs to the end). For rewriting a value in place.
	ValueStart, ValueEnd int
	Closed               bool
}

// NewFieldScanner returns a scanner of the fields of payload.
func NewFieldScanner(payload string) FieldScanner { return FieldScanner{s: payload} }

// NewNestedFieldScanner returns a scanner of the fields inside a
// single-quoted value (user space's msg='...'), where a single quote does
// not start a value: ParseFields's Nested.
func NewNestedFieldScanner(value string) FieldScanner { return FieldScanner{s: value, nested: true} }

// Next moves to the next field; false at the end of the body.
func (sc *FieldScanner) Next() bool {
	s, i := sc.s, sc.i
	for i < len(s) {
		for i < len(s) && byteClass[s[i]]&classSpace != 0 {
			i++
		}
		if i >= len(s) {
			break
		}
		start := i
		for i < len(s) && byteClass[s[i]] == 0 {
			i++
		}
		if i >= len(s) || s[i] != '=' || i == start || s[start] == '"' || s[start] == '\'' {
			// A bare word, or a token that cannot start a field.
			for i < len(s) && byteClass[s[i]]&classSpace == 0 {
				i++
			}
			continue
		}
		sc.Key = s[start:i]
		sc.Quoted, sc.SingleQuoted = false, false
		i++ // '='
		switch {
		case i < len(s) && s[i] == '"':
			i++
			if j := strings.IndexByte(s[i:], '"'); j >= 0 {
				sc.Value, sc.ValueStart, sc.ValueEnd, sc.Closed = s[i:i+j], i, i+j, true
				i += j + 1
			} else {
				sc.Value, sc.ValueStart, sc.ValueEnd, sc.Closed = s[i:], i, len(s), false
				i = len(s)
			}
			sc.Quoted = true
		case !sc.nested && i < len(s) && s[i] == '\'':
			i++
			end := singleQuoteEnd(s, i)
			sc.Value, sc.ValueStart, sc.ValueEnd, sc.Closed = s[i:end], i, end, end < len(s)
			i = end + 1 // past the closing quote, or len(s)+1 if none
			sc.Quoted, sc.SingleQuoted = true, true
		default:
			j := i
			for j < len(s) && byteClass[s[j]]&classSpace == 0 {
				j++
			}
			sc.Value, sc.ValueStart, sc.ValueEnd, sc.Closed = s[i:j], i, j, false
			i = j
		}
		sc.i = i
		return true
	}
	sc.i = len(s)
	return false
}

// singleQuoteEnd returns the index of the quote closing a '...' value that
// starts at i: the first single quote followed by a space or the end of s;
// len(s) if there is none.
func singleQuoteEnd(s string, i int) int {
	for i < len(s) {
		j := strings.IndexByte(s[i:], '\'')
		if j < 0 {
			return len(s)
		}
		i += j
		if i+1 == len(s) || isSpace(s[i+1]) {
			return i
		}
		i++
	}
	return len(s)
}

// FormatFields writes fields back in the kernel's syntax, separated by single
// spaces: key=value, key="value", or key='value' when Nested is non-nil.
// ParseFields(FormatFields(fs)) == fs for any fs returned by ParseFields.
// Values a syntax cannot hold (a '"' inside a double-quoted value, a space in
// an unquoted one) are written as they are and will not read back the same.
func FormatFields(fields []Field) string {
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.Key)
		b.WriteByte('=')
		switch {
		case f.Nested != nil:
			b.WriteByte('\'')
			b.WriteString(f.Value)
			b.WriteByte('\'')
		case f.Quoted:
			b.WriteByte('"')
			b.WriteString(f.Value)
			b.WriteByte('"')
		default:
			b.WriteString(f.Value)
		}
	}
	return b.String()
}

// FindField returns the first field named key: at the top level first, then
// inside the Nested lists in order.
func FindField(fields []Field, key string) (Field, bool) {
	for _, f := range fields {
		if f.Key == key {
			return f, true
		}
	}
	for _, f := range fields {
		for _, n := range f.Nested {
			if n.Key == key {
				return n, true
			}
		}
	}
	return Field{}, false
}

// untrustedStrings are the keys whose values are strings written by the
// kernel's audit_log_untrustedstring / audit_log_n_untrustedstring (or by
// user space's audit_encode_nv_string, which follows the same rule): quoted
// when the string is plain, hex-encoded (upper case, no quotes) when it
// contains a space, a '"', a control character or a byte >= 0x7f. An
// unquoted value of such a key is either hex or a placeholder such as
// "(null)". Other keys' unquoted values are numbers, flags or names, never
// hex-encoded strings: a0=7ffd... in a SYSCALL record is a pointer.
//
// The execve arguments aN (EXECVE records only: in SYSCALL records aN are
// syscall arguments) and their pieces aN[i] follow the same rule; see
// IsUntrustedString.
var untrustedStrings = map[string]bool{
	// audit_log_task_info, audit_log_exit, audit_log_name (kernel/audit*.c)
	"comm":      true, // task comm
	"exe":       true, // audit_log_d_path_exe
	"cwd":       true, // CWD record
	"name":      true, // PATH record, KERN_MODULE, IMA, AVC dentry name, AppArmor
	"key":       true, // audit rule key
	"proctitle": true, // PROCTITLE record
	"path":      true, // audit_log_d_path: AVC, watch and mark rules
	"ocomm":     true, // OBJ_PID record
	"data":      true, // TTY (always hex), USER_TTY
	// security/lsm_audit.c
	"kmod":     true,
	"key_desc": true,
	// SELinux: raw contexts that failed to parse
	"srawcon":         true,
	"trawcon":         true,
	"invalid_context": true,
	// AppArmor labels (aa_label_xaudit)
	"profile": true,
	"label":   true,
	"peer":    true,
	"target":  true,
	// user space (libaudit audit_encode_nv_string), inside msg='...'
	"acct": true,
	"cmd":  true,
}

// IsUntrustedString reports whether key holds an untrusted string, which
// the kernel hex-encodes when it contains special bytes, in records of the
// given type. The keys are comm, exe, cwd, name, key, proctitle, path,
// ocomm, data, kmod, key_desc, srawcon, trawcon, invalid_context, profile,
// label, peer, target, acct, cmd in any record; aN[i] (a piece of a split
// execve argument) in any record; and aN only in EXECVE records (type 1309).
// recordType 0 means unknown: aN is then taken as a number.
func IsUntrustedString(recordType uint16, key string) bool {
	if untrustedStrings[key] {
		return true
	}
	switch kind, _, _ := ParseArgKey(key); kind {
	case ArgPiece:
		return true
	case ArgWhole:
		return recordType == TypeExecve
	}
	return false
}

// placeholder reports whether an unquoted value is one the kernel or user
// space writes for "no value".
func placeholder(v string) bool {
	switch v {
	case "", "?", "(null)", "(none)":
		return true
	}
	return false
}

// DecodeValue returns the value of f as its writer meant it, and whether it
// is a real value rather than a placeholder or undecodable text:
//
//   - quoted: the text between the quotes, true;
//   - unquoted, untrusted-string key (see IsUntrustedString with an unknown
//     record type): the hex-decoded bytes, true; if the value is not
//     even-length hex ("(null)", "?", "<too_long>"), the raw text, false;
//   - any other unquoted value: the raw text, false for the placeholders
//     "", "?", "(null)" and "(none)", true otherwise.
//
// Hex-decoded strings may contain any byte, NUL included (proctitle).
func DecodeValue(f Field) (string, bool) {
	return DecodeRecordValue(0, f)
}

// DecodeRecordValue is DecodeValue for a field of a record of the given
// type: in EXECVE records (1309) the aN fields are decoded as strings too.
func DecodeRecordValue(recordType uint16, f Field) (string, bool) {
	if f.Quoted {
		return f.Value, true
	}
	if IsUntrustedString(recordType, f.Key) {
		if b, ok := DecodeHex(f.Value); ok {
			return string(b), true
		}
		return f.Value, false
	}
	return f.Value, !placeholder(f.Value)
}

// DecodeHex decodes a non-empty, even-length string of hex digits (either
// case; the kernel writes upper case). ok is false for anything else.
func DecodeHex(s string) (b []byte, ok bool) {
	if len(s) == 0 || len(s)%2 != 0 {
		return nil, false
	}
	b = make([]byte, len(s)/2)
	for i := 0; i < len(b); i++ {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return nil, false
		}
		b[i] = hi<<4 | lo
	}
	return b, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// needsHex reports whether the kernel would hex-encode s
// (audit_string_contains_control): a '"', a byte below 0x21 (space and
// control characters) or above 0x7e.
func needsHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c < 0x21 || c > 0x7e {
			return true
		}
	}
	return false
}

// EncodeUntrustedString encodes s the way the kernel's
// audit_log_untrustedstring does: quoted if plain, upper-case hex otherwise.
// It returns the value text and whether it is quoted, ready for a Field.
func EncodeUntrustedString(s string) (value string, quoted bool) {
	if !needsHex(s) {
		return s, true
	}
	const digits = "0123456789ABCDEF"
	b := make([]byte, 2*len(s))
	for i := 0; i < len(s); i++ {
		b[2*i] = digits[s[i]>>4]
		b[2*i+1] = digits[s[i]&0xf]
	}
	return string(b), false
}

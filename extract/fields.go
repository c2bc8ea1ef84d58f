package extract

import (
	"slices"
	"strings"

	"github.com/ctrace/ctrace/replay"
)

// span locates one key=value field of an audit record body, so that a value
// can be replaced in place and everything else kept byte for byte (from
// replay's field scanner).
type span struct {
	key string
	// valStart, valEnd: the value without its quotes, as offsets in the
	// body.
	valStart, valEnd int
	// quote is '"' or '\'' for a quoted value, 0 otherwise; closed says the
	// closing quote is there (an unterminated quote runs to the end).
	quote  byte
	closed bool
	// nested are the fields inside a single-quoted value (user space's
	// msg='...'), with offsets in the body.
	nested []span
}

func (sp *span) value(body string) string { return body[sp.valStart:sp.valEnd] }

// field returns the span as a replay.Field (without Nested).
func (sp *span) field(body string) replay.Field {
	return replay.Field{Key: sp.key, Value: sp.value(body), Quoted: sp.quote != 0}
}

// outer returns the range the replacement of the value covers: the value
// and its quotes.
func (sp *span) outer() (int, int) {
	start, end := sp.valStart, sp.valEnd
	if sp.quote != 0 {
		start--
		if sp.closed {
			end++
		}
	}
	return start, end
}

// scanFields splits s (at offset base of the body) with replay's field
// scanner: the fields replay.ParseFields gives, located in the body.
func scanFields(s string, base int, nested bool) []span {
	sc := replay.NewFieldScanner(s)
	if nested {
		sc = replay.NewNestedFieldScanner(s)
	}
	var out []span
	for sc.Next() {
		sp := span{key: sc.Key, valStart: base + sc.ValueStart, valEnd: base + sc.ValueEnd, closed: sc.Closed}
		switch {
		case sc.SingleQuoted:
			sp.quote = '\''
			sp.nested = scanFields(sc.Value, base+sc.ValueStart, true)
		case sc.Quoted:
			sp.quote = '"'
		}
		out = append(out, sp)
	}
	return out
}

// edit replaces body[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// applyEdits applies non-overlapping edits to s.
func applyEdits(s string, edits []edit) string {
	if len(edits) == 0 {
		return s
	}
	slices.SortFunc(edits, func(a, b edit) int { return a.start - b.start })
	var b strings.Builder
	b.Grow(len(s) + 64)
	pos := 0
	for _, e := range edits {
		if e.start < pos || e.end < e.start || e.end > len(s) {
			continue // overlapping: keep the first
		}
		b.WriteString(s[pos:e.start])
		b.WriteString(e.text)
		pos = e.end
	}
	b.WriteString(s[pos:])
	return b.String()
}

// encodeValue writes a decoded untrusted string the way the kernel does
// (replay.EncodeUntrustedString): "text" when plain, upper-case hex
// otherwise.
func encodeValue(v string) string {
	val, quoted := replay.EncodeUntrustedString(v)
	if quoted {
		return `"` + val + `"`
	}
	return val
}

// replaceValue is the edit that gives span sp the decoded value v.
func replaceValue(sp *span, v string) edit {
	start, end := sp.outer()
	return edit{start, end, encodeValue(v)}
}

// decodeSpan decodes an untrusted-string value: quoted text as is,
// otherwise hex. ok is false for placeholders and anything not hex.
func decodeSpan(sp *span, body string) (string, bool) {
	if sp.quote == '"' {
		return sp.value(body), true
	}
	if sp.quote != 0 {
		return "", false
	}
	b, ok := replay.DecodeHex(sp.value(body))
	if !ok {
		return "", false
	}
	return string(b), true
}

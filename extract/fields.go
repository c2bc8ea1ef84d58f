package extract

import (
	"slices"
	"strings"

	"github.com/ctrace/ctrace/replay"
)

// span locates one key=value field of an audit record body, so that a value
// can be replaced in place and everything else kept byte for byte. The
// scanner follows replay.ParseFields exactly (same fields, same values).
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

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

// scanFields splits s (at offset base of the body) like replay.ParseFields.
func scanFields(s string, base int, nested bool) []span {
	var out []span
	i := 0
	for i < len(s) {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			break
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		if i >= len(s) || s[i] != '=' || i == start || s[start] == '"' || s[start] == '\'' {
			for i < len(s) && !isSpace(s[i]) {
				i++
			}
			continue
		}
		sp := span{key: s[start:i]}
		i++ // '='
		switch {
		case i < len(s) && s[i] == '"':
			i++
			sp.quote = '"'
			if j := strings.IndexByte(s[i:], '"'); j >= 0 {
				sp.valStart, sp.valEnd, sp.closed = base+i, base+i+j, true
				i += j + 1
			} else {
				sp.valStart, sp.valEnd = base+i, base+len(s)
				i = len(s)
			}
		case !nested && i < len(s) && s[i] == '\'':
			i++
			end := singleQuoteEnd(s, i)
			sp.quote = '\''
			sp.valStart, sp.valEnd, sp.closed = base+i, base+end, end < len(s)
			sp.nested = scanFields(s[i:end], base+i, true)
			i = end + 1
		default:
			j := i
			for j < len(s) && !isSpace(s[j]) {
				j++
			}
			sp.valStart, sp.valEnd = base+i, base+j
			i = j
		}
		out = append(out, sp)
	}
	return out
}

// singleQuoteEnd is replay's: the first single quote followed by a space or
// the end of s, or len(s).
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

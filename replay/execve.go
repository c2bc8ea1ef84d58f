package replay

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MaxArgc bounds the argc that ExecveArgs accepts (Linux's argv fits in
// ARG_MAX, a quarter of the stack limit: about a million empty strings).
const MaxArgc = 1 << 20

// MaxProctitleLen is the kernel's cut for PROCTITLE (MAX_PROCTITLE_AUDIT_LEN):
// a decoded title of this length is probably truncated.
const MaxProctitleLen = 128

// ArgError reports one missing or damaged argument found by ExecveArgs.
type ArgError struct {
	Index  int // argument number (aN)
	Reason string
}

func (e *ArgError) Error() string {
	return fmt.Sprintf("replay: execve argument %d: %s", e.Index, e.Reason)
}

// maxReported bounds the problems ExecveArgs lists in its error.
const maxReported = 16

// ArgKeyKind classifies EXECVE keys.
type ArgKeyKind int

const (
	ArgNone  ArgKeyKind = iota
	ArgWhole            // aN
	ArgPiece            // aN[i]
	ArgLen              // aN_len
)

// ParseArgKey parses the key of an EXECVE argument field: aN (ArgWhole),
// aN[i] (ArgPiece, piece i) and aN_len (ArgLen); anything else is ArgNone.
// Numbers have no sign and no leading zero.
func ParseArgKey(key string) (kind ArgKeyKind, n, piece int) {
	rest, ok := strings.CutPrefix(key, "a")
	if !ok {
		return ArgNone, 0, 0
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	n, ok = smallNumber(rest[:i])
	if !ok {
		return ArgNone, 0, 0
	}
	switch tail := rest[i:]; {
	case tail == "":
		return ArgWhole, n, -1
	case tail == "_len":
		return ArgLen, n, -1
	case len(tail) > 2 && tail[0] == '[' && tail[len(tail)-1] == ']':
		if p, ok := smallNumber(tail[1 : len(tail)-1]); ok {
			return ArgPiece, n, p
		}
	}
	return ArgNone, 0, 0
}

// smallNumber parses a decimal number below 1<<31 without sign or leading
// zero.
func smallNumber(s string) (int, bool) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	v, err := parseDigits(s, 1<<31-1)
	if err != nil {
		return 0, false
	}
	return int(v), true
}

// execveArg gathers what the records say about one argument.
type execveArg struct {
	whole     *Field
	pieces    map[int]Field
	declared  int64 // aN_len, -1 when absent
	conflicts []string
}

// ExecveArgs rebuilds argv from the EXECVE records of one event, given in
// order as parsed fields. The first record holds argc=N; the arguments are
// aN="text" (quoted) or aN=HEX (hex-encoded when the argument contains a
// space, '"', a control character or a byte >= 0x7f). The kernel splits an
// argument that does not fit in what is left of a record (or is longer than
// 7500 bytes) into pieces, possibly spread over several records:
//
//	a1_len=16384 a1[0]=6261... a1[1]=6461... a1[2]=...
//
// where aN_len counts the encoded characters (hex digits, or bytes for
// quoted pieces). Each piece is decoded on its own and the pieces are joined.
//
// The result has exactly argc entries (or, without a usable argc, as many
// as the highest argument seen). Problems do not stop the reassembly: a
// missing argument is "", a missing piece is skipped, a truncated one kept,
// and the error (joined *ArgError values, among others) says which argument
// is affected and how. An argument cannot contain NUL, so a NUL in a
// decoded hex argument is damage: the argument is cut before it and the
// error says so. Identical repeated fields (some logs duplicate records)
// are tolerated; conflicting ones are reported and the first is kept.
func ExecveArgs(records [][]Field) ([]string, error) {
	var errs []error
	args := make(map[int]*execveArg)
	get := func(n int) *execveArg {
		a := args[n]
		if a == nil {
			a = &execveArg{declared: -1}
			args[n] = a
		}
		return a
	}
	argc := -1
	maxIndex := -1
	for _, rec := range records {
		for _, f := range rec {
			if f.Key == "argc" {
				n, err := parseDigits(f.Value, 1<<63-1)
				switch {
				case err != nil:
					errs = append(errs, fmt.Errorf("replay: execve: argc=%q: %v", clip(f.Value), err))
				case argc >= 0 && int64(n) != int64(argc):
					errs = append(errs, fmt.Errorf("replay: execve: conflicting argc=%d and argc=%d", argc, n))
				case n > MaxArgc:
					errs = append(errs, fmt.Errorf("replay: execve: argc=%d exceeds %d", n, MaxArgc))
				default:
					argc = int(n)
				}
				continue
			}
			kind, n, piece := ParseArgKey(f.Key)
			if kind == ArgNone {
				continue
			}
			a := get(n)
			maxIndex = max(maxIndex, n)
			switch kind {
			case ArgWhole:
				if a.whole == nil {
					fc := f
					a.whole = &fc
				} else if !sameField(*a.whole, f) {
					a.conflicts = append(a.conflicts, "conflicting values")
				}
			case ArgPiece:
				if a.pieces == nil {
					a.pieces = make(map[int]Field)
				}
				if old, ok := a.pieces[piece]; !ok {
					a.pieces[piece] = f
				} else if !sameField(old, f) {
					a.conflicts = append(a.conflicts, fmt.Sprintf("conflicting values for piece %d", piece))
				}
			case ArgLen:
				v, err := parseDigits(f.Value, 1<<62)
				switch {
				case err != nil:
					a.conflicts = append(a.conflicts, fmt.Sprintf("bad length %q", clip(f.Value)))
				case a.declared >= 0 && a.declared != int64(v):
					a.conflicts = append(a.conflicts, "conflicting lengths")
				default:
					a.declared = int64(v)
				}
			}
		}
	}

	count := argc
	if count < 0 {
		if len(errs) == 0 {
			errs = append(errs, errors.New("replay: execve: no argc"))
		}
		count = min(maxIndex+1, MaxArgc)
	}
	out := make([]string, count)
	var argErrs []*ArgError
	problems := 0
	report := func(i int, format string, v ...any) {
		problems++
		if len(argErrs) < maxReported {
			argErrs = append(argErrs, &ArgError{Index: i, Reason: fmt.Sprintf(format, v...)})
		}
	}

	// Arguments beyond argc, in index order.
	var beyond []int
	for n := range args {
		if n >= count {
			beyond = append(beyond, n)
		}
	}
	slices.Sort(beyond)
	for _, n := range beyond {
		report(n, "beyond argc=%d", count)
	}

	for i := 0; i < count; i++ {
		a := args[i]
		if a == nil {
			report(i, "missing")
			continue
		}
		for _, c := range a.conflicts {
			report(i, "%s", c)
		}
		if a.whole != nil {
			if a.pieces != nil {
				report(i, "both whole and split; the whole value is used")
			}
			s, ok := decodeArg(*a.whole)
			if !ok {
				report(i, "value %q is neither quoted nor hex", clip(a.whole.Value))
			}
			out[i] = cutNUL(i, s, !a.whole.Quoted, report)
			continue
		}
		if a.pieces == nil {
			report(i, "only a length, no value")
			continue
		}
		out[i] = joinPieces(i, a, report)
	}

	for _, e := range argErrs {
		errs = append(errs, e)
	}
	if problems > len(argErrs) {
		errs = append(errs, fmt.Errorf("replay: execve: and %d more problems", problems-len(argErrs)))
	}
	return out, errors.Join(errs...)
}

// joinPieces decodes and joins the pieces aN[0], aN[1]... of argument i.
func joinPieces(i int, a *execveArg, report func(int, string, ...any)) string {
	idx := make([]int, 0, len(a.pieces))
	for p := range a.pieces {
		idx = append(idx, p)
	}
	slices.Sort(idx)
	var b strings.Builder
	var encoded int64
	hex := false
	next := 0
	for _, p := range idx {
		if p > next {
			if p == next+1 {
				report(i, "piece %d missing", next)
			} else {
				report(i, "pieces %d..%d missing", next, p-1)
			}
		}
		next = p + 1
		f := a.pieces[p]
		encoded += int64(len(f.Value))
		s, ok := decodeArg(f)
		if !ok {
			report(i, "piece %d: value %q is neither quoted nor hex", p, clip(f.Value))
		}
		hex = hex || !f.Quoted
		b.WriteString(s)
	}
	switch {
	case a.declared < 0:
		report(i, "split without a%d_len", i)
	case encoded < a.declared:
		report(i, "truncated: %d of %d encoded bytes", encoded, a.declared)
	case encoded > a.declared:
		report(i, "%d encoded bytes, more than a%d_len=%d", encoded, i, a.declared)
	}
	return cutNUL(i, b.String(), hex, report)
}

// decodeArg decodes one argument or piece: quoted is literal, unquoted is
// hex. When the value is not hex it is returned as is with ok false.
func decodeArg(f Field) (string, bool) {
	if f.Quoted {
		return f.Value, true
	}
	if f.Value == "" {
		return "", false
	}
	b, ok := DecodeHex(f.Value)
	if !ok {
		return f.Value, false
	}
	return string(b), true
}

// cutNUL cuts a decoded argument at its first NUL, reporting it.
func cutNUL(i int, s string, decoded bool, report func(int, string, ...any)) string {
	if !decoded {
		return s
	}
	if k := strings.IndexByte(s, 0); k >= 0 {
		report(i, "NUL at byte %d of %d (damaged); cut there", k, len(s))
		return s[:k]
	}
	return s
}

func sameField(a, b Field) bool {
	return a.Key == b.Key && a.Value == b.Value && a.Quoted == b.Quoted
}

// DecodeProctitle decodes the proctitle field of a PROCTITLE record into
// the process's argv. The kernel logs the command line (the NUL-separated
// arguments) quoted when it is one plain argument, and hex-encoded
// otherwise; it strips trailing NULs and non-printable bytes and cuts at
// MaxProctitleLen bytes, so the last argument may be truncated and trailing
// empty arguments are lost. Empty arguments inside are kept. A trailing NUL
// (not written by the kernel) ends the last argument. PROCTITLE holds the
// title at exit time, which a process may have rewritten; prefer EXECVE's
// arguments for argv.
func DecodeProctitle(f Field) ([]string, error) {
	if f.Quoted {
		return []string{f.Value}, nil
	}
	b, ok := DecodeHex(f.Value)
	if !ok {
		return nil, fmt.Errorf("replay: proctitle %q is neither quoted nor hex", clip(f.Value))
	}
	s := strings.TrimSuffix(string(b), "\x00")
	return strings.Split(s, "\x00"), nil
}

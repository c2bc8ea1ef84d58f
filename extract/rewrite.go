package extract

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/ctrace/ctrace/format"
	"github.com/ctrace/ctrace/replay"
)

// ---- audit records ----

// rewriteAudit applies the redaction to one audit datagram. cwd is the
// original working directory of the record's event ("" when unknown),
// extra the edits planned for it (EXECVE arguments, see planExecve). The
// netlink header's length is kept consistent: nlmsg_len keeps its relation
// to the datagram (the whole datagram on the multicast group, the payload
// alone on the unicast socket). It returns nil when nothing changed.
func (r *redactor) rewriteAudit(data []byte, order binary.ByteOrder, cwd string, extra []edit) []byte {
	f, err := replay.DecodeAudit(data, order)
	if err != nil || f.Kind != replay.AuditEvent {
		return nil
	}
	payload := data[replay.NetlinkHeaderSize:]
	n := len(payload)
	for n > 0 && payload[n-1] == 0 {
		n--
	}
	text := string(payload[:n])
	if !strings.HasSuffix(text, f.Body) {
		return nil
	}
	hdrLen := len(text) - len(f.Body)
	body := f.Body
	edits := r.bodyEdits(f.Type, body, cwd)
	edits = append(edits, extra...)
	nb := applyEdits(body, edits)
	if nb == body {
		return nil
	}
	out := make([]byte, 0, len(data)+len(nb)-len(body))
	out = append(out, data[:replay.NetlinkHeaderSize]...)
	out = append(out, text[:hdrLen]...)
	out = append(out, nb...)
	out = append(out, payload[n:]...)
	fixNetlinkLength(out, len(data), order)
	return out
}

// fixNetlinkLength updates nlmsg_len of a datagram rewritten from one of
// oldLen bytes: the full length stays the full length (multicast), the
// payload length the payload length (unicast), any other value moves by the
// same amount.
func fixNetlinkLength(b []byte, oldLen int, order binary.ByteOrder) {
	old := int64(order.Uint32(b))
	var nl int64
	switch old {
	case int64(oldLen):
		nl = int64(len(b))
	case int64(oldLen - replay.NetlinkHeaderSize):
		nl = int64(len(b) - replay.NetlinkHeaderSize)
	default:
		nl = max(old+int64(len(b)-oldLen), 0)
	}
	order.PutUint32(b, uint32(min(nl, 1<<32-1)))
}

// bodyEdits are the edits of one record's fields (EXECVE arguments apart).
func (r *redactor) bodyEdits(typ uint16, body, cwd string) []edit {
	spans := scanFields(body, 0, false)
	var edits []edit
	r.spanEdits(typ, spans, body, cwd, &edits)
	for i := range spans {
		if spans[i].nested != nil {
			r.spanEdits(typ, spans[i].nested, body, cwd, &edits)
		}
	}
	return edits
}

func (r *redactor) spanEdits(typ uint16, spans []span, body, cwd string, edits *[]edit) {
	exe := ""
	for i := range spans {
		if spans[i].key == "exe" {
			exe, _ = decodeSpan(&spans[i], body)
		}
	}
	for i := range spans {
		sp := &spans[i]
		if sp.nested != nil {
			continue
		}
		if typ == replay.TypeExecve {
			if k, _, _ := replay.ParseArgKey(sp.key); k != replay.ArgNone {
				continue // planned for the whole event
			}
		}
		var fn func(string) string
		switch sp.key {
		case "name":
			if typ == replay.TypePath {
				fn = func(v string) string { return r.path(v, cwd) }
			} else {
				fn = r.text
			}
		case "path", "exe", "cwd":
			fn = func(v string) string {
				if strings.HasPrefix(v, "/") {
					return r.path(v, "/")
				}
				return r.text(v)
			}
		case "proctitle":
			fn = r.proctitle
		case "comm":
			fn = func(v string) string { return r.comm(v, exe) }
		case "ocomm":
			fn = func(v string) string { return r.comm(v, "") }
		case "cmd":
			fn = r.commandLine
		case "data":
			fn = r.text
		default:
			continue
		}
		v, ok := decodeSpan(sp, body)
		if !ok {
			continue
		}
		if nv := fn(v); nv != v {
			*edits = append(*edits, replaceValue(sp, nv))
		}
	}
}

// proctitle rewrites a decoded PROCTITLE: its NUL-separated arguments as an
// argument list. The kernel cuts the title at 128 bytes: a secret cut there
// may not match a pattern any more.
func (r *redactor) proctitle(v string) string {
	args := strings.Split(v, "\x00")
	na := r.argv(args)
	if equalStrings(na, args) {
		return v
	}
	return strings.Join(na, "\x00")
}

// execveRecord is one EXECVE record of an event, for planExecve.
type execveRecord struct {
	pos  recPos
	body string
}

// recPos identifies a record of the input.
type recPos struct {
	seg int
	off int64
}

type argRef struct {
	rec int // index in the event's records
	sp  *span
}

// planExecve plans the edits of the EXECVE records of one event: argv is
// rebuilt from all of them (split arguments may run over several records),
// rewritten as an argument list, and every changed argument written back
// in place. A split argument (aN_len, aN[0], aN[1], ...) keeps its pieces:
// the new text is cut at the old pieces' lengths (the last takes the rest,
// empty pieces are written ""), all pieces hex-encoded when they were (the
// kernel hex-encodes every argument it splits) or the argument needs it,
// and aN_len says the new encoded length.
func (r *redactor) planExecve(recs []execveRecord) map[recPos][]edit {
	type arg struct {
		whole  *argRef
		pieces map[int]argRef
		length *argRef
	}
	args := map[int]*arg{}
	get := func(n int) *arg {
		a := args[n]
		if a == nil {
			a = &arg{}
			args[n] = a
		}
		return a
	}
	maxIndex := -1
	for ri, rec := range recs {
		spans := scanFields(rec.body, 0, false)
		for i := range spans {
			sp := &spans[i]
			kind, n, piece := replay.ParseArgKey(sp.key)
			if kind == replay.ArgNone || n > replay.MaxArgc {
				continue
			}
			a := get(n)
			maxIndex = max(maxIndex, n)
			ref := argRef{ri, sp}
			switch kind {
			case replay.ArgWhole:
				if a.whole == nil {
					a.whole = &ref
				}
			case replay.ArgPiece:
				if a.pieces == nil {
					a.pieces = map[int]argRef{}
				}
				if _, ok := a.pieces[piece]; !ok {
					a.pieces[piece] = ref
				}
			case replay.ArgLen:
				if a.length == nil {
					a.length = &ref
				}
			}
		}
	}
	if maxIndex < 0 {
		return nil
	}
	argv := make([]string, maxIndex+1)
	usable := make([]bool, maxIndex+1)
	for n, a := range args {
		switch {
		case a.whole != nil:
			argv[n], usable[n] = decodeSpan(a.whole.sp, recs[a.whole.rec].body)
		case a.pieces != nil:
			var b strings.Builder
			ok := true
			for _, p := range sortedKeys(a.pieces) {
				ref := a.pieces[p]
				s, good := decodeSpan(ref.sp, recs[ref.rec].body)
				ok = ok && good
				b.WriteString(s)
			}
			argv[n], usable[n] = b.String(), ok
		}
	}
	na := r.argv(argv)
	out := map[recPos][]edit{}
	add := func(ref argRef, e edit) {
		pos := recs[ref.rec].pos
		out[pos] = append(out[pos], e)
	}
	for n := range argv {
		if na[n] == argv[n] || !usable[n] {
			continue
		}
		a := args[n]
		if a.whole != nil {
			add(*a.whole, replaceValue(a.whole.sp, na[n]))
			continue
		}
		// Split: redistribute over the pieces.
		idx := sortedKeys(a.pieces)
		_, quoted := replay.EncodeUntrustedString(na[n])
		for _, p := range idx {
			if a.pieces[p].sp.quote == 0 {
				quoted = false // the kernel hex-encodes long arguments: stay so
			}
		}
		rest := na[n]
		total := 0
		for j, p := range idx {
			ref := a.pieces[p]
			old, _ := decodeSpan(ref.sp, recs[ref.rec].body)
			chunk := rest
			if j < len(idx)-1 {
				chunk = rest[:min(len(old), len(rest))]
			}
			rest = rest[len(chunk):]
			var text string
			switch {
			case chunk == "":
				text = `""`
			case quoted:
				text = `"` + chunk + `"`
				total += len(chunk)
			default:
				h := strings.ToUpper(hex.EncodeToString([]byte(chunk)))
				text = h
				total += len(h)
			}
			start, end := ref.sp.outer()
			add(ref, edit{start, end, text})
		}
		if a.length != nil {
			add(*a.length, edit{a.length.sp.valStart, a.length.sp.valEnd, strconv.Itoa(total)})
		}
	}
	return out
}

func sortedKeys(m map[int]argRef) []int {
	k := make([]int, 0, len(m))
	for p := range m {
		k = append(k, p)
	}
	slices.Sort(k)
	return k
}

// ---- proc connector ----

// procCommOffset is where comm[16] of a PROC_EVENT_COMM starts in the
// datagram: nlmsghdr (16), cn_msg (20), proc_event header (16), pid and
// tgid (8).
const procCommOffset = 16 + 20 + 16 + 8

// rewriteProcComm applies the patterns to the comm of a comm-change event,
// in place of the fixed 16-byte field (cut to 15 bytes and NUL-padded, as
// the kernel writes it). nil when nothing changed.
func (r *redactor) rewriteProcComm(data []byte, ev replay.ProcEvent) []byte {
	if ev.Kind != replay.ProcComm || len(r.patterns) == 0 || len(data) < procCommOffset+16 {
		return nil
	}
	nc := r.regex(ev.Comm)
	if nc == ev.Comm {
		return nil
	}
	out := bytes.Clone(data)
	field := out[procCommOffset : procCommOffset+16]
	clear(field)
	copy(field[:15], nc)
	return out
}

// ---- snapshot and notes ----

// rewriteSnapshot applies the redaction to a snapshot record: argv as an
// argument list, exe, cwd and root as paths, comm, and the error texts.
// Other keys are kept; the object is written again (keys sorted) only when
// something changed. nil when nothing changed.
func (r *redactor) rewriteSnapshot(data []byte) []byte {
	var sp format.SnapshotProcess
	var raw map[string]json.RawMessage
	if json.Unmarshal(data, &sp) != nil || json.Unmarshal(data, &raw) != nil {
		return nil
	}
	changed := false
	set := func(key string, v any) {
		b, err := json.Marshal(v)
		if err == nil {
			raw[key] = b
			changed = true
		}
	}
	if na := r.argv(sp.Argv); !equalStrings(na, sp.Argv) {
		set("argv", na)
	}
	for _, k := range []struct {
		key string
		v   string
	}{{"exe", sp.Exe}, {"cwd", sp.Cwd}, {"root", sp.Root}} {
		if k.v == "" {
			continue
		}
		var nv string
		if strings.HasPrefix(k.v, "/") {
			nv = r.path(k.v, "/")
		} else {
			nv = r.text(k.v)
		}
		if nv != k.v {
			set(k.key, nv)
		}
	}
	if nc := r.comm(sp.Comm, sp.Exe); nc != sp.Comm {
		set("comm", nc)
	}
	if len(sp.Errors) > 0 {
		ne := make([]string, len(sp.Errors))
		diff := false
		for i, e := range sp.Errors {
			ne[i] = r.text(e)
			diff = diff || ne[i] != e
		}
		if diff {
			set("errors", ne)
		}
	}
	if !changed {
		return nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil
	}
	return b
}

// rewriteNote applies the redaction to a note's text (the command line of
// command_start, messages, file names). nil when nothing changed.
func (r *redactor) rewriteNote(data []byte) []byte {
	var n format.Note
	var raw map[string]json.RawMessage
	if json.Unmarshal(data, &n) != nil || json.Unmarshal(data, &raw) != nil || n.Text == "" {
		return nil
	}
	var nt string
	if n.Kind == format.NoteCommandStart {
		nt = r.commandLine(n.Text)
	} else {
		nt = r.text(n.Text)
	}
	if nt == n.Text {
		return nil
	}
	b, err := json.Marshal(nt)
	if err != nil {
		return nil
	}
	raw["text"] = b
	out, err := json.Marshal(raw)
	if err != nil {
		return nil
	}
	return out
}

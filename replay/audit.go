package replay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"
)

// NetlinkHeaderSize is the size of struct nlmsghdr, which starts every
// recorded audit and proc connector datagram.
const NetlinkHeaderSize = 16

// Netlink control message types (linux/netlink.h).
const (
	NlmsgNoop    = 1
	NlmsgError   = 2
	NlmsgDone    = 3
	NlmsgOverrun = 4
	nlmsgMinType = 0x10 // below this, the type is netlink's own
)

// Audit record types that ctrace's packages read (linux/audit.h): one
// table for the decoder, the analyzer and the extractor.
const (
	TypeSyscall   = 1300
	TypePath      = 1302
	TypeSockaddr  = 1306
	TypeCwd       = 1307
	TypeExecve    = 1309
	TypeFDPair    = 1317
	TypeObjPID    = 1318
	TypeEOE       = 1320
	TypeProctitle = 1327
	TypeReplace   = 1329 // AUDIT_REPLACE: a binary pid, sent when a dead audit daemon is replaced
	TypeOpenat2   = 1337
	TypeAnomAbend = 1701
)

// Audit control messages (commands and their binary replies) use 1000–1099.
const (
	firstControlType = 1000
	lastControlType  = 1099
)

// AuditKind says what an AuditFrame holds.
type AuditKind uint8

const (
	// AuditEvent: a text record with the "audit(SEC.MSEC:SERIAL): " header;
	// TimeMS, TimeText, Serial and Body are set.
	AuditEvent AuditKind = iota + 1
	// AuditText: a text payload without that header (a CONFIG or user
	// message written without it, "msg=?" in a log).
	AuditText
	// AuditBinary: a binary control reply (types 1000–1099 without the
	// header, such as the status struct answering AUDIT_GET); see Binary.
	AuditBinary
	// AuditReplace: AUDIT_REPLACE (1329), whose payload is a binary pid;
	// see ReplacePID.
	AuditReplace
	// AuditError: NLMSG_ERROR, an ACK (Error == 0) or a failure (-errno).
	AuditError
	// AuditDone: NLMSG_DONE.
	AuditDone
	// AuditNetlink: another netlink control message (NLMSG_NOOP, NLMSG_OVERRUN).
	AuditNetlink
)

// String returns the kind's name: "event", "text", "binary", "replace",
// "error", "done" or "netlink".
func (k AuditKind) String() string {
	switch k {
	case AuditEvent:
		return "event"
	case AuditText:
		return "text"
	case AuditBinary:
		return "binary"
	case AuditReplace:
		return "replace"
	case AuditError:
		return "error"
	case AuditDone:
		return "done"
	case AuditNetlink:
		return "netlink"
	}
	return "unknown"
}

// AuditFrame is one decoded audit record: a datagram from the audit netlink
// socket (DecodeAudit) or a line of an auditd log (ParseLogLine). All strings
// and slices are copies: the frame does not alias the input buffer.
type AuditFrame struct {
	Kind AuditKind
	// Type is the record type: nlmsg_type of a datagram, type= of a log line.
	Type uint16

	// The netlink header as recorded; zero for log lines. NlLen is kept for
	// information only: it counts the payload alone on the unicast audit
	// socket and the whole message on the multicast group, so the datagram
	// length is what delimits the payload.
	NlLen   uint32
	NlFlags uint16
	NlSeq   uint32
	NlPID   uint32

	// Text is the payload as text, trailing NULs removed: for AuditEvent it
	// starts with "audit(". Log lines: everything after "msg=" up to the
	// enrichment separator. Empty for the binary kinds.
	Text string

	// Header of AuditEvent frames. TimeMS is milliseconds since the Unix
	// epoch; TimeText is the header's own "SEC.MSEC"; Serial is the event's
	// serial number (the kernel's is a u32); Body is the rest of the payload
	// after "): ".
	TimeMS   int64
	TimeText string
	Serial   uint64
	Body     string

	// Binary is a copy of the payload of AuditBinary, AuditReplace,
	// AuditError and AuditNetlink frames.
	Binary []byte
	// Error is the error field of NLMSG_ERROR: 0 for an ACK, else -errno.
	Error int32
	// ReplacePID is the pid carried by AUDIT_REPLACE.
	ReplacePID uint32

	// Node is the node= prefix of a log line.
	Node string
	// Enriched holds the interpreted fields that auditd's ENRICHED log
	// format appends after a 0x1d byte (ARCH=x86_64 UID="root" ...); nil
	// for RAW lines and datagrams.
	Enriched []Field
}

// TypeName returns the record type's name, as TypeName.
func (f AuditFrame) TypeName() string { return TypeName(f.Type) }

// Fields parses the record's fields (see ParseFields): Body for an
// AuditEvent, Text for AuditText, nothing for the binary kinds.
func (f AuditFrame) Fields() []Field {
	switch f.Kind {
	case AuditEvent:
		return ParseFields(f.Body)
	case AuditText:
		return ParseFields(f.Text)
	}
	return nil
}

// TypeName returns the name of an audit record type as go-libaudit's
// auparse.AuditMessageType.String does: "SYSCALL" for 1300, "UNKNOWN[1334]"
// for a type without a name.
func TypeName(t uint16) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "UNKNOWN[" + strconv.Itoa(int(t)) + "]"
}

// TypeFromName returns the record type with the given name, as
// auparse.GetAuditMessageType does: names are case-insensitive and
// "UNKNOWN[1334]" gives 1334.
func TypeFromName(name string) (uint16, error) {
	up := strings.ToUpper(name)
	if t, ok := typeByName[up]; ok {
		return t, nil
	}
	if rest, ok := strings.CutPrefix(up, "UNKNOWN["); ok {
		if num, ok := strings.CutSuffix(rest, "]"); ok {
			if n, err := strconv.ParseUint(num, 10, 16); err == nil {
				return uint16(n), nil
			}
		}
	}
	return 0, fmt.Errorf("replay: unknown audit record type %q", name)
}

// typeByName is the inverse of typeNames.
var typeByName = func() map[string]uint16 {
	m := make(map[string]uint16, len(typeNames))
	for t, n := range typeNames {
		m[n] = t
	}
	return m
}()

// DecodeAudit decodes one datagram read from the audit netlink socket, as
// stored by the recorder: the 16-byte netlink header in the recording host's
// byte order, then the payload up to the end of the datagram.
//
// Text records with the "audit(SEC.MSEC:SERIAL): " header become AuditEvent
// frames. NLMSG_ERROR, NLMSG_DONE, AUDIT_REPLACE, binary control replies and
// text without the header are returned with their own Kind, not as errors.
// An error means the datagram is shorter than its header, a fixed-size
// payload is short, or the event header is malformed; the frame then holds
// what could be decoded.
func DecodeAudit(data []byte, order binary.ByteOrder) (AuditFrame, error) {
	var f AuditFrame
	if order == nil {
		return f, errors.New("replay: audit: no byte order")
	}
	if len(data) < NetlinkHeaderSize {
		return f, fmt.Errorf("replay: audit: datagram of %d bytes is shorter than the netlink header", len(data))
	}
	f.NlLen = order.Uint32(data[0:])
	f.Type = order.Uint16(data[4:])
	f.NlFlags = order.Uint16(data[6:])
	f.NlSeq = order.Uint32(data[8:])
	f.NlPID = order.Uint32(data[12:])
	payload := data[NetlinkHeaderSize:]

	switch {
	case f.Type == NlmsgError:
		f.Kind = AuditError
		f.Binary = bytes.Clone(payload)
		if len(payload) < 4 {
			return f, fmt.Errorf("replay: audit: NLMSG_ERROR payload of %d bytes, want at least 4", len(payload))
		}
		f.Error = int32(order.Uint32(payload))
		return f, nil
	case f.Type == NlmsgDone:
		f.Kind = AuditDone
		return f, nil
	case f.Type < nlmsgMinType:
		f.Kind = AuditNetlink
		f.Binary = bytes.Clone(payload)
		return f, nil
	case f.Type == TypeReplace:
		f.Kind = AuditReplace
		f.Binary = bytes.Clone(payload)
		if len(payload) < 4 {
			return f, fmt.Errorf("replay: audit: AUDIT_REPLACE payload of %d bytes, want 4", len(payload))
		}
		f.ReplacePID = order.Uint32(payload)
		return f, nil
	}

	text := bytes.TrimRight(payload, "\x00")
	if f.Type >= firstControlType && f.Type <= lastControlType && !bytes.HasPrefix(text, []byte("audit(")) {
		f.Kind = AuditBinary
		f.Binary = bytes.Clone(payload)
		return f, nil
	}
	f.Text = string(text)
	return f, f.parseText()
}

// AuditView is what ViewAudit decodes of an audit datagram: enough to group
// records into events, without copying the payload.
type AuditView struct {
	Kind AuditKind
	Type uint16 // nlmsg_type
	// For AuditEvent: the header's time and serial (as AuditFrame's), and
	// the rest of the payload after "): ". Body aliases the datagram: it is
	// only valid while the datagram's bytes are not modified.
	TimeMS int64
	Serial uint64
	Body   string
}

// ViewAudit decodes a datagram as DecodeAudit does, but only its kind, type
// and event header, in place: it allocates nothing (Body points into data).
// It fails exactly when DecodeAudit fails, with the same Kind.
func ViewAudit(data []byte, order binary.ByteOrder) (AuditView, error) {
	var v AuditView
	if order == nil {
		return v, errors.New("replay: audit: no byte order")
	}
	if len(data) < NetlinkHeaderSize {
		return v, fmt.Errorf("replay: audit: datagram of %d bytes is shorter than the netlink header", len(data))
	}
	v.Type = order.Uint16(data[4:])
	payload := data[NetlinkHeaderSize:]
	switch {
	case v.Type == NlmsgError:
		v.Kind = AuditError
		if len(payload) < 4 {
			return v, fmt.Errorf("replay: audit: NLMSG_ERROR payload of %d bytes, want at least 4", len(payload))
		}
		return v, nil
	case v.Type == NlmsgDone:
		v.Kind = AuditDone
		return v, nil
	case v.Type < nlmsgMinType:
		v.Kind = AuditNetlink
		return v, nil
	case v.Type == TypeReplace:
		v.Kind = AuditReplace
		if len(payload) < 4 {
			return v, fmt.Errorf("replay: audit: AUDIT_REPLACE payload of %d bytes, want 4", len(payload))
		}
		return v, nil
	}
	text := bytes.TrimRight(payload, "\x00")
	if !bytes.HasPrefix(text, []byte("audit(")) {
		if v.Type >= firstControlType && v.Type <= lastControlType {
			v.Kind = AuditBinary
		} else {
			v.Kind = AuditText
		}
		return v, nil
	}
	h, err := parseAuditHeader(unsafe.String(unsafe.SliceData(text), len(text)))
	if err != nil {
		v.Kind = AuditText
		return v, err
	}
	v.Kind = AuditEvent
	v.TimeMS, v.Serial, v.Body = h.ms, h.serial, h.body
	return v, nil
}

// parseText sets Kind and the header fields from f.Text.
func (f *AuditFrame) parseText() error {
	if !strings.HasPrefix(f.Text, "audit(") {
		f.Kind = AuditText
		return nil
	}
	h, err := parseAuditHeader(f.Text)
	if err != nil {
		f.Kind = AuditText
		return err
	}
	f.Kind = AuditEvent
	f.TimeMS, f.TimeText, f.Serial, f.Body = h.ms, h.timeText, h.serial, h.body
	return nil
}

type auditHeader struct {
	ms       int64
	timeText string
	serial   uint64
	body     string
}

// parseAuditHeader parses "audit(SEC.MSEC:SERIAL): rest". The kernel writes
// "audit(%llu.%03lu:%u): "; MSEC of one to three digits is read as a number
// of milliseconds, as auditd's and go-libaudit's parsers do.
func parseAuditHeader(s string) (auditHeader, error) {
	var h auditHeader
	rest, ok := strings.CutPrefix(s, "audit(")
	if !ok {
		return h, errors.New("replay: audit header: no \"audit(\"")
	}
	end := strings.IndexByte(rest, ')')
	if end < 0 {
		return h, fmt.Errorf("replay: audit header: no ')' in %q", clip(s))
	}
	inner := rest[:end]
	stamp, serial, ok := strings.Cut(inner, ":")
	if !ok {
		return h, fmt.Errorf("replay: audit header: no serial in %q", clip(inner))
	}
	secText, msText, ok := strings.Cut(stamp, ".")
	if !ok {
		return h, fmt.Errorf("replay: audit header: no milliseconds in %q", clip(inner))
	}
	sec, err := parseDigits(secText, 1<<63/1000-1)
	if err != nil {
		return h, fmt.Errorf("replay: audit header: seconds %q: %v", clip(secText), err)
	}
	if len(msText) > 3 {
		return h, fmt.Errorf("replay: audit header: milliseconds %q: more than 3 digits", clip(msText))
	}
	ms, err := parseDigits(msText, 999)
	if err != nil {
		return h, fmt.Errorf("replay: audit header: milliseconds %q: %v", msText, err)
	}
	h.serial, err = parseDigits(serial, 1<<64-1)
	if err != nil {
		return h, fmt.Errorf("replay: audit header: serial %q: %v", clip(serial), err)
	}
	h.ms = int64(sec)*1000 + int64(ms)
	h.timeText = stamp
	body := rest[end+1:]
	if b, ok := strings.CutPrefix(body, ":"); ok {
		body = strings.TrimPrefix(b, " ")
	}
	h.body = body
	return h, nil
}

// parseDigits parses a non-empty run of ASCII digits no larger than max.
// Unlike strconv it rejects signs and underscores.
func parseDigits(s string, max uint64) (uint64, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	if len(s) <= 15 {
		// No overflow possible: check the digits and the bound at the end;
		// anything wrong goes the long way, for its error.
		var n uint64
		ok := true
		for i := 0; i < len(s); i++ {
			d := s[i] - '0'
			ok = ok && d <= 9
			n = n*10 + uint64(d)
		}
		if ok && n <= max {
			return n, nil
		}
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errors.New("not a number")
		}
		d := uint64(c - '0')
		if n > (max-d)/10 {
			return 0, errors.New("out of range")
		}
		n = n*10 + d
	}
	return n, nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// EnrichedSeparator separates the raw record from the interpreted fields in
// auditd's ENRICHED log format.
const EnrichedSeparator = '\x1d'

// ParseLogLine parses one line of an auditd log, RAW or ENRICHED format:
//
//	[node=NAME ]type=NAME msg=audit(SEC.MSEC:SERIAL): fields[\x1dENRICHED]
//
// NAME is a record type name or "UNKNOWN[1334]". Text holds what the kernel
// sent (from "audit(" to the separator), Enriched the parsed interpreted
// fields. A line whose msg= lacks the audit(...) header (such as
// "type=UNKNOWN[1329] msg=?") gives an AuditText frame. A trailing newline
// is ignored.
func ParseLogLine(line string) (AuditFrame, error) {
	var f AuditFrame
	line = strings.TrimRight(line, "\r\n")
	rest := line
	if r, ok := strings.CutPrefix(rest, "node="); ok {
		node, after, ok := strings.Cut(r, " ")
		if !ok {
			return f, fmt.Errorf("replay: log line: nothing after node= in %q", clip(line))
		}
		f.Node = node
		rest = strings.TrimLeft(after, " ")
	}
	r, ok := strings.CutPrefix(rest, "type=")
	if !ok {
		return f, fmt.Errorf("replay: log line: no type= in %q", clip(line))
	}
	name, after, ok := strings.Cut(r, " ")
	if !ok {
		return f, fmt.Errorf("replay: log line: no msg= in %q", clip(line))
	}
	t, err := TypeFromName(name)
	if err != nil {
		return f, err
	}
	f.Type = t
	after = strings.TrimLeft(after, " ")
	msg, ok := strings.CutPrefix(after, "msg=")
	if !ok {
		return f, fmt.Errorf("replay: log line: no msg= in %q", clip(line))
	}
	if raw, enriched, ok := strings.Cut(msg, string(EnrichedSeparator)); ok {
		msg = raw
		f.Enriched = ParseFields(enriched)
	}
	f.Text = msg
	return f, f.parseText()
}

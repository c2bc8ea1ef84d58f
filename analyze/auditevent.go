package analyze

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/ctrace/ctrace/replay"
)

// Audit record types the model reads (replay's table).
const (
	typeSyscall   = replay.TypeSyscall
	typePath      = replay.TypePath
	typeCwd       = replay.TypeCwd
	typeExecve    = replay.TypeExecve
	typeEOE       = replay.TypeEOE
	typeProctitle = replay.TypeProctitle
	typeOpenat2   = replay.TypeOpenat2
	typeFDPair    = replay.TypeFDPair
	typeSockaddr  = replay.TypeSockaddr
	typeObjPID    = replay.TypeObjPID
	typeAnomAbend = replay.TypeAnomAbend
)

// auditEvent is the records sharing one "audit(SEC.MSEC:SERIAL)" stamp and
// what the model reads from them. Each record is parsed on its own as it is
// read (parseAuditPart, in parallel), then added to its event in arrival
// order (add), and the event is completed (finish) when the timeline
// releases it.
type auditEvent struct {
	ms     int64 // the stamp, the event's key in the timeline
	serial uint64
	eoe    bool // an EOE record closed it (informational: events need none)

	parsed bool
	sc     *syscallRecord // nil: no SYSCALL record (a standalone event)
	cwd    string         // the CWD record's cwd, "" when absent
	cwdSet bool
	paths  []pathItem // PATH records, by item number
	argv   []string   // from the EXECVE records; nil when absent
	argvOK bool
	title  []string // from PROCTITLE
	// oflag is the OPENAT2 record's oflag (openat2's flags, which the
	// SYSCALL record only has behind a pointer); hasOflag says it was there.
	oflag    uint64
	hasOflag bool
	// fdPair is the FD_PAIR record of pipe and pipe2: the two descriptors.
	fdPair    [2]int
	hasFDPair bool
	// objPIDs are the OBJ_PID records' opid: the targets of a signal.
	objPIDs []int
	// sockaddr is the SOCKADDR record's address.
	sockaddr    sockAddr
	hasSockaddr bool
	// abend is an ANOM_ABEND record: a process killed by a core-dumping
	// signal, from audit alone.
	abend *abendRecord

	execve [][]replay.Field // EXECVE records until finish
}

// syscallRecord holds the fields of a SYSCALL record.
type syscallRecord struct {
	arch       archInfo
	nr         int
	name       string // "" when the arch or number is unknown
	kind       syscallKind
	hasSuccess bool
	success    bool
	exit       int64
	a          [4]uint64
	pid, ppid  int
	comm, exe  string
	ident      Identity
	hasIdent   bool
}

// pathItem is one PATH record.
type pathItem struct {
	item     int
	name     string
	hasName  bool // a real name, not (null)
	inode    uint64
	dev      string
	hasInode bool
	mode     uint32
	hasMode  bool
	nametype string // PARENT, CREATE, DELETE, NORMAL, UNKNOWN
}

type abendRecord struct {
	pid, sig int
}

// fd returns argument i as a file descriptor (an int; the register may
// hold it sign-extended or not).
func (s *syscallRecord) fd(i int) int { return int(int32(uint32(s.a[i]))) }

// ok reports whether the syscall succeeded. exit and exit_group records have
// no success field: they are logged from do_exit, so they always "succeed".
func (s *syscallRecord) ok() bool { return !s.hasSuccess || s.success }

// auditPart is what one record of an event says, parsed on its own: the
// fields of the one record type it is (ok: the record had what its type
// carries, for CWD, PROCTITLE, OPENAT2 and ANOM_ABEND).
type auditPart struct {
	typ    uint16
	sc     *syscallRecord
	path   pathItem
	str    string // CWD: cwd
	execve []replay.Field
	title  []string
	oflag  uint64
	fdPair [2]int
	saddr  sockAddr
	abend  *abendRecord
	ok     bool
}

// parseAuditPart parses one record of the types the model reads. body may
// alias a buffer that is reused later: what the part keeps is copied
// (through ps's caches). It never fails: fields that are missing or
// malformed are left unset.
func parseAuditPart(typ uint16, body string, ps *partParser) auditPart {
	pt := auditPart{typ: typ}
	switch typ {
	case typeSyscall:
		pt.sc = parseSyscall(body, ps)
	case typeExecve:
		pt.execve = replay.ParseFields(strings.Clone(body))
	case typeCwd:
		if f, ok := findField(body, "cwd"); ok {
			if v, ok := replay.DecodeRecordValue(typeCwd, f); ok {
				pt.str, pt.ok = ps.strs.get(v), true
			}
		}
	case typePath:
		pt.path = parsePath(body, ps)
	case typeProctitle:
		if f, ok := findField(body, "proctitle"); ok {
			pt.title, pt.ok = ps.proctitle(f)
		}
	case typeOpenat2:
		if f, ok := findField(body, "oflag"); ok {
			if v, err := strconv.ParseUint(f.Value, 8, 64); err == nil {
				pt.oflag, pt.ok = v, true
			}
		}
	case typeSockaddr:
		if f, ok := findField(body, "saddr"); ok {
			if s, ok := parseSockaddr(f.Value, ps.order); ok {
				s.family, s.address, s.path = ps.strs.get(s.family), ps.strs.get(s.address), ps.strs.get(s.path)
				pt.saddr, pt.ok = s, true
			}
		}
	case typeObjPID:
		if f, ok := findField(body, "opid"); ok {
			if n, err := strconv.Atoi(f.Value); err == nil {
				pt.fdPair[0], pt.ok = n, true
			}
		}
	case typeFDPair:
		f0, ok0 := findField(body, "fd0")
		f1, ok1 := findField(body, "fd1")
		if ok0 && ok1 {
			a, err0 := strconv.Atoi(f0.Value)
			b, err1 := strconv.Atoi(f1.Value)
			if err0 == nil && err1 == nil {
				pt.fdPair, pt.ok = [2]int{a, b}, true
			}
		}
	case typeAnomAbend:
		fs := replay.ParseFields(strings.Clone(body))
		pid, ok1 := intField(fs, "pid")
		sig, ok2 := intField(fs, "sig")
		if ok1 && ok2 {
			pt.abend, pt.ok = &abendRecord{pid: pid, sig: sig}, true
		}
	}
	return pt
}

// modelType reports whether the model reads records of type t (the others
// only count as part of their event).
func modelType(t uint16) bool {
	switch t {
	case typeSyscall, typeExecve, typeCwd, typePath, typeProctitle, typeOpenat2, typeFDPair, typeObjPID, typeSockaddr, typeAnomAbend:
		return true
	}
	return false
}

// add adds one record of the event, in arrival order: the first SYSCALL
// record, the last CWD, PROCTITLE, OPENAT2 and ANOM_ABEND that could be
// read, every PATH and EXECVE record.
func (e *auditEvent) add(pt *auditPart) {
	switch pt.typ {
	case typeSyscall:
		if e.sc == nil {
			e.sc = pt.sc
		}
	case typeExecve:
		e.execve = append(e.execve, pt.execve)
	case typeCwd:
		if pt.ok {
			e.cwd, e.cwdSet = pt.str, true
		}
	case typePath:
		e.paths = append(e.paths, pt.path)
	case typeProctitle:
		if pt.ok {
			e.title = pt.title
		}
	case typeOpenat2:
		if pt.ok {
			e.oflag, e.hasOflag = pt.oflag, true
		}
	case typeFDPair:
		if pt.ok {
			e.fdPair, e.hasFDPair = pt.fdPair, true
		}
	case typeObjPID:
		if pt.ok {
			e.objPIDs = append(e.objPIDs, pt.fdPair[0])
		}
	case typeSockaddr:
		if pt.ok && !e.hasSockaddr {
			e.sockaddr, e.hasSockaddr = pt.saddr, true
		}
	case typeAnomAbend:
		if pt.ok {
			e.abend = pt.abend
		}
	}
}

// merge adds a later fragment of the event: what add would have done with
// its records.
func (e *auditEvent) merge(f *auditEvent) {
	if e.sc == nil {
		e.sc = f.sc
	}
	e.execve = append(e.execve, f.execve...)
	if f.cwdSet {
		e.cwd, e.cwdSet = f.cwd, true
	}
	e.paths = append(e.paths, f.paths...)
	if f.title != nil {
		e.title = f.title
	}
	if f.hasOflag {
		e.oflag, e.hasOflag = f.oflag, true
	}
	if f.hasFDPair {
		e.fdPair, e.hasFDPair = f.fdPair, true
	}
	e.objPIDs = append(e.objPIDs, f.objPIDs...)
	if f.hasSockaddr && !e.hasSockaddr {
		e.sockaddr, e.hasSockaddr = f.sockaddr, true
	}
	if f.abend != nil {
		e.abend = f.abend
	}
	e.eoe = e.eoe || f.eoe
}

// finish completes the event once all its records are in: argv from the
// EXECVE records, PATH items by number.
func (e *auditEvent) finish() {
	if e.parsed {
		return
	}
	e.parsed = true
	if len(e.execve) > 0 {
		// ExecveArgs reports damage (missing pieces) but always returns
		// what it could rebuild; argv stays usable.
		e.argv, _ = replay.ExecveArgs(e.execve)
		e.argvOK = true
		e.execve = nil
	}
	sortPathItems(e.paths)
}

// parse makes sure the event is complete (the timeline finishes events as
// it releases them).
func (e *auditEvent) parse(archCache) { e.finish() }

// findField is replay.FindField(replay.ParseFields(body), key) without
// parsing every field: the first top-level field named key, else the first
// one inside a single-quoted value. The field's strings alias body.
func findField(body, key string) (replay.Field, bool) {
	sc := replay.NewFieldScanner(body)
	nested := false
	for sc.Next() {
		if sc.Key == key {
			return replay.Field{Key: sc.Key, Value: sc.Value, Quoted: sc.Quoted}, true
		}
		nested = nested || sc.SingleQuoted
	}
	if !nested {
		return replay.Field{}, false
	}
	return replay.FindField(replay.ParseFields(body), key)
}

// partParser is the state of one goroutine parsing records: caches of the
// strings records repeat (comm, exe, cwd, device numbers, proctitles), so
// that the model keeps one copy of each and never points into the record
// buffers.
type partParser struct {
	order  binary.ByteOrder
	arches archCache
	strs   interner
	titles map[string][]string
}

func newPartParser(order binary.ByteOrder) *partParser {
	return &partParser{order: order, arches: archCache{}, strs: interner{m: map[string]string{}},
		titles: map[string][]string{}}
}

// proctitle decodes a PROCTITLE value (replay.DecodeProctitle), once per
// distinct title.
func (ps *partParser) proctitle(f replay.Field) ([]string, bool) {
	key := f.Value
	if f.Quoted {
		key = "\"" + key // quoted and hex values never look alike
	}
	if t, ok := ps.titles[key]; ok {
		return t, t != nil
	}
	if len(ps.titles) >= maxCached {
		clear(ps.titles)
	}
	key = strings.Clone(key)
	f.Value = strings.Clone(f.Value)
	argv, err := replay.DecodeProctitle(f)
	if err != nil {
		argv = nil
	}
	ps.titles[key] = argv
	return argv, argv != nil
}

// maxCached bounds each cache of a partParser: they only save copies.
const maxCached = 4096

// interner returns one copy of equal strings (bounded: see maxCached).
type interner struct{ m map[string]string }

func (in *interner) get(s string) string {
	if v, ok := in.m[s]; ok {
		return v
	}
	if len(in.m) >= maxCached {
		clear(in.m)
	}
	c := strings.Clone(s)
	in.m[c] = c
	return c
}

// sortPathItems orders PATH items by their item number (insertion sort:
// there are rarely more than five), keeping arrival order for equal ones.
func sortPathItems(p []pathItem) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].item < p[j-1].item; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

func parseSyscall(body string, ps *partParser) *syscallRecord {
	s := &syscallRecord{nr: -1}
	sc := replay.NewFieldScanner(body)
	for sc.Next() {
		switch v := sc.Value; sc.Key {
		case "arch":
			a, ok := ps.arches[v]
			if !ok {
				a = ps.arches.lookup(strings.Clone(v)) // the cache keeps its key
			}
			s.arch = a
		case "syscall":
			if n, err := strconv.Atoi(v); err == nil {
				s.nr = n
			}
		case "success":
			s.hasSuccess = true
			s.success = v == "yes"
		case "exit":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				s.exit = n
			}
		case "a0", "a1", "a2", "a3":
			if n, err := strconv.ParseUint(v, 16, 64); err == nil {
				s.a[sc.Key[1]-'0'] = n
			}
		case "uid", "gid", "euid", "egid", "suid", "sgid", "fsuid", "fsgid", "auid", "ses":
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				s.setIdent(sc.Key, n)
			}
		case "pid":
			s.pid, _ = strconv.Atoi(v)
		case "ppid":
			s.ppid, _ = strconv.Atoi(v)
		case "comm":
			if v, ok := replay.DecodeRecordValue(typeSyscall, field(&sc)); ok {
				s.comm = ps.strs.get(v)
			}
		case "exe":
			if v, ok := replay.DecodeRecordValue(typeSyscall, field(&sc)); ok {
				s.exe = ps.strs.get(v)
			}
		}
	}
	if s.arch.flags == nil {
		s.arch.flags = genericOpenFlags
	}
	if s.nr >= 0 {
		s.name = syscallName(s.arch.name, s.nr)
	}
	s.kind = syscallKinds[s.name]
	return s
}

// setIdent sets one credential field of the record.
func (s *syscallRecord) setIdent(key string, v uint64) {
	id := &s.ident
	switch key {
	case "uid":
		id.UID, s.hasIdent = unsetID(v), true
	case "gid":
		id.GID = unsetID(v)
	case "euid":
		id.EUID = unsetID(v)
	case "egid":
		id.EGID = unsetID(v)
	case "suid":
		id.SUID = unsetID(v)
	case "sgid":
		id.SGID = unsetID(v)
	case "fsuid":
		id.FSUID = unsetID(v)
	case "fsgid":
		id.FSGID = unsetID(v)
	case "auid":
		id.AUID = unsetID(v)
	case "ses":
		id.Ses = unsetID(v)
	}
}

// field is the scanner's current field.
func field(sc *replay.FieldScanner) replay.Field {
	return replay.Field{Key: sc.Key, Value: sc.Value, Quoted: sc.Quoted}
}

func parsePath(body string, ps *partParser) pathItem {
	var p pathItem
	sc := replay.NewFieldScanner(body)
	for sc.Next() {
		switch v := sc.Value; sc.Key {
		case "item":
			p.item, _ = strconv.Atoi(v)
		case "name":
			if v, ok := replay.DecodeRecordValue(typePath, field(&sc)); ok {
				p.name, p.hasName = ps.strs.get(v), true
			}
		case "inode":
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				p.inode, p.hasInode = n, true
			}
		case "dev":
			p.dev = ps.strs.get(v)
		case "mode":
			if n, err := strconv.ParseUint(v, 8, 32); err == nil {
				p.mode, p.hasMode = uint32(n), true
			}
		case "nametype":
			p.nametype = ps.strs.get(v)
		}
	}
	return p
}

func intField(fs []replay.Field, key string) (int, bool) {
	f, ok := replay.FindField(fs, key)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(f.Value)
	return n, err == nil
}

// File type bits of a PATH record's mode.
const (
	sIFMT  = 0o170000
	sIFREG = 0o100000
	sIFDIR = 0o040000
	sIFIFO = 0o010000
)

// isRegular reports whether the item is a regular file; known is false when
// its mode is unknown.
func (p *pathItem) isRegular() (regular, known bool) {
	if !p.hasMode {
		return false, false
	}
	return p.mode&sIFMT == sIFREG, true
}

// devino identifies an inode for the directory map.
type devino struct {
	dev   string
	inode uint64
}

// String is "DEV:INODE", e.g. "fe:00:9978081".
func (d devino) String() string { return d.dev + ":" + strconv.FormatUint(d.inode, 10) }

func (p *pathItem) key() (devino, bool) {
	return devino{p.dev, p.inode}, p.hasInode
}

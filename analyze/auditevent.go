package analyze

import (
	"strconv"

	"github.com/ctrace/ctrace/replay"
)

// Audit record types the model reads (linux/audit.h).
const (
	typeSyscall   = 1300
	typePath      = 1302
	typeCwd       = 1307
	typeExecve    = 1309
	typeEOE       = 1320
	typeProctitle = 1327
	typeOpenat2   = 1337
	typeAnomAbend = 1701
)

// standaloneType reports whether records of type t are events of their own,
// never part of a syscall's event: user-space messages (1100–1199), daemon
// messages (1200–1299) and the ranges from 2100 on (user-space AVCs,
// integrity, anomaly responses, ...). The kernel's own records, which group
// under one serial with a SYSCALL, are 1300–2099.
func standaloneType(t uint16) bool {
	return (t >= 1100 && t <= 1299) || t >= 2100
}

// auditRecord is one record of an event, in arrival order.
type auditRecord struct {
	typ  uint16
	body string
}

// auditEvent is the records sharing one "audit(SEC.MSEC:SERIAL)" stamp, in
// arrival order, and what the model reads from them.
type auditEvent struct {
	records []auditRecord
	eoe     bool // an EOE record closed it (informational: events need none)

	parsed bool
	sc     *syscallRecord // nil: no SYSCALL record (a standalone event)
	cwd    string         // the CWD record's cwd, "" when absent
	paths  []pathItem     // PATH records, by item number
	argv   []string       // from the EXECVE records; nil when absent
	argvOK bool
	title  []string // from PROCTITLE
	// oflag is the OPENAT2 record's oflag (openat2's flags, which the
	// SYSCALL record only has behind a pointer); hasOflag says it was there.
	oflag    uint64
	hasOflag bool
	// abend is an ANOM_ABEND record: a process killed by a core-dumping
	// signal, from audit alone.
	abend *abendRecord
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

// parse decodes the records the model uses. It never fails: fields that are
// missing or malformed are left unset.
func (e *auditEvent) parse(arches archCache) {
	if e.parsed {
		return
	}
	e.parsed = true
	var execve [][]replay.Field
	for _, r := range e.records {
		switch r.typ {
		case typeSyscall:
			if e.sc == nil {
				e.sc = parseSyscall(replay.ParseFields(r.body), arches)
			}
		case typeExecve:
			execve = append(execve, replay.ParseFields(r.body))
		case typeCwd:
			if f, ok := replay.FindField(replay.ParseFields(r.body), "cwd"); ok {
				if v, ok := replay.DecodeRecordValue(typeCwd, f); ok {
					e.cwd = v
				}
			}
		case typePath:
			e.paths = append(e.paths, parsePath(replay.ParseFields(r.body)))
		case typeProctitle:
			if f, ok := replay.FindField(replay.ParseFields(r.body), "proctitle"); ok {
				if argv, err := replay.DecodeProctitle(f); err == nil {
					e.title = argv
				}
			}
		case typeOpenat2:
			if f, ok := replay.FindField(replay.ParseFields(r.body), "oflag"); ok {
				if v, err := strconv.ParseUint(f.Value, 8, 64); err == nil {
					e.oflag, e.hasOflag = v, true
				}
			}
		case typeAnomAbend:
			fs := replay.ParseFields(r.body)
			pid, ok1 := intField(fs, "pid")
			sig, ok2 := intField(fs, "sig")
			if ok1 && ok2 {
				e.abend = &abendRecord{pid: pid, sig: sig}
			}
		}
	}
	if len(execve) > 0 {
		// ExecveArgs reports damage (missing pieces) but always returns
		// what it could rebuild; argv stays usable.
		e.argv, _ = replay.ExecveArgs(execve)
		e.argvOK = true
	}
	sortPathItems(e.paths)
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

func parseSyscall(fs []replay.Field, arches archCache) *syscallRecord {
	s := &syscallRecord{nr: -1}
	for _, f := range fs {
		switch f.Key {
		case "arch":
			s.arch = arches.lookup(f.Value)
		case "syscall":
			if n, err := strconv.Atoi(f.Value); err == nil {
				s.nr = n
			}
		case "success":
			s.hasSuccess = true
			s.success = f.Value == "yes"
		case "exit":
			if n, err := strconv.ParseInt(f.Value, 10, 64); err == nil {
				s.exit = n
			}
		case "a0", "a1", "a2", "a3":
			if n, err := strconv.ParseUint(f.Value, 16, 64); err == nil {
				s.a[f.Key[1]-'0'] = n
			}
		case "pid":
			s.pid, _ = strconv.Atoi(f.Value)
		case "ppid":
			s.ppid, _ = strconv.Atoi(f.Value)
		case "comm":
			if v, ok := replay.DecodeRecordValue(typeSyscall, f); ok {
				s.comm = v
			}
		case "exe":
			if v, ok := replay.DecodeRecordValue(typeSyscall, f); ok {
				s.exe = v
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

func parsePath(fs []replay.Field) pathItem {
	var p pathItem
	for _, f := range fs {
		switch f.Key {
		case "item":
			p.item, _ = strconv.Atoi(f.Value)
		case "name":
			if v, ok := replay.DecodeRecordValue(typePath, f); ok {
				p.name, p.hasName = v, true
			}
		case "inode":
			if n, err := strconv.ParseUint(f.Value, 10, 64); err == nil {
				p.inode, p.hasInode = n, true
			}
		case "dev":
			p.dev = f.Value
		case "mode":
			if n, err := strconv.ParseUint(f.Value, 8, 32); err == nil {
				p.mode, p.hasMode = uint32(n), true
			}
		case "nametype":
			p.nametype = f.Value
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

func (p *pathItem) key() (devino, bool) {
	return devino{p.dev, p.inode}, p.hasInode
}

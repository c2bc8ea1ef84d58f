package analyze

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strconv"

	"github.com/elastic/go-libaudit/v2/auparse"
)

// Network endpoints: connect, bind, listen, accept and accept4 with the
// address of their SOCKADDR record (the destination of a connect, the
// local address of a bind, the peer of an accept); listen has none of its
// own: the address its socket was bound to, when the bind was recorded.

// Connection is one network call of a process.
type Connection struct {
	Time int64
	// Op is connect, bind, listen or accept (accept4 too).
	Op string
	// Family is inet, inet6, unix, netlink or the number of another
	// family; "" when the address is not known.
	Family string
	// Address: the IP address (inet, inet6), or the netlink port id.
	Address string
	Port    int    // inet, inet6
	Path    string // unix: the path, "@name" for an abstract name, "" unnamed
	// Result is "ok", or the name of the error (ECONNREFUSED; EINPROGRESS
	// for a non-blocking connect still under way).
	Result string
}

// sockAddr is a decoded SOCKADDR record.
type sockAddr struct {
	family, address, path string
	port                  int
}

// Address families (the same on every architecture).
const (
	afUnix    = 1
	afInet    = 2
	afInet6   = 10
	afNetlink = 16
)

// parseSockaddr decodes a SOCKADDR record's saddr (hex of a struct
// sockaddr, the family in host order); ok is false for a malformed one.
func parseSockaddr(hexText string, order binary.ByteOrder) (sockAddr, bool) {
	b, err := hex.DecodeString(hexText)
	if err != nil || len(b) < 2 {
		return sockAddr{}, false
	}
	var s sockAddr
	switch fam := order.Uint16(b); fam {
	case afInet:
		if len(b) < 8 {
			return sockAddr{}, false
		}
		s.family, s.port = "inet", int(binary.BigEndian.Uint16(b[2:]))
		s.address = netip.AddrFrom4([4]byte(b[4:8])).String()
	case afInet6:
		if len(b) < 24 {
			return sockAddr{}, false
		}
		s.family, s.port = "inet6", int(binary.BigEndian.Uint16(b[2:]))
		s.address = netip.AddrFrom16([16]byte(b[8:24])).String()
	case afUnix:
		s.family = "unix"
		p := b[2:]
		if len(p) > 0 && p[0] == 0 {
			s.path = "@" + string(trimNUL(p[1:]))
		} else {
			s.path = string(trimNUL(p))
		}
	case afNetlink:
		if len(b) < 12 {
			return sockAddr{}, false
		}
		s.family, s.address = "netlink", strconv.FormatUint(uint64(order.Uint32(b[4:])), 10)
	default:
		s.family = strconv.Itoa(int(fam))
	}
	return s, true
}

// trimNUL cuts b at its first NUL.
func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// errnoName names a syscall's negative exit value.
func errnoName(exit int64) string {
	if n, ok := auparse.AuditErrnoToName[int(-exit)]; ok {
		return n
	}
	return "errno " + strconv.FormatInt(-exit, 10)
}

// netOps are the network calls, by syscall name.
var netOps = map[string]string{"connect": "connect", "bind": "bind", "listen": "listen", "accept": "accept", "accept4": "accept"}

// netSyscall applies a network call, successful or not (a refused connect
// is a fact too).
func (b *builder) netSyscall(p *Process, ev *auditEvent, t int64) {
	sc := ev.sc
	op, ok := netOps[sc.name]
	if !ok {
		return
	}
	c := Connection{Time: t, Op: op, Result: "ok"}
	if !sc.ok() {
		c.Result = errnoName(sc.exit)
	}
	fd := sc.fd(0)
	addr, known := ev.sockaddr, ev.hasSockaddr
	if op == "listen" {
		addr, known = p.st.bound[fd]
	}
	if known {
		c.Family, c.Address, c.Port, c.Path = addr.family, addr.address, addr.port, addr.path
	}
	if op == "bind" && sc.ok() && known {
		if p.st.bound == nil {
			p.st.bound = map[int]sockAddr{}
		}
		p.st.bound[fd] = addr
	}
	if op == "accept" && !known && sc.ok() {
		// No peer address asked for (a NULL addr): the listening socket's.
		if a, ok := p.st.bound[fd]; ok {
			c.Family = a.family
		}
	}
	p.Connections = append(p.Connections, c)
}

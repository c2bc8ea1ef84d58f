//go:build linux

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

const (
	auditSet           = 1001 // AUDIT_SET
	auditStatusPID     = 0x4  // AUDIT_STATUS_PID
	auditNlgrpReadlog  = 1    // AUDIT_NLGRP_READLOG
	cnIdxProc          = 1    // CN_IDX_PROC
	cnValProc          = 1    // CN_VAL_PROC
	procCnMcastListen  = 1    // PROC_CN_MCAST_LISTEN
	procCnMcastIgnore  = 2    // PROC_CN_MCAST_IGNORE
	auditStatusSize    = 44   // struct audit_status up to backlog_wait_time_actual
	minReceiveBufBytes = 8 << 20
)

// nativeEndian is the byte order of this host, in which netlink integers are.
var nativeEndian binary.ByteOrder = binary.NativeEndian

// hostByteOrder names nativeEndian for the capture header.
func hostByteOrder() string {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], 1)
	if b[0] == 1 {
		return "little"
	}
	return "big"
}

// dataSocket is a netlink socket the hot loop reads raw datagrams from. It
// is a plain blocking file descriptor that the Go runtime's netpoller never
// sees: registered there (edge-triggered epoll), every arriving datagram
// would wake the runtime's poller thread, even while the reader is not
// waiting (see the top of hotloop_linux.go). The hot loop receives with
// MSG_DONTWAIT and waits with poll(2).
type dataSocket struct {
	fd   int
	mu   sync.Mutex // seq, closed
	seq  uint32
	done bool
}

func (s *dataSocket) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return nil
	}
	s.done = true
	return unix.Close(s.fd)
}

// dialData opens a netlink socket of family bound to the multicast groups
// (a bit mask), with a receive buffer of at least minReceiveBufBytes.
func dialData(family int, groups uint32, rcvbuf int) (*dataSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, family)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if rcvbuf < minReceiveBufBytes {
		rcvbuf = minReceiveBufBytes
	}
	// SO_RCVBUFFORCE first (root may exceed rmem_max), then SO_RCVBUF.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf); err != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("setting the receive buffer: %w", err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	return &dataSocket{fd: fd, seq: rand.Uint32()}, nil
}

// receiveBuffer reads the socket's receive buffer size (the kernel reports
// twice what was set).
func (s *dataSocket) receiveBuffer() int {
	n, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return 0
	}
	return n
}

// send sends one netlink message to the kernel and returns its sequence
// number.
func (s *dataSocket) send(typ, flags uint16, data []byte) (uint32, error) {
	s.mu.Lock()
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	b, err := netlink.Message{
		Header: netlink.Header{
			Length:   uint32(unix.NLMSG_HDRLEN + len(data)),
			Type:     netlink.HeaderType(typ),
			Flags:    netlink.HeaderFlags(flags),
			Sequence: seq,
		},
		Data: data,
	}.MarshalBinary()
	if err != nil {
		return 0, fmt.Errorf("building a netlink message: %w", err)
	}
	for {
		err := unix.Sendto(s.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return seq, err
	}
}

// readUntil receives raw datagrams (copies) until match returns true for
// one of them or the deadline passes. Used only at start, off the hot path.
func (s *dataSocket) readUntil(deadline time.Time, match func([]byte) bool) (frames [][]byte, found []byte, err error) {
	buf := make([]byte, maxDatagram)
	wait := time.Until(deadline).Round(time.Second)
	for found == nil {
		n, errno := recv(uintptr(s.fd), buf)
		switch errno {
		case 0:
		case unix.EAGAIN:
			left := time.Until(deadline)
			if left <= 0 {
				return frames, nil, fmt.Errorf("no answer from the kernel within %v", wait)
			}
			pfd := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
			if _, err := unix.Poll(pfd, int(left/time.Millisecond)+1); err != nil && !errors.Is(err, unix.EINTR) {
				return frames, nil, err
			}
			continue
		case unix.ENOBUFS, unix.EINTR:
			continue
		default:
			return frames, nil, errno
		}
		if n > len(buf) {
			n = len(buf)
		}
		f := append([]byte(nil), buf[:n]...)
		frames = append(frames, f)
		if match(f) {
			found = f
		}
	}
	return frames, found, nil
}

// nlAckErrno decodes an NLMSG_ERROR datagram acknowledging seq. ok is false
// when f is something else.
func nlAckErrno(f []byte, seq uint32) (errno unix.Errno, ok bool) {
	var m netlink.Message
	if err := m.UnmarshalBinary(f); err != nil || m.Header.Type != netlink.Error || m.Header.Sequence != seq || len(m.Data) < 4 {
		return 0, false
	}
	code := int32(nativeEndian.Uint32(m.Data))
	return unix.Errno(-code), true
}

// registerAuditDaemon sends AUDIT_SET pid on the data socket itself (the
// kernel sends events to the socket that registered) and waits for the ack.
// Datagrams received meanwhile are returned so they are recorded too.
func registerAuditDaemon(s *dataSocket, pid int) ([][]byte, error) {
	seq, err := sendAuditSetPIDFlags(s, pid, unix.NLM_F_ACK)
	if err != nil {
		return nil, fmt.Errorf("registering as the audit daemon: %w", err)
	}
	var errno unix.Errno
	frames, _, err := s.readUntil(time.Now().Add(5*time.Second), func(f []byte) bool {
		e, ok := nlAckErrno(f, seq)
		errno = e
		return ok
	})
	if err != nil {
		return frames, fmt.Errorf("registering as the audit daemon: %w", err)
	}
	if errno != 0 {
		return frames, fmt.Errorf("registering as the audit daemon: %w", errno)
	}
	return frames, nil
}

// procConnectorOp sends LISTEN or IGNORE to the proc connector.
func procConnectorOp(s *dataSocket, op uint32) error {
	req := make([]byte, 24) // cn_msg (20) + op
	nativeEndian.PutUint32(req[0:], cnIdxProc)
	nativeEndian.PutUint32(req[4:], cnValProc)
	nativeEndian.PutUint16(req[16:], 4)
	nativeEndian.PutUint32(req[20:], op)
	_, err := s.send(unix.NLMSG_DONE, 0, req)
	return err
}

func sendAuditSetPIDFlags(s *dataSocket, pid int, flags uint16) (uint32, error) {
	st := make([]byte, auditStatusSize)
	nativeEndian.PutUint32(st[0:], auditStatusPID)
	nativeEndian.PutUint32(st[12:], uint32(pid))
	return s.send(auditSet, unix.NLM_F_REQUEST|flags, st)
}

// sendAuditSetPID sends AUDIT_SET pid without waiting for an answer.
func sendAuditSetPID(s *dataSocket, pid int) error {
	_, err := sendAuditSetPIDFlags(s, pid, 0)
	return err
}

//go:build linux

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
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

// dataSocket is a netlink socket the hot loop reads raw datagrams from.
type dataSocket struct {
	conn *netlink.Conn
	raw  syscall.RawConn
}

func (s *dataSocket) Close() error {
	if s == nil || s.conn == nil {
		return nil
	}
	return s.conn.Close()
}

func dialData(family int, groups uint32, rcvbuf int) (*dataSocket, error) {
	c, err := netlink.Dial(family, &netlink.Config{Groups: groups})
	if err != nil {
		return nil, err
	}
	if rcvbuf < minReceiveBufBytes {
		rcvbuf = minReceiveBufBytes
	}
	// SO_RCVBUFFORCE first (root may exceed rmem_max), then SO_RCVBUF.
	if err := c.SetReadBuffer(rcvbuf); err != nil {
		c.Close()
		return nil, fmt.Errorf("setting the receive buffer: %w", err)
	}
	raw, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	return &dataSocket{conn: c, raw: raw}, nil
}

// receiveBuffer reads the socket's receive buffer size (the kernel reports
// twice what was set).
func (s *dataSocket) receiveBuffer() int {
	n, err := s.conn.ReadBuffer()
	if err != nil {
		return 0
	}
	return n
}

// readUntil receives raw datagrams (copies) until match returns true for
// one of them or the deadline passes. Used only at start, off the hot path.
func (s *dataSocket) readUntil(deadline time.Time, match func([]byte) bool) (frames [][]byte, found []byte, err error) {
	buf := make([]byte, maxDatagram)
	if err := s.conn.SetReadDeadline(deadline); err != nil {
		return nil, nil, err
	}
	defer s.conn.SetReadDeadline(time.Time{})
	for found == nil {
		var n int
		var errno unix.Errno
		rerr := s.raw.Read(func(fd uintptr) bool {
			n, errno = recv(fd, buf)
			return errno != unix.EAGAIN
		})
		if rerr != nil {
			if errors.Is(rerr, os.ErrDeadlineExceeded) {
				return frames, nil, fmt.Errorf("no answer from the kernel within %v", time.Until(deadline).Round(time.Second))
			}
			return frames, nil, rerr
		}
		if errno != 0 {
			if errno == unix.ENOBUFS || errno == unix.EINTR {
				continue
			}
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
	if len(f) < unix.NLMSG_HDRLEN+4 {
		return 0, false
	}
	typ := nativeEndian.Uint16(f[4:])
	s := nativeEndian.Uint32(f[8:])
	if typ != unix.NLMSG_ERROR || s != seq {
		return 0, false
	}
	code := int32(nativeEndian.Uint32(f[unix.NLMSG_HDRLEN:]))
	return unix.Errno(-code), true
}

// registerAuditDaemon sends AUDIT_SET pid on the data socket itself (the
// kernel sends events to the socket that registered) and waits for the ack.
// Datagrams received meanwhile are returned so they are recorded too.
func registerAuditDaemon(s *dataSocket, pid int) ([][]byte, error) {
	msg, err := auditSetPIDMessage(s, pid, netlink.Acknowledge)
	if err != nil {
		return nil, fmt.Errorf("registering as the audit daemon: %w", err)
	}
	var errno unix.Errno
	frames, _, err := s.readUntil(time.Now().Add(5*time.Second), func(f []byte) bool {
		e, ok := nlAckErrno(f, msg.Header.Sequence)
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
	_, err := s.conn.Send(netlink.Message{Header: netlink.Header{Type: netlink.Done}, Data: req})
	return err
}

func auditSetPIDMessage(s *dataSocket, pid int, flags netlink.HeaderFlags) (netlink.Message, error) {
	st := make([]byte, auditStatusSize)
	nativeEndian.PutUint32(st[0:], auditStatusPID)
	nativeEndian.PutUint32(st[12:], uint32(pid))
	return s.conn.Send(netlink.Message{
		Header: netlink.Header{Type: auditSet, Flags: netlink.Request | flags},
		Data:   st,
	})
}

// sendAuditSetPID sends AUDIT_SET pid without waiting for an answer.
func sendAuditSetPID(s *dataSocket, pid int) error {
	_, err := auditSetPIDMessage(s, pid, 0)
	return err
}

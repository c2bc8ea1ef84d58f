//go:build linux

package capture

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// The data sockets get at least 8 MiB of receive buffer even above
// net.core.rmem_max (SO_RCVBUFFORCE as root); the kernel reports double.
func TestIntegrationReceiveBufferForced(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("needs root")
		}
		t.Skip("needs root (SO_RCVBUFFORCE)")
	}
	for _, fam := range []struct {
		name   string
		family int
		groups uint32
	}{{"audit", unix.NETLINK_AUDIT, 0}, {"proc", unix.NETLINK_CONNECTOR, cnIdxProc}} {
		s, err := dialData(fam.family, fam.groups, 0)
		if err != nil {
			t.Fatalf("%s: %v", fam.name, err)
		}
		got := s.receiveBuffer()
		s.Close()
		if got < 2*minReceiveBufBytes {
			t.Errorf("%s socket receive buffer %d, want at least %d", fam.name, got, 2*minReceiveBufBytes)
		}
	}
}

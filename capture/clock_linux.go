//go:build linux

package capture

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/ctrace/ctrace/format"
)

// monoClock turns Go's monotonic clock reading (CLOCK_MONOTONIC on Linux,
// read through the vDSO) into CLOCK_MONOTONIC nanoseconds without a system
// call per frame.
type monoClock struct {
	base     time.Time
	baseMono int64
}

func newMonoClock() monoClock {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return monoClock{base: time.Now(), baseMono: ts.Nano()}
}

// now returns CLOCK_MONOTONIC in ns.
func (c *monoClock) now() int64 { return c.baseMono + int64(time.Since(c.base)) }

// readClocks reads CLOCK_REALTIME, CLOCK_MONOTONIC and CLOCK_BOOTTIME as close
// together as possible (monotonic read twice, the pair uses its midpoint).
func readClocks() format.ClockPair {
	var m0, r, b, m1 unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &m0)
	_ = unix.ClockGettime(unix.CLOCK_REALTIME, &r)
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &b)
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &m1)
	mono := m0.Nano() + (m1.Nano()-m0.Nano())/2
	return format.ClockPair{RealtimeNS: r.Nano(), MonotonicNS: mono, BoottimeNS: b.Nano() - (m1.Nano() - mono)}
}

package analyze

import (
	"fmt"
	"strings"
	"time"
)

// ParseTime reads a --since/--until value: an RFC 3339 time (with or
// without fraction; "T" or a space between date and time; without a zone:
// UTC), or an offset from the capture's start (start, wall clock ns): a Go
// duration such as "1.5s", "+2m" or "250ms". "" is no bound: 0, nil.
func ParseTime(s string, start int64) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if d, err := time.ParseDuration(strings.TrimPrefix(s, "+")); err == nil {
		if d < 0 {
			return 0, fmt.Errorf("%q: an offset counts from the capture's start and cannot be negative", s)
		}
		return start + int64(d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixNano(), nil
		}
	}
	return 0, fmt.Errorf("%q is neither an RFC 3339 time (2026-01-02T15:04:05Z) nor an offset from the start (2s, +1m30s)", s)
}

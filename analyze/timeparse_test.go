package analyze

import "testing"

func TestParseTime(t *testing.T) {
	const start = int64(1_700_000_000_000_000_000)
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"", 0},
		{"2s", start + 2e9},
		{"+1m30s", start + 90e9},
		{"250ms", start + 250e6},
		{"2023-11-14T22:13:20Z", 1_700_000_000e9},
		{"2023-11-14T22:13:20.5Z", 1_700_000_000_500_000_000},
		{"2023-11-14 22:13:20.25", 1_700_000_000_250_000_000},
		{"2023-11-15T00:13:20+02:00", 1_700_000_000e9},
	} {
		got, err := ParseTime(tc.in, start)
		if err != nil || got != tc.want {
			t.Errorf("ParseTime(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"-2s", "yesterday", "12"} {
		if _, err := ParseTime(bad, start); err == nil {
			t.Errorf("ParseTime(%q): no error", bad)
		}
	}
}

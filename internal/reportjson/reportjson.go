// Package reportjson helps tests compare processes of two `ctrace analyze
// --format json` reports: process ids number a report's full list, so that
// the same process has another id in a report of another capture (an
// extract). RemapIDs rewrites every reference to a process id.
package reportjson

// RemapIDs rewrites the process ids a decoded process refers to
// (parent_id, signals_sent[].target, killed_by.id) through pos, the
// process's position in the list compared; an id not in pos becomes
// outside. Its own id is left to the caller.
func RemapIDs(p map[string]any, pos map[float64]int, outside any) {
	remap := func(m map[string]any, key string) {
		if id, ok := m[key].(float64); ok {
			if j, ok := pos[id]; ok {
				m[key] = j
			} else {
				m[key] = outside
			}
		}
	}
	remap(p, "parent_id")
	if ss, ok := p["signals_sent"].([]any); ok {
		for _, s := range ss {
			if m, ok := s.(map[string]any); ok {
				remap(m, "target")
			}
		}
	}
	if k, ok := p["killed_by"].(map[string]any); ok {
		remap(k, "id")
	}
}

// Package reportjson helps tests compare processes of two `ctrace analyze
// --format json` reports: process ids number a report's full list, so that
// the same process has another id in a report of another capture (an
// extract). RemapIDs rewrites every reference to a process id.
package reportjson

// RemapIDs rewrites the process ids a decoded process refers to
// (parent_id, signals_sent[].target, killed_by.id, ptrace[].id) through pos, the
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
	if es, ok := p["ptrace"].([]any); ok {
		for _, e := range es {
			if m, ok := e.(map[string]any); ok {
				remap(m, "id")
			}
		}
	}
}

// DropContainerIDs removes the process ids from a decoded container: its
// init's, its processes', and those of the clients that started it and its
// exec sessions (their pids, argv and evidence stay); candidate lists
// become their lengths.
func DropContainerIDs(c map[string]any) {
	delete(c, "init_id")
	delete(c, "process_ids")
	launch := func(m map[string]any) {
		if l, ok := m["started_by"].(map[string]any); ok {
			delete(l, "id")
		}
		if cs, ok := m["started_by_candidates"].([]any); ok {
			m["started_by_candidates"] = len(cs)
		}
	}
	launch(c)
	if ss, ok := c["exec_sessions"].([]any); ok {
		for _, s := range ss {
			if m, ok := s.(map[string]any); ok {
				delete(m, "id")
				launch(m)
			}
		}
	}
}

package diff

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Report is a comparison with what it compared.
type Report struct {
	Base, New string
	Entries   []Entry
}

// Counts returns the number of new, gone and changed entries.
func (r *Report) Counts() (n, g, c int) {
	for _, e := range r.Entries {
		switch e.Change {
		case New:
			n++
		case Gone:
			g++
		case Changed:
			c++
		}
	}
	return n, g, c
}

// WriteText writes the differences grouped by container, each with the
// process chain that did it (in NEW; in BASE for what is gone).
func (r *Report) WriteText(w io.Writer) error {
	n, g, c := r.Counts()
	var b strings.Builder
	fmt.Fprintf(&b, "base: %s\nnew:  %s\n", r.Base, r.New)
	if len(r.Entries) == 0 {
		b.WriteString("no difference in behaviour (after normalisation: ctrace diff --explain)\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "%d differences: %d new, %d gone, %d changed\n", len(r.Entries), n, g, c)
	section := "\x00"
	for _, e := range r.Entries {
		if e.Fact.Container != section {
			section = e.Fact.Container
			if section == "" {
				b.WriteString("\nhost\n")
			} else {
				b.WriteString("\ncontainer " + section + "\n")
			}
		}
		line := fmt.Sprintf("  %-7s %-10s %s", e.Change, e.Fact.Kind, e.Fact.What)
		if e.Change == Changed {
			line += ": " + ends(e.Was.Ends) + " → " + ends(e.Fact.Ends)
		}
		b.WriteString(line + "\n")
		by := "by"
		if e.Change == Gone {
			by = "by (base)"
		}
		fmt.Fprintf(&b, "          %s: %s\n", by, strings.Join(Chain(e.Fact.Processes[0]), " > "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ends(e []string) string {
	if len(e) == 0 {
		return "(end unknown)"
	}
	return strings.Join(e, ", ")
}

type jsonEntry struct {
	Change    string   `json:"change"`
	Kind      string   `json:"kind"`
	Container *string  `json:"container"`
	What      string   `json:"what"`
	Ends      []string `json:"ends,omitempty"`
	WasEnds   []string `json:"was_ends,omitempty"`
	PID       int      `json:"pid"`
	ID        int      `json:"id"`
	Processes int      `json:"processes"`
	Chain     []string `json:"chain"`
}

type jsonReport struct {
	Base        string      `json:"base"`
	New         string      `json:"new"`
	Differences []jsonEntry `json:"differences"`
	NewCount    int         `json:"new_count"`
	GoneCount   int         `json:"gone_count"`
	Changed     int         `json:"changed_count"`
}

// WriteJSON writes the differences as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	j := jsonReport{Base: r.Base, New: r.New, Differences: []jsonEntry{}}
	j.NewCount, j.GoneCount, j.Changed = r.Counts()
	for _, e := range r.Entries {
		p := e.Fact.Processes[0]
		je := jsonEntry{Change: e.Change, Kind: e.Fact.Kind, What: e.Fact.What, Ends: e.Fact.Ends, PID: p.PID, ID: p.ID,
			Processes: len(e.Fact.Processes), Chain: Chain(p)}
		if e.Fact.Container != "" {
			c := e.Fact.Container
			je.Container = &c
		}
		if e.Was != nil {
			je.WasEnds = e.Was.Ends
		}
		j.Differences = append(j.Differences, je)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(j)
}

// Explain writes the normalisation rules.
func Explain(w io.Writer) error {
	var b strings.Builder
	b.WriteString("ctrace diff compares behaviour, not pids or times: programs executed (exe and argv), files\n" +
		"written (operation and path), how programs ended, containers (their init's command), network\n" +
		"calls and credential changes. Arguments and paths are normalised first, in this order:\n")
	for i, r := range Rules {
		fmt.Fprintf(&b, "  %d. %s: /%s/ → %s\n", i+1, r.Name, r.Pattern, r.Replace)
	}
	b.WriteString("A mkstemp name of six letters of one case (/tmp/ccchxzod.s) is kept, as a word would be; a fact\n" +
		"is no difference when the other capture has one that differs from it only where it has <rand>.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

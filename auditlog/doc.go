// Package auditlog reads and writes auditd log text: it imports auditd logs
// into ctrace captures (`ctrace import`) and writes captures back as text
// (`ctrace dump`).
//
// Reader reads one log, RAW or ENRICHED, plain or compressed (gzip, bzip2,
// zstd: recognized by their magic bytes, not by the file name), one line at
// a time. Each audit record becomes a Record holding what the kernel sent;
// the ENRICHED part and the node= prefix are not part of it. A line that is
// not an audit record is a *LineError naming the file and line, and reading
// goes on. Blank lines and '#' comment lines (laurel's test traces have
// them) are counted and passed over.
//
// Import writes several logs into one capture: each record is stored as the
// netlink datagram the kernel would have sent, so the analyzer treats an
// import exactly like a recording. Inputs are ordered by their first record
// and each keeps its own order, the order auditd received the records in.
//
// Dump writes a capture as text: audit records as auditd RAW lines that
// ausearch -if and aureport -if read, and proc connector, snapshot and note
// records in line forms of their own. README.md documents the formats and
// the choices made.
//
// The package is pure Go with no OS-specific imports.
package auditlog

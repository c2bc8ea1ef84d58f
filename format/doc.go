// Package format reads and writes ctrace capture files: a flat sequence of
// zstd frames holding raw audit and proc-connector datagrams, a /proc
// snapshot and the recorder's notes, with metadata in skippable frames. The
// file layout, limits and the reader's handling of damage are specified in
// FORMAT.md. The package has no Linux dependency.
package format

// Package analyze builds the process model of a ctrace capture and reports
// it: `ctrace analyze`.
//
// Build reads a capture's records (a *format.Reader), decodes them with
// package replay, groups audit records into events by their stamp, and puts
// audit events, proc connector events and the /proc snapshot on one
// wall-clock timeline (timeline.go). It streams: records are decompressed
// and parsed on every core, and an event waits only until no record still
// to come can sort before it (records may arrive up to two seconds late),
// so that memory grows with the processes, not with the events. The
// builder replays the timeline into processes (model.go): identity (a
// thread group with a start; a reused pid is a new process), threads,
// parents at creation, execs, exits (finish.go), and the files each process
// wrote, with an fd table and path resolution (files.go). Either source
// alone gives a tree; together they are reconciled. The result is
// deterministic: the same capture gives byte-identical reports, whatever
// the arrival order of records the kernel could have produced, and whatever
// the number of cores (ReadOptions.Workers; the command line takes it from
// CTRACE_ANALYZE_WORKERS, 1 reads on one goroutine).
//
// AnalyzeFile adds the capture's description (host, time span, losses as
// replay.Summarize counts them, in the same pass, truncation, damage);
// WriteText and WriteJSON write the reports. The JSON schema is in
// SCHEMA.md.
//
// The package is pure Go and never touches the kernel: captures are
// analysed anywhere.
package analyze

// Package groundtruth tests ctrace against workloads that know what they did.
//
// The workloads are small C programs in testdata/workloads. Each prints its
// own ground truth as JSON lines (the schema is documented in
// testdata/workloads/truth.h and mirrored by Event): the processes it created
// and their creators, its threads, execs, exits and deaths by signal, and the
// files it wrote.
//
// The kernel test (TestIntegrationWorkloads: Linux, root, gcc) compiles each
// workload (CompileWorkload), records it for real with `ctrace record
// --no-snapshot` (Record), checks the raw capture against the truth
// (VerifyCapture: proc connector forks, execs and exits; audit clone, execve
// and file records), cuts the workload out with `ctrace extract --command
// --redact-host` (ExtractWorkload) and checks the extract the same way, with
// the pid-lineage oracle (CheckWorkloadOnly) and by extracting it again
// (CheckOnlyWorkload), compares the model of `ctrace analyze --format json`
// with the truth (CompareModel), and checks that the analyzer shows the same
// processes for the command in the recording and in the extract. With
// -update it keeps the extract, the truth and the analyzer's JSON and text
// outputs in testdata/captures.
//
// The other tests need neither root nor a kernel: every kept capture is
// checked against its truth, raw and through the analyzer, its outputs are
// compared byte for byte with the golden files (regenerated with -update),
// and any capture anywhere under testdata that holds anything outside its
// workload fails (TestCapturesHoldOnlyTheirWorkload: extracting the
// workload again must keep every record; the container captures of
// testdata/containers included, whose workload is their containers).
// Without an analyze command in ctrace, the model comparisons are skipped
// with a message.
//
// The oracle shares no code with the analyzer: it decodes frames with replay
// and has its own small syscall table.
package groundtruth
